//! An issuer's signing keys: a JWK Set read from a file or fetched (by a [`JwksFetcher`] the
//! broker installs), kept current by a background thread, and refetched (rate-limited) when a
//! token names an unknown `kid`.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Largest JWK Set accepted, in bytes.
pub(crate) const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// Most keys kept from one JWK Set.
pub(crate) const MAX_JWKS_KEYS: usize = 64;
/// Longest a login waits for the first fetch after start or reload.
pub(crate) const FIRST_FETCH_WAIT: Duration = Duration::from_secs(6);
/// Least time between two fetches triggered by logins (unknown `kid`, keys not loaded).
pub(crate) const MIN_ON_DEMAND_INTERVAL: Duration = Duration::from_secs(5);
/// First retry delay after a failed background fetch; doubled up to the refresh interval.
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// Longest retry delay after failed background fetches.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// One signing key of a set: its `kid` and its JWK, as JSON text for `jwt-simple`'s importers.
#[derive(Debug, Clone)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    pub(crate) json: String,
}

/// A parsed JWK Set (signing keys only).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// Parses `{"keys": [...]}`, keeping the signature keys (no `use`, or `use: sig`) of the
    /// types this server verifies (RSA, EC, OKP).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() as u64 > MAX_JWKS_BYTES {
            return Err(format!("JWK Set larger than {MAX_JWKS_BYTES} bytes"));
        }
        let doc: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("JWK Set is not JSON: {e}"))?;
        let Some(list) = doc.get("keys").and_then(Value::as_array) else {
            return Err("JWK Set has no \"keys\" array".into());
        };
        let mut keys = Vec::new();
        for k in list {
            let Some(obj) = k.as_object() else { continue };
            let signing = obj.get("use").is_none_or(|u| u == "sig");
            let usable = matches!(
                obj.get("kty").and_then(Value::as_str),
                Some("RSA" | "EC" | "OKP")
            );
            if !signing || !usable {
                continue;
            }
            if keys.len() == MAX_JWKS_KEYS {
                return Err(format!(
                    "JWK Set has more than {MAX_JWKS_KEYS} signing keys"
                ));
            }
            keys.push(Jwk {
                kid: obj.get("kid").and_then(Value::as_str).map(str::to_owned),
                json: k.to_string(),
            });
        }
        if keys.is_empty() {
            return Err("JWK Set has no usable signing key".into());
        }
        Ok(Self { keys })
    }

    /// The key named `kid`; a token without `kid` may only use a set of exactly one key.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&Jwk> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }
}

/// Fetches a JWK Set document (`jwks_url`). The broker provides one over HTTPS with a bounded
/// time; it is called from a background thread and from login checks that the broker runs on
/// worker threads ([`may_block`](crate::Authenticator::may_block)), never on an I/O thread.
pub trait JwksFetcher: Send + Sync + 'static {
    /// The document at `url`, or why not (for the log; no secrets in it).
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

impl<F> JwksFetcher for F
where
    F: Fn(&str) -> Result<Vec<u8>, String> + Send + Sync + 'static,
{
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        self(url)
    }
}

fn fetch(url: &str, fetcher: Option<&dyn JwksFetcher>) -> Result<KeySet, String> {
    let Some(fetcher) = fetcher else {
        return Err(format!("no JWKS fetcher is installed to fetch {url}"));
    };
    let body = fetcher.fetch(url)?;
    KeySet::parse(&body).map_err(|e| format!("{url}: {e}"))
}

/// Where the keys come from.
enum Source {
    Fixed,
    Url {
        url: String,
        fetcher: Option<Arc<dyn JwksFetcher>>,
    },
}

