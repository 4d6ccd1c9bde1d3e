//! Stored secrets (plain, bcrypt, argon2id), constant-time comparison, the verified-secret
//! cache, and password hashing for `rnats-server passwd`.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::HashError;

/// A configured password or token.
#[derive(Clone)]
pub(crate) enum StoredSecret {
    /// Compared in constant time (over SHA-256 digests, so the length does not leak either).
    Plain(String),
    /// `$2a$`/`$2b$`/`$2x$`/`$2y$` + two-digit cost: verified with bcrypt.
    Bcrypt(String),
    /// `$argon2id$…` PHC string: verified with argon2 (an rnats extension).
    Argon2(String),
}

impl StoredSecret {
    /// Classifies a configured secret exactly as nats-server does for bcrypt
    /// (`^\$2[abxy]\$\d{2}\$`); a plaintext secret of that shape can never match.
    pub(crate) fn new(s: &str) -> Self {
        if is_bcrypt(s) {
            Self::Bcrypt(s.to_owned())
        } else if s.starts_with("$argon2id$") {
            Self::Argon2(s.to_owned())
        } else {
            Self::Plain(s.to_owned())
        }
    }

    /// Whether verification is slow (and worth caching).
    pub(crate) fn is_hashed(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }

    /// The stored form (for the cache key; never logged).
    fn stored(&self) -> &str {
        match self {
            Self::Plain(s) | Self::Bcrypt(s) | Self::Argon2(s) => s,
        }
    }

    /// Whether the stored form is well formed (argon2 strings must parse).
    pub(crate) fn is_well_formed(&self) -> bool {
        match self {
            // A PHC string that parses is not enough: it needs a hash and usable parameters,
            // or no password could ever match it.
            Self::Argon2(s) => PasswordHash::new(s).is_ok_and(|h| {
                h.hash.is_some() && h.salt.is_some() && argon2::Params::try_from(&h).is_ok()
            }),
            _ => true,
        }
    }

    /// Checks `presented` the slow way (no cache).
    pub(crate) fn verify(&self, presented: &str) -> bool {
        match self {
            Self::Plain(s) => constant_time_eq(s.as_bytes(), presented.as_bytes()),
            Self::Bcrypt(h) => bcrypt::verify(presented, h).unwrap_or(false),
            Self::Argon2(h) => {
                PasswordHash::new(h).is_ok_and(|parsed| verify_argon2(&parsed, presented))
            }
        }
    }
}

std::thread_local! {
    /// argon2's working memory (19 MiB with the default parameters), kept per thread and
    /// reused: allocating and freeing it per login leaves the allocator holding ever more of
    /// it (glibc keeps freed blocks of that size in its heaps), which looks like a leak.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies `presented` against an argon2 PHC hash, with this thread's reused memory.
fn verify_argon2(hash: &PasswordHash<'_>, presented: &str) -> bool {
    let (Some(expected), Some(salt)) = (&hash.hash, &hash.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = argon2::Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = ARGON2_MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        argon
            .hash_password_into_with_memory(
                presented.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .is_ok()
    });
    hashed && constant_time_eq(&out, expected.as_bytes())
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Plain(<redacted>)",
            Self::Bcrypt(_) => "Bcrypt(<redacted>)",
            Self::Argon2(_) => "Argon2(<redacted>)",
        })
    }
}

/// nats-server's bcrypt test: `^\$2[abxy]\$\d{2}\$`.
pub(crate) fn is_bcrypt(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7
        && b[0] == b'$'
        && b[1] == b'2'
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

/// Constant-time equality that does not leak the lengths either: both sides are hashed first.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let da = Sha256::digest(a);
    let db = Sha256::digest(b);
    da.ct_eq(&db).into()
}

/// Most entries the verified-secret cache keeps.
pub const SECRET_CACHE_CAPACITY: usize = 4096;

/// Counters of the verified-secret cache (see [`ServerAuth::secret_cache_stats`](crate::ServerAuth::secret_cache_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecretCacheStats {
    /// Logins whose hashed secret was found verified in the cache (no bcrypt/argon2 run).
    pub hits: u64,
    /// Hashed-secret checks that ran bcrypt/argon2.
    pub misses: u64,
    /// Entries held now.
    pub entries: usize,
}

