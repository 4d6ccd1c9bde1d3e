//! `resolver { type: cache, dir, ttl, limit, timeout }` (nats-server `CacheDirAccResolver`):
//! account JWTs looked up from the other servers with a `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP`
//! request in the system account, and cached in `dir` (one `<account>.jwt` file each, as the
//! full resolver keeps them).
//!
//! The cache holds at most `limit` JWTs (default 1000): storing one more removes the least
//! recently used. Each leaves after `ttl` when set (a use starts its `ttl` again), else when
//! its JWT expires. As in nats-server, what leaves the cache stays in force for accounts
//! already loaded; it only has to be looked up again after a restart.
//!
//! The lookup (the [`LookupSource`]) is answered by the first reply: the JWT, or an empty
//! message for an account the other server does not know. It waits up to `timeout`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime};

use rnats_jwt::{AccountResolver, DirDelete, DirResolver, JwtError, ResolverError};

use crate::resolver_remote::Source;

/// A lookup handed to the system-account task: the account key, and where the answer goes.
pub(crate) type LookupJob = (String, mpsc::SyncSender<Result<String, String>>);

/// Most lookups queued for the system-account task.
const LOOKUP_QUEUE: usize = 64;

/// Asks the system account for JWTs; the request itself is sent by the claim services task
/// (`claims.rs`), which owns the internal client, once the server runs.
pub(crate) struct LookupSource {
    timeout: Duration,
    jobs: OnceLock<tokio::sync::mpsc::Sender<LookupJob>>,
}

impl LookupSource {
    /// A source waiting `timeout` for an answer.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            jobs: OnceLock::new(),
        }
    }

    /// How long a lookup waits for an answer.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Connects the source to the task sending the requests; returns where the jobs arrive.
    pub(crate) fn connect(&self) -> Option<tokio::sync::mpsc::Receiver<LookupJob>> {
        let (tx, rx) = tokio::sync::mpsc::channel(LOOKUP_QUEUE);
        self.jobs.set(tx).ok().map(|()| rx)
    }
}

/// A [`Source`] sharing one [`LookupSource`] (kept by the operator mode to connect it).
pub(crate) struct SharedLookup(pub(crate) std::sync::Arc<LookupSource>);

impl Source for SharedLookup {
    fn get(&self, account: &str) -> Result<String, String> {
        let Some(jobs) = self.0.jobs.get() else {
            return Err(format!(
                "account {account} not fetched: the system account services are not running"
            ));
        };
        let (tx, rx) = mpsc::sync_channel(1);
        jobs.try_send((account.to_owned(), tx))
            .map_err(|_| format!("account {account} not fetched: too many lookups"))?;
        match rx.recv_timeout(self.0.timeout + Duration::from_millis(500)) {
            Ok(answer) => answer.map_err(|e| format!("account {account}: {e}")),
            Err(_) => Err(format!("account {account}: fetching jwt timed out")),
        }
    }

    fn timeout(&self) -> Duration {
        self.0.timeout
    }
}

/// When a cached JWT leaves, and when it was last used.
struct Entry {
    expires: Option<Instant>,
    used: u64,
}

#[derive(Default)]
struct Tracker {
    entries: HashMap<String, Entry>,
    tick: u64,
}

