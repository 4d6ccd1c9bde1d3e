//! CONNECT, what to do with an authentication outcome, and re-authentication on reload.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rnats_auth::{AuthError, AuthRequest, Authorized, PublishCache};
use rnats_protocol::{ConnectOptions, Limits, OK};

use super::audit::Refusal;
use super::{Options, Session, wants_trace};
use crate::account::Full;
use crate::audit::{Outcome, Record};
use crate::errors::ClientError;
use crate::hashing::Refused;
use crate::logfmt::Quoted;
use crate::outbound::CloseReason;
use crate::state::Settings;

/// What the authenticator said about one request.
pub(crate) enum AuthOutcome {
    Accepted(Authorized, AuthRequest),
    Refused(AuthError, AuthRequest),
    /// The authenticator itself failed (panicked).
    Failed,
    /// Too many logins are waiting for password hashing: refused without hashing.
    Busy(Refused),
}

impl AuthOutcome {
    /// The outcome of an authenticator's answer to `request`.
    pub(crate) fn of(result: Result<Authorized, AuthError>, request: AuthRequest) -> Self {
        match result {
            Ok(authorized) => Self::Accepted(authorized, request),
            Err(e) => Self::Refused(e, request),
        }
    }
}

impl Session {
    /// CONNECT: parsed here; applied at once when nothing is configured for authentication,
    /// otherwise handed back as a request for the authenticator.
    pub(super) fn on_connect(
        &mut self,
        json: &[u8],
        now: Instant,
    ) -> Result<Option<AuthRequest>, CloseReason> {
        let opts = match ConnectOptions::from_json(json) {
            Ok(opts) => opts,
            Err(e) => {
                // serde's message quotes the offending value, which may be a password sent as
                // a number: only the kind of error and its place are logged.
                tracing::error!(
                    "{} - cid:{} - invalid CONNECT JSON: {} error at line {} column {}",
                    self.peer.addr,
                    self.peer.cid,
                    match e.classify() {
                        serde_json::error::Category::Io => "read",
                        serde_json::error::Category::Syntax => "syntax",
                        serde_json::error::Category::Data => "data",
                        serde_json::error::Category::Eof => "unexpected end of input",
                    },
                    e.line(),
                    e.column()
                );
                self.fail(ClientError::InvalidConnect)?;
                return Err(CloseReason::ProtocolViolation);
            }
        };
        let stats = &self.out.stats;
        // As nats-server: the client's self-description counts from CONNECT on, even when it
        // is then refused; the first round-trip estimate is from accept to CONNECT.
        stats.set_rtt(stats.start.elapsed().unwrap_or_default());
        stats.describe(|m| {
            m.name = opts.name.clone().unwrap_or_default();
            m.lang = opts.lang.clone().unwrap_or_default();
            m.version = opts.version.clone().unwrap_or_default();
        });
        if !self.settings.auth.configured() {
            self.authenticated = true;
            let method = rnats_auth::AuthMethod::None.as_str();
            self.state
                .monitor
                .login
                .succeeded(method, Some(std::time::Duration::ZERO));
            self.audit(|peer| {
                let mut r = match late_refusal(&opts) {
                    Some((_, reason)) => Record::refused(peer, method, reason),
                    None => Record::new(peer, Outcome::Accepted, method),
                }
                .client(Some(&opts));
                r.account = Some(self.account.name.clone());
                r
            });
            self.apply_connect(opts)?;
            return Ok(None);
        }
        let mut request = self.empty_request();
        request.user.clone_from(&opts.user);
        request.pass.clone_from(&opts.pass);
        request.token.clone_from(&opts.auth_token);
        request.nkey.clone_from(&opts.nkey);
        request.sig.clone_from(&opts.sig);
        request.jwt.clone_from(&opts.jwt);
        // A WebSocket client's cookies fill in what CONNECT left empty (nats-server).
        self.peer.transport.fill_credentials(&mut request);
        self.pending_connect = Some(opts);
        self.connect_received = Some(now);
        Ok(Some(request))
    }

    /// What an auth callout request says about this client besides its credentials.
    pub(crate) fn callout_details(&self) -> rnats_auth::callout::ClientDetails {
        let opts = self.pending_connect.as_ref();
        let text = |f: fn(&ConnectOptions) -> &Option<String>| {
            opts.and_then(|o| f(o).clone()).unwrap_or_default()
        };
        rnats_auth::callout::ClientDetails {
            cid: self.peer.cid,
            name: text(|o| &o.name),
            lang: text(|o| &o.lang),
            version: text(|o| &o.version),
            protocol: opts.map_or(0, |o| i64::from(o.protocol)),
            tls: self.peer.tls_session.clone(),
            jwt_user: String::new(),
        }
    }

