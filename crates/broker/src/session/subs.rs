//! SUB and UNSUB, and the connection's table of its own subscriptions.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::Session;
use crate::account::{Account, Subscription};
use crate::errors::ClientError;
use crate::logfmt::Quoted;
use crate::outbound::{CloseReason, Outbound};
use rnats_protocol::OK;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A connection's subscriptions by sid, with an exact count of the live ones.
pub(super) struct Subscriptions {
    by_sid: FastMap<Bytes, Arc<Subscription>>,
    /// Prune auto-unsubscribed entries when the table reaches this size.
    prune_at: usize,
    /// Auto-unsubscribed entries taken out so far: with `Outbound::expired_subs` it gives the
    /// live count without a scan (`max_subscriptions` is checked on every SUB).
    pruned_expired: u64,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            by_sid: FastMap::default(),
            prune_at: 64,
            pruned_expired: 0,
        }
    }
}

impl Subscriptions {
    /// The live subscription with this sid.
    fn live(&self, sid: &[u8]) -> Option<&Arc<Subscription>> {
        self.by_sid
            .get(sid)
            .filter(|s| !s.closed.load(Ordering::Relaxed))
    }

    /// Subscriptions not yet auto-unsubscribed. Never below the true count: an expiry whose
    /// counter is not yet visible only makes it count one too many for a moment.
    fn live_count(&self, out: &Outbound) -> usize {
        let expired = out.expired_subs.load(Ordering::Acquire);
        let pending = expired.saturating_sub(self.pruned_expired);
        self.by_sid
            .len()
            .saturating_sub(usize::try_from(pending).unwrap_or(usize::MAX))
    }

    /// Takes auto-unsubscribed entries out, amortised: the next prune waits until the table
    /// has doubled.
    fn maybe_prune(&mut self) {
        if self.by_sid.len() < self.prune_at {
            return;
        }
        let before = self.by_sid.len();
        self.by_sid.retain(|_, s| !s.closed.load(Ordering::Acquire));
        self.pruned_expired += (before - self.by_sid.len()) as u64;
        self.prune_at = (self.by_sid.len() * 2).max(64);
    }

    fn insert(&mut self, sub: Arc<Subscription>) {
        // Only a closed (auto-unsubscribed) entry can be replaced here.
        if self.by_sid.insert(sub.sid.clone(), sub).is_some() {
            self.pruned_expired += 1;
        }
    }

    /// Removes one subscription from the table and from `account`.
    fn remove(&mut self, sid: &[u8], account: &Account) {
        if let Some(sub) = self.by_sid.remove(sid)
            && !account.remove(&sub)
        {
            self.pruned_expired += 1;
        }
    }

    /// Removes every subscription (the connection closes or moves account).
    pub(super) fn remove_all(&mut self, account: &Account) {
        let gone = account.remove_all(self.by_sid.values());
        self.pruned_expired += gone as u64;
        self.by_sid.clear();
    }

    /// The live subscriptions `keep` refuses.
    fn refused(&self, mut keep: impl FnMut(&Subscription) -> bool) -> Vec<Arc<Subscription>> {
        self.by_sid
            .values()
            .filter(|s| !s.closed.load(Ordering::Relaxed) && !keep(s))
            .cloned()
            .collect()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.by_sid.len()
    }
}

impl Session {
    /// This connection's live subscriptions, for monitoring's record of a closed connection.
    pub(crate) fn sub_details(&self) -> Vec<crate::monitor::json::SubDetail> {
        let mut subs: Vec<_> = self
            .subs
            .by_sid
            .values()
            .filter(|s| !s.closed.load(Ordering::Relaxed))
            .map(|s| crate::monitor::sub_detail(s))
            .collect();
        crate::monitor::sort_by_sid(&mut subs);
        subs
    }

    pub(super) fn on_sub(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Result<(), CloseReason> {
        if self.subs.live(sid).is_some() {
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
                self.peer.addr,
                self.peer.cid,
                Quoted(self.identity.as_bytes()),
                Quoted(subject)
            );
            let subject = String::from_utf8_lossy(subject).into_owned();
            let queue = queue.map(|q| String::from_utf8_lossy(q).into_owned());
            return self.fail(ClientError::SubscriptionViolation { subject, queue });
        }
        self.subs.maybe_prune();
        if let Some(max) = self.max_subs
            && self.subs.live_count(&self.out) >= max
        {
            // O(1): a client refused again and again never makes the server rescan.
            tracing::error!(
                "{} - cid:{} - maximum subscriptions exceeded",
                self.peer.addr,
                self.peer.cid
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
        self.subs.insert(sub);
        if self.opts.verbose {
            self.reply(OK);
        }
        Ok(())
    }

    pub(super) fn on_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        if let Some(sub) = self.subs.by_sid.get(sid) {
            match max {
                Some(max) if max > 0 && sub.delivered.load(Ordering::Relaxed) < max => {
                    sub.max.store(max, Ordering::Relaxed);
                }
                _ => self.subs.remove(sid, &self.account),
            }
        }
        if self.opts.verbose {
            self.reply(OK);
        }
    }

    /// After a reload: subscriptions the new permissions refuse are removed, each with
    /// nats-server's notice.
    pub(super) fn drop_forbidden_subscriptions(&mut self) {
        let Some(perms) = self.permissions.clone() else {
            return;
        };
        for sub in self
            .subs
            .refused(|s| perms.may_subscribe(&s.subject, s.queue.as_deref()))
        {
            self.subs.remove(&sub.sid, &self.account);
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
}
