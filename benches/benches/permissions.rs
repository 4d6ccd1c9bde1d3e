//! Criterion suite for rnats-auth: permission checks and credential verification.
//!
//! The permission set is a realistic user: 12 publish allow entries (literal and wildcard) and
//! 3 deny entries, publishing over a working set of 64 subjects (half allowed).
//!
//! * `permissions/publish/cached`: `PublishCache::may_publish` (every call hits the cache).
//! * `permissions/publish/uncached`: `Permissions::may_publish` (walks the allow and deny tries).
//! * `permissions/subscribe`: `Permissions::may_subscribe` with queue entries.
//! * `nkey/verify`: a whole NKey login through `ServerAuth::authenticate` (lookup, base64,
//!   Ed25519 verification of the nonce signature).
//! * `password/bcrypt11/verify` vs `password/bcrypt11/cache_hit`: a cost-11 bcrypt login
//!   without and with the verified-secret cache.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nkeys::KeyPair;
use rnats_auth::{
    AuthRequest, Authenticator, ConnectionType, Permissions, PublishCache, ServerAuth,
    hash_password_bcrypt,
};
use rnats_config::{PermissionsConfig, SubjectPermission};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn user_permissions() -> Permissions {
    let mut cfg = PermissionsConfig::default();
    cfg.publish = Some(SubjectPermission::new(
        strings(&[
            "orders.*.created",
            "orders.*.updated",
            "orders.eu.>",
            "billing.invoices.*",
            "billing.payments.>",
            "users.signup",
            "users.login",
            "metrics.*.*.cpu",
            "metrics.*.*.mem",
            "_INBOX.>",
            "events.app.*",
            "audit.app",
        ]),
        strings(&[
            "orders.eu.internal.>",
            "billing.payments.refund",
            "events.app.admin",
        ]),
    ));
    cfg.subscribe = Some(SubjectPermission::new(
        strings(&["results.>", "work.* workers", "_INBOX.>"]),
        strings(&["results.secret"]),
    ));
    Permissions::compile(&cfg).expect("valid permissions")
}

fn subjects() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for i in 0..32 {
        // allowed
        out.push(format!("orders.r{i}.created").into_bytes());
        // denied
        out.push(format!("shipping.r{i}.created").into_bytes());
    }
    out
}

fn bench_permissions(c: &mut Criterion) {
    let perms = user_permissions();
    let subjects = subjects();
    let mut g = c.benchmark_group("permissions");
    g.throughput(Throughput::Elements(1));

    let mut cache = PublishCache::new();
    let mut i = 0;
    g.bench_function("publish/cached", |b| {
        b.iter(|| {
            i = (i + 1) & 63;
            black_box(cache.may_publish(&perms, black_box(&subjects[i])))
        })
    });
    let mut i = 0;
    g.bench_function("publish/uncached", |b| {
        b.iter(|| {
            i = (i + 1) & 63;
            black_box(perms.may_publish(black_box(&subjects[i])))
        })
    });
    let subs: [(&[u8], Option<&[u8]>); 4] = [
        (b"results.a.b", None),
        (b"work.x", Some(b"workers")),
        (b"work.x", None),
        (b"results.secret", None),
    ];
    let mut i = 0;
    g.bench_function("subscribe", |b| {
        b.iter(|| {
            i = (i + 1) & 3;
            let (s, q) = subs[i];
            black_box(perms.may_subscribe(black_box(s), q))
        })
    });
    g.finish();
}

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

fn server(src: &str) -> ServerAuth {
    let cfg = rnats_config::load_str(src, None).expect("config").config;
    ServerAuth::from_config(&cfg).expect("auth")
}

fn bench_credentials(c: &mut Criterion) {
    let kp = KeyPair::new_user();
    let auth = server(&format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}",
        kp.public_key()
    ));
    let nonce = "Q2hhbGxlbmdlTm9uY2U";
    let mut req = AuthRequest::new(addr(), ConnectionType::Standard);
    req.nkey = Some(kp.public_key());
    req.nonce = Some(nonce.to_owned());
    req.sig = Some(
        data_encoding::BASE64URL_NOPAD.encode(&kp.sign(nonce.as_bytes()).expect("seeded key")),
    );
    let mut g = c.benchmark_group("nkey");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify", |b| {
        b.iter(|| black_box(auth.authenticate(black_box(&req)).is_ok()))
    });
    g.finish();

    let hash = hash_password_bcrypt("correct horse", 11).expect("hash");
    let auth = server(&format!(
        r#"authorization {{ users = [ {{ user: u, password: "{hash}" }} ] }}"#
    ));
    let mut req = AuthRequest::new(addr(), ConnectionType::Standard);
    req.user = Some("u".to_owned());
    req.pass = Some("correct horse".to_owned());
    let mut g = c.benchmark_group("password");
    g.sample_size(10);
    g.bench_function("bcrypt11/verify", |b| {
        b.iter(|| {
            auth.clear_cache();
            black_box(auth.authenticate(black_box(&req)).is_ok())
        })
    });
    g.bench_function("bcrypt11/cache_hit", |b| {
        b.iter(|| black_box(auth.authenticate(black_box(&req)).is_ok()))
    });
    g.finish();
}

criterion_group!(benches, bench_permissions, bench_credentials);
criterion_main!(benches);
