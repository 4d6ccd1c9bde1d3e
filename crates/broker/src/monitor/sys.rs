//! The monitoring endpoints as `$SYS` requests, answered by an internal client of the system
//! account with nats-server's envelope, and the periodic `$SYS.SERVER.<id>.STATSZ` event.
//!
//! | subjects | answer |
//! |---|---|
//! | `$SYS.REQ.SERVER.PING`, `$SYS.REQ.SERVER.PING.STATSZ`, `$SYS.REQ.SERVER.<id>.STATSZ` | `{"server":…,"statsz":…}` |
//! | `$SYS.REQ.SERVER.PING.<EP>`, `$SYS.REQ.SERVER.<id>.<EP>` for VARZ, CONNZ, SUBSZ, ACCOUNTZ, HEALTHZ | `{"server":…,"data":…}` or `{"server":…,"error":{"code":…,"description":…}}` |
//! | `$SYS.REQ.SERVER.PING.<EP>`, `$SYS.REQ.SERVER.<id>.<EP>` for LEAFZ, ROUTEZ, GATEWAYZ, JSZ, PROFILEZ, EXPVARZ, IPQUEUESZ, RAFTZ | the same, with the empty or disabled shape of those features (`sysz.rs`) |
//! | `$SYS.REQ.SERVER.PING.IDZ`, `$SYS.REQ.SERVER.<id>.IDZ` | `{"name":…,"host":…,"id":…}` |
//! | `$SYS.REQ.ACCOUNT.<acc>.CONNZ`, `.SUBSZ`, `.STATZ`, `.INFO`, `.LEAFZ`, `.JSZ` | the same, limited to the account |
//! | `$SYS.REQ.ACCOUNT.<acc>.CONNS` | `AccountNumConns`, when the account has connections |
//!
//! Every account also reaches a few of these on its own (`sysacc.rs`), and
//! `$SYS.ACCOUNT.<acc>.SERVER.CONNS` reports account connection counts.
//!
//! A request body is the endpoint's options as JSON (nats-server's field names), plus the
//! event filter (`server_name`, `host`, `cluster`, `exact_match`, `tags`, `domain`): a server
//! the filter does not select stays silent.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::endpoints::{self, SubszOptions};
use super::events::SysEvent;
use super::go_time;
use super::json::{KindCounts, MsgBytes};
use super::sysacc::{self, AccountClients, AccountNumConns, AccountRequest, ConnsHeartbeats};
use super::sysopts::{
    AccountzRequest, ConnzRequest, Filter, ProfilezRequest, StatzRequest, SubszRequest,
    connz_request, decode, to_value,
};
use super::sysz;
use crate::state::ServerState;
use crate::system::{InternalClient, Message};

/// `$SYS.SERVER.<id>.STATSZ` is published first after `STATSZ_FIRST`, then at doubling
/// intervals up to `STATSZ_INTERVAL` (nats-server's schedule).
const STATSZ_FIRST: Duration = Duration::from_millis(250);
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// The endpoints answered per server.
const ENDPOINTS: [&str; 15] = [
    "STATSZ",
    "VARZ",
    "CONNZ",
    "SUBSZ",
    "ACCOUNTZ",
    "HEALTHZ",
    "IDZ",
    "LEAFZ",
    "ROUTEZ",
    "GATEWAYZ",
    "JSZ",
    "PROFILEZ",
    "EXPVARZ",
    "IPQUEUESZ",
    "RAFTZ",
];

/// The endpoints answered per account, `$SYS.REQ.ACCOUNT.<acc>.<EP>`.
const ACCOUNT_ENDPOINTS: [&str; 7] = ["CONNZ", "STATZ", "SUBSZ", "INFO", "LEAFZ", "JSZ", "CONNS"];

