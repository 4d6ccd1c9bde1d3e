//! WebSocket, the second transport: nats-server's `websocket {}` listener.
//!
//! A WebSocket client gets the same connection code as a TCP client. This module accepts the
//! TCP connection, runs the TLS handshake (`wss://`), answers the HTTP upgrade with
//! nats-server's checks and refusals, and then hands `run_connection` a byte stream made of
//! binary frames ([`WsIo`]); from there on, INFO, CONNECT, authentication, permissions and
//! limits are the TCP client's. Frames are read and written by `tokio-websockets`; only the
//! upgrade request (a few HTTP headers) is handled here.
//!
//! What a WebSocket client sees differently, as in nats-server:
//! * INFO names the WebSocket listener's `host`/`port` and its TLS (`tls_required`);
//! * authentication may be overridden by the block's `authorization {}`/`no_auth_user`
//!   ([`derived_config`]), and `allowed_connection_types` sees `WEBSOCKET`;
//! * `user_cookie`/`pass_cookie`/`token_cookie` fill credentials missing from CONNECT.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use rnats_auth::{AuthRequest, Authenticator, ConnectionType};
use rnats_config::{ServerConfig, WebsocketConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Limits, Message, WebSocketStream};

use crate::admission::{self, Accepted};
use crate::driver::run_connection;
use crate::info::InfoLine;
use crate::logfmt::Quoted;
use crate::server::ServerError;
use crate::session::Peer;
use crate::state::{ServerState, Settings};

/// Handshake time when `handshake_timeout` is not set. nats-server waits forever; a bound keeps
/// a silent peer from holding a socket and a task.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest upgrade request (request line and headers), cookies included.
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Most headers in an upgrade request.
const MAX_REQUEST_HEADERS: usize = 128;
/// nats-server's limit on one WebSocket message: 8 × `max_payload`, at most 64 MiB.
const MAX_MESSAGE_MULTIPLE: usize = 8;
const MAX_MESSAGE_LIMIT: usize = 64 * 1024 * 1024;
/// Largest WebSocket message one write sends; bigger writes continue in the next message
/// (the NATS protocol is a byte stream, frames need not follow its lines).
const MAX_WRITE_MESSAGE: usize = 256 * 1024;
/// RFC 6455's key suffix for `Sec-WebSocket-Accept`.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// ----- what a connection came in on -----

/// The transport of one connection: what the authenticator is told and what it may add to
/// CONNECT. The connection code keeps one per client.
#[derive(Clone, Default)]
pub(crate) enum Transport {
    /// NATS over TCP (with or without TLS).
    #[default]
    Tcp,
    /// NATS over WebSocket, with the credentials its upgrade request carried in cookies.
    Websocket(Box<CookieCredentials>),
}

/// Credentials from the cookies named by `user_cookie`/`pass_cookie`/`token_cookie`. Secrets:
/// never logged, no `Debug`.
#[derive(Clone, Default)]
pub(crate) struct CookieCredentials {
    user: Option<String>,
    pass: Option<String>,
    token: Option<String>,
}

impl Transport {
    /// `ConnectionType::Websocket` for WebSocket clients, `Standard` otherwise.
    pub(crate) fn connection_type(&self) -> ConnectionType {
        match self {
            Self::Tcp => ConnectionType::Standard,
            Self::Websocket(_) => ConnectionType::Websocket,
        }
    }

    /// nats-server's rule: a credential CONNECT left empty is taken from its cookie.
    pub(crate) fn fill_credentials(&self, request: &mut AuthRequest) {
        let Self::Websocket(cookies) = self else {
            return;
        };
        let fill = |field: &mut Option<String>, cookie: &Option<String>| {
            if field.as_deref().is_none_or(str::is_empty) && cookie.is_some() {
                field.clone_from(cookie);
            }
        };
        fill(&mut request.user, &cookies.user);
        fill(&mut request.pass, &cookies.pass);
        fill(&mut request.token, &cookies.token);
    }

