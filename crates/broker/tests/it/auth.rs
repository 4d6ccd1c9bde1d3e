//! Authentication, permissions and accounts configured the nats-server way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use rnats_broker::{Server, ServerConfig};
use rnats_test_support::RawClient;

use crate::TestServer;

const FIXTURE_NKEY_1: (&str, &str) = (
    "UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP",
    "SUAJD323CI3DZSQUAZGE7J5QMHJLVB3B6VQF5MKACFIJGEFOYTN7GLQASQ",
);

/// A broker running the given nats-server configuration text.
pub(crate) async fn start_conf(conf: &str) -> TestServer {
    let loaded = rnats_config::load_str(conf, None).expect("valid config");
    TestServer::with_config(loaded.config).await
}

impl TestServer {
    pub(crate) async fn with_config(mut config: ServerConfig) -> Self {
        config.host = "127.0.0.1".into();
        config.port = 0;
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        tokio::spawn(server.run());
        Self { handle, addr }
    }
}

fn fixture(name: &str) -> String {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/seed-configs");
    std::fs::read_to_string(dir.join(name)).expect("fixture")
}

/// CONNECT with the nonce from INFO signed by the NKey seed.
fn nkey_connect(c: &RawClient, seed: &str) -> Vec<u8> {
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let pair = nkeys::KeyPair::from_seed(seed).unwrap();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&pair.sign(nonce.as_bytes()).unwrap());
    format!(
        "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\n",
        pair.public_key()
    )
    .into_bytes()
}

fn connect_user(user: &str, pass: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n")
        .into_bytes()
}

const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

