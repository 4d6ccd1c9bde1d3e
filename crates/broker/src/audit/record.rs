//! One audit record: what is known about an authentication decision, without a secret.
//!
//! Built in the connection's own task only when auditing is on; serialized on the writer
//! thread. Every client-supplied string is cut to [`MAX_FIELD`] bytes; JSON escaping is
//! serde_json's.

use std::time::{Duration, SystemTime};

use rnats_auth::{AuthMethod, AuthRequest, Authorized};
use rnats_protocol::ConnectOptions;
use serde::{Deserialize, Serialize};

use crate::session::Peer;

/// Longest client-supplied string kept in a record, in bytes.
pub(crate) const MAX_FIELD: usize = 256;

/// Longest token whose claims are looked at (larger ones are not decoded).
const MAX_TOKEN: usize = 16 * 1024;

/// The outcome of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome {
    Accepted,
    Refused,
}

/// One authentication decision, as written (field order is the JSON order).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    /// Formatted on the writer thread, not by the connection.
    #[serde(serialize_with = "rfc3339")]
    pub(crate) time: SystemTime,
    pub(crate) outcome: Outcome,
    pub(crate) method: &'static str,
    /// `connect` for a login, `reload` for the re-check of a live client after a reload or an
    /// account JWT update.
    pub(crate) phase: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nkey: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cert_subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) jwt_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) jwt_issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) jwt_issuer_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oidc_sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oidc_iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) account: Option<String>,
    pub(crate) addr: String,
    pub(crate) port: u16,
    pub(crate) cid: u64,
    pub(crate) transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_lang: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_version: Option<String>,
    pub(crate) duration_us: u64,
}

/// `s` cut to [`MAX_FIELD`] bytes at a character boundary; `None` when empty.
pub(crate) fn bounded(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s[..end].to_owned())
}

fn bounded_opt(s: Option<&str>) -> Option<String> {
    s.and_then(bounded)
}

/// `t` as RFC 3339 in UTC with microseconds.
fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*t))
}

/// `t` as RFC 3339 in UTC with microseconds.
fn format_time(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    match jiff::Timestamp::from_nanosecond(i128::try_from(nanos).unwrap_or_default()) {
        Ok(ts) => format!("{ts:.6}"),
        Err(_) => "1970-01-01T00:00:00.000000Z".to_owned(),
    }
}

impl Record {
    /// A record of `outcome` by `method` for the client `peer`, with no identity yet.
    pub(crate) fn new(peer: &Peer, outcome: Outcome, method: &'static str) -> Self {
        let websocket = matches!(peer.transport, crate::websocket::Transport::Websocket(_));
        Self {
            time: SystemTime::now(),
            outcome,
            method,
            phase: "connect",
            reason: None,
            user: None,
            nkey: None,
            cert_subject: peer.tls.as_ref().and_then(|t| bounded(&t.subject_dn)),
            jwt_name: None,
            jwt_issuer: None,
            jwt_issuer_account: None,
            oidc_sub: None,
            oidc_iss: None,
            account: None,
            addr: peer.addr.ip().to_string(),
            port: peer.addr.port(),
            cid: peer.cid,
            transport: if websocket { "websocket" } else { "tcp" },
            tls_version: peer.tls_session.as_ref().and_then(|t| bounded(&t.version)),
            client_name: None,
            client_lang: None,
            client_version: None,
            duration_us: 0,
        }
    }

    /// A refusal for `reason`.
    pub(crate) fn refused(peer: &Peer, method: &'static str, reason: impl Into<String>) -> Self {
        let mut r = Self::new(peer, Outcome::Refused, method);
        r.reason = bounded(&reason.into());
        r
    }

    /// The time the decision took.
    pub(crate) fn took(mut self, d: Option<Duration>) -> Self {
        self.duration_us = d.map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self
    }

    /// The client's self-description from CONNECT.
    pub(crate) fn client(mut self, opts: Option<&ConnectOptions>) -> Self {
        if let Some(o) = opts {
            self.client_name = bounded_opt(o.name.as_deref());
            self.client_lang = bounded_opt(o.lang.as_deref());
            self.client_version = bounded_opt(o.version.as_deref());
        }
        self
    }

