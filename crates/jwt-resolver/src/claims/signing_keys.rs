//! An account's `signing_keys` (nats-io/jwt `signingkeys.go`): plain keys, and keys scoped to
//! issuing users with a fixed template.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::user::{UserPermissionLimits, WirePermissionLimits};

/// An account's `signing_keys`: plain keys, and keys with a user scope. On the wire an array
/// of key strings and `{"kind":"user_scope",…}` objects, sorted by key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SigningKeys(BTreeMap<String, Option<UserScope>>);

impl SigningKeys {
    /// Adds an unscoped signing key (replacing a scope it had).
    pub fn add(&mut self, key: impl Into<String>) {
        self.0.insert(key.into(), None);
    }

    /// Adds a scoped signing key (replacing what the key had).
    pub fn add_scoped(&mut self, scope: UserScope) {
        self.0.insert(scope.key.clone(), Some(scope));
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    /// Whether `key` is one of the signing keys, scoped or not.
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The scope of `key`: `None` if it is not a signing key, `Some(None)` if it is unscoped.
    pub fn get(&self, key: &str) -> Option<Option<&UserScope>> {
        self.0.get(key).map(Option::as_ref)
    }

    /// Every key and its scope, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&UserScope>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_ref()))
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A signing key limited to issuing users with fixed permissions (`kind: "user_scope"`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserScope {
    /// `key`: the signing key (`A…`).
    pub key: String,
    /// `role`: a name for the scope.
    pub role: String,
    /// `template`: the permissions and limits every user it signs gets (limits missing from
    /// the template are unlimited, as nats-io/jwt reads them).
    pub template: UserPermissionLimits,
    /// `description`.
    pub description: String,
}

#[derive(Serialize)]
struct WireScope<'a> {
    kind: &'static str,
    key: &'a str,
    role: &'a str,
    template: WirePermissionLimits,
    description: &'a str,
}

#[derive(Deserialize)]
struct WireScopeIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    template: Option<Value>,
    #[serde(default)]
    description: String,
}

const USER_SCOPE: &str = "user_scope";

impl Serialize for SigningKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, scope) in &self.0 {
            match scope {
                None => seq.serialize_element(key)?,
                Some(us) => seq.serialize_element(&WireScope {
                    kind: USER_SCOPE,
                    key,
                    role: &us.role,
                    template: WirePermissionLimits::from(&us.template),
                    description: &us.description,
                })?,
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SigningKeys {
    /// Strings are plain keys, `user_scope` objects scoped keys; another scope kind refuses the
    /// token, and other values are skipped (all as nats-io/jwt).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut keys = BTreeMap::new();
        for item in Vec::<Value>::deserialize(d)? {
            match item {
                Value::String(k) => {
                    keys.insert(k, None);
                }
                Value::Object(mut o) => {
                    if o.get("kind").and_then(Value::as_str) != Some(USER_SCOPE) {
                        return Err(D::Error::custom("unknown signing key scope"));
                    }
                    o.remove("kind");
                    let w: WireScopeIn =
                        serde_json::from_value(Value::Object(o)).map_err(D::Error::custom)?;
                    let template = match w.template {
                        Some(t) => WirePermissionLimits::unlimited_from(t),
                        None => Ok(WirePermissionLimits::unlimited()),
                    }
                    .map_err(D::Error::custom)?;
                    let scope = UserScope {
                        key: w.key,
                        role: w.role,
                        template: template.into(),
                        description: w.description,
                    };
                    keys.insert(scope.key.clone(), Some(scope));
                }
                _ => {}
            }
        }
        Ok(Self(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_read_plain_and_scoped() {
        let keys: SigningKeys = serde_json::from_str(
            r#"["AK2",{"kind":"user_scope","key":"AK1","role":"dev",
                "template":{"pub":{"allow":["a"]},"subs":10},"description":"d"}, 7]"#,
        )
        .unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.get("AK2"), Some(None));
        let scope = keys.get("AK1").unwrap().unwrap();
        assert_eq!(scope.role, "dev");
        assert_eq!(scope.template.limits.subscriptions, 10);
        // Missing template limits are unlimited.
        assert_eq!(scope.template.limits.payload, -1);
        assert!(keys.contains("AK1") && !keys.contains("AK3"));
        // Written back sorted, plain keys as strings.
        let json = serde_json::to_value(&keys).unwrap();
        assert_eq!(json[0]["kind"], "user_scope");
        assert_eq!(json[0]["template"]["subs"], 10);
        assert_eq!(json[1], "AK2");
    }

    #[test]
    fn unknown_scope_kind_is_refused() {
        let r: Result<SigningKeys, _> = serde_json::from_str(r#"[{"kind":"other","key":"A"}]"#);
        assert!(r.is_err());
    }
}
