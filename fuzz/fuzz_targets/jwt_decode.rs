//! Arbitrary text as a user JWT (what a client sends in CONNECT): decoding and peeking at the
//! issuer must never panic, and a JWT that decodes names the issuer that peeking found.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let issuer = rnats_jwt::peek_issuer(text);
    if let Ok(claims) = rnats_jwt::decode_user(text) {
        let issuer = issuer.expect("a JWT that decodes has an issuer");
        assert_eq!(claims.issuer, issuer);
    }
});
