//! Auth callout, without I/O: who is sent to the external authorization service
//! ([`CalloutPolicy::delegates`]), the request the server signs
//! ([`CalloutPolicy::request`]), and the checks its answer must pass
//! ([`CalloutPolicy::verify_response`]), all as nats-server 2.15.1 does them
//! (`auth_callout.go`, the deferred hook of `auth.go`). The broker does the messaging: it
//! publishes the request on [`CALLOUT_SUBJECT`] in [`CalloutPolicy::account`] and hands the
//! reply back here.
//!
//! Every refusal is a [`CalloutError`] whose `Display` is nats-server's log text; the client
//! only ever sees `Authorization Violation`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use nkeys::{KeyPair, XKey};
use rnats_config::{AuthCalloutConfig, PermissionsConfig, SubjectPermission};
use rnats_jwt::{
    AuthorizationRequestClaims, AuthorizationResponseClaims, ClientInformation, ClientTls,
    ConnectOptions, ServerId, UserClaims,
};

use crate::methods::{jwt_connection_types, permissions_config};
use crate::operator::{JwtAccount, JwtAccounts};
use crate::{AuthError, AuthMethod, AuthRequest, Authorized, ConnectionType, Permissions};

/// Where the server publishes authorization requests.
pub const CALLOUT_SUBJECT: &str = "$SYS.REQ.USER.AUTH";
/// The request JWT's audience.
pub const CALLOUT_AUDIENCE: &str = "nats-authorization-request";
/// The header that carries the server's public curve key on an encrypted request.
pub const XKEY_HEADER: &str = "Nats-Server-Xkey";
/// What a plain (unencrypted) JWT starts with; any other reply is taken to be sealed.
const JWT_PREFIX: &[u8] = b"eyJ";
/// The most characters of a service's refusal reason that are logged.
const MAX_REASON: usize = 256;

/// Why the service's answer did not let the client in. `Display` is nats-server's log text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CalloutError(pub String);

fn fail<T>(msg: String) -> Result<T, CalloutError> {
    Err(CalloutError(msg))
}

/// nats-server's `titleCase`: the first character upper-cased.
fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Operator mode: the callout account's JWT and every account JWT the server knows.
#[derive(Debug, Clone)]
struct OperatorCallout {
    accounts: Arc<JwtAccounts>,
    callout: Arc<JwtAccount>,
}

/// The auth callout of a configuration file (config mode), or of one account JWT's
/// `authorization` section (operator mode), compiled.
#[derive(Debug, Clone)]
pub struct CalloutPolicy {
    /// `Some` in operator mode.
    operator: Option<OperatorCallout>,
    issuer: String,
    account: String,
    auth_users: Vec<String>,
    xkey: Option<String>,
    allowed_accounts: Vec<String>,
    local_first: bool,
    /// Default permissions of the configured accounts, for users the service places there
    /// without permissions of their own.
    defaults: HashMap<String, Arc<Permissions>>,
    /// Account names the service may place users in: the configured ones and `$G`.
    accounts: Vec<String>,
    /// Keys that may sign a plain (unencrypted) response: `issuer` and the callout account's
    /// `signing_keys`.
    response_signers: Vec<String>,
    warnings: Vec<String>,
}

/// What the broker knows about a connection beyond its credentials, for the request's
/// `client_info`, `connect_opts` and `client_tls`.
#[derive(Debug, Clone, Default)]
pub struct ClientDetails {
    /// The connection id.
    pub cid: u64,
    /// CONNECT `name`.
    pub name: String,
    /// CONNECT `lang`.
    pub lang: String,
    /// CONNECT `version`.
    pub version: String,
    /// CONNECT `protocol`.
    pub protocol: i64,
    /// The TLS session, when the client connected with TLS.
    pub tls: Option<ClientTls>,
    /// The user key of the client's JWT, when it logged in with one (operator mode's
    /// sentinel): `client_info.user`.
    pub jwt_user: String,
}

/// The server's side of a request: its identity and keys.
pub struct ServerIdentity<'a> {
    /// `server_id` of the request (the broker fills name, host, id, version, tags).
    pub server: ServerId,
    /// The server's signing key (`N…`, `server.id` is its public key).
    pub key: &'a KeyPair,
    /// The server's curve key, used when the callout has an `xkey`.
    pub xkey: &'a XKey,
}

