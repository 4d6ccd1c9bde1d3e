//! `auth_error_reasons` (the opt-in reason after `Authorization Violation`) and users'
//! `max_connections`.

use std::time::Duration;

use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};

use crate::auth::start_conf;

/// Users for every reason a configuration can produce (nats-server understands all of it).
const USERS: &str = r#"
authorization { users = [
  { user: alice, password: a }
  { user: wsonly, password: w, allowed_connection_types: ["WEBSOCKET"] }
] }
"#;

fn connect_user(user: &str, pass: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n")
        .into_bytes()
}

/// What the server answers to `script` before it closes the connection.
async fn refusal(addr: std::net::SocketAddr, script: &[u8]) -> String {
    let mut c = RawClient::connect(addr).await;
    c.send(script).await;
    String::from_utf8_lossy(&c.read_to_close().await).into_owned()
}

/// The refusals a configuration-mode server gives, by case.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("wrong password", connect_user("alice", "nope")),
        ("unknown user", connect_user("mallory", "nope")),
        ("connection type", connect_user("wsonly", "w")),
        (
            "no credentials",
            b"CONNECT {\"verbose\":false}\r\n".to_vec(),
        ),
        ("no connect", b"PING\r\n".to_vec()),
    ]
}

#[tokio::test]
async fn reasons_name_the_failed_check_but_never_whether_the_user_exists() {
    let conf = format!(
        "auth_error_reasons: true\n{}",
        USERS.replace(
            "\n] }",
            "\n  { user: old, password: o, connection_deadline: \"2001-01-01T00:00:00Z\" }\n] }"
        )
    );
    let s = start_conf(&conf).await;
    let mut expected = vec![
        ("wrong password", "credentials rejected"),
        ("unknown user", "credentials rejected"),
        ("connection type", "connection type not allowed"),
        ("no credentials", "credentials required"),
        ("no connect", "credentials required"),
    ];
    let mut scripts = cases();
    scripts.push(("expired", connect_user("old", "o")));
    expected.push(("expired", "credentials expired"));
    for ((case, script), (_, reason)) in scripts.iter().zip(&expected) {
        assert_eq!(
            refusal(s.addr, script).await,
            format!("-ERR 'Authorization Violation: {reason}'\r\n"),
            "{case}"
        );
    }
    // The right password still gets in.
    let mut c = RawClient::connect(s.addr).await;
    c.send(&connect_user("alice", "a")).await;
    assert_eq!(c.ping_pong().await, b"");
}

/// Off (the default), every refusal is nats-server's, byte for byte.
#[tokio::test]
async fn without_the_switch_refusals_are_nats_servers_bytes() {
    let dir = rnats_test_support::scratch_dir("reasons-off");
    let path = dir.join("users.conf");
    std::fs::write(&path, USERS).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let s = start_conf(USERS).await;
    for (case, script) in cases() {
        let theirs = refusal(reference.addr(), &script).await;
        let ours = refusal(s.addr, &script).await;
        assert_eq!(ours, theirs, "{case}");
        assert_eq!(ours, "-ERR 'Authorization Violation'\r\n", "{case}");
    }
}

/// A signing-key JWT restricted to other networks: refused as "not permitted from this
/// address", after its signature checked out.
#[tokio::test]
async fn source_networks_are_named_when_the_credentials_are_good() {
    let s = start_conf(
        r#"auth_error_reasons: true
           accounts { PROD: { signing_keys: ["AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ"] } }"#,
    )
    .await;
    let signer =
        nkeys::KeyPair::from_seed("SAALO4IBTJ5Y7MK4DFBAYG3ZKXY35BDW3ECQOD6WK5RHHZMIPYM2ZAZOSE")
            .unwrap();
    let user = nkeys::KeyPair::new_user();
    let mut claims = rnats_jwt::UserClaims::new(user.public_key(), signer.public_key());
    claims.source_networks = vec!["10.0.0.0/8".into()];
    let jwt = rnats_jwt::encode_user(&claims, &signer);
    let login = |c: &RawClient, key: &nkeys::KeyPair| {
        let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
        let sig = data_encoding::BASE64URL_NOPAD.encode(&key.sign(nonce.as_bytes()).unwrap());
        format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\",\"sig\":\"{sig}\"}}\r\n")
    };
    let mut c = RawClient::connect(s.addr).await;
    let script = login(&c, &user);
    c.send(script.as_bytes()).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Authorization Violation: not permitted from this address'\r\n"
    );
    // Signed by the wrong key: the address is never mentioned.
    let mut c = RawClient::connect(s.addr).await;
    let script = login(&c, &nkeys::KeyPair::new_user());
    c.send(script.as_bytes()).await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Authorization Violation: credentials rejected'\r\n"
    );
}

