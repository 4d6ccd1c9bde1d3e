//! Operator mode, live: account JWT updates, lookups, lists and deletes on the system account,
//! what an update does to connected clients, and the full resolver's directory across a
//! restart; the same updates against nats-server 2.15.1.

use std::time::{Duration, SystemTime};

use nkeys::KeyPair;
use rnats_jwt::{AccountClaims, GenericClaims, encode_account, encode_generic};
use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};
use serde_json::Value;

use crate::TestServer;
use crate::auth::start_conf;
use crate::operator::{Trust, account, jwt_connect, raw_login, user};

/// A raw client logged in as `jwt` (signing the nonce with `key`).
pub(crate) async fn logged_in(addr: std::net::SocketAddr, key: &KeyPair, jwt: &str) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    let connect = jwt_connect(&c, jwt, Some(key));
    c.send(&connect).await;
    assert_eq!(String::from_utf8(c.ping_pong().await).unwrap(), "");
    c
}

/// A system-account client that makes requests and returns the replies.
pub(crate) struct Sys {
    client: RawClient,
    next: u32,
}

impl Sys {
    pub(crate) async fn new(addr: std::net::SocketAddr, trust: &Trust) -> Self {
        let (key, jwt) = user("sys", &trust.system, &trust.system, |_| {});
        let mut client = logged_in(addr, &key, &jwt).await;
        client.send(b"SUB _INBOX.sys.* 1\r\n").await;
        assert_eq!(client.ping_pong().await, b"");
        Self { client, next: 0 }
    }

    /// The reply's payload.
    pub(crate) async fn request(&mut self, subject: &str, body: &str) -> String {
        self.next += 1;
        let inbox = format!("_INBOX.sys.{}", self.next);
        let pub_line = format!("PUB {subject} {inbox} {}\r\n{body}\r\n", body.len());
        self.client.send(pub_line.as_bytes()).await;
        let line = self.client.read_line().await;
        let size: usize = line
            .strip_prefix(&format!("MSG {inbox} 1 "))
            .unwrap_or_else(|| panic!("a reply, got {line:?}"))
            // nats-server writes two spaces before the size of its own replies.
            .trim_start()
            .parse()
            .unwrap_or_else(|_| panic!("a reply, got {line:?}"));
        let text = self.client.until(b"\r\n").await;
        assert_eq!(text.len(), size);
        String::from_utf8(text).unwrap()
    }
}

/// A claim reply without its `server` part (ids, times and sequence numbers differ).
pub(crate) fn without_server(reply: &str) -> Value {
    let mut v: Value = serde_json::from_str(reply).unwrap_or_else(|_| panic!("JSON: {reply}"));
    let server = v.as_object_mut().unwrap().remove("server").expect("server");
    assert!(server["id"].as_str().unwrap().starts_with('N'), "{server}");
    assert!(
        server["ver"].is_string() && server["time"].is_string(),
        "{server}"
    );
    v
}

pub(crate) fn update_subject(account: &KeyPair) -> String {
    format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", account.public_key())
}

