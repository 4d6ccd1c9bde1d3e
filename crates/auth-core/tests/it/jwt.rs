//! User JWTs issued by account signing keys (config mode).

use std::time::{Duration, SystemTime};

use nkeys::KeyPair;
use rnats_auth::{AuthError, AuthMethod, AuthRequest, Authenticator, ConnectionType, ServerAuth};
use rnats_jwt::{JwtError, Permission, UserClaims, encode_user};

use crate::{anonymous, server};

struct Setup {
    auth: ServerAuth,
    signing: KeyPair,
    account: KeyPair,
}

fn setup() -> Setup {
    let signing = KeyPair::new_account();
    let account = KeyPair::new_account();
    let auth = server(&format!(
        r#"accounts {{
             PROD {{ nkey: {a}, signing_keys: [ {s} ],
                     default_permissions: {{ publish: "defaults.>" }} }}
             DEV {{ users [ {{ user: d, password: pw }} ] }}
           }}"#,
        a = account.public_key(),
        s = signing.public_key()
    ));
    Setup {
        auth,
        signing,
        account,
    }
}

fn request(jwt: String, user: Option<&KeyPair>, nonce: &str) -> AuthRequest {
    let mut r = anonymous();
    r.jwt = Some(jwt);
    r.nonce = Some(nonce.into());
    if let Some(u) = user {
        r.sig = Some(data_encoding::BASE64URL_NOPAD.encode(&u.sign(nonce.as_bytes()).unwrap()));
    }
    r
}

#[test]
fn jwt_from_signing_key_joins_the_account() {
    let s = setup();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), "");
    c.issuer_account = Some(s.account.public_key());
    c.permissions.subscribe = Permission::allow(["in.>"]);
    let who = s
        .auth
        .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n1"))
        .unwrap();
    assert_eq!(
        (who.account.as_str(), who.method),
        ("PROD", AuthMethod::Jwt)
    );
    assert_eq!(who.identity, user.public_key());
    let p = who.permissions.unwrap();
    assert!(p.may_subscribe(b"in.x", None));
    assert!(!p.may_subscribe(b"out.x", None));
    assert!(p.may_publish(b"anything"));
}

#[test]
fn account_identity_key_may_issue_too() {
    let s = setup();
    let user = KeyPair::new_user();
    let c = UserClaims::new(user.public_key(), "");
    let who = s
        .auth
        .authenticate(&request(encode_user(&c, &s.account), Some(&user), "n"))
        .unwrap();
    assert_eq!(who.account, "PROD");
}

#[test]
fn jwt_without_permissions_gets_account_defaults() {
    let s = setup();
    let user = KeyPair::new_user();
    let c = UserClaims::new(user.public_key(), "");
    let who = s
        .auth
        .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n"))
        .unwrap();
    let p = who.permissions.unwrap();
    assert!(p.may_publish(b"defaults.x") && !p.may_publish(b"x"));
}

#[test]
fn nonce_signature_is_required_unless_bearer() {
    let s = setup();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), "");
    let jwt = encode_user(&c, &s.signing);
    assert!(matches!(
        s.auth.authenticate(&request(jwt.clone(), None, "n")),
        Err(AuthError::MissingNonceSignature { .. })
    ));
    // Signed by the wrong user key.
    assert!(matches!(
        s.auth
            .authenticate(&request(jwt, Some(&KeyPair::new_user()), "n")),
        Err(AuthError::BadSignature { .. })
    ));
    c.bearer_token = true;
    assert!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), None, "n"))
            .is_ok()
    );
}

#[test]
fn unknown_signers_and_bad_tokens_are_refused() {
    let s = setup();
    let user = KeyPair::new_user();
    let c = UserClaims::new(user.public_key(), "");
    assert!(matches!(
        s.auth.authenticate(&request(
            encode_user(&c, &KeyPair::new_account()),
            Some(&user),
            "n"
        )),
        Err(AuthError::UnknownSigningKey { .. })
    ));
    // Change one character in the middle of the signature.
    let mut jwt = encode_user(&c, &s.signing).into_bytes();
    let i = jwt.len() - 20;
    jwt[i] = if jwt[i] == b'A' { b'B' } else { b'A' };
    let jwt = String::from_utf8(jwt).unwrap();
    assert!(
        s.auth
            .authenticate(&request(jwt, Some(&user), "n"))
            .is_err()
    );
    assert!(matches!(
        s.auth
            .authenticate(&request("not.a.jwt".into(), Some(&user), "n")),
        Err(AuthError::BadJwt(_))
    ));
}

#[test]
fn issuer_account_must_match() {
    let s = setup();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), "");
    c.issuer_account = Some(KeyPair::new_account().public_key());
    assert!(matches!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n")),
        Err(AuthError::IssuerAccountMismatch { .. })
    ));
}

#[test]
fn expiry_connection_types_and_source_networks() {
    let s = setup();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), "");
    c.expires = Some(SystemTime::now() - Duration::from_secs(10));
    assert!(matches!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n")),
        Err(AuthError::BadJwt(JwtError::Expired))
    ));
    c.expires = Some(SystemTime::now() + Duration::from_secs(3600));
    let who = s
        .auth
        .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n"))
        .unwrap();
    assert!(who.expires.is_some());

    c.allowed_connection_types = vec!["WEBSOCKET".into(), "SOMETHING_NEW".into()];
    let jwt = encode_user(&c, &s.signing);
    assert!(matches!(
        s.auth.authenticate(&request(jwt.clone(), Some(&user), "n")),
        Err(AuthError::ConnectionTypeNotAllowed { .. })
    ));
    let mut r = request(jwt, Some(&user), "n");
    r.connection_type = ConnectionType::Websocket;
    assert!(s.auth.authenticate(&r).is_ok());
    c.allowed_connection_types = vec!["SOMETHING_NEW".into()];
    assert!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n"))
            .is_err()
    );

    c.allowed_connection_types.clear();
    c.source_networks = vec!["10.0.0.0/8".into()];
    assert!(matches!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n")),
        Err(AuthError::SourceNotAllowed { .. })
    ));
    c.source_networks.push("127.0.0.1/32".into());
    assert!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n"))
            .is_ok()
    );
}

#[test]
fn restrictions_that_cannot_be_enforced_are_refused() {
    let s = setup();
    let user = KeyPair::new_user();
    let mut c = UserClaims::new(user.public_key(), "");
    c.times = vec![rnats_jwt::TimeRange {
        start: "00:00:00".into(),
        end: "23:59:59".into(),
    }];
    assert!(matches!(
        s.auth
            .authenticate(&request(encode_user(&c, &s.signing), Some(&user), "n")),
        Err(AuthError::UnsupportedRestriction { .. })
    ));
}

#[test]
fn password_users_still_work_beside_signing_keys() {
    let s = setup();
    assert_eq!(
        s.auth
            .authenticate(&crate::login("d", "pw"))
            .unwrap()
            .account,
        "DEV"
    );
}

#[test]
fn jwt_is_ignored_without_signing_keys() {
    // Without any signing key configured, a JWT in CONNECT is not a credential.
    let auth = server(r#"authorization { users = [ { user: u, password: pw } ] }"#);
    let user = KeyPair::new_user();
    let jwt = encode_user(
        &UserClaims::new(user.public_key(), ""),
        &KeyPair::new_account(),
    );
    let mut r = request(jwt, Some(&user), "n");
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::NoCredentials)
    ));
    r.user = Some("u".into());
    r.pass = Some("pw".into());
    assert!(auth.authenticate(&r).is_ok());
}
