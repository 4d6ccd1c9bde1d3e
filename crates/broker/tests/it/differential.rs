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
    ("reserved gateway reply, old form", b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo $GR.abcd.x 1\r\na\r\nPUB $GR.x 1\r\na\r\nPUB foo $GNR.x 1\r\nb\r\nPING\r\n", End::Pong),
    ("reserved queue", b"CONNECT {\"verbose\":false}\r\nSUB foo _sys_ 1\r\nSUB foo q 2\r\nPING\r\n", End::Pong),
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
    "api_lvl",
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

/// One step of a multi-client script: which client, and what it sends.
enum Step {
    Send(usize, &'static [u8]),
    /// CONNECT with the NKey seed's signature over this client's INFO nonce.
    Nkey(usize, &'static str),
}

struct Scenario {
    name: &'static str,
    config: &'static str,
    steps: &'static [Step],
}

const NKEY_SEED_1: &str = "SUAJD323CI3DZSQUAZGE7J5QMHJLVB3B6VQF5MKACFIJGEFOYTN7GLQASQ";
const NKEY_SEED_2: &str = "SUALXEK6EUSJIZJMXMSF77DQ63VKB6FSVKAZWRIWTOWPHFZI5AWULURXME";

const MULTI_USER: &str = r#"authorization {
  users = [
    { user: "alice", password: "alicepw" }
    { user: "bob", password: "bobpw", permissions: { publish: ["events.>"], subscribe: ["results.bob.>"] } }
  ]
}"#;

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "users and permissions",
        config: MULTI_USER,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\"}\r\nSUB > 1\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":true,\"user\":\"bob\",\"pass\":\"bobpw\"}\r\nPUB events.login 2\r\nhi\r\nPUB secrets 2\r\nno\r\nSUB results.bob.> 1\r\nSUB results.alice 2\r\nSUB foo..bar 3\r\n"),
            Step::Send(0, b"PUB results.bob.x 1\r\nr\r\n"),
            Step::Send(1, b""),
        ],
    },
    Scenario {
        name: "wrong password and no connect",
        config: MULTI_USER,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\"}\r\n"),
            Step::Send(1, b"SUB x 1\r\n"),
            Step::Send(2, b"CONNECT {\"verbose\":false,\"user\":\"carol\",\"pass\":\"alicepw\"}\r\n"),
            Step::Send(3, b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"alicepw\",\"account\":\"X\"}\r\n"),
        ],
    },
    Scenario {
        name: "allow and deny",
        config: r#"authorization { users = [
            { user: u, password: pw, permissions: { publish: ["orders.>", "users.signup"], subscribe: { allow: "events.>", deny: "events.audit.>" } } }
            { user: p, password: pw }
        ] }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"pw\"}\r\nSUB events.audit.x 1\r\nSUB events.> 2\r\nSUB events.* 3\r\nPUB users.signup 1\r\na\r\nPUB users.other 1\r\na\r\nSUB orders.> 4\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":false,\"user\":\"p\",\"pass\":\"pw\"}\r\nPUB events.audit.x 1\r\nA\r\nPUB events.open 1\r\nO\r\n"),
            Step::Send(0, b""),
        ],
    },
    Scenario {
        name: "queue permissions",
        config: r#"authorization { users = [ { user: w, password: p, permissions: { subscribe: ["jobs.* workers", "plain.>"] } } ] }"#,
        steps: &[Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"w\",\"pass\":\"p\"}\r\nSUB jobs.a 1\r\nSUB jobs.a other 2\r\nSUB jobs.a workers 3\r\nSUB plain.x 4\r\nSUB plain.x q 5\r\n")],
    },
    Scenario {
        name: "accounts isolated",
        config: r#"accounts {
            A { users = [ { user: a1, password: p }, { user: a2, password: p } ] }
            B { users = [ { user: b1, password: p } ] }
        }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"protocol\":1,\"user\":\"a1\",\"pass\":\"p\"}\r\nSUB > 1\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":false,\"protocol\":1,\"user\":\"b1\",\"pass\":\"p\"}\r\nSUB > 1\r\nPUB x 1\r\nb\r\n"),
            Step::Send(2, b"CONNECT {\"verbose\":false,\"user\":\"a2\",\"pass\":\"p\"}\r\nPUB x 1\r\na\r\n"),
            Step::Send(0, b""),
            Step::Send(1, b""),
        ],
    },
    Scenario {
        name: "no_auth_user and default permissions",
        config: r#"authorization {
            default_permissions = { publish = "public.>" }
            users = [ { user: guest, password: unused }, { user: admin, password: adm, permissions: { publish: ">" } } ]
        }
        no_auth_user: guest"#,
        steps: &[
            Step::Send(0, b"PUB public.x 1\r\na\r\nPUB private.x 1\r\na\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":false}\r\nPUB private.x 1\r\na\r\n"),
            Step::Send(2, b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"adm\"}\r\nPUB private.x 1\r\na\r\n"),
        ],
    },
    Scenario {
        name: "allow_responses",
        config: r#"authorization { users = [
            { user: svc, password: s, permissions: { subscribe: "api.>", allow_responses: true } }
            { user: app, password: a }
        ] }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"svc\",\"pass\":\"s\"}\r\nSUB api.time 1\r\nPUB anything 1\r\nx\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":false,\"user\":\"app\",\"pass\":\"a\"}\r\nSUB _INBOX.1 9\r\nPUB api.time _INBOX.1 1\r\n?\r\n"),
            Step::Send(0, b"PUB _INBOX.1 1\r\n!\r\nPUB _INBOX.1 1\r\n!\r\n"),
            Step::Send(1, b""),
        ],
    },
    Scenario {
        name: "subject mappings and their functions",
        config: r#"mappings {
            "w.*.*": "wild.{{wildcard(2)}}.$1"
            "p.*": "part.{{partition(5,1)}}.{{wildcard(1)}}"
            "whole.*": "whole.{{partition(7)}}"
            "s.*": "split.{{split(1,-)}}"
            "l.*": "sfl.{{SplitFromLeft(1,2)}}"
            "r.*": "sfr.{{splitFromRight(1,2)}}"
            "x.*": "slice.{{sliceFromLeft(1,2)}}.{{sliceFromRight(1,2)}}"
            "lr.*": "lr.{{left(1,2)}}.{{right(1,2)}}"
            "rest.*.>": "tail.$1.>"
            "lit": "literal.dest"
            "drop": [ { dest: "drop", weight: 0 } ]
            "all": [ { dest: "one", weight: 100% } ]
        }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":true}\r\nPUB w.a.b 1\r\n1\r\nPUB p.abc 1\r\n2\r\nPUB p.zz 1\r\n3\r\nPUB whole.q 1\r\n4\r\nPUB s.-a--b- 1\r\n5\r\nPUB l.abcde 1\r\n6\r\nPUB r.abcde 1\r\n7\r\nPUB x.12345 1\r\n8\r\nPUB lr.abcd 1\r\n9\r\nPUB rest.a.b.c 1\r\nA\r\nPUB lit 1\r\nB\r\nPUB drop 1\r\nC\r\nPUB all 1\r\nD\r\nPUB other 1\r\nE\r\n"),
            Step::Send(0, b""),
        ],
    },
    Scenario {
        name: "mappings per account, before permissions and into service imports",
        config: r#"accounts {
            A { users = [ { user: a, password: a, permissions: { publish: ["mapped.>", "svc.>"] } } ]
                mappings { "in.*": "mapped.$1", "deny.*": "forbidden.$1" }
                imports [ { service: { account: B, subject: "svc.>" } } ] }
            B { users = [ { user: b, password: b } ]
                exports [ { service: "svc.>" } ]
                mappings { "svc.*": "internal.svc.$1" } }
        }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nSUB > 1\r\n"),
            // nats-server decides whether to map when a read starts, so a PUB in the same read
            // as CONNECT is not mapped there; rnats maps it. The PUBs go in reads of their own.
            Step::Send(1, b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB > 1\r\n"),
            Step::Send(1, b"PUB in.x 1\r\n1\r\n"),
            Step::Send(1, b"PUB svc.y 1\r\n2\r\n"),
            Step::Send(0, b""),
            Step::Send(1, b"PUB deny.z 1\r\n3\r\n"),
        ],
    },
    Scenario {
        name: "token",
        config: r#"authorization { token: "secret_token_here" }"#,
        steps: &[
            Step::Send(0, b"CONNECT {\"verbose\":false,\"auth_token\":\"secret_token_here\"}\r\n"),
            Step::Send(1, b"CONNECT {\"verbose\":false,\"auth_token\":\"nope\"}\r\n"),
            Step::Send(2, b"PING\r\n"),
        ],
    },
    Scenario {
        name: "nkey users",
        config: r#"authorization { users = [
            { nkey: "UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP", permissions: { publish: ["orders.>"], subscribe: ["results.>"] } }
            { nkey: "UCBP45VSUDL2EXLZ2MIAW43QBYCDUEOLQH3UUFFQYVCKUCQTAGK66QHB", permissions: { publish: ["events.>"], subscribe: ["_INBOX.>"] } }
        ] }"#,
        steps: &[
            Step::Nkey(0, NKEY_SEED_1),
            Step::Send(0, b"SUB results.> 1\r\nPUB orders.new 1\r\nx\r\nPUB events.x 1\r\nx\r\n"),
            Step::Nkey(1, NKEY_SEED_2),
            Step::Send(1, b"PUB results.y 1\r\ny\r\nSUB orders.> 1\r\n"),
            Step::Send(2, b"CONNECT {\"verbose\":false,\"nkey\":\"UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP\",\"sig\":\"AAAA\"}\r\n"),
        ],
    },
];

