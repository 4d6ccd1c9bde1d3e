//! Operator (JWT) mode: the operators a server trusts ([`TrustedOperators`]), the account JWTs
//! it has verified ([`JwtAccounts`], backed by an [`AccountResolver`]), and user JWT logins
//! ([`OperatorAuth`]).
//!
//! An account JWT is verified once, when it is first needed or when an update arrives, and
//! kept with what is compiled from it (its default permissions); a login only verifies the
//! user JWT and the nonce signature.

mod login;
mod template;
mod times;

pub(crate) use template::apply as apply_template;
pub(crate) use times::allowed_for;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::SystemTime;

use nkeys::KeyPairType;
use rnats_config::ServerConfig;
use rnats_jwt::{AccountClaims, AccountResolver, OperatorClaims, UserScope};

use crate::Permissions;
use crate::error::AuthConfigError;
use crate::methods::permissions_config;
use crate::nkey::public_key;

pub use login::OperatorAuth;

/// The operators a server trusts: their identity and signing keys may sign accounts.
#[derive(Debug, Clone, Default)]
pub struct TrustedOperators {
    operators: Vec<OperatorClaims>,
    /// Keys that may sign account JWTs.
    trusted: HashSet<String>,
    /// Signing keys of operators with `strict_signing_key_usage`: an account they sign may
    /// not sign users with its own identity key.
    strict_signers: HashSet<String>,
    system_account: Option<String>,
}

impl TrustedOperators {
    /// The operators of `cfg.operator_mode` (operator JWTs, or bare `trusted` keys), checked as
    /// nats-server checks them when it starts: each operator JWT decodes, verifies and is
    /// self-signed; `assert_server_version` is at most `server_version`; the system account
    /// agrees with the operators' claims.
    pub fn from_config(
        cfg: &ServerConfig,
        server_version: (u64, u64, u64),
    ) -> Result<Self, AuthConfigError> {
        let mut out = Self::default();
        let Some(mode) = &cfg.operator_mode else {
            return Ok(out);
        };
        for op in &mode.operators {
            let claims = rnats_jwt::decode_operator(&op.jwt).map_err(|e| {
                AuthConfigError::Operator(format!("error parsing operator JWT: {e}"))
            })?;
            if !claims.is_self_signed() {
                return Err(AuthConfigError::Operator(format!(
                    "operator JWT {} is not self-signed",
                    claims.subject
                )));
            }
            check_version(&claims, server_version)?;
            if claims.strict_signing_key_usage {
                out.strict_signers
                    .extend(claims.signing_keys.iter().cloned());
            } else {
                out.trusted.insert(claims.subject.clone());
            }
            out.trusted.extend(claims.signing_keys.iter().cloned());
            out.operators.push(claims);
        }
        out.trusted.extend(mode.trusted_keys.iter().cloned());
        let claimed: Vec<Option<&str>> = out
            .operators
            .iter()
            .map(|o| o.system_account.as_deref())
            .collect();
        out.system_account = cfg
            .operator_system_account(&claimed)
            .map_err(|e| AuthConfigError::SystemAccount(e.to_string()))?;
        Ok(out)
    }

    /// The system account's public key, from the configuration or the operator JWT.
    pub fn system_account(&self) -> Option<&str> {
        self.system_account.as_deref()
    }

    /// The decoded operator JWTs.
    pub fn operators(&self) -> &[OperatorClaims] {
        &self.operators
    }

    /// Whether `key` may sign account JWTs.
    pub fn is_trusted(&self, key: &str) -> bool {
        self.trusted.contains(key)
    }

    /// Whether an account signed by `issuer` must not sign users with its identity key.
    pub fn is_strict(&self, issuer: &str) -> bool {
        self.strict_signers.contains(issuer)
    }

    /// Keys that may sign a request to delete accounts from a full resolver (nats-server: the
    /// first operator's identity key unless it is strict, and its signing keys).
    pub fn may_delete(&self, key: &str) -> bool {
        self.operators.first().is_some_and(|op| {
            (key == op.subject && !op.strict_signing_key_usage)
                || op.signing_keys.iter().any(|k| k == key)
        })
    }

    /// Whether the first operator is strict (its identity key may not sign accounts).
    pub fn first_is_strict(&self) -> Option<&str> {
        self.operators
            .first()
            .filter(|o| o.strict_signing_key_usage)
            .map(|o| o.subject.as_str())
    }

    /// Decodes and verifies an account JWT at `now`: signature, times and a trusted issuer.
    /// The error is a reason for the log.
    pub fn verify_account(&self, jwt: &str, now: SystemTime) -> Result<AccountClaims, String> {
        let claims = rnats_jwt::decode_account_at(jwt, now).map_err(|e| e.to_string())?;
        if !self.trusted.contains(&claims.issuer) {
            return Err(format!(
                "account JWT of {} is not signed by a trusted operator (issuer {})",
                claims.subject, claims.issuer
            ));
        }
        validate_account(&claims)?;
        Ok(claims)
    }
}

