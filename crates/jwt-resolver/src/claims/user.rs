//! User claims (`nats.type == "user"`) and the permission/limit block a user JWT shares with a
//! scoped signing key's template.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::standard_of;
use super::{
    ClaimKind, ClaimSet, GenericFields, Standard, V1TopLevel, is_false, is_zero, no_limit,
    none_if_empty,
};
use crate::permissions::{Permission, Permissions, ResponsePermission};

/// The claims of a NATS user JWT (`nats.type == "user"`), decoded and typed.
///
/// Build one with [`UserClaims::new`] (limits unlimited, as `nsc` writes them) and adjust the
/// public fields; decode one with [`crate::decode_user`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `sub`: the user's public NKey (`U…`).
    pub subject: String,
    /// `iss`: the key that signed the token: the account's identity key or one of its signing
    /// keys (`A…`).
    pub issuer: String,
    /// `nats.issuer_account`: the account's identity key when `iss` is a signing key.
    pub issuer_account: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// `exp`: after this second the token is refused.
    pub expires: Option<SystemTime>,
    /// `nbf`: before this second the token is refused.
    pub not_before: Option<SystemTime>,
    /// `nats.bearer_token`: no nonce signature is required (the token alone is the credential).
    pub bearer_token: bool,
    /// `nats.proxy_required`: the user may only connect through a trusted proxy.
    pub proxy_required: bool,
    /// `nats.pub`, `nats.sub` and `nats.resp`, as written in the token.
    pub permissions: Permissions,
    /// `nats.allowed_connection_types`, as written (`STANDARD`, `WEBSOCKET`, …); empty = all.
    pub allowed_connection_types: Vec<String>,
    /// `nats.src`: CIDRs the client must connect from; empty = anywhere.
    pub source_networks: Vec<String>,
    /// `nats.times`: daily time windows the user may connect in; empty = any time.
    pub times: Vec<TimeRange>,
    /// `nats.times_location`: the IANA zone of `times`.
    pub times_location: Option<String>,
    /// `nats.subs`, `nats.data`, `nats.payload`.
    pub limits: UserLimits,
    /// `nats.tags` (the encoder lower-cases them, as `nsc` does).
    pub tags: Vec<String>,
    /// The token's layout: 1 for a version-1 token, 2 otherwise (the encoder writes 2).
    pub version: u8,
}

/// Per-user limits; `-1` is unlimited. A limit missing from the JSON is **0**, as in
/// nats-server (a hand-written token without `subs` may not subscribe at all); in a version-1
/// token or a signing-key template it is `-1`, as nats-io/jwt reads those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserLimits {
    /// `subs`: most subscriptions.
    pub subscriptions: i64,
    /// `data`: bytes (not enforced by nats-server).
    pub data: i64,
    /// `payload`: largest message payload.
    pub payload: i64,
}

impl UserLimits {
    /// Every limit unlimited (`-1`).
    pub const UNLIMITED: Self = Self {
        subscriptions: -1,
        data: -1,
        payload: -1,
    };
}

/// One daily window of `nats.times`, as `HH:MM:SS` strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Start of the window.
    #[serde(default)]
    pub start: String,
    /// End of the window (may be earlier than `start`: the window wraps midnight).
    #[serde(default)]
    pub end: String,
}

/// Everything a user JWT may restrict (nats-io/jwt `UserPermissionLimits`): what a scoped
/// signing key's `template` holds, and what [`UserClaims`] carries flat.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserPermissionLimits {
    /// `pub`, `sub`, `resp`.
    pub permissions: Permissions,
    /// `src`: allowed client networks (CIDRs).
    pub source_networks: Vec<String>,
    /// `times`: daily connect windows.
    pub times: Vec<TimeRange>,
    /// `times_location`: the IANA zone of `times`.
    pub times_location: Option<String>,
    /// `subs`, `data`, `payload`.
    pub limits: UserLimits,
    /// `bearer_token`.
    pub bearer_token: bool,
    /// `proxy_required`.
    pub proxy_required: bool,
    /// `allowed_connection_types`.
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// Whether nothing at all is set, limits included (0, not `-1`): what nats-server requires
    /// of a user JWT signed by a scoped signing key.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl UserClaims {
    /// Claims for user `subject` (`U…`) issued by `issuer` (`A…`), with unlimited limits and
    /// nothing else set.
    pub fn new(subject: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            issuer: issuer.into(),
            limits: UserLimits::UNLIMITED,
            version: 2,
            ..Self::default()
        }
    }

    /// The permissions and limits of this user as one block.
    pub fn permission_limits(&self) -> UserPermissionLimits {
        UserPermissionLimits {
            permissions: self.permissions.clone(),
            source_networks: self.source_networks.clone(),
            times: self.times.clone(),
            times_location: self.times_location.clone(),
            limits: self.limits,
            bearer_token: self.bearer_token,
            proxy_required: self.proxy_required,
            allowed_connection_types: self.allowed_connection_types.clone(),
        }
    }

    /// Whether the token sets no permission or limit at all (nats-io/jwt
    /// `HasEmptyPermissions`): required when a scoped signing key signed it.
    pub fn has_empty_permissions(&self) -> bool {
        self.permission_limits().is_empty()
    }

    /// Replaces the permissions and limits with `p`.
    pub fn set_permission_limits(&mut self, p: UserPermissionLimits) {
        self.permissions = p.permissions;
        self.source_networks = p.source_networks;
        self.times = p.times;
        self.times_location = p.times_location;
        self.limits = p.limits;
        self.bearer_token = p.bearer_token;
        self.proxy_required = p.proxy_required;
        self.allowed_connection_types = p.allowed_connection_types;
    }
}

