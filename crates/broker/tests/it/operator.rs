//! Operator (JWT) mode end to end: an operator, a system account and accounts minted here with
//! rnats-jwt, served from `resolver: MEMORY` + `resolver_preload`, and clients logging in with
//! `.creds` (async-nats) or with hand-made CONNECTs (raw sockets); then the same set against
//! nats-server 2.15.1.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use nkeys::KeyPair;
use rnats_jwt::{
    AccountClaims, ActivationClaims, Export, ExportType, Import, OperatorClaims, Permission, Seed,
    UserClaims, UserScope, encode_account, encode_activation, encode_operator, encode_user,
    format_user_creds,
};
use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};

use crate::TestServer;
use crate::auth::start_conf;

/// An operator with its system account, and the accounts it signs.
pub(crate) struct Trust {
    pub(crate) operator: KeyPair,
    pub(crate) operator_jwt: String,
    pub(crate) system: KeyPair,
    /// (account key pair, its JWT), the system account first.
    pub(crate) accounts: Vec<(KeyPair, String)>,
}

impl Trust {
    pub(crate) fn new() -> Self {
        let operator = KeyPair::new_operator();
        let system = KeyPair::new_account();
        let mut op = OperatorClaims::new(operator.public_key());
        op.name = Some("test-operator".into());
        op.system_account = Some(system.public_key());
        let operator_jwt = encode_operator(&op, &operator).unwrap();
        let mut trust = Self {
            operator,
            operator_jwt,
            system,
            accounts: Vec::new(),
        };
        let mut sys = AccountClaims::new(trust.system.public_key());
        sys.name = Some("SYS".into());
        let sys_jwt = encode_account(&sys, &trust.operator).unwrap();
        trust.accounts.push((
            KeyPair::from_seed(&trust.system.seed().unwrap()).unwrap(),
            sys_jwt,
        ));
        trust
    }

    /// Signs `claims` with the operator and adds the account.
    pub(crate) fn add(&mut self, key: &KeyPair, claims: &AccountClaims) -> String {
        let jwt = encode_account(claims, &self.operator).unwrap();
        self.accounts.push((
            KeyPair::from_seed(&key.seed().unwrap()).unwrap(),
            jwt.clone(),
        ));
        jwt
    }

    /// A configuration file for this set (inline operator JWT, memory resolver).
    pub(crate) fn config(&self, extra: &str) -> String {
        let preload: String = self
            .accounts
            .iter()
            .map(|(k, jwt)| format!("  {}: \"{jwt}\"\n", k.public_key()))
            .collect();
        format!(
            "operator: \"{}\"\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n{preload}}}\n{extra}\n",
            self.operator_jwt,
            self.system.public_key()
        )
    }
}

/// A new account named `name`, unlimited.
pub(crate) fn account(name: &str) -> (KeyPair, AccountClaims) {
    let key = KeyPair::new_account();
    let mut claims = AccountClaims::new(key.public_key());
    claims.name = Some(name.into());
    (key, claims)
}

/// A user of `account` (named `name`) signed by `signer`; `adjust` edits the claims.
pub(crate) fn user(
    name: &str,
    account: &KeyPair,
    signer: &KeyPair,
    adjust: impl FnOnce(&mut UserClaims),
) -> (KeyPair, String) {
    let user = KeyPair::new_user();
    let mut claims = UserClaims::new(user.public_key(), account.public_key());
    claims.name = Some(name.into());
    if signer.public_key() != account.public_key() {
        claims.issuer_account = Some(account.public_key());
    }
    adjust(&mut claims);
    (user, encode_user(&claims, signer))
}

/// The `.creds` text of a user.
pub(crate) fn creds(user: &KeyPair, jwt: &str) -> String {
    format_user_creds(jwt, &Seed::new(user.seed().unwrap()).unwrap()).unwrap()
}

async fn connect(server: &TestServer, user: &KeyPair, jwt: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_credentials(&creds(user, jwt))
        .unwrap()
        .connect(server.url())
        .await
        .expect("creds login")
}

