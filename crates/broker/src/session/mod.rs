//! The sans-IO session: one client connection's protocol state, without sockets or a clock.
//!
//! The driver (see `driver.rs`) feeds it what the client sent and the current time; the session
//! answers with bytes for the client (gathered with the deliveries in its [`Router`] and handed
//! over by [`Session::flush`]), a request for the authenticator when a CONNECT needs one, or the
//! reason the connection must close. CONNECT and authentication outcomes live in `connect.rs`,
//! SUB/UNSUB and the subscription table in `subs.rs`, PUB here. Being sans-IO, every rule is
//! unit-tested in `tests.rs` with no socket and no runtime.

mod audit;
mod connect;
mod subs;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rnats_auth::{AuthRequest, Permissions, PublishCache, TlsIdentity};
use rnats_protocol::{ClientOp, ClientParser, ConnectOptions, Limits, OK, PING, PONG};
use rnats_sublist::{Mapped, validate_literal_subject};

use crate::account::Account;
use crate::errors::ClientError;
use crate::info::InfoLine;
use crate::logfmt::{self, Quoted};
use crate::msgtrace;
use crate::outbound::{CloseReason, Outbound};
use crate::router::{Flow, Msg, RESPONSE_PREFIX, Router};
use crate::state::{ServerState, Settings};
use crate::timers::{ConnTimers, TimerAction};
use crate::websocket::Transport;

pub(crate) use connect::AuthOutcome;
use subs::Subscriptions;

/// Reply subjects a client may not use (they belong to service imports, gateways old and new,
/// and JetStream), as nats-server 2.15.1 refuses them.
const RESERVED_REPLY_PREFIXES: [&[u8]; 4] = [RESPONSE_PREFIX, b"$JS.ACK.", b"_GR_.", b"$GR."];
/// Subjects a client may not publish to (gateway-routed replies, old and new form).
const RESERVED_PUBLISH_PREFIXES: [&[u8]; 2] = [b"_GR_.", b"$GR."];

/// Where [`Session::feed`] stopped.
pub(crate) enum Fed {
    /// Every complete op in the buffer was handled.
    Done,
    /// A CONNECT needs the authenticator: ask it, give the answer to
    /// [`Session::complete_connect`], then feed the rest.
    Authenticate(Box<AuthRequest>),
    /// A subscriber is about to fall behind (flow control): flush, let the driver pause the
    /// reading briefly, then feed the rest.
    Stalled,
}

/// Who is on the other end, as admission found it.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    pub(crate) cid: u64,
    /// TCP or WebSocket (with the credentials of its cookies).
    pub(crate) transport: Transport,
    /// The nonce sent in INFO, when the authenticator wants one signed.
    pub(crate) nonce: Option<String>,
    /// The verified client certificate, for `verify_and_map`.
    pub(crate) tls: Option<TlsIdentity>,
    /// The TLS session, for an auth callout request's `client_tls`.
    pub(crate) tls_session: Option<rnats_jwt::ClientTls>,
}

/// What a client asked for in CONNECT, reduced to what routing needs on every message.
#[derive(Debug, Clone, Copy)]
struct Options {
    verbose: bool,
    pedantic: bool,
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
            headers: false,
            no_responders: false,
            protocol: 0,
        }
    }
}

