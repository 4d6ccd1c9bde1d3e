//! The router: where one published message goes, and the hand-over of a read batch's bytes to
//! the writers of the connections that get them.
//!
//! One `Router` belongs to each publishing connection (and to each internal client). It finds
//! the matching subscriptions through a per-connection match cache, picks one member per queue
//! group, follows stream exports and service imports into other accounts, and encodes each
//! delivery into a staging buffer per target. [`Router::flush`] hands every staging buffer to
//! its target's outbound buffer under one lock and wakes each writer once (see
//! docs/ARCHITECTURE.md for why). Nothing here blocks or awaits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rnats_sublist::{Match, MatchCache, Matches};

use crate::account::{Account, SubRef};
use crate::links::{Links, RouteRef, ServiceRoute, StreamRoute};
use crate::msgtrace::{self, Tracer};
use crate::outbound::Outbound;

mod encode;
mod handover;
mod traced;

use encode::{encode, encode_line, trace_delivery};

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Entries in the per-connection match cache before it is emptied.
const MATCH_CACHE_CAP: usize = 1024;
/// Entries in each of the caches for other accounts (imports, exports, responses).
const FOREIGN_CACHE_CAP: usize = 256;
/// Other accounts a connection keeps a match cache for; past it the oldest is dropped.
const FOREIGN_ACCOUNTS: usize = 8;
/// Largest staging buffer kept for reuse, and how many are kept. Buffers circulate between
/// publishers' staging and targets' writers (a hand-over swaps them), so freeing the large ones
/// would mean a fresh mapping, and page faults, per batch under load.
const STAGING_KEEP: usize = 256 * 1024;
const STAGING_SPARES: usize = 4;
/// After a read this small the connection is not busy: spares above this size are released.
const STAGING_IDLE_KEEP: usize = 16 * 1024;
/// Payloads at least this large are shared with a target instead of copied (when its writer
/// takes vectored writes). Measured with the server on one core against copying: fan-out to
/// four at 2 KiB, 4 KiB and 64 KiB +45–55 % messages/s, pub/sub at 8 KiB +15 %, at 2 KiB
/// even; at 1 KiB fan-out even and pub/sub −12 % (the kernel's per-slice cost outweighs the
/// copy saved), so smaller payloads are copied.
const SHARE_MIN: usize = 2048;
/// The prefix of the reply subjects of imported service requests.
pub(crate) const RESPONSE_PREFIX: &[u8] = b"_R_.";

/// One message on its way to subscribers.
#[derive(Clone, Copy)]
pub(crate) struct Msg<'a> {
    pub(crate) subject: &'a [u8],
    pub(crate) reply: Option<&'a [u8]>,
    /// `Some` for HPUB: the header block's length at the start of `body`.
    pub(crate) header_len: Option<usize>,
    pub(crate) body: &'a [u8],
    /// `body` as a slice of the publisher's read buffer, when it is one: a target may queue
    /// this instead of a copy.
    pub(crate) shared: Option<&'a Bytes>,
}

/// One target's share of a batch.
struct Staged {
    target: Arc<Outbound>,
    /// The batch's bytes for the target, but for shared payloads: those go at the offsets
    /// given in `shared`.
    buf: BytesMut,
    shared: Vec<(usize, Bytes)>,
    /// Bytes in `shared`.
    shared_bytes: usize,
    /// Messages and their sizes in `buf`, for the target's monitoring counters.
    msgs: u64,
    bytes: u64,
}

/// The routing state of one publishing connection.
pub(crate) struct Router {
    cid: u64,
    /// The publisher's CONNECT `echo`: whether its own subscriptions get its messages.
    echo: bool,
    /// The protocol trace is on: each delivery is logged in the target's name.
    trace: bool,
    cache: MatchCache<SubRef>,
    /// Match caches for other accounts this connection reached through imports and exports.
    foreign: Vec<(Arc<Account>, MatchCache<SubRef>)>,
    /// What this batch delivers to other connections, one buffer per target.
    staged: Vec<Staged>,
    staged_at: FastMap<u64, usize>,
    /// What this batch sends to the publisher itself: replies and its own messages, in order.
    own: BytesMut,
    /// Messages (and their sizes) among `own`.
    own_msgs: u64,
    own_bytes: u64,
    /// Emptied staging buffers kept for the next batches.
    spare: Vec<BytesMut>,
    /// Subscriptions that reached their auto-unsubscribe count while routing one message.
    expired: Vec<SubRef>,
    /// Buffers for rewritten subjects, reused message after message.
    subjects: Vec<Vec<u8>>,
    rng: u64,
    /// Fast-producer flow control (see `driver.rs`).
    flow: Flow,
    /// The size of the read buffer this batch's payloads are slices of (0: none are): a
    /// target's payloads are queued shared only when they add up to half of it at least.
    share_from: usize,
    /// Emptied lists of shared payloads, for the next batches' targets.
    shared_spare: Vec<Vec<(usize, Bytes)>>,
    /// The message being routed is traced (`Nats-Trace-Dest`): deliveries are recorded here.
    msg_trace: Option<Box<Tracer>>,
    /// Targets left stalled by the last hand-over: the publisher pauses for them.
    stalled: Vec<Arc<Outbound>>,
    /// A hand-over left some target with a batch worth writing (see `handover.rs`).
    writers_ready: bool,
}

