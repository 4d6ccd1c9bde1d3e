//! The monitoring documents, field for field as nats-server 2.15.1 writes them: the same
//! names, JSON types and units (durations in nanoseconds, times in RFC 3339 with nanoseconds,
//! ages as `1h2m3s`), and the same fields left out when empty. Fields for features rnats does
//! not have (clustering, JetStream, MQTT) carry nats-server's empty form.

use std::collections::BTreeMap;

use serde::Serialize;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A float as Go's `encoding/json` writes it: integral values without a fraction (`2`, not
/// `2.0`).
fn go_float<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

/// `/varz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Varz {
    pub(crate) server_id: String,
    pub(crate) server_name: String,
    pub(crate) version: String,
    pub(crate) proto: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) git_commit: String,
    pub(crate) go: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) tls_verify: bool,
    pub(crate) max_connections: usize,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub(crate) max_subscriptions: i64,
    /// Nanoseconds.
    pub(crate) ping_interval: i64,
    pub(crate) ping_max: u32,
    pub(crate) http_host: String,
    pub(crate) http_port: i64,
    pub(crate) http_base_path: String,
    pub(crate) https_port: i64,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub(crate) auth_timeout: f64,
    pub(crate) max_control_line: u32,
    pub(crate) max_payload: u32,
    pub(crate) max_pending: u64,
    pub(crate) cluster: Empty,
    pub(crate) gateway: Empty,
    pub(crate) leaf: Empty,
    pub(crate) mqtt: Empty,
    pub(crate) websocket: WebsocketVarz,
    pub(crate) jetstream: Empty,
    /// Seconds.
    #[serde(serialize_with = "go_float")]
    pub(crate) tls_timeout: f64,
    /// Nanoseconds.
    pub(crate) write_deadline: i64,
    pub(crate) start: String,
    pub(crate) now: String,
    pub(crate) uptime: String,
    pub(crate) mem: i64,
    pub(crate) cores: usize,
    pub(crate) gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    pub(crate) cpu: f64,
    pub(crate) connections: usize,
    pub(crate) total_connections: u64,
    pub(crate) routes: u64,
    pub(crate) remotes: u64,
    pub(crate) leafnodes: u64,
    pub(crate) in_msgs: u64,
    pub(crate) in_bytes: u64,
    pub(crate) in_client_msgs: u64,
    pub(crate) in_client_bytes: u64,
    pub(crate) out_msgs: u64,
    pub(crate) out_bytes: u64,
    pub(crate) out_client_msgs: u64,
    pub(crate) out_client_bytes: u64,
    pub(crate) slow_consumers: u64,
    pub(crate) stale_connections: u64,
    pub(crate) stalled_clients: u64,
    pub(crate) subscriptions: u64,
    pub(crate) http_req_stats: BTreeMap<&'static str, u64>,
    pub(crate) config_load_time: String,
    pub(crate) config_digest: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) feature_flags: BTreeMap<&'static str, bool>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) system_account: String,
    pub(crate) slow_consumer_stats: KindCounts,
    pub(crate) stale_connection_stats: KindCounts,
    pub(crate) disk_io_wait_stats: DiskIoWaitStats,
}

/// An object with no fields: `{}` (nats-server's empty cluster, gateway, ... sections).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Empty {}

/// `/varz`'s `websocket`: empty unless a WebSocket listener is configured.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct WebsocketVarz {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) host: String,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub(crate) port: u16,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub(crate) handshake_timeout: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) no_tls: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) same_origin: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) compression: bool,
}

fn is_zero_u16(n: &u16) -> bool {
    *n == 0
}

/// Slow consumers or stale connections by connection kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct KindCounts {
    pub(crate) clients: u64,
    pub(crate) routes: u64,
    pub(crate) gateways: u64,
    pub(crate) leafs: u64,
}

/// JetStream's disk semaphore statistics (always zero here).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct DiskIoWaitStats {
    pub(crate) waiters: i64,
    pub(crate) waits: u64,
    pub(crate) wait_time: u64,
    pub(crate) max_wait_time: u64,
}

/// `/connz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Connz {
    pub(crate) server_id: String,
    pub(crate) now: String,
    pub(crate) num_connections: usize,
    pub(crate) total: usize,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    /// `null` when asked about an account that does not exist (as nats-server).
    pub(crate) connections: Option<Vec<ConnInfo>>,
}

