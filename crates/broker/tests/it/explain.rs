//! The permission explain request on `$SYS.REQ.SERVER.…EXPLAIN`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::auth::start_conf;

const CONF: &str = r#"
accounts {
  SYS { users = [ { user: sys, password: s } ] }
  APP { users = [
    { user: alice, password: a, permissions {
        publish { allow: ["orders.>"], deny: ["orders.secret"] }
        subscribe { allow: ["orders.*"], deny: ["orders.audit"] }
        allow_responses: true
    } }
    { user: bob, password: b }
  ] }
}
system_account: SYS
"#;

async fn ask(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(subject.to_owned(), body.to_string().into()),
    )
    .await
    .expect("in time")
    .expect("an answer");
    serde_json::from_slice(&reply.payload).expect("JSON")
}

#[tokio::test]
async fn explain_names_the_rule_for_users_and_connections() {
    let s = start_conf(CONF).await;
    let sys = async_nats::ConnectOptions::with_user_and_password("sys".into(), "s".into())
        .connect(s.url())
        .await
        .unwrap();
    let alice = async_nats::ConnectOptions::with_user_and_password("alice".into(), "a".into())
        .connect(s.url())
        .await
        .unwrap();

    // By user name: deny wins over the allow entry that matches too.
    let got = ask(
        &sys,
        "$SYS.REQ.SERVER.PING.EXPLAIN",
        json!({"user": "alice", "subject": "orders.secret"}),
    )
    .await;
    let data = &got["data"];
    assert_eq!(data["account"], "APP");
    assert_eq!(
        data["publish"],
        json!({
            "allowed": false,
            "rule": "denied",
            "allow": ["orders.>"],
            "deny": ["orders.secret"],
            "explanation": "denied by deny entry \"orders.secret\" (deny wins over allow)",
        })
    );
    assert_eq!(data["subscribe"]["allowed"], true);
    assert_eq!(data["subscribe"]["rule"], "allowed");
    assert_eq!(data["subscribe"]["allow"], json!(["orders.*"]));
    assert_eq!(data["allow_responses"]["max"], 1);
    assert_eq!(
        got["server"]["id"].as_str(),
        Some(sys.server_info().server_id.as_str())
    );

    // By connection id, on this server's own subject: the allow list closes off the rest.
    let cid = alice.server_info().client_id;
    let own = format!("$SYS.REQ.SERVER.{}.EXPLAIN", sys.server_info().server_id);
    let got = ask(&sys, &own, json!({"cid": cid, "subject": "billing.x"})).await;
    let data = &got["data"];
    assert_eq!(
        (data["cid"].as_u64(), &data["user"]),
        (Some(cid), &json!("alice"))
    );
    assert_eq!(data["publish"]["allowed"], false);
    assert_eq!(data["publish"]["rule"], "not_in_allow_list");
    assert_eq!(data["subscribe"]["rule"], "not_in_allow_list");

    // A wildcard subscription broader than a deny entry: allowed, filtered at delivery.
    let got = ask(&sys, &own, json!({"cid": cid, "subject": "orders.*"})).await;
    assert_eq!(got["data"]["publish"], Value::Null);
    assert_eq!(got["data"]["subscribe"]["allowed"], true);
    assert_eq!(got["data"]["filtered_at_delivery"], json!(["orders.audit"]));

    // A user without permissions.
    let got = ask(&sys, &own, json!({"user": "bob", "subject": "x"})).await;
    assert_eq!(got["data"]["publish"]["rule"], "no_permissions");

    // Errors come in nats-server's envelope.
    let got = ask(&sys, &own, json!({"subject": "x"})).await;
    assert_eq!(got["error"]["code"], 400);
    let got = ask(&sys, &own, json!({"user": "nobody", "subject": "x"})).await;
    assert_eq!(got["error"]["code"], 404);
    let got = ask(&sys, &own, json!({"cid": 999_999, "subject": "x"})).await;
    assert_eq!(got["error"]["code"], 404);
}

#[tokio::test]
async fn only_the_system_account_can_ask() {
    let s = start_conf(CONF).await;
    let bob = async_nats::ConnectOptions::with_user_and_password("bob".into(), "b".into())
        .connect(s.url())
        .await
        .unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        bob.request(
            "$SYS.REQ.SERVER.PING.EXPLAIN",
            json!({"user": "alice", "subject": "x"}).to_string().into(),
        ),
    )
    .await
    .expect("in time")
    .expect_err("nobody answers outside the system account");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn explain_is_served_over_http_monitoring_too() {
    let s = start_conf(&format!("http_port: -1\n{CONF}")).await;
    let http = s.handle.monitor_addr().expect("monitoring on");
    let (status, body) =
        crate::monitor::get(http, "/explainz?user=alice&subject=orders.secret").await;
    assert_eq!(status, 200, "{body}");
    let data: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(data["publish"]["rule"], "denied");
    assert_eq!(data["account"], "APP");
    let alice = async_nats::ConnectOptions::with_user_and_password("alice".into(), "a".into())
        .connect(s.url())
        .await
        .unwrap();
    let cid = alice.server_info().client_id;
    let (status, body) =
        crate::monitor::get(http, &format!("/explainz?cid={cid}&subject=billing.x")).await;
    assert_eq!(status, 200, "{body}");
    let data: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(data["publish"]["rule"], "not_in_allow_list");
    let (status, _) = crate::monitor::get(http, "/explainz?user=nobody&subject=x").await;
    assert_eq!(status, 404);
    let (status, _) = crate::monitor::get(http, "/explainz?cid=x&subject=x").await;
    assert_eq!(status, 400);
}
