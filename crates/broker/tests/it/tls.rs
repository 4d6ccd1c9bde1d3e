//! TLS with rustls: server-only, mutual, certificate-mapped users, pinning, TLS-first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use rnats_test_support::{RawClient, scratch_dir};

use crate::TestServer;
use crate::auth::start_conf;

pub(crate) struct Certs {
    dir: PathBuf,
}

impl Certs {
    pub(crate) fn new() -> Self {
        let dir = scratch_dir("certs");
        rnats_tls::testcerts::write_all(&dir).expect("test certificates");
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    pub(crate) fn server_block(&self, extra: &str) -> String {
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" {extra} }}",
            self.path("server.pem"),
            self.path("server-key.pem"),
            self.path("ca.pem")
        )
    }

    fn spki(&self, cert: &str) -> String {
        let certs = rnats_tls::load_certs(Path::new(&self.path(cert))).unwrap();
        rnats_tls::PeerIdentity::from_cert(&certs[0])
            .unwrap()
            .spki_sha256_hex
    }
}

pub(crate) fn options(certs: &Certs, client: Option<&str>) -> async_nats::ConnectOptions {
    let mut opts = async_nats::ConnectOptions::new()
        .add_root_certificates(certs.dir.join("ca.pem"))
        .require_tls(true);
    if let Some(name) = client {
        opts = opts.add_client_certificate(
            certs.dir.join(format!("{name}.pem")),
            certs.dir.join(format!("{name}-key.pem")),
        );
    }
    opts
}

pub(crate) async fn try_connect(
    s: &TestServer,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, String> {
    match tokio::time::timeout(Duration::from_secs(5), opts.connect(s.url())).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

#[tokio::test]
async fn server_only_tls() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block("")).await;
    let raw = RawClient::connect(s.addr).await;
    assert_eq!(raw.info_json()["tls_required"], "true");
    assert!(!raw.info_json().contains_key("tls_verify"));

    let client = try_connect(&s, options(&certs, None))
        .await
        .expect("TLS connect");
    let mut sub = client.subscribe("secure").await.unwrap();
    client.publish("secure", "over tls".into()).await.unwrap();
    assert_eq!(sub.next().await.unwrap().payload, "over tls");
}

#[tokio::test]
async fn mutual_tls_accepts_ca_signed_clients_only() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block(", verify: true")).await;
    let raw = RawClient::connect(s.addr).await;
    assert_eq!(raw.info_json()["tls_verify"], "true");
    assert!(
        try_connect(&s, options(&certs, Some("client")))
            .await
            .is_ok()
    );
    assert!(
        try_connect(&s, options(&certs, None)).await.is_err(),
        "no client certificate"
    );

    // A client certificate from another CA is refused.
    let other = Certs::new();
    let mut opts = async_nats::ConnectOptions::new()
        .add_root_certificates(certs.dir.join("ca.pem"))
        .require_tls(true);
    opts = opts.add_client_certificate(
        other.dir.join("client.pem"),
        other.dir.join("client-key.pem"),
    );
    assert!(try_connect(&s, opts).await.is_err(), "foreign CA");
}

#[tokio::test]
async fn verify_and_map_gives_the_mapped_user_its_permissions() {
    let certs = Certs::new();
    let conf = format!(
        "{}\nauthorization {{ users = [
            {{ user: \"alice@example.com\", permissions: {{ publish: \"alice.>\", subscribe: \"alice.>\" }} }}
            {{ user: \"CN=bob,OU=eng,O=Acme,DC=example,DC=com\" }}
        ] }}",
        certs.server_block(", verify_and_map: true")
    );
    let s = start_conf(&conf).await;
    let bob = try_connect(&s, options(&certs, Some("client-dn")))
        .await
        .expect("bob by DN");
    let mut seen = bob.subscribe(">").await.unwrap();
    bob.flush().await.unwrap();
    let alice = try_connect(&s, options(&certs, Some("client")))
        .await
        .expect("alice by email SAN");
    alice.publish("other.x", "denied".into()).await.unwrap();
    alice.publish("alice.x", "allowed".into()).await.unwrap();
    alice.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.subject.as_str(),
        "alice.x",
        "the denied publish never arrived"
    );

    // A certificate that names nobody is refused.
    let stranger_conf = format!(
        "{}\nauthorization {{ users = [ {{ user: \"someone.else@example.com\" }} ] }}",
        certs.server_block(", verify_and_map: true")
    );
    let s2 = start_conf(&stranger_conf).await;
    assert!(
        try_connect(&s2, options(&certs, Some("client")))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn pinned_certificates() {
    let certs = Certs::new();
    let pin = certs.spki("client.pem");
    let s = start_conf(&certs.server_block(&format!(", verify: true, pinned_certs: [\"{pin}\"]")))
        .await;
    assert!(
        try_connect(&s, options(&certs, Some("client")))
            .await
            .is_ok()
    );
    assert!(
        try_connect(&s, options(&certs, Some("client-dn")))
            .await
            .is_err(),
        "not pinned"
    );
}

#[tokio::test]
async fn handshake_first() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block(", handshake_first: true")).await;
    let client = try_connect(&s, options(&certs, None).tls_first())
        .await
        .expect("TLS first");
    client.flush().await.unwrap();
}

