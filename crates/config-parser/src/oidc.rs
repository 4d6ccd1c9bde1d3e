//! `authorization { oidc: [ … ] }` (an rnats extension): trusted OAuth 2 / OpenID Connect
//! issuers whose signed bearer tokens (JWS) log clients in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::PermissionsConfig;
use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::origins::Origins;
use crate::raw::{RawPermissions, Scalar, StringList, UserAccountRef, duration_string};
use crate::units::non_negative;
use crate::value::Pos;

/// Default `leeway`: clock skew tolerated on `exp`, `nbf` and `iat`.
pub const DEFAULT_OIDC_LEEWAY: Duration = Duration::from_secs(30);
/// Largest `leeway` accepted.
pub const MAX_OIDC_LEEWAY: Duration = Duration::from_secs(600);
/// Default `jwks_refresh`: how often a `jwks_url` is fetched again.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(600);
/// Smallest `jwks_refresh` accepted.
pub const MIN_JWKS_REFRESH: Duration = Duration::from_secs(1);

/// Where an issuer's signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// `jwks_file`: a JWK Set read at start-up and on reload.
    File(PathBuf),
    /// `jwks_url`: fetched by the server, refreshed in the background and on an unknown `kid`.
    /// `https://`, or `http://` to a loopback host only.
    Url(String),
}

/// Which account an OIDC user lands in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcAccount {
    /// Neither `account` nor `account_claim`: the global account `$G`.
    Global,
    /// `account: NAME`: a configured account.
    Fixed(String),
    /// `account_claim: CLAIM`: the token's string claim names a configured account.
    Claim(String),
}

/// One trusted issuer of `authorization.oidc`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OidcConfig {
    /// `issuer`: the exact `iss` of the tokens.
    pub issuer: String,
    /// `audience`: the token's `aud` must contain one of these (at least one is required).
    pub audience: Vec<String>,
    /// `jwks_file` or `jwks_url`.
    pub jwks: JwksSource,
    /// `jwks_refresh` (`jwks_url` only): how often the key set is fetched again.
    pub jwks_refresh: Duration,
    /// `leeway`: clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// `user_claim`: the claim naming the user in logs and `Authorized`; default `sub`.
    pub user_claim: String,
    /// `account` or `account_claim`.
    pub account: OidcAccount,
    /// `permissions`: granted to every user of this issuer; subjects may hold
    /// `{{claim(NAME)}}` templates.
    pub permissions: Option<PermissionsConfig>,
    /// `roles_claim`: a list-of-strings claim, or a space-separated string (`scope`).
    pub roles_claim: Option<String>,
    /// `roles`: permissions added for each role the token carries.
    pub roles: BTreeMap<String, PermissionsConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOidc {
    issuer: Option<Spanned<String>>,
    #[serde(alias = "audiences")]
    audience: Option<Spanned<StringList>>,
    jwks_file: Option<Spanned<String>>,
    jwks_url: Option<Spanned<String>>,
    jwks_refresh: Option<Spanned<Scalar>>,
    leeway: Option<Spanned<Scalar>>,
    user_claim: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    account_claim: Option<Spanned<String>>,
    #[serde(alias = "permission")]
    permissions: Option<Spanned<RawPermissions>>,
    roles_claim: Option<Spanned<String>>,
    roles: Option<Spanned<BTreeMap<String, Spanned<RawPermissions>>>>,
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

/// A claim name: letters, digits and `_ - : /` (no dots, so a name never reads as a path).
pub(crate) fn valid_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'/'))
}

/// Checks every `{{…}}` of a subject is `{{claim(NAME)}}`.
fn check_templates(subject: &str, pos: &Pos) -> Result<(), ConfigError> {
    let mut rest = subject;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(invalid(
                pos,
                format!("subject \"{subject}\": unterminated template"),
            ));
        };
        let inner = after[..end].trim();
        let name = inner
            .strip_prefix("claim(")
            .and_then(|s| s.strip_suffix(')'))
            .map(str::trim);
        match name {
            Some(n) if valid_claim_name(n) => {}
            _ => {
                return Err(invalid(
                    pos,
                    format!(
                        "subject \"{subject}\": template \"{{{{{inner}}}}}\" is not {{{{claim(NAME)}}}}"
                    ),
                ));
            }
        }
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err(invalid(
            pos,
            format!("subject \"{subject}\": stray \"}}}}\""),
        ));
    }
    Ok(())
}

