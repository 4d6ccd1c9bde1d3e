//! WebSocket, the second transport: async-nats over `ws://`, a raw WebSocket client checking the
//! NATS bytes, the upgrade's refusals, and the same scripts against nats-server 2.15.1.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rnats_broker::{Server, ServerHandle};
use rnats_test_support::{ExternalServer, reference_server_bin, scratch_dir, serde_json_lite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_websockets::{Message, WebSocketStream};

/// The WebSocket block every test starts from.
const WS_PLAIN: &str = "websocket { listen: \"127.0.0.1:-1\", no_tls: true }\n";

/// rnats from configuration text, on free loopback ports; shut down on drop.
struct WsServer {
    handle: ServerHandle,
    addr: SocketAddr,
    ws: SocketAddr,
}

impl WsServer {
    async fn start(conf: &str) -> Self {
        let mut config = rnats_config::load_str(conf, None).expect("config").config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let ws = server.websocket_addr().expect("websocket listener");
        let handle = server.handle();
        assert_eq!(handle.websocket_addr(), Some(ws));
        tokio::spawn(server.run());
        Self { handle, addr, ws }
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// A WebSocket upgrade by hand: the status line and headers of the answer, and the stream
/// when it was `101`.
async fn upgrade(
    addr: SocketAddr,
    extra_headers: &str,
) -> (String, Option<WebSocketStream<TcpStream>>) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    // Byte by byte, so that nothing after the headers (the INFO frame) is taken.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        match tcp.read(&mut b).await {
            Ok(1) => head.push(b[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if head.starts_with("HTTP/1.1 101 ") {
        let ws = tokio_websockets::ClientBuilder::new().take_over(tcp);
        (head, Some(ws))
    } else {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut rest)).await;
        (format!("{head}{}", String::from_utf8_lossy(&rest)), None)
    }
}

/// A raw WebSocket client speaking NATS: what arrives is collected as text.
struct RawWs {
    ws: WebSocketStream<TcpStream>,
    info: String,
}

impl RawWs {
    async fn connect(addr: SocketAddr, extra_headers: &str) -> Self {
        let (head, ws) = upgrade(addr, extra_headers).await;
        let mut ws = ws.unwrap_or_else(|| panic!("upgrade refused: {head}"));
        let first = next_text(&mut ws).await.expect("INFO frame");
        Self { ws, info: first }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.ws
            .send(Message::binary(bytes.to_vec()))
            .await
            .expect("send");
    }

    /// Everything up to and including the last of `pongs` PONGs, or up to the close.
    async fn until_pongs_or_close(&mut self, pongs: usize) -> (String, bool) {
        let mut all = String::new();
        loop {
            if all.matches("PONG\r\n").count() >= pongs {
                return (all, false);
            }
            match next_text(&mut self.ws).await {
                Some(t) => all.push_str(&t),
                None => return (all, true),
            }
        }
    }
}

/// The next data message as text; `None` once the server closed.
async fn next_text(ws: &mut WebSocketStream<TcpStream>) -> Option<String> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("timed out waiting for the server")?;
        let msg = msg.ok()?;
        if msg.is_close() {
            return None;
        }
        if msg.is_binary() || msg.is_text() {
            return Some(String::from_utf8_lossy(msg.as_payload()).into_owned());
        }
    }
}

fn info_fields(line: &str) -> serde_json_lite::Map {
    let json = line.trim_start_matches("INFO ").trim_end();
    serde_json_lite::parse_object(json)
}

// ----- async-nats over ws:// -----