#[tokio::test]
async fn full_resolver_serves_updates_lookups_deletes_and_a_restart() {
    let trust = Trust::new();
    let dir = rnats_test_support::scratch_dir("jwt-dir");
    let conf = trust.config("").replace(
        "resolver: MEMORY",
        &format!(
            "resolver {{ type: full, dir: \"{}\", allow_delete: true }}",
            dir.display()
        ),
    );
    let server = start_conf(&conf).await;
    let mut sys = Sys::new(server.addr, &trust).await;
    let (a, a_claims) = account("A");
    let a_jwt = encode_account(&a_claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request("$SYS.REQ.CLAIMS.UPDATE", &a_jwt).await);
    assert_eq!(
        reply,
        serde_json::json!({"data": {"account": a.public_key(), "code": 200, "message": "jwt updated"}})
    );
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let mut alice = logged_in(server.addr, &ua, &ja).await;
    // Lookups and the list.
    let lookup = format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", a.public_key());
    assert_eq!(sys.request(&lookup, "").await, a_jwt);
    let missing = format!(
        "$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP",
        KeyPair::new_account().public_key()
    );
    assert_eq!(sys.request(&missing, "").await, "");
    let list = without_server(&sys.request("$SYS.REQ.CLAIMS.LIST", "").await);
    let mut ids: Vec<String> = serde_json::from_value(list["data"].clone()).unwrap();
    ids.sort();
    let mut want = vec![a.public_key(), trust.system.public_key()];
    want.sort();
    assert_eq!(ids, want);
    // A JWT for another account on an account's subject is refused.
    let (_, b_claims) = account("B");
    let b_jwt = encode_account(&b_claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &b_jwt).await);
    assert_eq!(
        reply["error"]["description"],
        "jwt update resulted in error - subject does not match jwt content"
    );
    // Restart: the directory still has A.
    drop(sys);
    drop(alice);
    drop(server);
    let server = start_conf(&conf).await;
    alice = logged_in(server.addr, &ua, &ja).await;
    // Deletes must be signed by the operator; then A's clients are expired.
    let mut sys = Sys::new(server.addr, &trust).await;
    let mut req = GenericClaims::new(trust.operator.public_key());
    req.data
        .insert("accounts".into(), serde_json::json!([a.public_key()]));
    let stranger = KeyPair::new_operator();
    let mut forged = GenericClaims::new(stranger.public_key());
    forged.data = req.data.clone();
    let reply = without_server(
        &sys.request(
            "$SYS.REQ.CLAIMS.DELETE",
            &encode_generic(&forged, &stranger).unwrap(),
        )
        .await,
    );
    assert_eq!(
        reply,
        serde_json::json!({"error": {"code": 500, "description": format!("delete accounts request by {} failed - not trusted", stranger.public_key())}})
    );
    let reply = without_server(
        &sys.request(
            "$SYS.REQ.CLAIMS.DELETE",
            &encode_generic(&req, &trust.operator).unwrap(),
        )
        .await,
    );
    assert_eq!(
        reply,
        serde_json::json!({"data": {"code": 200, "message": "deleted 1 accounts"}})
    );
    let rest = String::from_utf8(alice.read_to_close().await).unwrap();
    assert_eq!(rest, "-ERR 'Account Authentication Expired'\r\n");
    assert!(dir.join(format!("{}.jwt.deleted", a.public_key())).exists());
    assert_eq!(
        raw_login(server.addr, &ja, Some(&ua)).await,
        ("-ERR 'Authorization Violation'\r\n".into(), true)
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

/// A, with users `n` users connected in order, and a system client.
async fn with_users(
    n: usize,
    claims: &AccountClaims,
    a: &KeyPair,
    trust: &mut Trust,
) -> (TestServer, Sys, Vec<RawClient>) {
    trust.add(a, claims);
    let server = start_conf(&trust.config("")).await;
    let sys = Sys::new(server.addr, trust).await;
    let mut clients = Vec::new();
    for i in 0..n {
        let (k, j) = user(&format!("u{i}"), a, a, |_| {});
        clients.push((k, j));
    }
    let mut raw = Vec::new();
    for (k, j) in &clients {
        raw.push(logged_in(server.addr, k, j).await);
    }
    (server, sys, raw)
}

#[tokio::test]
async fn a_revocation_closes_the_users_it_names() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    trust.add(&a, &claims);
    let server = start_conf(&trust.config("")).await;
    let mut sys = Sys::new(server.addr, &trust).await;
    let (k1, j1) = user("gone", &a, &a, |_| {});
    let (k2, j2) = user("stays", &a, &a, |_| {});
    let mut gone = logged_in(server.addr, &k1, &j1).await;
    let mut stays = logged_in(server.addr, &k2, &j2).await;
    claims
        .revocations
        .revoke(k1.public_key(), SystemTime::now() + Duration::from_secs(5));
    let jwt = encode_account(&claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &jwt).await);
    assert_eq!(reply["data"]["message"], "jwt updated");
    let rest = String::from_utf8(gone.read_to_close().await).unwrap();
    assert_eq!(rest, "-ERR 'User Authentication Revoked'\r\n");
    assert_eq!(stays.ping_pong().await, b"");
    // The memory resolver skips accounts it has not loaded.
    let (z, z_claims) = account("Z");
    let z_jwt = encode_account(&z_claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&z), &z_jwt).await);
    assert_eq!(
        reply,
        serde_json::json!({"data": {"account": z.public_key(), "code": 200, "message": "jwt update skipped"}})
    );
    assert_eq!(
        raw_login(server.addr, &j1, Some(&k1)).await,
        ("-ERR 'Authorization Violation'\r\n".into(), true)
    );
}

