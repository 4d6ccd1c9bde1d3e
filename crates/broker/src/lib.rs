//! rnats-broker: the rnats NATS-compatible message broker as a library.
//!
//! It owns all I/O: the client listener, one reader task and one writer task per connection,
//! the accounts and their subscription indexes, and the mapping of every failure to
//! nats-server's exact `-ERR` text. A `websocket {}` block adds a WebSocket listener whose
//! clients (binary frames, read and written by `tokio-websockets`) run through the same
//! connection code as TCP clients; see [`Server::websocket_addr`]. Parsing lives in `rnats-protocol`, subject matching in
//! `rnats-sublist`, configuration in `rnats-config`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! let mut config = rnats_broker::ServerConfig::default();
//! config.host = "127.0.0.1".into();
//! config.port = 0;
//! let server = rnats_broker::Server::bind(config).await?;
//! let addr = server.local_addr();
//! let handle = server.handle();
//! let running = tokio::spawn(server.run());
//!
//! let stream = tokio::net::TcpStream::connect(addr).await?;
//! let (rd, mut wr) = stream.into_split();
//! let mut lines = BufReader::new(rd).lines();
//! assert!(lines.next_line().await?.unwrap().starts_with("INFO {"));
//! wr.write_all(b"CONNECT {\"verbose\":false}\r\nSUB greet 1\r\nPUB greet 5\r\nhello\r\n").await?;
//! assert_eq!(lines.next_line().await?.unwrap(), "MSG greet 1 5");
//! assert_eq!(lines.next_line().await?.unwrap(), "hello");
//!
//! handle.shutdown();
//! running.await??;
//! # Ok(()) }
//! ```
//!
//! # Seams
//!
//! A custom [`rnats_auth::Authenticator`] decides who clients are
//! ([`Server::builder`] shows one); [`ServerHandle::internal_client`] gives the server's own
//! clients, which subscribe, publish and make requests inside an account through the same
//! router as connected clients:
//!
//! ```no_run
//! # async fn demo(handle: rnats_broker::ServerHandle) -> Result<(), rnats_broker::InternalError> {
//! let system = handle.system_client();
//! let mut pings = system.subscribe("svc.ping", None)?;
//! while let Some(request) = pings.next().await {
//!     if let Some(reply) = request.reply.as_deref() {
//!         system.publish(std::str::from_utf8(reply).unwrap_or_default(), None, None, b"pong")?;
//!     }
//! }
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod account;
mod admission;
mod audit;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
mod callout;
mod claims;
mod connect_limit;
mod driver;
mod errors;
mod expiring;
mod explain;
mod hashing;
mod info;
mod jwks_fetch;
mod links;
mod listen;
mod logfmt;
mod mapping;
mod monitor;
mod msgtrace;
mod operator;
mod outbound;
mod peer;
mod resolver_cache;
mod resolver_remote;
mod resolver_url;
mod responses;
mod router;
mod server;
mod session;
mod spin;
mod state;
mod system;
mod timers;
mod websocket;

pub use info::COMPAT_VERSION;
pub use rnats_config::ServerConfig;
pub use server::{Server, ServerBuilder, ServerError, ServerHandle, check_config};
pub use system::{InternalClient, InternalError, InternalSubscription, Message};
