//! Auth callout (config mode): a callout service written here (async-nats, rnats-jwt) answers
//! `$SYS.REQ.USER.AUTH`; the same configuration runs on nats-server 2.15.1 and on rnats, and
//! every login must end the same way on both. Then rnats' own `local_first`, and a service
//! that is down.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use nkeys::{KeyPair, XKey};
use rnats_jwt::{
    AuthorizationRequestClaims, AuthorizationResponseClaims, Permission, UserClaims,
    decode_authorization_request, encode_authorization_response, encode_user,
};
use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};

use crate::auth::start_conf;

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// The service: what it saw, and the keys it answers with.
pub(crate) struct Service {
    calls: Arc<AtomicUsize>,
    /// Per request: the request's `nats` key layout, for comparing servers.
    layouts: Arc<Mutex<Vec<String>>>,
    /// Every request, decoded.
    requests: Arc<Mutex<Vec<AuthorizationRequestClaims>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keys shared by the configuration and the service.
pub(crate) struct Keys {
    pub(crate) issuer: KeyPair,
    pub(crate) other: KeyPair,
    pub(crate) xkey: Option<XKey>,
}

pub(crate) fn config(keys: &Keys, extra: &str) -> String {
    let xkey = keys
        .xkey
        .as_ref()
        .map(|x| format!("xkey: {}", x.public_key()))
        .unwrap_or_default();
    format!(
        "accounts {{
           AUTH {{ users: [ {{ user: auth, password: pw }} ] }}
           APP {{ users: [ {{ user: local, password: lpw }} ] }}
         }}
         authorization {{
           timeout: 1
           auth_callout {{
             issuer: {}
             account: AUTH
             auth_users: [ auth ]
             {xkey}
             {extra}
           }}
         }}",
        keys.issuer.public_key()
    )
}

/// The `nats` object's keys, and those of its parts, sorted: what a service can rely on.
fn layout(claims_json: &serde_json::Value) -> String {
    let nats = &claims_json["nats"];
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k.join(",")
    };
    format!(
        "top[{}] nats[{}] server_id[{}] client_info[{}] connect_opts[{}] aud={} type={}",
        keys(claims_json),
        keys(nats),
        keys(&nats["server_id"]),
        keys(&nats["client_info"]),
        keys(&nats["connect_opts"]),
        claims_json["aud"],
        nats["type"]
    )
}

fn payload_json(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).expect("payload");
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(part.as_bytes())
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// The service's answer to one request, chosen by the CONNECT user name.
fn answer(keys: &Keys, req: &AuthorizationRequestClaims) -> Option<Vec<u8>> {
    let opts = &req.connect_options;
    let server = req.server.id.clone();
    let mut response = AuthorizationResponseClaims::new(&req.user_nkey, &server);
    let mut user = UserClaims::new(&req.user_nkey, keys.issuer.public_key());
    user.audience = Some("APP".into());
    user.permissions.publish = Permission::allow(["app.>"]);
    let mut signer = &keys.issuer;
    let mut response_signer = &keys.issuer;
    match (opts.username.as_str(), opts.password.as_str()) {
        ("alice", "secret") => {}
        ("alice", _) => response.error = Some("wrong password".into()),
        ("expiring", _) => {
            user.expires = Some(SystemTime::now() + Duration::from_secs(2));
        }
        ("forger", _) => signer = &keys.other,
        ("stranger", _) => {
            response = AuthorizationResponseClaims::new(KeyPair::new_user().public_key(), &server)
        }
        ("elsewhere", _) => response.audience = Some(KeyPair::new_server().public_key()),
        ("signed-by-other", _) => response_signer = &keys.other,
        ("empty", _) => return Some(Vec::new()),
        ("slow", _) => return None,
        _ => response.error = Some("unknown user".into()),
    }
    if response.error.is_none() {
        response.jwt = Some(encode_user(&user, signer));
    }
    let token = encode_authorization_response(&response, response_signer).expect("encode");
    Some(token.into_bytes())
}

