//! Accounts: isolated subject spaces, each with its own subscription index.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rnats_sublist::{SubjectError, Sublist};

use rnats_config::ResponseType;

use crate::links::Links;
use crate::outbound::Outbound;

use crate::expiring::ExpiringMap;

/// Most pending response routes an account keeps: past it the oldest makes room for the
/// newest, so every new request still gets its reply route and nothing rescans the table.
pub(crate) const RESPONSES_MAX: usize = 256 * 1024;

/// Where the answer to an imported service request goes: the importer's reply subject.
pub(crate) struct ResponseRoute {
    pub(crate) importer: Arc<Account>,
    pub(crate) reply: Bytes,
    single: bool,
}

/// One SUB of one client.
pub(crate) struct Subscription {
    pub(crate) client: Arc<Outbound>,
    pub(crate) subject: Bytes,
    pub(crate) queue: Option<Bytes>,
    pub(crate) sid: Bytes,
    /// The owner's permissions when they deny some subjects: messages on those are dropped at
    /// delivery even if this (broader) subscription was allowed.
    pub(crate) deliver_filter: Option<Arc<rnats_auth::Permissions>>,
    /// Auto-unsubscribe after this many deliveries (0: never).
    pub(crate) max: AtomicU64,
    pub(crate) delivered: AtomicU64,
    /// Removed from the index (auto-unsubscribed or unsubscribed).
    pub(crate) closed: AtomicBool,
}

impl Subscription {
    /// Counts one delivery; `false` when the auto-unsubscribe limit was already reached.
    /// The second value says whether this delivery was the last one allowed.
    pub(crate) fn take_delivery(&self) -> (bool, bool) {
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max == 0 {
            return (true, false);
        }
        (n <= max, n == max)
    }
}

/// The sublist entry: a subscription compared by identity.
#[derive(Clone)]
pub(crate) struct SubRef(pub(crate) Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::ops::Deref for SubRef {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}

/// An account: a name and the subscriptions made in it.
pub(crate) struct Account {
    pub(crate) name: String,
    sublist: RwLock<Sublist<SubRef>>,
    /// Mirror of the sublist generation, readable without the lock so a connection can check its
    /// match cache for free. Stored while the write lock is still held.
    generation: AtomicU64,
    /// Routes to other accounts that start here (stream exports, service imports).
    links: RwLock<Arc<Links>>,
    has_links: AtomicBool,
    /// Subject mappings applied to what clients publish here.
    mappings: RwLock<Option<Arc<[rnats_sublist::Mapping]>>>,
    has_mappings: AtomicBool,
    /// `msg_trace`: where sampled `traceparent` messages are traced, and the percentage.
    msg_trace: RwLock<Option<(String, u8)>>,
    /// `_R_.…` reply subjects of service requests that came in through an import.
    responses: Mutex<ExpiringMap<ResponseRoute>>,
    /// The client connections bound here, by connection id (which grows with connection
    /// order): counted against an account JWT's `conn` limit, newest last. One entry per live
    /// connection.
    members: Mutex<Members>,
}

/// The client connections bound to an account, and which user each belongs to.
#[derive(Default)]
struct Members {
    all: BTreeSet<u64>,
    /// Connection ids by user identity (for users' `max_connections`).
    by_user: std::collections::HashMap<Box<str>, BTreeSet<u64>>,
    user_of: std::collections::HashMap<u64, Box<str>>,
}

impl Members {
    fn forget_user(&mut self, cid: u64) {
        if let Some(user) = self.user_of.remove(&cid)
            && let Some(set) = self.by_user.get_mut(&user)
        {
            set.remove(&cid);
            if set.is_empty() {
                self.by_user.remove(&user);
            }
        }
    }
}

/// Which limit refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The account's `conn` limit (account JWT).
    Account,
    /// The user's `max_connections`.
    User,
}