/// A raw CONNECT with `jwt` and the INFO nonce signed by `user` (no `sig` when `None`).
pub(crate) fn jwt_connect(c: &RawClient, jwt: &str, user: Option<&KeyPair>) -> Vec<u8> {
    let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
    let sig = user.map_or(String::new(), |u| {
        format!(
            ",\"sig\":\"{}\"",
            data_encoding::BASE64URL_NOPAD.encode(&u.sign(nonce.as_bytes()).unwrap())
        )
    });
    format!("CONNECT {{\"verbose\":false,\"jwt\":\"{jwt}\"{sig}}}\r\n").into_bytes()
}

/// Logs in raw and returns what the server said up to the PONG (or the close, `true`).
pub(crate) async fn raw_login(
    addr: std::net::SocketAddr,
    jwt: &str,
    user: Option<&KeyPair>,
) -> (String, bool) {
    let mut c = RawClient::connect(addr).await;
    assert!(
        c.info_json().contains_key("nonce"),
        "operator mode sends a nonce"
    );
    let connect = jwt_connect(&c, jwt, user);
    c.send(&connect).await;
    let (got, closed) = c.ping_pong_or_close().await;
    (String::from_utf8_lossy(&got).into_owned(), closed)
}

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

#[tokio::test]
async fn creds_logins_land_in_their_own_account() {
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    let (b, b_claims) = account("B");
    trust.add(&a, &a_claims);
    trust.add(&b, &b_claims);
    let server = start_conf(&trust.config("")).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let (ua2, ja2) = user("ann", &a, &a, |_| {});
    let (ub, jb) = user("bob", &b, &b, |_| {});
    let alice = connect(&server, &ua, &ja).await;
    let ann = connect(&server, &ua2, &ja2).await;
    let bob = connect(&server, &ub, &jb).await;
    let mut sub_ann = ann.subscribe("news").await.unwrap();
    let mut sub_bob = bob.subscribe("news").await.unwrap();
    ann.flush().await.unwrap();
    bob.flush().await.unwrap();
    alice.publish("news", "for A".into()).await.unwrap();
    alice.flush().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub_ann.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"for A");
    // B's subscriber is in another account: a PING round trip shows nothing came.
    bob.publish("sync", "".into()).await.unwrap();
    bob.flush().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(100), sub_bob.next())
            .await
            .is_err()
    );
    // The INFO after the first PING names the account by its key.
    let mut raw = RawClient::connect(server.addr).await;
    let connect = String::from_utf8(jwt_connect(&raw, &ja, Some(&ua))).unwrap();
    raw.send(
        connect
            .replace("{\"verbose\"", "{\"protocol\":1,\"verbose\"")
            .as_bytes(),
    )
    .await;
    assert_eq!(raw.ping_pong().await, b"");
    let got = String::from_utf8(raw.ping_pong().await).unwrap();
    assert!(
        got.contains(&format!("\"remote_account\":\"{}\"", a.public_key())),
        "{got}"
    );
}

