//! Authentication and authorization for the rnats broker: who a client is (token,
//! user/password, NKey, signing-key JWT, TLS certificate map, or a method of your own) and what
//! it may publish and subscribe to.
//!
//! ```
//! use std::net::SocketAddr;
//! use rnats_auth::{AuthMethod, AuthRequest, Authenticator, ConnectionType, ServerAuth};
//!
//! let loaded = rnats_config::load_str(
//!     r#"authorization {
//!          users = [
//!            { user: alice, password: "$2a$04$A100HyrytvWIpcJgZgZ9E.9Z7Un/lmixuYJcXZY3hCHLsLYWNAARa",
//!              permissions: { publish: "orders.>", subscribe: { allow: ">", deny: "audit.>" } } }
//!          ]
//!        }"#,
//!     None,
//! )?;
//! let auth = ServerAuth::from_config(&loaded.config)?;
//! assert!(auth.auth_required());
//!
//! let addr: SocketAddr = "127.0.0.1:5000".parse()?;
//! let mut req = AuthRequest::new(addr, ConnectionType::Standard);
//! req.user = Some("alice".into());
//! req.pass = Some("s3cret".into());
//! let who = auth.authenticate(&req)?;
//! assert_eq!((who.account.as_str(), who.identity.as_str()), ("$G", "alice"));
//! assert_eq!(who.method, AuthMethod::Password);
//!
//! let perms = who.permissions.expect("alice has permissions");
//! assert!(perms.may_publish(b"orders.eu.42"));
//! assert!(!perms.may_publish(b"billing"));
//! assert!(perms.may_subscribe(b"*", None)); // broader than the deny entry: accepted…
//! assert!(!perms.may_deliver(b"audit.login", None)); // …and denied subjects dropped at delivery
//!
//! req.pass = Some("wrong".into());
//! let err = auth.authenticate(&req).unwrap_err();
//! assert_eq!(err.to_string(), r#"wrong password for user "alice""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The authenticator seam
//! A broker holds one [`Authenticator`] (`Arc<dyn Authenticator>`): besides
//! [`authenticate`](Authenticator::authenticate) it answers whether authentication is
//! [configured](Authenticator::configured) at all, whether INFO says
//! [`auth_required`](Authenticator::auth_required) and carries a
//! [nonce](Authenticator::needs_nonce), how long a client has to send CONNECT
//! ([`auth_timeout`](Authenticator::auth_timeout)), and whether a check
//! [may block](Authenticator::may_block) (bcrypt, argon2) so it must leave the I/O threads.
//! The answer, [`Authorized`], carries the account, permissions, limits and expiry.
//!
//! One authenticator per method, each a [`ChainMember`] (an authenticator that also says
//! whether a request is [its to decide](ChainMember::applies)), combined by an [`AuthChain`]:
//! the first member that applies decides, with no fallback. [`ServerAuth::from_config`]
//! builds the chain a configuration file describes, in nats-server's order:
//! 1. [`NkeyAuth`]: CONNECT `nkey` with NKey users configured: it must be known (no fallback
//!    to users) and `sig` must verify over the nonce.
//! 2. [`SigningKeyJwtAuth`]: CONNECT `jwt` with account `signing_keys` configured: the JWT's
//!    issuer must be one of them.
//! 3. [`OidcAuth`] (an rnats extension): the `auth_token`, or the `pass`, is a JWS naming a
//!    configured `oidc` issuer (see [`oidc`] for the rule and the checks).
//! 4. [`TlsMapAuth`]: `tls { verify_and_map }`: the user comes from the client certificate.
//! 5. [`NoAuthUser`]: no credentials and `no_auth_user` (or nats-server's hidden global user).
//! 6. [`PasswordAuth`]: users by name (password plain, bcrypt or argon2id), from a
//!    [`UserTable`] shared with the certificate map.
//! 7. [`TokenAuth`] or [`SingleUserAuth`]: the single `authorization { user, password }` or
//!    `token`.
//!
//! Nothing configured: the chain is empty and everyone is let in to `$G` with
//! [`AuthMethod::None`].
//!
//! A chain can also be put together by hand, with methods of your own:
//!
//! ```
//! use std::sync::Arc;
//! use rnats_auth::{
//!     AuthChain, AuthError, AuthMethod, AuthRequest, Authenticator, Authorized, ChainMember,
//!     ConnectionType, TokenAuth,
//! };
//!
//! /// Clients presenting a ticket (`auth_token: "ticket:<name>"`) join account TICKETS.
//! #[derive(Debug)]
//! struct Tickets;
//!
//! impl Authenticator for Tickets {
//!     fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
//!         match req.token.as_deref().and_then(|t| t.strip_prefix("ticket:")) {
//!             Some(name) if !name.is_empty() => {
//!                 Ok(Authorized::new("TICKETS", name, AuthMethod::Token))
//!             }
//!             _ => Err(AuthError::BadToken),
//!         }
//!     }
//!
//!     /// Answers at once: no need to leave the I/O thread.
//!     fn may_block(&self, _req: &AuthRequest) -> bool {
//!         false
//!     }
//! }
//!
//! impl ChainMember for Tickets {
//!     fn applies(&self, req: &AuthRequest) -> bool {
//!         req.token.as_deref().is_some_and(|t| t.starts_with("ticket:"))
//!     }
//! }
//!
//! let auth: Arc<dyn Authenticator> = Arc::new(
//!     AuthChain::new()
//!         .with(Tickets)
//!         .with(TokenAuth::new("shared-secret")?),
//! );
//! assert!(auth.configured() && auth.auth_required());
//!
//! let mut req = AuthRequest::new("127.0.0.1:5000".parse()?, ConnectionType::Standard);
//! req.token = Some("ticket:bob".into());
//! assert_eq!(auth.authenticate(&req)?.account, "TICKETS");
//! req.token = Some("shared-secret".into());
//! assert_eq!(auth.authenticate(&req)?.account, "$G");
//! req.token = Some("guess".into());
//! assert!(matches!(auth.authenticate(&req), Err(AuthError::BadToken)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Auth callout
//! [`callout`] decides, without I/O, what nats-server's auth callout decides: which answers of
//! the chain an external service replaces ([`CalloutPolicy::delegates`]), the signed request
//! ([`CalloutPolicy::request`], sealed with the service's xkey when it has one) and every
//! check of the service's reply ([`CalloutPolicy::verify_response`]). The policy comes from
//! `authorization { auth_callout {} }` ([`ServerAuth::callout`]) or from an account JWT in
//! operator mode ([`CalloutPolicy::for_account`]); a broker publishes the request and awaits
//! the reply.
//!
//! # Secrets
//! Plain secrets are compared in constant time; bcrypt and argon2id ones go through a bounded
//! cache of HMAC fingerprints of verified logins, so a repeat login costs microseconds and a
//! wrong password always pays the full hash. No `Debug` or `Display` output of this crate
//! contains a password, token, signature, JWT or seed.
#![warn(missing_docs)]

