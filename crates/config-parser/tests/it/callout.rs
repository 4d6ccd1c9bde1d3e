//! `authorization { auth_callout {} }`: nats-server's `parseAuthCallout` checks and messages
//! (opts.go, 2.15.1), plus rnats' `local_first`.

use rnats_config::{ConfigError, load_str};

const ISSUER: &str = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA";
const XKEY: &str = "XAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPSAYZ5";

fn err(src: &str) -> ConfigError {
    match load_str(src, None) {
        Ok(_) => panic!("must fail: {src}"),
        Err(e) => e,
    }
}

#[test]
fn every_key_and_alias_is_read() {
    let src = format!(
        "accounts {{ AUTH {{ users: [{{user: auth, password: pw}}] }}, APP {{}} }}
         authorization {{ auth_hook {{ issuer: {ISSUER}, acc: AUTH, users: [auth], key: {XKEY},
           allowed_accounts: [APP], local_first: true }} }}"
    );
    let loaded = load_str(&src, None).unwrap();
    let c = loaded
        .config
        .authorization
        .unwrap()
        .auth_callout
        .expect("auth_callout");
    assert_eq!(c.issuer, ISSUER);
    assert_eq!(c.account, "AUTH");
    assert_eq!(c.auth_users, ["auth"]);
    assert_eq!(c.xkey.as_deref(), Some(XKEY));
    assert_eq!(c.allowed_accounts, ["APP"]);
    assert!(c.local_first);
}

#[test]
fn account_defaults_to_global() {
    let src = format!(
        "authorization {{ users: [{{user: auth, password: pw}}]
           auth_callout {{ issuer: {ISSUER}, auth_users: [auth] }} }}"
    );
    let c = load_str(&src, None)
        .unwrap()
        .config
        .authorization
        .unwrap()
        .auth_callout
        .unwrap();
    assert_eq!(c.account, "$G");
    assert!(!c.local_first);
}

#[test]
fn nats_server_messages() {
    let cases = [
        (
            "authorization { auth_callout { issuer: UABC, auth_users: [a] } }".to_owned(),
            "Expected callout user to be a valid public account nkey, got \"UABC\"",
        ),
        (
            format!(
                "authorization {{ auth_callout {{ issuer: {ISSUER}, xkey: {ISSUER}, auth_users: [a] }} }}"
            ),
            &*format!("Expected callout xkey to be a valid public xkey, got \"{ISSUER}\""),
        ),
        (
            "authorization { auth_callout { auth_users: [a] } }".to_owned(),
            "Authorization callouts require an issuer to be specified",
        ),
        (
            format!("authorization {{ auth_callout {{ issuer: {ISSUER} }} }}"),
            "Authorization callouts require authorized users to be specified",
        ),
        (
            format!("authorization {{ auth_callout {{ issuer: {ISSUER}, auth_users: [] }} }}"),
            "Authorization callouts require authorized users to be specified",
        ),
        (
            format!(
                "accounts {{ APP {{}} }}\nauthorization {{ auth_callout {{ issuer: {ISSUER}, auth_users: [a], allowed_accounts: [APP, NOPE] }} }}"
            ),
            "auth_callout allowed account \"NOPE\" not found in configured accounts",
        ),
    ];
    for (src, message) in cases {
        let e = err(&src);
        assert_eq!(e.message, message, "{src}");
        assert_eq!(
            e.line,
            if src.starts_with("accounts") { 2 } else { 1 },
            "{src}"
        );
    }
    let e = err(&format!(
        "authorization {{ auth_callout {{ issuer: {ISSUER}, auth_users: [a], colour: blue }} }}"
    ));
    assert!(e.message.contains("colour"), "{}", e.message);
}