#[tokio::test]
async fn async_nats_pub_sub_and_request_reply_over_websocket() {
    let s = WsServer::start(WS_PLAIN).await;
    let url = format!("ws://{}", s.ws);
    let a = async_nats::connect(&url).await.expect("connect a");
    let b = async_nats::connect(&url).await.expect("connect b");
    // A TCP client and a WebSocket client share subjects.
    let tcp = async_nats::connect(format!("nats://{}", s.addr))
        .await
        .expect("connect tcp");

    let mut sub = b.subscribe("greet.*").await.expect("sub");
    let mut tcp_sub = tcp.subscribe("greet.*").await.expect("tcp sub");
    b.flush().await.expect("flush");
    tcp.flush().await.expect("flush");
    a.publish("greet.joe", "hello".into()).await.expect("pub");
    a.flush().await.expect("flush");
    for sub in [&mut sub, &mut tcp_sub] {
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("timely")
            .expect("message");
        assert_eq!(msg.subject.as_str(), "greet.joe");
        assert_eq!(&msg.payload[..], b"hello");
    }

    // Request/reply with the responder on WebSocket, the requester on TCP.
    let mut service = b.subscribe("svc.echo").await.expect("sub");
    b.flush().await.expect("flush");
    let responder = {
        let b = b.clone();
        tokio::spawn(async move {
            let req = service.next().await.expect("request");
            let reply = req.reply.expect("reply subject");
            b.publish(reply, req.payload).await.expect("respond");
            b.flush().await.expect("flush");
        })
    };
    let answer = tcp
        .request("svc.echo", "ping?".into())
        .await
        .expect("answer");
    assert_eq!(&answer.payload[..], b"ping?");
    responder.await.expect("responder");

    // Large messages both ways: 512 KiB goes out in more than one WebSocket message. (The
    // receiver is a WebSocket client that has not published: async-nats' WebSocket client
    // then misses messages, against nats-server 2.15.1 just the same.)
    let big = vec![b'x'; 512 * 1024];
    let c = async_nats::connect(&url).await.expect("connect c");
    let mut ws_big = c.subscribe("big.ws").await.expect("sub");
    c.flush().await.expect("flush");
    let mut tcp_big = tcp.subscribe("big.tcp").await.expect("sub");
    tcp.flush().await.expect("flush");
    tcp.publish("big.ws", big.clone().into())
        .await
        .expect("pub");
    tcp.flush().await.expect("flush");
    a.publish("big.tcp", big.clone().into()).await.expect("pub");
    a.flush().await.expect("flush");
    for sub in [&mut ws_big, &mut tcp_big] {
        let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("timely")
            .expect("message");
        assert_eq!(msg.payload.len(), big.len());
    }
}

// ----- raw bytes -----

#[tokio::test]
async fn info_names_the_websocket_listener() {
    let s = WsServer::start(&format!("authorization {{ token: s3cret }}\n{WS_PLAIN}")).await;
    let c = RawWs::connect(s.ws, "").await;
    assert!(c.info.starts_with("INFO {"), "{}", c.info);
    assert!(c.info.ends_with("} \r\n"), "{}", c.info);
    let info = info_fields(&c.info);
    assert_eq!(info.get("host").map(String::as_str), Some("\"127.0.0.1\""));
    assert_eq!(info.get("port"), Some(&s.ws.port().to_string()));
    assert_eq!(info.get("auth_required").map(String::as_str), Some("true"));
    assert_eq!(info.get("tls_required"), None);
    assert_eq!(
        info.get("client_ip").map(String::as_str),
        Some("\"127.0.0.1\"")
    );
}

#[tokio::test]
async fn wrong_token_is_an_authorization_violation() {
    let s = WsServer::start(&format!("authorization {{ token: s3cret }}\n{WS_PLAIN}")).await;
    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"wrong\"}\r\nPING\r\n")
        .await;
    let (text, closed) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);

    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"CONNECT {\"verbose\":true,\"auth_token\":\"s3cret\"}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n")
        .await;
    let (text, closed) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "+OK\r\n+OK\r\n+OK\r\nMSG a 1 2\r\nhi\r\nPONG\r\n");
    assert!(!closed);
}

const USERS: &str = r#"
authorization {
  users = [
    { user: alice, password: pa, permissions: { publish: "allowed.>" } }
    { user: tcp_only, password: pt, allowed_connection_types: ["STANDARD"] }
    { user: ws_only, password: pw, allowed_connection_types: ["WEBSOCKET"] }
  ]
}
"#;