    /// The settings this connection runs on within `main` (the server's in force): the
    /// WebSocket listener's own for WebSocket clients.
    pub(crate) fn settings(&self, main: Arc<Settings>) -> Arc<Settings> {
        match (self, &main.websocket) {
            (Self::Websocket(_), Some(ws)) => ws.settings.clone(),
            _ => main,
        }
    }
}

impl std::fmt::Debug for Transport {
    /// The kind only: cookie credentials are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tcp => "Tcp",
            Self::Websocket(_) => "Websocket",
        })
    }
}

// ----- configuration -----

/// An `allowed_origins` entry: scheme and port for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedOrigin {
    host: String,
    scheme: String,
    port: String,
}

/// The WebSocket listener's rules, rebuilt with the rest of the configuration on reload.
pub(crate) struct WsSetup {
    /// What WebSocket clients run on: the configuration with the block's overrides, its
    /// authentication, and the INFO WebSocket clients get.
    pub(crate) settings: Arc<Settings>,
    same_origin: bool,
    allowed_origins: Vec<AllowedOrigin>,
    /// `headers {}` as response lines, each ending in CRLF.
    extra_headers: String,
    handshake_timeout: Duration,
    user_cookie: Option<String>,
    pass_cookie: Option<String>,
    token_cookie: Option<String>,
    /// Largest WebSocket message read.
    max_message: usize,
}

impl WsSetup {
    /// Checks the block as nats-server does at start-up and builds the listener's rules. `main`
    /// is the client listener's INFO and authentication, `port` the bound WebSocket port.
    pub(crate) fn new(
        config: &ServerConfig,
        ws: &WebsocketConfig,
        main_auth: &dyn Authenticator,
        main_tls_verify: bool,
        server_id: &str,
        port: u16,
        custom: Option<&Arc<dyn Authenticator>>,
    ) -> Result<Self, ServerError> {
        validate(config, ws)?;
        let derived = derived_config(config, ws, main_auth);
        let mut live = Settings::new(derived, server_id, port, 0, custom)?;
        // INFO as nats-server's createWSClient: the server's INFO with the WebSocket
        // listener's address and TLS, auth required when the server or the override needs it.
        let overridden = has_auth_override(ws);
        live.info.host.clone_from(&ws.host);
        live.info.port = port;
        live.info.tls_required = ws.tls.is_some();
        live.info.tls_available = ws.tls.is_some();
        live.info.tls_verify = main_tls_verify;
        live.info.auth_required =
            main_auth.auth_required() || config.no_auth_user.is_some() || overridden;
        let allowed_origins = ws
            .allowed_origins
            .iter()
            .filter_map(|o| {
                let url = parse_origin(o).ok()?;
                let (host, port) = host_and_port(url.scheme == "https", &url.host).ok()?;
                Some(AllowedOrigin {
                    host,
                    scheme: url.scheme,
                    port,
                })
            })
            .collect();
        let extra_headers = ws
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let max_payload = usize::try_from(config.max_payload).unwrap_or(usize::MAX);
        Ok(Self {
            settings: Arc::new(live),
            same_origin: ws.same_origin,
            allowed_origins,
            extra_headers,
            handshake_timeout: ws.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
            user_cookie: ws.user_cookie.clone(),
            pass_cookie: ws.pass_cookie.clone(),
            token_cookie: ws.token_cookie.clone(),
            max_message: max_payload
                .saturating_mul(MAX_MESSAGE_MULTIPLE)
                .min(MAX_MESSAGE_LIMIT),
        })
    }
}

/// nats-server's `authOverride`: the block's user, token or `no_auth_user` replace the main
/// block's for WebSocket clients.
fn has_auth_override(ws: &WebsocketConfig) -> bool {
    ws.username.is_some() || ws.token.is_some() || ws.no_auth_user.is_some()
}