mod authenticator;
pub mod callout;
mod chain;
pub mod dn;
mod error;
mod explain;
mod grant;
mod methods;
mod nkey;
pub mod oidc;
mod operator;
mod permissions;
mod secret;
mod server;
mod tls_map;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

pub use authenticator::{Authenticator, ChainMember};
pub use callout::CalloutPolicy;
pub use chain::AuthChain;
pub use error::{AuthConfigError, AuthError, FailureCategory, HashError, PermissionError};
pub use explain::{ConfiguredUser, Explanation, Rule, Verdict, configured_user};
pub use grant::UserGrant;
pub use methods::{
    AllowAll, NkeyAuth, NoAuthUser, PasswordAuth, SigningKeyJwtAuth, SingleUserAuth, TlsMapAuth,
    TokenAuth, UserTable,
};
pub use oidc::OidcAuth;
pub use operator::{
    FetchHook, JwtAccount, JwtAccounts, OperatorAuth, TrustedOperators, validate_account,
};
pub use permissions::{
    PUBLISH_CACHE_CAPACITY, Permissions, PublishCache, RESERVED_QUEUE, ResponsePermission,
    is_reserved_queue,
};
pub use secret::{
    SECRET_CACHE_CAPACITY, SecretCacheStats, hash_password_argon2, hash_password_bcrypt,
};
pub use server::{DEFAULT_AUTH_TIMEOUT, GLOBAL_ACCOUNT, ServerAuth};
pub use tls_map::map_certificate_user;