#[tokio::test]
async fn a_user_past_max_connections_is_refused_and_others_are_not() {
    let s = start_conf(
        r#"authorization { users = [
             { user: alice, password: a, max_connections: 2 }
             { user: bob, password: b }
           ] }"#,
    )
    .await;
    let mut first = RawClient::connect(s.addr).await;
    first.send(&connect_user("alice", "a")).await;
    assert_eq!(first.ping_pong().await, b"");
    let mut second = RawClient::connect(s.addr).await;
    second.send(&connect_user("alice", "a")).await;
    assert_eq!(second.ping_pong().await, b"");
    let mut third = RawClient::connect(s.addr).await;
    third.send(&connect_user("alice", "a")).await;
    assert_eq!(
        third.read_to_close().await,
        b"-ERR 'maximum user active connections exceeded'\r\n"
    );
    let mut bob = RawClient::connect(s.addr).await;
    bob.send(&connect_user("bob", "b")).await;
    assert_eq!(bob.ping_pong().await, b"");
    // A place freed is a place taken: the server notices the close on its own time, so try
    // until it has (bounded).
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = RawClient::connect(s.addr).await;
        again.send(&connect_user("alice", "a")).await;
        let (before, closed) = again.ping_pong_or_close().await;
        if !closed {
            assert_eq!(before, b"");
            break;
        }
        assert_eq!(
            before,
            b"-ERR 'maximum user active connections exceeded'\r\n"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(second.ping_pong().await, b"");
}

/// A reload that lowers a user's `max_connections` closes the newest connections beyond it.
#[tokio::test]
async fn a_lowered_limit_closes_the_newest_connections_on_reload() {
    let conf = |n: u32| {
        format!(
            "authorization {{ users = [ {{ user: alice, password: a, max_connections: {n} }} ] }}"
        )
    };
    let s = start_conf(&conf(3)).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = RawClient::connect(s.addr).await;
        c.send(&connect_user("alice", "a")).await;
        assert_eq!(c.ping_pong().await, b"");
        clients.push(c);
    }
    let mut config = rnats_config::load_str(&conf(1), None).unwrap().config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    s.handle.reload(config).unwrap();
    let mut newest = clients.pop().unwrap();
    assert_eq!(
        newest.read_to_close().await,
        b"-ERR 'maximum user active connections exceeded'\r\n"
    );
    let mut second = clients.pop().unwrap();
    assert_eq!(
        second.read_to_close().await,
        b"-ERR 'maximum user active connections exceeded'\r\n"
    );
    assert_eq!(clients[0].ping_pong().await, b"", "the oldest stays");
}

/// Operator mode: the account and JWT checks have their own words, and a JWT signed for by
/// the wrong key is only "credentials rejected".
#[tokio::test]
async fn operator_mode_reasons() {
    use crate::operator::{Trust, account, raw_login, user};
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    let (b, b_claims) = account("B");
    trust.add(&a, &a_claims);
    trust.add(&b, &b_claims);
    let extra = format!(
        "auth_error_reasons: true\nresolver_pinned_accounts: [{}]",
        a.public_key()
    );
    let s = start_conf(&trust.config(&extra)).await;
    let reason = |r: &str| (format!("-ERR 'Authorization Violation: {r}'\r\n"), true);

    let (u, j) = user("b", &b, &b, |_| {});
    assert_eq!(
        raw_login(s.addr, &j, Some(&u)).await,
        reason("account not found")
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = |offset: i64| {
        let s = (now as i64 + offset).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    let (u, j) = user("later", &a, &a, |c| {
        c.times = vec![rnats_jwt::TimeRange {
            start: clock(3600),
            end: clock(7200),
        }];
        c.times_location = Some("UTC".into());
    });
    assert_eq!(
        raw_login(s.addr, &j, Some(&u)).await,
        reason("outside allowed times")
    );
    assert_eq!(
        raw_login(s.addr, &j, Some(&nkeys::KeyPair::new_user())).await,
        reason("credentials rejected"),
        "the wrong key learns nothing about the times"
    );
    let (u, j) = user("ok", &a, &a, |_| {});
    assert_eq!(
        raw_login(s.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(
        c.read_to_close().await,
        b"-ERR 'Authorization Violation: credentials required'\r\n"
    );
}
