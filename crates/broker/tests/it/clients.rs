//! The official Rust client, async-nats, used unchanged against rnats.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::TestServer;

async fn connect(s: &TestServer) -> async_nats::Client {
    async_nats::connect(s.url())
        .await
        .expect("async-nats connects")
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("message in time")
        .expect("subscription open")
}

#[tokio::test]
async fn publish_subscribe_and_wildcards() {
    let s = TestServer::start().await;
    let client = connect(&s).await;
    let mut exact = client.subscribe("orders.eu.created").await.unwrap();
    let mut star = client.subscribe("orders.*.created").await.unwrap();
    let mut tail = client.subscribe("orders.>").await.unwrap();
    client.flush().await.unwrap();
    client
        .publish("orders.eu.created", Bytes::from_static(b"1"))
        .await
        .unwrap();
    client
        .publish("orders.us.created", Bytes::from_static(b"2"))
        .await
        .unwrap();
    client
        .publish("orders.us.shipped.late", Bytes::from_static(b"3"))
        .await
        .unwrap();
    client.flush().await.unwrap();
    assert_eq!(next(&mut exact).await.payload, "1");
    assert_eq!(next(&mut star).await.payload, "1");
    assert_eq!(next(&mut star).await.payload, "2");
    for want in ["1", "2", "3"] {
        assert_eq!(next(&mut tail).await.payload, want);
    }
    // Nothing else arrived on the exact subscription.
    client
        .publish("orders.eu.created", Bytes::from_static(b"4"))
        .await
        .unwrap();
    assert_eq!(next(&mut exact).await.payload, "4");
}

#[tokio::test]
async fn queue_group_delivers_each_message_to_one_member() {
    let s = TestServer::start().await;
    let client = connect(&s).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            client
                .queue_subscribe("jobs", "workers".into())
                .await
                .unwrap(),
        );
    }
    let mut plain = client.subscribe("jobs").await.unwrap();
    client.flush().await.unwrap();
    let total = 300;
    for i in 0..total {
        client.publish("jobs", i.to_string().into()).await.unwrap();
    }
    client.flush().await.unwrap();
    for _ in 0..total {
        next(&mut plain).await;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut per_member = Vec::new();
    for m in &mut members {
        let mut n = 0;
        while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_millis(200), m.next()).await {
            assert!(seen.insert(msg.payload.clone()), "delivered twice");
            n += 1;
        }
        per_member.push(n);
    }
    assert_eq!(seen.len(), total, "each message exactly once");
    assert!(
        per_member.iter().all(|&n| n > 0),
        "spread over members: {per_member:?}"
    );
}

#[tokio::test]
async fn request_reply_and_no_responders() {
    let s = TestServer::start().await;
    let service = connect(&s).await;
    let mut requests = service.subscribe("time.now").await.unwrap();
    service.flush().await.unwrap();
    tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                let mut answer = b"re:".to_vec();
                answer.extend_from_slice(&msg.payload);
                service.publish(reply, answer.into()).await.unwrap();
            }
        }
    });
    let client = connect(&s).await;
    let answer = client.request("time.now", "q".into()).await.unwrap();
    assert_eq!(answer.payload, "re:q");

    let err = client.request("nobody.home", "q".into()).await.unwrap_err();
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test]
async fn headers_round_trip() {
    let s = TestServer::start().await;
    let client = connect(&s).await;
    let mut sub = client.subscribe("with.headers").await.unwrap();
    client.flush().await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Trace-Id", "abc123");
    headers.append("Multi", "one");
    headers.append("Multi", "two");
    client
        .publish_with_headers("with.headers", headers, "body".into())
        .await
        .unwrap();
    let msg = next(&mut sub).await;
    assert_eq!(msg.payload, "body");
    let got = msg.headers.expect("headers delivered");
    assert_eq!(got.get("Trace-Id").map(|v| v.as_str()), Some("abc123"));
    let multi: Vec<_> = got
        .get_all("Multi")
        .map(|v| v.as_str().to_owned())
        .collect();
    assert_eq!(multi, ["one", "two"]);
}