/// The kind of connection a client came in on (`allowed_connection_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionType {
    /// Plain NATS protocol over TCP (with or without TLS).
    Standard,
    /// NATS over WebSocket.
    Websocket,
    /// A leaf node.
    Leafnode,
    /// A leaf node over WebSocket.
    LeafnodeWs,
    /// MQTT.
    Mqtt,
    /// MQTT over WebSocket.
    MqttWs,
    /// An in-process connection (embedding).
    InProcess,
}

impl ConnectionType {
    /// Every type, in nats-server's order.
    pub const ALL: [Self; 7] = [
        Self::Standard,
        Self::Websocket,
        Self::Leafnode,
        Self::LeafnodeWs,
        Self::Mqtt,
        Self::MqttWs,
        Self::InProcess,
    ];

    /// The configuration name (`STANDARD`, `WEBSOCKET`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "STANDARD",
            Self::Websocket => "WEBSOCKET",
            Self::Leafnode => "LEAFNODE",
            Self::LeafnodeWs => "LEAFNODE_WS",
            Self::Mqtt => "MQTT",
            Self::MqttWs => "MQTT_WS",
            Self::InProcess => "IN_PROCESS",
        }
    }

    /// Parses a configuration name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ConnectionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verified client certificate says about its holder (the broker copies it from the
/// `rnats_tls::PeerIdentity` of the handshake; this crate knows nothing of TLS); the input to
/// [`map_certificate_user`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsIdentity {
    /// The subject DN in RFC 2253 form, most specific RDN first, with domain components
    /// (`CN=carol,O=Acme,DC=acme,DC=io`), values escaped as [`dn::escape_value`] does.
    pub subject_dn: String,
    /// The subject as Go's `pkix.Name.ToRDNSequence().String()` prints it (`CN=carol,O=Acme`):
    /// only C, ST, L, STREET, POSTALCODE, O, OU, CN and SERIALNUMBER, in Go's fixed order.
    /// The last form nats-server tries; it cannot be derived from `subject_dn`, so leaving it
    /// empty only disables that step.
    pub subject_dn_without_dc: String,
    /// Email (RFC 822) SANs.
    pub emails: Vec<String>,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// URI SANs.
    pub uris: Vec<String>,
}

/// Everything needed to authenticate one client: its CONNECT credentials, the nonce it was
/// sent, where it came from. Owned, so it can cross to a blocking thread.
#[derive(Clone)]
pub struct AuthRequest {
    /// CONNECT `user`.
    pub user: Option<String>,
    /// CONNECT `pass`.
    pub pass: Option<String>,
    /// CONNECT `auth_token`.
    pub token: Option<String>,
    /// CONNECT `nkey` (a user public key).
    pub nkey: Option<String>,
    /// CONNECT `sig`: the nonce signed by the NKey (base64url without padding, or standard
    /// base64).
    pub sig: Option<String>,
    /// CONNECT `jwt`.
    pub jwt: Option<String>,
    /// The nonce exactly as sent in INFO.
    pub nonce: Option<String>,
    /// The client's address.
    pub client_addr: SocketAddr,
    /// The kind of connection.
    pub connection_type: ConnectionType,
    /// The verified client certificate, if any.
    pub tls: Option<TlsIdentity>,
}