#[tokio::test]
async fn refused_logins_say_authorization_violation() {
    let mut trust = Trust::new();
    let (a, mut a_claims) = account("A");
    let (revoked_user, revoked_jwt) = user("gone", &a, &a, |_| {});
    a_claims.revocations.revoke(
        revoked_user.public_key(),
        SystemTime::now() + Duration::from_secs(5),
    );
    a_claims.limits.disallow_bearer = true;
    trust.add(&a, &a_claims);
    let (unknown, _) = account("not loaded");
    let server = start_conf(&trust.config("")).await;

    let (good, good_jwt) = user("ok", &a, &a, |_| {});
    assert_eq!(
        raw_login(server.addr, &good_jwt, Some(&good)).await,
        (String::new(), false)
    );
    // Wrong key signing the nonce; no signature at all.
    let stranger = KeyPair::new_user();
    assert_eq!(
        raw_login(server.addr, &good_jwt, Some(&stranger)).await,
        (VIOLATION.into(), true)
    );
    assert_eq!(
        raw_login(server.addr, &good_jwt, None).await,
        (VIOLATION.into(), true)
    );
    // An account the resolver does not have; a user signed by a key the account does not list.
    let (u, j) = user("x", &unknown, &unknown, |_| {});
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    let rogue = KeyPair::new_account();
    let (u, j) = user("x", &a, &rogue, |_| {});
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    // Revoked, expired, bearer in an account that refuses bearer tokens, wrong source.
    assert_eq!(
        raw_login(server.addr, &revoked_jwt, Some(&revoked_user)).await,
        (VIOLATION.into(), true)
    );
    let (u, j) = user("old", &a, &a, |c| {
        c.expires = Some(SystemTime::now() - Duration::from_secs(10));
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    let (_, j) = user("bearer", &a, &a, |c| c.bearer_token = true);
    assert_eq!(
        raw_login(server.addr, &j, None).await,
        (VIOLATION.into(), true)
    );
    let (u, j) = user("far", &a, &a, |c| {
        c.source_networks = vec!["10.0.0.0/8".into()]
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    let (u, j) = user("near", &a, &a, |c| {
        c.source_networks = vec!["127.0.0.0/8".into()]
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
    // No JWT at all.
    let mut c = RawClient::connect(server.addr).await;
    c.send(b"CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(
        c.ping_pong_or_close().await,
        (VIOLATION.as_bytes().to_vec(), true)
    );
    // Only standard connections may log in here: a WebSocket-only user may not.
    let (u, j) = user("ws", &a, &a, |c| {
        c.allowed_connection_types = vec!["WEBSOCKET".into()]
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
}

#[tokio::test]
async fn bearer_tokens_need_no_signature() {
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (_, j) = user("bearer", &a, &a, |c| c.bearer_token = true);
    assert_eq!(
        raw_login(server.addr, &j, None).await,
        (String::new(), false)
    );
}

#[tokio::test]
async fn permissions_come_from_the_user_or_the_account_defaults() {
    let mut trust = Trust::new();
    let (a, mut a_claims) = account("A");
    a_claims.default_permissions.publish = Permission::allow(["public.>"]);
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (u, j) = user("own", &a, &a, |c| {
        c.permissions.publish = Permission::allow(["orders.>"]);
        c.permissions.subscribe = Permission::new(vec![">".into()], vec!["secret.>".into()]);
    });
    let mut c = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&c, &j, Some(&u));
    c.send(&connect).await;
    c.send(b"PUB orders.1 1\r\nx\r\nPUB public.1 1\r\nx\r\nSUB secret.x 1\r\n")
        .await;
    let got = String::from_utf8(c.ping_pong().await).unwrap();
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"public.1\"'\r\n\
         -ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\n"
    );
    let (u, j) = user("default", &a, &a, |_| {});
    let mut c = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&c, &j, Some(&u));
    c.send(&connect).await;
    c.send(b"PUB public.1 1\r\nx\r\nPUB orders.1 1\r\nx\r\n")
        .await;
    let got = String::from_utf8(c.ping_pong().await).unwrap();
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"orders.1\"'\r\n"
    );
}

#[tokio::test]
async fn scoped_signing_keys_apply_their_template() {
    let mut trust = Trust::new();
    let (a, mut a_claims) = account("A");
    let scoped = KeyPair::new_account();
    let plain = KeyPair::new_account();
    let mut scope = UserScope {
        key: scoped.public_key(),
        role: "dev".into(),
        ..UserScope::default()
    };
    scope.template.limits = rnats_jwt::UserLimits::UNLIMITED;
    scope.template.permissions.publish = Permission::allow(["u.{{name()}}.>", "t.{{tag(team)}}"]);
    a_claims.signing_keys.add_scoped(scope);
    a_claims.signing_keys.add(plain.public_key());
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (u, j) = user("alice", &a, &scoped, |c| {
        c.limits = rnats_jwt::UserLimits::default();
        c.tags = vec!["team:red".into()];
    });
    let mut c = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&c, &j, Some(&u));
    c.send(&connect).await;
    c.send(b"PUB u.alice.x 1\r\nx\r\nPUB t.red 1\r\nx\r\nPUB u.bob.x 1\r\nx\r\n")
        .await;
    let got = String::from_utf8(c.ping_pong().await).unwrap();
    assert_eq!(
        got,
        "-ERR 'Permissions Violation for Publish to \"u.bob.x\"'\r\n"
    );
    // A scoped user may not bring its own permissions or limits.
    let (u, j) = user("mallory", &a, &scoped, |c| {
        c.permissions.publish = Permission::allow([">"])
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    // A plain signing key issues users with their own permissions; it must name the account.
    let (u, j) = user("carol", &a, &plain, |_| {});
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
    let (u, j) = user("dave", &a, &plain, |c| c.issuer_account = None);
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
}

#[tokio::test]
async fn account_connection_limit() {
    let mut trust = Trust::new();
    let (a, mut a_claims) = account("A");
    a_claims.limits.conn = 1;
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (u, j) = user("one", &a, &a, |_| {});
    let mut first = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&first, &j, Some(&u));
    first.send(&connect).await;
    assert_eq!(first.ping_pong().await, b"");
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (
            "-ERR 'maximum account active connections exceeded'\r\n".into(),
            true
        )
    );
    drop(first);
    crate::eventually("the first client to leave", || {
        server.handle.client_count() == 0
    })
    .await;
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
}

#[tokio::test]
async fn an_expiring_user_is_closed_when_its_jwt_expires() {
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (u, j) = user("brief", &a, &a, |c| {
        c.expires = Some(SystemTime::now() + Duration::from_secs(2));
    });
    let mut c = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&c, &j, Some(&u));
    c.send(&connect).await;
    assert_eq!(c.ping_pong().await, b"");
    let rest = String::from_utf8(c.read_to_close().await).unwrap();
    assert!(
        rest.ends_with("-ERR 'User Authentication Expired'\r\n"),
        "{rest:?}"
    );
}

/// A stream export and a token-protected service export of A, imported by B.
fn exporting_pair(trust: &mut Trust) -> ((KeyPair, KeyPair), (KeyPair, KeyPair)) {
    let (a, mut a_claims) = account("A");
    let (b, mut b_claims) = account("B");
    a_claims.exports.push(Export {
        subject: "feed.>".into(),
        kind: ExportType::Stream,
        ..Export::default()
    });
    a_claims.exports.push(Export {
        subject: "svc.time".into(),
        kind: ExportType::Service,
        token_req: true,
        ..Export::default()
    });
    b_claims.imports.push(Import {
        subject: "feed.>".into(),
        account: a.public_key(),
        kind: ExportType::Stream,
        ..Import::default()
    });
    let mut act = ActivationClaims::new(b.public_key(), "svc.time", ExportType::Service);
    act.name = Some("time for B".into());
    b_claims.imports.push(Import {
        subject: "svc.time".into(),
        account: a.public_key(),
        kind: ExportType::Service,
        token: encode_activation(&act, &a).unwrap(),
        local_subject: "time".into(),
        ..Import::default()
    });
    trust.add(&a, &a_claims);
    trust.add(&b, &b_claims);
    let (ua, _) = user("a", &a, &a, |_| {});
    let (ub, _) = user("b", &b, &b, |_| {});
    ((a, ua), (b, ub))
}

#[tokio::test]
async fn streams_and_services_cross_accounts() {
    let mut trust = Trust::new();
    let ((a, _), (b, _)) = exporting_pair(&mut trust);
    // C imports the token-protected service without a token: refused (left out).
    let (c_key, mut c_claims) = account("C");
    c_claims.imports.push(Import {
        subject: "svc.time".into(),
        account: a.public_key(),
        kind: ExportType::Service,
        ..Import::default()
    });
    trust.add(&c_key, &c_claims);
    let server = start_conf(&trust.config("")).await;
    let (ua, ja) = user("a", &a, &a, |_| {});
    let (ub, jb) = user("b", &b, &b, |_| {});
    let (uc, jc) = user("c", &c_key, &c_key, |_| {});
    let alice = connect(&server, &ua, &ja).await;
    let bob = connect(&server, &ub, &jb).await;
    let carol = connect(&server, &uc, &jc).await;
    let mut feed = bob.subscribe("feed.>").await.unwrap();
    bob.flush().await.unwrap();
    alice.publish("feed.x", "tick".into()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), feed.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.subject.as_str(), &got.payload[..]),
        ("feed.x", &b"tick"[..])
    );
    let mut requests = alice.subscribe("svc.time").await.unwrap();
    alice.flush().await.unwrap();
    let responder = alice.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            if let Some(reply) = req.reply {
                responder.publish(reply, "noon".into()).await.unwrap();
            }
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(5), bob.request("time", "?".into()))
        .await
        .unwrap()
        .expect("the service answers B, which holds an activation");
    assert_eq!(&answer.payload[..], b"noon");
    let err = carol
        .request("svc.time", "?".into())
        .await
        .expect_err("no token");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[test]
