//! Sans-IO NATS client protocol: a parser for the operations clients send and
//! encoders for the operations the server sends back.
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
//! The crate does no I/O and reads no clock. [`ClientParser::parse`] follows
//! the tokio-util `Decoder` contract, returns [`Bytes`](bytes::Bytes) slices of
//! the input rather than copies, and knows nothing about clients, accounts or
//! permissions: it returns a [`ClientOp`] and the broker decides. Errors are
//! small `Copy` values; [`ProtocolError::wire_text`] gives nats-server's exact
//! `-ERR` text.
#![warn(missing_docs)]

mod connect;
mod encode;
mod error;
mod parser;

pub use connect::ConnectOptions;
pub use encode::{OK, PING, PONG, encode_err, encode_hmsg, encode_info, encode_msg};
pub use error::{OpKind, ProtocolError};
pub use parser::{ClientOp, ClientParser, Limits};

/// Compiles and runs the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
