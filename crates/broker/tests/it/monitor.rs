//! HTTP monitoring: the JSON shape against nats-server 2.15.1 endpoint by endpoint, and the
//! behaviour of `/connz` (sort, paging, filters, closed ring), base paths and start-up errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use rnats_broker::{Server, ServerConfig};
use rnats_test_support::{ExternalServer, RawClient, reference_server_bin};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::TestServer;

/// `GET path` over HTTP/1.0 (so neither side uses chunked encoding): status and body.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
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
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, body.to_owned())
}

async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A server with monitoring on a free port, and that port.
async fn monitored(adjust: impl FnOnce(&mut ServerConfig)) -> (TestServer, SocketAddr) {
    let server = TestServer::with(|c| {
        c.http_port = Some(0);
        adjust(c);
    })
    .await;
    let addr = server.handle.monitor_addr().expect("monitoring on");
    (server, addr)
}

/// Every path in `value` with its JSON type; array elements all share the path `[]`.
fn shape(value: &Value, path: &str, out: &mut BTreeMap<String, &'static str>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(items) => {
            for item in items {
                shape(item, &format!("{path}[]"), out);
            }
            "array"
        }
        Value::Object(map) => {
            for (k, v) in map {
                shape(v, &format!("{path}.{k}"), out);
            }
            "object"
        }
    };
    out.insert(path.to_owned(), kind);
}

pub(crate) fn shape_of(value: &Value) -> BTreeMap<String, &'static str> {
    let mut out = BTreeMap::new();
    shape(value, "", &mut out);
    out
}

/// The keys of the connections both servers list for the same clients, in order.
fn conn_names(connz: &Value) -> Vec<String> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The same clients do the same things on `url`: a named subscriber with a plain and a queue
/// subscription, a publisher, and a client that comes and goes (for the closed list).
async fn exercise(url: &str) -> (async_nats::Client, async_nats::Client) {
    let sub = async_nats::ConnectOptions::new()
        .name("subscriber")
        .connect(url)
        .await
        .expect("connect");
    let mut s1 = sub.subscribe("orders.>").await.unwrap();
    let _s2 = sub.queue_subscribe("work", "q".into()).await.unwrap();
    sub.flush().await.unwrap();
    let publisher = async_nats::ConnectOptions::new()
        .name("publisher")
        .connect(url)
        .await
        .expect("connect");
    publisher
        .publish("orders.new", "hello".into())
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    use futures_util::StreamExt;
    let got = tokio::time::timeout(Duration::from_secs(5), s1.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"hello");
    std::mem::forget(s1);
    let gone = async_nats::ConnectOptions::new()
        .name("gone")
        .connect(url)
        .await
        .expect("connect");
    gone.flush().await.unwrap();
    drop(gone);
    (sub, publisher)
}

