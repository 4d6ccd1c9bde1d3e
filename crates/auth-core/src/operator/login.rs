//! [`OperatorAuth`]: user JWT logins in operator mode, checked in nats-server's order
//! (`processClientOrLeafAuthentication`).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rnats_config::ServerConfig;
use rnats_jwt::UserClaims;

use super::{JwtAccount, JwtAccounts, template, times};
use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::methods::{
    check_source, check_user_signature, jwt_connection_types, permissions_config,
};
use crate::server::auth_timeout_of;
use crate::{AuthMethod, AuthRequest, Authorized, Permissions};

/// User JWT logins against the accounts of a [`JwtAccounts`]: the only authentication method
/// of operator mode (nats-server ignores `authorization` users and tokens there).
///
/// A login presents a user JWT (or gets the `default_sentinel`); its account is the JWT's
/// `issuer_account`, else its issuer. In order: the account must be pinned (when
/// `resolver_pinned_accounts` is set) and resolve to a trusted account JWT; the issuer must be
/// the account's identity key or one of its signing keys (a scoped key's template then gives
/// the permissions and limits, and the user JWT may set none); the account must not have
/// expired, nor forbid bearer tokens if this is one; the connection type must be allowed; a
/// non-bearer JWT needs the nonce signed by the user key; the user must not be revoked, and
/// must come from its `src` networks within its `times`.
pub struct OperatorAuth {
    accounts: Arc<JwtAccounts>,
    pinned: HashSet<String>,
    default_sentinel: Option<String>,
    auth_timeout: Duration,
}

impl OperatorAuth {
    /// Logins against `accounts`, with the operator-mode options of `cfg`
    /// (`resolver_pinned_accounts`, `default_sentinel`, `authorization.timeout`).
    pub fn new(cfg: &ServerConfig, accounts: Arc<JwtAccounts>) -> Result<Self, AuthConfigError> {
        let mode = cfg.operator_mode.clone().unwrap_or_default();
        let mut pinned: HashSet<String> = mode.resolver_pinned_accounts.iter().cloned().collect();
        if !pinned.is_empty()
            && let Some(sys) = accounts.trust().system_account()
        {
            pinned.insert(sys.to_owned());
        }
        if let Some(sentinel) = &mode.default_sentinel {
            // jwt.go validateTrustedOperators.
            let claims = rnats_jwt::decode_user(sentinel).map_err(|_| {
                AuthConfigError::Operator("default sentinel JWT not valid".to_owned())
            })?;
            let scoped = claims.issuer_account.is_some() && claims.has_empty_permissions();
            if !claims.bearer_token && !scoped {
                return Err(AuthConfigError::Operator(
                    "default sentinel must be a bearer token".to_owned(),
                ));
            }
        }
        Ok(Self {
            accounts,
            pinned,
            default_sentinel: mode.default_sentinel,
            auth_timeout: auth_timeout_of(cfg),
        })
    }

    /// The accounts logins are checked against.
    pub fn accounts(&self) -> &Arc<JwtAccounts> {
        &self.accounts
    }

