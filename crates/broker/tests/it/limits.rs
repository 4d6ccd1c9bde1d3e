//! Configured limits: connections, payload, subscriptions, pings, slow consumers, lame duck.

use std::time::Duration;

use rnats_test_support::RawClient;

use crate::{TestServer, eventually};

const QUIET: &[u8] = b"CONNECT {\"verbose\":false}\r\n";

#[tokio::test]
async fn max_connections_after_info() {
    let s = TestServer::with(|c| c.max_connections = 1).await;
    let mut first = RawClient::connect(s.addr).await;
    first.send(QUIET).await;
    assert_eq!(first.ping_pong().await, b"");
    let mut second = RawClient::connect(s.addr).await; // INFO still comes first
    assert_eq!(
        second.read_to_close().await,
        b"-ERR 'maximum connections exceeded'\r\n"
    );
    assert_eq!(first.ping_pong().await, b"");
}

#[tokio::test]
async fn zero_max_connections_lets_nobody_in() {
    let s = TestServer::with(|c| c.max_connections = 0).await;
    let mut c = RawClient::connect(s.addr).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'maximum connections exceeded'\r\n"
    );
}

#[tokio::test]
async fn payload_of_exactly_max_and_one_over() {
    let s = TestServer::with(|c| c.max_payload = 1024).await;
    let mut c = RawClient::connect(s.addr).await;
    assert!(c.info.contains("\"max_payload\":1024"));
    c.send(QUIET).await;
    c.send(b"SUB big 1\r\n").await;
    let mut op = b"PUB big 1024\r\n".to_vec();
    op.extend(std::iter::repeat_n(b'x', 1024));
    op.extend_from_slice(b"\r\n");
    c.send(&op).await;
    let got = c.ping_pong().await;
    assert!(got.starts_with(b"MSG big 1 1024\r\nxxx"));
    assert_eq!(got.len(), b"MSG big 1 1024\r\n".len() + 1026);
    c.send(b"PUB big 1025\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Maximum Payload Violation'\r\n"
    );
}

#[tokio::test]
async fn max_subscriptions_refuses_but_keeps_connection() {
    let s = TestServer::with(|c| c.max_subscriptions = 2).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPUB c 1\r\nx\r\nPUB a 1\r\ny\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 1\r\ny\r\n"
    );
    // Freeing one makes room again.
    c.send(b"UNSUB 1\r\nSUB c 3\r\nPUB c 1\r\nz\r\n").await;
    assert_eq!(c.ping_pong().await, b"MSG c 3 1\r\nz\r\n");
}

#[tokio::test]
async fn stale_connection_after_unanswered_pings() {
    let s = TestServer::with(|c| {
        c.ping_interval = Duration::from_millis(50);
        c.ping_max = 2;
    })
    .await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    assert_eq!(
        c.read_to_close().await,
        b"PING\r\nPING\r\n-ERR 'Stale Connection'\r\n"
    );
}

#[tokio::test]
async fn answered_pings_keep_connection() {
    let s = TestServer::with(|c| c.ping_interval = Duration::from_millis(30)).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    for _ in 0..5 {
        c.expect(b"PING\r\n").await;
        c.send(b"PONG\r\n").await;
    }
    assert_eq!(c.ping_pong().await, b"");
}

#[tokio::test]
async fn slow_consumer_is_closed_and_publisher_never_blocks() {
    let s = TestServer::with(|c| {
        c.max_pending = 64 * 1024;
        c.max_payload = 8 * 1024;
    })
    .await;
    // A subscriber that never reads: its socket buffers fill, then its pending bytes pass 64 KiB.
    let slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (_slow_rd, mut slow_wr) = slow.into_split();
    tokio::io::AsyncWriteExt::write_all(
        &mut slow_wr,
        b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\nPING\r\n",
    )
    .await
    .unwrap();
    let mut watcher = RawClient::connect(s.addr).await;
    watcher.send(QUIET).await;
    assert_eq!(watcher.ping_pong().await, b"");
    eventually("subscription of the slow client", || {
        s.handle.subscription_count() == 1
    })
    .await;

    let mut publisher = RawClient::connect(s.addr).await;
    publisher.send(QUIET).await;
    let mut chunk = Vec::new();
    let payload = vec![b'x'; 4096];
    for _ in 0..64 {
        chunk.extend_from_slice(b"PUB data 4096\r\n");
        chunk.extend_from_slice(&payload);
        chunk.extend_from_slice(b"\r\n");
    }
    // 64 MiB in total: far beyond what the socket buffers and max_pending hold.
    for _ in 0..256 {
        publisher.send(&chunk).await;
    }
    // The publisher is answered: it was never blocked by the slow consumer.
    assert_eq!(publisher.ping_pong().await, b"");
    eventually("slow consumer closed", || {
        s.handle.subscription_count() == 0
    })
    .await;
    assert_eq!(watcher.ping_pong().await, b"");
}

