//! What every connection shares: the [`Settings`] in force (swapped whole on reload) and the
//! [`ServerState`] that lives as long as the server (accounts, the client registry, shutdown).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rnats_auth::{Authenticator, OperatorAuth, ServerAuth};
use rnats_config::ServerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::account::Account;
use crate::admission::TlsSetup;
use crate::info::{COMPAT_VERSION, Info};
use crate::links::{self, Links, Plan};
use crate::operator::JwtMode;
use crate::outbound::Outbound;
use crate::server::ServerError;

/// The configuration in force and everything compiled from it; a connection reads it when it
/// starts and again after each reload.
pub(crate) struct Settings {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) info: Info,
    /// Who clients are: the chain the configuration describes, or the authenticator given to
    /// [`Server::builder`](crate::Server::builder). When it is not `configured()`, CONNECT is
    /// accepted into the global account without asking it.
    pub(crate) auth: Arc<dyn Authenticator>,
    /// Cross-account routes by the account they start in, checked and named; resolved into
    /// each account's [`Links`] by [`ServerState::apply_links`].
    links: HashMap<String, Plan>,
    /// Subject mappings by account, put in force with the links.
    mappings: crate::mapping::AccountMappings,
    /// Message trace destinations by account (`msg_trace`, or an account JWT's `trace`): the
    /// destination subject and the sampling percentage, put in force with the links.
    msg_traces: Vec<(String, String, u8)>,
    /// Client TLS, built from the certificate files at start-up and at every reload (so a
    /// reload picks up renewed certificates for new connections).
    pub(crate) tls: Option<Arc<TlsSetup>>,
    /// For the operator: plaintext passwords, imports that no export allows, ...
    pub(crate) warnings: Vec<String>,
    /// The WebSocket listener's rules (its own `Settings` inside), when configured.
    pub(crate) websocket: Option<Arc<crate::websocket::WsSetup>>,
    /// Operator mode: operators, resolver and account JWTs, shared by every reload.
    pub(crate) jwt: Option<Arc<JwtMode>>,
    /// Operator mode: these settings were rebuilt for an update of this one account, so only
    /// its connections must check themselves again (`None`: every connection, as a reload).
    pub(crate) recheck_only: Option<String>,
    /// `authorization { auth_callout {} }`: the answers of the authenticator it covers are
    /// completed by the external service.
    pub(crate) callout: Option<Arc<rnats_auth::CalloutPolicy>>,
}