#[tokio::test]
async fn token_fixture_with_async_nats_and_raw() {
    let s = start_conf(&fixture("01-token.conf")).await;
    let good = async_nats::ConnectOptions::with_token("secret_token_here".into())
        .connect(s.url())
        .await
        .expect("right token");
    let mut sub = good.subscribe("t").await.unwrap();
    good.publish("t", "x".into()).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "x");

    // async-nats reports the refusal as an error on connect.
    let bad = tokio::time::timeout(
        Duration::from_secs(5),
        async_nats::ConnectOptions::with_token("wrong".into()).connect(s.url()),
    )
    .await
    .unwrap();
    assert!(bad.is_err());
    let mut raw = RawClient::connect(s.addr).await;
    assert_eq!(raw.info_json()["auth_required"], "true");
    assert!(!raw.info_json().contains_key("nonce"));
    raw.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"nope\"}\r\nPING\r\n")
        .await;
    assert_eq!(raw.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn first_op_must_be_connect_when_auth_is_required() {
    let s = start_conf(&fixture("01-token.conf")).await;
    let mut raw = RawClient::connect(s.addr).await;
    raw.send(b"PING\r\n").await;
    assert_eq!(raw.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn bcrypt_single_user_fixture() {
    let s = start_conf(&fixture("02-single-user-bcrypt.conf")).await;
    let ok = async_nats::ConnectOptions::with_user_and_password(
        "admin".into(),
        "secret_password".into(),
    )
    .connect(s.url())
    .await;
    assert!(ok.is_ok());
    let mut raw = RawClient::connect(s.addr).await;
    raw.send(&connect_user("admin", "wrong")).await;
    assert_eq!(raw.read_to_close().await, VIOLATION);
    // A repeat login of the same user and password is served from the verified-secret cache.
    for _ in 0..3 {
        let mut raw = RawClient::connect(s.addr).await;
        raw.send(&connect_user("admin", "secret_password")).await;
        assert_eq!(raw.ping_pong().await, b"");
    }
}

#[tokio::test]
async fn argon2_password() {
    let hash = rnats_auth::hash_password_argon2("correct horse").unwrap();
    let s = start_conf(&format!(
        "authorization {{ users = [ {{ user: carol, password: \"{hash}\" }} ] }}"
    ))
    .await;
    let mut raw = RawClient::connect(s.addr).await;
    raw.send(&connect_user("carol", "correct horse")).await;
    assert_eq!(raw.ping_pong().await, b"");
    let mut raw = RawClient::connect(s.addr).await;
    raw.send(&connect_user("carol", "battery staple")).await;
    assert_eq!(raw.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn multi_user_permissions_fixture() {
    let s = start_conf(&fixture("03-multi-user-permissions.conf")).await;
    let mut alice = RawClient::connect(s.addr).await;
    alice.send(&connect_user("alice", "alicepw")).await;
    alice.send(b"SUB > 1\r\n").await;
    assert_eq!(alice.ping_pong().await, b"");

    let mut bob = RawClient::connect(s.addr).await;
    bob.send(&connect_user("bob", "bobpw")).await;
    bob.send(b"PUB events.login 2\r\nhi\r\nPUB secrets 2\r\nno\r\nSUB results.bob.> 1\r\nSUB results.alice 2\r\n").await;
    assert_eq!(
        bob.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"secrets\"'\r\n\
          -ERR 'Permissions Violation for Subscription to \"results.alice\"'\r\n"
    );
    // The denied message was never delivered; the allowed one was.
    assert_eq!(alice.ping_pong().await, b"MSG events.login 1 2\r\nhi\r\n");
    alice.send(b"PUB results.bob.x 1\r\nr\r\n").await;
    assert_eq!(alice.ping_pong().await, b"MSG results.bob.x 1 1\r\nr\r\n");
    assert_eq!(bob.ping_pong().await, b"MSG results.bob.x 1 1\r\nr\r\n");
}

#[tokio::test]
async fn allow_deny_fixture_deny_wins_and_filters_broad_subscriptions() {
    let s = start_conf(&fixture("08-permissions-allow-deny.conf")).await;
    let mut u = RawClient::connect(s.addr).await;
    u.send(&connect_user("u", "pw")).await;
    u.send(b"SUB events.audit.x 1\r\nSUB events.> 2\r\nPUB users.signup 1\r\na\r\nPUB users.other 1\r\na\r\n").await;
    assert_eq!(
        u.ping_pong().await,
        b"-ERR 'Permissions Violation for Subscription to \"events.audit.x\"'\r\n\
          -ERR 'Permissions Violation for Publish to \"users.other\"'\r\n"
    );
    u.send(b"SUB orders.> 3\r\nPUB orders.a 1\r\nb\r\n").await;
    assert_eq!(
        u.ping_pong().await,
        b"-ERR 'Permissions Violation for Subscription to \"orders.>\"'\r\n"
    );
}

#[tokio::test]
async fn delivery_filter_drops_denied_subjects_on_broad_subscriptions() {
    let s = start_conf(
        "authorization { users = [
            { user: sub, password: a, permissions: { subscribe: { allow: \">\", deny: \"secret.>\" } } }
            { user: pub, password: b }
        ] }",
    )
    .await;
    let mut sub = RawClient::connect(s.addr).await;
    sub.send(&connect_user("sub", "a")).await;
    sub.send(b"SUB > 1\r\nSUB secret.x 2\r\n").await;
    assert_eq!(
        sub.ping_pong().await,
        b"-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\n"
    );
    let mut publ = RawClient::connect(s.addr).await;
    publ.send(&connect_user("pub", "b")).await;
    publ.send(b"PUB secret.x 1\r\nS\r\nPUB open.x 1\r\nO\r\n")
        .await;
    assert_eq!(publ.ping_pong().await, b"");
    assert_eq!(sub.ping_pong().await, b"MSG open.x 1 1\r\nO\r\n");
}

#[tokio::test]
async fn queue_permissions() {
    let s = start_conf(
        "authorization { users = [ { user: w, password: p, permissions: { subscribe: [\"jobs.* workers\"] } } ] }",
    )
    .await;
    let mut w = RawClient::connect(s.addr).await;
    w.send(&connect_user("w", "p")).await;
    w.send(b"SUB jobs.a 1\r\nSUB jobs.a other 2\r\nSUB jobs.a workers 3\r\n")
        .await;
    assert_eq!(
        w.ping_pong().await,
        b"-ERR 'Permissions Violation for Subscription to \"jobs.a\"'\r\n\
          -ERR 'Permissions Violation for Subscription to \"jobs.a\" using queue \"other\"'\r\n"
    );
}

#[tokio::test]
async fn nkey_users_fixture() {
    let s = start_conf(&fixture("05-nkey-users.conf")).await;
    let mut c = RawClient::connect(s.addr).await;
    let nonce = c.info_json()["nonce"].clone();
    assert_eq!(
        nonce.trim_matches('"').len(),
        15,
        "11 random bytes, base64url: {nonce}"
    );
    let connect = nkey_connect(&c, FIXTURE_NKEY_1.1);
    c.send(&connect).await;
    c.send(b"SUB results.> 1\r\nPUB orders.new 1\r\nx\r\nPUB events.x 1\r\nx\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"events.x\"'\r\n"
    );
    // A signature over another nonce is refused.
    let mut other = RawClient::connect(s.addr).await;
    other.send(&connect).await;
    assert_eq!(other.read_to_close().await, VIOLATION);
    // async-nats signs the nonce itself.
    let client = async_nats::ConnectOptions::with_nkey(FIXTURE_NKEY_1.1.into())
        .connect(s.url())
        .await
        .expect("nkey login");
    client.flush().await.unwrap();
}

#[tokio::test]
async fn unknown_nkey_is_refused() {
    let s = start_conf(&fixture("05-nkey-users.conf")).await;
    let stranger = nkeys::KeyPair::new_user();
    let mut c = RawClient::connect(s.addr).await;
    let connect = nkey_connect(&c, &stranger.seed().unwrap());
    c.send(&connect).await;
    assert_eq!(c.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn accounts_are_isolated() {
    let s = start_conf(
        "accounts {
            A { users = [ { user: a1, password: p }, { user: a2, password: p } ] }
            B { users = [ { user: b1, password: p } ] }
        }",
    )
    .await;
    let mut a1 = RawClient::connect(s.addr).await;
    a1.send(&connect_user("a1", "p")).await;
    a1.send(b"SUB > 1\r\n").await;
    assert_eq!(a1.ping_pong().await, b"");
    let mut b1 = RawClient::connect(s.addr).await;
    b1.send(&connect_user("b1", "p")).await;
    b1.send(b"SUB > 1\r\nPUB x 1\r\nb\r\n").await;
    assert_eq!(b1.ping_pong().await, b"MSG x 1 1\r\nb\r\n");
    let mut a2 = RawClient::connect(s.addr).await;
    a2.send(&connect_user("a2", "p")).await;
    a2.send(b"PUB x 1\r\na\r\n").await;
    assert_eq!(a2.ping_pong().await, b"");
    assert_eq!(
        a1.ping_pong().await,
        b"MSG x 1 1\r\na\r\n",
        "only account A's message"
    );
    assert_eq!(b1.ping_pong().await, b"", "nothing crossed from A to B");
}

#[tokio::test]
async fn try_it_yourself_fixture_and_connect_info() {
    let s = start_conf(&fixture("09-try-it-yourself.conf")).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1,\"user\":\"alice\",\"pass\":\"s3cret\"}\r\nPING\r\n").await;
    c.expect(b"PONG\r\n").await;
    let info = c.read_line().await;
    assert!(info.contains("\"remote_account\":\"ORDERS\""), "{info}");
    c.send(b"PUB orders.1 1\r\nx\r\nPUB billing.1 1\r\nx\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"billing.1\"'\r\n"
    );
}

#[tokio::test]
async fn no_auth_user_and_default_permissions() {
    let s = start_conf(
        "authorization {
            default_permissions = { publish = \"public.>\" }
            users = [ { user: guest, password: unused }, { user: admin, password: adm, permissions: { publish: \">\" } } ]
        }
        no_auth_user: guest",
    )
    .await;
    let mut c = RawClient::connect(s.addr).await;
    assert!(
        !c.info_json().contains_key("auth_required"),
        "no_auth_user turns auth_required off"
    );
    // No CONNECT at all: the first op makes this client the no_auth_user.
    c.send(b"PUB public.x 1\r\na\r\nPUB private.x 1\r\na\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"+OK\r\n-ERR 'Permissions Violation for Publish to \"private.x\"'\r\n"
    );
    let mut admin = RawClient::connect(s.addr).await;
    admin.send(&connect_user("admin", "adm")).await;
    admin.send(b"PUB private.x 1\r\na\r\n").await;
    assert_eq!(admin.ping_pong().await, b"");
}

#[tokio::test]
async fn allow_responses_lets_a_service_answer_only_requests() {
    let s = start_conf(
        "authorization { users = [
            { user: svc, password: s, permissions: { subscribe: \"api.>\", allow_responses: true } }
            { user: app, password: a }
        ] }",
    )
    .await;
    let mut svc = RawClient::connect(s.addr).await;
    svc.send(&connect_user("svc", "s")).await;
    svc.send(b"SUB api.time 1\r\nPUB anything 1\r\nx\r\n").await;
    assert_eq!(
        svc.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"anything\"'\r\n"
    );
    let mut app = RawClient::connect(s.addr).await;
    app.send(&connect_user("app", "a")).await;
    app.send(b"SUB _INBOX.1 9\r\nPUB api.time _INBOX.1 1\r\n?\r\n")
        .await;
    assert_eq!(app.ping_pong().await, b"");
    assert_eq!(svc.ping_pong().await, b"MSG api.time 1 _INBOX.1 1\r\n?\r\n");
    // One answer is allowed (max 1 by default), a second is not.
    svc.send(b"PUB _INBOX.1 1\r\n!\r\nPUB _INBOX.1 1\r\n!\r\n")
        .await;
    assert_eq!(
        svc.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"_INBOX.1\"'\r\n"
    );
    assert_eq!(app.ping_pong().await, b"MSG _INBOX.1 9 1\r\n!\r\n");
}

#[tokio::test]
async fn auth_timeout_closes_silent_clients() {
    let s = start_conf("authorization { token: t0ken, timeout: 0.2 }").await;
    let mut c = RawClient::connect(s.addr).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Authentication Timeout'\r\n"
    );
}

/// RFC 3339 (UTC, seconds) for a time `secs` from now.
fn rfc3339_in(secs: u64) -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs;
    let days = (t / 86_400) as i64;
    let rem = t % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[tokio::test]
async fn connection_deadline_closes_live_connections_and_refuses_late_ones() {
    let soon = rfc3339_in(2);
    let s = start_conf(&format!(
        "authorization {{ users = [
            {{ user: temp, password: pw, connection_deadline: \"{soon}\" }}
            {{ user: old, password: pw, connection_deadline: \"2001-01-01T00:00:00Z\" }}
        ] }}"
    ))
    .await;
    let mut late = RawClient::connect(s.addr).await;
    late.send(&connect_user("old", "pw")).await;
    assert_eq!(late.read_to_close().await, VIOLATION);

    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_user("temp", "pw")).await;
    assert_eq!(c.ping_pong().await, b"");
    // Closed at the deadline, with nats-server's expiry error.
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let line = tokio::time::timeout_at(deadline, c.read_line())
            .await
            .expect("closed in time");
        if line == "PING" {
            c.send(b"PONG\r\n").await;
            continue;
        }
        all.push(line);
        break;
    }
    assert_eq!(all, ["-ERR 'User Authentication Expired'"]);
    assert_eq!(c.read_to_close().await, b"");
}

#[tokio::test]
async fn reload_applies_new_permissions_and_closes_removed_users() {
    let s = start_conf(
        "authorization { users = [
            { user: alice, password: a, permissions: { publish: \"foo\", subscribe: [\"foo\", \"bar\"] } }
            { user: bob, password: b }
        ] }",
    )
    .await;
    let mut alice = RawClient::connect(s.addr).await;
    alice.send(&connect_user("alice", "a")).await;
    alice
        .send(b"SUB foo 1\r\nSUB bar 2\r\nPUB foo 1\r\nx\r\n")
        .await;
    assert_eq!(alice.ping_pong().await, b"MSG foo 1 1\r\nx\r\n");
    let mut bob = RawClient::connect(s.addr).await;
    bob.send(&connect_user("bob", "b")).await;
    assert_eq!(bob.ping_pong().await, b"");

    let new = rnats_config::load_str(
        "authorization { users = [
            { user: alice, password: a, permissions: { publish: \"bar\", subscribe: \"foo\" } }
        ] }",
        None,
    )
    .unwrap();
    let mut config = new.config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    s.handle.reload(config).unwrap();

    assert_eq!(
        bob.read_to_close().await,
        VIOLATION,
        "bob is gone from the file"
    );
    let got = alice.ping_pong().await;
    assert_eq!(
        got, b"-ERR 'Permissions Violation for Subscription to \"bar\" (sid \"2\")'\r\n",
        "the subscription no longer allowed is removed"
    );
    alice.send(b"PUB foo 1\r\nx\r\nPUB bar 1\r\ny\r\n").await;
    assert_eq!(
        alice.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"foo\"'\r\n"
    );
}

#[tokio::test]
async fn nkey_account_fixture() {
    let s = start_conf(&fixture("06-nkey-account.conf")).await;
    let mut c = RawClient::connect(s.addr).await;
    let connect = String::from_utf8(nkey_connect(&c, FIXTURE_NKEY_1.1))
        .unwrap()
        .replace("\"verbose\":false", "\"verbose\":false,\"protocol\":1");
    c.send(connect.as_bytes()).await;
    c.send(b"PING\r\n").await;
    c.expect(b"PONG\r\n").await;
    let info = c.read_line().await;
    assert!(info.contains("\"remote_account\":\"ORDERS\""), "{info}");
}

const EXPORTS: &str = r#"accounts {
  A {
    users = [ { user: a, password: p } ]
    exports = [
      { stream: "feed.>" }
      { service: "svc.time" }
      { stream: "private.>", accounts: [C] }
    ]
  }
  B {
    users = [ { user: b, password: p } ]
    imports = [
      { stream: { account: A, subject: "feed.>" }, prefix: "fromA" }
      { service: { account: A, subject: "svc.time" }, to: "time" }
    ]
  }
  C {
    users = [ { user: c, password: p } ]
    imports = [ { stream: { account: A, subject: "private.>" } } ]
  }
}"#;

#[tokio::test]
async fn stream_import_with_prefix_and_restricted_export() {
    let s = start_conf(EXPORTS).await;
    let mut b = RawClient::connect(s.addr).await;
    b.send(&connect_user("b", "p")).await;
    b.send(b"SUB fromA.> 1\r\nSUB private.> 2\r\nSUB feed.> 3\r\n")
        .await;
    assert_eq!(b.ping_pong().await, b"");
    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_user("c", "p")).await;
    c.send(b"SUB private.> 1\r\n").await;
    assert_eq!(c.ping_pong().await, b"");
    let mut a = RawClient::connect(s.addr).await;
    a.send(&connect_user("a", "p")).await;
    a.send(b"PUB feed.news 1\r\nn\r\nPUB private.x 1\r\nx\r\n")
        .await;
    assert_eq!(a.ping_pong().await, b"");
    assert_eq!(
        b.ping_pong().await,
        b"MSG fromA.feed.news 1 1\r\nn\r\n",
        "prefixed, and private.> is not B's"
    );
    assert_eq!(c.ping_pong().await, b"MSG private.x 1 1\r\nx\r\n");
}

#[tokio::test]
async fn service_import_routes_requests_and_replies() {
    let s = start_conf(EXPORTS).await;
    let mut a = RawClient::connect(s.addr).await;
    a.send(&connect_user("a", "p")).await;
    a.send(b"SUB svc.time 1\r\n").await;
    assert_eq!(a.ping_pong().await, b"");
    let mut b = RawClient::connect(s.addr).await;
    b.send(&connect_user("b", "p")).await;
    b.send(b"SUB inbox.1 7\r\nPUB time inbox.1 1\r\n?\r\n")
        .await;
    assert_eq!(b.ping_pong().await, b"");
    // A sees the request on its own subject with a reply subject of its own account.
    let request = String::from_utf8(a.ping_pong().await).unwrap();
    let mut lines = request.split("\r\n");
    let header: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(&header[..3], ["MSG", "svc.time", "1"]);
    let reply = header[3];
    assert!(reply.starts_with("_R_."), "{reply}");
    a.send(format!("PUB {reply} 4\r\nnoon\r\nPUB {reply} 4\r\nlate\r\n").as_bytes())
        .await;
    assert_eq!(a.ping_pong().await, b"");
    // One response (singleton), delivered to B's inbox.
    assert_eq!(b.ping_pong().await, b"MSG inbox.1 7 4\r\nnoon\r\n");
}

#[tokio::test]
async fn service_import_with_async_nats_request() {
    let s = start_conf(EXPORTS).await;
    let service = async_nats::ConnectOptions::with_user_and_password("a".into(), "p".into())
        .connect(s.url())
        .await
        .unwrap();
    let mut requests = service.subscribe("svc.time").await.unwrap();
    service.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                service.publish(reply, "12:00".into()).await.unwrap();
                service.flush().await.unwrap();
            }
        }
    });
    let client = async_nats::ConnectOptions::with_user_and_password("b".into(), "p".into())
        .connect(s.url())
        .await
        .unwrap();
    let answer = client.request("time", "?".into()).await.unwrap();
    assert_eq!(answer.payload, "12:00");
    let err = client.request("svc.time", "?".into()).await.unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "only the import subject reaches A"
    );
}

