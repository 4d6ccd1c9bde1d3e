//! [`OidcAuth`]: OAuth 2 / OpenID Connect bearer tokens (`authorization { oidc: [...] }`), an
//! rnats extension.
//!
//! # Which requests it decides
//! The token is the CONNECT `auth_token`, or `pass` (with any `user`) for clients that only
//! have user/password fields. The method [applies](ChainMember::applies) when that value looks
//! like a compact JWS (`header.payload.signature`, base64url, at most
//! [`MAX_TOKEN_BYTES`]) whose *unverified* `iss` is exactly a configured issuer. It then
//! decides alone: a refused token never falls back to users or the shared token. Any other
//! token or password goes on to the other methods, so OIDC coexists with `users`, `token` and
//! NKeys; only a secret that is itself a JWS naming a trusted issuer is taken for a token.
//!
//! # Checks, in order
//! `alg` is one of RS256/384/512, PS256/384/512, ES256, ES384, EdDSA (`none` and HMAC are
//! always refused); the key is found by `kid` in the issuer's JWK Set (a token without `kid`
//! only with a one-key set) and must be of the type `alg` needs (and its `alg`, when the JWK
//! has one, equal); the signature verifies (`jwt-simple`); `iss` equals the issuer, `aud`
//! contains a configured audience, `exp` is present and not past, `nbf` and `iat` are not in
//! the future, each with the issuer's `leeway`.

mod grant;
mod jwks;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_simple::prelude::*;
use rnats_config::{JwksSource, OidcAccount, OidcConfig, PermissionsConfig, ServerConfig};

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::{AuthMethod, AuthRequest, Authorized, GLOBAL_ACCOUNT, Permissions};
use grant::Claims;
pub use jwks::JwksFetcher;
use jwks::{KeySet, KeyStore, Refresher, spawn_refresher};

/// Longest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The signature algorithms accepted.
pub const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// One trusted issuer.
struct Issuer {
    cfg: OidcConfig,
    audiences: HashSet<String>,
    keys: Arc<KeyStore>,
    /// Accounts a token may name with `account_claim` (configured ones but the system account).
    accounts: HashSet<String>,
    _refresher: Option<Refresher>,
}

/// OIDC bearer tokens of the configured issuers. See the [module docs](self).
pub struct OidcAuth {
    issuers: Vec<Issuer>,
}

/// The token of a request and the issuer it names, unverified.
struct Candidate<'a> {
    token: &'a str,
    issuer: &'a Issuer,
}

/// Decodes the payload of something shaped like a compact JWS and returns its `iss`.
fn unverified_issuer(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    let b64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !(b64(header) && b64(payload) && b64(sig)) {
        return None;
    }
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// The verified payload as a JSON object (the signature has been checked by then).
fn payload_claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.as_bytes())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

macro_rules! verify_with {
    ($key:ty, $jwk:expr, $token:expr, $opts:expr) => {{
        let key = <$key>::from_jwk($jwk).map_err(|e| Refusal::KeyMismatch(e.to_string()))?;
        key.verify_token::<NoCustomClaims>($token, Some($opts))
            .map_err(|e| Refusal::Invalid(e.to_string()))
    }};
}

/// Why verification failed, before claims are known.
enum Refusal {
    KeyMismatch(String),
    Invalid(String),
}

impl Issuer {
    fn new(
        cfg: &OidcConfig,
        server: &ServerConfig,
        index: usize,
        fixed_keys: Option<KeySet>,
        fetcher: Option<&Arc<dyn JwksFetcher>>,
    ) -> Result<Self, AuthConfigError> {
        let origin = format!("authorization.oidc[{index}].jwks");
        let keys = match (fixed_keys, &cfg.jwks) {
            (Some(k), _) => Arc::new(KeyStore::fixed(&cfg.issuer, k)),
            (None, JwksSource::File(path)) => Arc::new(
                KeyStore::from_file(&cfg.issuer, path)
                    .map_err(|reason| AuthConfigError::Oidc { origin, reason })?,
            ),
            (None, JwksSource::Url(url)) => {
                Arc::new(KeyStore::from_url(&cfg.issuer, url, fetcher.cloned()))
            }
        };
        let system = server.system_account.as_deref().unwrap_or("$SYS");
        let accounts = server
            .accounts
            .iter()
            .map(|a| a.name.clone())
            .filter(|a| a != system)
            .collect();
        if let OidcAccount::Fixed(a) = &cfg.account
            && a != GLOBAL_ACCOUNT
            && !server.accounts.iter().any(|c| &c.name == a)
        {
            return Err(AuthConfigError::UnknownAccount(a.clone()));
        }
        // Templates and subjects must compile once filled in: check with a placeholder.
        for p in cfg.permissions.iter().chain(cfg.roles.values()) {
            check_compiles(&cfg.issuer, p)?;
        }
        let refresher = spawn_refresher(&keys, cfg.jwks_refresh);
        Ok(Self {
            audiences: cfg.audience.iter().cloned().collect(),
            cfg: cfg.clone(),
            keys,
            accounts,
            _refresher: refresher,
        })
    }