fn config_check_reports_bad_operator_jwts() {
    let trust = Trust::new();
    // The operator JWT with another signature.
    let (signed, _) = trust.operator_jwt.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", "A".repeat(86));
    let bad = trust.config("").replace(&trust.operator_jwt, &forged);
    let loaded = rnats_config::load_str(&bad, None).expect("parses");
    let err = rnats_broker::check_config(&loaded.config).expect_err("refused");
    assert!(
        err.to_string().contains("error parsing operator JWT"),
        "{err}"
    );
    let good = rnats_config::load_str(&trust.config(""), None).unwrap();
    rnats_broker::check_config(&good.config).expect("a valid operator set passes -t");
}

// ----- the same set against nats-server 2.15.1 -----

/// One raw client's step: a login (JWT, signing key), or bytes.
enum Step {
    Login(usize, usize),
    Send(usize, &'static [u8]),
}

/// Logs in the users of `logins` and sends `steps` on both servers; the transcripts must be
/// equal once INFO lines are masked.
async fn transcript(
    addr: std::net::SocketAddr,
    logins: &[(Option<KeyPair>, String)],
    steps: &[Step],
) -> Vec<String> {
    let mut clients: Vec<Option<RawClient>> = Vec::new();
    let mut out = Vec::new();
    for step in steps {
        let i = match step {
            Step::Login(i, _) | Step::Send(i, _) => *i,
        };
        while clients.len() <= i {
            clients.push(None);
        }
        if clients[i].is_none() {
            clients[i] = Some(RawClient::connect(addr).await);
        }
        let Some(c) = clients[i].as_mut() else {
            continue;
        };
        let bytes = match step {
            Step::Login(_, n) => {
                let (key, jwt) = &logins[*n];
                jwt_connect(c, jwt, key.as_ref())
            }
            Step::Send(_, b) => b.to_vec(),
        };
        c.send(&bytes).await;
        let (got, closed) = c.ping_pong_or_close().await;
        out.push(format!(
            "client {i}: {}{}",
            String::from_utf8_lossy(&got),
            if closed { "<closed>" } else { "" }
        ));
        if closed {
            clients[i] = None;
        }
    }
    out
}

#[tokio::test]
async fn same_logins_and_deliveries_as_nats_server() {
    let mut trust = Trust::new();
    let ((a, _), (b, _)) = exporting_pair(&mut trust);
    let (lim, mut lim_claims) = account("LIMITED");
    lim_claims.limits.conn = 1;
    lim_claims.limits.disallow_bearer = true;
    let (revoked, revoked_jwt) = user("revoked", &lim, &lim, |_| {});
    lim_claims.revocations.revoke(
        revoked.public_key(),
        SystemTime::now() + Duration::from_secs(60),
    );
    let scoped = KeyPair::new_account();
    let mut scope = UserScope {
        key: scoped.public_key(),
        ..UserScope::default()
    };
    scope.template.limits = rnats_jwt::UserLimits::UNLIMITED;
    scope.template.permissions.publish = Permission::allow(["u.{{name()}}.>"]);
    scope.template.permissions.subscribe = Permission::allow(["_INBOX.>", "u.{{name()}}.>"]);
    lim_claims.signing_keys.add_scoped(scope);
    trust.add(&lim, &lim_claims);
    let mut logins: Vec<(Option<KeyPair>, String)> = Vec::new();
    let mut add = |(k, j): (KeyPair, String), sign: bool| {
        logins.push((sign.then_some(k), j));
        logins.len() - 1
    };
    let ua = add(
        user("a", &a, &a, |c| {
            c.permissions.publish = Permission::allow(["feed.>", "_INBOX.>"])
        }),
        true,
    );
    let ub = add(user("b", &b, &b, |_| {}), true);
    let limited = add(
        user("l", &lim, &scoped, |c| {
            c.limits = rnats_jwt::UserLimits::default()
        }),
        true,
    );
    let limited2 = add(user("m", &lim, &lim, |_| {}), true);
    let bearer = add(user("bearer", &a, &a, |c| c.bearer_token = true), false);
    let bearer_refused = add(user("bearer", &lim, &lim, |c| c.bearer_token = true), false);
    let rev = add((revoked, revoked_jwt), true);
    let unsigned = add(user("nosig", &a, &a, |_| {}), false);
    let expired = add(
        user("old", &b, &b, |c| {
            c.expires = Some(SystemTime::now() - Duration::from_secs(5))
        }),
        true,
    );
    let steps = [
        Step::Login(0, ua),
        Step::Login(1, ub),
        Step::Send(1, b"SUB feed.> 1\r\nSUB time.reply 2\r\n"),
        Step::Send(0, b"PUB feed.a 2\r\nhi\r\nPUB other 2\r\nno\r\n"),
        Step::Send(1, b""),
        Step::Login(2, limited),
        Step::Send(
            2,
            b"PUB u.l.x 1\r\nx\r\nPUB u.m.x 1\r\nx\r\nSUB u.m.> 1\r\n",
        ),
        Step::Login(3, limited2),
        Step::Login(4, bearer),
        Step::Login(5, bearer_refused),
        Step::Login(6, rev),
        Step::Login(7, unsigned),
        Step::Login(8, expired),
        Step::Send(9, b"CONNECT {\"verbose\":false}\r\n"),
    ];
    let dir = rnats_test_support::scratch_dir("operator-diff");
    let path = dir.join("operator.conf");
    let conf = trust.config("");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts with the operator set");
    let ours = start_conf(&conf).await;
    let theirs = transcript(reference.addr(), &logins, &steps).await;
    let mine = transcript(ours.addr, &logins, &steps).await;
    assert_eq!(mine, theirs, "rnats (left) and nats-server (right) differ");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn default_sentinel_pinned_accounts_and_times() {
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    let (b, b_claims) = account("B");
    trust.add(&a, &a_claims);
    trust.add(&b, &b_claims);
    let (_, sentinel) = user("sentinel", &a, &a, |c| {
        c.bearer_token = true;
        c.permissions.publish = Permission::allow(["public.>"]);
    });
    let extra = format!(
        "default_sentinel: \"{sentinel}\"\nresolver_pinned_accounts: [{}]",
        a.public_key()
    );
    let server = start_conf(&trust.config(&extra)).await;
    // No JWT: the sentinel's account and permissions.
    let mut c = RawClient::connect(server.addr).await;
    c.send(b"CONNECT {\"verbose\":false}\r\nPUB public.x 1\r\nx\r\nPUB private.x 1\r\nx\r\n")
        .await;
    assert_eq!(
        String::from_utf8(c.ping_pong().await).unwrap(),
        "-ERR 'Permissions Violation for Publish to \"private.x\"'\r\n"
    );
    // B is not pinned; the system account always is.
    let (u, j) = user("b", &b, &b, |_| {});
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    let (u, j) = user("sys", &trust.system, &trust.system, |_| {});
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
    // Connect times, in UTC: a window around now lets in, one later today does not.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = |offset: i64| {
        let s = (now as i64 + offset).rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    };
    let window = |start: i64, end: i64| {
        vec![rnats_jwt::TimeRange {
            start: clock(start),
            end: clock(end),
        }]
    };
    let (u, j) = user("now", &a, &a, |c| {
        c.times = window(-3600, 3600);
        c.times_location = Some("UTC".into());
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (String::new(), false)
    );
    let (u, j) = user("later", &a, &a, |c| {
        c.times = window(3600, 7200);
        c.times_location = Some("UTC".into());
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
    let (u, j) = user("nowhere", &a, &a, |c| {
        c.times = window(-3600, 3600);
        c.times_location = Some("Nowhere/Land".into());
    });
    assert_eq!(
        raw_login(server.addr, &j, Some(&u)).await,
        (VIOLATION.into(), true)
    );
}

#[test]
fn system_account_must_agree_with_the_operator() {
    let trust = Trust::new();
    let other = KeyPair::new_account().public_key();
    let conf = trust.config("").replace(
        &format!("system_account: {}", trust.system.public_key()),
        &format!("system_account: {other}"),
    );
    let loaded = rnats_config::load_str(&conf, Some(std::path::Path::new("op.conf"))).unwrap();
    let err = rnats_broker::check_config(&loaded.config).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "op.conf:2:17: system_account in config and operator JWT must be identical"
    );
}

#[tokio::test]
async fn account_jwt_mappings_rewrite_what_its_clients_publish() {
    let mut trust = Trust::new();
    let (a, mut a_claims) = account("A");
    a_claims.mappings.insert(
        "orders.*".into(),
        vec![rnats_jwt::WeightedMapping {
            subject: "eu.orders.{{wildcard(1)}}".into(),
            weight: 0,
            cluster: String::new(),
        }],
    );
    // A destination that does not compile is left out with an error; the rest still apply.
    a_claims.mappings.insert(
        "bad.*".into(),
        vec![rnats_jwt::WeightedMapping {
            subject: "x.{{wildcard(9)}}".into(),
            weight: 0,
            cluster: String::new(),
        }],
    );
    trust.add(&a, &a_claims);
    let server = start_conf(&trust.config("")).await;
    let (u, j) = user("app", &a, &a, |_| {});
    let mut c = RawClient::connect(server.addr).await;
    let connect = jwt_connect(&c, &j, Some(&u));
    c.send(&connect).await;
    c.send(b"SUB > 1\r\n").await;
    c.ping_pong().await;
    c.send(b"PUB orders.42 1\r\nx\r\nPUB bad.1 1\r\ny\r\n")
        .await;
    let got = String::from_utf8(c.ping_pong().await).unwrap();
    assert_eq!(got, "MSG eu.orders.42 1 1\r\nx\r\nMSG bad.1 1 1\r\ny\r\n");
}

#[tokio::test]
async fn accounts_beyond_their_operator_limits_are_not_used_as_in_nats_server() {
    let mut trust = Trust::new();
    let mut logins: Vec<(Option<KeyPair>, String)> = Vec::new();
    let mut steps = Vec::new();
    let cases: [&dyn Fn(&mut AccountClaims); 4] = [
        // Within its limits: the control.
        &|c| c.limits.exports = 1,
        &|c| {
            c.limits.exports = 1;
            c.exports.push(Export {
                subject: "one".into(),
                kind: ExportType::Stream,
                ..Export::default()
            });
            c.exports.push(Export {
                subject: "two".into(),
                kind: ExportType::Stream,
                ..Export::default()
            });
        },
        // nats-io/jwt checks wildcards only when exports are limited.
        &|c| {
            c.limits.exports = 5;
            c.limits.wildcard_exports = false;
            c.exports.push(Export {
                subject: "wild.*".into(),
                kind: ExportType::Service,
                ..Export::default()
            });
        },
        &|c| {
            c.exports.push(Export {
                subject: "a.>".into(),
                kind: ExportType::Stream,
                ..Export::default()
            });
            c.exports.push(Export {
                subject: "a.b".into(),
                kind: ExportType::Stream,
                ..Export::default()
            });
        },
    ];
    for (i, adjust) in cases.iter().enumerate() {
        let (key, mut claims) = account(&format!("ACC{i}"));
        adjust(&mut claims);
        trust.add(&key, &claims);
        logins.push({
            let (u, j) = user("u", &key, &key, |_| {});
            (Some(u), j)
        });
        steps.push(Step::Login(i, i));
    }
    let dir = rnats_test_support::scratch_dir("operator-validate");
    let path = dir.join("operator.conf");
    let conf = trust.config("");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts with the operator set");
    let ours = start_conf(&conf).await;
    let theirs = transcript(reference.addr(), &logins, &steps).await;
    let mine = transcript(ours.addr, &logins, &steps).await;
    assert_eq!(mine, theirs, "rnats (left) and nats-server (right) differ");
    assert_eq!(mine[0], "client 0: ", "the control logs in");
    assert!(
        mine[1..]
            .iter()
            .all(|t| t.contains("Authorization Violation")),
        "{mine:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
