//! Why tokens are refused: each check, and its error.

use nkeys::KeyPair;
use rnats_jwt::{
    AccountClaims, ClaimKind, JwtError, UserClaims, decode_account_at, decode_at,
    decode_generic_at, decode_operator_at, decode_user_at, encode_account, encode_user, peek,
};
use serde_json::json;

use super::{V1_HEADER, V2_HEADER, at, sign_raw};

#[test]
fn wrong_type_is_named() {
    let account = KeyPair::new_account();
    let jwt = encode_user(
        &UserClaims::new(KeyPair::new_user().public_key(), ""),
        &account,
    );
    assert_eq!(
        decode_account_at(&jwt, at(1)),
        Err(JwtError::WrongClaimType {
            expected: ClaimKind::Account,
            found: "user".into()
        })
    );
}

#[test]
fn versions_outside_one_and_two_are_refused() {
    let acc = KeyPair::new_account();
    let sub = KeyPair::new_user().public_key();
    for (version, err) in [
        (3, JwtError::UnsupportedVersion(3)),
        (0, JwtError::UnsupportedVersion(0)),
    ] {
        let p = json!({"iss": acc.public_key(), "sub": sub, "nats": {"type": "user", "version": version}});
        let jwt = sign_raw(V2_HEADER, &p, &acc, false);
        assert_eq!(decode_user_at(&jwt, at(1)), Err(err.clone()));
        assert_eq!(decode_at(&jwt, at(1)).map(|c| c.kind()), Err(err));
    }
}

#[test]
fn issuer_roles_follow_nats_io_jwt() {
    let user_key = KeyPair::new_user();
    let p = json!({"iss": user_key.public_key(), "sub": KeyPair::new_account().public_key(),
                   "nats": {"type": "account", "version": 2}});
    let jwt = sign_raw(V2_HEADER, &p, &user_key, false);
    let err = decode_account_at(&jwt, at(1)).unwrap_err();
    assert!(
        matches!(
            err,
            JwtError::BadIssuer {
                claim: ClaimKind::Account,
                ..
            }
        ),
        "{err}"
    );
    // Accounts may not sign operators.
    let acc = KeyPair::new_account();
    let p = json!({"iss": acc.public_key(), "sub": acc.public_key(),
                   "nats": {"type": "operator", "version": 2}});
    let jwt = sign_raw(V2_HEADER, &p, &acc, false);
    assert!(matches!(
        decode_operator_at(&jwt, at(1)),
        Err(JwtError::BadIssuer { .. })
    ));
    // Generic tokens may come from any key.
    let p = json!({"iss": user_key.public_key(), "sub": "anything", "nats": {"x": 1}});
    let jwt = sign_raw(V2_HEADER, &p, &user_key, false);
    assert_eq!(decode_generic_at(&jwt, at(1)).unwrap().data["x"], 1);
}

#[test]
fn subjects_must_have_the_right_role() {
    let op = KeyPair::new_operator();
    let p = json!({"iss": op.public_key(), "sub": KeyPair::new_user().public_key(),
                   "nats": {"type": "account", "version": 2}});
    let jwt = sign_raw(V2_HEADER, &p, &op, false);
    let err = decode_account_at(&jwt, at(1)).unwrap_err();
    assert!(
        err.to_string().contains("is not an account public key"),
        "{err}"
    );
}

#[test]
fn issuer_account_must_be_an_account_key() {
    let acc = KeyPair::new_account();
    let p = json!({"iss": acc.public_key(), "sub": KeyPair::new_user().public_key(),
                   "nats": {"type": "user", "version": 2, "issuer_account": "UNOTANACCOUNT"}});
    let jwt = sign_raw(V2_HEADER, &p, &acc, false);
    assert!(matches!(
        decode_user_at(&jwt, at(1)),
        Err(JwtError::BadIssuerAccount(_))
    ));
}

#[test]
fn v1_tokens_are_signed_over_the_payload() {
    let acc = KeyPair::new_account();
    let user = KeyPair::new_user().public_key();
    let p = json!({"iss": acc.public_key(), "sub": user, "type": "user", "tags": ["t"],
                   "issuer_account": acc.public_key(),
                   "nats": {"pub": {"allow": ["a"]}, "bearer_token": true}});
    let jwt = sign_raw(V1_HEADER, &p, &acc, true);
    let u = decode_user_at(&jwt, at(1)).unwrap();
    assert_eq!((u.version, u.bearer_token), (1, true));
    assert_eq!(u.tags, ["t"]);
    assert_eq!(u.issuer_account, Some(acc.public_key()));
    assert_eq!(u.limits.payload, -1);
    // Signed the version-2 way, a version-1 payload does not verify.
    let wrong = sign_raw(V1_HEADER, &p, &acc, false);
    assert_eq!(decode_user_at(&wrong, at(1)), Err(JwtError::BadSignature));
}

#[test]
fn unsupported_types_are_named() {
    let server = KeyPair::new_server();
    for kind in ["authorization_request", "cluster", "server"] {
        let p =
            json!({"iss": server.public_key(), "sub": "x", "nats": {"type": kind, "version": 2}});
        let jwt = sign_raw(V2_HEADER, &p, &server, false);
        assert_eq!(
            decode_at(&jwt, at(1)),
            Err(JwtError::UnsupportedClaimType(kind.into()))
        );
    }
}

#[test]
fn unknown_fields_are_ignored_and_nulls_are_missing() {
    let op = KeyPair::new_operator();
    let acc = KeyPair::new_account().public_key();
    let p = json!({"iss": op.public_key(), "sub": acc, "name": null, "future": {"x": 1},
                   "nats": {"type": "account", "version": 2, "limits": {"conn": 3, "new": true},
                            "exports": null, "whatever": [1, 2]}});
    let jwt = sign_raw(V2_HEADER, &p, &op, false);
    let a = decode_account_at(&jwt, at(1)).unwrap();
    assert_eq!(
        (a.limits.conn, a.name.as_deref(), a.exports.len()),
        (3, None, 0)
    );
}

#[test]
fn bad_export_type_refuses_the_account_like_go() {
    let op = KeyPair::new_operator();
    let p = json!({"iss": op.public_key(), "sub": KeyPair::new_account().public_key(),
                   "nats": {"type": "account", "version": 2, "exports": [{"subject": "a", "type": "queue"}]}});
    let jwt = sign_raw(V2_HEADER, &p, &op, false);
    let err = decode_account_at(&jwt, at(1)).unwrap_err();
    assert!(
        matches!(
            err,
            JwtError::Json {
                part: "payload",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn peek_reads_without_verifying() {
    let op = KeyPair::new_operator();
    let mut c = AccountClaims::new(KeyPair::new_account().public_key());
    c.name = Some("n".into());
    let jwt = encode_account(&c, &op).unwrap();
    let forged = format!("{}.AAAA", &jwt[..jwt.rfind('.').unwrap()]);
    let p = peek(&forged).unwrap();
    assert_eq!(
        (p.kind, p.issuer, p.name),
        (ClaimKind::Account, op.public_key(), Some("n".into()))
    );
    assert!(decode_account_at(&forged, at(1)).is_err());
}
