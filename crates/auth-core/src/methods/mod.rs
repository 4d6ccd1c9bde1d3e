//! One authenticator per method, each a [`ChainMember`](crate::ChainMember).

mod allow_all;
mod nkey_users;
mod no_auth_user;
mod password;
mod signing_key_jwt;
mod single_user;
mod tls_map_users;
mod token;

pub use allow_all::AllowAll;
pub use nkey_users::NkeyAuth;
pub use no_auth_user::NoAuthUser;
pub use password::{PasswordAuth, UserTable};
pub use signing_key_jwt::SigningKeyJwtAuth;
pub(crate) use signing_key_jwt::{
    check_source, check_user_signature, jwt_connection_types, permissions_config,
};
pub use single_user::SingleUserAuth;
pub use tls_map_users::TlsMapAuth;
pub use token::TokenAuth;

/// nats-server's warning for a plaintext password (names only, never the password).
pub(crate) fn plaintext_warning(user: &str) -> String {
    format!("Plaintext passwords detected, use nkeys or bcrypt (user {user:?})")
}

/// Requests for the unit tests of the methods.
#[cfg(test)]
pub(crate) mod test_util {
    use crate::{AuthRequest, ConnectionType};

    /// A request with nothing in it.
    pub(crate) fn anonymous() -> AuthRequest {
        AuthRequest::new(([127, 0, 0, 1], 4222).into(), ConnectionType::Standard)
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
}