#[tokio::test]
async fn system_account_is_not_reachable_from_other_accounts() {
    let s = start_conf(
        "accounts { SYS { users = [ { user: sys, password: p } ] }, APP { users = [ { user: app, password: p } ] } }
         system_account: SYS",
    )
    .await;
    let mut sys = RawClient::connect(s.addr).await;
    sys.send(&connect_user("sys", "p")).await;
    sys.send(b"SUB > 1\r\n").await;
    assert_eq!(sys.ping_pong().await, b"");
    let mut app = RawClient::connect(s.addr).await;
    app.send(&connect_user("app", "p")).await;
    app.send(b"PUB $SYS.REQ.SERVER.PING 1\r\nx\r\nPUB anything 1\r\nx\r\n")
        .await;
    assert_eq!(app.ping_pong().await, b"");
    // The server's own events (client connects, STATSZ heartbeats) are in the system
    // account, as in nats-server; nothing APP published is.
    let got = sys.ping_pong().await;
    let text = String::from_utf8_lossy(&got);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("MSG $SYS.REQ.") || l.starts_with("MSG anything ")),
        "{text}"
    );
}

/// Fixture 07's account signing key.
const PROD_SIGNING_SEED: &str = "SAALO4IBTJ5Y7MK4DFBAYG3ZKXY35BDW3ECQOD6WK5RHHZMIPYM2ZAZOSE";

