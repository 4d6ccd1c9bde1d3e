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

mod handshake;
mod setup;
mod stream;
#[cfg(test)]
mod tests;

use handshake::*;
pub(crate) use setup::WsSetup;
use stream::*;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use rnats_auth::{AuthRequest, ConnectionType};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::Limits;

use crate::admission::{self, Accepted};
use crate::driver::run_connection;
use crate::errors::ClientError;
use crate::info::InfoLine;
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

// ----- the listener and one connection -----

/// Accepts WebSocket clients until the server stops accepting (shutdown or lame duck).
pub(crate) async fn accept_loop(state: Arc<ServerState>, listener: TcpListener) {
    admission::accept_loop(state, listener, "Websocket", serve).await;
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
    let who = format!("{peer} - websocket ");
    let (stream, identity) = match admission::accept_tls(&tls, tcp, deadline, &who).await {
        Ok(accepted) => accepted,
        Err(reason) => {
            // Refused by TLS before the upgrade gave it a client id (`cid` 0 in the record).
            if state.audit.enabled() {
                let peer = Peer {
                    addr: peer,
                    cid: 0,
                    transport: Transport::Websocket(Box::default()),
                    nonce: None,
                    tls: None,
                    tls_session: None,
                };
                state
                    .audit
                    .record(crate::audit::Record::refused(&peer, "tls", reason));
            }
            return;
        }
    };
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
        tls_session: None,
    };
    let mut info = state.client_info(&settings, cid, peer.addr, false);
    info.nonce.clone_from(&peer.nonce);
    let deadline = settings.config.write_deadline;
    let conn = Accepted {
        state,
        settings,
        peer,
    };
    if admission::write_direct(&mut io, &info.to_line(), deadline)
        .await
        .is_err()
    {
        return;
    }
    if !admission::rate_admitted(&conn) {
        let line = ClientError::ConnectionThrottled
            .wire_line()
            .unwrap_or_default();
        let _ = admission::write_direct(&mut io, &line, deadline).await;
        let _ = io.shutdown().await;
        return;
    }
    let Some(_admitted) = admission::admit(&conn, &mut io).await else {
        return;
    };
    let (rd, wr) = tokio::io::split(io);
    run_connection(conn, rd, wr).await;
}
