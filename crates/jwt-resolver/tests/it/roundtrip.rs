use std::time::{Duration, SystemTime};

use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;
use proptest::prelude::*;
use rnats_jwt::{
    JwtError, Permission, ResponsePermission, UserClaims, UserLimits, decode_user, decode_user_at,
    encode_user,
};

fn full_claims(user: &KeyPair, account: &KeyPair) -> UserClaims {
    let mut c = UserClaims::new(user.public_key(), "ignored: the signer is the issuer");
    c.name = Some("alice".into());
    c.issuer_account = Some(account.public_key());
    c.bearer_token = true;
    c.permissions.publish = Permission::new(vec!["orders.>".into()], vec!["orders.secret".into()]);
    c.permissions.subscribe = Permission::allow(["_INBOX.> grp"]);
    c.permissions.resp = Some(ResponsePermission::new(
        Some(3),
        Some(Duration::from_secs(5)),
    ));
    c.allowed_connection_types = vec!["STANDARD".into(), "WEBSOCKET".into()];
    c.source_networks = vec!["127.0.0.0/8".into()];
    c.expires = Some(SystemTime::now() + Duration::from_secs(3600));
    c.tags = vec!["team:a".into()];
    c
}

#[test]
fn every_field_survives_a_roundtrip() {
    let account = KeyPair::new_account();
    let signing = KeyPair::new_account();
    let user = KeyPair::new_user();
    let c = full_claims(&user, &account);
    let token = encode_user(&c, &signing);
    let d = decode_user(&token).unwrap();
    assert_eq!(d.subject, user.public_key());
    assert_eq!(d.issuer, signing.public_key());
    assert_eq!(d.issuer_account, Some(account.public_key()));
    assert_eq!(d.permissions, c.permissions);
    assert_eq!(d.allowed_connection_types, c.allowed_connection_types);
    assert_eq!(d.source_networks, c.source_networks);
    assert_eq!(d.limits, UserLimits::UNLIMITED);
    assert!(d.bearer_token);
    assert_eq!(d.tags, c.tags);
    assert!(!d.id.is_empty());
    assert!(d.issued_at.is_some());
    // exp is whole seconds on the wire.
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs(d.expires.unwrap()), secs(c.expires.unwrap()));
}

#[test]
fn wire_layout_is_nats() {
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let token = encode_user(&full_claims(&user, &account), &account);
    let payload = token.split('.').nth(1).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
    let nats = &json["nats"];
    assert_eq!(nats["type"], "user");
    assert_eq!(nats["version"], 2);
    assert_eq!(nats["pub"]["allow"][0], "orders.>");
    assert_eq!(nats["sub"]["allow"][0], "_INBOX.> grp");
    assert_eq!(nats["resp"]["max"], 3);
    assert_eq!(nats["resp"]["ttl"], 5_000_000_000_i64);
    assert_eq!(nats["bearer_token"], true);
    assert_eq!(nats["subs"], -1);
    assert_eq!(json["sub"], user.public_key());
    assert_eq!(json["iss"], account.public_key());
}

#[test]
fn tampering_is_detected() {
    let account = KeyPair::new_account();
    let user = KeyPair::new_user();
    let token = encode_user(&UserClaims::new(user.public_key(), ""), &account);
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();

    // A payload re-signed by another account key is authentic but from a different issuer;
    // swapping only the payload breaks the signature.
    let other = encode_user(
        &UserClaims::new(KeyPair::new_user().public_key(), ""),
        &account,
    );
    parts[1] = other.split('.').nth(1).unwrap().to_owned();
    assert_eq!(decode_user(&parts.join(".")), Err(JwtError::BadSignature));

    // Claiming another issuer in the payload.
    let mut c = UserClaims::new(user.public_key(), "");
    c.name = Some("x".into());
    let forged_by = KeyPair::new_account();
    let forged = encode_user(&c, &forged_by);
    let forged_payload = forged.split('.').nth(1).unwrap();
    let sig = token.split('.').nth(2).unwrap();
    let head = token.split('.').next().unwrap();
    assert_eq!(
        decode_user(&format!("{head}.{forged_payload}.{sig}")),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn malformed_tokens_are_refused() {
    assert_eq!(decode_user(""), Err(JwtError::Malformed));
    assert_eq!(decode_user("a.b"), Err(JwtError::Malformed));
    assert_eq!(decode_user("a.b.c.d"), Err(JwtError::Malformed));
    assert_eq!(
        decode_user("!!.b.c"),
        Err(JwtError::Base64 { part: "header" })
    );
    let big = "a".repeat(rnats_jwt::MAX_TOKEN_SIZE + 1);
    assert!(matches!(decode_user(&big), Err(JwtError::TooLarge { .. })));
    // Neither algorithm nats knows.
    let head = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"HS256"}"#);
    assert!(matches!(
        decode_user(&format!("{head}.e30.AA")),
        Err(JwtError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn expired_and_future_tokens_are_refused() {
    let account = KeyPair::new_account();
    let mut c = UserClaims::new(KeyPair::new_user().public_key(), "");
    let now = SystemTime::now();
    c.expires = Some(now - Duration::from_secs(5));
    assert_eq!(
        decode_user(&encode_user(&c, &account)),
        Err(JwtError::Expired)
    );
    c.expires = None;
    c.not_before = Some(now + Duration::from_secs(60));
    let t = encode_user(&c, &account);
    assert_eq!(decode_user(&t), Err(JwtError::NotYetValid));
    assert!(decode_user_at(&t, now + Duration::from_secs(61)).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Arbitrary text never panics the decoder.
    #[test]
    fn decoder_never_panics(s in ".{0,300}") {
        let _ = decode_user(&s);
        let _ = rnats_jwt::decode(&s);
        let _ = rnats_jwt::peek(&s);
        let _ = rnats_jwt::parse_user_creds(&s);
        let _ = rnats_jwt::parse_decorated_seed(&s);
    }

    /// Nor do arbitrary files made of fences, tokens and seed-like lines.
    #[test]
    fn creds_parser_never_panics(lines in proptest::collection::vec("(-{0,8}[A-Z ]{0,6}-{0,8}|[A-Za-z0-9._=-]{0,20}|SU[A-Z0-9]{0,56}|\\r)", 0..12)) {
        let text = lines.join("\n");
        let _ = rnats_jwt::parse_user_creds(&text);
        let _ = rnats_jwt::parse_decorated_jwt(&text);
    }

    /// Arbitrary base64url parts never panic it either.
    #[test]
    fn decoder_never_panics_on_parts(a in "[A-Za-z0-9_-]{0,80}", b in "[A-Za-z0-9_-]{0,200}", c in "[A-Za-z0-9_-]{0,100}") {
        let _ = decode_user(&format!("{a}.{b}.{c}"));
    }
}
