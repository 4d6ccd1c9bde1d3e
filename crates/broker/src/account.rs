//! Accounts: isolated subject spaces, each with its own subscription index.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use rnats_sublist::{SubjectError, Sublist};

use crate::outbound::Outbound;

/// One SUB of one client.
pub(crate) struct Subscription {
    pub(crate) client: Arc<Outbound>,
    pub(crate) subject: Bytes,
    pub(crate) queue: Option<Bytes>,
    pub(crate) sid: Bytes,
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
}

impl Account {
    pub(crate) fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            sublist: RwLock::new(Sublist::new()),
            generation: AtomicU64::new(0),
        }
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

    /// Removes `sub` from the index once; later calls do nothing.
    pub(crate) fn remove(&self, sub: &Arc<Subscription>) {
        if sub.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut sl = self.write();
        sl.remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
        self.generation.store(sl.generation(), Ordering::Release);
    }

    /// Removes many subscriptions under one lock (a closing connection).
    pub(crate) fn remove_all<'a>(&self, subs: impl IntoIterator<Item = &'a Arc<Subscription>>) {
        let mut sl = self.write();
        for sub in subs {
            if !sub.closed.swap(true, Ordering::AcqRel) {
                sl.remove(&sub.subject, sub.queue.as_deref(), &SubRef(sub.clone()));
            }
        }
        self.generation.store(sl.generation(), Ordering::Release);
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.read().len()
    }
}