impl ClaimSet for UserClaims {
    const KIND: ClaimKind = ClaimKind::User;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(WireUser {
            limits: WirePermissionLimits::from(&self.permission_limits()),
            issuer_account: self.issuer_account.clone().unwrap_or_default(),
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        v1: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let (limits, issuer_account, tags) = if s.version == 1 {
            let n: WireV1User = serde_json::from_value(Value::Object(nats))?;
            (n.limits, v1.issuer_account, v1.tags)
        } else {
            let n: WireUser = serde_json::from_value(Value::Object(nats))?;
            (n.limits, n.issuer_account, n.generic.tags)
        };
        let mut claims = Self {
            id: s.id,
            issued_at: s.issued_at,
            subject: s.subject,
            issuer: s.issuer,
            issuer_account: none_if_empty(issuer_account),
            name: s.name,
            audience: s.audience,
            expires: s.expires,
            not_before: s.not_before,
            tags,
            version: s.version,
            ..Self::default()
        };
        claims.set_permission_limits(limits.into());
        Ok(claims)
    }

    fn issuer_account(&self) -> Option<&str> {
        self.issuer_account.as_deref()
    }
}

// ----- the wire layout -----

/// `UserPermissionLimits` on the wire (flattened into the user's `nats`, or a template).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WirePermissionLimits {
    #[serde(default, rename = "pub", skip_serializing_if = "Permission::is_empty")]
    publish: Permission,
    #[serde(default, rename = "sub", skip_serializing_if = "Permission::is_empty")]
    subscribe: Permission,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resp: Option<ResponsePermission>,
    #[serde(default, skip_serializing_if = "SourceList::is_empty")]
    src: SourceList,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    times: Vec<TimeRange>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    times_location: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    subs: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    data: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    payload: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    bearer_token: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    proxy_required: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allowed_connection_types: Vec<String>,
}

impl WirePermissionLimits {
    /// Empty, with the limits unlimited: nats-io/jwt's starting point for a version-1 user and
    /// for a scope template, whose missing limits therefore read as `-1`.
    pub(crate) fn unlimited() -> Self {
        Self {
            publish: Permission::default(),
            subscribe: Permission::default(),
            resp: None,
            src: SourceList::None,
            times: Vec::new(),
            times_location: String::new(),
            subs: no_limit(),
            data: no_limit(),
            payload: no_limit(),
            bearer_token: false,
            proxy_required: false,
            allowed_connection_types: Vec::new(),
        }
    }

    /// Reads `v` over [`unlimited`](Self::unlimited): fields present replace the defaults.
    pub(crate) fn unlimited_from(v: Value) -> serde_json::Result<Self> {
        let mut base = serde_json::to_value(Self::unlimited())?;
        if let (Value::Object(base), Value::Object(over)) = (&mut base, v) {
            base.extend(over);
        }
        serde_json::from_value(base)
    }
}

impl From<&UserPermissionLimits> for WirePermissionLimits {
    fn from(p: &UserPermissionLimits) -> Self {
        Self {
            publish: p.permissions.publish.clone(),
            subscribe: p.permissions.subscribe.clone(),
            resp: p.permissions.resp,
            src: if p.source_networks.is_empty() {
                SourceList::None
            } else {
                SourceList::List(p.source_networks.clone())
            },
            times: p.times.clone(),
            times_location: p.times_location.clone().unwrap_or_default(),
            subs: p.limits.subscriptions,
            data: p.limits.data,
            payload: p.limits.payload,
            bearer_token: p.bearer_token,
            proxy_required: p.proxy_required,
            allowed_connection_types: p.allowed_connection_types.clone(),
        }
    }
}

