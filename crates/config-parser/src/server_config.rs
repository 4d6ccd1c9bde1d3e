//! The typed server configuration the broker runs on.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::{AccountConfig, AuthorizationConfig};
use crate::operator::OperatorMode;
use crate::origins::Origins;
use crate::tls::TlsConfig;
use crate::websocket::WebsocketConfig;

/// Everything the broker needs to run, with nats-server's defaults.
///
/// Built from a configuration file by [`crate::load_file`] (or by hand, in tests and embedders),
/// then adjusted by command-line flags, which win over the file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Interface to listen on (`host`/`net`/`listen`), default `0.0.0.0`.
    pub host: String,
    /// Client port (`port`/`listen`), default 4222; `0` picks a free port (`-p -1` on the command line).
    pub port: u16,
    /// `server_name`; INFO's `server_name` falls back to the server id when unset.
    pub server_name: Option<String>,
    /// Largest message payload a client may publish, default 1 MiB.
    pub max_payload: u32,
    /// Longest control line (the arguments of one op), default 4096.
    pub max_control_line: u32,
    /// Outbound bytes queued for one client before it is closed as a slow consumer, default 64 MiB.
    pub max_pending: u64,
    /// Most client connections at once, default 65536; `0` lets nobody in (as nats-server).
    pub max_connections: usize,
    /// Most subscriptions per connection; `0` means no limit.
    pub max_subscriptions: u32,
    /// How often the server pings an idle client, default 2 minutes.
    pub ping_interval: Duration,
    /// Unanswered pings before the client is closed as stale, default 2.
    pub ping_max: u32,
    /// How long one write to a client may take before it is closed, default 10 s.
    pub write_deadline: Duration,
    /// `no_header_support`: turn off HPUB/HMSG.
    pub no_header_support: bool,
    /// `no_fast_producer_stall`: a publisher is never paused for a subscriber that falls
    /// behind; messages to a subscriber past ¾ of `max_pending` are dropped instead.
    pub no_fast_producer_stall: bool,
    /// `idle_poll` (rnats): on a server with one CPU, how long after a client's last input
    /// the runtime keeps polling for I/O instead of sleeping, default 50 µs; `0` turns it off.
    pub idle_poll: Duration,
    /// `allow_non_tls`: with `tls {}`, clients may also connect without TLS (INFO then says
    /// `tls_available` instead of `tls_required`).
    pub allow_non_tls: bool,
    /// How long lame-duck mode takes to close every client, default 2 minutes.
    pub lame_duck_duration: Duration,
    /// Grace period before lame-duck mode starts closing clients, default 10 s.
    pub lame_duck_grace_period: Duration,
    /// `debug`: log debug lines.
    pub debug: bool,
    /// `trace`: log protocol traces.
    pub trace: bool,
    /// `logtime`: put a timestamp on each log line, default true.
    pub logtime: bool,
    /// `log_file`: write the log here instead of standard error.
    pub log_file: Option<PathBuf>,
    /// `pid_file`: write the process id here.
    pub pid_file: Option<PathBuf>,
    /// `ports_file_dir`: write a `<exe>_<pid>.ports` file here.
    pub ports_file_dir: Option<PathBuf>,
    /// `authorization { … }`: token, single user or users of the global account.
    pub authorization: Option<AuthorizationConfig>,
    /// `accounts { … }`, in file order.
    pub accounts: Vec<AccountConfig>,
    /// Top-level `mappings` (alias `maps`): subject mappings of the global account `$G`, in
    /// file order.
    pub mappings: Vec<crate::MappingConfig>,
    /// `no_auth_user`: the user (or NKey) a client without credentials becomes.
    pub no_auth_user: Option<String>,
    /// `system_account` (alias `system`): an account of `accounts`, or in operator mode an
    /// account public key (see [`ServerConfig::operator_system_account`] for the operator
    /// JWT's claim).
    pub system_account: Option<String>,
    /// Operator (JWT) mode: `operator`, `trusted` and the `resolver` keys; `None` unless the file
    /// names an operator JWT or a trusted operator key. Parsed and checked here; the JWTs are
    /// decoded and verified by the server.
    pub operator_mode: Option<OperatorMode>,
    /// `tls { … }` for the client listener.
    pub tls: Option<TlsConfig>,
    /// `websocket { … }` (alias `ws`): the WebSocket client listener, when it has a port.
    pub websocket: Option<WebsocketConfig>,
    /// `http_host` (or the host of `http`/`https`): where the monitoring listener binds;
    /// `None` means the client `host`.
    pub http_host: Option<String>,
    /// `http_port`/`monitor_port`/`http`, `-m`: the HTTP monitoring port; `None` (or `0` in
    /// the file) turns monitoring off, `Some(0)` (`-1` in the file) picks a free port.
    pub http_port: Option<u16>,
    /// `https_port`/`https`, `-ms`: monitoring over HTTPS with the server's `tls {}`; same
    /// values as `http_port`.
    pub https_port: Option<u16>,
    /// `http_base_path`: a prefix for every monitoring endpoint (`/nats` serves `/nats/varz`).
    pub http_base_path: String,
    /// `max_closed_clients`: closed connections remembered for `/connz?state=closed`,
    /// default 10000.
    pub max_closed_clients: usize,
    /// `auth_error_reasons` (an rnats extension, default off): a refused login's `-ERR` says
    /// which check failed (`Authorization Violation: credentials rejected`, …), never whether
    /// the user exists. Off, the client gets nats-server's `Authorization Violation`.
    pub auth_error_reasons: bool,
    /// `connect_rate_limit { … }` (an rnats extension): new connections per client address.
    pub connect_rate_limit: Option<crate::ConnectRateLimit>,
    /// `audit { … }` (an rnats extension): the authentication audit trail; `None`: off.
    pub audit: Option<crate::AuditConfig>,
    /// Where values checked after loading were written (for error positions).
    pub origins: Origins,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 4222,
            server_name: None,
            max_payload: 1024 * 1024,
            max_control_line: 4096,
            max_pending: 64 * 1024 * 1024,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            no_header_support: false,
            no_fast_producer_stall: false,
            idle_poll: Duration::from_micros(50),
            allow_non_tls: false,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            pid_file: None,
            ports_file_dir: None,
            authorization: None,
            accounts: Vec::new(),
            mappings: Vec::new(),
            no_auth_user: None,
            system_account: None,
            operator_mode: None,
            tls: None,
            websocket: None,
            http_host: None,
            http_port: None,
            https_port: None,
            http_base_path: String::new(),
            max_closed_clients: 10_000,
            auth_error_reasons: false,
            connect_rate_limit: None,
            audit: None,
            origins: Origins::default(),
        }
    }
}