    fn login(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let jwt = given(&req.jwt)
            .or(self.default_sentinel.as_deref())
            .ok_or(AuthError::NoUserJwt)?;
        let mut user = rnats_jwt::decode_user_at(jwt, now)?;
        let identity = user.subject.clone();
        if user.proxy_required {
            return Err(AuthError::ProxyRequired { identity });
        }
        let account_key = user
            .issuer_account
            .clone()
            .unwrap_or_else(|| user.issuer.clone());
        if !self.pinned.is_empty() && !self.pinned.contains(&account_key) {
            return Err(AuthError::AccountNotPinned {
                account: account_key,
            });
        }
        let account =
            self.accounts
                .get(&account_key, now)
                .map_err(|reason| AuthError::AccountLookup {
                    account: account_key.clone(),
                    reason,
                })?;
        let scoped = match account.signer(&user.issuer) {
            None => {
                return Err(AuthError::UnknownIssuer {
                    issuer: user.issuer.clone(),
                    account: account_key,
                });
            }
            Some(scope) => scope.cloned(),
        };
        if let Some(scope) = &scoped {
            if !user.has_empty_permissions() {
                return Err(AuthError::ScopedUserWithPermissions { identity });
            }
            let filled = template::apply(scope.template.clone(), &user, &account.claims).map_err(
                |reason| AuthError::BadTemplate {
                    identity: identity.clone(),
                    reason,
                },
            )?;
            user.set_permission_limits(filled);
        }
        if account.is_expired(now) {
            return Err(AuthError::AccountExpired {
                account: account_key,
            });
        }
        if user.bearer_token && account.claims.limits.disallow_bearer {
            return Err(AuthError::BearerNotAllowed {
                account: account_key,
            });
        }
        let types = jwt_connection_types(&user.allowed_connection_types, &identity)?;
        if !types.allows(req.connection_type) {
            return Err(AuthError::ConnectionTypeNotAllowed {
                identity,
                connection_type: req.connection_type,
            });
        }
        check_user_signature(&user, &identity, req)?;
        let issued_at = user.issued_at.unwrap_or(SystemTime::UNIX_EPOCH);
        if account.claims.revocations.is_revoked(&identity, issued_at) {
            return Err(AuthError::Revoked { identity });
        }
        check_source(&user, &identity, req)?;
        let window = times::allowed_for(&user.times, user.times_location.as_deref(), now)
            .map_err(|reason| AuthError::BadConnectTimes {
                identity: identity.clone(),
                reason,
            })?
            .ok_or_else(|| AuthError::OutsideConnectTimes {
                identity: identity.clone(),
            })?;
        let mut expires = user.expires;
        if window != Duration::MAX {
            let end = now + window;
            expires = Some(expires.map_or(end, |e| e.min(end)));
        }
        let permissions = user_permissions(&user, &account)?;
        let mut authorized = Authorized::new(account_key, identity, AuthMethod::Jwt);
        authorized.permissions = permissions;
        authorized.expires = expires;
        let limits = &account.claims.limits;
        authorized.max_subscriptions = lowest(user.limits.subscriptions, limits.subs);
        authorized.max_payload = lowest(user.limits.payload, limits.payload);
        authorized.max_account_connections = u32::try_from(limits.conn)
            .ok()
            .or_else(|| (limits.conn >= 0).then_some(u32::MAX));
        // nats-server remembers the signing key of users whose JWT names its account.
        authorized.signing_key = user.issuer_account.is_some().then(|| user.issuer.clone());
        authorized.signing_key_version = account.scope_version(&user.issuer);
        Ok(authorized)
    }
}

/// nats-server's `minLimit`: the user's limit, lowered by the account's, where `-1` (any
/// negative) is unlimited and 0 is zero. `None`: unlimited (only the server's limit).
fn lowest(user: i64, account: i64) -> Option<u32> {
    let v = match (user < 0, account < 0) {
        (true, _) => account,
        (false, true) => user,
        (false, false) => user.min(account),
    };
    (v >= 0).then(|| u32::try_from(v).unwrap_or(u32::MAX))
}

/// The user's own permissions, or its account's defaults when it has none.
fn user_permissions(
    user: &UserClaims,
    account: &JwtAccount,
) -> Result<Option<Arc<Permissions>>, AuthError> {
    if user.permissions.is_empty() {
        return Ok(account.default_permissions().cloned());
    }
    Permissions::compile(&permissions_config(&user.permissions))
        .map(|p| Some(Arc::new(p)))
        .map_err(|source| AuthError::BadJwtPermissions {
            identity: user.subject.clone(),
            source,
        })
}

