//! `/connz`: open connections from the client registry, closed ones from the ring, filtered,
//! sorted and paged as nats-server does.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::json::{ConnInfo, Connz, SortKeys, SubDetail};
use super::stats::{Closed, ConnStats, unix_nanos};
use super::{go_duration, go_time, uptime};
use crate::account::Account;
use crate::outbound::{CloseReason, Outbound};
use crate::state::ServerState;

/// nats-server's default page size for `/connz` and `/subsz`.
pub(crate) const DEFAULT_LIMIT: usize = 1024;

/// Which connections `/connz` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ConnzState {
    #[default]
    Open,
    Closed,
    All,
}

/// The `sort` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Sort {
    #[default]
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    /// nats-server's names; `None` for an unknown one.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "cid" => Self::Cid,
            "start" => Self::Start,
            "subs" => Self::Subs,
            "pending" => Self::Pending,
            "msgs_to" => Self::MsgsTo,
            "msgs_from" => Self::MsgsFrom,
            "bytes_to" => Self::BytesTo,
            "bytes_from" => Self::BytesFrom,
            "last" => Self::Last,
            "idle" => Self::Idle,
            "uptime" => Self::Uptime,
            "stop" => Self::Stop,
            "reason" => Self::Reason,
            "rtt" => Self::Rtt,
            _ => return None,
        })
    }
}

/// What `/connz` was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnzOptions {
    pub(crate) sort: Sort,
    /// `auth`: show users and accounts.
    pub(crate) auth: bool,
    pub(crate) subs: bool,
    pub(crate) subs_detail: bool,
    pub(crate) offset: i64,
    pub(crate) limit: i64,
    pub(crate) cid: u64,
    pub(crate) state: ConnzState,
    pub(crate) user: String,
    pub(crate) account: String,
    /// Only connections with a subscription that collides with this subject (needs
    /// `account`).
    pub(crate) filter_subject: String,
}

/// Every live subscription of the connections in `accounts`, by connection id.
fn subs_by_cid(accounts: &[Arc<Account>]) -> HashMap<u64, Vec<SubDetail>> {
    let mut by_cid: HashMap<u64, Vec<SubDetail>> = HashMap::new();
    for account in accounts {
        account.read().for_each(|sub| {
            if sub.closed.load(Ordering::Relaxed) {
                return;
            }
            by_cid
                .entry(sub.client.cid)
                .or_default()
                .push(super::endpoints::sub_detail(sub, None));
        });
    }
    for subs in by_cid.values_mut() {
        super::sort_by_sid(subs);
    }
    by_cid
}

/// The description of a connection, without subscriptions or identity.
fn describe(out: &Outbound, stats: &ConnStats, now: SystemTime) -> ConnInfo {
    let meta = stats.meta();
    let last = stats.last_activity();
    let rtt = stats.rtt();
    let counts = super::Counts::of(stats);
    ConnInfo {
        cid: out.cid,
        kind: "Client",
        kind_type: meta.kind,
        ip: out.peer.ip().to_canonical().to_string(),
        port: out.peer.port(),
        start: go_time(stats.start),
        last_activity: go_time(last),
        rtt: go_duration(round_rtt(rtt)),
        uptime: uptime(now.duration_since(stats.start).unwrap_or_default()),
        idle: uptime(now.duration_since(last).unwrap_or_default()),
        pending_bytes: out.pending_bytes(),
        in_msgs: counts.in_msgs,
        out_msgs: counts.out_msgs,
        in_bytes: counts.in_bytes,
        out_bytes: counts.out_bytes,
        name: meta.name,
        lang: meta.lang,
        version: meta.version,
        tls_version: meta.tls_version,
        tls_cipher: meta.tls_cipher,
        sort: SortKeys {
            rtt: u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX),
            start: unix_nanos(stats.start),
            last: unix_nanos(last),
            stop: 0,
        },
        ..ConnInfo::default()
    }
}

/// nats-server truncates a sub-millisecond round trip to whole microseconds.
fn round_rtt(rtt: Duration) -> Duration {
    if rtt > Duration::from_micros(1) && rtt < Duration::from_millis(1) {
        Duration::from_micros(u64::try_from(rtt.as_micros()).unwrap_or(0))
    } else {
        rtt
    }
}

/// The ring entry for a connection that just closed, with its subscriptions as they were.
pub(crate) fn closed_record(
    out: &Outbound,
    reason: CloseReason,
    subs: Vec<SubDetail>,
) -> (Closed, super::Counts) {
    let stats = &out.stats;
    let now = SystemTime::now();
    let mut info = describe(out, stats, now);
    info.stop = Some(go_time(now));
    info.sort.stop = unix_nanos(now);
    info.reason = reason.as_str().to_owned();
    // What was queued is gone with the connection.
    info.pending_bytes = 0;
    info.subscriptions = subs.len() as u64;
    let meta = stats.meta();
    let counts = super::Counts::of(stats);
    let closed = Closed {
        info,
        user: meta.user,
        account: meta.account,
        subs,
    };
    (closed, counts)
}