/// Starts the service on `addr` as user `auth`.
pub(crate) async fn serve(addr: SocketAddr, keys: Arc<Keys>) -> Service {
    serve_with(async_nats::ConnectOptions::new(), addr, keys).await
}

/// [`serve`] with more connect options (TLS).
async fn serve_with(
    opts: async_nats::ConnectOptions,
    addr: SocketAddr,
    keys: Arc<Keys>,
) -> Service {
    let client = opts
        .user_and_password("auth".into(), "pw".into())
        .connect(addr.to_string())
        .await
        .expect("service connects");
    let mut sub = client
        .subscribe("$SYS.REQ.USER.AUTH")
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let calls = Arc::new(AtomicUsize::new(0));
    let layouts = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (c, l, r) = (calls.clone(), layouts.clone(), requests.clone());
    let task = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            c.fetch_add(1, Ordering::SeqCst);
            let server_xkey = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Server-Xkey"))
                .map(|v| v.to_string());
            let jwt = match (&keys.xkey, &server_xkey) {
                (Some(mine), Some(theirs)) => {
                    let from = XKey::from_public_key(theirs).expect("server xkey");
                    String::from_utf8(mine.open(&msg.payload, &from).expect("opens")).unwrap()
                }
                _ => String::from_utf8(msg.payload.to_vec()).unwrap(),
            };
            let req = decode_authorization_request(&jwt).expect("request decodes");
            let mut line = layout(&payload_json(&jwt));
            if let (Some(_), Some(theirs)) = (&keys.xkey, &server_xkey) {
                // The header and `server_id.xkey` name the same key.
                line.push_str(&format!(" xkey-match={}", req.server.xkey == *theirs));
            }
            l.lock().unwrap().push(line);
            r.lock().unwrap().push(req.clone());
            let Some(mut body) = answer(&keys, &req) else {
                continue;
            };
            if let (Some(mine), Some(theirs), false) = (&keys.xkey, &server_xkey, body.is_empty()) {
                let to = XKey::from_public_key(theirs).unwrap();
                body = mine.seal(&body, &to).expect("seals");
            }
            let reply = msg.reply.clone().expect("request has a reply subject");
            client.publish(reply, body.into()).await.unwrap();
            client.flush().await.unwrap();
        }
    });
    Service {
        calls,
        layouts,
        requests,
        task,
    }
}

/// One login and what follows it, as text: the server's replies up to the PONG, or to the
/// close.
pub(crate) async fn login(addr: SocketAddr, user: &str, pass: &str, then: &str) -> String {
    let mut c = RawClient::connect(addr).await;
    c.send(
        format!(
            "CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\",\"headers\":true}}\r\n{then}"
        )
        .as_bytes(),
    )
    .await;
    let (out, closed) = c.ping_pong_or_close().await;
    let mut text = String::from_utf8_lossy(&out).into_owned();
    if !closed && user == "expiring" {
        // Still in: wait for the expiry to close it (nats-server may PING meanwhile).
        text.push_str("<in>");
        let rest = String::from_utf8_lossy(&c.read_to_close().await).replace("PING\r\n", "");
        text.push_str(&rest);
        return text;
    }
    text.push_str(if closed { "<closed>" } else { "<in>" });
    text
}

const LOGINS: &[(&str, &str, &str)] = &[
    (
        "alice",
        "secret",
        "PUB app.x 1\r\nx\r\nPUB other 1\r\nx\r\n",
    ),
    ("alice", "wrong", ""),
    ("nobody", "x", ""),
    ("forger", "x", ""),
    ("signed-by-other", "x", ""),
    ("stranger", "x", ""),
    ("elsewhere", "x", ""),
    ("empty", "x", ""),
    ("slow", "x", ""),
    ("expiring", "x", ""),
    // An auth user bypasses the service and may not publish requests.
    ("auth", "pw", "PUB $SYS.REQ.USER.AUTH 1\r\nx\r\n"),
    // An auth user with a wrong password is refused without the service.
    ("auth", "nope", ""),
    // A local user of another account is still sent to the service (nats-server #8044).
    ("local", "lpw", ""),
];