/// One client connection's protocol state.
pub(crate) struct Session {
    state: Arc<ServerState>,
    /// The configuration and authentication rules in force; replaced on reload.
    settings: Arc<Settings>,
    out: Arc<Outbound>,
    peer: Peer,
    account: Arc<Account>,
    /// Whether the client may send anything but CONNECT.
    authenticated: bool,
    /// CONNECT options waiting for the authenticator's answer.
    pending_connect: Option<ConnectOptions>,
    /// When that CONNECT arrived, for the login latency metric.
    connect_received: Option<Instant>,
    /// The credentials of the last CONNECT, kept to re-authenticate on reload (as nats-server).
    credentials: Option<AuthRequest>,
    /// User name or public key, for logs; never a secret.
    identity: String,
    /// Operator mode: the account signing key that issued the user JWT, and the number of
    /// its scope when the connection was bound (a changed scope closes the connection).
    signer: Option<(String, u64)>,
    permissions: Option<Arc<Permissions>>,
    publish_cache: PublishCache,
    parser: ClientParser,
    opts: Options,
    connected: bool,
    sent_connect_info: bool,
    /// Most subscriptions (`None`: no limit): the server's, lowered by the user's.
    max_subs: Option<usize>,
    /// Largest payload this connection may publish: the server's, lowered by the user's.
    max_payload: u32,
    subs: Subscriptions,
    timers: ConnTimers,
    router: Router,
    /// `trace`/`-V` is on and trace lines are wanted: every op in and line out is logged.
    trace: bool,
    /// Messages and bytes published in this read batch, added to the connection's
    /// monitoring counters at the flush (not per message).
    in_msgs: u64,
    in_bytes: u64,
    /// When the server's last PING left, for the round-trip time.
    ping_sent: Option<Instant>,
}

impl Session {
    pub(crate) fn new(
        state: Arc<ServerState>,
        settings: Arc<Settings>,
        out: Arc<Outbound>,
        peer: Peer,
        now: Instant,
    ) -> Self {
        let config = settings.config.clone();
        let limits = Limits {
            max_control_line: config.max_control_line as usize,
            max_payload: config.max_payload as usize,
        };
        let spread = (peer.cid ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let jitter = (spread >> 11) as f64 / (1u64 << 53) as f64;
        let auth_timeout = settings
            .auth
            .auth_required()
            .then(|| settings.auth.auth_timeout());
        let timers = ConnTimers::new(
            now,
            config.ping_interval,
            config.ping_max,
            auth_timeout,
            jitter,
        );
        let trace = wants_trace(&config);
        let mut router = Router::new(peer.cid);
        router.set_trace(trace);
        router.set_flow(flow(&config, true));
        Self {
            account: state.global_account.clone(),
            authenticated: !settings.auth.configured(),
            pending_connect: None,
            connect_received: None,
            credentials: None,
            identity: String::new(),
            signer: None,
            permissions: None,
            publish_cache: PublishCache::new(),
            max_subs: (config.max_subscriptions > 0).then_some(config.max_subscriptions as usize),
            max_payload: config.max_payload,
            parser: ClientParser::new(limits),
            opts: Options::before_connect(),
            connected: false,
            sent_connect_info: false,
            subs: Subscriptions::default(),
            timers,
            router,
            trace,
            in_msgs: 0,
            in_bytes: 0,
            ping_sent: None,
            state,
            settings,
            out,
            peer,
        }
    }

    /// What the connection came in on.
    pub(crate) fn transport(&self) -> &Transport {
        &self.peer.transport
    }

    /// The settings this session runs under.
    pub(crate) fn settings(&self) -> Arc<Settings> {
        self.settings.clone()
    }

    /// When the driver must call [`Session::handle_timeout`] next.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.timers.poll_timeout()
    }

    /// The client sent something (any bytes count against staleness).
    pub(crate) fn on_input(&mut self, now: Instant) {
        self.timers.on_input(now);
        self.out.stats.touch(std::time::SystemTime::now());
    }

    /// A quiet connection keeps no large buffers.
    pub(crate) fn release_idle_buffers(&mut self) {
        self.router.release_idle_buffers();
    }

    /// The ops fed next are slices of a read buffer of `size` bytes (see `Router`).
    pub(crate) fn set_read_buffer(&mut self, size: usize) {
        self.router.set_read_buffer(size);
    }

    /// Hands this batch's bytes to the client's own writer and to every target's.
    pub(crate) fn flush(&mut self) {
        if self.in_msgs > 0 {
            self.out.stats.add_in(self.in_msgs, self.in_bytes);
            self.in_msgs = 0;
            self.in_bytes = 0;
        }
        self.router.flush(&self.out);
    }

    /// Whether a flush since the last call left a subscriber's writer a batch worth writing:
    /// the driver then lets the writers run before it reads more.
    pub(crate) fn take_writers_ready(&mut self) -> bool {
        self.router.take_writers_ready()
    }

