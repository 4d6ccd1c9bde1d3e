//! Encoders for the operations the server sends to a client (the client's
//! side is in `client_encode`).
//!
//! Each encoder appends one complete operation to a caller-supplied
//! [`BytesMut`], reserving the exact space first. Numbers are written with a
//! small local routine instead of `format!`, so nothing here allocates apart
//! from growing `dst`.

use bytes::{BufMut, BytesMut};

use crate::ServerInfo;

/// `PING\r\n`
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK\r\n`, sent to verbose clients.
pub const OK: &[u8] = b"+OK\r\n";

pub(crate) const CRLF: &[u8] = b"\r\n";

/// Appends `MSG <subject> <sid> [reply] <len>\r\n<payload>\r\n`.
pub fn encode_msg(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    let room = payload.len() + CRLF.len();
    encode_msg_line(dst, subject, sid, reply, payload.len(), room);
    dst.put_slice(payload);
    dst.put_slice(CRLF);
}

/// Appends `HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n<message>\r\n`.
///
/// `message` is the header block followed by the body; `header_len` is the
/// length of the header block and must not exceed `message.len()`.
pub fn encode_hmsg(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    message: &[u8],
) {
    let room = message.len() + CRLF.len();
    encode_hmsg_line(dst, subject, sid, reply, header_len, message.len(), room);
    dst.put_slice(message);
    dst.put_slice(CRLF);
}

/// Appends only the control line of a `MSG`, `MSG <subject> <sid> [reply] <len>\r\n`, with
/// room reserved for `room` more bytes: for a caller that sends the `len` payload bytes (and
/// the `\r\n` after them) from a buffer of its own, e.g. one shared by many receivers.
pub fn encode_msg_line(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    len: usize,
    room: usize,
) {
    let len = Decimal::new(len as u64);
    let len = len.as_bytes();
    put_prefix(
        dst,
        b"MSG ",
        subject,
        sid,
        reply,
        len.len() + CRLF.len() + room,
    );
    dst.put_slice(len);
    dst.put_slice(CRLF);
}

/// Appends only the control line of an `HMSG`,
/// `HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n`, as [`encode_msg_line`] does for
/// `MSG`.
pub fn encode_hmsg_line(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    total_len: usize,
    room: usize,
) {
    debug_assert!(header_len <= total_len, "header_len exceeds message");
    let hdr = Decimal::new(header_len as u64);
    let hdr = hdr.as_bytes();
    let total = Decimal::new(total_len as u64);
    let total = total.as_bytes();
    let rest = hdr.len() + 1 + total.len() + CRLF.len() + room;
    put_prefix(dst, b"HMSG ", subject, sid, reply, rest);
    dst.put_slice(hdr);
    dst.put_u8(b' ');
    dst.put_slice(total);
    dst.put_slice(CRLF);
}

/// Reserves room for the whole operation (`rest` bytes after the prefix) and writes
/// `<verb><subject> <sid> [reply] `, the part MSG and HMSG share.
fn put_prefix(
    dst: &mut BytesMut,
    verb: &[u8],
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    rest: usize,
) {
    dst.reserve(
        verb.len() + subject.len() + 1 + sid.len() + 1 + reply.map_or(0, |r| r.len() + 1) + rest,
    );
    dst.put_slice(verb);
    dst.put_slice(subject);
    dst.put_u8(b' ');
    dst.put_slice(sid);
    dst.put_u8(b' ');
    if let Some(reply) = reply {
        dst.put_slice(reply);
        dst.put_u8(b' ');
    }
}

/// Appends `INFO {json} \r\n` exactly as nats-server writes it (with a blank
/// before the line end).
pub fn encode_info(dst: &mut BytesMut, info: &ServerInfo) {
    let start = dst.len();
    dst.put_slice(b"INFO ");
    // A struct of strings, numbers and booleans always serialises; should that
    // ever change, the line still goes out well-formed.
    if serde_json::to_writer(dst.writer(), info).is_err() {
        dst.truncate(start + b"INFO ".len());
        dst.put_slice(b"{}");
    }
    dst.put_slice(b" \r\n");
}

/// Appends `-ERR '<text>'\r\n`.
pub fn encode_err(dst: &mut BytesMut, text: &str) {
    dst.reserve(b"-ERR '".len() + text.len() + b"'\r\n".len());
    dst.put_slice(b"-ERR '");
    dst.put_slice(text.as_bytes());
    dst.put_slice(b"'\r\n");
}

/// A `u64` written in decimal into a stack buffer (the local itoa).
pub(crate) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(crate) fn new(mut n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            // `n % 10` is below 10, so the cast cannot truncate.
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_writes_every_width() {
        for n in [0u64, 7, 10, 99, 100, 12345, 1 << 32, u64::MAX] {
            assert_eq!(Decimal::new(n).as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_control_line_and_its_payload_make_the_whole_operation() {
        for reply in [None, Some(&b"_INBOX.1"[..])] {
            let mut whole = BytesMut::new();
            encode_msg(&mut whole, b"a.b", b"7", reply, b"hello");
            let mut parts = BytesMut::new();
            encode_msg_line(&mut parts, b"a.b", b"7", reply, 5, 7);
            parts.extend_from_slice(b"hello\r\n");
            assert_eq!(parts, whole);

            let message = b"NATS/1.0\r\n\r\nhi";
            let mut whole = BytesMut::new();
            encode_hmsg(&mut whole, b"a.b", b"7", reply, 12, message);
            let mut parts = BytesMut::new();
            encode_hmsg_line(&mut parts, b"a.b", b"7", reply, 12, message.len(), 0);
            parts.extend_from_slice(message);
            parts.extend_from_slice(b"\r\n");
            assert_eq!(parts, whole);
        }
    }

    #[test]
    fn msg_without_reply() {
        let mut dst = BytesMut::new();
        encode_msg(&mut dst, b"foo.bar", b"9", None, b"hello");
        assert_eq!(&dst[..], b"MSG foo.bar 9 5\r\nhello\r\n");
    }

    #[test]
    fn msg_with_reply_and_empty_payload() {
        let mut dst = BytesMut::from(&b"PONG\r\n"[..]);
        encode_msg(&mut dst, b"a", b"1", Some(b"_INBOX.x"), b"");
        assert_eq!(&dst[..], b"PONG\r\nMSG a 1 _INBOX.x 0\r\n\r\n");
    }

    #[test]
    fn hmsg_with_and_without_reply() {
        let msg = b"NATS/1.0\r\nA: b\r\n\r\nbody";
        let mut dst = BytesMut::new();
        encode_hmsg(&mut dst, b"s", b"22", None, 18, msg);
        assert_eq!(
            &dst[..],
            b"HMSG s 22 18 22\r\nNATS/1.0\r\nA: b\r\n\r\nbody\r\n"
        );
        dst.clear();
        encode_hmsg(&mut dst, b"s", b"22", Some(b"r"), 18, msg);
        assert_eq!(
            &dst[..],
            b"HMSG s 22 r 18 22\r\nNATS/1.0\r\nA: b\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn err_line() {
        let mut dst = BytesMut::new();
        encode_err(&mut dst, "Unknown Protocol Operation");
        assert_eq!(&dst[..], b"-ERR 'Unknown Protocol Operation'\r\n");
    }

    #[test]
    fn encoders_reserve_exactly() {
        let mut dst = BytesMut::new();
        encode_msg(&mut dst, b"foo", b"1", Some(b"bar"), &[0u8; 100]);
        assert_eq!(dst.len(), "MSG foo 1 bar 100\r\n".len() + 100 + 2);
    }
}