/// nats-server's `ServerInfo`: who answers (the `server` object of `$SYS` replies and events),
/// its fields in Go's order.
#[derive(Debug, Serialize)]
pub(crate) struct ServerInfo {
    name: String,
    host: String,
    id: String,
    ver: String,
    /// JetStream's feature flags; left out of claim-update replies, as nats-server does.
    #[serde(skip_serializing_if = "Option::is_none")]
    feature_flags: Option<std::collections::BTreeMap<&'static str, bool>>,
    jetstream: bool,
    flags: u64,
    seq: u64,
    time: String,
}

/// nats-server's `ServerStats`.
#[derive(Debug, Serialize)]
struct ServerStats {
    start: String,
    mem: i64,
    cores: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: u64,
    sent: MsgBytes,
    sent_to_clients: MsgBytes,
    received: MsgBytes,
    received_from_clients: MsgBytes,
    slow_consumers: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    slow_consumer_stats: Option<KindCounts>,
    #[serde(skip_serializing_if = "is_zero_u64")]
    stale_connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_connection_stats: Option<KindCounts>,
    active_servers: u64,
    #[serde(skip_serializing_if = "is_zero_usize")]
    gomaxprocs: usize,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

fn is_zero_usize(n: &usize) -> bool {
    *n == 0
}

struct Services {
    state: Arc<ServerState>,
    client: InternalClient,
    /// The internal client of each account, for the services every account reaches.
    accounts: std::sync::Mutex<AccountClients>,
    heartbeats: std::sync::Mutex<ConnsHeartbeats>,
}

/// Starts the `$SYS` monitoring services in the system account.
pub(crate) fn start(state: &Arc<ServerState>) {
    let system = state.settings().system_account();
    let client = InternalClient::new(state, &system);
    let id = state.server_id.clone();
    let mut subjects = vec!["$SYS.REQ.SERVER.PING".to_owned()];
    for ep in ENDPOINTS {
        subjects.push(format!("$SYS.REQ.SERVER.PING.{ep}"));
        subjects.push(format!("$SYS.REQ.SERVER.{id}.{ep}"));
    }
    // `$SYS.REQ.ACCOUNT.PING.STATZ` asks about every account.
    for ep in ACCOUNT_ENDPOINTS {
        subjects.push(format!("$SYS.REQ.ACCOUNT.*.{ep}"));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(1024);
    for subject in subjects {
        match client.subscribe(&subject, None) {
            Ok(sub) => sub.forward(tx.clone(), state.shutdown.clone(), |msg| msg),
            Err(e) => tracing::error!("Error setting up internal tracking on {subject}: {e}"),
        }
    }
    drop(tx);
    let (events_tx, mut events) = tokio::sync::mpsc::channel(super::events::EVENT_QUEUE);
    state.monitor.set_event_sink(events_tx);
    let (account_tx, mut account_rx) = tokio::sync::mpsc::channel::<AccountRequest>(1024);
    let mut accounts = AccountClients::new(account_tx);
    // Every account known now reaches its services from the start; accounts that appear later
    // (operator mode) from their first connection.
    for name in endpoints::account_names(state) {
        accounts.client(state, &name);
    }
    let services = Arc::new(Services {
        state: state.clone(),
        client,
        accounts: std::sync::Mutex::new(accounts),
        heartbeats: std::sync::Mutex::new(ConnsHeartbeats::default()),
    });
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let mut every = STATSZ_FIRST;
        let next = tokio::time::sleep(every);
        tokio::pin!(next);
        let far = || tokio::time::Instant::now() + Duration::from_secs(3600);
        let beat = tokio::time::sleep_until(far());
        tokio::pin!(beat);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                msg = rx.recv() => match msg {
                    Some(msg) => services.answer(&msg),
                    None => return,
                },
                Some(request) = account_rx.recv() => services.answer_account(&request),
                Some(event) = events.recv() => services.handle_event(event),
                () = &mut next => {
                    services.publish_statsz();
                    every = (every * 2).min(STATSZ_INTERVAL);
                    next.as_mut().reset(tokio::time::Instant::now() + every);
                }
                () = &mut beat => {
                    let due = services.heartbeats().take_due(tokio::time::Instant::now());
                    for account in due {
                        services.publish_conns(&account);
                    }
                }
            }
            let at = services.heartbeats().next().unwrap_or_else(far);
            if at != beat.deadline() {
                beat.as_mut().reset(at);
            }
        }
    });
}

