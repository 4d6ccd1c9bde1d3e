//! Encoders for the operations a client sends to the server.
//!
//! Like the server-side encoders, each appends one complete operation to a
//! caller-supplied [`BytesMut`] after reserving the exact space, and formats
//! numbers without allocating. What [`ClientParser`](crate::ClientParser)
//! parses back is exactly what was encoded.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

use crate::encode::{CRLF, Decimal};

/// Appends `CONNECT <json>\r\n` with `options` serialised as JSON, e.g. a
/// [`ConnectOptions`](crate::ConnectOptions) or a `serde_json::Value`.
///
/// # Errors
/// The serialiser's error when `options` cannot be written as JSON (such as a
/// map with non-string keys); `dst` is then left as it was.
pub fn encode_connect<T: Serialize + ?Sized>(
    dst: &mut BytesMut,
    options: &T,
) -> Result<(), serde_json::Error> {
    let start = dst.len();
    dst.put_slice(b"CONNECT ");
    if let Err(err) = serde_json::to_writer(dst.writer(), options) {
        dst.truncate(start);
        return Err(err);
    }
    dst.put_slice(CRLF);
    Ok(())
}

/// Appends `CONNECT <json>\r\n` with `json` written as given (it must not
/// contain a line end).
pub fn encode_connect_json(dst: &mut BytesMut, json: &[u8]) {
    dst.reserve(b"CONNECT ".len() + json.len() + CRLF.len());
    dst.put_slice(b"CONNECT ");
    dst.put_slice(json);
    dst.put_slice(CRLF);
}

/// Appends `PUB <subject> [reply] <len>\r\n<payload>\r\n`.
pub fn encode_pub(dst: &mut BytesMut, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    let len = Decimal::new(payload.len() as u64);
    let len = len.as_bytes();
    let rest = len.len() + CRLF.len() + payload.len() + CRLF.len();
    put_subject_reply(dst, b"PUB ", subject, reply, rest);
    dst.put_slice(len);
    dst.put_slice(CRLF);
    dst.put_slice(payload);
    dst.put_slice(CRLF);
}

/// Appends `HPUB <subject> [reply] <hdr_len> <total_len>\r\n<message>\r\n`.
///
/// `message` is the header block followed by the body; `header_len` is the
/// length of the header block and must not exceed `message.len()`.
pub fn encode_hpub(
    dst: &mut BytesMut,
    subject: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    message: &[u8],
) {
    debug_assert!(header_len <= message.len(), "header_len exceeds message");
    let hdr = Decimal::new(header_len as u64);
    let hdr = hdr.as_bytes();
    let total = Decimal::new(message.len() as u64);
    let total = total.as_bytes();
    let rest = hdr.len() + 1 + total.len() + CRLF.len() + message.len() + CRLF.len();
    put_subject_reply(dst, b"HPUB ", subject, reply, rest);
    dst.put_slice(hdr);
    dst.put_u8(b' ');
    dst.put_slice(total);
    dst.put_slice(CRLF);
    dst.put_slice(message);
    dst.put_slice(CRLF);
}

/// Appends `SUB <subject> [queue] <sid>\r\n`.
pub fn encode_sub(dst: &mut BytesMut, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
    put_subject_reply(dst, b"SUB ", subject, queue, sid.len() + CRLF.len());
    dst.put_slice(sid);
    dst.put_slice(CRLF);
}

/// Appends `UNSUB <sid> [max]\r\n`: with `max`, the server unsubscribes after
/// that many more messages.
pub fn encode_unsub(dst: &mut BytesMut, sid: &[u8], max: Option<u64>) {
    let max = max.map(Decimal::new);
    let max = max.as_ref().map(Decimal::as_bytes);
    dst.reserve(b"UNSUB ".len() + sid.len() + max.map_or(0, |m| m.len() + 1) + CRLF.len());
    dst.put_slice(b"UNSUB ");
    dst.put_slice(sid);
    if let Some(max) = max {
        dst.put_u8(b' ');
        dst.put_slice(max);
    }
    dst.put_slice(CRLF);
}

