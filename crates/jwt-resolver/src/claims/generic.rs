//! Generic claims (nats-io/jwt `GenericClaims`): any token read as standard claims plus its
//! `nats` object as free-form JSON.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::standard_of;
use super::{ClaimKind, ClaimSet, Standard, V1TopLevel};

/// A token of any type, its `nats` section kept as JSON: how nats-server reads requests such
/// as a resolver's delete request (`{"accounts": [...]}`), and what
/// [`crate::decode`] returns for a type it does not know.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenericClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: the key that signed the token (any role).
    pub issuer: String,
    /// `sub`: what the token is about (anything but empty).
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// `exp`: after this second the token is refused.
    pub expires: Option<SystemTime>,
    /// `nbf`: before this second the token is refused.
    pub not_before: Option<SystemTime>,
    /// `nats`, as written. The encoder writes it as given, with `version` set to 2; `type` and
    /// `tags` are the caller's (for a version-1 token, the top-level `type` and `tags` are
    /// copied in, as nats-io/jwt does).
    pub data: Map<String, Value>,
    /// The token's layout: 1 for a version-1 token, 2 otherwise (the encoder writes 2).
    pub version: u8,
}

impl GenericClaims {
    /// Generic claims about `subject` with no data.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            version: 2,
            ..Self::default()
        }
    }

    /// `nats.type` as nats-io/jwt's `ClaimType()` reads it: a known kind, or
    /// [`ClaimKind::Generic`] for anything else.
    pub fn kind(&self) -> ClaimKind {
        self.data
            .get("type")
            .and_then(Value::as_str)
            .map_or(ClaimKind::Generic, ClaimKind::from_type)
    }
}

impl ClaimSet for GenericClaims {
    const KIND: ClaimKind = ClaimKind::Generic;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        let mut data = self.data.clone();
        data.insert("version".to_owned(), Value::from(2));
        Ok(Value::Object(data))
    }

    fn from_parts(
        s: Standard,
        mut data: Map<String, Value>,
        v1: V1TopLevel,
    ) -> serde_json::Result<Self> {
        if s.version == 1 {
            if !v1.kind.is_empty() {
                data.insert("type".to_owned(), Value::String(v1.kind));
            }
            if !v1.tags.is_empty() {
                data.insert("tags".to_owned(), Value::from(v1.tags));
            }
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
            data,
            version: s.version,
        })
    }
}