/// This server as the `server` object of what it sends, numbered with the shared sequence;
/// `feature_flags` only where nats-server writes them.
pub(crate) fn server_info(state: &ServerState, feature_flags: bool) -> ServerInfo {
    let settings = state.settings();
    let info = settings.info();
    ServerInfo {
        name: info.server_name.clone(),
        host: info.host.clone(),
        id: state.server_id.clone(),
        ver: info.version.clone(),
        feature_flags: feature_flags.then(endpoints::feature_flags),
        jetstream: false,
        flags: 0,
        seq: super::next_event_seq(),
        time: go_time(SystemTime::now()),
    }
}

impl Services {
    fn server_info(&self) -> ServerInfo {
        server_info(&self.state, true)
    }

    fn statsz(&self) -> serde_json::Value {
        let varz = endpoints::varz(&self.state);
        let sent = MsgBytes {
            msgs: varz.out_msgs,
            bytes: varz.out_bytes,
        };
        let received = MsgBytes {
            msgs: varz.in_msgs,
            bytes: varz.in_bytes,
        };
        let stats = ServerStats {
            start: varz.start,
            mem: varz.mem,
            cores: varz.cores,
            cpu: varz.cpu,
            connections: varz.connections,
            total_connections: varz.total_connections,
            active_accounts: endpoints::active_accounts(&self.state),
            subscriptions: varz.subscriptions,
            sent,
            sent_to_clients: sent,
            received,
            received_from_clients: received,
            slow_consumers: varz.slow_consumers,
            slow_consumer_stats: (varz.slow_consumers > 0).then_some(varz.slow_consumer_stats),
            stale_connections: varz.stale_connections,
            stale_connection_stats: (varz.stale_connections > 0)
                .then_some(varz.stale_connection_stats),
            active_servers: 1,
            gomaxprocs: varz.gomaxprocs,
        };
        serde_json::json!({ "server": self.server_info(), "statsz": stats })
    }

    fn heartbeats(&self) -> std::sync::MutexGuard<'_, ConnsHeartbeats> {
        self.heartbeats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn account_client(&self, account: &str) -> InternalClient {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .client(&self.state, account)
    }

    fn handle_event(&self, event: SysEvent) {
        use super::events::EventKind;
        match event {
            SysEvent::Client(event) => {
                let event = *event;
                let account = event.client.acc.clone();
                let kind = event.kind;
                if kind == EventKind::Connect {
                    // An account that appeared since start (operator mode) gets its services.
                    self.account_client(&account);
                }
                self.publish_event(event);
                // nats-server reports connection counts of every account but the global one.
                if kind != EventKind::AuthError && account != "$G" {
                    self.publish_conns(&account);
                }
            }
            SysEvent::UserInfo { out, reply } => self.answer_user_info(&out, &reply),
        }
    }

    /// `$SYS.REQ.USER.INFO`: who the requester is, in nats-server's envelope, sent in the
    /// requester's account.
    fn answer_user_info(&self, out: &crate::outbound::Outbound, reply: &str) {
        let Some(data) = sysacc::user_info(&self.state, out) else {
            return;
        };
        let account = out.stats.meta().account;
        let body = serde_json::json!({ "server": self.server_info(), "data": data });
        let _ =
            self.account_client(&account)
                .publish(reply, None, None, body.to_string().as_bytes());
    }

    /// `AccountNumConns` of `account` now; `None` for an account this server does not know.
    fn account_conns(&self, account: &str) -> Option<AccountNumConns> {
        let stat = endpoints::accstatz(&self.state, true, &[account.to_owned()])
            .account_statz
            .into_iter()
            .next()?;
        Some(AccountNumConns::new(self.server_info(), stat))
    }