#[tokio::test]
async fn a_lowered_connection_limit_closes_the_newest() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    let (_server, mut sys, mut clients) = with_users(3, &claims.clone(), &a, &mut trust).await;
    claims.limits.conn = 1;
    let jwt = encode_account(&claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &jwt).await);
    assert_eq!(reply["data"]["message"], "jwt updated");
    for newer in &mut clients[1..] {
        let rest = String::from_utf8(newer.read_to_close().await).unwrap();
        assert_eq!(
            rest,
            "-ERR 'maximum account active connections exceeded'\r\n"
        );
    }
    assert_eq!(clients[0].ping_pong().await, b"");
}

#[tokio::test]
async fn a_removed_signing_key_closes_its_users_and_new_permissions_apply() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    let signer = KeyPair::new_account();
    claims.signing_keys.add(signer.public_key());
    trust.add(&a, &claims);
    let server = start_conf(&trust.config("")).await;
    let mut sys = Sys::new(server.addr, &trust).await;
    let (ks, js) = user("signed", &a, &signer, |_| {});
    let (kd, jd) = user("direct", &a, &a, |_| {});
    let mut signed = logged_in(server.addr, &ks, &js).await;
    let mut direct = logged_in(server.addr, &kd, &jd).await;
    direct.send(b"SUB orders.x 1\r\nSUB public.x 2\r\n").await;
    assert_eq!(direct.ping_pong().await, b"");
    claims.signing_keys.remove(&signer.public_key());
    claims.default_permissions.subscribe = rnats_jwt::Permission::allow(["public.>"]);
    let jwt = encode_account(&claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &jwt).await);
    assert_eq!(reply["data"]["message"], "jwt updated");
    assert_eq!(signed.read_to_close().await, b"", "closed without an error");
    assert_eq!(
        String::from_utf8(direct.ping_pong().await).unwrap(),
        "-ERR 'Permissions Violation for Subscription to \"orders.x\" (sid \"1\")'\r\n"
    );
}