#[tokio::test]
async fn lame_duck_tells_clients_then_closes_them() {
    let s = TestServer::with(|c| {
        c.lame_duck_grace_period = Duration::from_millis(50);
        c.lame_duck_duration = Duration::from_millis(200);
    })
    .await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    assert_eq!(c.ping_pong().await, b"");
    s.handle.lame_duck();
    let line = c.read_line().await;
    assert!(
        line.starts_with("INFO {") && line.contains("\"ldm\":true"),
        "{line}"
    );
    // New connections are refused while in lame duck mode.
    eventually("listener closed", || {
        std::net::TcpStream::connect_timeout(&s.addr, Duration::from_millis(50)).is_err()
    })
    .await;
    c.read_to_close().await;
    eventually("shutdown", || s.handle.is_shutting_down()).await;
}

#[tokio::test]
async fn shutdown_closes_clients() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    assert_eq!(c.ping_pong().await, b"");
    s.handle.shutdown();
    assert_eq!(c.read_to_close().await, b"");
}

#[tokio::test]
async fn max_payload_above_max_pending_is_refused() {
    let mut config = rnats_broker::ServerConfig::default();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.max_payload = 2000;
    config.max_pending = 1000;
    let err = rnats_broker::Server::bind(config)
        .await
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "max_payload (2000) cannot be higher than max_pending (1000)"
    );
}

#[tokio::test]
async fn write_deadline_closes_a_client_that_stops_reading() {
    let s = TestServer::with(|c| {
        c.write_deadline = Duration::from_millis(100);
        c.max_pending = 512 * 1024 * 1024;
    })
    .await;
    let slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (_slow_rd, mut slow_wr) = slow.into_split();
    tokio::io::AsyncWriteExt::write_all(
        &mut slow_wr,
        b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\n",
    )
    .await
    .unwrap();
    eventually("subscription of the slow client", || {
        s.handle.subscription_count() == 1
    })
    .await;
    let mut publisher = RawClient::connect(s.addr).await;
    publisher.send(QUIET).await;
    let mut chunk = Vec::new();
    for _ in 0..16 {
        chunk.extend_from_slice(b"PUB data 65536\r\n");
        chunk.extend(std::iter::repeat_n(b'x', 65536));
        chunk.extend_from_slice(b"\r\n");
    }
    // Keep publishing until the server gives up on the stalled writer (bounded: 256 MiB).
    for _ in 0..256 {
        publisher.send(&chunk).await;
        assert_eq!(publisher.ping_pong().await, b"");
        if s.handle.subscription_count() == 0 {
            return;
        }
    }
    panic!("the stalled client was never closed");
}

#[tokio::test]
async fn reload_applies_to_new_connections_and_refuses_a_new_port() {
    let s = TestServer::start().await;
    let mut before = RawClient::connect(s.addr).await;
    before.send(QUIET).await;
    assert!(before.info.contains("\"max_payload\":1048576"));

    let mut config = (*s.handle.config()).clone();
    config.max_payload = 512;
    config.server_name = Some("renamed".into());
    let changes = s.handle.reload(config.clone()).unwrap();
    assert!(
        changes.contains(&"max_payload = 512".to_owned()),
        "{changes:?}"
    );

    let after = RawClient::connect(s.addr).await;
    assert!(after.info.contains("\"max_payload\":512"), "{}", after.info);
    assert!(after.info.contains("\"server_name\":\"renamed\""));
    // The existing connection is untouched.
    before.send(b"SUB a 1\r\nPUB a 1\r\nx\r\n").await;
    assert_eq!(before.ping_pong().await, b"MSG a 1 1\r\nx\r\n");

    let mut moved = config.clone();
    moved.port = 1;
    let err = s.handle.reload(moved).unwrap_err();
    assert_eq!(
        err.to_string(),
        "config reload not supported for Port: old=0, new=1"
    );
    let mut bad = config;
    bad.max_payload = 2_000_000_000;
    bad.max_pending = 1000;
    assert!(s.handle.reload(bad).is_err());
    let still = RawClient::connect(s.addr).await;
    assert!(
        still.info.contains("\"max_payload\":512"),
        "a refused reload changes nothing"
    );
}
