//! `/metrics`: the server's counters in the Prometheus text exposition format (0.0.4),
//! encoded by the `prometheus-client` crate.
//!
//! Two kinds of metric:
//! - kept here as they happen, because nothing else remembers them: login outcomes by method
//!   and failure category, and the login latency histogram ([`LoginMetrics`], one per server,
//!   updated once per login, never per message);
//! - read at scrape time from what monitoring already keeps: connections, subscriptions,
//!   messages and bytes per account (the same aggregation as `/accstatz`: open connections'
//!   counters plus the totals of closed ones), total connections and slow consumers.
//!
//! Every label value comes from a fixed set (methods, failure categories) or from the
//! accounts the server has (configured, or resolved in operator mode), never from what a
//! client sends, so no client can grow the number of series.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::state::ServerState;

/// The `Content-Type` of the text exposition format, version 0.0.4.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The upper bounds (seconds) of the login latency buckets: from a plain comparison (well
/// under a millisecond) through password hashing (tens to hundreds of milliseconds) to an
/// auth callout or identity-provider round trip (seconds).
const LOGIN_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `reason` of a login the authenticator could not decide (it failed internally).
pub(crate) const REASON_INTERNAL: &str = "internal_error";

type MethodLabel = [(&'static str, &'static str); 1];
type FailureLabels = [(&'static str, &'static str); 2];

/// Login outcomes, counted as they are decided.
#[derive(Debug)]
pub(crate) struct LoginMetrics {
    successes: Family<MethodLabel, Counter>,
    failures: Family<FailureLabels, Counter>,
    latency: Histogram,
}

impl Default for LoginMetrics {
    fn default() -> Self {
        Self {
            successes: Family::default(),
            failures: Family::default(),
            latency: Histogram::new(LOGIN_BUCKETS),
        }
    }
}

impl LoginMetrics {
    /// A client was authenticated by `method` (`AuthMethod::as_str`); `latency` is the time
    /// from its CONNECT to the decision, when there was a CONNECT.
    pub(crate) fn succeeded(&self, method: &'static str, latency: Option<Duration>) {
        self.successes.get_or_create(&[("method", method)]).inc();
        self.observe(latency);
    }

    /// A login was refused: `method` is the kind of credentials presented (see
    /// [`presented_method`]), `reason` the failure category (`FailureCategory::as_str`, or
    /// [`REASON_INTERNAL`]).
    pub(crate) fn failed(
        &self,
        method: &'static str,
        reason: &'static str,
        latency: Option<Duration>,
    ) {
        self.failures
            .get_or_create(&[("method", method), ("reason", reason)])
            .inc();
        self.observe(latency);
    }

    fn observe(&self, latency: Option<Duration>) {
        if let Some(latency) = latency {
            self.latency.observe(latency.as_secs_f64());
        }
    }
}

/// The kind of credentials a login presented, as a label: `jwt`, `nkey`, `password`, `token`
/// or `none` (the most specific first, as the authenticator tries them).
pub(crate) fn presented_method(request: &rnats_auth::AuthRequest) -> &'static str {
    if request.jwt.is_some() {
        "jwt"
    } else if request.nkey.is_some() {
        "nkey"
    } else if request.user.is_some() {
        "password"
    } else if request.token.is_some() {
        "token"
    } else {
        "none"
    }
}

type AccountLabel = [(&'static str, String); 1];

/// Builds the `/metrics` document.
pub(crate) fn render(state: &ServerState) -> String {
    let monitor = &state.monitor;
    let mut registry = Registry::with_prefix("rnats");

    let connections = Family::<AccountLabel, Gauge>::default();
    let subscriptions = Family::<AccountLabel, Gauge>::default();
    let in_msgs = Family::<AccountLabel, Counter>::default();
    let in_bytes = Family::<AccountLabel, Counter>::default();
    let out_msgs = Family::<AccountLabel, Counter>::default();
    let out_bytes = Family::<AccountLabel, Counter>::default();
    for stat in super::endpoints::accstatz(state, true, &[]).account_statz {
        let label = [("account", stat.acc)];
        connections
            .get_or_create(&label)
            .set(i64::try_from(stat.conns).unwrap_or(i64::MAX));
        subscriptions
            .get_or_create(&label)
            .set(i64::try_from(stat.num_subscriptions).unwrap_or(i64::MAX));
        in_msgs.get_or_create(&label).inc_by(stat.received.msgs);
        in_bytes.get_or_create(&label).inc_by(stat.received.bytes);
        out_msgs.get_or_create(&label).inc_by(stat.sent.msgs);
        out_bytes.get_or_create(&label).inc_by(stat.sent.bytes);
    }
    registry.register(
        "connections",
        "Open client connections, by account",
        connections,
    );
    registry.register("subscriptions", "Subscriptions, by account", subscriptions);
    registry.register(
        "messages_in",
        "Messages published by clients, by account",
        in_msgs,
    );
    registry.register(
        "bytes_in",
        "Bytes (headers and payload) published by clients, by account",
        in_bytes,
    );
    registry.register(
        "messages_out",
        "Messages delivered to clients, by account",
        out_msgs,
    );
    registry.register(
        "bytes_out",
        "Bytes (headers and payload) delivered to clients, by account",
        out_bytes,
    );

    let total = Counter::<u64>::default();
    total.inc_by(
        monitor
            .total_connections
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    registry.register(
        "connections",
        "Client connections accepted since the server started",
        total,
    );
    let slow = Counter::<u64>::default();
    slow.inc_by(
        monitor
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    registry.register(
        "slow_consumers",
        "Client connections closed as slow consumers",
        slow,
    );

    let login = &monitor.login;
    registry.register(
        "auth_successes",
        "Successful authentications, by method",
        login.successes.clone(),
    );
    registry.register(
        "auth_failures",
        "Refused logins, by the kind of credentials presented and the failure category",
        login.failures.clone(),
    );
    registry.register(
        "login_duration_seconds",
        "Time from CONNECT received to the authentication decision",
        login.latency.clone(),
    );

    let dropped = Counter::<u64>::default();
    dropped.inc_by(state.audit.dropped());
    registry.register(
        "audit_records_dropped",
        "Authentication audit records dropped because the audit writer fell behind",
        dropped,
    );

    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_credentials() {
        let addr = "127.0.0.1:1".parse().expect("addr");
        let mut request = rnats_auth::AuthRequest::new(addr, rnats_auth::ConnectionType::Standard);
        assert_eq!(presented_method(&request), "none");
        request.token = Some("t".into());
        assert_eq!(presented_method(&request), "token");
        request.user = Some("u".into());
        assert_eq!(presented_method(&request), "password");
        request.nkey = Some("U".into());
        assert_eq!(presented_method(&request), "nkey");
        request.jwt = Some("e".into());
        assert_eq!(presented_method(&request), "jwt");
    }

    #[test]
    fn login_outcomes_are_counted_by_label() {
        let login = LoginMetrics::default();
        login.succeeded("password", Some(Duration::from_millis(3)));
        login.failed("password", "credentials_rejected", None);
        login.failed("password", "credentials_rejected", None);
        assert_eq!(
            login
                .successes
                .get_or_create(&[("method", "password")])
                .get(),
            1
        );
        assert_eq!(
            login
                .failures
                .get_or_create(&[("method", "password"), ("reason", "credentials_rejected")])
                .get(),
            2
        );
    }
}
