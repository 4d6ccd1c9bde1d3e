//! `connect_rate_limit`: a flood from one address is throttled; another address is not.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rnats_test_support::RawClient;

use crate::auth::start_conf;

const THROTTLED: &[u8] = b"-ERR 'Connection throttling is active. Please try again later.'\r\n";
const FLOODER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// Linux routes all of 127/8 to the loopback interface: a second client address.
const OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn connect_user(user: &str, pass: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n")
        .into_bytes()
}

/// How long a good login from `from` takes: connect, INFO, CONNECT, PING, PONG.
async fn login_time(addr: std::net::SocketAddr, from: IpAddr) -> Duration {
    let start = Instant::now();
    let mut c = RawClient::connect_from(addr, from).await;
    c.send(&connect_user("alice", "a")).await;
    assert_eq!(c.ping_pong().await, b"", "a good login from {from}");
    start.elapsed()
}

#[tokio::test]
async fn a_connection_flood_is_throttled_per_address() {
    let s = start_conf(
        "connect_rate_limit { per_address: 1, burst: 5 }
         authorization { users = [ { user: alice, password: a } ] }",
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(RawClient::connect_from(s.addr, FLOODER).await);
    }
    // Sixth within the second: INFO (read by connect), then nats-server's throttling error.
    let mut refused = 0;
    for _ in 0..20 {
        let mut c = RawClient::connect_from(s.addr, FLOODER).await;
        let got = c.read_to_close().await;
        assert_eq!(got, THROTTLED);
        refused += 1;
    }
    assert_eq!(refused, 20);
    // Another address is untouched.
    let took = login_time(s.addr, OTHER).await;
    eprintln!("login from the other address during the flood: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    // The connections that got in are served.
    for c in &mut held {
        c.send(&connect_user("alice", "a")).await;
        assert_eq!(c.ping_pong().await, b"");
    }
}

#[tokio::test]
async fn a_failed_login_flood_is_slowed_without_slowing_other_addresses() {
    // Each refused login costs 10 tokens: after one, the address is in debt for seconds.
    let s = start_conf(
        "connect_rate_limit { per_address: 2, burst: 4, failed_login_cost: 10 }
         authorization { users = [ { user: alice, password: a } ] }",
    )
    .await;
    let mut checked = 0;
    let mut throttled = 0;
    let flood_start = Instant::now();
    for _ in 0..40 {
        let mut c = RawClient::connect_from(s.addr, FLOODER).await;
        c.send(&connect_user("alice", "guess")).await;
        let got = c.read_to_close().await;
        if got == b"-ERR 'Authorization Violation'\r\n" {
            checked += 1;
        } else {
            assert_eq!(got, THROTTLED);
            throttled += 1;
        }
    }
    let flood = flood_start.elapsed();
    eprintln!(
        "failed-login flood: {checked} checked, {throttled} throttled in {flood:?}; \
         sustained rate after the first failure: 1 check per {:.1}s",
        (4.0 + 1.0) / 2.0
    );
    // Without the limit all 40 would have been checked. With it: the first, plus one per
    // 2.5 s of refill.
    let allowed = 1 + (flood.as_secs_f64() / 2.5).floor() as usize;
    assert!(checked >= 1 && checked <= allowed, "{checked} > {allowed}");
    // The other address logs in at once, during the flood's debt.
    let took = login_time(s.addr, OTHER).await;
    eprintln!("login from the other address after the flood: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
    // And the flooding address is refused even with the right password until it refills.
    let mut c = RawClient::connect_from(s.addr, FLOODER).await;
    c.send(&connect_user("alice", "a")).await;
    assert_eq!(c.read_to_close().await, THROTTLED);
}