fn check_permission_templates(p: &PermissionsConfig, pos: &Pos) -> Result<(), ConfigError> {
    for list in [&p.publish, &p.subscribe].into_iter().flatten() {
        for s in list.allow.iter().chain(&list.deny) {
            check_templates(s, pos)?;
        }
    }
    Ok(())
}

fn claim_name(key: &str, v: &Spanned<String>) -> Result<String, ConfigError> {
    if valid_claim_name(&v.value) {
        Ok(v.value.clone())
    } else {
        Err(invalid(
            &v.pos,
            format!("{key} \"{}\" is not a valid claim name", v.value),
        ))
    }
}

fn duration(key: &str, v: &Spanned<Scalar>) -> Result<Duration, ConfigError> {
    let nanos = duration_string(key, v)?;
    non_negative(nanos).ok_or_else(|| invalid(&v.pos, format!("{key} must not be negative")))
}

/// The host of an `http(s)://` URL, if the URL is one this server will fetch from; `Err`
/// says why not.
fn check_jwks_url(url: &str) -> Result<(), String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("jwks_url \"{url}\" must start with https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(format!("jwks_url \"{url}\" must not carry credentials"));
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    if host.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("jwks_url \"{url}\" is not a valid URL"));
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !https && !loopback {
        return Err(format!(
            "jwks_url \"{url}\": plain http:// is only accepted for loopback hosts (localhost, 127.0.0.1, ::1); use https://"
        ));
    }
    Ok(())
}

