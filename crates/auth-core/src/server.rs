//! [`ServerAuth`]: everything `authorization {}`, `accounts {}`, `no_auth_user` and
//! `system_account` configure, as one [`Authenticator`].

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nkeys::{KeyPair, KeyPairType};
use rnats_config::{AccountConfig, PermissionsConfig, ServerConfig, UserConfig};
use rnats_jwt::UserClaims;

use crate::error::{AuthConfigError, AuthError};
use crate::nkey::{public_key, verify_nonce};
use crate::secret::{SecretCache, SecretCacheStats, StoredSecret};
use crate::tls_map::map_certificate_user;
use crate::{AuthMethod, AuthRequest, Authenticator, Authorized, ConnectionType, Permissions};

/// The account of users outside `accounts {}`.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// `authorization.timeout` when unset and without TLS.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
const DEFAULT_SYSTEM_ACCOUNT: &str = "$SYS";
const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// Connection types a user may use, as a bit set; 0 means all.
#[derive(Debug, Clone, Copy, Default)]
struct ConnectionTypes(u8);

impl ConnectionTypes {
    fn allows(self, t: ConnectionType) -> bool {
        self.0 == 0 || self.0 & t.bit() != 0
    }
}

/// What a user, NKey user or JWT user is granted once authenticated.
#[derive(Debug, Clone)]
struct Grant {
    account: String,
    permissions: Option<Arc<Permissions>>,
    connection_types: ConnectionTypes,
    deadline: Option<SystemTime>,
    proxy_required: bool,
}

#[derive(Debug)]
struct PasswordUser {
    /// `None`: may only log in through a certificate map.
    password: Option<StoredSecret>,
    grant: Grant,
}

struct NkeyUser {
    key: KeyPair,
    grant: Grant,
}

/// An account that lists signing keys (or has an identity key) that may issue user JWTs.
#[derive(Debug, Clone)]
struct JwtIssuer {
    account: String,
    account_nkey: Option<String>,
    default_permissions: Option<Arc<Permissions>>,
}

#[derive(Debug, Clone)]
enum NoAuthUser {
    User(String),
    Nkey(String),
}

/// Everything `authorization {}`, `accounts {}`, `no_auth_user` and `system_account`
/// configure, checked and compiled; authenticates clients in nats-server's order (see the crate
/// docs).
pub struct ServerAuth {
    users: HashMap<String, PasswordUser>,
    nkeys: HashMap<String, NkeyUser>,
    token: Option<StoredSecret>,
    single_user: Option<(String, StoredSecret)>,
    no_auth_user: Option<NoAuthUser>,
    /// Only the system account has users (and no `authorization {}`): anonymous clients go to
    /// `$G` while INFO still says `auth_required` (nats-server's hidden no-auth user).
    anonymous_to_global: bool,
    jwt_issuers: HashMap<String, JwtIssuer>,
    verify_and_map: bool,
    auth_timeout: Duration,
    accounts: Vec<AccountConfig>,
    system_account: String,
    plaintext_warnings: Vec<String>,
    /// A hashed secret to verify against when the user is unknown, so the answer takes as
    /// long as for a known user with a wrong password.
    decoy: Option<StoredSecret>,
    /// Some configured password or token is bcrypt/argon2.
    hashed_secrets: bool,
    cache: SecretCache,
}

