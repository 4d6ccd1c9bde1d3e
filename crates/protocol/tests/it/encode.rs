//! Server-side encoders, checked byte for byte.

use bytes::BytesMut;
use proptest::prelude::*;
use rnats_protocol::{OK, PING, PONG, encode_err, encode_hmsg, encode_msg};

fn token() -> impl Strategy<Value = Vec<u8>> {
    "[!-~]{1,24}".prop_map(String::into_bytes)
}

proptest! {
    #[test]
    fn msg_byte_for_byte(
        prefix in proptest::collection::vec(any::<u8>(), 0..16),
        subject in token(),
        sid in token(),
        reply in proptest::option::of(token()),
        payload in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut expected = prefix.clone();
        expected.extend_from_slice(b"MSG ");
        expected.extend_from_slice(&subject);
        expected.push(b' ');
        expected.extend_from_slice(&sid);
        expected.push(b' ');
        if let Some(reply) = &reply {
            expected.extend_from_slice(reply);
            expected.push(b' ');
        }
        expected.extend_from_slice(payload.len().to_string().as_bytes());
        expected.extend_from_slice(b"\r\n");
        expected.extend_from_slice(&payload);
        expected.extend_from_slice(b"\r\n");

        let mut dst = BytesMut::from(&prefix[..]);
        encode_msg(&mut dst, &subject, &sid, reply.as_deref(), &payload);
        prop_assert_eq!(&dst[..], &expected[..]);
    }

    #[test]
    fn hmsg_byte_for_byte(
        subject in token(),
        sid in token(),
        reply in proptest::option::of(token()),
        message in proptest::collection::vec(any::<u8>(), 0..2048),
        split in any::<prop::sample::Index>(),
    ) {
        let header_len = split.index(message.len() + 1);
        let mut expected = b"HMSG ".to_vec();
        expected.extend_from_slice(&subject);
        expected.push(b' ');
        expected.extend_from_slice(&sid);
        expected.push(b' ');
        if let Some(reply) = &reply {
            expected.extend_from_slice(reply);
            expected.push(b' ');
        }
        expected.extend_from_slice(format!("{header_len} {}\r\n", message.len()).as_bytes());
        expected.extend_from_slice(&message);
        expected.extend_from_slice(b"\r\n");

        let mut dst = BytesMut::new();
        encode_hmsg(&mut dst, &subject, &sid, reply.as_deref(), header_len, &message);
        prop_assert_eq!(&dst[..], &expected[..]);
    }
}

#[test]
fn fixed_operations() {
    assert_eq!(PING, b"PING\r\n");
    assert_eq!(PONG, b"PONG\r\n");
    assert_eq!(OK, b"+OK\r\n");

    let mut dst = BytesMut::new();
    encode_err(&mut dst, "Maximum Payload Violation");
    encode_msg(&mut dst, b"foo", b"1", None, b"");
    encode_hmsg(
        &mut dst,
        b"_INBOX.a",
        b"2",
        None,
        16,
        b"NATS/1.0 503\r\n\r\n",
    );
    assert_eq!(
        &dst[..],
        &b"-ERR 'Maximum Payload Violation'\r\n\
           MSG foo 1 0\r\n\r\n\
           HMSG _INBOX.a 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"[..]
    );
}
