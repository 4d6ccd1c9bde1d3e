//! The permissions a NATS JWT carries (`nats.pub`, `nats.sub`, `nats.resp`), laid out exactly
//! as nats-server and `nsc` write them.
//!
//! These types only hold what the token says; what a missing list or a zero means when a
//! client is checked is the broker's business (rnats-auth compiles them).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `pub`, `sub` and `resp` of a user JWT (Go's `jwt.Permissions`).
///
/// ```
/// use rnats_jwt::{Permission, Permissions};
///
/// let p: Permissions = serde_json::from_str(
///     r#"{"pub":{"allow":["orders.>"]},"sub":{"deny":["audit.>"]},"resp":{"max":1,"ttl":0}}"#,
/// )?;
/// assert_eq!(p.publish, Permission::allow(["orders.>"]));
/// assert_eq!(p.subscribe.deny, ["audit.>"]);
/// assert_eq!(p.resp.and_then(|r| r.max_msgs()), Some(1));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Permissions {
    /// `pub`: subjects the user may publish to.
    #[serde(default, rename = "pub", skip_serializing_if = "Permission::is_empty")]
    pub publish: Permission,
    /// `sub`: subjects the user may subscribe to (entries may be `"subject queue"`).
    #[serde(default, rename = "sub", skip_serializing_if = "Permission::is_empty")]
    pub subscribe: Permission,
    /// `resp`: the right to answer requests received; `None` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
}

impl Permissions {
    /// Whether the token sets no permission at all (no lists and no `resp`): nats-server then
    /// applies the account's default permissions.
    pub fn is_empty(&self) -> bool {
        self.publish.is_empty() && self.subscribe.is_empty() && self.resp.is_none()
    }
}

/// An `allow` and a `deny` list of subjects (Go's `jwt.Permission`). Both empty: the token
/// restricts nothing in this direction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Permission {
    /// `allow`: when not empty, only these subjects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// `deny`: never these subjects (deny wins over allow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl Permission {
    /// Lists of allowed and denied subjects.
    pub fn new(allow: Vec<String>, deny: Vec<String>) -> Self {
        Self { allow, deny }
    }

    /// Only an allow list.
    pub fn allow<S: Into<String>>(subjects: impl IntoIterator<Item = S>) -> Self {
        Self::new(subjects.into_iter().map(Into::into).collect(), Vec::new())
    }

    /// Whether both lists are empty.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

/// `resp` (Go's `jwt.ResponsePermission`): how many replies per received request, for how
/// long. The raw values are kept as written; [`max_msgs`](Self::max_msgs) and
/// [`expires`](Self::expires) apply nats-server's reading of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResponsePermission {
    /// `max`: replies per request; negative is unlimited, 0 means the default (1).
    #[serde(default)]
    pub max: i64,
    /// `ttl` in **nanoseconds** (Go's `time.Duration`); negative is unlimited, 0 means the
    /// default (2 minutes).
    #[serde(default)]
    pub ttl: i64,
}

impl ResponsePermission {
    /// nats-server's reply window when `ttl` is 0.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

    /// `max` replies within `ttl`; `None` is unlimited for either.
    pub fn new(max: Option<u64>, ttl: Option<Duration>) -> Self {
        Self {
            max: max.map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX)),
            ttl: ttl.map_or(-1, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        }
    }

    /// Replies allowed per request: `None` is unlimited; a `max` of 0 is 1.
    pub fn max_msgs(&self) -> Option<u64> {
        match self.max {
            m if m < 0 => None,
            0 => Some(1),
            m => Some(m.unsigned_abs()),
        }
    }

    /// How long the right to reply lasts: `None` is unlimited; a `ttl` of 0 is
    /// [`DEFAULT_TTL`](Self::DEFAULT_TTL).
    pub fn expires(&self) -> Option<Duration> {
        match self.ttl {
            t if t < 0 => None,
            0 => Some(Self::DEFAULT_TTL),
            t => Some(Duration::from_nanos(t.unsigned_abs())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_lists_are_left_out() {
        let p = Permissions {
            publish: Permission::allow(["a"]),
            ..Permissions::default()
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"pub":{"allow":["a"]}}"#
        );
        // nsc writes empty objects; they read as empty.
        let q: Permissions = serde_json::from_str(r#"{"pub":{},"sub":{}}"#).unwrap();
        assert!(q.is_empty());
    }

    #[test]
    fn response_values_roundtrip() {
        let r = ResponsePermission::new(Some(3), Some(Duration::from_secs(5)));
        assert_eq!((r.max, r.ttl), (3, 5_000_000_000));
        assert_eq!(r.max_msgs(), Some(3));
        assert_eq!(r.expires(), Some(Duration::from_secs(5)));
        let u = ResponsePermission::new(None, None);
        assert_eq!((u.max_msgs(), u.expires()), (None, None));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"max":3,"ttl":5000000000}"#
        );
    }
}
