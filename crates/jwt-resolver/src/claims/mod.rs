//! The claim types, one module each, and what they share: the standard JWT fields, the claim
//! kind, and the JSON layout of both on the wire.
//!
//! Each public claims struct is flat: the standard fields (`jti`, `iat`, `iss`, `sub`, `name`,
//! `aud`, `exp`, `nbf`) sit beside the NATS-specific ones from `"nats"`. Nested parts (imports,
//! exports, limits, …) are serde types laid out exactly as on the wire, like nats-io/jwt's.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nkeys::KeyPairType;
use serde::{Deserialize, Serialize};

pub(crate) mod account;
pub(crate) mod activation;
pub(crate) mod authorization;
pub(crate) mod exports;
pub(crate) mod generic;
pub(crate) mod operator;
pub(crate) mod signing_keys;
pub(crate) mod user;
mod validate;

use account::AccountClaims;
use activation::ActivationClaims;
use generic::GenericClaims;
use operator::OperatorClaims;
use user::UserClaims;

/// What a token is (`nats.type`, or the top-level `type` of a version-1 token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClaimKind {
    /// `operator`: self-signed by the operator, lists its signing keys.
    Operator,
    /// `account`: issued by an operator key.
    Account,
    /// `user`: issued by an account key.
    User,
    /// `activation`: an exporting account lets one importing account use a private export.
    Activation,
    /// `authorization_request`: the server asks an auth callout service.
    AuthorizationRequest,
    /// `authorization_response`: the callout service answers.
    AuthorizationResponse,
    /// `generic`, or any type this library does not know: read as free-form data.
    Generic,
}

impl ClaimKind {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Account => "account",
            Self::User => "user",
            Self::Activation => "activation",
            Self::AuthorizationRequest => "authorization_request",
            Self::AuthorizationResponse => "authorization_response",
            Self::Generic => "generic",
        }
    }

    /// The kind for a `type` value; anything unknown (or empty) is [`Generic`](Self::Generic),
    /// as in nats-io/jwt.
    pub fn from_type(name: &str) -> Self {
        match name {
            "operator" => Self::Operator,
            "account" => Self::Account,
            "user" => Self::User,
            "activation" => Self::Activation,
            "authorization_request" => Self::AuthorizationRequest,
            "authorization_response" => Self::AuthorizationResponse,
            _ => Self::Generic,
        }
    }

    /// The key roles that may sign a token of this kind (nats-io/jwt `ExpectedPrefixes`);
    /// empty: any key.
    pub(crate) fn issuer_roles(self) -> &'static [KeyPairType] {
        match self {
            Self::Operator => &[KeyPairType::Operator],
            // nats-io/jwt also reads self-signed accounts and operator-signed activations;
            // whether such an issuer is trusted is for the caller.
            Self::Account | Self::Activation => &[KeyPairType::Account, KeyPairType::Operator],
            Self::User | Self::AuthorizationResponse => &[KeyPairType::Account],
            Self::AuthorizationRequest => &[KeyPairType::Server],
            Self::Generic => &[],
        }
    }

    /// The role `sub` must have, if any.
    pub(crate) fn subject_role(self) -> Option<KeyPairType> {
        match self {
            Self::Operator => Some(KeyPairType::Operator),
            Self::Account | Self::Activation => Some(KeyPairType::Account),
            Self::User => Some(KeyPairType::User),
            _ => None,
        }
    }

    /// How the accepted issuers read in an error message.
    pub(crate) fn issuer_text(self) -> &'static str {
        match self {
            Self::Operator => "an operator public key",
            Self::Account | Self::Activation => "an operator or account public key",
            Self::User | Self::AuthorizationResponse => "an account public key",
            Self::AuthorizationRequest => "a server public key",
            Self::Generic => "a public key",
        }
    }

    /// How the required subject reads in an error message.
    pub(crate) fn subject_text(self) -> &'static str {
        match self.subject_role() {
            Some(KeyPairType::Operator) => "an operator public key",
            Some(KeyPairType::Account) => "an account public key",
            Some(KeyPairType::User) => "a user public key",
            _ => "not empty",
        }
    }
}

