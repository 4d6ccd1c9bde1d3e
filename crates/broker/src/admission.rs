//! Admission: what happens between `accept` and the session. INFO (with a fresh nonce when
//! the authenticator wants one), TLS sniffing for `allow_non_tls` and `handshake_first`, the
//! handshake with its rate limit and timeout, certificate pinning, and `max_connections`.
//! A connection that passes is handed to the driver; one that does not gets nats-server's
//! `-ERR` (where it sends one) and is closed.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rnats_config::HandshakeFirst;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::driver::run_connection;
use crate::errors::ClientError;
use crate::info::InfoLine;
use crate::server::ServerError;
use crate::session::Peer;
use crate::state::{ServerState, Settings};
use crate::websocket::Transport;

/// Runs one accepted TCP connection to its end.
pub(crate) async fn serve(state: Arc<ServerState>, mut tcp: TcpStream, addr: SocketAddr, cid: u64) {
    let _ = tcp.set_nodelay(true);
    let settings = state.settings();
    let deadline = settings.config.write_deadline;
    let peer = Peer {
        addr,
        cid,
        transport: Transport::Tcp,
        nonce: settings.auth.needs_nonce().then(new_nonce),
        tls: None,
        tls_session: None,
    };
    let mut info = state.client_info(&settings, cid, addr, false);
    info.nonce.clone_from(&peer.nonce);
    let info = info.to_line();
    let conn = Accepted {
        state,
        settings,
        peer,
    };
    let throttled = !rate_admitted(&conn);
    let Some(tls) = conn.settings.tls.clone() else {
        // nats-server sends INFO first and only then checks the connection limit.
        if write_direct(&mut tcp, &info, deadline).await.is_ok() {
            if throttled {
                return refuse_throttled(tcp, deadline).await;
            }
            serve_plain(conn, tcp).await;
        }
        return;
    };
    let tls_first = match tls.handshake_first {
        HandshakeFirst::Off => false,
        HandshakeFirst::On => true,
        // Clients that start TLS at once send a ClientHello; older ones wait for INFO.
        HandshakeFirst::Fallback(wait) => first_byte(&tcp, wait).await.is_some(),
        _ => false,
    };
    if !tls_first && write_direct(&mut tcp, &info, deadline).await.is_err() {
        return;
    }
    if throttled {
        // Refused before the handshake costs anything; after a TLS-first client's
        // ClientHello there is no plain text to answer in.
        if !tls_first {
            return refuse_throttled(tcp, deadline).await;
        }
        return;
    }
    // allow_non_tls: a TLS client's first byte is a handshake record (0x16); anything else, or
    // nothing within the TLS timeout, is a plain-text client.
    if tls.optional
        && !tls_first
        && first_byte(&tcp, tls.timeout).await != Some(TLS_HANDSHAKE_RECORD)
    {
        return serve_plain(conn, tcp).await;
    }
    let (mut stream, identity) = match handshake(&tls, tcp, &conn.peer, deadline).await {
        Ok(accepted) => accepted,
        Err(reason) => {
            // A refused client certificate is an authentication decision too.
            if conn.state.audit.enabled() {
                conn.state
                    .audit
                    .record(crate::audit::Record::refused(&conn.peer, "tls", reason));
            }
            return;
        }
    };
    if tls_first && write_direct(&mut stream, &info, deadline).await.is_err() {
        return;
    }
    let Some(_admitted) = admit(&conn, &mut stream).await else {
        return;
    };
    let mut conn = conn;
    conn.peer.tls = identity.as_ref().map(crate::peer::auth_identity);
    conn.peer.tls_session = Some(crate::peer::callout_tls(stream.get_ref().1));
    let (rd, wr) = tokio::io::split(stream);
    run_connection(conn, rd, wr).await;
}

