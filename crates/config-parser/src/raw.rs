//! The file's shape as serde sees it, then checked and turned into the public types.
//!
//! The raw structs mirror nats-server's keys (aliases included) and keep positions
//! ([`Spanned`]) where a later check may need to point at a value.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::auth::{
    AccountConfig, AuthCalloutConfig, AuthorizationConfig, ExportConfig, ExportKind, ImportConfig,
    LatencyConfig, LatencySampling, PermissionsConfig, ResponsePermission, ResponseType,
    SubjectPermission, UserConfig,
};
use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::nkey::{NkeyRole, is_valid_public};
use crate::origins::Origins;
use crate::tls::{CertKeyPair, HandshakeFirst, TlsConfig};
use crate::units::{go_format, non_negative, parse_go_duration, parse_zulu};
use crate::value::Pos;

mod accounts;

pub(crate) use accounts::RawAccounts;

// ----- small value shapes -----

/// A scalar of any type, for options that accept several (`timeout: 2` or `timeout: "2s"`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, string or boolean")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string or a list of strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct StringList(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StringList(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

fn unsupported(pos: &Pos, what: &str) -> ConfigError {
    ConfigError::new(
        ErrorKind::Unsupported,
        pos,
        format!("\"{what}\" is not supported yet by rnats"),
    )
}

/// A duration given as a Go duration string, or (with a warning) a number of seconds.
pub(crate) fn duration_or_seconds(
    key: &str,
    v: &Spanned<Scalar>,
    warnings: &mut Vec<String>,
) -> Result<Duration, ConfigError> {
    match &v.value {
        Scalar::Str(s) => {
            let nanos = parse_go_duration(s).map_err(|m| invalid(&v.pos, m))?;
            non_negative(nanos)
                .ok_or_else(|| invalid(&v.pos, format!("{key} must not be negative")))
        }
        Scalar::Int(secs) => {
            warnings.push(format!(
                "{}: invalid use of field \"{key}\": {key} should be converted to a duration",
                v.pos
            ));
            u64::try_from(*secs)
                .map(Duration::from_secs)
                .map_err(|_| invalid(&v.pos, format!("{key} must not be negative")))
        }
        _ => Err(invalid(
            &v.pos,
            format!("{key} must be a duration such as \"2m\" or a number of seconds"),
        )),
    }
}

/// A duration that must be a string (`lame_duck_duration`, `expires`, …).
pub(crate) fn duration_string(key: &str, v: &Spanned<Scalar>) -> Result<i128, ConfigError> {
    match &v.value {
        Scalar::Str(s) => parse_go_duration(s).map_err(|m| invalid(&v.pos, m)),
        _ => Err(invalid(
            &v.pos,
            format!("{key} must be a duration string such as \"30s\""),
        )),
    }
}

