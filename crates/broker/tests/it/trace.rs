//! Message tracing (`Nats-Trace-Dest`), differentially against nats-server 2.15.1: the same
//! configuration and the same traced messages on both; the trace events must be equal once
//! server ids, hosts, times and connection ids are masked.

use std::net::SocketAddr;

use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};
use serde_json::Value;

const CONFIG: &str = r#"
accounts {
  A {
    users [
      {user: a, password: a}
      {user: c, password: c, permissions: {publish: {deny: ["secret", "hidden"]}}}
    ]
    mappings { "m.in": "m.out" }
    exports [
      {stream: "s.>"}
      {stream: "at.>"}
      {service: "svc.>"}
      {service: "tsvc.>", allow_trace: true}
    ]
  }
  B {
    users [{user: b, password: b}]
    msg_trace { dest: "bt", sampling: "100%" }
    imports [
      {stream: {account: A, subject: "s.>"}, prefix: "imp"}
      {stream: {account: A, subject: "at.>"}, prefix: "imp", allow_trace: true}
      {service: {account: A, subject: "svc.>"}, to: "bsvc.>"}
      {service: {account: A, subject: "tsvc.>"}}
    ]
  }
}
"#;

/// One traced publication: who sends what, with which headers.
struct Case {
    name: &'static str,
    /// 0: user a, 1: user b, 2: user c (publish denied on `secret` and `hidden`).
    from: usize,
    subject: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

const CASES: &[Case] = &[
    Case {
        name: "mapping",
        from: 0,
        subject: "m.in",
        headers: &[("Nats-Trace-Dest", "trace")],
    },
    Case {
        name: "stream export, delivered",
        from: 0,
        subject: "s.x",
        headers: &[("Nats-Trace-Dest", "trace"), ("X-Other", "1")],
    },
    Case {
        name: "stream export, trace only",
        from: 0,
        subject: "s.x",
        headers: &[("Nats-Trace-Dest", "trace"), ("Nats-Trace-Only", "true")],
    },
    Case {
        name: "stream export with allow_trace, trace only",
        from: 0,
        subject: "at.x",
        headers: &[("Nats-Trace-Dest", "trace"), ("Nats-Trace-Only", "on")],
    },
    Case {
        name: "stream export with allow_trace, delivered",
        from: 0,
        subject: "at.x",
        headers: &[("Nats-Trace-Dest", "trace")],
    },
    Case {
        name: "nobody",
        from: 0,
        subject: "nobody",
        headers: &[("Nats-Trace-Dest", "trace"), ("Nats-Trace-Only", "1")],
    },
    Case {
        name: "service import",
        from: 1,
        subject: "bsvc.q",
        headers: &[("Nats-Trace-Dest", "bt")],
    },
    Case {
        name: "service import, trace only",
        from: 1,
        subject: "bsvc.q",
        headers: &[("Nats-Trace-Dest", "bt"), ("Nats-Trace-Only", "true")],
    },
    Case {
        name: "service import with allow_trace",
        from: 1,
        subject: "tsvc.q",
        headers: &[("Nats-Trace-Dest", "bt"), ("Nats-Trace-Only", "true")],
    },
    Case {
        name: "sampled traceparent, account destination",
        from: 1,
        subject: "imp.s.x",
        headers: &[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )],
    },
    Case {
        name: "unsampled traceparent",
        from: 1,
        subject: "nobody",
        headers: &[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        )],
    },
    Case {
        name: "publish denied",
        from: 2,
        subject: "secret",
        headers: &[("Nats-Trace-Dest", "trace")],
    },
    Case {
        name: "destination denied",
        from: 2,
        subject: "m.out",
        headers: &[("Nats-Trace-Dest", "hidden")],
    },
    Case {
        name: "not a trace-only value",
        from: 0,
        subject: "m.out",
        headers: &[("Nats-Trace-Dest", "trace"), ("Nats-Trace-Only", "yes")],
    },
    Case {
        name: "unsupported encoding",
        from: 2,
        subject: "m.out",
        headers: &[("Nats-Trace-Dest", "trace"), ("Accept-Encoding", "br")],
    },
];

