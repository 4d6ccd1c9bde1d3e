//! OAuth 2 / OIDC bearer tokens end to end, against a test identity provider on loopback that
//! serves its JWK Set over HTTP, rotates keys, and goes down and up again.

use std::time::Duration;

use futures_util::StreamExt;
use rnats_test_support::RawClient;
use rnats_test_support::oidc::{
    JwksServer, SigningKey, alg_none_token, hmac_token, jwks, now_secs,
};
use serde_json::{Value, json};

use crate::TestServer;
use crate::auth::start_conf;

const ISS: &str = "https://idp.test/realms/nats";
const VIOLATION: &[u8] = b"-ERR 'Authorization Violation'\r\n";

fn claims(sub: &str, ttl: u64) -> Value {
    let now = now_secs();
    json!({"iss": ISS, "aud": ["nats", "account"], "sub": sub, "exp": now + ttl, "iat": now,
           "preferred_username": format!("{sub}-name"), "groups": ["dev"]})
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn connect_token(t: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"auth_token\":\"{t}\"}}\r\n").into_bytes()
}

async fn server(idp: &JwksServer, extra: &str) -> TestServer {
    start_conf(&format!(
        r#"accounts {{ APP {{}} }}
authorization {{
  users = [ {{ user: bob, password: "bob-pw" }} ]
  oidc: [ {{ issuer: "{ISS}", audience: "nats", jwks_url: "{}", {extra} }} ]
}}"#,
        idp.url()
    ))
    .await
}

/// Whether a raw client presenting `t` is let in.
async fn admitted(s: &TestServer, t: &str) -> bool {
    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_token(t)).await;
    let (got, closed) = c.ping_pong_or_close().await;
    !closed && got.is_empty()
}