/// Builds `/connz`; `Err` carries nats-server's message for a request it refuses.
pub(crate) fn connz(state: &ServerState, opts: &ConnzOptions) -> Result<Connz, String> {
    let sort = opts.sort;
    if sort == Sort::Stop && opts.state != ConnzState::Closed {
        return Err("sort by stop only valid on closed connections".to_owned());
    }
    if sort == Sort::Reason && opts.state != ConnzState::Closed {
        return Err("sort by reason only valid on closed connections".to_owned());
    }
    let offset = usize::try_from(opts.offset.max(0)).unwrap_or(0);
    let mut limit = if opts.limit <= 0 {
        DEFAULT_LIMIT
    } else {
        usize::try_from(opts.limit).unwrap_or(usize::MAX)
    };
    if opts.cid > 0 {
        limit = 1;
    }
    let filter = match opts.filter_subject.as_str() {
        "" | ">" => None,
        f if opts.account.is_empty() => {
            let _ = f;
            return Err("filter by subject only valid with account filtering".to_owned());
        }
        f => Some(f),
    };
    let now = SystemTime::now();
    let mut result = Connz {
        server_id: state.server_id.clone(),
        now: go_time(now),
        num_connections: 0,
        total: 0,
        offset,
        limit,
        connections: Some(Vec::new()),
    };
    // nats-server answers an unknown account with an empty document: no server id and no
    // connection list.
    if !opts.account.is_empty() && !super::endpoints::account_names(state).contains(&opts.account) {
        result.server_id.clear();
        result.connections = None;
        return Ok(result);
    }
    let want_open = opts.state != ConnzState::Closed;
    let want_closed = opts.state != ConnzState::Open;
    let mut conns: Vec<ConnInfo> = Vec::new();
    if want_open {
        let mut clients = state.snapshot_clients();
        clients.sort_by_key(|c| c.cid);
        let accounts = state.all_accounts();
        let subs = subs_by_cid(&accounts);
        for out in clients {
            if opts.cid > 0 && out.cid != opts.cid {
                continue;
            }
            let meta = out.stats.meta();
            if !opts.account.is_empty() && meta.account != opts.account {
                continue;
            }
            if !opts.user.is_empty() && meta.user != opts.user {
                continue;
            }
            let own = subs.get(&out.cid).map(Vec::as_slice).unwrap_or_default();
            if let Some(filter) = filter
                && !own.iter().any(|s| collide(filter, &s.subject))
            {
                continue;
            }
            let mut info = describe(&out, &out.stats, now);
            info.subscriptions = own.len() as u64;
            if opts.subs_detail {
                info.subs_detail = own.to_vec();
            } else if opts.subs {
                info.subs = own.iter().map(|s| s.subject.clone()).collect();
            }
            if opts.auth {
                info.authorized_user = meta.user;
                if meta.account != "$G" {
                    info.account.clone_from(&meta.account);
                }
                info.name_tag = meta.account;
            }
            conns.push(info);
        }
    }
    let found_open = !conns.is_empty();
    if want_closed && !(opts.cid > 0 && found_open) {
        for closed in state.monitor.closed_list() {
            if opts.cid > 0 && closed.info.cid != opts.cid {
                continue;
            }
            if !opts.account.is_empty() && closed.account != opts.account {
                continue;
            }
            if !opts.user.is_empty() && closed.user != opts.user {
                continue;
            }
            let mut info = closed.info.clone();
            if opts.subs_detail {
                info.subs_detail.clone_from(&closed.subs);
            } else if opts.subs {
                info.subs = closed.subs.iter().map(|s| s.subject.clone()).collect();
            }
            if opts.auth {
                info.authorized_user.clone_from(&closed.user);
                if !closed.account.is_empty() && closed.account != "$G" {
                    info.account.clone_from(&closed.account);
                    info.name_tag.clone_from(&closed.account);
                }
            }
            conns.push(info);
            if opts.cid > 0 {
                break;
            }
        }
    }
    sort_conns(&mut conns, sort, unix_nanos(now));
    result.total = conns.len();
    let start = offset.min(conns.len());
    let end = start + limit.min(conns.len() - start);
    result.connections = Some(conns.drain(start..end).collect());
    result.num_connections = result.connections.as_ref().map_or(0, Vec::len);
    Ok(result)
}

/// nats-server's orders: by cid (and start) ascending, uptime ascending, reason ascending,
/// everything else descending.
fn sort_conns(conns: &mut [ConnInfo], sort: Sort, now: i64) {
    conns.sort_by_key(|c| c.cid);
    let up = |c: &ConnInfo| {
        if c.sort.stop > 0 {
            c.sort.stop - c.sort.start
        } else {
            now - c.sort.start
        }
    };
    match sort {
        Sort::Cid | Sort::Start => {}
        Sort::Subs => conns.sort_by_key(|c| Reverse(c.subscriptions)),
        Sort::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        Sort::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        Sort::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        Sort::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        Sort::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        Sort::Last => conns.sort_by_key(|c| Reverse(c.sort.last)),
        // Most idle first: the oldest last activity.
        Sort::Idle => conns.sort_by_key(|c| c.sort.last),
        Sort::Uptime => conns.sort_by_key(|c| up(c)),
        Sort::Stop => conns.sort_by_key(|c| Reverse(c.sort.stop)),
        Sort::Reason => conns.sort_by(|a, b| a.reason.cmp(&b.reason)),
        Sort::Rtt => conns.sort_by_key(|c| Reverse(c.sort.rtt)),
    }
}

/// Whether two subjects (wildcards allowed) can match a common subject.
pub(crate) fn collide(a: &str, b: &str) -> bool {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(s), Some(t)) => {
                if s != "*" && t != "*" && s != t {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_collide() {
        assert!(collide("foo.*", "foo.bar"));
        assert!(collide("foo.>", "foo.bar.baz"));
        assert!(collide("*.bar", "foo.*"));
        assert!(!collide("foo.bar", "foo.baz"));
        assert!(!collide("foo", "foo.bar"));
        assert!(collide(">", "x"));
    }

    #[test]
    fn sort_names() {
        assert_eq!(Sort::parse(""), Some(Sort::Cid));
        assert_eq!(Sort::parse("bytes_to"), Some(Sort::BytesTo));
        assert_eq!(Sort::parse("bogus"), None);
    }
}
