//! The session without sockets: ops and `now` in, bytes and decisions out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use rnats_auth::{AuthError, AuthMethod, Authorized};
use tokio_util::sync::CancellationToken;

use super::{AuthOutcome, Fed, Peer, Session};
use crate::hashing::Refused;
use crate::outbound::{CloseReason, Outbound};
use crate::state::{ServerState, Settings};
use crate::websocket::Transport;

const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

fn settings(conf: &str) -> Arc<Settings> {
    let loaded = rnats_config::load_str(conf, None).expect("config");
    Arc::new(Settings::new(loaded.config, "NTEST", 4222, 0, None, None).expect("settings"))
}

/// One client of a fresh server with `conf`, and the buffer its writer would drain.
struct Harness {
    state: Arc<ServerState>,
    session: Session,
    out: Arc<Outbound>,
    now: Instant,
}

impl Harness {
    fn new(conf: &str) -> Self {
        let state = ServerState::new(settings(conf), "NTEST".into(), None);
        Self::join(&state, 1)
    }

    /// Another client of the same server.
    fn join(state: &Arc<ServerState>, cid: u64) -> Self {
        let settings = state.settings();
        let out = Arc::new(Outbound::new(cid, ADDR, 1 << 20, CancellationToken::new()));
        let peer = Peer {
            addr: ADDR,
            cid,
            transport: Transport::Tcp,
            nonce: None,
            tls: None,
            tls_session: None,
        };
        let now = Instant::now();
        let session = Session::new(state.clone(), settings, out.clone(), peer, now);
        Self {
            state: state.clone(),
            session,
            out,
            now,
        }
    }

    /// Feeds bytes; a CONNECT that needs the authenticator is answered by the configured one,
    /// as the driver would. Returns what the client was sent, or why it is closed.
    fn send(&mut self, input: &str) -> Result<String, CloseReason> {
        let mut buf = BytesMut::from(input.as_bytes());
        let result = self.feed_all(&mut buf);
        self.session.flush();
        result.map(|()| self.sent())
    }

    fn feed_all(&mut self, buf: &mut BytesMut) -> Result<(), CloseReason> {
        loop {
            match self.session.feed(buf, self.now)? {
                Fed::Done => return Ok(()),
                Fed::Authenticate(request) => {
                    let auth = self.session.settings().auth.clone();
                    let outcome = AuthOutcome::of(auth.authenticate(&request), *request);
                    self.session.complete_connect(outcome, self.now)?;
                }
                Fed::Stalled => self.session.flush(),
            }
        }
    }

    /// Feeds bytes, then answers a CONNECT with `outcome` instead of the authenticator.
    fn connect_with(
        &mut self,
        input: &str,
        outcome: impl FnOnce(rnats_auth::AuthRequest) -> AuthOutcome,
    ) -> Result<(), CloseReason> {
        let mut buf = BytesMut::from(input.as_bytes());
        let Fed::Authenticate(request) = self.session.feed(&mut buf, self.now)? else {
            panic!("CONNECT needs the authenticator");
        };
        let result = self.session.complete_connect(outcome(*request), self.now);
        self.session.flush();
        result
    }

    fn sent(&self) -> String {
        String::from_utf8(self.out.take_pending().to_vec()).expect("utf-8")
    }
}

fn authorized(account: &str) -> Authorized {
    Authorized {
        account: account.into(),
        identity: "alice".into(),
        method: AuthMethod::Password,
        permissions: None,
        expires: None,
        max_subscriptions: None,
        max_payload: None,
        max_account_connections: None,
        max_user_connections: None,
        signing_key: None,
        signing_key_version: 0,
    }
}

#[test]
fn connect_verbose_and_quiet() {
    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"verbose\":true}\r\nPING\r\n").unwrap(),
        "+OK\r\nPONG\r\n"
    );
    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n")
            .unwrap(),
        "MSG a 1 2\r\nhi\r\n"
    );
}

