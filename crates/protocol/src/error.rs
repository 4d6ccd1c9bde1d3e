//! Parse errors and their wire mapping.

use std::fmt;

/// Which operation carried malformed arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `CONNECT`
    Connect,
    /// `PUB`
    Pub,
    /// `HPUB`
    HPub,
    /// `SUB`
    Sub,
    /// `UNSUB`
    Unsub,
    /// `INFO` (sent by a server; its JSON did not decode)
    Info,
    /// `MSG` (sent by a server)
    Msg,
    /// `HMSG` (sent by a server)
    HMsg,
}

impl OpKind {
    /// The verb as a client writes it, upper case.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Pub => "PUB",
            Self::HPub => "HPUB",
            Self::Sub => "SUB",
            Self::Unsub => "UNSUB",
            Self::Info => "INFO",
            Self::Msg => "MSG",
            Self::HMsg => "HMSG",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

/// Why a peer's byte stream cannot be parsed.
///
/// Every variant is fatal for the connection: nats-server closes it. Whether an
/// `-ERR` line is sent first is given by [`ProtocolError::wire_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes do not start a known operation, or a payload is not
    /// followed by `\r\n`.
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// A control line is longer than [`Limits::max_control_line`](crate::Limits).
    #[error("maximum control line exceeded")]
    MaxControlLineExceeded,
    /// A `PUB`/`HPUB` (or `MSG`/`HMSG`) announced more bytes than [`Limits::max_payload`](crate::Limits).
    #[error("maximum payload exceeded: {size} > {max}")]
    MaxPayloadExceeded {
        /// The size announced on the control line.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// Wrong number of arguments or a malformed size. nats-server closes the
    /// connection without sending `-ERR`.
    #[error("invalid arguments for {0}")]
    InvalidArguments(OpKind),
}

impl ProtocolError {
    /// The exact text nats-server puts between the quotes of `-ERR '…'`, or
    /// `None` where it closes the connection silently.
    pub fn wire_text(&self) -> Option<&'static str> {
        match self {
            Self::UnknownOperation => Some("Unknown Protocol Operation"),
            Self::MaxControlLineExceeded => Some("maximum control line exceeded"),
            Self::MaxPayloadExceeded { .. } => Some("Maximum Payload Violation"),
            Self::InvalidArguments(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_texts_are_exact() {
        assert_eq!(
            ProtocolError::UnknownOperation.wire_text(),
            Some("Unknown Protocol Operation")
        );
        assert_eq!(
            ProtocolError::MaxControlLineExceeded.wire_text(),
            Some("maximum control line exceeded")
        );
        assert_eq!(
            ProtocolError::MaxPayloadExceeded { size: 2, max: 1 }.wire_text(),
            Some("Maximum Payload Violation")
        );
        assert_eq!(
            ProtocolError::InvalidArguments(OpKind::Pub).wire_text(),
            None
        );
    }

    #[test]
    fn display_carries_context() {
        let err = ProtocolError::MaxPayloadExceeded { size: 10, max: 5 };
        assert_eq!(err.to_string(), "maximum payload exceeded: 10 > 5");
        assert_eq!(
            ProtocolError::InvalidArguments(OpKind::HPub).to_string(),
            "invalid arguments for HPUB"
        );
    }
}