/// Reserves room for the whole operation (`rest` bytes after the prefix) and
/// writes `<verb><subject> [middle] `, the part PUB, HPUB and SUB share.
fn put_subject_reply(
    dst: &mut BytesMut,
    verb: &[u8],
    subject: &[u8],
    middle: Option<&[u8]>,
    rest: usize,
) {
    dst.reserve(verb.len() + subject.len() + 1 + middle.map_or(0, |m| m.len() + 1) + rest);
    dst.put_slice(verb);
    dst.put_slice(subject);
    dst.put_u8(b' ');
    if let Some(middle) = middle {
        dst.put_slice(middle);
        dst.put_u8(b' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_from_a_struct_and_from_json() {
        #[derive(Serialize)]
        struct Hello {
            verbose: bool,
            name: &'static str,
        }
        let mut dst = BytesMut::new();
        encode_connect(
            &mut dst,
            &Hello {
                verbose: false,
                name: "x",
            },
        )
        .unwrap();
        encode_connect_json(&mut dst, br#"{"echo":true}"#);
        assert_eq!(
            &dst[..],
            b"CONNECT {\"verbose\":false,\"name\":\"x\"}\r\nCONNECT {\"echo\":true}\r\n"
        );
    }

    #[test]
    fn connect_that_cannot_serialise_leaves_dst_alone() {
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        let mut dst = BytesMut::from(&b"PING\r\n"[..]);
        assert!(encode_connect(&mut dst, &bad).is_err());
        assert_eq!(&dst[..], b"PING\r\n");
    }

    #[test]
    fn pub_and_hpub() {
        let mut dst = BytesMut::new();
        encode_pub(&mut dst, b"foo", None, b"hello");
        encode_pub(&mut dst, b"foo", Some(b"_INBOX.1"), b"");
        encode_hpub(&mut dst, b"s", None, 12, b"NATS/1.0\r\n\r\nhi");
        encode_hpub(&mut dst, b"s", Some(b"r"), 12, b"NATS/1.0\r\n\r\n");
        assert_eq!(
            &dst[..],
            &b"PUB foo 5\r\nhello\r\n\
               PUB foo _INBOX.1 0\r\n\r\n\
               HPUB s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n\
               HPUB s r 12 12\r\nNATS/1.0\r\n\r\n\r\n"[..]
        );
    }

    #[test]
    fn sub_and_unsub() {
        let mut dst = BytesMut::new();
        encode_sub(&mut dst, b"foo.*", None, b"1");
        encode_sub(&mut dst, b"foo.>", Some(b"workers"), b"22");
        encode_unsub(&mut dst, b"1", None);
        encode_unsub(&mut dst, b"22", Some(10));
        assert_eq!(
            &dst[..],
            &b"SUB foo.* 1\r\nSUB foo.> workers 22\r\nUNSUB 1\r\nUNSUB 22 10\r\n"[..]
        );
    }

    #[test]
    fn encoders_reserve_exactly() {
        for encode in [
            (|d: &mut BytesMut| encode_pub(d, b"a", Some(b"r"), &[7; 300])) as fn(&mut BytesMut),
            |d| encode_hpub(d, b"a", None, 3, &[7; 300]),
            |d| encode_sub(d, b"a", Some(b"q"), b"99"),
            |d| encode_unsub(d, b"99", Some(123_456)),
            |d| encode_connect_json(d, b"{}"),
        ] {
            let mut dst = BytesMut::new();
            encode(&mut dst);
            let len = dst.len();
            let mut exact = BytesMut::with_capacity(len);
            encode(&mut exact);
            assert_eq!(exact.len(), len);
            assert_eq!(exact.capacity(), len);
        }
    }
}
