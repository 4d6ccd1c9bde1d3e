//! Criterion suite for the broker's routing core, with no sockets: a publisher's router
//! matching, choosing queue members, crossing accounts and encoding into subscribers' outbound
//! buffers, which are then emptied as writers would empty them. Each iteration is a batch of 64
//! publishes of 128 bytes and one hand-over; throughput counts deliveries.
//!
//! * `routing/fanout/{1,4,100}`: plain subscribers on one subject.
//! * `routing/queue/4`: one queue group of 4 (one delivery per message).
//! * `routing/accounts/{local,stream_import,service_import}`: the cost of crossing accounts,
//!   beside a plain delivery in the same configuration. A service import also registers the
//!   `_R_.` response route of every request.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rnats_broker::bench::RoutingBench;

const BATCH: u64 = 64;
const PAYLOAD: [u8; 128] = [b'x'; 128];

const ACCOUNTS: &str = r#"
accounts {
  A { exports = [ { stream: "feed.>" }, { service: "svc.>" } ] }
  B { imports = [ { stream: { account: A, subject: "feed.>" } },
                  { service: { account: A, subject: "svc.>" } } ] }
}
"#;

fn run(
    c: &mut Criterion,
    name: &str,
    mut bench: RoutingBench,
    subject: &[u8],
    reply: Option<&[u8]>,
    deliveries: u64,
) {
    let mut group = c.benchmark_group("routing");
    group.throughput(Throughput::Elements(BATCH * deliveries));
    assert!(
        bench.publish(subject, reply, &PAYLOAD),
        "{name}: nobody got it"
    );
    bench.drain();
    group.bench_function(name, |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                black_box(bench.publish(black_box(subject), reply, black_box(&PAYLOAD)));
            }
            black_box(bench.drain())
        });
    });
    group.finish();
}

fn fanout(c: &mut Criterion) {
    for n in [1u64, 4, 100] {
        let mut bench = RoutingBench::new("", "$G");
        for _ in 0..n {
            bench.subscribe("$G", "orders.eu.created", None);
        }
        run(
            c,
            &format!("fanout/{n}"),
            bench,
            b"orders.eu.created",
            None,
            n,
        );
    }
}

fn queue(c: &mut Criterion) {
    let mut bench = RoutingBench::new("", "$G");
    for _ in 0..4 {
        bench.subscribe("$G", "orders.>", Some("workers"));
    }
    run(c, "queue/4", bench, b"orders.eu.created", None, 1);
}

fn accounts(c: &mut Criterion) {
    let mut local = RoutingBench::new(ACCOUNTS, "A");
    local.subscribe("A", "local.x", None);
    run(c, "accounts/local", local, b"local.x", None, 1);

    let mut stream = RoutingBench::new(ACCOUNTS, "A");
    stream.subscribe("B", "feed.x", None);
    run(c, "accounts/stream_import", stream, b"feed.x", None, 1);

    let mut service = RoutingBench::new(ACCOUNTS, "B");
    service.subscribe("A", "svc.x", None);
    run(
        c,
        "accounts/service_import",
        service,
        b"svc.x",
        Some(b"_INBOX.reply.1"),
        1,
    );
}

criterion_group!(benches, fanout, queue, accounts);
criterion_main!(benches);
