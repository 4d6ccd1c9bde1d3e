//! Account resolvers that fetch the accounts they do not hold: `resolver: URL(…)` (an HTTP GET
//! of the URL followed by the account key, nats-server's `URLAccResolver`) and
//! `resolver { type: cache }` (a `$SYS.REQ.ACCOUNT.<id>.CLAIMS.LOOKUP` request answered by
//! other servers, `CacheDirAccResolver`; see `resolver_cache.rs`).
//!
//! A fetch waits on the network, so it runs only where a login may block: the operator
//! authenticator declares `may_block` for an account that is neither loaded nor held here,
//! and the driver runs that login on the hashing gate's worker threads, never on an I/O
//! thread. Because a client picks the account its user JWT names, the fetches are bounded:
//! logins naming the same account share one fetch, at most [`MAX_FETCHES`] different accounts
//! are fetched at a time (more are refused at once), and every result, found or not, is
//! remembered for [`RECENT`] so a flood of logins naming unknown accounts costs at most one
//! request per account and second. Nothing fetched is trusted here: the account JWT is
//! verified against the operators when it is loaded, as for every resolver.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rnats_jwt::{AccountResolver, ResolverError};

/// Most accounts fetched at the same time; a login needing another is refused at once.
pub(crate) const MAX_FETCHES: usize = 8;
/// How long a fetch result (the JWT, or that there is none) is reused without asking again.
pub(crate) const RECENT: Duration = Duration::from_secs(1);
/// Most fetch results remembered; the oldest leave first.
const MAX_RECENT: usize = 4096;

/// Where a remote resolver fetches account JWTs from. Called on a worker thread; it may
/// block up to its own timeout.
pub(crate) trait Source: Send + Sync {
    /// The JWT of `account`; the error is a reason for the log (naming no credentials).
    fn get(&self, account: &str) -> Result<String, String>;

    /// How long [`get`](Self::get) may take at most.
    fn timeout(&self) -> Duration;
}

impl<T: Source + ?Sized> Source for Arc<T> {
    fn get(&self, account: &str) -> Result<String, String> {
        (**self).get(account)
    }

    fn timeout(&self) -> Duration {
        (**self).timeout()
    }
}

/// One fetch in progress: the logins waiting for the same account wait for its result.
#[derive(Default)]
struct Flight {
    result: Mutex<Option<Option<String>>>,
    done: Condvar,
}

/// A remote resolver: a local store (none for the URL resolver, which asks every time, as
/// nats-server's does; the cache directory for the cache resolver) in front of a [`Source`].
pub(crate) struct RemoteResolver {
    /// `URL` or `cache`, for the log.
    kind: &'static str,
    store: Option<Arc<dyn AccountResolver>>,
    source: Box<dyn Source>,
    flights: Mutex<HashMap<String, Arc<Flight>>>,
    recent: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl RemoteResolver {
    /// A resolver fetching from `source`, keeping what it fetched in `store` when given.
    pub(crate) fn new(
        kind: &'static str,
        store: Option<Arc<dyn AccountResolver>>,
        source: Box<dyn Source>,
    ) -> Self {
        Self {
            kind,
            store,
            source,
            flights: Mutex::default(),
            recent: Mutex::default(),
        }
    }

    /// A result fetched less than [`RECENT`] ago: `Some(None)` when the account was missing.
    fn recent(&self, account: &str) -> Option<Option<String>> {
        let recent = lock(&self.recent);
        let (at, jwt) = recent.get(account)?;
        (at.elapsed() < RECENT).then(|| jwt.clone())
    }

    fn remember(&self, account: &str, jwt: Option<String>) {
        let mut recent = lock(&self.recent);
        if recent.len() >= MAX_RECENT {
            recent.retain(|_, (at, _)| at.elapsed() < RECENT);
            if recent.len() >= MAX_RECENT
                && let Some(oldest) = recent
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
            {
                recent.remove(&oldest);
            }
        }
        recent.insert(account.to_owned(), (Instant::now(), jwt));
    }

    /// Fetches `account` from the source, sharing a fetch already under way.
    fn fetch_remote(&self, account: &str) -> Option<String> {
        let (flight, leader) = {
            let mut flights = lock(&self.flights);
            match flights.get(account) {
                Some(f) => (f.clone(), false),
                None if flights.len() >= MAX_FETCHES => {
                    tracing::warn!(
                        "{} resolver: too many account fetches under way, account {account} not fetched",
                        self.kind
                    );
                    return None;
                }
                None => {
                    let f = Arc::new(Flight::default());
                    flights.insert(account.to_owned(), f.clone());
                    (f, true)
                }
            }
        };
        if !leader {
            let wait = self.source.timeout() + Duration::from_secs(1);
            let guard = lock(&flight.result);
            let (guard, _) = flight
                .done
                .wait_timeout_while(guard, wait, |r| r.is_none())
                .unwrap_or_else(|e| e.into_inner());
            return guard.clone().flatten();
        }
        // The leader: whatever happens (a panic included), the flight ends.
        let _landing = Landing {
            resolver: self,
            account,
            flight: &flight,
        };
        let result = match self.source.get(account) {
            Ok(jwt) => {
                let jwt = jwt.trim().to_owned();
                let kept = match &self.store {
                    Some(store) => match store.store(account, &jwt) {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::error!(
                                "{} resolver: account {account} fetched but not stored: {e}",
                                self.kind
                            );
                            matches!(e, ResolverError::Full | ResolverError::Io(_))
                        }
                    },
                    None => true,
                };
                (kept && !jwt.is_empty()).then_some(jwt)
            }
            Err(reason) => {
                tracing::warn!("{} resolver: {reason}", self.kind);
                None
            }
        };
        self.remember(account, result.clone());
        *lock(&flight.result) = Some(result.clone());
        result
    }
}