    fn options(&self, now: SystemTime) -> VerificationOptions {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        VerificationOptions {
            accept_future: false,
            allowed_issuers: Some(HashSet::from([self.cfg.issuer.clone()])),
            allowed_audiences: Some(self.audiences.clone()),
            time_tolerance: Some(jwt_simple::prelude::Duration::from_secs(
                self.cfg.leeway.as_secs(),
            )),
            max_token_length: Some(MAX_TOKEN_BYTES),
            artificial_time: Some(UnixTimeStamp::from_secs(secs)),
            ..VerificationOptions::default()
        }
    }

    /// Verifies `token` with `jwk` for `alg`.
    fn verify(
        &self,
        alg: &str,
        jwk: &str,
        token: &str,
        now: SystemTime,
    ) -> Result<JWTClaims<NoCustomClaims>, Refusal> {
        let opts = self.options(now);
        match alg {
            "RS256" => verify_with!(RS256PublicKey, jwk, token, opts),
            "RS384" => verify_with!(RS384PublicKey, jwk, token, opts),
            "RS512" => verify_with!(RS512PublicKey, jwk, token, opts),
            "PS256" => verify_with!(PS256PublicKey, jwk, token, opts),
            "PS384" => verify_with!(PS384PublicKey, jwk, token, opts),
            "PS512" => verify_with!(PS512PublicKey, jwk, token, opts),
            "ES256" => verify_with!(ES256PublicKey, jwk, token, opts),
            "ES384" => verify_with!(ES384PublicKey, jwk, token, opts),
            "EdDSA" => verify_with!(Ed25519PublicKey, jwk, token, opts),
            other => Err(Refusal::Invalid(format!("alg {other:?} is not accepted"))),
        }
    }

    fn authenticate(&self, token: &str, now: SystemTime) -> Result<Authorized, AuthError> {
        let refuse =
            |identity: Option<&str>, account: Option<&str>, reason: String| AuthError::Oidc {
                issuer: self.cfg.issuer.clone(),
                identity: identity.map(str::to_owned),
                account: account.map(str::to_owned),
                reason,
            };
        let meta = Token::decode_metadata(token)
            .map_err(|e| refuse(None, None, format!("token header: {e}")))?;
        let alg = meta.algorithm().to_owned();
        if alg.eq_ignore_ascii_case("none") || alg.to_ascii_uppercase().starts_with("HS") {
            return Err(refuse(None, None, format!("alg {alg:?} is never accepted")));
        }
        if !ALGORITHMS.contains(&alg.as_str()) {
            return Err(refuse(None, None, format!("alg {alg:?} is not supported")));
        }
        let kid = meta.key_id().map(str::to_owned);
        let mut keys = self.keys.current();
        if keys.is_none() {
            // Just started or reloaded: the refresher's first fetch is under way.
            keys = self.keys.after_first_attempt(jwks::FIRST_FETCH_WAIT);
        }
        let found = keys.as_ref().and_then(|k| k.find(kid.as_deref()).cloned());
        let jwk = match found {
            Some(j) => j,
            None => {
                keys = self.keys.refetch_on_demand(token, keys.as_ref());
                match keys.as_ref().and_then(|k| k.find(kid.as_deref()).cloned()) {
                    Some(j) => j,
                    None if keys.is_none() => {
                        return Err(refuse(
                            None,
                            None,
                            "signing keys of the issuer are not loaded (provider unreachable?)"
                                .into(),
                        ));
                    }
                    None => {
                        return Err(refuse(
                            None,
                            None,
                            match &kid {
                                Some(k) => format!("no signing key with kid {k:?}"),
                                None => "token has no kid and the issuer has several keys".into(),
                            },
                        ));
                    }
                }
            }
        };
        let verified = match self.verify(&alg, &jwk.json, token, now) {
            Ok(c) => c,
            Err(Refusal::KeyMismatch(e)) => {
                return Err(refuse(
                    None,
                    None,
                    format!(
                        "key {:?} cannot verify alg {alg:?}: {e}",
                        jwk.kid.as_deref().unwrap_or_default()
                    ),
                ));
            }
            Err(Refusal::Invalid(e)) => return Err(refuse(None, None, e)),
        };
        let Some(exp) = verified.expires_at else {
            return Err(refuse(None, None, "token has no exp".into()));
        };
        let claims = payload_claims(token)
            .ok_or_else(|| refuse(None, None, "token payload is not a JSON object".into()))?;
        let identity = grant::string_claim(&claims, &self.cfg.user_claim)
            .map_err(|e| refuse(None, None, format!("user_claim: {e}")))?;
        let id = Some(identity.as_str());
        let account = match &self.cfg.account {
            OidcAccount::Global => GLOBAL_ACCOUNT.to_owned(),
            OidcAccount::Fixed(a) => a.clone(),
            OidcAccount::Claim(c) => {
                let a = grant::string_claim(&claims, c)
                    .map_err(|e| refuse(id, None, format!("account_claim: {e}")))?;
                if !self.accounts.contains(&a) {
                    return Err(refuse(
                        id,
                        Some(&a),
                        format!("account_claim {c:?} names an account that is not configured"),
                    ));
                }
                a
            }
        };
        let acc = Some(account.as_str());
        let permissions = grant::permissions(
            self.cfg.permissions.as_ref(),
            &self.cfg.roles,
            self.cfg.roles_claim.as_deref(),
            &claims,
        )
        .map_err(|e| refuse(id, acc, e))?
        .map(|p| Permissions::compile(&p).map(Arc::new))
        .transpose()
        .map_err(|e| refuse(id, acc, format!("permissions: {e}")))?;
        let mut who = Authorized::new(account.clone(), identity, AuthMethod::Oidc);
        who.permissions = permissions;
        who.expires = Some(UNIX_EPOCH + Duration::from_secs(exp.as_secs()));
        Ok(who)
    }
}