/// A request ready to publish, and what its answer is checked against.
pub struct PendingCallout {
    /// The payload: the signed request JWT, sealed to the service's xkey when it has one.
    pub payload: Vec<u8>,
    /// The `Nats-Server-Xkey` header value when the payload is sealed.
    pub xkey_header: Option<String>,
    /// The fresh user key the answer must be about.
    pub user_nkey: String,
    server_id: String,
}

impl CalloutPolicy {
    /// Compiles `cfg`. `accounts` are the configured account names with their default
    /// permissions; `users` the configured user names and NKeys (for the `auth_users` check,
    /// which as in nats-server only warns).
    pub(crate) fn new(
        cfg: &AuthCalloutConfig,
        accounts: Vec<(String, Option<Arc<Permissions>>)>,
        signing_keys: &[String],
        users: &[String],
    ) -> Self {
        let mut warnings = Vec::new();
        let known =
            cfg.account == crate::GLOBAL_ACCOUNT || accounts.iter().any(|(a, _)| *a == cfg.account);
        if !known {
            warnings.push(format!(
                "Authorization callout account {:?} not valid",
                cfg.account
            ));
        }
        for u in &cfg.auth_users {
            if !users.contains(u) {
                warnings.push(format!("Authorization callout user {u:?} not valid"));
            }
        }
        let mut defaults = HashMap::new();
        let mut names = vec![crate::GLOBAL_ACCOUNT.to_owned()];
        for (name, perms) in accounts {
            if let Some(p) = perms {
                defaults.insert(name.clone(), p);
            }
            names.push(name);
        }
        Self {
            operator: None,
            issuer: cfg.issuer.clone(),
            account: cfg.account.clone(),
            auth_users: cfg.auth_users.clone(),
            xkey: cfg.xkey.clone(),
            allowed_accounts: cfg.allowed_accounts.clone(),
            local_first: cfg.local_first,
            defaults,
            accounts: names,
            response_signers: std::iter::once(cfg.issuer.clone())
                .chain(signing_keys.iter().cloned())
                .collect(),
            warnings,
        }
    }

    /// Operator mode: the callout of `account` (a public key), when its JWT has an
    /// `authorization` section with `auth_users`; clients authenticated into it with a
    /// sentinel JWT are then sent to the service. `None` when the account is unknown or has no
    /// external authorization.
    pub fn for_account(
        accounts: &Arc<JwtAccounts>,
        account: &str,
        now: SystemTime,
    ) -> Option<Self> {
        let callout = accounts.get(account, now).ok()?;
        let ext = &callout.claims.authorization;
        if !ext.is_enabled() {
            return None;
        }
        Some(Self {
            issuer: account.to_owned(),
            account: account.to_owned(),
            auth_users: ext.auth_users.clone(),
            xkey: (!ext.xkey.is_empty()).then(|| ext.xkey.clone()),
            allowed_accounts: ext.allowed_accounts.clone(),
            local_first: false,
            defaults: HashMap::new(),
            accounts: Vec::new(),
            response_signers: Vec::new(),
            warnings: Vec::new(),
            operator: Some(OperatorCallout {
                accounts: accounts.clone(),
                callout,
            }),
        })
    }

    /// The account requests are published in (where the service lives).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Whether requests are sealed to the service's curve key.
    pub fn encrypts(&self) -> bool {
        self.xkey.is_some()
    }

    /// Start-up warnings (an unknown callout account or auth user), as nats-server logs them.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether the local answer `local` to `req` is replaced by the service's (nats-server's
    /// deferred hook): clients that landed (or, refused, would land) in `$G` always are;
    /// clients of another account only when `allowed_accounts` is empty or lists it; never
    /// the `auth_users`. With `local_first`, a client the local rules let in is not sent.
    pub fn delegates(&self, local: &Result<Authorized, AuthError>, req: &AuthRequest) -> bool {
        if self.local_first && local.is_ok() {
            return false;
        }
        if let Ok(a) = local
            && self.operator.is_none()
            && !matches!(
                req.connection_type,
                ConnectionType::Leafnode | ConnectionType::LeafnodeWs
            )
            && a.account != crate::GLOBAL_ACCOUNT
            && !self.allowed_accounts.is_empty()
            && !self.allowed_accounts.contains(&a.account)
        {
            return false;
        }
        !self.auth_users.iter().any(|u| u == raw_user(req, local))
    }

