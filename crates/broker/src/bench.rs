//! The routing core without sockets, for the criterion suite (`benches/benches/routing.rs`).
//! Built only with the `bench` feature; not part of the supported API.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::account::{Account, Subscription};
use crate::outbound::Outbound;
use crate::router::{Msg, Router};
use crate::state::{ServerState, Settings};

const ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// A server's accounts and one publisher's router, with subscribers that are outbound buffers
/// drained by [`RoutingBench::drain`] the way writers would drain them.
pub struct RoutingBench {
    state: Arc<ServerState>,
    router: Router,
    publisher: Arc<Outbound>,
    account: Arc<Account>,
    targets: Vec<Arc<Outbound>>,
    next_cid: u64,
}

impl RoutingBench {
    /// A server with the configuration `conf` (nats-server syntax), publishing in `account`.
    ///
    /// # Panics
    /// When the configuration is invalid.
    pub fn new(conf: &str, account: &str) -> Self {
        let loaded = rnats_config::load_str(conf, None).expect("valid configuration");
        let settings =
            Settings::new(loaded.config, "NBENCH", 4222, 0, None, None).expect("valid settings");
        let state = ServerState::new(Arc::new(settings), "NBENCH".into(), None);
        let account = state.account(account);
        Self {
            router: Router::new(1),
            publisher: Arc::new(Outbound::new(1, ADDR, usize::MAX, CancellationToken::new())),
            account,
            state,
            targets: Vec::new(),
            next_cid: 2,
        }
    }

    /// A new connection in `account` subscribing to `subject` (in `queue`).
    ///
    /// # Panics
    /// When the subject is invalid.
    pub fn subscribe(&mut self, account: &str, subject: &str, queue: Option<&str>) {
        let out = Arc::new(Outbound::new(
            self.next_cid,
            ADDR,
            usize::MAX,
            CancellationToken::new(),
        ));
        self.next_cid += 1;
        let sub = Arc::new(Subscription {
            client: out.clone(),
            subject: Bytes::copy_from_slice(subject.as_bytes()),
            queue: queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
            sid: Bytes::from_static(b"1"),
            deliver_filter: None,
            max: 0.into(),
            delivered: 0.into(),
            closed: false.into(),
        });
        self.state
            .account(account)
            .insert(&sub)
            .expect("valid subject");
        self.targets.push(out);
    }

    /// Routes one message; returns whether anybody got it.
    pub fn publish(&mut self, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) -> bool {
        let msg = Msg {
            subject,
            reply,
            header_len: None,
            body: payload,
            shared: None,
        };
        self.router.route(&self.account, msg)
    }

    /// Hands the staged bytes to the subscribers and empties their buffers as writers would;
    /// returns the bytes delivered.
    pub fn drain(&mut self) -> usize {
        self.router.flush(&self.publisher);
        self.targets
            .iter()
            .chain(std::iter::once(&self.publisher))
            .map(|t| t.drain())
            .sum()
    }
}
