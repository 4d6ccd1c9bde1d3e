//! The INFO message.

use bytes::BytesMut;

/// The nats-server version whose client protocol rnats speaks. Clients gate features on INFO's
/// `version`, so rnats reports the version it is compatible with.
pub const COMPAT_VERSION: &str = "2.15.1";

/// The JetStream API level nats-server 2.15.1 announces in every INFO (`api_lvl`), sent alike so
/// that clients which read it see the same server.
pub(crate) const API_LEVEL: u32 = 5;

/// The git commit rnats was built from (empty outside a git checkout: then not sent).
pub(crate) const GIT_COMMIT: &str = env!("RNATS_GIT_COMMIT");

/// INFO as sent to clients: [`rnats_protocol::ServerInfo`], whose serialisation follows
/// nats-server (field names, order, omission rules).
pub(crate) use rnats_protocol::ServerInfo as Info;

/// The INFO line of an [`Info`], written by [`rnats_protocol::encode_info`].
pub(crate) trait InfoLine {
    /// The whole line, `INFO {...} \r\n` (nats-server puts a space before the CRLF).
    fn to_line(&self) -> Vec<u8>;
}

impl InfoLine for Info {
    fn to_line(&self) -> Vec<u8> {
        let mut line = BytesMut::new();
        rnats_protocol::encode_info(&mut line, self);
        line.into()
    }
}