    /// Who the client claimed to be: the names in its request (never a secret), and the
    /// public claims of a user JWT.
    pub(crate) fn presented(mut self, request: &AuthRequest) -> Self {
        self.user = bounded_opt(request.user.as_deref());
        self.nkey = bounded_opt(request.nkey.as_deref());
        if let Some(claims) = request.jwt.as_deref().and_then(claims) {
            self.jwt_name = bounded_opt(claims.name.as_deref());
            self.jwt_issuer = bounded_opt(claims.iss.as_deref());
            self.jwt_issuer_account = claims
                .nats
                .as_ref()
                .and_then(|n| bounded_opt(n.issuer_account.as_deref()));
            if self.nkey.is_none() {
                self.nkey = bounded_opt(claims.sub.as_deref());
            }
        }
        self
    }

    /// Who the authenticator found: the identity in the field its method names, and the
    /// account.
    pub(crate) fn authorized(mut self, who: &Authorized, request: Option<&AuthRequest>) -> Self {
        self.account = bounded(&who.account);
        match who.method {
            // The callout's user is the key the service issued its JWT to; the name the
            // client presented stays in `user`.
            AuthMethod::Nkey | AuthMethod::Jwt | AuthMethod::Callout => {
                self.nkey = bounded(&who.identity);
            }
            AuthMethod::Oidc => {
                self.oidc_sub = bounded(&who.identity);
                // The token was verified: its issuer is the trusted one that accepted it.
                let token = request.and_then(|r| {
                    [r.token.as_deref(), r.pass.as_deref()]
                        .into_iter()
                        .flatten()
                        .find(|t| t.split('.').count() == 3)
                });
                if let Some(claims) = token.and_then(claims) {
                    self.oidc_iss = bounded_opt(claims.iss.as_deref());
                }
                // The user name of an OIDC client is its token's carrier, not an identity.
                self.user = None;
            }
            AuthMethod::None | AuthMethod::Token => {}
            _ => {
                if !who.identity.is_empty() {
                    self.user = bounded(&who.identity);
                }
            }
        }
        self
    }

    /// What a refusal says beyond the credentials presented: an OIDC or auth callout refusal
    /// names its method, and an OIDC one the token's issuer (and the subject of a verified
    /// token).
    pub(crate) fn oidc_refusal(mut self, e: &rnats_auth::AuthError) -> Self {
        if let rnats_auth::AuthError::Callout(_) = e {
            self.method = AuthMethod::Callout.as_str();
        }
        if let rnats_auth::AuthError::Oidc {
            issuer,
            identity,
            account,
            ..
        } = e
        {
            self.method = AuthMethod::Oidc.as_str();
            self.oidc_iss = bounded(issuer);
            self.oidc_sub = bounded_opt(identity.as_deref());
            self.account = bounded_opt(account.as_deref());
            self.user = None;
        }
        self
    }
}

/// The public claims of a JWT the record may show.
#[derive(Debug, Default, Deserialize)]
struct Claims {
    name: Option<String>,
    iss: Option<String>,
    sub: Option<String>,
    nats: Option<NatsClaims>,
}

#[derive(Debug, Default, Deserialize)]
struct NatsClaims {
    issuer_account: Option<String>,
}

/// The public claims of `token` when it is a JWT (unverified: a refused token's claims are
/// what it claimed).
fn claims(token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let payload = payload.trim_end_matches('=');
    let json = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_bounded_at_char_boundaries() {
        assert_eq!(bounded(""), None);
        let long = "é".repeat(200);
        let cut = bounded(&long).unwrap();
        assert!(cut.len() <= MAX_FIELD && cut.chars().all(|c| c == 'é'));
        assert_eq!(cut.len(), MAX_FIELD);
    }

    #[test]
    fn jwt_claims_are_read_without_the_body() {
        let payload = data_encoding::BASE64URL_NOPAD
            .encode(br#"{"name":"alice","iss":"AABC","sub":"UXYZ","nats":{"issuer_account":"AACC","pub":{}}}"#);
        let c = claims(&format!("eyJ0eXAiOiJKV1QifQ.{payload}.c2ln")).unwrap();
        assert_eq!(c.name.as_deref(), Some("alice"));
        assert_eq!(c.iss.as_deref(), Some("AABC"));
        assert_eq!(c.sub.as_deref(), Some("UXYZ"));
        assert_eq!(c.nats.unwrap().issuer_account.as_deref(), Some("AACC"));
        assert!(claims("not-a-jwt").is_none());
        assert!(claims("a.b").is_none());
        assert!(claims("a.b.c.d").is_none());
    }

    #[test]
    fn time_has_microseconds_in_utc() {
        let t = format_time(SystemTime::now());
        assert!(t.ends_with('Z'), "{t}");
        let frac = t.rsplit('.').next().unwrap();
        assert_eq!(frac.len(), 7, "{t}");
    }
}