    /// Publishes `account`'s connection count on the old and new subjects, and schedules the
    /// next heartbeat while it has connections.
    fn publish_conns(&self, account: &str) {
        let Some(event) = self.account_conns(account) else {
            return;
        };
        self.heartbeats().updated(account, event.total_conns());
        let Ok(body) = serde_json::to_string(&event) else {
            return;
        };
        for subject in [
            format!("$SYS.SERVER.ACCOUNT.{account}.CONNS"),
            format!("$SYS.ACCOUNT.{account}.SERVER.CONNS"),
        ] {
            let _ = self.client.publish(&subject, None, None, body.as_bytes());
        }
    }

    /// A request that reached an account's own services: answered as the system account would
    /// for that account, in that account.
    fn answer_account(&self, request: &AccountRequest) {
        let msg = &request.msg;
        let Some(reply) = reply_subject(msg) else {
            return;
        };
        let ep = match &msg.subject[..] {
            b"$SYS.REQ.ACCOUNT.PING.CONNZ" | b"$SYS.REQ.SERVER.PING.CONNZ" => "CONNZ",
            b"$SYS.REQ.ACCOUNT.PING.STATZ" => "STATZ",
            // USER.INFO is answered from what the requester's session handed over.
            _ => return,
        };
        if let Some(body) = self.endpoint(ep, &msg.payload, Some(&request.account)) {
            let _ = self.account_client(&request.account).publish(
                reply,
                None,
                None,
                body.to_string().as_bytes(),
            );
        }
    }

    /// A client event, with nats-server's envelope, on its subject.
    fn publish_event(&self, event: super::events::ClientEvent) {
        use super::events::{EventKind, event_id};
        let (subject, kind) = match event.kind {
            EventKind::Connect => (
                format!("$SYS.ACCOUNT.{}.CONNECT", event.client.acc),
                "io.nats.server.advisory.v1.client_connect",
            ),
            EventKind::Disconnect => (
                format!("$SYS.ACCOUNT.{}.DISCONNECT", event.client.acc),
                "io.nats.server.advisory.v1.client_disconnect",
            ),
            EventKind::AuthError => (
                format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", self.state.server_id),
                "io.nats.server.advisory.v1.client_disconnect",
            ),
        };
        let mut body = serde_json::json!({
            "type": kind,
            "id": event_id(),
            "timestamp": go_time(SystemTime::now()),
            "server": self.server_info(),
            "client": event.client,
        });
        if event.kind != EventKind::Connect {
            let stats = |m: MsgBytes| serde_json::json!({"msgs": m.msgs, "bytes": m.bytes});
            body["sent"] = stats(event.sent);
            body["received"] = stats(event.received);
            body["reason"] = event.reason.into();
        }
        let _ = self
            .client
            .publish(&subject, None, None, body.to_string().as_bytes());
        if event.kind == EventKind::AuthError {
            self.publish_account_auth_error(body);
        }
    }

    /// nats-server's account-level copy of an authentication failure,
    /// `$SYS.ACCOUNT.CLIENT.AUTH.ERR`, published inside the account the client was in (`$G`
    /// before authenticating), or with an auth callout configured, inside the callout's account.
    fn publish_account_auth_error(&self, mut body: serde_json::Value) {
        let settings = self.state.settings();
        let callout = settings
            .config
            .authorization
            .as_ref()
            .and_then(|a| a.auth_callout.as_ref())
            .filter(|_| settings.jwt.is_none())
            .map(|c| c.account.clone());
        let account = match callout {
            Some(account) => {
                body["client"]["acc"] = account.clone().into();
                account
            }
            None => body["client"]["acc"].as_str().unwrap_or("$G").to_owned(),
        };
        body["id"] = super::events::event_id().into();
        body["server"] = serde_json::to_value(self.server_info()).unwrap_or_default();
        let _ = self.account_client(&account).publish(
            "$SYS.ACCOUNT.CLIENT.AUTH.ERR",
            None,
            None,
            body.to_string().as_bytes(),
        );
    }

