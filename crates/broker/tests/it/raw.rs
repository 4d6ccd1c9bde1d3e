//! Exact protocol bytes over a raw socket.

use rnats_test_support::RawClient;

use crate::TestServer;

const QUIET: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

#[tokio::test]
async fn info_fields_clients_rely_on() {
    let s = TestServer::start().await;
    let c = RawClient::connect(s.addr).await;
    let info = c.info_json();
    let id = info["server_id"].trim_matches('"');
    assert!(
        id.starts_with('N') && id.len() == 56,
        "server_id is a server NKey: {id}"
    );
    assert_eq!(info["server_name"], info["server_id"]);
    assert_eq!(info["version"], "\"2.15.1\"");
    assert_eq!(info["proto"], "1");
    assert_eq!(info["headers"], "true");
    assert_eq!(info["max_payload"], "1048576");
    assert_eq!(info["host"], "\"127.0.0.1\"");
    assert_eq!(info["port"], s.addr.port().to_string());
    assert_eq!(info["client_ip"], "\"127.0.0.1\"");
    assert!(info["client_id"].parse::<u64>().unwrap() > 0);
    assert!(!info.contains_key("auth_required"));
    assert!(!info.contains_key("nonce"));
}

#[tokio::test]
async fn info_line_ends_with_space_crlf() {
    let s = TestServer::start().await;
    let mut raw = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    while !buf[..n].ends_with(b"\r\n") {
        n += tokio::io::AsyncReadExt::read(&mut raw, &mut buf[n..])
            .await
            .unwrap();
    }
    assert!(buf[..n].starts_with(b"INFO {"));
    assert!(buf[..n].ends_with(b"} \r\n"));
}

#[tokio::test]
async fn verbose_ok_for_each_op() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(
        b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nUNSUB 99\r\n",
    )
    .await;
    assert_eq!(
        c.ping_pong().await,
        b"+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\n+OK\r\n"
    );
}

#[tokio::test]
async fn connect_defaults_are_verbose() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {}\r\n").await;
    assert_eq!(c.ping_pong().await, b"+OK\r\n");
}

#[tokio::test]
async fn first_ping_gets_connect_info_for_protocol_1() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await;
    c.expect(b"PONG\r\n").await;
    let line = c.read_line().await;
    assert!(line.starts_with("INFO {"), "{line}");
    assert!(line.contains("\"connect_info\":true"), "{line}");
    assert!(line.contains("\"remote_account\":\"$G\""), "{line}");
    // Only once.
    assert_eq!(c.ping_pong().await, b"");
}

#[tokio::test]
async fn lowercase_tabs_and_bare_newlines() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"connect {\"verbose\":false}\nsub\tfoo\t 1\npub  foo   1\na\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"MSG foo 1 1\r\na\r\n");
}

#[tokio::test]
async fn pedantic_invalid_publish_subject_still_routes() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(
        b"CONNECT {\"verbose\":false,\"pedantic\":true}\r\nSUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n",
    )
    .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 2\r\nhi\r\n"
    );
}

#[tokio::test]
async fn wildcard_publish_reaches_only_wildcard_subscribers() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB foo.bar 1\r\nSUB foo.* 2\r\nSUB foo.> 3\r\nPUB foo.* 2\r\nhi\r\n")
        .await;
    let got = c.ping_pong().await;
    let got = String::from_utf8(got).unwrap();
    assert!(got.contains("MSG foo.* 2 2\r\nhi\r\n"));
    assert!(got.contains("MSG foo.* 3 2\r\nhi\r\n"));
    assert!(!got.contains("MSG foo.* 1 "));
}

#[tokio::test]
async fn invalid_subscription_subject_keeps_connection() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo* 3\r\nPUB foo* 1\r\nx\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nMSG foo* 3 1\r\nx\r\n"
    );
}

#[tokio::test]
async fn duplicate_sid_keeps_first_subscription() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\na\r\nPUB foo 1\r\nb\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"MSG foo 1 1\r\nb\r\n");
}

#[tokio::test]
async fn unsub_with_max_and_zero() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n"
    );
    c.send(b"SUB bar 2\r\nUNSUB 2 0\r\nPUB bar 1\r\na\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"");
    // An unparsable max is ignored: the subscription goes at once.
    c.send(b"SUB baz 3\r\nUNSUB 3 x\r\nPUB baz 1\r\na\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"");
}

#[tokio::test]
async fn no_responders_status_message() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n")
        .await;
    c.send(b"SUB inbox 1\r\nPUB foo inbox 2\r\nhi\r\n").await;
    assert_eq!(
        c.ping_pong().await,
        b"HMSG inbox 1 35 35\r\nNATS/1.0 503\r\nNats-Subject: foo\r\n\r\n\r\n"
    );
}