/// Takes a token from the client address's `connect_rate_limit` bucket; `false` (logged once
/// per throttling episode) when it has none left.
pub(crate) fn rate_admitted(conn: &Accepted) -> bool {
    use crate::connect_limit::Admission;
    let (addr, cid) = (conn.peer.addr, conn.peer.cid);
    let limit = conn.settings.config.connect_rate_limit.as_ref();
    match conn.state.connect_limiter.admit(addr, limit) {
        Admission::Admitted { after_refused: 0 } => true,
        Admission::Admitted { after_refused } => {
            tracing::info!(
                "{addr} - cid:{cid} - connect rate limit: address {} admitted again after {after_refused} refused connections",
                addr.ip()
            );
            true
        }
        Admission::Throttled { first } => {
            if conn.state.audit.enabled() {
                conn.state.audit.record(crate::audit::Record::refused(
                    &conn.peer,
                    "none",
                    "connect rate limit reached",
                ));
            }
            if first {
                tracing::error!(
                    "{addr} - cid:{cid} - connect rate limit reached for address {}: refusing its new connections until its bucket refills",
                    addr.ip()
                );
            }
            false
        }
    }
}

/// nats-server's answer to a throttled connection: `Connection throttling is active`, close.
async fn refuse_throttled(mut tcp: TcpStream, deadline: Duration) {
    let line = ClientError::ConnectionThrottled
        .wire_line()
        .unwrap_or_default();
    let _ = write_direct(&mut tcp, &line, deadline).await;
    let _ = tcp.shutdown().await;
    linger(&mut tcp).await;
}

/// The first byte the client sends within `wait`, without consuming it.
async fn first_byte(tcp: &TcpStream, wait: Duration) -> Option<u8> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(wait, tcp.peek(&mut byte)).await {
        Ok(Ok(1..)) => Some(byte[0]),
        _ => None,
    }
}

/// A TLS client's stream and the identity in its certificate, or why it was refused (logged
/// already).
type TlsAccepted = Result<
    (
        tokio_rustls::server::TlsStream<TcpStream>,
        Option<rnats_tls::PeerIdentity>,
    ),
    String,
>;

/// The TLS handshake within `connection_rate_limit` and the TLS timeout, then the client
/// certificate read and checked against `pinned_certs`.
async fn handshake(tls: &TlsSetup, tcp: TcpStream, peer: &Peer, deadline: Duration) -> TlsAccepted {
    let (addr, cid) = (peer.addr, peer.cid);
    if !tls.admit_handshake() {
        let reason = "TLS connection rate limit reached";
        tracing::error!("{addr} - cid:{cid} - {reason}");
        refuse_throttled(tcp, deadline).await;
        return Err(reason.to_owned());
    }
    let deadline = tokio::time::Instant::now() + tls.timeout;
    accept_tls(tls, tcp, deadline, &format!("{addr} - cid:{cid} - ")).await
}

/// A client's TLS stream once the handshake is done within `deadline`, with its certificate
/// read and checked against `pinned_certs`; otherwise why not (logged under `who`). Shared by
/// the client listener and the WebSocket listener.
pub(crate) async fn accept_tls(
    tls: &TlsSetup,
    tcp: TcpStream,
    deadline: tokio::time::Instant,
    who: &str,
) -> TlsAccepted {
    let refuse = |reason: String| {
        tracing::error!("{who}{reason}");
        Err(reason)
    };
    let stream = match tokio::time::timeout_at(deadline, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return refuse(format!("TLS handshake error: {e}")),
        Err(_) => return refuse("TLS handshake timeout".to_owned()),
    };
    let identity = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    {
        Some(cert) => match rnats_tls::PeerIdentity::from_cert(cert) {
            Ok(identity) => Some(identity),
            Err(e) => return refuse(format!("unreadable client certificate: {e}")),
        },
        None => None,
    };
    if !tls.pinned(identity.as_ref()) {
        return refuse(match &identity {
            Some(identity) => format!(
                "TLS handshake error: certificate {} is not pinned",
                identity.spki_sha256_hex
            ),
            None => "TLS handshake error: no client certificate, and pinned_certs requires one"
                .to_owned(),
        });
    }
    Ok((stream, identity))
}

