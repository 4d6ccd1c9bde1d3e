//! What monitoring knows about connections: per-connection counters and descriptions
//! ([`ConnStats`], one inside each [`Outbound`](crate::outbound::Outbound)), and the
//! server-wide record ([`Monitor`]): totals of closed connections and the ring of recently
//! closed ones for `/connz?state=closed`.
//!
//! Cost on the data path: a publishing session counts its messages in plain integers and adds
//! them to its own `ConnStats` once per read batch; a router counts deliveries per target in
//! its staging entry and adds them to the target's `ConnStats` once per hand-over. Nothing is
//! counted per message in a shared atomic.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::json::{ConnInfo, SubDetail};
use crate::outbound::CloseReason;

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_nanos(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The time of `unix_nanos`.
pub(crate) fn from_unix_nanos(nanos: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// What a client said about itself and what the server decided about it; written at CONNECT
/// and authentication (rarely), read by monitoring.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnMeta {
    pub(crate) name: String,
    pub(crate) lang: String,
    pub(crate) version: String,
    /// The authorized user (name or public key); empty without authentication.
    pub(crate) user: String,
    /// The account's name (`$G` until bound elsewhere).
    pub(crate) account: String,
    /// `nats` or `websocket`.
    pub(crate) kind: &'static str,
    pub(crate) tls_version: String,
    pub(crate) tls_cipher: String,
    /// CONNECT was accepted (a DISCONNECT event follows the close).
    pub(crate) connected: bool,
}

/// One connection's counters, shared by its session, the routers delivering to it and
/// monitoring.
#[derive(Debug)]
pub(crate) struct ConnStats {
    pub(crate) start: SystemTime,
    pub(crate) in_msgs: AtomicU64,
    pub(crate) in_bytes: AtomicU64,
    pub(crate) out_msgs: AtomicU64,
    pub(crate) out_bytes: AtomicU64,
    /// Unix nanoseconds of the last read from the client.
    last_activity: AtomicI64,
    /// The last round-trip time measured, in nanoseconds (0: none yet).
    rtt: AtomicU64,
    meta: Mutex<ConnMeta>,
}

impl Default for ConnStats {
    fn default() -> Self {
        let start = SystemTime::now();
        Self {
            start,
            in_msgs: AtomicU64::new(0),
            in_bytes: AtomicU64::new(0),
            out_msgs: AtomicU64::new(0),
            out_bytes: AtomicU64::new(0),
            last_activity: AtomicI64::new(unix_nanos(start)),
            rtt: AtomicU64::new(0),
            meta: Mutex::new(ConnMeta {
                account: "$G".to_owned(),
                kind: "nats",
                ..ConnMeta::default()
            }),
        }
    }
}

impl ConnStats {
    /// A read batch's published messages and their sizes (headers and payload).
    pub(crate) fn add_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Messages handed to this connection's writer by one publisher's batch.
    pub(crate) fn add_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The client sent something now.
    pub(crate) fn touch(&self, now: SystemTime) {
        self.last_activity.store(unix_nanos(now), Ordering::Relaxed);
    }

    pub(crate) fn last_activity(&self) -> SystemTime {
        from_unix_nanos(self.last_activity.load(Ordering::Relaxed))
    }

    pub(crate) fn set_rtt(&self, rtt: Duration) {
        let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.rtt.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn rtt(&self) -> Duration {
        Duration::from_nanos(self.rtt.load(Ordering::Relaxed))
    }

    /// Changes the description (at CONNECT, authentication, TLS handshake).
    pub(crate) fn describe(&self, f: impl FnOnce(&mut ConnMeta)) {
        f(&mut self.meta.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub(crate) fn meta(&self) -> ConnMeta {
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Message and byte counts, for totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) in_msgs: u64,
    pub(crate) in_bytes: u64,
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
}

impl Counts {
    pub(crate) fn of(stats: &ConnStats) -> Self {
        Self {
            in_msgs: stats.in_msgs.load(Ordering::Relaxed),
            in_bytes: stats.in_bytes.load(Ordering::Relaxed),
            out_msgs: stats.out_msgs.load(Ordering::Relaxed),
            out_bytes: stats.out_bytes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(&mut self, other: Self) {
        self.in_msgs += other.in_msgs;
        self.in_bytes += other.in_bytes;
        self.out_msgs += other.out_msgs;
        self.out_bytes += other.out_bytes;
    }
}

/// A closed connection as `/connz?state=closed` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Closed {
    pub(crate) info: ConnInfo,
    /// The authorized user and account, shown only with `auth=true`.
    pub(crate) user: String,
    pub(crate) account: String,
    pub(crate) subs: Vec<SubDetail>,
}

/// The server-wide record: counters that outlive connections and the closed ring.
#[derive(Debug)]
pub(crate) struct Monitor {
    pub(crate) start: SystemTime,
    pub(crate) config_load_time: Mutex<SystemTime>,
    pub(crate) total_connections: AtomicU64,
    pub(crate) slow_consumers: AtomicU64,
    pub(crate) stale_connections: AtomicU64,
    /// Counts of connections that have closed, server-wide and per account.
    closed_totals: Mutex<(Counts, HashMap<String, Counts>)>,
    closed: Mutex<VecDeque<std::sync::Arc<Closed>>>,
    /// The bound HTTP and HTTPS monitoring ports (0: off).
    ports: Mutex<(u16, u16)>,
    /// Where client events go: the system services, once they run.
    events: Mutex<Option<tokio::sync::mpsc::Sender<super::events::SysEvent>>>,
    /// Requests per endpoint path, for `/varz`'s `http_req_stats`.
    pub(crate) http_requests: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// Login outcomes and latencies, for `/metrics`.
    pub(crate) login: super::metrics::LoginMetrics,
}

impl Default for Monitor {
    fn default() -> Self {
        let start = SystemTime::now();
        Self {
            start,
            config_load_time: Mutex::new(start),
            total_connections: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            stale_connections: AtomicU64::new(0),
            closed_totals: Mutex::new((Counts::default(), HashMap::new())),
            closed: Mutex::new(VecDeque::new()),
            ports: Mutex::new((0, 0)),
            events: Mutex::new(None),
            http_requests: Mutex::new(std::collections::BTreeMap::new()),
            login: super::metrics::LoginMetrics::default(),
        }
    }
}

impl Monitor {
    /// A client connection opened.
    pub(crate) fn opened(&self) {
        self.total_connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A client connection closed: its counts join the totals and it joins the ring (the
    /// oldest leaves past `keep`).
    pub(crate) fn closed(&self, closed: Closed, counts: Counts, reason: CloseReason, keep: usize) {
        match reason {
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline => {
                self.slow_consumers.fetch_add(1, Ordering::Relaxed);
            }
            CloseReason::StaleConnection => {
                self.stale_connections.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        {
            let mut totals = self.closed_totals.lock().unwrap_or_else(|e| e.into_inner());
            totals.0.add(counts);
            totals
                .1
                .entry(closed.account.clone())
                .or_default()
                .add(counts);
        }
        if keep == 0 {
            return;
        }
        let mut ring = self.closed.lock().unwrap_or_else(|e| e.into_inner());
        while ring.len() >= keep {
            ring.pop_front();
        }
        ring.push_back(std::sync::Arc::new(closed));
    }

    /// Totals of every closed connection, and of those of `account` when given.
    pub(crate) fn closed_counts(&self, account: Option<&str>) -> Counts {
        let totals = self.closed_totals.lock().unwrap_or_else(|e| e.into_inner());
        match account {
            None => totals.0,
            Some(name) => totals.1.get(name).copied().unwrap_or_default(),
        }
    }

    /// The ring, oldest first.
    pub(crate) fn closed_list(&self) -> Vec<std::sync::Arc<Closed>> {
        self.closed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Records the monitoring port bound (`secure`: HTTPS).
    pub(crate) fn set_port(&self, port: u16, secure: bool) {
        let mut ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        if secure {
            ports.1 = port;
        } else {
            ports.0 = port;
        }
    }

    /// The bound HTTP and HTTPS monitoring ports (0: off).
    pub(crate) fn ports(&self) -> (i64, i64) {
        let ports = self.ports.lock().unwrap_or_else(|e| e.into_inner());
        (i64::from(ports.0), i64::from(ports.1))
    }

    /// Sends client events to `tx` from now on.
    pub(crate) fn set_event_sink(&self, tx: tokio::sync::mpsc::Sender<super::events::SysEvent>) {
        *self.events.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    /// Queues a client event for the system services (dropped when they are behind or not
    /// running).
    pub(crate) fn emit(&self, event: super::events::ClientEvent) {
        if let Some(tx) = &*self.events.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.try_send(super::events::SysEvent::Client(Box::new(event)));
        }
    }

    /// Queues a `$SYS.REQ.USER.INFO` request of the connection behind `out`, to be answered on
    /// `reply`. Returns whether the system services run (they answer it).
    pub(crate) fn user_info_request(
        &self,
        out: &std::sync::Arc<crate::outbound::Outbound>,
        reply: &[u8],
    ) -> bool {
        let Some(tx) = &*self.events.lock().unwrap_or_else(|e| e.into_inner()) else {
            return false;
        };
        let Ok(reply) = std::str::from_utf8(reply) else {
            return false;
        };
        let _ = tx.try_send(super::events::SysEvent::UserInfo {
            out: out.clone(),
            reply: reply.to_owned(),
        });
        true
    }

    /// Counts one request to `path`.
    pub(crate) fn count_request(&self, path: &'static str) {
        *self
            .http_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(path)
            .or_default() += 1;
    }
}
