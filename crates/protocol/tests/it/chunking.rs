//! Arbitrary input, arbitrary chunking: the same result as feeding it whole,
//! no panic, and a bounded buffer.

use proptest::prelude::*;
use rnats_protocol::Limits;

use crate::support::{client_op, encode_all, feed};

const LIMITS: Limits = Limits {
    max_control_line: 256,
    max_payload: 2048,
};

/// The most a parser may hold while waiting: a full control line, or a
/// control line plus its payload and terminator.
fn bound() -> usize {
    let line = LIMITS.max_control_line + "CONNECT".len() + 2 + 1;
    line + LIMITS.max_payload + 2
}

/// Valid operations with bytes inserted, deleted and flipped, so that the
/// parser reaches its deeper states and then fails there.
fn mangled_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(client_op(), 0..8),
        any::<u64>(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(ops, seed, edits)| {
            let mut wire = encode_all(&ops, seed);
            for (at, byte, kind) in edits {
                let i = at.index(wire.len() + 1);
                match kind {
                    0 => wire.insert(i, byte),
                    1 if i < wire.len() => {
                        wire.remove(i);
                    }
                    _ if i < wire.len() => wire[i] = byte,
                    _ => {}
                }
            }
            wire
        })
}

fn same_whole_and_chunked(input: &[u8], chunks: &[usize]) -> Result<(), TestCaseError> {
    let whole = feed(LIMITS, input, &[], |_| {});
    let chunked = feed(LIMITS, input, chunks, |buf| {
        assert!(buf.len() <= bound(), "buffered {} bytes", buf.len());
    });
    prop_assert_eq!(whole, chunked);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_bytes(
        input in proptest::collection::vec(any::<u8>(), 0..512),
        chunks in proptest::collection::vec(1usize..32, 0..64),
    ) {
        same_whole_and_chunked(&input, &chunks)?;
    }

    #[test]
    fn mangled_operations(
        input in mangled_stream(),
        chunks in proptest::collection::vec(1usize..32, 0..256),
    ) {
        same_whole_and_chunked(&input, &chunks)?;
    }

    #[test]
    fn mangled_operations_byte_by_byte(input in mangled_stream()) {
        same_whole_and_chunked(&input, &vec![1; input.len()])?;
    }
}
