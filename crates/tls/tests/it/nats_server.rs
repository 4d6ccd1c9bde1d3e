//! Differential check against the real nats-server 2.15.1 (found or installed by
//! `rnats_test_support::reference_server_bin`): the same generated certificates,
//! `verify_and_map`, and the users our mapping picks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rnats_auth::map_certificate_user;
use rnats_tls::testcerts::CLIENT_DN;
use rnats_tls::{PeerIdentity, load_certs};
use rustls::pki_types::ServerName;

use crate::support::{TempDir, auth_identity, certs, client_config};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts nats-server with `verify_and_map` and `users`, connects with `client` over TLS
/// (INFO first, then the upgrade) and returns the server's reply to `CONNECT {}` + `PING`.
fn reply(bin: &str, dir: &TempDir, users: &[&str], client: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let users: Vec<String> = users.iter().map(|u| format!("{{user: {u:?}}}")).collect();
    let conf = format!(
        "listen: \"127.0.0.1:{port}\"\ntls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify_and_map: true }}\nauthorization {{ users = [ {} ] }}\n",
        dir.join("server.pem"),
        dir.join("server-key.pem"),
        dir.join("ca.pem"),
        users.join(", ")
    );
    let conf_file = dir.join("nats.conf");
    std::fs::write(&conf_file, conf).expect("write conf");
    let _server = Server(
        Command::new(bin)
            .arg("-c")
            .arg(&conf_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tcp = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => panic!("nats-server did not listen: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut info = Vec::new();
    let mut byte = [0u8; 1];
    while !info.ends_with(b"\r\n") {
        tcp.read_exact(&mut byte).expect("INFO");
        info.push(byte[0]);
    }
    assert!(
        info.starts_with(b"INFO "),
        "{}",
        String::from_utf8_lossy(&info)
    );

    let config = client_config(
        &dir.join("ca.pem"),
        Some((
            dir.join(&format!("{client}.pem")).as_path(),
            dir.join(&format!("{client}-key.pem")).as_path(),
        )),
    );
    let conn = rustls::ClientConnection::new(
        Arc::clone(&config),
        ServerName::try_from("localhost").expect("name"),
    )
    .expect("client");
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
        .expect("write");
    let mut line = String::new();
    let _ = BufReader::new(tls).read_line(&mut line);
    line.trim_end().to_owned()
}

#[test]
fn verify_and_map_agrees_with_nats_server() {
    let bin = rnats_test_support::reference_server_bin()
        .display()
        .to_string();
    let (dir, _) = certs();
    let bob = PeerIdentity::from_cert(&load_certs(&dir.join("client-dn.pem")).expect("cert")[0])
        .expect("identity");
    let cases: &[(&str, &str)] = &[
        ("client-dn", CLIENT_DN),
        ("client-dn", "CN=bob,OU=eng,O=Acme"),
        ("client-dn", "CN=bob,OU=eng,O=Acme,DC=com,DC=example"),
        ("client-dn", "DC=com,DC=example,O=Acme,OU=eng,CN=bob"),
        ("client-dn", "cn=bob, ou=eng, o=Acme, dc=example, dc=com"),
        ("client-dn", "CN=Bob,OU=eng,O=Acme,DC=example,DC=com"),
        (
            "client-dn",
            "CN=bob,OU=eng,O=Acme,DC=example,DC=com,DC=extra",
        ),
        ("client-dn", "CN=bob"),
        ("client", "alice@example.com"),
        ("client", "CN=alice"),
        ("client", "alice"),
    ];
    let alice = PeerIdentity::from_cert(&load_certs(&dir.join("client.pem")).expect("cert")[0])
        .expect("identity");
    for (client, user) in cases {
        let peer = if *client == "client" { &alice } else { &bob };
        let ours = map_certificate_user(&auth_identity(peer), [*user]).is_some();
        let theirs = reply(&bin, &dir, &[user], client);
        assert_eq!(
            ours,
            theirs == "PONG",
            "{client} as {user:?}: nats-server said {theirs:?}, we mapped: {ours}"
        );
    }
}