/// One connection in `/connz`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ConnInfo {
    pub(crate) cid: u64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) kind: &'static str,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    pub(crate) kind_type: &'static str,
    pub(crate) ip: String,
    pub(crate) port: u16,
    pub(crate) start: String,
    pub(crate) last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) rtt: String,
    pub(crate) uptime: String,
    pub(crate) idle: String,
    pub(crate) pending_bytes: usize,
    pub(crate) in_msgs: u64,
    pub(crate) out_msgs: u64,
    pub(crate) in_bytes: u64,
    pub(crate) out_bytes: u64,
    pub(crate) subscriptions: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) tls_version: String,
    #[serde(rename = "tls_cipher_suite", skip_serializing_if = "String::is_empty")]
    pub(crate) tls_cipher: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) account: String,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Vec::is_empty")]
    pub(crate) subs: Vec<String>,
    #[serde(
        rename = "subscriptions_list_detail",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) subs_detail: Vec<SubDetail>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name_tag: String,
    /// For sorting: the round-trip time and the times, not shown.
    #[serde(skip)]
    pub(crate) sort: SortKeys,
}

/// Values connections are sorted by that the JSON shows only as text.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SortKeys {
    pub(crate) rtt: u64,
    pub(crate) start: i64,
    pub(crate) last: i64,
    pub(crate) stop: i64,
}

/// One subscription in `/subsz` or `/connz?subs=detail`.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SubDetail {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) account_tag: String,
    pub(crate) subject: String,
    #[serde(rename = "qgroup", skip_serializing_if = "String::is_empty")]
    pub(crate) queue: String,
    pub(crate) sid: String,
    pub(crate) msgs: u64,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub(crate) max: u64,
    pub(crate) cid: u64,
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A subject index's statistics (`/subsz`, `/accountz?acc=`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct SublistStats {
    pub(crate) num_subscriptions: u64,
    pub(crate) num_cache: u64,
    pub(crate) num_inserts: u64,
    pub(crate) num_removes: u64,
    pub(crate) num_matches: u64,
    #[serde(serialize_with = "go_float")]
    pub(crate) cache_hit_rate: f64,
    pub(crate) max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    pub(crate) avg_fanout: f64,
}

/// `/subsz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Subsz {
    pub(crate) server_id: String,
    pub(crate) now: String,
    #[serde(flatten)]
    pub(crate) stats: SublistStats,
    pub(crate) total: usize,
    pub(crate) offset: usize,
    pub(crate) limit: usize,
    #[serde(rename = "subscriptions_list", skip_serializing_if = "Option::is_none")]
    pub(crate) subs: Option<Vec<SubDetail>>,
}

/// `/accountz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Accountz {
    pub(crate) server_id: String,
    pub(crate) now: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) system_account: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) accounts: Vec<String>,
    #[serde(rename = "account_detail", skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<AccountInfo>,
}

/// One account in `/accountz?acc=`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountInfo {
    pub(crate) account_name: String,
    pub(crate) update_time: String,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) is_system: bool,
    pub(crate) expired: bool,
    pub(crate) complete: bool,
    pub(crate) jetstream_enabled: bool,
    pub(crate) leafnode_connections: u64,
    pub(crate) client_connections: u64,
    pub(crate) subscriptions: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) exports: Vec<ExtExport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) imports: Vec<ExtImport>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) name_tag: String,
    pub(crate) sublist_stats: SublistStats,
}

/// An export in `/accountz?acc=` (jwt.Export's fields).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExtExport {
    pub(crate) subject: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) token_req: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) approved_accounts: Vec<String>,
    /// `Singleton` or `Streamed` (shown for the system account's own services).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) response_type: &'static str,
}

/// An import in `/accountz?acc=` (jwt.Import's fields and the server's flags).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExtImport {
    pub(crate) subject: String,
    pub(crate) account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) local_subject: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) invalid: bool,
    pub(crate) share: bool,
    pub(crate) tracking: bool,
}

/// `/accstatz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountStatz {
    pub(crate) server_id: String,
    pub(crate) now: String,
    pub(crate) account_statz: Vec<AccountStat>,
}

/// One account's traffic in `/accstatz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AccountStat {
    pub(crate) acc: String,
    pub(crate) name: String,
    pub(crate) conns: u64,
    pub(crate) leafnodes: u64,
    pub(crate) total_conns: u64,
    pub(crate) num_subscriptions: u64,
    pub(crate) sent: DataStats,
    pub(crate) received: DataStats,
    pub(crate) slow_consumers: u64,
}

/// Messages and bytes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct MsgBytes {
    pub(crate) msgs: u64,
    pub(crate) bytes: u64,
}

/// Messages and bytes in total and by the kind of connection they crossed.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct DataStats {
    pub(crate) msgs: u64,
    pub(crate) bytes: u64,
    pub(crate) gateways: MsgBytes,
    pub(crate) routes: MsgBytes,
    pub(crate) leafs: MsgBytes,
}

/// `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HealthStatus {
    pub(crate) status: &'static str,
    #[serde(skip_serializing_if = "is_zero_u16")]
    pub(crate) status_code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) error: String,
}
