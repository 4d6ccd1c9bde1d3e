//! The tokio driver of a session: the writer task, the read loop, timers, reload and the
//! authenticator's slow path. Everything protocol is decided by the sans-IO [`Session`]; this
//! file only moves bytes and time in and out of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rnats_auth::AuthRequest;
use rnats_auth::callout::ClientDetails;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::admission::{Accepted, linger};
use crate::hashing::Refused;
use crate::outbound::{CloseReason, Outbound};
use crate::session::{AuthOutcome, Fed, Session};
use crate::state::{ServerState, Settings};

/// Fast-producer stalls, as nats-server: a publisher waits at most this long for one
/// subscriber (the longer one when the subscriber is already past `max_pending`), and at most
/// `STALL_TOTAL` per read, so no publisher ever waits without bound.
const STALL_MIN: Duration = Duration::from_millis(2);
const STALL_MAX: Duration = Duration::from_millis(5);
const STALL_TOTAL: Duration = Duration::from_millis(10);

/// Smallest read buffer; it doubles while reads fill it, up to `READ_BUF_MAX`.
const READ_BUF_MIN: usize = 512;
const READ_BUF_MAX: usize = 64 * 1024;

/// The connection after INFO (and the TLS handshake): a writer task and the read loop, until
/// either side ends it. `rd`/`wr` are any byte stream: TCP, TLS or a WebSocket adapter.
pub(crate) async fn run_connection<R, W>(conn: Accepted, mut rd: R, wr: W)
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Accepted {
        state,
        settings,
        peer,
    } = conn;
    let config = settings.config.clone();
    let (addr, cid) = (peer.addr, peer.cid);
    let out = Arc::new(Outbound::new(
        cid,
        addr,
        usize::try_from(config.max_pending).unwrap_or(usize::MAX),
        tokio_util::sync::CancellationToken::new(),
    ));
    out.set_vectored(wr.is_write_vectored());
    let writer = {
        let out = out.clone();
        let deadline = config.write_deadline;
        tokio::spawn(async move { out.run_writer(wr, deadline).await })
    };
    state.register(cid, out.clone());
    state.monitor.opened();
    let websocket = matches!(peer.transport, crate::websocket::Transport::Websocket(_));
    out.stats.describe(|m| {
        if websocket {
            m.kind = "websocket";
        }
        if let Some(tls) = &peer.tls_session {
            m.tls_version.clone_from(&tls.version);
            m.tls_cipher.clone_from(&tls.cipher);
        }
    });
    tracing::debug!("{addr} - cid:{cid} - Client connection created");
    let mut session = Session::new(state.clone(), settings, out.clone(), peer, Instant::now());
    let reason = drive(&mut session, &state, &out, &mut rd).await;
    let subs = session.sub_details();
    session.close();
    state.unregister(cid);
    let reason = out.close(reason);
    {
        use crate::monitor::events::{ClientEvent, EventKind};
        if reason == CloseReason::AuthenticationViolation {
            let event = ClientEvent::of(EventKind::AuthError, &out, reason.as_str());
            state.monitor.emit(event);
        } else if out.stats.meta().connected {
            let event = ClientEvent::of(EventKind::Disconnect, &out, reason.as_str());
            state.monitor.emit(event);
        }
    }
    let (closed, counts) = crate::monitor::closed_record(&out, reason, subs);
    state
        .monitor
        .closed(closed, counts, reason, config.max_closed_clients);
    let _ = writer.await;
    if reason != CloseReason::ClientClosed && reason != CloseReason::ReadError {
        linger(&mut rd).await;
    }
    tracing::debug!(
        "{addr} - cid:{cid} - Client connection closed: {}",
        reason.as_str()
    );
}