    /// The subscribers the last flush left stalled: the driver pauses for them (bounded)
    /// before it reads more.
    pub(crate) fn take_stalled(&mut self) -> Vec<Arc<Outbound>> {
        self.router.take_stalled()
    }

    /// Whether this publisher may still be paused in the current read (its stall budget is
    /// not used up); when not, it is not asked to pause again until the next read.
    pub(crate) fn allow_pause(&mut self, allow: bool) {
        self.router.set_flow(flow(&self.settings.config, allow));
    }

    /// The connection is over: its subscriptions leave the account.
    pub(crate) fn close(&mut self) {
        self.subs.remove_all(&self.account);
        self.account.leave(self.peer.cid);
    }

    /// Parses and handles the complete ops in `buf`, stopping early where the driver must act
    /// before the rest is handled (see [`Fed`]).
    pub(crate) fn feed(&mut self, buf: &mut BytesMut, now: Instant) -> Result<Fed, CloseReason> {
        loop {
            let parsed = self.parser.parse(buf);
            if self.trace
                && let Ok(Some(op)) = &parsed
            {
                self.trace_in(op);
            }
            match parsed {
                Ok(None) => return Ok(Fed::Done),
                Ok(Some(op)) => {
                    if let Some(request) = self.handle(op, now)? {
                        return Ok(Fed::Authenticate(Box::new(request)));
                    }
                    if self.router.take_pause() {
                        return Ok(Fed::Stalled);
                    }
                }
                Err(e) => {
                    tracing::error!(
                        "{} - cid:{} - Client parser ERROR: {e}",
                        self.peer.addr,
                        self.peer.cid
                    );
                    self.fail(ClientError::Protocol(e))?;
                    return Err(CloseReason::ProtocolViolation);
                }
            }
        }
    }

    /// Handles one parsed op.
    pub(crate) fn handle(
        &mut self,
        op: ClientOp,
        now: Instant,
    ) -> Result<Option<AuthRequest>, CloseReason> {
        if let ClientOp::Connect(json) = &op {
            return self.on_connect(json, now);
        }
        if !self.authenticated {
            self.authenticate_without_connect(now)?;
        }
        match op {
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => self.on_pub(&subject, reply.as_ref(), None, &payload, now)?,
            ClientOp::HPub {
                subject,
                reply,
                header_len,
                message,
            } => {
                if !self.opts.headers {
                    tracing::error!(
                        "{} - cid:{} - message headers not supported",
                        self.peer.addr,
                        self.peer.cid
                    );
                    self.fail(ClientError::HeadersNotSupported)?;
                    return Ok(None);
                }
                self.on_pub(&subject, reply.as_ref(), Some(header_len), &message, now)?;
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.on_sub(&subject, queue.as_deref(), &sid)?,
            ClientOp::Unsub { sid, max } => self.on_unsub(&sid, max),
            ClientOp::Ping => self.on_ping(),
            ClientOp::Pong => {
                self.timers.on_pong();
                if let Some(sent) = self.ping_sent.take() {
                    self.out.stats.set_rtt(now.saturating_duration_since(sent));
                }
            }
            ClientOp::Info | ClientOp::Ok | ClientOp::Connect(_) => {}
            ClientOp::Err(text) => {
                tracing::error!(
                    "{} - cid:{} - Client Error {}",
                    self.peer.addr,
                    self.peer.cid,
                    Quoted(&text)
                );
                self.fail(ClientError::ClientSentErr)?;
            }
        }
        Ok(None)
    }

    fn on_ping(&mut self) {
        self.reply(PONG);
        if self.connected && self.opts.protocol >= 1 && !self.sent_connect_info {
            self.sent_connect_info = true;
            let mut info =
                self.state
                    .client_info(&self.settings, self.peer.cid, self.peer.addr, true);
            info.remote_account = Some(self.account.name.clone());
            info.max_payload = self.max_payload;
            self.reply(&info.to_line());
        }
    }

    /// A timer fired (the driver calls this at [`Session::poll_timeout`]).
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), CloseReason> {
        let (addr, cid) = (self.peer.addr, self.peer.cid);
        match self.timers.handle_timeout(now) {
            TimerAction::Nothing => Ok(()),
            TimerAction::SendPing => {
                self.ping_sent = Some(now);
                self.reply(PING);
                Ok(())
            }
            TimerAction::Stale => {
                tracing::debug!("{addr} - cid:{cid} - Stale Client Connection - Closing");
                self.fail(ClientError::StaleConnection)
            }
            TimerAction::Expired => {
                tracing::info!("{addr} - cid:{cid} - User Authentication Expired");
                self.audit_expiry();
                self.fail(ClientError::UserAuthenticationExpired)
            }
            TimerAction::AuthTimeout => {
                tracing::error!("{addr} - cid:{cid} - Authentication Timeout");
                let timeout = self.settings.auth.auth_timeout();
                self.audit(|peer| {
                    crate::audit::Record::refused(peer, "none", "Authentication Timeout")
                        .took(Some(timeout))
                });
                self.fail(ClientError::AuthenticationTimeout)
            }
        }
    }