#[tokio::test]
async fn same_json_shape_as_nats_server() {
    let reference =
        ExternalServer::spawn(&reference_server_bin(), &["-m", "-1"]).expect("start nats-server");
    let theirs_http = reference.monitor_addr().expect("nats-server monitoring");
    let (ours, ours_http) = monitored(|_| {}).await;
    let _theirs_clients = exercise(&format!("nats://{}", reference.addr())).await;
    let _our_clients = exercise(&ours.url()).await;
    // Both servers have seen the third client close.
    for addr in [theirs_http, ours_http] {
        eventually(|| async move { get_json(addr, "/connz?state=closed").await["total"] == 1 })
            .await;
    }
    let mut mismatches = Vec::new();
    for path in [
        "/varz",
        "/connz?auth=true&subs=true",
        "/connz?subs=detail",
        "/connz?state=closed",
        "/connz?state=all&sort=uptime",
        "/subsz?subs=true",
        "/subsz",
        "/accountz",
        "/accstatz",
        "/healthz",
        "/healthz?js-enabled-only=true",
    ] {
        let theirs = get_json(theirs_http, path).await;
        let mine = get_json(ours_http, path).await;
        if path.starts_with("/connz") {
            assert_eq!(conn_names(&theirs), conn_names(&mine), "{path}");
        }
        let (theirs, mine) = (shape_of(&theirs), shape_of(&mine));
        if theirs != mine {
            let only_theirs: Vec<_> = theirs
                .iter()
                .filter(|(k, v)| mine.get(*k) != Some(v))
                .collect();
            let only_mine: Vec<_> = mine
                .iter()
                .filter(|(k, v)| theirs.get(*k) != Some(v))
                .collect();
            mismatches.push(format!(
                "{path}:\n  nats-server only: {only_theirs:?}\n  rnats only: {only_mine:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test]
async fn same_error_answers_as_nats_server() {
    let reference =
        ExternalServer::spawn(&reference_server_bin(), &["-m", "-1"]).expect("start nats-server");
    let theirs_http = reference.monitor_addr().expect("nats-server monitoring");
    let (_ours, ours_http) = monitored(|_| {}).await;
    for path in [
        "/connz?sort=bogus",
        "/connz?sort=stop",
        "/connz?sort=reason&state=open",
        "/connz?auth=maybe",
        "/connz?limit=x",
        "/connz?cid=-1",
        "/connz?state=sideways",
        "/subsz?test=foo.*",
        "/subsz?subs=2",
        "/nope",
        "/varz/",
    ] {
        let theirs = get(theirs_http, path).await;
        let mine = get(ours_http, path).await;
        assert_eq!(theirs, mine, "{path}");
    }
}

#[tokio::test]
async fn connz_counts_sorts_pages_and_filters() {
    let (server, http) = monitored(|_| {}).await;
    let mut a = RawClient::connect(server.addr).await;
    a.send(b"CONNECT {\"verbose\":false,\"name\":\"a\"}\r\nSUB x 1\r\n")
        .await;
    a.ping_pong().await;
    let mut b = RawClient::connect(server.addr).await;
    b.send(b"CONNECT {\"verbose\":false,\"name\":\"b\"}\r\nPUB x 3\r\nabc\r\nPUB x 3\r\nabc\r\nPUB y 1\r\nz\r\n")
        .await;
    b.ping_pong().await;
    let mut c = RawClient::connect(server.addr).await;
    c.send(b"CONNECT {\"verbose\":false,\"name\":\"c\"}\r\nSUB y 1\r\nSUB z 2\r\nPUB x 1\r\nq\r\n")
        .await;
    c.ping_pong().await;
    a.ping_pong().await;

    let all = get_json(http, "/connz").await;
    assert_eq!(all["total"], 3);
    let conns = all["connections"].as_array().unwrap();
    let by_name = |n: &str| conns.iter().find(|c| c["name"] == n).unwrap().clone();
    let (ca, cb, cc) = (by_name("a"), by_name("b"), by_name("c"));
    assert_eq!(
        (ca["out_msgs"].as_u64(), ca["out_bytes"].as_u64()),
        (Some(3), Some(7))
    );
    assert_eq!(
        (cb["in_msgs"].as_u64(), cb["in_bytes"].as_u64()),
        (Some(3), Some(7))
    );
    // c subscribed to y after b published on it.
    assert_eq!(
        (cc["in_msgs"].as_u64(), cc["out_msgs"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(cc["subscriptions"], 2);

    let names = |v: &Value| conn_names(v);
    assert_eq!(names(&all), ["a", "b", "c"], "by cid");
    assert_eq!(
        names(&get_json(http, "/connz?sort=msgs_from").await),
        ["b", "c", "a"]
    );
    assert_eq!(names(&get_json(http, "/connz?sort=msgs_to").await)[0], "a");
    assert_eq!(names(&get_json(http, "/connz?sort=subs").await)[0], "c");
    assert_eq!(
        names(&get_json(http, "/connz?sort=bytes_from").await)[0],
        "b"
    );

    let page = get_json(http, "/connz?limit=1&offset=1").await;
    assert_eq!(
        (page["total"].as_u64(), page["num_connections"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        (page["offset"].as_u64(), page["limit"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(names(&page), ["b"]);
    let past = get_json(http, "/connz?offset=10").await;
    assert_eq!(past["connections"], serde_json::json!([]));

    let cid = cb["cid"].as_u64().unwrap();
    let one = get_json(http, &format!("/connz?cid={cid}")).await;
    assert_eq!(names(&one), ["b"]);
    assert_eq!(one["limit"], 1);

    let in_g = get_json(http, "/connz?acc=$G&auth=true").await;
    assert_eq!(in_g["total"], 3);
    assert_eq!(in_g["connections"][0]["name_tag"], "$G");
    assert!(
        in_g["connections"][0].get("account").is_none(),
        "$G is not shown"
    );
    assert_eq!(get_json(http, "/connz?acc=OTHER").await["total"], 0);

    let varz = get_json(http, "/varz").await;
    assert_eq!(
        (varz["in_msgs"].as_u64(), varz["out_msgs"].as_u64()),
        (Some(4), Some(3))
    );
    assert_eq!(varz["connections"], 3);
    // Three subscriptions of clients, and the server's own in the system account.
    assert!(varz["subscriptions"].as_u64().unwrap() > 3);
    // The clients' three, and the four system services every account imports (as nats-server
    // counts them).
    assert_eq!(
        get_json(http, "/subsz?acc=$G").await["num_subscriptions"],
        7
    );
    assert_eq!(varz["http_req_stats"]["/connz"].as_u64(), Some(10));

    let subsz = get_json(http, "/subsz?subs=true&test=y&acc=$G").await;
    assert_eq!(subsz["total"], 1);
    assert_eq!(subsz["subscriptions_list"][0]["subject"], "y");
    let paged = get_json(http, "/subsz?subs=true&limit=2&offset=6&acc=$G").await;
    assert_eq!(
        (
            paged["total"].as_u64(),
            paged["subscriptions_list"].as_array().map(Vec::len)
        ),
        (Some(7), Some(1))
    );
}

#[tokio::test]
async fn closed_connections_keep_reasons_within_the_ring() {
    let (server, http) = monitored(|c| {
        c.max_closed_clients = 2;
        c.max_payload = 8;
    })
    .await;
    let mut first = RawClient::connect(server.addr).await;
    first
        .send(b"CONNECT {\"verbose\":false,\"name\":\"first\"}\r\n")
        .await;
    first.ping_pong().await;
    drop(first);
    let mut big = RawClient::connect(server.addr).await;
    big.send(b"CONNECT {\"verbose\":false,\"name\":\"big\"}\r\nSUB keep 7\r\nPUB x 100\r\n")
        .await;
    big.read_to_close().await;
    let mut bad = RawClient::connect(server.addr).await;
    bad.send(b"CONNECT {\"verbose\":false,\"name\":\"bad\",\"protocol\":5}\r\n")
        .await;
    bad.read_to_close().await;
    eventually(|| async move {
        get_json(http, "/connz?state=closed").await["total"] == 2
            && get_json(http, "/varz").await["total_connections"] == 3
    })
    .await;
    let closed = get_json(http, "/connz?state=closed&subs=detail").await;
    let conns = closed["connections"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = conns
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("big", "Maximum Message Payload Exceeded"),
            ("bad", "Bad Client Protocol Version"),
        ],
        "the oldest left the ring"
    );
    assert_eq!(conns[0]["subscriptions_list_detail"][0]["sid"], "7");
    assert!(conns[0]["stop"].is_string());
    let by_reason = get_json(http, "/connz?state=closed&sort=reason").await;
    assert_eq!(conn_names(&by_reason), ["bad", "big"]);
    let all = get_json(http, "/connz?state=all").await;
    assert_eq!(all["total"], 2, "no open connection is left");
    let (status, body) = get(http, "/connz?sort=stop").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "sort by stop only valid on closed connections")
    );
}

#[tokio::test]
async fn authorized_user_and_account_with_auth() {
    let conf = r#"
        accounts { A { users = [{user: alice, password: pw}] } }
        http_port: -1
    "#;
    let loaded = rnats_config::load_str(conf, None).expect("valid config");
    let server = TestServer::with_config(loaded.config).await;
    let http = server.handle.monitor_addr().unwrap();
    let mut alice = RawClient::connect(server.addr).await;
    alice
        .send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\n")
        .await;
    alice.ping_pong().await;
    let mut wrong = RawClient::connect(server.addr).await;
    wrong
        .send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"no\"}\r\n")
        .await;
    wrong.read_to_close().await;
    let open = get_json(http, "/connz?auth=true").await;
    assert_eq!(open["connections"][0]["authorized_user"], "alice");
    assert_eq!(open["connections"][0]["account"], "A");
    assert_eq!(get_json(http, "/connz?user=alice").await["total"], 1);
    assert_eq!(get_json(http, "/connz?user=bob").await["total"], 0);
    eventually(|| async move { get_json(http, "/connz?state=closed").await["total"] == 1 }).await;
    let closed = get_json(http, "/connz?state=closed").await;
    assert_eq!(closed["connections"][0]["reason"], "Authentication Failure");
    let stat = get_json(http, "/accstatz").await;
    assert_eq!(stat["account_statz"][0]["acc"], "A");
    assert_eq!(stat["account_statz"][0]["conns"], 1);
    let accountz = get_json(http, "/accountz").await;
    assert_eq!(accountz["accounts"], serde_json::json!(["$G", "$SYS", "A"]));
    let a = get_json(http, "/accountz?acc=A").await;
    assert_eq!(a["account_detail"]["client_connections"], 1);
    let (status, body) = get(http, "/accountz?acc=NOPE").await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Account NOPE does not exist")
    );
}

#[tokio::test]
async fn base_path_prefixes_every_endpoint() {
    let (_server, http) = monitored(|c| c.http_base_path = "nats/".into()).await;
    assert_eq!(get(http, "/nats/varz").await.0, 200);
    assert_eq!(get(http, "/nats/subscriptionsz").await.0, 200);
    let (status, body) = get(http, "/nats").await;
    assert_eq!(status, 200);
    assert!(body.contains("href=./varz"), "{body}");
    assert_eq!(get(http, "/varz").await.0, 404);
    assert_eq!(get(http, "/").await.0, 404);
    assert_eq!(
        get_json(http, "/nats/varz").await["http_base_path"],
        "nats/"
    );
}

#[tokio::test]
async fn start_up_refuses_what_nats_server_refuses() {
    let mut config = ServerConfig::default();
    config.host = "127.0.0.1".into();
    config.port = 0;
    config.http_port = Some(8222);
    config.https_port = Some(8223);
    let err = Server::bind(config.clone()).await.err().expect("refused");
    assert_eq!(
        err.to_string(),
        "can't specify both HTTP (8222) and HTTPs (8223) ports"
    );

    config.http_port = None;
    let err = Server::bind(config.clone()).await.err().expect("refused");
    assert_eq!(err.to_string(), "TLS cert and key required for HTTPS");

    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    config.https_port = None;
    config.http_port = Some(taken.local_addr().unwrap().port());
    let err = Server::bind(config).await.err().expect("refused");
    assert!(
        err.to_string()
            .starts_with("can't listen to the monitor port: listen tcp 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn https_monitoring_with_the_server_certificate() {
    use tokio_rustls::rustls;
    let dir = rnats_test_support::scratch_dir("monitor-certs");
    rnats_tls::testcerts::write_all(&dir).expect("test certificates");
    let path = |n: &str| dir.join(n).display().to_string();
    // The client listener asks for client certificates; the monitoring port does not.
    let conf = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\nhttps_port: -1",
        path("server.pem"),
        path("server-key.pem"),
        path("ca.pem")
    );
    let loaded = rnats_config::load_str(&conf, None).expect("valid config");
    let server = TestServer::with_config(loaded.config).await;
    let addr = server.handle.monitor_addr().expect("https monitoring");
    let mut roots = rustls::RootCertStore::empty();
    for cert in rnats_tls::load_certs(std::path::Path::new(&path("ca.pem"))).unwrap() {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    tls.write_all(b"GET /varz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    let varz: Value = serde_json::from_str(body).unwrap();
    assert_eq!(varz["https_port"], addr.port());
    assert_eq!(varz["http_port"], 0);
    assert_eq!(varz["tls_verify"], true);
}

/// Polls an async condition until it holds (state with no protocol round trip to wait on:
/// the server noticing a close). Fails after five seconds.
async fn eventually<F, Fut>(mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn tls_clients_show_version_and_cipher_as_go_names_them() {
    let dir = rnats_test_support::scratch_dir("monitor-tls");
    rnats_tls::testcerts::write_all(&dir).expect("test certificates");
    let path = |n: &str| dir.join(n).display().to_string();
    let conf = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\nhttp_port: -1",
        path("server.pem"),
        path("server-key.pem"),
    );
    let loaded = rnats_config::load_str(&conf, None).expect("valid config");
    let server = TestServer::with_config(loaded.config).await;
    let http = server.handle.monitor_addr().unwrap();
    let client = async_nats::ConnectOptions::new()
        .add_root_certificates(dir.join("ca.pem"))
        .require_tls(true)
        .connect(server.url())
        .await
        .expect("TLS client");
    client.flush().await.unwrap();
    let connz = get_json(http, "/connz").await;
    let conn = &connz["connections"][0];
    assert_eq!(conn["tls_version"], "1.3");
    // The server's preference (AES-128 first, as Go), in Go's name for it.
    assert_eq!(conn["tls_cipher_suite"], "TLS_AES_128_GCM_SHA256");
}

/// A system-account user and an application account, for `$SYS` requests.
const SYS_CONF: &str = r#"
accounts {
    SYS { users = [{user: sys, password: pw}] }
    APP { users = [{user: app, password: pw}] }
}
system_account: SYS
"#;

/// The answers to `$SYS` monitoring requests on `url`, as JSON, by request.
async fn sys_answers(url: &str) -> Vec<(String, Value)> {
    let app = async_nats::ConnectOptions::with_user_and_password("app".into(), "pw".into())
        .name("app")
        .connect(url)
        .await
        .expect("app connects");
    let _sub = app.subscribe("work").await.unwrap();
    app.flush().await.unwrap();
    let sys = async_nats::ConnectOptions::with_user_and_password("sys".into(), "pw".into())
        .connect(url)
        .await
        .expect("sys connects");
    let id = sys.server_info().server_id;
    let requests = [
        ("$SYS.REQ.SERVER.PING".to_owned(), ""),
        ("$SYS.REQ.SERVER.PING.STATSZ".to_owned(), ""),
        ("$SYS.REQ.SERVER.PING.VARZ".to_owned(), ""),
        (
            "$SYS.REQ.SERVER.PING.CONNZ".to_owned(),
            r#"{"auth":true,"subscriptions":true}"#,
        ),
        (
            "$SYS.REQ.SERVER.PING.CONNZ".to_owned(),
            r#"{"sort":"bogus"}"#,
        ),
        ("$SYS.REQ.SERVER.PING.CONNZ".to_owned(), "not json"),
        (
            "$SYS.REQ.SERVER.PING.SUBSZ".to_owned(),
            r#"{"subscriptions":true,"account":"APP"}"#,
        ),
        ("$SYS.REQ.SERVER.PING.ACCOUNTZ".to_owned(), ""),
        ("$SYS.REQ.SERVER.PING.HEALTHZ".to_owned(), ""),
        (format!("$SYS.REQ.SERVER.{id}.VARZ"), ""),
        (format!("$SYS.REQ.SERVER.{id}.CONNZ"), r#"{"state":1}"#),
        ("$SYS.REQ.ACCOUNT.APP.CONNZ".to_owned(), ""),
        ("$SYS.REQ.ACCOUNT.APP.SUBSZ".to_owned(), ""),
        ("$SYS.REQ.ACCOUNT.APP.STATZ".to_owned(), ""),
        (
            "$SYS.REQ.ACCOUNT.PING.STATZ".to_owned(),
            r#"{"accounts":["APP"]}"#,
        ),
        (
            "$SYS.REQ.ACCOUNT.PING.STATZ".to_owned(),
            r#"{"include_unused":true}"#,
        ),
    ];
    let mut answers = Vec::new();
    for (subject, body) in requests {
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            sys.request(subject.clone(), body.to_owned().into()),
        )
        .await
        .unwrap_or_else(|_| panic!("{subject}: no answer"))
        .unwrap_or_else(|e| panic!("{subject}: {e}"));
        let json: Value =
            serde_json::from_slice(&reply.payload).unwrap_or_else(|e| panic!("{subject}: {e}"));
        answers.push((format!("{subject} {body}").replace(&id, "<id>"), json));
    }
    answers
}

#[tokio::test]
async fn same_sys_answers_as_nats_server() {
    let dir = rnats_test_support::scratch_dir("monitor-sys");
    let path = dir.join("server.conf");
    std::fs::write(&path, SYS_CONF).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let loaded = rnats_config::load_str(SYS_CONF, None).expect("valid config");
    let ours = TestServer::with_config(loaded.config).await;
    let theirs = sys_answers(&format!("nats://{}", reference.addr())).await;
    let mine = sys_answers(&ours.url()).await;
    let mut mismatches = Vec::new();
    for ((request, theirs), (_, mine)) in theirs.iter().zip(&mine) {
        let (t, m) = (shape_of(theirs), shape_of(mine));
        if t != m {
            let only_theirs: Vec<_> = t.iter().filter(|(k, v)| m.get(*k) != Some(v)).collect();
            let only_mine: Vec<_> = m.iter().filter(|(k, v)| t.get(*k) != Some(v)).collect();
            mismatches.push(format!(
                "{request}:\n  nats-server only: {only_theirs:?}\n  rnats only: {only_mine:?}"
            ));
        }
        if let Some(error) = theirs.get("error") {
            assert_eq!(error["code"], mine["error"]["code"], "{request}");
            // A body that is not JSON: Go's and serde's parser word it differently.
            if error["code"] != 400 {
                assert_eq!(error, &mine["error"], "{request}");
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let app_conns = &mine
        .iter()
        .find(|(r, _)| r.starts_with("$SYS.REQ.ACCOUNT.APP.CONNZ"))
        .unwrap()
        .1;
    assert_eq!(app_conns["data"]["total"], 1);
    assert_eq!(app_conns["data"]["connections"][0]["name"], "app");
}

#[tokio::test]
async fn statsz_heartbeat_in_the_system_account() {
    let loaded = rnats_config::load_str(SYS_CONF, None).expect("valid config");
    let server = TestServer::with_config(loaded.config).await;
    let sys = async_nats::ConnectOptions::with_user_and_password("sys".into(), "pw".into())
        .connect(server.url())
        .await
        .unwrap();
    let id = sys.server_info().server_id;
    let mut beats = sys
        .subscribe(format!("$SYS.SERVER.{id}.STATSZ"))
        .await
        .unwrap();
    use futures_util::StreamExt;
    let beat = tokio::time::timeout(Duration::from_secs(5), beats.next())
        .await
        .expect("a heartbeat within seconds of start")
        .unwrap();
    let json: Value = serde_json::from_slice(&beat.payload).unwrap();
    assert_eq!(json["server"]["id"], id.as_str());
    assert_eq!(json["statsz"]["connections"], 1);
}

/// The client events a system-account subscriber sees on `url` while an application client
/// connects and leaves and another fails to log in: by subject (ids masked).
async fn client_events(url: &str) -> Vec<(String, Value)> {
    use futures_util::StreamExt;
    let sys = async_nats::ConnectOptions::with_user_and_password("sys".into(), "pw".into())
        .connect(url)
        .await
        .expect("sys connects");
    let id = sys.server_info().server_id;
    let mut events = sys.subscribe("$SYS.ACCOUNT.APP.*").await.unwrap();
    let mut auth_errors = sys
        .subscribe("$SYS.SERVER.*.CLIENT.AUTH.ERR")
        .await
        .unwrap();
    sys.flush().await.unwrap();
    let app = async_nats::ConnectOptions::with_user_and_password("app".into(), "pw".into())
        .name("app")
        .connect(url)
        .await
        .expect("app connects");
    app.publish("x", "hello".into()).await.unwrap();
    app.flush().await.unwrap();
    drop(app);
    let refused = async_nats::ConnectOptions::with_user_and_password("app".into(), "wrong".into())
        .max_reconnects(Some(0))
        .connect(url)
        .await;
    assert!(refused.is_err());
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .expect("an account event")
            .unwrap();
        got.push((
            msg.subject.to_string(),
            serde_json::from_slice(&msg.payload).unwrap(),
        ));
    }
    let msg = tokio::time::timeout(Duration::from_secs(5), auth_errors.next())
        .await
        .expect("an auth error event")
        .unwrap();
    got.push((
        msg.subject.to_string().replace(&id, "<id>"),
        serde_json::from_slice(&msg.payload).unwrap(),
    ));
    got
}

#[tokio::test]
async fn same_client_events_as_nats_server() {
    let dir = rnats_test_support::scratch_dir("monitor-events");
    let path = dir.join("server.conf");
    std::fs::write(&path, SYS_CONF).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let loaded = rnats_config::load_str(SYS_CONF, None).expect("valid config");
    let ours = TestServer::with_config(loaded.config).await;
    let theirs = client_events(&format!("nats://{}", reference.addr())).await;
    let mine = client_events(&ours.url()).await;
    let subjects = |v: &[(String, Value)]| v.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    assert_eq!(subjects(&theirs), subjects(&mine));
    let mut mismatches = Vec::new();
    for ((subject, t), (_, m)) in theirs.iter().zip(&mine) {
        let (ts, ms) = (shape_of(t), shape_of(m));
        if ts != ms {
            let only_theirs: Vec<_> = ts.iter().filter(|(k, v)| ms.get(*k) != Some(v)).collect();
            let only_mine: Vec<_> = ms.iter().filter(|(k, v)| ts.get(*k) != Some(v)).collect();
            mismatches.push(format!(
                "{subject}:\n  nats-server only: {only_theirs:?}\n  rnats only: {only_mine:?}"
            ));
        }
        for key in ["type", "reason"] {
            assert_eq!(t.get(key), m.get(key), "{subject} {key}");
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let disconnect = &mine[1].1;
    assert_eq!(disconnect["client"]["name"], "app");
    assert_eq!(disconnect["sent"]["msgs"], 1);
    assert_eq!(disconnect["sent"]["bytes"], 5);
}