    pub(super) fn empty_request(&self) -> AuthRequest {
        let mut request = AuthRequest::new(self.peer.addr, self.peer.transport.connection_type());
        request.nonce.clone_from(&self.peer.nonce);
        request.tls.clone_from(&self.peer.tls);
        request
    }

    /// The authenticator's answer to the request [`Session::feed`] returned.
    pub(crate) fn complete_connect(
        &mut self,
        outcome: AuthOutcome,
        now: Instant,
    ) -> Result<(), CloseReason> {
        let opts = self.pending_connect.take().unwrap_or_default();
        let latency = self
            .connect_received
            .take()
            .map(|at| now.saturating_duration_since(at));
        self.count_login(&outcome, &opts, latency);
        match outcome {
            AuthOutcome::Accepted(authorized, request) => {
                if let Err(full) = self.join(&authorized) {
                    self.audit_accepted(
                        &authorized,
                        Some(&request),
                        Some(&opts),
                        latency,
                        Some(Refusal::Full(full)),
                    );
                    return self.refuse_full(&authorized, full);
                }
                // A CONNECT check after authentication that will refuse the client is the
                // decision the trail records, not the authenticator's acceptance.
                let late = late_refusal(&opts).map(|(_, reason)| Refusal::Connect(reason));
                self.audit_accepted(&authorized, Some(&request), Some(&opts), latency, late);
                self.bind(authorized, Some(request), now);
                self.apply_connect(opts)
            }
            refused => {
                self.failed_login();
                self.audit_refused(&refused, Some(&opts), latency, "connect");
                self.refuse(refused)
            }
        }
    }

    /// Counts a login outcome for `/metrics`: the method that authenticated, or the kind of
    /// credentials presented and the failure category (fixed label sets only).
    fn count_login(
        &self,
        outcome: &AuthOutcome,
        opts: &ConnectOptions,
        latency: Option<std::time::Duration>,
    ) {
        let login = &self.state.monitor.login;
        let presented = |request: Option<&AuthRequest>| match request {
            Some(request) => crate::monitor::metrics::presented_method(request),
            None => {
                let mut request = self.empty_request();
                request.user.clone_from(&opts.user);
                request.token.clone_from(&opts.auth_token);
                request.nkey.clone_from(&opts.nkey);
                request.jwt.clone_from(&opts.jwt);
                crate::monitor::metrics::presented_method(&request)
            }
        };
        match outcome {
            AuthOutcome::Accepted(authorized, _) => {
                login.succeeded(authorized.method.as_str(), latency);
            }
            AuthOutcome::Refused(e, request) => {
                login.failed(presented(Some(request)), e.category().as_str(), latency);
            }
            AuthOutcome::Busy(_) => login.failed(
                presented(None),
                rnats_auth::FailureCategory::ServerBusy.as_str(),
                latency,
            ),
            AuthOutcome::Failed => login.failed(
                presented(None),
                crate::monitor::metrics::REASON_INTERNAL,
                latency,
            ),
        }
    }

    /// Counts this connection in the account it is authorized for, unless that account's
    /// connection limit or the user's `max_connections` is reached.
    fn join(&self, authorized: &Authorized) -> Result<(), Full> {
        let account = if authorized.account == self.account.name {
            self.account.clone()
        } else {
            self.state.account(&authorized.account)
        };
        account.join(
            self.peer.cid,
            &authorized.identity,
            authorized.max_account_connections,
            authorized.max_user_connections,
        )
    }

    /// nats-server's answer to a login past the account's `conn` limit: its own `-ERR`, no
    /// `Authorization Violation`; past the user's `max_connections`, the same in the user's
    /// words.
    fn refuse_full(&mut self, authorized: &Authorized, full: Full) -> Result<(), CloseReason> {
        let (addr, cid) = (self.peer.addr, self.peer.cid);
        let (user, account) = (
            Quoted(authorized.identity.as_bytes()),
            Quoted(authorized.account.as_bytes()),
        );
        match full {
            Full::Account => {
                tracing::error!(
                    "{addr} - cid:{cid} - authentication error - User {user}: maximum account active connections exceeded (account {account})"
                );
                self.fail(ClientError::MaxAccountConnectionsExceeded)
            }
            Full::User => {
                tracing::error!(
                    "{addr} - cid:{cid} - authentication error - User {user}: maximum user active connections exceeded ({} allowed, account {account})",
                    authorized.max_user_connections.unwrap_or_default()
                );
                self.fail(ClientError::MaxUserConnectionsExceeded)
            }
        }
    }

