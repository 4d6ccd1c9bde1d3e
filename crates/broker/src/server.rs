//! The listener, the registry of live clients, reload, shutdown and lame-duck mode.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rnats_auth::ServerAuth;
use rnats_config::ServerConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::account::Account;
use crate::info::{COMPAT_VERSION, Info, InfoLine};
use crate::links::{self, Links};
use crate::outbound::{CloseReason, Outbound};

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

/// What a connection reads when it starts; swapped whole on reload.
pub(crate) struct Live {
    pub(crate) config: Arc<ServerConfig>,
    info: Info,
    pub(crate) auth: Arc<ServerAuth>,
    /// Whether anything at all is configured for authentication; when not, CONNECT is accepted
    /// into the global account without asking the authenticator.
    pub(crate) auth_configured: bool,
    /// Cross-account routes by the account they start in.
    links: HashMap<String, Links>,
    /// Client TLS, built from the certificate files at start-up and at every reload (so a
    /// reload picks up renewed certificates for new connections).
    pub(crate) tls: Option<Arc<TlsSetup>>,
    /// For the operator: plaintext passwords, imports that no export allows, ...
    warnings: Vec<String>,
}

impl Live {
    fn new(config: ServerConfig, server_id: &str, port: u16) -> Result<Self, ServerError> {
        check_limits(&config)?;
        let auth = ServerAuth::from_config(&config).map_err(|e| {
            // Errors about one value name where it was written.
            let key = match &e {
                rnats_auth::AuthConfigError::InvalidPasswordHash(user) => {
                    format!("password of {user}")
                }
                rnats_auth::AuthConfigError::InvalidTokenHash => "authorization.token".to_owned(),
                _ => String::new(),
            };
            ServerError::Config(config.origins.locate(&key, &e))
        })?;
        let auth_configured = config.authorization.is_some()
            || !config.accounts.is_empty()
            || config.no_auth_user.is_some();
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
        let links = links::build(&config.accounts).map_err(ServerError::Config)?;
        let warnings = auth.plaintext_password_warnings();
        Ok(Self {
            config: Arc::new(config),
            info,
            auth: Arc::new(auth),
            auth_configured,
            links,
            tls,
            warnings,
        })
    }
}

/// nats-server's default TLS handshake timeout.
const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// The client listener's TLS: the acceptor and the options the connection task needs.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) timeout: Duration,
    pub(crate) handshake_first: rnats_config::HandshakeFirst,
    /// `allow_non_tls`: a client that does not start TLS after INFO is served in plain text.
    pub(crate) optional: bool,
    /// `connection_rate_limit`: new handshakes allowed per second (a window and its count).
    rate: Option<(u64, Mutex<(std::time::Instant, u64)>)>,
    options: rnats_config::TlsConfig,
}

impl TlsSetup {
    fn new(
        options: &rnats_config::TlsConfig,
        optional: bool,
        origins: &rnats_config::Origins,
    ) -> Result<Self, ServerError> {
        let config = rnats_tls::server_config(options).map_err(|e| {
            // Point at the file's entry when the error is about one file, else at `tls`.
            let file = e.file();
            let key = [
                ("tls.cert_file", &options.cert_file),
                ("tls.key_file", &options.key_file),
                ("tls.ca_file", &options.ca_file),
            ]
            .into_iter()
            .find(|(_, path)| file.is_some() && path.as_deref() == file)
            .map_or("tls", |(key, _)| key);
            ServerError::Config(origins.locate(key, format!("TLS: {e}")))
        })?;
        Ok(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            timeout: options.timeout.unwrap_or(DEFAULT_TLS_TIMEOUT),
            handshake_first: options.handshake_first,
            optional,
            rate: options
                .connection_rate_limit
                .filter(|&n| n > 0)
                .map(|n| (n, Mutex::new((std::time::Instant::now(), 0)))),
            options: options.clone(),
        })
    }

    /// Whether one more handshake fits in this second's `connection_rate_limit`.
    pub(crate) fn admit_handshake(&self) -> bool {
        let Some((limit, window)) = &self.rate else {
            return true;
        };
        let mut window = window.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        window.1 += 1;
        window.1 <= *limit
    }

    /// Whether the client passes `pinned_certs` (always when none are listed; never without a
    /// certificate when some are).
    pub(crate) fn pinned(&self, peer: Option<&rnats_tls::PeerIdentity>) -> bool {
        rnats_tls::pinned(&self.options, peer)
    }
}

