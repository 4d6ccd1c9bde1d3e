//! Real tokens made by `nsc` and nats-io/jwt (see `tests/fixtures/README.md`), decoded and
//! checked field by field.

use rnats_jwt::{
    AccountLimits, ClaimKind, Claims, ExportType, JetStreamLimits, JwtError, UserLimits,
    decode_account_at, decode_activation_at, decode_at, decode_generic_at, decode_operator_at,
    decode_user_at, format_user_creds, parse_decorated_jwt, parse_user_creds, peek,
};

use data_encoding::BASE64URL_NOPAD;

use super::at;

const ONE_CREDS: &str = include_str!("../fixtures/one.creds");
const JS_OPERATOR: &str = include_str!("../fixtures/js-test-operator.jwt");
const JS_SYS: &str = include_str!("../fixtures/js-test-sys-account.jwt");
const JS_ONE: &str = include_str!("../fixtures/js-test-one-account.jwt");
const OP2: &str = include_str!("../fixtures/op2-operator.jwt");
const SYNADIA_OP_V1: &str = include_str!("../fixtures/synadia-operator-v1.jwt");
const SYNADIA_ACC_V1: [&str; 2] = [
    include_str!("../fixtures/synadia-account-ad2vb6-v1.jwt"),
    include_str!("../fixtures/synadia-account-adm2ci-v1.jwt"),
];
const TESTOP_V1: &str = include_str!("../fixtures/testop-operator-v1.jwt");
const TESTSYS_V1: &str = include_str!("../fixtures/testsys-account-v1.jwt");
const OP_V1: &str = include_str!("../fixtures/op-operator-v1.jwt");
const ACTIVATION_V1: &str = include_str!("../fixtures/activation-v1.jwt");
const JS_ACCOUNT: &str = include_str!("../fixtures/jetstream-account.jwt");

/// A time when none of the fixtures has expired (the one with `nbf` starts in 2018).
const NOW: u64 = 1_700_000_000;

const JS_OPERATOR_KEY: &str = "OD4M6IAAKQSM4DQSLWZIVBACYTYS2S6XQS7U67XXYXJ44ILNE35YPGJK";
const ONE_ACCOUNT_KEY: &str = "ABVRZKJ6Z7NIMPIYJRCHEYFRUO7ENN6NWOKQDFLFDFVPSM36UPX2UCPP";
const SYNADIA_KEY: &str = "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG";

#[test]
fn nsc_creds_file_decodes_and_formats_back_byte_for_byte() {
    let creds = parse_user_creds(ONE_CREDS).unwrap();
    let user = decode_user_at(&creds.jwt, at(NOW)).unwrap();
    assert_eq!(
        user.subject,
        "UDCIBGGGHCJBQPOO4SCJJBHZDR37NQGGCIWMNG2DDAKJ6WMKBMAKXIMO"
    );
    assert_eq!(user.issuer, ONE_ACCOUNT_KEY);
    assert_eq!(user.name.as_deref(), Some("one"));
    assert_eq!(
        user.id,
        "GECPTJHHMS3MCMKLTPGYGAO45GQ6N6QPYWQ4GPLAEB33VCRJNRVQ"
    );
    assert_eq!(user.issued_at, Some(at(1_616_247_232)));
    assert_eq!(user.limits, UserLimits::UNLIMITED);
    assert!(user.permissions.is_empty() && !user.bearer_token);
    assert_eq!((user.issuer_account.as_deref(), user.version), (None, 2));
    assert_eq!(
        creds.seed.key_pair().unwrap().public_key(),
        user.subject,
        "the seed is the user's"
    );
    // What nsc wrote is exactly what we write.
    assert_eq!(
        format_user_creds(&creds.jwt, &creds.seed).unwrap(),
        ONE_CREDS
    );
}

