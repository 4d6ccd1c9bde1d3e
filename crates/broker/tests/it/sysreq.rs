//! The `$SYS` requests and events beyond the monitoring endpoints, against nats-server 2.15.1:
//! the services every account reaches (`$SYS.REQ.USER.INFO`, the account's own CONNZ and
//! STATZ), the per-account endpoints (INFO, LEAFZ, JSZ, CONNS), the server endpoints of
//! features rnats does not have, and the account connection-count event.

use std::time::Duration;

use futures_util::StreamExt;
use rnats_test_support::{ExternalServer, reference_server_bin};
use serde_json::Value;

use crate::TestServer;
use crate::monitor::shape_of;

/// A system user, and an application user with permissions (so USER.INFO has some to show).
const CONF: &str = r#"
accounts {
    SYS { users = [{user: sys, password: pw}] }
    APP {
        users = [{
            user: app, password: pw,
            permissions: {
                publish: { allow: ["x", "$SYS.REQ.>", "_INBOX.>"] },
                subscribe: { deny: ["secret"] }
            }
        }]
    }
}
system_account: SYS
"#;

async fn connect(url: &str, user: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), "pw".into())
        .name(user)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"))
}

/// The answers on `url`, by request (`<user> <subject> <body>`).
async fn answers(url: &str) -> Vec<(String, Value)> {
    let app = connect(url, "app").await;
    let sys = connect(url, "sys").await;
    let id = sys.server_info().server_id;
    let requests: &[(&str, &str, &str)] = &[
        ("app", "$SYS.REQ.USER.INFO", ""),
        ("app", "$SYS.REQ.ACCOUNT.PING.CONNZ", ""),
        ("app", "$SYS.REQ.SERVER.PING.CONNZ", r#"{"auth":true}"#),
        ("app", "$SYS.REQ.ACCOUNT.PING.STATZ", ""),
        ("sys", "$SYS.REQ.USER.INFO", ""),
        ("sys", "$SYS.REQ.SERVER.PING.IDZ", ""),
        ("sys", "$SYS.REQ.SERVER.PING.LEAFZ", ""),
        ("sys", "$SYS.REQ.SERVER.PING.ROUTEZ", ""),
        ("sys", "$SYS.REQ.SERVER.PING.GATEWAYZ", ""),
        ("sys", "$SYS.REQ.SERVER.PING.JSZ", ""),
        ("sys", "$SYS.REQ.SERVER.PING.PROFILEZ", ""),
        (
            "sys",
            "$SYS.REQ.SERVER.PING.PROFILEZ",
            r#"{"name":"bogus"}"#,
        ),
        ("sys", "$SYS.REQ.SERVER.PING.RAFTZ", ""),
        ("sys", "$SYS.REQ.ACCOUNT.APP.INFO", ""),
        ("sys", "$SYS.REQ.ACCOUNT.SYS.INFO", ""),
        ("sys", "$SYS.REQ.ACCOUNT.NOPE.INFO", ""),
        ("sys", "$SYS.REQ.ACCOUNT.APP.LEAFZ", ""),
        ("sys", "$SYS.REQ.ACCOUNT.APP.JSZ", ""),
        ("sys", "$SYS.REQ.ACCOUNT.APP.CONNS", ""),
        ("sys", "$SYS.REQ.ACCOUNT.PING.CONNZ", ""),
        ("sys", "$SYS.REQ.ACCOUNT.NOPE.CONNZ", ""),
    ];
    let mut out = Vec::new();
    for (who, subject, body) in requests {
        let client = if *who == "app" { &app } else { &sys };
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(subject.to_string(), body.to_string().into()),
        )
        .await
        .unwrap_or_else(|_| panic!("{who} {subject}: no answer"))
        .unwrap_or_else(|e| panic!("{who} {subject}: {e}"));
        let json: Value = serde_json::from_slice(&reply.payload)
            .unwrap_or_else(|e| panic!("{who} {subject}: {e}"));
        out.push((format!("{who} {subject} {body}").replace(&id, "<id>"), json));
    }
    out
}

