//! `verify_and_map` DN matching through `map_certificate_user` and `ServerAuth`: the literal
//! forms, semantic matching, and names crafted to look like the subject that must not map.
//! (Certificates themselves are read in rnats-tls; its tests feed real ones through here.)

use rnats_auth::{AuthError, AuthMethod, Authenticator, TlsIdentity, map_certificate_user};

use crate::{anonymous, server};

/// What rnats-tls reads from its `client-dn.pem` test certificate
/// (`/DC=com/DC=example/O=Acme/OU=eng/CN=bob`).
fn bob() -> TlsIdentity {
    TlsIdentity {
        subject_dn: "CN=bob,OU=eng,O=Acme,DC=example,DC=com".into(),
        subject_dn_without_dc: "CN=bob,OU=eng,O=Acme".into(),
        ..TlsIdentity::default()
    }
}

#[test]
fn dn_forms_and_semantic_matching() {
    let bob = bob();
    // Literal forms: RFC 2253 with DC, nats-server's DC-in-certificate-order form, without DC.
    for name in [
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
        "CN=bob,OU=eng,O=Acme,DC=com,DC=example",
        "CN=bob,OU=eng,O=Acme",
    ] {
        assert_eq!(map_certificate_user(&bob, [name]), Some(name), "{name}");
    }
    // Semantic: another RDN order, other spacing, lower-case types, OIDs.
    for name in [
        "DC=com,DC=example,O=Acme,OU=eng,CN=bob",
        "O=Acme, CN=bob, DC=com, OU=eng, DC=example",
        "cn=bob,ou=eng,o=Acme,dc=example,dc=com",
        "2.5.4.3=bob,2.5.4.11=eng,2.5.4.10=Acme,0.9.2342.19200300.100.1.25=example,DC=com",
    ] {
        assert_eq!(
            map_certificate_user(&bob, ["alice", name]),
            Some(name),
            "{name}"
        );
    }
    // An exact-order match wins over an any-order one, whatever the list order.
    let exact = "cn=bob,ou=eng,o=Acme,dc=example,dc=com";
    let reordered = "DC=com,DC=example,O=Acme,OU=eng,CN=bob";
    assert_eq!(map_certificate_user(&bob, [reordered, exact]), Some(exact));
}

#[test]
fn adversarial_dns_do_not_match() {
    let bob = bob();
    for name in [
        "CN=bob", // contained in the DN
        "bob",
        "CN=bob,OU=eng,O=Acme,DC=example", // an RDN missing
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com,DC=extra", // an extra RDN
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com,CN=bob",
        "CN=bob,CN=bob,O=Acme,DC=example,DC=com", // repeated RDN for a missing one
        "CN=bob,OU=eng,O=Acme,DC=example,DC=example",
        "CN=Bob,OU=eng,O=Acme,DC=example,DC=com", // value case
        "CN=bob,OU=ENG,O=Acme,DC=example,DC=com",
        "CN=bob,OU=eng,O=acme,DC=example,DC=com",
        r"CN=bob\,OU=eng,O=Acme,DC=example,DC=com", // escaped comma: one value
        r"CN=bob,OU=eng\,O=Acme,DC=example,DC=com",
        "CN=bob+OU=eng,O=Acme,DC=example,DC=com", // multi-valued RDN
        "CN=bob,OU=eng,O=Acme,DC=example.com",
        "XCN=bob,OU=eng,O=Acme,DC=example,DC=com",
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com,",
        "CN=bob*,OU=eng,O=Acme,DC=example,DC=com",
        r"CN=bob\ ,OU=eng,O=Acme,DC=example,DC=com", // escaped trailing space
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com\u{0}",
        "",
    ] {
        assert_eq!(
            map_certificate_user(&bob, [name]),
            None,
            "{name:?} must not map"
        );
    }
}

#[test]
fn server_auth_maps_only_users_allowed_on_the_connection_type() {
    let auth = server(
        r#"
        tls { verify_and_map: true }
        authorization { users = [
            { user: "CN=bob,OU=eng,O=Acme,DC=example,DC=com", allowed_connection_types: ["WEBSOCKET"] }
            { user: "dc=com,dc=example,o=Acme,ou=eng,cn=bob" }
        ] }"#,
    );
    let mut r = anonymous();
    r.tls = Some(bob());
    // The literal user may not use STANDARD, so the semantic one is the candidate.
    let who = auth.authenticate(&r).expect("mapped");
    assert_eq!(
        (who.method, who.identity.as_str()),
        (AuthMethod::TlsMap, "dc=com,dc=example,o=Acme,ou=eng,cn=bob")
    );

    let auth = server(
        r#"
        tls { verify_and_map: true }
        authorization { users = [
            { user: "CN=bob,OU=eng,O=Acme", allowed_connection_types: ["WEBSOCKET"] }
        ] }"#,
    );
    assert!(matches!(
        auth.authenticate(&r),
        Err(AuthError::NoCertificateUser)
    ));
}