    fn on_pub(
        &mut self,
        subject: &Bytes,
        reply: Option<&Bytes>,
        header_len: Option<usize>,
        message: &Bytes,
        now: Instant,
    ) -> Result<(), CloseReason> {
        self.in_msgs += 1;
        self.in_bytes += message.len() as u64;
        if self.opts.pedantic && validate_literal_subject(subject).is_err() {
            self.fail(ClientError::InvalidPublishSubject)?;
        }
        // Message tracing: a header scan for HPUB only, so plain PUB pays nothing.
        let mut traced = false;
        if let Some(h) = header_len
            && let Some(scan) = msgtrace::scan(&message[..h.min(message.len())])
        {
            match self.start_trace(scan, subject, message.len()) {
                msgtrace::Start::Untraced => {}
                msgtrace::Start::Skip { denied: None } => return Ok(()),
                msgtrace::Start::Skip { denied: Some(dest) } => {
                    return self.publish_violation(dest.as_bytes());
                }
                msgtrace::Start::Traced(t) => {
                    self.router.begin_trace(t);
                    traced = true;
                }
            }
        }
        let result = self.publish(subject, reply, header_len, message, now);
        if traced {
            let config = &self.settings.config;
            let fields = msgtrace::ServerFields {
                name: config
                    .server_name
                    .as_deref()
                    .unwrap_or(&self.state.server_id),
                host: &config.host,
                id: &self.state.server_id,
            };
            self.router.finish_trace(&fields);
        }
        result
    }

    /// Whether (and how) a published message with headers is traced.
    fn start_trace(
        &mut self,
        scan: msgtrace::Scan,
        subject: &[u8],
        size: usize,
    ) -> msgtrace::Start {
        let who = msgtrace::Publisher {
            cid: self.peer.cid,
            name: self.out.name.get().map(|n| &**n),
            account: &self.account,
        };
        let perms = &self.permissions;
        let cache = &mut self.publish_cache;
        msgtrace::start(scan, who, subject, size, |dest| {
            !RESERVED_PUBLISH_PREFIXES
                .iter()
                .any(|p| dest.as_bytes().starts_with(p))
                && perms
                    .as_ref()
                    .is_none_or(|p| cache.may_publish(p, dest.as_bytes()))
        })
    }