impl ServerAuth {
    /// Checks and compiles the auth parts of `cfg`.
    pub fn from_config(cfg: &ServerConfig) -> Result<Self, AuthConfigError> {
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

        let mut users = HashMap::new();
        let mut nkeys = HashMap::new();
        let mut plaintext_warnings = Vec::new();
        let mut decoy = None;
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
            let grant = Grant {
                account,
                permissions,
                connection_types: connection_types(&u.allowed_connection_types)?,
                deadline: u.connection_deadline,
                proxy_required: u.proxy_required,
            };
            match (&u.nkey, &u.user) {
                (Some(_), Some(_)) => return Err(AuthConfigError::NkeyWithPassword),
                (Some(_), None) if u.password.is_some() => {
                    return Err(AuthConfigError::NkeyWithPassword);
                }
                (Some(nk), None) => {
                    let key = public_key(nk, &KeyPairType::User)
                        .ok_or_else(|| AuthConfigError::InvalidUserNkey(nk.clone()))?;
                    if nkeys.insert(nk.clone(), NkeyUser { key, grant }).is_some() {
                        return Err(AuthConfigError::DuplicateNkey(nk.clone()));
                    }
                }
                (None, Some(name)) => {
                    let password = u.password.as_deref().map(StoredSecret::new);
                    if let Some(p) = &password {
                        if !p.is_well_formed() {
                            return Err(AuthConfigError::InvalidPasswordHash(name.clone()));
                        }
                        if p.is_hashed() {
                            decoy.get_or_insert_with(|| {
                                StoredSecret::new(u.password.as_deref().unwrap_or_default())
                            });
                        } else {
                            plaintext_warnings.push(plaintext_warning(name));
                        }
                    }
                    if users
                        .insert(name.clone(), PasswordUser { password, grant })
                        .is_some()
                    {
                        return Err(AuthConfigError::DuplicateUser(name.clone()));
                    }
                }
                (None, None) => return Err(AuthConfigError::UserWithoutName),
            }
        }

        let single_user = if has_single {
            let name = auth.user.clone().unwrap_or_default();
            let stored = StoredSecret::new(auth.password.as_deref().unwrap_or_default());
            if !stored.is_well_formed() {
                return Err(AuthConfigError::InvalidPasswordHash(name));
            }
            if !stored.is_hashed() {
                plaintext_warnings.push(plaintext_warning(&name));
            }
            Some((name, stored))
        } else {
            None
        };

        let no_auth_user = match &cfg.no_auth_user {
            None => None,
            Some(n) if users.contains_key(n) => Some(NoAuthUser::User(n.clone())),
            Some(n) if nkeys.contains_key(n) => Some(NoAuthUser::Nkey(n.clone())),
            Some(n) => return Err(AuthConfigError::UnknownNoAuthUser(n.clone())),
        };

        let mut jwt_issuers: HashMap<String, JwtIssuer> = HashMap::new();
        for a in &cfg.accounts {
            if let Some(nk) = &a.nkey
                && public_key(nk, &KeyPairType::Account).is_none()
            {
                return Err(AuthConfigError::InvalidAccountNkey(nk.clone()));
            }
            for key in &a.signing_keys {
                if public_key(key, &KeyPairType::Account).is_none() {
                    return Err(AuthConfigError::InvalidAccountNkey(key.clone()));
                }
            }
            if a.signing_keys.is_empty() {
                // An account without signing keys issues no user JWTs in config mode.
                continue;
            }
            let issuer = JwtIssuer {
                account: a.name.clone(),
                account_nkey: a.nkey.clone(),
                default_permissions: account_defaults.get(a.name.as_str()).cloned(),
            };
            for key in a.signing_keys.iter().chain(&a.nkey) {
                if let Some(other) = jwt_issuers.get(key)
                    && other.account != a.name
                {
                    return Err(AuthConfigError::DuplicateSigningKey {
                        key: key.clone(),
                        first: other.account.clone(),
                        second: a.name.clone(),
                    });
                }
                jwt_issuers.insert(key.clone(), issuer.clone());
            }
        }

        let system_account = cfg
            .system_account
            .clone()
            .unwrap_or_else(|| DEFAULT_SYSTEM_ACCOUNT.into());
        let anonymous_to_global = cfg.authorization.is_none()
            && cfg.no_auth_user.is_none()
            && cfg.accounts.len() == 1
            && cfg.accounts[0].name == system_account;