impl Account {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        let sublist = Sublist::new();
        // The mirror must start equal to the sublist's own generation (which is not 0):
        // otherwise no match result is ever cached until the first subscription.
        let generation = AtomicU64::new(sublist.generation());
        Self {
            name: name.into(),
            sublist: RwLock::new(sublist),
            generation,
            links: RwLock::new(Arc::new(Links::default())),
            has_links: AtomicBool::new(false),
            mappings: RwLock::new(None),
            has_mappings: AtomicBool::new(false),
            msg_trace: RwLock::new(None),
            responses: Mutex::new(ExpiringMap::new(RESPONSES_MAX)),
            members: Mutex::new(Members::default()),
        }
    }

    /// Binds client `cid` of user `user` here unless the account holds `account_limit`
    /// connections already (nats-server's `MaxTotalConnectionsReached`, checked before the
    /// client is added) or the user holds `user_limit`. A connection already bound (a second
    /// CONNECT) keeps its place in the account and moves to its new user.
    pub(crate) fn join(
        &self,
        cid: u64,
        user: &str,
        account_limit: Option<u32>,
        user_limit: Option<u32>,
    ) -> Result<(), Full> {
        let mut m = self.members_lock();
        let member = m.all.contains(&cid);
        if !member && account_limit.is_some_and(|l| m.all.len() >= l as usize) {
            return Err(Full::Account);
        }
        if m.user_of.get(&cid).is_some_and(|u| &**u == user) {
            return Ok(());
        }
        let held = m.by_user.get(user).map_or(0, BTreeSet::len);
        if user_limit.is_some_and(|l| held >= l as usize) {
            return Err(Full::User);
        }
        m.forget_user(cid);
        m.all.insert(cid);
        m.by_user.entry(user.into()).or_default().insert(cid);
        m.user_of.insert(cid, user.into());
        Ok(())
    }

    /// Client `cid` left.
    pub(crate) fn leave(&self, cid: u64) {
        let mut m = self.members_lock();
        m.all.remove(&cid);
        m.forget_user(cid);
    }

    /// Connections of `user` bound here now.
    #[cfg(test)]
    pub(crate) fn user_connections(&self, user: &str) -> usize {
        self.members_lock()
            .by_user
            .get(user)
            .map_or(0, BTreeSet::len)
    }

    fn members_lock(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether client `cid` is past the first `limit` connections of this account (after a
    /// lowered `conn`: the newest go first).
    pub(crate) fn beyond(&self, cid: u64, limit: Option<u32>) -> bool {
        let Some(limit) = limit else {
            return false;
        };
        let m = self.members_lock();
        // Within the limit (the usual case): nobody is beyond it, and nothing is counted.
        if m.all.len() <= limit as usize {
            return false;
        }
        m.all
            .iter()
            .nth(limit as usize)
            .is_some_and(|&first_beyond| cid >= first_beyond)
    }

    /// Whether client `cid` of `user` is past the user's first `limit` connections (after a
    /// reload lowered `max_connections`: the newest go first).
    pub(crate) fn user_beyond(&self, cid: u64, user: &str, limit: Option<u32>) -> bool {
        let Some(limit) = limit else {
            return false;
        };
        let m = self.members_lock();
        m.by_user
            .get(user)
            .and_then(|set| set.iter().nth(limit as usize))
            .is_some_and(|&first_beyond| cid >= first_beyond)
    }

    pub(crate) fn set_links(&self, links: Links) {
        let empty = links.is_empty();
        *self.links.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(links);
        self.has_links.store(!empty, Ordering::Release);
    }

    /// Whether any cross-account route starts here (no lock).
    pub(crate) fn has_links(&self) -> bool {
        self.has_links.load(Ordering::Acquire)
    }

    /// The routes that start here, or `None` (checked without a lock) when there are none.
    pub(crate) fn links(&self) -> Option<Arc<Links>> {
        if !self.has_links.load(Ordering::Acquire) {
            return None;
        }
        Some(self.links.read().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The account's message trace destination and sampling percentage, if configured.
    pub(crate) fn msg_trace(&self) -> Option<(String, u8)> {
        self.msg_trace
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a `msg_trace` destination in force (`None`: none).
    pub(crate) fn set_msg_trace(&self, trace: Option<(String, u8)>) {
        *self.msg_trace.write().unwrap_or_else(|e| e.into_inner()) = trace;
    }

    /// Puts `mappings` in force (`None`: none).
    pub(crate) fn set_mappings(&self, mappings: Option<Arc<[rnats_sublist::Mapping]>>) {
        let some = mappings.is_some();
        *self.mappings.write().unwrap_or_else(|e| e.into_inner()) = mappings;
        self.has_mappings.store(some, Ordering::Release);
    }

    /// What this account's mappings make of a published subject (no lock when it has none).
    pub(crate) fn map_subject(&self, subject: &[u8]) -> rnats_sublist::Mapped {
        if !self.has_mappings.load(Ordering::Acquire) {
            return rnats_sublist::Mapped::NoMatch;
        }
        let mappings = self
            .mappings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match mappings {
            Some(m) => crate::mapping::select(&m, subject),
            None => rnats_sublist::Mapped::NoMatch,
        }
    }

    fn responses_lock(&self) -> std::sync::MutexGuard<'_, ExpiringMap<ResponseRoute>> {
        self.responses.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh `_R_.…` subject in this account whose responses go to `reply` in `importer`.
    pub(crate) fn register_response(
        &self,
        importer: Arc<Self>,
        reply: &[u8],
        response: ResponseType,
        threshold: Duration,
        now: Instant,
    ) -> Option<Bytes> {
        let mut raw = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
        let mut subject = b"_R_.".to_vec();
        subject.extend_from_slice(data_encoding::BASE64URL_NOPAD.encode(&raw).as_bytes());
        let route = ResponseRoute {
            importer,
            reply: Bytes::copy_from_slice(reply),
            single: response == ResponseType::Singleton,
        };
        self.responses_lock()
            .insert(&subject, route, now + threshold, now);
        Some(Bytes::from(subject))
    }

    /// The route for a response published here on `subject`; a singleton route is used up.
    pub(crate) fn take_response(&self, subject: &[u8], now: Instant) -> Option<(Arc<Self>, Bytes)> {
        let mut responses = self.responses_lock();
        let route = responses.get_mut(subject, now)?;
        let found = (route.importer.clone(), route.reply.clone());
        if route.single {
            responses.remove(subject);
        }
        Some(found)
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Sublist<SubRef>> {
        self.sublist.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Sublist<SubRef>> {
        self.sublist.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn insert(&self, sub: &Arc<Subscription>) -> Result<(), SubjectError> {
        let mut sl = self.write();
        sl.insert(&sub.subject, sub.queue.as_deref(), SubRef(sub.clone()))?;
        self.generation.store(sl.generation(), Ordering::Release);
        Ok(())
    }

    /// Removes `sub` from the index once; later calls do nothing. Returns whether this call
    /// removed it (`false`: it was already gone, e.g. auto-unsubscribed by a delivery).
    pub(crate) fn remove(&self, sub: &Arc<Subscription>) -> bool {
        if sub.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        let mut sl = self.write();
        sl.remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
        self.generation.store(sl.generation(), Ordering::Release);
        true
    }

    /// Removes a subscription that reached its auto-unsubscribe count, and tells its owner
    /// (which keeps an exact count of live subscriptions without rescanning its own).
    pub(crate) fn expire(&self, sub: &Arc<Subscription>) {
        if self.remove(sub) {
            sub.client.expired_subs.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Removes many subscriptions under one lock (a closing connection). Returns how many
    /// were already gone.
    pub(crate) fn remove_all<'a>(
        &self,
        subs: impl IntoIterator<Item = &'a Arc<Subscription>>,
    ) -> usize {
        let mut gone = 0;
        let mut sl = self.write();
        for sub in subs {
            if sub.closed.swap(true, Ordering::AcqRel) {
                gone += 1;
            } else {
                sl.remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
            }
        }
        self.generation.store(sl.generation(), Ordering::Release);
        gone
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flood of imported requests past the table's size keeps routing the newest replies.
    #[test]
    fn response_routes_stay_bounded_and_the_newest_always_works() {
        let exporter = Account::new("E");
        let importer = Arc::new(Account::new("I"));
        let now = Instant::now();
        let ttl = Duration::from_secs(120);
        let first = exporter
            .register_response(
                importer.clone(),
                b"_INBOX.0",
                ResponseType::Singleton,
                ttl,
                now,
            )
            .unwrap();
        for i in 1..(RESPONSES_MAX + 1000) {
            let reply = format!("_INBOX.{i}");
            exporter.register_response(
                importer.clone(),
                reply.as_bytes(),
                ResponseType::Singleton,
                ttl,
                now,
            );
        }
        assert_eq!(exporter.responses_lock().len(), RESPONSES_MAX);
        let newest = exporter
            .register_response(importer, b"_INBOX.new", ResponseType::Singleton, ttl, now)
            .unwrap();
        let (to, reply) = exporter.take_response(&newest, now).unwrap();
        assert_eq!((to.name.as_str(), &reply[..]), ("I", &b"_INBOX.new"[..]));
        assert!(
            exporter.take_response(&newest, now).is_none(),
            "singleton used up"
        );
        assert!(
            exporter.take_response(&first, now).is_none(),
            "oldest made room"
        );
    }

    #[test]
    fn generation_mirror_matches_the_sublist_from_the_start() {
        let account = Account::new("A");
        assert_eq!(account.generation(), account.read().generation());
    }

    #[test]
    fn users_are_counted_against_their_own_limit() {
        let a = Account::new("A");
        assert_eq!(a.join(1, "alice", None, Some(2)), Ok(()));
        assert_eq!(a.join(2, "alice", None, Some(2)), Ok(()));
        assert_eq!(a.join(3, "alice", None, Some(2)), Err(Full::User));
        assert_eq!(a.join(3, "bob", Some(3), Some(2)), Ok(()));
        assert_eq!(a.join(4, "carol", Some(3), None), Err(Full::Account));
        // Joining again as the same user keeps the place.
        assert_eq!(a.join(2, "alice", None, Some(2)), Ok(()));
        a.leave(1);
        assert_eq!(a.user_connections("alice"), 1);
        assert_eq!(a.join(5, "alice", None, Some(2)), Ok(()));
        // A lowered limit puts the newest beyond it.
        assert!(!a.user_beyond(2, "alice", Some(1)));
        assert!(a.user_beyond(5, "alice", Some(1)));
        // A second CONNECT as another user moves the connection.
        assert_eq!(a.join(5, "bob", None, None), Ok(()));
        assert_eq!(
            (a.user_connections("alice"), a.user_connections("bob")),
            (1, 2)
        );
        a.leave(5);
        a.leave(3);
        a.leave(2);
        assert_eq!(a.user_connections("bob"), 0);
        assert!(a.members_lock().user_of.is_empty() && a.members_lock().by_user.is_empty());
    }
}
