//! The `websocket { … }` block (alias `ws`): a second client listener speaking the NATS protocol
//! inside WebSocket binary frames.
//!
//! Keys and aliases follow nats-server 2.15.1's `parseWebsocket`. Checks that nats-server makes
//! after loading (TLS required unless `no_tls`, origins, `no_auth_user`, overrides next to
//! users) are made by the broker when it starts, with nats-server's messages.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::origins::Origins;
use crate::raw::{RawTls, Scalar, StringList, duration_or_seconds, seconds_or_duration};
use crate::tls::TlsConfig;
use crate::units::{non_negative, parse_go_duration};
use crate::value::Pos;

/// The WebSocket listener's settings. Present in [`crate::ServerConfig::websocket`] only when a
/// port is set (nats-server ignores a `websocket {}` block without one).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct WebsocketConfig {
    /// `host`/`net` (or the host of `listen`), default `0.0.0.0`.
    pub host: String,
    /// `port` (or the port of `listen`); `0` picks a free port (`-1` in the file).
    pub port: u16,
    /// `advertise`: the `host:port` announced to other servers (kept; rnats has no cluster).
    pub advertise: Option<String>,
    /// `tls { … }`: serve `wss://`. Required unless `no_tls` is true.
    pub tls: Option<TlsConfig>,
    /// `no_tls`: allow plain `ws://` (nats-server refuses to start without TLS otherwise).
    pub no_tls: bool,
    /// `same_origin`: an `Origin` header must match the request's `Host`.
    pub same_origin: bool,
    /// `allowed_origins` (aliases `allowed_origin`, `allow_origins`, `allow_origin`, `origins`,
    /// `origin`): an `Origin` header must be one of these `scheme://host[:port]` URLs.
    pub allowed_origins: Vec<String>,
    /// `compression` (alias `compress`): offer `permessage-deflate`.
    pub compression: bool,
    /// `handshake_timeout`: seconds or a duration; `None` means rnats' default (see the docs).
    pub handshake_timeout: Option<Duration>,
    /// `ping_interval`: replaces the server's `ping_interval` for WebSocket clients.
    pub ping_interval: Option<Duration>,
    /// `authorization { user }`: WebSocket clients log in with this user instead.
    pub username: Option<String>,
    /// `authorization { password }`.
    pub password: Option<String>,
    /// `authorization { token }`: WebSocket clients log in with this token instead.
    pub token: Option<String>,
    /// `authorization { timeout }`: replaces the authorization timeout for WebSocket clients.
    pub auth_timeout: Option<Duration>,
    /// `no_auth_user`: the user a WebSocket client without credentials becomes.
    pub no_auth_user: Option<String>,
    /// `jwt_cookie`: cookie carrying a user JWT (operator mode only).
    pub jwt_cookie: Option<String>,
    /// `user_cookie`: cookie carrying the user name when CONNECT has none.
    pub user_cookie: Option<String>,
    /// `pass_cookie`: cookie carrying the password when CONNECT has none.
    pub pass_cookie: Option<String>,
    /// `token_cookie`: cookie carrying the token when CONNECT has none.
    pub token_cookie: Option<String>,
    /// `headers { … }`: extra headers of the upgrade response, in file order.
    pub headers: Vec<(String, String)>,
}

impl Default for WebsocketConfig {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".to_owned(),
            port: 0,
            advertise: None,
            tls: None,
            no_tls: false,
            same_origin: false,
            allowed_origins: Vec::new(),
            compression: false,
            handshake_timeout: None,
            ping_interval: None,
            username: None,
            password: None,
            token: None,
            auth_timeout: None,
            no_auth_user: None,
            jwt_cookie: None,
            user_cookie: None,
            pass_cookie: None,
            token_cookie: None,
            headers: Vec::new(),
        }
    }
}