/// The current keys of one issuer.
pub(crate) struct KeyStore {
    issuer: String,
    source: Source,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching, so logins and the refresher never fetch twice at once.
    fetching: Mutex<()>,
    /// The login-triggered fetch granted last: when, and to which token (a SHA-256 of it).
    /// [`KeyStore::claim_fetch`] grants it (from `may_block`, so the login goes to a worker
    /// thread); only that login may then fetch, so no login answered inline ever waits on
    /// the network.
    granted: Mutex<Option<(Instant, [u8; 32])>>,
    /// Whether the granted fetch is still to be made.
    ticket: Mutex<Option<[u8; 32]>>,
    /// Set once the first fetch has succeeded or failed: logins that arrive before (just
    /// after start or a reload) wait for it on a worker thread rather than being refused.
    first_attempt: (Mutex<bool>, Condvar),
}

fn fingerprint(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl KeyStore {
    fn with_source(issuer: &str, source: Source, keys: Option<KeySet>) -> Self {
        Self {
            issuer: issuer.to_owned(),
            source,
            keys: RwLock::new(keys.map(Arc::new)),
            fetching: Mutex::new(()),
            granted: Mutex::new(None),
            ticket: Mutex::new(None),
            first_attempt: (Mutex::new(false), Condvar::new()),
        }
    }

    /// Keys read once (a `jwks_file`, or keys given by a test).
    pub(crate) fn fixed(issuer: &str, keys: KeySet) -> Self {
        Self::with_source(issuer, Source::Fixed, Some(keys))
    }

    /// Reads a `jwks_file`.
    pub(crate) fn from_file(issuer: &str, path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read jwks_file {}: {e}", path.display()))?;
        let keys = KeySet::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self::fixed(issuer, keys))
    }

    /// Keys fetched from `url`, not loaded yet: call [`spawn_refresher`] to load them.
    pub(crate) fn from_url(issuer: &str, url: &str, fetcher: Option<Arc<dyn JwksFetcher>>) -> Self {
        let source = Source::Url {
            url: url.to_owned(),
            fetcher,
        };
        Self::with_source(issuer, source, None)
    }

    /// The keys now, if loaded.
    pub(crate) fn current(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether keys are fetched (so a miss may be cured by fetching).
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self.source, Source::Url { .. })
    }

    /// A login with `token` finds no key for its `kid`: grants it a fetch, unless one was
    /// granted less than [`MIN_ON_DEMAND_INTERVAL`] ago. `true`: the login must run where
    /// it may block.
    pub(crate) fn claim_fetch(&self, token: &str) -> bool {
        if !self.is_remote() {
            return false;
        }
        let mut granted = self.granted.lock().unwrap_or_else(PoisonError::into_inner);
        if granted.is_some_and(|(t, _)| t.elapsed() < MIN_ON_DEMAND_INTERVAL) {
            return false;
        }
        let fp = fingerprint(token);
        *granted = Some((Instant::now(), fp));
        *self.ticket.lock().unwrap_or_else(PoisonError::into_inner) = Some(fp);
        true
    }

    /// The keys after the fetch granted to `token` by [`KeyStore::claim_fetch`], if it was;
    /// otherwise the keys as they are, at once. Blocks as long as the fetcher may; the
    /// broker runs such logins on worker threads.
    pub(crate) fn refetch_on_demand(
        &self,
        token: &str,
        seen: Option<&Arc<KeySet>>,
    ) -> Option<Arc<KeySet>> {
        let Source::Url { url, fetcher } = &self.source else {
            return self.current();
        };
        let fp = fingerprint(token);
        {
            let mut ticket = self.ticket.lock().unwrap_or_else(PoisonError::into_inner);
            if *ticket != Some(fp) {
                return self.current();
            }
            *ticket = None;
        }
        let _guard = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        // The refresher fetched while we waited for the lock: use what it got.
        let now_keys = self.current();
        let changed = match (&now_keys, seen) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (Some(_), None) => true,
            _ => false,
        };
        if changed {
            return now_keys;
        }
        self.store(fetch(url, fetcher.as_deref()));
        self.current()
    }

    /// Fetches now (the background refresher); `true` on success.
    fn refresh(&self) -> bool {
        let Source::Url { url, fetcher } = &self.source else {
            return true;
        };
        let _guard = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        let ok = self.store(fetch(url, fetcher.as_deref()));
        let (done, cv) = &self.first_attempt;
        *done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
        ok
    }

    /// Whether the keys are fetched and not loaded yet: a login must then run where it may
    /// wait for them.
    pub(crate) fn is_loading(&self) -> bool {
        self.is_remote() && self.current().is_none()
    }

    /// The keys, once the first fetch has been tried (waiting at most `max`).
    pub(crate) fn after_first_attempt(&self, max: Duration) -> Option<Arc<KeySet>> {
        if self.is_remote() {
            let (done, cv) = &self.first_attempt;
            let guard = done.lock().unwrap_or_else(PoisonError::into_inner);
            let _unused = cv
                .wait_timeout_while(guard, max, |d| !*d)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.current()
    }

    fn store(&self, fetched: Result<KeySet, String>) -> bool {
        match fetched {
            Ok(keys) => {
                let count = keys.keys.len();
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(keys));
                tracing::debug!(
                    "oidc: loaded {count} signing keys of issuer {:?}",
                    self.issuer
                );
                true
            }
            Err(e) => {
                // Keys already loaded stay in use: a provider that is briefly down does not
                // lock everyone out.
                tracing::warn!(
                    "oidc: signing keys of issuer {:?} not refreshed: {e}",
                    self.issuer
                );
                false
            }
        }
    }
}