fn mismatch(what: &str, theirs: &Value, mine: &Value) -> Option<String> {
    let (t, m) = (shape_of(theirs), shape_of(mine));
    if t == m {
        return None;
    }
    let only_theirs: Vec<_> = t.iter().filter(|(k, v)| m.get(*k) != Some(v)).collect();
    let only_mine: Vec<_> = m.iter().filter(|(k, v)| t.get(*k) != Some(v)).collect();
    Some(format!(
        "{what}:\n  nats-server only: {only_theirs:?}\n  rnats only: {only_mine:?}"
    ))
}

fn conf_file(name: &str) -> std::path::PathBuf {
    let dir = rnats_test_support::scratch_dir(name);
    let path = dir.join("server.conf");
    std::fs::write(&path, CONF).unwrap();
    path
}

#[tokio::test]
async fn same_account_and_server_requests_as_nats_server() {
    let path = conf_file("sysreq-requests");
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let loaded = rnats_config::load_str(CONF, None).expect("valid config");
    let ours = TestServer::with_config(loaded.config).await;
    let theirs = answers(&format!("nats://{}", reference.addr())).await;
    let mine = answers(&ours.url()).await;
    let mut mismatches = Vec::new();
    for ((request, t), (_, m)) in theirs.iter().zip(&mine) {
        // The system account's pending replies to the requests the application account just
        // made through its service imports: nats-server's bookkeeping of the moment.
        let mut t = t.clone();
        if let Some(data) = t.get_mut("data").and_then(Value::as_object_mut) {
            data.remove("responses");
        }
        let t = &t;
        mismatches.extend(mismatch(request, t, m));
        if let Some(error) = t.get("error") {
            assert_eq!(error, &m["error"], "{request}");
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    let get = |request: &str| {
        &mine
            .iter()
            .find(|(r, _)| r.starts_with(request))
            .unwrap_or_else(|| panic!("{request}"))
            .1
    };
    // Who asked, in the requester's account, with the permissions of the configuration.
    let user = &get("app $SYS.REQ.USER.INFO")["data"];
    assert_eq!(user["user"], "app");
    assert_eq!(user["account"], "APP");
    assert_eq!(
        user["permissions"]["subscribe"],
        serde_json::json!({"deny": ["secret"]})
    );
    let mut allowed: Vec<&str> = user["permissions"]["publish"]["allow"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    allowed.sort_unstable();
    assert_eq!(allowed, ["$SYS.REQ.>", "_INBOX.>", "x"]);
    assert_eq!(
        get("sys $SYS.REQ.USER.INFO")["data"],
        serde_json::json!({"user": "sys", "account": "SYS", "account_name": "SYS"})
    );
    // An account's own CONNZ lists only its connections.
    for request in [
        "app $SYS.REQ.ACCOUNT.PING.CONNZ",
        "app $SYS.REQ.SERVER.PING.CONNZ",
    ] {
        let connz = &get(request)["data"];
        assert_eq!(connz["total"], 1, "{request}");
        assert_eq!(connz["connections"][0]["name"], "app", "{request}");
    }
    let statz = &get("app $SYS.REQ.ACCOUNT.PING.STATZ")["data"]["account_statz"];
    assert_eq!(statz.as_array().unwrap().len(), 1);
    assert_eq!(statz[0]["acc"], "APP");
    let conns = get("sys $SYS.REQ.ACCOUNT.APP.CONNS");
    assert_eq!(
        conns["type"],
        "io.nats.server.advisory.v1.account_connections"
    );
    assert_eq!(conns["acc"], "APP");
    assert_eq!(conns["conns"], 1);
    assert_eq!(
        get("sys $SYS.REQ.ACCOUNT.NOPE.CONNZ")["data"]["connections"],
        Value::Null
    );
    // The same values where nothing is masked.
    for (request, t) in &theirs {
        let m = &mine.iter().find(|(r, _)| r == request).unwrap().1;
        if request.contains("IDZ") || request.contains("RAFTZ") || request.contains("PROFILEZ") {
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("server");
                    o.remove("name");
                    o.remove("id");
                }
                v
            };
            assert_eq!(strip(t), strip(m), "{request}");
        }
    }
}

async fn next_event(sub: &mut async_nats::Subscriber) -> (String, Value) {
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("an account connections event")
        .unwrap();
    (
        msg.subject.to_string(),
        serde_json::from_slice::<Value>(&msg.payload).unwrap(),
    )
}

/// The account connection-count events a system user sees on `url` while an application
/// client comes and goes.
async fn conns_events(url: &str) -> Vec<(String, Value)> {
    let sys = connect(url, "sys").await;
    let mut events = sys
        .subscribe("$SYS.ACCOUNT.APP.SERVER.CONNS")
        .await
        .unwrap();
    let mut old = sys
        .subscribe("$SYS.SERVER.ACCOUNT.APP.CONNS")
        .await
        .unwrap();
    sys.flush().await.unwrap();
    let app = connect(url, "app").await;
    app.flush().await.unwrap();
    let mut got = Vec::new();
    got.push(next_event(&mut old).await);
    got.push(next_event(&mut events).await);
    drop(app);
    got.push(next_event(&mut old).await);
    got.push(next_event(&mut events).await);
    got
}

#[tokio::test]
async fn same_account_connection_events_as_nats_server() {
    let path = conf_file("sysreq-conns");
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let loaded = rnats_config::load_str(CONF, None).expect("valid config");
    let ours = TestServer::with_config(loaded.config).await;
    let theirs = conns_events(&format!("nats://{}", reference.addr())).await;
    let mine = conns_events(&ours.url()).await;
    let subjects = |v: &[(String, Value)]| v.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    assert_eq!(subjects(&theirs), subjects(&mine));
    let mismatches: Vec<String> = theirs
        .iter()
        .zip(&mine)
        .filter_map(|((s, t), (_, m))| mismatch(s, t, m))
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    for ((_, t), (s, m)) in theirs.iter().zip(&mine) {
        for key in ["type", "acc", "conns", "total_conns", "leafnodes"] {
            assert_eq!(t[key], m[key], "{s} {key}");
        }
    }
    assert_eq!(mine[0].1["conns"], 1);
    assert_eq!(mine[3].1["conns"], 0);
}

/// Accounts and a user of the global account, where failed logins are reported.
const GLOBAL_CONF: &str = r#"
accounts {
    SYS { users = [{user: sys, password: pw}] }
    APP { users = [{user: app, password: pw}] }
}
authorization { users = [{user: g, password: pw}] }
system_account: SYS
"#;

/// What a global-account subscriber sees of a failed login on `url`.
async fn account_auth_error(url: &str) -> (String, Value) {
    let g = connect(url, "g").await;
    let mut events = g.subscribe("$SYS.ACCOUNT.CLIENT.AUTH.ERR").await.unwrap();
    g.flush().await.unwrap();
    let refused = async_nats::ConnectOptions::with_user_and_password("app".into(), "wrong".into())
        .max_reconnects(Some(0))
        .connect(url)
        .await;
    assert!(refused.is_err());
    let msg = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an account auth error event")
        .unwrap();
    (
        msg.subject.to_string(),
        serde_json::from_slice(&msg.payload).unwrap(),
    )
}

#[tokio::test]
async fn same_account_auth_error_event_as_nats_server() {
    let dir = rnats_test_support::scratch_dir("sysreq-auth-err");
    let path = dir.join("server.conf");
    std::fs::write(&path, GLOBAL_CONF).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let loaded = rnats_config::load_str(GLOBAL_CONF, None).expect("valid config");
    let ours = TestServer::with_config(loaded.config).await;
    let (ts, t) = account_auth_error(&format!("nats://{}", reference.addr())).await;
    let (ms, m) = account_auth_error(&ours.url()).await;
    assert_eq!(ts, ms);
    if let Some(diff) = mismatch(&ts, &t, &m) {
        panic!("{diff}");
    }
    for key in ["type", "reason"] {
        assert_eq!(t[key], m[key], "{key}");
    }
    assert_eq!(m["client"]["acc"], "$G");
    assert_eq!(m["client"]["user"], "app");
}

/// The ingress subjects of the trace events a client of an account whose JWT has `trace`
/// receives on the destination after publishing a sampled, an unsampled and a sampled message.
async fn jwt_account_traces(url: &str, creds: &str) -> Vec<String> {
    let client = async_nats::ConnectOptions::with_credentials(creds)
        .unwrap()
        .connect(url)
        .await
        .expect("creds login");
    let mut traces = client.subscribe("trace.here").await.unwrap();
    client.flush().await.unwrap();
    for (subject, flag) in [("x", "01"), ("y", "00"), ("z", "01")] {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            "traceparent",
            format!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flag}").as_str(),
        );
        client
            .publish_with_headers(subject, headers, "hello".into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = tokio::time::timeout(Duration::from_secs(5), traces.next())
            .await
            .expect("a trace event")
            .unwrap();
        let event: Value = serde_json::from_slice(&msg.payload).unwrap();
        got.push(
            event["events"][0]["subj"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        );
    }
    got
}

#[tokio::test]
async fn account_jwt_trace_destination_as_nats_server() {
    use crate::operator::{Trust, account, creds, user};
    let mut trust = Trust::new();
    let (a, mut claims) = account("A");
    claims.trace = Some(rnats_jwt::MsgTrace {
        dest: "trace.here".into(),
        sampling: 0,
    });
    trust.add(&a, &claims);
    let conf = trust.config("");
    let (u, j) = user("app", &a, &a, |_| {});
    let creds = creds(&u, &j);
    let dir = rnats_test_support::scratch_dir("sysreq-jwt-trace");
    let path = dir.join("server.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let ours = crate::auth::start_conf(&conf).await;
    let theirs = jwt_account_traces(&format!("nats://{}", reference.addr()), &creds).await;
    let mine = jwt_account_traces(&ours.url(), &creds).await;
    // The unsampled `y` is not traced; sampling 0 means every sampled message.
    assert_eq!(theirs, ["x", "z"]);
    assert_eq!(mine, theirs);
}

/// `$SYS.REQ.USER.INFO` of a JWT user with permissions and an expiry, on `url`.
async fn jwt_user_info(url: &str, creds: &str) -> Value {
    let client = async_nats::ConnectOptions::with_credentials(creds)
        .unwrap()
        .connect(url)
        .await
        .expect("creds login");
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request("$SYS.REQ.USER.INFO", "".into()),
    )
    .await
    .expect("an answer")
    .expect("a reply");
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test]
async fn jwt_user_info_as_nats_server() {
    use crate::operator::{Trust, account, creds, user};
    let mut trust = Trust::new();
    let (a, claims) = account("Orders");
    trust.add(&a, &claims);
    let conf = trust.config("");
    let (u, j) = user("app", &a, &a, |c| {
        c.expires = Some(std::time::SystemTime::now() + Duration::from_secs(3600));
        c.permissions.publish = rnats_jwt::Permission::allow(["feed.>", "_INBOX.>", "$SYS.REQ.>"]);
        c.permissions.subscribe = rnats_jwt::Permission::new(vec![], vec!["secret.>".into()]);
    });
    let creds = creds(&u, &j);
    let dir = rnats_test_support::scratch_dir("sysreq-jwt-user");
    let path = dir.join("server.conf");
    std::fs::write(&path, &conf).unwrap();
    let reference = ExternalServer::spawn(&reference_server_bin(), &["-c", path.to_str().unwrap()])
        .expect("start nats-server");
    let ours = crate::auth::start_conf(&conf).await;
    let theirs = jwt_user_info(&format!("nats://{}", reference.addr()), &creds).await;
    let mine = jwt_user_info(&ours.url(), &creds).await;
    if let Some(diff) = mismatch("USER.INFO", &theirs, &mine) {
        panic!("{diff}");
    }
    let (t, m) = (&theirs["data"], &mine["data"]);
    for key in ["user", "account", "account_name", "user_name"] {
        assert_eq!(t[key], m[key], "{key}: {theirs} {mine}");
    }
    assert_eq!(m["account_name"], "Orders");
    assert_eq!(m["user"], u.public_key().as_str());
    let sorted = |v: &Value| {
        let mut list: Vec<String> = v
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        list.sort();
        list
    };
    for path in [("publish", "allow"), ("subscribe", "deny")] {
        assert_eq!(
            sorted(&t["permissions"][path.0][path.1]),
            sorted(&m["permissions"][path.0][path.1]),
            "{path:?}: {theirs} {mine}"
        );
    }
    // Whole seconds left, in nanoseconds.
    let left = |v: &Value| v["expires"].as_u64().unwrap() / 1_000_000_000;
    assert!(left(t).abs_diff(left(m)) <= 2, "{theirs} {mine}");
    assert!(left(m) > 3500);
}
