//! Regression tests for defects found by attacking the server: each case here once crashed it,
//! let a client past a security setting, or let one client cost others their service.

use rnats_test_support::RawClient;

use crate::TestServer;
use crate::auth::start_conf;

const QUIET: &[u8] = b"CONNECT {\"verbose\":false}\r\n";

/// One SUB with ten thousand tokens used to overflow the stack in the recursive trie insert and
/// abort the process. Now it is an invalid subject like any other, and everybody goes on.
#[tokio::test]
async fn a_subject_with_ten_thousand_tokens_is_refused_not_fatal() {
    let s = TestServer::with(|c| c.max_control_line = 40_000).await;
    let mut attacker = RawClient::connect(s.addr).await;
    attacker.send(QUIET).await;
    let deep = vec!["*"; 10_000].join(".");
    attacker.send(format!("SUB {deep} 1\r\n").as_bytes()).await;
    assert_eq!(attacker.ping_pong().await, b"-ERR 'Invalid Subject'\r\n");
    let lit = vec!["a"; 10_000].join(".");
    attacker
        .send(format!("SUB {lit} q 2\r\nPUB {lit} 2\r\nhi\r\n").as_bytes())
        .await;
    assert_eq!(attacker.ping_pong().await, b"-ERR 'Invalid Subject'\r\n");

    // The deepest allowed subscription works end to end.
    let max = vec!["*"; rnats_sublist::MAX_TOKENS].join(".");
    let msg = vec!["t"; rnats_sublist::MAX_TOKENS].join(".");
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(format!("SUB {max} 7\r\nPUB {msg} 2\r\nok\r\n").as_bytes())
        .await;
    assert_eq!(
        c.ping_pong().await,
        format!("MSG {msg} 7 2\r\nok\r\n").into_bytes()
    );
}

/// `pinned_certs` without `verify: true` must not let a client without a certificate in.
#[tokio::test]
async fn pinned_certs_without_verify_fail_closed() {
    let dir = rnats_test_support::scratch_dir("pin-noverify");
    rnats_tls::testcerts::write_all(&dir).expect("test certificates");
    let path = |n: &str| dir.join(n).display().to_string();
    let certs = rnats_tls::load_certs(&dir.join("client.pem")).unwrap();
    let pin = rnats_tls::PeerIdentity::from_cert(&certs[0])
        .unwrap()
        .spki_sha256_hex;
    let s = start_conf(&format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", pinned_certs: [\"{pin}\"] }}",
        path("server.pem"),
        path("server-key.pem"),
    ))
    .await;
    let connect = async_nats::ConnectOptions::new()
        .add_root_certificates(dir.join("ca.pem"))
        .require_tls(true)
        .connect(s.url());
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), connect).await;
    assert!(
        !matches!(result, Ok(Ok(_))),
        "a client without a certificate got in"
    );
}

/// A deny entry with a queue (`admin.secret workers`) also filters what a broader queue
/// subscription in that group receives (as nats-server 2.15.1 does), not only SUB itself.
#[tokio::test]
async fn queue_scoped_deny_filters_wildcard_queue_subscriptions() {
    let s = start_conf(
        r#"authorization { users = [
            { user: a, password: a, permissions: { subscribe: { allow: [">"], deny: ["admin.secret workers"] } } }
            { user: p, password: p }
        ] }"#,
    )
    .await;
    let mut a = RawClient::connect(s.addr).await;
    a.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB admin.* workers 1\r\nSUB admin.* other 2\r\nSUB admin.secret 3\r\nSUB admin.secret workers 4\r\n")
        .await;
    assert_eq!(
        a.ping_pong().await,
        b"-ERR 'Permissions Violation for Subscription to \"admin.secret\" using queue \"workers\"'\r\n"
    );
    let mut p = RawClient::connect(s.addr).await;
    p.send(b"CONNECT {\"verbose\":false,\"user\":\"p\",\"pass\":\"p\"}\r\nPUB admin.secret 2\r\nhi\r\nPUB admin.x 2\r\nyo\r\n")
        .await;
    assert_eq!(p.ping_pong().await, b"");
    let got = String::from_utf8(a.ping_pong().await).unwrap();
    let mut lines: Vec<&str> = got.split("\r\n").filter(|l| l.starts_with("MSG")).collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "MSG admin.secret 2 2",
            "MSG admin.secret 3 2",
            "MSG admin.x 1 2",
            "MSG admin.x 2 2"
        ]
    );
}