/// State shared by the listener and every connection.
pub(crate) struct Shared {
    live: RwLock<Arc<Live>>,
    server_id: String,
    pub(crate) global_account: Arc<Account>,
    /// Every account by name; subscriptions live here, so accounts outlive reloads.
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    /// Bumped on every reload: live connections re-authenticate with the new rules.
    pub(crate) reload_epoch: tokio::sync::watch::Sender<u64>,
    pub(crate) client_count: AtomicUsize,
    next_cid: AtomicU64,
    clients: Mutex<HashMap<u64, Arc<Outbound>>>,
    /// Stops everything: connections close, `run` returns.
    pub(crate) shutdown: CancellationToken,
    /// Stops accepting new connections (shutdown or lame duck).
    stop_accept: CancellationToken,
    lame_duck: AtomicBool,
    tracker: TaskTracker,
    /// Bounded bcrypt/argon2 work for logins.
    pub(crate) hashing: crate::hashing::HashGate,
}

impl Shared {
    /// The configuration new connections start with.
    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        self.live().config.clone()
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

    /// Points every account at the cross-account routes of `live`.
    fn apply_links(&self, live: &Live) {
        let known: Vec<Arc<Account>> = {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts.values().cloned().collect()
        };
        for account in known {
            if !live.links.contains_key(&account.name) {
                account.set_links(Links::default());
            }
        }
        for (name, links) in &live.links {
            self.account(name).set_links(links.clone());
        }
    }

    pub(crate) fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// INFO for one client.
    pub(crate) fn client_info(&self, cid: u64, peer: SocketAddr, connect_info: bool) -> Info {
        let mut info = self.live().info.clone();
        info.client_id = cid;
        info.client_ip = peer.ip().to_string();
        info.connect_info = connect_info;
        info.ldm = self.lame_duck.load(Ordering::Relaxed);
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

    fn snapshot_clients(&self) -> Vec<Arc<Outbound>> {
        self.clients_lock().values().cloned().collect()
    }
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
    shared: Arc<Shared>,
    listener: TcpListener,
    local_addr: SocketAddr,
}

/// A cheap handle to control a running server from elsewhere (signals, tests).
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl Server {
    /// Opens the client listener. Port 0 picks a free port; see [`Server::local_addr`].
    pub async fn bind(config: ServerConfig) -> Result<Self, ServerError> {
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
        let server_id = nkeys::KeyPair::new_server().public_key();
        let live = Live::new(config, &server_id, local_addr.port())?;
        let shared = Arc::new(Shared {
            live: RwLock::new(Arc::new(live)),
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
        });
        shared.apply_links(&shared.live());
        Ok(Self {
            shared,
            listener,
            local_addr,
        })
    }

    /// The address the client listener is bound to (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The server's id (its public NKey), as sent in INFO.
    pub fn server_id(&self) -> &str {
        &self.shared.server_id
    }

    /// A handle for reload, shutdown and lame-duck mode.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
            local_addr: self.local_addr,
        }
    }

    /// Accepts clients until shutdown, then waits for every connection to finish.
    pub async fn run(self) -> Result<(), ServerError> {
        let Self {
            shared,
            listener,
            local_addr,
        } = self;
        let host = shared.config().host.clone();
        tracing::info!(
            "Listening for client connections on {}",
            join_host_port(&host, local_addr.port())
        );
        tracing::info!("Server is ready");
        loop {
            tokio::select! {
                biased;
                () = shared.stop_accept.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let cid = shared.next_cid.fetch_add(1, Ordering::Relaxed);
                        shared.tracker.spawn(crate::client::serve(shared.clone(), stream, peer, cid));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::error!("Temporary Client Accept Error ({e}), sleeping 10ms");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
            }
        }
        drop(listener);
        shared.shutdown.cancelled().await;
        shared.tracker.close();
        shared.tracker.wait().await;
        tracing::info!("Server Exiting..");
        Ok(())
    }
}

