//! `allow_responses`: a client that may only answer requests gets a temporary right to publish to
//! the reply subject of each request delivered to it (at most `max` times, for `ttl`).
//!
//! The grants are bounded: past [`MAX_GRANTS`] the oldest grant makes room for the newest, so a
//! requester flooding a responder costs O(1) per request and never stops the responder from
//! answering the requests that keep arriving.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rnats_auth::ResponsePermission;

use crate::expiring::ExpiringMap;

/// Most grants a client holds at once.
pub(crate) const MAX_GRANTS: usize = 64 * 1024;

struct Grants {
    permission: ResponsePermission,
    /// Uses left (`None`: unlimited) by reply subject.
    by_reply: ExpiringMap<Option<u32>>,
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
            by_reply: ExpiringMap::new(MAX_GRANTS),
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
        let (left, expires) = (grants.permission.max, now + grants.permission.ttl);
        grants.by_reply.insert(reply, left, expires, now);
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
        let Some(left) = grants.by_reply.get_mut(subject, now) else {
            return false;
        };
        match left {
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

    /// A flood of requests cannot take the responder's right to answer the newest one.
    #[test]
    fn a_full_table_still_grants_the_newest_request() {
        let g = ReplyGrants::default();
        let now = Instant::now();
        g.configure(Some(ResponsePermission {
            max: Some(1),
            ttl: Duration::from_secs(60),
        }));
        for i in 0..(MAX_GRANTS as u32 + 10_000) {
            g.grant(format!("_INBOX.flood.{i}").as_bytes(), now);
        }
        g.grant(b"_INBOX.honest", now);
        assert!(g.take(b"_INBOX.honest", now));
        assert!(
            !g.take(b"_INBOX.flood.0", now),
            "the oldest grants made room"
        );
    }
}
