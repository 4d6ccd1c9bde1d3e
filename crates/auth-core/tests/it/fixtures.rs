//! Every seed fixture (configs from the NATS security docs): each user of KEYS.md logs in with
//! its secret and gets exactly the permissions its file grants.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nkeys::KeyPair;
use rnats_auth::{AuthError, AuthMethod, Authenticator, Authorized, ServerAuth};

use crate::{anonymous, login, nkey_login, token};

/// The seed configurations kept in the repository (`tests/fixtures/seed-configs`).
fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/seed-configs"
    ))
}

fn load(name: &str) -> ServerAuth {
    let loaded = rnats_config::load_file(&dir().join(name)).expect("fixture loads");
    ServerAuth::from_config(&loaded.config).expect("fixture builds")
}

const NKEY_1: &str = "SUAJD323CI3DZSQUAZGE7J5QMHJLVB3B6VQF5MKACFIJGEFOYTN7GLQASQ";
const NKEY_2: &str = "SUALXEK6EUSJIZJMXMSF77DQ63VKB6FSVKAZWRIWTOWPHFZI5AWULURXME";
const SIGNING_07: &str = "SAALO4IBTJ5Y7MK4DFBAYG3ZKXY35BDW3ECQOD6WK5RHHZMIPYM2ZAZOSE";

/// Spot-checks pub/sub decisions: `(subject, may publish, may subscribe)`.
fn check(who: &Authorized, cases: &[(&str, bool, bool)]) {
    let p = who.permissions.as_ref().expect("permissions");
    for &(s, publish, subscribe) in cases {
        assert_eq!(
            p.may_publish(s.as_bytes()),
            publish,
            "{} PUB {s}",
            who.identity
        );
        assert_eq!(
            p.may_subscribe(s.as_bytes(), None),
            subscribe,
            "{} SUB {s}",
            who.identity
        );
    }
}

#[test]
fn every_good_fixture_builds() {
    let mut n = 0;
    for e in std::fs::read_dir(dir()).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".conf") {
            continue;
        }
        let loaded = rnats_config::load_file(&path);
        if name.starts_with("bad-") {
            assert!(loaded.is_err(), "{name} must be refused");
        } else {
            ServerAuth::from_config(&loaded.expect("loads").config).expect("builds");
            n += 1;
        }
    }
    assert!(n >= 10);
}

#[test]
fn f01_token() {
    let auth = load("01-token.conf");
    assert!(auth.auth_required() && !auth.needs_nonce());
    assert_eq!(
        auth.authenticate(&token("secret_token_here"))
            .unwrap()
            .method,
        AuthMethod::Token
    );
    assert!(matches!(
        auth.authenticate(&token("secret_token")),
        Err(AuthError::BadToken)
    ));
}

#[test]
fn f02_single_user_bcrypt() {
    let auth = load("02-single-user-bcrypt.conf");
    let who = auth
        .authenticate(&login("admin", "secret_password"))
        .unwrap();
    assert_eq!(
        (who.identity.as_str(), who.account.as_str()),
        ("admin", "$G")
    );
    assert!(who.permissions.is_none());
    assert!(auth.authenticate(&login("admin", "secret")).is_err());
    assert!(auth.plaintext_password_warnings().is_empty());
}

#[test]
fn f03_multi_user_permissions() {
    let auth = load("03-multi-user-permissions.conf");
    assert!(
        auth.authenticate(&login("alice", "alicepw"))
            .unwrap()
            .permissions
            .is_none()
    );
    let bob = auth.authenticate(&login("bob", "bobpw")).unwrap();
    check(
        &bob,
        &[
            ("events.x", true, false),
            ("events", false, false),
            ("results.bob.1", false, true),
            ("results.alice.1", false, false),
        ],
    );
    assert!(auth.authenticate(&login("bob", "alicepw")).is_err());
    assert_eq!(auth.plaintext_password_warnings().len(), 2);
}

#[test]
fn f04_connection_deadline() {
    let auth = load("04-connection-deadline.conf");
    let deadline = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31T23:59:59Z
    let before = deadline - Duration::from_secs(60);
    let who = auth
        .authenticate_at(&login("temporary", "temppw"), before)
        .unwrap();
    assert_eq!(who.expires, Some(deadline));
    assert!(matches!(
        auth.authenticate_at(
            &login("temporary", "temppw"),
            deadline + Duration::from_secs(1)
        ),
        Err(AuthError::Expired { .. })
    ));
    // And with the real clock, whichever side of the deadline we are on.
    let now = auth.authenticate(&login("temporary", "temppw"));
    assert_eq!(now.is_ok(), SystemTime::now() < deadline);
}

