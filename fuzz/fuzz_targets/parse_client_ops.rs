//! Arbitrary bytes, split into arbitrary chunks, fed to the client parser.
//!
//! Checks: no panic; while waiting for more bytes the parser never holds
//! more than one control line plus one payload; and the chunked result (ops
//! and the final error) equals the result of parsing the bytes whole.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rnats_protocol::{ClientOp, ClientParser, Limits, ProtocolError};

/// Small limits so that both limit checks are reachable by the fuzzer.
const LIMITS: Limits = Limits {
    max_control_line: 128,
    max_payload: 1024,
};

/// Longest verb, one blank, the arguments, '\r' and '\n'; then the payload
/// and its "\r\n".
const MAX_BUFFERED: usize = "CONNECT".len() + 1 + 128 + 2 + 1024 + 2;

fn parse(data: &[u8], chunk_sizes: &[u8]) -> (Vec<ClientOp>, Option<ProtocolError>) {
    let mut parser = ClientParser::new(LIMITS);
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut rest = data;
    let mut sizes = chunk_sizes.iter().map(|&s| usize::from(s) + 1);
    while !rest.is_empty() {
        let take = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        buf.extend_from_slice(chunk);
        rest = tail;
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(err) => return (ops, Some(err)),
            }
        }
        assert!(
            buf.len() <= MAX_BUFFERED,
            "parser holds {} bytes",
            buf.len()
        );
    }
    (ops, None)
}

fuzz_target!(|input: &[u8]| {
    // The first byte says how many of the following bytes describe chunk
    // sizes; the rest is the stream.
    let Some((&n, input)) = input.split_first() else {
        return;
    };
    let (chunk_sizes, data) = input.split_at(usize::from(n).min(input.len()));
    let whole = parse(data, &[]);
    let chunked = parse(data, chunk_sizes);
    assert_eq!(whole, chunked);
});
