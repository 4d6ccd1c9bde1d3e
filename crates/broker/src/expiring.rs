//! A bounded map whose entries expire, with O(1) amortised work per operation.
//!
//! Used for tables a client can fill with requests (reply grants of `allow_responses`, routes
//! of service-import responses). Entries are kept in insertion order beside the map: inserting
//! first drops expired entries from the front, and a full table drops its oldest entry to make
//! room, so the newest request always gets its entry and nothing ever rescans the table.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

struct Entry<V> {
    value: V,
    expires: Instant,
    /// Which insertion this is (a key inserted again gets a new one).
    seq: u64,
}

/// Keys are byte strings (subjects); values expire at their own instant.
pub(crate) struct ExpiringMap<V> {
    map: FastMap<Arc<[u8]>, Entry<V>>,
    /// Insertions, oldest first: `(key, seq, expires)`. An item whose `seq` no longer matches
    /// the map's entry was replaced or removed and is skipped.
    order: VecDeque<(Arc<[u8]>, u64, Instant)>,
    next_seq: u64,
    cap: usize,
    /// Entries dropped to make room (not by expiry), for tests and logs.
    evicted: u64,
}

impl<V> ExpiringMap<V> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            map: FastMap::default(),
            order: VecDeque::new(),
            next_seq: 0,
            cap: cap.max(1),
            evicted: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries dropped so far because the table was full.
    #[cfg(test)]
    pub(crate) fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Adds (or replaces) `key`, valid until `expires`. Returns whether an older entry had to
    /// be dropped to make room.
    pub(crate) fn insert(&mut self, key: &[u8], value: V, expires: Instant, now: Instant) -> bool {
        self.drop_expired_front(now);
        let mut evicted = false;
        if !self.map.contains_key(key) {
            while self.map.len() >= self.cap {
                let Some((old, seq, _)) = self.order.pop_front() else {
                    break;
                };
                if self.map.get(&old).is_some_and(|e| e.seq == seq) {
                    self.map.remove(&old);
                    self.evicted += 1;
                    evicted = true;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let key: Arc<[u8]> = key.into();
        self.order.push_back((key.clone(), seq, expires));
        self.map.insert(
            key,
            Entry {
                value,
                expires,
                seq,
            },
        );
        self.compact_order();
        evicted
    }

    /// The live entry for `key`; an expired one is removed and `None` returned.
    pub(crate) fn get_mut(&mut self, key: &[u8], now: Instant) -> Option<&mut V> {
        let expired = self.map.get(key)?.expires <= now;
        if expired {
            self.map.remove(key);
            return None;
        }
        self.map.get_mut(key).map(|e| &mut e.value)
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.map.remove(key).map(|e| e.value)
    }

    /// Pops expired or stale items from the front of the order.
    fn drop_expired_front(&mut self, now: Instant) {
        while let Some((key, seq, expires)) = self.order.front() {
            let live = self.map.get(key).is_some_and(|e| e.seq == *seq);
            if live && *expires > now {
                break;
            }
            if live {
                self.map.remove(key);
            }
            self.order.pop_front();
        }
    }

    /// Stale items (keys replaced or removed) pile up in `order` when entries are used up out
    /// of order; past twice the live entries they are swept, which costs O(1) per insertion
    /// amortised.
    fn compact_order(&mut self) {
        if self.order.len() > 2 * self.map.len() + 64 {
            let map = &self.map;
            self.order
                .retain(|(key, seq, _)| map.get(key).is_some_and(|e| e.seq == *seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn full_table_drops_the_oldest_entry() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut m = ExpiringMap::new(3);
        for k in [b"a", b"b", b"c"] {
            assert!(!m.insert(k, (), later, now));
        }
        assert!(m.insert(b"d", (), later, now), "a is dropped for d");
        assert!(m.get_mut(b"a", now).is_none());
        assert!(m.get_mut(b"d", now).is_some());
        assert_eq!((m.len(), m.evicted()), (3, 1));
    }

    #[test]
    fn expired_entries_go_first_and_are_never_returned() {
        let now = Instant::now();
        let mut m = ExpiringMap::new(2);
        m.insert(b"old", 1, now + Duration::from_secs(1), now);
        m.insert(b"new", 2, now + Duration::from_secs(60), now);
        let t = now + Duration::from_secs(2);
        assert!(m.get_mut(b"old", t).is_none());
        assert!(!m.insert(b"third", 3, t + Duration::from_secs(60), t));
        assert_eq!(m.evicted(), 0);
        assert_eq!(m.get_mut(b"new", t), Some(&mut 2));
    }

    #[test]
    fn replaced_and_removed_keys_do_not_grow_the_order() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut m = ExpiringMap::new(1000);
        for i in 0..100_000u32 {
            let key = (i % 10).to_be_bytes();
            m.insert(&key, i, later, now);
            if i % 3 == 0 {
                m.remove(&key);
            }
        }
        assert!(m.len() <= 10);
        assert!(m.order.len() <= 2 * m.len() + 65, "{}", m.order.len());
    }

    /// Filling and churning a table at its cap takes linear time: a million insertions into a
    /// table of 64k stay far below a second (the quadratic sweep took minutes).
    #[test]
    fn a_flood_costs_constant_time_per_request() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let mut m = ExpiringMap::new(65_536);
        for i in 0..1_000_000u32 {
            m.insert(&i.to_be_bytes(), (), later, now);
        }
        assert_eq!(m.len(), 65_536);
        assert_eq!(m.evicted(), 1_000_000 - 65_536);
    }
}