/// Remembers which (identity, stored hash, presented secret) triples verified, so a repeat
/// login skips bcrypt/argon2.
///
/// Entries are HMAC-SHA256 fingerprints under a random key drawn when the cache is made: the
/// secret itself is never stored, and a fingerprint is useless outside this process. The
/// stored hash is part of the fingerprint, so a changed password never matches an old entry.
/// A wrong secret never hits (only successes are recorded) and always pays the full hash.
pub(crate) struct SecretCache {
    key: [u8; 32],
    inner: Mutex<CacheInner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct CacheInner {
    set: HashSet<[u8; 32]>,
    order: VecDeque<[u8; 32]>,
}

impl SecretCache {
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            key,
            inner: Mutex::new(CacheInner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Verifies `presented` against `stored` for `identity`, through the cache when the stored
    /// secret is hashed.
    /// Whether checking `presented` needs no hashing: the secret is plain text, or this exact
    /// secret was verified recently (a cache hit).
    pub(crate) fn is_cheap(&self, identity: &str, stored: &StoredSecret, presented: &str) -> bool {
        !stored.is_hashed()
            || self
                .lock()
                .set
                .contains(&self.fingerprint(identity, stored.stored(), presented))
    }

    pub(crate) fn verify(&self, identity: &str, stored: &StoredSecret, presented: &str) -> bool {
        if !stored.is_hashed() {
            return stored.verify(presented);
        }
        let fp = self.fingerprint(identity, stored.stored(), presented);
        if self.lock().set.contains(&fp) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        // The slow hash runs without the lock held.
        if !stored.verify(presented) {
            return false;
        }
        let mut inner = self.lock();
        if inner.set.insert(fp) {
            inner.order.push_back(fp);
            while inner.order.len() > SECRET_CACHE_CAPACITY {
                if let Some(old) = inner.order.pop_front() {
                    inner.set.remove(&old);
                }
            }
        }
        true
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.set.clear();
        inner.order.clear();
    }

    pub(crate) fn stats(&self) -> SecretCacheStats {
        SecretCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.lock().set.len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        // A panic elsewhere cannot leave the set half-updated in a harmful way: recover.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fingerprint(&self, identity: &str, stored: &str, presented: &str) -> [u8; 32] {
        // Hmac accepts keys of any length; 32 bytes cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        for field in [identity, stored, presented] {
            mac.update(&(field.len() as u64).to_le_bytes());
            mac.update(field.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

/// Hashes `password` with bcrypt at `cost` (4..=31; nats-server's tool uses 11), for
/// `rnats-server passwd`. Passwords over 72 bytes are refused rather than silently truncated.
pub fn hash_password_bcrypt(password: &str, cost: u32) -> Result<String, HashError> {
    bcrypt::non_truncating_hash(password, cost).map_err(|e| HashError::Bcrypt(e.to_string()))
}

/// Hashes `password` with argon2id (the argon2 crate's defaults: 19 MiB, 2 passes, 1 lane) and
/// a random salt, as a PHC string (`$argon2id$v=19$…`).
pub fn hash_password_argon2(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Argon2(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_shape() {
        assert!(is_bcrypt("$2a$11$abc"));
        assert!(is_bcrypt("$2y$04$"));
        assert!(!is_bcrypt("$2c$11$abc"));
        assert!(!is_bcrypt("$2a$1$abc"));
        assert!(!is_bcrypt("2a$11$abc"));
        assert!(!is_bcrypt("$argon2id$v=19$"));
    }

    #[test]
    fn plain_compare() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn a_plaintext_password_shaped_like_bcrypt_never_matches() {
        let s = StoredSecret::new("$2a$11$notreallyahash");
        assert!(!s.verify("$2a$11$notreallyahash"));
    }

    #[test]
    fn debug_hides_secrets() {
        let s = StoredSecret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn cache_only_records_successes() {
        let h = hash_password_bcrypt("pw", 4).unwrap();
        let s = StoredSecret::new(&h);
        let c = SecretCache::new();
        assert!(!c.verify("u", &s, "nope"));
        assert!(!c.verify("u", &s, "nope"));
        assert_eq!(c.stats().hits, 0);
        assert!(c.verify("u", &s, "pw"));
        assert!(c.verify("u", &s, "pw"));
        assert_eq!(c.stats().hits, 1);
        // Another identity with the same hash and secret is a separate entry.
        assert!(c.verify("v", &s, "pw"));
        assert_eq!(c.stats().hits, 1);
        c.clear();
        assert!(c.verify("u", &s, "pw"));
        assert_eq!(c.stats().hits, 1);
    }

    #[test]
    fn argon2_roundtrip() {
        let h = hash_password_argon2("pw").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let s = StoredSecret::new(&h);
        assert!(s.is_well_formed());
        assert!(s.verify("pw"));
        assert!(!s.verify("pW"));
    }
}
