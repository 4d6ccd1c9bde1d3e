//! What accounts share: imports, exports, and the revocation lists both accounts and exports
//! carry (nats-io/jwt `imports.go`, `exports.go`, `revocation_list.go`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{is_false, is_zero, is_zero_u64, to_unix};

/// Whether an import or export is a stream or a service (`type`; `kind` in an activation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExportType {
    /// Not set (omitted on the wire; nats-server refuses such an import or export).
    #[default]
    Unknown,
    /// `stream`: messages flow from the exporter to importers.
    Stream,
    /// `service`: importers send requests the exporter answers.
    Service,
}

impl ExportType {
    /// The name on the wire (`unknown` is never written).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Stream => "stream",
            Self::Service => "service",
        }
    }

    pub(crate) fn is_unknown(&self) -> bool {
        *self == Self::Unknown
    }
}

impl Serialize for ExportType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Unknown => Err(serde::ser::Error::custom("unknown export type")),
            _ => s.serialize_str(self.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for ExportType {
    /// Only `stream` and `service`: nats-io/jwt refuses the whole token otherwise.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "stream" => Ok(Self::Stream),
            "service" => Ok(Self::Service),
            _ => Err(serde::de::Error::custom(format_args!(
                "unknown export type {:?}",
                crate::error::clip(&s)
            ))),
        }
    }
}

/// A revocation list (`revocations`): public key (or `*` for all) → unix seconds; tokens
/// issued at or before that second are revoked.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Revocations(pub BTreeMap<String, i64>);

impl Revocations {
    /// The key that revokes every key.
    pub const ALL: &'static str = "*";

    /// Revokes what `key` was issued up to `at`; an existing later revocation is kept
    /// (nats-io/jwt `Revoke`: revocations only move back in time).
    pub fn revoke(&mut self, key: impl Into<String>, at: SystemTime) {
        let at = to_unix(Some(at));
        let entry = self.0.entry(key.into()).or_insert(at);
        if *entry < at {
            *entry = at;
        }
    }

    /// Whether a token for `key` issued at `issued_at` is revoked: an entry for the key or for
    /// `*` at or after that second (nats-io/jwt `IsRevoked`).
    pub fn is_revoked(&self, key: &str, issued_at: SystemTime) -> bool {
        let iat = to_unix(Some(issued_at));
        [Self::ALL, key]
            .iter()
            .any(|k| self.0.get(*k).is_some_and(|ts| *ts >= iat))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One entry of an account's `imports` (nats-io/jwt `Import`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Import {
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `subject`: as the publisher sees it (the exporter for a stream, the importer for a
    /// service).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `account`: the exporting account's public key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account: String,
    /// `token`: an activation JWT, for an export that requires one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `to`: deprecated form of `local_subject`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    /// `local_subject`: the subject inside the importing account (may use `$1`… references).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    /// `type`.
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "ExportType::is_unknown"
    )]
    pub kind: ExportType,
    /// `share`: share the importer's connection info with a service for latency tracking.
    #[serde(default, skip_serializing_if = "is_false")]
    pub share: bool,
    /// `allow_trace`: message traces may cross this (stream) import.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}

/// One entry of an account's `exports` (nats-io/jwt `Export`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Export {
    /// `name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `subject` (may contain wildcards).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `type`.
    #[serde(
        default,
        rename = "type",
        skip_serializing_if = "ExportType::is_unknown"
    )]
    pub kind: ExportType,
    /// `token_req`: importers need an activation token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub token_req: bool,
    /// `revocations`: revoked activations, by importing account.
    #[serde(default, skip_serializing_if = "Revocations::is_empty")]
    pub revocations: Revocations,
    /// `response_type` of a service; `None` is a single response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<ResponseType>,
    /// `response_threshold` in **nanoseconds** (Go's `time.Duration`); 0 = the server's default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    /// `service_latency`: sample and publish service latency.
    #[serde(
        default,
        rename = "service_latency",
        skip_serializing_if = "Option::is_none"
    )]
    pub latency: Option<ServiceLatency>,
    /// `account_token_position`: which token of the subject (1-based) must be the importing
    /// account's key; 0 = none.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub account_token_position: u64,
    /// `advertise`: list the export publicly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub advertise: bool,
    /// `allow_trace`: message traces may cross this (service) export.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    /// `description`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `info_url`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub info_url: String,
}

impl Export {
    /// `response_threshold` as a duration, if positive.
    pub fn response_threshold(&self) -> Option<Duration> {
        u64::try_from(self.response_threshold)
            .ok()
            .filter(|n| *n > 0)
            .map(Duration::from_nanos)
    }
}