/// Ends a fetch: wakes the logins waiting for it (with no JWT if the fetch did not finish)
/// and frees its place.
struct Landing<'a> {
    resolver: &'a RemoteResolver,
    account: &'a str,
    flight: &'a Flight,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        lock(&self.flight.result).get_or_insert(None);
        self.flight.done.notify_all();
        lock(&self.resolver.flights).remove(self.account);
    }
}

impl AccountResolver for RemoteResolver {
    fn fetch(&self, account: &str) -> Option<String> {
        if let Some(jwt) = self.store.as_ref().and_then(|s| s.fetch(account)) {
            return Some(jwt);
        }
        if let Some(result) = self.recent(account) {
            return result;
        }
        self.fetch_remote(account)
    }

    fn store(&self, account: &str, jwt: &str) -> Result<bool, ResolverError> {
        match &self.store {
            Some(store) => store.store(account, jwt),
            // `resolver_preload` beside a URL resolver: nats-server's URL resolver refuses
            // to store.
            None => Err(ResolverError::Io(std::io::Error::other(
                "store operation not supported for URL Resolver",
            ))),
        }
    }

    fn delete(&self, account: &str) -> Result<(), ResolverError> {
        match &self.store {
            Some(store) => store.delete(account),
            None => Err(ResolverError::DeleteNotAllowed),
        }
    }

    fn list(&self) -> Vec<String> {
        self.store.as_ref().map(|s| s.list()).unwrap_or_default()
    }

    fn is_remote(&self) -> bool {
        true
    }

    fn fetch_may_block(&self, account: &str) -> bool {
        let held = self
            .store
            .as_ref()
            .is_some_and(|s| s.fetch(account).is_some());
        !held && self.recent(account).is_none()
    }
}

impl fmt::Debug for RemoteResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteResolver")
            .field("kind", &self.kind)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        calls: Arc<AtomicUsize>,
        answer: Option<&'static str>,
        delay: Duration,
    }

    impl Source for Counting {
        fn get(&self, _account: &str) -> Result<String, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            self.answer
                .map(str::to_owned)
                .ok_or_else(|| "404".to_owned())
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(2)
        }
    }

    fn resolver(
        answer: Option<&'static str>,
        delay: Duration,
    ) -> (RemoteResolver, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let source = Counting {
            calls: calls.clone(),
            answer,
            delay,
        };
        (RemoteResolver::new("test", None, Box::new(source)), calls)
    }

    #[test]
    fn misses_are_remembered_briefly() {
        let (r, calls) = resolver(None, Duration::ZERO);
        let key = nkeys::KeyPair::new_account().public_key();
        assert!(r.fetch_may_block(&key));
        assert_eq!(r.fetch(&key), None);
        assert!(!r.fetch_may_block(&key), "a recent miss answers at once");
        assert_eq!(r.fetch(&key), None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn logins_naming_one_account_share_one_fetch() {
        let (r, calls) = resolver(Some("a.b.c"), Duration::from_millis(200));
        let r = Arc::new(r);
        let key = nkeys::KeyPair::new_account().public_key();
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (r, key) = (r.clone(), key.clone());
                std::thread::spawn(move || r.fetch(&key))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap().as_deref(), Some("a.b.c"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn distinct_fetches_are_bounded() {
        let (r, calls) = resolver(Some("a.b.c"), Duration::from_millis(300));
        let r = Arc::new(r);
        let threads: Vec<_> = (0..MAX_FETCHES + 4)
            .map(|_| {
                let r = r.clone();
                let key = nkeys::KeyPair::new_account().public_key();
                std::thread::spawn(move || r.fetch(&key))
            })
            .collect();
        let mut answered = 0;
        for t in threads {
            answered += usize::from(t.join().unwrap().is_some());
        }
        assert!(answered <= MAX_FETCHES, "{answered} fetched");
        assert_eq!(calls.load(Ordering::SeqCst), answered);
    }
}
