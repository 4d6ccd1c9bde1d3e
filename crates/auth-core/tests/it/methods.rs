//! Each authentication method, and the order nats-server checks them in.

use std::time::{Duration, SystemTime};

use nkeys::KeyPair;
use rnats_auth::{
    AuthConfigError, AuthError, AuthMethod, AuthRequest, Authenticator, ConnectionType, ServerAuth,
    hash_password_argon2, hash_password_bcrypt,
};

use crate::{anonymous, login, nkey_login, server, token};

#[test]
fn nothing_configured_lets_everyone_into_the_global_account() {
    let auth = server("port: 4222");
    assert!(!auth.auth_required());
    assert!(!auth.needs_nonce());
    let who = auth.authenticate(&login("anyone", "anything")).unwrap();
    assert_eq!(who.account, "$G");
    assert_eq!(who.method, AuthMethod::None);
    assert!(who.permissions.is_none());
}

#[test]
fn plain_token() {
    let auth = server(r#"authorization { token: "s3cr3t" }"#);
    assert!(auth.auth_required());
    let who = auth.authenticate(&token("s3cr3t")).unwrap();
    assert_eq!(
        (who.method, who.account.as_str(), who.identity.as_str()),
        (AuthMethod::Token, "$G", "")
    );
    assert!(matches!(
        auth.authenticate(&token("s3cr3")),
        Err(AuthError::BadToken)
    ));
    assert!(matches!(
        auth.authenticate(&token("s3cr3t ")),
        Err(AuthError::BadToken)
    ));
    assert!(matches!(
        auth.authenticate(&anonymous()),
        Err(AuthError::NoCredentials)
    ));
    // A password is not a token.
    assert!(auth.authenticate(&login("x", "s3cr3t")).is_err());
}

#[test]
fn bcrypt_token() {
    let h = hash_password_bcrypt("tok", 4).unwrap();
    let auth = server(&format!("authorization {{ token: \"{h}\" }}"));
    assert!(auth.authenticate(&token("tok")).is_ok());
    assert!(matches!(
        auth.authenticate(&token(&h)),
        Err(AuthError::BadToken)
    ));
}

#[test]
fn single_user() {
    let auth = server(r#"authorization { user: admin, password: "pw" }"#);
    let who = auth.authenticate(&login("admin", "pw")).unwrap();
    assert_eq!(
        (who.method, who.identity.as_str()),
        (AuthMethod::Password, "admin")
    );
    assert!(matches!(
        auth.authenticate(&login("admin", "pW")),
        Err(AuthError::BadPassword { .. })
    ));
    assert!(matches!(
        auth.authenticate(&login("root", "pw")),
        Err(AuthError::UnknownUser { .. })
    ));
    assert!(matches!(
        auth.authenticate(&anonymous()),
        Err(AuthError::NoCredentials)
    ));
    assert_eq!(auth.plaintext_password_warnings().len(), 1);
}

#[test]
fn users_with_plain_bcrypt_and_argon2_passwords() {
    let b = hash_password_bcrypt("bpw", 4).unwrap();
    let a = hash_password_argon2("apw").unwrap();
    let auth = server(&format!(
        r#"authorization {{ users = [
            {{ user: plain, password: "ppw" }}
            {{ user: bc, password: "{b}" }}
            {{ user: ar, password: "{a}" }}
        ] }}"#
    ));
    for (u, p) in [("plain", "ppw"), ("bc", "bpw"), ("ar", "apw")] {
        let who = auth.authenticate(&login(u, p)).unwrap();
        assert_eq!(
            (who.identity.as_str(), who.method),
            (u, AuthMethod::Password)
        );
        assert!(
            matches!(
                auth.authenticate(&login(u, "wrong")),
                Err(AuthError::BadPassword { .. })
            ),
            "{u}"
        );
        assert!(auth.authenticate(&login(u, "")).is_err());
    }
    // The stored hash itself is not a password.
    assert!(auth.authenticate(&login("bc", &b)).is_err());
    assert!(auth.authenticate(&login("ar", &a)).is_err());
    assert!(matches!(
        auth.authenticate(&login("nobody", "bpw")),
        Err(AuthError::UnknownUser { .. })
    ));
    // Only the plaintext user is warned about, by name.
    let w = auth.plaintext_password_warnings();
    assert_eq!(
        w,
        ["Plaintext passwords detected, use nkeys or bcrypt (user \"plain\")"]
    );
}