    /// Logs why and closes with `Authorization Violation`; with `auth_error_reasons` the
    /// client-safe category follows it.
    fn refuse(&mut self, outcome: AuthOutcome) -> Result<(), CloseReason> {
        let (addr, cid) = (self.peer.addr, self.peer.cid);
        let category = match &outcome {
            AuthOutcome::Refused(e, _) => Some(e.category()),
            AuthOutcome::Busy(_) => Some(rnats_auth::FailureCategory::ServerBusy),
            AuthOutcome::Accepted(..) | AuthOutcome::Failed => None,
        };
        match outcome {
            AuthOutcome::Accepted(..) => {}
            AuthOutcome::Refused(e, request) => {
                // Monitoring names who tried, as nats-server (the name, never a secret).
                if let Some(user) = request.user.as_deref().or(request.nkey.as_deref()) {
                    let user = user.to_owned();
                    self.out.stats.describe(|m| m.user = user);
                }
                let who = request
                    .user
                    .as_deref()
                    .or(request.nkey.as_deref())
                    .map(|u| format!(" - User {}", Quoted(u.as_bytes())))
                    .unwrap_or_default();
                tracing::error!("{addr} - cid:{cid} - authentication error{who}: {e}");
            }
            AuthOutcome::Failed => {
                tracing::error!("{addr} - cid:{cid} - authentication error: authenticator failed");
            }
            AuthOutcome::Busy(why) => tracing::error!(
                "{addr} - cid:{cid} - authentication error: refused without checking, {}",
                match why {
                    Refused::AddressFull =>
                        "too many logins from this address are waiting for password hashing",
                    _ => "too many logins are waiting for password hashing",
                }
            ),
        }
        self.fail(self.violation(category))
    }

    /// A login failed: the address's connect-rate bucket pays for it (`connect_rate_limit`).
    fn failed_login(&self) {
        self.state.connect_limiter.failed_login(
            self.peer.addr,
            self.settings.config.connect_rate_limit.as_ref(),
        );
    }

    /// `Authorization Violation`, with `category` after it when `auth_error_reasons` is on.
    fn violation(&self, category: Option<rnats_auth::FailureCategory>) -> ClientError {
        match category {
            Some(c) if self.settings.config.auth_error_reasons => {
                ClientError::AuthorizationViolationBecause(c)
            }
            _ => ClientError::AuthorizationViolation,
        }
    }

    /// The first op was not CONNECT: refused when authentication is required, otherwise the
    /// client is the `no_auth_user` (nats-server's telnet-friendly rule).
    pub(super) fn authenticate_without_connect(&mut self, now: Instant) -> Result<(), CloseReason> {
        if self.settings.auth.auth_required() {
            tracing::error!(
                "{} - cid:{} - authentication error: no CONNECT",
                self.peer.addr,
                self.peer.cid
            );
            self.failed_login();
            self.audit(|peer| Record::refused(peer, "none", "no CONNECT"));
            let required = rnats_auth::FailureCategory::CredentialsRequired;
            self.state
                .monitor
                .login
                .failed("none", required.as_str(), None);
            let err = self.violation(Some(required));
            return self.fail(err);
        }
        let request = self.empty_request();
        // Inline and cheap (no credentials to check); timed only for the audit trail.
        let started = self.state.audit.enabled().then(Instant::now);
        let result = self.settings.auth.authenticate(&request);
        let took = started.map(|s| s.elapsed());
        match result {
            Ok(authorized) => {
                let login = &self.state.monitor.login;
                login.succeeded(authorized.method.as_str(), None);
                if let Err(full) = self.join(&authorized) {
                    self.audit_accepted(&authorized, None, None, took, Some(Refusal::Full(full)));
                    return self.refuse_full(&authorized, full);
                }
                self.audit_accepted(&authorized, None, None, took, None);
                self.bind(authorized, None, now);
                Ok(())
            }
            Err(e) => {
                self.failed_login();
                let login = &self.state.monitor.login;
                login.failed("none", e.category().as_str(), None);
                let refused = AuthOutcome::Refused(e, request);
                self.audit_refused(&refused, None, took, "connect");
                self.refuse(refused)
            }
        }
    }