        let auth_timeout = auth.timeout.unwrap_or_else(|| match &cfg.tls {
            Some(t) => t.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT) + Duration::from_secs(1),
            None => DEFAULT_AUTH_TIMEOUT,
        });

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

        let token = auth.token.as_deref().map(StoredSecret::new);
        if token.as_ref().is_some_and(|t| !t.is_well_formed()) {
            return Err(AuthConfigError::InvalidTokenHash);
        }
        let hashed_secrets = decoy.is_some()
            || single_user.as_ref().is_some_and(|(_, s)| s.is_hashed())
            || token.as_ref().is_some_and(StoredSecret::is_hashed);
        Ok(Self {
            users,
            nkeys,
            token,
            hashed_secrets,
            single_user,
            no_auth_user,
            anonymous_to_global,
            jwt_issuers,
            verify_and_map: cfg.tls.as_ref().is_some_and(|t| t.verify_and_map),
            auth_timeout,
            accounts,
            system_account,
            plaintext_warnings,
            decoy,
            cache: SecretCache::new(),
        })
    }

    /// Whether INFO says `auth_required`: some user, NKey, token or signing key is configured,
    /// and there is no `no_auth_user`.
    pub fn auth_required(&self) -> bool {
        self.configured() && self.no_auth_user.is_none()
    }

    /// Whether answering `req` may run bcrypt or argon2 (tens to hundreds of milliseconds of CPU):
    /// callers run such requests off their I/O threads. NKey and JWT logins, plain secrets and
    /// configurations without hashed secrets answer in microseconds.
    ///
    /// A login whose secret was verified recently (a cache hit) needs no hashing: `false`, so a
    /// broker can serve returning users at once even while a flood of failed logins waits for
    /// the hashing workers.
    pub fn may_block(&self, req: &AuthRequest) -> bool {
        if !self.hashed_secrets
            || !(req.pass.is_some() || req.token.is_some() || req.user.is_some())
        {
            return false;
        }
        let pass = req.pass.as_deref().unwrap_or_default();
        let cheap = if let Some(name) = given(&req.user)
            && self.single_user.is_none()
        {
            // An unknown user costs a decoy hash: not cheap.
            self.users
                .get(name)
                .and_then(|u| u.password.as_ref())
                .is_some_and(|stored| self.cache.is_cheap(name, stored, pass))
        } else if let Some(stored) = &self.token {
            given(&req.token).is_some_and(|t| self.cache.is_cheap("", stored, t))
        } else if let Some((name, stored)) = &self.single_user {
            given(&req.user) == Some(name.as_str()) && self.cache.is_cheap(name, stored, pass)
        } else {
            false
        };
        !cheap
    }

    /// Whether INFO carries a `nonce`: NKey users or JWT-issuing accounts exist.
    pub fn needs_nonce(&self) -> bool {
        !self.nkeys.is_empty() || !self.jwt_issuers.is_empty()
    }

    /// How long a client has to send CONNECT: `authorization.timeout`, else 2 s (TLS timeout
    /// + 1 s when TLS is on).
    pub fn auth_timeout(&self) -> Duration {
        self.auth_timeout
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

    /// Forgets every verified secret (on reload).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Hits, misses and size of the verified-secret cache.
    pub fn secret_cache_stats(&self) -> SecretCacheStats {
        self.cache.stats()
    }

    /// [`Authenticator::authenticate`] with the clock as an argument.
    pub fn authenticate_at(
        &self,
        req: &AuthRequest,
        now: SystemTime,
    ) -> Result<Authorized, AuthError> {
        if !self.configured() {
            return Ok(Authorized {
                account: GLOBAL_ACCOUNT.into(),
                identity: String::new(),
                method: AuthMethod::None,
                permissions: None,
                expires: None,
                max_subscriptions: None,
                max_payload: None,
            });
        }

        // 1. NKey users: a named key must be known, no fallback.
        if let Some(nk) = given(&req.nkey)
            && !self.nkeys.is_empty()
        {
            let Some(user) = self.nkeys.get(nk) else {
                return Err(AuthError::UnknownNkey { nkey: nk.into() });
            };
            verify_nonce(&user.key, nk, req.nonce.as_deref(), req.sig.as_deref())?;
            return finish(nk, AuthMethod::Nkey, &user.grant, req, now);
        }

        // 2. A user JWT issued by an account signing key.
        if let Some(jwt) = given(&req.jwt)
            && !self.jwt_issuers.is_empty()
        {
            return self.jwt_login(jwt, req, now);
        }

        // 3. The user named by the client certificate.
        if self.verify_and_map && !self.users.is_empty() {
            return self.tls_login(req, now);
        }

        // 4. Nothing presented: the no_auth_user, or the hidden global user.
        let nothing = [&req.user, &req.pass, &req.token, &req.nkey]
            .into_iter()
            .all(|v| given(v).is_none());
        if nothing {
            match &self.no_auth_user {
                Some(NoAuthUser::User(name)) => {
                    if let Some(u) = self.users.get(name) {
                        return finish(name, AuthMethod::NoAuthUser, &u.grant, req, now);
                    }
                }
                Some(NoAuthUser::Nkey(key)) => {
                    if let Some(u) = self.nkeys.get(key) {
                        return finish(key, AuthMethod::NoAuthUser, &u.grant, req, now);
                    }
                }
                None if self.anonymous_to_global => {
                    return Ok(Authorized {
                        account: GLOBAL_ACCOUNT.into(),
                        identity: String::new(),
                        method: AuthMethod::NoAuthUser,
                        permissions: None,
                        expires: None,
                        max_subscriptions: None,
                        max_payload: None,
                    });
                }
                None => {}
            }
        }

        // 5. Users by name.
        if let Some(name) = given(&req.user)
            && self.single_user.is_none()
        {
            let pass = req.pass.as_deref().unwrap_or_default();
            let Some(user) = self.users.get(name) else {
                if let Some(d) = &self.decoy {
                    // Same work as a wrong password, result ignored.
                    let _ = d.verify(pass);
                }
                return Err(AuthError::UnknownUser { user: name.into() });
            };
            let ok = match &user.password {
                Some(stored) => self.cache.verify(name, stored, pass),
                // A certificate-only user cannot log in by name alone.
                None => false,
            };
            if !ok {
                return Err(AuthError::BadPassword { user: name.into() });
            }
            return finish(name, AuthMethod::Password, &user.grant, req, now);
        }

        // 6. The single user or the token.
        if let Some(stored) = &self.token {
            let Some(token) = given(&req.token) else {
                return Err(AuthError::NoCredentials);
            };
            if !self.cache.verify("", stored, token) {
                return Err(AuthError::BadToken);
            }
            return Ok(global(String::new(), AuthMethod::Token));
        }
        if let Some((name, stored)) = &self.single_user {
            let Some(user) = given(&req.user) else {
                return Err(AuthError::NoCredentials);
            };
            if user != name {
                let _ = stored.verify(req.pass.as_deref().unwrap_or_default());
                return Err(AuthError::UnknownUser { user: user.into() });
            }
            if !self
                .cache
                .verify(name, stored, req.pass.as_deref().unwrap_or_default())
            {
                return Err(AuthError::BadPassword { user: name.clone() });
            }
            return Ok(global(name.clone(), AuthMethod::Password));
        }
        Err(AuthError::NoCredentials)
    }

    fn configured(&self) -> bool {
        !self.users.is_empty()
            || !self.nkeys.is_empty()
            || self.token.is_some()
            || self.single_user.is_some()
            || !self.jwt_issuers.is_empty()
    }

    fn jwt_login(
        &self,
        jwt: &str,
        req: &AuthRequest,
        now: SystemTime,
    ) -> Result<Authorized, AuthError> {
        // Find the issuer first: only a token from a known signing key is worth verifying.
        let issuer_key = rnats_jwt::peek_issuer(jwt)?;
        let Some(issuer) = self.jwt_issuers.get(&issuer_key) else {
            return Err(AuthError::UnknownSigningKey { issuer: issuer_key });
        };
        let claims = rnats_jwt::decode_user_at(jwt, now)?;
        if let (Some(claimed), Some(actual)) = (&claims.issuer_account, &issuer.account_nkey)
            && claimed != actual
        {
            return Err(AuthError::IssuerAccountMismatch {
                issuer_account: claimed.clone(),
                account: issuer.account.clone(),
            });
        }
        let identity = claims.subject.clone();
        if claims.proxy_required {
            return Err(AuthError::ProxyRequired { identity });
        }
        if !claims.times.is_empty() {
            return Err(AuthError::UnsupportedRestriction {
                identity,
                what: "time windows (nats.times)",
            });
        }
        if !claims.source_networks.is_empty()
            && !claims
                .source_networks
                .iter()
                .any(|n| cidr_contains(n, req.client_addr.ip()))
        {
            return Err(AuthError::SourceNotAllowed {
                identity,
                addr: req.client_addr,
            });
        }
        if !claims.bearer_token {
            let key = public_key(&identity, &KeyPairType::User).ok_or_else(|| {
                AuthError::BadSignature {
                    identity: identity.clone(),
                }
            })?;
            verify_nonce(&key, &identity, req.nonce.as_deref(), req.sig.as_deref())?;
        }
        let grant = Grant {
            account: issuer.account.clone(),
            permissions: jwt_permissions(&claims, issuer)?,
            connection_types: jwt_connection_types(&claims.allowed_connection_types, &identity)?,
            deadline: claims.expires,
            proxy_required: false,
        };
        let mut authorized = finish(&identity, AuthMethod::Jwt, &grant, req, now)?;
        // As nats-server: a negative limit is unlimited, a missing one is 0.
        let limit = |v: i64| {
            u32::try_from(v)
                .ok()
                .or_else(|| (v >= 0).then_some(u32::MAX))
        };
        authorized.max_subscriptions = limit(claims.limits.subscriptions);
        authorized.max_payload = limit(claims.limits.payload);
        Ok(authorized)
    }

    fn tls_login(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let Some(cert) = &req.tls else {
            return Err(AuthError::NoCertificate);
        };
        // Only users allowed on this connection type are candidates; sorted, so that when
        // several configured DNs match a certificate at the same step the choice does not
        // depend on the map's iteration order.
        let mut usable: Vec<&str> = self
            .users
            .iter()
            .filter(|(_, u)| u.grant.connection_types.allows(req.connection_type))
            .map(|(name, _)| name.as_str())
            .collect();
        usable.sort_unstable();
        let Some(name) = map_certificate_user(cert, usable).map(str::to_owned) else {
            return Err(AuthError::NoCertificateUser);
        };
        let Some(user) = self.users.get(&name) else {
            return Err(AuthError::NoCertificateUser);
        };
        // A mapped user that also has a password must present it too (as nats-server).
        if let Some(stored) = &user.password
            && !self
                .cache
                .verify(&name, stored, req.pass.as_deref().unwrap_or_default())
        {
            return Err(AuthError::BadPassword { user: name });
        }
        finish(&name, AuthMethod::TlsMap, &user.grant, req, now)
    }
}