#[test]
fn nkey_users_sign_the_nonce() {
    let kp = KeyPair::new_user();
    let auth = server(&format!(
        "authorization {{ users = [ {{ nkey: {} }}, {{ user: bob, password: pw }} ] }}",
        kp.public_key()
    ));
    assert!(auth.needs_nonce());
    let who = auth.authenticate(&nkey_login(&kp, "nonce-1")).unwrap();
    assert_eq!(
        (who.method, who.identity),
        (AuthMethod::Nkey, kp.public_key())
    );

    // Standard base64 (with padding) is accepted too.
    let mut r = nkey_login(&kp, "nonce-1");
    r.sig = Some(data_encoding::BASE64.encode(&kp.sign(b"nonce-1").unwrap()));
    assert!(auth.authenticate(&r).is_ok());

    // Signature over another nonce, missing signature, missing nonce.
    let mut r = nkey_login(&kp, "nonce-1");
    r.nonce = Some("nonce-2".into());
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::BadSignature { .. })
    ));
    r.sig = None;
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::MissingNonceSignature { .. })
    ));
    let mut r = nkey_login(&kp, "n");
    r.nonce = None;
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::MissingNonce { .. })
    ));

    // Another key signing with its own key is unknown, with no fallback to the users list
    // even when valid user credentials ride along.
    let other = KeyPair::new_user();
    let mut r = nkey_login(&other, "n");
    r.user = Some("bob".into());
    r.pass = Some("pw".into());
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::UnknownNkey { .. })
    ));
    // A known key signed by someone else.
    let mut r = nkey_login(&other, "n");
    r.nkey = Some(kp.public_key());
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::BadSignature { .. })
    ));
}

#[test]
fn invalid_nkeys_are_refused_at_build() {
    let mut cfg = rnats_config::ServerConfig::default();
    let mut auth = rnats_config::AuthorizationConfig::default();
    let mut u = rnats_config::UserConfig::default();
    u.nkey = Some(KeyPair::new_account().public_key()); // an account key, not a user key
    auth.users.push(u);
    cfg.authorization = Some(auth);
    assert!(matches!(
        ServerAuth::from_config(&cfg),
        Err(AuthConfigError::InvalidUserNkey(_))
    ));
}

#[test]
fn built_by_hand_configs_are_checked_like_files() {
    let mut cfg = rnats_config::ServerConfig::default();
    let mut auth = rnats_config::AuthorizationConfig::default();
    auth.token = Some("t".into());
    auth.user = Some("u".into());
    cfg.authorization = Some(auth);
    let err = ServerAuth::from_config(&cfg).unwrap_err();
    assert_eq!(err.to_string(), "Cannot have a user/pass and token");

    let mut cfg = rnats_config::ServerConfig::default();
    cfg.no_auth_user = Some("ghost".into());
    let err = ServerAuth::from_config(&cfg).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no_auth_user: \"ghost\" not present as user or nkey in authorization block or account configuration"
    );
}

#[test]
fn accounts_place_users() {
    let auth = server(
        r#"authorization { users = [ { user: g, password: pw } ] }
           accounts { A { users [ { user: a, password: pw } ] }, B { users [ { user: b, password: pw } ] } }"#,
    );
    for (u, acc) in [("g", "$G"), ("a", "A"), ("b", "B")] {
        assert_eq!(auth.authenticate(&login(u, "pw")).unwrap().account, acc);
    }
    assert_eq!(auth.accounts().len(), 2);
    assert_eq!(auth.system_account(), "$SYS");
    // The accounts handed to the broker carry no passwords.
    assert!(
        auth.accounts()
            .iter()
            .flat_map(|a| &a.users)
            .all(|u| u.password.is_none())
    );
}

#[test]
fn no_auth_user_takes_account_and_permissions() {
    let auth = server(
        r#"accounts { A { users [ { user: guest, password: "$2a$04$A100HyrytvWIpcJgZgZ9E.9Z7Un/lmixuYJcXZY3hCHLsLYWNAARa",
                                    permissions: { publish: "public.>" } },
                                  { user: admin, password: pw } ] } }
           no_auth_user: guest"#,
    );
    assert!(!auth.auth_required());
    let who = auth.authenticate(&anonymous()).unwrap();
    assert_eq!(
        (who.method, who.account.as_str(), who.identity.as_str()),
        (AuthMethod::NoAuthUser, "A", "guest")
    );
    let p = who.permissions.unwrap();
    assert!(p.may_publish(b"public.x"));
    assert!(!p.may_publish(b"private"));
    // Credentials presented: the no_auth_user does not apply.
    assert!(matches!(
        auth.authenticate(&login("admin", "bad")),
        Err(AuthError::BadPassword { .. })
    ));
    assert_eq!(
        auth.authenticate(&login("admin", "pw")).unwrap().identity,
        "admin"
    );
}

