//! Random operations, encoded, concatenated, split anywhere: same ops back.

use proptest::prelude::*;
use rnats_protocol::{ClientOp, ClientParser, Limits};

use crate::support::{client_op, encode_all, feed};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ops_survive_any_chunking(
        ops in proptest::collection::vec(client_op(), 0..24),
        seed in any::<u64>(),
        chunks in proptest::collection::vec(1usize..64, 0..200),
    ) {
        let wire = encode_all(&ops, seed);
        let outcome = feed(Limits::default(), &wire, &chunks, |_| {});
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.ops, ops);
    }

    #[test]
    fn ops_survive_byte_by_byte(
        ops in proptest::collection::vec(client_op(), 0..6),
        seed in any::<u64>(),
    ) {
        let wire = encode_all(&ops, seed);
        let outcome = feed(Limits::default(), &wire, &vec![1; wire.len()], |_| {});
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.ops, ops);
    }

    #[test]
    fn whole_stream_leaves_nothing_behind(
        ops in proptest::collection::vec(client_op(), 1..24),
        seed in any::<u64>(),
    ) {
        let wire = encode_all(&ops, seed);
        let mut parser = ClientParser::default();
        let mut buf = bytes::BytesMut::from(&wire[..]);
        let mut parsed = Vec::new();
        while let Some(op) = parser.parse(&mut buf).unwrap() {
            parsed.push(op);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(parsed, ops);
    }
}

#[test]
fn pub_fields_are_slices_not_copies() {
    let mut parser = ClientParser::default();
    let mut buf = bytes::BytesMut::from(&b"PUB a.b r 3\r\nxyz\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let end = start + buf.len();
    let Some(ClientOp::Pub {
        subject,
        reply,
        payload,
    }) = parser.parse(&mut buf).unwrap()
    else {
        panic!("expected PUB");
    };
    for field in [subject, reply.unwrap(), payload] {
        let at = field.as_ptr() as usize;
        assert!((start..end).contains(&at), "{field:?} was copied");
    }
}
