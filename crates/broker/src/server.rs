//! The listener, the registry of live clients, reload, shutdown and lame-duck mode.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use rnats_auth::Authenticator;
use rnats_config::ServerConfig;
use tokio::net::TcpListener;

use crate::info::InfoLine;
use crate::listen::{join_host_port, listen};
use crate::outbound::CloseReason;
use crate::state::{ServerState, Settings};

/// Errors that stop the server from starting, or a reload from taking effect.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The client listener could not be opened.
    #[error("Error listening on port: {addr}, \"{source}\"")]
    Listen {
        /// The address asked for.
        addr: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The configuration is inconsistent (nats-server refuses the same).
    #[error("{0}")]
    Config(String),
    /// The configuration asks for something rnats does not do yet (operator mode); the message
    /// names where, as `FILE:LINE:COL`.
    #[error("{0}")]
    Unsupported(String),
    /// A reload asked for a change that needs a restart; nothing was changed.
    #[error("config reload not supported for {field}: old={old}, new={new}")]
    ReloadNotSupported {
        /// nats-server's name for the option.
        field: &'static str,
        /// The running value.
        old: String,
        /// The value in the new file.
        new: String,
    },
}

/// A NATS server: bind it, then `run` it. Tests embed it on port 0.
///
/// ```no_run
/// # async fn demo() -> Result<(), rnats_broker::ServerError> {
/// let mut config = rnats_broker::ServerConfig::default();
/// config.host = "127.0.0.1".into();
/// config.port = 0; // any free port
/// let server = rnats_broker::Server::bind(config).await?;
/// println!("nats://{}", server.local_addr());
/// let handle = server.handle();
/// tokio::spawn(server.run());
/// handle.shutdown();
/// # Ok(()) }
/// ```
pub struct Server {
    state: Arc<ServerState>,
    listener: TcpListener,
    local_addr: SocketAddr,
    /// The WebSocket listener and its address, when `websocket {}` is configured.
    websocket: Option<(TcpListener, SocketAddr)>,
    /// The monitoring listener, when `http_port` or `https_port` is configured.
    monitor: Option<crate::monitor::MonitorListener>,
}

/// A cheap handle to control a running server from elsewhere (signals, tests).
#[derive(Clone)]
pub struct ServerHandle {
    state: Arc<ServerState>,
    local_addr: SocketAddr,
    websocket_addr: Option<SocketAddr>,
    monitor_addr: Option<SocketAddr>,
}

/// A server with options beyond its configuration file: see [`Server::builder`].
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl ServerBuilder {
    /// Decides who clients are with `authenticator` instead of the authentication the
    /// configuration describes (`authorization`, account users, `no_auth_user`). Accounts,
    /// their exports and imports, and everything else still come from the configuration; an
    /// authenticator places a client in an account by naming it in [`rnats_auth::Authorized`].
    /// It is kept across reloads.
    pub fn authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// Opens the client listener, as [`Server::bind`].
    pub async fn bind(self) -> Result<Server, ServerError> {
        Server::open(self.config, self.authenticator).await
    }
}

impl Server {
    /// A server of `config` with more options (a custom authenticator).
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use rnats_auth::{AuthError, AuthMethod, AuthRequest, Authenticator, Authorized};
    ///
    /// /// Lets in whoever presents a token starting with "ticket-", as its own identity.
    /// struct Tickets;
    ///
    /// impl Authenticator for Tickets {
    ///     fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
    ///         match req.token.as_deref() {
    ///             Some(t) if t.starts_with("ticket-") => {
    ///                 Ok(Authorized::new("$G", t, AuthMethod::Token))
    ///             }
    ///             _ => Err(AuthError::NoCredentials),
    ///         }
    ///     }
    ///     fn may_block(&self, _req: &AuthRequest) -> bool {
    ///         false // answers in microseconds: no need for a worker thread
    ///     }
    /// }
    ///
    /// # async fn demo() -> Result<(), rnats_broker::ServerError> {
    /// let server = rnats_broker::Server::builder(rnats_broker::ServerConfig::default())
    ///     .authenticator(Arc::new(Tickets))
    ///     .bind()
    ///     .await?;
    /// tokio::spawn(server.run());
    /// # Ok(()) }
    /// ```
    pub fn builder(config: ServerConfig) -> ServerBuilder {
        ServerBuilder {
            config,
            authenticator: None,
        }
    }