/// The configuration WebSocket clients authenticate against, as nats-server's
/// `processClientOrLeafAuthentication` does for them: with an override, the block's token or
/// user/password and its `no_auth_user` replace the main ones (users and accounts stay);
/// `verify_and_map` comes from the block's TLS; the block's `authorization { timeout }` and
/// `ping_interval` replace the server's.
pub(crate) fn derived_config(
    config: &ServerConfig,
    ws: &WebsocketConfig,
    main_auth: &dyn Authenticator,
) -> ServerConfig {
    let mut d = config.clone();
    d.websocket = None;
    d.tls.clone_from(&ws.tls);
    d.allow_non_tls = false;
    if let Some(p) = ws.ping_interval {
        d.ping_interval = p;
    }
    if has_auth_override(ws) {
        let mut auth = config.authorization.clone().unwrap_or_default();
        // nats-server checks the token first; a user only counts with a name.
        auth.token.clone_from(&ws.token);
        let user = ws.token.is_none().then(|| ws.username.clone()).flatten();
        auth.password = user.as_ref().and_then(|_| ws.password.clone());
        auth.user = user;
        d.authorization = Some(auth);
        d.no_auth_user.clone_from(&ws.no_auth_user);
    }
    if let Some(auth) = &mut d.authorization {
        auth.timeout = Some(ws.auth_timeout.unwrap_or_else(|| main_auth.auth_timeout()));
    }
    d
}

/// nats-server's `validateWebsocketOptions`, with its messages (which name no position).
fn validate(config: &ServerConfig, ws: &WebsocketConfig) -> Result<(), ServerError> {
    let err = |m: String| Err(ServerError::Config(m));
    if ws.tls.is_none() && !ws.no_tls {
        return err("websocket requires TLS configuration".into());
    }
    for o in &ws.allowed_origins {
        let url = match parse_origin(o) {
            Ok(url) => url,
            Err(OriginError::Parse(e)) => {
                return err(format!("unable to parse allowed origin: {e}"));
            }
            Err(OriginError::Scheme) => {
                return err(format!(
                    "unable to parse allowed origin {}: allowed origins must be absolute URLs with http or https scheme",
                    Quoted(o.as_bytes())
                ));
            }
        };
        if url.host.is_empty() {
            return err(format!(
                "unable to parse allowed origin {}: host is required",
                Quoted(o.as_bytes())
            ));
        }
        if let Err(e) = host_and_port(url.scheme == "https", &url.host) {
            return err(format!("unable to parse allowed origin: {e}"));
        }
    }
    let users: Vec<&rnats_config::UserConfig> = config
        .authorization
        .iter()
        .flat_map(|a| &a.users)
        .chain(config.accounts.iter().flat_map(|a| &a.users))
        .collect();
    if let Some(n) = &ws.no_auth_user {
        if users.is_empty() {
            return err(format!(
                "no_auth_user: {} present, but users/nkeys are not defined",
                Quoted(n.as_bytes())
            ));
        }
        let known = users
            .iter()
            .any(|u| u.user.as_ref() == Some(n) || u.nkey.as_ref() == Some(n));
        if !known {
            return err(format!(
                "no_auth_user: {} not present as user or nkey in authorization block or account configuration",
                Quoted(n.as_bytes())
            ));
        }
    }
    if !users.is_empty() {
        if ws.username.is_some() {
            return err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .into(),
            );
        }
        if ws.token.is_some() {
            return err(
                "websocket authentication token not compatible with presence of users/nkeys".into(),
            );
        }
    }
    // rnats has no operator mode, so no trusted keys: nats-server refuses the cookie then.
    if let Some(c) = &ws.jwt_cookie {
        return err(format!(
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie {}",
            Quoted(c.as_bytes())
        ));
    }
    for (key, _) in &ws.headers {
        let k = key.to_ascii_lowercase();
        if matches!(
            k.as_str(),
            "host" | "content-length" | "connection" | "upgrade" | "nats-no-masking"
        ) {
            return err(format!(
                "websocket: invalid header {} not allowed",
                Quoted(key.as_bytes())
            ));
        }
        if k.starts_with("sec-websocket-") {
            return err(format!(
                "websocket: invalid header {}, \"Sec-WebSocket-\" prefix not allowed",
                Quoted(key.as_bytes())
            ));
        }
    }
    Ok(())
}

// ----- origins: the parts of Go's url.ParseRequestURI and net.SplitHostPort that matter -----

#[derive(Debug, PartialEq, Eq)]
struct OriginUrl {
    /// Lower case, as Go's URL parser leaves it.
    scheme: String,
    /// `host[:port]`, without user info.
    host: String,
}

