//! The one place where broker decisions become nats-server's exact `-ERR` text, and where it is
//! decided whether the connection closes.

use rnats_protocol::ProtocolError;

use crate::outbound::CloseReason;

/// A reply the server owes the client because of something it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientError {
    Protocol(ProtocolError),
    InvalidConnect,
    AuthorizationViolation,
    /// `Authorization Violation: <reason>`, when `auth_error_reasons` is on.
    AuthorizationViolationBecause(rnats_auth::FailureCategory),
    AuthenticationTimeout,
    InvalidClientProtocol,
    NoRespondersRequiresHeaders,
    HeadersNotSupported,
    MaxConnectionsExceeded,
    MaxSubscriptionsExceeded,
    InvalidSubject,
    InvalidPublishSubject,
    PublishViolation(String),
    PublishReplyViolation(String),
    SubscriptionViolation {
        subject: String,
        queue: Option<String>,
    },
    /// A reload took away the right to an existing subscription.
    SubscriptionRemoved {
        subject: String,
        queue: Option<String>,
        sid: String,
    },
    UserAuthenticationExpired,
    /// Operator mode: the account JWT revoked the user.
    UserAuthenticationRevoked,
    /// Operator mode: the account JWT expired (or was deleted).
    AccountAuthenticationExpired,
    /// Operator mode: the account JWT's `conn` limit is reached.
    MaxAccountConnectionsExceeded,
    /// The user's `max_connections` is reached (an rnats extension).
    MaxUserConnectionsExceeded,
    /// Closed without a word, as nats-server closes a user whose signing key was removed.
    AuthenticationClosed,
    ConnectionThrottled,
    StaleConnection,
    ClientSentErr,
}

impl ClientError {
    /// The text inside `-ERR '…'`, or `None` where nats-server sends no `-ERR`.
    pub(crate) fn wire_text(&self) -> Option<String> {
        Some(match self {
            Self::Protocol(e) => return e.wire_text().map(str::to_owned),
            Self::InvalidConnect | Self::HeadersNotSupported | Self::ClientSentErr => return None,
            Self::AuthorizationViolation => "Authorization Violation".into(),
            Self::AuthorizationViolationBecause(why) => {
                format!("Authorization Violation: {}", why.client_text())
            }
            Self::AuthenticationTimeout => "Authentication Timeout".into(),
            Self::InvalidClientProtocol => "invalid client protocol".into(),
            Self::NoRespondersRequiresHeaders => "no responders requires headers support".into(),
            Self::MaxConnectionsExceeded => "maximum connections exceeded".into(),
            Self::MaxSubscriptionsExceeded => "maximum subscriptions exceeded".into(),
            Self::InvalidSubject => "Invalid Subject".into(),
            Self::InvalidPublishSubject => "Invalid Publish Subject".into(),
            Self::PublishViolation(s) => format!("Permissions Violation for Publish to \"{s}\""),
            Self::PublishReplyViolation(r) => {
                format!("Permissions Violation for Publish with Reply of \"{r}\"")
            }
            Self::StaleConnection => "Stale Connection".into(),
            Self::SubscriptionViolation {
                subject,
                queue: None,
            } => {
                format!("Permissions Violation for Subscription to \"{subject}\"")
            }
            Self::SubscriptionViolation {
                subject,
                queue: Some(q),
            } => {
                format!(
                    "Permissions Violation for Subscription to \"{subject}\" using queue \"{q}\""
                )
            }
            Self::SubscriptionRemoved {
                subject,
                queue: None,
                sid,
            } => {
                format!("Permissions Violation for Subscription to \"{subject}\" (sid \"{sid}\")")
            }
            Self::SubscriptionRemoved {
                subject,
                queue: Some(q),
                sid,
            } => format!(
                "Permissions Violation for Subscription to \"{subject}\" using queue \"{q}\" (sid \"{sid}\")"
            ),
            Self::UserAuthenticationExpired => "User Authentication Expired".into(),
            Self::UserAuthenticationRevoked => "User Authentication Revoked".into(),
            Self::AccountAuthenticationExpired => "Account Authentication Expired".into(),
            Self::MaxAccountConnectionsExceeded => {
                "maximum account active connections exceeded".into()
            }
            Self::MaxUserConnectionsExceeded => "maximum user active connections exceeded".into(),
            Self::AuthenticationClosed => return None,
            Self::ConnectionThrottled => {
                "Connection throttling is active. Please try again later.".into()
            }
        })
    }

