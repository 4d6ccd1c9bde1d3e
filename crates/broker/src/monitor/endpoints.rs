//! `/varz`, `/subsz`, `/accountz`, `/accstatz`, `/healthz` and the index page.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use rnats_config::ExportKind;

use super::connz::DEFAULT_LIMIT;
use super::json::{
    AccountInfo, AccountStat, AccountStatz, Accountz, DataStats, DiskIoWaitStats, Empty, ExtExport,
    ExtImport, HealthStatus, KindCounts, SubDetail, SublistStats, Subsz, Varz, WebsocketVarz,
};
use super::{Counts, go_time, uptime};
use crate::account::Subscription;
use crate::state::ServerState;

/// One subscription as `/subsz` shows it; `account` adds the account and its tag.
pub(crate) fn sub_detail(sub: &Subscription, account: Option<&str>) -> SubDetail {
    let delivered = sub.delivered.load(Ordering::Relaxed);
    let max = sub.max.load(Ordering::Relaxed);
    SubDetail {
        account: account.unwrap_or_default().to_owned(),
        account_tag: account.unwrap_or_default().to_owned(),
        subject: String::from_utf8_lossy(&sub.subject).into_owned(),
        queue: sub
            .queue
            .as_deref()
            .map(|q| String::from_utf8_lossy(q).into_owned())
            .unwrap_or_default(),
        sid: String::from_utf8_lossy(&sub.sid).into_owned(),
        msgs: if max > 0 {
            delivered.min(max)
        } else {
            delivered
        },
        max,
        cid: sub.client.cid,
    }
}

/// The traffic of every connection: those still open and those that closed.
fn server_counts(state: &ServerState) -> (Counts, usize) {
    let mut counts = state.monitor.closed_counts(None);
    let clients = state.snapshot_clients();
    for out in &clients {
        counts.add(Counts::of(&out.stats));
    }
    (counts, clients.len())
}

/// Resident memory in bytes (Linux; 0 elsewhere) and the process's average CPU use in
/// percent since it started.
fn process_usage(since: SystemTime) -> (i64, f64) {
    let page = 4096;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<i64>().ok())
        .map_or(0, |pages| pages * page);
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .unwrap_or(0.0);
    let elapsed = since.elapsed().unwrap_or_default().as_secs_f64();
    let cpu = if elapsed > 0.0 {
        // Clock ticks are 100 per second on Linux.
        ((ticks / 100.0) / elapsed * 100.0 * 100.0).round() / 100.0
    } else {
        0.0
    };
    (rss, cpu)
}