#[derive(Debug, PartialEq, Eq)]
enum OriginError {
    /// Go's parse error text.
    Parse(String),
    /// Parsed, but neither `http` nor `https`.
    Scheme,
}

fn parse_origin(text: &str) -> Result<OriginUrl, OriginError> {
    let invalid = || {
        OriginError::Parse(format!(
            "parse {}: invalid URI for request",
            Quoted(text.as_bytes())
        ))
    };
    if text.starts_with('/') {
        // A path is a valid request URI, but not an origin.
        return Err(OriginError::Scheme);
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(invalid());
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return Err(if scheme.is_empty() {
            OriginError::Parse(format!(
                "parse {}: missing protocol scheme",
                Quoted(text.as_bytes())
            ))
        } else {
            invalid()
        });
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(OriginError::Scheme);
    }
    let host = rest
        .strip_prefix("//")
        .map(|r| {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            let authority = &r[..end];
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .to_owned()
        })
        .unwrap_or_default();
    Ok(OriginUrl { scheme, host })
}

/// nats-server's `wsGetHostAndPort`: the host in lower case and the port, 80/443 when missing.
fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    let missing = || Ok((hostport.to_ascii_lowercase(), default_port.to_owned()));
    if let Some(rest) = hostport.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "address {}: missing ']' in address",
                Quoted(hostport.as_bytes())
            ));
        };
        return match after.strip_prefix(':') {
            Some(port) => Ok((host.to_ascii_lowercase(), port.to_owned())),
            None if after.is_empty() => missing(),
            None => Err(format!(
                "address {}: missing port in address",
                Quoted(hostport.as_bytes())
            )),
        };
    }
    match hostport.matches(':').count() {
        0 => missing(),
        1 => {
            let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
            Ok((host.to_ascii_lowercase(), port.to_owned()))
        }
        _ => Err(format!(
            "address {}: too many colons in address",
            Quoted(hostport.as_bytes())
        )),
    }
}

// ----- the upgrade request -----

/// What the upgrade handler needs from the request.
struct Request {
    method: String,
    path: String,
    /// Header names in lower case, values as sent.
    headers: Vec<(String, String)>,
    /// Bytes after the request's end (a client may not send frames before the 101).
    leftover: bool,
}

impl Request {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn first(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Go's `wsHeaderContains`: a comma-separated token of any value, ignoring case.
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim_matches([' ', '\t']).eq_ignore_ascii_case(token))
    }
}

enum ReadError {
    Io,
    /// Not HTTP, or too large: Go's server answers 400 or 431 itself.
    Malformed(u16),
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() >= MAX_REQUEST_BYTES {
            return Err(ReadError::Malformed(431));
        }
        let mut chunk = [0u8; 2048];
        let room = (MAX_REQUEST_BYTES - buf.len()).min(chunk.len());
        let n = stream
            .read(&mut chunk[..room])
            .await
            .map_err(|_| ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Io);
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; MAX_REQUEST_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Partial) => {}
            Ok(httparse::Status::Complete(end)) => {
                return Ok(Request {
                    method: req.method.unwrap_or_default().to_owned(),
                    path: req.path.unwrap_or_default().to_owned(),
                    headers: req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_ascii_lowercase(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    leftover: buf.len() > end,
                });
            }
            Err(httparse::Error::TooManyHeaders) => return Err(ReadError::Malformed(431)),
            Err(_) => return Err(ReadError::Malformed(400)),
        }
    }
}

/// What kind of peer asked: nats-server routes `/leafnode` and `/mqtt` paths elsewhere.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Client,
    Leaf,
}

/// A refused upgrade: the HTTP status and nats-server's reason (logged, not sent).
type Refusal = (u16, String);

