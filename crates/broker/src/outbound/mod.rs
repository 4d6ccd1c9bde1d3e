//! The outbound side of a connection: a bounded queue of chunks that publishers append to and
//! one writer task drains with vectored writes. A chunk is either the queue's own bytes or a
//! payload shared with other subscribers (a slice of the publisher's read buffer, see
//! `router.rs`), written from where it lies.
//!
//! Fast-producer flow control, as nats-server's: when a client's pending bytes (queued and being
//! written) pass ¾ of `max_pending` (or 4 MiB, whichever is less: see `STALL_CAP`) it is
//! *stalled*; a publisher that delivered to it pauses briefly (bounded, see `driver.rs`) until
//! the writer has caught up. A client that stops
//! reading still fills up: when the bytes queued for a client pass `max_pending`
//! the client is marked closed as a slow consumer and its data is dropped (nats-server closes such
//! a client without an `-ERR`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::responses::ReplyGrants;

/// Why a connection is being closed; names follow nats-server's closed states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    ClientClosed,
    ProtocolViolation,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    StaleConnection,
    MaxConnectionsExceeded,
    MaxAccountConnectionsExceeded,
    CredentialsRevoked,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    AuthenticationViolation,
    AuthenticationExpired,
    BadClientProtocolVersion,
    NoRespondersRequiresHeaders,
    ReadError,
    WriteError,
    ServerShutdown,
}

impl CloseReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ClientClosed => "Client Closed",
            Self::ProtocolViolation => "Protocol Violation",
            Self::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            Self::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            Self::StaleConnection => "Stale Connection",
            Self::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            Self::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
            Self::CredentialsRevoked => "Credentials Revoked",
            Self::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            Self::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            Self::AuthenticationViolation => "Authentication Failure",
            Self::AuthenticationExpired => "Authentication Expired",
            Self::BadClientProtocolVersion => "Bad Client Protocol Version",
            Self::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            Self::ReadError => "Read Error",
            Self::WriteError => "Write Error",
            Self::ServerShutdown => "Server Shutdown",
        }
    }
}

/// Largest chunk kept for reuse after a flush; how many bytes of spares a busy client keeps
/// (about what a writer round frees, so chunks circulate instead of being freed and
/// allocated again), and how many spares stay once its writer has caught up.
const SPARE_KEEP: usize = 256 * 1024;
const SPARE_BYTES: usize = WRITE_BATCH + SPARE_KEEP;
const IDLE_SPARES: usize = 2;
/// A hand-over smaller than this is copied onto the last queued chunk (while that is smaller
/// than `COALESCE_INTO`); a larger one is queued as a chunk of its own, without a copy.
const COALESCE_MAX: usize = 16 * 1024;
const COALESCE_INTO: usize = 64 * 1024;
/// Slices passed to one vectored write (Linux's `IOV_MAX`: with shared payloads of 1 KiB, each
/// after its `MSG` line, one call still writes 512 KiB).
const WRITE_SLICES: usize = 1024;
/// Slices taken for one round of writes, at most.
const ROUND_SLICES: usize = 4 * WRITE_SLICES;
/// Spare chunks kept at most.
const SPARE_COUNT: usize = 64;
/// Publishers pause for a client at ¾ of its `max_pending` (nats-server's mark) or at this many
/// pending bytes, whichever comes first. nats-server's mark alone lets 48 MiB queue up for
/// each subscriber under a saturating publisher (at the default 64 MiB), and every message
/// then waits behind all of it: with the server on one core, capping the mark cut p99 latency
/// under saturation from 67–157 ms to 6–27 ms at 1 KiB, and raised throughput (the writer has
/// less to copy and the allocator less to keep). 4 MiB is still enough for a writer to take
/// 1 MiB rounds without the socket running dry.
const STALL_CAP: usize = 4 * 1024 * 1024;
/// The writer takes about this many bytes per round, so what it has written is counted (and
/// a stalled publisher released) as it goes, not only after a whole backlog.
const WRITE_BATCH: usize = 1024 * 1024;