#[test]
fn ops_before_connect_get_connect_defaults() {
    let mut c = Harness::new("");
    // An empty CONNECT is verbose: SUB without CONNECT is answered with +OK, as nats-server.
    assert_eq!(c.send("SUB a 1\r\n").unwrap(), "+OK\r\n");
}

#[test]
fn connect_refusals() {
    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"protocol\":2}\r\n"),
        Err(CloseReason::BadClientProtocolVersion)
    );
    assert_eq!(c.sent(), "-ERR 'invalid client protocol'\r\n");

    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"no_responders\":true}\r\n"),
        Err(CloseReason::NoRespondersRequiresHeaders)
    );
    assert_eq!(
        c.sent(),
        "-ERR 'no responders requires headers support'\r\n"
    );

    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {bad json\r\n"),
        Err(CloseReason::ProtocolViolation)
    );

    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"verbose\":false}\r\nHPUB a 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        Err(CloseReason::ProtocolViolation)
    );
}

#[test]
fn pedantic_publish_subject_is_checked() {
    let mut c = Harness::new("");
    assert_eq!(
        c.send("CONNECT {\"verbose\":false,\"pedantic\":true}\r\nPUB a.* 0\r\n\r\n")
            .unwrap(),
        "-ERR 'Invalid Publish Subject'\r\n"
    );
}

#[test]
fn accepted_binds_account_and_permissions() {
    let mut c = Harness::new(
        "accounts { A {}, B {} }\nauthorization { users = [ {user: alice, password: pw, account: A} ] }",
    );
    c.connect_with(
        "CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\n",
        |r| AuthOutcome::Accepted(authorized("B"), r),
    )
    .unwrap();
    assert_eq!(c.session.account.name, "B");
    assert_eq!(
        c.send("SUB x 1\r\nPUB x 0\r\n\r\n").unwrap(),
        "MSG x 1 0\r\n\r\n"
    );
    assert_eq!(c.state.account("B").subscription_count(), 1);
    assert_eq!(c.state.global_account.subscription_count(), 0);
}

#[test]
fn every_refusal_is_the_same_authorization_violation() {
    let conf = "authorization { token: s3cret }";
    let refusals: [fn(rnats_auth::AuthRequest) -> AuthOutcome; 4] = [
        |r| AuthOutcome::Refused(AuthError::BadToken, r),
        |_| AuthOutcome::Failed,
        |_| AuthOutcome::Busy(Refused::Full),
        |_| AuthOutcome::Busy(Refused::AddressFull),
    ];
    for refusal in refusals {
        let mut c = Harness::new(conf);
        let result = c.connect_with("CONNECT {\"auth_token\":\"nope\"}\r\nPING\r\n", refusal);
        assert_eq!(result, Err(CloseReason::AuthenticationViolation));
        assert_eq!(c.sent(), "-ERR 'Authorization Violation'\r\n");
    }
}

#[test]
fn the_configured_authenticator_decides() {
    let mut c = Harness::new("authorization { token: s3cret }");
    assert_eq!(
        c.send("CONNECT {\"verbose\":false,\"auth_token\":\"s3cret\"}\r\nPING\r\n")
            .unwrap(),
        "PONG\r\n"
    );
    let mut c = Harness::new("authorization { token: s3cret }");
    assert_eq!(
        c.send("PING\r\n"),
        Err(CloseReason::AuthenticationViolation)
    );
    assert_eq!(c.sent(), "-ERR 'Authorization Violation'\r\n");
}

#[test]
fn publish_and_subscribe_permissions() {
    let conf = r#"authorization { users = [ {user: a, password: p, permissions: { publish: "ok.>", subscribe: "ok.>" } } ] }"#;
    let mut c = Harness::new(conf);
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"p\"}\r\n")
        .unwrap();
    assert_eq!(
        c.send("PUB no 0\r\n\r\n").unwrap(),
        "-ERR 'Permissions Violation for Publish to \"no\"'\r\n"
    );
    assert_eq!(
        c.send("SUB no 1\r\n").unwrap(),
        "-ERR 'Permissions Violation for Subscription to \"no\"'\r\n"
    );
    assert_eq!(
        c.send("SUB ok.x 2\r\nPUB ok.x 1\r\n!\r\n").unwrap(),
        "MSG ok.x 2 1\r\n!\r\n"
    );
}

