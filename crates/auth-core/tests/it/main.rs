//! Integration tests of rnats-auth through its public API.

mod cache;
mod chain;
mod fixtures;
mod jwt;
mod methods;
mod permissions;
mod tls_map;

use std::net::SocketAddr;

use rnats_auth::{AuthRequest, ConnectionType, ServerAuth};

/// A `ServerAuth` from configuration text.
pub(crate) fn server(src: &str) -> ServerAuth {
    let loaded = rnats_config::load_str(src, None).expect("config parses");
    ServerAuth::from_config(&loaded.config).expect("auth config is valid")
}

pub(crate) fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

/// A request with nothing set.
pub(crate) fn anonymous() -> AuthRequest {
    AuthRequest::new(addr(), ConnectionType::Standard)
}

/// A user/password request.
pub(crate) fn login(user: &str, pass: &str) -> AuthRequest {
    let mut r = anonymous();
    r.user = Some(user.into());
    r.pass = Some(pass.into());
    r
}

/// A token request.
pub(crate) fn token(t: &str) -> AuthRequest {
    let mut r = anonymous();
    r.token = Some(t.into());
    r
}

/// An NKey request signing `nonce` with `kp`.
pub(crate) fn nkey_login(kp: &nkeys::KeyPair, nonce: &str) -> AuthRequest {
    let mut r = anonymous();
    r.nkey = Some(kp.public_key());
    r.nonce = Some(nonce.into());
    r.sig = Some(data_encoding::BASE64URL_NOPAD.encode(&kp.sign(nonce.as_bytes()).unwrap()));
    r
}