#[tokio::test]
async fn bad_or_stalled_handshakes_do_not_disturb_others() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block(", timeout: 0.3")).await;
    // Plain text where TLS is required: the handshake fails and the connection closes.
    let mut plain = RawClient::connect(s.addr).await;
    plain.send(b"CONNECT {}\r\nPING\r\n").await;
    plain.read_to_close().await;
    // A client that never starts the handshake is closed after the TLS timeout.
    let mut stalled = RawClient::connect(s.addr).await;
    stalled.read_to_close().await;
    let client = try_connect(&s, options(&certs, None))
        .await
        .expect("others still served");
    client.flush().await.unwrap();
}

#[tokio::test]
async fn reload_swaps_certificates_for_new_connections_only() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block("")).await;
    let old = try_connect(&s, options(&certs, None)).await.unwrap();
    // New certificates from a new CA.
    let renewed = Certs::new();
    let mut config = rnats_config::load_str(&renewed.server_block(""), None)
        .unwrap()
        .config;
    config.host = "127.0.0.1".into();
    config.port = 0;
    s.handle.reload(config).unwrap();
    assert!(
        try_connect(&s, options(&certs, None)).await.is_err(),
        "old CA no longer trusted for new handshakes"
    );
    assert!(try_connect(&s, options(&renewed, None)).await.is_ok());
    // The connection made before the reload is untouched.
    old.flush().await.unwrap();
}

#[tokio::test]
async fn allow_non_tls_serves_both_kinds_of_client() {
    let certs = Certs::new();
    let s = start_conf(&format!("allow_non_tls: true\n{}", certs.server_block(""))).await;
    let mut plain = RawClient::connect(s.addr).await;
    let info = plain.info_json();
    assert_eq!(info["tls_available"], "true");
    assert!(!info.contains_key("tls_required"));
    plain
        .send(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x 1\r\na\r\n")
        .await;
    assert_eq!(plain.ping_pong().await, b"MSG x 1 1\r\na\r\n");
    let secure = try_connect(&s, options(&certs, None))
        .await
        .expect("TLS client");
    secure.publish("x", "b".into()).await.unwrap();
    secure.flush().await.unwrap();
    assert_eq!(plain.ping_pong().await, b"MSG x 1 1\r\nb\r\n");
}

#[tokio::test]
async fn connection_rate_limit_throttles_new_handshakes() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block(", connection_rate_limit: 2")).await;
    let mut refused = 0;
    for _ in 0..5 {
        let mut c = RawClient::connect(s.addr).await;
        c.send(b"\x16\x03\x01\x00\x00").await;
        let rest = c.read_to_close().await;
        if rest == b"-ERR 'Connection throttling is active. Please try again later.'\r\n" {
            refused += 1;
        }
    }
    assert!(
        refused >= 3,
        "at most two handshakes a second: {refused} refused"
    );
}

/// What a burst of 4 new connections gets under `connection_rate_limit: 1`, as a sorted list
/// (which of them is let through depends on accept order).
async fn throttled_burst(addr: std::net::SocketAddr) -> Vec<String> {
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(RawClient::connect(addr).await);
    }
    let mut outcomes = Vec::new();
    for mut c in clients {
        // A client that was let through waits for its handshake: a PING round trip cannot be
        // used, so the outcome is what arrives before close or before a short silence.
        let got = tokio::time::timeout(Duration::from_millis(500), c.read_to_close()).await;
        outcomes.push(match got {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => "<waiting for TLS>".to_owned(),
        });
    }
    outcomes.sort();
    outcomes
}

#[tokio::test]
async fn connection_throttling_matches_nats_server() {
    let certs = Certs::new();
    let conf = certs.server_block(", connection_rate_limit: 1");
    let path = certs.dir.join("throttle.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = rnats_test_support::ExternalServer::spawn(
        &rnats_test_support::reference_server_bin(),
        &["-c", path.to_str().unwrap()],
    )
    .unwrap();
    let theirs = throttled_burst(reference.addr()).await;
    let ours = start_conf(&conf).await;
    let mine = throttled_burst(ours.addr).await;
    assert_eq!(mine, theirs);
    assert_eq!(
        theirs
            .iter()
            .filter(|o| o.contains("Connection throttling is active"))
            .count(),
        3
    );
}