#[test]
fn reload_removes_a_subscription_no_longer_allowed() {
    let before =
        r#"authorization { users = [ {user: a, password: p, permissions: { subscribe: ">" } } ] }"#;
    let after = r#"authorization { users = [ {user: a, password: p, permissions: { subscribe: "keep.>" } } ] }"#;
    let mut c = Harness::new(before);
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"p\"}\r\nSUB keep.x 1\r\nSUB drop.x 2\r\n").unwrap();
    let request = c
        .session
        .begin_reload(settings(after))
        .unwrap()
        .expect("re-check");
    let outcome = AuthOutcome::of(c.session.settings().auth.authenticate(&request), request);
    c.session.complete_reload(outcome, c.now).unwrap();
    c.session.flush();
    assert_eq!(
        c.sent(),
        "-ERR 'Permissions Violation for Subscription to \"drop.x\" (sid \"2\")'\r\n"
    );
    assert_eq!(c.session.subs.len(), 1);
    assert_eq!(
        c.send("PUB drop.x 0\r\n\r\nPUB keep.x 0\r\n\r\n").unwrap(),
        "MSG keep.x 1 0\r\n\r\n"
    );
}

#[test]
fn reload_closes_a_user_that_is_gone() {
    let mut c = Harness::new("authorization { users = [ {user: a, password: p} ] }");
    c.send("CONNECT {\"user\":\"a\",\"pass\":\"p\"}\r\n")
        .unwrap();
    let request = c
        .session
        .begin_reload(settings(
            "authorization { users = [ {user: b, password: p} ] }",
        ))
        .unwrap()
        .expect("re-check");
    let outcome = AuthOutcome::of(c.session.settings().auth.authenticate(&request), request);
    assert_eq!(
        c.session.complete_reload(outcome, c.now),
        Err(CloseReason::AuthenticationViolation)
    );
}

#[test]
fn auth_timeout_fires_at_its_deadline() {
    let mut c = Harness::new("authorization { token: t, timeout: 1 }");
    let deadline = c.session.poll_timeout();
    assert!(deadline <= c.now + Duration::from_secs(1));
    assert_eq!(
        c.session.handle_timeout(c.now + Duration::from_secs(1)),
        Err(CloseReason::AuthenticationViolation)
    );
    c.session.flush();
    assert_eq!(c.sent(), "-ERR 'Authentication Timeout'\r\n");
}