/// `/varz`.
pub(crate) fn varz(state: &ServerState) -> Varz {
    let settings = state.settings();
    let config = &settings.config;
    let info = settings.info();
    let now = SystemTime::now();
    let monitor = &state.monitor;
    let (counts, connections) = server_counts(state);
    let (mem, cpu) = process_usage(monitor.start);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let subscriptions: usize = state
        .all_accounts()
        .iter()
        .map(|a| a.subscription_count())
        .sum();
    let websocket = config
        .websocket
        .as_ref()
        .map(|ws| WebsocketVarz {
            host: ws.host.clone(),
            port: state.websocket_port(),
            handshake_timeout: ws
                .handshake_timeout
                .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            no_tls: ws.no_tls,
            same_origin: ws.same_origin,
            allowed_origins: ws.allowed_origins.clone(),
            compression: ws.compression,
        })
        .unwrap_or_default();
    let slow = monitor.slow_consumers.load(Ordering::Relaxed);
    let stale = monitor.stale_connections.load(Ordering::Relaxed);
    let (http_port, https_port) = state.monitor.ports();
    Varz {
        server_id: state.server_id.clone(),
        server_name: info.server_name.clone(),
        version: info.version.clone(),
        proto: 1,
        git_commit: info.git_commit.clone(),
        go: "rust".to_owned(),
        host: config.host.clone(),
        port: info.port,
        auth_required: info.auth_required,
        tls_required: info.tls_required,
        tls_verify: info.tls_verify,
        max_connections: config.max_connections,
        max_subscriptions: i64::from(config.max_subscriptions),
        ping_interval: nanos(config.ping_interval),
        ping_max: config.ping_max,
        http_host: config
            .http_host
            .clone()
            .unwrap_or_else(|| config.host.clone()),
        http_port,
        http_base_path: config.http_base_path.clone(),
        https_port,
        auth_timeout: settings.auth.auth_timeout().as_secs_f64(),
        max_control_line: config.max_control_line,
        max_payload: config.max_payload,
        max_pending: config.max_pending,
        cluster: Empty {},
        gateway: Empty {},
        leaf: Empty {},
        mqtt: Empty {},
        websocket,
        jetstream: Empty {},
        tls_timeout: config
            .tls
            .as_ref()
            .and_then(|t| t.timeout)
            .map_or(2.0, |d| d.as_secs_f64()),
        write_deadline: nanos(config.write_deadline),
        start: go_time(monitor.start),
        now: go_time(now),
        uptime: uptime(now.duration_since(monitor.start).unwrap_or_default()),
        mem,
        cores,
        gomaxprocs: cores,
        cpu,
        connections,
        total_connections: monitor.total_connections.load(Ordering::Relaxed),
        routes: 0,
        remotes: 0,
        leafnodes: 0,
        in_msgs: counts.in_msgs,
        in_bytes: counts.in_bytes,
        in_client_msgs: counts.in_msgs,
        in_client_bytes: counts.in_bytes,
        out_msgs: counts.out_msgs,
        out_bytes: counts.out_bytes,
        out_client_msgs: counts.out_msgs,
        out_client_bytes: counts.out_bytes,
        slow_consumers: slow,
        stale_connections: stale,
        stalled_clients: 0,
        subscriptions: subscriptions as u64,
        http_req_stats: monitor
            .http_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        config_load_time: go_time(
            *monitor
                .config_load_time
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        ),
        config_digest: String::new(),
        feature_flags: feature_flags(),
        system_account: settings.system_account(),
        slow_consumer_stats: KindCounts {
            clients: slow,
            ..KindCounts::default()
        },
        stale_connection_stats: KindCounts {
            clients: stale,
            ..KindCounts::default()
        },
        disk_io_wait_stats: DiskIoWaitStats::default(),
    }
}

/// nats-server's JetStream feature flags; rnats has none of those features on.
pub(crate) fn feature_flags() -> BTreeMap<&'static str, bool> {
    BTreeMap::from([
        ("js_ack_fc_v2", false),
        ("js_api_reply_v2", false),
        ("js_raft_delete_range", false),
        ("js_snapshot_sources", false),
    ])
}

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The statistics of the index of each account in `names` (every account when empty).
fn sublist_stats(state: &ServerState, account: Option<&str>) -> SublistStats {
    let mut stats = SublistStats::default();
    for a in state.all_accounts() {
        if account.is_some_and(|name| name != a.name) {
            continue;
        }
        stats.num_subscriptions += a.subscription_count() as u64;
    }
    stats.num_inserts = stats.num_subscriptions;
    stats
}

/// What `/subsz` was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubszOptions {
    pub(crate) subs: bool,
    pub(crate) offset: i64,
    pub(crate) limit: i64,
    pub(crate) account: String,
    pub(crate) test: String,
}

/// `/subsz`.
pub(crate) fn subsz(state: &ServerState, opts: &SubszOptions) -> Result<Subsz, String> {
    let offset = usize::try_from(opts.offset.max(0)).unwrap_or(0);
    let limit = if opts.limit <= 0 {
        DEFAULT_LIMIT
    } else {
        usize::try_from(opts.limit).unwrap_or(usize::MAX)
    };
    if !opts.test.is_empty()
        && rnats_sublist::validate_literal_subject(opts.test.as_bytes()).is_err()
    {
        return Err(format!(
            "invalid test subject, must be valid publish subject: {}",
            opts.test
        ));
    }
    let filter = (!opts.account.is_empty()).then_some(opts.account.as_str());
    let mut result = Subsz {
        server_id: state.server_id.clone(),
        now: go_time(SystemTime::now()),
        stats: sublist_stats(state, filter),
        total: 0,
        offset,
        limit,
        subs: None,
    };
    if opts.subs {
        let mut details = Vec::new();
        let mut accounts = state.all_accounts();
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        for account in accounts {
            if filter.is_some_and(|f| f != account.name) {
                continue;
            }
            let mut here = Vec::new();
            account.read().for_each(|sub| {
                if sub.closed.load(Ordering::Relaxed) {
                    return;
                }
                if !opts.test.is_empty() && !matches_literal(&opts.test, &sub.subject) {
                    return;
                }
                here.push(sub_detail(sub, Some(&account.name)));
            });
            super::sort_by_sid(&mut here);
            here.sort_by_key(|s| s.cid);
            details.extend(here);
        }
        result.total = details.len();
        let start = offset.min(details.len());
        let end = start + limit.min(details.len() - start);
        result.subs = Some(details.drain(start..end).collect());
    }
    Ok(result)
}