/// nats-io/jwt's blocking checks of an account (limits on imports, exports and wildcard
/// exports, overlapping exports, mappings, …), worded as nats-server reports them.
pub fn validate_account(claims: &AccountClaims) -> Result<(), String> {
    let errors = claims.validation_errors();
    if errors.is_empty() {
        return Ok(());
    }
    Err(format!("validation errors: [{}]", errors.join(" ")))
}

/// `assert_server_version`, with nats-server's messages.
fn check_version(
    op: &OperatorClaims,
    (major, minor, update): (u64, u64, u64),
) -> Result<(), AuthConfigError> {
    let asserted = op.asserted_server_version().map_err(|e| {
        AuthConfigError::Operator(format!(
            "operator {} expects version {} got error instead: {e}",
            op.subject,
            op.assert_server_version.as_deref().unwrap_or_default()
        ))
    })?;
    let Some((a, b, c)) = asserted else {
        return Ok(());
    };
    let refuse = |what: &str, want: u64, have: u64| {
        Err(AuthConfigError::Operator(format!(
            "operator {} expected {what} version {want} > server {what} version {have}",
            op.subject
        )))
    };
    if a != major {
        return if a > major {
            refuse("major", a, major)
        } else {
            Ok(())
        };
    }
    if b != minor {
        return if b > minor {
            refuse("minor", b, minor)
        } else {
            Ok(())
        };
    }
    if c > update {
        return refuse("update", c, update);
    }
    Ok(())
}

/// A verified account JWT and what is compiled from it.
pub struct JwtAccount {
    /// The claims.
    pub claims: AccountClaims,
    /// The JWT as received.
    pub jwt: String,
    default_permissions: Option<Arc<Permissions>>,
    /// Whether the account's identity key may sign users (not under a strict operator).
    identity_signs: bool,
    /// A number per signing key that changes whenever an update changes the key's scope, so
    /// that users issued under the old scope can be told apart (nats-server closes them).
    scope_versions: HashMap<String, u64>,
}

impl JwtAccount {
    fn new(claims: AccountClaims, jwt: String, trust: &TrustedOperators) -> Result<Self, String> {
        let default_permissions = if claims.default_permissions.is_empty() {
            None
        } else {
            let compiled = Permissions::compile(&permissions_config(&claims.default_permissions))
                .map_err(|e| {
                format!("default_permissions of account {}: {e}", claims.subject)
            })?;
            Some(Arc::new(compiled))
        };
        Ok(Self {
            identity_signs: !trust.is_strict(&claims.issuer),
            default_permissions,
            scope_versions: HashMap::new(),
            claims,
            jwt,
        })
    }

    /// Numbers the signing keys' scopes: kept from `previous` where a key's scope is the same,
    /// fresh where it changed or is new.
    fn number_scopes(&mut self, previous: Option<&Self>) {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        for (key, scope) in self.claims.signing_keys.iter() {
            let kept = previous.and_then(|p| {
                let same = p.claims.signing_keys.get(key) == Some(scope);
                same.then(|| p.scope_versions.get(key).copied()).flatten()
            });
            let version = kept.unwrap_or_else(|| NEXT.fetch_add(1, Ordering::Relaxed));
            self.scope_versions.insert(key.to_owned(), version);
        }
    }

    /// The number of `key`'s current scope (see [`JwtAccount::signer`]); 0 for the account's
    /// own key.
    pub fn scope_version(&self, key: &str) -> u64 {
        self.scope_versions.get(key).copied().unwrap_or(0)
    }

    /// The account's public key (its name in the broker).
    pub fn key(&self) -> &str {
        &self.claims.subject
    }

    /// Whether `issuer` may sign users of this account: `Some(None)` for its identity key or
    /// a plain signing key, `Some(Some(scope))` for a scoped signing key, `None` otherwise.
    pub fn signer(&self, issuer: &str) -> Option<Option<&UserScope>> {
        if let Some(scope) = self.claims.signing_keys.get(issuer) {
            return Some(scope);
        }
        (self.identity_signs && issuer == self.claims.subject).then_some(None)
    }

    /// The permissions of users whose JWT sets none.
    pub fn default_permissions(&self) -> Option<&Arc<Permissions>> {
        self.default_permissions.as_ref()
    }

    /// Whether the account JWT has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.claims.expires.is_some_and(|exp| now >= exp)
    }
}

impl fmt::Debug for JwtAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAccount")
            .field("key", &self.claims.subject)
            .field("name", &self.claims.name)
            .finish_non_exhaustive()
    }
}

