//! The client-operation parser.
//!
//! [`ClientParser::parse`] follows the tokio-util `Decoder` contract: it looks
//! at the front of a caller-owned [`BytesMut`], splits off the bytes of one
//! complete operation and returns it, or returns `Ok(None)` when more bytes are
//! needed. State survives between calls, so an operation split at any byte
//! boundary parses exactly as if it had arrived whole:
//!
//! * the verb is recognised from its first bytes, so garbage is rejected
//!   before a newline arrives;
//! * the search for the end of a control line resumes where it stopped;
//! * once a `PUB`/`HPUB` control line has been parsed, its fields are kept
//!   (as offsets into `buf`) while the payload arrives, and `buf` is asked to
//!   reserve the missing bytes.
//!
//! Returned fields are [`Bytes`] slices of one frozen chunk split off `buf`;
//! nothing is copied.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{OpKind, ProtocolError};
use crate::scan::{Span, confirm_verb, is_space, parse_size, split_args};

/// Per-connection protocol limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted argument part of a control line (nats-server
    /// `max_control_line`).
    pub max_control_line: usize,
    /// Largest accepted `PUB`/`HPUB` size (nats-server `max_payload`).
    pub max_payload: usize,
}

impl Limits {
    /// nats-server's default `max_control_line`: 4 KiB.
    pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
    /// nats-server's default `max_payload`: 1 MiB.
    pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_control_line: Self::DEFAULT_MAX_CONTROL_LINE,
            max_payload: Self::DEFAULT_MAX_PAYLOAD,
        }
    }
}

/// One operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the JSON text, blanks trimmed, not yet decoded (see
    /// [`ConnectOptions::from_json`](crate::ConnectOptions::from_json)).
    Connect(Bytes),
    /// `PUB <subject> [reply] <size>` and its payload.
    Pub {
        /// Subject as sent; not validated here.
        subject: Bytes,
        /// Reply subject, if given.
        reply: Option<Bytes>,
        /// The payload (without the trailing `\r\n`).
        payload: Bytes,
    },
    /// `HPUB <subject> [reply] <hdr_len> <total_len>` and its message.
    HPub {
        /// Subject as sent; not validated here.
        subject: Bytes,
        /// Reply subject, if given.
        reply: Option<Bytes>,
        /// Length of the header block at the front of `message`
        /// (`header_len <= message.len()`).
        header_len: usize,
        /// Header block followed by the body; its length is `total_len`.
        message: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Subject as sent; not validated here.
        subject: Bytes,
        /// Queue group, if given.
        queue: Option<Bytes>,
        /// Subscription id chosen by the client.
        sid: Bytes,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id.
        sid: Bytes,
        /// Auto-unsubscribe after this many messages. As in nats-server, a
        /// count of zero or one that is not a number of at most nine digits
        /// means "unsubscribe now" and is reported as `None`.
        max: Option<u64>,
    },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
    /// `INFO …` sent by a client: accepted and ignored by nats-server.
    Info,
    /// `+OK` sent by a client: ignored by nats-server.
    Ok,
    /// `-ERR …` sent by a client: the text after the verb, blanks trimmed.
    Err(Bytes),
}

/// Incremental parser for the client side of the NATS protocol.
///
/// After `parse` returns an error the connection must be closed; further calls
/// do not panic but their results are unspecified.
#[derive(Debug, Clone)]
pub struct ClientParser {
    limits: Limits,
    state: State,
}