    /// Opens the client listener. Port 0 picks a free port; see [`Server::local_addr`].
    pub async fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        Self::open(config, None).await
    }

    async fn open(
        config: ServerConfig,
        authenticator: Option<Arc<dyn Authenticator>>,
    ) -> Result<Self, ServerError> {
        let addr = join_host_port(&config.host, config.port);
        let listener =
            listen(&config.host, config.port)
                .await
                .map_err(|source| ServerError::Listen {
                    addr: addr.clone(),
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen { addr, source })?;
        // The WebSocket listener opens with the client listener (with nats-server's message).
        let websocket = match &config.websocket {
            Some(ws) => {
                let addr = join_host_port(&ws.host, ws.port);
                let listener = listen(&ws.host, ws.port).await.map_err(|e| {
                    ServerError::Config(format!("Unable to listen for websocket connections: {e}"))
                })?;
                let bound = listener
                    .local_addr()
                    .map_err(|source| ServerError::Listen { addr, source })?;
                Some((listener, bound))
            }
            None => None,
        };
        let monitor = crate::monitor::bind(&config).await?;
        let server_key = nkeys::KeyPair::new_server();
        let server_id = server_key.public_key();
        let ws_port = websocket.as_ref().map_or(0, |(_, a)| a.port());
        let settings = Settings::new(
            config,
            &server_id,
            local_addr.port(),
            ws_port,
            authenticator.as_ref(),
            None,
        )?;
        if let Some(jwt) = settings.jwt.clone() {
            // A URL resolver's account server must answer before the server starts.
            tokio::task::spawn_blocking(move || jwt.probe())
                .await
                .map_err(|e| ServerError::Config(e.to_string()))??;
        }
        let state = ServerState::new(Arc::new(settings), server_id, authenticator);
        state.callout.set_key(server_key);
        state
            .audit
            .configure(state.config().audit.as_ref())
            .map_err(|e| ServerError::Config(format!("audit trail: {e}")))?;
        if let Some(m) = &monitor {
            state.monitor.set_port(m.addr.port(), m.scheme() == "https");
        }
        Ok(Self {
            state,
            listener,
            local_addr,
            websocket,
            monitor,
        })
    }

    /// The address the client listener is bound to (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the WebSocket listener is bound to, when `websocket {}` is configured.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket.as_ref().map(|(_, a)| *a)
    }

    /// The monitoring listener's address, when `http_port` or `https_port` is configured.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor.as_ref().map(|m| m.addr)
    }

    /// The server's id (its public NKey), as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.state.server_id
    }

    /// A handle for reload, shutdown and lame-duck mode.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            state: self.state.clone(),
            local_addr: self.local_addr,
            websocket_addr: self.websocket_addr(),
            monitor_addr: self.monitor_addr(),
        }
    }

    /// Accepts clients until shutdown, then waits for every connection to finish.
    pub async fn run(self) -> Result<(), ServerError> {
        let Self {
            state,
            listener,
            local_addr,
            websocket,
            monitor,
        } = self;
        let host = state.config().host.clone();
        if let Some(jwt) = state.settings().jwt.clone() {
            crate::claims::start(&state, jwt);
        }
        crate::monitor::start_system_services(&state);
        crate::explain::start(&state);
        crate::audit::start(&state);
        tokio::spawn(crate::spin::run(state.clone()));
        if let Some((ws_listener, ws_addr)) = websocket {
            let config = state.config();
            let ws = config.websocket.as_ref();
            let tls = ws.is_some_and(|w| w.tls.is_some());
            let ws_host = ws.map_or("0.0.0.0", |w| w.host.as_str());
            tracing::info!(
                "Listening for websocket clients on {}://{}:{}",
                if tls { "wss" } else { "ws" },
                ws_host,
                ws_addr.port()
            );
            if !tls {
                tracing::warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
            }
            state
                .tracker
                .spawn(crate::websocket::accept_loop(state.clone(), ws_listener));
        }
        if let Some(monitor) = monitor {
            let config = state.config();
            let host = config.http_host.as_deref().unwrap_or(&config.host);
            tracing::info!(
                "Starting {} monitor on {}",
                monitor.scheme(),
                join_host_port(host, monitor.addr.port())
            );
            tokio::spawn(crate::monitor::serve(state.clone(), monitor));
        }
        tracing::info!(
            "Listening for client connections on {}",
            join_host_port(&host, local_addr.port())
        );
        tracing::info!("Server is ready");
        let clients = crate::admission::accept_loop(
            state.clone(),
            listener,
            "Client",
            |state, stream, peer| {
                let cid = state.next_cid.fetch_add(1, Ordering::Relaxed);
                crate::admission::serve(state, stream, peer, cid)
            },
        );
        clients.await;
        state.shutdown.cancelled().await;
        state.tracker.close();
        state.tracker.wait().await;
        tracing::info!("Server Exiting..");
        Ok(())
    }
}

