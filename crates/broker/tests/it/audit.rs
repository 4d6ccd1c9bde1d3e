//! The authentication audit trail (`audit { … }`): one JSON line per decision, for every
//! method and refusal reason, rotated by size, published on `$SYS`, never holding a secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use nkeys::KeyPair;
use rnats_test_support::{RawClient, scratch_dir};
use serde_json::Value;

use crate::auth::start_conf;
use crate::operator::{Trust, account, jwt_connect, user};
use crate::{TestServer, eventually};

/// A fresh audit file path and its `audit {}` block.
fn audit_file(extra: &str) -> (PathBuf, String) {
    let path = scratch_dir("audit").join("audit.log");
    let block = format!("audit {{ file: \"{}\" {extra} }}", path.display());
    (path, block)
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

/// The records once there are at least `n` (the writer thread flushes when its queue is
/// empty; there is no protocol round trip to wait on).
async fn records(path: &Path, n: usize) -> Vec<Value> {
    eventually(&format!("{n} audit records"), || lines(path).len() >= n).await;
    lines(path)
}

/// A raw login with `connect` (a CONNECT line); whether the server answered PING with PONG
/// and no error.
async fn login(s: &TestServer, connect: impl FnOnce(&RawClient) -> Vec<u8>) -> bool {
    let mut c = RawClient::connect(s.addr).await;
    let line = connect(&c);
    c.send(&line).await;
    let (got, closed) = c.ping_pong_or_close().await;
    !closed && !String::from_utf8_lossy(&got).contains("-ERR")
}

fn user_pass(user: &str, pass: &str) -> Vec<u8> {
    format!(
        "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\",\"name\":\"audit-client\",\"lang\":\"raw\",\"version\":\"9.9\"}}\r\n"
    )
    .into_bytes()
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// Every record has the connection fields and none that does not apply.
fn assert_common(r: &Value) {
    assert_eq!(text(r, "addr"), "127.0.0.1", "{r}");
    assert!(r["port"].as_u64().unwrap() > 0, "{r}");
    assert!(r["cid"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(text(r, "transport"), "tcp", "{r}");
    assert!(r["duration_us"].is_u64(), "{r}");
    let time = text(r, "time");
    assert!(
        time.ends_with('Z') && time.len() == "2026-01-01T00:00:00.000000Z".len(),
        "{time}"
    );
    for absent in [
        "pass",
        "password",
        "token",
        "auth_token",
        "sig",
        "jwt",
        "seed",
    ] {
        assert!(r.get(absent).is_none(), "{absent} in {r}");
    }
}

#[tokio::test]
async fn passwords_accepted_and_refused_without_the_password() {
    let (path, block) = audit_file("");
    let hash = rnats_auth::hash_password_bcrypt("bcrypt-Secret-77", 4).unwrap();
    let s = start_conf(&format!(
        "{block}\naccounts {{ A {{ users = [ {{ user: alice, password: \"plain-Secret-42\" }}, {{ user: bob, password: \"{hash}\" }} ] }} }}"
    ))
    .await;
    assert!(login(&s, |_| user_pass("alice", "plain-Secret-42")).await);
    assert!(!login(&s, |_| user_pass("alice", "wrong-Secret-13")).await);
    assert!(!login(&s, |_| user_pass("mallory", "plain-Secret-42")).await);
    assert!(login(&s, |_| user_pass("bob", "bcrypt-Secret-77")).await);
    let r = records(&path, 4).await;
    for record in &r {
        assert_common(record);
        assert_eq!(text(record, "method"), "password");
        assert_eq!(text(record, "phase"), "connect");
        assert_eq!(text(record, "client_name"), "audit-client");
        assert_eq!(text(record, "client_lang"), "raw");
        assert_eq!(text(record, "client_version"), "9.9");
    }
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(text(&r[0], "user"), "alice");
    assert_eq!(text(&r[0], "account"), "A");
    assert!(r[0].get("reason").is_none());
    assert_eq!(text(&r[1], "outcome"), "refused");
    assert_eq!(text(&r[1], "user"), "alice");
    assert_eq!(text(&r[1], "reason"), "wrong password for user \"alice\"");
    assert_eq!(text(&r[2], "reason"), "unknown user \"mallory\"");
    assert_eq!(text(&r[3], "outcome"), "accepted");
    assert_eq!(text(&r[3], "user"), "bob");
    let file = std::fs::read_to_string(&path).unwrap();
    for secret in [
        "plain-Secret-42",
        "wrong-Secret-13",
        "bcrypt-Secret-77",
        &hash,
    ] {
        assert!(
            !file.contains(secret),
            "{secret} leaked into the audit file"
        );
    }
}

#[tokio::test]
async fn tokens_no_auth_and_auth_timeout() {
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\nauthorization {{ token: \"tok-Secret-99\", timeout: 0.3 }}"
    ))
    .await;
    let token = |t: &str| format!("CONNECT {{\"verbose\":false,\"auth_token\":\"{t}\"}}\r\n");
    assert!(login(&s, |_| token("tok-Secret-99").into_bytes()).await);
    assert!(!login(&s, |_| token("tok-Wrong-98").into_bytes()).await);
    // Nothing sent: refused when the authentication timeout fires.
    let mut idle = RawClient::connect(s.addr).await;
    let closed = String::from_utf8_lossy(&idle.read_to_close().await).into_owned();
    assert!(closed.contains("Authentication Timeout"), "{closed}");
    let r = records(&path, 3).await;
    r.iter().for_each(assert_common);
    assert_eq!(
        (text(&r[0], "outcome"), text(&r[0], "method")),
        ("accepted".into(), "token".into())
    );
    assert_eq!(text(&r[0], "account"), "$G");
    assert_eq!(
        (text(&r[1], "outcome"), text(&r[1], "reason")),
        ("refused".into(), "wrong token".into())
    );
    assert_eq!(
        (text(&r[2], "method"), text(&r[2], "reason")),
        ("none".into(), "Authentication Timeout".into())
    );
    assert_eq!(r[2]["duration_us"], 300_000);
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains("tok-Secret-99") && !file.contains("tok-Wrong-98"));

    // No authentication configured: every client is accepted, and said so.
    let (path, block) = audit_file("");
    let open = start_conf(&block).await;
    let client = async_nats::ConnectOptions::new()
        .name("open-client")
        .connect(open.url())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let r = records(&path, 1).await;
    assert_common(&r[0]);
    assert_eq!(
        (text(&r[0], "outcome"), text(&r[0], "method")),
        ("accepted".into(), "none".into())
    );
    assert_eq!(text(&r[0], "client_name"), "open-client");
    assert_eq!(text(&r[0], "client_lang"), "rust");
}

#[tokio::test]
async fn nkeys_and_bad_signatures() {
    let (path, block) = audit_file("");
    let pair = KeyPair::new_user();
    let s = start_conf(&format!(
        "{block}\nauthorization {{ users = [ {{ nkey: {} }} ] }}",
        pair.public_key()
    ))
    .await;
    let signed = |c: &RawClient, signer: &KeyPair| {
        let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
        let sig = data_encoding::BASE64URL_NOPAD.encode(&signer.sign(nonce.as_bytes()).unwrap());
        (
            format!(
                "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\n",
                pair.public_key()
            ),
            sig,
        )
    };
    let mut sigs = Vec::new();
    assert!(
        login(&s, |c| {
            let (line, sig) = signed(c, &pair);
            sigs.push(sig);
            line.into_bytes()
        })
        .await
    );
    let other = KeyPair::new_user();
    assert!(
        !login(&s, |c| {
            let (line, sig) = signed(c, &other);
            sigs.push(sig);
            line.into_bytes()
        })
        .await
    );
    let r = records(&path, 2).await;
    r.iter().for_each(assert_common);
    assert_eq!(text(&r[0], "method"), "nkey");
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(text(&r[0], "nkey"), pair.public_key());
    assert_eq!(text(&r[1], "outcome"), "refused");
    assert_eq!(
        text(&r[1], "reason"),
        format!("bad nonce signature for \"{}\"", pair.public_key())
    );
    let file = std::fs::read_to_string(&path).unwrap();
    for sig in sigs {
        assert!(!file.contains(&sig), "a nonce signature leaked");
    }
    assert!(!file.contains(&pair.seed().unwrap()));
}

#[tokio::test]
async fn jwts_expired_and_revoked() {
    let mut trust = Trust::new();
    let (acc, mut claims) = account("ACME");
    let (revoked, revoked_jwt) = user("gone", &acc, &acc, |_| {});
    claims.revocations.revoke(
        revoked.public_key(),
        std::time::SystemTime::now() + Duration::from_secs(60),
    );
    trust.add(&acc, &claims);
    let (alice, alice_jwt) = user("alice-jwt", &acc, &acc, |_| {});
    let (old, old_jwt) = user("old", &acc, &acc, |c| {
        c.expires = Some(std::time::UNIX_EPOCH + Duration::from_secs(1_000_000))
    });
    let (path, block) = audit_file("");
    let s = start_conf(&trust.config(&block)).await;
    assert!(login(&s, |c| jwt_connect(c, &alice_jwt, Some(&alice))).await);
    assert!(!login(&s, |c| jwt_connect(c, &old_jwt, Some(&old))).await);
    assert!(!login(&s, |c| jwt_connect(c, &revoked_jwt, Some(&revoked))).await);
    let r = records(&path, 3).await;
    r.iter().for_each(assert_common);
    for record in &r {
        assert_eq!(text(record, "method"), "jwt");
        assert_eq!(text(record, "jwt_issuer"), acc.public_key());
    }
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(text(&r[0], "jwt_name"), "alice-jwt");
    assert_eq!(text(&r[0], "nkey"), alice.public_key());
    assert_eq!(text(&r[0], "account"), acc.public_key());
    assert_eq!(text(&r[1], "outcome"), "refused");
    assert_eq!(text(&r[1], "jwt_name"), "old");
    assert!(text(&r[1], "reason").contains("expired"), "{}", r[1]);
    assert_eq!(text(&r[2], "jwt_name"), "gone");
    assert_eq!(
        text(&r[2], "reason"),
        format!("user {} authentication revoked", revoked.public_key())
    );
    let file = std::fs::read_to_string(&path).unwrap();
    for jwt in [&alice_jwt, &old_jwt, &revoked_jwt] {
        assert!(!file.contains(jwt.as_str()), "a JWT leaked");
        let body = jwt.split('.').nth(1).unwrap();
        assert!(!file.contains(body), "a JWT body leaked");
    }
}

#[tokio::test]
async fn refusals_before_any_method_and_connection_limits() {
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\nconnect_rate_limit {{ per_address: 1, burst: 2, failed_login_cost: 0 }}\nauthorization {{ users = [ {{ user: a, password: b, max_connections: 1 }} ] }}"
    ))
    .await;
    let mut first = RawClient::connect(s.addr).await;
    first.send(&user_pass("a", "b")).await;
    assert_eq!(first.ping_pong().await, b"");
    assert!(!login(&s, |_| user_pass("a", "b")).await);
    // The bucket (two connections) is empty now: the third is throttled before CONNECT.
    let mut third = RawClient::connect(s.addr).await;
    let said = String::from_utf8_lossy(&third.read_to_close().await).into_owned();
    assert!(said.contains("throttling"), "{said}");
    let r = records(&path, 3).await;
    r.iter().for_each(assert_common);
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(
        (
            text(&r[1], "outcome"),
            text(&r[1], "user"),
            text(&r[1], "reason")
        ),
        (
            "refused".into(),
            "a".into(),
            "maximum user active connections exceeded (1 allowed)".into()
        )
    );
    assert_eq!(
        (text(&r[2], "method"), text(&r[2], "reason")),
        ("none".into(), "connect rate limit reached".into())
    );
}

#[tokio::test]
async fn the_file_rotates_by_size_and_keeps_max_files() {
    let (path, block) = audit_file(", max_size: 700, max_files: 2");
    let s = start_conf(&format!(
        "{block}\nauthorization {{ user: u, password: p }}"
    ))
    .await;
    for _ in 0..12 {
        assert!(login(&s, |_| user_pass("u", "p")).await);
    }
    let numbered = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
    let count = || lines(&path).len() + lines(&numbered(1)).len() + lines(&numbered(2)).len();
    eventually("rotated files", || numbered(2).exists() && count() > 0).await;
    for p in [path.clone(), numbered(1), numbered(2)] {
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len <= 700, "{} is {len} bytes", p.display());
    }
    assert!(
        !numbered(3).exists(),
        "only max_files rotated files are kept"
    );
    // Every kept line is a whole record; the oldest ones were dropped with audit.log.3.
    let kept = lines(&numbered(2))
        .into_iter()
        .chain(lines(&numbered(1)))
        .chain(lines(&path))
        .collect::<Vec<_>>();
    assert!(kept.len() < 12, "{}", kept.len());
    let cids: Vec<u64> = kept.iter().map(|r| r["cid"].as_u64().unwrap()).collect();
    let mut sorted = cids.clone();
    sorted.sort_unstable();
    assert_eq!(cids, sorted, "newest last across the rotated files");
}