/// The read loop: input, timers, reloads and kills, each handed to the session.
async fn drive<R: AsyncRead + Unpin>(
    session: &mut Session,
    state: &Arc<ServerState>,
    out: &Outbound,
    rd: &mut R,
) -> CloseReason {
    let mut buf = BytesMut::with_capacity(READ_BUF_MIN);
    let mut target = READ_BUF_MIN;
    let mut alloc = ReadAlloc::default();
    let shutdown = state.shutdown.clone();
    let kill = out.kill.clone();
    let mut reload = state.reload_epoch.subscribe();
    reload.mark_unchanged();
    let sleep = tokio::time::sleep_until(session.poll_timeout().into());
    tokio::pin!(sleep);
    loop {
        if buf.capacity() - buf.len() < target / 2 {
            buf.reserve(target);
        }
        let deadline = tokio::time::Instant::from(session.poll_timeout());
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        let result = tokio::select! {
            biased;
            () = kill.cancelled() => {
                return out.close_reason().unwrap_or(CloseReason::WriteError);
            }
            () = shutdown.cancelled() => return CloseReason::ServerShutdown,
            Ok(()) = reload.changed() => reauthenticate(session, state).await,
            read = rd.read_buf(&mut buf) => {
                let n = match read {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(n) => n,
                    Err(_) => return CloseReason::ReadError,
                };
                state.idle_poll.activity();
                session.on_input(Instant::now());
                if n < READ_BUF_MIN {
                    session.release_idle_buffers();
                }
                let filled = buf.capacity() == buf.len();
                target = if filled {
                    (target * 2).min(READ_BUF_MAX)
                } else if n < target / 4 {
                    (target / 2).max(READ_BUF_MIN)
                } else {
                    target
                };
                session.set_read_buffer(alloc.size(&buf));
                let mut budget = STALL_TOTAL;
                session.allow_pause(true);
                let result = process(session, state, &mut buf, &mut budget).await;
                // Before reading more: pause for subscribers this batch left behind.
                session.flush();
                stall(session, &mut budget).await;
                // With one runtime worker the writers run only when this task yields, and a
                // publisher's socket may never run dry: let them write what this read gave them
                // while the publisher sends more, not all at once at the stall mark.
                if session.take_writers_ready() {
                    tokio::task::yield_now().await;
                }
                result
            }
            () = &mut sleep => session.handle_timeout(Instant::now()),
        };
        session.flush();
        if let Err(reason) = result {
            return reason;
        }
    }
}

/// The allocation the read buffer lies in, whose size a payload shared out of it keeps alive.
///
/// Its end never moves while ops are split off the front; a reservation that moves the
/// buffer (the loop's before a read, or the parser's for a large message, always at the end
/// of a feed) leaves the view at the start of a new allocation, and nothing is split off it
/// before the next read. So, checked after each read: a new end means a new allocation,
/// whose size is the view's capacity.
#[derive(Default)]
struct ReadAlloc {
    end: usize,
    size: usize,
}

impl ReadAlloc {
    fn size(&mut self, buf: &BytesMut) -> usize {
        let end = buf.as_ptr() as usize + buf.capacity();
        if end != self.end {
            self.end = end;
            self.size = buf.capacity();
        }
        self.size
    }
}

/// Handles every complete op in `buf`, pausing at a CONNECT that needs the authenticator
/// (only this connection waits while it runs), then handles the rest.
async fn process(
    session: &mut Session,
    state: &Arc<ServerState>,
    buf: &mut BytesMut,
    budget: &mut Duration,
) -> Result<(), CloseReason> {
    loop {
        match session.feed(buf, Instant::now())? {
            Fed::Done => return Ok(()),
            Fed::Authenticate(request) => {
                session.flush();
                let client = session.callout_details();
                let outcome =
                    authenticate(state, &session.settings(), *request, false, client).await;
                session.complete_connect(outcome, Instant::now())?;
            }
            Fed::Stalled => {
                session.flush();
                stall(session, budget).await;
            }
        }
    }
}