impl ServerHandle {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket listener's address, when `websocket {}` is configured.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// The monitoring listener's address, when `http_port` or `https_port` is configured.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr
    }

    /// A client inside the server, in `account` (created if it does not exist yet): the
    /// server's own way to subscribe, publish and make requests, with the same routing and
    /// account isolation as a connected client. Call it inside the server's tokio runtime.
    pub fn internal_client(&self, account: &str) -> crate::InternalClient {
        crate::InternalClient::new(&self.state, account)
    }

    /// An internal client in the system account (`system_account`, `$SYS` by default; in
    /// operator mode the account key from the configuration or the operator JWT).
    pub fn system_client(&self) -> crate::InternalClient {
        let name = self.state.settings().system_account();
        self.internal_client(&name)
    }

    /// Stops accepting, closes every client (flushing what is queued) and lets `run` return.
    pub fn shutdown(&self) {
        self.state.stop_accept.cancel();
        self.state.shutdown.cancel();
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.state.shutdown.is_cancelled()
    }

    /// Number of client connections open now.
    pub fn client_count(&self) -> usize {
        self.state.client_count.load(Ordering::Acquire)
    }

    /// Client subscriptions in the global account (the server's own, such as the system
    /// services every account reaches, are not counted).
    pub fn subscription_count(&self) -> usize {
        let mut count = 0;
        self.state.global_account.read().for_each(|sub| {
            if !sub.client.internal.load(Ordering::Relaxed) {
                count += 1;
            }
        });
        count
    }

    /// Warnings for the operator about the configuration in force (plaintext passwords,
    /// imports no export allows); never contains a secret.
    pub fn warnings(&self) -> Vec<String> {
        self.state.settings().warnings.clone()
    }

    /// The configuration in force for new connections.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.state.config()
    }

    /// Applies a new configuration: new connections get it at once. Options that need a restart
    /// (the listen address) are refused and nothing changes. Returns one line per changed option
    /// in nats-server's `Reloaded: …` form (without the prefix).
    pub fn reload(&self, config: ServerConfig) -> Result<Vec<String>, ServerError> {
        let old = self.state.config();
        if old.host != config.host {
            return Err(ServerError::ReloadNotSupported {
                field: "Host",
                old: old.host.clone(),
                new: config.host,
            });
        }
        if old.port != config.port {
            return Err(ServerError::ReloadNotSupported {
                field: "Port",
                old: old.port.to_string(),
                new: config.port.to_string(),
            });
        }
        // As nats-server: the monitoring listener is not reloadable.
        let port = |p: Option<u16>| p.map_or(0, |p| if p == 0 { -1 } else { i64::from(p) });
        for (field, old, new) in [
            (
                "HTTPHost",
                old.http_host.clone().unwrap_or_default(),
                config.http_host.clone().unwrap_or_default(),
            ),
            (
                "HTTPPort",
                port(old.http_port).to_string(),
                port(config.http_port).to_string(),
            ),
            (
                "HTTPSPort",
                port(old.https_port).to_string(),
                port(config.https_port).to_string(),
            ),
            (
                "HTTPBasePath",
                old.http_base_path.clone(),
                config.http_base_path.clone(),
            ),
            (
                "MaxClosedClients",
                old.max_closed_clients.to_string(),
                config.max_closed_clients.to_string(),
            ),
        ] {
            if old != new {
                return Err(ServerError::ReloadNotSupported { field, old, new });
            }
        }
        // As nats-server: of the `websocket {}` block, only its TLS may change on reload.
        let without_tls = |c: &ServerConfig| {
            c.websocket.clone().map(|mut w| {
                w.tls = None;
                w
            })
        };
        if without_tls(&old) != without_tls(&config) {
            let show = |c: &ServerConfig| {
                c.websocket
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), |w| join_host_port(&w.host, w.port))
            };
            return Err(ServerError::ReloadNotSupported {
                field: "Websocket",
                old: show(&old),
                new: show(&config),
            });
        }
        // As nats-server: operators and the account resolver are not reloadable.
        let live = self.state.settings();
        let jwt = live.jwt.as_ref();
        if config.operator_mode.is_some() != jwt.is_some()
            || jwt.is_some_and(|j| !j.same_as(&config))
        {
            return Err(ServerError::ReloadNotSupported {
                field: "TrustedOperators",
                old: if jwt.is_some() {
                    "operator mode"
                } else {
                    "none"
                }
                .to_owned(),
                new: if config.operator_mode.is_some() {
                    "operator mode"
                } else {
                    "none"
                }
                .to_owned(),
            });
        }
        let changes = describe_changes(&old, &config);
        let audit = config.audit.clone();
        let settings = Arc::new(Settings::new(
            config,
            &self.state.server_id,
            self.local_addr.port(),
            self.websocket_addr.map_or(0, |a| a.port()),
            self.state.custom_auth.as_ref(),
            jwt,
        )?);
        // A new audit file that cannot be opened fails the reload before anything changes.
        self.state
            .audit
            .configure(audit.as_ref())
            .map_err(|e| ServerError::Config(format!("audit trail: {e}")))?;
        self.state.replace_settings(settings);
        self.state.reload_epoch.send_modify(|epoch| *epoch += 1);
        Ok(changes)
    }

    /// Lame-duck mode, as nats-server: stop accepting, tell clients (INFO with `ldm`), wait the
    /// grace period, close the clients spread over the lame-duck duration, then shut down.
    pub fn lame_duck(&self) {
        if self.state.lame_duck.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = self.state.clone();
        let handle = self.clone();
        tokio::spawn(async move {
            tracing::info!("Entering lame duck mode, stop accepting new clients");
            state.stop_accept.cancel();
            let live = state.settings();
            let mut info = live.info().clone();
            info.ldm = true;
            for out in state.snapshot_clients() {
                let mut info = info.clone();
                info.client_id = out.cid;
                out.send_now(&info.to_line());
            }
            let grace = live.config.lame_duck_grace_period;
            let duration = live.config.lame_duck_duration.saturating_sub(grace);
            tokio::select! {
                () = tokio::time::sleep(grace) => {}
                () = state.shutdown.cancelled() => return,
            }
            let clients = state.snapshot_clients();
            let batch = clients.len().div_ceil(10).max(1);
            let rounds = u32::try_from(clients.len().div_ceil(batch))
                .unwrap_or(u32::MAX)
                .max(1);
            let pause = duration / rounds;
            tracing::info!("Closing existing clients");
            for chunk in clients.chunks(batch) {
                for out in chunk {
                    out.close(CloseReason::ServerShutdown);
                    out.kill.cancel();
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = state.shutdown.cancelled() => return,
                }
            }
            handle.shutdown();
        });
    }
}