/// One TLS connection by hand with `config`: INFO in plain text, the handshake, then
/// `CONNECT` + `PUB`s + `PING`. Returns how the handshake went and what the server answered
/// up to its `PONG`.
async fn raw_tls_session(
    s: &TestServer,
    config: &std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ops: &str,
) -> (
    Option<tokio_rustls::rustls::HandshakeKind>,
    Option<tokio_rustls::rustls::CipherSuite>,
    String,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut plain = BufReader::new(tcp);
    let mut info = String::new();
    plain.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO "), "{info}");
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, plain.into_inner()).await.unwrap();
    let kind = tls.get_ref().1.handshake_kind();
    let suite = tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite());
    tls.write_all(format!("CONNECT {{\"verbose\":false}}\r\n{ops}PING\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    (kind, suite, String::from_utf8(got).unwrap())
}

#[tokio::test]
async fn a_reconnecting_client_resumes_its_session_and_keeps_its_mapped_identity() {
    use tokio_rustls::rustls::{self, HandshakeKind};
    let certs = Certs::new();
    let conf = format!(
        "{}\nauthorization {{ users = [
            {{ user: \"alice@example.com\", permissions: {{ publish: \"alice.>\" }} }}
        ] }}",
        certs.server_block(", verify_and_map: true")
    );
    let s = start_conf(&conf).await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rnats_tls::load_certs(Path::new(&certs.path("ca.pem"))).unwrap() {
        roots.add(cert).unwrap();
    }
    let config = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            rnats_tls::load_certs(Path::new(&certs.path("client.pem"))).unwrap(),
            rnats_tls::load_key(Path::new(&certs.path("client-key.pem"))).unwrap(),
        )
        .unwrap(),
    );
    let ops = "PUB alice.x 0\r\n\r\nPUB other.x 0\r\n\r\n";
    let (first, suite, answer) = raw_tls_session(&s, &config, ops).await;
    assert_eq!(first, Some(HandshakeKind::Full));
    // rustls clients list AES-256 first; the server picks by its own order, as Go does.
    assert_eq!(suite, Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256));
    assert_eq!(
        answer,
        "-ERR 'Permissions Violation for Publish to \"other.x\"'\r\nPONG\r\n"
    );
    // The server's ticket lets the second connection skip the certificates and signatures,
    // and the session still carries alice's certificate: same user, same permissions.
    let (second, _, answer) = raw_tls_session(&s, &config, ops).await;
    assert_eq!(second, Some(HandshakeKind::Resumed));
    assert_eq!(
        answer,
        "-ERR 'Permissions Violation for Publish to \"other.x\"'\r\nPONG\r\n"
    );
}

/// `connect_rate_limit` (per address) covers TLS clients: a throttled address gets INFO and
/// nats-server's throttling error in plain text, before any handshake; another address does
/// its full handshake and login meanwhile.
#[tokio::test]
async fn the_per_address_connect_rate_limit_covers_tls() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio_rustls::rustls;
    let certs = Certs::new();
    let s = start_conf(&format!(
        "{}\nconnect_rate_limit {{ per_address: 1, burst: 2 }}",
        certs.server_block("")
    ))
    .await;
    let flooder: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(RawClient::connect_from(s.addr, flooder).await);
    }
    let mut third = RawClient::connect_from(s.addr, flooder).await;
    assert_eq!(
        third.read_to_close().await,
        b"-ERR 'Connection throttling is active. Please try again later.'\r\n"
    );

    let mut roots = rustls::RootCertStore::empty();
    for cert in rnats_tls::load_certs(Path::new(&certs.path("ca.pem"))).unwrap() {
        roots.add(cert).unwrap();
    }
    let config = std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let start = std::time::Instant::now();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = socket.connect(s.addr).await.unwrap();
    let mut plain = BufReader::new(tcp);
    let mut info = String::new();
    plain.read_line(&mut info).await.unwrap();
    assert!(info.starts_with("INFO "), "{info}");
    let connector = tokio_rustls::TlsConnector::from(config);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, plain.into_inner()).await.unwrap();
    tls.write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"PONG\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let took = start.elapsed();
    eprintln!("TLS login from the other address while the first is throttled: {took:?}");
    assert_eq!(got, b"PONG\r\n");
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(held);
}

/// Large payloads reach TLS subscribers intact: their writer takes vectored writes, so the
/// payloads are shared from the publisher's read buffer and encrypted from where they lie.
#[tokio::test]
async fn large_payloads_reach_tls_subscribers_intact() {
    let certs = Certs::new();
    let s = start_conf(&certs.server_block("")).await;
    let connect = || async { try_connect(&s, options(&certs, None)).await.expect("TLS") };
    let publisher = connect().await;
    let mut subs = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..2 {
        let client = connect().await;
        subs.push(client.subscribe("big.>").await.unwrap());
        client.flush().await.unwrap();
        clients.push(client);
    }
    let sizes = [2048usize, 100, 65_536, 300_000, 4096, 20_000];
    let body =
        |i: usize, n: usize| -> bytes::Bytes { (0..n).map(|j| (i * 13 + j * 5) as u8).collect() };
    for round in 0..10 {
        for (i, &n) in sizes.iter().enumerate() {
            let payload = body(round + i, n);
            publisher
                .publish(format!("big.{round}.{i}"), payload)
                .await
                .unwrap();
        }
    }
    publisher.flush().await.unwrap();
    for sub in &mut subs {
        for round in 0..10 {
            for (i, &n) in sizes.iter().enumerate() {
                let msg = tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .expect("in time")
                    .expect("open");
                assert_eq!(msg.subject.as_str(), format!("big.{round}.{i}"));
                assert_eq!(
                    msg.payload,
                    body(round + i, n),
                    "payload of big.{round}.{i}"
                );
            }
        }
    }
}