/// The queue is a list of chunks, not one growing buffer: a publisher's staging buffer joins
/// it whole (a large batch is never copied again), nothing already queued is ever moved by a
/// reallocation, and the writer takes about `WRITE_BATCH` bytes of them into each vectored
/// write. Emptied chunks come
/// back as `spare` for the next hand-over, so a busy client circulates the same allocations.
struct OutState {
    chunks: VecDeque<Chunk>,
    /// Bytes in `chunks`.
    queued: usize,
    /// Emptied chunks the writer gave back, and their capacity.
    spare: Vec<BytesMut>,
    spare_bytes: usize,
    /// Bytes the writer took and has not finished writing.
    in_flight: usize,
    /// Set once the connection is closing: nothing more is queued, the writer flushes and stops.
    closed: Option<CloseReason>,
    /// A publisher has already put this client on its wake-up list since the writer last ran.
    wake_queued: bool,
}

impl OutState {
    fn take_spare(&mut self) -> BytesMut {
        let chunk = self.spare.pop().unwrap_or_default();
        self.spare_bytes -= chunk.capacity();
        chunk
    }

    /// Keeps an emptied chunk for the next hand-overs, within the spare budget.
    fn keep_spare(&mut self, mut chunk: BytesMut) {
        let capacity = chunk.capacity();
        if capacity <= SPARE_KEEP
            && self.spare_bytes + capacity <= SPARE_BYTES
            && self.spare.len() < SPARE_COUNT
        {
            chunk.clear();
            self.spare_bytes += capacity;
            self.spare.push(chunk);
        }
    }

    /// The writer caught up: a quiet client keeps only a couple of spares.
    fn trim_spares(&mut self) {
        let extra = self.spare.len().saturating_sub(IDLE_SPARES);
        let freed: usize = self.spare.drain(..extra).map(|c| c.capacity()).sum();
        self.spare_bytes -= freed;
    }
}

/// Per-client outbound queue, shared by every publisher that delivers to the client.
pub(crate) struct Outbound {
    pub(crate) cid: u64,
    /// The client's address, for log lines written on its behalf by others (the trace).
    pub(crate) peer: std::net::SocketAddr,
    /// Whether the client negotiated headers (HMSG); otherwise headers are stripped.
    pub(crate) headers: AtomicBool,
    /// The client's CONNECT `name`, for message-trace egress events (set once, at CONNECT).
    pub(crate) name: std::sync::OnceLock<Box<str>>,
    /// A client inside the server (`system.rs`): message traces report no egress for it.
    pub(crate) internal: AtomicBool,
    max_pending: usize,
    /// Past this many pending bytes the client is stalled: ¾ of `max_pending`, at most
    /// `STALL_CAP`.
    stall_at: usize,
    /// ¾ of `max_pending`: past it a publisher with `no_fast_producer_stall` skips the client.
    drop_at: usize,
    /// Queued plus in-flight bytes, readable without the lock (publishers check it per
    /// delivery to pause before they overrun a stalled client).
    pending: std::sync::atomic::AtomicUsize,
    /// Pending bytes passed `stall_at` and the writer has not caught up yet.
    stalled: AtomicBool,
    /// Woken (all waiters) when a stalled client caught up or closed.
    drained: Notify,
    state: Mutex<OutState>,
    notify: Notify,
    /// Cancelled when the connection must stop reading (slow consumer, write failure, kill).
    pub(crate) kill: CancellationToken,
    /// Reply subjects this client may publish to under `allow_responses`.
    pub(crate) replies: ReplyGrants,
    /// The user, account and permissions the connection is bound to (for the explain
    /// request); set on every login and re-check.
    pub(crate) bound: crate::explain::BoundSlot,
    /// This client's subscriptions removed by their auto-unsubscribe count (by whichever
    /// connection delivered the last message).
    pub(crate) expired_subs: std::sync::atomic::AtomicU64,
    /// Counters and description for monitoring.
    pub(crate) stats: crate::monitor::ConnStats,
    /// The writer takes many chunks per call (TCP and TLS; not WebSocket), so payloads may be
    /// queued shared instead of copied.
    vectored: AtomicBool,
    /// Mirrors `OutState::closed.is_some()` so publishers can skip a closed client without
    /// taking its lock.
    closed_flag: AtomicBool,
    /// When this client last got a hand-over, in the order of all hand-overs (tests check the
    /// order in which a batch reaches its targets).
    #[cfg(test)]
    pub(crate) handed_at: std::sync::atomic::AtomicU64,
}