#[tokio::test]
async fn records_are_published_on_sys() {
    let (path, block) = audit_file(", subject: true");
    let s = start_conf(&format!(
        "{block}\nsystem_account: SYS\naccounts {{ SYS {{ users = [ {{ user: sys, password: sys }} ] }}, A {{ users = [ {{ user: a, password: pw-Secret }} ] }} }}"
    ))
    .await;
    let sys = async_nats::ConnectOptions::with_user_and_password("sys".into(), "sys".into())
        .connect(s.url())
        .await
        .unwrap();
    let mut sub = sys.subscribe("$SYS.SERVER.*.AUDIT.AUTH").await.unwrap();
    sys.flush().await.unwrap();
    assert!(!login(&s, |_| user_pass("a", "nope")).await);
    // sys's own login may be published after its subscription took effect: skip it.
    let msg = loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("a record on $SYS")
            .unwrap();
        let r: Value = serde_json::from_slice(&msg.payload).unwrap();
        if text(&r, "user") == "a" {
            break msg;
        }
        assert_eq!(text(&r, "user"), "sys");
    };
    let server_id = RawClient::connect(s.addr).await.info_json()["server_id"]
        .trim_matches('"')
        .to_owned();
    assert_eq!(
        msg.subject.as_str(),
        format!("$SYS.SERVER.{server_id}.AUDIT.AUTH")
    );
    let r: Value = serde_json::from_slice(&msg.payload).unwrap();
    assert_common(&r);
    assert_eq!(text(&r, "outcome"), "refused");
    assert_eq!(text(&r, "user"), "a");
    assert_eq!(text(&r, "reason"), "wrong password for user \"a\"");
    // The file has the same records: sys's login first.
    let file = records(&path, 2).await;
    assert_eq!(text(&file[0], "user"), "sys");
    assert_eq!(file[1], r);
}

