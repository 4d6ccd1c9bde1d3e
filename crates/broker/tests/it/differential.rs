//! The same raw protocol scripts against the genuine nats-server 2.15.1 and rnats; the replies
//! must match byte for byte once ids and addresses are masked.

use std::net::SocketAddr;

use rnats_test_support::{ExternalServer, RawClient, reference_server_bin, serde_json_lite};

use crate::TestServer;

/// How a script ends: with a PING answered (connection stays), or with the server closing.
#[derive(Clone, Copy)]
enum End {
    Pong,
    Close,
}

const SCRIPTS: &[(&str, &[u8], End)] = &[
    ("connect defaults", b"CONNECT {}\r\nPING\r\n", End::Pong),
    ("verbose ops", b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\nUNSUB 9\r\nPING\r\n", End::Pong),
    ("no connect", b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n", End::Pong),
    ("protocol 1 first ping", b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\nPING\r\n", End::Pong),
    ("lowercase tabs newlines", b"connect {\"verbose\":false}\nsub\tfoo\t 1\npub  foo   1\na\r\nping\n", End::Pong),
    ("queue", b"CONNECT {\"verbose\":false}\r\nSUB foo q 1\r\nSUB foo 3\r\nPUB foo 1\r\na\r\nUNSUB 1\r\nPUB foo 1\r\nb\r\nPING\r\n", End::Pong),
    ("reply", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo bar 1\r\na\r\nPING\r\n", End::Pong),
    ("empty payload", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 0\r\n\r\nPING\r\n", End::Pong),
    ("unsub max", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n", End::Pong),
    ("unsub zero and bad max", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nUNSUB 1 0\r\nSUB bar 2\r\nUNSUB 2 x\r\nPUB foo 1\r\na\r\nPUB bar 1\r\na\r\nPING\r\n", End::Pong),
    ("duplicate sid", b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\nSUB bar 1\r\nPUB bar 1\r\na\r\nPUB foo 1\r\nb\r\nPING\r\n", End::Pong),
    ("invalid subjects", b"CONNECT {\"verbose\":false}\r\nSUB foo..bar 1\r\nSUB foo.>.bar 2\r\nSUB foo* 3\r\nPUB foo* 1\r\nx\r\nPING\r\n", End::Pong),
    ("pedantic", b"CONNECT {\"verbose\":true,\"pedantic\":true}\r\nSUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\nPING\r\n", End::Pong),
    ("wildcard publish", b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB foo.bar 1\r\nSUB foo.* 2\r\nPUB foo.* 2\r\nhi\r\nPING\r\n", End::Pong),
    ("echo off", b"CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\n", End::Pong),
    ("headers", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nHPUB foo r 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPING\r\n", End::Pong),
    ("no responders", b"CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB inbox 1\r\nPUB foo inbox 2\r\nhi\r\nPING\r\n", End::Pong),
    ("reserved reply", b"CONNECT {\"verbose\":false}\r\nPUB foo _R_.x 1\r\na\r\nPUB _GR_.x 1\r\na\r\nPING\r\n", End::Pong),
    ("client ok and info", b"CONNECT {\"verbose\":false}\r\n+OK\r\nINFO {}\r\nPING\r\n", End::Pong),
    ("ping with args", b"PING foo\r\n", End::Pong),
    ("unknown op", b"CONNECT {\"verbose\":false}\r\nFOO\r\n", End::Close),
    ("msg from client", b"CONNECT {\"verbose\":false}\r\nMSG foo 1 1\r\na\r\n", End::Close),
    ("pub no args", b"CONNECT {\"verbose\":false}\r\nPUB\r\n", End::Close),
    ("unsub no args", b"CONNECT {\"verbose\":false}\r\nUNSUB\r\n", End::Close),
    ("pub bad args", b"CONNECT {\"verbose\":false}\r\nPUB foo\r\n", End::Close),
    ("pub bad size", b"CONNECT {\"verbose\":false}\r\nPUB foo x\r\n", End::Close),
    ("sub bad args", b"CONNECT {\"verbose\":false}\r\nSUB foo\r\n", End::Close),
    ("bad json", b"CONNECT {bad\r\n", End::Close),
    ("payload without crlf", b"CONNECT {\"verbose\":false}\r\nPUB foo 2\r\nhiXX", End::Close),
    ("payload too big", b"CONNECT {\"verbose\":false}\r\nPUB foo 1048577\r\n", End::Close),
    ("hpub without headers", b"CONNECT {\"verbose\":false}\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", End::Close),
    ("hpub header larger than total", b"CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB foo 14 12\r\nNATS/1.0\r\n\r\nhi\r\n", End::Close),
    ("bad protocol", b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n", End::Close),
    ("no responders without headers", b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n", End::Close),
    ("account field", b"CONNECT {\"verbose\":false,\"account\":\"A\"}\r\nPING\r\n", End::Close),
    ("client error", b"CONNECT {\"verbose\":false}\r\n-ERR 'x'\r\nPING\r\n", End::Close),
];

/// INFO fields that are equal between two servers of the same configuration.
const STABLE_INFO_FIELDS: &[&str] = &[
    "version",
    "proto",
    "headers",
    "max_payload",
    "auth_required",
    "tls_required",
    "connect_info",
    "remote_account",
    "ldm",
];

fn mask_info(line: &str) -> String {
    let json = line.trim_start_matches("INFO ").trim_end();
    let fields = serde_json_lite::parse_object(json);
    let kept: Vec<String> = STABLE_INFO_FIELDS
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    format!("INFO <{}>", kept.join(","))
}

/// Replaces every INFO line in `bytes` by its stable fields.
fn normalise(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for piece in text.split_inclusive("\r\n") {
        if piece.starts_with("INFO ") {
            out.push_str(&mask_info(piece));
            out.push_str("\r\n");
        } else {
            out.push_str(piece);
        }
    }
    out
}

async fn run_script(addr: SocketAddr, script: &[u8], end: End) -> String {
    let mut c = RawClient::connect(addr).await;
    let first = mask_info(&c.info);
    c.send(script).await;
    let rest = match end {
        End::Pong => {
            // Collect up to the last PONG: the script's own PINGs come back first.
            let pings = script
                .windows(4)
                .filter(|w| w.eq_ignore_ascii_case(b"PING"))
                .count();
            let mut all = Vec::new();
            for _ in 0..pings {
                all.extend(c.until(b"PONG\r\n").await);
                all.extend_from_slice(b"PONG\r\n");
            }
            all
        }
        End::Close => c.read_to_close().await,
    };
    format!("{first}\r\n{}", normalise(&rest))
}

#[tokio::test]
async fn same_replies_as_nats_server() {
    let reference = ExternalServer::spawn(&reference_server_bin(), &[]).expect("start nats-server");
    let ours = TestServer::start().await;
    let mut mismatches = Vec::new();
    for (name, script, end) in SCRIPTS {
        let theirs = run_script(reference.addr(), script, *end).await;
        let mine = run_script(ours.addr, script, *end).await;
        if theirs != mine {
            mismatches.push(format!(
                "{name}:\n  nats-server: {theirs:?}\n  rnats:       {mine:?}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "differences:\n{}",
        mismatches.join("\n")
    );
}