/// What a publisher does about targets that fall behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Never pause (internal clients, benches): only `max_pending` bounds a target.
    Off,
    /// nats-server's default: pause when a target passes ¾ of its `max_pending` (at most
    /// 4 MiB);
    /// `pause_now` asks the driver to hand over and wait before the next op.
    Stall { pause_now: bool },
    /// `no_fast_producer_stall`: never pause; a stalled target misses messages instead (as
    /// nats-server drops them), and is not closed for it.
    Drop,
}

impl Router {
    pub(crate) fn new(cid: u64) -> Self {
        Self {
            cid,
            echo: true,
            trace: false,
            cache: MatchCache::new(MATCH_CACHE_CAP),
            foreign: Vec::new(),
            staged: Vec::new(),
            staged_at: FastMap::default(),
            own: BytesMut::new(),
            own_msgs: 0,
            own_bytes: 0,
            spare: Vec::new(),
            expired: Vec::new(),
            subjects: Vec::new(),
            rng: (cid ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1,
            flow: Flow::Off,
            share_from: 0,
            shared_spare: Vec::new(),
            msg_trace: None,
            stalled: Vec::new(),
            writers_ready: false,
        }
    }

    /// How this publisher treats targets that fall behind.
    pub(crate) fn set_flow(&mut self, flow: Flow) {
        self.flow = flow;
    }

    /// Whether a target of this batch is about to pass its stall mark: the driver should hand
    /// the batch over and pause before the next op. Asking clears the request.
    pub(crate) fn take_pause(&mut self) -> bool {
        match &mut self.flow {
            Flow::Stall { pause_now } => std::mem::take(pause_now),
            _ => false,
        }
    }

    /// The targets the last [`Router::flush`] left stalled.
    pub(crate) fn take_stalled(&mut self) -> Vec<Arc<Outbound>> {
        std::mem::take(&mut self.stalled)
    }

    /// The payloads routed next are slices of a read buffer of `size` bytes (0: sharing off).
    pub(crate) fn set_read_buffer(&mut self, size: usize) {
        self.share_from = size;
    }

    pub(crate) fn set_echo(&mut self, echo: bool) {
        self.echo = echo;
    }

    pub(crate) fn set_trace(&mut self, trace: bool) {
        self.trace = trace;
    }

    /// The publisher's own output for this batch (replies go here, in order with messages).
    pub(crate) fn own(&mut self) -> &mut BytesMut {
        &mut self.own
    }

    /// Delivers one message published in `account`, then across accounts where exports and
    /// imports say so. Returns whether anybody got it.
    pub(crate) fn route(&mut self, account: &Arc<Account>, msg: Msg<'_>) -> bool {
        if let Some(t) = &mut self.msg_trace {
            t.enter(&account.name);
        }
        let matches = self.lookup(account, msg.subject);
        let mut delivered = self.deliver_matches(&matches, msg);
        self.expire(account);
        if msg.subject.starts_with(RESPONSE_PREFIX) || account.has_links() {
            delivered |= self.route_across(account, msg);
        }
        delivered
    }

    /// Service responses going back to their importer, stream exports and service imports.
    fn route_across(&mut self, account: &Arc<Account>, msg: Msg<'_>) -> bool {
        let mut delivered = false;
        if msg.subject.starts_with(RESPONSE_PREFIX)
            && let Some((importer, original)) = account.take_response(msg.subject, Instant::now())
        {
            let response = Msg {
                subject: &original,
                reply: None,
                ..msg
            };
            delivered |= self.route_in(&importer, response);
        }
        let Some(links) = account.links() else {
            return delivered;
        };
        delivered |= self.follow_links(account, &links, msg);
        delivered
    }

    fn follow_links(&mut self, account: &Arc<Account>, links: &Links, msg: Msg<'_>) -> bool {
        let mut delivered = false;
        links.streams.for_each_match(msg.subject, |m| {
            if let Match::Plain(RouteRef(route)) = m {
                delivered |= self.stream(route, msg);
            }
        });
        links.services.for_each_match(msg.subject, |m| {
            if let Match::Plain(RouteRef(route)) = m {
                delivered |= self.service(account, route, msg);
            }
        });
        delivered
    }

    /// A message of an exported stream, delivered in the importing account.
    fn stream(&mut self, route: &StreamRoute, msg: Msg<'_>) -> bool {
        let mut subject = self.subjects.pop().unwrap_or_default();
        route.map.apply_into(msg.subject, &mut subject);
        let original = msg.subject;
        let msg = Msg {
            subject: &subject,
            ..msg
        };
        let delivered = if self.msg_trace.is_some() {
            self.stream_traced(route, original, msg)
        } else {
            self.route_in(&route.importer, msg)
        };
        self.subjects.push(subject);
        delivered
    }

    /// A request to an imported service, delivered in the exporting account (after that
    /// account's subject mappings, as nats-server) with a fresh `_R_.` reply subject whose
    /// responses come back to the requester.
    fn service(&mut self, importer: &Arc<Account>, route: &ServiceRoute, msg: Msg<'_>) -> bool {
        let mut subject = self.subjects.pop().unwrap_or_default();
        route.map.apply_into(msg.subject, &mut subject);
        match route.exporter.map_subject(&subject) {
            rnats_sublist::Mapped::NoMatch => {}
            rnats_sublist::Mapped::To(to) => {
                subject.clear();
                subject.extend_from_slice(to.as_bytes());
            }
            rnats_sublist::Mapped::Dropped => {
                self.subjects.push(subject);
                return false;
            }
        }
        // A traced request: the crossing is recorded; without the export's `allow_trace` the
        // exporter's deliveries are not traced, and a trace-only request stops here.
        let mut untraced = None;
        if let Some(t) = &mut self.msg_trace {
            t.service_import(&route.exporter.name, msg.subject, &subject);
            if !route.allow_trace {
                if t.only() {
                    self.subjects.push(subject);
                    return false;
                }
                untraced = self.msg_trace.take();
            }
        }
        // Untraced beyond here: the request carries `Nats-Trace-Dest: trace disabled`, as
        // nats-server marks it, so nobody downstream traces it again.
        let disabled;
        let msg = match (untraced.is_some(), msg.header_len) {
            (true, Some(h)) => {
                disabled = msgtrace::disable(msg.body, h);
                Msg {
                    header_len: Some(disabled.1),
                    body: &disabled.0,
                    shared: None,
                    ..msg
                }
            }
            _ => msg,
        };
        let reply = msg.reply.and_then(|r| {
            route.exporter.register_response(
                importer.clone(),
                r,
                route.response,
                route.threshold,
                Instant::now(),
            )
        });
        let delivered = self.route_in(
            &route.exporter,
            Msg {
                subject: &subject,
                reply: reply.as_deref(),
                ..msg
            },
        );
        if untraced.is_some() {
            self.msg_trace = untraced;
        }
        self.subjects.push(subject);
        delivered
    }

    /// Delivers in another account, through that account's cache.
    fn route_in(&mut self, account: &Arc<Account>, msg: Msg<'_>) -> bool {
        if let Some(t) = &mut self.msg_trace {
            t.enter(&account.name);
        }
        let matches = self.lookup_foreign(account, msg.subject);
        let delivered = self.deliver_matches(&matches, msg);
        self.expire(account);
        delivered
    }

    fn expire(&mut self, account: &Account) {
        for sub in self.expired.drain(..) {
            account.expire(&sub.0);
        }
    }

    /// The matches for a subject in the publisher's own account.
    pub(crate) fn lookup(&mut self, account: &Account, subject: &[u8]) -> Arc<Matches<SubRef>> {
        lookup_in(&mut self.cache, account, subject)
    }

    /// The matches in another account, reached through an import, an export or a response:
    /// each such account gets a small cache of its own, the oldest dropped past
    /// `FOREIGN_ACCOUNTS`, so traffic that alternates between two accounts never empties the
    /// publisher's main cache.
    fn lookup_foreign(&mut self, account: &Arc<Account>, subject: &[u8]) -> Arc<Matches<SubRef>> {
        let index = match self
            .foreign
            .iter()
            .position(|(a, _)| Arc::ptr_eq(a, account))
        {
            Some(i) => i,
            None => {
                if self.foreign.len() >= FOREIGN_ACCOUNTS {
                    self.foreign.remove(0);
                }
                self.foreign
                    .push((account.clone(), MatchCache::new(FOREIGN_CACHE_CAP)));
                self.foreign.len() - 1
            }
        };
        lookup_in(&mut self.foreign[index].1, account, subject)
    }

    /// The connection moved to another account (a second CONNECT): its caches start over.
    pub(crate) fn forget_accounts(&mut self) {
        self.foreign.clear();
        self.cache.clear();
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
        if self.msg_trace.is_some() {
            return self.deliver_traced(sub, msg);
        }
        if sub.closed.load(Ordering::Relaxed) || sub.client.is_closed() {
            return false;
        }
        let target = &sub.client;
        if target.cid == self.cid && !self.echo {
            return false;
        }
        if let Some(filter) = &sub.deliver_filter
            && !filter.may_deliver(msg.subject, sub.queue.as_deref())
        {
            return false;
        }
        if self.flow == Flow::Drop && target.cid != self.cid && target.past_drop_mark() {
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
        let size = (msg.body.len()
            - if headers {
                0
            } else {
                msg.header_len.unwrap_or(0)
            }) as u64;
        let staged = match msg.shared {
            Some(payload)
                if payload.len() >= SHARE_MIN
                    && self.share_from > 0
                    && target.cid != self.cid
                    && (headers || msg.header_len.is_none())
                    && target.shares() =>
            {
                let staged = self.staged_for(target);
                encode_line(&mut staged.buf, sub, msg);
                staged.shared.push((staged.buf.len(), payload.clone()));
                staged.shared_bytes += payload.len();
                staged.buf.extend_from_slice(b"\r\n");
                staged.msgs += 1;
                staged.bytes += size;
                staged.buf.len() + staged.shared_bytes
            }
            _ => {
                let (buf, counts) = self.staging(target);
                encode(buf, sub, msg, headers);
                *counts.0 += 1;
                *counts.1 += size;
                buf.len()
            }
        };
        if let Flow::Stall { pause_now } = &mut self.flow
            && target.cid != self.cid
        {
            *pause_now |= target.would_stall(staged);
        }
        if last {
            self.expired.push(sub.clone());
        }
        true
    }

    /// The buffer collecting this batch's bytes for `target`, and its message and byte
    /// counts.
    fn staging(&mut self, target: &Arc<Outbound>) -> (&mut BytesMut, (&mut u64, &mut u64)) {
        if target.cid == self.cid {
            return (&mut self.own, (&mut self.own_msgs, &mut self.own_bytes));
        }
        let staged = self.staged_for(target);
        (&mut staged.buf, (&mut staged.msgs, &mut staged.bytes))
    }

    /// This batch's share for another connection.
    fn staged_for(&mut self, target: &Arc<Outbound>) -> &mut Staged {
        let index = match self.staged_at.get(&target.cid) {
            Some(&i) => i,
            None => {
                let buf = self.spare.pop().unwrap_or_default();
                self.staged.push(Staged {
                    target: target.clone(),
                    buf,
                    shared: self.shared_spare.pop().unwrap_or_default(),
                    shared_bytes: 0,
                    msgs: 0,
                    bytes: 0,
                });
                self.staged_at.insert(target.cid, self.staged.len() - 1);
                self.staged.len() - 1
            }
        };
        &mut self.staged[index]
    }

    /// A request nobody answered: the publisher's own subscription on the reply subject gets a
    /// 503 status message, as nats-server does for clients that asked for it.
    pub(crate) fn no_responders(&mut self, account: &Arc<Account>, subject: &[u8], reply: &[u8]) {
        let mut header = Vec::with_capacity(42 + subject.len());
        header.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        header.extend_from_slice(subject);
        header.extend_from_slice(b"\r\n\r\n");
        let matches = self.lookup(account, reply);
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
                account.expire(&sub.0);
            }
        }
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

/// The matches for a subject from `cache` while the account's sublist is unchanged. The
/// generation is read without the lock; a result is stored only under the generation it was
/// computed at, so the cache never serves a stale result. Generations are unique across
/// sublists, so a cache asked about another account only starts over.
fn lookup_in(
    cache: &mut MatchCache<SubRef>,
    account: &Account,
    subject: &[u8],
) -> Arc<Matches<SubRef>> {
    if let Some(found) = cache.lookup(account.generation(), subject) {
        return found;
    }
    let (matches, at) = {
        let sublist = account.read();
        (Arc::new(sublist.matches(subject)), sublist.generation())
    };
    cache.store(at, subject, matches.clone());
    matches
}