/// Whether subscription `filter` (wildcards allowed) matches the literal `subject`.
fn matches_literal(subject: &str, filter: &[u8]) -> bool {
    let mut s = subject.split('.');
    let mut f = filter.split(|&b| b == b'.');
    loop {
        match (s.next(), f.next()) {
            (None, None) => return true,
            (Some(_), Some(b">")) => return true,
            (Some(_), Some(b"*")) => {}
            (Some(a), Some(b)) if a.as_bytes() == b => {}
            _ => return false,
        }
    }
}

/// Open client connections by account name.
fn conns_by_account(state: &ServerState) -> std::collections::HashMap<String, u64> {
    let mut counts = std::collections::HashMap::new();
    for out in state.snapshot_clients() {
        *counts.entry(out.stats.meta().account).or_default() += 1;
    }
    counts
}

/// Accounts with at least one client connection.
pub(crate) fn active_accounts(state: &ServerState) -> usize {
    conns_by_account(state).len()
}

/// Every account the server knows, by name, sorted.
pub(crate) fn account_names(state: &ServerState) -> BTreeSet<String> {
    let settings = state.settings();
    let mut names: BTreeSet<String> = state
        .all_accounts()
        .iter()
        .map(|a| a.name.clone())
        .collect();
    names.extend(settings.config.accounts.iter().map(|a| a.name.clone()));
    names.insert("$G".to_owned());
    names.insert(settings.system_account());
    names
}

