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
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<ClientOp>, Option<ProtocolError>) {
        parse_all_with(Limits::default(), input)
    }

    fn parse_all_with(limits: Limits, input: &[u8]) -> (Vec<ClientOp>, Option<ProtocolError>) {
        let mut parser = ClientParser::new(limits);
        let mut buf = BytesMut::from(input);
        let mut ops = Vec::new();
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => return (ops, None),
                Err(err) => return (ops, Some(err)),
            }
        }
    }

    /// Parses `input` whole, then byte by byte, and checks both agree.
    fn one(input: &[u8]) -> Result<Option<ClientOp>, ProtocolError> {
        let mut parser = ClientParser::default();
        let mut buf = BytesMut::from(input);
        let whole = parser.parse(&mut buf);

        let mut parser = ClientParser::default();
        let mut buf = BytesMut::new();
        let mut trickled = Ok(None);
        for &b in input {
            buf.extend_from_slice(&[b]);
            trickled = parser.parse(&mut buf);
            if !matches!(trickled, Ok(None)) {
                break;
            }
        }
        assert_eq!(whole, trickled, "whole vs byte-by-byte for {input:?}");
        whole
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn pub_op(subject: &str, reply: Option<&str>, payload: &str) -> ClientOp {
        ClientOp::Pub {
            subject: b(subject),
            reply: reply.map(b),
            payload: b(payload),
        }
    }

    #[test]
    fn connect() {
        assert_eq!(
            one(b"CONNECT {\"verbose\":false}\r\n"),
            Ok(Some(ClientOp::Connect(b("{\"verbose\":false}"))))
        );
        assert_eq!(
            one(b"connect \t {\"a\": 1} \t\r\n"),
            Ok(Some(ClientOp::Connect(b("{\"a\": 1}"))))
        );
        assert_eq!(one(b"CONNECT \r\n"), Ok(Some(ClientOp::Connect(b("")))));
    }

    #[test]
    fn pub_with_and_without_reply() {
        assert_eq!(
            one(b"PUB foo 5\r\nhello\r\n"),
            Ok(Some(pub_op("foo", None, "hello")))
        );
        assert_eq!(
            one(b"PUB foo.bar _INBOX.1 2\r\nhi\r\n"),
            Ok(Some(pub_op("foo.bar", Some("_INBOX.1"), "hi")))
        );
        assert_eq!(one(b"PUB foo 0\r\n\r\n"), Ok(Some(pub_op("foo", None, ""))));
    }

    #[test]
    fn payload_may_contain_crlf_and_binary() {
        assert_eq!(
            one(b"PUB a 6\r\n\r\n\0\xff\r\n\r\n"),
            Ok(Some(ClientOp::Pub {
                subject: b("a"),
                reply: None,
                payload: Bytes::from_static(b"\r\n\0\xff\r\n"),
            }))
        );
    }

    #[test]
    fn hpub() {
        let expected = ClientOp::HPub {
            subject: b("foo"),
            reply: Some(b("bar")),
            header_len: 12,
            message: b("NATS/1.0\r\n\r\nhi"),
        };
        assert_eq!(
            one(b"HPUB foo bar 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            Ok(Some(expected))
        );
        assert_eq!(
            one(b"hpub foo 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
            Ok(Some(ClientOp::HPub {
                subject: b("foo"),
                reply: None,
                header_len: 12,
                message: b("NATS/1.0\r\n\r\n"),
            }))
        );
    }

    #[test]
    fn sub() {
        assert_eq!(
            one(b"SUB foo 1\r\n"),
            Ok(Some(ClientOp::Sub {
                subject: b("foo"),
                queue: None,
                sid: b("1"),
            }))
        );
        assert_eq!(
            one(b"SUB foo.* workers 22\r\n"),
            Ok(Some(ClientOp::Sub {
                subject: b("foo.*"),
                queue: Some(b("workers")),
                sid: b("22"),
            }))
        );
    }

    #[test]
    fn unsub() {
        let unsub = |sid: &str, max| Ok(Some(ClientOp::Unsub { sid: b(sid), max }));
        assert_eq!(one(b"UNSUB 1\r\n"), unsub("1", None));
        assert_eq!(one(b"UNSUB 1 10\r\n"), unsub("1", Some(10)));
        // nats-server: zero or an unparsable count means "now".
        assert_eq!(one(b"UNSUB 1 0\r\n"), unsub("1", None));
        assert_eq!(one(b"UNSUB 1 x\r\n"), unsub("1", None));
        assert_eq!(one(b"UNSUB 1 1234567890\r\n"), unsub("1", None));
    }

    #[test]
    fn ping_pong_ok_info_err() {
        assert_eq!(one(b"PING\r\n"), Ok(Some(ClientOp::Ping)));
        assert_eq!(one(b"PONG\r\n"), Ok(Some(ClientOp::Pong)));
        assert_eq!(one(b"+OK\r\n"), Ok(Some(ClientOp::Ok)));
        assert_eq!(
            one(b"INFO {\"server_id\":\"x\"}\r\n"),
            Ok(Some(ClientOp::Info))
        );
        assert_eq!(
            one(b"-ERR 'Stale Connection'\r\n"),
            Ok(Some(ClientOp::Err(b("'Stale Connection'"))))
        );
    }

    #[test]
    fn ping_ignores_the_rest_of_its_line() {
        assert_eq!(one(b"PING anything at all\r\n"), Ok(Some(ClientOp::Ping)));
        assert_eq!(one(b"PINGPONG\n"), Ok(Some(ClientOp::Ping)));
        let long = [&b"PING "[..], &[b'x'; 10_000], b"\r\n"].concat();
        assert_eq!(one(&long), Ok(Some(ClientOp::Ping)));
    }

    #[test]
    fn discarded_bytes_are_not_buffered() {
        let mut parser = ClientParser::default();
        let mut buf = BytesMut::from(&b"PING "[..]);
        for _ in 0..100 {
            assert_eq!(parser.parse(&mut buf), Ok(None));
            assert!(buf.is_empty());
            buf.extend_from_slice(&[b'x'; 100]);
        }
        buf.extend_from_slice(b"\r\nPONG\r\n");
        assert_eq!(parser.parse(&mut buf), Ok(Some(ClientOp::Ping)));
        assert_eq!(parser.parse(&mut buf), Ok(Some(ClientOp::Pong)));
        assert!(buf.is_empty());
    }

    #[test]
    fn verbs_are_case_insensitive() {
        for input in [
            &b"pInG\r\n"[..],
            b"ping\r\n",
            b"PiNg\r\n",
            b"pong\r\n",
            b"+ok\r\n",
            b"+Ok\r\n",
        ] {
            assert!(matches!(one(input), Ok(Some(_))), "{input:?}");
        }
        assert_eq!(one(b"pUb x 1\r\na\r\n"), Ok(Some(pub_op("x", None, "a"))));
        assert!(matches!(
            one(b"Sub x 1\r\n"),
            Ok(Some(ClientOp::Sub { .. }))
        ));
        assert!(matches!(
            one(b"uNsUb 1\r\n"),
            Ok(Some(ClientOp::Unsub { .. }))
        ));
        assert!(matches!(
            one(b"HpUb x 0 0\r\n\r\n"),
            Ok(Some(ClientOp::HPub { .. }))
        ));
        assert!(matches!(
            one(b"Connect {}\r\n"),
            Ok(Some(ClientOp::Connect(_)))
        ));
        assert_eq!(one(b"iNfO {}\r\n"), Ok(Some(ClientOp::Info)));
        assert!(matches!(one(b"-err 'x'\r\n"), Ok(Some(ClientOp::Err(_)))));
    }

    #[test]
    fn tabs_and_runs_of_blanks_separate_arguments() {
        assert_eq!(
            one(b"PUB\tfoo \t bar\t\t3  \r\nabc\r\n"),
            Ok(Some(pub_op("foo", Some("bar"), "abc")))
        );
        assert_eq!(
            one(b"SUB\t\tfoo\tq\t7\t\r\n"),
            Ok(Some(ClientOp::Sub {
                subject: b("foo"),
                queue: Some(b("q")),
                sid: b("7"),
            }))
        );
    }

    #[test]
    fn bare_newline_ends_a_line() {
        assert_eq!(one(b"PING\n"), Ok(Some(ClientOp::Ping)));
        assert_eq!(
            one(b"PUB foo 2\nhi\r\n"),
            Ok(Some(pub_op("foo", None, "hi")))
        );
        assert!(matches!(one(b"SUB a 1\n"), Ok(Some(ClientOp::Sub { .. }))));
    }

    #[test]
    fn several_ops_in_one_buffer() {
        let (ops, err) = parse_all(b"PING\r\nSUB a 1\r\nPUB a 1\r\nx\r\nPONG\r\nPI");
        assert_eq!(err, None);
        assert_eq!(ops.len(), 4);
        assert_eq!(ops[2], pub_op("a", None, "x"));
    }

    #[test]
    fn unknown_operations() {
        for input in [
            &b"FOO"[..],
            b"MSG foo 1 1\r\n",
            b"RS+ $G foo\r\n",
            b"LS+ foo\r\n",
            b"A",
            b"\r\n",
            b" PING\r\n",
            b"PX",
            b"PUBX",
            b"PUB\r\n",
            b"SUBS",
            b"CONNECT\r\n",
            b"INFO\r\n",
            b"-ERR\r\n",
            b"+X",
            b"HPUx",
            b"\x0b",
        ] {
            assert_eq!(
                one(input),
                Err(ProtocolError::UnknownOperation),
                "{input:?}"
            );
        }
    }

    #[test]
    fn verb_prefixes_wait_for_more() {
        for input in [
            &b""[..],
            b"P",
            b"PU",
            b"PUB",
            b"PIN",
            b"HPU",
            b"CONNEC",
            b"CONNECT",
            b"+O",
            b"-ER",
            b"UNSUB",
        ] {
            assert_eq!(one(input), Ok(None), "{input:?}");
        }
    }

    #[test]
    fn payload_must_end_with_crlf() {
        assert_eq!(
            one(b"PUB foo 2\r\nhix\r\n"),
            Err(ProtocolError::UnknownOperation)
        );
        assert_eq!(
            one(b"PUB foo 2\r\nhi\rx"),
            Err(ProtocolError::UnknownOperation)
        );
        assert_eq!(
            one(b"PUB foo 2\r\nhi\n"),
            Err(ProtocolError::UnknownOperation)
        );
        // Caught from the first wrong byte, before the second arrives.
        assert_eq!(
            one(b"PUB foo 2\r\nhix"),
            Err(ProtocolError::UnknownOperation)
        );
        assert_eq!(one(b"PUB foo 2\r\nhi\r"), Ok(None));
    }

    #[test]
    fn invalid_arguments() {
        let cases: [(&[u8], OpKind); 17] = [
            (b"PUB foo\r\n", OpKind::Pub),
            (b"PUB \r\n", OpKind::Pub),
            (b"PUB a b c 1\r\n", OpKind::Pub),
            (b"PUB foo x\r\n", OpKind::Pub),
            (b"PUB foo -1\r\n", OpKind::Pub),
            (b"PUB foo +1\r\n", OpKind::Pub),
            (b"PUB foo 1234567890\r\n", OpKind::Pub),
            (b"HPUB foo 1\r\n", OpKind::HPub),
            (b"HPUB foo 5 4\r\n", OpKind::HPub),
            (b"HPUB foo x 4\r\n", OpKind::HPub),
            (b"HPUB a b c 1 2\r\n", OpKind::HPub),
            (b"SUB foo\r\n", OpKind::Sub),
            (b"SUB a b c d\r\n", OpKind::Sub),
            (b"SUB \r\n", OpKind::Sub),
            (b"UNSUB \r\n", OpKind::Unsub),
            (b"UNSUB 1 2 3\r\n", OpKind::Unsub),
            (b"UNSUB\t\t\r\n", OpKind::Unsub),
        ];
        for (input, kind) in cases {
            assert_eq!(
                one(input),
                Err(ProtocolError::InvalidArguments(kind)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn max_payload_is_checked_on_the_control_line() {
        let limits = Limits {
            max_payload: 4,
            ..Limits::default()
        };
        let (ops, err) = parse_all_with(limits, b"PUB a 4\r\nabcd\r\n");
        assert_eq!((ops.len(), err), (1, None));
        // No payload bytes present yet: rejected from the line alone.
        let (_, err) = parse_all_with(limits, b"PUB a 5\r\n");
        assert_eq!(
            err,
            Some(ProtocolError::MaxPayloadExceeded { size: 5, max: 4 })
        );
        let (_, err) = parse_all_with(limits, b"HPUB a 2 5\r\n");
        assert_eq!(
            err,
            Some(ProtocolError::MaxPayloadExceeded { size: 5, max: 4 })
        );
        assert_eq!(
            one(b"PUB a 1048577\r\n"),
            Err(ProtocolError::MaxPayloadExceeded {
                size: 1_048_577,
                max: 1_048_576
            })
        );
    }

    #[test]
    fn malformed_args_are_reported_before_max_payload() {
        let limits = Limits {
            max_payload: 4,
            ..Limits::default()
        };
        let (_, err) = parse_all_with(limits, b"HPUB a 9 5\r\n");
        assert_eq!(err, Some(ProtocolError::InvalidArguments(OpKind::HPub)));
    }

    #[test]
    fn max_control_line_on_complete_lines() {
        let limits = Limits {
            max_control_line: 10,
            ..Limits::default()
        };
        // Arguments of exactly 10 bytes pass, 11 fail, with or without '\r'.
        let (ops, err) = parse_all_with(limits, b"SUB abcdef 123\r\nSUB abcdef 123\n");
        assert_eq!((ops.len(), err), (2, None));
        for input in [&b"SUB abcdef 1234\r\n"[..], b"SUB abcdef 1234\n"] {
            let (_, err) = parse_all_with(limits, input);
            assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
        }
        let (_, err) = parse_all_with(limits, b"CONNECT {\"a\":12345}\r\n");
        assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
        // The length check comes before the argument check.
        let (_, err) = parse_all_with(limits, b"PUB a b c d e f g\r\n");
        assert_eq!(err, Some(ProtocolError::MaxControlLineExceeded));
    }

    #[test]
    fn max_control_line_on_partial_lines() {
        let limits = Limits {
            max_control_line: 10,
            ..Limits::default()
        };
        let mut parser = ClientParser::new(limits);
        let mut buf = BytesMut::from(&b"PUB "[..]);
        let mut result = Ok(None);
        for _ in 0..20 {
            result = parser.parse(&mut buf);
            if result.is_err() {
                break;
            }
            assert!(buf.len() <= 3 + 2 + 10, "buffered {}", buf.len());
            buf.extend_from_slice(b"x");
        }
        assert_eq!(result, Err(ProtocolError::MaxControlLineExceeded));
    }

    #[test]
    fn default_control_line_limit() {
        let args_ok = [&b"CONNECT "[..], &[b'x'; 4096], b"\r\n"].concat();
        assert!(matches!(one(&args_ok), Ok(Some(ClientOp::Connect(_)))));
        let args_long = [&b"CONNECT "[..], &[b'x'; 4097], b"\r\n"].concat();
        assert_eq!(one(&args_long), Err(ProtocolError::MaxControlLineExceeded));
        let unterminated = [&b"SUB "[..], &[b'x'; 5000]].concat();
        assert_eq!(
            one(&unterminated),
            Err(ProtocolError::MaxControlLineExceeded)
        );
    }

    #[test]
    fn fields_share_the_input_allocation() {
        let mut parser = ClientParser::default();
        let mut buf = BytesMut::from(&b"PUB subj reply 5\r\nhello\r\nPING\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let Ok(Some(ClientOp::Pub {
            subject,
            reply,
            payload,
        })) = parser.parse(&mut buf)
        else {
            panic!("expected PUB");
        };
        assert_eq!(subject.as_ptr() as usize, base + 4);
        assert_eq!(reply.map(|r| r.as_ptr() as usize), Some(base + 9));
        assert_eq!(payload.as_ptr() as usize, base + 18);
        assert_eq!(&buf[..], b"PING\r\n");
    }

    #[test]
    fn incomplete_payload_reserves_what_is_missing() {
        let mut parser = ClientParser::default();
        let mut buf = BytesMut::from(&b"PUB foo 100000\r\nabc"[..]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(buf.capacity() >= "PUB foo 100000\r\n".len() + 100_002);
        buf.extend_from_slice(&[b'x'; 99_997]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        buf.extend_from_slice(b"\r\n");
        let Ok(Some(ClientOp::Pub { payload, .. })) = parser.parse(&mut buf) else {
            panic!("expected PUB");
        };
        assert_eq!(payload.len(), 100_000);
        assert!(buf.is_empty());
    }

    #[test]
    fn set_limits_applies_to_later_ops() {
        let mut parser = ClientParser::default();
        let mut buf = BytesMut::from(&b"PUB a 3\r\nabc\r\nPUB a 3\r\nabc\r\n"[..]);
        assert!(matches!(parser.parse(&mut buf), Ok(Some(_))));
        parser.set_limits(Limits {
            max_payload: 2,
            ..Limits::default()
        });
        assert_eq!(parser.limits().max_payload, 2);
        assert_eq!(
            parser.parse(&mut buf),
            Err(ProtocolError::MaxPayloadExceeded { size: 3, max: 2 })
        );
    }

    #[test]
    fn parse_size_matches_nats_server() {
        assert_eq!(parse_size(b"0"), Some(0));
        assert_eq!(parse_size(b"007"), Some(7));
        assert_eq!(parse_size(b"999999999"), Some(999_999_999));
        assert_eq!(parse_size(b"1234567890"), None);
        assert_eq!(parse_size(b""), None);
        assert_eq!(parse_size(b"-1"), None);
        assert_eq!(parse_size(b"12a"), None);
    }
}
