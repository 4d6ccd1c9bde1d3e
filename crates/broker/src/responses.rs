//! `allow_responses`: a client that may only answer requests gets a temporary right to publish to
//! the reply subject of each request delivered to it (at most `max` times, for `ttl`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rnats_auth::ResponsePermission;

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Grants kept before expired ones are swept, and the most kept at all.
const SWEEP_AT: usize = 1024;
const MAX_GRANTS: usize = 64 * 1024;

struct Grant {
    left: Option<u32>,
    expires: Instant,
}

struct Grants {
    permission: ResponsePermission,
    by_reply: FastMap<Box<[u8]>, Grant>,
}

/// Per-client reply grants; free to check when the client has no response permission.
#[derive(Default)]
pub(crate) struct ReplyGrants {
    enabled: AtomicBool,
    inner: Mutex<Option<Grants>>,
}

impl ReplyGrants {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Grants>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets (or clears) the permission after authentication or reload; existing grants go.
    pub(crate) fn configure(&self, permission: Option<ResponsePermission>) {
        let mut inner = self.lock();
        self.enabled.store(permission.is_some(), Ordering::Release);
        *inner = permission.map(|permission| Grants {
            permission,
            by_reply: FastMap::default(),
        });
    }

    /// Whether the client has a response permission at all (one atomic load): callers check
    /// it before reading the clock for [`ReplyGrants::grant`].
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// A request with this reply subject was delivered to the client.
    pub(crate) fn grant(&self, reply: &[u8], now: Instant) {
        if !self.enabled() {
            return;
        }
        let mut inner = self.lock();
        let Some(grants) = inner.as_mut() else {
            return;
        };
        if grants.by_reply.len() >= SWEEP_AT {
            grants.by_reply.retain(|_, g| g.expires > now);
            if grants.by_reply.len() >= MAX_GRANTS {
                return;
            }
        }
        let grant = Grant {
            left: grants.permission.max,
            expires: now + grants.permission.ttl,
        };
        grants.by_reply.insert(reply.into(), grant);
    }

    /// Whether the client may publish to `subject` as a response; uses one grant.
    pub(crate) fn take(&self, subject: &[u8], now: Instant) -> bool {
        if !self.enabled.load(Ordering::Acquire) {
            return false;
        }
        let mut inner = self.lock();
        let Some(grants) = inner.as_mut() else {
            return false;
        };
        let Some(grant) = grants.by_reply.get_mut(subject) else {
            return false;
        };
        if grant.expires <= now {
            grants.by_reply.remove(subject);
            return false;
        }
        match &mut grant.left {
            None => true,
            Some(left) => {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    grants.by_reply.remove(subject);
                }
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn grants_are_limited_in_count_and_time() {
        let g = ReplyGrants::default();
        let now = Instant::now();
        g.grant(b"_INBOX.1", now);
        assert!(!g.take(b"_INBOX.1", now), "no permission configured");
        g.configure(Some(ResponsePermission {
            max: Some(2),
            ttl: Duration::from_secs(60),
        }));
        g.grant(b"_INBOX.1", now);
        assert!(g.take(b"_INBOX.1", now));
        assert!(g.take(b"_INBOX.1", now));
        assert!(!g.take(b"_INBOX.1", now), "max reached");
        g.grant(b"_INBOX.2", now);
        assert!(
            !g.take(b"_INBOX.2", now + Duration::from_secs(61)),
            "expired"
        );
        assert!(!g.take(b"_INBOX.3", now), "never granted");
    }
}