    /// `Some(reason)` when the connection must close after the error is sent.
    pub(crate) fn closes(&self) -> Option<CloseReason> {
        Some(match self {
            Self::Protocol(ProtocolError::MaxControlLineExceeded) => {
                CloseReason::MaxControlLineExceeded
            }
            Self::Protocol(ProtocolError::MaxPayloadExceeded { .. }) => {
                CloseReason::MaxPayloadExceeded
            }
            Self::Protocol(_) | Self::InvalidConnect | Self::HeadersNotSupported => {
                CloseReason::ProtocolViolation
            }
            Self::ClientSentErr => CloseReason::ClientClosed,
            Self::AuthorizationViolation
            | Self::AuthorizationViolationBecause(_)
            | Self::AuthenticationTimeout
            | Self::AuthenticationClosed => CloseReason::AuthenticationViolation,
            Self::UserAuthenticationRevoked => CloseReason::CredentialsRevoked,
            Self::AccountAuthenticationExpired => CloseReason::AuthenticationExpired,
            Self::MaxAccountConnectionsExceeded => CloseReason::MaxAccountConnectionsExceeded,
            Self::InvalidClientProtocol => CloseReason::BadClientProtocolVersion,
            Self::NoRespondersRequiresHeaders => CloseReason::NoRespondersRequiresHeaders,
            Self::MaxConnectionsExceeded | Self::MaxUserConnectionsExceeded => {
                CloseReason::MaxConnectionsExceeded
            }
            Self::StaleConnection => CloseReason::StaleConnection,
            Self::UserAuthenticationExpired => CloseReason::AuthenticationExpired,
            Self::ConnectionThrottled => CloseReason::MaxConnectionsExceeded,
            Self::SubscriptionViolation { .. } | Self::SubscriptionRemoved { .. } => return None,
            Self::MaxSubscriptionsExceeded
            | Self::InvalidSubject
            | Self::InvalidPublishSubject
            | Self::PublishViolation(_)
            | Self::PublishReplyViolation(_) => return None,
        })
    }

    /// The `-ERR` line, when there is one.
    pub(crate) fn wire_line(&self) -> Option<Vec<u8>> {
        self.wire_text().map(|t| {
            let mut line = bytes::BytesMut::new();
            rnats_protocol::encode_err(&mut line, &t);
            line.into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_texts() {
        assert_eq!(
            ClientError::MaxConnectionsExceeded.wire_line().unwrap(),
            b"-ERR 'maximum connections exceeded'\r\n"
        );
        assert_eq!(
            ClientError::PublishReplyViolation("_R_.x".into())
                .wire_text()
                .unwrap(),
            "Permissions Violation for Publish with Reply of \"_R_.x\""
        );
        assert_eq!(ClientError::InvalidConnect.wire_line(), None);
        assert_eq!(ClientError::InvalidSubject.closes(), None);
        assert_eq!(
            ClientError::StaleConnection.closes(),
            Some(CloseReason::StaleConnection)
        );
    }

    /// With `auth_error_reasons`: the exact line for every client-safe category, and the
    /// same close as a plain `Authorization Violation`.
    #[test]
    fn authorization_violation_reasons() {
        use rnats_auth::FailureCategory as C;
        let expected = [
            (C::CredentialsRequired, "credentials required"),
            (C::CredentialsRejected, "credentials rejected"),
            (C::CredentialsExpired, "credentials expired"),
            (C::CredentialsRevoked, "credentials revoked"),
            (C::CredentialsNotUsable, "credentials not usable"),
            (C::AddressNotAllowed, "not permitted from this address"),
            (C::OutsideAllowedTimes, "outside allowed times"),
            (C::ConnectionTypeNotAllowed, "connection type not allowed"),
            (C::AccountNotFound, "account not found"),
            (C::AccountExpired, "account expired"),
            (C::ServerBusy, "server busy, try again later"),
        ];
        assert_eq!(expected.len(), C::ALL.len());
        for (category, text) in expected {
            let e = ClientError::AuthorizationViolationBecause(category);
            assert_eq!(
                e.wire_line().unwrap(),
                format!("-ERR 'Authorization Violation: {text}'\r\n").into_bytes()
            );
            assert_eq!(e.closes(), ClientError::AuthorizationViolation.closes());
        }
        // Whatever identifies the user, the category is the same.
        let unknown = rnats_auth::AuthError::UnknownUser { user: "x".into() };
        let wrong = rnats_auth::AuthError::BadPassword { user: "x".into() };
        let nkey = rnats_auth::AuthError::UnknownNkey { nkey: "U".into() };
        let sig = rnats_auth::AuthError::BadSignature {
            identity: "U".into(),
        };
        for e in [unknown, wrong, nkey, sig, rnats_auth::AuthError::BadToken] {
            assert_eq!(e.category(), C::CredentialsRejected, "{e}");
        }
        assert_eq!(
            ClientError::MaxUserConnectionsExceeded.wire_line().unwrap(),
            b"-ERR 'maximum user active connections exceeded'\r\n"
        );
    }

    #[test]
    fn operator_mode_closes_carry_nats_servers_reasons() {
        let revoked = ClientError::UserAuthenticationRevoked;
        assert_eq!(
            revoked.wire_line().unwrap(),
            b"-ERR 'User Authentication Revoked'\r\n"
        );
        assert_eq!(
            revoked.closes().map(CloseReason::as_str),
            Some("Credentials Revoked")
        );
        let over = ClientError::MaxAccountConnectionsExceeded;
        assert_eq!(
            over.wire_line().unwrap(),
            b"-ERR 'maximum account active connections exceeded'\r\n"
        );
        assert_eq!(
            over.closes().map(CloseReason::as_str),
            Some("Maximum Account Connections Exceeded")
        );
    }
}
