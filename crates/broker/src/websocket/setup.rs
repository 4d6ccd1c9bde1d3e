//! The `websocket {}` block checked as nats-server checks it, and the listener's settings.

use std::sync::Arc;
use std::time::Duration;

use rnats_auth::Authenticator;
use rnats_config::{ServerConfig, WebsocketConfig};

use crate::logfmt::Quoted;
use crate::operator::JwtMode;
use crate::server::ServerError;

use super::*;

// ----- configuration -----

/// An `allowed_origins` entry: scheme and port for one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AllowedOrigin {
    pub(super) host: String,
    pub(super) scheme: String,
    pub(super) port: String,
}

/// The WebSocket listener's rules, rebuilt with the rest of the configuration on reload.
pub(crate) struct WsSetup {
    /// What WebSocket clients run on: the configuration with the block's overrides, its
    /// authentication, and the INFO WebSocket clients get.
    pub(crate) settings: Arc<Settings>,
    pub(super) same_origin: bool,
    pub(super) allowed_origins: Vec<AllowedOrigin>,
    /// `headers {}` as response lines, each ending in CRLF.
    pub(super) extra_headers: String,
    pub(super) handshake_timeout: Duration,
    pub(super) user_cookie: Option<String>,
    pub(super) pass_cookie: Option<String>,
    pub(super) token_cookie: Option<String>,
    /// Largest WebSocket message read.
    pub(super) max_message: usize,
}

impl WsSetup {
    /// Checks the block as nats-server does at start-up and builds the listener's rules. `main`
    /// is the client listener's INFO and authentication, `port` the bound WebSocket port.
    // Each argument is one thing the listener's rules come from; a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: &ServerConfig,
        ws: &WebsocketConfig,
        main_auth: &dyn Authenticator,
        main_tls_verify: bool,
        server_id: &str,
        port: u16,
        custom: Option<&Arc<dyn Authenticator>>,
        jwt: Option<&Arc<JwtMode>>,
    ) -> Result<Self, ServerError> {
        validate(config, ws)?;
        let derived = derived_config(config, ws, main_auth);
        let mut live = Settings::new(derived, server_id, port, 0, custom, jwt)?;
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
pub(super) fn has_auth_override(ws: &WebsocketConfig) -> bool {
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
pub(super) fn validate(config: &ServerConfig, ws: &WebsocketConfig) -> Result<(), ServerError> {
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
pub(super) struct OriginUrl {
    /// Lower case, as Go's URL parser leaves it.
    pub(super) scheme: String,
    /// `host[:port]`, without user info.
    pub(super) host: String,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum OriginError {
    /// Go's parse error text.
    Parse(String),
    /// Parsed, but neither `http` nor `https`.
    Scheme,
}

pub(super) fn parse_origin(text: &str) -> Result<OriginUrl, OriginError> {
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
pub(super) fn host_and_port(tls: bool, hostport: &str) -> Result<(String, String), String> {
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