async fn run_scenario(addr: SocketAddr, scenario: &Scenario) -> Vec<String> {
    let mut clients: Vec<Option<RawClient>> = Vec::new();
    let mut transcript = Vec::new();
    for step in scenario.steps {
        let (i, bytes) = match step {
            Step::Send(i, bytes) => (*i, bytes.to_vec()),
            Step::Nkey(i, _) => (*i, Vec::new()),
        };
        while clients.len() <= i {
            clients.push(None);
        }
        if clients[i].is_none() {
            let c = RawClient::connect(addr).await;
            transcript.push(format!("client {i}: {}", mask_info(&c.info)));
            clients[i] = Some(c);
        }
        let Some(c) = clients[i].as_mut() else {
            continue;
        };
        let bytes = match step {
            Step::Nkey(_, seed) => {
                let nonce = c.info_json()["nonce"].trim_matches('"').to_owned();
                let pair = nkeys::KeyPair::from_seed(seed).unwrap();
                let sig =
                    data_encoding::BASE64URL_NOPAD.encode(&pair.sign(nonce.as_bytes()).unwrap());
                format!(
                    "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\n",
                    pair.public_key()
                )
                .into_bytes()
            }
            Step::Send(..) => bytes,
        };
        c.send(&bytes).await;
        let (got, closed) = c.ping_pong_or_close().await;
        transcript.push(format!(
            "client {i}: {}{}",
            normalise(&got),
            if closed { "<closed>" } else { "" }
        ));
        if closed {
            clients[i] = None;
        }
    }
    transcript
}

#[tokio::test]
async fn same_permissions_and_accounts_as_nats_server() {
    let reference_bin = reference_server_bin();
    let mut mismatches = Vec::new();
    for scenario in SCENARIOS {
        let dir = rnats_test_support::scratch_dir("diff");
        let path = dir.join("server.conf");
        std::fs::write(&path, scenario.config).unwrap();
        let reference = ExternalServer::spawn(&reference_bin, &["-c", path.to_str().unwrap()])
            .unwrap_or_else(|e| panic!("nats-server refused {}: {e}", scenario.name));
        let ours = crate::auth::start_conf(scenario.config).await;
        let theirs = run_scenario(reference.addr(), scenario).await;
        let mine = run_scenario(ours.addr, scenario).await;
        if theirs != mine {
            mismatches.push(format!(
                "{}:\n  nats-server: {theirs:#?}\n  rnats:       {mine:#?}",
                scenario.name
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "differences:\n{}",
        mismatches.join("\n")
    );
}