async fn transcript(addr: SocketAddr, keys: &Arc<Keys>) -> (Vec<String>, usize, Vec<String>) {
    let service = serve(addr, keys.clone()).await;
    let mut lines = Vec::new();
    for (user, pass, then) in LOGINS {
        lines.push(format!(
            "{user}/{pass}: {}",
            login(addr, user, pass, then).await
        ));
    }
    let calls = service.calls.load(Ordering::SeqCst);
    let layouts = service.layouts.lock().unwrap().clone();
    (lines, calls, layouts)
}

async fn differential(keys: Keys) {
    let keys = Arc::new(keys);
    let conf = config(&keys, "");
    let dir = rnats_test_support::scratch_dir("callout");
    let path = dir.join("callout.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts with auth_callout");
    let ours = start_conf(&conf).await;
    let (theirs, their_calls, their_layouts) = transcript(reference.addr(), &keys).await;
    let (mine, my_calls, my_layouts) = transcript(ours.addr, &keys).await;
    assert_eq!(mine, theirs, "rnats (left) and nats-server (right) differ");
    assert_eq!(my_calls, their_calls);
    assert_eq!(my_layouts, their_layouts);
    // What the transcript shows, spelled out.
    let expect = |user: &str, pass: &str| {
        mine.iter()
            .find(|l| l.starts_with(&format!("{user}/{pass}: ")))
            .unwrap()
            .split_once(": ")
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(
        expect("alice", "secret"),
        "-ERR 'Permissions Violation for Publish to \"other\"'\r\n<in>"
    );
    for (u, p) in [
        ("alice", "wrong"),
        ("nobody", "x"),
        ("forger", "x"),
        ("stranger", "x"),
        ("elsewhere", "x"),
        ("empty", "x"),
        ("slow", "x"),
        ("auth", "nope"),
    ] {
        assert_eq!(expect(u, p), format!("{VIOLATION}<closed>"), "{u}");
    }
    // A plain answer must be signed by the issuer; a sealed one proved itself by opening.
    let other_signer = if keys.xkey.is_some() {
        "<in>".to_owned()
    } else {
        format!("{VIOLATION}<closed>")
    };
    assert_eq!(expect("signed-by-other", "x"), other_signer);
    assert_eq!(
        expect("expiring", "x"),
        "<in>-ERR 'User Authentication Expired'\r\n"
    );
    assert_eq!(
        expect("auth", "pw"),
        "-ERR 'Permissions Violation for Publish to \"$SYS.REQ.USER.AUTH\"'\r\n<in>"
    );
    // Every login but the two of the auth user asked the service.
    assert_eq!(my_calls, LOGINS.len() - 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn same_outcomes_as_nats_server() {
    differential(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    })
    .await;
}

#[tokio::test]
async fn encrypted_same_outcomes_as_nats_server() {
    differential(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: Some(XKey::new()),
    })
    .await;
}

#[tokio::test]
async fn local_first_skips_the_service_for_local_users() {
    let keys = Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let server = start_conf(&config(&keys, "local_first: true")).await;
    let service = serve(server.addr, keys.clone()).await;
    // A local user: in, without a call; it lands in its own account.
    assert_eq!(
        login(server.addr, "local", "lpw", "SUB app.> 1\r\n").await,
        "<in>"
    );
    assert_eq!(service.calls.load(Ordering::SeqCst), 0);
    // A local user with a wrong password, and unknown users, still ask the service.
    assert_eq!(
        login(server.addr, "local", "bad", "").await,
        format!("{VIOLATION}<closed>")
    );
    assert_eq!(login(server.addr, "alice", "secret", "").await, "<in>");
    assert_eq!(service.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_service_that_is_down_refuses_at_once_and_blocks_nobody() {
    let keys = Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let server = start_conf(&config(&keys, "")).await;
    // No service: refused without waiting for the timeout.
    let start = tokio::time::Instant::now();
    assert_eq!(
        login(server.addr, "alice", "secret", "").await,
        format!("{VIOLATION}<closed>")
    );
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    // A slow service: while one login waits for it, the auth user logs in at once.
    let service = serve(server.addr, keys.clone()).await;
    let waiting = tokio::spawn(login(server.addr, "slow", "x", ""));
    crate::eventually("the slow request", || {
        service.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    let start = tokio::time::Instant::now();
    assert_eq!(login(server.addr, "auth", "pw", "").await, "<in>");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(waiting.await.unwrap(), format!("{VIOLATION}<closed>"));
}

// ----- operator mode -----

/// Operator mode: the callout account `C` (service `svc`, sentinel bearer user), account `APP`
/// that `C` may place users in, and `OTHER` that it may not.
struct OperatorSet {
    trust: crate::operator::Trust,
    callout: KeyPair,
    app: KeyPair,
    other: KeyPair,
    svc: (KeyPair, String),
    sentinel: String,
    /// The service's curve key, when the account JWT names one.
    xkey: Option<Arc<XKey>>,
}

fn operator_set(xkey: bool) -> OperatorSet {
    use crate::operator::{Trust, account, user};
    let mut trust = Trust::new();
    let (app, app_claims) = account("APP");
    let (other, other_claims) = account("OTHER");
    let (callout, mut c_claims) = account("C");
    let svc = user("svc", &callout, &callout, |_| {});
    c_claims.authorization.auth_users = vec![rnats_jwt::peek(&svc.1).unwrap().subject];
    c_claims.authorization.allowed_accounts = vec![app.public_key()];
    let xkey = xkey.then(|| Arc::new(XKey::new()));
    if let Some(x) = &xkey {
        c_claims.authorization.xkey = x.public_key();
    }
    trust.add(&callout, &c_claims);
    trust.add(&app, &app_claims);
    trust.add(&other, &other_claims);
    let (_, sentinel) = user("sentinel", &callout, &callout, |c| {
        c.bearer_token = true;
        c.permissions.publish = Permission::new(vec![], vec![">".into()]);
        c.permissions.subscribe = Permission::new(vec![], vec![">".into()]);
    });
    OperatorSet {
        trust,
        callout,
        app,
        other,
        svc,
        sentinel,
        xkey,
    }
}

/// The operator-mode service: places users by name.
async fn serve_operator(addr: SocketAddr, set: &OperatorSet) -> tokio::task::JoinHandle<()> {
    let creds = crate::operator::creds(&set.svc.0, &set.svc.1);
    let client = async_nats::ConnectOptions::with_credentials(&creds)
        .unwrap()
        .connect(addr.to_string())
        .await
        .expect("service connects");
    let mut sub = client.subscribe("$SYS.REQ.USER.AUTH").await.unwrap();
    client.flush().await.unwrap();
    let keys = [
        KeyPair::from_seed(&set.callout.seed().unwrap()).unwrap(),
        KeyPair::from_seed(&set.app.seed().unwrap()).unwrap(),
        KeyPair::from_seed(&set.other.seed().unwrap()).unwrap(),
    ];
    let xkey = set.xkey.clone();
    tokio::spawn(async move {
        let [callout, app, other] = &keys;
        while let Some(msg) = sub.next().await {
            let server_xkey = msg
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Server-Xkey"))
                .map(|v| XKey::from_public_key(v.as_str()).unwrap());
            let jwt = match (&xkey, &server_xkey) {
                (Some(mine), Some(theirs)) => {
                    String::from_utf8(mine.open(&msg.payload, theirs).expect("opens")).unwrap()
                }
                (None, None) => std::str::from_utf8(&msg.payload).unwrap().to_owned(),
                _ => panic!("sealed exactly when the account names an xkey"),
            };
            let req = decode_authorization_request(&jwt).expect("request decodes");
            assert_eq!(req.subject, callout.public_key());
            let mut response = AuthorizationResponseClaims::new(&req.user_nkey, &req.server.id);
            let (mut signer, mut response_signer) = (app, callout);
            match req.connect_options.username.as_str() {
                "alice" => {}
                "inside" => signer = callout,
                "outsider" => signer = other,
                "unsigned" => response_signer = other,
                _ => response.error = Some("no such user".into()),
            }
            if response.error.is_none() {
                let mut u = UserClaims::new(&req.user_nkey, signer.public_key());
                u.permissions.publish = Permission::new(vec![], vec!["secret.>".into()]);
                response.jwt = Some(encode_user(&u, signer));
            }
            let token = encode_authorization_response(&response, response_signer).unwrap();
            let body = match (&xkey, &server_xkey) {
                (Some(mine), Some(theirs)) => mine.seal(token.as_bytes(), theirs).unwrap(),
                _ => token.into_bytes(),
            };
            client
                .publish(msg.reply.unwrap(), body.into())
                .await
                .unwrap();
            client.flush().await.unwrap();
        }
    })
}

async fn operator_transcript(addr: SocketAddr, set: &OperatorSet) -> Vec<String> {
    let service = serve_operator(addr, set).await;
    let mut lines = Vec::new();
    for name in ["alice", "inside", "outsider", "unsigned", "nobody"] {
        let mut c = RawClient::connect(addr).await;
        c.send(
            format!(
                "CONNECT {{\"verbose\":false,\"jwt\":\"{}\",\"user\":\"{name}\",\"pass\":\"x\"}}\r\nPUB secret.x 1\r\nx\r\nPUB $SYS.REQ.USER.AUTH 1\r\nx\r\nPUB ok 1\r\nx\r\n",
                set.sentinel
            )
            .as_bytes(),
        )
        .await;
        let (out, closed) = c.ping_pong_or_close().await;
        lines.push(format!(
            "{name}: {}{}",
            String::from_utf8_lossy(&out),
            if closed { "<closed>" } else { "<in>" }
        ));
    }
    service.abort();
    lines
}

#[tokio::test]
async fn operator_mode_same_outcomes_as_nats_server() {
    operator_differential(false).await;
}

#[tokio::test]
async fn operator_mode_encrypted_same_outcomes_as_nats_server() {
    operator_differential(true).await;
}

async fn operator_differential(xkey: bool) {
    let set = operator_set(xkey);
    let conf = set.trust.config("");
    let dir = rnats_test_support::scratch_dir("callout-operator");
    let path = dir.join("operator.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts");
    let ours = start_conf(&conf).await;
    let theirs = operator_transcript(reference.addr(), &set).await;
    let mine = operator_transcript(ours.addr, &set).await;
    assert_eq!(mine, theirs, "rnats (left) and nats-server (right) differ");
    let secret = "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n";
    let request = "-ERR 'Permissions Violation for Publish to \"$SYS.REQ.USER.AUTH\"'\r\n";
    assert_eq!(
        mine,
        [
            format!("alice: {secret}<in>"),
            format!("inside: {secret}{request}<in>"),
            format!("outsider: {VIOLATION}<closed>"),
            // A sealed answer needs no known signer: opening it proved the sender.
            if xkey {
                format!("unsigned: {secret}<in>")
            } else {
                format!("unsigned: {VIOLATION}<closed>")
            },
            format!("nobody: {VIOLATION}<closed>"),
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

// ----- TLS -----

/// With mutual TLS, the request reports the session and the client's certificate: the same
/// version and cipher as nats-server, and the leaf certificate nats-server puts first in its
/// verified chain.
#[tokio::test]
async fn client_tls_reports_the_certificate() {
    let dir = rnats_test_support::scratch_dir("callout-tls");
    rnats_tls::testcerts::write_all(&dir).expect("test certificates");
    let p = |name: &str| dir.join(name).display().to_string();
    let keys = Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let conf = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\n{}",
        p("server.pem"),
        p("server-key.pem"),
        p("ca.pem"),
        config(&keys, "")
    );
    let path = dir.join("tls.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts");
    let ours = start_conf(&conf).await;
    let tls = || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(dir.join("ca.pem"))
            .add_client_certificate(dir.join("client.pem"), dir.join("client-key.pem"))
            .require_tls(true)
    };
    let client_pem = std::fs::read_to_string(dir.join("client.pem")).unwrap();
    let mut seen = Vec::new();
    for addr in [reference.addr(), ours.addr] {
        let service = serve_with(tls(), addr, keys.clone()).await;
        let user = tls()
            .user_and_password("alice".into(), "secret".into())
            .connect(addr.to_string())
            .await
            .expect("alice is let in");
        user.flush().await.unwrap();
        let req = service.requests.lock().unwrap()[0].clone();
        let t = req.tls.expect("client_tls");
        let leaf = t
            .verified_chains
            .first()
            .and_then(|c| c.first())
            .or_else(|| t.certs.first())
            .cloned()
            .expect("a certificate");
        seen.push((t.version, t.cipher, leaf));
    }
    assert_eq!(seen[0].0, seen[1].0, "version");
    assert_eq!(seen[0].1, seen[1].1, "cipher");
    assert_eq!(seen[0].2.trim(), seen[1].2.trim(), "leaf certificate");
    assert_eq!(seen[1].2.trim(), client_pem.trim());
    let _ = std::fs::remove_dir_all(dir);
}

// ----- WebSocket -----

/// WebSocket clients go to the service too, reported as `type: websocket`, on both servers.
#[tokio::test]
async fn websocket_clients_are_sent_to_the_service() {
    let keys = Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let conf = format!(
        "websocket {{ listen: \"127.0.0.1:-1\", no_tls: true }}\n{}",
        config(&keys, "")
    );
    let dir = rnats_test_support::scratch_dir("callout-ws");
    let path = dir.join("ws.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts");
    let mut config = rnats_config::load_str(&conf, None).unwrap().config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    let server = rnats_broker::Server::bind(config).await.expect("bind");
    let ours = (server.local_addr(), server.websocket_addr().unwrap());
    let handle = server.handle();
    tokio::spawn(server.run());
    let theirs = (reference.addr(), reference.websocket_addr().unwrap());
    let mut seen = Vec::new();
    for (addr, ws) in [theirs, ours] {
        let service = serve(addr, keys.clone()).await;
        let url = format!("ws://{ws}");
        let alice =
            async_nats::ConnectOptions::with_user_and_password("alice".into(), "secret".into())
                .connect(&url)
                .await;
        let wrong =
            async_nats::ConnectOptions::with_user_and_password("alice".into(), "nope".into())
                .connect(&url)
                .await;
        let kinds: Vec<String> = service
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.client_info.client_type.clone())
            .collect();
        seen.push((alice.is_ok(), wrong.is_err(), kinds));
    }
    handle.shutdown();
    assert_eq!(seen[0], seen[1]);
    let websocket = || "websocket".to_owned();
    assert_eq!(seen[1], (true, true, vec![websocket(), websocket()]));
    let _ = std::fs::remove_dir_all(dir);
}

// ----- reload -----

/// A reload checks callout users again, as nats-server does: the service is asked once more and
/// its new answer applies; a user it now refuses is closed.
#[tokio::test]
async fn reload_asks_the_service_again() {
    let keys = Arc::new(Keys {
        issuer: KeyPair::new_account(),
        other: KeyPair::new_account(),
        xkey: None,
    });
    let conf = config(&keys, "");
    let server = start_conf(&conf).await;
    let service = serve(server.addr, keys.clone()).await;
    let mut alice = RawClient::connect(server.addr).await;
    alice
        .send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"secret\"}\r\n")
        .await;
    assert!(alice.ping_pong().await.is_empty());
    assert_eq!(service.calls.load(Ordering::SeqCst), 1);
    let mut config = rnats_config::load_str(&conf, None).unwrap().config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    server.handle.reload(config).expect("reload");
    crate::eventually("the re-check", || service.calls.load(Ordering::SeqCst) == 2).await;
    // Still in, with the permissions of the new answer.
    alice.send(b"PUB other 1\r\nx\r\n").await;
    assert_eq!(
        String::from_utf8(alice.ping_pong().await).unwrap(),
        "-ERR 'Permissions Violation for Publish to \"other\"'\r\n"
    );
}
