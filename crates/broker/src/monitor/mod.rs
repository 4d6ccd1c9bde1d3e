//! HTTP monitoring, as nats-server's: `/varz`, `/connz`, `/subsz`, `/accountz`, `/accstatz`,
//! `/healthz` and the index page (and rnats' own Prometheus `/metrics`), served by hyper on the broker's runtime when `http_port`
//! (or `https_port`) is configured.
//!
//! The documents are built in `connz.rs` and `endpoints.rs` from what the server already
//! keeps (the client registry, the accounts' subject indexes) and from the counters in
//! `stats.rs`; `metrics.rs` encodes them for Prometheus; `json.rs` has their exact JSON shape; `http.rs` the listener and routing.

mod connz;
mod endpoints;
pub(crate) mod events;
mod http;
pub(crate) mod json;
pub(crate) mod metrics;
mod query;
mod stats;
pub(crate) mod sys;
mod sysacc;
mod sysopts;
mod sysz;

use std::time::{Duration, SystemTime};

pub(crate) use connz::closed_record;
pub(crate) use http::{MonitorListener, bind, serve};
pub(crate) use stats::{ConnStats, Counts, Monitor};
pub(crate) use sys::start as start_system_services;
pub(crate) use sysacc::USER_INFO_SUBJECT;

/// A TLS session as `/connz` shows it: nats-server's version (`1.3`) and Go's cipher suite
/// name (`TLS_AES_128_GCM_SHA256`).
pub(crate) fn tls_description(conn: &tokio_rustls::rustls::ServerConnection) -> (String, String) {
    use tokio_rustls::rustls::ProtocolVersion;
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "1.3".to_owned(),
        Some(ProtocolVersion::TLSv1_2) => "1.2".to_owned(),
        Some(other) => format!("Unknown [0x{:x}]", u16::from(other)),
        None => String::new(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|s| {
            let name = format!("{:?}", s.suite());
            // rustls names TLS 1.3 suites TLS13_…; Go names them TLS_….
            name.strip_prefix("TLS13_")
                .map_or_else(|| name.clone(), |rest| format!("TLS_{rest}"))
        })
        .unwrap_or_default();
    (version, cipher)
}

/// One subscription as `/connz?subs=detail` shows it.
pub(crate) fn sub_detail(sub: &crate::account::Subscription) -> json::SubDetail {
    endpoints::sub_detail(sub, None)
}

/// Orders subscriptions by sid, numeric sids by value.
pub(crate) fn sort_by_sid(subs: &mut [json::SubDetail]) {
    subs.sort_by(|a, b| (a.sid.len(), &a.sid).cmp(&(b.sid.len(), &b.sid)));
}

/// A time as Go's `time.Time` marshals to JSON: RFC 3339 in UTC with as many fractional
/// digits as needed (none for whole seconds).
/// The sequence of the messages this server originates (`server.seq` in `$SYS` replies,
/// events and traces): one counter for all, as nats-server numbers them.
static EVENT_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The next `server.seq`.
pub(crate) fn next_event_seq() -> u64 {
    EVENT_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
}

pub(crate) fn go_time(t: SystemTime) -> String {
    let nanos = stats::unix_nanos(t);
    match jiff::Timestamp::from_nanosecond(i128::from(nanos)) {
        Ok(ts) => ts.to_string(),
        Err(_) => "0001-01-01T00:00:00Z".to_owned(),
    }
}

/// An age as nats-server shows uptimes and idle times: `3s`, `2m3s`, `1h2m3s`, `4d1h2m3s`,
/// `1y4d1h2m3s`, whole seconds.
pub(crate) fn uptime(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours, days) = (secs / 60, secs / 3600, secs / 86_400);
    let years = days / 365;
    if years > 0 {
        format!(
            "{years}y{}d{}h{}m{}s",
            days % 365,
            hours % 24,
            mins % 60,
            secs % 60
        )
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", hours % 24, mins % 60, secs % 60)
    } else if hours > 0 {
        format!("{hours}h{}m{}s", mins % 60, secs % 60)
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// A duration as Go's `time.Duration.String` writes it: `0s`, `750ns`, `407µs`, `1.5ms`,
/// `2.000000001s`, `1h2m3.5s`.
pub(crate) fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000, 3));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000, 6));
    }
    let total_secs = nanos / 1_000_000_000;
    let sub = nanos % 1_000_000_000;
    let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
    let secs = fraction(s * 1_000_000_000 + sub, 1_000_000_000, 9);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / unit` with up to `digits` fractional digits, trailing zeros dropped.
fn fraction(value: u128, unit: u128, digits: usize) -> String {
    let whole = value / unit;
    let rest = value % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let frac = format!("{rest:0digits$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(750)), "750ns");
        assert_eq!(go_duration(Duration::from_nanos(407_000)), "407µs");
        assert_eq!(go_duration(Duration::from_nanos(407_123)), "407.123µs");
        assert_eq!(go_duration(Duration::from_micros(1_500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(
            go_duration(Duration::from_nanos(2_000_000_001)),
            "2.000000001s"
        );
        assert_eq!(go_duration(Duration::from_millis(3_723_500)), "1h2m3.5s");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
    }

    #[test]
    fn uptimes_as_nats_server_writes_them() {
        assert_eq!(uptime(Duration::from_millis(1_999)), "1s");
        assert_eq!(uptime(Duration::from_secs(62)), "1m2s");
        assert_eq!(uptime(Duration::from_secs(3_723)), "1h2m3s");
        assert_eq!(uptime(Duration::from_secs(90_061)), "1d1h1m1s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }

    #[test]
    fn times_as_go_marshals_them() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_400_000);
        assert_eq!(go_time(t), "2023-11-14T22:13:20.1234Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(go_time(t), "2023-11-14T22:13:20Z");
    }
}
