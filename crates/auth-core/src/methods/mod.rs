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
pub use single_user::SingleUserAuth;
pub use tls_map_users::TlsMapAuth;
pub use token::TokenAuth;

/// nats-server's warning for a plaintext password (names only, never the password).
pub(crate) fn plaintext_warning(user: &str) -> String {
    format!("Plaintext passwords detected, use nkeys or bcrypt (user {user:?})")
}