/// Never shows the password or the token.
impl fmt::Debug for WebsocketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("WebsocketConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("advertise", &self.advertise)
            .field("tls", &self.tls)
            .field("no_tls", &self.no_tls)
            .field("same_origin", &self.same_origin)
            .field("allowed_origins", &self.allowed_origins)
            .field("compression", &self.compression)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("token", &hidden(&self.token))
            .field("auth_timeout", &self.auth_timeout)
            .field("no_auth_user", &self.no_auth_user)
            .field("jwt_cookie", &self.jwt_cookie)
            .field("user_cookie", &self.user_cookie)
            .field("pass_cookie", &self.pass_cookie)
            .field("token_cookie", &self.token_cookie)
            .field("headers", &self.headers)
            .finish()
    }
}

/// `authorization {}` inside `websocket {}`: nats-server's simple auth (no users here).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSimpleAuth {
    #[serde(alias = "username")]
    user: Option<String>,
    #[serde(alias = "pass")]
    password: Option<String>,
    token: Option<String>,
    timeout: Option<Spanned<Scalar>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWebsocket {
    listen: Option<Spanned<Scalar>>,
    port: Option<Spanned<i64>>,
    #[serde(alias = "net")]
    host: Option<String>,
    advertise: Option<String>,
    no_tls: Option<bool>,
    tls: Option<Spanned<RawTls>>,
    same_origin: Option<bool>,
    #[serde(
        alias = "allowed_origin",
        alias = "allow_origins",
        alias = "allow_origin",
        alias = "origins",
        alias = "origin"
    )]
    allowed_origins: Option<StringList>,
    handshake_timeout: Option<Spanned<Scalar>>,
    #[serde(alias = "compress")]
    compression: Option<bool>,
    #[serde(alias = "authentication")]
    authorization: Option<RawSimpleAuth>,
    jwt_cookie: Option<String>,
    user_cookie: Option<String>,
    pass_cookie: Option<String>,
    token_cookie: Option<String>,
    no_auth_user: Option<String>,
    headers: Option<Headers>,
    ping_interval: Option<Spanned<Scalar>>,
}

/// `headers { NAME: VALUE … }`, in file order.
#[derive(Debug, Default)]
struct Headers(Vec<(String, Spanned<Scalar>)>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of header names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value()?));
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

/// nats-server's port rule for this block: `-1` picks a free port, `0` (or none) turns the
/// listener off.
fn ws_port(p: &Spanned<i64>) -> Result<Option<u16>, ConfigError> {
    match p.value {
        -1 => Ok(Some(0)),
        0 => Ok(None),
        n => u16::try_from(n)
            .map(Some)
            .map_err(|_| invalid(&p.pos, format!("port {n} is out of range"))),
    }
}