#[tokio::test]
async fn reload_turns_the_trail_on_and_off() {
    let s = start_conf("authorization { user: u, password: p }").await;
    assert!(login(&s, |_| user_pass("u", "p")).await);
    let (path, block) = audit_file("");
    let conf = format!("{block}\nauthorization {{ user: u, password: p }}");
    let mut config = rnats_config::load_str(&conf, None).unwrap().config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    s.handle.reload(config.clone()).expect("reload with audit");
    assert!(!login(&s, |_| user_pass("u", "x")).await);
    let r = records(&path, 1).await;
    assert_eq!(r.len(), 1, "nothing was recorded before the reload");
    assert_eq!(text(&r[0], "reason"), "wrong password for user \"u\"");

    // A file that cannot be opened fails the reload; the trail keeps going.
    let mut bad = config.clone();
    bad.audit.as_mut().unwrap().file = Some(scratch_dir("audit").join("no/such/dir/a.log"));
    let e = s.handle.reload(bad).unwrap_err().to_string();
    assert!(e.contains("audit"), "{e}");
    assert!(login(&s, |_| user_pass("u", "p")).await);
    records(&path, 2).await;

    // New settings for the same file: the new writer appends after the old one finished.
    let mut bigger = config.clone();
    bigger.audit.as_mut().unwrap().max_size = 1 << 20;
    s.handle
        .reload(bigger.clone())
        .expect("reload with new audit settings");
    assert!(login(&s, |_| user_pass("u", "p")).await);
    assert_eq!(records(&path, 3).await.len(), 3);

    config.audit = None;
    s.handle.reload(config).expect("reload without audit");
    assert!(login(&s, |_| user_pass("u", "p")).await);
    assert!(!login(&s, |_| user_pass("u", "x")).await);
    assert_eq!(lines(&path).len(), 3);
}

