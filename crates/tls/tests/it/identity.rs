//! PeerIdentity from generated certificates; real certificates through rnats-auth's
//! `verify_and_map` (mapping order, crafted subjects that must not map); pinning. The DN
//! matching itself (semantic forms, adversarial names) is tested in rnats-auth.

use rnats_auth::{AuthError, AuthMethod, Authenticator, ConnectionType, ServerAuth};
use rnats_auth::{AuthRequest, map_certificate_user};
use rnats_tls::testcerts::{self, Ca, oid};
use rnats_tls::{PeerIdentity, load_certs, pinned};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::support::{TempDir, auth_identity, certs, openssl};

fn identity_of(pem: &str) -> PeerIdentity {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM");
    PeerIdentity::from_cert(&der).expect("identity")
}

fn identity_file(path: &std::path::Path) -> PeerIdentity {
    PeerIdentity::from_cert(&load_certs(path).expect("cert")[0]).expect("identity")
}

/// The user `peer` maps to among `users`, through rnats-auth.
fn map<'u>(peer: &PeerIdentity, users: impl IntoIterator<Item = &'u str>) -> Option<&'u str> {
    map_certificate_user(&auth_identity(peer), users)
}

/// What `ServerAuth` with `tls { verify_and_map: true }` and these (password-less) users
/// says about `peer` on a standard connection: the mapped user, or the error.
fn server_auth_login(peer: &PeerIdentity, users: &[&str]) -> Result<String, AuthError> {
    let users: Vec<String> = users.iter().map(|u| format!("{{user: {u:?}}}")).collect();
    let src = format!(
        "tls {{ verify_and_map: true }}\nauthorization {{ users = [ {} ] }}\n",
        users.join(", ")
    );
    let loaded = rnats_config::load_str(&src, None).expect("config parses");
    let auth = ServerAuth::from_config(&loaded.config).expect("auth config is valid");
    let mut req = AuthRequest::new(([127, 0, 0, 1], 4222).into(), ConnectionType::Standard);
    req.tls = Some(auth_identity(peer));
    let who = auth.authenticate(&req)?;
    assert_eq!(who.method, AuthMethod::TlsMap);
    Ok(who.identity)
}

