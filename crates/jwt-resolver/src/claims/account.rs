//! Account claims (`nats.type == "account"`; nats-io/jwt `account_claims.go`,
//! `signingkeys.go`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::exports::{Export, Import, Revocations};
use super::signing_keys::SigningKeys;
use super::standard_of;
use super::{
    ClaimKind, ClaimSet, GenericFields, Standard, V1TopLevel, is_false, is_zero, none_if_empty,
};
use crate::permissions::Permissions;

/// The claims of an account JWT, decoded and typed.
///
/// Build one with [`AccountClaims::new`] (limits unlimited and JetStream off, as `nsc` starts);
/// decode one with [`crate::decode_account`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountClaims {
    /// `jti`: the token id (filled in by the encoder).
    pub id: String,
    /// `iat`: when the token was issued (the encoder writes the current time when `None`).
    pub issued_at: Option<SystemTime>,
    /// `iss`: the operator key (identity or signing key) that signed the token.
    pub issuer: String,
    /// `sub`: the account's public key (`A…`).
    pub subject: String,
    /// `name`.
    pub name: Option<String>,
    /// `aud`.
    pub audience: Option<String>,
    /// `exp`: after this second the account is expired.
    pub expires: Option<SystemTime>,
    /// `nbf`: before this second the token is refused.
    pub not_before: Option<SystemTime>,
    /// `nats.imports`.
    pub imports: Vec<Import>,
    /// `nats.exports`.
    pub exports: Vec<Export>,
    /// `nats.limits`.
    pub limits: AccountLimits,
    /// `nats.signing_keys`: keys that may sign users for this account, some with a scope.
    pub signing_keys: SigningKeys,
    /// `nats.revocations`: revoked users (by user key, or `*`).
    pub revocations: Revocations,
    /// `nats.default_permissions`: for users whose JWT sets none.
    pub default_permissions: Permissions,
    /// `nats.mappings`: subject → weighted destinations.
    pub mappings: BTreeMap<String, Vec<WeightedMapping>>,
    /// `nats.authorization`: the auth callout set-up.
    pub authorization: ExternalAuthorization,
    /// `nats.trace`: message tracing.
    pub trace: Option<MsgTrace>,
    /// `nats.cluster_traffic`: `system` or `owner`.
    pub cluster_traffic: Option<String>,
    /// `nats.description`.
    pub description: Option<String>,
    /// `nats.info_url`.
    pub info_url: Option<String>,
    /// `nats.tags` (the encoder lower-cases them).
    pub tags: Vec<String>,
    /// The token's layout: 1 for a version-1 token, 2 otherwise (the encoder writes 2).
    pub version: u8,
}

impl AccountClaims {
    /// Claims for account `subject` (`A…`) with unlimited limits and JetStream disabled
    /// (nats-io/jwt `NewAccountClaims`).
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            limits: AccountLimits::UNLIMITED,
            version: 2,
            ..Self::default()
        }
    }

    /// Whether `issuer` may sign users (or activations) for this account: the account's own
    /// key, or one of its signing keys. (With a signing key the token must also name this
    /// account in `issuer_account`; that is the caller's check.)
    pub fn is_issuer(&self, issuer: &str) -> bool {
        issuer == self.subject || self.signing_keys.contains(issuer)
    }
}

impl ClaimSet for AccountClaims {
    const KIND: ClaimKind = ClaimKind::Account;

    fn standard(&self) -> Standard {
        standard_of!(self)
    }

    fn to_nats(&self) -> Result<Value, serde_json::Error> {
        // nats-io/jwt sorts both lists by subject before encoding.
        let mut imports = self.imports.clone();
        imports.sort_by(|a, b| a.subject.cmp(&b.subject));
        let mut exports = self.exports.clone();
        exports.sort_by(|a, b| a.subject.cmp(&b.subject));
        serde_json::to_value(WireAccount {
            imports,
            exports,
            limits: self.limits.clone(),
            signing_keys: self.signing_keys.clone(),
            revocations: self.revocations.clone(),
            default_permissions: self.default_permissions.clone(),
            mappings: self.mappings.clone(),
            authorization: self.authorization.clone(),
            trace: self.trace.clone(),
            cluster_traffic: self.cluster_traffic.clone().unwrap_or_default(),
            description: self.description.clone().unwrap_or_default(),
            info_url: self.info_url.clone().unwrap_or_default(),
            generic: GenericFields::for_encoding(Self::KIND, &self.tags),
        })
    }

