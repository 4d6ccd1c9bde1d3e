//! The authenticator seam: an authenticator written here, plugged into the server with
//! `Server::builder`, and driven by async-nats.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use rnats_auth::{AuthError, AuthMethod, AuthRequest, Authenticator, Authorized, Permissions};

use crate::TestServer;

/// Lets in tokens of the form `ticket:<name>:<account>`; a name starting with `ro-` may only
/// subscribe. Counts the questions it is asked.
struct Tickets {
    asked: AtomicUsize,
}

impl Authenticator for Tickets {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let token = req.token.as_deref().ok_or(AuthError::NoCredentials)?;
        let mut parts = token.split(':');
        let (Some("ticket"), Some(name), Some(account), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::BadToken);
        };
        let mut who = Authorized::new(account, name, AuthMethod::Token);
        if name.starts_with("ro-") {
            let config = rnats_config::load_str(
                r#"authorization { users = [ { user: x, password: y, permissions: { publish: { deny: ">" } } } ] }"#,
                None,
            )
            .expect("permissions")
            .config;
            let perms = config.authorization.expect("block").users[0]
                .permissions
                .clone()
                .expect("permissions");
            who.permissions = Some(Arc::new(Permissions::compile(&perms).expect("compile")));
        }
        Ok(who)
    }

    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

async fn server() -> (TestServer, Arc<Tickets>) {
    let tickets = Arc::new(Tickets {
        asked: AtomicUsize::new(0),
    });
    let plugged: Arc<dyn Authenticator> = tickets.clone();
    let server = TestServer::built(
        |config| {
            config.accounts = rnats_config::load_str("accounts { A {}, B {} }", None)
                .expect("accounts")
                .config
                .accounts;
        },
        |builder| builder.authenticator(plugged),
    )
    .await;
    (server, tickets)
}

async fn connect(
    server: &TestServer,
    token: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    async_nats::ConnectOptions::with_token(token.into())
        .max_reconnects(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .connect(server.url())
        .await
}

#[tokio::test]
async fn a_custom_authenticator_places_clients_in_accounts() {
    let (server, tickets) = server().await;
    let alice = connect(&server, "ticket:alice:A").await.expect("alice");
    let anna = connect(&server, "ticket:anna:A").await.expect("anna");
    let bob = connect(&server, "ticket:bob:B").await.expect("bob");

    let mut in_a = anna.subscribe("news").await.unwrap();
    let mut in_b = bob.subscribe("news").await.unwrap();
    anna.flush().await.unwrap();
    bob.flush().await.unwrap();
    alice.publish("news", "for A".into()).await.unwrap();
    bob.publish("news", "for B".into()).await.unwrap();
    alice.flush().await.unwrap();
    bob.flush().await.unwrap();

    let got = tokio::time::timeout(Duration::from_secs(5), in_a.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"for A");
    let got = tokio::time::timeout(Duration::from_secs(5), in_b.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"for B", "B sees only B's message");
    assert!(tickets.asked.load(Ordering::Relaxed) >= 3);
}

#[tokio::test]
async fn its_refusals_and_permissions_apply() {
    let (server, _) = server().await;
    let err = connect(&server, "not-a-ticket").await.expect_err("refused");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("authorization violation"),
        "{err}"
    );

    let reader = connect(&server, "ticket:ro-carol:A").await.expect("reader");
    let mut errors = reader.subscribe("news").await.unwrap();
    reader.publish("news", "nope".into()).await.unwrap();
    reader.flush().await.unwrap();
    // The publish was refused: nothing arrives, and the connection is still up.
    let got = tokio::time::timeout(Duration::from_millis(300), errors.next()).await;
    assert!(got.is_err(), "a read-only user's publish was delivered");
    reader
        .flush()
        .await
        .expect("connection still up after the violation");
}