fn creds(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

fn user_jwt(user: &nkeys::KeyPair, signer_seed: &str, publish: &[&str]) -> String {
    let signer = nkeys::KeyPair::from_seed(signer_seed).unwrap();
    let mut claims = rnats_jwt::UserClaims::new(user.public_key(), signer.public_key());
    claims.name = Some("jwt-user".into());
    claims.permissions.publish = rnats_jwt::Permission::allow(publish.iter().copied());
    rnats_jwt::encode_user(&claims, &signer)
}

#[tokio::test]
async fn signing_key_jwt_joins_the_account_with_its_permissions() {
    let s = start_conf(&fixture("07-account-signing-keys.conf")).await;
    let user = nkeys::KeyPair::new_user();
    let jwt = user_jwt(&user, PROD_SIGNING_SEED, &["prod.>"]);

    // Raw: JWT plus the nonce signed by the user key.
    let mut c = RawClient::connect(s.addr).await;
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&user.sign(nonce.as_bytes()).unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,\"protocol\":1,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\nPING\r\n")
            .as_bytes(),
    )
    .await;
    c.expect(b"PONG\r\n").await;
    let info = c.read_line().await;
    assert!(info.contains("\"remote_account\":\"PROD\""), "{info}");
    c.send(b"PUB prod.x 1\r\nx\r\nPUB dev.x 1\r\nx\r\n").await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"dev.x\"'\r\n"
    );

    // The same JWT with a signature by another key is refused.
    let mut c = RawClient::connect(s.addr).await;
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let other = nkeys::KeyPair::new_user();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&other.sign(nonce.as_bytes()).unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\n").as_bytes(),
    )
    .await;
    assert_eq!(c.read_to_close().await, VIOLATION);

    // A JWT signed by a key the account does not list is refused.
    let stranger = nkeys::KeyPair::new_account();
    let forged = user_jwt(&user, &stranger.seed().unwrap(), &[">"]);
    let mut c = RawClient::connect(s.addr).await;
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&user.sign(nonce.as_bytes()).unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{forged}\",\"sig\":\"{sig}\"}}\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!(c.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn creds_file_with_async_nats() {
    let s = start_conf(&fixture("07-account-signing-keys.conf")).await;
    let user = nkeys::KeyPair::new_user();
    let jwt = user_jwt(&user, PROD_SIGNING_SEED, &["prod.>"]);
    let client = async_nats::ConnectOptions::with_credentials(&creds(&jwt, &user.seed().unwrap()))
        .unwrap()
        .connect(s.url())
        .await
        .expect("creds login");
    let mut sub = client.subscribe("prod.events").await.unwrap();
    client.publish("prod.events", "ok".into()).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "ok");
}