    fn publish_statsz(&self) {
        let subject = format!("$SYS.SERVER.{}.STATSZ", self.state.server_id);
        let body = self.statsz().to_string();
        let _ = self.client.publish(&subject, None, None, body.as_bytes());
    }

    /// Answers one request, or stays silent (no reply subject, or filtered out).
    fn answer(&self, msg: &Message) {
        let Some(reply) = reply_subject(msg) else {
            return;
        };
        let subject = String::from_utf8_lossy(&msg.subject);
        let tokens: Vec<&str> = subject.split('.').collect();
        let body = match tokens.as_slice() {
            ["$SYS", "REQ", "ACCOUNT", account, "CONNS"] => {
                self.conns_request(account, &msg.payload)
            }
            ["$SYS", "REQ", "ACCOUNT", account, ep] => {
                self.endpoint(ep, &msg.payload, Some(account))
            }
            ["$SYS", "REQ", "SERVER", "PING"] => self.endpoint("STATSZ", &msg.payload, None),
            ["$SYS", "REQ", "SERVER", _, ep] => self.endpoint(ep, &msg.payload, None),
            _ => None,
        };
        if let Some(body) = body {
            let _ = self
                .client
                .publish(reply, None, None, body.to_string().as_bytes());
        }
    }

    /// `$SYS.REQ.ACCOUNT.<acc>.CONNS`: the account's connection count, only when it has
    /// connections here (other servers answer for theirs).
    fn conns_request(&self, account: &str, payload: &[u8]) -> Option<serde_json::Value> {
        let request: sysacc::ConnsRequest = if payload.is_empty() {
            sysacc::ConnsRequest::default()
        } else {
            serde_json::from_slice(payload).ok()?
        };
        if !request.account.is_empty() && request.account != account {
            return None;
        }
        let event = self.account_conns(account)?;
        if event.total_conns() == 0 {
            return None;
        }
        serde_json::to_value(&event).ok()
    }

