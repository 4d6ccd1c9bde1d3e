//! [`ServerAuth`]: the [`AuthChain`] that `authorization {}`, `accounts {}`, `no_auth_user`,
//! `system_account` and `tls { verify_and_map }` describe, with what else the broker needs
//! from those blocks.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rnats_config::{AccountConfig, PermissionsConfig, ServerConfig, UserConfig};

use crate::authenticator::Authenticator;
use crate::callout::CalloutPolicy;
use crate::chain::AuthChain;
use crate::error::{AuthConfigError, AuthError};
use crate::grant::UserGrant;
use crate::methods::{
    AllowAll, NkeyAuth, NoAuthUser, PasswordAuth, SigningKeyJwtAuth, SingleUserAuth, TlsMapAuth,
    TokenAuth, UserTable, plaintext_warning,
};
use crate::oidc::{JwksFetcher, OidcAuth};
use crate::secret::{SecretCache, SecretCacheStats};
use crate::{AuthRequest, Authorized, ConnectionType, Permissions};

/// The account of users outside `accounts {}`.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// `authorization.timeout` when unset and without TLS.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";
const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything `authorization {}`, `accounts {}`, `no_auth_user`, `system_account` and
/// `tls { verify_and_map }` configure, checked and compiled into an [`AuthChain`] in
/// nats-server's order (see the crate docs):
///
/// | member | when |
/// |---|---|
/// | [`NkeyAuth`] | NKey users exist |
/// | [`SigningKeyJwtAuth`] | an account lists `signing_keys` |
/// | [`TlsMapAuth`] | `verify_and_map` and users exist |
/// | [`NoAuthUser`] | `no_auth_user`, or the hidden global user |
/// | [`PasswordAuth`] | credentials are configured and there is no single user |
/// | [`TokenAuth`] / [`SingleUserAuth`] | `authorization { token }` / `{ user, password }` |
/// | [`AllowAll`] | alone: an `authorization`/`accounts` block or `no_auth_user` without credentials |
///
/// Nothing configured at all (no `authorization` block, no `accounts`, no `no_auth_user`):
/// the chain is empty and [`configured`](Authenticator::configured) is `false`.
///
/// It is an [`Authenticator`] itself (delegating to the chain), and keeps what the broker
/// needs besides: the accounts, the system account's name, the plaintext-password warnings
/// and the verified-secret cache's counters.
pub struct ServerAuth {
    chain: AuthChain,
    accounts: Vec<AccountConfig>,
    system_account: String,
    plaintext_warnings: Vec<String>,
    cache: Arc<SecretCache>,
    callout: Option<Arc<CalloutPolicy>>,
}

impl ServerAuth {
    /// Checks and compiles the auth parts of `cfg`. `oidc` issuers with a `jwks_url` get no
    /// keys this way: see [`ServerAuth::from_config_with_fetcher`].
    pub fn from_config(cfg: &ServerConfig) -> Result<Self, AuthConfigError> {
        Self::from_config_with_fetcher(cfg, None)
    }