impl ClientParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Line { scanned: 0 },
        }
    }

    /// Replaces the limits, e.g. once a client's account is known. A size
    /// already accepted for a payload in flight is not re-checked.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Parses the next operation from the front of `buf`.
    ///
    /// Returns `Ok(Some(op))` and splits the operation's bytes off `buf`, or
    /// `Ok(None)` when `buf` does not yet hold a complete operation (bytes of
    /// `PING`/`PONG`/`+OK` lines may still be discarded). Errors are fatal for
    /// the connection.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtocolError> {
        match self.state {
            State::Line { scanned } => self.parse_line(buf, scanned),
            State::Payload(pending) => self.finish_pub(buf, pending),
            State::Discard(verb) => Ok(self.discard_line(buf, verb)),
        }
    }

    fn parse_line(
        &mut self,
        buf: &mut BytesMut,
        scanned: usize,
    ) -> Result<Option<ClientOp>, ProtocolError> {
        let Some(verb) = Verb::recognise(buf)? else {
            return Ok(None);
        };
        let verb_len = verb.len();
        if !verb.takes_args() {
            return Ok(self.discard_line(buf, verb));
        }

        // The longest acceptable line (without its '\n'): verb, one blank,
        // the arguments and a '\r'. Searching no further than that bounds
        // both the scan and what we ever buffer for a control line.
        let bound = verb_len
            .saturating_add(2)
            .saturating_add(self.limits.max_control_line);
        let end = buf.len().min(bound.saturating_add(1));
        let from = scanned.max(verb_len).min(end);
        let Some(newline) = memchr::memchr(b'\n', &buf[from..end]).map(|i| from + i) else {
            if buf.len() > bound {
                return Err(ProtocolError::MaxControlLineExceeded);
            }
            self.state = State::Line { scanned: buf.len() };
            return Ok(None);
        };

        let line = &buf[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // The verb is followed by a blank, so the line is longer than it.
        let after_verb = line.get(verb_len..).unwrap_or_default();
        let blanks = after_verb.iter().take_while(|&&b| is_space(b)).count();
        if after_verb.len() - blanks > self.limits.max_control_line {
            return Err(ProtocolError::MaxControlLineExceeded);
        }
        let args = Span::new(verb_len + blanks, verb_len + after_verb.len());

        match verb {
            Verb::Pub | Verb::HPub => {
                let pending = self.pub_header(buf, verb, args, newline)?;
                self.finish_pub(buf, pending)
            }
            Verb::Info => {
                buf.advance(newline + 1);
                self.state = State::Line { scanned: 0 };
                Ok(Some(ClientOp::Info))
            }
            _ => {
                let line = buf.split_to(newline + 1).freeze();
                self.state = State::Line { scanned: 0 };
                line_op(line, verb, args).map(Some)
            }
        }
    }

    /// Parses the arguments of `PUB`/`HPUB` and checks the size limit.
    #[inline]
    fn pub_header(
        &self,
        buf: &[u8],
        verb: Verb,
        args: Span,
        newline: usize,
    ) -> Result<PendingPub, ProtocolError> {
        let mut tokens = [Span::EMPTY; 4];
        let (kind, fields) = if verb == Verb::Pub {
            let n = split_args(buf, args, &mut tokens[..3]);
            let fields = match n {
                2 => (tokens[0], None, None, tokens[1]),
                3 => (tokens[0], Some(tokens[1]), None, tokens[2]),
                _ => return Err(ProtocolError::InvalidArguments(OpKind::Pub)),
            };
            (OpKind::Pub, fields)
        } else {
            let n = split_args(buf, args, &mut tokens);
            let fields = match n {
                3 => (tokens[0], None, Some(tokens[1]), tokens[2]),
                4 => (tokens[0], Some(tokens[1]), Some(tokens[2]), tokens[3]),
                _ => return Err(ProtocolError::InvalidArguments(OpKind::HPub)),
            };
            (OpKind::HPub, fields)
        };
        let (subject, reply, header, size) = fields;
        let invalid = ProtocolError::InvalidArguments(kind);
        let size = parse_size(size.of(buf)).ok_or(invalid)?;
        let header_len = match header {
            Some(header) => {
                let header_len = parse_size(header.of(buf)).ok_or(invalid)?;
                if header_len > size {
                    return Err(invalid);
                }
                Some(header_len)
            }
            None => None,
        };
        if size > self.limits.max_payload {
            return Err(ProtocolError::MaxPayloadExceeded {
                size,
                max: self.limits.max_payload,
            });
        }
        Ok(PendingPub {
            subject,
            reply,
            header_len,
            payload_start: newline + 1,
            size,
        })
    }

    /// Completes a `PUB`/`HPUB` whose control line is at the front of `buf`
    /// once its payload and the `\r\n` after it are there.
    fn finish_pub(
        &mut self,
        buf: &mut BytesMut,
        pending: PendingPub,
    ) -> Result<Option<ClientOp>, ProtocolError> {
        let payload_end = pending.payload_start.saturating_add(pending.size);
        let total = payload_end.saturating_add(2);
        if buf.len() < total {
            // Reject a wrong terminator as soon as its first byte shows.
            if buf.get(payload_end).is_some_and(|&b| b != b'\r') {
                return Err(ProtocolError::UnknownOperation);
            }
            self.state = State::Payload(pending);
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        if buf[payload_end..total] != *b"\r\n" {
            return Err(ProtocolError::UnknownOperation);
        }
        let chunk = buf.split_to(total).freeze();
        self.state = State::Line { scanned: 0 };
        let subject = pending.subject.slice(&chunk);
        let reply = pending.reply.map(|r| r.slice(&chunk));
        // The chunk itself becomes the payload: one reference count
        // increment and decrement fewer than slicing it.
        let body = Span::new(pending.payload_start, payload_end).narrow(chunk);
        Ok(Some(match pending.header_len {
            None => ClientOp::Pub {
                subject,
                reply,
                payload: body,
            },
            Some(header_len) => ClientOp::HPub {
                subject,
                reply,
                header_len,
                message: body,
            },
        }))
    }

    /// `PING`, `PONG` and `+OK` ignore everything up to the newline, which
    /// is therefore dropped as it arrives rather than buffered.
    fn discard_line(&mut self, buf: &mut BytesMut, verb: Verb) -> Option<ClientOp> {
        match memchr::memchr(b'\n', buf) {
            Some(newline) => {
                buf.advance(newline + 1);
                self.state = State::Line { scanned: 0 };
                Some(match verb {
                    Verb::Ping => ClientOp::Ping,
                    Verb::Pong => ClientOp::Pong,
                    _ => ClientOp::Ok,
                })
            }
            None => {
                buf.clear();
                self.state = State::Discard(verb);
                None
            }
        }
    }
}

impl Default for ClientParser {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

/// Builds the operations that have no payload from their frozen line. The
/// last field takes over `line` itself rather than a new reference to it.
fn line_op(line: Bytes, verb: Verb, args: Span) -> Result<ClientOp, ProtocolError> {
    let mut tokens = [Span::EMPTY; 3];
    match verb {
        Verb::Connect => Ok(ClientOp::Connect(args.trim_end(&line).narrow(line))),
        Verb::Err => Ok(ClientOp::Err(args.trim_end(&line).narrow(line))),
        Verb::Sub => match split_args(&line, args, &mut tokens) {
            2 => Ok(ClientOp::Sub {
                subject: tokens[0].slice(&line),
                queue: None,
                sid: tokens[1].narrow(line),
            }),
            3 => Ok(ClientOp::Sub {
                subject: tokens[0].slice(&line),
                queue: Some(tokens[1].slice(&line)),
                sid: tokens[2].narrow(line),
            }),
            _ => Err(ProtocolError::InvalidArguments(OpKind::Sub)),
        },
        Verb::Unsub => match split_args(&line, args, &mut tokens[..2]) {
            1 => Ok(ClientOp::Unsub {
                sid: tokens[0].narrow(line),
                max: None,
            }),
            2 => Ok(ClientOp::Unsub {
                max: parse_size(tokens[1].of(&line))
                    .filter(|&max| max > 0)
                    .map(|max| max as u64),
                sid: tokens[0].narrow(line),
            }),
            _ => Err(ProtocolError::InvalidArguments(OpKind::Unsub)),
        },
        // INFO is handled by the caller; operations without arguments or
        // with payloads never get here.
        Verb::Info | Verb::Pub | Verb::HPub | Verb::Ping | Verb::Pong | Verb::Ok => {
            Err(ProtocolError::UnknownOperation)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// At a control line; its first `scanned` bytes hold no newline.
    Line { scanned: usize },
    /// A `PUB`/`HPUB` line is parsed (still at the front of `buf`); waiting
    /// for the payload.
    Payload(PendingPub),
    /// Dropping the rest of a `PING`/`PONG`/`+OK` line.
    Discard(Verb),
}

/// A parsed `PUB`/`HPUB` control line; spans are offsets into `buf`.
#[derive(Debug, Clone, Copy)]
struct PendingPub {
    subject: Span,
    reply: Option<Span>,
    /// `Some` for `HPUB`.
    header_len: Option<usize>,
    payload_start: usize,
    size: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Connect,
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Info,
    Ok,
    Err,
}

impl Verb {
    /// The verb in lower case.
    fn text(self) -> &'static [u8] {
        match self {
            Self::Connect => b"connect",
            Self::Pub => b"pub",
            Self::HPub => b"hpub",
            Self::Sub => b"sub",
            Self::Unsub => b"unsub",
            Self::Ping => b"ping",
            Self::Pong => b"pong",
            Self::Info => b"info",
            Self::Ok => b"+ok",
            Self::Err => b"-err",
        }
    }

    fn len(self) -> usize {
        self.text().len()
    }

    /// Verbs that must be followed by a blank and arguments. The others
    /// ignore whatever follows them on the line.
    fn takes_args(self) -> bool {
        !matches!(self, Self::Ping | Self::Pong | Self::Ok)
    }

    /// Identifies the verb at the front of `buf` from as few bytes as
    /// possible: `Ok(None)` while the bytes so far are a prefix of some verb,
    /// an error as soon as they cannot be.
    fn recognise(buf: &[u8]) -> Result<Option<Self>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let verb = match first {
            b'P' | b'p' => match buf.get(1) {
                None => return Ok(None),
                Some(b'U' | b'u') => Self::Pub,
                Some(b'I' | b'i') => Self::Ping,
                Some(b'O' | b'o') => Self::Pong,
                Some(_) => return Err(ProtocolError::UnknownOperation),
            },
            b'H' | b'h' => Self::HPub,
            b'S' | b's' => Self::Sub,
            b'U' | b'u' => Self::Unsub,
            b'C' | b'c' => Self::Connect,
            b'I' | b'i' => Self::Info,
            b'+' => Self::Ok,
            b'-' => Self::Err,
            _ => return Err(ProtocolError::UnknownOperation),
        };
        Ok(confirm_verb(buf, verb.text(), verb.takes_args())?.then_some(verb))
    }
}

#[cfg(test)]
mod tests;
