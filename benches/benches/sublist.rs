//! Criterion suite for rnats-sublist: insert, remove and match cost at 1k, 100k and 1M
//! subscriptions, and the per-connection `MatchCache`.
//!
//! Subscriptions model an order stream, `orders.<region>.<id>.<event>`: mostly literal
//! subscriptions, some in queue groups, and about 15% wildcards (`orders.<region>.<id>.*`,
//! `orders.*.<id>.<event>`, `orders.<region>.<id>.>`), so that a match also walks `*` branches.
//!
//! * `sublist/insert/N_subs`, `sublist/remove/N_subs`: one insert (remove) into a sublist that
//!   holds N subscriptions; the sublist is returned to N between timed batches.
//! * `sublist/match/literal/N_subs`: `matches()` of subjects that hit one literal subscription.
//! * `sublist/match/wildcard/N_subs`: `matches()` of subjects that hit one wildcard subscription.
//! * `sublist/cache/{hit,miss}/100k_subs`: `MatchCache::get` on a 256-subject working set
//!   (every get hits) and on a 4096-subject cycle through a 512-entry cache (every get misses).
//!
//! Publish subjects are spread over the whole id range, so large sublists pay their cache misses.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rnats_sublist::{MatchCache, Sublist};

const SIZES: &[(usize, &str)] = &[(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")];
const REGIONS: [&str; 8] = [
    "us-east",
    "us-west",
    "eu-west",
    "eu-central",
    "ap-south",
    "ap-northeast",
    "sa-east",
    "af-south",
];
const EVENTS: [&str; 4] = ["created", "updated", "shipped", "cancelled"];
/// Publish subjects per match bench, cycled (a power of two).
const PUBLISHES: usize = 4096;
/// Subscriptions inserted and removed per timed batch in the insert/remove benches.
const CHURN_BATCH: usize = 4096;

/// A unique, random-looking order id.
fn order_id(i: usize) -> String {
    format!("{:08x}", (i as u32).wrapping_mul(0x9E37_79B1))
}

fn region(i: usize) -> &'static str {
    REGIONS[i % REGIONS.len()]
}

fn event(i: usize) -> &'static str {
    EVENTS[(i / REGIONS.len()) % EVENTS.len()]
}

/// The i-th subscription: (subject, queue group).
fn subscription(i: usize) -> (String, Option<&'static [u8]>) {
    let (r, id, ev) = (region(i), order_id(i), event(i));
    match i % 20 {
        0 => (format!("orders.{r}.{id}.*"), None),
        10 => (format!("orders.*.{id}.{ev}"), None),
        5 => (format!("orders.{r}.{id}.>"), None),
        3 => (format!("orders.{r}.{id}.{ev}"), Some(b"fulfilment")),
        13 => (format!("orders.{r}.{id}.{ev}"), Some(b"audit")),
        _ => (format!("orders.{r}.{id}.{ev}"), None),
    }
}

fn build(n: usize) -> Sublist<u64> {
    let mut sublist = Sublist::new();
    for i in 0..n {
        let (subject, queue) = subscription(i);
        sublist
            .insert(subject.as_bytes(), queue, i as u64)
            .expect("valid subject");
    }
    sublist
}

/// Spread-out subscription indexes below `n` whose kind satisfies `keep`.
fn spread(n: usize, keep: impl Fn(usize) -> bool) -> impl Iterator<Item = usize> {
    (0..)
        .map(move |k: usize| k.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) % n)
        .filter(move |&i| keep(i))
}

/// Subjects each matching exactly one literal (non-queue) subscription.
fn literal_publishes(n: usize, count: usize) -> Vec<Vec<u8>> {
    spread(n, |i| !matches!(i % 20, 0 | 3 | 5 | 10 | 13))
        .take(count)
        .map(|i| format!("orders.{}.{}.{}", region(i), order_id(i), event(i)).into_bytes())
        .collect()
}

