//! One client connection: the reader task that parses ops and routes messages.
//!
//! Data path (see docs/ARCHITECTURE.md): read a batch, parse every complete op, deliver each
//! message into the targets' outbound buffers, then wake each target's writer once for the whole
//! batch. Nothing here blocks on another client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use rnats_auth::{
    AuthRequest, Authenticator, Authorized, ConnectionType, Permissions, PublishCache, TlsIdentity,
};
use rnats_config::HandshakeFirst;
use rnats_protocol::{ClientOp, ClientParser, ConnectOptions, Limits, OK, PING, PONG};
use rnats_sublist::{MatchCache, Matches, validate_literal_subject};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::account::{Account, SubRef, Subscription};
use crate::errors::ClientError;
use crate::info::InfoLine;
use crate::logfmt::{self, Quoted};
use crate::outbound::{Append, CloseReason, Outbound};
use crate::server::{Live, Shared};
use crate::timers::{ConnTimers, TimerAction};

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Smallest read buffer; it doubles while reads fill it, up to `READ_BUF_MAX`.
const READ_BUF_MIN: usize = 512;
const READ_BUF_MAX: usize = 64 * 1024;
/// Entries in the per-connection match cache before it is emptied.
const MATCH_CACHE_CAP: usize = 1024;
/// Reply subjects a client may not use (they belong to service imports, gateways old and new,
/// and JetStream), as nats-server 2.15.1 refuses them.
const RESERVED_REPLY_PREFIXES: [&[u8]; 4] = [b"_R_.", b"$JS.ACK.", b"_GR_.", b"$GR."];
/// Subjects a client may not publish to (gateway-routed replies, old and new form).
const RESERVED_PUBLISH_PREFIXES: [&[u8]; 2] = [b"_GR_.", b"$GR."];

/// Runs one accepted connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, mut tcp: TcpStream, peer: SocketAddr, cid: u64) {
    let _ = tcp.set_nodelay(true);
    let live = shared.live();
    let deadline = live.config.write_deadline;
    let nonce = live.auth.needs_nonce().then(new_nonce);
    let mut info = shared.client_info(cid, peer, false);
    info.nonce.clone_from(&nonce);
    let info = info.to_line();
    let Some(tls) = live.tls.clone() else {
        // nats-server sends INFO first and only then checks the connection limit.
        if write_direct(&mut tcp, &info, deadline).await.is_err() {
            return;
        }
        let conn = Accepted {
            shared,
            live,
            peer,
            cid,
            nonce,
            tls: None,
        };
        return serve_plain(conn, tcp).await;
    };
    let tls_first = match tls.handshake_first {
        HandshakeFirst::Off => false,
        HandshakeFirst::On => true,
        // Clients that start TLS at once send a ClientHello; older ones wait for INFO.
        HandshakeFirst::Fallback(wait) => {
            let mut byte = [0u8; 1];
            matches!(
                tokio::time::timeout(wait, tcp.peek(&mut byte)).await,
                Ok(Ok(1..))
            )
        }
        _ => false,
    };
    if !tls_first && write_direct(&mut tcp, &info, deadline).await.is_err() {
        return;
    }
    // allow_non_tls: a TLS client's first byte is a handshake record (0x16); anything else, or
    // nothing within the TLS timeout, is a plain-text client.
    if tls.optional && !tls_first {
        let mut byte = [0u8; 1];
        let peeked = tokio::time::timeout(tls.timeout, tcp.peek(&mut byte)).await;
        if !matches!(peeked, Ok(Ok(1..))) || byte[0] != TLS_HANDSHAKE_RECORD {
            let conn = Accepted {
                shared,
                live,
                peer,
                cid,
                nonce,
                tls: None,
            };
            return serve_plain(conn, tcp).await;
        }
    }
    if !tls.admit_handshake() {
        tracing::error!("{peer} - cid:{cid} - TLS connection rate limit reached");
        let line = ClientError::ConnectionThrottled
            .wire_line()
            .unwrap_or_default();
        let _ = write_direct(&mut tcp, &line, deadline).await;
        let _ = tcp.shutdown().await;
        linger(&mut tcp).await;
        return;
    }
    let mut stream = match tokio::time::timeout(tls.timeout, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::error!("{peer} - cid:{cid} - TLS handshake error: {e}");
            return;
        }
        Err(_) => {
            tracing::error!("{peer} - cid:{cid} - TLS handshake timeout");
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
                tracing::error!("{peer} - cid:{cid} - unreadable client certificate: {e}");
                return;
            }
        },
        None => None,
    };
    if !tls.pinned(identity.as_ref()) {
        match &identity {
            Some(identity) => tracing::error!(
                "{peer} - cid:{cid} - TLS handshake error: certificate {} is not pinned",
                identity.spki_sha256_hex
            ),
            None => tracing::error!(
                "{peer} - cid:{cid} - TLS handshake error: no client certificate, and pinned_certs requires one"
            ),
        }
        return;
    }
    if tls_first && write_direct(&mut stream, &info, deadline).await.is_err() {
        return;
    }
    let Some(_admitted) = admit(&shared, &mut stream, peer, cid, &live).await else {
        return;
    };
    let (rd, wr) = tokio::io::split(stream);
    let identity = identity.as_ref().map(crate::peer::auth_identity);
    let conn = Accepted {
        shared: shared.clone(),
        live,
        peer,
        cid,
        nonce,
        tls: identity,
    };
    run_connection(conn, rd, wr).await;
}

/// Counts the connection against `max_connections` (after INFO, as nats-server). Over the
/// limit: `-ERR 'maximum connections exceeded'` and `None`.
async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Arc<Shared>,
    stream: &mut S,
    peer: SocketAddr,
    cid: u64,
    live: &Live,
) -> Option<CountGuard> {
    let count = shared.client_count.fetch_add(1, Ordering::AcqRel) + 1;
    let guard = CountGuard(shared.clone());
    if count <= live.config.max_connections {
        return Some(guard);
    }
    tracing::error!("{peer} - cid:{cid} - maximum connections exceeded");
    let line = ClientError::MaxConnectionsExceeded
        .wire_line()
        .unwrap_or_default();
    let _ = write_direct(stream, &line, live.config.write_deadline).await;
    let _ = stream.shutdown().await;
    linger(stream).await;
    None
}

