//! A test-side encoder for client operations and a piecewise feeder.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rnats_protocol::{ClientOp, ClientParser, Limits, ProtocolError};

/// How an operation is spelled on the wire: verb casing, blanks, line ends.
/// Every choice is one nats-server accepts, so parsing must give the op back.
#[derive(Debug, Clone)]
pub(crate) struct Spelling {
    seed: u64,
}

impl Spelling {
    fn next(&mut self) -> u64 {
        // xorshift64*: plenty for picking spellings.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn verb(&mut self, out: &mut Vec<u8>, verb: &str) {
        for c in verb.bytes() {
            out.push(if self.next().is_multiple_of(2) {
                c.to_ascii_lowercase()
            } else {
                c
            });
        }
    }

    fn blank(&mut self, out: &mut Vec<u8>) {
        let blanks: [&[u8]; 4] = [b" ", b"\t", b"  ", b" \t "];
        out.extend_from_slice(blanks[(self.next() % 4) as usize]);
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        if self.next().is_multiple_of(4) {
            self.blank(out);
        }
        out.extend_from_slice(if self.next().is_multiple_of(3) {
            b"\n"
        } else {
            b"\r\n"
        });
    }
}

/// Writes `op` as a client would.
pub(crate) fn encode_client_op(out: &mut Vec<u8>, op: &ClientOp, spelling: &mut Spelling) {
    match op {
        ClientOp::Connect(json) => {
            spelling.verb(out, "CONNECT");
            spelling.blank(out);
            out.extend_from_slice(json);
            spelling.end_line(out);
        }
        ClientOp::Pub {
            subject,
            reply,
            payload,
        } => {
            spelling.verb(out, "PUB");
            for arg in [Some(subject), reply.as_ref()].into_iter().flatten() {
                spelling.blank(out);
                out.extend_from_slice(arg);
            }
            spelling.blank(out);
            out.extend_from_slice(payload.len().to_string().as_bytes());
            spelling.end_line(out);
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
        ClientOp::HPub {
            subject,
            reply,
            header_len,
            message,
        } => {
            spelling.verb(out, "HPUB");
            for arg in [Some(subject), reply.as_ref()].into_iter().flatten() {
                spelling.blank(out);
                out.extend_from_slice(arg);
            }
            spelling.blank(out);
            out.extend_from_slice(header_len.to_string().as_bytes());
            spelling.blank(out);
            out.extend_from_slice(message.len().to_string().as_bytes());
            spelling.end_line(out);
            out.extend_from_slice(message);
            out.extend_from_slice(b"\r\n");
        }
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            spelling.verb(out, "SUB");
            for arg in [Some(subject), queue.as_ref(), Some(sid)]
                .into_iter()
                .flatten()
            {
                spelling.blank(out);
                out.extend_from_slice(arg);
            }
            spelling.end_line(out);
        }
        ClientOp::Unsub { sid, max } => {
            spelling.verb(out, "UNSUB");
            spelling.blank(out);
            out.extend_from_slice(sid);
            if let Some(max) = max {
                spelling.blank(out);
                out.extend_from_slice(max.to_string().as_bytes());
            }
            spelling.end_line(out);
        }
        ClientOp::Ping | ClientOp::Pong | ClientOp::Ok => {
            let verb = match op {
                ClientOp::Ping => "PING",
                ClientOp::Pong => "PONG",
                _ => "+OK",
            };
            spelling.verb(out, verb);
            // Anything up to the newline is ignored.
            if spelling.next().is_multiple_of(3) {
                out.extend_from_slice(b" ignored\t junk");
            }
            spelling.end_line(out);
        }
        ClientOp::Info => {
            spelling.verb(out, "INFO");
            spelling.blank(out);
            out.extend_from_slice(br#"{"server_id":"x"}"#);
            spelling.end_line(out);
        }
        ClientOp::Err(text) => {
            spelling.verb(out, "-ERR");
            spelling.blank(out);
            out.extend_from_slice(text);
            spelling.end_line(out);
        }
    }
}

fn token() -> impl Strategy<Value = Bytes> {
    "[!-~]{1,16}".prop_map(Bytes::from)
}

fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => proptest::collection::vec(any::<u8>(), 0..5000),
    ]
    .prop_map(Bytes::from)
}

/// Any client operation the parser can return.
pub(crate) fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        "\\{[ -~]{0,40}\\}".prop_map(|json| ClientOp::Connect(Bytes::from(json))),
        (token(), proptest::option::of(token()), payload()).prop_map(
            |(subject, reply, payload)| ClientOp::Pub {
                subject,
                reply,
                payload,
            }
        ),
        (
            token(),
            proptest::option::of(token()),
            payload(),
            any::<prop::sample::Index>()
        )
            .prop_map(|(subject, reply, message, split)| ClientOp::HPub {
                subject,
                reply,
                header_len: split.index(message.len() + 1),
                message,
            }),
        (token(), proptest::option::of(token()), token()).prop_map(|(subject, queue, sid)| {
            ClientOp::Sub {
                subject,
                queue,
                sid,
            }
        }),
        (token(), proptest::option::of(1u64..=999_999_999))
            .prop_map(|(sid, max)| ClientOp::Unsub { sid, max }),
        Just(ClientOp::Ping),
        Just(ClientOp::Pong),
        Just(ClientOp::Info),
        Just(ClientOp::Ok),
        "'[ -~]{0,30}'".prop_map(|text| ClientOp::Err(Bytes::from(text))),
    ]
}

/// Encodes `ops` back to back.
pub(crate) fn encode_all(ops: &[ClientOp], seed: u64) -> Vec<u8> {
    let mut spelling = Spelling { seed: seed | 1 };
    let mut out = Vec::new();
    for op in ops {
        encode_client_op(&mut out, op, &mut spelling);
    }
    out
}

/// What parsing a whole stream produced: the ops, then the error (if any)
/// that stopped it, and the bytes left buffered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) ops: Vec<ClientOp>,
    pub(crate) error: Option<ProtocolError>,
}

/// Feeds `input` to a fresh parser in chunks of the given sizes (the rest in
/// one piece), calling `parse` until it wants more after every chunk.
/// `check` sees the buffer each time the parser asks for more bytes.
pub(crate) fn feed(
    limits: Limits,
    input: &[u8],
    chunks: &[usize],
    mut check: impl FnMut(&BytesMut),
) -> Outcome {
    let mut parser = ClientParser::new(limits);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().copied();
    loop {
        let take = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => {
                    check(&buf);
                    break;
                }
                Err(error) => {
                    return Outcome {
                        ops,
                        error: Some(error),
                    };
                }
            }
        }
        if rest.is_empty() {
            return Outcome { ops, error: None };
        }
    }
}