/// Stops the refresher thread when dropped (with the authenticator, on reload or shutdown).
pub(crate) struct Refresher {
    _stop: mpsc::Sender<()>,
}

/// Starts the thread that loads `store`'s keys at once, retries with backoff while the
/// provider is unreachable, and then refreshes them every `every`.
pub(crate) fn spawn_refresher(store: &Arc<KeyStore>, every: Duration) -> Option<Refresher> {
    if !store.is_remote() {
        return None;
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let weak: Weak<KeyStore> = Arc::downgrade(store);
    let spawned = thread::Builder::new()
        .name("rnats-oidc-jwks".into())
        .spawn(move || {
            let mut retry = FIRST_RETRY;
            loop {
                let Some(store) = weak.upgrade() else { return };
                let wait = if store.refresh() {
                    retry = FIRST_RETRY;
                    every
                } else {
                    let wait = retry;
                    retry = (retry * 2).min(MAX_RETRY).min(every.max(FIRST_RETRY));
                    wait
                };
                drop(store);
                match stopped.recv_timeout(wait) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
    match spawned {
        Ok(_) => Some(Refresher { _stop: stop }),
        Err(e) => {
            tracing::error!("oidc: cannot start the JWKS refresher thread: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_signing_keys_only() {
        let set = KeySet::parse(
            br#"{"keys":[
                {"kty":"RSA","kid":"a","use":"sig","n":"x","e":"AQAB"},
                {"kty":"RSA","kid":"b","use":"enc","n":"x","e":"AQAB"},
                {"kty":"oct","kid":"c","k":"c2VjcmV0"},
                {"kty":"OKP","kid":"d","crv":"Ed25519","x":"x"}
            ]}"#,
        )
        .unwrap();
        assert!(set.find(Some("a")).is_some() && set.find(Some("d")).is_some());
        assert!(set.find(Some("b")).is_none() && set.find(Some("c")).is_none());
        assert!(set.find(None).is_none(), "no kid with two keys");
        assert!(KeySet::parse(b"{}").is_err());
        assert!(KeySet::parse(br#"{"keys":[{"kty":"oct","k":"AA"}]}"#).is_err());
        assert!(KeySet::parse(b"not json").is_err());
        let one =
            KeySet::parse(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}"#).unwrap();
        assert!(
            one.find(None).is_some(),
            "the only key serves tokens without kid"
        );
    }
}