#[tokio::test]
async fn publish_permission_violation_over_websocket() {
    let s = WsServer::start(&format!("{USERS}{WS_PLAIN}")).await;
    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pa\"}\r\nSUB > 1\r\nPUB denied.x 1\r\nx\r\nPUB allowed.x 1\r\ny\r\nPING\r\n")
        .await;
    let (text, closed) = c.until_pongs_or_close(1).await;
    assert_eq!(
        text,
        "-ERR 'Permissions Violation for Publish to \"denied.x\"'\r\nMSG allowed.x 1 1\r\ny\r\nPONG\r\n"
    );
    assert!(!closed);
}

#[tokio::test]
async fn allowed_connection_types_see_websocket() {
    let s = WsServer::start(&format!("{USERS}{WS_PLAIN}")).await;
    // STANDARD only: refused over WebSocket, accepted over TCP.
    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"tcp_only\",\"pass\":\"pt\"}\r\nPING\r\n")
        .await;
    let (text, closed) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "-ERR 'Authorization Violation'\r\n");
    assert!(closed);
    async_nats::ConnectOptions::with_user_and_password("tcp_only".into(), "pt".into())
        .connect(format!("nats://{}", s.addr))
        .await
        .expect("STANDARD user over TCP");
    // WEBSOCKET only: the other way round.
    async_nats::ConnectOptions::with_user_and_password("ws_only".into(), "pw".into())
        .connect(format!("ws://{}", s.ws))
        .await
        .expect("WEBSOCKET user over WebSocket");
    let mut raw = rnats_test_support::RawClient::connect(s.addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"user\":\"ws_only\",\"pass\":\"pw\"}\r\nPING\r\n")
        .await;
    let (bytes, _) = raw.ping_pong_or_close().await;
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "-ERR 'Authorization Violation'\r\n"
    );
}

#[tokio::test]
async fn websocket_authorization_overrides_the_main_block() {
    // No auth for TCP; a token for WebSocket.
    let s = WsServer::start(
        "websocket { listen: \"127.0.0.1:-1\", no_tls: true, authorization { token: wst } }\n",
    )
    .await;
    async_nats::connect(format!("nats://{}", s.addr))
        .await
        .expect("TCP needs nothing");
    let mut c = RawWs::connect(s.ws, "").await;
    assert_eq!(
        info_fields(&c.info)
            .get("auth_required")
            .map(String::as_str),
        Some("true")
    );
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let (text, _) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "-ERR 'Authorization Violation'\r\n");
    async_nats::ConnectOptions::with_token("wst".into())
        .connect(format!("ws://{}", s.ws))
        .await
        .expect("token over WebSocket");
}

#[tokio::test]
async fn websocket_no_auth_user_and_cookies() {
    let conf = format!(
        "{USERS}websocket {{ listen: \"127.0.0.1:-1\", no_tls: true, no_auth_user: alice, user_cookie: u, pass_cookie: p }}\n"
    );
    let s = WsServer::start(&conf).await;
    // Without credentials a WebSocket client is alice (and gets her permissions).
    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"CONNECT {\"verbose\":false}\r\nPUB denied.x 1\r\nx\r\nPING\r\n")
        .await;
    let (text, _) = c.until_pongs_or_close(1).await;
    assert_eq!(
        text,
        "-ERR 'Permissions Violation for Publish to \"denied.x\"'\r\nPONG\r\n"
    );
    // Cookies fill what CONNECT leaves out: ws_only logs in without a password in CONNECT.
    let mut c = RawWs::connect(s.ws, "Cookie: other=1; u=ws_only; p=pw\r\n").await;
    c.send(b"CONNECT {\"verbose\":false}\r\nPUB denied.x 1\r\nx\r\nPING\r\n")
        .await;
    let (text, closed) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "PONG\r\n");
    assert!(!closed);
    // A wrong password cookie is refused.
    let mut c = RawWs::connect(s.ws, "Cookie: u=ws_only; p=nope\r\n").await;
    c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    let (text, _) = c.until_pongs_or_close(1).await;
    assert_eq!(text, "-ERR 'Authorization Violation'\r\n");
}