#[test]
fn generated_client_certificates() {
    let (dir, _) = certs();
    let alice = identity_file(&dir.join("client.pem"));
    assert_eq!(alice.emails, [testcerts::CLIENT_EMAIL]);
    assert_eq!(alice.subject_dn, "CN=alice");
    assert!(alice.dns_names.is_empty() && alice.uris.is_empty());

    let bob = identity_file(&dir.join("client-dn.pem"));
    assert_eq!(bob.subject_dn, "CN=bob,OU=eng,O=Acme,DC=example,DC=com");
    assert_eq!(bob.subject_dn_without_dc, "CN=bob,OU=eng,O=Acme");
    assert!(bob.emails.is_empty() && bob.dns_names.is_empty() && bob.uris.is_empty());

    // openssl agrees on the RFC 2253 form …
    let subject = openssl(&[
        "x509",
        "-in",
        &dir.join("client-dn.pem").to_string_lossy(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&subject).trim(),
        format!("subject={}", bob.subject_dn)
    );
    // … and on the SPKI hash that pinned_certs lists.
    let pubkey = openssl(&[
        "x509",
        "-in",
        &dir.join("client-dn.pem").to_string_lossy(),
        "-noout",
        "-pubkey",
    ]);
    let spki_file = dir.join("spki.pem");
    std::fs::write(&spki_file, pubkey).expect("write");
    let der = openssl(&[
        "pkey",
        "-pubin",
        "-in",
        &spki_file.to_string_lossy(),
        "-outform",
        "DER",
    ]);
    let digest = openssl_sha256(&der, &dir);
    assert_eq!(bob.spki_sha256_hex, digest);
}

fn openssl_sha256(bytes: &[u8], dir: &TempDir) -> String {
    let f = dir.join("blob.der");
    std::fs::write(&f, bytes).expect("write");
    let out = openssl(&["dgst", "-sha256", "-r", &f.to_string_lossy()]);
    String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn everything_cert(ca: &Ca) -> PeerIdentity {
    let pair = ca
        .client(
            &[
                (oid::DC, "com"),
                (oid::DC, "example"),
                (oid::O, "Acme"),
                (oid::CN, "carol"),
            ],
            &["carol@example.com", "c2@example.com"],
            &["carol.example.com"],
            &["spiffe://example.com/carol"],
        )
        .expect("cert");
    identity_of(&pair.cert_pem)
}

#[test]
fn mapping_order_email_dns_uri_dn() {
    let ca = Ca::new("order CA").expect("ca");
    let carol = everything_cert(&ca);
    assert_eq!(carol.emails, ["carol@example.com", "c2@example.com"]);
    assert_eq!(carol.dns_names, ["carol.example.com"]);
    assert_eq!(carol.uris, ["spiffe://example.com/carol"]);
    assert_eq!(carol.subject_dn, "CN=carol,O=Acme,DC=example,DC=com");

    let mut users: Vec<&str> = vec![
        "CN=carol,O=Acme,DC=example,DC=com",
        "spiffe://example.com/carol",
        "carol.example.com",
        "c2@example.com",
        "carol@example.com",
    ];
    while let Some(expected) = users.last().copied() {
        assert_eq!(map(&carol, users.iter().copied()), Some(expected));
        assert_eq!(
            server_auth_login(&carol, &users).expect("ServerAuth maps"),
            expected
        );
        users.pop();
    }
    assert_eq!(map(&carol, ["carol", "CN=carol"]), None);
}

#[test]
fn dn_certificate_maps_in_every_form() {
    let (dir, _) = certs();
    let bob = identity_file(&dir.join("client-dn.pem"));
    // Literal forms: RFC 2253 with DC, nats-server's DC-in-certificate-order form, without DC;
    // then semantic ones: another RDN order, lower-case types.
    for name in [
        "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
        "CN=bob,OU=eng,O=Acme,DC=com,DC=example",
        "CN=bob,OU=eng,O=Acme",
        "DC=com,DC=example,O=Acme,OU=eng,CN=bob",
        "cn=bob, ou=eng, o=Acme, dc=example, dc=com",
    ] {
        assert_eq!(map(&bob, ["alice", name]), Some(name), "{name}");
        assert_eq!(
            server_auth_login(&bob, &["alice", name]).expect("ServerAuth maps"),
            name
        );
    }
}

#[test]
fn certificates_crafted_to_look_like_a_user_do_not_match() {
    let ca = Ca::new("crafted CA").expect("ca");
    let user = "CN=bob,OU=eng,O=Acme,DC=example,DC=com";
    let crafted: &[&[(&[u64], &str)]] = &[
        // A comma inside the CN.
        &[
            (oid::DC, "com"),
            (oid::DC, "example"),
            (oid::O, "Acme"),
            (oid::CN, "bob,OU=eng"),
        ],
        // A comma inside a DC: nats-server 2.15.1 maps this one (DCs joined unescaped).
        &[
            (oid::DC, "example,DC=com"),
            (oid::O, "Acme"),
            (oid::OU, "eng"),
            (oid::CN, "bob"),
        ],
        // An extra RDN.
        &[
            (oid::DC, "com"),
            (oid::DC, "example"),
            (oid::O, "Acme"),
            (oid::OU, "eng"),
            (oid::CN, "bob"),
            (oid::UID, "x"),
        ],
        // A missing RDN.
        &[
            (oid::DC, "com"),
            (oid::O, "Acme"),
            (oid::OU, "eng"),
            (oid::CN, "bob"),
        ],
        // Another case.
        &[
            (oid::DC, "com"),
            (oid::DC, "example"),
            (oid::O, "Acme"),
            (oid::OU, "eng"),
            (oid::CN, "BOB"),
        ],
        // The whole DN as the CN.
        &[(oid::CN, user)],
    ];
    for subject in crafted {
        let peer = identity_of(&ca.client(subject, &[], &[], &[]).expect("cert").cert_pem);
        assert_eq!(map(&peer, [user]), None, "{} must not map", peer.subject_dn);
        assert!(
            matches!(
                server_auth_login(&peer, &[user]),
                Err(AuthError::NoCertificateUser)
            ),
            "{} must not log in",
            peer.subject_dn
        );
    }
}

#[test]
fn pinning_by_spki_hash() {
    let (dir, _) = certs();
    let bob = identity_file(&dir.join("client-dn.pem"));
    let alice = identity_file(&dir.join("client.pem"));
    let mut opts = rnats_config::TlsConfig::default();
    assert!(pinned(&opts, Some(&bob)), "no pins: everything passes");
    opts.pinned_certs = vec![alice.spki_sha256_hex.clone()];
    assert!(!pinned(&opts, Some(&bob)), "not listed");
    assert!(pinned(&opts, Some(&alice)), "listed");
    opts.pinned_certs = vec![bob.spki_sha256_hex.to_ascii_uppercase()];
    assert!(pinned(&opts, Some(&bob)), "hex compares case-insensitively");
}

#[test]
fn garbage_is_not_a_certificate() {
    let err = PeerIdentity::from_cert(&CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0xff]));
    assert!(err.is_err());
}