impl From<WirePermissionLimits> for UserPermissionLimits {
    fn from(w: WirePermissionLimits) -> Self {
        Self {
            permissions: Permissions {
                publish: w.publish,
                subscribe: w.subscribe,
                resp: w.resp,
            },
            source_networks: w.src.into_vec(),
            times: w.times,
            times_location: none_if_empty(w.times_location),
            limits: UserLimits {
                subscriptions: w.subs,
                data: w.data,
                payload: w.payload,
            },
            bearer_token: w.bearer_token,
            proxy_required: w.proxy_required,
            allowed_connection_types: w.allowed_connection_types,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct WireUser {
    #[serde(flatten)]
    limits: WirePermissionLimits,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    issuer_account: String,
    #[serde(flatten)]
    generic: GenericFields,
}

/// A version-1 user's `nats`: permissions and limits (missing limits are unlimited);
/// `issuer_account` and `tags` sit at the top level; connection types and `proxy_required`
/// did not exist.
#[derive(Debug)]
struct WireV1User {
    limits: WirePermissionLimits,
}

impl<'de> Deserialize<'de> for WireV1User {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let mut limits =
            WirePermissionLimits::unlimited_from(v).map_err(serde::de::Error::custom)?;
        limits.allowed_connection_types.clear();
        limits.proxy_required = false;
        Ok(Self { limits })
    }
}

/// `src`: a list of CIDRs, or the legacy comma-separated string.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(untagged)]
enum SourceList {
    #[default]
    None,
    List(Vec<String>),
    Legacy(String),
}

impl SourceList {
    fn is_empty(&self) -> bool {
        match self {
            Self::None => true,
            Self::List(v) => v.is_empty(),
            Self::Legacy(s) => s.trim().is_empty(),
        }
    }

    /// The CIDRs; the legacy string is split as nats-io/jwt does (lower-cased, trimmed, no
    /// empties or duplicates).
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::List(v) => v,
            Self::Legacy(s) => {
                super::normalize_tags(&s.split(',').map(str::to_owned).collect::<Vec<String>>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn user(nats: &str, version: u8) -> UserClaims {
        let Value::Object(nats) = serde_json::from_str(nats).unwrap() else {
            panic!("not an object")
        };
        let s = Standard {
            version,
            ..Standard::default()
        };
        UserClaims::from_parts(s, nats, V1TopLevel::default()).unwrap()
    }

    #[test]
    fn legacy_source_string_is_split() {
        let u = user(r#"{"src":"10.0.0.0/8, 192.168.1.1/32,,10.0.0.0/8"}"#, 2);
        assert_eq!(u.source_networks, ["10.0.0.0/8", "192.168.1.1/32"]);
    }

    #[test]
    fn response_defaults_follow_nats_server() {
        let rp = user(r#"{"resp":{"max":0,"ttl":0}}"#, 2)
            .permissions
            .resp
            .unwrap();
        assert_eq!((rp.max, rp.ttl), (0, 0));
        assert_eq!(rp.max_msgs(), Some(1));
        assert_eq!(rp.expires(), Some(Duration::from_secs(120)));
        let rp = user(r#"{"resp":{"max":-1,"ttl":5000000000}}"#, 2)
            .permissions
            .resp
            .unwrap();
        assert_eq!(rp.max_msgs(), None);
        assert_eq!(rp.expires(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn missing_limits_are_zero_in_v2_and_unlimited_in_v1() {
        assert_eq!(user("{}", 2).limits, UserLimits::default());
        assert_eq!(user("{}", 1).limits, UserLimits::UNLIMITED);
        assert_eq!(user(r#"{"subs":5}"#, 1).limits.subscriptions, 5);
    }

    #[test]
    fn v1_users_have_no_connection_types() {
        let u = user(
            r#"{"allowed_connection_types":["STANDARD"],"proxy_required":true}"#,
            1,
        );
        assert!(u.allowed_connection_types.is_empty());
        assert!(!u.proxy_required);
    }

    #[test]
    fn empty_permissions_mean_zero_limits() {
        let mut u = UserClaims::new("U", "A");
        assert!(!u.has_empty_permissions());
        u.limits = UserLimits::default();
        assert!(u.has_empty_permissions());
        u.bearer_token = true;
        assert!(!u.has_empty_permissions());
    }
}
