//! Activation claims (`nats.type == "activation"`; nats-io/jwt `activation_claims.go`): an
//! exporting account's permission for one importing account to use a private export.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::exports::ExportType;
use super::standard_of;
use super::{ClaimKind, ClaimSet, GenericFields, Standard, V1TopLevel, none_if_empty};

/// The claims of an activation JWT, decoded and typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivationClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: the exporting account, or one of its signing keys.
    pub issuer: String,
    /// `sub`: the importing account's public key (`A…`).
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// `exp`: after this second the import stops working.
    pub expires: Option<SystemTime>,
    /// `nbf`: before this second the token is refused.
    pub not_before: Option<SystemTime>,
    /// `nats.subject`: the exported subject the import may use.
    pub import_subject: String,
    /// `nats.kind` (`nats.type` in version 1): stream or service.
    pub kind: ExportType,
    /// `nats.issuer_account`: the exporting account when `iss` is one of its signing keys.
    pub issuer_account: Option<String>,
    /// `nats.tags` (the encoder lower-cases them).
    pub tags: Vec<String>,
    /// The token's layout: 1 for a version-1 token, 2 otherwise (the encoder writes 2).
    pub version: u8,
}

impl ActivationClaims {
    /// An activation for importing account `subject` (`A…`) to import `import_subject` as
    /// `kind`.
    pub fn new(
        subject: impl Into<String>,
        import_subject: impl Into<String>,
        kind: ExportType,
    ) -> Self {
        Self {
            subject: subject.into(),
            import_subject: import_subject.into(),
            kind,
            version: 2,
            ..Self::default()
        }
    }
}

impl ClaimSet for ActivationClaims {
    const KIND: ClaimKind = ClaimKind::Activation;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(WireActivation {
            subject: self.import_subject.clone(),
            kind: self.kind,
            issuer_account: self.issuer_account.clone().unwrap_or_default(),
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        v1: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let (subject, kind, issuer_account, tags) = if s.version == 1 {
            let n: WireV1Activation = serde_json::from_value(Value::Object(nats))?;
            (n.subject, n.kind, v1.issuer_account, v1.tags)
        } else {
            let n: WireActivation = serde_json::from_value(Value::Object(nats))?;
            (n.subject, n.kind, n.issuer_account, n.generic.tags)
        };
        Ok(Self {
            id: s.id,
            issued_at: s.issued_at,
            issuer: s.issuer,
            subject: s.subject,
            name: s.name,
            audience: s.audience,
            expires: s.expires,
            not_before: s.not_before,
            import_subject: subject,
            kind,
            issuer_account: none_if_empty(issuer_account),
            tags,
            version: s.version,
        })
    }

    fn issuer_account(&self) -> Option<&str> {
        self.issuer_account.as_deref()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct WireActivation {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    subject: String,
    #[serde(default, skip_serializing_if = "ExportType::is_unknown")]
    kind: ExportType,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    issuer_account: String,
    #[serde(flatten)]
    generic: GenericFields,
}

/// Version 1 named the export type `type`, and kept `issuer_account` and `tags` at the top.
#[derive(Debug, Deserialize)]
struct WireV1Activation {
    #[serde(default)]
    subject: String,
    #[serde(default, rename = "type")]
    kind: ExportType,
}