#[test]
fn pings_then_stale() {
    let mut c = Harness::new("ping_interval: 10\nping_max: 2");
    c.send("CONNECT {\"verbose\":false}\r\n").unwrap();
    let mut now = c.now;
    let mut sent = String::new();
    for _ in 0..10 {
        now = c.session.poll_timeout().max(now);
        if let Err(reason) = c.session.handle_timeout(now) {
            assert_eq!(reason, CloseReason::StaleConnection);
            c.session.flush();
            sent.push_str(&c.sent());
            assert_eq!(sent, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
            return;
        }
        c.session.flush();
        sent.push_str(&c.sent());
    }
    panic!("never stale: {sent:?}");
}

#[test]
fn credentials_expire_at_their_time() {
    let mut c = Harness::new("authorization { token: t }");
    c.connect_with(
        "CONNECT {\"verbose\":false,\"auth_token\":\"t\"}\r\n",
        |r| {
            let mut who = authorized("$G");
            who.expires = Some(SystemTime::now() + Duration::from_secs(5));
            AuthOutcome::Accepted(who, r)
        },
    )
    .unwrap();
    assert!(c.session.poll_timeout() <= c.now + Duration::from_secs(5));
    assert_eq!(
        c.session.handle_timeout(c.now + Duration::from_secs(6)),
        Err(CloseReason::AuthenticationExpired)
    );
    c.session.flush();
    assert_eq!(c.sent(), "-ERR 'User Authentication Expired'\r\n");
}

#[test]
fn messages_cross_between_sessions_and_queue_groups_get_one() {
    let mut a = Harness::new("");
    let mut b = Harness::join(&a.state, 2);
    let mut q = Harness::join(&a.state, 3);
    b.send("CONNECT {\"verbose\":false}\r\nSUB t 1\r\nSUB t g 2\r\n")
        .unwrap();
    q.send("CONNECT {\"verbose\":false}\r\nSUB t g 9\r\nPING\r\n")
        .unwrap();
    a.send("CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB t 5\r\nPUB t 1\r\nx\r\n")
        .unwrap();
    let (to_b, to_q) = (b.sent(), q.sent());
    assert!(to_b.starts_with("MSG t 1 1\r\nx\r\n"), "{to_b:?}");
    let group = usize::from(to_b.contains("MSG t 2 ")) + usize::from(to_q.contains("MSG t 9 "));
    assert_eq!(group, 1, "one member of the queue group: {to_b:?} {to_q:?}");
    assert_eq!(
        a.sent(),
        "",
        "echo off: the publisher's own subscription is skipped"
    );
}

#[test]
fn large_payloads_are_shared_with_subscribers_that_can_take_them() {
    let mut a = Harness::new("");
    let mut b = Harness::join(&a.state, 2);
    let mut c = Harness::join(&a.state, 3);
    let mut h = Harness::join(&a.state, 4);
    b.out.set_vectored(true);
    h.out.set_vectored(true);
    b.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB big 1\r\n")
        .unwrap();
    c.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB big 2\r\n")
        .unwrap();
    h.send("CONNECT {\"verbose\":false}\r\nSUB big 3\r\n")
        .unwrap();
    a.send("CONNECT {\"verbose\":false,\"headers\":true}\r\n")
        .unwrap();
    let body = "b".repeat(4096);
    let publish = |a: &mut Harness, read_buffer: usize| {
        a.session.set_read_buffer(read_buffer);
        let input =
            format!("PUB big 4096\r\n{body}\r\nHPUB big 12 4108\r\nNATS/1.0\r\n\r\n{body}\r\n");
        a.send(&input).unwrap();
    };
    // The payloads fill the read buffer: b's queue shares them; c (no vectored writes) gets
    // copies, and so does h (no headers: the HPUB is stripped, a copy, and one payload is
    // less than half the buffer). Every byte arrives as if copied.
    publish(&mut a, 2 * 4096 + 100);
    assert_eq!(b.out.shared_chunks(), 1, "one batch, shared");
    assert_eq!(c.out.shared_chunks(), 0);
    assert_eq!(
        h.out.shared_chunks(),
        0,
        "only the plain message could be shared: under half the buffer, so copied"
    );
    let msg = |sid: u8| format!("MSG big {sid} 4096\r\n{body}\r\n");
    let hmsg = format!("HMSG big 1 12 4108\r\nNATS/1.0\r\n\r\n{body}\r\n");
    assert_eq!(b.sent(), msg(1) + &hmsg);
    assert_eq!(c.sent(), msg(2) + &hmsg.replace("big 1", "big 2"));
    assert_eq!(h.sent(), msg(3) + &msg(3));
    // A few payloads out of a much larger buffer: copied, so the buffer is not kept for them.
    publish(&mut a, 1 << 20);
    assert_eq!(b.out.shared_chunks(), 0);
    assert_eq!(b.sent(), msg(1) + &hmsg);
}

/// Once a flush leaves a subscriber 256 KiB or more to write, the session asks the driver to
/// let the writers run before it reads more; the publisher's own deliveries never do.
#[test]
fn a_subscriber_with_a_batch_worth_writing_asks_for_the_writers_to_run() {
    let mut a = Harness::new("");
    let mut b = Harness::join(&a.state, 2);
    b.send("CONNECT {\"verbose\":false}\r\nSUB w 1\r\n")
        .unwrap();
    a.send("CONNECT {\"verbose\":false}\r\nSUB own 1\r\n")
        .unwrap();
    let publish = |a: &mut Harness, subject: &str, count: usize| {
        let body = "p".repeat(1000);
        let input: String = (0..count)
            .map(|_| format!("PUB {subject} 1000\r\n{body}\r\n"))
            .collect();
        a.send(&input).unwrap();
    };
    publish(&mut a, "w", 200);
    assert!(!a.session.take_writers_ready(), "about 200 KB: not yet");
    publish(&mut a, "w", 100);
    assert!(
        a.session.take_writers_ready(),
        "about 300 KB now wait for b's writer"
    );
    assert!(!a.session.take_writers_ready(), "asking clears it");
    assert_eq!(
        b.out.take_pending().len(),
        300 * "MSG w 1 1000\r\n\r\n".len() + 300_000
    );
    publish(&mut a, "own", 300);
    assert!(
        !a.session.take_writers_ready(),
        "the publisher's own writer"
    );
}

#[test]
fn max_subscriptions_counts_live_ones() {
    let mut c = Harness::new("max_subscriptions: 2");
    c.send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\n")
        .unwrap();
    assert_eq!(
        c.send("SUB c 3\r\n").unwrap(),
        "-ERR 'maximum subscriptions exceeded'\r\n"
    );
    c.send("UNSUB 1\r\n").unwrap();
    assert_eq!(c.send("SUB c 3\r\nPING\r\n").unwrap(), "PONG\r\n");
}

#[test]
fn no_responders_answers_the_requester() {
    let mut c = Harness::new("");
    let sent = c
        .send("CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\nSUB r 1\r\nPUB q r 0\r\n\r\n")
        .unwrap();
    assert_eq!(
        sent,
        "HMSG r 1 33 33\r\nNATS/1.0 503\r\nNats-Subject: q\r\n\r\n\r\n"
    );
}

#[test]
fn a_pong_leaves_only_after_the_messages_before_its_ping_reached_their_subscribers() {
    let mut publisher = Harness::new("");
    let mut subscriber = Harness::join(&publisher.state, 2);
    subscriber
        .send("CONNECT {\"verbose\":false}\r\nSUB x 1\r\n")
        .unwrap();
    publisher.send("CONNECT {\"verbose\":false}\r\n").unwrap();
    assert_eq!(
        publisher.send("PUB x 1\r\na\r\nPING\r\n").unwrap(),
        "PONG\r\n"
    );
    let to_subscriber = subscriber.out.handed_at.load(Ordering::Relaxed);
    let pong = publisher.out.handed_at.load(Ordering::Relaxed);
    assert!(
        to_subscriber < pong,
        "the message reached the subscriber's queue (#{to_subscriber}) after the PONG (#{pong})"
    );
    assert_eq!(subscriber.sent(), "MSG x 1 1\r\na\r\n");
}

#[test]
fn an_update_of_one_account_rechecks_only_that_accounts_connections() {
    let conf = "accounts { A { users = [ {user: a, password: p} ] }, B { users = [ {user: b, password: p} ] } }";
    let mut c = Harness::new(conf);
    c.send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"p\"}\r\n")
        .unwrap();
    let for_account = |name: &str| {
        let Ok(mut s) = Arc::try_unwrap(settings(conf)) else {
            panic!("fresh settings have one owner")
        };
        s.recheck_only = Some(name.to_owned());
        Arc::new(s)
    };
    assert!(
        c.session.begin_reload(for_account("B")).unwrap().is_none(),
        "B's update leaves A's user alone"
    );
    assert!(
        c.session.begin_reload(for_account("A")).unwrap().is_some(),
        "A's update re-checks A's user"
    );
    assert!(
        c.session.begin_reload(settings(conf)).unwrap().is_some(),
        "a reload re-checks everyone"
    );
}
