//! The server-operation parser, for clients (and the load generator).
//!
//! [`ServerParser`] is the mirror of [`ClientParser`](crate::ClientParser):
//! the same incremental state machine (the end of a control line is searched
//! only once, a `MSG`/`HMSG` control line is kept as offsets while its payload
//! arrives), the same [`Limits`] and the same errors. It has two entry points
//! over one state machine:
//!
//! * [`ServerParser::parse`] follows the tokio-util `Decoder` contract on a
//!   [`BytesMut`] and returns [`Bytes`] slices of the input;
//! * [`ServerParser::parse_slice`] reads a plain `&[u8]`, returns fields
//!   borrowed from it and says how many bytes the operation took; the caller
//!   drops those bytes and presents the rest, at the front, next time.
//!
//! Neither copies or allocates for `MSG`, `HMSG`, `PING`, `PONG`, `+OK` or
//! `-ERR`; only `INFO` is decoded into an owned [`ServerInfo`].

use bytes::{Bytes, BytesMut};

use crate::ServerInfo;
use crate::error::{OpKind, ProtocolError};
use crate::parser::Limits;
use crate::scan::{Span, confirm_verb, is_space, parse_size, split_args};

/// One operation sent by a server.
///
/// `B` is the type of the byte fields: [`Bytes`] from [`ServerParser::parse`],
/// `&[u8]` from [`ServerParser::parse_slice`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp<B = Bytes> {
    /// `INFO {json}`, decoded.
    Info(Box<ServerInfo>),
    /// `MSG <subject> <sid> [reply] <size>` and its payload.
    Msg {
        /// Subject the message was published to.
        subject: B,
        /// Subscription id the message is delivered for.
        sid: B,
        /// Reply subject, if given.
        reply: Option<B>,
        /// The payload (without the trailing `\r\n`).
        payload: B,
    },
    /// `HMSG <subject> <sid> [reply] <hdr_len> <total_len>` and its message.
    HMsg {
        /// Subject the message was published to.
        subject: B,
        /// Subscription id the message is delivered for.
        sid: B,
        /// Reply subject, if given.
        reply: Option<B>,
        /// Length of the header block at the front of `message`
        /// (`header_len <= message.len()`).
        header_len: usize,
        /// Header block followed by the body; its length is `total_len`.
        message: B,
    },
    /// `PING`: the client must answer `PONG`.
    Ping,
    /// `PONG`
    Pong,
    /// `+OK`, sent to verbose clients.
    Ok,
    /// `-ERR …`: the text after the verb, blanks trimmed (quotes kept).
    Err(B),
}

/// A [`ServerOp`] whose fields borrow from the buffer given to
/// [`ServerParser::parse_slice`].
pub type ServerOpRef<'a> = ServerOp<&'a [u8]>;

/// Incremental parser for the server side of the NATS protocol.
///
/// Verbs are matched case-insensitively and arguments may be separated by
/// runs of spaces or tabs, as nats-server's own client parsers allow. After an
/// error the connection must be closed; further calls do not panic but their
/// results are unspecified.
///
/// ```
/// use bytes::BytesMut;
/// use rnats_protocol::{ServerOp, ServerParser};
///
/// let mut parser = ServerParser::default();
/// let mut buf = BytesMut::from(&b"PING\r\nMSG greet 1 _INBOX.a 5\r\nhello\r\n"[..]);
/// assert_eq!(parser.parse(&mut buf)?, Some(ServerOp::Ping));
/// let Some(ServerOp::Msg { subject, reply, payload, .. }) = parser.parse(&mut buf)? else {
///     unreachable!()
/// };
/// assert_eq!((&subject[..], reply.as_deref(), &payload[..]),
///            (&b"greet"[..], Some(&b"_INBOX.a"[..]), &b"hello"[..]));
/// # Ok::<(), rnats_protocol::ProtocolError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServerParser {
    limits: Limits,
    state: State,
}