#[test]
fn no_auth_user_as_nkey_skips_the_signature() {
    let kp = KeyPair::new_user();
    let auth = server(&format!(
        "authorization {{ users = [ {{ nkey: {k} }} ] }}\nno_auth_user: {k}",
        k = kp.public_key()
    ));
    let who = auth.authenticate(&anonymous()).unwrap();
    assert_eq!(
        (who.method, who.identity),
        (AuthMethod::NoAuthUser, kp.public_key())
    );
}

#[test]
fn system_account_only_lets_anonymous_clients_into_global() {
    // nats-server: only the system account has users and there is no authorization block.
    let auth =
        server("accounts { SYS { users [ { user: admin, password: x } ] } }\nsystem_account: SYS");
    assert!(auth.auth_required());
    let who = auth.authenticate(&anonymous()).unwrap();
    assert_eq!(who.account, "$G");
    assert_eq!(
        auth.authenticate(&login("admin", "x")).unwrap().account,
        "SYS"
    );
    assert!(auth.authenticate(&login("admin", "y")).is_err());
    // With a second account it does not apply.
    let auth = server(
        "accounts { SYS { users [ { user: admin, password: x } ] }, A { users [ { user: a, password: x } ] } }\nsystem_account: SYS",
    );
    assert!(matches!(
        auth.authenticate(&anonymous()),
        Err(AuthError::NoCredentials)
    ));
}

#[test]
fn default_permissions_apply_to_users_without_their_own() {
    let auth = server(
        r#"authorization { default_permissions: { publish: "x" }, users = [ { user: g, password: pw } ] }
           accounts {
             A { users [ { user: a, password: pw } ] }
             B { default_permissions: { publish: "y" },
                 users [ { user: b, password: pw }, { user: b2, password: pw, permissions: { subscribe: "z" } } ] }
           }"#,
    );
    let perms = |u: &str| auth.authenticate(&login(u, "pw")).unwrap().permissions;
    let g = perms("g").unwrap();
    assert!(g.may_publish(b"x") && !g.may_publish(b"y"));
    // Top-level defaults do not reach account users (checked against nats-server 2.15.1).
    assert!(perms("a").is_none());
    let b = perms("b").unwrap();
    assert!(b.may_publish(b"y") && !b.may_publish(b"x"));
    // Own permissions replace the defaults entirely.
    let b2 = perms("b2").unwrap();
    assert!(b2.may_publish(b"anything"));
    assert!(!b2.may_subscribe(b"q", None));
}

#[test]
fn connection_deadline() {
    let auth = server(
        r#"authorization { users = [
            { user: past, password: pw, connection_deadline: "2020-01-01T00:00:00Z" }
            { user: future, password: pw, connection_deadline: "2999-01-01T00:00:00Z" }
        ] }"#,
    );
    assert!(matches!(
        auth.authenticate(&login("past", "pw")),
        Err(AuthError::Expired { .. })
    ));
    let who = auth.authenticate(&login("future", "pw")).unwrap();
    let exp = who.expires.unwrap();
    assert!(exp > SystemTime::now());
    // At and after the deadline it is refused.
    assert!(auth.authenticate_at(&login("future", "pw"), exp).is_err());
    assert!(
        auth.authenticate_at(&login("future", "pw"), exp - Duration::from_secs(1))
            .is_ok()
    );
    // The password is checked before the deadline is revealed.
    assert!(matches!(
        auth.authenticate(&login("past", "no")),
        Err(AuthError::BadPassword { .. })
    ));
}

#[test]
fn allowed_connection_types() {
    let auth = server(
        r#"authorization { users = [
            { user: ws, password: pw, allowed_connection_types: ["WEBSOCKET", "mqtt"] }
            { user: any, password: pw }
        ] }"#,
    );
    let mut r = login("ws", "pw");
    r.connection_type = ConnectionType::Standard;
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::ConnectionTypeNotAllowed {
            connection_type: ConnectionType::Standard,
            ..
        })
    ));
    for t in [ConnectionType::Websocket, ConnectionType::Mqtt] {
        r.connection_type = t;
        assert!(auth.authenticate(&r).is_ok(), "{t}");
    }
    for t in ConnectionType::ALL {
        let mut r = login("any", "pw");
        r.connection_type = t;
        assert!(auth.authenticate(&r).is_ok(), "{t}");
    }
}

#[test]
fn auth_timeout() {
    assert_eq!(server("port: 1").auth_timeout(), Duration::from_secs(2));
    assert_eq!(
        server("authorization { token: t, timeout: 5 }").auth_timeout(),
        Duration::from_secs(5)
    );
}