/// Counts hand-overs, for `Outbound::handed_at`.
#[cfg(test)]
static HAND_OVERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What happened to an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Append {
    /// Appended; the caller must wake the writer after its batch.
    Wake,
    /// Appended; somebody else will wake the writer.
    Queued,
    /// Not appended: the client is closed (or was just closed as a slow consumer).
    Dropped,
}

impl Outbound {
    pub(crate) fn new(
        cid: u64,
        peer: std::net::SocketAddr,
        max_pending: usize,
        kill: CancellationToken,
    ) -> Self {
        Self {
            cid,
            peer,
            headers: AtomicBool::new(false),
            name: std::sync::OnceLock::new(),
            internal: AtomicBool::new(false),
            max_pending,
            stall_at: (max_pending / 4 * 3).min(STALL_CAP),
            drop_at: max_pending / 4 * 3,
            pending: std::sync::atomic::AtomicUsize::new(0),
            stalled: AtomicBool::new(false),
            drained: Notify::new(),
            state: Mutex::new(OutState {
                chunks: VecDeque::new(),
                queued: 0,
                spare: Vec::new(),
                spare_bytes: 0,
                in_flight: 0,
                closed: None,
                wake_queued: false,
            }),
            notify: Notify::new(),
            kill,
            replies: ReplyGrants::default(),
            bound: Mutex::new(None),
            expired_subs: std::sync::atomic::AtomicU64::new(0),
            vectored: AtomicBool::new(false),
            closed_flag: AtomicBool::new(false),
            stats: crate::monitor::ConnStats::default(),
            #[cfg(test)]
            handed_at: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        // A panic while holding this lock cannot leave the buffer half-written in a way that
        // matters more than losing the connection, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue's lock for a hand-over, or `None` (and `staged` emptied) when the client is
    /// closed.
    fn lock_open(&self, staged: &mut BytesMut) -> Option<std::sync::MutexGuard<'_, OutState>> {
        #[cfg(test)]
        self.handed_at.store(
            HAND_OVERS.fetch_add(1, Ordering::Relaxed) + 1,
            Ordering::Relaxed,
        );
        let st = self.lock();
        if st.closed.is_some() {
            staged.clear();
            return None;
        }
        Some(st)
    }

    /// Hands a publisher's batch for this client over under one lock: a small batch is copied
    /// onto the last queued chunk, anything else joins the queue as it is (no copy) and
    /// `staged` gets a spare chunk back. `staged` is empty afterwards either way.
    pub(crate) fn hand_over(&self, staged: &mut BytesMut) -> Append {
        let Some(mut st) = self.lock_open(staged) else {
            return Append::Dropped;
        };
        let n = staged.len();
        match st.chunks.back_mut() {
            Some(Chunk::Own(last)) if n < COALESCE_MAX && last.len() < COALESCE_INTO => {
                last.extend_from_slice(staged);
                staged.clear();
            }
            _ => {
                let fresh = st.take_spare();
                st.chunks
                    .push_back(Chunk::Own(std::mem::replace(staged, fresh)));
            }
        }
        st.queued += n;
        self.after_append(st)
    }

    /// Hands over a batch whose payloads are shared (each goes at its offset in `lines`),
    /// under one lock, as [`Outbound::hand_over`]: `lines` joins the queue and gets a spare
    /// chunk back. Every byte counts towards `max_pending` and the stall mark as a copied byte
    /// would; the publisher shares payloads only when the buffer they keep alive is at most
    /// about twice their size (see `router.rs`), so what a slow client holds in memory stays
    /// within about twice its count.
    pub(crate) fn hand_over_shared(
        &self,
        lines: &mut BytesMut,
        payloads: Vec<(usize, Bytes)>,
        shared_bytes: usize,
    ) -> Append {
        let Some(mut st) = self.lock_open(lines) else {
            return Append::Dropped;
        };
        let len = lines.len() + shared_bytes;
        let fresh = st.take_spare();
        st.chunks.push_back(Chunk::Mixed {
            lines: std::mem::replace(lines, fresh),
            payloads,
            len,
        });
        st.queued += len;
        self.after_append(st)
    }

    /// Whether payloads may be queued for this client shared rather than copied.
    pub(crate) fn shares(&self) -> bool {
        self.vectored.load(Ordering::Relaxed)
    }

    /// Says whether this client's writer takes many chunks per call.
    pub(crate) fn set_vectored(&self, vectored: bool) {
        self.vectored.store(vectored, Ordering::Relaxed);
    }

    /// `max_pending`: past it the client is closed as a slow consumer and its data dropped.
    fn after_append(&self, mut st: std::sync::MutexGuard<'_, OutState>) -> Append {
        if st.queued > self.max_pending {
            st.closed = Some(CloseReason::SlowConsumerPendingBytes);
            self.closed_flag.store(true, Ordering::Relaxed);
            st.chunks.clear();
            st.queued = 0;
            drop(st);
            self.release_stall();
            tracing::info!(
                cid = self.cid,
                "Slow Consumer Detected: MaxPending of {} Exceeded",
                self.max_pending
            );
            self.kill.cancel();
            self.notify.notify_one();
            return Append::Dropped;
        }
        let pending = st.queued + st.in_flight;
        self.pending.store(pending, Ordering::Relaxed);
        if pending > self.stall_at && !self.stalled.load(Ordering::Relaxed) {
            self.stalled.store(true, Ordering::Release);
        }
        if st.wake_queued {
            Append::Queued
        } else {
            st.wake_queued = true;
            Append::Wake
        }
    }

    /// Whether publishers should pause for this client (its pending bytes passed ¾ of
    /// `max_pending` and the writer has not caught up).
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }

    /// Whether a publisher that never pauses (`no_fast_producer_stall`) should skip this
    /// client: past ¾ of its `max_pending`, where nats-server drops such messages.
    pub(crate) fn past_drop_mark(&self) -> bool {
        self.pending.load(Ordering::Relaxed) > self.drop_at
    }

    /// Whether `more` bytes on top of what is pending would stall this client.
    pub(crate) fn would_stall(&self, more: usize) -> bool {
        self.pending.load(Ordering::Relaxed) + more > self.stall_at
    }

    /// Whether the client is past `max_pending` itself (a publisher waits longer for it).
    pub(crate) fn is_full(&self) -> bool {
        self.pending.load(Ordering::Relaxed) >= self.max_pending
    }

    /// Waits until this client is no longer stalled, or `limit` passes. Returns at once when
    /// it is not stalled.
    pub(crate) async fn wait_drained(&self, limit: Duration) {
        let drained = self.drained.notified();
        tokio::pin!(drained);
        drained.as_mut().enable();
        if !self.is_stalled() {
            return;
        }
        let _ = tokio::time::timeout(limit, drained).await;
    }

    /// Lets every publisher waiting on this client go.
    fn release_stall(&self) {
        if self.stalled.swap(false, Ordering::AcqRel) {
            self.drained.notify_waiters();
        }
    }

    /// The writer finished writing what it took: keep some of the emptied chunks for the next
    /// hand-overs, recount, and release waiting publishers once the client is back under the
    /// stall mark.
    fn written(&self, done: &mut Vec<Chunk>) {
        let mut st = self.lock();
        for chunk in done.drain(..) {
            st.keep_spare(chunk.into_own());
        }
        if st.chunks.is_empty() {
            st.trim_spares();
        }
        st.in_flight = 0;
        let pending = st.queued;
        self.pending.store(pending, Ordering::Relaxed);
        drop(st);
        if pending <= self.stall_at {
            self.release_stall();
        }
    }