impl ServerHandle {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes every client (flushing what is queued) and lets `run` return.
    pub fn shutdown(&self) {
        self.shared.stop_accept.cancel();
        self.shared.shutdown.cancel();
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown.is_cancelled()
    }

    /// Number of client connections open now.
    pub fn client_count(&self) -> usize {
        self.shared.client_count.load(Ordering::Acquire)
    }

    /// Subscriptions in the global account.
    pub fn subscription_count(&self) -> usize {
        self.shared.global_account.subscription_count()
    }

    /// Warnings for the operator about the configuration in force (plaintext passwords,
    /// imports no export allows); never contains a secret.
    pub fn warnings(&self) -> Vec<String> {
        self.shared.live().warnings.clone()
    }

    /// The configuration in force for new connections.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.shared.config()
    }

    /// Applies a new configuration: new connections get it at once. Options that need a restart
    /// (the listen address) are refused and nothing changes. Returns one line per changed option
    /// in nats-server's `Reloaded: …` form (without the prefix).
    pub fn reload(&self, config: ServerConfig) -> Result<Vec<String>, ServerError> {
        let old = self.shared.config();
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
        let changes = describe_changes(&old, &config);
        let live = Arc::new(Live::new(
            config,
            &self.shared.server_id,
            self.local_addr.port(),
        )?);
        *self.shared.live.write().unwrap_or_else(|e| e.into_inner()) = live.clone();
        self.shared.apply_links(&live);
        self.shared.reload_epoch.send_modify(|epoch| *epoch += 1);
        Ok(changes)
    }

    /// Lame-duck mode, as nats-server: stop accepting, tell clients (INFO with `ldm`), wait the
    /// grace period, close the clients spread over the lame-duck duration, then shut down.
    pub fn lame_duck(&self) {
        if self.shared.lame_duck.swap(true, Ordering::AcqRel) {
            return;
        }
        let shared = self.shared.clone();
        let handle = self.clone();
        tokio::spawn(async move {
            tracing::info!("Entering lame duck mode, stop accepting new clients");
            shared.stop_accept.cancel();
            let live = shared.live();
            let mut info = live.info.clone();
            info.ldm = true;
            for out in shared.snapshot_clients() {
                let mut info = info.clone();
                info.client_id = out.cid;
                out.send_now(&info.to_line());
            }
            let grace = live.config.lame_duck_grace_period;
            let duration = live.config.lame_duck_duration.saturating_sub(grace);
            tokio::select! {
                () = tokio::time::sleep(grace) => {}
                () = shared.shutdown.cancelled() => return,
            }
            let clients = shared.snapshot_clients();
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
                    () = shared.shutdown.cancelled() => return,
                }
            }
            handle.shutdown();
        });
    }
}

/// Checks a configuration as `Server::bind` would (authentication, accounts and their imports,
/// TLS files, limits) without opening a listener; returns the warnings it would log. For `-t`.
pub fn check_config(config: &ServerConfig) -> Result<Vec<String>, ServerError> {
    Live::new(config.clone(), "", 0).map(|live| live.warnings)
}

/// The INFO fields every client of this configuration gets.
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
    changes
}

/// Pending connections the kernel queues before `accept`: nats-server (Go) gets the system's
/// maximum, typically 4096; the std default of 128 drops SYNs under a reconnect storm, and each
/// dropped SYN costs the client a one-second retransmit.
const LISTEN_BACKLOG: i32 = 4096;

async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    if is_wildcard(host) {
        // Go binds the wildcard dual-stack: one socket for IPv4 and IPv6 clients alike (so a
        // client that resolves `localhost` to ::1 first still gets in). Without IPv6 on the
        // machine, IPv4 alone.
        let any6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port));
        if let Ok(listener) = listen_on(any6, true) {
            return Ok(listener);
        }
        return listen_on(
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port)),
            false,
        );
    }
    let mut last_err = None;
    for sa in tokio::net::lookup_host(join_host_port(host, port)).await? {
        match listen_on(sa, false) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no address to listen on")))
}

/// Whether `host` means every interface (nats-server's default `0.0.0.0`, or `::`).
pub(crate) fn is_wildcard(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::" | "[::]")
}

fn listen_on(sa: SocketAddr, dual_stack: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&sa.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// `host:port`, bracketing IPv6 literals.
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