/// Fills every template with a placeholder token and compiles, so a subject that can never
/// be valid is refused at start-up.
fn check_compiles(issuer: &str, p: &PermissionsConfig) -> Result<(), AuthConfigError> {
    let mut filled = p.clone();
    for list in [&mut filled.publish, &mut filled.subscribe]
        .into_iter()
        .flatten()
    {
        for s in list.allow.iter_mut().chain(list.deny.iter_mut()) {
            while let (Some(a), Some(b)) = (s.find("{{"), s.find("}}")) {
                if b < a {
                    break;
                }
                s.replace_range(a..b + 2, "x");
            }
        }
    }
    Permissions::compile(&filled)
        .map(|_| ())
        .map_err(|source| AuthConfigError::Permissions {
            owner: format!("oidc issuer {issuer:?}"),
            source,
        })
}

impl OidcAuth {
    /// The issuers of `server.authorization.oidc`: reads each `jwks_file` and starts a
    /// background refresher per `jwks_url`, which `fetcher` fetches (its first fetch runs at
    /// once; a provider that is down does not fail this, logins with it are refused until its
    /// keys load). Without a fetcher, `jwks_url` issuers refuse every login.
    pub fn from_config(
        server: &ServerConfig,
        fetcher: Option<Arc<dyn JwksFetcher>>,
    ) -> Result<Self, AuthConfigError> {
        let list = server
            .authorization
            .as_ref()
            .map(|a| a.oidc.as_slice())
            .unwrap_or_default();
        let issuers = list
            .iter()
            .enumerate()
            .map(|(i, c)| Issuer::new(c, server, i, None, fetcher.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { issuers })
    }

    /// Whether no issuer is configured.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    fn candidate<'a>(&'a self, req: &'a AuthRequest) -> Option<Candidate<'a>> {
        let tokens = [
            given(&req.token),
            given(&req.user).and_then(|_| given(&req.pass)),
        ];
        tokens.into_iter().flatten().find_map(|token| {
            let iss = unverified_issuer(token)?;
            let issuer = self.issuers.iter().find(|i| i.cfg.issuer == iss)?;
            Some(Candidate { token, issuer })
        })
    }

    #[cfg(test)]
    fn with_keys(server: &ServerConfig, keys: Vec<KeySet>) -> Result<Self, AuthConfigError> {
        let list = &server.authorization.as_ref().expect("authorization").oidc;
        let issuers = list
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (c, k))| Issuer::new(c, server, i, Some(k), None))
            .collect::<Result<_, _>>()?;
        Ok(Self { issuers })
    }
}

impl Authenticator for OidcAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let Some(c) = self.candidate(req) else {
            return Err(AuthError::NoCredentials);
        };
        c.issuer.authenticate(c.token, now)
    }

    /// Only when the token's key is not loaded and a fetch is granted to this login (a
    /// network round trip, at most one per issuer every few seconds).
    fn may_block(&self, req: &AuthRequest) -> bool {
        let Some(c) = self.candidate(req) else {
            return false;
        };
        let kid = Token::decode_metadata(c.token)
            .ok()
            .and_then(|m| m.key_id().map(str::to_owned));
        let known = c
            .issuer
            .keys
            .current()
            .is_some_and(|k| k.find(kid.as_deref()).is_some());
        // Not loaded yet: wait for the first fetch off the I/O thread.
        let loading = c.issuer.keys.is_loading();
        (!known && c.issuer.keys.claim_fetch(c.token)) || loading
    }
}

impl ChainMember for OidcAuth {
    /// The `auth_token`, or the `pass` of a request with a `user`, is a JWS whose unverified
    /// `iss` is a configured issuer.
    fn applies(&self, req: &AuthRequest) -> bool {
        self.candidate(req).is_some()
    }
}

impl fmt::Debug for OidcAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcAuth")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| i.cfg.issuer.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests;
