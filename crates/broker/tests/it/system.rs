//! System-account services: the server's own clients, next to real ones.

use std::time::Duration;

use futures_util::StreamExt;
use rnats_broker::InternalError;

use crate::TestServer;

const ACCOUNTS: &str = r#"
system_account: SYS
accounts {
  SYS { users = [ { user: sys, password: s } ] }
  A { users = [ { user: a, password: a } ] }
  B { users = [ { user: b, password: b } ] }
}
"#;

async fn server() -> TestServer {
    TestServer::with(|config| {
        let loaded = rnats_config::load_str(ACCOUNTS, None)
            .expect("config")
            .config;
        config.accounts = loaded.accounts;
        config.system_account = loaded.system_account;
    })
    .await
}

async fn user(server: &TestServer, name: &str, pass: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(name.into(), pass.into())
        .connect(server.url())
        .await
        .expect("connect")
}

#[tokio::test]
async fn an_internal_responder_answers_a_real_client() {
    let server = server().await;
    let system = server.handle.system_client();
    assert_eq!(system.account(), "SYS");
    let mut requests = system.subscribe("svc.time", None).unwrap();
    let responder = system.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.next().await {
            let reply = String::from_utf8(req.reply.unwrap().to_vec()).unwrap();
            let answer = format!("now, you said {}", String::from_utf8_lossy(&req.payload));
            responder
                .publish(&reply, None, None, answer.as_bytes())
                .unwrap();
        }
    });
    let sys = user(&server, "sys", "s").await;
    let got = tokio::time::timeout(Duration::from_secs(5), sys.request("svc.time", "hi".into()))
        .await
        .expect("in time")
        .expect("answered");
    assert_eq!(&got.payload[..], b"now, you said hi");

    // A client of another account does not reach the system account's responder.
    let a = user(&server, "a", "a").await;
    let err = a
        .request("svc.time", "hi".into())
        .await
        .expect_err("isolated");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn an_internal_subscriber_sees_only_its_account() {
    let server = server().await;
    let internal = server.handle.internal_client("A");
    let mut everything = internal.subscribe(">", None).unwrap();
    let a = user(&server, "a", "a").await;
    let b = user(&server, "b", "b").await;
    let mut sync = b.subscribe("sync").await.unwrap();
    b.publish("news", "from B".into()).await.unwrap();
    b.publish("sync", "".into()).await.unwrap();
    // B's own message came back: the server has routed "news" from B before this point.
    tokio::time::timeout(Duration::from_secs(5), sync.next())
        .await
        .expect("in time");
    a.publish("news", "from A".into()).await.unwrap();
    a.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), everything.next())
        .await
        .expect("in time")
        .expect("open");
    assert_eq!(&first.subject[..], b"news");
    assert_eq!(&first.payload[..], b"from A", "B's message never reaches A");
}

#[tokio::test]
async fn an_internal_client_requests_a_real_service_with_headers() {
    let server = server().await;
    let a = user(&server, "a", "a").await;
    let mut service = a.subscribe("svc.echo").await.unwrap();
    a.flush().await.unwrap();
    let responder = a.clone();
    tokio::spawn(async move {
        while let Some(msg) = service.next().await {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Echo", "yes");
            responder
                .publish_with_headers(msg.reply.unwrap(), headers, msg.payload)
                .await
                .unwrap();
        }
    });
    // A round trip through the service proves its subscription is in place.
    a.request("svc.echo", "warm-up".into())
        .await
        .expect("service up");
    let internal = server.handle.internal_client("A");
    let reply = internal
        .request("svc.echo", b"ping", Duration::from_secs(5))
        .await
        .expect("answered");
    assert_eq!(&reply.payload[..], b"ping");
    let headers = String::from_utf8(reply.headers.expect("headers").to_vec()).unwrap();
    assert!(
        headers.starts_with("NATS/1.0\r\n") && headers.contains("Echo: yes"),
        "{headers:?}"
    );

    let nobody = internal
        .request("svc.none", b"?", Duration::from_secs(1))
        .await;
    assert_eq!(nobody, Err(InternalError::NoResponders));
    assert_eq!(
        internal
            .publish("bad subject", None, None, b"")
            .unwrap_err(),
        InternalError::InvalidSubject
    );
}