    /// The answer of endpoint `ep`; `None` when the filter leaves this server out.
    fn endpoint(
        &self,
        ep: &str,
        payload: &[u8],
        account: Option<&str>,
    ) -> Option<serde_json::Value> {
        let settings = self.state.settings();
        let (name, host) = (
            settings.info().server_name.clone(),
            settings.info().host.clone(),
        );
        let parse = |filter: &Filter| (!filter.skips(&name, &host)).then_some(());
        // Err with code 400: the body did not decode (no `data`); other errors come from the
        // endpoint, whose empty answer nats-server still includes as `"data": null`.
        let data: Result<serde_json::Value, (u16, String)> = match ep {
            "STATSZ" => {
                let filter: Filter = decode(payload).ok()?;
                parse(&filter)?;
                return Some(self.statsz());
            }
            "VARZ" => match decode::<Filter>(payload) {
                Ok(f) => {
                    parse(&f)?;
                    to_value(&endpoints::varz(&self.state))
                }
                Err(e) => Err(e),
            },
            "IDZ" => {
                let filter: Filter = decode(payload).ok()?;
                parse(&filter)?;
                return Some(sysz::idz(&self.state));
            }
            "LEAFZ" | "ROUTEZ" | "GATEWAYZ" | "JSZ" | "EXPVARZ" | "IPQUEUESZ" | "RAFTZ" => {
                match decode::<Filter>(payload) {
                    Ok(f) => {
                        parse(&f)?;
                        match (ep, account) {
                            ("LEAFZ", _) => Ok(sysz::leafz(&self.state)),
                            ("ROUTEZ", None) => Ok(sysz::routez(&self.state)),
                            ("GATEWAYZ", None) => Ok(sysz::gatewayz(&self.state)),
                            ("JSZ", None) => Ok(sysz::jsz(&self.state)),
                            ("JSZ", Some(_)) => Err((500, sysz::JSZ_ACCOUNT_ERROR.to_owned())),
                            ("EXPVARZ", None) => {
                                Ok(sysz::expvarz(endpoints::varz(&self.state).mem))
                            }
                            ("IPQUEUESZ" | "RAFTZ", None) => Ok(sysz::empty()),
                            _ => return None,
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            "PROFILEZ" if account.is_none() => match decode::<ProfilezRequest>(payload) {
                Ok(r) => {
                    parse(&r.filter)?;
                    to_value(&sysz::profilez(&r.name))
                }
                Err(e) => Err(e),
            },
            "INFO" if account.is_some() => match decode::<Filter>(payload) {
                Ok(f) => {
                    parse(&f)?;
                    let name = account.unwrap_or_default();
                    endpoints::accountz(&self.state, name)
                        .map_err(|e| (500, e))
                        .and_then(|a| to_value(&a.account))
                }
                Err(e) => Err(e),
            },
            "HEALTHZ" => match decode::<Filter>(payload) {
                Ok(f) => {
                    parse(&f)?;
                    // The request form carries the HTTP status nats-server would answer with.
                    let mut health = endpoints::healthz();
                    health.status_code = 200;
                    to_value(&health)
                }
                Err(e) => Err(e),
            },
            "ACCOUNTZ" => match decode::<AccountzRequest>(payload) {
                Ok(r) => {
                    parse(&r.filter)?;
                    endpoints::accountz(&self.state, &r.account)
                        .map_err(|e| (500, e))
                        .and_then(|a| to_value(&a))
                }
                Err(e) => Err(e),
            },
            "SUBSZ" => match decode::<SubszRequest>(payload) {
                Ok(r) => {
                    parse(&r.filter)?;
                    let mut opts = SubszOptions {
                        subs: r.subscriptions,
                        offset: r.offset,
                        limit: r.limit,
                        account: r.account,
                        test: r.test,
                    };
                    if let Some(account) = account {
                        opts.subs = true;
                        opts.account = account.to_owned();
                    }
                    endpoints::subsz(&self.state, &opts)
                        .map_err(|e| (500, e))
                        .and_then(|s| to_value(&s))
                }
                Err(e) => Err(e),
            },
            // Account traffic: `$SYS.REQ.ACCOUNT.PING.STATZ` for the accounts asked for (all by
            // default), `$SYS.REQ.ACCOUNT.<acc>.STATZ` for one; silent when there is nothing
            // to report, unless `include_unused`.
            "STATZ" if account.is_some() => match decode::<StatzRequest>(payload) {
                Ok(mut r) => {
                    parse(&r.filter)?;
                    if let Some(acc) = account.filter(|a| *a != "PING") {
                        r.accounts = vec![acc.to_owned()];
                    }
                    let stz = endpoints::accstatz(&self.state, r.include_unused, &r.accounts);
                    if stz.account_statz.is_empty() && !r.include_unused {
                        return None;
                    }
                    to_value(&stz)
                }
                Err(e) => Err(e),
            },
            "CONNZ" => match decode::<ConnzRequest>(payload) {
                Ok(r) => {
                    parse(&r.filter)?;
                    connz_request(&self.state, r, account)
                }
                Err(e) => Err(e),
            },
            _ => return None,
        };
        let server = self.server_info();
        Some(match data {
            Ok(data) => serde_json::json!({ "server": server, "data": data }),
            Err((400, description)) => serde_json::json!({
                "server": server,
                "error": { "code": 400, "description": description },
            }),
            Err((code, description)) => serde_json::json!({
                "server": server,
                "data": null,
                "error": { "code": code, "description": description },
            }),
        })
    }
}

/// A request's reply subject, when it has one (requests without one get no answer).
fn reply_subject(msg: &Message) -> Option<&str> {
    msg.reply
        .as_deref()
        .and_then(|r| std::str::from_utf8(r).ok())
}
