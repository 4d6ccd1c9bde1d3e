//! User claims, and their JSON layout on the wire.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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
    /// `nats.tags`.
    pub tags: Vec<String>,
}

/// Per-user limits; `-1` is unlimited. A limit missing from the JSON is **0**, as in
/// nats-server (a hand-written token without `subs` may not subscribe at all).
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
    pub start: String,
    /// End of the window (may be earlier than `start`: the window wraps midnight).
    pub end: String,
}

impl UserClaims {
    /// Claims for user `subject` (`U…`) issued by `issuer` (`A…`), with unlimited limits and
    /// nothing else set.
    pub fn new(subject: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            issuer: issuer.into(),
            limits: UserLimits::UNLIMITED,
            ..Self::default()
        }
    }
}

// ----- the wire layout -----

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireHeader {
    #[serde(default)]
    pub(crate) typ: String,
    #[serde(default)]
    pub(crate) alg: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WireClaims {
    #[serde(default)]
    pub(crate) jti: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) iat: i64,
    #[serde(default)]
    pub(crate) iss: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) sub: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) aud: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) exp: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) nbf: i64,
    #[serde(default)]
    pub(crate) nats: WireUser,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct WireUser {
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
    #[serde(default, skip_serializing_if = "String::is_empty")]
    issuer_account: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) version: u64,
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

    fn into_vec(self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::List(v) => v,
            Self::Legacy(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

fn to_unix(t: Option<SystemTime>) -> i64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn from_unix(secs: i64) -> Option<SystemTime> {
    let secs = u64::try_from(secs).ok().filter(|s| *s > 0)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

impl WireClaims {
    /// The typed claims (no validation here: see the decoder).
    pub(crate) fn into_user(self) -> UserClaims {
        let n = self.nats;
        let permissions = Permissions {
            publish: n.publish,
            subscribe: n.subscribe,
            resp: n.resp,
        };
        UserClaims {
            id: self.jti,
            issued_at: from_unix(self.iat),
            subject: self.sub,
            issuer: self.iss,
            issuer_account: none_if_empty(n.issuer_account),
            name: none_if_empty(self.name),
            audience: none_if_empty(self.aud),
            expires: from_unix(self.exp),
            not_before: from_unix(self.nbf),
            bearer_token: n.bearer_token,
            proxy_required: n.proxy_required,
            permissions,
            allowed_connection_types: n.allowed_connection_types,
            source_networks: n.src.into_vec(),
            times: n.times,
            times_location: none_if_empty(n.times_location),
            limits: UserLimits {
                subscriptions: n.subs,
                data: n.data,
                payload: n.payload,
            },
            tags: n.tags,
        }
    }

    /// The wire form of `c`, issued by `issuer`, with an empty `jti`.
    pub(crate) fn from_user(c: &UserClaims, issuer: String, issued_at: SystemTime) -> Self {
        Self {
            jti: String::new(),
            iat: to_unix(Some(issued_at)),
            iss: issuer,
            name: c.name.clone().unwrap_or_default(),
            sub: c.subject.clone(),
            aud: c.audience.clone().unwrap_or_default(),
            exp: to_unix(c.expires),
            nbf: to_unix(c.not_before),
            nats: WireUser {
                publish: c.permissions.publish.clone(),
                subscribe: c.permissions.subscribe.clone(),
                resp: c.permissions.resp,
                src: if c.source_networks.is_empty() {
                    SourceList::None
                } else {
                    SourceList::List(c.source_networks.clone())
                },
                times: c.times.clone(),
                times_location: c.times_location.clone().unwrap_or_default(),
                subs: c.limits.subscriptions,
                data: c.limits.data,
                payload: c.limits.payload,
                bearer_token: c.bearer_token,
                proxy_required: c.proxy_required,
                allowed_connection_types: c.allowed_connection_types.clone(),
                issuer_account: c.issuer_account.clone().unwrap_or_default(),
                tags: c.tags.clone(),
                kind: "user".to_owned(),
                version: 2,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_source_string_is_split() {
        let w: WireClaims =
            serde_json::from_str(r#"{"nats":{"src":"10.0.0.0/8, 192.168.1.1/32","type":"user"}}"#)
                .unwrap();
        assert_eq!(
            w.into_user().source_networks,
            ["10.0.0.0/8", "192.168.1.1/32"]
        );
    }

    #[test]
    fn response_defaults_follow_nats_server() {
        let w: WireClaims =
            serde_json::from_str(r#"{"nats":{"resp":{"max":0,"ttl":0},"type":"user"}}"#).unwrap();
        let rp = w.into_user().permissions.resp.unwrap();
        assert_eq!((rp.max, rp.ttl), (0, 0));
        assert_eq!(rp.max_msgs(), Some(1));
        assert_eq!(rp.expires(), Some(Duration::from_secs(120)));
        let w: WireClaims =
            serde_json::from_str(r#"{"nats":{"resp":{"max":-1,"ttl":5000000000},"type":"user"}}"#)
                .unwrap();
        let rp = w.into_user().permissions.resp.unwrap();
        assert_eq!(rp.max_msgs(), None);
        assert_eq!(rp.expires(), Some(Duration::from_secs(5)));
    }

    #[test]
    fn missing_limits_are_zero() {
        let w: WireClaims = serde_json::from_str(r#"{"nats":{"type":"user"}}"#).unwrap();
        assert_eq!(w.into_user().limits, UserLimits::default());
    }
}