async fn login(addr: SocketAddr, user: &str) -> RawClient {
    let mut c = RawClient::connect(addr).await;
    c.send(
        format!(
            "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"headers\":true,\"verbose\":false,\"name\":\"n{user}\"}}\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(c.ping_pong().await.is_empty());
    c
}

fn hpub(subject: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut h = String::from("NATS/1.0\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    let payload = "hello";
    format!(
        "HPUB {subject} {} {}\r\n{h}{payload}\r\n",
        h.len(),
        h.len() + payload.len()
    )
    .into_bytes()
}

/// What each connection received for one case: messages as `subject sid <headers|payload>`,
/// trace events as masked JSON (events after the ingress sorted, as nats-server's order
/// among subscriptions of one subject is a map's).
fn frames(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let nl = rest.windows(2).position(|w| w == b"\r\n").expect("line");
        let line = String::from_utf8_lossy(&rest[..nl]).into_owned();
        rest = &rest[nl + 2..];
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (subject, sid, hlen, total) = match parts[0] {
            "MSG" => (
                parts[1],
                parts[2],
                0,
                parts.last().unwrap().parse::<usize>().unwrap(),
            ),
            "HMSG" => {
                let n = parts.len();
                (
                    parts[1],
                    parts[2],
                    parts[n - 2].parse::<usize>().unwrap(),
                    parts[n - 1].parse::<usize>().unwrap(),
                )
            }
            _ => {
                out.push(line);
                continue;
            }
        };
        // Service requests carry `Nats-Request-Info` in nats-server (not part of tracing).
        let headers: String = String::from_utf8_lossy(&rest[..hlen])
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with("Nats-Request-Info:"))
            .collect();
        let payload = &rest[hlen..total];
        rest = &rest[total + 2..];
        let body = match serde_json::from_slice::<Value>(payload) {
            Ok(v) if v.get("events").is_some() => mask(v).to_string(),
            _ => String::from_utf8_lossy(payload).into_owned(),
        };
        out.push(format!("{subject} {sid} {headers:?} {body}"));
    }
    out
}

fn mask(mut v: Value) -> Value {
    for k in ["name", "host", "id", "time", "seq"] {
        v["server"][k] = "*".into();
    }
    let events = v["events"].as_array_mut().unwrap();
    for e in events.iter_mut() {
        e["ts"] = "*".into();
        e["cid"] = if e.get("cid").is_some() {
            0.into()
        } else {
            Value::Null
        };
        if e["cid"].is_null() {
            e.as_object_mut().unwrap().remove("cid");
        }
    }
    events[1..].sort_by_key(|e| e.to_string());
    v
}

#[tokio::test]
async fn trace_events_equal_nats_server() {
    let dir = rnats_test_support::scratch_dir("trace");
    let path = dir.join("server.conf");
    std::fs::write(&path, CONFIG).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let ours = crate::auth::start_conf(CONFIG).await;
    let theirs = run_cases(reference.addr()).await;
    let mine = run_cases(ours.addr).await;
    assert_eq!(theirs, mine, "nats-server (left) and rnats (right) differ");
}

/// Runs every case; for each, what each of the three connections got (publisher first).
async fn run_cases(addr: SocketAddr) -> Vec<(String, Vec<Vec<String>>)> {
    let mut clients = [
        login(addr, "a").await,
        login(addr, "b").await,
        login(addr, "c").await,
    ];
    clients[0]
        .send(b"SUB trace 1\r\nSUB m.out 2\r\nSUB s.x 3\r\nSUB svc.q 4\r\nSUB tsvc.q 5\r\nSUB at.x q 6\r\n")
        .await;
    clients[1]
        .send(b"SUB bt 1\r\nSUB imp.s.x 2\r\nSUB imp.at.x 3\r\n")
        .await;
    clients[2].send(b"SUB trace 1\r\n").await;
    for c in clients.iter_mut() {
        assert!(c.ping_pong().await.is_empty());
    }
    let mut out = Vec::new();
    for case in CASES {
        clients[case.from]
            .send(&hpub(case.subject, case.headers))
            .await;
        // nats-server publishes the event from another goroutine: wait for it where it is due.
        let due: &[usize] = match case.headers[0] {
            (_, "trace") => &[0, 2],
            (_, "bt") => &[1],
            ("traceparent", v) if v.ends_with("-01") => &[1],
            _ => &[],
        };
        let mut order: Vec<usize> = vec![case.from];
        order.extend((0..clients.len()).filter(|&i| i != case.from));
        let mut got = Vec::new();
        for i in order {
            let c = &mut clients[i];
            let mut bytes = Vec::new();
            if due.contains(&i) {
                bytes = c.until(b"]}\r\n").await;
                bytes.extend_from_slice(b"]}\r\n");
            }
            bytes.extend(c.ping_pong().await);
            got.push(frames(&bytes));
        }
        out.push((case.name.to_owned(), got));
    }
    out
}

/// The cases' expectations on rnats alone: trace-only delivers nothing but reports egress; a
/// message to nobody reports its ingress only.
#[tokio::test]
async fn trace_only_and_nobody() {
    let ours = crate::auth::start_conf(CONFIG).await;
    let results = run_cases(ours.addr).await;
    let find = |name: &str| results.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let event = |frames: &[String]| -> Value {
        let f = frames
            .iter()
            .find(|f| f.starts_with("trace 1 "))
            .expect("a trace event");
        serde_json::from_str(f.splitn(4, ' ').nth(3).unwrap()).unwrap()
    };

    let only = find("stream export, trace only");
    // Only the event reached anybody: no message on s.x (a) nor imp.s.x (b); c, subscribed
    // to the trace subject too, got the event alone.
    assert_eq!(only[0].len(), 1, "{only:?}");
    assert!(only[1].is_empty(), "{only:?}");
    assert_eq!(only[2], only[0]);
    let e = event(&only[0]);
    let types: Vec<&str> = e["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types[0], "in");
    assert!(types.contains(&"eg") && types.contains(&"se"), "{e}");
    assert_eq!(e["request"]["header"]["Nats-Trace-Only"][0], "true");

    let nobody = find("nobody");
    let e = event(&nobody[0]);
    assert_eq!(e["events"].as_array().unwrap().len(), 1, "{e}");
    assert_eq!(e["events"][0]["type"], "in");
    assert_eq!(e["events"][0]["acc"], "A");
    assert_eq!(e["events"][0]["subj"], "nobody");
    assert_eq!(e["events"][0]["name"], "na");

    // B's `msg_trace` destination takes a sampled `traceparent`; an unsampled one is not traced.
    let sampled = find("sampled traceparent, account destination");
    let f = sampled[0]
        .iter()
        .find(|f| f.starts_with("bt 1 "))
        .expect("event on bt");
    let e: Value = serde_json::from_str(f.splitn(4, ' ').nth(3).unwrap()).unwrap();
    assert_eq!(e["events"][0]["subj"], "imp.s.x");
    assert!(e["request"]["header"]["traceparent"].is_array(), "{e}");
    assert!(find("unsampled traceparent").iter().all(Vec::is_empty));

    let denied = find("publish denied");
    assert_eq!(
        denied[0][0],
        "-ERR 'Permissions Violation for Publish to \"secret\"'"
    );
    let e = event(&denied[0]);
    assert_eq!(
        e["events"][0]["error"],
        "Permissions Violation for Publish to \"secret\""
    );
}