/// `/accountz`; `account` asks for one account's details.
pub(crate) fn accountz(state: &ServerState, account: &str) -> Result<Accountz, String> {
    let settings = state.settings();
    let mut result = Accountz {
        server_id: state.server_id.clone(),
        now: go_time(SystemTime::now()),
        system_account: settings.system_account(),
        accounts: Vec::new(),
        account: None,
    };
    if account.is_empty() {
        result.accounts = account_names(state).into_iter().collect();
        return Ok(result);
    }
    if !account_names(state).contains(account) {
        return Err(format!("Account {account} does not exist"));
    }
    let live = state.account(account);
    let configured = settings.config.accounts.iter().find(|a| a.name == account);
    let kind = |k: ExportKind| match k {
        ExportKind::Stream => "stream",
        _ => "service",
    };
    let exports = configured
        .map(|a| {
            a.exports
                .iter()
                .map(|e| ExtExport {
                    subject: e.subject.clone(),
                    kind: kind(e.kind),
                    token_req: false,
                    approved_accounts: e.accounts.clone(),
                    response_type: "",
                })
                .collect()
        })
        .unwrap_or_default();
    let mut exports: Vec<ExtExport> = exports;
    let imports = configured
        .map(|a| {
            a.imports
                .iter()
                .map(|i| {
                    let local =
                        i.to.clone()
                            .or_else(|| i.prefix.as_ref().map(|p| format!("{p}.{}", i.subject)))
                            .unwrap_or_default();
                    ExtImport {
                        subject: i.subject.clone(),
                        account: i.account.clone(),
                        to: local.clone(),
                        local_subject: local,
                        kind: kind(i.kind),
                        invalid: false,
                        share: i.share,
                        tracking: false,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut imports: Vec<ExtImport> = imports;
    system_services(
        &settings.system_account(),
        account,
        &mut imports,
        &mut exports,
    );
    result.account = Some(AccountInfo {
        account_name: account.to_owned(),
        update_time: go_time(state.monitor.start),
        is_system: account == settings.system_account(),
        expired: false,
        complete: true,
        jetstream_enabled: false,
        leafnode_connections: 0,
        client_connections: conns_by_account(state).get(account).copied().unwrap_or(0),
        subscriptions: live.subscription_count() as u64,
        exports,
        imports,
        name_tag: account.to_owned(),
        sublist_stats: sublist_stats(state, Some(account)),
    });
    Ok(result)
}

/// The system services every account reaches (`sysacc.rs`), shown as nats-server shows its
/// service imports of them; the system account shows them as its exports.
fn system_services(
    system: &str,
    account: &str,
    imports: &mut Vec<ExtImport>,
    exports: &mut Vec<ExtExport>,
) {
    let import = |subject: String, local: &str, share: bool| ExtImport {
        subject,
        account: system.to_owned(),
        to: local.to_owned(),
        local_subject: local.to_owned(),
        kind: "service",
        invalid: false,
        share,
        tracking: false,
    };
    let user_info = import(
        format!("$SYS.REQ.USER.{account}.INFO"),
        "$SYS.REQ.USER.INFO",
        true,
    );
    if account == system {
        imports.push(user_info);
        for (subject, response_type) in [
            ("$SYS.REQ.USER.*.INFO", "Singleton"),
            ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"),
            ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
        ] {
            exports.push(ExtExport {
                subject: subject.to_owned(),
                kind: "service",
                token_req: false,
                approved_accounts: Vec::new(),
                response_type,
            });
        }
        return;
    }
    let connz = format!("$SYS.REQ.ACCOUNT.{account}.CONNZ");
    imports.push(import(
        format!("$SYS.REQ.ACCOUNT.{account}.STATZ"),
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        false,
    ));
    imports.push(user_info);
    imports.push(import(connz.clone(), "$SYS.REQ.ACCOUNT.PING.CONNZ", false));
    imports.push(import(connz, "$SYS.REQ.SERVER.PING.CONNZ", false));
}

/// `/accstatz`; `unused` includes accounts without connections; `only` limits it to these
/// accounts (all when empty).
pub(crate) fn accstatz(state: &ServerState, unused: bool, only: &[String]) -> AccountStatz {
    // One pass over the clients: connections and live traffic by account.
    let mut live: std::collections::HashMap<String, (u64, Counts)> =
        std::collections::HashMap::new();
    for out in state.snapshot_clients() {
        let entry = live.entry(out.stats.meta().account).or_default();
        entry.0 += 1;
        entry.1.add(Counts::of(&out.stats));
    }
    let mut stats = Vec::new();
    for name in account_names(state) {
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let account = state.account(&name);
        let (conns, open) = live.get(&name).copied().unwrap_or_default();
        if conns == 0 && !unused {
            continue;
        }
        let mut counts = state.monitor.closed_counts(Some(&name));
        counts.add(open);
        stats.push(AccountStat {
            acc: name.clone(),
            name,
            conns,
            leafnodes: 0,
            total_conns: conns,
            num_subscriptions: account.subscription_count() as u64,
            sent: DataStats {
                msgs: counts.out_msgs,
                bytes: counts.out_bytes,
                ..DataStats::default()
            },
            received: DataStats {
                msgs: counts.in_msgs,
                bytes: counts.in_bytes,
                ..DataStats::default()
            },
            slow_consumers: 0,
        });
    }
    AccountStatz {
        server_id: state.server_id.clone(),
        now: go_time(SystemTime::now()),
        account_statz: stats,
    }
}

/// `/healthz`: the server is up and accepting (rnats has no JetStream, so the JetStream
/// checks have nothing to fail on).
pub(crate) fn healthz() -> HealthStatus {
    HealthStatus {
        status: "ok",
        status_code: 0,
        error: String::new(),
    }
}

/// The index page: links to the endpoints, relative so a base path works.
pub(crate) fn index(version: &str) -> String {
    let links = [
        ("varz", "General"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("healthz", "Health Probe"),
    ];
    let mut body = String::from(
        "<html lang=\"en\">\n  <head>\n    <title>rnats monitoring</title>\n  </head>\n  <body>\n",
    );
    body.push_str(&format!("    <p>rnats (NATS {version})</p>\n"));
    for (path, title) in links {
        body.push_str(&format!(
            "    <a href=./{path}>{title}<span class=\"endpoint\"> /{path}</span></a><br/>\n"
        ));
    }
    body.push_str("  </body>\n</html>\n");
    body
}
