//! The INFO message.

use serde::Serialize;

/// The nats-server version whose client protocol rnats speaks. Clients gate features on INFO's
/// `version`, so rnats reports the version it is compatible with.
pub const COMPAT_VERSION: &str = "2.15.1";

/// INFO as sent to clients. Field names and omission rules follow nats-server.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Info {
    pub(crate) server_id: String,
    pub(crate) server_name: String,
    pub(crate) version: &'static str,
    pub(crate) proto: u8,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) headers: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) auth_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) tls_required: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) tls_verify: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) tls_available: bool,
    pub(crate) max_payload: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    pub(crate) client_id: u64,
    pub(crate) client_ip: String,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) remote_account: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) ldm: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Info {
    /// The whole line, `INFO {...} \r\n` (nats-server puts a space before the CRLF).
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Serialising plain strings and numbers cannot fail.
        if serde_json::to_writer(&mut line, self).is_err() {
            line.extend_from_slice(b"{}");
        }
        line.extend_from_slice(b" \r\n");
        line
    }
}