    /// Adds nats-server's publish deny on [`CALLOUT_SUBJECT`] when `authorized` is in the
    /// callout account, so no client there can forge requests.
    pub fn restrict(&self, authorized: &mut Authorized) {
        if authorized.account != self.account {
            return;
        }
        let mut cfg = authorized
            .permissions
            .as_ref()
            .map(|p| p.config().clone())
            .unwrap_or_default();
        let publish = cfg.publish.get_or_insert_with(SubjectPermission::default);
        if !publish.deny.iter().any(|d| d == CALLOUT_SUBJECT) {
            publish.deny.push(CALLOUT_SUBJECT.to_owned());
        }
        // The subject is valid and the rest compiled before: this cannot fail.
        if let Ok(p) = Permissions::compile(&cfg) {
            authorized.permissions = Some(Arc::new(p));
        }
    }

    /// The request for `req`: a fresh user key, the claims signed by the server key and, with
    /// an `xkey`, sealed to the service. `expires`: now + the auth timeout.
    pub fn request(
        &self,
        server: ServerIdentity<'_>,
        req: &AuthRequest,
        client: &ClientDetails,
        expires: SystemTime,
    ) -> Result<PendingCallout, CalloutError> {
        let user_nkey = KeyPair::new_user().public_key();
        let mut claims = AuthorizationRequestClaims::new(&self.issuer, &user_nkey);
        claims.audience = Some(CALLOUT_AUDIENCE.to_owned());
        claims.expires = Some(expires);
        claims.server = server.server;
        if self.xkey.is_some() {
            claims.server.xkey = server.xkey.public_key();
        }
        let given = |v: &Option<String>| v.clone().unwrap_or_default();
        claims.client_info = ClientInformation {
            host: req.client_addr.ip().to_string(),
            id: client.cid,
            user: match raw_user(req, &Err(AuthError::NoCredentials)) {
                "" => client.jwt_user.clone(),
                u => u.to_owned(),
            },
            name: client.name.clone(),
            kind: match req.connection_type {
                ConnectionType::Leafnode | ConnectionType::LeafnodeWs => "Leafnode",
                _ => "Client",
            }
            .to_owned(),
            client_type: match req.connection_type {
                ConnectionType::Websocket | ConnectionType::LeafnodeWs => "websocket",
                ConnectionType::Mqtt | ConnectionType::MqttWs => "mqtt",
                _ => "nats",
            }
            .to_owned(),
            nonce: if req.sig.as_deref().is_some_and(|s| !s.is_empty()) {
                given(&req.nonce)
            } else {
                String::new()
            },
            ..ClientInformation::default()
        };
        claims.connect_options = ConnectOptions {
            jwt: given(&req.jwt),
            nkey: given(&req.nkey),
            signed_nonce: given(&req.sig),
            token: given(&req.token),
            username: given(&req.user),
            password: given(&req.pass),
            name: client.name.clone(),
            lang: client.lang.clone(),
            version: client.version.clone(),
            protocol: client.protocol,
        };
        claims.tls.clone_from(&client.tls);
        let server_id = claims.server.id.clone();
        let token = rnats_jwt::encode_authorization_request(&claims, server.key).map_err(|e| {
            CalloutError(format!(
                "Error encoding auth request claim on account {:?}: {e}",
                self.account
            ))
        })?;
        let (payload, xkey_header) = match &self.xkey {
            None => (token.into_bytes(), None),
            Some(service) => {
                let sealed = XKey::from_public_key(service)
                    .and_then(|to| server.xkey.seal(token.as_bytes(), &to))
                    .map_err(|e| {
                        CalloutError(format!(
                            "Error encrypting auth request claim on account {:?}: {e}",
                            self.account
                        ))
                    })?;
                (sealed, Some(server.xkey.public_key()))
            }
        };
        Ok(PendingCallout {
            payload,
            xkey_header,
            user_nkey,
            server_id,
        })
    }

    /// Whether [`verify_response`](Self::verify_response) may wait on the network: in
    /// operator mode with a URL or cache resolver, placing a user in an account that is not
    /// loaded yet fetches that account's JWT.
    pub fn may_fetch(&self) -> bool {
        self.operator
            .as_ref()
            .is_some_and(|op| op.accounts.resolver().is_remote())
    }