/// `max_subscriptions` counts exactly without rescanning: refusals keep the connection, an
/// auto-unsubscribed subscription frees its place at once, and the count never drifts.
#[tokio::test]
async fn max_subscriptions_counts_expired_subscriptions_exactly() {
    let s = TestServer::with(|c| c.max_subscriptions = 100).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    let mut subs = String::from("SUB once 0\r\nUNSUB 0 1\r\n");
    for i in 1..100 {
        subs.push_str(&format!("SUB s.{i} {i}\r\n"));
    }
    c.send(subs.as_bytes()).await;
    assert_eq!(c.ping_pong().await, b"");
    // Refused again and again: each gets its -ERR, the connection stays.
    let refused: String = (0..500).map(|i| format!("SUB r.{i} r{i}\r\n")).collect();
    c.send(refused.as_bytes()).await;
    let got = c.ping_pong().await;
    assert_eq!(
        got,
        b"-ERR 'maximum subscriptions exceeded'\r\n".repeat(500)
    );
    // The auto-unsubscribe frees one place (delivered by another client, as in a real app).
    let mut p = RawClient::connect(s.addr).await;
    p.send(QUIET).await;
    p.send(b"PUB once 1\r\nx\r\n").await;
    assert_eq!(p.ping_pong().await, b"");
    assert_eq!(c.ping_pong().await, b"MSG once 0 1\r\nx\r\n");
    c.send(b"SUB new 500\r\nSUB newer 501\r\n").await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'maximum subscriptions exceeded'\r\n",
        "exactly one place was freed"
    );
    // Unsubscribing frees a place; the freed sid can be reused.
    c.send(b"UNSUB 1\r\nSUB again 1\r\nPUB again 1\r\ny\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"MSG again 1 1\r\ny\r\n");
}

/// A flood of failed logins against hashed passwords is bounded: past the per-address share
/// the server refuses at once (without hashing), every bad login still gets the same error,
/// and a returning user whose password was verified recently is let in at once.
#[tokio::test]
async fn failed_login_flood_is_bounded_and_returning_users_get_in() {
    let hash = rnats_auth::hash_password_bcrypt("right", 4).unwrap();
    let s = start_conf(&format!(
        "authorization {{ users = [ {{ user: alice, password: \"{hash}\" }} ] }}"
    ))
    .await;
    let good = b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"right\"}\r\n";
    let mut first = RawClient::connect(s.addr).await;
    first.send(good).await;
    assert_eq!(first.ping_pong().await, b"");

    let mut flood = Vec::new();
    for i in 0..200 {
        flood.push(tokio::spawn({
            let addr = s.addr;
            async move {
                let mut c = RawClient::connect(addr).await;
                let user = if i % 2 == 0 { "alice" } else { "mallory" };
                c.send(
                    format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"wrong{i}\"}}\r\nPING\r\n")
                        .as_bytes(),
                )
                .await;
                c.read_to_close().await
            }
        }));
    }
    let mut returning = RawClient::connect(s.addr).await;
    returning.send(good).await;
    assert_eq!(returning.ping_pong().await, b"");
    for f in flood {
        assert_eq!(f.await.unwrap(), b"-ERR 'Authorization Violation'\r\n");
    }
}

/// Messages the server accepted (the publisher's PING after them was answered, so each was
/// routed into its subscriber's queue) reach the subscriber before shutdown or lame-duck mode
/// closes it.
#[tokio::test]
async fn shutdown_and_lame_duck_deliver_what_was_accepted() {
    for lame_duck in [false, true] {
        let s = TestServer::with(|c| {
            c.lame_duck_duration = std::time::Duration::from_millis(200);
            c.lame_duck_grace_period = std::time::Duration::from_millis(50);
        })
        .await;
        let mut sub = RawClient::connect(s.addr).await;
        sub.send(b"CONNECT {\"verbose\":false}\r\nSUB data 1\r\n")
            .await;
        assert_eq!(sub.ping_pong().await, b"");
        let mut publisher = RawClient::connect(s.addr).await;
        publisher.send(QUIET).await;
        let burst: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("PUB data 6\r\n{i:06}\r\n").into_bytes())
            .collect();
        publisher.send(&burst).await;
        assert_eq!(publisher.ping_pong().await, b"");
        if lame_duck {
            s.handle.lame_duck();
        } else {
            s.handle.shutdown();
        }
        let got = sub.read_to_close().await;
        let text = String::from_utf8_lossy(&got);
        let delivered = text.matches("MSG data 1 6\r\n").count();
        assert_eq!(delivered, 20_000, "lame duck: {lame_duck}");
        assert!(text.contains("MSG data 1 6\r\n019999\r\n"));
    }
}