impl Settings {
    /// Compiles `config`; `custom` replaces the authentication it describes. `ws_port` is the
    /// bound WebSocket port (for the WebSocket clients' INFO). In operator mode `jwt` is what
    /// the server opened at start-up (`None`: open it now).
    pub(crate) fn new(
        config: ServerConfig,
        server_id: &str,
        port: u16,
        ws_port: u16,
        custom: Option<&Arc<dyn Authenticator>>,
        jwt: Option<&Arc<JwtMode>>,
    ) -> Result<Self, ServerError> {
        check_limits(&config)?;
        let jwt = match (&config.operator_mode, jwt) {
            (None, _) => None,
            (Some(_), Some(opened)) => Some(opened.clone()),
            (Some(_), None) => Some(Arc::new(JwtMode::open(&config)?)),
        };
        let mut warnings = Vec::new();
        let mut callout = None;
        let auth: Arc<dyn Authenticator> = match (custom, &jwt) {
            (Some(custom), _) => custom.clone(),
            (None, Some(jwt)) => Arc::new(
                OperatorAuth::new(&config, jwt.accounts.clone()).map_err(|e| {
                    ServerError::Config(config.origins.locate("default_sentinel", &e))
                })?,
            ),
            (None, None) => {
                let fetcher = crate::jwks_fetch::HttpsFetcher::shared();
                let configured = ServerAuth::from_config_with_fetcher(&config, Some(fetcher))
                    .map_err(|e| {
                        // Errors about one value name where it was written.
                        let key = match &e {
                            rnats_auth::AuthConfigError::InvalidPasswordHash(user) => {
                                format!("password of {user}")
                            }
                            rnats_auth::AuthConfigError::InvalidTokenHash => {
                                "authorization.token".to_owned()
                            }
                            rnats_auth::AuthConfigError::Oidc { origin, .. } => origin.clone(),
                            _ => String::new(),
                        };
                        ServerError::Config(config.origins.locate(&key, &e))
                    })?;
                warnings = configured.plaintext_password_warnings();
                callout = configured.callout().cloned();
                if let Some(c) = &callout {
                    warnings.extend(c.warnings().iter().cloned());
                }
                Arc::new(configured)
            }
        };
        let mut info = base_info(&config, server_id, port);
        info.auth_required = auth.auth_required();
        let tls = match &config.tls {
            Some(options) => {
                let setup = TlsSetup::new(options, config.allow_non_tls, &config.origins)?;
                info.tls_required = !config.allow_non_tls;
                info.tls_available = config.allow_non_tls;
                info.tls_verify = options.verify || options.verify_and_map;
                Some(Arc::new(setup))
            }
            None => None,
        };
        let msg_traces = match &jwt {
            Some(jwt) => jwt
                .accounts
                .loaded()
                .iter()
                .filter_map(|a| {
                    let t = a.claims.trace.as_ref()?;
                    let (dest, sampling) = jwt_trace(&t.dest, t.sampling)?;
                    Some((a.key().to_owned(), dest, sampling))
                })
                .collect(),
            None => config
                .accounts
                .iter()
                .filter_map(|a| {
                    let t = a.msg_trace.as_ref()?;
                    Some((a.name.clone(), t.dest.clone(), t.sampling))
                })
                .collect(),
        };
        let (links, mappings) = match &jwt {
            Some(jwt) => {
                warnings.extend(jwt.warnings.iter().cloned());
                let accounts = jwt.account_configs(SystemTime::now());
                let links = links::build_lenient(&accounts, &mut |skipped| {
                    warnings.push(format!("account JWT import left out: {skipped}"));
                });
                let mappings = crate::mapping::compile(&accounts, ("", &[]), &mut |skipped| {
                    tracing::error!("{skipped}");
                    warnings.push(skipped);
                });
                (links, mappings)
            }
            None => {
                let links = links::build(&config.accounts).map_err(ServerError::Config)?;
                let global = (rnats_auth::GLOBAL_ACCOUNT, config.mappings.as_slice());
                let mappings = crate::mapping::compile(&config.accounts, global, &mut |skipped| {
                    warnings.push(skipped);
                });
                (links, mappings)
            }
        };
        let websocket = match &config.websocket {
            Some(ws) => Some(Arc::new(crate::websocket::WsSetup::new(
                &config,
                ws,
                auth.as_ref(),
                info.tls_verify,
                server_id,
                ws_port,
                custom,
                jwt.as_ref(),
            )?)),
            None => None,
        };
        Ok(Self {
            config: Arc::new(config),
            info,
            auth,
            websocket,
            links,
            mappings,
            msg_traces,
            tls,
            warnings,
            jwt,
            recheck_only: None,
            callout,
        })
    }

    /// Marks freshly built settings (and the WebSocket listener's, built with them) as made
    /// for an update of `account` alone, so only its connections check themselves again.
    fn set_recheck_only(&mut self, account: Option<&str>) {
        self.recheck_only = account.map(str::to_owned);
        let ws = self
            .websocket
            .as_mut()
            .and_then(Arc::get_mut)
            .and_then(|ws| Arc::get_mut(&mut ws.settings));
        if let Some(ws) = ws {
            ws.recheck_only = account.map(str::to_owned);
        }
    }

    /// The system account's name: in operator mode from the configuration or the operator
    /// JWT, else `system_account` (`$SYS` by default).
    pub(crate) fn system_account(&self) -> String {
        match &self.jwt {
            Some(jwt) => jwt.system_account().unwrap_or("$SYS").to_owned(),
            None => self
                .config
                .system_account
                .clone()
                .unwrap_or_else(|| "$SYS".to_owned()),
        }
    }

    /// The INFO a new client of these settings gets, before its own fields are filled in.
    pub(crate) fn info(&self) -> &Info {
        &self.info
    }
}

/// State shared by the listener and every connection for the server's whole life.
pub(crate) struct ServerState {
    settings: RwLock<Arc<Settings>>,
    pub(crate) server_id: String,
    pub(crate) global_account: Arc<Account>,
    /// Every account by name; subscriptions live here, so accounts outlive reloads.
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    /// Bumped on every reload: live connections re-authenticate with the new rules.
    pub(crate) reload_epoch: tokio::sync::watch::Sender<u64>,
    pub(crate) client_count: AtomicUsize,
    pub(crate) next_cid: AtomicU64,
    clients: Mutex<HashMap<u64, Arc<Outbound>>>,
    /// Stops everything: connections close, `run` returns.
    pub(crate) shutdown: CancellationToken,
    /// Stops accepting new connections (shutdown or lame duck).
    pub(crate) stop_accept: CancellationToken,
    pub(crate) lame_duck: AtomicBool,
    pub(crate) tracker: TaskTracker,
    /// Bounded bcrypt/argon2 work for logins.
    pub(crate) hashing: crate::hashing::HashGate,
    /// `connect_rate_limit`: new connections per client address.
    pub(crate) connect_limiter: crate::connect_limit::ConnectLimiter,
    /// The authenticator given to `Server::builder`, kept across reloads.
    pub(crate) custom_auth: Option<Arc<dyn Authenticator>>,
    /// The server's auth callout keys and request clients.
    pub(crate) callout: crate::callout::CalloutService,
    /// Counters and the closed-connection ring for monitoring.
    pub(crate) monitor: crate::monitor::Monitor,
    /// The authentication audit trail (`audit { … }`).
    pub(crate) audit: crate::audit::Audit,
    /// `idle_poll`: read activity for the one-worker spinner.
    pub(crate) idle_poll: crate::spin::IdlePoll,
}