/// Seconds as a float or integer, or a duration string (`authorization.timeout`, `tls.timeout`).
pub(crate) fn seconds_or_duration(key: &str, v: &Spanned<Scalar>) -> Result<Duration, ConfigError> {
    let secs = match &v.value {
        Scalar::Int(i) => *i as f64,
        Scalar::Float(x) => *x,
        Scalar::Str(s) => {
            let nanos = parse_go_duration(s).map_err(|m| invalid(&v.pos, m))?;
            return non_negative(nanos)
                .ok_or_else(|| invalid(&v.pos, format!("{key} must not be negative")));
        }
        Scalar::Bool(_) => {
            return Err(invalid(
                &v.pos,
                format!("{key} must be a number of seconds"),
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| {
        invalid(
            &v.pos,
            format!("{key} must be a non-negative number of seconds"),
        )
    })
}

// ----- subjects -----

/// nats-server's subject check for permissions, exports and imports (non-empty tokens, no
/// blanks, `>` only last): the check the server applies to SUB, from `rnats-sublist`.
fn valid_subject(s: &str) -> bool {
    rnats_sublist::validate_subject(s.as_bytes()).is_ok()
}

fn check_publish_subjects(list: &[String], pos: &Pos) -> Result<(), ConfigError> {
    for s in list {
        if !valid_subject(s) {
            return Err(invalid(
                pos,
                format!("subject \"{s}\" is not a valid subject"),
            ));
        }
    }
    Ok(())
}

/// Subscribe entries may name a queue: `"subject queue"`.
fn check_subscribe_subjects(list: &[String], pos: &Pos) -> Result<(), ConfigError> {
    for s in list {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let ok = match parts.as_slice() {
            [subject] => valid_subject(subject),
            [subject, queue] => valid_subject(subject) && !queue.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                pos,
                format!("subject \"{s}\" is not a valid subject"),
            ));
        }
    }
    Ok(())
}

// ----- permissions -----

/// `publish`/`subscribe`: a subject, a list (allow list), or `{allow, deny}`.
#[derive(Debug, Default)]
pub(crate) struct RawSubjectPermission {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl<'de> Deserialize<'de> for RawSubjectPermission {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawSubjectPermission;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a subject, a list of subjects, or a map with allow and deny")
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawSubjectPermission {
                    allow: vec![v.to_owned()],
                    deny: Vec::new(),
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let StringList(allow) =
                    StringList::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawSubjectPermission {
                    allow,
                    deny: Vec::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = RawSubjectPermission::default();
                while let Some(k) = map.next_key::<String>()? {
                    match k.to_ascii_lowercase().as_str() {
                        "allow" => out.allow = map.next_value::<StringList>()?.0,
                        "deny" => out.deny = map.next_value::<StringList>()?.0,
                        _ => {
                            return Err(de::Error::custom(format!(
                                "Unknown field name \"{k}\" parsing subject permissions, only 'allow' or 'deny' are permitted"
                            )));
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V)
    }
}

/// `allow_responses`: `true`/`false` or `{max, expires}`.
#[derive(Debug)]
pub(crate) enum RawResponses {
    Flag(bool),
    Limits {
        max: Option<i64>,
        expires: Option<Spanned<Scalar>>,
    },
}

impl<'de> Deserialize<'de> for RawResponses {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawResponses;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or a map with max and expires")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(RawResponses::Flag(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut max = None;
                let mut expires = None;
                while let Some(k) = map.next_key::<String>()? {
                    match k.to_ascii_lowercase().as_str() {
                        "max" | "max_msgs" | "max_messages" | "max_responses" => {
                            max = Some(map.next_value::<i64>()?);
                        }
                        "expires" | "expiration" | "ttl" => expires = Some(map.next_value()?),
                        _ => {
                            return Err(de::Error::custom(format!(
                                "unknown field \"{k}\" in allow_responses, expected max or expires"
                            )));
                        }
                    }
                }
                Ok(RawResponses::Limits { max, expires })
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPermissions {
    #[serde(alias = "pub", alias = "import")]
    publish: Option<Spanned<RawSubjectPermission>>,
    #[serde(alias = "sub", alias = "export")]
    subscribe: Option<Spanned<RawSubjectPermission>>,
    #[serde(alias = "publish_allow_responses")]
    allow_responses: Option<Spanned<RawResponses>>,
}

impl RawPermissions {
    pub(crate) fn build(self) -> Result<PermissionsConfig, ConfigError> {
        let publish = match self.publish {
            Some(p) => {
                check_publish_subjects(&p.value.allow, &p.pos)?;
                check_publish_subjects(&p.value.deny, &p.pos)?;
                Some(SubjectPermission::new(p.value.allow, p.value.deny))
            }
            None => None,
        };
        let subscribe = match self.subscribe {
            Some(p) => {
                check_subscribe_subjects(&p.value.allow, &p.pos)?;
                check_subscribe_subjects(&p.value.deny, &p.pos)?;
                Some(SubjectPermission::new(p.value.allow, p.value.deny))
            }
            None => None,
        };
        let allow_responses = match self.allow_responses {
            None
            | Some(Spanned {
                value: RawResponses::Flag(false),
                ..
            }) => None,
            Some(Spanned {
                value: RawResponses::Flag(true),
                ..
            }) => Some(ResponsePermission::default()),
            Some(Spanned {
                value: RawResponses::Limits { max, expires },
                ..
            }) => {
                let mut rp = ResponsePermission::default();
                match max {
                    Some(n) if n < 0 => rp.max_msgs = None,
                    Some(n) if n > 0 => rp.max_msgs = u64::try_from(n).ok(),
                    _ => {}
                }
                if let Some(e) = expires {
                    let nanos = duration_string("expires", &e)?;
                    if nanos < 0 {
                        rp.expires = None;
                    } else if nanos > 0 {
                        rp.expires = non_negative(nanos);
                    }
                }
                Some(rp)
            }
        };
        Ok(PermissionsConfig {
            publish,
            subscribe,
            allow_responses,
        })
    }
}

// ----- users -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    #[serde(alias = "username")]
    user: Option<String>,
    #[serde(alias = "pass")]
    password: Option<Spanned<String>>,
    nkey: Option<Spanned<String>>,
    #[serde(alias = "permission", alias = "authorization")]
    permissions: Option<RawPermissions>,
    #[serde(alias = "connection_types", alias = "clients")]
    allowed_connection_types: Option<Spanned<StringList>>,
    account: Option<Spanned<String>>,
    connection_deadline: Option<Spanned<Scalar>>,
    proxy_required: Option<bool>,
    #[serde(alias = "max_conn")]
    max_connections: Option<Spanned<Scalar>>,
}

const CONNECTION_TYPES: &[&str] = &[
    "STANDARD",
    "WEBSOCKET",
    "LEAFNODE",
    "LEAFNODE_WS",
    "MQTT",
    "MQTT_WS",
    "IN_PROCESS",
];

fn build_user(
    raw: Spanned<RawUser>,
    account: Option<&str>,
    origins: &mut Origins,
) -> Result<(UserConfig, Pos, Option<Pos>), ConfigError> {
    let pos = raw.pos;
    let r = raw.value;
    if let Some(nkey) = &r.nkey {
        if r.user.is_some() || r.password.is_some() {
            return Err(invalid(
                &pos,
                "Nkey users do not take usernames or passwords",
            ));
        }
        if !is_valid_public(&nkey.value, NkeyRole::User) {
            return Err(invalid(&nkey.pos, "Not a valid public nkey for a user"));
        }
    } else if r.user.is_none() {
        return Err(invalid(&pos, "User entry requires a user"));
    }
    let mut types = Vec::new();
    if let Some(t) = r.allowed_connection_types {
        let upper: Vec<String> = t.value.0.iter().map(|s| s.to_ascii_uppercase()).collect();
        let bad: Vec<String> = upper
            .iter()
            .filter(|s| !CONNECTION_TYPES.contains(&s.as_str()))
            .map(|s| format!("\"{s}\""))
            .collect();
        if !bad.is_empty() {
            return Err(invalid(
                &t.pos,
                format!("invalid connection types [{}]", bad.join(" ")),
            ));
        }
        types = upper;
    }
    let deadline = match r.connection_deadline {
        Some(d) => match &d.value {
            Scalar::Str(s) => Some(parse_zulu(s).map_err(|m| invalid(&d.pos, m))?),
            _ => {
                return Err(invalid(
                    &d.pos,
                    "connection_deadline must be a UTC timestamp such as 2026-12-31T23:59:59Z",
                ));
            }
        },
        None => None,
    };
    let max_connections = match r.max_connections {
        Some(m) => match m.value {
            Scalar::Int(n) if n > 0 => Some(u32::try_from(n).map_err(|_| {
                invalid(
                    &m.pos,
                    "max_connections of a user is too big (at most 4294967295)",
                )
            })?),
            _ => {
                return Err(invalid(
                    &m.pos,
                    "max_connections of a user must be a positive integer",
                ));
            }
        },
        None => None,
    };
    let account_pos = r.account.as_ref().map(|a| a.pos.clone());
    let account = match (account, r.account) {
        (Some(a), Some(explicit)) if explicit.value != a => {
            return Err(invalid(
                &explicit.pos,
                format!(
                    "user in account \"{a}\" names another account \"{}\"",
                    explicit.value
                ),
            ));
        }
        (Some(a), _) => Some(a.to_owned()),
        (None, explicit) => explicit.map(|e| e.value),
    };
    if let (Some(name), Some(p)) = (&r.user, &r.password) {
        origins.record(format!("password of {name}"), p.pos.clone());
    }
    let user = UserConfig {
        user: r.user,
        password: r.password.map(|p| p.value),
        nkey: r.nkey.map(|n| n.value),
        permissions: r.permissions.map(RawPermissions::build).transpose()?,
        allowed_connection_types: types,
        account,
        connection_deadline: deadline,
        proxy_required: r.proxy_required.unwrap_or(false),
        max_connections,
    };
    Ok((user, pos, account_pos))
}

// ----- authorization -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    token: Option<Spanned<String>>,
    #[serde(alias = "username")]
    user: Option<String>,
    #[serde(alias = "pass")]
    password: Option<Spanned<String>>,
    users: Option<Vec<Spanned<RawUser>>>,
    timeout: Option<Spanned<Scalar>>,
    #[serde(alias = "default_permission", alias = "permissions")]
    default_permissions: Option<RawPermissions>,
    proxy_required: Option<Spanned<bool>>,
    #[serde(alias = "auth_hook")]
    auth_callout: Option<Spanned<RawAuthCallout>>,
    oidc: Option<Vec<Spanned<crate::oidc::RawOidc>>>,
}

/// `auth_callout { … }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthCallout {
    issuer: Option<Spanned<String>>,
    #[serde(alias = "acc")]
    account: Option<String>,
    #[serde(alias = "users")]
    auth_users: Option<Vec<String>>,
    #[serde(alias = "key")]
    xkey: Option<Spanned<String>>,
    allowed_accounts: Option<Vec<Spanned<String>>>,
    local_first: Option<bool>,
}

impl RawAuthCallout {
    /// nats-server's `parseAuthCallout` checks; `allowed_accounts` are left in
    /// `account_refs` to be checked against the accounts.
    fn build(
        self,
        pos: &Pos,
        allowed: &mut Vec<UserAccountRef>,
    ) -> Result<AuthCalloutConfig, ConfigError> {
        if let Some(i) = &self.issuer
            && !is_valid_public(&i.value, NkeyRole::Account)
        {
            return Err(invalid(
                &i.pos,
                format!(
                    "Expected callout user to be a valid public account nkey, got {:?}",
                    i.value
                ),
            ));
        }
        if let Some(x) = &self.xkey
            && nkeys::XKey::from_public_key(&x.value).is_err()
        {
            return Err(invalid(
                &x.pos,
                format!(
                    "Expected callout xkey to be a valid public xkey, got {:?}",
                    x.value
                ),
            ));
        }
        let Some(issuer) = self.issuer.map(|i| i.value) else {
            return Err(invalid(
                pos,
                "Authorization callouts require an issuer to be specified",
            ));
        };
        let auth_users = self.auth_users.unwrap_or_default();
        if auth_users.is_empty() {
            return Err(invalid(
                pos,
                "Authorization callouts require authorized users to be specified",
            ));
        }
        let mut allowed_accounts = Vec::new();
        for a in self.allowed_accounts.unwrap_or_default() {
            allowed.push(UserAccountRef {
                account: a.value.clone(),
                pos: a.pos,
            });
            allowed_accounts.push(a.value);
        }
        Ok(AuthCalloutConfig {
            issuer,
            account: self
                .account
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| "$G".to_owned()),
            auth_users,
            xkey: self.xkey.map(|x| x.value),
            allowed_accounts,
            local_first: self.local_first.unwrap_or(false),
        })
    }
}

/// Users whose `account` must be checked against the defined accounts.
pub(crate) struct UserAccountRef {
    pub(crate) account: String,
    pub(crate) pos: Pos,
}

impl RawAuthorization {
    /// Where the first entry of `users` is, if there is one (operator mode refuses users).
    pub(crate) fn first_user(&self) -> Option<&Pos> {
        self.users.as_ref()?.first().map(|u| &u.pos)
    }

    /// Where the first `oidc` issuer is, if there is one (operator mode refuses them).
    pub(crate) fn first_oidc(&self) -> Option<&Pos> {
        self.oidc.as_ref()?.first().map(|o| &o.pos)
    }

    /// Where `auth_callout` is, if set.
    pub(crate) fn auth_callout(&self) -> Option<&Pos> {
        self.auth_callout.as_ref().map(|c| &c.pos)
    }

    /// Whether the block has a token or a single user (which operator mode ignores).
    pub(crate) fn has_token_or_single_user(&self) -> bool {
        self.token.is_some() || self.user.is_some() || self.password.is_some()
    }

    pub(crate) fn build(
        self,
        pos: &Pos,
        warnings: &mut Vec<String>,
        users_pos: &mut Vec<(UserConfig, Pos)>,
        account_refs: &mut Vec<UserAccountRef>,
        callout_accounts: &mut Vec<UserAccountRef>,
        origins: &mut Origins,
    ) -> Result<AuthorizationConfig, ConfigError> {
        let auth_callout = match self.auth_callout {
            Some(c) => Some(c.value.build(&c.pos, callout_accounts)?),
            None => None,
        };
        // Trusted proxies do not exist in rnats yet: ignoring this would let clients in directly.
        if let Some(p) = self.proxy_required.as_ref().filter(|p| p.value) {
            return Err(unsupported(&p.pos, "proxy_required"));
        }
        let single = self.user.is_some() || self.password.is_some();
        if single && self.token.is_some() {
            return Err(invalid(pos, "Cannot have a user/pass and token"));
        }
        let mut users = Vec::new();
        for u in self.users.unwrap_or_default() {
            let (user, upos, apos) = build_user(u, None, origins)?;
            if let (Some(a), Some(apos)) = (&user.account, apos) {
                account_refs.push(UserAccountRef {
                    account: a.clone(),
                    pos: apos,
                });
            }
            users_pos.push((user.clone(), upos));
            users.push(user);
        }
        if !users.is_empty() && single {
            return Err(invalid(
                pos,
                "Can not have a single user/pass and a users array",
            ));
        }
        if !users.is_empty() && self.token.is_some() {
            return Err(invalid(pos, "Can not have a token and a users array"));
        }
        let timeout = match &self.timeout {
            Some(t) => {
                let d = seconds_or_duration("timeout", t)?;
                if d > Duration::from_secs(60) {
                    let secs = d.as_secs_f64();
                    warnings.push(format!(
                        "{}: invalid use of field \"timeout\": timeout of {} ({secs:.6} seconds) is high, consider keeping it under 60 seconds. possibly caused by unquoted duration; use '1m' instead of 1m, for example",
                        t.pos,
                        match &t.value {
                            Scalar::Str(s) => s.clone(),
                            _ => format!("{secs}"),
                        }
                    ));
                }
                Some(d)
            }
            None => None,
        };
        if let Some(p) = &self.password {
            let name = self.user.as_deref().unwrap_or_default();
            origins.record(format!("password of {name}"), p.pos.clone());
        }
        let oidc = crate::oidc::build_oidc(self.oidc.unwrap_or_default(), account_refs, origins)?;
        Ok(AuthorizationConfig {
            token: self.token.map(|t| {
                origins.record("authorization.token", t.pos);
                t.value
            }),
            user: self.user,
            password: self.password.map(|p| p.value),
            users,
            timeout,
            default_permissions: self
                .default_permissions
                .map(RawPermissions::build)
                .transpose()?,
            oidc,
            auth_callout,
        })
    }
}

// ----- tls -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertPair {
    cert_file: String,
    key_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTls {
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    #[serde(alias = "certificates")]
    certs: Option<Vec<RawCertPair>>,
    ca_file: Option<Spanned<String>>,
    verify: Option<bool>,
    verify_and_map: Option<bool>,
    verify_cert_and_check_known_urls: Option<Spanned<bool>>,
    insecure: Option<Spanned<bool>>,
    timeout: Option<Spanned<Scalar>>,
    pinned_certs: Option<Vec<Spanned<String>>>,
    cipher_suites: Option<Spanned<Vec<String>>>,
    curve_preferences: Option<Vec<String>>,
    min_version: Option<Spanned<Scalar>>,
    #[serde(alias = "first", alias = "immediate")]
    handshake_first: Option<Spanned<Scalar>>,
    connection_rate_limit: Option<u64>,
    allow_insecure_cipher_suites: Option<bool>,
    ocsp_peer: Option<Spanned<IgnoredAny>>,
    cert_store: Option<Spanned<IgnoredAny>>,
    cert_match_by: Option<Spanned<IgnoredAny>>,
    cert_match: Option<Spanned<IgnoredAny>>,
    ca_certs_match: Option<Spanned<IgnoredAny>>,
    cert_match_skip_invalid: Option<Spanned<IgnoredAny>>,
}

fn tls_err(pos: &Pos, msg: impl fmt::Display) -> ConfigError {
    invalid(pos, format!("error parsing tls config: {msg}"))
}

impl RawTls {
    /// Takes `insecure` out, for blocks of connections the server makes (`resolver_tls`), where
    /// it means something; the listener's block refuses it.
    pub(crate) fn take_insecure(&mut self) -> Option<Spanned<bool>> {
        self.insecure.take()
    }

    pub(crate) fn build(self, pos: &Pos, origins: &mut Origins) -> Result<TlsConfig, ConfigError> {
        origins.record("tls", pos.clone());
        for (key, v) in [
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
            ("tls.ca_file", &self.ca_file),
        ] {
            if let Some(v) = v {
                origins.record(key, v.pos.clone());
            }
        }
        for (key, v) in [
            ("ocsp_peer", &self.ocsp_peer),
            ("cert_store", &self.cert_store),
            ("cert_match_by", &self.cert_match_by),
            ("cert_match", &self.cert_match),
            ("ca_certs_match", &self.ca_certs_match),
            ("cert_match_skip_invalid", &self.cert_match_skip_invalid),
        ] {
            if let Some(v) = v {
                return Err(unsupported(&v.pos, &format!("tls.{key}")));
            }
        }
        if let Some(v) = &self.verify_cert_and_check_known_urls
            && v.value
        {
            return Err(tls_err(
                &v.pos,
                "verify_cert_and_check_known_urls not supported in this context",
            ));
        }
        if let Some(v) = &self.insecure
            && v.value
        {
            return Err(tls_err(
                &v.pos,
                "insecure is only for connections the server makes",
            ));
        }
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => return Err(tls_err(pos, "missing 'key_file' in TLS configuration")),
            (None, Some(_)) => {
                return Err(tls_err(pos, "missing 'cert_file' in TLS configuration"));
            }
            _ => {}
        }
        if self.cert_file.is_some() && self.certs.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(tls_err(pos, "cert_file and certs can not both be set"));
        }
        let mut pinned = Vec::new();
        for p in self.pinned_certs.unwrap_or_default() {
            let hex = p.value.to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid(
                    &p.pos,
                    format!(
                        "error parsing tls config, 'pinned_certs' key {} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo",
                        p.value
                    ),
                ));
            }
            pinned.push(hex);
        }
        let cipher_suites = match self.cipher_suites {
            Some(c) if c.value.is_empty() => {
                return Err(tls_err(&c.pos, "cipher_suites can not be empty"));
            }
            Some(c) => c.value,
            None => Vec::new(),
        };
        let min_version = match &self.min_version {
            Some(v) => {
                let text = match &v.value {
                    Scalar::Str(s) => s.clone(),
                    Scalar::Float(x) => format!("{x}"),
                    Scalar::Int(i) => format!("{i}"),
                    Scalar::Bool(_) => String::new(),
                };
                match text.as_str() {
                    "1.2" | "1.3" => Some(text),
                    "1.0" | "1.1" | "1" => {
                        return Err(tls_err(
                            &v.pos,
                            format!("unsupported TLS version: TLS {text}"),
                        ));
                    }
                    _ => return Err(tls_err(&v.pos, format!("unknown version: {text}"))),
                }
            }
            None => None,
        };
        let handshake_first = match &self.handshake_first {
            None => HandshakeFirst::Off,
            Some(h) => {
                match &h.value {
                    Scalar::Bool(true) => HandshakeFirst::On,
                    Scalar::Bool(false) => HandshakeFirst::Off,
                    Scalar::Str(s) if s.eq_ignore_ascii_case("auto") => {
                        HandshakeFirst::Fallback(Duration::from_millis(50))
                    }
                    Scalar::Str(s) => {
                        let nanos = parse_go_duration(s).map_err(|m| {
                        tls_err(&h.pos, format!("handshake_first: expected true, false, \"auto\" or a duration: {m}"))
                    })?;
                        match non_negative(nanos) {
                            Some(d) if !d.is_zero() => HandshakeFirst::Fallback(d),
                            _ => HandshakeFirst::On,
                        }
                    }
                    _ => {
                        return Err(tls_err(
                            &h.pos,
                            "handshake_first: expected true, false, \"auto\" or a duration",
                        ));
                    }
                }
            }
        };
        let verify_and_map = self.verify_and_map.unwrap_or(false);
        Ok(TlsConfig {
            cert_file: self.cert_file.map(|f| PathBuf::from(f.value)),
            key_file: self.key_file.map(|f| PathBuf::from(f.value)),
            certs: self
                .certs
                .unwrap_or_default()
                .into_iter()
                .map(|c| CertKeyPair {
                    cert_file: c.cert_file.into(),
                    key_file: c.key_file.into(),
                })
                .collect(),
            ca_file: self.ca_file.map(|f| PathBuf::from(f.value)),
            verify: self.verify.unwrap_or(false) || verify_and_map,
            verify_and_map,
            timeout: self
                .timeout
                .as_ref()
                .map(|t| seconds_or_duration("timeout", t))
                .transpose()?,
            pinned_certs: pinned,
            cipher_suites,
            curve_preferences: self.curve_preferences.unwrap_or_default(),
            min_version,
            handshake_first,
            connection_rate_limit: self.connection_rate_limit,
            dangerous_allow_insecure_cipher_suites: self
                .allow_insecure_cipher_suites
                .unwrap_or(false),
        })
    }
}

/// Formats a duration for messages, as Go would.
pub(crate) fn show(d: Duration) -> String {
    go_format(d)
}