#[tokio::test]
async fn headers_pass_through_and_are_stripped_for_old_clients() {
    let s = TestServer::start().await;
    let mut new = RawClient::connect(s.addr).await;
    let mut old = RawClient::connect(s.addr).await;
    new.send(b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\n")
        .await;
    old.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 9\r\n")
        .await;
    assert_eq!(new.ping_pong().await, b"");
    assert_eq!(old.ping_pong().await, b"");
    new.send(b"HPUB foo rep 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n")
        .await;
    assert_eq!(
        new.ping_pong().await,
        b"HMSG foo 1 rep 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n"
    );
    assert_eq!(old.ping_pong().await, b"MSG foo 9 rep 2\r\nhi\r\n");
}

#[tokio::test]
async fn closing_errors() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"FOO\r\n", b"-ERR 'Unknown Protocol Operation'\r\n"),
        (
            b"MSG foo 1 1\r\na\r\n",
            b"-ERR 'Unknown Protocol Operation'\r\n",
        ),
        (b"UNSUB\r\n", b"-ERR 'Unknown Protocol Operation'\r\n"),
        (
            b"PUB foo 2\r\nhiXX",
            b"-ERR 'Unknown Protocol Operation'\r\n",
        ),
        (
            b"PUB foo 1048577\r\n",
            b"-ERR 'Maximum Payload Violation'\r\n",
        ),
        (
            b"CONNECT {\"protocol\":2,\"verbose\":false}\r\n",
            b"-ERR 'invalid client protocol'\r\n",
        ),
        (
            b"CONNECT {\"no_responders\":true,\"verbose\":false}\r\n",
            b"-ERR 'no responders requires headers support'\r\n",
        ),
        (
            b"CONNECT {\"account\":\"A\",\"verbose\":false}\r\n",
            b"-ERR 'Authorization Violation'\r\n",
        ),
        // Closed without any -ERR, as nats-server does.
        (b"PUB foo\r\n", b""),
        (b"SUB foo\r\n", b""),
        (b"PUB foo x\r\n", b""),
        (b"CONNECT {bad\r\n", b""),
        (b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", b""),
        (b"-ERR 'bye'\r\n", b""),
    ];
    let s = TestServer::start().await;
    for (input, expected) in cases {
        let mut c = RawClient::connect(s.addr).await;
        c.send(input).await;
        let got = c.read_to_close().await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "for input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[tokio::test]
async fn max_control_line_with_and_without_newline() {
    let s = TestServer::start().await;
    for tail in [&b" 2\r\nhi\r\n"[..], b""] {
        let mut c = RawClient::connect(s.addr).await;
        let mut op = b"PUB ".to_vec();
        op.extend(std::iter::repeat_n(b'a', 5000));
        op.extend_from_slice(tail);
        c.send(&op).await;
        assert_eq!(
            c.read_to_close().await,
            b"-ERR 'maximum control line exceeded'\r\n"
        );
    }
}

#[tokio::test]
async fn reserved_reply_and_gateway_subjects() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    c.send(QUIET).await;
    c.send(b"SUB > 1\r\nPUB foo _R_.x 1\r\na\r\nPUB _GR_.x 1\r\na\r\n")
        .await;
    assert_eq!(
        c.ping_pong().await,
        b"-ERR 'Permissions Violation for Publish with Reply of \"_R_.x\"'\r\n\
          -ERR 'Permissions Violation for Publish to \"_GR_.x\"'\r\n"
    );
}

#[tokio::test]
async fn ops_split_at_every_byte() {
    let s = TestServer::start().await;
    let mut c = RawClient::connect(s.addr).await;
    let script = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB a.b q 7\r\nPUB a.b r 3\r\nxyz\r\nHPUB a.b 12 15\r\nNATS/1.0\r\n\r\nabc\r\n";
    for b in script {
        c.send(std::slice::from_ref(b)).await;
    }
    assert_eq!(
        c.ping_pong().await,
        b"MSG a.b 7 r 3\r\nxyz\r\nHMSG a.b 7 12 15\r\nNATS/1.0\r\n\r\nabc\r\n"
    );
}

#[tokio::test]
async fn garbage_stalls_and_floods_do_not_disturb_others() {
    let s = TestServer::start().await;
    let mut good = RawClient::connect(s.addr).await;
    good.send(QUIET).await;
    good.send(b"SUB work 1\r\n").await;
    assert_eq!(good.ping_pong().await, b"");

    // A client that stops halfway through a payload and never reads.
    let mut stalled = RawClient::connect(s.addr).await;
    stalled
        .send(b"CONNECT {\"verbose\":false}\r\nSUB work 1\r\nPUB work 100\r\nonly-part")
        .await;
    // A client that sends garbage.
    let mut garbage = RawClient::connect(s.addr).await;
    garbage.send(b"\x00\x01\x02 nonsense\r\n").await;
    // A flood of publishes from another client.
    let mut flood = RawClient::connect(s.addr).await;
    flood.send(QUIET).await;
    let mut burst = Vec::new();
    for _ in 0..2000 {
        burst.extend_from_slice(b"PUB noise 5\r\nhello\r\n");
    }
    flood.send(&burst).await;

    assert_eq!(
        garbage.read_to_close().await,
        b"-ERR 'Unknown Protocol Operation'\r\n"
    );
    good.send(b"PUB work 2\r\nok\r\n").await;
    assert_eq!(good.ping_pong().await, b"MSG work 1 2\r\nok\r\n");
    assert_eq!(flood.ping_pong().await, b"");
}