impl RawOidc {
    pub(crate) fn build(
        self,
        index: usize,
        pos: &Pos,
        account_refs: &mut Vec<UserAccountRef>,
        origins: &mut Origins,
    ) -> Result<OidcConfig, ConfigError> {
        let issuer = match self.issuer {
            Some(i) if !i.value.is_empty() => i.value,
            Some(i) => return Err(invalid(&i.pos, "oidc issuer must not be empty")),
            None => return Err(invalid(pos, "oidc entry requires an issuer")),
        };
        let audience = match self.audience {
            Some(a) if !a.value.0.is_empty() && a.value.0.iter().all(|s| !s.is_empty()) => {
                a.value.0
            }
            Some(a) => {
                return Err(invalid(
                    &a.pos,
                    "oidc audience must list at least one non-empty audience",
                ));
            }
            None => {
                return Err(invalid(
                    pos,
                    format!("oidc issuer \"{issuer}\" requires an audience"),
                ));
            }
        };
        let jwks = match (self.jwks_file, self.jwks_url) {
            (Some(f), None) => {
                origins.record(format!("authorization.oidc[{index}].jwks"), f.pos);
                JwksSource::File(PathBuf::from(f.value))
            }
            (None, Some(u)) => {
                check_jwks_url(&u.value).map_err(|m| invalid(&u.pos, m))?;
                origins.record(format!("authorization.oidc[{index}].jwks"), u.pos);
                JwksSource::Url(u.value)
            }
            (Some(_), Some(u)) => {
                return Err(invalid(
                    &u.pos,
                    "oidc entry takes jwks_file or jwks_url, not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    pos,
                    format!("oidc issuer \"{issuer}\" requires jwks_file or jwks_url"),
                ));
            }
        };
        let jwks_refresh = match &self.jwks_refresh {
            Some(r) => {
                if matches!(jwks, JwksSource::File(_)) {
                    return Err(invalid(&r.pos, "jwks_refresh applies to jwks_url only"));
                }
                let d = duration("jwks_refresh", r)?;
                if d < MIN_JWKS_REFRESH {
                    return Err(invalid(&r.pos, "jwks_refresh must be at least 1s"));
                }
                d
            }
            None => DEFAULT_JWKS_REFRESH,
        };
        let leeway = match &self.leeway {
            Some(l) => {
                let d = duration("leeway", l)?;
                if d > MAX_OIDC_LEEWAY {
                    return Err(invalid(&l.pos, "leeway must be at most 10m"));
                }
                d
            }
            None => DEFAULT_OIDC_LEEWAY,
        };
        let user_claim = match &self.user_claim {
            Some(c) => claim_name("user_claim", c)?,
            None => "sub".to_owned(),
        };
        let account = match (self.account, self.account_claim) {
            (Some(_), Some(c)) => {
                return Err(invalid(
                    &c.pos,
                    "oidc entry takes account or account_claim, not both",
                ));
            }
            (Some(a), None) => {
                if a.value != "$G" {
                    account_refs.push(UserAccountRef {
                        account: a.value.clone(),
                        pos: a.pos,
                    });
                }
                OidcAccount::Fixed(a.value)
            }
            (None, Some(c)) => OidcAccount::Claim(claim_name("account_claim", &c)?),
            (None, None) => OidcAccount::Global,
        };
        let permissions = match self.permissions {
            Some(p) => {
                let built = p.value.build()?;
                check_permission_templates(&built, &p.pos)?;
                Some(built)
            }
            None => None,
        };
        let roles_claim = self
            .roles_claim
            .as_ref()
            .map(|c| claim_name("roles_claim", c))
            .transpose()?;
        let mut roles = BTreeMap::new();
        if let Some(r) = self.roles {
            if roles_claim.is_none() {
                return Err(invalid(&r.pos, "oidc roles require a roles_claim"));
            }
            for (name, p) in r.value {
                if name.is_empty() {
                    return Err(invalid(&p.pos, "oidc role names must not be empty"));
                }
                let built = p.value.build()?;
                check_permission_templates(&built, &p.pos)?;
                roles.insert(name, built);
            }
        }
        Ok(OidcConfig {
            issuer,
            audience,
            jwks,
            jwks_refresh,
            leeway,
            user_claim,
            account,
            permissions,
            roles_claim,
            roles,
        })
    }
}