#[tokio::test]
async fn certificate_mapping_names_the_subject_and_tls_version() {
    use crate::tls::{Certs, options, try_connect};
    let certs = Certs::new();
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\n{}\nauthorization {{ users = [ {{ user: \"CN=bob,OU=eng,O=Acme,DC=example,DC=com\" }} ] }}",
        certs.server_block(", verify_and_map: true")
    ))
    .await;
    try_connect(&s, options(&certs, Some("client-dn")))
        .await
        .expect("bob by DN");
    // A CA-signed certificate that names no configured user.
    assert!(
        try_connect(&s, options(&certs, Some("client")))
            .await
            .is_err()
    );
    let r = records(&path, 2).await;
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(text(&r[0], "method"), "tls_map");
    assert_eq!(
        text(&r[0], "user"),
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com"
    );
    assert_eq!(
        text(&r[0], "cert_subject"),
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com"
    );
    assert_eq!(text(&r[0], "tls_version"), "1.3");
    assert_eq!(text(&r[1], "outcome"), "refused");
    assert_eq!(
        text(&r[1], "reason"),
        "no user matches the client certificate"
    );
    assert!(!text(&r[1], "cert_subject").is_empty(), "{}", r[1]);
    assert_eq!(text(&r[1], "tls_version"), "1.3");
    // No certificate at all: the TLS handshake refuses the client, and that is recorded too.
    assert!(try_connect(&s, options(&certs, None)).await.is_err());
    let r = records(&path, 3).await;
    assert_eq!(text(&r[2], "outcome"), "refused");
    assert_eq!(text(&r[2], "method"), "tls");
    assert!(
        text(&r[2], "reason").starts_with("TLS handshake error: "),
        "{}",
        r[2]
    );
}

/// A server on `conf` (which has a `websocket` block) on loopback; its handle and WebSocket
/// address.
async fn start_with_websocket(conf: &str) -> (rnats_broker::ServerHandle, std::net::SocketAddr) {
    let mut config = rnats_config::load_str(conf, None).unwrap().config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    let server = rnats_broker::Server::bind(config).await.unwrap();
    let ws = server.websocket_addr().unwrap();
    let handle = server.handle();
    tokio::spawn(server.run());
    (handle, ws)
}

#[tokio::test]
async fn a_websocket_client_refused_by_tls_is_recorded() {
    use tokio::io::AsyncWriteExt;
    let certs = crate::tls::Certs::new();
    let (path, block) = audit_file("");
    let conf = format!(
        "{block}\nwebsocket {{ listen: \"127.0.0.1:-1\", {} }}",
        certs.server_block("")
    );
    let (handle, ws) = start_with_websocket(&conf).await;
    // Plain HTTP where a TLS handshake is expected.
    let mut tcp = tokio::net::TcpStream::connect(ws).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let r = records(&path, 1).await;
    assert_eq!(text(&r[0], "outcome"), "refused");
    assert_eq!(text(&r[0], "method"), "tls");
    assert_eq!(text(&r[0], "transport"), "websocket");
    assert!(
        text(&r[0], "reason").starts_with("TLS handshake error: "),
        "{}",
        r[0]
    );
    handle.shutdown();
}

#[tokio::test]
async fn websocket_clients_are_marked() {
    let (path, block) = audit_file("");
    let conf = format!(
        "{block}\nwebsocket {{ listen: \"127.0.0.1:-1\", no_tls: true }}\nauthorization {{ user: w, password: \"ws-Secret-5\" }}"
    );
    let (handle, ws) = start_with_websocket(&conf).await;
    let client =
        async_nats::ConnectOptions::with_user_and_password("w".into(), "ws-Secret-5".into())
            .connect(format!("ws://{ws}"))
            .await
            .unwrap();
    client.flush().await.unwrap();
    let r = records(&path, 1).await;
    assert_eq!(text(&r[0], "transport"), "websocket");
    assert_eq!(text(&r[0], "user"), "w");
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert!(
        !std::fs::read_to_string(&path)
            .unwrap()
            .contains("ws-Secret-5")
    );
    handle.shutdown();
}

#[tokio::test]
async fn oidc_subject_and_issuer() {
    use rnats_test_support::oidc::{JwksServer, SigningKey, jwks, now_secs};
    const ISS: &str = "https://idp.test/realms/audit";
    let key = SigningKey::new("RS256", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        r#"{block}
accounts {{ APP {{}} }}
authorization {{ oidc: [ {{ issuer: "{ISS}", audience: "nats", jwks_url: "{}", account: APP }} ] }}"#,
        idp.url()
    ))
    .await;
    let claims = |exp: u64| serde_json::json!({"iss": ISS, "aud": "nats", "sub": "user-123", "exp": exp, "iat": now_secs()});
    let good = key.sign(&claims(now_secs() + 300));
    let expired = key.sign(&claims(now_secs() - 3600));
    let token = |t: &str| format!("CONNECT {{\"verbose\":false,\"auth_token\":\"{t}\"}}\r\n");
    assert!(login(&s, |_| token(&good).into_bytes()).await);
    assert!(!login(&s, |_| token(&expired).into_bytes()).await);
    let r = records(&path, 2).await;
    r.iter().for_each(assert_common);
    assert_eq!(
        (text(&r[0], "outcome"), text(&r[0], "method")),
        ("accepted".into(), "oidc".into())
    );
    assert_eq!(text(&r[0], "oidc_sub"), "user-123");
    assert_eq!(text(&r[0], "oidc_iss"), ISS);
    assert_eq!(text(&r[0], "account"), "APP");
    assert_eq!(
        (text(&r[1], "outcome"), text(&r[1], "method")),
        ("refused".into(), "oidc".into())
    );
    assert_eq!(text(&r[1], "oidc_iss"), ISS);
    assert!(
        text(&r[1], "reason").starts_with("oidc token of issuer"),
        "{}",
        r[1]
    );
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        !file.contains(&good) && !file.contains(&expired),
        "a token leaked"
    );
}

#[tokio::test]
async fn auth_callout_decisions() {
    use crate::callout::{Keys, config, serve};
    let keys = std::sync::Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let (path, block) = audit_file("");
    let s = start_conf(&format!("{block}\n{}", config(&keys, ""))).await;
    let _service = serve(s.addr, keys.clone()).await;
    assert_eq!(
        crate::callout::login(s.addr, "alice", "secret", "").await,
        "<in>"
    );
    assert_ne!(
        crate::callout::login(s.addr, "alice", "not-it-77", "").await,
        "<in>"
    );
    let r = records(&path, 3).await;
    // The service's own login first, then the two through the callout.
    assert_eq!(text(&r[0], "user"), "auth");
    assert_eq!(text(&r[0], "method"), "password");
    let (ok, refused) = (&r[1], &r[2]);
    assert_eq!(
        (text(ok, "outcome"), text(ok, "method"), text(ok, "account")),
        ("accepted".into(), "auth_callout".into(), "APP".into())
    );
    assert_eq!(text(ok, "user"), "alice");
    assert!(text(ok, "nkey").starts_with('U'), "{ok}");
    assert_eq!(
        (text(refused, "outcome"), text(refused, "method")),
        ("refused".into(), "auth_callout".into())
    );
    assert_eq!(text(refused, "user"), "alice");
    assert!(
        text(refused, "reason").starts_with("auth callout:"),
        "{refused}"
    );
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(!file.contains("secret") && !file.contains("not-it-77"));
}

#[tokio::test]
async fn a_reload_that_refuses_a_live_client_is_recorded() {
    let (path, block) = audit_file("");
    let conf = |pass: &str| {
        let text = format!(
            "{block}\naccounts {{ A {{ users = [ {{ user: u, password: {pass} }}, {{ user: v, password: pv }} ] }} }}"
        );
        let mut config = rnats_config::load_str(&text, None).unwrap().config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        config
    };
    let s = TestServer::with_config(conf("pw-One-1")).await;
    let mut live = RawClient::connect(s.addr).await;
    live.send(&user_pass("u", "pw-One-1")).await;
    assert_eq!(live.ping_pong().await, b"");
    let mut kept = RawClient::connect(s.addr).await;
    kept.send(&user_pass("v", "pv")).await;
    assert_eq!(kept.ping_pong().await, b"");
    s.handle.reload(conf("pw-Two-2")).unwrap();
    let closed = String::from_utf8_lossy(&live.read_to_close().await).into_owned();
    assert!(closed.contains("Authorization Violation"), "{closed}");
    assert_eq!(kept.ping_pong().await, b"", "v's credentials still hold");
    let r = records(&path, 3).await;
    assert_eq!(
        r.len(),
        3,
        "re-checks that keep a client in are not recorded"
    );
    assert_eq!(
        (
            text(&r[2], "phase"),
            text(&r[2], "outcome"),
            text(&r[2], "user")
        ),
        ("reload".into(), "refused".into(), "u".into())
    );
    assert_eq!(text(&r[2], "reason"), "wrong password for user \"u\"");
    assert_eq!(text(&r[2], "account"), "A");
    assert!(!std::fs::read_to_string(&path).unwrap().contains("pw-One-1"));
}

#[tokio::test]
async fn server_connection_limit_and_no_connect() {
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\nmax_connections: 1\nauthorization {{ user: u, password: p }}"
    ))
    .await;
    let mut holder = RawClient::connect(s.addr).await;
    holder.send(&user_pass("u", "p")).await;
    assert_eq!(holder.ping_pong().await, b"");
    let mut over = RawClient::connect(s.addr).await;
    let said = String::from_utf8_lossy(&over.read_to_close().await).into_owned();
    assert!(said.contains("maximum connections exceeded"), "{said}");
    let r = records(&path, 2).await;
    r.iter().for_each(assert_common);
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(
        (text(&r[1], "outcome"), text(&r[1], "reason")),
        ("refused".into(), "maximum connections exceeded".into())
    );

    // Not CONNECT first, where authentication is required: refused.
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\nauthorization {{ user: u, password: p }}"
    ))
    .await;
    let mut first = RawClient::connect(s.addr).await;
    first.send(b"SUB x 1\r\n").await;
    let said = String::from_utf8_lossy(&first.read_to_close().await).into_owned();
    assert!(said.contains("Authorization Violation"), "{said}");
    let r = records(&path, 1).await;
    assert_common(&r[0]);
    assert_eq!(
        (text(&r[0], "method"), text(&r[0], "reason")),
        ("none".into(), "no CONNECT".into())
    );
}