#[tokio::test]
async fn every_algorithm_logs_in_with_async_nats() {
    let keys: Vec<SigningKey> = [
        "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    ]
    .iter()
    .map(|a| SigningKey::new(a, &format!("kid-{a}")))
    .collect();
    let idp = JwksServer::start(jwks(&keys.iter().collect::<Vec<_>>())).await;
    let s = server(&idp, "account: APP").await;
    for key in &keys {
        let client = async_nats::ConnectOptions::with_token(key.sign(&claims("u1", 300)))
            .connect(s.url())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        let mut sub = client.subscribe("echo").await.unwrap();
        client.publish("echo", "hi".into()).await.unwrap();
        let msg = sub.next().await.unwrap();
        assert_eq!(&msg.payload[..], b"hi", "{}", key.alg());
    }
}

#[tokio::test]
async fn bad_tokens_are_refused_with_authorization_violation() {
    let key = SigningKey::new("RS256", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let s = server(
        &idp,
        r#"leeway: "5s", permissions: { publish: "svc.{{claim(team)}}.>", subscribe: "_INBOX.>" }"#,
    )
    .await;
    let good = with(claims("u1", 300), "team", json!("blue"));
    assert!(admitted(&s, &key.sign(&good)).await);
    let now = now_secs();
    let refused = [
        (
            "expired",
            key.sign(&with(good.clone(), "exp", json!(now - 60))),
        ),
        (
            "not yet valid",
            key.sign(&with(good.clone(), "nbf", json!(now + 120))),
        ),
        (
            "wrong audience",
            key.sign(&with(good.clone(), "aud", json!("web"))),
        ),
        (
            "wrong issuer",
            key.sign(&with(good.clone(), "iss", json!("https://other"))),
        ),
        ("alg none", alg_none_token("k1", &good)),
        (
            "hmac with the public key",
            hmac_token("k1", &key.public_bytes(), &good),
        ),
        ("missing templated claim", key.sign(&claims("u1", 300))),
    ];
    for (what, t) in refused {
        let mut c = RawClient::connect(s.addr).await;
        c.send(&connect_token(&t)).await;
        assert_eq!(c.read_to_close().await, VIOLATION, "{what}");
    }
}

#[tokio::test]
async fn roles_grant_permissions_that_are_enforced() {
    let key = SigningKey::new("ES256", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let s = server(
        &idp,
        r#"user_claim: preferred_username
           permissions: { publish: ["svc.{{claim(sub)}}.>"], subscribe: ["_INBOX.>", "svc.>"] }
           roles_claim: groups
           roles: { admin: { publish: ">", subscribe: ">" }, "orders:read": { subscribe: "orders.>" } }"#,
    )
    .await;
    let mut dev = RawClient::connect(s.addr).await;
    dev.send(&connect_token(&key.sign(&claims("u1", 300))))
        .await;
    dev.send(
        b"SUB svc.> 1\r\nPUB svc.u1.ping 2\r\nok\r\nPUB svc.u2.ping 2\r\nno\r\nSUB orders.> 2\r\n",
    )
    .await;
    assert_eq!(
        dev.ping_pong().await,
        b"MSG svc.u1.ping 1 2\r\nok\r\n\
          -ERR 'Permissions Violation for Publish to \"svc.u2.ping\"'\r\n\
          -ERR 'Permissions Violation for Subscription to \"orders.>\"'\r\n"
    );
    let admin = with(claims("root", 300), "groups", json!(["admin"]));
    let mut root = RawClient::connect(s.addr).await;
    root.send(&connect_token(&key.sign(&admin))).await;
    root.send(b"PUB svc.u2.ping 3\r\nyes\r\n").await;
    assert_eq!(root.ping_pong().await, b"");
    assert_eq!(dev.ping_pong().await, b"MSG svc.u2.ping 1 3\r\nyes\r\n");
    // A scope string works as a roles claim too.
    let reader = with(claims("r", 300), "groups", json!("openid orders:read"));
    let mut r = RawClient::connect(s.addr).await;
    r.send(&connect_token(&key.sign(&reader))).await;
    r.send(b"SUB orders.> 1\r\n").await;
    assert_eq!(r.ping_pong().await, b"");
}

#[tokio::test]
async fn token_expiry_closes_the_live_connection() {
    let key = SigningKey::new("EdDSA", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let s = server(&idp, r#"leeway: "0s""#).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_token(&key.sign(&claims("u1", 2)))).await;
    assert_eq!(c.ping_pong().await, b"");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    let line = loop {
        let line = tokio::time::timeout_at(deadline, c.read_line())
            .await
            .expect("closed in time");
        if line == "PING" {
            c.send(b"PONG\r\n").await;
            continue;
        }
        break line;
    };
    assert_eq!(line, "-ERR 'User Authentication Expired'");
    assert_eq!(c.read_to_close().await, b"");
}

#[tokio::test]
async fn key_rotation_is_picked_up_on_an_unknown_kid() {
    let old = SigningKey::new("RS256", "2026-01");
    let new = SigningKey::new("ES384", "2026-02");
    let idp = JwksServer::start(jwks(&[&old])).await;
    let s = server(&idp, "").await;
    assert!(admitted(&s, &old.sign(&claims("u1", 300))).await);
    assert!(
        !admitted(&s, &new.sign(&claims("u1", 300))).await,
        "not published yet"
    );
    idp.set(jwks(&[&new]));
    // The refetch after the first miss is rate-limited (a few seconds); the background
    // refresher (every ten minutes) is not due.
    let rotated = new.sign(&claims("u1", 300));
    crate::eventually_async("the rotated key to be accepted", || admitted(&s, &rotated)).await;
    assert!(
        !admitted(&s, &old.sign(&claims("u1", 300))).await,
        "old key retired"
    );
}

#[tokio::test]
async fn provider_down_at_start_then_back() {
    let key = SigningKey::new("PS256", "k1");
    let mut idp = JwksServer::reserved(jwks(&[&key])).await;
    let s = server(&idp, "").await;
    let t = key.sign(&claims("u1", 300));
    assert!(!admitted(&s, &t).await, "no keys: refused");
    // Other methods keep working meanwhile.
    let mut bob = RawClient::connect(s.addr).await;
    bob.send(b"CONNECT {\"verbose\":false,\"user\":\"bob\",\"pass\":\"bob-pw\"}\r\n")
        .await;
    assert_eq!(bob.ping_pong().await, b"");
    idp.resume().await;
    crate::eventually_async("keys to load once the provider is back", || {
        admitted(&s, &t)
    })
    .await;
    assert!(idp.served() >= 1);
}

#[tokio::test]
async fn token_as_password_beside_users() {
    let key = SigningKey::new("ES256", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let s = server(&idp, "account: APP").await;
    let t = key.sign(&claims("u1", 300));
    let client = async_nats::ConnectOptions::with_user_and_password("oidc".into(), t)
        .connect(s.url())
        .await
        .expect("token as password");
    client.flush().await.unwrap();
    let bob = async_nats::ConnectOptions::with_user_and_password("bob".into(), "bob-pw".into())
        .connect(s.url())
        .await
        .expect("users still work");
    bob.flush().await.unwrap();
    // The token user is in APP, bob in $G: they do not see each other's messages.
    let mut sub = client.subscribe("x").await.unwrap();
    client.flush().await.unwrap();
    bob.publish("x", "from-g".into()).await.unwrap();
    bob.flush().await.unwrap();
    client.publish("x", "from-app".into()).await.unwrap();
    assert_eq!(&sub.next().await.unwrap().payload[..], b"from-app");
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"bob\",\"pass\":\"wrong\"}\r\n")
        .await;
    assert_eq!(c.read_to_close().await, VIOLATION);
}

#[tokio::test]
async fn unreadable_jwks_file_is_a_located_config_error() {
    let loaded = rnats_config::load_str(
        "authorization {\n  oidc: [ { issuer: i, audience: a,\n    jwks_file: \"/nonexistent/jwks.json\" } ]\n}",
        None,
    )
    .unwrap();
    let text = match rnats_broker::Server::bind(loaded.config).await {
        Ok(_) => panic!("a missing jwks_file must stop the server"),
        Err(e) => e.to_string(),
    };
    assert!(
        text.contains("3:16: cannot read jwks_file /nonexistent/jwks.json"),
        "{text}"
    );
}

#[tokio::test]
async fn reload_rechecks_token_users() {
    let key = SigningKey::new("ES256", "k1");
    let idp = JwksServer::start(jwks(&[&key])).await;
    let conf = |perms: &str| {
        format!(
            r#"authorization {{
  users = [ {{ user: bob, password: "bob-pw" }} ]
  oidc: [ {{ issuer: "{ISS}", audience: "nats", jwks_url: "{}", {perms} }} ]
}}"#,
            idp.url()
        )
    };
    let s = start_conf(&conf(r#"permissions: { publish: "a", subscribe: "a" }"#)).await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_token(&key.sign(&claims("u1", 300)))).await;
    c.send(b"SUB a 1\r\nPUB a 1\r\nx\r\n").await;
    assert_eq!(c.ping_pong().await, b"MSG a 1 1\r\nx\r\n");
    let mut others = Vec::new();
    for i in 0..3 {
        let mut d = RawClient::connect(s.addr).await;
        d.send(&connect_token(&key.sign(&claims(&format!("d{i}"), 300))))
            .await;
        assert_eq!(d.ping_pong().await, b"");
        others.push(d);
    }

    let reload = |text: String| {
        let mut config = rnats_config::load_str(&text, None).unwrap().config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        s.handle.reload(config).unwrap();
    };
    // New permissions apply to the connected token user at once.
    reload(conf(r#"permissions: { publish: "b", subscribe: "a" }"#));
    c.send(b"PUB a 1\r\nx\r\n").await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish to \"a\"'\r\n"
    );
    // Every token user was re-checked against the new keys (fetched again after the
    // reload) and stays.
    for d in &mut others {
        d.send(b"PUB b 1\r\ny\r\n").await;
        assert_eq!(d.ping_pong().await, b"");
    }
    // The issuer removed: its users are closed.
    reload("authorization { users = [ { user: bob, password: \"bob-pw\" } ] }".into());
    assert_eq!(c.read_to_close().await, VIOLATION);
}