impl ServerState {
    pub(crate) fn new(
        settings: Arc<Settings>,
        server_id: String,
        custom_auth: Option<Arc<dyn Authenticator>>,
    ) -> Arc<Self> {
        let state = Arc::new(Self {
            settings: RwLock::new(settings),
            server_id,
            global_account: Arc::new(Account::new("$G")),
            accounts: Mutex::new(HashMap::new()),
            reload_epoch: tokio::sync::watch::Sender::new(0),
            client_count: AtomicUsize::new(0),
            next_cid: AtomicU64::new(1),
            clients: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            stop_accept: CancellationToken::new(),
            lame_duck: AtomicBool::new(false),
            tracker: TaskTracker::new(),
            hashing: crate::hashing::HashGate::new(),
            connect_limiter: crate::connect_limit::ConnectLimiter::new(),
            custom_auth,
            callout: crate::callout::CalloutService::new(),
            monitor: crate::monitor::Monitor::default(),
            audit: crate::audit::Audit::default(),
            idle_poll: crate::spin::IdlePoll::default(),
        });
        state.apply_links(&state.settings());
        state
    }

    /// The settings new connections start with.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts new settings in force for new connections and points every account at its new
    /// routes; live connections re-check themselves when told through `reload_epoch`.
    pub(crate) fn replace_settings(&self, settings: Arc<Settings>) {
        *self.settings.write().unwrap_or_else(|e| e.into_inner()) = settings.clone();
        self.apply_links(&settings);
    }

    /// Operator mode: builds the settings again from the same configuration and the account
    /// JWTs now loaded, puts them in force, and has every live connection check itself
    /// against them (what a reload does), so an account JWT update acts on live clients.
    /// `account`: the one account whose JWT changed, when only its connections are affected.
    pub(crate) fn rebuild_settings(&self, account: Option<&str>) -> Result<(), ServerError> {
        let live = self.settings();
        let ws_port = live.websocket.as_ref().map_or(0, |w| w.settings.info.port);
        let mut rebuilt = Settings::new(
            (*live.config).clone(),
            &self.server_id,
            live.info.port,
            ws_port,
            self.custom_auth.as_ref(),
            live.jwt.as_ref(),
        )?;
        rebuilt.set_recheck_only(account);
        self.replace_settings(Arc::new(rebuilt));
        self.reload_epoch.send_modify(|epoch| *epoch += 1);
        Ok(())
    }

    /// The configuration new connections start with.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        self.settings().config.clone()
    }

    /// The account of this name, created on first use.
    pub(crate) fn account(&self, name: &str) -> Arc<Account> {
        if name == self.global_account.name {
            return self.global_account.clone();
        }
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        accounts
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Account::new(name)))
            .clone()
    }

    /// Every account created so far, the global account first.
    pub(crate) fn all_accounts(&self) -> Vec<Arc<Account>> {
        let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        std::iter::once(self.global_account.clone())
            .chain(accounts.values().cloned())
            .collect()
    }

    /// The bound WebSocket port (0 without `websocket {}`).
    pub(crate) fn websocket_port(&self) -> u16 {
        self.settings()
            .websocket
            .as_ref()
            .map_or(0, |w| w.settings.info.port)
    }

    /// Resolves the cross-account routes of `settings` into each account: the routes hold the
    /// accounts themselves from now on, so no message looks an account up by name.
    fn apply_links(&self, settings: &Settings) {
        let known: Vec<Arc<Account>> = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts.values().cloned().collect()
        };
        for account in known {
            if !settings.links.contains_key(&account.name) {
                account.set_links(Links::default());
            }
        }
        for (name, plan) in &settings.links {
            let links = Links::resolve(plan, |other| self.account(other));
            self.account(name).set_links(links);
        }
        let known: Vec<Arc<Account>> = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts.values().cloned().collect()
        };
        for account in known.iter().chain(std::iter::once(&self.global_account)) {
            if !settings.mappings.contains_key(&account.name) {
                account.set_mappings(None);
            }
        }
        // Accounts nobody has used yet are created, so their mappings wait for them.
        for (name, mappings) in &settings.mappings {
            self.account(name).set_mappings(Some(mappings.clone()));
        }
        for account in &known {
            account.set_msg_trace(None);
        }
        for (name, dest, sampling) in &settings.msg_traces {
            self.account(name)
                .set_msg_trace(Some((dest.clone(), *sampling)));
        }
    }

    /// INFO for one client.
    pub(crate) fn client_info(
        &self,
        settings: &Settings,
        cid: u64,
        peer: SocketAddr,
        connect_info: bool,
    ) -> Info {
        let mut info = settings.info.clone();
        info.client_id = cid;
        // An IPv4 client of a dual-stack listener is shown as IPv4, as nats-server shows it.
        info.client_ip = peer.ip().to_canonical().to_string();
        info.connect_info = connect_info;
        info.ldm = self.lame_duck.load(Ordering::Relaxed);
        info.xkey = self.callout.xkey_public().to_owned();
        info
    }

    pub(crate) fn register(&self, cid: u64, out: Arc<Outbound>) {
        self.clients_lock().insert(cid, out);
    }

    pub(crate) fn unregister(&self, cid: u64) {
        self.clients_lock().remove(&cid);
    }

    fn clients_lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Outbound>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn snapshot_clients(&self) -> Vec<Arc<Outbound>> {
        self.clients_lock().values().cloned().collect()
    }
}