#[test]
fn js_test_operator_accounts_and_user_form_a_chain() {
    // A bare operator file with a trailing newline, as `operator:` may point to.
    let op = decode_operator_at(parse_decorated_jwt(JS_OPERATOR), at(NOW)).unwrap();
    assert_eq!(op.subject, JS_OPERATOR_KEY);
    assert!(op.is_self_signed());
    assert_eq!(op.name.as_deref(), Some("js-test"));
    assert!(op.signing_keys.is_empty() && op.system_account.is_none());

    let sys = decode_account_at(JS_SYS, at(NOW)).unwrap();
    assert_eq!(sys.name.as_deref(), Some("sys"));
    assert_eq!(
        sys.subject,
        "AD4M34OPRUPWDYTIQLWKMEZZM5MK7PQQDSKNELCZDRZZEVFWOWPLFTUE"
    );
    assert!(op.did_sign(&sys.issuer, &sys.subject));
    // nsc's defaults: everything unlimited, JetStream off.
    assert_eq!(sys.limits, AccountLimits::UNLIMITED);
    assert!(!sys.limits.is_jetstream_enabled());
    assert!(sys.default_permissions.is_empty());

    let one = decode_account_at(JS_ONE, at(NOW)).unwrap();
    assert_eq!(one.subject, ONE_ACCOUNT_KEY);
    assert!(op.did_sign(&one.issuer, &one.subject));
    assert_eq!(
        one.limits.jetstream,
        JetStreamLimits {
            mem_storage: 1_073_741_824,
            disk_storage: 10_737_418_240,
            streams: 100,
            ..JetStreamLimits::DISABLED
        }
    );
    assert!(one.limits.is_jetstream_enabled());

    let user = decode_user_at(&parse_user_creds(ONE_CREDS).unwrap().jwt, at(NOW)).unwrap();
    assert!(one.is_issuer(&user.issuer));
}

#[test]
fn v2_operator_with_signing_key_and_system_account() {
    let op = decode_operator_at(OP2, at(NOW)).unwrap();
    assert_eq!(op.name.as_deref(), Some("op2"));
    assert_eq!(
        op.signing_keys,
        ["ODKLLI6VZWV6M7WTZWB725HLOLTQQTDK4NQGVEGD4CO7J2L2UIZO5SGW"]
    );
    assert_eq!(
        op.system_account.as_deref(),
        Some("ACQTWVGSGHYVY3R6D2WMO3V6LV2MGK5B7G47E43BHJB6FQVY7EHNTMMG")
    );
    assert!(op.did_sign(
        "ODKLLI6VZWV6M7WTZWB725HLOLTQQTDK4NQGVEGD4CO7J2L2UIZO5SGW",
        "A"
    ));
}

#[test]
fn v1_decorated_operator_and_its_accounts() {
    let jwt = parse_decorated_jwt(SYNADIA_OP_V1);
    let op = decode_operator_at(jwt, at(NOW)).unwrap();
    assert_eq!(op.version, 1);
    assert_eq!(op.subject, SYNADIA_KEY);
    assert_eq!(op.name.as_deref(), Some("Synadia Communications Inc."));
    assert_eq!(op.audience.as_deref(), Some("TESTS"));
    assert_eq!(op.signing_keys.len(), 3);
    assert_eq!(
        (op.not_before, op.expires),
        (Some(at(1_543_761_275)), Some(at(1_859_121_275)))
    );
    assert_eq!(
        decode_operator_at(jwt, at(1_859_121_276)),
        Err(JwtError::Expired)
    );
    assert_eq!(
        decode_operator_at(jwt, at(1_543_761_274)),
        Err(JwtError::NotYetValid)
    );

    for acc in SYNADIA_ACC_V1 {
        let a = decode_account_at(acc, at(NOW)).unwrap();
        assert_eq!((a.version, a.issuer.as_str()), (1, SYNADIA_KEY));
        assert!(op.did_sign(&a.issuer, &a.subject));
        // `"limits":{}` in a version-1 account reads as zeros, as in nats-io/jwt.
        assert_eq!(a.limits, AccountLimits::default());
    }
}

