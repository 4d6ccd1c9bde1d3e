//! Operator claims (`nats.type == "operator"`; nats-io/jwt `operator_claims.go`).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::JwtError;

use super::standard_of;
use super::{ClaimKind, ClaimSet, GenericFields, Standard, V1TopLevel, is_false, none_if_empty};

/// The claims of an operator JWT, decoded and typed. Operators sign their own JWT.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperatorClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: the key that signed the token (normally the operator itself).
    pub issuer: String,
    /// `sub`: the operator's public key (`O…`).
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// `exp`: after this second the token is refused.
    pub expires: Option<SystemTime>,
    /// `nbf`: before this second the token is refused.
    pub not_before: Option<SystemTime>,
    /// `nats.signing_keys`: other operator keys (`O…`) that may sign accounts.
    pub signing_keys: Vec<String>,
    /// `nats.account_server_url`: where account JWTs are fetched from.
    pub account_server_url: Option<String>,
    /// `nats.operator_service_urls`: NATS URLs for tools.
    pub operator_service_urls: Vec<String>,
    /// `nats.system_account`: the system account's public key.
    pub system_account: Option<String>,
    /// `nats.assert_server_version`: the oldest server version (`x.y.z`) that may load this.
    pub assert_server_version: Option<String>,
    /// `nats.strict_signing_key_usage`: only signing keys may sign accounts, not the identity
    /// key.
    pub strict_signing_key_usage: bool,
    /// `nats.tags` (the encoder lower-cases them).
    pub tags: Vec<String>,
    /// The token's layout: 1 for a version-1 token, 2 otherwise (the encoder writes 2).
    pub version: u8,
}

impl OperatorClaims {
    /// Claims for operator `subject` (`O…`), to be self-signed.
    pub fn new(subject: impl Into<String>) -> Self {
        let subject = subject.into();
        Self {
            issuer: subject.clone(),
            subject,
            version: 2,
            ..Self::default()
        }
    }

    /// Whether the operator signed its own token (`iss == sub`).
    pub fn is_self_signed(&self) -> bool {
        self.issuer == self.subject
    }

    /// Whether a token about `subject` signed by `issuer` was signed by this operator
    /// (nats-io/jwt `DidSign`): one of its signing keys, or its identity key unless
    /// `strict_signing_key_usage` (then only for its own token).
    pub fn did_sign(&self, issuer: &str, subject: &str) -> bool {
        if issuer == self.subject {
            !self.strict_signing_key_usage || subject == self.subject
        } else {
            self.signing_keys.iter().any(|k| k == issuer)
        }
    }

    /// `assert_server_version` as numbers; `Ok(None)` when unset, an error when it is not
    /// `major.minor.update` of non-negative integers (nats-server then refuses to start).
    pub fn asserted_server_version(&self) -> Result<Option<(u64, u64, u64)>, JwtError> {
        let Some(v) = self.assert_server_version.as_deref() else {
            return Ok(None);
        };
        let mut parts = v.split('.').map(|p| p.parse::<u64>());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) => Ok(Some((a, b, c))),
            _ => Err(JwtError::InvalidField {
                field: "assert_server_version",
            }),
        }
    }
}

impl ClaimSet for OperatorClaims {
    const KIND: ClaimKind = ClaimKind::Operator;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(WireOperator {
            signing_keys: self.signing_keys.clone(),
            account_server_url: self.account_server_url.clone().unwrap_or_default(),
            operator_service_urls: self.operator_service_urls.clone(),
            system_account: self.system_account.clone().unwrap_or_default(),
            assert_server_version: self.assert_server_version.clone().unwrap_or_default(),
            strict_signing_key_usage: self.strict_signing_key_usage,
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        v1: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let mut n: WireOperator = serde_json::from_value(Value::Object(nats))?;
        if s.version == 1 {
            // Version 1 had the first four fields only, and its tags at the top level.
            n.assert_server_version.clear();
            n.strict_signing_key_usage = false;
            n.generic.tags = v1.tags;
        }
        Ok(Self {
            id: s.id,
            issued_at: s.issued_at,
            issuer: s.issuer,
            subject: s.subject,
            name: s.name,
            audience: s.audience,
            expires: s.expires,
            not_before: s.not_before,
            signing_keys: n.signing_keys,
            account_server_url: none_if_empty(n.account_server_url),
            operator_service_urls: n.operator_service_urls,
            system_account: none_if_empty(n.system_account),
            assert_server_version: none_if_empty(n.assert_server_version),
            strict_signing_key_usage: n.strict_signing_key_usage,
            tags: n.generic.tags,
            version: s.version,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct WireOperator {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    signing_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    account_server_url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    operator_service_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    system_account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    assert_server_version: String,
    #[serde(default, skip_serializing_if = "is_false")]
    strict_signing_key_usage: bool,
    #[serde(flatten)]
    generic: GenericFields,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_sign_follows_strict_usage() {
        let mut op = OperatorClaims::new("O1");
        op.signing_keys = vec!["O2".into()];
        assert!(op.did_sign("O1", "A1") && op.did_sign("O2", "A1"));
        assert!(!op.did_sign("O3", "A1"));
        op.strict_signing_key_usage = true;
        assert!(!op.did_sign("O1", "A1"));
        assert!(op.did_sign("O1", "O1") && op.did_sign("O2", "A1"));
    }

    #[test]
    fn server_version_parses_like_nats() {
        let mut op = OperatorClaims::new("O1");
        assert_eq!(op.asserted_server_version(), Ok(None));
        op.assert_server_version = Some("2.10.3".into());
        assert_eq!(op.asserted_server_version(), Ok(Some((2, 10, 3))));
        for bad in ["2.10", "2.x.1", "1.2.3.4", "-1.0.0"] {
            op.assert_server_version = Some(bad.into());
            assert!(op.asserted_server_version().is_err(), "{bad}");
        }
    }
}
