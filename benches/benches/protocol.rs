//! Criterion suite for rnats-protocol: client-op parsing and MSG encoding.
//!
//! * `parser/pub/{16B,128B,1KiB}`: parse a buffer of 1000 back-to-back
//!   `PUB <subject> <size>\r\n<payload>\r\n` ops (a publisher's read batch).
//! * `parser/hpub/128B`: the same with `HPUB <subject> <reply> <hdr> <total>`,
//!   a 128-byte body behind a small header block.
//! * `encode/msg/128B`: encode 1000 `MSG <subject> <sid> <size>` deliveries of
//!   128 bytes into a reused buffer.
//!
//! Throughput is in bytes of protocol (input for the parser, output for the
//! encoder), so the figures compare directly with a socket's bandwidth.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rnats_protocol::{ClientParser, Limits, encode_msg};

/// Ops per timed iteration.
const OPS: usize = 1000;
const SUBJECT: &str = "orders.eu-west.4711.created";
const REPLY: &str = "_INBOX.Qh3ex5sZ8cVbDk2Y7m.42";
const HEADERS: &[u8] = b"NATS/1.0\r\nNats-Msg-Id: 4711-created\r\n\r\n";

fn pub_batch(payload_len: usize) -> BytesMut {
    let payload = vec![b'x'; payload_len];
    let mut buf = BytesMut::new();
    for _ in 0..OPS {
        buf.extend_from_slice(format!("PUB {SUBJECT} {payload_len}\r\n").as_bytes());
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

fn hpub_batch(body_len: usize) -> BytesMut {
    let total = HEADERS.len() + body_len;
    let mut buf = BytesMut::new();
    for _ in 0..OPS {
        buf.extend_from_slice(
            format!("HPUB {SUBJECT} {REPLY} {} {total}\r\n", HEADERS.len()).as_bytes(),
        );
        buf.extend_from_slice(HEADERS);
        buf.resize(buf.len() + body_len, b'y');
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

fn bench_parse(c: &mut Criterion, name: &str, template: &BytesMut) {
    let mut group = c.benchmark_group("parser");
    group.throughput(Throughput::Bytes(template.len() as u64));
    group.bench_function(name, |b| {
        b.iter_batched_ref(
            || template.clone(),
            |buf| {
                let mut parser = ClientParser::new(Limits::default());
                let mut ops = 0;
                while let Ok(Some(op)) = parser.parse(buf) {
                    black_box(op);
                    ops += 1;
                }
                assert_eq!(ops, OPS);
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn parser(c: &mut Criterion) {
    bench_parse(c, "pub/16B", &pub_batch(16));
    bench_parse(c, "pub/128B", &pub_batch(128));
    bench_parse(c, "pub/1KiB", &pub_batch(1024));
    bench_parse(c, "hpub/128B", &hpub_batch(128));
}

fn encoder(c: &mut Criterion) {
    let payload = vec![b'z'; 128];
    let mut dst = BytesMut::new();
    encode_msg(&mut dst, SUBJECT.as_bytes(), b"17", None, &payload);
    let bytes_per_batch = dst.len() * OPS;

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(bytes_per_batch as u64));
    group.bench_function("msg/128B", |b| {
        let mut dst = BytesMut::with_capacity(bytes_per_batch);
        b.iter(|| {
            dst.clear();
            for _ in 0..OPS {
                encode_msg(
                    &mut dst,
                    black_box(SUBJECT.as_bytes()),
                    black_box(b"17"),
                    None,
                    black_box(&payload),
                );
            }
            black_box(&dst);
        });
    });
    group.finish();
}

criterion_group!(benches, parser, encoder);
criterion_main!(benches);