    /// Whether the connection is closing (a cheap, possibly slightly late, check).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed_flag.load(Ordering::Relaxed)
    }

    /// Appends bytes from the connection's own task and wakes the writer at once.
    pub(crate) fn send_now(&self, data: &[u8]) {
        if self.hand_over(&mut BytesMut::from(data)) == Append::Wake {
            self.wake();
        }
    }

    /// Wakes the writer.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// Marks the connection closed: the writer flushes what is queued, then shuts the socket.
    /// Returns the reason that stands (the first one given).
    pub(crate) fn close(&self, reason: CloseReason) -> CloseReason {
        let mut st = self.lock();
        let reason = *st.closed.get_or_insert(reason);
        self.closed_flag.store(true, Ordering::Relaxed);
        drop(st);
        self.release_stall();
        self.notify.notify_one();
        reason
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.lock().closed
    }

    /// Bytes queued and being written (monitoring's `pending_bytes`).
    pub(crate) fn pending_bytes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Bytes queued and not yet handed to the socket.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.lock().queued
    }

    /// Empties the buffer as a writer would, without a socket; returns the bytes dropped.
    #[cfg(feature = "bench")]
    pub(crate) fn drain(&self) -> usize {
        let mut st = self.lock();
        st.wake_queued = false;
        let n = st.queued;
        st.queued = 0;
        let chunks = std::mem::take(&mut st.chunks);
        for chunk in chunks {
            st.keep_spare(chunk.into_own());
        }
        n
    }

    /// How many queued chunks hold shared payloads.
    #[cfg(test)]
    pub(crate) fn shared_chunks(&self) -> usize {
        let st = self.lock();
        st.chunks
            .iter()
            .filter(|c| matches!(c, Chunk::Mixed { .. }))
            .count()
    }

    /// Takes what is queued, as a writer would (tests read what a session sent this way).
    #[cfg(test)]
    pub(crate) fn take_pending(&self) -> BytesMut {
        let mut st = self.lock();
        st.wake_queued = false;
        st.queued = 0;
        let mut all = BytesMut::new();
        let mut slices = Vec::new();
        for chunk in &st.chunks {
            chunk.push_slices(&mut slices);
        }
        for slice in &slices {
            all.extend_from_slice(slice);
        }
        drop(slices);
        st.chunks.clear();
        all
    }

    /// The writer task: drains the buffer into `wr` until the connection is closed.
    pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
        &self,
        mut wr: W,
        write_deadline: Duration,
    ) {
        // Takes the queued chunks about `WRITE_BATCH` bytes at a time and writes them with
        // vectored writes; the emptied chunks go back to the queue's spares.
        let mut data: Vec<Chunk> = Vec::new();
        loop {
            self.notify.notified().await;
            loop {
                let closed = {
                    let mut st = self.lock();
                    st.wake_queued = false;
                    let (mut taken, mut slices) = (0, 0);
                    while taken < WRITE_BATCH
                        && slices < ROUND_SLICES
                        && let Some(chunk) = st.chunks.pop_front()
                    {
                        taken += chunk.len();
                        slices += chunk.slices();
                        data.push(chunk);
                    }
                    st.queued -= taken;
                    st.in_flight = taken;
                    st.closed
                };
                if data.is_empty() {
                    if closed.is_some() {
                        let _ = tokio::time::timeout(write_deadline, wr.shutdown()).await;
                        self.kill.cancel();
                        return;
                    }
                    break;
                }
                match tokio::time::timeout(write_deadline, write_chunks(&mut wr, &data)).await {
                    Ok(Ok(())) => {
                        // One short lock per socket write (not per message): keeps the
                        // pending count true for publishers and releases a stall.
                        self.written(&mut data);
                    }
                    Ok(Err(_)) => {
                        self.close(CloseReason::WriteError);
                        self.kill.cancel();
                        return;
                    }
                    Err(_) => {
                        tracing::info!(
                            cid = self.cid,
                            "Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                            write_deadline
                        );
                        self.close(CloseReason::SlowConsumerWriteDeadline);
                        self.kill.cancel();
                        return;
                    }
                }
            }
        }
    }
}

mod chunk;
#[cfg(test)]
mod tests;

use chunk::{Chunk, write_chunks};