/// Accepts connections on `listener` until the server stops accepting (shutdown or lame
/// duck), serving each on its own tracked task; `kind` names the listener in the log.
pub(crate) async fn accept_loop<F, Fut>(
    state: Arc<ServerState>,
    listener: tokio::net::TcpListener,
    kind: &str,
    serve: F,
) where
    F: Fn(Arc<ServerState>, TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        tokio::select! {
            biased;
            () = state.stop_accept.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    state.tracker.spawn(serve(state.clone(), stream, peer));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::error!("Temporary {kind} Accept Error ({e}), sleeping 10ms");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

/// Counts the connection against `max_connections` (after INFO, as nats-server). Over the
/// limit: `-ERR 'maximum connections exceeded'` and `None`.
pub(crate) async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &Accepted,
    stream: &mut S,
) -> Option<CountGuard> {
    let state = &conn.state;
    let count = state.client_count.fetch_add(1, Ordering::AcqRel) + 1;
    let guard = CountGuard(state.clone());
    if count <= conn.settings.config.max_connections {
        return Some(guard);
    }
    tracing::error!(
        "{} - cid:{} - maximum connections exceeded",
        conn.peer.addr,
        conn.peer.cid
    );
    if state.audit.enabled() {
        let record =
            crate::audit::Record::refused(&conn.peer, "none", "maximum connections exceeded");
        state.audit.record(record);
    }
    let line = ClientError::MaxConnectionsExceeded
        .wire_line()
        .unwrap_or_default();
    let _ = write_direct(stream, &line, conn.settings.config.write_deadline).await;
    let _ = stream.shutdown().await;
    linger(stream).await;
    None
}

/// A plain-text client after its INFO: admitted against `max_connections`, then served.
async fn serve_plain(conn: Accepted, mut tcp: TcpStream) {
    let Some(_admitted) = admit(&conn, &mut tcp).await else {
        return;
    };
    let (rd, wr) = tcp.into_split();
    run_connection(conn, rd, wr).await;
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// 11 random bytes, base64url without padding (15 characters), as nats-server's nonce.
pub(crate) fn new_nonce() -> String {
    let mut raw = [0u8; 11];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    data_encoding::BASE64URL_NOPAD.encode(&raw)
}

/// A connection that got its INFO (and its TLS handshake), on its way to the driver.
pub(crate) struct Accepted {
    pub(crate) state: Arc<ServerState>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) peer: Peer,
}

/// One write straight to the socket, before the writer task exists (INFO, early errors).
pub(crate) async fn write_direct<S: AsyncWrite + Unpin>(
    tcp: &mut S,
    data: &[u8],
    deadline: Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(deadline, tcp.write_all(data)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// Reads and discards what the peer still sends for a moment, so that closing the socket with
/// unread input (which makes the kernel send a RST) does not destroy the `-ERR` just written.
pub(crate) async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let mut sink = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    let mut budget = 256 * 1024usize;
    while budget > 0 {
        match tokio::time::timeout_at(deadline, rd.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
            _ => return,
        }
    }
}

/// Holds one place in the connection count until the connection ends.
pub(crate) struct CountGuard(Arc<ServerState>);

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.client_count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// nats-server's default TLS handshake timeout.
const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// The client listener's TLS: the acceptor and the options the connection task needs.
pub(crate) struct TlsSetup {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    pub(crate) timeout: Duration,
    pub(crate) handshake_first: HandshakeFirst,
    /// `allow_non_tls`: a client that does not start TLS after INFO is served in plain text.
    pub(crate) optional: bool,
    /// `connection_rate_limit`: new handshakes allowed per second (a window and its count).
    rate: Option<(u64, Mutex<(std::time::Instant, u64)>)>,
    options: rnats_config::TlsConfig,
}

impl TlsSetup {
    pub(crate) fn new(
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