#[test]
fn v1_operators_and_account_from_nats_server_tests() {
    let testop = decode_operator_at(TESTOP_V1, at(NOW)).unwrap();
    let testsys = decode_account_at(TESTSYS_V1, at(NOW)).unwrap();
    assert_eq!(
        testop.system_account.as_deref(),
        Some(testsys.subject.as_str())
    );
    assert_eq!(testsys.name.as_deref(), Some("TESTSYS"));
    assert!(testop.did_sign(&testsys.issuer, &testsys.subject));
    assert_eq!(testsys.limits.conn, -1);
    assert!(testsys.limits.wildcard_exports);

    let op = decode_operator_at(OP_V1, at(NOW)).unwrap();
    assert_eq!(
        op.account_server_url.as_deref(),
        Some("http://localhost:8000/jwt/v1")
    );
    assert_eq!(op.operator_service_urls, ["nats://localhost:4222"]);
    assert_eq!(
        op.system_account.as_deref(),
        Some("ADZ547B24WHPLWOK7TMLNBSA7FQFXR6UM2NZ4HHNIB7RDFVZQFOZ4GQQ")
    );
}

#[test]
fn v1_activation() {
    let act = decode_activation_at(ACTIVATION_V1, at(NOW)).unwrap();
    assert_eq!(act.version, 1);
    assert_eq!(act.import_subject, "foo");
    assert_eq!(act.kind, ExportType::Service);
    assert_eq!(
        act.issuer,
        "ACSJZHNZR4AATTMJ77TWRN5BGUFEXXTKH3XKFNWCFABW2QZWNQ4CBHQE"
    );
    assert_eq!(
        act.subject,
        "ADTAGYVXFJODCQ3H4UFPAN7GWWZMAUOEM2L2DVBAVTWK3MSSLTKRTO5F"
    );
}

#[test]
fn jetstream_disk_only_account() {
    let a = decode_account_at(JS_ACCOUNT, at(NOW)).unwrap();
    assert_eq!(a.limits.jetstream.disk_storage, 1_000_000);
    assert!(a.limits.is_jetstream_enabled());
}

#[test]
fn decode_any_and_peek_name_the_kind() {
    let user = parse_user_creds(ONE_CREDS).unwrap().jwt;
    let cases = [
        (user.as_str(), ClaimKind::User, 2),
        (JS_SYS, ClaimKind::Account, 2),
        (OP2, ClaimKind::Operator, 2),
        (parse_decorated_jwt(SYNADIA_OP_V1), ClaimKind::Operator, 1),
        (SYNADIA_ACC_V1[0], ClaimKind::Account, 1),
        (ACTIVATION_V1, ClaimKind::Activation, 1),
    ];
    for (jwt, kind, version) in cases {
        let claims = decode_at(jwt, at(NOW)).unwrap();
        assert_eq!(claims.kind(), kind);
        let p = peek(jwt).unwrap();
        assert_eq!((p.kind, p.version), (kind, version));
        assert_eq!(p.issuer, claims.issuer());
        assert_eq!(p.subject, claims.subject());
        // Every token also reads as generic claims, with the type kept.
        let g = decode_generic_at(jwt, at(NOW)).unwrap();
        assert_eq!((g.kind(), g.issuer.as_str()), (kind, claims.issuer()));
    }
    assert!(matches!(
        decode_at(&user, at(NOW)).unwrap(),
        Claims::User(u) if u.name.as_deref() == Some("one")
    ));
}

#[test]
fn tampered_real_tokens_fail() {
    // Version 2 signs header.payload: another header breaks it.
    let v2 = JS_SYS.replacen(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ",
        "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ",
        1,
    );
    assert_ne!(v2, JS_SYS);
    assert_eq!(decode_account_at(&v2, at(NOW)), Err(JwtError::BadSignature));
    // Version 1 signs the payload only: the header may change, the payload not.
    let jwt = SYNADIA_ACC_V1[0];
    let (head, rest) = jwt.split_once('.').unwrap();
    let v1_header_swapped = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.{rest}");
    assert_ne!(head, "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ");
    assert!(decode_account_at(&v1_header_swapped, at(NOW)).is_ok());
    let (payload, sig) = rest.split_once('.').unwrap();
    let json = String::from_utf8(BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
    let changed = json.replace("1543958658", "1543958659");
    assert_ne!(changed, json);
    let p = BASE64URL_NOPAD.encode(changed.as_bytes());
    assert_eq!(
        decode_account_at(&format!("{head}.{p}.{sig}"), at(NOW)),
        Err(JwtError::BadSignature)
    );
}