    /// As [`ServerAuth::from_config`], with `fetcher` fetching the JWK Sets of `oidc` issuers
    /// configured with a `jwks_url` (the broker installs an HTTPS one).
    pub fn from_config_with_fetcher(
        cfg: &ServerConfig,
        fetcher: Option<Arc<dyn JwksFetcher>>,
    ) -> Result<Self, AuthConfigError> {
        let auth = cfg.authorization.clone().unwrap_or_default();
        for a in &cfg.accounts {
            if a.name == GLOBAL_ACCOUNT {
                return Err(AuthConfigError::ReservedAccount);
            }
        }
        let account_users = cfg.accounts.iter().any(|a| !a.users.is_empty());
        let has_single = auth.user.is_some() || auth.password.is_some();
        if auth.token.is_some() && has_single {
            return Err(AuthConfigError::TokenAndUser);
        }
        if has_single && !auth.users.is_empty() {
            return Err(AuthConfigError::SingleUserAndUsers);
        }
        if auth.token.is_some() && !auth.users.is_empty() {
            return Err(AuthConfigError::TokenAndUsers);
        }
        if auth.token.is_some() && account_users {
            return Err(AuthConfigError::TokenAndAccounts);
        }
        if has_single && account_users {
            return Err(AuthConfigError::SingleUserAndAccounts);
        }

        let compile = |owner: String, p: &PermissionsConfig| {
            Permissions::compile(p)
                .map(Arc::new)
                .map_err(|source| AuthConfigError::Permissions { owner, source })
        };
        let global_default = auth
            .default_permissions
            .as_ref()
            .map(|p| compile("authorization default_permissions".into(), p))
            .transpose()?;
        let mut account_defaults: HashMap<&str, Arc<Permissions>> = HashMap::new();
        for a in &cfg.accounts {
            if let Some(p) = &a.default_permissions {
                account_defaults.insert(
                    &a.name,
                    compile(format!("account {:?} default_permissions", a.name), p)?,
                );
            }
        }

        // (user, the account it lands in, the default permissions that apply to it)
        let mut entries: Vec<(&UserConfig, String, Option<Arc<Permissions>>)> = Vec::new();
        for u in &auth.users {
            let account = u.account.clone().unwrap_or_else(|| GLOBAL_ACCOUNT.into());
            if account != GLOBAL_ACCOUNT && !cfg.accounts.iter().any(|a| a.name == account) {
                return Err(AuthConfigError::UnknownAccount(account));
            }
            let default = global_default
                .clone()
                .or_else(|| account_defaults.get(account.as_str()).cloned());
            entries.push((u, account, default));
        }
        for a in &cfg.accounts {
            for u in &a.users {
                entries.push((
                    u,
                    a.name.clone(),
                    account_defaults.get(a.name.as_str()).cloned(),
                ));
            }
        }

        let callout = auth.auth_callout.as_ref().map(|c| {
            let names: Vec<String> = entries
                .iter()
                .filter_map(|(u, _, _)| u.user.clone().or_else(|| u.nkey.clone()))
                .collect();
            let accounts = cfg
                .accounts
                .iter()
                .map(|a| {
                    (
                        a.name.clone(),
                        account_defaults.get(a.name.as_str()).cloned(),
                    )
                })
                .collect();
            let signing_keys: Vec<String> = cfg
                .accounts
                .iter()
                .filter(|a| a.name == c.account)
                .flat_map(|a| a.signing_keys.iter().cloned())
                .collect();
            Arc::new(CalloutPolicy::new(c, accounts, &signing_keys, &names))
        });

        let cache = Arc::new(SecretCache::new());
        let mut users = UserTable::with_cache(cache.clone());
        let mut nkeys = NkeyAuth::new();
        for (u, account, default) in entries {
            let owner = u
                .user
                .clone()
                .or_else(|| u.nkey.clone())
                .unwrap_or_default();
            let permissions = match &u.permissions {
                Some(p) => Some(compile(format!("user {owner:?}"), p)?),
                None => default,
            };
            let grant = UserGrant::new(account)
                .with_permissions(permissions)
                .with_connection_types(connection_types(&u.allowed_connection_types)?)
                .with_deadline(u.connection_deadline)
                .with_proxy_required(u.proxy_required)
                .with_max_connections(u.max_connections);
            match (&u.nkey, &u.user) {
                (Some(_), Some(_)) => return Err(AuthConfigError::NkeyWithPassword),
                (Some(_), None) if u.password.is_some() => {
                    return Err(AuthConfigError::NkeyWithPassword);
                }
                (Some(nk), None) => nkeys.insert(nk, grant)?,
                (None, Some(name)) => users.insert(name.clone(), u.password.as_deref(), grant)?,
                (None, None) => return Err(AuthConfigError::UserWithoutName),
            }
        }
        let mut plaintext_warnings = users.plaintext_password_warnings().to_vec();

        let single_user = if has_single {
            let name = auth.user.clone().unwrap_or_default();
            let single = SingleUserAuth::with_cache(
                name.clone(),
                auth.password.as_deref().unwrap_or_default(),
                cache.clone(),
            )?;
            if !single.is_hashed() {
                plaintext_warnings.push(plaintext_warning(&name));
            }
            Some(single)
        } else {
            None
        };

        let no_auth_user = match &cfg.no_auth_user {
            None => None,
            Some(n) => match users.grant(n).or_else(|| nkeys.grant(n)) {
                Some(grant) => Some(NoAuthUser::new(n.clone(), grant.clone())),
                None => return Err(AuthConfigError::UnknownNoAuthUser(n.clone())),
            },
        };

        let mut jwt = SigningKeyJwtAuth::new();
        for a in &cfg.accounts {
            jwt.add_account(
                &a.name,
                a.nkey.as_deref(),
                &a.signing_keys,
                account_defaults.get(a.name.as_str()).cloned(),
            )?;
        }

        let system_account = cfg
            .system_account
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_ACCOUNT.into());
        // Only the system account has users (and no `authorization {}`): anonymous clients go
        // to `$G` while INFO still says `auth_required` (nats-server's hidden no-auth user).
        let hidden_global_user = cfg.authorization.is_none()
            && cfg.no_auth_user.is_none()
            && cfg.accounts.len() == 1
            && cfg.accounts[0].name == system_account;

        let auth_timeout = auth_timeout_of(cfg);

        // Keep the accounts for the broker, without the secrets it has no use for.
        let accounts = cfg
            .accounts
            .iter()
            .cloned()
            .map(|mut a| {
                for u in &mut a.users {
                    u.password = None;
                }
                a
            })
            .collect();

        let token = auth
            .token
            .as_deref()
            .map(|t| TokenAuth::with_cache(t, cache.clone()))
            .transpose()?;