    /// Binds the connection to its account, permissions and expiry.
    fn bind(&mut self, authorized: Authorized, request: Option<AuthRequest>, now: Instant) {
        tracing::info!(
            "{} - cid:{} - authenticated: method={} identity={} account={}",
            self.peer.addr,
            self.peer.cid,
            authorized.method,
            Quoted(authorized.identity.as_bytes()),
            Quoted(authorized.account.as_bytes())
        );
        if authorized.account != self.account.name {
            // A second CONNECT into another account: subscriptions do not follow.
            self.subs.remove_all(&self.account);
            self.account.leave(self.peer.cid);
            self.account = self.state.account(&authorized.account);
            self.router.forget_accounts();
        }
        self.out
            .replies
            .configure(authorized.permissions.as_ref().and_then(|p| p.responses()));
        *self.out.bound.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(crate::explain::Bound {
                user: authorized.identity.clone(),
                account: authorized.account.clone(),
                permissions: authorized.permissions.clone(),
                expires: authorized.expires,
                // The JWT verified in authentication; only its name is read again here.
                jwt_name: (authorized.method == rnats_auth::AuthMethod::Jwt)
                    .then(|| request.as_ref().and_then(|r| r.jwt.as_deref()))
                    .flatten()
                    .and_then(|jwt| rnats_jwt::peek(jwt).ok())
                    .and_then(|p| p.name),
            }));
        self.permissions = authorized.permissions;
        self.publish_cache = PublishCache::new();
        self.apply_user_limits(authorized.max_subscriptions, authorized.max_payload);
        self.signer = authorized
            .signing_key
            .map(|k| (k, authorized.signing_key_version));
        self.identity = authorized.identity;
        let (user, account) = (self.identity.clone(), self.account.name.clone());
        self.out.stats.describe(|m| {
            m.user = user;
            m.account = account;
        });
        self.timers.set_expiry(authorized.expires.map(|at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            now + left
        }));
        self.credentials = request;
        self.authenticated = true;
        self.timers.on_authenticated();
    }

    /// The effective limits are the lower of the server's and the user's (nats-server).
    fn apply_user_limits(&mut self, subscriptions: Option<u32>, payload: Option<u32>) {
        let config = &self.settings.config;
        let server_subs = (config.max_subscriptions > 0).then_some(config.max_subscriptions);
        self.max_subs = match (server_subs, subscriptions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .map(|n| n as usize);
        self.max_payload = payload.map_or(config.max_payload, |p| p.min(config.max_payload));
        self.parser.set_limits(Limits {
            max_control_line: config.max_control_line as usize,
            max_payload: self.max_payload as usize,
        });
    }

    /// The CONNECT checks that follow authentication, then the options take effect.
    fn apply_connect(&mut self, opts: ConnectOptions) -> Result<(), CloseReason> {
        let (addr, cid) = (self.peer.addr, self.peer.cid);
        if let Some((error, reason)) = late_refusal(&opts) {
            if error == ClientError::AuthorizationViolation {
                tracing::error!("{addr} - cid:{cid} - authentication error: {reason}");
            } else {
                tracing::error!("{addr} - cid:{cid} - {reason}");
            }
            return self.fail(error);
        }
        let headers = opts.headers && !self.settings.config.no_header_support;
        if let Some(name) = &opts.name {
            let _ = self.out.name.set(name.as_str().into());
        }
        self.opts = Options {
            verbose: opts.verbose,
            pedantic: opts.pedantic,
            headers,
            no_responders: opts.no_responders,
            protocol: opts.protocol,
        };
        self.router.set_echo(opts.echo);
        self.out
            .headers
            .store(headers, std::sync::atomic::Ordering::Relaxed);
        self.timers.on_authenticated();
        self.connected = true;
        if !self.out.stats.meta().connected {
            self.out.stats.describe(|m| m.connected = true);
            let event = crate::monitor::events::ClientEvent::of(
                crate::monitor::events::EventKind::Connect,
                &self.out,
                "",
            );
            self.state.monitor.emit(event);
        }
        if self.opts.verbose {
            self.reply(OK);
        }
        Ok(())
    }

    /// A reload put new rules in force. Returns the request to re-check this connection with,
    /// when it must be re-checked (as nats-server does): the driver asks the authenticator and
    /// gives the answer to [`Session::complete_reload`].
    pub(crate) fn begin_reload(
        &mut self,
        settings: Arc<Settings>,
    ) -> Result<Option<AuthRequest>, CloseReason> {
        let old = std::mem::replace(&mut self.settings, settings);
        self.trace = wants_trace(&self.settings.config);
        self.router.set_trace(self.trace);
        self.router
            .set_flow(super::flow(&self.settings.config, true));
        if let Some(only) = self.settings.recheck_only.as_deref()
            && only != self.account.name
        {
            // One account's JWT changed; this connection lives in another.
            return Ok(None);
        }
        if !self.settings.auth.configured() {
            self.permissions = None;
            self.publish_cache = PublishCache::new();
            self.timers.set_expiry(None);
            if self.account.name != self.state.global_account.name {
                return self
                    .fail(ClientError::AuthorizationViolation)
                    .map(|()| None);
            }
            return Ok(None);
        }
        if !self.authenticated && !old.auth.configured() {
            return Ok(None);
        }
        Ok(Some(
            self.credentials
                .clone()
                .unwrap_or_else(|| self.empty_request()),
        ))
    }

    /// The re-check after a reload: a user that is gone, or that now lands in another account,
    /// is closed; new permissions apply at once, and subscriptions they no longer allow are
    /// removed with a notice.
    pub(crate) fn complete_reload(
        &mut self,
        outcome: AuthOutcome,
        now: Instant,
    ) -> Result<(), CloseReason> {
        if !matches!(outcome, AuthOutcome::Accepted(..)) {
            self.audit_refused(&outcome, None, None, "reload");
        }
        match outcome {
            AuthOutcome::Accepted(authorized, request) => {
                if let (Some((key, version)), Some(now_key)) =
                    (&self.signer, &authorized.signing_key)
                    && key == now_key
                    && *version != authorized.signing_key_version
                {
                    self.audit_reload_refused(&authorized, || {
                        format!("the scope of signing key {key} changed")
                    });
                    tracing::error!(
                        "{} - cid:{} - authentication error on account update - User {}: the scope of signing key {key} changed",
                        self.peer.addr,
                        self.peer.cid,
                        Quoted(self.identity.as_bytes())
                    );
                    return self.fail(ClientError::AuthenticationClosed);
                }
                if authorized.account != self.account.name {
                    self.audit_reload_refused(&authorized, || "account changed on reload".into());
                    tracing::info!(
                        "{} - cid:{} - account changed on reload, closing",
                        self.peer.addr,
                        self.peer.cid
                    );
                    return self.fail(ClientError::AuthorizationViolation);
                }
                if self
                    .account
                    .beyond(self.peer.cid, authorized.max_account_connections)
                {
                    self.audit_reload_refused(&authorized, || {
                        "maximum account active connections exceeded".into()
                    });
                    return self.refuse_full(&authorized, Full::Account);
                }
                if self.account.user_beyond(
                    self.peer.cid,
                    &authorized.identity,
                    authorized.max_user_connections,
                ) {
                    self.audit_reload_refused(&authorized, || {
                        "maximum user active connections exceeded".into()
                    });
                    return self.refuse_full(&authorized, Full::User);
                }
                self.bind(authorized, Some(request), now);
                self.drop_forbidden_subscriptions();
                Ok(())
            }
            AuthOutcome::Refused(e, _) if reload_error(&e).is_some() => {
                tracing::error!(
                    "{} - cid:{} - authentication error on account update - User {}: {e}",
                    self.peer.addr,
                    self.peer.cid,
                    Quoted(self.identity.as_bytes())
                );
                match reload_error(&e) {
                    Some(err) => self.fail(err),
                    None => self.fail(ClientError::AuthorizationViolation),
                }
            }
            AuthOutcome::Failed => {
                tracing::error!(
                    "{} - cid:{} - authentication error on reload: authenticator failed",
                    self.peer.addr,
                    self.peer.cid
                );
                self.fail(ClientError::AuthorizationViolation)
            }
            refused => self.refuse(refused),
        }
    }
}