/// The account JWTs a server has verified, by account public key, with the resolver they
/// come from. Bounded by the resolver: only a JWT the resolver holds is ever loaded.
pub struct JwtAccounts {
    trust: TrustedOperators,
    resolver: Arc<dyn AccountResolver>,
    loaded: RwLock<HashMap<String, Arc<JwtAccount>>>,
    /// Told of each account a remote resolver fetched and that was then loaded.
    on_fetched: OnceLock<FetchHook>,
}

/// What [`JwtAccounts::on_fetched`] calls: with the account key, on the thread that fetched
/// it (never an I/O thread); it returns once the server has put the account in force.
pub type FetchHook = Box<dyn Fn(&str) + Send + Sync>;

impl JwtAccounts {
    /// Accounts verified against `trust`, fetched from `resolver`.
    pub fn new(trust: TrustedOperators, resolver: Arc<dyn AccountResolver>) -> Self {
        Self {
            trust,
            resolver,
            loaded: RwLock::default(),
            on_fetched: OnceLock::new(),
        }
    }

    /// Sets what is called after an account fetched by a remote resolver
    /// ([`AccountResolver::is_remote`]) was verified and loaded, before the login that needed
    /// it goes on (the server builds the account's imports, exports and mappings there).
    /// Only the first hook set is kept.
    pub fn on_fetched(&self, hook: FetchHook) {
        let _ = self.on_fetched.set(hook);
    }

    /// Whether getting `key` may wait on the network: it is not loaded and the resolver
    /// would fetch it remotely. Answers at once.
    pub fn get_may_block(&self, key: &str) -> bool {
        if !self.resolver.is_remote() {
            return false;
        }
        let stale = self
            .loaded_account(key)
            .is_none_or(|a| a.is_expired(SystemTime::now()));
        stale && self.resolver.fetch_may_block(key)
    }

    /// The trusted operators.
    pub fn trust(&self) -> &TrustedOperators {
        &self.trust
    }

    /// The resolver.
    pub fn resolver(&self) -> &Arc<dyn AccountResolver> {
        &self.resolver
    }

    /// The verified account `key`: from memory, or fetched from the resolver and verified
    /// (then kept). The error is a reason for the log.
    ///
    /// With a remote resolver, an account whose JWT has expired is fetched again (nats-server
    /// `updateAccount`): a renewed JWT replaces it.
    pub fn get(&self, key: &str, now: SystemTime) -> Result<Arc<JwtAccount>, String> {
        if let Some(a) = self.loaded_account(key) {
            if !(a.is_expired(now) && self.resolver.is_remote()) {
                return Ok(a);
            }
            let renewed = match self.resolver.fetch(key) {
                Some(jwt) if jwt != a.jwt => self.load(&jwt, Some(key), now).ok(),
                _ => None,
            };
            let Some(renewed) = renewed else {
                return Ok(a);
            };
            if let Some(hook) = self.on_fetched.get() {
                hook(key);
            }
            return Ok(renewed);
        }
        if public_key(key, &KeyPairType::Account).is_none() {
            return Err("will only fetch valid account keys".to_owned());
        }
        let Some(jwt) = self.resolver.fetch(key) else {
            return Err(format!("account {key} not found by the resolver"));
        };
        let account = self.load(&jwt, Some(key), now)?;
        if self.resolver.is_remote()
            && let Some(hook) = self.on_fetched.get()
        {
            hook(key);
        }
        Ok(account)
    }

    /// The account `key` if it is loaded.
    pub fn loaded_account(&self, key: &str) -> Option<Arc<JwtAccount>> {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    /// Verifies `jwt` (which must be about `expect`, when given) and puts it in force for its
    /// account, replacing what was loaded. Does not store it in the resolver.
    pub fn load(
        &self,
        jwt: &str,
        expect: Option<&str>,
        now: SystemTime,
    ) -> Result<Arc<JwtAccount>, String> {
        let claims = self.trust.verify_account(jwt, now)?;
        if expect.is_some_and(|k| k != claims.subject) {
            return Err("account validation failed: subject does not match".to_owned());
        }
        let mut account = JwtAccount::new(claims, jwt.to_owned(), &self.trust)?;
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        account.number_scopes(loaded.get(account.key()).map(|a| &**a));
        let account = Arc::new(account);
        loaded.insert(account.key().to_owned(), account.clone());
        Ok(account)
    }

    /// Forgets account `key` (deleted from the resolver).
    pub fn unload(&self, key: &str) -> Option<Arc<JwtAccount>> {
        self.loaded
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key)
    }

    /// Every loaded account, in key order.
    pub fn loaded(&self) -> Vec<Arc<JwtAccount>> {
        let mut all: Vec<Arc<JwtAccount>> = self
            .loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.key().cmp(b.key()));
        all
    }
}

impl fmt::Debug for JwtAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAccounts")
            .field("resolver", &self.resolver)
            .finish_non_exhaustive()
    }
}
