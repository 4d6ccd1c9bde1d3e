//! The INFO message.

use serde::Serialize;

/// The nats-server version whose client protocol rnats speaks. Clients gate features on INFO's
/// `version`, so rnats reports the version it is compatible with.
pub const COMPAT_VERSION: &str = "2.15.1";

/// The JetStream API level nats-server 2.15.1 announces in every INFO (`api_lvl`), sent alike so
/// that clients which read it see the same server.
pub(crate) const API_LEVEL: u32 = 5;

/// The git commit rnats was built from (empty outside a git checkout: then not sent).
pub(crate) const GIT_COMMIT: &str = env!("RNATS_GIT_COMMIT");

/// INFO as sent to clients. Field names, order and omission rules follow nats-server (which
/// also sends `go`, its Go version: rnats has none, and `xkey`, which belongs to auth callout).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Info {
    pub(crate) server_id: String,
    pub(crate) server_name: String,
    pub(crate) version: &'static str,
    pub(crate) proto: u8,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) git_commit: &'static str,
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
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) client_id: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub(crate) client_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) ldm: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) connect_info: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) remote_account: Option<String>,
    pub(crate) api_lvl: u32,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