/// Fast-producer flow control: waits for the subscribers the last flush left stalled to
/// catch up, each at most `STALL_MIN` (`STALL_MAX` when already past `max_pending`), all
/// within `budget`; once it is spent, the session stops asking to pause until the next read.
async fn stall(session: &mut Session, budget: &mut Duration) {
    for target in session.take_stalled() {
        if budget.is_zero() {
            break;
        }
        if target.is_closed() {
            continue;
        }
        let limit = if target.is_full() {
            STALL_MAX
        } else {
            STALL_MIN
        }
        .min(*budget);
        let start = tokio::time::Instant::now();
        target.wait_drained(limit).await;
        *budget = budget.saturating_sub(start.elapsed());
    }
    if budget.is_zero() {
        session.allow_pause(false);
    }
}

/// After a reload: the session decides whether it must be re-checked, and how it ends.
async fn reauthenticate(
    session: &mut Session,
    state: &Arc<ServerState>,
) -> Result<(), CloseReason> {
    let settings = session.transport().settings(state.settings());
    let Some(request) = session.begin_reload(settings.clone())? else {
        return Ok(());
    };
    let client = session.callout_details();
    let outcome = authenticate(state, &settings, request, true, client).await;
    session.complete_reload(outcome, Instant::now())
}

/// Asks the authenticator, then, when `auth_callout` is configured and covers the answer, the
/// external service (awaited here, per connection: nothing else waits for it).
async fn authenticate(
    state: &Arc<ServerState>,
    settings: &Settings,
    request: AuthRequest,
    reload: bool,
    client: ClientDetails,
) -> AuthOutcome {
    let local = authenticate_locally(state, settings, request, reload).await;
    let policy = match (&settings.callout, &settings.jwt, &local) {
        (Some(policy), _, _) => policy.clone(),
        // Operator mode: a sentinel of an account with external authorization.
        (None, Some(jwt), AuthOutcome::Accepted(who, _)) => {
            match rnats_auth::CalloutPolicy::for_account(
                &jwt.accounts,
                &who.account,
                std::time::SystemTime::now(),
            ) {
                Some(policy) => Arc::new(policy),
                None => return local,
            }
        }
        _ => return local,
    };
    let mut client = client;
    if let AuthOutcome::Accepted(who, request) = &local
        && request.jwt.is_some()
    {
        client.jwt_user.clone_from(&who.identity);
    }
    let (result, request) = match local {
        AuthOutcome::Accepted(a, request) => (Ok(a), request),
        AuthOutcome::Refused(e, request) => (Err(e), request),
        // The authenticator failed, or hashing was too busy: refused without the service.
        other => return other,
    };
    let result =
        crate::callout::complete(state, settings, &policy, result, &request, client, reload).await;
    AuthOutcome::of(result, request)
}

/// Asks the authenticator: inline when the answer is cheap (signatures, plain comparisons, a
/// recently verified hash), on the hashing gate's workers when bcrypt or argon2 must run.
/// `reload`: a re-check of a connection that is already in, which waits for a worker instead
/// of being refused when many logins wait.
async fn authenticate_locally(
    state: &ServerState,
    settings: &Settings,
    request: AuthRequest,
    reload: bool,
) -> AuthOutcome {
    let auth = settings.auth.clone();
    if !auth.may_block(&request) {
        let result = auth.authenticate(&request);
        return AuthOutcome::of(result, request);
    }
    let addr = request.client_addr.ip();
    let work = move || {
        let result = auth.authenticate(&request);
        AuthOutcome::of(result, request)
    };
    let hashed = if reload {
        state.hashing.run_waiting(work).await
    } else {
        state.hashing.run(addr, work).await
    };
    match hashed {
        Ok(outcome) => outcome,
        // The authenticator panicked: a refusal, never a success.
        Err(Refused::Failed) => AuthOutcome::Failed,
        Err(busy) => AuthOutcome::Busy(busy),
    }
}