#[tokio::test]
async fn jwt_limits_lower_the_server_limits() {
    let s = start_conf(&fixture("07-account-signing-keys.conf")).await;
    let user = nkeys::KeyPair::new_user();
    let signer = nkeys::KeyPair::from_seed(PROD_SIGNING_SEED).unwrap();
    let mut claims = rnats_jwt::UserClaims::new(user.public_key(), signer.public_key());
    claims.limits.subscriptions = 1;
    claims.limits.payload = 8;
    let jwt = rnats_jwt::encode_user(&claims, &signer);
    let mut c = RawClient::connect(s.addr).await;
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&user.sign(nonce.as_bytes()).unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,\"protocol\":1,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\nPING\r\n")
            .as_bytes(),
    )
    .await;
    c.expect(b"PONG\r\n").await;
    let info = c.read_line().await;
    assert!(
        info.contains("\"max_payload\":8"),
        "per-connection max_payload: {info}"
    );
    c.send(b"SUB a 1\r\nSUB b 2\r\nPUB a 8\r\n12345678\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 8\r\n12345678\r\n"
    );
    c.send(b"PUB a 9\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Maximum Payload Violation'\r\n"
    );
}

#[tokio::test]
async fn unauthorized_imports_refuse_to_start() {
    for (conf, expected) in [
        (
            "accounts { A { exports = [ { stream: \"private.>\", accounts: [C] } ] }
                        B { imports = [ { stream: { account: A, subject: \"private.>\" } } ] }
                        C { } }",
            "Error adding stream import \"private.>\": stream import not authorized",
        ),
        (
            "accounts { A { exports = [ { stream: \"feed.*.>\", account_token_position: 2 } ] }
                        B { imports = [ { stream: { account: A, subject: \"feed.C.>\" } } ] } }",
            "Error adding stream import \"feed.C.>\": stream import not authorized",
        ),
        (
            "accounts { B { imports = [ { service: { account: A, subject: \"x\" } } ] }, A { } }",
            "Error adding service import \"x\": service import not authorized",
        ),
    ] {
        let mut config = rnats_config::load_str(conf, None).expect("parses").config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        let err = Server::bind(config).await.err().expect("refused");
        assert_eq!(err.to_string(), expected);
    }
}

#[tokio::test]
async fn stream_import_to_mapping_fills_wildcards_in_order() {
    let s = start_conf(
        "accounts {
            A { users = [ { user: a, password: p } ], exports = [ { stream: \"private.>\" } ] }
            B { users = [ { user: b, password: p } ], imports = [ { stream: { account: A, subject: \"private.>\" }, to: \"a.private.>\" } ] }
        }",
    )
    .await;
    let mut b = RawClient::connect(s.addr).await;
    b.send(&connect_user("b", "p")).await;
    b.send(b"SUB > 1\r\n").await;
    assert_eq!(b.ping_pong().await, b"");
    let mut a = RawClient::connect(s.addr).await;
    a.send(&connect_user("a", "p")).await;
    a.send(b"PUB private.x.y 1\r\nz\r\n").await;
    assert_eq!(a.ping_pong().await, b"");
    assert_eq!(b.ping_pong().await, b"MSG a.private.x.y 1 1\r\nz\r\n");
}

/// Operator `TESTOP` (nats-server `server/opts_test.go`), as opaque text.
const OPERATOR_JWT: &str = "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJLRTZRU0tWTU1VWFFKNFZCTDNSNDdGRFlIWElaTDRZSE1INjVIT0k1UjZCNUpPUkxVQlZBIiwiaWF0IjoxNTg5OTE2MzgyLCJpc3MiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsIm5hbWUiOiJURVNUT1AiLCJzdWIiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsInR5cGUiOiJvcGVyYXRvciIsIm5hdHMiOnsic3lzdGVtX2FjY291bnQiOiJBRFNQT1lNSFhKTjZKVllRQ0xSWjVYUTVJVU42QTNTMzNYQTROVjRWSDc0NDIzVTdVN1lSNFlWVyJ9fQ.HiyUtlk8kectKHeQHtuqFcjFt0RbYZE_WAqPCcoWlV2IFVdXuOTzShYEMgDmtgvsFG_zxNQOj08Gr6a06ovwBA";

#[tokio::test]
async fn operator_mode_refuses_what_rnats_does_not_build() {
    let load = |src: &str| {
        rnats_config::load_str(src, Some(std::path::Path::new("op.conf")))
            .expect("the parser accepts operator mode")
            .config
    };
    let bind = |mut config: ServerConfig| async move {
        config.host = "127.0.0.1".into();
        config.port = 0;
        Server::bind(config)
            .await
            .err()
            .expect("refused")
            .to_string()
    };
    // A version-1 operator JWT with the memory resolver is served.
    let config = load(&format!(
        "port: 1\noperator: {OPERATOR_JWT}\nresolver: MEMORY"
    ));
    rnats_broker::check_config(&config).expect("-t accepts operator mode");
    let config = load("trusted: OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG");
    assert_eq!(
        bind(config).await,
        "op.conf:1:10: trusted keys need an account resolver: rnats supports resolver: MEMORY, URL(…) and resolver { type: full|cache, dir: … }"
    );
    let config = load(&format!(
        "operator: {OPERATOR_JWT}\nresolver: URL(\"http://localhost:9/jwt/v1/accounts/\")"
    ));
    // The URL resolver's server must answer before the server starts (nothing on port 9).
    let refused = bind(config).await;
    assert!(
        refused.starts_with("could not fetch <\"http://localhost:9/jwt/v1/accounts/\">: "),
        "{refused}"
    );
    // Nor can a reload switch a running server to operator mode.
    let running = start_conf("port: 1").await;
    let mut config = load(&format!("operator: {OPERATOR_JWT}\nresolver: MEMORY"));
    config.host = "127.0.0.1".into();
    config.port = 0;
    let err = running.handle.reload(config).expect_err("reload refused");
    assert_eq!(
        err.to_string(),
        "config reload not supported for TrustedOperators: old=none, new=operator mode"
    );
}