    /// Maps, checks and routes one published message.
    fn publish(
        &mut self,
        subject: &Bytes,
        reply: Option<&Bytes>,
        header_len: Option<usize>,
        message: &Bytes,
        now: Instant,
    ) -> Result<(), CloseReason> {
        // Subject mappings come first: permissions and routing see the mapped subject.
        let mapped;
        let subject = match self.account.map_subject(subject) {
            Mapped::NoMatch => subject,
            Mapped::To(to) => {
                mapped = Bytes::from(to);
                if let Some(t) = self.router.tracer() {
                    t.mapped(&mapped);
                }
                &mapped
            }
            Mapped::Dropped => {
                if self.opts.verbose {
                    self.reply(OK);
                }
                return Ok(());
            }
        };
        if RESERVED_PUBLISH_PREFIXES
            .iter()
            .any(|p| subject.starts_with(p))
        {
            return self.publish_violation(subject);
        }
        if let Some(perms) = &self.permissions
            && !self.publish_cache.may_publish(perms, subject)
            && !self.out.replies.take(subject, now)
        {
            return self.publish_violation(subject);
        }
        if let Some(reply) = reply
            && RESERVED_REPLY_PREFIXES.iter().any(|p| reply.starts_with(p))
        {
            tracing::error!(
                "{} - cid:{} - Publish Violation - Reply {}",
                self.peer.addr,
                self.peer.cid,
                Quoted(reply)
            );
            let reply = String::from_utf8_lossy(reply).into_owned();
            let err = ClientError::PublishReplyViolation(reply);
            if let Some(t) = self.router.tracer()
                && let Some(text) = err.wire_text()
            {
                t.ingress_error(text);
            }
            return self.fail(err);
        }
        if self.opts.verbose {
            self.reply(OK);
        }
        let msg = Msg {
            subject,
            reply: reply.map(|r| &r[..]),
            header_len,
            body: message,
            shared: Some(message),
        };
        let mut delivered = self.router.route(&self.account, msg);
        // `$SYS.REQ.USER.INFO` is the system account's service in every account (nats-server
        // imports it into each): the answer needs who asked, which only this session knows.
        if let Some(reply) = reply
            && subject[..] == *crate::monitor::USER_INFO_SUBJECT.as_bytes()
        {
            delivered |= self.state.monitor.user_info_request(&self.out, reply);
        }
        if !delivered
            && self.opts.no_responders
            && let Some(reply) = reply
        {
            self.router.no_responders(&self.account, subject, reply);
        }
        Ok(())
    }

    fn publish_violation(&mut self, subject: &[u8]) -> Result<(), CloseReason> {
        tracing::error!(
            "{} - cid:{} - Publish Violation - User {}, Subject {}",
            self.peer.addr,
            self.peer.cid,
            Quoted(self.identity.as_bytes()),
            Quoted(subject)
        );
        let subject = String::from_utf8_lossy(subject).into_owned();
        let err = ClientError::PublishViolation(subject);
        if let Some(t) = self.router.tracer()
            && let Some(text) = err.wire_text()
        {
            t.ingress_error(text);
        }
        self.fail(err)
    }

    /// Queues bytes for this client, after whatever this batch already has for it.
    fn reply(&mut self, data: &[u8]) {
        if self.trace {
            tracing::trace!(
                "{} - cid:{} - {}",
                self.peer.addr,
                self.peer.cid,
                logfmt::outbound(data)
            );
        }
        self.router.own().extend_from_slice(data);
    }

    fn trace_in(&self, op: &ClientOp) {
        let (line, payload) = logfmt::inbound(op);
        tracing::trace!("{} - cid:{} - {line}", self.peer.addr, self.peer.cid);
        if let Some(payload) = payload {
            tracing::trace!("{} - cid:{} - {payload}", self.peer.addr, self.peer.cid);
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
}

/// The flow control a client publisher gets: nats-server's stall, unless the configuration
/// says `no_fast_producer_stall`; `pause` false while the current read's stall budget is spent.
pub(crate) fn flow(config: &rnats_config::ServerConfig, pause: bool) -> Flow {
    if config.no_fast_producer_stall {
        Flow::Drop
    } else if pause {
        Flow::Stall { pause_now: false }
    } else {
        // The budget is spent: deliver without pausing, as nats-server does past its
        // total; `max_pending` still bounds every subscriber.
        Flow::Off
    }
}

/// Whether the protocol trace is on (`trace`/`-V`) and trace lines are wanted by the logger:
/// read at connect and after each reload, so the hot path checks one bool.
fn wants_trace(config: &rnats_config::ServerConfig) -> bool {
    config.trace && tracing::enabled!(tracing::Level::TRACE)
}
