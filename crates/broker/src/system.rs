//! System-account services: clients inside the server.
//!
//! An [`InternalClient`] subscribes, publishes and makes requests in one account exactly as a
//! connected client would, through the same router and the same subscription index, so account
//! isolation, exports and imports apply to it unchanged. It has no socket: what is delivered to
//! it lands in an ordinary outbound buffer (so slow-consumer bounds apply too), and its "writer"
//! decodes those bytes into [`Message`]s for the subscription they belong to. Operator-mode
//! claim updates, auth callout and `$SYS` events are built on it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rnats_protocol::{Limits, ServerOp, ServerParser};
use rnats_sublist::validate_subject;
use tokio::sync::{mpsc, oneshot};

use crate::account::{Account, Subscription};
use crate::outbound::{CloseReason, Outbound};
use crate::router::{Msg, Router};
use crate::state::ServerState;

/// Messages an internal subscription holds before new ones are dropped (and counted).
const SUBSCRIPTION_QUEUE: usize = 8192;
/// Requests one internal client may have waiting for a reply at once.
const MAX_PENDING_REQUESTS: usize = 65_536;
/// Bytes queued for an internal client before it is a slow consumer.
const INTERNAL_MAX_PENDING: usize = 64 * 1024 * 1024;

/// A message received by an internal subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published to (as seen in this account).
    pub subject: Bytes,
    /// Where to send a reply, if anywhere.
    pub reply: Option<Bytes>,
    /// The header block (`NATS/1.0…\r\n\r\n`) of an HPUB, if any.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

/// Why an internal client could not do something.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalError {
    /// The subject (or queue) is not a valid NATS subject.
    #[error("invalid subject")]
    InvalidSubject,
    /// Nobody answered within the timeout.
    #[error("request timed out")]
    Timeout,
    /// Nobody subscribes to the request's subject.
    #[error("no responders")]
    NoResponders,
    /// Too many requests are waiting for replies.
    #[error("too many pending requests")]
    TooManyRequests,
    /// The client was closed (server shutdown, or it fell behind as a slow consumer).
    #[error("internal client closed")]
    Closed,
}

/// An internal subscription's index entry and where its messages go.
type Route = (Arc<Subscription>, mpsc::Sender<Message>);

/// A client inside the server, bound to one account. Cheap to clone; closed when the last
/// clone is dropped or the server shuts down.
#[derive(Clone)]
pub struct InternalClient {
    inner: Arc<Inner>,
}

struct Inner {
    account: Arc<Account>,
    out: Arc<Outbound>,
    router: Mutex<Router>,
    /// Subscriptions by sid: the index entry and where its messages go.
    subs: Mutex<HashMap<u64, Route>>,
    next_sid: AtomicU64,
    /// This client's reply subjects are `<inbox>.<n>`; one wildcard subscription takes them all,
    /// made on the first request (a client that only answers adds no subscription of its own
    /// to its account's counts).
    inbox: String,
    inbox_subscribed: Mutex<bool>,
    requests: Mutex<HashMap<u64, oneshot::Sender<Message>>>,
    next_request: AtomicU64,
}

/// Messages of one internal subscription, in order. Unsubscribes when dropped.
pub struct InternalSubscription {
    client: InternalClient,
    sid: u64,
    rx: mpsc::Receiver<Message>,
}

impl InternalSubscription {
    /// The next message; `None` once the client is closed.
    pub async fn next(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// Hands every message, made into a `T` by `wrap`, to `tx` from a task of its own, until
    /// `shutdown`, the client closes or `tx`'s receiver is gone (a full `tx` waits: the
    /// subscription's own bounded queue then absorbs, or drops, what comes meanwhile).
    pub(crate) fn forward<T: Send + 'static>(
        mut self,
        tx: mpsc::Sender<T>,
        shutdown: tokio_util::sync::CancellationToken,
        wrap: impl Fn(Message) -> T + Send + 'static,
    ) {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    msg = self.next() => match msg {
                        Some(msg) => {
                            if tx.send(wrap(msg)).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    },
                }
            }
        });
    }
}

impl Drop for InternalSubscription {
    fn drop(&mut self) {
        self.client.unsubscribe(self.sid);
    }
}