#[tokio::test]
async fn same_update_answers_and_closes_as_nats_server() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    trust.add(&a, &claims);
    let (k1, j1) = user("gone", &a, &a, |_| {});
    let (k2, j2) = user("stays", &a, &a, |_| {});
    let (k3, j3) = user("third", &a, &a, |_| {});
    let signer = KeyPair::new_account();
    let conf = trust.config("");
    let dir = rnats_test_support::scratch_dir("claims-diff");
    let path = dir.join("operator.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts");
    let ours = start_conf(&conf).await;
    // Updates: a revocation of the first user, then conn 1 (the third is the newest), then a
    // JWT about another account, then garbage.
    claims
        .revocations
        .revoke(k1.public_key(), SystemTime::now() + Duration::from_secs(30));
    let revoking = encode_account(&claims, &trust.operator).unwrap();
    claims.limits.conn = 1;
    claims.signing_keys.add(signer.public_key());
    let limiting = encode_account(&claims, &trust.operator).unwrap();
    let (other, other_claims) = account("O");
    let other_jwt = encode_account(&other_claims, &trust.operator).unwrap();
    // Beyond the operator's export limit: refused by validation.
    let mut invalid_claims = claims.clone();
    invalid_claims.limits.exports = 0;
    invalid_claims.exports.push(rnats_jwt::Export {
        subject: "x".into(),
        kind: rnats_jwt::ExportType::Stream,
        ..rnats_jwt::Export::default()
    });
    let invalid = encode_account(&invalid_claims, &trust.operator).unwrap();
    let mut transcripts = Vec::new();
    for addr in [reference.addr(), ours.addr] {
        let mut t = Vec::new();
        let mut sys = Sys::new(addr, &trust).await;
        let mut c1 = logged_in(addr, &k1, &j1).await;
        let mut c2 = logged_in(addr, &k2, &j2).await;
        let mut c3 = logged_in(addr, &k3, &j3).await;
        t.push(without_server(
            &sys.request(&update_subject(&a), &revoking).await,
        ));
        t.push(Value::from(
            String::from_utf8(c1.read_to_close().await).unwrap(),
        ));
        t.push(without_server(
            &sys.request(&update_subject(&a), &limiting).await,
        ));
        t.push(Value::from(
            String::from_utf8(c3.read_to_close().await).unwrap(),
        ));
        t.push(Value::from(
            String::from_utf8(c2.ping_pong().await).unwrap(),
        ));
        t.push(without_server(
            &sys.request(&update_subject(&a), &other_jwt).await,
        ));
        t.push(without_server(
            &sys.request(&update_subject(&other), "").await,
        ));
        t.push(without_server(
            &sys.request(&update_subject(&a), &invalid).await,
        ));
        t.push(Value::from(
            String::from_utf8(c2.ping_pong().await).unwrap(),
        ));
        transcripts.push(t);
    }
    assert_eq!(
        transcripts[1], transcripts[0],
        "rnats (left), nats-server (right)"
    );
    let refused = transcripts[1][7].to_string();
    assert!(
        refused.contains("jwt update resulted in error - account validation failed"),
        "{refused}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_changed_scope_closes_its_users() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    let scoped = KeyPair::new_account();
    let mut scope = rnats_jwt::UserScope {
        key: scoped.public_key(),
        ..rnats_jwt::UserScope::default()
    };
    scope.template.limits = rnats_jwt::UserLimits::UNLIMITED;
    scope.template.permissions.publish = rnats_jwt::Permission::allow(["a.>"]);
    claims.signing_keys.add_scoped(scope.clone());
    trust.add(&a, &claims);
    let server = start_conf(&trust.config("")).await;
    let mut sys = Sys::new(server.addr, &trust).await;
    let (ks, js) = user("scoped", &a, &scoped, |c| {
        c.limits = rnats_jwt::UserLimits::default();
    });
    let (kd, jd) = user("direct", &a, &a, |_| {});
    let mut scoped_user = logged_in(server.addr, &ks, &js).await;
    let mut direct = logged_in(server.addr, &kd, &jd).await;
    // An update that leaves the scope alone keeps the user.
    claims.name = Some("A, renamed".into());
    let jwt = encode_account(&claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &jwt).await);
    assert_eq!(reply["data"]["message"], "jwt updated");
    assert_eq!(scoped_user.ping_pong().await, b"");
    scope.template.permissions.publish = rnats_jwt::Permission::allow(["b.>"]);
    claims.signing_keys.add_scoped(scope);
    let jwt = encode_account(&claims, &trust.operator).unwrap();
    let reply = without_server(&sys.request(&update_subject(&a), &jwt).await);
    assert_eq!(reply["data"]["message"], "jwt updated");
    assert_eq!(
        scoped_user.read_to_close().await,
        b"",
        "closed without an error"
    );
    assert_eq!(direct.ping_pong().await, b"");
}

#[tokio::test]
async fn an_expiring_account_closes_its_clients() {
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    claims.expires = Some(SystemTime::now() + Duration::from_secs(2));
    trust.add(&a, &claims);
    let server = start_conf(&trust.config("")).await;
    let (k, j) = user("u", &a, &a, |_| {});
    let mut c = logged_in(server.addr, &k, &j).await;
    let rest = String::from_utf8(c.read_to_close().await).unwrap();
    assert_eq!(rest, "-ERR 'Account Authentication Expired'\r\n");
    assert_eq!(
        raw_login(server.addr, &j, Some(&k)).await,
        ("-ERR 'Authorization Violation'\r\n".into(), true)
    );
}
