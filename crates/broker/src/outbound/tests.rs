//! The outbound queue: slow consumers, stalls, chunks and vectored writes.

use std::io::{self, IoSlice};

use super::*;

/// Queues `bytes` as a publisher's batch would be.
fn push(out: &Outbound, bytes: &[u8]) -> Append {
    out.hand_over(&mut BytesMut::from(bytes))
}

/// A queued chunk of the queue's own bytes.
fn own(chunk: &Chunk) -> &BytesMut {
    match chunk {
        Chunk::Own(b) => b,
        Chunk::Mixed { .. } => panic!("a chunk with shared payloads"),
    }
}

const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

#[test]
fn slow_consumer_closes_and_drops() {
    let out = Outbound::new(1, PEER, 10, CancellationToken::new());
    assert_eq!(push(&out, b"12345"), Append::Wake);
    assert_eq!(push(&out, b"12345"), Append::Queued);
    assert_eq!(out.pending(), 10);
    assert_eq!(push(&out, b"1"), Append::Dropped);
    assert_eq!(
        out.close_reason(),
        Some(CloseReason::SlowConsumerPendingBytes)
    );
    assert!(out.kill.is_cancelled());
    assert_eq!(out.pending(), 0);
    assert_eq!(push(&out, b"x"), Append::Dropped);
    assert!(!out.headers.load(Ordering::Relaxed));
}

#[tokio::test]
async fn past_three_quarters_a_client_stalls_until_its_writer_catches_up() {
    let out = std::sync::Arc::new(Outbound::new(1, PEER, 100, CancellationToken::new()));
    push(&out, &[b'x'; 75]);
    assert!(!out.is_stalled(), "75 of 100 is not past three quarters");
    assert!(out.would_stall(1));
    push(&out, b"y");
    assert!(out.is_stalled());
    // A waiter gives up after its limit while nothing is written...
    let started = tokio::time::Instant::now();
    out.wait_drained(Duration::from_millis(20)).await;
    assert!(started.elapsed() >= Duration::from_millis(20));
    // ...and is released as soon as the writer has written what it took.
    let waiter = {
        let out = out.clone();
        tokio::spawn(async move { out.wait_drained(Duration::from_secs(30)).await })
    };
    let (client, server) = tokio::io::duplex(1024);
    let writer = {
        let out = out.clone();
        tokio::spawn(async move { out.run_writer(server, Duration::from_secs(5)).await })
    };
    out.wake();
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("released")
        .unwrap();
    assert!(!out.is_stalled());
    out.close(CloseReason::ClientClosed);
    writer.await.unwrap();
    drop(client);
}

#[test]
fn first_close_reason_stands() {
    let out = Outbound::new(1, PEER, 10, CancellationToken::new());
    assert_eq!(
        out.close(CloseReason::StaleConnection),
        CloseReason::StaleConnection
    );
    assert_eq!(
        out.close(CloseReason::ClientClosed),
        CloseReason::StaleConnection
    );
    assert!(out.close_reason().is_some());
}

#[tokio::test]
async fn writer_flushes_then_shuts_down() {
    let out = std::sync::Arc::new(Outbound::new(1, PEER, 1 << 20, CancellationToken::new()));
    let (client, server) = tokio::io::duplex(1024);
    let w = out.clone();
    let task = tokio::spawn(async move { w.run_writer(server, Duration::from_secs(5)).await });
    out.send_now(b"PING\r\n");
    out.send_now(b"PONG\r\n");
    out.close(CloseReason::ClientClosed);
    task.await.unwrap();
    let mut got = Vec::new();
    let mut client = client;
    tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got)
        .await
        .unwrap();
    assert_eq!(got, b"PING\r\nPONG\r\n");
}

#[test]
fn a_large_batch_joins_the_queue_without_a_copy_and_a_small_one_is_coalesced() {
    let out = Outbound::new(1, PEER, 1 << 24, CancellationToken::new());
    let mut big = BytesMut::with_capacity(COALESCE_INTO * 2);
    big.extend_from_slice(&vec![b'a'; COALESCE_INTO]);
    let at = big.as_ptr();
    assert_eq!(out.hand_over(&mut big), Append::Wake);
    assert!(big.is_empty());
    let mut small = BytesMut::from(&b"tail"[..]);
    assert_eq!(out.hand_over(&mut small), Append::Queued);
    let st = out.lock();
    assert_eq!(
        st.chunks.len(),
        2,
        "the small batch follows a chunk too large to grow"
    );
    assert_eq!(
        own(&st.chunks[0]).as_ptr(),
        at,
        "the big batch was queued as it was"
    );
    assert_eq!(st.queued, COALESCE_INTO + 4);
    drop(st);
    let mut more = BytesMut::from(&b"+more"[..]);
    out.hand_over(&mut more);
    let st = out.lock();
    assert_eq!(st.chunks.len(), 2, "small batches share a chunk");
    assert_eq!(&own(&st.chunks[1])[..], b"tail+more");
}