impl InternalClient {
    /// A client in `account` of the server behind `state`. Must be called inside a tokio
    /// runtime: its delivery task is spawned on it.
    pub(crate) fn new(state: &Arc<ServerState>, account: &str) -> Self {
        let cid = state.next_cid.fetch_add(1, Ordering::Relaxed);
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let out = Arc::new(Outbound::new(
            cid,
            addr,
            INTERNAL_MAX_PENDING,
            state.shutdown.child_token(),
        ));
        out.headers.store(true, Ordering::Relaxed);
        out.internal.store(true, Ordering::Relaxed);
        let inbox = format!("_INBOX.{}", crate::admission::new_nonce());
        let inner = Arc::new(Inner {
            account: state.account(account),
            out: out.clone(),
            router: Mutex::new(Router::new(cid)),
            subs: Mutex::new(HashMap::new()),
            next_sid: AtomicU64::new(1),
            inbox,
            inbox_subscribed: Mutex::new(false),
            requests: Mutex::new(HashMap::new()),
            next_request: AtomicU64::new(1),
        });
        let decoder = Decoder {
            inner: Arc::downgrade(&inner),
            parser: ServerParser::new(Limits {
                max_control_line: usize::MAX,
                max_payload: usize::MAX,
            }),
            buf: BytesMut::new(),
        };
        let writer = out;
        tokio::spawn(async move { writer.run_writer(decoder, Duration::from_secs(5)).await });
        {
            // Shutdown closes internal clients with the server's connections.
            let out = inner.out.clone();
            tokio::spawn(async move {
                out.kill.cancelled().await;
                out.close(CloseReason::ServerShutdown);
            });
        }
        Self { inner }
    }

    /// Subscribes the inbox, once. The subscription lives as long as the client; its messages
    /// complete requests.
    fn subscribe_inbox(&self) -> Result<(), InternalError> {
        let mut done = lock(&self.inner.inbox_subscribed);
        if !*done {
            let inbox_all = format!("{}.*", self.inner.inbox);
            let sid = self.inner.next_sid.fetch_add(1, Ordering::Relaxed);
            let (tx, _rx) = mpsc::channel(1);
            self.insert(sid, inbox_all.as_bytes(), None, tx)?;
            *done = true;
        }
        Ok(())
    }

    /// Whether the client was closed (server shutdown, or it fell behind as a slow consumer).
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.out.is_closed()
    }

    /// The account this client lives in.
    pub fn account(&self) -> &str {
        &self.inner.account.name
    }

    /// Subscribes to `subject` (wildcards allowed), in queue group `queue` if given.
    pub fn subscribe(
        &self,
        subject: &str,
        queue: Option<&str>,
    ) -> Result<InternalSubscription, InternalError> {
        let sid = self.inner.next_sid.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(SUBSCRIPTION_QUEUE);
        self.insert(sid, subject.as_bytes(), queue.map(str::as_bytes), tx)?;
        Ok(InternalSubscription {
            client: self.clone(),
            sid,
            rx,
        })
    }

    fn insert(
        &self,
        sid: u64,
        subject: &[u8],
        queue: Option<&[u8]>,
        tx: mpsc::Sender<Message>,
    ) -> Result<(), InternalError> {
        if self.inner.out.is_closed() {
            return Err(InternalError::Closed);
        }
        if queue.is_some_and(|q| q.is_empty() || q.iter().any(u8::is_ascii_whitespace)) {
            return Err(InternalError::InvalidSubject);
        }
        validate_subject(subject).map_err(|_| InternalError::InvalidSubject)?;
        let sub = Arc::new(Subscription {
            client: self.inner.out.clone(),
            subject: Bytes::copy_from_slice(subject),
            queue: queue.map(Bytes::copy_from_slice),
            sid: Bytes::from(sid.to_string()),
            deliver_filter: None,
            max: 0.into(),
            delivered: 0.into(),
            closed: false.into(),
        });
        self.inner
            .account
            .insert(&sub)
            .map_err(|_| InternalError::InvalidSubject)?;
        lock(&self.inner.subs).insert(sid, (sub, tx));
        Ok(())
    }

    fn unsubscribe(&self, sid: u64) {
        if let Some((sub, _)) = lock(&self.inner.subs).remove(&sid) {
            self.inner.account.remove(&sub);
        }
    }

    /// Publishes in this client's account. Returns whether any subscriber got it.
    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Result<bool, InternalError> {
        if self.inner.out.is_closed() {
            return Err(InternalError::Closed);
        }
        if rnats_sublist::validate_literal_subject(subject.as_bytes()).is_err()
            || reply.is_some_and(|r| rnats_sublist::validate_literal_subject(r.as_bytes()).is_err())
        {
            return Err(InternalError::InvalidSubject);
        }
        let mut body = Vec::new();
        let (header_len, body) = match headers {
            Some(h) => {
                body.reserve(h.len() + payload.len());
                body.extend_from_slice(h);
                body.extend_from_slice(payload);
                (Some(h.len()), &body[..])
            }
            None => (None, payload),
        };
        let msg = Msg {
            subject: subject.as_bytes(),
            reply: reply.map(str::as_bytes),
            header_len,
            body,
            shared: None,
        };
        let mut router = lock(&self.inner.router);
        let delivered = router.route(&self.inner.account, msg);
        router.flush(&self.inner.out);
        Ok(delivered)
    }

    /// Publishes a request with a reply subject of this client's inbox and waits for the first
    /// reply.
    pub async fn request(
        &self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Message, InternalError> {
        self.request_with_headers(subject, None, payload, timeout)
            .await
    }

    /// [`request`](Self::request) with a header block (`NATS/1.0\r\n…\r\n\r\n`): sent as
    /// HMSG.
    pub async fn request_with_headers(
        &self,
        subject: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Message, InternalError> {
        self.subscribe_inbox()?;
        let id = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut requests = lock(&self.inner.requests);
            if requests.len() >= MAX_PENDING_REQUESTS {
                return Err(InternalError::TooManyRequests);
            }
            requests.insert(id, tx);
        }
        let reply = format!("{}.{id}", self.inner.inbox);
        let forget = Forget {
            inner: &self.inner,
            id,
        };
        if !self.publish(subject, Some(&reply), headers, payload)? {
            return Err(InternalError::NoResponders);
        }
        let answer = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(_)) => Err(InternalError::Closed),
            Err(_) => Err(InternalError::Timeout),
        };
        drop(forget);
        answer
    }
}