    fn from_parts(
        s: Standard,
        nats: Map<String, Value>,
        v1: V1TopLevel,
    ) -> serde_json::Result<Self> {
        let mut n: WireAccount = if s.version == 1 {
            let old: WireV1Account = serde_json::from_value(Value::Object(nats))?;
            let mut limits = old.limits;
            limits.jetstream = JetStreamLimits::default();
            limits.jetstream_tiers.clear();
            WireAccount {
                imports: old.imports,
                exports: old.exports,
                limits,
                signing_keys: old.signing_keys,
                revocations: old.revocations,
                generic: GenericFields {
                    tags: v1.tags,
                    ..GenericFields::default()
                },
                ..WireAccount::default()
            }
        } else {
            serde_json::from_value(Value::Object(nats))?
        };
        // nats-io/jwt: tiered JetStream limits replace the untiered ones.
        if !n.limits.jetstream_tiers.is_empty() {
            n.limits.jetstream = JetStreamLimits::default();
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
            imports: n.imports,
            exports: n.exports,
            limits: n.limits,
            signing_keys: n.signing_keys,
            revocations: n.revocations,
            default_permissions: n.default_permissions,
            mappings: n.mappings,
            authorization: n.authorization,
            trace: n.trace,
            cluster_traffic: none_if_empty(n.cluster_traffic),
            description: none_if_empty(n.description),
            info_url: none_if_empty(n.info_url),
            tags: n.generic.tags,
            version: s.version,
        })
    }
}

/// `nats.limits` of an account (nats-io/jwt `OperatorLimits`): `-1` is unlimited, and a limit
/// missing from the token is **0**, as nats-server reads it (an account JWT without
/// `limits.conn` admits no connection).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountLimits {
    /// `subs`: most subscriptions across the account.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subs: i64,
    /// `data`: bytes (not enforced by nats-server).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub data: i64,
    /// `payload`: largest message payload.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub payload: i64,
    /// `imports`: most imports (checked when the account JWT is validated).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub imports: i64,
    /// `exports`: most exports (checked when the account JWT is validated).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exports: i64,
    /// `wildcards`: exports may contain wildcards.
    #[serde(default, rename = "wildcards", skip_serializing_if = "is_false")]
    pub wildcard_exports: bool,
    /// `disallow_bearer`: user JWTs may not be bearer tokens.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    /// `conn`: most client connections, cluster-wide.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conn: i64,
    /// `leaf`: most leaf node connections.
    #[serde(default, rename = "leaf", skip_serializing_if = "is_zero")]
    pub leaf_node_conn: i64,
    /// The untiered JetStream limits (`mem_storage`, `disk_storage`, …, inline).
    #[serde(flatten)]
    pub jetstream: JetStreamLimits,
    /// `tiered_limits`: JetStream limits per tier (e.g. `R1`, `R3`); when present they replace
    /// the untiered ones.
    #[serde(
        default,
        rename = "tiered_limits",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub jetstream_tiers: BTreeMap<String, JetStreamLimits>,
}

impl AccountLimits {
    /// What `nsc` writes for a new account: everything unlimited, wildcard exports allowed,
    /// JetStream off.
    pub const UNLIMITED: Self = Self {
        subs: -1,
        data: -1,
        payload: -1,
        imports: -1,
        exports: -1,
        wildcard_exports: true,
        disallow_bearer: false,
        conn: -1,
        leaf_node_conn: -1,
        jetstream: JetStreamLimits::DISABLED,
        jetstream_tiers: BTreeMap::new(),
    };

    /// Whether JetStream is enabled: some (tier's) memory or disk storage is not 0.
    pub fn is_jetstream_enabled(&self) -> bool {
        let on = |l: &JetStreamLimits| l.mem_storage != 0 || l.disk_storage != 0;
        if self.jetstream_tiers.is_empty() {
            on(&self.jetstream)
        } else {
            self.jetstream_tiers.values().any(on)
        }
    }
}

/// JetStream limits of an account or of one tier; `-1` is unlimited, and 0 storage disables
/// JetStream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JetStreamLimits {
    /// `mem_storage`: bytes in memory across all streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    /// `disk_storage`: bytes on disk across all streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    /// `streams`: most streams.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub streams: i64,
    /// `consumer`: most consumers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consumer: i64,
    /// `max_ack_pending`: most pending acks per consumer.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    /// `mem_max_stream_bytes`: largest memory stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    /// `disk_max_stream_bytes`: largest disk stream.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    /// `max_bytes_required`: streams must set a byte limit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
}