        let oidc = OidcAuth::from_config(cfg, fetcher)?;

        let credentials = !oidc.is_empty()
            || !users.is_empty()
            || !nkeys.is_empty()
            || !jwt.is_empty()
            || token.is_some()
            || single_user.is_some();
        let mentioned =
            cfg.authorization.is_some() || !cfg.accounts.is_empty() || cfg.no_auth_user.is_some();
        let verify_and_map = cfg.tls.as_ref().is_some_and(|t| t.verify_and_map);

        let mut chain = AuthChain::new().with_auth_timeout(auth_timeout);
        if credentials {
            let users = Arc::new(users);
            if !nkeys.is_empty() {
                chain.push(nkeys);
            }
            if !jwt.is_empty() {
                chain.push(jwt);
            }
            if !oidc.is_empty() {
                chain.push(oidc);
            }
            if verify_and_map && !users.is_empty() {
                chain.push(TlsMapAuth::new(users.clone()));
            }
            if let Some(n) = no_auth_user {
                chain.push(n);
            } else if hidden_global_user {
                chain.push(NoAuthUser::hidden_global());
            }
            if single_user.is_none() {
                // Even with no user in it: a client naming a user is then refused as unknown.
                chain.push(PasswordAuth::new(users));
            }
            if let Some(t) = token {
                chain.push(t);
            }
            if let Some(s) = single_user {
                chain.push(s);
            }
        } else if mentioned {
            chain.push(AllowAll);
        }

        Ok(Self {
            chain,
            accounts,
            system_account,
            plaintext_warnings,
            cache,
            callout,
        })
    }

    /// The auth callout, when `authorization { auth_callout {} }` is configured.
    pub fn callout(&self) -> Option<&Arc<CalloutPolicy>> {
        self.callout.as_ref()
    }

    /// The configured accounts (user passwords removed).
    pub fn accounts(&self) -> &[AccountConfig] {
        &self.accounts
    }

    /// The system account's name (`$SYS` unless configured).
    pub fn system_account(&self) -> &str {
        &self.system_account
    }

    /// nats-server's `Plaintext passwords detected, use nkeys or bcrypt` warning, one line per
    /// user with a plaintext password (names only, never the password).
    pub fn plaintext_password_warnings(&self) -> Vec<String> {
        self.plaintext_warnings.clone()
    }

    /// Hits, misses and size of the verified-secret cache.
    pub fn secret_cache_stats(&self) -> SecretCacheStats {
        self.cache.stats()
    }

    /// The chain that authenticates.
    pub fn chain(&self) -> &AuthChain {
        &self.chain
    }

    /// The chain alone, for a caller that keeps nothing else.
    pub fn into_chain(self) -> AuthChain {
        self.chain
    }
}

/// Delegates to the chain.
impl Authenticator for ServerAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.chain.authenticate(req)
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        self.chain.authenticate_at(req, now)
    }

    /// Whether the configuration has an `authorization` block, any `accounts` or a
    /// `no_auth_user`.
    fn configured(&self) -> bool {
        self.chain.configured()
    }

    /// Some user, NKey, token or signing key is configured, and there is no `no_auth_user`.
    fn auth_required(&self) -> bool {
        self.chain.auth_required()
    }

    /// NKey users or JWT-issuing accounts exist.
    fn needs_nonce(&self) -> bool {
        self.chain.needs_nonce()
    }

    /// `authorization.timeout`, else 2 s (TLS timeout + 1 s when TLS is on).
    fn auth_timeout(&self) -> Duration {
        self.chain.auth_timeout()
    }

    /// Only a check that may run bcrypt or argon2: NKey and JWT logins, plain secrets and
    /// secrets verified recently (cache hits) answer in microseconds, so a broker can serve
    /// returning users at once even while a flood of failed logins waits for hashing workers.
    fn may_block(&self, req: &AuthRequest) -> bool {
        self.chain.may_block(req)
    }

    /// Forgets every verified secret (on reload).
    fn clear_cache(&self) {
        self.cache.clear();
    }
}

impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerAuth")
            .field("chain", &self.chain)
            .field("system_account", &self.system_account)
            .finish_non_exhaustive()
    }
}

/// `authorization.timeout`, else 2 s (the TLS timeout + 1 s when TLS is on).
pub(crate) fn auth_timeout_of(cfg: &ServerConfig) -> Duration {
    let timeout = cfg.authorization.as_ref().and_then(|a| a.timeout);
    timeout.unwrap_or_else(|| match &cfg.tls {
        Some(t) => t.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT) + Duration::from_secs(1),
        None => DEFAULT_AUTH_TIMEOUT,
    })
}

fn connection_types(names: &[String]) -> Result<Vec<ConnectionType>, AuthConfigError> {
    names
        .iter()
        .map(|n| {
            ConnectionType::parse(n)
                .ok_or_else(|| AuthConfigError::UnknownConnectionType(n.clone()))
        })
        .collect()
}
