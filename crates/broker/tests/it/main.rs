//! rnats-broker end to end: one test binary (the rustls-test layout), with modules per concern.

mod audit;
mod auth;
mod callout;
mod claims;
mod clients;
mod differential;
mod explain;
mod flow;
mod hostile;
mod limits;
mod metrics;
mod monitor;
mod oidc;
mod operator;
mod plugin;
mod ratelimit;
mod raw;
mod reasons;
mod resolvers;
mod sysreq;
mod system;
mod tls;
mod trace;
mod websocket;

use std::net::SocketAddr;
use std::time::Duration;

use rnats_broker::{Server, ServerConfig, ServerHandle};

/// A broker embedded on a free loopback port; shut down on drop.
pub(crate) struct TestServer {
    pub(crate) handle: ServerHandle,
    pub(crate) addr: SocketAddr,
}

impl TestServer {
    pub(crate) async fn start() -> Self {
        Self::with(|_| {}).await
    }

    pub(crate) async fn with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::built(adjust, |b| b).await
    }

    /// A server from [`Server::builder`], with `build` adding options to the builder.
    pub(crate) async fn built(
        adjust: impl FnOnce(&mut ServerConfig),
        build: impl FnOnce(rnats_broker::ServerBuilder) -> rnats_broker::ServerBuilder,
    ) -> Self {
        let mut config = ServerConfig::default();
        config.host = "127.0.0.1".into();
        config.port = 0;
        adjust(&mut config);
        let server = build(Server::builder(config)).bind().await.expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        tokio::spawn(server.run());
        Self { handle, addr }
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// Polls `cond` until it holds; for state that has no protocol round trip to wait on (a
/// connection count on the server side). Fails the test after five seconds.
pub(crate) async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Retries the async check `cond` until it holds, for state that changes outside any
/// protocol round trip (a provider's keys reloading). Fails the test after ten seconds.
pub(crate) async fn eventually_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