/// nats-server's `wsUpgrade` checks, in its order.
fn check_upgrade(setup: &WsSetup, req: &Request, tls: bool) -> Result<Kind, Refusal> {
    let path = req.path.split(['?', '#']).next().unwrap_or_default();
    let kind = if path.ends_with("/leafnode") {
        Kind::Leaf
    } else if path.ends_with("/mqtt") {
        return Err((404, "mqtt websocket endpoint not enabled".into()));
    } else {
        Kind::Client
    };
    if req.method != "GET" {
        return Err((405, "request method must be GET".into()));
    }
    if req.first("host").is_empty() {
        return Err((400, "'Host' missing in request".into()));
    }
    if !req.has_token("upgrade", "websocket") {
        return Err((400, "invalid value for header 'Upgrade'".into()));
    }
    if !req.has_token("connection", "Upgrade") {
        return Err((400, "invalid value for header 'Connection'".into()));
    }
    let key = req.first("sec-websocket-key");
    if key.is_empty() {
        return Err((400, "key missing".into()));
    }
    if data_encoding::BASE64
        .decode(key.as_bytes())
        .map_or(true, |k| k.len() != 16)
    {
        return Err((400, "invalid websocket key".into()));
    }
    if !req.has_token("sec-websocket-version", "13") {
        return Err((400, "invalid version".into()));
    }
    if let Err(e) = check_origin(setup, req, tls) {
        return Err((403, format!("origin not allowed: {e}")));
    }
    Ok(kind)
}

/// nats-server's `checkOrigin`: no `Origin` (a non-browser client) is always accepted.
fn check_origin(setup: &WsSetup, req: &Request, tls: bool) -> Result<(), String> {
    if !setup.same_origin && setup.allowed_origins.is_empty() {
        return Ok(());
    }
    let mut origin = req.first("origin");
    if origin.is_empty() {
        origin = req.first("sec-websocket-origin");
    }
    if origin.is_empty() {
        return Ok(());
    }
    let url = parse_origin(origin).map_err(|e| match e {
        OriginError::Parse(m) => m,
        // Go parses these fine, then finds no matching host.
        OriginError::Scheme => "not in the allowed list".into(),
    })?;
    let (oh, op) = host_and_port(url.scheme == "https", &url.host)?;
    if setup.same_origin {
        let (rh, rp) = host_and_port(tls, req.first("host"))?;
        let rs = if tls { "https" } else { "http" };
        if oh != rh || op != rp || url.scheme != rs {
            return Err("not same origin".into());
        }
    }
    if !setup.allowed_origins.is_empty()
        && !setup
            .allowed_origins
            .iter()
            .any(|a| a.host == oh && a.scheme == url.scheme && a.port == op)
    {
        return Err("not in the allowed list".into());
    }
    Ok(())
}

/// RFC 6455's `Sec-WebSocket-Accept` for a client key.
fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    data_encoding::BASE64.encode(&sha.digest().bytes())
}

/// Go's `http.StatusText` for the statuses sent here.
fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Go's `http.Error` response, with nats-server's `Sec-Websocket-Version` header.
fn error_response(status: u16, now: SystemTime) -> Vec<u8> {
    let text = status_text(status);
    let body = format!("{text}\n");
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\nX-Content-Type-Options: nosniff\r\nDate: {}\r\nContent-Length: {}\r\n\r\n{body}",
        http_date(now),
        body.len()
    )
    .into_bytes()
}

/// What Go's server sends for a request it cannot parse.
fn malformed_response(status: u16) -> Vec<u8> {
    let text = status_text(status);
    format!(
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{status} {text}"
    )
    .into_bytes()
}

/// `Mon, 02 Jan 2006 15:04:05 GMT`.
fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Go's `r.Cookies()`, reduced to the named cookies (the last of a name wins, as nats-server).
fn cookies(setup: &WsSetup, req: &Request) -> CookieCredentials {
    let mut out = CookieCredentials::default();
    for pair in req.values("cookie").flat_map(|v| v.split(';')) {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let name = Some(name.trim());
        if name == setup.user_cookie.as_deref() {
            out.user = Some(value.to_owned());
        } else if name == setup.pass_cookie.as_deref() {
            out.pass = Some(value.to_owned());
        } else if name == setup.token_cookie.as_deref() {
            out.token = Some(value.to_owned());
        }
    }
    out
}

// ----- the listener and one connection -----