impl RawWebsocket {
    /// The block, or `None` when it sets no port (then nats-server ignores it).
    pub(crate) fn build(
        self,
        warnings: &mut Vec<String>,
        origins: &mut Origins,
    ) -> Result<Option<WebsocketConfig>, ConfigError> {
        let mut c = WebsocketConfig::default();
        let mut port = None;
        if let Some(l) = &self.listen {
            let (host, p) = crate::load::parse_listen(l)?;
            if let Some(h) = host {
                c.host = h;
            }
            port = ws_port(&Spanned {
                value: p,
                pos: l.pos.clone(),
            })?;
        }
        if let Some(h) = self.host {
            c.host = h;
        }
        if let Some(p) = &self.port {
            port = ws_port(p)?;
        }
        c.advertise = self.advertise;
        c.no_tls = self.no_tls.unwrap_or(false);
        if let Some(t) = self.tls {
            // A scratch record: the client listener's `tls.*` positions stay its own.
            let mut scratch = Origins::default();
            origins.record("websocket.tls", t.pos.clone());
            c.tls = Some(t.value.build(&t.pos, &mut scratch)?);
        }
        c.same_origin = self.same_origin.unwrap_or(false);
        c.allowed_origins = self.allowed_origins.map(|l| l.0).unwrap_or_default();
        if let Some(h) = &self.handshake_timeout {
            c.handshake_timeout = Some(match &h.value {
                Scalar::Int(secs) => Duration::from_secs(u64::try_from(*secs).unwrap_or(0)),
                Scalar::Str(s) => {
                    let nanos = parse_go_duration(s).map_err(|m| invalid(&h.pos, m))?;
                    non_negative(nanos).unwrap_or_default()
                }
                Scalar::Float(_) => {
                    return Err(invalid(
                        &h.pos,
                        "error parsing handshake timeout: unsupported type float64",
                    ));
                }
                Scalar::Bool(_) => {
                    return Err(invalid(
                        &h.pos,
                        "error parsing handshake timeout: unsupported type bool",
                    ));
                }
            })
            .filter(|d| !d.is_zero());
        }
        c.compression = self.compression.unwrap_or(false);
        if let Some(a) = self.authorization {
            c.username = a.user;
            c.password = a.password;
            c.token = a.token;
            c.auth_timeout = a
                .timeout
                .as_ref()
                .map(|t| seconds_or_duration("timeout", t))
                .transpose()?
                .filter(|d| !d.is_zero());
        }
        c.jwt_cookie = self.jwt_cookie.filter(|s| !s.is_empty());
        c.user_cookie = self.user_cookie.filter(|s| !s.is_empty());
        c.pass_cookie = self.pass_cookie.filter(|s| !s.is_empty());
        c.token_cookie = self.token_cookie.filter(|s| !s.is_empty());
        c.no_auth_user = self.no_auth_user.filter(|s| !s.is_empty());
        if let Some(h) = self.headers {
            for (key, value) in h.0 {
                match value.value {
                    Scalar::Str(s) => c.headers.push((key, s)),
                    other => {
                        return Err(invalid(
                            &value.pos,
                            format!(
                                "error parsing header key {key}: unsupported type {}",
                                go_type(&other)
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(p) = &self.ping_interval {
            c.ping_interval = Some(duration_or_seconds("ping_interval", p, warnings)?);
        }
        Ok(port.map(|p| {
            c.port = p;
            c
        }))
    }
}

fn go_type(s: &Scalar) -> &'static str {
    match s {
        Scalar::Int(_) => "int64",
        Scalar::Float(_) => "float64",
        Scalar::Str(_) => "string",
        Scalar::Bool(_) => "bool",
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    #[test]
    fn keys_aliases_and_defaults() {
        let src = r#"
            websocket {
              listen: "127.0.0.1:-1"
              no_tls: true
              same_origin: true
              origins: ["http://a.example", "https://b.example:8443"]
              compress: true
              handshake_timeout: "3s"
              ping_interval: "30s"
              authorization { user: ws, pass: secret, timeout: 1.5 }
              no_auth_user: bob
              user_cookie: u
              headers { X-Extra: "yes" }
            }
        "#;
        let ws = load_str(src, None)
            .expect("load")
            .config
            .websocket
            .expect("websocket");
        assert_eq!((ws.host.as_str(), ws.port), ("127.0.0.1", 0));
        assert!(ws.no_tls && ws.same_origin && ws.compression);
        assert_eq!(ws.allowed_origins.len(), 2);
        assert_eq!(
            ws.handshake_timeout,
            Some(std::time::Duration::from_secs(3))
        );
        assert_eq!(ws.ping_interval, Some(std::time::Duration::from_secs(30)));
        assert_eq!(ws.username.as_deref(), Some("ws"));
        assert_eq!(ws.password.as_deref(), Some("secret"));
        assert_eq!(
            ws.auth_timeout,
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(ws.no_auth_user.as_deref(), Some("bob"));
        assert_eq!(ws.user_cookie.as_deref(), Some("u"));
        assert_eq!(ws.headers, vec![("X-Extra".to_owned(), "yes".to_owned())]);
        assert!(
            !format!("{ws:?}").contains("secret"),
            "Debug hides the password"
        );
    }

    #[test]
    fn no_port_means_no_listener() {
        let c = load_str("ws { no_tls: true }", None).expect("load").config;
        assert!(c.websocket.is_none());
        let c = load_str("websocket { port: 8080, no_tls: true }", None)
            .expect("load")
            .config;
        assert_eq!(c.websocket.expect("websocket").port, 8080);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_position() {
        let err = load_str("websocket {\n  port: -1\n  username: x\n}", None).unwrap_err();
        assert_eq!(err.to_string(), "3:3: unknown field \"username\"");
        let err = load_str(
            "websocket {\n  port: -1\n  authorization {\n    users: []\n  }\n}",
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "4:5: unknown field \"users\"");
    }
}
