//! Arbitrary bytes as CONNECT's JSON: decoding never panics (serde_json bounds its recursion).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rnats_protocol::ConnectOptions::from_json(data);
});