    /// Checks the service's reply `payload` to `pending` (nats-server's order and messages)
    /// and turns the user JWT in it into where `req` goes: the account its `aud` names, its
    /// permissions (or that account's defaults), its `exp` and connect-time window.
    pub fn verify_response(
        &self,
        pending: &PendingCallout,
        server_xkey: &XKey,
        payload: &[u8],
        req: &AuthRequest,
        now: SystemTime,
    ) -> Result<Authorized, CalloutError> {
        let account = &self.account;
        if payload.is_empty() {
            return fail(format!(
                "Auth callout violation: \"no reason supplied\" on account {account:?}"
            ));
        }
        let opened;
        let mut msg = payload;
        let mut encrypted = false;
        if let Some(service) = &self.xkey
            && !payload.starts_with(JWT_PREFIX)
        {
            opened = XKey::from_public_key(service)
                .and_then(|from| server_xkey.open(payload, &from))
                .map_err(|e| {
                    CalloutError(format!(
                        "Error decrypting auth callout response on account {account:?}: {e}"
                    ))
                })?;
            msg = &opened;
            encrypted = true;
        }
        let text = std::str::from_utf8(msg)
            .map_err(|_| CalloutError("Authorization response is not a JWT".to_owned()))?;
        let response = rnats_jwt::decode_authorization_response_at(text, now)
            .map_err(|e| CalloutError(title(&e.to_string())))?;
        check_response(&response, &pending.user_nkey, &pending.server_id)?;
        // A sealed answer proved itself by opening; a plain one must be signed by the issuer
        // (or a signing key of the callout account).
        let signer = response.issuer_account.as_ref().unwrap_or(&response.issuer);
        let known_signer = match &self.operator {
            None => self.response_signers.contains(signer),
            Some(op) => *signer == self.account || op.callout.signer(signer).is_some(),
        };
        if !encrypted && !known_signer {
            return fail("Auth callout signing key is unknown".to_owned());
        }
        let Some(user_jwt) = response.jwt.as_deref() else {
            return fail("Error or Jwt is required".to_owned());
        };
        let user = rnats_jwt::decode_user_at(user_jwt, now)
            .map_err(|e| CalloutError(title(&e.to_string())))?;
        if user.proxy_required {
            return fail("Proxy connection required".to_owned());
        }
        if user.subject != pending.user_nkey {
            return fail(format!(
                "Expected authorized user of {:?} but got {:?} on account {account:?}",
                pending.user_nkey, user.subject
            ));
        }
        let window = crate::operator::allowed_for(&user.times, user.times_location.as_deref(), now)
            .ok()
            .flatten()
            .ok_or_else(|| {
                CalloutError(format!(
                    "Authorized user on account {account:?} outside of valid connect times"
                ))
            })?;
        let types =
            jwt_connection_types(&user.allowed_connection_types, &user.subject).map_err(|_| {
                CalloutError(format!(
                    "Authorized user on account {account:?} using invalid connection type"
                ))
            })?;
        if !types.allows(req.connection_type) {
            return fail(format!(
                "Authorized user on account {account:?} using invalid connection type"
            ));
        }
        let mut user = user;
        let (placement, permissions, max_conns) = match &self.operator {
            None => {
                if user.issuer_account.is_some() {
                    return fail(format!(
                        "Error non operator mode account {account:?}: attempted to use issuer_account"
                    ));
                }
                if user.issuer != self.issuer {
                    return fail(format!(
                        "Wrong issuer for auth callout response on account {account:?}, expected {:?} got {:?}",
                        self.issuer, user.issuer
                    ));
                }
                let placement = user.audience.clone().unwrap_or_default();
                if !self.accounts.contains(&placement) {
                    return fail(format!(
                        "No valid account {placement:?} for auth callout response on account {account:?}: account not found"
                    ));
                }
                let permissions = self.permissions_of(&user, self.defaults.get(&placement))?;
                (placement, permissions, None)
            }
            Some(op) => {
                let placement = self.operator_placement(op, &mut user, now)?;
                let target = op.accounts.get(&placement, now).map_err(|e| {
                    CalloutError(format!(
                        "No valid account {placement:?} for auth callout response on account {account:?}: {e}"
                    ))
                })?;
                let permissions = self.permissions_of(&user, target.default_permissions())?;
                let conn = target.claims.limits.conn;
                let max = u32::try_from(conn)
                    .ok()
                    .or_else(|| (conn >= 0).then_some(u32::MAX));
                (placement, permissions, max)
            }
        };
        let identity = user.name.clone().unwrap_or_else(|| user.subject.clone());
        let mut authorized = Authorized::new(placement, identity, AuthMethod::Callout);
        authorized.permissions = permissions;
        authorized.max_account_connections = max_conns;
        let mut expires = user.expires;
        if window != std::time::Duration::MAX {
            let end = now + window;
            expires = Some(expires.map_or(end, |e| e.min(end)));
        }
        authorized.expires = expires;
        Ok(authorized)
    }