/// A plain-text client after its INFO: admitted against `max_connections`, then served.
async fn serve_plain(conn: Accepted, mut tcp: TcpStream) {
    let Some(_admitted) = admit(&conn.shared, &mut tcp, conn.peer, conn.cid, &conn.live).await
    else {
        return;
    };
    let (rd, wr) = tcp.into_split();
    run_connection(conn, rd, wr).await;
}

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// 11 random bytes, base64url without padding (15 characters), as nats-server's nonce.
fn new_nonce() -> String {
    let mut raw = [0u8; 11];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
    data_encoding::BASE64URL_NOPAD.encode(&raw)
}

/// A connection that got its INFO (and its TLS handshake) and was admitted.
struct Accepted {
    shared: Arc<Shared>,
    live: Arc<Live>,
    peer: SocketAddr,
    cid: u64,
    nonce: Option<String>,
    tls: Option<TlsIdentity>,
}

/// One write straight to the socket, before the writer task exists (INFO, early errors).
async fn write_direct<S: AsyncWrite + Unpin>(
    tcp: &mut S,
    data: &[u8],
    deadline: std::time::Duration,
) -> std::io::Result<()> {
    match tokio::time::timeout(deadline, tcp.write_all(data)).await {
        Ok(r) => r,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// The connection after INFO (and, later, the TLS handshake): a writer task and the reader loop.
async fn run_connection<R, W>(conn: Accepted, mut rd: R, wr: W)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Accepted {
        shared,
        live,
        peer,
        cid,
        nonce,
        tls,
    } = conn;
    let config = live.config.clone();
    let out = Arc::new(Outbound::new(
        cid,
        peer,
        usize::try_from(config.max_pending).unwrap_or(usize::MAX),
        tokio_util::sync::CancellationToken::new(),
    ));
    let writer = {
        let out = out.clone();
        let deadline = config.write_deadline;
        tokio::spawn(async move { out.run_writer(wr, deadline).await })
    };
    shared.register(cid, out.clone());
    tracing::debug!("{peer} - cid:{cid} - Client connection created");
    let mut client = Client::new(shared.clone(), live, out.clone(), peer, cid, nonce);
    client.tls = tls;
    let reason = client.run(&mut rd).await;
    client.unsubscribe_all();
    shared.unregister(cid);
    let reason = out.close(reason);
    let _ = writer.await;
    if reason != CloseReason::ClientClosed && reason != CloseReason::ReadError {
        linger(&mut rd).await;
    }
    tracing::debug!(
        "{peer} - cid:{cid} - Client connection closed: {}",
        reason.as_str()
    );
}

/// Reads and discards what the peer still sends for a moment, so that closing the socket with
/// unread input (which makes the kernel send a RST) does not destroy the `-ERR` just written.
async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let mut sink = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(100);
    let mut budget = 256 * 1024usize;
    while budget > 0 {
        match tokio::time::timeout_at(deadline, rd.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => budget = budget.saturating_sub(n),
            _ => return,
        }
    }
}

/// One target's share of a batch.
struct Staged {
    target: Arc<Outbound>,
    buf: BytesMut,
}

/// Largest staging buffer kept for reuse, and how many are kept. Buffers circulate between
/// publishers' staging and targets' writers (a hand-over swaps them), so freeing the large ones
/// would mean a fresh mapping, and page faults, per batch under load.
const STAGING_KEEP: usize = 256 * 1024;
const STAGING_SPARES: usize = 4;
/// After a read this small the connection is not busy: spares above this size are released.
const STAGING_IDLE_KEEP: usize = 16 * 1024;

/// One message on its way to subscribers.
#[derive(Clone, Copy)]
struct Msg<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// `Some` for HPUB: the header block's length at the start of `body`.
    header_len: Option<usize>,
    body: &'a [u8],
}

/// What the authenticator said about one CONNECT.
enum AuthOutcome {
    Accepted(Authorized, AuthRequest),
    Refused(rnats_auth::AuthError, AuthRequest),
    /// The authenticator itself failed (panicked).
    Failed,
    /// Too many logins are waiting for password hashing: refused without hashing.
    Busy(crate::hashing::Refused),
}

struct CountGuard(Arc<Shared>);

