//! `connect_rate_limit`: a token bucket per client address for new connections (plain TCP,
//! TLS and WebSocket alike), which refused logins drain faster.
//!
//! Every new connection takes one token from its address's bucket, which refills at
//! `per_address` tokens a second up to `burst`; an address with less than one token left is
//! refused at once (nats-server's `Connection throttling is active` error, after INFO), before
//! it costs a TLS handshake, a connection slot or a password hash. A refused login takes
//! `failed_login_cost` more, down to a debt of `burst`, so a password-guessing flood from one
//! address is slowed to a trickle while its successful users and every other address are not
//! touched. Addresses are IPv4 addresses, or IPv6 /64 prefixes (one host usually holds a whole
//! /64). The table is bounded (`max_addresses`): an address whose bucket is full again is
//! forgotten, and when the table is full the longest-unused address is dropped.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rnats_config::ConnectRateLimit;

use crate::expiring::ExpiringMap;

/// One address's bucket.
struct Bucket {
    /// Tokens left at `at` (negative: a debt left by refused logins).
    tokens: f64,
    at: Instant,
    /// Connections refused since the address last got in (0: it is not throttled).
    refused: u64,
}

/// What [`ConnectLimiter::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    Admitted {
        /// Connections refused before this one since the address was last admitted (to log
        /// the end of a throttling episode once).
        after_refused: u64,
    },
    Throttled {
        /// Whether this is the first refusal of an episode (logged; later ones are counted).
        first: bool,
    },
}

/// The per-address buckets, shared by every listener.
pub(crate) struct ConnectLimiter {
    table: Mutex<Option<(u32, ExpiringMap<Bucket>)>>,
}

impl ConnectLimiter {
    pub(crate) fn new() -> Self {
        Self {
            table: Mutex::new(None),
        }
    }

    /// Takes a token for a new connection from `addr`, or says it is throttled. Always admits
    /// when `limit` is `None`.
    pub(crate) fn admit(&self, addr: SocketAddr, limit: Option<&ConnectRateLimit>) -> Admission {
        self.admit_at(addr, limit, Instant::now())
    }