    /// Operator mode: the account the user JWT places the user in (its `issuer_account`, else
    /// its issuer), which must be the callout account or one of its `allowed_accounts`; the
    /// issuer must be that account or one of its signing keys, whose scope then applies.
    fn operator_placement(
        &self,
        op: &OperatorCallout,
        user: &mut UserClaims,
        now: SystemTime,
    ) -> Result<String, CalloutError> {
        let account = &self.account;
        let issuer_account = user
            .issuer_account
            .clone()
            .unwrap_or_else(|| user.issuer.clone());
        if issuer_account != *account
            && !self
                .allowed_accounts
                .iter()
                .any(|a| a == "*" || *a == issuer_account)
        {
            return fail(format!(
                "Account {:?} not permitted as valid account option for auth callout for account {account:?}",
                user.issuer
            ));
        }
        let target = op.accounts.get(&issuer_account, now).map_err(|e| {
            CalloutError(format!(
                "No valid account {issuer_account:?} for auth callout response on account {account:?}: {e}"
            ))
        })?;
        match target.signer(&user.issuer) {
            None => {
                return fail(format!("User JWT issuer {:?} is not known", user.issuer));
            }
            Some(None) => {}
            Some(Some(scope)) => {
                if !user.has_empty_permissions() {
                    return fail(
                        "User JWT is not valid: scoped users require no permissions or limits set"
                            .to_owned(),
                    );
                }
                let filled =
                    crate::operator::apply_template(scope.template.clone(), user, &target.claims)
                        .map_err(|e| {
                        CalloutError(format!("User JWT generated invalid permissions: {e}"))
                    })?;
                user.set_permission_limits(filled);
            }
        }
        Ok(issuer_account)
    }

    fn permissions_of(
        &self,
        user: &UserClaims,
        defaults: Option<&Arc<Permissions>>,
    ) -> Result<Option<Arc<Permissions>>, CalloutError> {
        if user.permissions.is_empty() {
            return Ok(defaults.cloned());
        }
        let cfg: PermissionsConfig = permissions_config(&user.permissions);
        Permissions::compile(&cfg)
            .map(|p| Some(Arc::new(p)))
            .map_err(|e| CalloutError(format!("Error validating user JWT: {e}")))
    }
}

/// nats-server's checks of the response claims, in its order.
fn check_response(
    r: &AuthorizationResponseClaims,
    user_nkey: &str,
    server_id: &str,
) -> Result<(), CalloutError> {
    if let Err(issue) = r.validate() {
        return fail(format!(
            "Authorization response had validation errors: {issue}"
        ));
    }
    if r.subject != user_nkey {
        return fail(
            "Auth callout violation: auth callout response is not for expected user".to_owned(),
        );
    }
    if r.audience.as_deref() != Some(server_id) {
        return fail("Auth callout violation: auth callout response is not for server".to_owned());
    }
    if let Some(e) = &r.error {
        // The service's words, escaped and clipped: a log line stays one short line.
        let clipped: String = e.chars().take(MAX_REASON).collect();
        let more = if clipped.len() < e.len() { "…" } else { "" };
        return fail(format!(
            "Auth callout service returned an error: {}{more}",
            clipped.escape_debug()
        ));
    }
    Ok(())
}

/// nats-server's `getRawAuthUser`: the NKey, else the user name, else (a JWT) the user key
/// the authenticator found, else `[REDACTED]` for a token.
fn raw_user<'a>(req: &'a AuthRequest, local: &'a Result<Authorized, AuthError>) -> &'a str {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
    if let Some(n) = given(&req.nkey) {
        n
    } else if let Some(u) = given(&req.user) {
        u
    } else if given(&req.jwt).is_some() {
        local.as_ref().map_or("", |a| a.identity.as_str())
    } else if given(&req.token).is_some() {
        "[REDACTED]"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests;
