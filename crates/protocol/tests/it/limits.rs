//! max_payload and max_control_line at their boundaries.

use proptest::prelude::*;
use rnats_protocol::{ClientOp, ClientParser, Limits, ProtocolError};

use crate::support::feed;

fn limits(max_payload: usize) -> Limits {
    Limits {
        max_payload,
        ..Limits::default()
    }
}

fn pub_of(size: usize) -> Vec<u8> {
    let mut wire = format!("PUB subj {size}\r\n").into_bytes();
    wire.resize(wire.len() + size, b'p');
    wire.extend_from_slice(b"\r\n");
    wire
}

fn hpub_of(header_len: usize, size: usize) -> Vec<u8> {
    let mut wire = format!("HPUB subj reply {header_len} {size}\r\n").into_bytes();
    wire.resize(wire.len() + size, b'h');
    wire.extend_from_slice(b"\r\n");
    wire
}

proptest! {
    #[test]
    fn payload_of_exactly_max_passes(max in 0usize..4096, chunks in proptest::collection::vec(1usize..512, 0..20)) {
        let outcome = feed(limits(max), &pub_of(max), &chunks, |_| {});
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.ops.len(), 1);
        let outcome = feed(limits(max), &hpub_of(max / 2, max), &chunks, |_| {});
        prop_assert_eq!(outcome.error, None);
        prop_assert_eq!(outcome.ops.len(), 1);
    }

    #[test]
    fn one_byte_over_max_fails(max in 0usize..4096, chunks in proptest::collection::vec(1usize..512, 0..20)) {
        let over = ProtocolError::MaxPayloadExceeded { size: max + 1, max };
        let outcome = feed(limits(max), &pub_of(max + 1), &chunks, |_| {});
        prop_assert_eq!(outcome.error, Some(over));
        prop_assert!(outcome.ops.is_empty());
        let outcome = feed(limits(max), &hpub_of(0, max + 1), &chunks, |_| {});
        prop_assert_eq!(outcome.error, Some(over));
    }
}

#[test]
fn default_max_payload_boundary() {
    let max = Limits::default().max_payload;
    assert_eq!(max, 1024 * 1024);
    let outcome = feed(Limits::default(), &pub_of(max), &[1000; 2000], |_| {});
    assert_eq!(outcome.error, None);
    let Some(ClientOp::Pub { payload, .. }) = outcome.ops.first() else {
        panic!("expected PUB");
    };
    assert_eq!(payload.len(), max);

    // Rejected from the control line alone, before any payload is sent.
    let line = format!("PUB subj {}\r\n", max + 1);
    let outcome = feed(Limits::default(), line.as_bytes(), &[], |_| {});
    assert_eq!(
        outcome.error,
        Some(ProtocolError::MaxPayloadExceeded { size: max + 1, max })
    );
}

#[test]
fn control_line_boundary_for_every_verb_with_arguments() {
    let limits = Limits {
        max_control_line: 64,
        ..Limits::default()
    };
    for verb in ["CONNECT", "SUB", "UNSUB", "PUB", "HPUB", "INFO", "-ERR"] {
        for (len, ok) in [(64, true), (65, false)] {
            let line = format!("{verb} {}\r\n", "x".repeat(len));
            let mut parser = ClientParser::new(limits);
            let mut buf = bytes::BytesMut::from(line.as_bytes());
            let result = parser.parse(&mut buf);
            if ok {
                // Within the limit: whatever the verb makes of one long
                // argument, it is not a control-line error.
                assert_ne!(
                    result,
                    Err(ProtocolError::MaxControlLineExceeded),
                    "{verb} {len}"
                );
            } else {
                assert_eq!(
                    result,
                    Err(ProtocolError::MaxControlLineExceeded),
                    "{verb} {len}"
                );
            }
        }
    }
}

#[test]
fn unterminated_control_line_is_bounded() {
    let limits = Limits {
        max_control_line: 100,
        ..Limits::default()
    };
    for verb in [
        "CONNECT ", "SUB ", "PUB ", "HPUB ", "UNSUB ", "INFO ", "-ERR ",
    ] {
        let mut wire = verb.as_bytes().to_vec();
        wire.resize(10_000, b'a');
        let mut most = 0;
        let outcome = feed(limits, &wire, &[1; 10_000], |buf| {
            most = most.max(buf.len())
        });
        assert_eq!(
            outcome.error,
            Some(ProtocolError::MaxControlLineExceeded),
            "{verb}"
        );
        assert!(most <= 100 + 7 + 2, "{verb} buffered {most} bytes");
    }
}