    fn admit_at(
        &self,
        addr: SocketAddr,
        limit: Option<&ConnectRateLimit>,
        now: Instant,
    ) -> Admission {
        let Some(limit) = limit else {
            return Admission::Admitted { after_refused: 0 };
        };
        self.with_bucket(addr, limit, now, |b| {
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                let after_refused = std::mem::take(&mut b.refused);
                Admission::Admitted { after_refused }
            } else {
                b.refused += 1;
                Admission::Throttled {
                    first: b.refused == 1,
                }
            }
        })
    }

    /// A login from `addr` was refused: its bucket pays `failed_login_cost` more.
    pub(crate) fn failed_login(&self, addr: SocketAddr, limit: Option<&ConnectRateLimit>) {
        self.failed_login_at(addr, limit, Instant::now());
    }

    fn failed_login_at(&self, addr: SocketAddr, limit: Option<&ConnectRateLimit>, now: Instant) {
        let Some(limit) = limit.filter(|l| l.failed_login_cost > 0) else {
            return;
        };
        let floor = -f64::from(limit.burst);
        self.with_bucket(addr, limit, now, |b| {
            b.tokens = (b.tokens - f64::from(limit.failed_login_cost)).max(floor);
        });
    }

    /// Runs `f` on `addr`'s bucket, refilled to `now`, and stores it back with the instant it
    /// will be full again (when it can be forgotten: a fresh bucket is a full one).
    fn with_bucket<R>(
        &self,
        addr: SocketAddr,
        limit: &ConnectRateLimit,
        now: Instant,
        f: impl FnOnce(&mut Bucket) -> R,
    ) -> R {
        let key = address_key(addr.ip());
        let rate = f64::from(limit.per_address);
        let burst = f64::from(limit.burst);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table
            .as_ref()
            .is_some_and(|(cap, _)| *cap != limit.max_addresses)
        {
            // `max_addresses` changed on reload: start over.
            *table = None;
        }
        let (_, map) = table.get_or_insert_with(|| {
            (
                limit.max_addresses,
                ExpiringMap::new(limit.max_addresses as usize),
            )
        });
        let mut bucket = map.remove(&key).unwrap_or(Bucket {
            tokens: burst,
            at: now,
            refused: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        let result = f(&mut bucket);
        let missing = (burst - bucket.tokens).max(0.0);
        // Kept until full again, at least a second (to remember a throttling episode).
        let full_in = Duration::from_secs_f64(missing / rate).max(Duration::from_secs(1));
        map.insert(&key, bucket, now + full_in, now);
        result
    }
}

/// The table's key: an IPv4 address (also when mapped into IPv6), or an IPv6 /64 prefix.
fn address_key(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets()[..8].to_vec(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        format!("{s}:4000").parse().unwrap()
    }

    fn limit(per: u32, burst: u32) -> ConnectRateLimit {
        let mut l = ConnectRateLimit::new(per);
        l.burst = burst;
        l
    }

    fn admitted(a: Admission) -> bool {
        matches!(a, Admission::Admitted { .. })
    }

    #[test]
    fn a_burst_then_the_rate() {
        let l = limit(10, 3);
        let lim = ConnectLimiter::new();
        let t = Instant::now();
        let a = addr("10.0.0.1");
        for _ in 0..3 {
            assert!(admitted(lim.admit_at(a, Some(&l), t)));
        }
        assert_eq!(
            lim.admit_at(a, Some(&l), t),
            Admission::Throttled { first: true }
        );
        assert_eq!(
            lim.admit_at(a, Some(&l), t),
            Admission::Throttled { first: false }
        );
        // Another address is not touched.
        assert!(admitted(lim.admit_at(addr("10.0.0.2"), Some(&l), t)));
        // 100 ms later one token is back, and the episode's refusals are reported once.
        let t = t + Duration::from_millis(100);
        assert_eq!(
            lim.admit_at(a, Some(&l), t),
            Admission::Admitted { after_refused: 2 }
        );
        assert!(!admitted(lim.admit_at(a, Some(&l), t)));
        assert!(admitted(lim.admit_at(a, None, t)), "no limit: always in");
    }

    #[test]
    fn failed_logins_drain_the_bucket_down_to_a_bounded_debt() {
        let l = limit(10, 5);
        let lim = ConnectLimiter::new();
        let t = Instant::now();
        let a = addr("10.0.0.1");
        assert!(admitted(lim.admit_at(a, Some(&l), t)));
        lim.failed_login_at(a, Some(&l), t);
        assert!(!admitted(lim.admit_at(a, Some(&l), t)));
        for _ in 0..100 {
            lim.failed_login_at(a, Some(&l), t);
        }
        // The debt is at most `burst`: (5 + 1) tokens at 10/s come back within 0.6 s.
        assert!(!admitted(lim.admit_at(
            a,
            Some(&l),
            t + Duration::from_millis(550)
        )));
        assert!(admitted(lim.admit_at(
            a,
            Some(&l),
            t + Duration::from_millis(1200)
        )));
        // Without a cost, a failed login takes nothing more.
        let mut free = l;
        free.failed_login_cost = 0;
        let b = addr("10.0.0.9");
        for _ in 0..10 {
            lim.failed_login_at(b, Some(&free), t);
        }
        assert!(admitted(lim.admit_at(b, Some(&free), t)));
    }

    #[test]
    fn ipv6_hosts_share_their_64_and_mapped_ipv4_is_ipv4() {
        assert_eq!(
            address_key("2001:db8:1:2::1".parse().unwrap()),
            address_key("2001:db8:1:2:ffff::9".parse().unwrap())
        );
        assert_ne!(
            address_key("2001:db8:1:2::1".parse().unwrap()),
            address_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            address_key("::ffff:10.0.0.1".parse().unwrap()),
            address_key("10.0.0.1".parse().unwrap())
        );
    }

    /// A flood from many addresses keeps the table at `max_addresses`.
    #[test]
    fn the_table_is_bounded() {
        let mut l = limit(1, 1);
        l.max_addresses = 100;
        let lim = ConnectLimiter::new();
        let t = Instant::now();
        for i in 0..10_000u32 {
            let a = SocketAddr::from((std::net::Ipv4Addr::from(0x0a00_0000 + i), 1));
            lim.admit_at(a, Some(&l), t);
        }
        let table = lim.table.lock().unwrap();
        assert_eq!(table.as_ref().unwrap().1.len(), 100);
    }
}
