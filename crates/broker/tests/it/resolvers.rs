//! The account resolvers that fetch: `resolver: URL(…)` against a loopback HTTP account
//! server, and `resolver { type: cache }` answered by a system-account client; each beside
//! nats-server 2.15.1 with the same account server, the same outcomes expected.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use nkeys::KeyPair;
use rnats_jwt::{OperatorClaims, encode_account, encode_operator};
use rnats_test_support::{
    ExternalServer, RawClient, read_http_head, reference_server_bin, request_path, scratch_dir,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::auth::start_conf;
use crate::claims::{Sys, logged_in, update_subject, without_server};
use crate::operator::{Trust, account, jwt_connect, raw_login, user};

const VIOLATION: &str = "-ERR 'Authorization Violation'\r\n";

/// A loopback account server: `GET /jwt/v1/accounts/<key>` answers the JWT it holds for the
/// key, else 404. Counts the requests for each key.
struct AccountServer {
    addr: SocketAddr,
    jwts: Arc<Mutex<HashMap<String, String>>>,
    asked: Arc<Mutex<HashMap<String, usize>>>,
    total: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl AccountServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let jwts: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let asked: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let total = Arc::new(AtomicUsize::new(0));
        let (j, a, t) = (jwts.clone(), asked.clone(), total.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (jwts, asked, total) = (j.clone(), a.clone(), t.clone());
                tokio::spawn(async move {
                    let Some(head) = read_http_head(&mut sock).await else {
                        return;
                    };
                    let path = request_path(&head);
                    let key = path.strip_prefix("/jwt/v1/accounts/").unwrap_or("-");
                    total.fetch_add(1, Ordering::SeqCst);
                    *asked.lock().unwrap().entry(key.to_owned()).or_default() += 1;
                    // The base URL answers (servers check it when they start).
                    let found = if key.is_empty() {
                        Some(String::new())
                    } else {
                        jwts.lock().unwrap().get(key).cloned()
                    };
                    let reply = match found {
                        Some(jwt) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/jwt\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{jwt}",
                            jwt.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned(),
                    };
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Self {
            addr,
            jwts,
            asked,
            total,
            task,
        }
    }

    fn serve(&self, key: &KeyPair, jwt: &str) {
        self.jwts
            .lock()
            .unwrap()
            .insert(key.public_key(), jwt.to_owned());
    }

    fn asked(&self, key: &KeyPair) -> usize {
        self.asked
            .lock()
            .unwrap()
            .get(&key.public_key())
            .copied()
            .unwrap_or(0)
    }

    /// Stops answering (connections are refused).
    fn stop(&mut self) {
        self.task.abort();
    }

    fn url(&self) -> String {
        format!("http://{}/jwt/v1/accounts/", self.addr)
    }
}

impl Drop for AccountServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The operator and system account of `trust` with a URL resolver.
fn url_config(trust: &Trust, url: &str) -> String {
    format!(
        "operator: \"{}\"\nsystem_account: {}\nresolver: URL(\"{url}\")\n",
        trust.operator_jwt,
        trust.system.public_key()
    )
}

/// Starts nats-server 2.15.1 with `conf`.
fn reference(conf: &str, tag: &str) -> (ExternalServer, std::path::PathBuf) {
    let dir = scratch_dir(tag);
    let path = dir.join("server.conf");
    std::fs::write(&path, conf).unwrap();
    let server = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("nats-server starts");
    (server, dir)
}

/// Sends `MSG` on `subject` from one client of the account to another: what arrived.
async fn delivery(sender: &mut RawClient, receiver: &mut RawClient, subject: &str) -> String {
    receiver
        .send(format!("SUB {subject} 1\r\n").as_bytes())
        .await;
    assert_eq!(receiver.ping_pong().await, b"");
    sender
        .send(format!("PUB {subject} 2\r\nhi\r\n").as_bytes())
        .await;
    assert_eq!(sender.ping_pong().await, b"");
    String::from_utf8(receiver.ping_pong().await).unwrap()
}

// nats-server asks the account server while the test waits for it to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_resolver_fetches_accounts_as_nats_server_does() {
    let mut trust = Trust::new();
    let http = AccountServer::start().await;
    // Served and trusted; served but signed by a key the server does not trust; unknown.
    let (a, a_claims) = account("A");
    let a_jwt = trust.add(&a, &a_claims);
    http.serve(&a, &a_jwt);
    http.serve(&trust.system, &trust.accounts[0].1);
    let (b, b_claims) = account("B");
    let stranger = KeyPair::new_operator();
    http.serve(&b, &encode_account(&b_claims, &stranger).unwrap());
    let (c, _) = account("C");
    // Served, its JWT about another account.
    let (d, _) = account("D");
    http.serve(&d, &a_jwt);
    let conf = url_config(&trust, &http.url());
    let (nats, dir) = reference(&conf, "resolver-url");
    let ours = start_conf(&conf).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let (ua2, ja2) = user("ann", &a, &a, |_| {});
    let (ub, jb) = user("bob", &b, &b, |_| {});
    let (uc, jc) = user("carl", &c, &c, |_| {});
    let (ud, jd) = user("dora", &d, &d, |_| {});
    let mut transcripts = Vec::new();
    for addr in [nats.addr(), ours.addr] {
        let mut t = Vec::new();
        let mut alice = logged_in(addr, &ua, &ja).await;
        let mut ann = logged_in(addr, &ua2, &ja2).await;
        t.push(delivery(&mut alice, &mut ann, "news").await);
        for (key, jwt) in [(&ub, &jb), (&uc, &jc), (&ud, &jd)] {
            t.push(raw_login(addr, jwt, Some(key)).await.0);
        }
        // A claim update for a fetched account applies (the URL resolver tracks none).
        let mut sys = Sys::new(addr, &trust).await;
        t.push(without_server(&sys.request(&update_subject(&a), &a_jwt).await).to_string());
        t.push(
            without_server(
                &sys.request(
                    &update_subject(&c),
                    &encode_account(&account("C").1, &trust.operator).unwrap(),
                )
                .await,
            )
            .to_string(),
        );
        transcripts.push(t);
    }
    assert_eq!(
        transcripts[1], transcripts[0],
        "rnats (left), nats-server (right)"
    );
    assert_eq!(transcripts[1][0], "MSG news 1 2\r\nhi\r\n");
    assert_eq!(transcripts[1][1..4], [VIOLATION, VIOLATION, VIOLATION]);
    assert!(http.asked(&c) >= 2, "both servers asked for C");
    let _ = std::fs::remove_dir_all(dir);
}

// nats-server asks the account server while the test waits for it to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_resolver_needs_its_account_server() {
    let mut trust = Trust::new();
    let mut http = AccountServer::start().await;
    let (a, a_claims) = account("A");
    let a_jwt = trust.add(&a, &a_claims);
    http.serve(&a, &a_jwt);
    // Down when the server starts: neither starts.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{down}/jwt/v1/accounts/");
    let conf = url_config(&trust, &url);
    let dir = scratch_dir("resolver-url-down");
    let path = dir.join("server.conf");
    std::fs::write(&path, &conf).unwrap();
    assert!(
        ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()]).is_err()
    );
    refuses_to_start(rnats_config::load_file(&path).unwrap().config, &url).await;
    rnats_broker::check_config(&rnats_config::load_file(&path).unwrap().config)
        .expect("-t does not ask the account server");
    // Down after the start: an account not fetched yet cannot log in.
    let conf = url_config(&trust, &http.url());
    let (nats, dir2) = reference(&conf, "resolver-url-stop");
    let ours = start_conf(&conf).await;
    http.stop();
    let (ua, ja) = user("alice", &a, &a, |_| {});
    for addr in [nats.addr(), ours.addr] {
        assert_eq!(
            raw_login(addr, &ja, Some(&ua)).await,
            (VIOLATION.to_owned(), true)
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(dir2);
}

/// Binding `config` fails because its URL resolver cannot fetch `url` (nats-server's start-up
/// check, in its words).
async fn refuses_to_start(mut config: rnats_config::ServerConfig, url: &str) {
    config.port = 0;
    let err = rnats_broker::Server::bind(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.starts_with(&format!("could not fetch <\"{url}\">: ")),
        "{err}"
    );
}

#[tokio::test]
async fn a_flood_of_logins_for_an_unknown_account_costs_few_fetches() {
    let trust = Trust::new();
    let http = AccountServer::start().await;
    let ours = start_conf(&url_config(&trust, &http.url())).await;
    let (c, _) = account("C");
    let (uc, jc) = user("carl", &c, &c, |_| {});
    let logins: Vec<_> = (0..32)
        .map(|_| {
            let (uc, jc) = (KeyPair::from_seed(&uc.seed().unwrap()).unwrap(), jc.clone());
            let addr = ours.addr;
            tokio::spawn(async move { raw_login(addr, &jc, Some(&uc)).await })
        })
        .collect();
    for l in logins {
        assert_eq!(l.await.unwrap(), (VIOLATION.to_owned(), true));
    }
    // One fetch, shared and then remembered for a second (a slow machine may need another).
    let asked = http.asked(&c);
    assert!((1..=3).contains(&asked), "{asked} fetches for 32 logins");
    // Besides: the start-up check of the URL, and the system account.
    assert!(http.total.load(Ordering::SeqCst) <= asked + 2);
}

#[tokio::test]
async fn a_fetched_account_imports_from_another_fetched_account() {
    let mut trust = Trust::new();
    let http = AccountServer::start().await;
    let (exporter, mut e_claims) = account("E");
    e_claims.exports.push(rnats_jwt::Export {
        subject: "prices.>".into(),
        kind: rnats_jwt::ExportType::Stream,
        ..rnats_jwt::Export::default()
    });
    let (importer, mut i_claims) = account("I");
    i_claims.imports.push(rnats_jwt::Import {
        subject: "prices.>".into(),
        account: exporter.public_key(),
        kind: rnats_jwt::ExportType::Stream,
        ..rnats_jwt::Import::default()
    });
    let e_jwt = trust.add(&exporter, &e_claims);
    let i_jwt = trust.add(&importer, &i_claims);
    http.serve(&exporter, &e_jwt);
    http.serve(&importer, &i_jwt);
    let ours = start_conf(&url_config(&trust, &http.url())).await;
    let (ui, ji) = user("reader", &importer, &importer, |_| {});
    let (ue, je) = user("writer", &exporter, &exporter, |_| {});
    let mut reader = logged_in(ours.addr, &ui, &ji).await;
    let mut writer = logged_in(ours.addr, &ue, &je).await;
    assert_eq!(
        delivery(&mut writer, &mut reader, "prices.eur").await,
        "MSG prices.eur 1 2\r\nhi\r\n"
    );
}

/// A system-account client answering `$SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP` from `jwts` (an
/// empty answer for the others) until aborted. Returns how many it answered.
async fn lookup_responder(
    addr: SocketAddr,
    trust: &Trust,
    jwts: HashMap<String, String>,
) -> (JoinHandle<()>, Arc<AtomicUsize>) {
    let (key, jwt) = user("responder", &trust.system, &trust.system, |_| {});
    let mut c = logged_in(addr, &key, &jwt).await;
    c.send(b"SUB $SYS.REQ.ACCOUNT.*.CLAIMS.LOOKUP 9\r\n").await;
    assert_eq!(c.ping_pong().await, b"");
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    let task = tokio::spawn(async move {
        loop {
            let line = c.read_line().await;
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.first() != Some(&"MSG") || parts.len() < 5 {
                continue;
            }
            let _payload = c.until(b"\r\n").await;
            let account = parts[1].split('.').nth(3).unwrap_or_default();
            let answer = jwts.get(account).cloned().unwrap_or_default();
            count.fetch_add(1, Ordering::SeqCst);
            c.send(format!("PUB {} {}\r\n{answer}\r\n", parts[3], answer.len()).as_bytes())
                .await;
        }
    });
    (task, answered)
}

#[tokio::test]
async fn cache_resolver_looks_accounts_up_on_the_system_account() {
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    let a_jwt = trust.add(&a, &a_claims);
    let (b, _) = account("B");
    let (c, c_claims) = account("C");
    let mut transcripts = Vec::new();
    let dirs = [scratch_dir("cache-nats"), scratch_dir("cache-rnats")];
    let conf = |dir: &std::path::Path| {
        // The system account is in the cache already: nobody else could answer for it.
        let sys = &trust.accounts[0];
        let dir = dir.join("jwt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}.jwt", sys.0.public_key())), &sys.1).unwrap();
        format!(
            "operator: \"{}\"\nsystem_account: {}\nresolver {{ type: cache, dir: \"{}\", timeout: \"300ms\" }}\n",
            trust.operator_jwt,
            trust.system.public_key(),
            dir.display()
        )
    };
    let nats_conf = conf(&dirs[0]);
    let (nats, nats_dir) = reference(&nats_conf, "resolver-cache");
    let ours = start_conf(&conf(&dirs[1])).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let (ub, jb) = user("bob", &b, &b, |_| {});
    let (uc, jc) = user("carl", &c, &c, |_| {});
    for (addr, dir) in [(nats.addr(), &dirs[0]), (ours.addr, &dirs[1])] {
        let mut t: Vec<Value> = Vec::new();
        // C first, nobody answering: refused after the timeout.
        t.push(raw_login(addr, &jc, Some(&uc)).await.0.into());
        let known = HashMap::from([(a.public_key(), a_jwt.clone())]);
        let (responder, answered) = lookup_responder(addr, &trust, known).await;
        t.push(raw_login(addr, &ja, Some(&ua)).await.0.into());
        t.push(raw_login(addr, &jb, Some(&ub)).await.0.into());
        assert_eq!(answered.load(Ordering::SeqCst), 2, "A and B looked up");
        assert!(
            dir.join("jwt")
                .join(format!("{}.jwt", a.public_key()))
                .exists(),
            "A cached in the directory"
        );
        responder.abort();
        let mut sys = Sys::new(addr, &trust).await;
        for (subject, body) in [
            (update_subject(&a), a_jwt.clone()),
            ("$SYS.REQ.CLAIMS.UPDATE".to_owned(), a_jwt.clone()),
            (
                update_subject(&b),
                encode_account(&account("B").1, &trust.operator).unwrap(),
            ),
            (
                update_subject(&c),
                encode_account(&c_claims, &KeyPair::new_operator()).unwrap(),
            ),
        ] {
            t.push(without_server(&sys.request(&subject, &body).await));
        }
        let list = sys.request("$SYS.REQ.CLAIMS.LIST", "").await;
        let mut ids: Vec<String> = serde_json::from_str::<Value>(&list).unwrap()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        t.push(ids.into());
        transcripts.push(t);
    }
    assert_eq!(
        transcripts[1], transcripts[0],
        "rnats (left), nats-server (right)"
    );
    assert_eq!(transcripts[1][0], VIOLATION);
    assert_eq!(transcripts[1][1], "");
    assert_eq!(transcripts[1][2], VIOLATION);
    assert_eq!(transcripts[1][3]["data"]["message"], "jwt updated cache");
    assert_eq!(
        transcripts[1][6]["data"]["message"], "jwt update cache skipped",
        "{}",
        transcripts[1][6]
    );
    let _ = std::fs::remove_dir_all(nats_dir);
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[tokio::test]
async fn an_operator_account_server_url_is_its_resolver() {
    let mut trust = Trust::new();
    let http = AccountServer::start().await;
    let (a, a_claims) = account("A");
    let a_jwt = trust.add(&a, &a_claims);
    http.serve(&a, &a_jwt);
    let mut op = OperatorClaims::new(trust.operator.public_key());
    op.system_account = Some(trust.system.public_key());
    // nsc pushes to `<account server URL>/accounts`.
    op.account_server_url = Some(format!("http://{}/jwt/v1", http.addr));
    let op_jwt = encode_operator(&op, &trust.operator).unwrap();
    let ours = start_conf(&format!("operator: \"{op_jwt}\"\n")).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let (got, closed) = raw_login(ours.addr, &ja, Some(&ua)).await;
    assert_eq!((got.as_str(), closed), ("", false));
    assert_eq!(http.asked(&a), 1);
    let mut c = RawClient::connect(ours.addr).await;
    let connect = jwt_connect(&c, &ja, Some(&ua));
    c.send(&connect).await;
    assert_eq!(c.ping_pong().await, b"", "loaded: no second fetch");
    assert_eq!(http.asked(&a), 1);
}

