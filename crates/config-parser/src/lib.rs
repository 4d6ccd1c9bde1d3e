//! The nats-server configuration language (and TOML), parsed into a typed, checked
//! [`ServerConfig`].
//!
//! Parse and load errors name their position as `FILE:LINE:COL` (`LINE:COL` for text that did
//! not come from a file, as in the example below, and just `FILE` when the file cannot be
//! read). Checks made after loading, such as reading the TLS files or checking a password
//! hash, can name the position too: [`ServerConfig::origins`] (an [`Origins`]) records where
//! those values were written.
//!
//! ```
//! use rnats_config::{load_str, parse_str, ValueKind};
//!
//! let src = r#"
//!     listen: 127.0.0.1:4222     # unquoted host:port is a string
//!     max_payload: 2MB           # sizes: 2 * 1024 * 1024
//!     ping_interval: "2m"        # durations are strings (an unquoted 2m is 2,000,000!)
//!     PASS = "s3cret"
//!     authorization {
//!       users = [ { user: alice, password: $PASS, permissions: { publish: "orders.>" } } ]
//!     }
//! "#;
//! let loaded = load_str(src, None)?;
//! assert_eq!(loaded.config.port, 4222);
//! assert_eq!(loaded.config.max_payload, 2 * 1024 * 1024);
//! let auth = loaded.config.authorization.as_ref().expect("authorization");
//! assert_eq!(auth.users[0].password.as_deref(), Some("s3cret"));
//!
//! // The raw tree keeps positions for every value.
//! let tree = parse_str("a: [1, 2k]", None)?;
//! let a = tree.get("a").expect("a");
//! assert!(matches!(&a.kind, ValueKind::Array(v) if v.len() == 2));
//! assert_eq!((a.pos.line, a.pos.column), (1, 4));
//!
//! // Errors carry their position.
//! let err = load_str("authorization {\n  tokn: x\n}", None).unwrap_err();
//! assert_eq!(err.to_string(), "2:3: unknown field \"tokn\"");
//! # Ok::<(), rnats_config::ConfigError>(())
//! ```
//!
//! Layers, each usable on its own:
//! * [`parse_str`] / [`parse_file`]: text to a [`Value`] tree (includes and variables resolved);
//! * [`from_value`]: a serde `Deserializer` over the tree for any type;
//! * [`load_str`] / [`load_file`] / [`load_value`]: the tree to a checked [`ServerConfig`] plus
//!   warnings.
#![warn(missing_docs)]

mod audit;
mod auth;
mod de;
mod error;
mod limits;
mod load;
mod mappings;
mod msgtrace;
mod nkey;
mod oidc;
mod operator;
mod origins;
mod parse;
mod raw;
mod server_config;
mod tls;
mod units;
mod value;
mod websocket;

pub use audit::AuditConfig;
pub use auth::{
    AccountConfig, AuthCalloutConfig, AuthorizationConfig, ExportConfig, ExportKind, ImportConfig,
    LatencyConfig, LatencySampling, PermissionsConfig, ResponsePermission, ResponseType,
    SubjectPermission, UserConfig,
};
pub use de::from_value;
pub use error::{ConfigError, ErrorKind};
pub use limits::ConnectRateLimit;
pub use load::{Loaded, load_file, load_str, load_value};
pub use mappings::{MapDestination, MappingConfig};
pub use msgtrace::MsgTraceConfig;
pub use oidc::{
    DEFAULT_JWKS_REFRESH, DEFAULT_OIDC_LEEWAY, JwksSource, MAX_OIDC_LEEWAY, MIN_JWKS_REFRESH,
    OidcAccount, OidcConfig,
};
pub use operator::{
    CacheResolver, DeletePolicy, FullResolver, OperatorJwt, OperatorMode, PreloadedAccount,
    Resolver,
};
pub use origins::Origins;
pub use parse::{parse_file, parse_str};
pub use server_config::ServerConfig;
pub use tls::{CertKeyPair, HandshakeFirst, TlsConfig};
pub use value::{Key, Pos, Value, ValueKind};
pub use websocket::WebsocketConfig;
