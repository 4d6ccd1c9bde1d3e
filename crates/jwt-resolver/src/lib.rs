//! NATS JWTs: decode, verify and encode user claims (`ed25519-nkey`, version 2).
//!
//! A library of its own: it knows the token format and the claims, not any server's
//! configuration; whether an issuer is trusted and what the permissions mean for a connection
//! is the caller's decision.
//!
//! A NATS JWT is `header.payload.signature`, each part base64url without padding. The header is
//! `{"typ":"JWT","alg":"ed25519-nkey"}`; the signature is Ed25519 over the ASCII bytes of
//! `header.payload`, made by the key named in the payload's `iss`. NATS-specific claims live
//! under `"nats"`.
//!
//! ```
//! use nkeys::KeyPair;
//! use rnats_jwt::{Permission, UserClaims, decode_user, encode_user};
//!
//! let account = KeyPair::new_account();
//! let user = KeyPair::new_user();
//!
//! let mut claims = UserClaims::new(user.public_key(), account.public_key());
//! claims.name = Some("alice".to_owned());
//! claims.permissions.publish = Permission::allow(["orders.>"]);
//! let token = encode_user(&claims, &account);
//!
//! let decoded = decode_user(&token)?;
//! assert_eq!(decoded.subject, user.public_key());
//! assert_eq!(decoded.issuer, account.public_key());
//! assert_eq!(decoded.name.as_deref(), Some("alice"));
//! assert_eq!(decoded.permissions.publish.allow, ["orders.>"]);
//!
//! // Any change to the token breaks the signature.
//! let mut forged = token.clone();
//! forged.insert_str(token.find('.').map_or(0, |i| i + 1), "eyJ4IjoxfQ");
//! assert!(decode_user(&forged).is_err());
//! # Ok::<(), rnats_jwt::JwtError>(())
//! ```
//!
//! Only version-2 tokens are read (the `ed25519` algorithm of version 1 is refused). Decoding
//! checks, in order: size (at most 1 MiB), shape, header, JSON, claim type, the issuer is an
//! account key and the subject a user key, the signature, then `exp`/`nbf` against the clock.
#![warn(missing_docs)]

mod claims;
mod codec;
mod error;
mod permissions;

pub use claims::{TimeRange, UserClaims, UserLimits};
pub use codec::{
    MAX_TOKEN_SIZE, decode_user, decode_user_at, encode_user, peek_issuer, try_encode_user,
};
pub use error::JwtError;
pub use permissions::{Permission, Permissions, ResponsePermission};

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
