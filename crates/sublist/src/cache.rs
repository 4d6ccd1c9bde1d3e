//! [`MatchCache`]: a bounded per-connection cache of match results.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::hash::TokenHashBuilder;
use crate::sublist::{Matches, Sublist};

/// A bounded cache of [`Sublist::matches`] results keyed by published subject, the per-client
/// "L1" result cache of nats-server.
///
/// It remembers the [`Sublist::generation`] it was filled at. Whenever [`get`](Self::get) sees a
/// different generation, every entry is dropped before anything is served, so a result is never
/// stale. Generations are unique process-wide, so handing the cache a different `Sublist` is
/// also safe (it just empties the cache).
///
/// When full, an arbitrary quarter of the entries is evicted (nats-server also prunes arbitrary
/// entries rather than tracking recency). A capacity of 0 caches nothing.
pub struct MatchCache<T> {
    entries: HashMap<Box<[u8]>, Arc<Matches<T>>, TokenHashBuilder>,
    capacity: usize,
    /// The generation the entries were computed at; 0 (never a real generation) when unfilled.
    generation: u64,
}

impl<T> MatchCache<T> {
    /// A cache holding at most `capacity` subjects. Allocates lazily.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::with_hasher(TokenHashBuilder::random()),
            capacity,
            generation: 0,
        }
    }

    /// The result of `sublist.matches(subject)`, from the cache when `sublist` has not changed
    /// since it was stored. A hit does not allocate.
    pub fn get(&mut self, sublist: &Sublist<T>, subject: &[u8]) -> Arc<Matches<T>>
    where
        T: Clone,
    {
        let generation = sublist.generation();
        if let Some(found) = self.lookup(generation, subject) {
            return found;
        }
        let computed = Arc::new(sublist.matches(subject));
        self.store(generation, subject, Arc::clone(&computed));
        computed
    }

    /// The cached result for `subject` if the cache holds results of `generation`. Seeing another
    /// generation empties the cache first. For callers that keep the sublist behind a lock and
    /// publish its generation outside it, so that a hit needs no lock at all.
    pub fn lookup(&mut self, generation: u64, subject: &[u8]) -> Option<Arc<Matches<T>>> {
        if generation != self.generation {
            self.entries.clear();
            self.generation = generation;
            return None;
        }
        self.entries.get(subject).map(Arc::clone)
    }

    /// Stores a result computed at `generation`. It is dropped when the cache has moved to
    /// another generation meanwhile, so a stale result is never stored.
    pub fn store(&mut self, generation: u64, subject: &[u8], matches: Arc<Matches<T>>) {
        if generation != self.generation || self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            self.evict();
        }
        self.entries.insert(subject.into(), matches);
    }

    fn evict(&mut self) {
        // HashMap iteration order follows the random seed, so this drops arbitrary entries.
        let mut to_drop = (self.capacity / 4).max(1);
        self.entries.retain(|_, _| {
            if to_drop == 0 {
                return true;
            }
            to_drop -= 1;
            false
        });
    }

    /// The number of cached subjects.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most subjects held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.generation = 0;
    }
}

impl<T> fmt::Debug for MatchCache<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatchCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.capacity)
            .field("generation", &self.generation)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_until_the_sublist_changes() {
        let mut s = Sublist::new();
        s.insert(b"foo.*", None, 1).unwrap();
        let mut cache = MatchCache::new(8);
        let first = cache.get(&s, b"foo.bar");
        let second = cache.get(&s, b"foo.bar");
        assert!(Arc::ptr_eq(&first, &second), "second lookup is a hit");
        assert_eq!(second.plain, [1]);

        s.insert(b"foo.bar", None, 2).unwrap();
        let third = cache.get(&s, b"foo.bar");
        assert!(!Arc::ptr_eq(&first, &third));
        assert_eq!(third.len(), 2);

        assert!(s.remove(b"foo.*", None, &1));
        assert_eq!(cache.get(&s, b"foo.bar").plain, [2]);
        assert!(s.remove(b"foo.bar", None, &2));
        assert!(cache.get(&s, b"foo.bar").is_empty());
        assert_eq!(cache.len(), 1, "everything older was dropped");
    }

    #[test]
    fn another_sublist_is_never_served_from_the_cache() {
        let mut a = Sublist::new();
        let mut b = Sublist::new();
        a.insert(b"x", None, 1).unwrap();
        b.insert(b"x", None, 2).unwrap();
        let mut cache = MatchCache::new(8);
        assert_eq!(cache.get(&a, b"x").plain, [1]);
        assert_eq!(cache.get(&b, b"x").plain, [2]);
        assert_eq!(cache.get(&a, b"x").plain, [1]);
    }

    #[test]
    fn stays_bounded() {
        let mut s = Sublist::new();
        s.insert(b">", None, 0u8).unwrap();
        let mut cache = MatchCache::new(16);
        for i in 0..1_000 {
            let subject = format!("s.{i}");
            assert_eq!(cache.get(&s, subject.as_bytes()).plain, [0]);
            assert!(cache.len() <= 16);
        }
        assert!(cache.len() >= 12);

        let mut none = MatchCache::new(0);
        assert_eq!(none.get(&s, b"a").plain, [0]);
        assert!(none.is_empty());

        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.get(&s, b"a").plain, [0]);
    }

    #[test]
    fn store_under_an_old_generation_is_dropped() {
        let mut sl = Sublist::new();
        sl.insert(b"a", None, 1u32).unwrap();
        let mut cache = MatchCache::new(8);
        let g1 = sl.generation();
        assert!(cache.lookup(g1, b"a").is_none());
        let computed = Arc::new(sl.matches(b"a"));
        sl.insert(b"a", None, 2).unwrap();
        // The cache already moved on to the new generation: the old result must not be stored.
        assert!(cache.lookup(sl.generation(), b"a").is_none());
        cache.store(g1, b"a", computed);
        assert!(cache.lookup(sl.generation(), b"a").is_none());
        cache.store(sl.generation(), b"a", Arc::new(sl.matches(b"a")));
        assert_eq!(cache.lookup(sl.generation(), b"a").unwrap().plain.len(), 2);
    }
}