/// Builds the whole `oidc` list; the same issuer twice is refused.
pub(crate) fn build_oidc(
    list: Vec<Spanned<RawOidc>>,
    account_refs: &mut Vec<UserAccountRef>,
    origins: &mut Origins,
) -> Result<Vec<OidcConfig>, ConfigError> {
    let mut out: Vec<OidcConfig> = Vec::new();
    for (i, raw) in list.into_iter().enumerate() {
        let pos = raw.pos;
        let built = raw.value.build(i, &pos, account_refs, origins)?;
        if out.iter().any(|o| o.issuer == built.issuer) {
            return Err(invalid(
                &pos,
                format!("oidc issuer \"{}\" is listed twice", built.issuer),
            ));
        }
        out.push(built);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::{JwksSource, OidcAccount, load_str};

    fn err(src: &str) -> String {
        load_str(src, None).unwrap_err().to_string()
    }

    #[test]
    fn full_entry_parses() {
        let loaded = load_str(
            r#"accounts { APP {} }
authorization {
  users = [ { user: a, password: b } ]
  oidc: [
    { issuer: "https://idp.example.com/realms/nats"
      audience: ["nats", "other"]
      jwks_url: "https://idp.example.com/realms/nats/protocol/openid-connect/certs"
      jwks_refresh: "5m"
      leeway: "10s"
      user_claim: preferred_username
      account: APP
      permissions: { publish: ["svc.{{claim(sub)}}.>"], subscribe: ["_INBOX.>"] }
      roles_claim: groups
      roles: { admin: { publish: ">", subscribe: ">" }, "orders:read": { subscribe: "orders.>" } }
    }
    { issuer: "http://127.0.0.1:8080", audience: x, jwks_file: "k.json", account_claim: nats_account }
  ]
}"#,
            None,
        )
        .unwrap();
        let a = loaded.config.authorization.unwrap();
        assert_eq!(a.users.len(), 1);
        let o = &a.oidc[0];
        assert_eq!(o.audience, ["nats", "other"]);
        assert_eq!(o.leeway.as_secs(), 10);
        assert_eq!(o.jwks_refresh.as_secs(), 300);
        assert_eq!(o.user_claim, "preferred_username");
        assert_eq!(o.account, OidcAccount::Fixed("APP".into()));
        assert_eq!(o.roles.len(), 2);
        assert!(o.roles.contains_key("orders:read"));
        let o = &a.oidc[1];
        assert_eq!(o.jwks, JwksSource::File("k.json".into()));
        assert_eq!(o.account, OidcAccount::Claim("nats_account".into()));
        assert_eq!((o.user_claim.as_str(), o.leeway.as_secs()), ("sub", 30));
    }

    #[test]
    fn bad_entries_are_refused_with_position() {
        let base = |body: &str| format!("authorization {{\n  oidc: [\n    {{ {body} }}\n  ]\n}}");
        assert_eq!(
            err(&base("issuer: i, audience: a, jwks_file: f, bogus: 1")),
            "3:45: unknown field \"bogus\""
        );
        assert_eq!(
            err(&base("audience: a, jwks_file: f")),
            "3:5: oidc entry requires an issuer"
        );
        assert_eq!(
            err(&base("issuer: i, jwks_file: f")),
            "3:5: oidc issuer \"i\" requires an audience"
        );
        assert_eq!(
            err(&base("issuer: i, audience: a")),
            "3:5: oidc issuer \"i\" requires jwks_file or jwks_url"
        );
        assert_eq!(
            err(&base(
                "issuer: i, audience: a, jwks_file: f, jwks_url: \"https://x/\""
            )),
            "3:55: oidc entry takes jwks_file or jwks_url, not both"
        );
        assert!(
            err(&base(
                "issuer: i, audience: a, jwks_url: \"http://idp.example.com/certs\""
            ))
            .contains("plain http:// is only accepted for loopback hosts")
        );
        assert_eq!(
            err(&base(
                "issuer: i, audience: a, jwks_file: f, account: A, account_claim: c"
            )),
            "3:72: oidc entry takes account or account_claim, not both"
        );
        assert_eq!(
            err(&base("issuer: i, audience: a, jwks_file: f, account: NOPE")),
            "3:54: account \"NOPE\" is not defined in accounts"
        );
        assert_eq!(
            err(&base("issuer: i, audience: a, jwks_file: f, leeway: \"x\"")),
            "3:53: invalid duration \"x\""
        );
        assert_eq!(
            err(&base(
                "issuer: i, audience: a, jwks_file: f, leeway: \"1h\""
            )),
            "3:53: leeway must be at most 10m"
        );
        assert!(
            err(&base(
                "issuer: i, audience: a, jwks_file: f, permissions: { publish: \"a.{{sub}}\" }"
            ))
            .contains("is not {{claim(NAME)}}")
        );
        assert_eq!(
            err(&base(
                "issuer: i, audience: a, jwks_file: f, roles: { x: { publish: y } }"
            )),
            "3:52: oidc roles require a roles_claim"
        );
        assert!(
            err("authorization { oidc: [ { issuer: i, audience: a, jwks_file: f }, { issuer: i, audience: b, jwks_file: g } ] }")
                .contains("oidc issuer \"i\" is listed twice")
        );
    }

    #[test]
    fn loopback_http_is_accepted() {
        for url in [
            "http://127.0.0.1:9/certs",
            "http://localhost/certs",
            "http://[::1]:80/x",
        ] {
            let src = format!(
                "authorization {{ oidc: [ {{ issuer: i, audience: a, jwks_url: \"{url}\" }} ] }}"
            );
            load_str(&src, None).unwrap();
        }
    }
}