impl fmt::Display for ClaimKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any decoded and verified token; see [`crate::decode`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// One value per decoded token, moved once: boxing the account variant would only make matching
// on it uneven.
#[allow(clippy::large_enum_variant)]
pub enum Claims {
    /// An operator JWT.
    Operator(OperatorClaims),
    /// An account JWT.
    Account(AccountClaims),
    /// A user JWT.
    User(UserClaims),
    /// An activation JWT.
    Activation(ActivationClaims),
    /// A generic JWT (or one of a type this library does not know).
    Generic(GenericClaims),
}

impl Claims {
    /// What kind of token this is.
    pub fn kind(&self) -> ClaimKind {
        match self {
            Self::Operator(_) => ClaimKind::Operator,
            Self::Account(_) => ClaimKind::Account,
            Self::User(_) => ClaimKind::User,
            Self::Activation(_) => ClaimKind::Activation,
            Self::Generic(_) => ClaimKind::Generic,
        }
    }

    /// `iss`: the key that signed the token.
    pub fn issuer(&self) -> &str {
        match self {
            Self::Operator(c) => &c.issuer,
            Self::Account(c) => &c.issuer,
            Self::User(c) => &c.issuer,
            Self::Activation(c) => &c.issuer,
            Self::Generic(c) => &c.issuer,
        }
    }

    /// `sub`: what the token is about.
    pub fn subject(&self) -> &str {
        match self {
            Self::Operator(c) => &c.subject,
            Self::Account(c) => &c.subject,
            Self::User(c) => &c.subject,
            Self::Activation(c) => &c.subject,
            Self::Generic(c) => &c.subject,
        }
    }
}

/// What the codec needs of each claims struct: its kind, its standard fields, and its `nats`
/// section in both directions.
pub(crate) trait ClaimSet: Sized {
    const KIND: ClaimKind;

    /// The standard fields (for encoding).
    fn standard(&self) -> Standard;

    /// The `nats` section to encode, ending with `generic` (type, version, tags).
    fn to_nats(&self) -> Result<serde_json::Value, serde_json::Error>;

    /// The claims from a verified token's parts.
    fn from_parts(
        standard: Standard,
        nats: serde_json::Map<String, serde_json::Value>,
        v1: V1TopLevel,
    ) -> Result<Self, serde_json::Error>;

    /// `nats.issuer_account`, for the kinds that have one.
    fn issuer_account(&self) -> Option<&str> {
        None
    }
}

/// The [`Standard`] claims of a claim struct: every claim type holds them flat under the same
/// field names.
macro_rules! standard_of {
    ($claims:expr) => {
        Standard {
            id: $claims.id.clone(),
            issued_at: $claims.issued_at,
            issuer: $claims.issuer.clone(),
            subject: $claims.subject.clone(),
            name: $claims.name.clone(),
            audience: $claims.audience.clone(),
            expires: $claims.expires,
            not_before: $claims.not_before,
            version: $claims.version,
        }
    };
}
pub(crate) use standard_of;

/// The standard JWT claims every token carries (nats-io/jwt `ClaimsData`), as the claims
/// structs hold them flat, plus the layout version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Standard {
    pub(crate) id: String,
    pub(crate) issued_at: Option<SystemTime>,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) name: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) expires: Option<SystemTime>,
    pub(crate) not_before: Option<SystemTime>,
    /// 1 for the version-1 layout, 2 otherwise.
    pub(crate) version: u8,
}

impl Standard {
    pub(crate) fn from_wire(w: StandardWire, version: u8) -> Self {
        Self {
            id: w.jti,
            issued_at: from_unix(w.iat),
            issuer: w.iss,
            subject: w.sub,
            name: none_if_empty(w.name),
            audience: none_if_empty(w.aud),
            expires: from_unix(w.exp),
            not_before: from_unix(w.nbf),
            version,
        }
    }

    /// The wire form, issued by `issuer` at `issued_at`, with an empty `jti`.
    pub(crate) fn to_wire(&self, issuer: String, issued_at: SystemTime) -> StandardWire {
        StandardWire {
            aud: self.audience.clone().unwrap_or_default(),
            exp: to_unix(self.expires),
            jti: String::new(),
            iat: to_unix(Some(issued_at)),
            iss: issuer,
            name: self.name.clone().unwrap_or_default(),
            nbf: to_unix(self.not_before),
            sub: self.subject.clone(),
        }
    }
}

/// The standard claims on the wire, in nats-io/jwt's field order: `jti` is the hash of this
/// struct's JSON with `jti` empty, so the order and the omitted empties matter.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct StandardWire {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) aud: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) exp: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) jti: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) iat: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) nbf: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) sub: String,
}

/// Fields a version-1 token keeps at the top level that version 2 moved under `nats`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct V1TopLevel {
    #[serde(default, rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) issuer_account: String,
}

/// `type`, `version` and `tags`, which every version-2 `nats` section ends with
/// (nats-io/jwt `GenericFields`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct GenericFields {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub(crate) version: u64,
}

impl GenericFields {
    /// What the encoder writes for a claim of `kind` with `tags`.
    pub(crate) fn for_encoding(kind: ClaimKind, tags: &[String]) -> Self {
        Self {
            tags: normalize_tags(tags),
            kind: kind.as_str().to_owned(),
            version: 2,
        }
    }
}

/// nats-io/jwt `TagList.Add`: trimmed, lower-cased, no empties, no duplicates. Applied when
/// encoding; decoded tags are kept as the token has them (nats-server compares them as written).
pub(crate) fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

pub(crate) fn is_zero(v: &i64) -> bool {
    *v == 0
}

pub(crate) fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

pub(crate) fn is_false(v: &bool) -> bool {
    !*v
}

pub(crate) fn no_limit() -> i64 {
    -1
}

pub(crate) fn to_unix(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A unix time; 0 or negative is "not set", as nats-io/jwt reads it.
pub(crate) fn from_unix(secs: i64) -> Option<SystemTime> {
    let secs = u64::try_from(secs).ok().filter(|s| *s > 0)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

pub(crate) fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}