impl Authenticator for OperatorAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        self.login(req, now)
    }

    /// Always: user JWTs sign the nonce.
    fn needs_nonce(&self) -> bool {
        true
    }

    fn auth_timeout(&self) -> Duration {
        self.auth_timeout
    }

    /// Only when the user's account is not loaded and a remote resolver (URL, cache) would
    /// fetch it: otherwise account JWTs come from the resolver's memory and were verified
    /// when loaded, and a login verifies two signatures.
    fn may_block(&self, req: &AuthRequest) -> bool {
        if !self.accounts.resolver().is_remote() {
            return false;
        }
        let Some(jwt) = given(&req.jwt).or(self.default_sentinel.as_deref()) else {
            return false;
        };
        let Ok(peek) = rnats_jwt::peek(jwt) else {
            return false;
        };
        let account = peek.issuer_account.unwrap_or(peek.issuer);
        self.accounts.get_may_block(&account)
    }
}

impl ChainMember for OperatorAuth {
    /// Every request: operator mode has no other method.
    fn applies(&self, _req: &AuthRequest) -> bool {
        true
    }
}

impl fmt::Debug for OperatorAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorAuth")
            .field("pinned", &self.pinned.len())
            .field("default_sentinel", &self.default_sentinel.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memory resolver that says it fetches remotely what it does not hold.
    #[derive(Debug, Default)]
    struct Remote(rnats_jwt::MemoryResolver);

    impl rnats_jwt::AccountResolver for Remote {
        fn fetch(&self, account: &str) -> Option<String> {
            self.0.fetch(account)
        }
        fn store(&self, account: &str, jwt: &str) -> Result<bool, rnats_jwt::ResolverError> {
            self.0.store(account, jwt)
        }
        fn list(&self) -> Vec<String> {
            self.0.list()
        }
        fn is_remote(&self) -> bool {
            true
        }
        fn fetch_may_block(&self, account: &str) -> bool {
            self.0.fetch(account).is_none()
        }
    }

    #[test]
    fn only_a_remote_fetch_goes_off_the_io_threads() {
        use rnats_jwt::AccountResolver as _;
        let op = nkeys::KeyPair::new_operator();
        let op_jwt =
            rnats_jwt::encode_operator(&rnats_jwt::OperatorClaims::new(op.public_key()), &op)
                .unwrap();
        let cfg =
            rnats_config::load_str(&format!("operator: \"{op_jwt}\"\nresolver: MEMORY\n"), None)
                .unwrap()
                .config;
        let trust = crate::TrustedOperators::from_config(&cfg, (2, 15, 1)).unwrap();
        let resolver = Arc::new(Remote::default());
        let accounts = Arc::new(JwtAccounts::new(trust, resolver.clone()));
        let auth = OperatorAuth::new(&cfg, accounts.clone()).unwrap();
        let (a, b) = (nkeys::KeyPair::new_account(), nkeys::KeyPair::new_account());
        let a_jwt =
            rnats_jwt::encode_account(&rnats_jwt::AccountClaims::new(a.public_key()), &op).unwrap();
        resolver.store(&a.public_key(), &a_jwt).unwrap();
        let request = |account: &nkeys::KeyPair| {
            let user = nkeys::KeyPair::new_user();
            let claims = UserClaims::new(user.public_key(), account.public_key());
            let mut r = AuthRequest::new(
                ([127, 0, 0, 1], 4222).into(),
                crate::ConnectionType::Standard,
            );
            r.jwt = Some(rnats_jwt::encode_user(&claims, account));
            r
        };
        assert!(!auth.may_block(&request(&a)), "held by the resolver");
        assert!(auth.may_block(&request(&b)), "must be fetched");
        let fetched = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = fetched.clone();
        accounts.on_fetched(Box::new(move |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
        accounts.get(&a.public_key(), SystemTime::now()).unwrap();
        assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(!auth.may_block(&AuthRequest::new(
            ([127, 0, 0, 1], 4222).into(),
            crate::ConnectionType::Standard
        )));
    }

    #[test]
    fn limits_follow_min_limit() {
        assert_eq!(lowest(-1, -1), None);
        assert_eq!(lowest(-1, 5), Some(5));
        assert_eq!(lowest(7, -1), Some(7));
        assert_eq!(lowest(7, 5), Some(5));
        assert_eq!(lowest(0, 5), Some(0));
        assert_eq!(lowest(-1, 0), Some(0));
    }
}
