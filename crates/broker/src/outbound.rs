//! The outbound side of a connection: a bounded buffer that publishers append to and one writer
//! task drains.
//!
//! Fast-producer flow control, as nats-server's: when a client's pending bytes (queued and being
//! written) pass ¾ of `max_pending` it is *stalled*; a publisher that delivered to it pauses
//! briefly (bounded, see `driver.rs`) until the writer has caught up. A client that stops
//! reading still fills up: when the bytes queued for a client pass `max_pending`
//! the client is marked closed as a slow consumer and its data is dropped (nats-server closes such
//! a client without an `-ERR`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
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

/// Largest buffer a writer keeps for reuse after a flush.
const SPARE_KEEP: usize = 256 * 1024;

struct OutState {
    buf: BytesMut,
    /// Bytes the writer took and has not finished writing.
    in_flight: usize,
    /// Set once the connection is closing: nothing more is queued, the writer flushes and stops.
    closed: Option<CloseReason>,
    /// A publisher has already put this client on its wake-up list since the writer last ran.
    wake_queued: bool,
}

/// Per-client outbound queue, shared by every publisher that delivers to the client.
pub(crate) struct Outbound {
    pub(crate) cid: u64,
    /// The client's address, for log lines written on its behalf by others (the trace).
    pub(crate) peer: std::net::SocketAddr,
    /// Whether the client negotiated headers (HMSG); otherwise headers are stripped.
    pub(crate) headers: AtomicBool,
    max_pending: usize,
    /// ¾ of `max_pending`: past it the client is stalled.
    stall_at: usize,
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
    /// This client's subscriptions removed by their auto-unsubscribe count (by whichever
    /// connection delivered the last message).
    pub(crate) expired_subs: std::sync::atomic::AtomicU64,
    /// Mirrors `OutState::closed.is_some()` so publishers can skip a closed client without
    /// taking its lock.
    closed_flag: AtomicBool,
}

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
            max_pending,
            stall_at: max_pending / 4 * 3,
            pending: std::sync::atomic::AtomicUsize::new(0),
            stalled: AtomicBool::new(false),
            drained: Notify::new(),
            state: Mutex::new(OutState {
                buf: BytesMut::new(),
                in_flight: 0,
                closed: None,
                wake_queued: false,
            }),
            notify: Notify::new(),
            kill,
            replies: ReplyGrants::default(),
            expired_subs: std::sync::atomic::AtomicU64::new(0),
            closed_flag: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        // A panic while holding this lock cannot leave the buffer half-written in a way that
        // matters more than losing the connection, so a poisoned lock is simply taken over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends with `write` under the lock. Enforces `max_pending`: past it the client is closed
    /// as a slow consumer and the data is dropped.
    pub(crate) fn append(&self, write: impl FnOnce(&mut BytesMut)) -> Append {
        let mut st = self.lock();
        if st.closed.is_some() {
            return Append::Dropped;
        }
        write(&mut st.buf);
        self.after_append(st)
    }

    /// Hands a publisher's batch for this client over under one lock: when nothing is queued the
    /// buffers are swapped (no copy; `staged` gets the empty one back), otherwise appended.
    /// `staged` is empty afterwards either way.
    pub(crate) fn hand_over(&self, staged: &mut BytesMut) -> Append {
        let mut st = self.lock();
        if st.closed.is_some() {
            staged.clear();
            return Append::Dropped;
        }
        if st.buf.is_empty() {
            std::mem::swap(&mut st.buf, staged);
        } else {
            st.buf.extend_from_slice(staged);
        }
        staged.clear();
        self.after_append(st)
    }

    /// `max_pending`: past it the client is closed as a slow consumer and its data dropped.
    fn after_append(&self, mut st: std::sync::MutexGuard<'_, OutState>) -> Append {
        if st.buf.len() > self.max_pending {
            st.closed = Some(CloseReason::SlowConsumerPendingBytes);
            self.closed_flag.store(true, Ordering::Relaxed);
            st.buf.clear();
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
        let pending = st.buf.len() + st.in_flight;
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

    /// The writer finished writing what it took: recount, and release waiting publishers
    /// once the client is back under the stall mark.
    fn written(&self) {
        let mut st = self.lock();
        st.in_flight = 0;
        let pending = st.buf.len();
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
        if self.append(|b| b.extend_from_slice(data)) == Append::Wake {
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

    /// Bytes queued and not yet handed to the socket.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.lock().buf.len()
    }

    /// Empties the buffer as a writer would, without a socket; returns the bytes dropped.
    #[cfg(feature = "bench")]
    pub(crate) fn drain(&self) -> usize {
        let mut st = self.lock();
        st.wake_queued = false;
        let n = st.buf.len();
        st.buf.clear();
        n
    }

    /// Takes what is queued, as a writer would (tests read what a session sent this way).
    #[cfg(test)]
    pub(crate) fn take_pending(&self) -> BytesMut {
        let mut st = self.lock();
        st.wake_queued = false;
        std::mem::take(&mut st.buf)
    }

    /// The writer task: drains the buffer into `wr` until the connection is closed.
    pub(crate) async fn run_writer<W: AsyncWrite + Unpin>(
        &self,
        mut wr: W,
        write_deadline: Duration,
    ) {
        // Two buffers swap roles: publishers fill one while this task writes the other, so a
        // busy connection reuses the same two allocations instead of a new one per flush.
        let mut data = BytesMut::new();
        loop {
            self.notify.notified().await;
            loop {
                let closed = {
                    let mut st = self.lock();
                    st.wake_queued = false;
                    std::mem::swap(&mut st.buf, &mut data);
                    st.in_flight = data.len();
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
                match tokio::time::timeout(write_deadline, wr.write_all(&data)).await {
                    Ok(Ok(())) => {
                        data.clear();
                        // One short lock per socket write (not per message): keeps the
                        // pending count true for publishers and releases a stall.
                        self.written();
                        // A burst may have grown it; an idle connection keeps nothing large.
                        if data.capacity() > SPARE_KEEP {
                            data = BytesMut::new();
                        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: std::net::SocketAddr =
        std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

    #[test]
    fn slow_consumer_closes_and_drops() {
        let out = Outbound::new(1, PEER, 10, CancellationToken::new());
        assert_eq!(out.append(|b| b.extend_from_slice(b"12345")), Append::Wake);
        assert_eq!(
            out.append(|b| b.extend_from_slice(b"12345")),
            Append::Queued
        );
        assert_eq!(out.pending(), 10);
        assert_eq!(out.append(|b| b.extend_from_slice(b"1")), Append::Dropped);
        assert_eq!(
            out.close_reason(),
            Some(CloseReason::SlowConsumerPendingBytes)
        );
        assert!(out.kill.is_cancelled());
        assert_eq!(out.pending(), 0);
        assert_eq!(out.append(|b| b.extend_from_slice(b"x")), Append::Dropped);
        assert!(!out.headers.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn past_three_quarters_a_client_stalls_until_its_writer_catches_up() {
        let out = std::sync::Arc::new(Outbound::new(1, PEER, 100, CancellationToken::new()));
        out.append(|b| b.extend_from_slice(&[b'x'; 75]));
        assert!(!out.is_stalled(), "75 of 100 is not past three quarters");
        assert!(out.would_stall(1));
        out.append(|b| b.extend_from_slice(b"y"));
        assert!(out.is_stalled());
        // A waiter gives up after its limit while nothing is written...
        let started = tokio::time::Instant::now();
        out.wait_drained(Duration::from_millis(20)).await;
        assert!(started.elapsed() >= Duration::from_millis(20));
        // ...and is released as soon as the writer has written what it took.
        let waiter = {
            let out = out.clone();
            tokio::spawn(async move { out.wait_drained(Duration::from_secs(30)).await })
        };
        let (client, server) = tokio::io::duplex(1024);
        let writer = {
            let out = out.clone();
            tokio::spawn(async move { out.run_writer(server, Duration::from_secs(5)).await })
        };
        out.wake();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .unwrap();
        assert!(!out.is_stalled());
        out.close(CloseReason::ClientClosed);
        writer.await.unwrap();
        drop(client);
    }

    #[test]
    fn first_close_reason_stands() {
        let out = Outbound::new(1, PEER, 10, CancellationToken::new());
        assert_eq!(
            out.close(CloseReason::StaleConnection),
            CloseReason::StaleConnection
        );
        assert_eq!(
            out.close(CloseReason::ClientClosed),
            CloseReason::StaleConnection
        );
        assert!(out.close_reason().is_some());
    }

    #[tokio::test]
    async fn writer_flushes_then_shuts_down() {
        let out = std::sync::Arc::new(Outbound::new(1, PEER, 1 << 20, CancellationToken::new()));
        let (client, server) = tokio::io::duplex(1024);
        let w = out.clone();
        let task = tokio::spawn(async move { w.run_writer(server, Duration::from_secs(5)).await });
        out.send_now(b"PING\r\n");
        out.send_now(b"PONG\r\n");
        out.close(CloseReason::ClientClosed);
        task.await.unwrap();
        let mut got = Vec::new();
        let mut client = client;
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"PING\r\nPONG\r\n");
    }
}