impl Drop for CountGuard {
    fn drop(&mut self) {
        self.0.client_count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a client asked for in CONNECT, reduced to what routing needs on every message.
struct Options {
    verbose: bool,
    pedantic: bool,
    echo: bool,
    headers: bool,
    no_responders: bool,
    protocol: i32,
}

impl Options {
    /// Before CONNECT, a client gets the same defaults as an empty CONNECT (verified against
    /// nats-server: `SUB`/`PUB` without CONNECT are answered with `+OK`).
    fn before_connect() -> Self {
        Self {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
        }
    }
}

struct Client {
    shared: Arc<Shared>,
    /// Configuration and authentication rules; replaced for authentication on reload.
    live: Arc<Live>,
    out: Arc<Outbound>,
    peer: SocketAddr,
    cid: u64,
    nonce: Option<String>,
    /// The verified client certificate, for `verify_and_map`.
    tls: Option<TlsIdentity>,
    account: Arc<Account>,
    /// Whether the client may send anything but CONNECT.
    authenticated: bool,
    /// CONNECT options waiting for the authenticator's answer.
    pending_connect: Option<ConnectOptions>,
    /// The credentials of the last CONNECT, kept to re-authenticate on reload (as nats-server).
    credentials: Option<AuthRequest>,
    /// User name or public key, for logs; never a secret.
    identity: String,
    permissions: Option<Arc<Permissions>>,
    publish_cache: PublishCache,
    reload: tokio::sync::watch::Receiver<u64>,
    parser: ClientParser,
    opts: Options,
    connected: bool,
    sent_connect_info: bool,
    /// Most subscriptions (`None`: no limit): the server's, lowered by the user's JWT.
    max_subs: Option<usize>,
    /// Largest payload this connection may publish: the server's, lowered by the user's JWT.
    max_payload: u32,
    subs: FastMap<Bytes, Arc<Subscription>>,
    /// Prune auto-unsubscribed entries from `subs` when it reaches this size.
    prune_subs_at: usize,
    /// Auto-unsubscribed entries taken out of `subs` so far: with `Outbound::expired_subs`
    /// it gives the live count without a scan (`max_subscriptions` is checked per SUB).
    pruned_expired: u64,
    timers: ConnTimers,
    cache: MatchCache<SubRef>,
    /// What this batch delivers to other clients, one buffer per target, handed over (one lock
    /// each) at the end of the batch: per-message locking made the targets' lock cache lines
    /// bounce between cores.
    staged: Vec<Staged>,
    staged_at: FastMap<u64, usize>,
    /// What this batch sends to this client itself (replies and its own messages, in order).
    own: BytesMut,
    /// Emptied staging buffers kept for the next batches.
    spare: Vec<BytesMut>,
    /// Subscriptions that reached their auto-unsubscribe count while routing one message.
    expired: Vec<SubRef>,
    rng: u64,
    /// `trace`/`-V` is on and trace lines are wanted: every op in and line out is logged.
    trace: bool,
}

impl Client {
    fn new(
        shared: Arc<Shared>,
        live: Arc<Live>,
        out: Arc<Outbound>,
        peer: SocketAddr,
        cid: u64,
        nonce: Option<String>,
    ) -> Self {
        let config = live.config.clone();
        let limits = Limits {
            max_control_line: config.max_control_line as usize,
            max_payload: config.max_payload as usize,
        };
        let rng = (cid ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
        let jitter = (rng >> 11) as f64 / (1u64 << 53) as f64;
        let auth_timeout = live.auth.auth_required().then(|| live.auth.auth_timeout());
        let timers = ConnTimers::new(
            Instant::now(),
            config.ping_interval,
            config.ping_max,
            auth_timeout,
            jitter,
        );
        let mut reload = shared.reload_epoch.subscribe();
        reload.mark_unchanged();
        Self {
            account: shared.global_account.clone(),
            authenticated: !live.auth_configured,
            pending_connect: None,
            credentials: None,
            identity: String::new(),
            permissions: None,
            publish_cache: PublishCache::new(),
            reload,
            max_subs: (config.max_subscriptions > 0).then_some(config.max_subscriptions as usize),
            max_payload: config.max_payload,
            live,
            shared,
            out,
            peer,
            cid,
            nonce,
            tls: None,
            parser: ClientParser::new(limits),
            opts: Options::before_connect(),
            connected: false,
            sent_connect_info: false,
            subs: FastMap::default(),
            prune_subs_at: 64,
            pruned_expired: 0,
            timers,
            cache: MatchCache::new(MATCH_CACHE_CAP),
            staged: Vec::new(),
            staged_at: FastMap::default(),
            own: BytesMut::new(),
            spare: Vec::new(),
            expired: Vec::new(),
            rng,
            trace: wants_trace(&config),
        }
    }

    async fn run<R: AsyncRead + Unpin>(&mut self, rd: &mut R) -> CloseReason {
        let mut buf = BytesMut::with_capacity(READ_BUF_MIN);
        let mut target = READ_BUF_MIN;
        let shutdown = self.shared.shutdown.clone();
        let kill = self.out.kill.clone();
        let sleep = tokio::time::sleep_until(self.timers.poll_timeout().into());
        tokio::pin!(sleep);
        loop {
            if buf.capacity() - buf.len() < target / 2 {
                buf.reserve(target);
            }
            let deadline = tokio::time::Instant::from(self.timers.poll_timeout());
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            tokio::select! {
                biased;
                () = kill.cancelled() => {
                    return self.out.close_reason().unwrap_or(CloseReason::WriteError);
                }
                () = shutdown.cancelled() => return CloseReason::ServerShutdown,
                Ok(()) = self.reload.changed() => {
                    let result = self.reauthenticate().await;
                    self.flush();
                    if let Err(reason) = result {
                        return reason;
                    }
                }
                read = rd.read_buf(&mut buf) => {
                    let n = match read {
                        Ok(0) => return CloseReason::ClientClosed,
                        Ok(n) => n,
                        Err(_) => return CloseReason::ReadError,
                    };
                    self.timers.on_input(Instant::now());
                    if n < READ_BUF_MIN {
                        self.release_idle_buffers();
                    }
                    let filled = buf.capacity() == buf.len();
                    let result = self.process_all(&mut buf).await;
                    self.flush();
                    if let Err(reason) = result {
                        return reason;
                    }
                    target = if filled {
                        (target * 2).min(READ_BUF_MAX)
                    } else if n < target / 4 {
                        (target / 2).max(READ_BUF_MIN)
                    } else {
                        target
                    };
                }
                () = &mut sleep => {
                    let action = self.timers.handle_timeout(Instant::now());
                    let result = self.on_timer(action);
                    self.flush();
                    if let Err(reason) = result {
                        return reason;
                    }
                }
            }
        }
    }

    /// Handles every complete op in `buf`, pausing at a CONNECT that needs the authenticator:
    /// it runs on a blocking thread (bcrypt and argon2 are slow by design) while this
    /// connection alone waits; then the rest of the buffer is handled.
    async fn process_all(&mut self, buf: &mut BytesMut) -> Result<(), CloseReason> {
        while let Some(request) = self.process(buf)? {
            self.flush();
            let outcome = self.authenticate(request, false).await;
            self.complete_connect(outcome)?;
        }
        Ok(())
    }

    /// `reload`: a re-check of a connection that is already in, which waits for a hashing
    /// worker instead of being refused when many logins wait.
    async fn authenticate(&self, request: AuthRequest, reload: bool) -> AuthOutcome {
        let auth = self.live.auth.clone();
        if !auth.may_block(&request) {
            // Signatures and plain comparisons take microseconds: no thread hop needed.
            return match auth.authenticate(&request) {
                Ok(authorized) => AuthOutcome::Accepted(authorized, request),
                Err(e) => AuthOutcome::Refused(e, request),
            };
        }
        let work = move || match auth.authenticate(&request) {
            Ok(authorized) => AuthOutcome::Accepted(authorized, request),
            Err(e) => AuthOutcome::Refused(e, request),
        };
        let gate = &self.shared.hashing;
        let hashed = if reload {
            gate.run_waiting(work).await
        } else {
            gate.run(self.peer.ip(), work).await
        };
        match hashed {
            Ok(outcome) => outcome,
            // The authenticator panicked: a refusal, never a success.
            Err(crate::hashing::Refused::Failed) => AuthOutcome::Failed,
            Err(busy) => AuthOutcome::Busy(busy),
        }
    }

    fn empty_request(&self) -> AuthRequest {
        let mut request = AuthRequest::new(self.peer, ConnectionType::Standard);
        request.nonce.clone_from(&self.nonce);
        request.tls.clone_from(&self.tls);
        request
    }

    fn complete_connect(&mut self, outcome: AuthOutcome) -> Result<(), CloseReason> {
        let opts = self.pending_connect.take().unwrap_or_default();
        match outcome {
            AuthOutcome::Accepted(authorized, request) => {
                self.bind(authorized, Some(request));
                self.apply_connect(opts)
            }
            AuthOutcome::Refused(e, request) => {
                self.log_auth_failure(&e, &request);
                self.fail(ClientError::AuthorizationViolation)
            }
            AuthOutcome::Failed => {
                tracing::error!(
                    "{} - cid:{} - authentication error: authenticator failed",
                    self.peer,
                    self.cid
                );
                self.fail(ClientError::AuthorizationViolation)
            }
            AuthOutcome::Busy(why) => {
                self.log_busy(why);
                self.fail(ClientError::AuthorizationViolation)
            }
        }
    }

    fn log_busy(&self, why: crate::hashing::Refused) {
        tracing::error!(
            "{} - cid:{} - authentication error: refused without checking, {}",
            self.peer,
            self.cid,
            match why {
                crate::hashing::Refused::AddressFull =>
                    "too many logins from this address are waiting for password hashing",
                _ => "too many logins are waiting for password hashing",
            }
        );
    }

    fn log_auth_failure(&self, e: &rnats_auth::AuthError, request: &AuthRequest) {
        let who = request
            .user
            .as_deref()
            .or(request.nkey.as_deref())
            .map(|u| format!(" - User {}", Quoted(u.as_bytes())))
            .unwrap_or_default();
        tracing::error!(
            "{} - cid:{} - authentication error{who}: {e}",
            self.peer,
            self.cid
        );
    }

    /// Binds the connection to its account, permissions and expiry.
    fn bind(&mut self, authorized: Authorized, request: Option<AuthRequest>) {
        tracing::info!(
            "{} - cid:{} - authenticated: method={} identity={} account={}",
            self.peer,
            self.cid,
            authorized.method,
            Quoted(authorized.identity.as_bytes()),
            Quoted(authorized.account.as_bytes())
        );
        if authorized.account != self.account.name {
            // A second CONNECT into another account: subscriptions do not follow.
            self.unsubscribe_all();
            self.account = self.shared.account(&authorized.account);
        }
        self.out
            .replies
            .configure(authorized.permissions.as_ref().and_then(|p| p.responses()));
        self.permissions = authorized.permissions;
        self.publish_cache = PublishCache::new();
        self.apply_user_limits(authorized.max_subscriptions, authorized.max_payload);
        self.identity = authorized.identity;
        self.timers.set_expiry(authorized.expires.map(|at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            Instant::now() + left
        }));
        self.credentials = request;
        self.authenticated = true;
        self.timers.on_authenticated();
    }

    /// The effective limits are the lower of the server's and the user's (nats-server).
    fn apply_user_limits(&mut self, subscriptions: Option<u32>, payload: Option<u32>) {
        let config = &self.live.config;
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

    /// After a reload: check this connection against the new rules, as nats-server does. A user
    /// that is gone, or that now lands in another account, is closed; new permissions apply at
    /// once, and subscriptions they no longer allow are removed with a notice.
    async fn reauthenticate(&mut self) -> Result<(), CloseReason> {
        let live = self.shared.live();
        let old_live = std::mem::replace(&mut self.live, live);
        self.trace = wants_trace(&self.live.config);
        if !self.live.auth_configured {
            self.permissions = None;
            self.publish_cache = PublishCache::new();
            self.timers.set_expiry(None);
            if self.account.name != self.shared.global_account.name {
                return self.fail(ClientError::AuthorizationViolation);
            }
            return Ok(());
        }
        if !self.authenticated && !old_live.auth_configured {
            return Ok(());
        }
        let request = self
            .credentials
            .clone()
            .unwrap_or_else(|| self.empty_request());
        match self.authenticate(request, true).await {
            AuthOutcome::Accepted(authorized, request) => {
                if authorized.account != self.account.name {
                    tracing::info!(
                        "{} - cid:{} - account changed on reload, closing",
                        self.peer,
                        self.cid
                    );
                    return self.fail(ClientError::AuthorizationViolation);
                }
                self.bind(authorized, Some(request));
                self.drop_forbidden_subscriptions();
                Ok(())
            }
            AuthOutcome::Refused(e, request) => {
                self.log_auth_failure(&e, &request);
                self.fail(ClientError::AuthorizationViolation)
            }
            AuthOutcome::Failed => {
                tracing::error!(
                    "{} - cid:{} - authentication error on reload: authenticator failed",
                    self.peer,
                    self.cid
                );
                self.fail(ClientError::AuthorizationViolation)
            }
            AuthOutcome::Busy(why) => {
                self.log_busy(why);
                self.fail(ClientError::AuthorizationViolation)
            }
        }
    }

    fn drop_forbidden_subscriptions(&mut self) {
        let Some(perms) = self.permissions.clone() else {
            return;
        };
        let forbidden: Vec<Arc<Subscription>> = self
            .subs
            .values()
            .filter(|s| !s.closed.load(Ordering::Relaxed))
            .filter(|s| !perms.may_subscribe(&s.subject, s.queue.as_deref()))
            .cloned()
            .collect();
        for sub in forbidden {
            self.subs.remove(&sub.sid);
            if !self.account.remove(&sub) {
                self.pruned_expired += 1;
            }
            let _ = self.fail(ClientError::SubscriptionRemoved {
                subject: String::from_utf8_lossy(&sub.subject).into_owned(),
                queue: sub
                    .queue
                    .as_ref()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
                sid: String::from_utf8_lossy(&sub.sid).into_owned(),
            });
        }
    }

    fn on_timer(&mut self, action: TimerAction) -> Result<(), CloseReason> {
        match action {
            TimerAction::Nothing => Ok(()),
            TimerAction::SendPing => {
                self.reply(PING);
                Ok(())
            }
            TimerAction::Stale => {
                tracing::debug!(
                    "{} - cid:{} - Stale Client Connection - Closing",
                    self.peer,
                    self.cid
                );
                self.fail(ClientError::StaleConnection)
            }
            TimerAction::Expired => {
                tracing::info!(
                    "{} - cid:{} - User Authentication Expired",
                    self.peer,
                    self.cid
                );
                self.fail(ClientError::UserAuthenticationExpired)
            }
            TimerAction::AuthTimeout => {
                tracing::error!("{} - cid:{} - Authentication Timeout", self.peer, self.cid);
                self.fail(ClientError::AuthenticationTimeout)
            }
        }
    }

    /// Parses and handles complete ops in `buf`. Returns a request when a CONNECT must be
    /// authenticated before anything after it is handled.
    fn process(&mut self, buf: &mut BytesMut) -> Result<Option<AuthRequest>, CloseReason> {
        loop {
            let parsed = self.parser.parse(buf);
            if self.trace
                && let Ok(Some(op)) = &parsed
            {
                self.trace_in(op);
            }
            match parsed {
                Ok(None) => return Ok(None),
                Ok(Some(ClientOp::Connect(json))) => {
                    if let Some(request) = self.on_connect(&json)? {
                        return Ok(Some(request));
                    }
                }
                Ok(Some(op)) => self.handle(op)?,
                Err(e) => {
                    tracing::error!(
                        "{} - cid:{} - Client parser ERROR: {e}",
                        self.peer,
                        self.cid
                    );
                    self.fail(ClientError::Protocol(e))?;
                    return Err(CloseReason::ProtocolViolation);
                }
            }
        }
    }

    fn handle(&mut self, op: ClientOp) -> Result<(), CloseReason> {
        if !self.authenticated {
            self.authenticate_without_connect()?;
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => self.on_pub(&subject, reply.as_ref(), None, &payload),
            ClientOp::HPub {
                subject,
                reply,
                header_len,
                message,
            } => {
                if !self.opts.headers {
                    tracing::error!(
                        "{} - cid:{} - message headers not supported",
                        self.peer,
                        self.cid
                    );
                    return self.fail(ClientError::HeadersNotSupported);
                }
                self.on_pub(&subject, reply.as_ref(), Some(header_len), &message)
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.on_sub(&subject, queue.as_deref(), &sid),
            ClientOp::Unsub { sid, max } => {
                self.on_unsub(&sid, max);
                Ok(())
            }
            ClientOp::Ping => {
                self.reply(PONG);
                if self.connected && self.opts.protocol >= 1 && !self.sent_connect_info {
                    self.sent_connect_info = true;
                    let mut info = self.shared.client_info(self.cid, self.peer, true);
                    info.remote_account = Some(self.account.name.clone());
                    info.max_payload = self.max_payload;
                    self.reply(&info.to_line());
                }
                Ok(())
            }
            ClientOp::Pong => {
                self.timers.on_pong();
                Ok(())
            }
            ClientOp::Connect(_) => Ok(()),
            ClientOp::Info | ClientOp::Ok => Ok(()),
            ClientOp::Err(text) => {
                tracing::error!(
                    "{} - cid:{} - Client Error {}",
                    self.peer,
                    self.cid,
                    Quoted(&text)
                );
                self.fail(ClientError::ClientSentErr)
            }
        }
    }

    /// The first op was not CONNECT: refused when authentication is required, otherwise the
    /// client is the `no_auth_user` (nats-server's telnet-friendly rule).
    fn authenticate_without_connect(&mut self) -> Result<(), CloseReason> {
        if self.live.auth.auth_required() {
            tracing::error!(
                "{} - cid:{} - authentication error: no CONNECT",
                self.peer,
                self.cid
            );
            return self.fail(ClientError::AuthorizationViolation);
        }
        let request = self.empty_request();
        match self.live.auth.authenticate(&request) {
            Ok(authorized) => {
                self.bind(authorized, None);
                Ok(())
            }
            Err(e) => {
                self.log_auth_failure(&e, &request);
                self.fail(ClientError::AuthorizationViolation)
            }
        }
    }

    /// CONNECT: parsed here; applied at once when nothing is configured for authentication,
    /// otherwise handed back as a request for the authenticator.
    fn on_connect(&mut self, json: &[u8]) -> Result<Option<AuthRequest>, CloseReason> {
        let opts = match ConnectOptions::from_json(json) {
            Ok(opts) => opts,
            Err(e) => {
                // serde's message quotes the offending value, which may be a password sent as
                // a number: only the kind of error and its place are logged.
                tracing::error!(
                    "{} - cid:{} - invalid CONNECT JSON: {} error at line {} column {}",
                    self.peer,
                    self.cid,
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
        if !self.live.auth_configured {
            self.authenticated = true;
            self.apply_connect(opts)?;
            return Ok(None);
        }
        let request = AuthRequest {
            user: opts.user.clone(),
            pass: opts.pass.clone(),
            token: opts.auth_token.clone(),
            nkey: opts.nkey.clone(),
            sig: opts.sig.clone(),
            jwt: opts.jwt.clone(),
            nonce: self.nonce.clone(),
            client_addr: self.peer,
            connection_type: ConnectionType::Standard,
            tls: self.tls.clone(),
        };
        self.pending_connect = Some(opts);
        Ok(Some(request))
    }

    /// The CONNECT checks that follow authentication, then the options take effect.
    fn apply_connect(&mut self, opts: ConnectOptions) -> Result<(), CloseReason> {
        if opts.account.is_some() || opts.new_account.is_some() {
            tracing::error!(
                "{} - cid:{} - authentication error: CONNECT may not name an account",
                self.peer,
                self.cid
            );
            return self.fail(ClientError::AuthorizationViolation);
        }
        if !(0..=1).contains(&opts.protocol) {
            tracing::error!("{} - cid:{} - invalid client protocol", self.peer, self.cid);
            return self.fail(ClientError::InvalidClientProtocol);
        }
        if opts.no_responders && !opts.headers {
            tracing::error!(
                "{} - cid:{} - no responders requires headers support",
                self.peer,
                self.cid
            );
            return self.fail(ClientError::NoRespondersRequiresHeaders);
        }
        let headers = opts.headers && !self.live.config.no_header_support;
        self.opts = Options {
            verbose: opts.verbose,
            pedantic: opts.pedantic,
            echo: opts.echo,
            headers,
            no_responders: opts.no_responders,
            protocol: opts.protocol,
        };
        self.out.headers.store(headers, Ordering::Relaxed);
        self.timers.on_authenticated();
        self.connected = true;
        if self.opts.verbose {
            self.reply(OK);
        }
        Ok(())
    }

    fn on_pub(
        &mut self,
        subject: &Bytes,
        reply: Option<&Bytes>,
        header_len: Option<usize>,
        message: &Bytes,
    ) -> Result<(), CloseReason> {
        if self.opts.pedantic && validate_literal_subject(subject).is_err() {
            self.fail(ClientError::InvalidPublishSubject)?;
        }
        if RESERVED_PUBLISH_PREFIXES
            .iter()
            .any(|p| subject.starts_with(p))
        {
            return self.publish_violation(subject);
        }
        if let Some(perms) = &self.permissions
            && !self.publish_cache.may_publish(perms, subject)
            && !self.out.replies.take(subject, Instant::now())
        {
            return self.publish_violation(subject);
        }
        if let Some(reply) = reply
            && RESERVED_REPLY_PREFIXES.iter().any(|p| reply.starts_with(p))
        {
            tracing::error!(
                "{} - cid:{} - Publish Violation - Reply {}",
                self.peer,
                self.cid,
                Quoted(reply)
            );
            let reply = String::from_utf8_lossy(reply).into_owned();
            return self.fail(ClientError::PublishReplyViolation(reply));
        }
        if self.opts.verbose {
            self.reply(OK);
        }
        let msg = Msg {
            subject,
            reply: reply.map(|r| &r[..]),
            header_len,
            body: message,
        };
        let delivered = self.route(msg);
        if !delivered
            && self.opts.no_responders
            && let Some(reply) = reply
        {
            self.no_responders(subject, reply);
        }
        Ok(())
    }

    fn publish_violation(&mut self, subject: &[u8]) -> Result<(), CloseReason> {
        tracing::error!(
            "{} - cid:{} - Publish Violation - User {}, Subject {}",
            self.peer,
            self.cid,
            Quoted(self.identity.as_bytes()),
            Quoted(subject)
        );
        let subject = String::from_utf8_lossy(subject).into_owned();
        self.fail(ClientError::PublishViolation(subject))
    }

    /// Delivers one message in this client's account (through the match cache), then across
    /// accounts where exports and imports say so. Returns whether anybody got it.
    fn route(&mut self, msg: Msg<'_>) -> bool {
        let matches = self.lookup(msg.subject);
        let mut delivered = self.deliver_matches(&matches, msg);
        for sub in self.expired.drain(..) {
            self.account.expire(&sub.0);
        }
        if msg.subject.starts_with(b"_R_.") || self.account.links().is_some() {
            delivered |= self.route_across(msg);
        }
        delivered
    }

    /// Service responses going back to their importer, stream exports and service imports.
    fn route_across(&mut self, msg: Msg<'_>) -> bool {
        let mut delivered = false;
        if msg.subject.starts_with(b"_R_.")
            && let Some((importer, original)) =
                self.account.take_response(msg.subject, Instant::now())
        {
            let response = Msg {
                subject: &original,
                reply: None,
                ..msg
            };
            delivered |= self.route_in(&importer, response);
        }
        let Some(links) = self.account.links() else {
            return delivered;
        };
        for route in links.streams.iter().filter(|r| r.matches(msg.subject)) {
            let importer = self.shared.account(&route.importer);
            let mapped = route.map.apply(msg.subject);
            delivered |= self.route_in(
                &importer,
                Msg {
                    subject: &mapped,
                    ..msg
                },
            );
        }
        for route in links.services.iter().filter(|r| r.matches(msg.subject)) {
            let exporter = self.shared.account(&route.exporter);
            let mapped = route.map.apply(msg.subject);
            let reply = msg.reply.and_then(|r| {
                exporter.register_response(
                    self.account.clone(),
                    r,
                    route.response,
                    route.threshold,
                    Instant::now(),
                )
            });
            let request = Msg {
                subject: &mapped,
                reply: reply.as_deref(),
                ..msg
            };
            delivered |= self.route_in(&exporter, request);
        }
        delivered
    }

    /// Delivers in another account (no match cache: cross-account traffic is the rarer path).
    fn route_in(&mut self, account: &Arc<Account>, msg: Msg<'_>) -> bool {
        let matches = account.read().matches(msg.subject);
        let delivered = self.deliver_matches(&matches, msg);
        for sub in self.expired.drain(..) {
            account.expire(&sub.0);
        }
        delivered
    }

    /// Every plain match, and one member of each queue group.
    fn deliver_matches(&mut self, matches: &Matches<SubRef>, msg: Msg<'_>) -> bool {
        let mut delivered = false;
        for sub in &matches.plain {
            delivered |= self.deliver(sub, msg);
        }
        for group in &matches.queues {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            let start = self.next_random() as usize % n;
            for i in 0..n {
                let sub = &group.members[(start + i) % n];
                if self.deliver(sub, msg) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    fn deliver(&mut self, sub: &SubRef, msg: Msg<'_>) -> bool {
        if sub.closed.load(Ordering::Relaxed) || sub.client.is_closed() {
            return false;
        }
        let target = &sub.client;
        if target.cid == self.cid && !self.opts.echo {
            return false;
        }
        if let Some(filter) = &sub.deliver_filter
            && !filter.may_deliver(msg.subject, sub.queue.as_deref())
        {
            return false;
        }
        let (allowed, last) = sub.take_delivery();
        if !allowed {
            return false;
        }
        if let Some(reply) = msg.reply
            && target.replies.enabled()
        {
            target.replies.grant(reply, Instant::now());
        }
        let headers = target.headers.load(Ordering::Relaxed);
        if self.trace {
            trace_delivery(target, sub, msg, headers);
        }
        let Msg {
            subject,
            reply,
            header_len,
            body,
        } = msg;
        let buf = self.staging(target);
        match header_len {
            Some(h) if headers => {
                rnats_protocol::encode_hmsg(buf, subject, &sub.sid, reply, h, body)
            }
            // A client without headers support gets the message without them, as nats-server.
            Some(h) => {
                let payload = &body[h.min(body.len())..];
                rnats_protocol::encode_msg(buf, subject, &sub.sid, reply, payload);
            }
            None => rnats_protocol::encode_msg(buf, subject, &sub.sid, reply, body),
        }
        if last {
            self.expired.push(sub.clone());
        }
        true
    }

    /// The buffer collecting this batch's bytes for `target`.
    fn staging(&mut self, target: &Arc<Outbound>) -> &mut BytesMut {
        if target.cid == self.cid {
            return &mut self.own;
        }
        let index = match self.staged_at.get(&target.cid) {
            Some(&i) => i,
            None => {
                let buf = self.spare.pop().unwrap_or_default();
                self.staged.push(Staged {
                    target: target.clone(),
                    buf,
                });
                self.staged_at.insert(target.cid, self.staged.len() - 1);
                self.staged.len() - 1
            }
        };
        &mut self.staged[index].buf
    }

    /// A request nobody answered: the publisher's own subscription on the reply subject gets a
    /// 503 status message, as nats-server does for clients that asked for it.
    fn no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let mut header = Vec::with_capacity(42 + subject.len());
        header.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        header.extend_from_slice(subject);
        header.extend_from_slice(b"\r\n\r\n");
        let matches = self.lookup(reply);
        let own = matches
            .plain
            .iter()
            .chain(matches.queues.iter().flat_map(|g| g.members.iter()))
            .find(|s| s.client.cid == self.cid && !s.closed.load(Ordering::Relaxed));
        if let Some(sub) = own {
            let (allowed, last) = sub.take_delivery();
            if allowed {
                let sid = sub.sid.clone();
                rnats_protocol::encode_hmsg(
                    &mut self.own,
                    reply,
                    &sid,
                    None,
                    header.len(),
                    &header,
                );
            }
            if last {
                self.account.expire(&sub.0);
            }
        }
    }

    /// The matches for a subject, from the per-connection cache while the account's sublist is
    /// unchanged. The generation is read without the lock; a result is stored only under the
    /// generation it was computed at, so the cache never serves a stale result.
    fn lookup(&mut self, subject: &[u8]) -> Arc<Matches<SubRef>> {
        if let Some(found) = self.cache.lookup(self.account.generation(), subject) {
            return found;
        }
        let (matches, at) = {
            let sublist = self.account.read();
            (Arc::new(sublist.matches(subject)), sublist.generation())
        };
        self.cache.store(at, subject, matches.clone());
        matches
    }

    fn on_sub(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Result<(), CloseReason> {
        if let Some(existing) = self.subs.get(sid)
            && !existing.closed.load(Ordering::Relaxed)
        {
            // nats-server keeps the existing subscription for a duplicate sid.
            if self.opts.verbose {
                self.reply(OK);
            }
            return Ok(());
        }
        let reserved_queue = queue.is_some_and(rnats_auth::is_reserved_queue);
        if reserved_queue
            || self
                .permissions
                .as_ref()
                .is_some_and(|p| !p.may_subscribe(subject, queue))
        {
            tracing::error!(
                "{} - cid:{} - Subscription Violation - User {}, Subject {}",
                self.peer,
                self.cid,
                Quoted(self.identity.as_bytes()),
                Quoted(subject)
            );
            let subject = String::from_utf8_lossy(subject).into_owned();
            let queue = queue.map(|q| String::from_utf8_lossy(q).into_owned());
            return self.fail(ClientError::SubscriptionViolation { subject, queue });
        }
        if self.subs.len() >= self.prune_subs_at {
            // Amortised: the next prune waits until the map has doubled.
            self.prune_expired();
            self.prune_subs_at = (self.subs.len() * 2).max(64);
        }
        if let Some(max) = self.max_subs
            && self.live_subscriptions() >= max
        {
            // O(1): a client refused again and again never makes the server rescan.
            tracing::error!(
                "{} - cid:{} - maximum subscriptions exceeded",
                self.peer,
                self.cid
            );
            return self.fail(ClientError::MaxSubscriptionsExceeded);
        }
        // Copies: a subscription outlives the read buffer it was parsed from.
        let sub = Arc::new(Subscription {
            client: self.out.clone(),
            subject: Bytes::copy_from_slice(subject),
            queue: queue.map(Bytes::copy_from_slice),
            sid: Bytes::copy_from_slice(sid),
            deliver_filter: self.permissions.clone().filter(|p| p.has_delivery_filter()),
            max: 0.into(),
            delivered: 0.into(),
            closed: false.into(),
        });
        if self.account.insert(&sub).is_err() {
            return self.fail(ClientError::InvalidSubject);
        }
        // Only a closed (auto-unsubscribed) entry can be replaced here.
        if self.subs.insert(sub.sid.clone(), sub).is_some() {
            self.pruned_expired += 1;
        }
        if self.opts.verbose {
            self.reply(OK);
        }
        Ok(())
    }

    fn on_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        if let Some(sub) = self.subs.get(sid).cloned() {
            match max {
                Some(max) if max > 0 && sub.delivered.load(Ordering::Relaxed) < max => {
                    sub.max.store(max, Ordering::Relaxed);
                }
                _ => {
                    self.subs.remove(sid);
                    if !self.account.remove(&sub) {
                        self.pruned_expired += 1;
                    }
                }
            }
        }
        if self.opts.verbose {
            self.reply(OK);
        }
    }

    fn unsubscribe_all(&mut self) {
        let gone = self.account.remove_all(self.subs.values());
        self.pruned_expired += gone as u64;
        self.subs.clear();
    }

    /// Subscriptions in `subs` not yet auto-unsubscribed. Never below the true count: an
    /// expiry whose counter is not yet visible only makes it count one too many for a moment.
    fn live_subscriptions(&self) -> usize {
        let expired = self.out.expired_subs.load(Ordering::Acquire);
        let pending = expired.saturating_sub(self.pruned_expired);
        self.subs
            .len()
            .saturating_sub(usize::try_from(pending).unwrap_or(usize::MAX))
    }

    /// Takes auto-unsubscribed entries out of `subs`.
    fn prune_expired(&mut self) {
        let before = self.subs.len();
        self.subs.retain(|_, s| !s.closed.load(Ordering::Acquire));
        self.pruned_expired += (before - self.subs.len()) as u64;
    }

    /// Queues bytes for this client, after whatever this batch already has for it.
    fn reply(&mut self, data: &[u8]) {
        if self.trace {
            tracing::trace!(
                "{} - cid:{} - {}",
                self.peer,
                self.cid,
                logfmt::outbound(data)
            );
        }
        self.own.extend_from_slice(data);
    }

    fn trace_in(&self, op: &ClientOp) {
        let (line, payload) = logfmt::inbound(op);
        tracing::trace!("{} - cid:{} - {line}", self.peer, self.cid);
        if let Some(payload) = payload {
            tracing::trace!("{} - cid:{} - {payload}", self.peer, self.cid);
        }
    }

    /// Sends the error (if nats-server sends one) and says whether the connection must close.
    fn fail(&mut self, err: ClientError) -> Result<(), CloseReason> {
        if let Some(line) = err.wire_line() {
            self.reply(&line);
        }
        match err.closes() {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    /// A quiet connection keeps no large staging buffers.
    fn release_idle_buffers(&mut self) {
        self.spare.retain(|b| b.capacity() <= STAGING_IDLE_KEEP);
        if self.own.capacity() > STAGING_IDLE_KEEP {
            self.own = BytesMut::new();
        }
    }

    /// Hands this batch's bytes to every target (one lock each) and wakes each writer once.
    fn flush(&mut self) {
        if !self.own.is_empty() && self.out.hand_over(&mut self.own) == Append::Wake {
            self.out.wake();
        }
        if self.own.capacity() > STAGING_KEEP {
            self.own = BytesMut::new();
        }
        for Staged { target, mut buf } in self.staged.drain(..) {
            if target.hand_over(&mut buf) == Append::Wake {
                target.wake();
            }
            if buf.capacity() <= STAGING_KEEP && self.spare.len() < STAGING_SPARES {
                self.spare.push(buf);
            }
        }
        self.staged_at.clear();
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64: queue member choice needs speed and spread, not secrecy.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// Whether the protocol trace is on (`trace`/`-V`) and trace lines are wanted by the logger:
/// read at connect and after each reload, so the hot path checks one bool.
fn wants_trace(config: &rnats_config::ServerConfig) -> bool {
    config.trace && tracing::enabled!(tracing::Level::TRACE)
}

/// The trace line of one delivery, in the target's name, as nats-server writes it.
fn trace_delivery(target: &Outbound, sub: &SubRef, msg: Msg<'_>, headers: bool) {
    let mut line = BytesMut::new();
    match msg.header_len {
        Some(h) if headers => {
            rnats_protocol::encode_hmsg(&mut line, msg.subject, &sub.sid, msg.reply, h, msg.body)
        }
        Some(h) => {
            let body = &msg.body[h.min(msg.body.len())..];
            rnats_protocol::encode_msg(&mut line, msg.subject, &sub.sid, msg.reply, body);
        }
        None => rnats_protocol::encode_msg(&mut line, msg.subject, &sub.sid, msg.reply, msg.body),
    }
    tracing::trace!(
        "{} - cid:{} - {}",
        target.peer,
        target.cid,
        logfmt::outbound(&line)
    );
}