impl AuthRequest {
    /// A request with no credentials yet.
    pub fn new(client_addr: SocketAddr, connection_type: ConnectionType) -> Self {
        Self {
            user: None,
            pass: None,
            token: None,
            nkey: None,
            sig: None,
            jwt: None,
            nonce: None,
            client_addr,
            connection_type,
            tls: None,
        }
    }
}

/// Shows whether each secret was given, never its value.
fn redacted(v: &Option<String>) -> &'static str {
    if v.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthRequest")
            .field("user", &self.user)
            .field("pass", &format_args!("{}", redacted(&self.pass)))
            .field("token", &format_args!("{}", redacted(&self.token)))
            .field("nkey", &self.nkey)
            .field("sig", &format_args!("{}", redacted(&self.sig)))
            .field("jwt", &format_args!("{}", redacted(&self.jwt)))
            .field("nonce", &self.nonce)
            .field("client_addr", &self.client_addr)
            .field("connection_type", &self.connection_type)
            .field("tls", &self.tls)
            .finish()
    }
}

/// How a client was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// No authentication is configured.
    None,
    /// The client presented nothing and became the `no_auth_user`.
    NoAuthUser,
    /// The shared token.
    Token,
    /// User name and password.
    Password,
    /// NKey signature over the nonce.
    Nkey,
    /// A user JWT issued by an account signing key.
    Jwt,
    /// The client certificate (`verify_and_map`).
    TlsMap,
    /// An OAuth 2 / OpenID Connect bearer token of a trusted issuer.
    Oidc,
    /// The auth callout service's user JWT.
    Callout,
}

impl AuthMethod {
    /// The method's name in logs and metric labels (`password`, `nkey`, `jwt`, …): a fixed,
    /// small set.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::NoAuthUser => "no_auth_user",
            Self::Token => "token",
            Self::Password => "password",
            Self::Nkey => "nkey",
            Self::Jwt => "jwt",
            Self::TlsMap => "tls_map",
            Self::Oidc => "oidc",
            Self::Callout => "auth_callout",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A successful authentication: where the client goes and what it may do.
#[derive(Debug, Clone)]
pub struct Authorized {
    /// The account the client is bound to (`$G` for users outside `accounts`).
    pub account: String,
    /// The user name or public NKey (never a secret; empty for anonymous and token clients).
    pub identity: String,
    /// How.
    pub method: AuthMethod,
    /// `None`: everything allowed (except the reserved queue, see [`is_reserved_queue`]).
    pub permissions: Option<Arc<Permissions>>,
    /// When the credentials stop working (`connection_deadline`, JWT `exp`): the broker closes
    /// the connection then with `User Authentication Expired`.
    pub expires: Option<SystemTime>,
    /// Most subscriptions this user may hold (JWT `subs`); `None`: only the server's limit.
    pub max_subscriptions: Option<u32>,
    /// Largest payload this user may publish (JWT `payload`); `None`: only the server's limit.
    pub max_payload: Option<u32>,
    /// Most client connections the user's account admits (account JWT `conn`); `None`: no
    /// account limit. The broker refuses the login past it.
    pub max_account_connections: Option<u32>,
    /// Most client connections this user may hold at once (`max_connections` on a configured
    /// user, an rnats extension); `None`: no per-user limit. The broker refuses the login
    /// past it.
    pub max_user_connections: Option<u32>,
    /// The account signing key that issued the user JWT (operator mode), so that the broker
    /// can close the user when the account drops or re-scopes that key.
    pub signing_key: Option<String>,
    /// Changes when an account JWT update changes the scope of `signing_key`: the broker then
    /// closes the users issued under the old scope, as nats-server does.
    pub signing_key_version: u64,
}

impl Authorized {
    /// `identity` in `account` by `method`, with every permission, no expiry and only the
    /// server's limits.
    pub fn new(
        account: impl Into<String>,
        identity: impl Into<String>,
        method: AuthMethod,
    ) -> Self {
        Self {
            account: account.into(),
            identity: identity.into(),
            method,
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
}

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