/// What nats-server tells a live client when an account JWT update (or its expiry) refuses it
/// (accounts.go `updateAccountClaimsWithRefresh`); `None`: `Authorization Violation`.
fn reload_error(e: &AuthError) -> Option<ClientError> {
    match e {
        AuthError::Revoked { .. } => Some(ClientError::UserAuthenticationRevoked),
        AuthError::AccountExpired { .. } | AuthError::AccountLookup { .. } => {
            Some(ClientError::AccountAuthenticationExpired)
        }
        // The signing key was removed: closed without an error.
        AuthError::UnknownIssuer { .. } => Some(ClientError::AuthenticationClosed),
        _ => None,
    }
}

/// The CONNECT checks made once authentication has passed: the error the client gets and the
/// reason the log and the audit trail give.
fn late_refusal(opts: &ConnectOptions) -> Option<(ClientError, &'static str)> {
    if opts.account.is_some() || opts.new_account.is_some() {
        return Some((
            ClientError::AuthorizationViolation,
            "CONNECT may not name an account",
        ));
    }
    if !(0..=1).contains(&opts.protocol) {
        return Some((
            ClientError::InvalidClientProtocol,
            "invalid client protocol",
        ));
    }
    if opts.no_responders && !opts.headers {
        return Some((
            ClientError::NoRespondersRequiresHeaders,
            "no responders requires headers support",
        ));
    }
    None
}
