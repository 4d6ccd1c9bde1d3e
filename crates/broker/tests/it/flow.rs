//! Fast-producer flow control: a publisher faster than its subscriber is slowed instead of the
//! subscriber being dropped; a subscriber that stops reading is still closed at `max_pending`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::TestServer;

/// About 10 MB of messages: twenty times `max_pending`.
const TOTAL: usize = 20_000 * 512;
/// A payload small enough to be copied for each subscriber, and one large enough to be shared
/// between them (see the broker's router): flow control must hold for both.
const COPIED: usize = 512;
const SHARED: usize = 4096;
const MAX_PENDING: u64 = 512 * 1024;

async fn server(no_stall: bool) -> TestServer {
    TestServer::with(|config| {
        config.max_pending = MAX_PENDING;
        config.max_payload = 8 * 1024;
        config.no_fast_producer_stall = no_stall;
    })
    .await
}

/// A connected raw client that has sent CONNECT and `subs`, confirmed by a PING round trip.
async fn client(addr: SocketAddr, small_buffer: bool, subs: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    if small_buffer {
        socket.set_recv_buffer_size(4096).unwrap();
    }
    let mut stream = socket.connect(addr).await.unwrap();
    let hello = format!("CONNECT {{\"verbose\":false}}\r\n{subs}PING\r\n");
    stream.write_all(hello.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !seen.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .expect("PONG in time")
            .unwrap();
        assert!(n > 0, "closed before PONG");
        seen.extend_from_slice(&chunk[..n]);
    }
    stream
}

/// Publishes `TOTAL / payload` messages as fast as the socket takes them, then waits for the
/// PONG that proves the server handled all of them.
async fn publish_all(addr: SocketAddr, payload: usize) {
    let mut publisher = client(addr, false, "").await;
    let mut batch = Vec::new();
    let body = vec![b'x'; payload];
    for _ in 0..TOTAL / payload {
        batch.extend_from_slice(format!("PUB flow {payload}\r\n").as_bytes());
        batch.extend_from_slice(&body);
        batch.extend_from_slice(b"\r\n");
    }
    batch.extend_from_slice(b"PING\r\n");
    publisher.write_all(&batch).await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 64];
    while !seen.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(30), publisher.read(&mut chunk))
            .await
            .expect("the publisher is slowed, never stopped")
            .unwrap();
        assert!(n > 0, "publisher closed");
        seen.extend_from_slice(&chunk[..n]);
    }
}

/// Reads and counts `MSG` deliveries until `want` arrived, EOF, or `quiet` passes without
/// data; `pace` sleeps between reads (a slow reader). Returns the count and
/// whether the server closed the connection.
async fn count(
    stream: &mut TcpStream,
    payload: usize,
    want: usize,
    pace: Duration,
) -> (usize, bool) {
    let per_message = format!("MSG flow 1 {payload}\r\n").len() + payload + 2;
    let mut bytes = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        if bytes / per_message >= want {
            return (bytes / per_message, false);
        }
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (bytes / per_message, true),
            Ok(Ok(n)) => bytes += n,
            Err(_) => return (bytes / per_message, false),
        }
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_loses_nothing_to_a_fast_publisher() {
    slow_subscriber_loses_nothing(COPIED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_of_shared_payloads_loses_nothing_to_a_fast_publisher() {
    slow_subscriber_loses_nothing(SHARED).await;
}

async fn slow_subscriber_loses_nothing(payload: usize) {
    let server = server(false).await;
    // Sleeps a millisecond between reads: slower than the publisher, yet faster than the
    // floor that bounded stalls set (a publisher paused at most 10 ms per 64 KiB read can
    // still send 6.4 MB/s; a subscriber slower than that is a slow consumer, as in nats-server).
    let mut slow = client(server.addr, false, "SUB flow 1\r\n").await;
    let want = TOTAL / payload;
    let reader =
        tokio::spawn(
            async move { count(&mut slow, payload, want, Duration::from_millis(1)).await },
        );
    publish_all(server.addr, payload).await;
    let (got, closed) = reader.await.unwrap();
    assert!(
        !closed,
        "the slow subscriber was closed after {got} messages"
    );
    assert_eq!(got, want, "every message reached the slow subscriber");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_subscriber_is_closed_and_the_others_go_on() {
    stopped_subscriber_is_closed(COPIED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_subscriber_of_shared_payloads_is_closed_and_the_others_go_on() {
    stopped_subscriber_is_closed(SHARED).await;
}

async fn stopped_subscriber_is_closed(payload: usize) {
    let server = server(false).await;
    let mut stopped = client(server.addr, true, "SUB flow 1\r\n").await;
    let mut healthy = client(server.addr, false, "SUB flow 1\r\n").await;
    let want = TOTAL / payload;
    let reader =
        tokio::spawn(async move { count(&mut healthy, payload, want, Duration::ZERO).await });
    publish_all(server.addr, payload).await;
    let (got, closed) = reader.await.unwrap();
    assert!(!closed);
    assert_eq!(got, want, "the healthy subscriber got every message");
    // The stopped one was closed as a slow consumer: reading now drains what was sent, then EOF.
    let (_, closed) = count(&mut stopped, payload, usize::MAX, Duration::ZERO).await;
    assert!(closed, "the stopped subscriber was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_stalls_a_slow_subscriber_misses_messages_but_stays_connected() {
    let server = server(true).await;
    let mut slow = client(server.addr, true, "SUB flow 1\r\n").await;
    let reader = tokio::spawn(async move {
        let counted = count(&mut slow, COPIED, TOTAL / COPIED, Duration::from_millis(1)).await;
        (counted, slow)
    });
    publish_all(server.addr, COPIED).await;
    let ((got, closed), mut slow) = reader.await.unwrap();
    assert!(
        !closed,
        "no_fast_producer_stall drops messages, it does not close"
    );
    assert!(
        got < TOTAL / COPIED,
        "a publisher that is never paused outruns a slow reader"
    );
    slow.write_all(b"PING\r\n").await.unwrap();
    let mut tail = Vec::new();
    let mut chunk = [0u8; 4096];
    while !tail.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut chunk))
            .await
            .expect("still answered")
            .unwrap();
        assert!(n > 0, "closed");
        tail.extend_from_slice(&chunk[..n]);
    }
}