#[test]
fn f05_nkey_users() {
    let auth = load("05-nkey-users.conf");
    assert!(auth.needs_nonce());
    let one = auth
        .authenticate(&nkey_login(&KeyPair::from_seed(NKEY_1).unwrap(), "abc"))
        .unwrap();
    assert_eq!(
        one.identity,
        "UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP"
    );
    check(
        &one,
        &[
            ("orders.1", true, false),
            ("results.1", false, true),
            ("events.1", false, false),
        ],
    );
    let two = auth
        .authenticate(&nkey_login(&KeyPair::from_seed(NKEY_2).unwrap(), "xyz"))
        .unwrap();
    assert_eq!(
        two.identity,
        "UCBP45VSUDL2EXLZ2MIAW43QBYCDUEOLQH3UUFFQYVCKUCQTAGK66QHB"
    );
    check(
        &two,
        &[
            ("events.1", true, false),
            ("_INBOX.a", false, true),
            ("orders.1", false, false),
        ],
    );
    assert!(matches!(
        auth.authenticate(&nkey_login(&KeyPair::new_user(), "abc")),
        Err(AuthError::UnknownNkey { .. })
    ));
}

#[test]
fn f06_nkey_account() {
    let auth = load("06-nkey-account.conf");
    let who = auth
        .authenticate(&nkey_login(&KeyPair::from_seed(NKEY_1).unwrap(), "n0nce"))
        .unwrap();
    assert_eq!(
        (who.account.as_str(), who.method),
        ("ORDERS", AuthMethod::Nkey)
    );
    assert!(who.permissions.is_none());
    assert!(auth.authenticate(&anonymous()).is_err());
}

#[test]
fn f07_account_signing_keys() {
    let auth = load("07-account-signing-keys.conf");
    assert!(auth.auth_required() && auth.needs_nonce());
    let signer = KeyPair::from_seed(SIGNING_07).unwrap();
    assert_eq!(
        signer.public_key(),
        "AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ"
    );
    let user = KeyPair::new_user();
    let mut claims = rnats_jwt::UserClaims::new(user.public_key(), "");
    claims.permissions.publish = rnats_jwt::Permission::allow(["prod.>"]);
    let mut req = anonymous();
    req.jwt = Some(rnats_jwt::encode_user(&claims, &signer));
    req.nonce = Some("nonce07".into());
    req.sig = Some(data_encoding::BASE64URL_NOPAD.encode(&user.sign(b"nonce07").unwrap()));
    let who = auth.authenticate(&req).unwrap();
    assert_eq!(
        (who.account.as_str(), who.method),
        ("PROD", AuthMethod::Jwt)
    );
    check(&who, &[("prod.x", true, true), ("dev.x", false, true)]);
}

#[test]
fn f08_permissions_allow_deny() {
    let auth = load("08-permissions-allow-deny.conf");
    let u = auth.authenticate(&login("u", "pw")).unwrap();
    check(
        &u,
        &[
            ("orders.1", true, false),
            ("users.signup", true, false),
            ("users.login", false, false),
            ("events.x", false, true),
            ("events.audit.x", false, false),
        ],
    );
    let p = u.permissions.unwrap();
    // `SUB events.>` is broader than the deny: accepted, audit messages dropped at delivery.
    assert!(p.may_subscribe(b"events.>", None));
    assert!(!p.may_deliver(b"events.audit.login", None));
    assert!(p.may_deliver(b"events.login", None));
}

#[test]
fn f09_try_it_yourself() {
    let auth = load("09-try-it-yourself.conf");
    let alice = auth.authenticate(&login("alice", "s3cret")).unwrap();
    assert_eq!(alice.account, "ORDERS");
    check(
        &alice,
        &[
            ("orders.new", true, false),
            ("_INBOX.x", false, true),
            ("other", false, false),
        ],
    );
}

#[test]
fn f10_auth_timeout() {
    let auth = load("10-auth-timeout.conf");
    assert_eq!(auth.auth_timeout(), Duration::from_secs(2));
    assert!(auth.authenticate(&token("t0ken")).is_ok());
    assert!(auth.authenticate(&token("token")).is_err());
}