/// The cache directory: a [`DirResolver`] whose entries leave after `ttl` or when their JWT
/// expires, the least recently used leaving when `limit` are held.
#[derive(Debug)]
pub(crate) struct CacheStore {
    dir: DirResolver,
    limit: usize,
    ttl: Option<Duration>,
    tracker: Mutex<Tracker>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl CacheStore {
    /// Opens (creating it if needed) `dir`, keeping what it holds (its `ttl` starting now).
    pub(crate) fn open(
        dir: &Path,
        limit: usize,
        ttl: Option<Duration>,
    ) -> Result<Self, ResolverError> {
        let store = Self {
            dir: DirResolver::open(dir, None, DirDelete::Remove)?,
            limit: limit.max(1),
            ttl,
            tracker: Mutex::default(),
        };
        for key in store.dir.list() {
            let jwt = store.dir.fetch(&key).unwrap_or_default();
            match store.expiry(&jwt) {
                Some(expires) => {
                    let mut t = store.lock();
                    t.tick += 1;
                    let used = t.tick;
                    t.entries.insert(key, Entry { expires, used });
                }
                None => {
                    let _ = store.dir.delete(&key);
                }
            }
        }
        let mut t = store.lock();
        while t.entries.len() > store.limit {
            store.evict_lru(&mut t);
        }
        drop(t);
        Ok(store)
    }

    /// When `jwt` leaves the cache: after `ttl`, else at its expiry; `None` when it has
    /// expired already.
    fn expiry(&self, jwt: &str) -> Option<Option<Instant>> {
        if let Some(ttl) = self.ttl {
            return Some(Instant::now().checked_add(ttl));
        }
        match rnats_jwt::decode_generic(jwt) {
            Err(JwtError::Expired) => None,
            Ok(g) => Some(g.expires.and_then(|exp| {
                let left = exp.duration_since(SystemTime::now()).unwrap_or_default();
                Instant::now().checked_add(left)
            })),
            Err(_) => Some(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes what has expired.
    fn sweep(&self, t: &mut Tracker) {
        let now = Instant::now();
        let gone: Vec<String> = t
            .entries
            .iter()
            .filter(|(_, e)| e.expires.is_some_and(|x| x <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in gone {
            if self.dir.delete(&key).is_ok() {
                t.entries.remove(&key);
            }
        }
    }

    fn evict_lru(&self, t: &mut Tracker) {
        let oldest = t
            .entries
            .iter()
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest {
            let _ = self.dir.delete(&key);
            t.entries.remove(&key);
        }
    }
}

impl AccountResolver for CacheStore {
    fn fetch(&self, account: &str) -> Option<String> {
        let mut t = self.lock();
        self.sweep(&mut t);
        t.tick += 1;
        let tick = t.tick;
        let ttl = self.ttl;
        let entry = t.entries.get_mut(account)?;
        entry.used = tick;
        if let Some(ttl) = ttl {
            entry.expires = Instant::now().checked_add(ttl);
        }
        drop(t);
        self.dir.fetch(account)
    }

    fn store(&self, account: &str, jwt: &str) -> Result<bool, ResolverError> {
        let mut t = self.lock();
        self.sweep(&mut t);
        if !t.entries.contains_key(account) && t.entries.len() >= self.limit {
            self.evict_lru(&mut t);
        }
        let Some(expires) = self.expiry(jwt) else {
            return Err(ResolverError::InvalidJwt);
        };
        let changed = self.dir.store(account, jwt)?;
        t.tick += 1;
        let used = t.tick;
        t.entries
            .insert(account.to_owned(), Entry { expires, used });
        Ok(changed)
    }

    fn delete(&self, account: &str) -> Result<(), ResolverError> {
        let mut t = self.lock();
        self.dir.delete(account)?;
        t.entries.remove(account);
        Ok(())
    }

    fn list(&self) -> Vec<String> {
        let mut t = self.lock();
        self.sweep(&mut t);
        drop(t);
        self.dir.list()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rnats-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn least_recently_used_leaves_first() {
        let dir = scratch("lru");
        let keys: Vec<String> = (0..3)
            .map(|_| nkeys::KeyPair::new_account().public_key())
            .collect();
        let c = CacheStore::open(&dir, 2, Some(Duration::from_secs(3600))).unwrap();
        c.store(&keys[0], "a.b.c").unwrap();
        c.store(&keys[1], "d.e.f").unwrap();
        assert!(c.fetch(&keys[0]).is_some(), "0 used last");
        c.store(&keys[2], "g.h.i").unwrap();
        assert!(c.fetch(&keys[1]).is_none(), "1 evicted");
        assert!(!dir.join(format!("{}.jwt", keys[1])).exists());
        assert!(c.fetch(&keys[0]).is_some() && c.fetch(&keys[2]).is_some());
        // Reopened: the files are still the cache.
        drop(c);
        let c = CacheStore::open(&dir, 1, None).unwrap();
        assert_eq!(c.list().len(), 1, "reopened with a lower limit");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ttl_removes_entries() {
        let dir = scratch("ttl");
        let key = nkeys::KeyPair::new_account().public_key();
        let c = CacheStore::open(&dir, 10, Some(Duration::from_millis(1))).unwrap();
        c.store(&key, "a.b.c").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.fetch(&key).is_none());
        assert!(c.list().is_empty());
        assert!(!dir.join(format!("{key}.jwt")).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
