//! The server's `INFO` message.

use serde::{Deserialize, Serialize};

/// The JSON object of an `INFO` line, as a server sends it and a client reads it.
///
/// Serialising gives nats-server 2.15.1's bytes for the fields rnats sends: the field names,
/// their order and the rules for leaving a field out (`omitempty` in nats-server) are
/// nats-server's. One of nats-server's fields is not here: `go` (its Go version). Deserialising accepts any server's INFO: unknown fields are ignored and
/// missing ones take their default.
///
/// ```
/// use bytes::BytesMut;
/// use rnats_protocol::{ServerInfo, encode_info};
///
/// let info = ServerInfo {
///     server_id: "NABC".into(),
///     server_name: "hub".into(),
///     version: "2.15.1".into(),
///     proto: 1,
///     max_payload: 1024,
///     ..ServerInfo::default()
/// };
/// let mut out = BytesMut::new();
/// encode_info(&mut out, &info);
/// let expected = concat!(
///     r#"INFO {"server_id":"NABC","server_name":"hub","version":"2.15.1","proto":1,"#,
///     r#""host":"","port":0,"headers":false,"max_payload":1024,"api_lvl":0} "#,
///     "\r\n",
/// );
/// assert_eq!(&out[..], expected.as_bytes());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    /// The server's unique id (`server_id`).
    pub server_id: String,
    /// The configured server name, else the id (`server_name`).
    pub server_name: String,
    /// The nats-server version the server is compatible with.
    pub version: String,
    /// Protocol level: `1` for servers that support asynchronous INFO.
    pub proto: u8,
    /// The commit the server was built from; left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub git_commit: String,
    /// The host the client listener is bound to.
    pub host: String,
    /// The client listener's port.
    pub port: u16,
    /// The server supports headers (`HPUB`/`HMSG`).
    pub headers: bool,
    /// Clients must authenticate; left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub auth_required: bool,
    /// Clients must use TLS; left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_required: bool,
    /// Client certificates are verified; left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    /// TLS is offered beside plain connections; left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub tls_available: bool,
    /// The largest payload the server accepts.
    pub max_payload: u32,
    /// The connection's id on the server; left out when zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub client_id: u64,
    /// The client's address as the server sees it; left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_ip: String,
    /// The nonce an NKey or JWT client signs; left out when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// URLs of the cluster's client listeners; left out when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// URLs of the cluster's WebSocket listeners; left out when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ws_connect_urls: Vec<String>,
    /// The server is in lame duck mode; left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub ldm: bool,
    /// This INFO answers a CONNECT (sent after authentication); left out when false.
    #[serde(skip_serializing_if = "is_false")]
    pub connect_info: bool,
    /// The account the client was bound to, in a `connect_info` INFO; left out when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<String>,
    /// The JetStream API level (always sent, as rnats has always sent it).
    pub api_lvl: u32,
    /// The server's public curve key (`X…`), which auth callout services seal their answers
    /// to; left out when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}