#[tokio::test]
async fn upgrade_refusals_and_malformed_frames() {
    let conf = "websocket { listen: \"127.0.0.1:-1\", no_tls: true, allowed_origins: [\"http://good.example\"] }\n";
    let s = WsServer::start(conf).await;
    let (head, ws) = upgrade(s.ws, "Origin: http://bad.example\r\n").await;
    assert!(ws.is_none());
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\nForbidden\n"), "{head}");
    let (head, ws) = upgrade(s.ws, "Origin: http://good.example\r\n").await;
    assert!(ws.is_some(), "{head}");

    // Not GET.
    let mut tcp = TcpStream::connect(s.ws).await.expect("connect");
    tcp.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut out)).await;
    assert!(
        out.starts_with(b"HTTP/1.1 405 Method Not Allowed\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // An unmasked frame (a protocol error) closes that connection only.
    let (_, ws) = upgrade(s.ws, "").await;
    let mut tcp = ws.expect("upgraded").into_inner();
    let mut sink = [0u8; 4096];
    let _ = tcp.read(&mut sink).await; // INFO
    tcp.write_all(&[0x82, 0x04, b'P', b'I', b'N', b'G'])
        .await
        .expect("write");
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match tcp.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server closed the connection");
    let mut c = RawWs::connect(s.ws, "").await;
    c.send(b"PING\r\n").await;
    assert_eq!(c.until_pongs_or_close(1).await.0, "PONG\r\n");
}

#[tokio::test]
async fn start_up_errors_are_nats_servers() {
    for (conf, want) in [
        (
            "websocket { port: -1 }",
            "websocket requires TLS configuration",
        ),
        (
            "websocket { port: -1, no_tls: true, allowed_origins: [\"foo\"] }",
            "unable to parse allowed origin: parse \"foo\": invalid URI for request",
        ),
        (
            "authorization { users: [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, authorization { token: t } }",
            "websocket authentication token not compatible with presence of users/nkeys",
        ),
        (
            "websocket { port: -1, no_tls: true, no_auth_user: bob }",
            "no_auth_user: \"bob\" present, but users/nkeys are not defined",
        ),
        (
            "websocket { port: -1, no_tls: true, jwt_cookie: jwt }",
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie \"jwt\"",
        ),
    ] {
        let mut config = rnats_config::load_str(conf, None).expect("config").config;
        config.host = "127.0.0.1".into();
        config.port = 0;
        let err = match Server::bind(config).await {
            Ok(_) => panic!("{conf}: started"),
            Err(e) => e.to_string(),
        };
        assert_eq!(err, want, "{conf}");
        // nats-server says the same.
        let dir = scratch_dir("ws-conf");
        let path = dir.join("ws.conf");
        std::fs::write(&path, conf).expect("write conf");
        let out = std::process::Command::new(reference_server_bin())
            .arg("-c")
            .arg(&path)
            .output()
            .expect("run nats-server");
        assert!(!out.status.success(), "{conf}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("nats-server: {want}"),
            "{conf}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

// ----- differential: the same configuration on nats-server 2.15.1 -----

/// INFO fields equal between two servers of one configuration.
const STABLE_INFO_FIELDS: &[&str] = &[
    "version",
    "proto",
    "host",
    "headers",
    "max_payload",
    "auth_required",
    "tls_required",
    "tls_available",
    "client_ip",
    "api_lvl",
];

fn mask_info(line: &str) -> String {
    let fields = info_fields(line);
    let kept: Vec<String> = STABLE_INFO_FIELDS
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    format!("INFO <{}>", kept.join(","))
}

/// One script over WebSocket: INFO (masked), what came back, whether the server closed.
async fn run_ws_script(ws: SocketAddr, headers: &str, script: &[u8]) -> String {
    let mut c = RawWs::connect(ws, headers).await;
    let info = mask_info(&c.info);
    c.send(script).await;
    let pings = script.windows(4).filter(|w| w == b"PING").count();
    let (text, closed) = c.until_pongs_or_close(pings).await;
    format!("{info}\n{text}closed={closed}")
}

/// An upgrade answer with its date masked.
async fn refused(ws: SocketAddr, headers: &str) -> String {
    let (head, _) = upgrade(ws, headers).await;
    head.lines()
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: <masked>"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Named raw scripts.
type Scripts = &'static [(&'static str, &'static [u8])];

#[tokio::test]
async fn same_websocket_outcomes_as_nats_server() {
    let ws_block = "websocket { listen: \"127.0.0.1:-1\", no_tls: true, allowed_origins: [\"http://good.example\"] }\n";
    let cases: &[(&str, &str, Scripts)] = &[
        (
            "no auth",
            "",
            &[(
                "pub sub",
                b"CONNECT {\"verbose\":true}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\nPING\r\n",
            )],
        ),
        (
            "token",
            "authorization { token: s3cret }\n",
            &[
                (
                    "right token",
                    b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n",
                ),
                (
                    "wrong token",
                    b"CONNECT {\"verbose\":false,\"auth_token\":\"x\"}\r\nPING\r\n",
                ),
            ],
        ),
        (
            "users",
            USERS,
            &[
                (
                    "user and password",
                    b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pa\"}\r\nPING\r\n",
                ),
                (
                    "wrong password",
                    b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"x\"}\r\nPING\r\n",
                ),
                (
                    "publish denied",
                    b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pa\"}\r\nSUB > 1\r\nPUB denied.x 1\r\nx\r\nPUB allowed.y 1\r\ny\r\nPING\r\n",
                ),
                (
                    "STANDARD only",
                    b"CONNECT {\"verbose\":false,\"user\":\"tcp_only\",\"pass\":\"pt\"}\r\nPING\r\n",
                ),
                (
                    "WEBSOCKET only",
                    b"CONNECT {\"verbose\":false,\"user\":\"ws_only\",\"pass\":\"pw\"}\r\nPING\r\n",
                ),
            ],
        ),
        (
            "websocket token override",
            "",
            &[
                ("no token", b"CONNECT {\"verbose\":false}\r\nPING\r\n"),
                (
                    "ws token",
                    b"CONNECT {\"verbose\":false,\"auth_token\":\"wst\"}\r\nPING\r\n",
                ),
            ],
        ),
    ];
    let reference_bin = reference_server_bin();
    for (name, auth, scripts) in cases {
        let block = if *name == "websocket token override" {
            "websocket { listen: \"127.0.0.1:-1\", no_tls: true, allowed_origins: [\"http://good.example\"], authorization { token: wst } }\n"
        } else {
            ws_block
        };
        let conf = format!("{auth}{block}");
        let dir = scratch_dir("ws-diff");
        let path = dir.join("ws.conf");
        std::fs::write(&path, &conf).expect("write conf");
        let reference =
            ExternalServer::spawn(&reference_bin, &["-c", path.to_str().expect("utf-8")])
                .expect("start nats-server");
        let reference_ws = reference
            .websocket_addr()
            .expect("nats-server websocket port");
        let ours = WsServer::start(&conf).await;
        for (script_name, script) in *scripts {
            let want = run_ws_script(reference_ws, "", script).await;
            let got = run_ws_script(ours.ws, "", script).await;
            assert_eq!(got, want, "{name}: {script_name}");
        }
        let bad = "Origin: http://bad.example\r\n";
        assert_eq!(
            refused(ours.ws, bad).await,
            refused(reference_ws, bad).await,
            "{name}: refused origin"
        );
        let good = "Origin: http://good.example\r\n";
        let ours_ok = refused(ours.ws, good).await;
        let theirs_ok = refused(reference_ws, good).await;
        assert_eq!(ours_ok, theirs_ok, "{name}: allowed origin");
        drop(reference);
        let _ = std::fs::remove_dir_all(dir);
    }
}