/// Checks what is common to every user once its secret is verified: connection type,
/// deadline, proxy; then builds the answer.
fn finish(
    identity: &str,
    method: AuthMethod,
    grant: &Grant,
    req: &AuthRequest,
    now: SystemTime,
) -> Result<Authorized, AuthError> {
    if !grant.connection_types.allows(req.connection_type) {
        return Err(AuthError::ConnectionTypeNotAllowed {
            identity: identity.into(),
            connection_type: req.connection_type,
        });
    }
    if grant.deadline.is_some_and(|d| now >= d) {
        return Err(AuthError::Expired {
            identity: identity.into(),
        });
    }
    if grant.proxy_required {
        return Err(AuthError::ProxyRequired {
            identity: identity.into(),
        });
    }
    Ok(Authorized {
        account: grant.account.clone(),
        identity: identity.into(),
        method,
        permissions: grant.permissions.clone(),
        expires: grant.deadline,
        max_subscriptions: None,
        max_payload: None,
    })
}

/// The value of a CONNECT field if present and not empty.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn global(identity: String, method: AuthMethod) -> Authorized {
    Authorized {
        account: GLOBAL_ACCOUNT.into(),
        identity,
        method,
        permissions: None,
        expires: None,
        max_subscriptions: None,
        max_payload: None,
    }
}

