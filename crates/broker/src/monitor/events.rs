//! Client lifecycle events for the system account: `$SYS.ACCOUNT.<acc>.CONNECT`,
//! `$SYS.ACCOUNT.<acc>.DISCONNECT` and `$SYS.SERVER.<id>.CLIENT.AUTH.ERR`, as nats-server's
//! `ConnectEventMsg` and `DisconnectEventMsg`.
//!
//! Connections describe themselves here (in the connection's own task, once per connect and
//! close); the system services task adds the `server` object and publishes. The queue between
//! them is bounded: past it, events are dropped rather than slowing a connection down.

use std::time::SystemTime;

use serde::Serialize;

use super::go_time;
use super::json::MsgBytes;
use super::stats::ConnStats;
use crate::outbound::Outbound;

/// Events waiting for the system services before new ones are dropped.
pub(crate) const EVENT_QUEUE: usize = 4096;

/// What connections hand the system services.
pub(crate) enum SysEvent {
    /// A client connected, disconnected or failed to authenticate.
    Client(Box<ClientEvent>),
    /// A client asked `$SYS.REQ.USER.INFO`: who it is, answered on `reply` in its account.
    UserInfo {
        out: std::sync::Arc<Outbound>,
        reply: String,
    },
}

/// Which event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Connect,
    Disconnect,
    AuthError,
}

/// nats-server's `ClientInfo` of an event.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientInfo {
    pub(crate) start: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) host: String,
    pub(crate) id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) acc: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) ver: String,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) rtt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name_tag: String,
    pub(crate) kind: &'static str,
    pub(crate) client_type: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One event on its way to the system services.
#[derive(Debug, Clone)]
pub(crate) struct ClientEvent {
    pub(crate) kind: EventKind,
    pub(crate) client: ClientInfo,
    /// What the client published and was sent (disconnect and auth error only).
    pub(crate) sent: MsgBytes,
    pub(crate) received: MsgBytes,
    pub(crate) reason: String,
}

impl ClientEvent {
    /// The event for the connection behind `out`, now.
    pub(crate) fn of(kind: EventKind, out: &Outbound, reason: &str) -> Self {
        let stats: &ConnStats = &out.stats;
        let meta = stats.meta();
        let counts = super::Counts::of(stats);
        let stop = (kind != EventKind::Connect).then(|| go_time(SystemTime::now()));
        let rtt = if kind == EventKind::Connect {
            0
        } else {
            u64::try_from(stats.rtt().as_nanos()).unwrap_or(u64::MAX)
        };
        Self {
            kind,
            client: ClientInfo {
                start: go_time(stats.start),
                host: out.peer.ip().to_canonical().to_string(),
                id: out.cid,
                acc: meta.account.clone(),
                user: meta.user,
                name: meta.name,
                lang: meta.lang,
                ver: meta.version,
                rtt,
                stop,
                name_tag: meta.account,
                kind: "Client",
                client_type: meta.kind,
            },
            sent: MsgBytes {
                msgs: counts.in_msgs,
                bytes: counts.in_bytes,
            },
            received: MsgBytes {
                msgs: counts.out_msgs,
                bytes: counts.out_bytes,
            },
            reason: reason.to_owned(),
        }
    }
}

/// A new event id: 22 characters of base 62, as nats-server's NUIDs look.
pub(crate) fn event_id() -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut raw = [0u8; 22];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    raw.iter()
        .map(|b| DIGITS[usize::from(*b) % DIGITS.len()] as char)
        .collect()
}