/// An HTTPS account server on loopback with the certificate `files/server.pem`, answering
/// the base URL and `jwts`; 404 otherwise.
async fn https_account_server(
    files: &std::path::Path,
    jwts: HashMap<String, String>,
) -> (SocketAddr, JoinHandle<()>) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(files.join("server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(files.join("server-key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (acceptor, jwts) = (acceptor.clone(), jwts.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let Some(head) = read_http_head(&mut tls).await else {
                    return;
                };
                let path = request_path(&head);
                let key = path.strip_prefix("/jwt/v1/accounts/").unwrap_or("-");
                let found = if key.is_empty() {
                    Some(String::new())
                } else {
                    jwts.get(key).cloned()
                };
                let reply = match found {
                    Some(jwt) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{jwt}",
                        jwt.len()
                    ),
                    None => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned()
                    }
                };
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_url_resolver_trusts_the_resolver_tls_ca() {
    let dir = scratch_dir("resolver-https");
    rnats_tls::testcerts::write_all(&dir).expect("test certificates");
    let mut trust = Trust::new();
    let (a, a_claims) = account("A");
    let a_jwt = trust.add(&a, &a_claims);
    let (addr, server) = https_account_server(&dir, HashMap::from([(a.public_key(), a_jwt)])).await;
    let url = format!("https://localhost:{}/jwt/v1/accounts/", addr.port());
    let with_ca = format!(
        "{}resolver_tls {{ ca_file: \"{}\" }}\n",
        url_config(&trust, &url),
        dir.join("ca.pem").display()
    );
    let ours = start_conf(&with_ca).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let (got, closed) = raw_login(ours.addr, &ja, Some(&ua)).await;
    assert_eq!((got.as_str(), closed), ("", false));
    // Without the CA, the account server's certificate is not trusted: no start.
    let config = rnats_config::load_str(&url_config(&trust, &url), None)
        .unwrap()
        .config;
    refuses_to_start(config, &url).await;
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}

// nats-server asks the account server while the test waits for it to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_account_is_fetched_again() {
    let mut trust = Trust::new();
    let http = AccountServer::start().await;
    let (a, mut a_claims) = account("A");
    // JWT times are whole seconds: this one expires within two.
    let soon = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    a_claims.expires = Some(soon);
    let short = trust.add(&a, &a_claims);
    http.serve(&a, &short);
    let conf = url_config(&trust, &http.url());
    let (nats, dir) = reference(&conf, "resolver-url-renew");
    let ours = start_conf(&conf).await;
    let (ua, ja) = user("alice", &a, &a, |_| {});
    let mut transcripts = Vec::new();
    let mut clients = Vec::new();
    for addr in [nats.addr(), ours.addr] {
        clients.push(logged_in(addr, &ua, &ja).await);
    }
    // Waiting for the clock: the account JWT expires.
    tokio::time::sleep_until(
        tokio::time::Instant::now()
            + soon
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
            + std::time::Duration::from_millis(1100),
    )
    .await;
    let expired = raw_login(ours.addr, &ja, Some(&ua)).await;
    // Renewed at the account server: a new login fetches it again.
    a_claims.expires = None;
    let renewed = encode_account(&a_claims, &trust.operator).unwrap();
    http.serve(&a, &renewed);
    // Past the second a fetch result is reused.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for (addr, mut old) in [nats.addr(), ours.addr].into_iter().zip(clients) {
        let closed = String::from_utf8(old.read_to_close().await).unwrap();
        transcripts.push((closed, raw_login(addr, &ja, Some(&ua)).await));
    }
    assert_eq!(
        transcripts[1], transcripts[0],
        "rnats (left), nats-server (right)"
    );
    assert_eq!(
        transcripts[1].0,
        "-ERR 'Account Authentication Expired'\r\n"
    );
    assert_eq!(transcripts[1].1, (String::new(), false));
    assert_eq!(
        expired,
        (VIOLATION.to_owned(), true),
        "expired, same JWT served"
    );
    let _ = std::fs::remove_dir_all(dir);
}