#[test]
fn tls_map_takes_the_user_from_the_certificate() {
    let mut cfg = rnats_config::load_str(
        r#"authorization { users = [
            { user: "alice@example.com", permissions: { publish: "a" } }
            { user: "CN=carol,O=Acme", password: "pw2" }
        ] }"#,
        None,
    )
    .unwrap()
    .config;
    let mut tls = rnats_config::TlsConfig::default();
    tls.verify_and_map = true;
    cfg.tls = Some(tls);
    let auth = ServerAuth::from_config(&cfg).unwrap();

    let mut r = anonymous();
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::NoCertificate)
    ));
    r.tls = Some(rnats_auth::TlsIdentity {
        subject_dn: "CN=x".into(),
        emails: vec!["alice@example.com".into()],
        ..Default::default()
    });
    // The CONNECT user is ignored: the certificate decides.
    r.user = Some("CN=carol,O=Acme".into());
    let who = auth.authenticate(&r).unwrap();
    assert_eq!(
        (who.method, who.identity.as_str()),
        (AuthMethod::TlsMap, "alice@example.com")
    );

    let mut r = anonymous();
    r.tls = Some(rnats_auth::TlsIdentity {
        subject_dn: "CN=carol,O=Acme,DC=acme,DC=io".into(),
        subject_dn_without_dc: "CN=carol,O=Acme".into(),
        ..Default::default()
    });
    // Mapped, but this user also has a password, which must be presented.
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::BadPassword { .. })
    ));
    r.pass = Some("pw2".into());
    assert_eq!(auth.authenticate(&r).unwrap().identity, "CN=carol,O=Acme");

    let mut r = anonymous();
    r.tls = Some(rnats_auth::TlsIdentity {
        subject_dn: "CN=mallory".into(),
        ..Default::default()
    });
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::NoCertificateUser)
    ));
}

#[test]
fn certificate_only_users_cannot_log_in_by_name() {
    let auth = server(r#"authorization { users = [ { user: "alice@example.com" } ] }"#);
    assert!(matches!(
        auth.authenticate(&login("alice@example.com", "")),
        Err(AuthError::BadPassword { .. })
    ));
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let b = hash_password_bcrypt("topsecret", 4).unwrap();
    let auth = server(&format!(
        r#"authorization {{ users = [ {{ user: u, password: "plainsecret" }}, {{ user: v, password: "{b}" }} ] }}"#
    ));
    let dbg = format!("{auth:?}");
    assert!(!dbg.contains("plainsecret") && !dbg.contains(&b));
    let mut r = login("u", "wrongsecret");
    r.token = Some("tokensecret".into());
    r.sig = Some("sigsecret".into());
    r.jwt = Some("jwtsecret".into());
    let dbg = format!("{r:?}");
    for s in ["wrongsecret", "tokensecret", "sigsecret", "jwtsecret"] {
        assert!(!dbg.contains(s), "{dbg}");
    }
    let err = auth.authenticate(&r).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("wrongsecret"));
    let who = auth.authenticate(&login("u", "plainsecret")).unwrap();
    assert!(!format!("{who:?}").contains("plainsecret"));
    for w in auth.plaintext_password_warnings() {
        assert!(!w.contains("plainsecret"));
    }
}

#[test]
fn authenticator_is_object_safe_and_shareable() {
    let auth: std::sync::Arc<dyn Authenticator> = std::sync::Arc::new(server("port: 1"));
    let a2 = auth.clone();
    std::thread::spawn(move || a2.authenticate(&anonymous()).unwrap())
        .join()
        .unwrap();
}

#[test]
fn only_hashed_secrets_may_block() {
    let plain = ServerAuth::from_config(
        &rnats_config::load_str(
            "authorization { users = [ { user: a, password: p } ] }",
            None,
        )
        .unwrap()
        .config,
    )
    .unwrap();
    let mut req = AuthRequest::new("127.0.0.1:1".parse().unwrap(), ConnectionType::Standard);
    req.user = Some("a".into());
    req.pass = Some("p".into());
    assert!(!plain.may_block(&req));
    let hash = hash_password_bcrypt("p", 4).unwrap();
    let hashed = ServerAuth::from_config(
        &rnats_config::load_str(
            &format!("authorization {{ users = [ {{ user: a, password: \"{hash}\" }} ] }}"),
            None,
        )
        .unwrap()
        .config,
    )
    .unwrap();
    assert!(hashed.may_block(&req));
    let mut nkey_req = AuthRequest::new("127.0.0.1:1".parse().unwrap(), ConnectionType::Standard);
    nkey_req.nkey = Some("U...".into());
    assert!(!hashed.may_block(&nkey_req), "an NKey login never hashes");
}