impl ServerParser {
    /// A parser enforcing `limits`: `max_control_line` bounds the arguments
    /// of every line (INFO included) and `max_payload` the size a `MSG` or
    /// `HMSG` may announce.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Line { scanned: 0 },
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Parses the next operation from the front of `buf`.
    ///
    /// Returns `Ok(Some(op))` and splits the operation's bytes off `buf`, or
    /// `Ok(None)` when `buf` does not yet hold a complete operation. Errors
    /// are fatal for the connection.
    pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtocolError> {
        let Some((parsed, used)) = self.step(buf)? else {
            if let State::Payload(pending) = self.state {
                buf.reserve(pending.total().saturating_sub(buf.len()));
            }
            return Ok(None);
        };
        let chunk = buf.split_to(used).freeze();
        Ok(Some(parsed.into_op(|span| span.slice(&chunk))))
    }

    /// Parses the next operation from the front of `buf` without consuming
    /// anything: returns the operation, its fields borrowed from `buf`, and
    /// the number of bytes it took.
    ///
    /// The caller must remove those bytes before the next call; after
    /// `Ok(None)` it must call again with the same bytes at the front and more
    /// after them. [`pending_len`](Self::pending_len) then says how long a
    /// message being received is.
    #[inline]
    pub fn parse_slice<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ServerOpRef<'a>, usize)>, ProtocolError> {
        Ok(self
            .step(buf)?
            .map(|(parsed, used)| (parsed.into_op(|span| span.of(buf)), used)))
    }

    /// While a `MSG`/`HMSG` payload is arriving: the number of bytes from the
    /// front of the buffer to the end of that operation. Lets a reader grow
    /// its buffer once for a large message.
    pub fn pending_len(&self) -> Option<usize> {
        match self.state {
            State::Payload(pending) => Some(pending.total()),
            State::Line { .. } => None,
        }
    }

    #[inline]
    fn step(&mut self, buf: &[u8]) -> Result<Option<(Parsed, usize)>, ProtocolError> {
        let scanned = match self.state {
            State::Payload(pending) => return self.finish_msg(buf, pending),
            State::Line { scanned } => scanned,
        };
        let Some(verb) = Verb::recognise(buf)? else {
            return Ok(None);
        };
        let verb_len = verb.len();
        // As in ClientParser: verb, a blank, the arguments and '\r' at most.
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
        self.state = State::Line { scanned: 0 };
        let line = &buf[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let after_verb = line.get(verb_len..).unwrap_or_default();
        let blanks = after_verb.iter().take_while(|&&b| is_space(b)).count();
        if after_verb.len() - blanks > self.limits.max_control_line {
            return Err(ProtocolError::MaxControlLineExceeded);
        }
        let args = Span::new(verb_len + blanks, verb_len + after_verb.len());
        let used = newline + 1;
        let parsed = match verb {
            Verb::Ping => Parsed::Ping,
            Verb::Pong => Parsed::Pong,
            Verb::Ok => Parsed::Ok,
            Verb::Err => Parsed::Err(args.trim_end(buf)),
            Verb::Info => {
                let json = args.trim_end(buf).of(buf);
                let info = serde_json::from_slice(json)
                    .map_err(|_| ProtocolError::InvalidArguments(OpKind::Info))?;
                Parsed::Info(Box::new(info))
            }
            Verb::Msg | Verb::HMsg => {
                let pending = self.msg_header(buf, verb, args, used)?;
                return self.finish_msg(buf, pending);
            }
        };
        Ok(Some((parsed, used)))
    }

    /// Parses the arguments of `MSG`/`HMSG` and checks the size limit.
    #[inline]
    fn msg_header(
        &self,
        buf: &[u8],
        verb: Verb,
        args: Span,
        payload_start: usize,
    ) -> Result<PendingMsg, ProtocolError> {
        let mut t = [Span::EMPTY; 5];
        let (kind, fields) = if verb == Verb::Msg {
            let fields = match split_args(buf, args, &mut t[..4]) {
                3 => (t[0], t[1], None, None, t[2]),
                4 => (t[0], t[1], Some(t[2]), None, t[3]),
                _ => return Err(ProtocolError::InvalidArguments(OpKind::Msg)),
            };
            (OpKind::Msg, fields)
        } else {
            let fields = match split_args(buf, args, &mut t) {
                4 => (t[0], t[1], None, Some(t[2]), t[3]),
                5 => (t[0], t[1], Some(t[2]), Some(t[3]), t[4]),
                _ => return Err(ProtocolError::InvalidArguments(OpKind::HMsg)),
            };
            (OpKind::HMsg, fields)
        };
        let (subject, sid, reply, header, size) = fields;
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
        Ok(PendingMsg {
            subject,
            sid,
            reply,
            header_len,
            payload_start,
            size,
        })
    }

    /// Completes a `MSG`/`HMSG` whose control line is at the front of `buf`
    /// once its payload and the `\r\n` after it are there.
    #[inline]
    fn finish_msg(
        &mut self,
        buf: &[u8],
        pending: PendingMsg,
    ) -> Result<Option<(Parsed, usize)>, ProtocolError> {
        let payload_end = pending.payload_start.saturating_add(pending.size);
        let total = pending.total();
        if buf.len() < total {
            // Reject a wrong terminator as soon as its first byte shows.
            if buf.get(payload_end).is_some_and(|&b| b != b'\r') {
                return Err(ProtocolError::UnknownOperation);
            }
            self.state = State::Payload(pending);
            return Ok(None);
        }
        if buf[payload_end..total] != *b"\r\n" {
            return Err(ProtocolError::UnknownOperation);
        }
        self.state = State::Line { scanned: 0 };
        Ok(Some((Parsed::Msg(pending), total)))
    }
}

