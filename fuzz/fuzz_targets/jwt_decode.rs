//! Arbitrary text as a NATS JWT (what a client sends in CONNECT, what a resolver stores) and
//! as a creds or operator file: nothing may panic; a token that decodes names the issuer and
//! type that peeking found; a creds file that parses holds a user seed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let issuer = rnats_jwt::peek_issuer(text);
    let peeked = rnats_jwt::peek(text);
    if let Ok(claims) = rnats_jwt::decode_user(text) {
        let issuer = issuer.expect("a JWT that decodes has an issuer");
        assert_eq!(claims.issuer, issuer);
    }
    if let Ok(claims) = rnats_jwt::decode(text) {
        let peeked = peeked.expect("a JWT that decodes can be peeked at");
        assert_eq!(claims.issuer(), peeked.issuer);
        assert_eq!(claims.subject(), peeked.subject);
        assert_eq!(claims.kind(), peeked.kind);
    }
    let _ = rnats_jwt::decode_generic(text);

    // The same text as a file.
    let jwt = rnats_jwt::parse_decorated_jwt(text);
    let _ = rnats_jwt::decode_operator(jwt);
    if let Ok(creds) = rnats_jwt::parse_user_creds(text) {
        let key = creds.seed.key_pair().expect("a parsed seed is valid");
        assert!(key.public_key().starts_with('U'), "a creds seed is a user's");
    }
    let _ = rnats_jwt::parse_decorated_seed(text);
});