#[tokio::test]
async fn a_connect_check_after_authentication_is_recorded_as_the_refusal() {
    let (path, block) = audit_file("");
    let s = start_conf(&format!(
        "{block}\nauthorization {{ user: u, password: p }}"
    ))
    .await;
    // Right credentials, but the CONNECT names an account, or a protocol nobody speaks.
    for (extra, error) in [
        (r#""account":"B""#, "Authorization Violation"),
        (r#""protocol":7"#, "invalid client protocol"),
    ] {
        let mut c = RawClient::connect(s.addr).await;
        c.send(format!("CONNECT {{\"user\":\"u\",\"pass\":\"p\",{extra}}}\r\n").as_bytes())
            .await;
        let said = String::from_utf8_lossy(&c.read_to_close().await).into_owned();
        assert!(said.contains(error), "{said}");
    }
    let r = records(&path, 2).await;
    r.iter().for_each(assert_common);
    for (record, reason) in r
        .iter()
        .zip(["CONNECT may not name an account", "invalid client protocol"])
    {
        assert_eq!(text(record, "outcome"), "refused", "{record}");
        assert_eq!(text(record, "method"), "password");
        assert_eq!(text(record, "user"), "u");
        assert_eq!(text(record, "reason"), reason);
    }

    // Without any authentication configured, the same.
    let (path, block) = audit_file("");
    let s = start_conf(&block).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"no_responders\":true,\"headers\":false}\r\n")
        .await;
    let said = String::from_utf8_lossy(&c.read_to_close().await).into_owned();
    assert!(said.contains("-ERR"), "{said}");
    let r = records(&path, 1).await;
    assert_eq!(
        (text(&r[0], "outcome"), text(&r[0], "reason")),
        (
            "refused".into(),
            "no responders requires headers support".into()
        )
    );
}

#[tokio::test]
async fn credentials_that_expire_while_connected_are_recorded() {
    let mut trust = Trust::new();
    let (acc, claims) = account("ACME");
    trust.add(&acc, &claims);
    let (brief, brief_jwt) = user("brief", &acc, &acc, |c| {
        c.expires = Some(std::time::SystemTime::now() + Duration::from_secs(2));
    });
    let (path, block) = audit_file("");
    let s = start_conf(&trust.config(&block)).await;
    let mut c = RawClient::connect(s.addr).await;
    let connect = jwt_connect(&c, &brief_jwt, Some(&brief));
    c.send(&connect).await;
    assert_eq!(c.ping_pong().await, b"");
    let rest = String::from_utf8_lossy(&c.read_to_close().await).into_owned();
    assert!(
        rest.ends_with("-ERR 'User Authentication Expired'\r\n"),
        "{rest}"
    );
    let r = records(&path, 2).await;
    assert_eq!(text(&r[0], "outcome"), "accepted");
    assert_eq!(
        (
            text(&r[1], "phase"),
            text(&r[1], "outcome"),
            text(&r[1], "reason")
        ),
        (
            "expiry".into(),
            "refused".into(),
            "User Authentication Expired".into()
        )
    );
    assert_eq!(text(&r[1], "jwt_name"), "brief");
    assert_eq!(text(&r[1], "nkey"), brief.public_key());
    assert_eq!(text(&r[1], "account"), acc.public_key());
    assert_eq!(r[1]["cid"], r[0]["cid"]);
}