/// Checks a configuration as `Server::bind` would (authentication, accounts and their imports,
/// TLS files, limits) without opening a listener; returns the warnings it would log. For `-t`.
pub fn check_config(config: &ServerConfig) -> Result<Vec<String>, ServerError> {
    let warnings = Settings::new(config.clone(), "", 0, 0, None, None).map(|s| s.warnings)?;
    // The audit file is opened (created) only when the server starts; its directory must exist.
    if let Some(file) = config.audit.as_ref().and_then(|a| a.file.as_deref()) {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if !dir.is_dir() {
            return Err(ServerError::Config(config.origins.locate(
                "audit.file",
                format!(
                    "audit trail: the directory of {} does not exist",
                    file.display()
                ),
            )));
        }
    }
    Ok(warnings)
}

/// `name = value` for each reloadable option that changed.
fn describe_changes(old: &ServerConfig, new: &ServerConfig) -> Vec<String> {
    let mut changes = Vec::new();
    macro_rules! diff {
        ($($field:ident),*) => {$(
            if old.$field != new.$field {
                changes.push(format!(concat!(stringify!($field), " = {:?}"), new.$field));
            }
        )*};
    }
    diff!(
        server_name,
        max_payload,
        max_control_line,
        max_pending,
        max_connections,
        max_subscriptions,
        ping_interval,
        ping_max,
        write_deadline,
        no_header_support,
        no_fast_producer_stall,
        idle_poll,
        lame_duck_duration,
        lame_duck_grace_period,
        debug,
        trace,
        logtime,
        log_file
    );
    if old.authorization != new.authorization || old.no_auth_user != new.no_auth_user {
        changes.push("authorization users".to_owned());
    }
    if old.accounts != new.accounts || old.system_account != new.system_account {
        changes.push("accounts".to_owned());
    }
    if old.tls != new.tls {
        changes.push("tls".to_owned());
    }
    if old.audit != new.audit {
        changes.push("audit".to_owned());
    }
    if old.websocket.as_ref().map(|w| &w.tls) != new.websocket.as_ref().map(|w| &w.tls) {
        changes.push("websocket tls".to_owned());
    }
    changes
}