fn plaintext_warning(user: &str) -> String {
    format!("Plaintext passwords detected, use nkeys or bcrypt (user {user:?})")
}

fn connection_types(names: &[String]) -> Result<ConnectionTypes, AuthConfigError> {
    let mut bits = 0;
    for n in names {
        let t = ConnectionType::parse(n)
            .ok_or_else(|| AuthConfigError::UnknownConnectionType(n.clone()))?;
        bits |= t.bit();
    }
    Ok(ConnectionTypes(bits))
}

/// JWT rule: unknown types are ignored, unless none of the listed types is known.
fn jwt_connection_types(names: &[String], identity: &str) -> Result<ConnectionTypes, AuthError> {
    let bits = names
        .iter()
        .filter_map(|n| ConnectionType::parse(n))
        .fold(0, |b, t| b | t.bit());
    if bits == 0 && !names.is_empty() {
        return Err(AuthError::UnsupportedRestriction {
            identity: identity.into(),
            what: "only unknown allowed_connection_types",
        });
    }
    Ok(ConnectionTypes(bits))
}

/// The JWT's own permissions, or the account's defaults when it has none.
fn jwt_permissions(
    claims: &UserClaims,
    issuer: &JwtIssuer,
) -> Result<Option<Arc<Permissions>>, AuthError> {
    let p = &claims.permissions;
    if p.publish.is_none() && p.subscribe.is_none() && p.allow_responses.is_none() {
        return Ok(issuer.default_permissions.clone());
    }
    Permissions::compile(p)
        .map(|p| Some(Arc::new(p)))
        .map_err(|source| AuthError::BadJwtPermissions {
            identity: claims.subject.clone(),
            source,
        })
}