#[tokio::test]
async fn auto_unsubscribe_after_n() {
    let s = TestServer::start().await;
    let client = connect(&s).await;
    let mut sub = client.subscribe("limited").await.unwrap();
    sub.unsubscribe_after(2).await.unwrap();
    client.flush().await.unwrap();
    for i in 0..5 {
        client
            .publish("limited", i.to_string().into())
            .await
            .unwrap();
    }
    client.flush().await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "0");
    assert_eq!(next(&mut sub).await.payload, "1");
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap();
    assert!(end.is_none(), "subscription ends after two messages");
    assert_eq!(s.handle.subscription_count(), 0);
}

#[tokio::test]
async fn echo_off_suppresses_own_messages() {
    let s = TestServer::start().await;
    let quiet = async_nats::ConnectOptions::new()
        .no_echo()
        .connect(s.url())
        .await
        .unwrap();
    let other = connect(&s).await;
    let mut own = quiet.subscribe("chat").await.unwrap();
    quiet.flush().await.unwrap();
    quiet.publish("chat", "mine".into()).await.unwrap();
    quiet.flush().await.unwrap();
    other.publish("chat", "theirs".into()).await.unwrap();
    other.flush().await.unwrap();
    assert_eq!(next(&mut own).await.payload, "theirs");
}

#[tokio::test]
async fn max_payload_exact_passes_and_one_over_is_refused() {
    let s = TestServer::with(|c| c.max_payload = 4096).await;
    let client = connect(&s).await;
    assert_eq!(client.server_info().max_payload, 4096);
    let mut sub = client.subscribe("big").await.unwrap();
    client.flush().await.unwrap();
    client.publish("big", vec![7u8; 4096].into()).await.unwrap();
    client.flush().await.unwrap();
    assert_eq!(next(&mut sub).await.payload.len(), 4096);
    // async-nats checks INFO's max_payload before sending.
    let err = client
        .publish("big", vec![7u8; 4097].into())
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        async_nats::client::PublishErrorKind::MaxPayloadExceeded
    );
}

#[tokio::test]
async fn many_clients_fan_out() {
    let s = TestServer::start().await;
    let publisher = connect(&s).await;
    let mut subs = Vec::new();
    for _ in 0..8 {
        let c = connect(&s).await;
        let sub = c.subscribe("fan").await.unwrap();
        c.flush().await.unwrap();
        subs.push((c, sub));
    }
    for i in 0..50 {
        publisher
            .publish("fan", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    for (_, sub) in &mut subs {
        for i in 0..50 {
            assert_eq!(next(sub).await.payload, i.to_string());
        }
    }
}

/// Payloads large enough to be shared between subscribers (not copied per subscriber) reach
/// every subscriber intact, with and without headers, interleaved with small ones, and a
/// subscriber on another connection that asked for no headers gets them stripped.
#[tokio::test]
async fn large_payloads_fan_out_intact() {
    let s = TestServer::start().await;
    let publisher = connect(&s).await;
    let mut subs = Vec::new();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = connect(&s).await;
        subs.push(client.subscribe("fan.>").await.unwrap());
        client.flush().await.unwrap();
        clients.push(client);
    }
    let sizes = [4096usize, 16, 70_000, 2048, 100_000, 0, 65_536, 3000];
    let body = |i: usize, n: usize| -> Bytes { (0..n).map(|j| (i * 31 + j * 7) as u8).collect() };
    for round in 0..20 {
        for (i, &n) in sizes.iter().enumerate() {
            let subject = format!("fan.{round}.{i}");
            if i % 3 == 0 {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Round", round.to_string().as_str());
                publisher
                    .publish_with_headers(subject, headers, body(i + round, n))
                    .await
                    .unwrap();
            } else {
                publisher
                    .publish(subject, body(i + round, n))
                    .await
                    .unwrap();
            }
        }
    }
    publisher.flush().await.unwrap();
    for sub in &mut subs {
        for round in 0..20 {
            for (i, &n) in sizes.iter().enumerate() {
                let msg = next(sub).await;
                assert_eq!(msg.subject.as_str(), format!("fan.{round}.{i}"));
                assert_eq!(
                    msg.payload,
                    body(i + round, n),
                    "payload of fan.{round}.{i}"
                );
                let round_header = msg
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Round").map(|v| v.to_string()));
                assert_eq!(round_header, (i % 3 == 0).then(|| round.to_string()));
            }
        }
    }
}