/// Removes a request's entry however the wait ends (reply, timeout, or the future dropped).
struct Forget<'a> {
    inner: &'a Inner,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.inner.requests).remove(&self.id);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let subs = self.subs.get_mut().unwrap_or_else(|e| e.into_inner());
        self.account.remove_all(subs.values().map(|(sub, _)| sub));
        self.out.close(CloseReason::ClientClosed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// One delivered message: to its subscription's queue, or to the request it answers.
    fn dispatch(&self, sid: u64, message: Message) {
        if let Some(id) = message
            .subject
            .strip_prefix(self.inbox.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"."))
            .and_then(|n| std::str::from_utf8(n).ok()?.parse::<u64>().ok())
        {
            if let Some(tx) = lock(&self.requests).remove(&id) {
                let _ = tx.send(message);
            }
            return;
        }
        let tx = lock(&self.subs).get(&sid).map(|(_, tx)| tx.clone());
        if let Some(tx) = tx {
            // A subscriber that does not keep up loses messages rather than stalling delivery.
            let _ = tx.try_send(message);
        }
    }
}

/// The internal client's "socket": the writer task writes the bytes delivered to the client
/// here, and they are decoded back into messages.
struct Decoder {
    inner: std::sync::Weak<Inner>,
    parser: ServerParser,
    buf: BytesMut,
}

impl tokio::io::AsyncWrite for Decoder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let Some(inner) = self.inner.upgrade() else {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        };
        self.buf.extend_from_slice(data);
        let this = &mut *self;
        while let Some((sid, message)) = decode(&mut this.parser, &mut this.buf) {
            inner.dispatch(sid, message);
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The next `MSG`/`HMSG` in `buf`, as the router encodes them for this client (anything else
/// an internal client could be sent, such as a `PING`, is skipped).
fn decode(parser: &mut ServerParser, buf: &mut BytesMut) -> Option<(u64, Message)> {
    loop {
        let (subject, sid, reply, headers, payload) = match parser.parse(buf).ok()?? {
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => (subject, sid, reply, None, payload),
            ServerOp::HMsg {
                subject,
                sid,
                reply,
                header_len,
                message,
            } => (
                subject,
                sid,
                reply,
                Some(message.slice(..header_len)),
                message.slice(header_len..),
            ),
            _ => continue,
        };
        let Some(sid) = std::str::from_utf8(&sid).ok().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let message = Message {
            subject,
            reply,
            headers,
            payload,
        };
        return Some((sid, message));
    }
}