impl JetStreamLimits {
    /// All zero: JetStream off.
    pub const DISABLED: Self = Self {
        mem_storage: 0,
        disk_storage: 0,
        streams: 0,
        consumer: 0,
        max_ack_pending: 0,
        mem_max_stream_bytes: 0,
        disk_max_stream_bytes: 0,
        max_bytes_required: false,
    };
}

/// One destination of a subject mapping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WeightedMapping {
    /// `subject` (always written).
    #[serde(default)]
    pub subject: String,
    /// `weight` in percent; 0 means 100 (see [`weight`](Self::weight)).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub weight: u8,
    /// `cluster`: only in this cluster.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

impl WeightedMapping {
    /// The weight in percent, 0 read as 100.
    pub fn weight(&self) -> u8 {
        if self.weight == 0 { 100 } else { self.weight }
    }
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

/// `authorization`: the account's auth callout (nats-io/jwt `ExternalAuthorization`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalAuthorization {
    /// `auth_users`: user keys that bypass the callout (the service's own connections).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_users: Vec<String>,
    /// `allowed_accounts`: accounts the service may place users in (`*` = any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_accounts: Vec<String>,
    /// `xkey`: the service's curve key (`X…`); requests are then encrypted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub xkey: String,
}

impl ExternalAuthorization {
    /// Whether the callout is on (it has `auth_users`).
    pub fn is_enabled(&self) -> bool {
        !self.auth_users.is_empty()
    }
}

/// `trace`: where message traces go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MsgTrace {
    /// `dest`: the subject traces are published to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dest: String,
    /// `sampling`: percent of traced messages, 1–100 (0 means 100).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sampling: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WireAccount {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    imports: Vec<Import>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exports: Vec<Export>,
    #[serde(default)]
    limits: AccountLimits,
    #[serde(default, skip_serializing_if = "SigningKeys::is_empty")]
    signing_keys: SigningKeys,
    #[serde(default, skip_serializing_if = "Revocations::is_empty")]
    revocations: Revocations,
    #[serde(default)]
    default_permissions: Permissions,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    mappings: BTreeMap<String, Vec<WeightedMapping>>,
    #[serde(default)]
    authorization: ExternalAuthorization,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace: Option<MsgTrace>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    cluster_traffic: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    description: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    info_url: String,
    #[serde(flatten)]
    generic: GenericFields,
}

/// A version-1 account's `nats`: no JetStream, default permissions, mappings or callout;
/// signing keys are plain.
#[derive(Debug, Default, Deserialize)]
struct WireV1Account {
    #[serde(default)]
    imports: Vec<Import>,
    #[serde(default)]
    exports: Vec<Export>,
    #[serde(default)]
    limits: AccountLimits,
    #[serde(default)]
    signing_keys: SigningKeys,
    #[serde(default)]
    revocations: Revocations,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(nats: &str) -> AccountClaims {
        let Value::Object(nats) = serde_json::from_str(nats).unwrap() else {
            panic!("not an object")
        };
        let s = Standard {
            version: 2,
            ..Standard::default()
        };
        AccountClaims::from_parts(s, nats, V1TopLevel::default()).unwrap()
    }

    #[test]
    fn missing_limits_are_zero_and_tiers_replace_untiered() {
        let a = account("{}");
        assert_eq!(a.limits, AccountLimits::default());
        let a = account(
            r#"{"limits":{"conn":5,"mem_storage":1,"tiered_limits":{"R1":{"disk_storage":9}}}}"#,
        );
        assert_eq!(a.limits.conn, 5);
        assert_eq!(a.limits.jetstream, JetStreamLimits::DISABLED);
        assert_eq!(a.limits.jetstream_tiers["R1"].disk_storage, 9);
        assert!(a.limits.is_jetstream_enabled());
    }

    #[test]
    fn mappings_default_weight_is_100() {
        let a = account(r#"{"mappings":{"a":[{"subject":"b"},{"subject":"c","weight":20}]}}"#);
        let m = &a.mappings["a"];
        assert_eq!((m[0].weight(), m[1].weight()), (100, 20));
    }
}