impl Default for ServerParser {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// At a control line; its first `scanned` bytes hold no newline.
    Line { scanned: usize },
    /// A `MSG`/`HMSG` line is parsed (still at the front of the buffer);
    /// waiting for the payload.
    Payload(PendingMsg),
}

/// A parsed `MSG`/`HMSG` control line; spans are offsets into the buffer.
#[derive(Debug, Clone, Copy)]
struct PendingMsg {
    subject: Span,
    sid: Span,
    reply: Option<Span>,
    /// `Some` for `HMSG`.
    header_len: Option<usize>,
    payload_start: usize,
    size: usize,
}

impl PendingMsg {
    /// Bytes from the front of the buffer to the end of the operation.
    fn total(self) -> usize {
        self.payload_start
            .saturating_add(self.size)
            .saturating_add(2)
    }
}

/// A complete operation whose byte fields are still offsets.
enum Parsed {
    Info(Box<ServerInfo>),
    Msg(PendingMsg),
    Ping,
    Pong,
    Ok,
    Err(Span),
}

impl Parsed {
    #[inline]
    fn into_op<B>(self, field: impl Fn(Span) -> B) -> ServerOp<B> {
        match self {
            Self::Info(info) => ServerOp::Info(info),
            Self::Ping => ServerOp::Ping,
            Self::Pong => ServerOp::Pong,
            Self::Ok => ServerOp::Ok,
            Self::Err(text) => ServerOp::Err(field(text)),
            Self::Msg(m) => {
                let body = Span::new(m.payload_start, m.payload_start + m.size);
                match m.header_len {
                    None => ServerOp::Msg {
                        subject: field(m.subject),
                        sid: field(m.sid),
                        reply: m.reply.map(&field),
                        payload: field(body),
                    },
                    Some(header_len) => ServerOp::HMsg {
                        subject: field(m.subject),
                        sid: field(m.sid),
                        reply: m.reply.map(&field),
                        header_len,
                        message: field(body),
                    },
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Info,
    Msg,
    HMsg,
    Ping,
    Pong,
    Ok,
    Err,
}

impl Verb {
    /// The verb in lower case.
    fn text(self) -> &'static [u8] {
        match self {
            Self::Info => b"info",
            Self::Msg => b"msg",
            Self::HMsg => b"hmsg",
            Self::Ping => b"ping",
            Self::Pong => b"pong",
            Self::Ok => b"+ok",
            Self::Err => b"-err",
        }
    }

    fn len(self) -> usize {
        self.text().len()
    }

    /// Verbs that must be followed by a blank and arguments.
    fn takes_args(self) -> bool {
        !matches!(self, Self::Ping | Self::Pong | Self::Ok)
    }

    /// Identifies the verb at the front of `buf` from as few bytes as
    /// possible: `Ok(None)` while the bytes so far are a prefix of some verb,
    /// an error as soon as they cannot be.
    #[inline]
    fn recognise(buf: &[u8]) -> Result<Option<Self>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let verb = match first {
            b'P' | b'p' => match buf.get(1) {
                None => return Ok(None),
                Some(b'I' | b'i') => Self::Ping,
                Some(b'O' | b'o') => Self::Pong,
                Some(_) => return Err(ProtocolError::UnknownOperation),
            },
            b'M' | b'm' => Self::Msg,
            b'H' | b'h' => Self::HMsg,
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

    /// Parses `input` whole with both entry points and byte by byte, and
    /// checks all three agree.
    fn one(input: &[u8]) -> Result<Option<ServerOp>, ProtocolError> {
        let mut parser = ServerParser::default();
        let whole = parser.parse(&mut BytesMut::from(input));

        let mut parser = ServerParser::default();
        let sliced = parser
            .parse_slice(input)
            .map(|op| op.map(|(op, _)| owned(op)));
        assert_eq!(whole, sliced, "BytesMut vs slice for {input:?}");

        let mut parser = ServerParser::default();
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

    fn owned(op: ServerOp<&[u8]>) -> ServerOp {
        let b = Bytes::copy_from_slice;
        match op {
            ServerOp::Info(info) => ServerOp::Info(info),
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => ServerOp::Msg {
                subject: b(subject),
                sid: b(sid),
                reply: reply.map(b),
                payload: b(payload),
            },
            ServerOp::HMsg {
                subject,
                sid,
                reply,
                header_len,
                message,
            } => ServerOp::HMsg {
                subject: b(subject),
                sid: b(sid),
                reply: reply.map(b),
                header_len,
                message: b(message),
            },
            ServerOp::Ping => ServerOp::Ping,
            ServerOp::Pong => ServerOp::Pong,
            ServerOp::Ok => ServerOp::Ok,
            ServerOp::Err(text) => ServerOp::Err(b(text)),
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn msg(subject: &str, sid: &str, reply: Option<&str>, payload: &str) -> ServerOp {
        ServerOp::Msg {
            subject: b(subject),
            sid: b(sid),
            reply: reply.map(b),
            payload: b(payload),
        }
    }

    #[test]
    fn control_lines() {
        assert_eq!(one(b"PING\r\n"), Ok(Some(ServerOp::Ping)));
        assert_eq!(one(b"pong\n"), Ok(Some(ServerOp::Pong)));
        assert_eq!(one(b"+OK\r\n"), Ok(Some(ServerOp::Ok)));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n"),
            Ok(Some(ServerOp::Err(b("'Authorization Violation'"))))
        );
    }

    #[test]
    fn info_is_decoded() {
        let Ok(Some(ServerOp::Info(info))) = one(
            b"INFO {\"server_id\":\"N1\",\"max_payload\":1024,\"nonce\":\"abc\",\"go\":\"go1.24\"} \r\n",
        ) else {
            panic!("expected INFO");
        };
        assert_eq!(info.server_id, "N1");
        assert_eq!(info.max_payload, 1024);
        assert_eq!(info.nonce.as_deref(), Some("abc"));
        assert!(!info.tls_required);
        assert_eq!(
            one(b"INFO {not json}\r\n"),
            Err(ProtocolError::InvalidArguments(OpKind::Info))
        );
    }

    #[test]
    fn msg_and_hmsg() {
        assert_eq!(
            one(b"MSG foo 1 5\r\nhello\r\n"),
            Ok(Some(msg("foo", "1", None, "hello")))
        );
        assert_eq!(
            one(b"msg\tfoo  9 _INBOX.x\t0\r\n\r\n"),
            Ok(Some(msg("foo", "9", Some("_INBOX.x"), "")))
        );
        assert_eq!(
            one(b"HMSG s 2 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
            Ok(Some(ServerOp::HMsg {
                subject: b("s"),
                sid: b("2"),
                reply: Some(b("r")),
                header_len: 12,
                message: b("NATS/1.0\r\n\r\nhi"),
            }))
        );
        assert!(matches!(
            one(b"hmsg s 2 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
            Ok(Some(ServerOp::HMsg { reply: None, .. }))
        ));
    }

    #[test]
    fn malformed_input() {
        for input in [
            &b"PUB a 1\r\n"[..],
            b"HELLO\r\n",
            b"PX",
            b"MSGX",
            b"INFO\r\n",
        ] {
            assert_eq!(
                one(input),
                Err(ProtocolError::UnknownOperation),
                "{input:?}"
            );
        }
        let cases: [(&[u8], OpKind); 5] = [
            (b"MSG foo 1\r\n", OpKind::Msg),
            (b"MSG a b c d e\r\n", OpKind::Msg),
            (b"MSG a 1 x\r\n", OpKind::Msg),
            (b"HMSG a 1 5 4\r\n", OpKind::HMsg),
            (b"HMSG a 1 4\r\n", OpKind::HMsg),
        ];
        for (input, kind) in cases {
            assert_eq!(
                one(input),
                Err(ProtocolError::InvalidArguments(kind)),
                "{input:?}"
            );
        }
        assert_eq!(
            one(b"MSG s 1 2\r\nhix"),
            Err(ProtocolError::UnknownOperation)
        );
    }

    #[test]
    fn limits() {
        let limits = Limits {
            max_control_line: 10,
            max_payload: 4,
        };
        let mut parser = ServerParser::new(limits);
        assert_eq!(parser.limits(), limits);
        assert_eq!(
            parser.parse_slice(b"MSG a 1 5\r\n"),
            Err(ProtocolError::MaxPayloadExceeded { size: 5, max: 4 })
        );
        let mut parser = ServerParser::new(limits);
        assert_eq!(
            parser.parse_slice(b"INFO {\"server_id\":1}\r\n"),
            Err(ProtocolError::MaxControlLineExceeded)
        );
        let mut parser = ServerParser::new(limits);
        assert_eq!(
            parser.parse_slice(&[b'I', b'N', b'F', b'O', b' '].repeat(4)),
            Err(ProtocolError::MaxControlLineExceeded)
        );
    }

    #[test]
    fn slices_resume_and_report_the_pending_length() {
        let wire = b"MSG s 1 r 3\r\nabc\r\nPING\r\n";
        let mut parser = ServerParser::default();
        assert_eq!(parser.parse_slice(&wire[..14]), Ok(None));
        assert_eq!(parser.pending_len(), Some(18));
        let (op, used) = parser.parse_slice(&wire[..]).unwrap().unwrap();
        assert_eq!(
            (op, used),
            (
                ServerOp::Msg {
                    subject: &b"s"[..],
                    sid: &b"1"[..],
                    reply: Some(&b"r"[..]),
                    payload: &b"abc"[..],
                },
                18
            )
        );
        assert_eq!(parser.pending_len(), None);
        assert_eq!(
            parser.parse_slice(&wire[used..]),
            Ok(Some((ServerOp::Ping, 6)))
        );
    }

    #[test]
    fn bytes_fields_share_the_input_allocation() {
        let mut parser = ServerParser::default();
        let mut buf = BytesMut::from(&b"MSG subj 7 5\r\nhello\r\nPING\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let Ok(Some(ServerOp::Msg {
            subject, payload, ..
        })) = parser.parse(&mut buf)
        else {
            panic!("expected MSG");
        };
        assert_eq!(subject.as_ptr() as usize, base + 4);
        assert_eq!(payload.as_ptr() as usize, base + 14);
        assert_eq!(&buf[..], b"PING\r\n");
    }

    #[test]
    fn incomplete_payload_reserves_what_is_missing() {
        let mut parser = ServerParser::default();
        let mut buf = BytesMut::from(&b"MSG foo 1 100000\r\nabc"[..]);
        assert_eq!(parser.parse(&mut buf), Ok(None));
        assert!(buf.capacity() >= "MSG foo 1 100000\r\n".len() + 100_002);
    }
}
