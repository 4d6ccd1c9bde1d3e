//! `/metrics`: scraped over HTTP, parsed by a strict Prometheus text-format (0.0.4) parser and
//! checked against known actions: connections per account, messages and bytes, login
//! successes, failures by method and reason, the login latency histogram.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use rnats_test_support::RawClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::TestServer;

/// `GET path` over HTTP/1.0: status, headers (names lower-cased) and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, BTreeMap<String, String>, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers end");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// A sample's labels, sorted.
type Labels = Vec<(String, String)>;

/// One sample: metric name and its labels.
type Key = (String, Labels);

/// A parsed exposition: the samples and each family's declared type.
#[derive(Debug, Default)]
struct Exposition {
    samples: BTreeMap<Key, f64>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:#?}", self.samples))
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// The family a sample belongs to: histograms expose `_bucket`, `_sum` and `_count`.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"]
        .into_iter()
        .find_map(|suffix| {
            let base = name.strip_suffix(suffix)?;
            (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
        })
}

/// `{k="v",…}` after a sample name: the labels and the rest of the line.
fn parse_labels(mut rest: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let Some(inner) = rest.strip_prefix('{') else {
        return Ok((labels, rest));
    };
    rest = inner;
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (name, after) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !valid_name(name) || name.contains(':') {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape \\{other}")),
                },
                (_, c) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == name) {
            return Err(format!("label {name} twice"));
        }
        labels.push((name.to_owned(), value));
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".to_owned());
        }
    }
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        t => t.parse().map_err(|e| format!("bad value {t:?}: {e}")),
    }
}

/// A strict parser of the text exposition format, version 0.0.4: every sample belongs to a
/// family whose `# TYPE` came before it, each family is declared once and its samples are
/// contiguous, names and label names are valid, no sample repeats, histogram buckets are
/// cumulative and end at `+Inf` equal to `_count`.
fn parse(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    if !text.ends_with('\n') {
        return Err("the last line must end with a newline".to_owned());
    }
    for line in text.lines() {
        if line.is_empty() {
            return Err("empty line".to_owned());
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let rest = parts.next().unwrap_or("");
            match kind {
                "HELP" | "TYPE" if !valid_name(name) => return Err(format!("bad name {name:?}")),
                "HELP" => {}
                "TYPE" => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest) {
                        return Err(format!("bad type {rest:?}"));
                    }
                    if out.types.insert(name.to_owned(), rest.to_owned()).is_some() {
                        return Err(format!("{name} typed twice"));
                    }
                }
                _ => {}
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or("sample without value")?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(format!("bad metric name {name:?}"));
        }
        let family = family_of(name, &out.types)
            .ok_or_else(|| format!("{name} has no # TYPE before it"))?
            .to_owned();
        if current.as_deref() != Some(&family) {
            if let Some(done) = current.replace(family.clone()) {
                finished.insert(done);
            }
            if finished.contains(&family) {
                return Err(format!("{family}'s samples are not together"));
            }
        }
        let (mut labels, rest) = parse_labels(&line[name_end..])?;
        let mut fields = rest.trim_start_matches(' ').split(' ');
        let value = parse_value(fields.next().ok_or("no value")?)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|e| format!("bad timestamp: {e}"))?;
        }
        labels.sort();
        if out
            .samples
            .insert((name.to_owned(), labels), value)
            .is_some()
        {
            return Err(format!("sample {line:?} repeated"));
        }
    }
    check_histograms(&out)?;
    Ok(out)
}

fn check_histograms(out: &Exposition) -> Result<(), String> {
    for (family, kind) in &out.types {
        if kind != "histogram" {
            continue;
        }
        let bucket = format!("{family}_bucket");
        let mut buckets: Vec<(f64, f64)> = out
            .samples
            .iter()
            .filter(|((name, _), _)| *name == bucket)
            .map(|((_, labels), v)| {
                let le = labels.iter().find(|(k, _)| k == "le").map(|(_, v)| v);
                let le = le.ok_or_else(|| format!("{bucket} without le"))?;
                Ok((parse_value(le)?, *v))
            })
            .collect::<Result<_, String>>()?;
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{family}'s buckets are not cumulative"));
        }
        let last = buckets
            .last()
            .ok_or_else(|| format!("{family} has no buckets"))?;
        let count = out.get(&format!("{family}_count"), &[]);
        if last.0 != f64::INFINITY || last.1 != count {
            return Err(format!("{family}: +Inf bucket {last:?}, count {count}"));
        }
    }
    Ok(())
}