/// A service's `response_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ResponseType {
    /// `Singleton`: one reply (the default).
    Singleton,
    /// `Stream`: any number of replies.
    Stream,
    /// `Chunked`: one reply in several messages.
    Chunked,
    /// Anything else, kept as written (nats-server refuses the account when validating it).
    Other(String),
}

impl From<String> for ResponseType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Singleton" => Self::Singleton,
            "Stream" => Self::Stream,
            "Chunked" => Self::Chunked,
            _ => Self::Other(s),
        }
    }
}

impl From<ResponseType> for String {
    fn from(r: ResponseType) -> Self {
        match r {
            ResponseType::Singleton => "Singleton".to_owned(),
            ResponseType::Stream => "Stream".to_owned(),
            ResponseType::Chunked => "Chunked".to_owned(),
            ResponseType::Other(s) => s,
        }
    }
}

/// `service_latency`: both fields are always written.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceLatency {
    /// `sampling`.
    #[serde(default)]
    pub sampling: LatencySampling,
    /// `results`: where latency reports are published.
    #[serde(default)]
    pub results: String,
}

/// `service_latency.sampling`: a percentage, or `"headers"` (sample when the request carries
/// tracing headers; also what 0 means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencySampling {
    /// `"headers"` (or 0).
    #[default]
    Headers,
    /// 1–100 percent of requests (other values are kept as read, but do not encode).
    Percent(i64),
}

impl Serialize for LatencySampling {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Headers => s.serialize_str("headers"),
            Self::Percent(p) if (1..=100).contains(&p) => s.serialize_i64(p),
            Self::Percent(_) => Err(serde::ser::Error::custom("unknown sampling rate")),
        }
    }
}

impl<'de> Deserialize<'de> for LatencySampling {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(0) => Ok(Self::Headers),
            Raw::Number(n) => Ok(Self::Percent(n)),
            Raw::Text(t) if t.eq_ignore_ascii_case("headers") => Ok(Self::Headers),
            Raw::Text(_) => Err(serde::de::Error::custom("unknown sampling rate")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn export_types_are_strict() {
        let e: Export = serde_json::from_str(r#"{"subject":"a","type":"service"}"#).unwrap();
        assert_eq!(e.kind, ExportType::Service);
        assert!(serde_json::from_str::<Export>(r#"{"type":"queue"}"#).is_err());
        let i: Import = serde_json::from_str(r#"{"subject":"a"}"#).unwrap();
        assert_eq!(i.kind, ExportType::Unknown);
        assert_eq!(serde_json::to_string(&i).unwrap(), r#"{"subject":"a"}"#);
    }

    #[test]
    fn sampling_reads_numbers_and_headers() {
        let l: ServiceLatency =
            serde_json::from_str(r#"{"sampling":"Headers","results":"r"}"#).unwrap();
        assert_eq!(l.sampling, LatencySampling::Headers);
        let l: ServiceLatency = serde_json::from_str(r#"{"sampling":50,"results":"r"}"#).unwrap();
        assert_eq!(l.sampling, LatencySampling::Percent(50));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"sampling":50,"results":"r"}"#
        );
        let l: ServiceLatency = serde_json::from_str(r#"{"sampling":0}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"sampling":"headers","results":""}"#
        );
        let bad = ServiceLatency {
            sampling: LatencySampling::Percent(101),
            results: String::new(),
        };
        assert!(serde_json::to_string(&bad).is_err());
    }

    #[test]
    fn response_types_keep_unknown_values() {
        let e: Export = serde_json::from_str(r#"{"response_type":"Stream"}"#).unwrap();
        assert_eq!(e.response_type, Some(ResponseType::Stream));
        let e: Export = serde_json::from_str(r#"{"response_type":"Many"}"#).unwrap();
        assert_eq!(e.response_type, Some(ResponseType::Other("Many".into())));
    }

    #[test]
    fn revocation_follows_nats() {
        let t = |s| UNIX_EPOCH + Duration::from_secs(s);
        let mut r = Revocations::default();
        r.revoke("U1", t(100));
        r.revoke("U1", t(50)); // never moves back
        assert!(r.is_revoked("U1", t(100)));
        assert!(!r.is_revoked("U1", t(101)));
        assert!(!r.is_revoked("U2", t(1)));
        r.revoke(Revocations::ALL, t(10));
        assert!(r.is_revoked("U2", t(10)));
        assert!(!r.is_revoked("U2", t(11)));
    }
}