/// Whether `ip` is inside `cidr` (`10.0.0.0/8`, `::1/128`, or a bare address). A malformed
/// entry contains nothing (fail closed).
fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let (addr, bits) = match cidr.trim().split_once('/') {
        Some((a, b)) => (a, b.parse::<u32>().ok()),
        None => (cidr.trim(), None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let ip = match (net, ip) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let bits = bits.unwrap_or(32);
            if bits > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let bits = bits.unwrap_or(128);
            if bits > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

impl Authenticator for ServerAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }
}

impl fmt::Debug for ServerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&String> = self.users.keys().collect();
        users.sort();
        let mut nkeys: Vec<&String> = self.nkeys.keys().collect();
        nkeys.sort();
        f.debug_struct("ServerAuth")
            .field("users", &users)
            .field("nkeys", &nkeys)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "single_user",
                &self.single_user.as_ref().map(|(name, _)| name),
            )
            .field("no_auth_user", &self.no_auth_user)
            .field("jwt_issuers", &self.jwt_issuers.len())
            .field("verify_and_map", &self.verify_and_map)
            .field("auth_timeout", &self.auth_timeout)
            .field("system_account", &self.system_account)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(cidr_contains("10.0.0.0/8", v4));
        assert!(cidr_contains("10.1.2.3", v4));
        assert!(cidr_contains("0.0.0.0/0", v4));
        assert!(!cidr_contains("10.1.2.4/32", v4));
        assert!(!cidr_contains("10.0.0.0/33", v4));
        assert!(!cidr_contains("garbage", v4));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert!(cidr_contains("10.0.0.0/8", mapped));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(cidr_contains("2001:db8::/32", v6));
        assert!(!cidr_contains("2001:db9::/32", v6));
        assert!(!cidr_contains("10.0.0.0/8", v6));
    }
}