async fn scrape(addr: SocketAddr, path: &str) -> Exposition {
    let (status, headers, body) = get(addr, path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    parse(&body).unwrap_or_else(|e| panic!("{e}\n{body}"))
}

fn connect_user(user: &str, pass: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"{pass}\"}}\r\n")
        .into_bytes()
}

#[test]
fn the_parser_is_strict() {
    let ok = "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"q\\\"\"} 1\n";
    assert_eq!(
        parse(ok).expect("valid").get("x_total", &[("a", "q\"")]),
        1.0
    );
    for bad in [
        "x_total 1\n",
        "# TYPE x counter\nx 1",
        "# TYPE x counter\nx{a=\"1\"} 1\n# TYPE y gauge\ny 2\nx{a=\"2\"} 1\n",
        "# TYPE x counter\nx{a=\"1\",a=\"2\"} 1\n",
        "# TYPE x counter\nx 1\nx 2\n",
        "# TYPE x counter\nx{a=1} 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 0\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test]
async fn metrics_after_known_actions() {
    let conf = r#"
        http_base_path: "/mon"
        accounts {
            A { users = [ {user: a1, password: pa1}, {user: a2, password: pa2} ] }
            B { users = [ {user: b1, password: pb1} ] }
        }
    "#;
    let mut config = rnats_config::load_str(conf, None).expect("config").config;
    config.http_port = Some(0);
    let server = TestServer::with_config(config).await;
    let mon = server.handle.monitor_addr().expect("monitoring on");

    // Before any client: every account is there, at zero.
    let before = scrape(mon, "/mon/metrics").await;
    for account in ["A", "B"] {
        assert_eq!(
            before.get("rnats_connections", &[("account", account)]),
            0.0
        );
        assert_eq!(
            before.get("rnats_messages_in_total", &[("account", account)]),
            0.0
        );
    }
    assert_eq!(before.get("rnats_connections_total", &[]), 0.0);
    assert_eq!(before.get("rnats_login_duration_seconds_count", &[]), 0.0);
    assert_eq!(before.types["rnats_connections"], "gauge");
    assert_eq!(before.types["rnats_connections_total"], "counter");
    assert_eq!(before.types["rnats_login_duration_seconds"], "histogram");

    let mut a1 = RawClient::connect(server.addr).await;
    a1.send(&connect_user("a1", "pa1")).await;
    a1.send(b"SUB foo 1\r\n").await;
    assert!(a1.ping_pong().await.is_empty());
    let mut a2 = RawClient::connect(server.addr).await;
    a2.send(&connect_user("a2", "pa2")).await;
    a2.send(b"PUB foo 5\r\nhello\r\nPUB foo 3\r\nabc\r\nPUB bar 2\r\nhi\r\n")
        .await;
    assert!(a2.ping_pong().await.is_empty());
    let got = a1.until(b"abc\r\n").await;
    assert_eq!(got, b"MSG foo 1 5\r\nhello\r\nMSG foo 1 3\r\n");
    assert!(a1.ping_pong().await.is_empty());

    // Two refused logins, one of them with a user name no configuration has: both land in
    // the same series, and the name appears nowhere.
    for (user, pass) in [("b1", "wrong"), ("mallory", "x")] {
        let mut bad = RawClient::connect(server.addr).await;
        bad.send(&connect_user(user, pass)).await;
        let closed = bad.read_to_close().await;
        assert_eq!(closed, b"-ERR 'Authorization Violation'\r\n");
    }

    let (_, _, body) = get(mon, "/mon/metrics").await;
    assert!(!body.contains("mallory"), "{body}");
    let m = scrape(mon, "/mon/metrics").await;
    assert_eq!(m.get("rnats_connections", &[("account", "A")]), 2.0);
    assert_eq!(m.get("rnats_connections", &[("account", "B")]), 0.0);
    // The client's one, and the four system services every account imports.
    assert_eq!(m.get("rnats_subscriptions", &[("account", "A")]), 5.0);
    assert_eq!(m.get("rnats_messages_in_total", &[("account", "A")]), 3.0);
    assert_eq!(m.get("rnats_bytes_in_total", &[("account", "A")]), 10.0);
    assert_eq!(m.get("rnats_messages_out_total", &[("account", "A")]), 2.0);
    assert_eq!(m.get("rnats_bytes_out_total", &[("account", "A")]), 8.0);
    assert_eq!(m.get("rnats_messages_in_total", &[("account", "B")]), 0.0);
    assert_eq!(m.get("rnats_connections_total", &[]), 4.0);
    assert_eq!(m.get("rnats_slow_consumers_total", &[]), 0.0);
    assert_eq!(
        m.get("rnats_auth_successes_total", &[("method", "password")]),
        2.0
    );
    assert_eq!(
        m.get(
            "rnats_auth_failures_total",
            &[("method", "password"), ("reason", "credentials_rejected")]
        ),
        2.0
    );
    assert_eq!(m.get("rnats_login_duration_seconds_count", &[]), 4.0);
    assert_eq!(
        m.get("rnats_login_duration_seconds_bucket", &[("le", "+Inf")]),
        4.0
    );
    assert!(m.get("rnats_login_duration_seconds_sum", &[]) > 0.0);

    // A closed connection's traffic stays in its account's counters.
    drop(a2);
    let mut a3 = RawClient::connect(server.addr).await;
    a3.send(&connect_user("a1", "pa1")).await;
    assert!(a3.ping_pong().await.is_empty());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let after = loop {
        let m = scrape(mon, "/mon/metrics").await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "a2's close not seen"
        );
        if m.get("rnats_connections", &[("account", "A")]) == 2.0 {
            break m;
        }
        // The dropped connection's close is noticed by its reader: poll until it is.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        after.get("rnats_messages_in_total", &[("account", "A")]),
        3.0
    );
    assert_eq!(after.get("rnats_bytes_in_total", &[("account", "A")]), 10.0);

    // Only under the base path, like the other endpoints.
    let (status, _, _) = get(mon, "/metrics").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn no_auth_logins_and_missing_connect() {
    let conf = "authorization { token: s3cret }";
    let mut config = rnats_config::load_str(conf, None).expect("config").config;
    config.http_port = Some(0);
    let server = TestServer::with_config(config).await;
    let mon = server.handle.monitor_addr().expect("monitoring on");

    // A client that sends no CONNECT at all; one with a wrong token; one with the right one.
    let mut none = RawClient::connect(server.addr).await;
    none.send(b"PING\r\n").await;
    assert_eq!(
        none.read_to_close().await,
        b"-ERR 'Authorization Violation'\r\n"
    );
    let mut wrong = RawClient::connect(server.addr).await;
    wrong
        .send(b"CONNECT {\"verbose\":false,\"auth_token\":\"nope\"}\r\n")
        .await;
    assert_eq!(
        wrong.read_to_close().await,
        b"-ERR 'Authorization Violation'\r\n"
    );
    let mut good = RawClient::connect(server.addr).await;
    good.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\n")
        .await;
    assert!(good.ping_pong().await.is_empty());

    let m = scrape(mon, "/metrics").await;
    assert_eq!(
        m.get(
            "rnats_auth_failures_total",
            &[("method", "none"), ("reason", "credentials_required")]
        ),
        1.0
    );
    assert_eq!(
        m.get(
            "rnats_auth_failures_total",
            &[("method", "token"), ("reason", "credentials_rejected")]
        ),
        1.0
    );
    assert_eq!(
        m.get("rnats_auth_successes_total", &[("method", "token")]),
        1.0
    );
    // Only logins with a CONNECT are timed.
    assert_eq!(m.get("rnats_login_duration_seconds_count", &[]), 2.0);
    assert_eq!(m.get("rnats_connections", &[("account", "$G")]), 1.0);
}