/// Accepts WebSocket clients until the server stops accepting (shutdown or lame duck).
pub(crate) async fn accept_loop(state: Arc<ServerState>, listener: TcpListener) {
    loop {
        tokio::select! {
            biased;
            () = state.stop_accept.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    state.tracker.spawn(serve(state.clone(), stream, peer));
                }
                Err(e) => {
                    tracing::error!("Temporary Websocket Accept Error ({e}), sleeping 10ms");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// One WebSocket connection: TLS, upgrade, then the connection code.
async fn serve(state: Arc<ServerState>, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let Some(setup) = state.settings().websocket.clone() else {
        return;
    };
    let deadline = tokio::time::Instant::now() + setup.handshake_timeout;
    let Some(tls) = setup.settings.tls.clone() else {
        return upgrade(state, setup, tcp, peer, None, deadline).await;
    };
    let stream = match tokio::time::timeout_at(deadline, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::error!("{peer} - websocket TLS handshake error: {e}");
            return;
        }
        Err(_) => {
            tracing::error!("{peer} - websocket TLS handshake timeout");
            return;
        }
    };
    let identity = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => match rnats_tls::PeerIdentity::from_cert(cert) {
            Ok(identity) => Some(identity),
            Err(e) => {
                tracing::error!("{peer} - websocket: unreadable client certificate: {e}");
                return;
            }
        },
        None => None,
    };
    if !tls.pinned(identity.as_ref()) {
        tracing::error!("{peer} - websocket TLS handshake error: certificate is not pinned");
        return;
    }
    let identity = identity.as_ref().map(crate::peer::auth_identity);
    upgrade(state, setup, stream, peer, identity, deadline).await;
}

/// The HTTP upgrade, then INFO in the first frame and the connection code.
async fn upgrade<S>(
    state: Arc<ServerState>,
    setup: Arc<WsSetup>,
    mut stream: S,
    peer: SocketAddr,
    tls: Option<rnats_auth::TlsIdentity>,
    deadline: tokio::time::Instant,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let is_tls = setup.settings.tls.is_some();
    let req = match tokio::time::timeout_at(deadline, read_request(&mut stream)).await {
        Ok(Ok(req)) => req,
        Ok(Err(ReadError::Malformed(status))) => {
            tracing::debug!("{peer} - websocket: malformed upgrade request");
            let _ =
                tokio::time::timeout_at(deadline, stream.write_all(&malformed_response(status)))
                    .await;
            let _ = tokio::time::timeout_at(deadline, stream.shutdown()).await;
            return;
        }
        Ok(Err(ReadError::Io)) | Err(_) => {
            tracing::debug!("{peer} - websocket: no upgrade request");
            return;
        }
    };
    let kind = match check_upgrade(&setup, &req, is_tls) {
        Ok(kind) => kind,
        Err((status, reason)) => {
            tracing::error!("{peer} - websocket handshake error: {reason}");
            let response = error_response(status, SystemTime::now());
            let _ = tokio::time::timeout_at(deadline, stream.write_all(&response)).await;
            let _ = tokio::time::timeout_at(deadline, stream.shutdown()).await;
            return;
        }
    };
    if req.leftover {
        tracing::error!(
            "{peer} - websocket handshake error: client sent data before handshake is complete"
        );
        return;
    }
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{}\r\n",
        accept_key(req.first("sec-websocket-key")),
        setup.extra_headers
    );
    if !matches!(
        tokio::time::timeout_at(deadline, stream.write_all(response.as_bytes())).await,
        Ok(Ok(()))
    ) {
        return;
    }
    if kind == Kind::Leaf {
        tracing::error!("Not configured to accept leaf node connections");
        return;
    }
    let cookies = cookies(&setup, &req);
    let ws = tokio_websockets::ServerBuilder::new()
        .limits(Limits::default().max_payload_len(Some(setup.max_message)))
        .serve(stream);
    let mut io = WsIo::new(ws);
    let settings = setup.settings.clone();
    let cid = state.next_cid.fetch_add(1, Ordering::Relaxed);
    let peer = Peer {
        addr: peer,
        cid,
        transport: Transport::Websocket(Box::new(cookies)),
        nonce: settings.auth.needs_nonce().then(admission::new_nonce),
        tls,
    };
    let mut info = state.client_info(&settings, cid, peer.addr, false);
    info.nonce.clone_from(&peer.nonce);
    let deadline = settings.config.write_deadline;
    let conn = Accepted {
        state: state,
        settings,
        peer,
    };
    if admission::write_direct(&mut io, &info.to_line(), deadline)
        .await
        .is_err()
    {
        return;
    }
    let Some(_admitted) = admission::admit(&conn, &mut io).await else {
        return;
    };
    let (rd, wr) = tokio::io::split(io);
    run_connection(conn, rd, wr).await;
}

