//! Sans-IO NATS client protocol, both halves of the wire: a parser for the
//! operations clients send and encoders for what the server sends back
//! ([`ClientParser`], [`encode_msg`], [`encode_info`], …), and a parser for
//! the operations servers send with encoders for the client's side
//! ([`ServerParser`], [`encode_pub`], [`encode_sub`], [`encode_connect`], …).
//!
//! ```
//! use bytes::BytesMut;
//! use rnats_protocol::{ClientOp, ClientParser, Limits, encode_msg};
//!
//! let mut parser = ClientParser::new(Limits::default());
//! let mut buf = BytesMut::from(&b"SUB greet 1\r\nPUB greet 5\r\nhel"[..]);
//!
//! let Some(ClientOp::Sub { subject, sid, .. }) = parser.parse(&mut buf)? else {
//!     unreachable!()
//! };
//! assert_eq!((&subject[..], &sid[..]), (&b"greet"[..], &b"1"[..]));
//!
//! // The payload is incomplete: the parser keeps the PUB line and waits.
//! assert_eq!(parser.parse(&mut buf)?, None);
//! buf.extend_from_slice(b"lo\r\n");
//! let Some(ClientOp::Pub { subject, payload, .. }) = parser.parse(&mut buf)? else {
//!     unreachable!()
//! };
//!
//! let mut out = BytesMut::new();
//! encode_msg(&mut out, &subject, &sid, None, &payload);
//! assert_eq!(&out[..], b"MSG greet 1 5\r\nhello\r\n");
//! # Ok::<(), rnats_protocol::ProtocolError>(())
//! ```
//!
//! The crate does no I/O and reads no clock. [`ClientParser::parse`] and
//! [`ServerParser::parse`] follow the tokio-util `Decoder` contract, return
//! [`Bytes`](bytes::Bytes) slices of the input rather than copies, and know
//! nothing about clients, accounts or permissions: they return a [`ClientOp`]
//! or [`ServerOp`] and the caller decides. INFO is the [`ServerInfo`] struct,
//! serialised with nats-server's field order and omission rules. Errors are
//! small `Copy` values; [`ProtocolError::wire_text`] gives nats-server's exact
//! `-ERR` text.
#![warn(missing_docs)]

mod client_encode;
mod connect;
mod encode;
mod error;
mod info;
mod parser;
mod scan;
mod server_parser;

pub use client_encode::{
    encode_connect, encode_connect_json, encode_hpub, encode_pub, encode_sub, encode_unsub,
};
pub use connect::ConnectOptions;
pub use encode::{
    OK, PING, PONG, encode_err, encode_hmsg, encode_hmsg_line, encode_info, encode_msg,
    encode_msg_line,
};
pub use error::{OpKind, ProtocolError};
pub use info::ServerInfo;
pub use parser::{ClientOp, ClientParser, Limits};
pub use server_parser::{ServerOp, ServerOpRef, ServerParser};

/// Compiles and runs the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