#[test]
fn spares_stay_within_their_budget() {
    let out = Outbound::new(1, PEER, 1 << 30, CancellationToken::new());
    let mut done: Vec<Chunk> = (0..64)
        .map(|_| Chunk::Own(BytesMut::with_capacity(SPARE_KEEP)))
        .collect();
    done.push(Chunk::Own(BytesMut::with_capacity(SPARE_KEEP * 2)));
    {
        let mut st = out.lock();
        st.chunks.push_back(Chunk::Own(BytesMut::from(&b"x"[..])));
    }
    out.written(&mut done);
    let st = out.lock();
    assert!(st.spare_bytes <= SPARE_BYTES);
    assert_eq!(
        st.spare_bytes,
        st.spare.iter().map(BytesMut::capacity).sum::<usize>()
    );
    assert!(
        st.spare
            .iter()
            .all(|c| c.capacity() <= SPARE_KEEP && c.is_empty())
    );
    drop(st);
    out.lock().chunks.clear();
    out.written(&mut Vec::new());
    assert_eq!(
        out.lock().spare.len(),
        IDLE_SPARES,
        "a caught-up writer keeps a couple"
    );
}

/// Accepts at most 7 bytes per call, vectored or not.
struct Trickle(Vec<u8>);

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let n = buf.len().min(7);
        self.0.extend_from_slice(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(7 - n);
            self.0.extend_from_slice(&b[..take]);
            n += take;
            if n == 7 {
                break;
            }
        }
        std::task::Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn partial_vectored_writes_keep_every_byte_in_order() {
    let mut chunks: Vec<Chunk> = [
        "",
        "abc",
        "",
        "defghijklmnop",
        "q",
        "",
        "rstuvwxyz0123456789",
    ]
    .iter()
    .map(|s| Chunk::Own(BytesMut::from(s.as_bytes())))
    .collect();
    // Lines of its own with shared payloads at their offsets, one of them right at the end.
    let payloads = vec![
        (2, Bytes::from_static(b"<one>")),
        (2, Bytes::from_static(b"<two>")),
        (5, Bytes::from_static(b"<three>")),
    ];
    chunks.push(Chunk::Mixed {
        lines: BytesMut::from(&b"..,,!"[..]),
        len: 5 + 17,
        payloads,
    });
    let mut w = Trickle(Vec::new());
    write_chunks(&mut w, &chunks).await.unwrap();
    assert_eq!(
        w.0,
        b"abcdefghijklmnopqrstuvwxyz0123456789..<one><two>,,!<three>"
    );
    let mut w = Trickle(Vec::new());
    write_chunks(
        &mut w,
        &[Chunk::Own(BytesMut::new()), Chunk::Own(BytesMut::new())],
    )
    .await
    .unwrap();
    assert!(
        w.0.is_empty(),
        "nothing to write is not a zero-length write error"
    );
}

#[test]
fn publishers_pause_at_four_mib_but_only_drop_past_three_quarters() {
    let out = Outbound::new(1, PEER, 64 << 20, CancellationToken::new());
    let mut batch = BytesMut::from(&vec![b'x'; STALL_CAP][..]);
    out.hand_over(&mut batch);
    assert!(!out.is_stalled(), "exactly at the cap is not past it");
    assert!(out.would_stall(1));
    push(&out, b"y");
    assert!(out.is_stalled(), "past 4 MiB: publishers pause");
    assert!(
        !out.past_drop_mark(),
        "no_fast_producer_stall still delivers"
    );
    let mut more = BytesMut::from(&vec![b'z'; 44 << 20][..]);
    out.hand_over(&mut more);
    assert!(out.past_drop_mark(), "past 48 MiB of 64 MiB");
}

#[test]
fn shared_payloads_count_as_pending_bytes_and_a_stopped_client_is_still_closed() {
    let out = Outbound::new(1, PEER, 120, CancellationToken::new());
    let payload = Bytes::from(vec![b'p'; 40]);
    let mut lines = BytesMut::from(&b"MSG a 1 40\r\n\r\n"[..]);
    let append = out.hand_over_shared(&mut lines, vec![(12, payload.clone())], 40);
    assert_eq!(append, Append::Wake);
    assert!(lines.is_empty(), "the lines joined the queue");
    assert_eq!(out.pending(), 14 + 40);
    let mut expected = b"MSG a 1 40\r\n".to_vec();
    expected.extend_from_slice(&payload);
    expected.extend_from_slice(b"\r\n");
    let mut lines = BytesMut::from(&b"MSG a 1 40\r\n\r\n"[..]);
    out.hand_over_shared(&mut lines, vec![(12, payload.clone())], 40);
    assert_eq!(
        &out.take_pending()[..],
        [&expected[..], &expected[..]].concat()
    );
    // Past `max_pending`, counted with the shared bytes: closed, and the payloads let go.
    for _ in 0..2 {
        let mut lines = BytesMut::from(&b"MSG a 1 40\r\n\r\n"[..]);
        out.hand_over_shared(&mut lines, vec![(12, payload.clone())], 40);
    }
    assert_eq!(out.pending(), 108);
    let mut lines = BytesMut::from(&b"MSG a 1 40\r\n\r\n"[..]);
    let append = out.hand_over_shared(&mut lines, vec![(12, payload.clone())], 40);
    assert_eq!(append, Append::Dropped);
    assert_eq!(
        out.close_reason(),
        Some(CloseReason::SlowConsumerPendingBytes)
    );
    assert!(payload.is_unique(), "nothing queued keeps the payload");
}