// ----- frames as a byte stream -----

/// A WebSocket as a byte stream: reads yield the payloads of data messages in order (ping,
/// pong and close are answered by the library), each write goes out as one binary message.
pub(crate) struct WsIo<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the current message.
    chunk: Bytes,
    /// A write accepted into the sink and being flushed: its length.
    sending: Option<usize>,
}

impl<S> WsIo<S> {
    pub(crate) fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            chunk: Bytes::new(),
            sending: None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.chunk.is_empty() {
                let n = this.chunk.len().min(buf.remaining());
                buf.put_slice(&this.chunk.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Err(e)) => return Poll::Ready(Err(std::io::Error::other(e))),
                Some(Ok(msg)) if msg.is_binary() || msg.is_text() => {
                    this.chunk = Bytes::from(msg.into_payload());
                }
                Some(Ok(msg)) if msg.is_close() => return Poll::Ready(Ok(())),
                Some(Ok(_)) => {}
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if this.sending.is_none() {
            ready!(Pin::new(&mut this.ws).poll_ready(cx)).map_err(std::io::Error::other)?;
            let n = data.len().min(MAX_WRITE_MESSAGE);
            Pin::new(&mut this.ws)
                .start_send(Message::binary(Bytes::copy_from_slice(&data[..n])))
                .map_err(std::io::Error::other)?;
            this.sending = Some(n);
        }
        ready!(Pin::new(&mut this.ws).poll_flush(cx)).map_err(std::io::Error::other)?;
        Poll::Ready(Ok(this.sending.take().unwrap_or(0)))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_flush(cx)
            .map_err(std::io::Error::other)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().ws)
            .poll_close(cx)
            .map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_rfc_6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn http_date_as_go() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_070_438);
        assert_eq!(http_date(t), "Mon, 30 Nov 2026 20:27:18 GMT");
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
    }

    #[test]
    fn origins_parse_as_go() {
        assert_eq!(
            parse_origin("foo"),
            Err(OriginError::Parse(
                "parse \"foo\": invalid URI for request".into()
            ))
        );
        assert_eq!(parse_origin("ftp://x"), Err(OriginError::Scheme));
        assert_eq!(parse_origin("/path"), Err(OriginError::Scheme));
        assert_eq!(
            parse_origin("HTTPS://u@Example.COM:8443/p"),
            Ok(OriginUrl {
                scheme: "https".into(),
                host: "Example.COM:8443".into()
            })
        );
        assert_eq!(
            host_and_port(true, "Example.COM"),
            Ok(("example.com".into(), "443".into()))
        );
        assert_eq!(
            host_and_port(false, "[::1]:80"),
            Ok(("::1".into(), "80".into()))
        );
        assert!(host_and_port(false, "a:b:c").is_err());
    }

    #[test]
    fn cookie_credentials_fill_only_what_connect_left_empty() {
        let t = Transport::Websocket(Box::new(CookieCredentials {
            user: Some("u".into()),
            pass: Some("p".into()),
            token: None,
        }));
        let mut req = AuthRequest::new(SocketAddr::from(([127, 0, 0, 1], 1)), t.connection_type());
        req.user = Some("given".into());
        t.fill_credentials(&mut req);
        assert_eq!(req.user.as_deref(), Some("given"));
        assert_eq!(req.pass.as_deref(), Some("p"));
        assert_eq!(req.token, None);
        assert_eq!(req.connection_type, ConnectionType::Websocket);
        assert_eq!(Transport::Tcp.connection_type(), ConnectionType::Standard);
    }
}