impl Drop for ServerState {
    /// Routes hold accounts, and two accounts that import from each other hold each other:
    /// emptying the routes lets every account go with the server.
    fn drop(&mut self) {
        let accounts = self.accounts.get_mut().unwrap_or_else(|e| e.into_inner());
        for account in accounts.values() {
            account.set_links(Links::default());
        }
        self.global_account.set_links(Links::default());
    }
}

/// The INFO fields every client of this configuration gets.
/// An account JWT's `trace` as nats-server takes it: a destination that is not a valid
/// publish subject is none, and a sampling outside 1–100 is 100.
fn jwt_trace(dest: &str, sampling: i64) -> Option<(String, u8)> {
    if dest.is_empty() || rnats_sublist::validate_literal_subject(dest.as_bytes()).is_err() {
        return None;
    }
    let sampling = u8::try_from(sampling)
        .ok()
        .filter(|s| (1..=100).contains(s))
        .unwrap_or(100);
    Some((dest.to_owned(), sampling))
}

fn base_info(config: &ServerConfig, server_id: &str, port: u16) -> Info {
    Info {
        server_id: server_id.to_owned(),
        server_name: config
            .server_name
            .clone()
            .unwrap_or_else(|| server_id.to_owned()),
        version: COMPAT_VERSION.to_owned(),
        proto: 1,
        git_commit: crate::info::GIT_COMMIT.to_owned(),
        host: config.host.clone(),
        port,
        headers: !config.no_header_support,
        auth_required: false,
        tls_required: false,
        tls_verify: false,
        tls_available: false,
        max_payload: config.max_payload,
        nonce: None,
        client_id: 0,
        client_ip: String::new(),
        connect_info: false,
        remote_account: None,
        ldm: false,
        api_lvl: crate::info::API_LEVEL,
        ..Info::default()
    }
}

/// Limits nats-server checks together, at start-up and on reload.
fn check_limits(config: &ServerConfig) -> Result<(), ServerError> {
    if u64::from(config.max_payload) > config.max_pending {
        return Err(ServerError::Config(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            config.max_payload, config.max_pending
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_update_scopes_the_websocket_settings_too() {
        let conf = "websocket { port: -1, no_tls: true }\naccounts { A { users = [ {user: a, password: p} ] } }";
        let loaded = rnats_config::load_str(conf, None).expect("config");
        let mut s =
            Settings::new(loaded.config, "NTEST", 4222, 8080, None, None).expect("settings");
        s.set_recheck_only(Some("A"));
        let ws = s.websocket.as_ref().expect("websocket settings");
        assert_eq!(ws.settings.recheck_only.as_deref(), Some("A"));
        assert_eq!(s.recheck_only.as_deref(), Some("A"));
    }

    #[test]
    fn info_shows_an_ipv4_client_of_a_dual_stack_listener_as_ipv4() {
        let loaded = rnats_config::load_str("", None).expect("config");
        let settings =
            Settings::new(loaded.config, "NTEST", 4222, 0, None, None).expect("settings");
        let state = ServerState::new(Arc::new(settings), "NTEST".into(), None);
        let mapped: SocketAddr = "[::ffff:10.1.2.3]:5000".parse().unwrap();
        let info = state.client_info(&state.settings(), 1, mapped, false);
        assert_eq!(info.client_ip, "10.1.2.3");
        let v6: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
        assert_eq!(
            state.client_info(&state.settings(), 2, v6, false).client_ip,
            "2001:db8::1"
        );
    }
}