/// Subjects each matching exactly one wildcard subscription.
fn wildcard_publishes(n: usize, count: usize) -> Vec<Vec<u8>> {
    spread(n, |i| matches!(i % 20, 0 | 5 | 10))
        .take(count)
        .map(|i| {
            let (r, id) = (region(i), order_id(i));
            match i % 20 {
                // orders.<r>.<id>.* with another event than the literal one
                0 => format!("orders.{r}.{id}.{}", event(i + 8)),
                // orders.*.<id>.<ev> from another region
                10 => format!("orders.{}.{id}.{}", region(i + 1), event(i)),
                // orders.<r>.<id>.> with extra tokens
                _ => format!("orders.{r}.{id}.{}.eu.v2", event(i)),
            }
            .into_bytes()
        })
        .collect()
}

fn bench_size(c: &mut Criterion, n: usize, label: &str) {
    let mut sublist = build(n);
    let name = format!("{label}_subs");

    let churn: Vec<String> = (0..CHURN_BATCH)
        .map(|k| {
            let i = n + k;
            format!("orders.{}.{}.{}", region(i), order_id(i), event(i))
        })
        .collect();
    let mut group = c.benchmark_group("sublist/insert");
    group.throughput(Throughput::Elements(1));
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| churn_timed(&mut sublist, &churn, iters, true))
    });
    group.finish();
    let mut group = c.benchmark_group("sublist/remove");
    group.throughput(Throughput::Elements(1));
    group.bench_function(&name, |b| {
        b.iter_custom(|iters| churn_timed(&mut sublist, &churn, iters, false))
    });
    group.finish();
    assert_eq!(sublist.len(), n);

    for (kind, publishes) in [
        ("literal", literal_publishes(n, PUBLISHES)),
        ("wildcard", wildcard_publishes(n, PUBLISHES)),
    ] {
        for p in &publishes {
            assert_eq!(
                sublist.matches(p).len(),
                1,
                "{}",
                String::from_utf8_lossy(p)
            );
        }
        let mut group = c.benchmark_group(format!("sublist/match/{kind}"));
        group.throughput(Throughput::Elements(1));
        let mut k = 0;
        group.bench_function(&name, |b| {
            b.iter(|| {
                k = (k + 1) % PUBLISHES;
                sublist.matches(black_box(&publishes[k]))
            })
        });
        group.finish();
    }

    if n == 100_000 {
        let mut group = c.benchmark_group("sublist/cache");
        group.throughput(Throughput::Elements(1));

        let hot = literal_publishes(n, 256);
        let mut cache = MatchCache::new(1024);
        for p in &hot {
            cache.get(&sublist, p);
        }
        let mut k = 0;
        group.bench_function("hit/100k_subs", |b| {
            b.iter(|| {
                k = (k + 1) % hot.len();
                cache.get(&sublist, black_box(&hot[k]))
            })
        });

        let cold = literal_publishes(n, PUBLISHES);
        let mut cache = MatchCache::new(512);
        let mut k = 0;
        group.bench_function("miss/100k_subs", |b| {
            b.iter(|| {
                k = (k + 1) % cold.len();
                cache.get(&sublist, black_box(&cold[k]))
            })
        });
        group.finish();
    }
}

/// Times `iters` inserts (or removes) of churn subjects; the other half of each batch runs
/// untimed, so the sublist is back to its base size afterwards.
fn churn_timed(
    sublist: &mut Sublist<u64>,
    churn: &[String],
    iters: u64,
    time_insert: bool,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let batch = &churn[..left.min(churn.len())];
        left -= batch.len();
        let start = Instant::now();
        if time_insert {
            insert_all(sublist, batch);
            total += start.elapsed();
            remove_all(sublist, batch);
        } else {
            insert_all(sublist, batch);
            let start = Instant::now();
            remove_all(sublist, batch);
            total += start.elapsed();
        }
    }
    total
}

fn insert_all(sublist: &mut Sublist<u64>, subjects: &[String]) {
    for (k, subject) in subjects.iter().enumerate() {
        sublist
            .insert(black_box(subject.as_bytes()), None, k as u64)
            .expect("valid subject");
    }
}

fn remove_all(sublist: &mut Sublist<u64>, subjects: &[String]) {
    for (k, subject) in subjects.iter().enumerate() {
        assert!(sublist.remove(black_box(subject.as_bytes()), None, &(k as u64)));
    }
}

fn sublist_benches(c: &mut Criterion) {
    for &(n, label) in SIZES {
        bench_size(c, n, label);
    }
}

criterion_group!(benches, sublist_benches);
criterion_main!(benches);
