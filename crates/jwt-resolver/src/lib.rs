//! NATS JWTs: decode, verify and encode operator, account, user, activation, auth callout
//! (authorization request/response) and generic claims, and read and write `.creds` files.
//!
//! A library of its own: it knows the token format and the claims, not any server's
//! configuration; whether an issuer is trusted and what the claims mean for a connection is
//! the caller's decision.
//!
//! A NATS JWT is `header.payload.signature`, each part base64url without padding. The header is
//! `{"typ":"JWT","alg":"ed25519-nkey"}`; the signature is Ed25519 over the ASCII bytes of
//! `header.payload`, made by the key named in the payload's `iss`. NATS-specific claims live
//! under `"nats"`, whose `type` says what the token is.
//!
//! ```
//! use nkeys::KeyPair;
//! use rnats_jwt::{
//!     AccountClaims, Claims, OperatorClaims, Permission, UserClaims, decode, decode_account,
//!     decode_user, encode_account, encode_operator, encode_user,
//! };
//!
//! // An operator signs itself and an account; the account signs a user.
//! let operator = KeyPair::new_operator();
//! let account = KeyPair::new_account();
//! let user = KeyPair::new_user();
//!
//! let op_jwt = encode_operator(&OperatorClaims::new(operator.public_key()), &operator)?;
//! let mut acc = AccountClaims::new(account.public_key());
//! acc.name = Some("orders".to_owned());
//! acc.limits.conn = 100;
//! let acc_jwt = encode_account(&acc, &operator)?;
//!
//! let mut claims = UserClaims::new(user.public_key(), account.public_key());
//! claims.name = Some("alice".to_owned());
//! claims.permissions.publish = Permission::allow(["orders.>"]);
//! let token = encode_user(&claims, &account);
//!
//! let decoded = decode_user(&token)?;
//! assert_eq!(decoded.subject, user.public_key());
//! assert_eq!(decoded.issuer, account.public_key());
//! assert_eq!(decoded.permissions.publish.allow, ["orders.>"]);
//!
//! // The account names its operator as issuer; trusting that key is the caller's business.
//! let acc = decode_account(&acc_jwt)?;
//! assert_eq!((acc.issuer.as_str(), acc.limits.conn), (operator.public_key().as_str(), 100));
//! assert!(matches!(decode(&op_jwt)?, Claims::Operator(op) if op.is_self_signed()));
//!
//! // Any change to the token breaks the signature.
//! let mut forged = token.clone();
//! forged.insert_str(token.find('.').map_or(0, |i| i + 1), "eyJ4IjoxfQ");
//! assert!(decode_user(&forged).is_err());
//! # Ok::<(), rnats_jwt::JwtError>(())
//! ```
//!
//! Decoding checks, in order: size (at most 1 MiB), shape, header, JSON, claim type and
//! version, the roles of the issuer and subject keys, the signature, then `exp`/`nbf` against
//! the clock (the `_at` functions take it as an argument). Version-1 tokens (`alg: ed25519`, the
//! type at the top level, the signature over the payload only) are read into the same structs.
//! The encoder writes version 2 only, with the `jti` nats-io/jwt computes, so what rnats mints,
//! nats-server accepts.
#![warn(missing_docs)]

mod claims;
mod creds;
mod decode;
mod encode;
mod error;
mod permissions;
mod resolver;
mod token;

pub use claims::account::{
    AccountClaims, AccountLimits, ExternalAuthorization, JetStreamLimits, MsgTrace, WeightedMapping,
};
pub use claims::activation::ActivationClaims;
pub use claims::authorization::{
    AuthorizationRequestClaims, AuthorizationResponseClaims, ClientInformation, ClientTls,
    ConnectOptions, ServerId,
};
pub use claims::exports::{
    Export, ExportType, Import, LatencySampling, ResponseType, Revocations, ServiceLatency,
};
pub use claims::generic::GenericClaims;
pub use claims::operator::OperatorClaims;
pub use claims::signing_keys::{SigningKeys, UserScope};
pub use claims::user::{TimeRange, UserClaims, UserLimits, UserPermissionLimits};
pub use claims::{ClaimKind, Claims};
pub use creds::{
    Seed, UserCreds, decorate_jwt, decorate_seed, format_user_creds, parse_decorated_jwt,
    parse_decorated_seed, parse_user_creds,
};
pub use decode::{
    Peek, decode, decode_account, decode_account_at, decode_activation, decode_activation_at,
    decode_at, decode_authorization_request, decode_authorization_request_at,
    decode_authorization_response, decode_authorization_response_at, decode_generic,
    decode_generic_at, decode_operator, decode_operator_at, decode_user, decode_user_at, peek,
    peek_issuer,
};
pub use encode::{
    encode, encode_account, encode_activation, encode_authorization_request,
    encode_authorization_response, encode_generic, encode_operator, encode_user, try_encode_user,
};
pub use error::JwtError;
pub use permissions::{Permission, Permissions, ResponsePermission};
pub use resolver::{AccountResolver, DirDelete, DirResolver, MemoryResolver, ResolverError};
pub use token::MAX_TOKEN_SIZE;

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
