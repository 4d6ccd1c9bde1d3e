//! `server_config`: keys of every kind and format, errors naming what is wrong, suites,
//! curves and versions.

use std::fs;

use rnats_tls::testcerts::{Ca, KeyKind};
use rnats_tls::{TlsError, server_config};

use crate::support::{TempDir, certs, client_config, handshake, openssl, server_opts};

#[tokio::test]
async fn generated_ecdsa_and_ed25519_servers_handshake() {
    let (dir, _) = certs();
    for stem in ["server", "server-ecdsa", "server-ed25519"] {
        let config = server_config(&server_opts(&dir.0, stem)).expect(stem);
        let out = handshake(config, client_config(&dir.join("ca.pem"), None)).await;
        assert!(out.server.is_ok(), "{stem}: {:?}", out.server.err());
        assert!(out.client_ok, "{stem}");
    }
}

#[tokio::test]
async fn rsa_pkcs8_and_pkcs1_and_ec_sec1_keys_load() {
    let dir = TempDir::new();
    let ca = Ca::new("rsa test CA").expect("ca");
    fs::write(dir.join("ca.pem"), ca.cert_pem()).expect("write");

    // ring cannot generate RSA keys: openssl makes one, rcgen certifies it.
    let rsa_pkcs8 = openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
    ]);
    let rsa_pkcs8 = String::from_utf8(rsa_pkcs8).expect("pem");
    let rsa = ca
        .issue_for_key_pem(&rsa_pkcs8, &rcgen::PKCS_RSA_SHA256)
        .expect("rsa cert");
    fs::write(dir.join("rsa.pem"), &rsa.cert_pem).expect("write");
    fs::write(dir.join("rsa-key.pem"), &rsa.key_pem).expect("write");
    let pkcs1 = openssl(&[
        "pkey",
        "-in",
        &dir.join("rsa-key.pem").to_string_lossy(),
        "-traditional",
    ]);
    assert!(pkcs1.starts_with(b"-----BEGIN RSA PRIVATE KEY-----"));
    fs::write(dir.join("rsa1.pem"), &rsa.cert_pem).expect("write");
    fs::write(dir.join("rsa1-key.pem"), pkcs1).expect("write");

    let ec = ca.server(KeyKind::EcdsaP256).expect("ec");
    fs::write(dir.join("ec.pem"), &ec.cert_pem).expect("write");
    fs::write(dir.join("ec-pkcs8.pem"), &ec.key_pem).expect("write");
    let sec1 = openssl(&[
        "pkey",
        "-in",
        &dir.join("ec-pkcs8.pem").to_string_lossy(),
        "-traditional",
    ]);
    assert!(sec1.starts_with(b"-----BEGIN EC PRIVATE KEY-----"));
    fs::write(dir.join("ec-key.pem"), sec1).expect("write");

    for stem in ["rsa", "rsa1", "ec"] {
        let config = server_config(&server_opts(&dir.0, stem)).expect(stem);
        let out = handshake(config, client_config(&dir.join("ca.pem"), None)).await;
        assert!(
            out.server.is_ok() && out.client_ok,
            "{stem}: {:?}",
            out.server.err()
        );
    }
}

fn err_text(opts: &rnats_config::TlsConfig) -> (TlsError, String) {
    let err = server_config(opts).expect_err("should fail");
    let text = err.to_string();
    (err, text)
}

#[test]
fn missing_files_are_named() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.cert_file = Some(dir.join("nope.pem"));
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::Read { .. }));
    assert!(text.contains("nope.pem"), "{text}");

    let mut opts = server_opts(&dir.0, "server");
    opts.key_file = Some(dir.join("nokey.pem"));
    assert!(err_text(&opts).1.contains("nokey.pem"));

    let mut opts = server_opts(&dir.0, "server");
    opts.verify = true;
    opts.ca_file = Some(dir.join("noca.pem"));
    assert!(err_text(&opts).1.contains("noca.pem"));
}

#[test]
fn garbage_pem_is_named() {
    let (dir, _) = certs();
    fs::write(dir.join("garbage.pem"), "hello, not a certificate\n").expect("write");
    fs::write(
        dir.join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n",
    )
    .expect("write");

    let mut opts = server_opts(&dir.0, "server");
    opts.cert_file = Some(dir.join("garbage.pem"));
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::NoCertificates { .. }), "{err:?}");
    assert!(text.contains("garbage.pem"), "{text}");

    opts.cert_file = Some(dir.join("broken.pem"));
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::BadPem { .. }), "{err:?}");
    assert!(text.contains("broken.pem"), "{text}");

    let mut opts = server_opts(&dir.0, "server");
    opts.key_file = Some(dir.join("garbage.pem"));
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
    assert!(text.contains("garbage.pem"), "{text}");

    // A certificate where the key should be.
    opts.key_file = Some(dir.join("server.pem"));
    assert!(matches!(err_text(&opts).0, TlsError::NoPrivateKey { .. }));
}

#[test]
fn mismatched_key_names_both_files() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.key_file = Some(dir.join("server-ecdsa-key.pem"));
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert!(
        text.contains("server.pem") && text.contains("server-ecdsa-key.pem"),
        "{text}"
    );
}

#[test]
fn incomplete_options() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.key_file = None;
    assert!(matches!(err_text(&opts).0, TlsError::MissingKeyFile { .. }));
    let mut opts = server_opts(&dir.0, "server");
    opts.cert_file = None;
    assert!(matches!(
        err_text(&opts).0,
        TlsError::MissingCertFile { .. }
    ));
    assert!(matches!(
        err_text(&rnats_config::TlsConfig::default()).0,
        TlsError::NoServerCertificate
    ));
    let mut opts = server_opts(&dir.0, "server");
    opts.verify_and_map = true;
    assert!(matches!(err_text(&opts).0, TlsError::MissingCaFile));
}

#[test]
fn unknown_cipher_and_curve_names_are_named() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.cipher_suites = vec![
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256".into(),
        "TLS_MADE_UP_SUITE".into(),
    ];
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::UnknownCipherSuites { .. }));
    assert!(text.contains("TLS_MADE_UP_SUITE"), "{text}");

    opts.cipher_suites = vec!["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA".into()];
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::UnsupportedCipherSuites { .. }));
    assert!(
        text.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
        "{text}"
    );

    let mut opts = server_opts(&dir.0, "server");
    opts.curve_preferences = vec!["CurveP256".into(), "Curve25519".into()];
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::UnknownCurves { .. }));
    assert!(text.contains("Curve25519"), "{text}");

    let mut opts = server_opts(&dir.0, "server");
    opts.min_version = Some("1.1".into());
    let (err, text) = err_text(&opts);
    assert!(matches!(err, TlsError::BadMinVersion { .. }));
    assert!(text.contains("1.1"), "{text}");
}

fn tls12_client(ca: &std::path::Path) -> std::sync::Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rnats_tls::load_certs(ca).expect("ca") {
        roots.add(c).expect("root");
    }
    std::sync::Arc::new(
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS12])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

#[tokio::test]
async fn cipher_suites_curves_and_min_version_take_effect() {
    let (dir, _) = certs();
    let ca = dir.join("ca.pem");

    let mut opts = server_opts(&dir.0, "server");
    opts.cipher_suites = vec!["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305".into()];
    let out = handshake(server_config(&opts).expect("config"), tls12_client(&ca)).await;
    assert_eq!(
        out.suite.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
    );
    // TLS 1.3 suites stay on (as in Go) although the list names a TLS 1.2 suite only.
    let out = handshake(
        server_config(&opts).expect("config"),
        client_config(&ca, None),
    )
    .await;
    assert!(
        out.suite
            .as_deref()
            .is_some_and(|s| s.starts_with("TLS13_")),
        "{:?}",
        out.suite
    );

    let mut opts = server_opts(&dir.0, "server");
    opts.curve_preferences = vec!["CurveP384".into()];
    let out = handshake(
        server_config(&opts).expect("config"),
        client_config(&ca, None),
    )
    .await;
    assert_eq!(out.group.as_deref(), Some("secp384r1"));

    let mut opts = server_opts(&dir.0, "server");
    opts.min_version = Some("1.3".into());
    let out = handshake(server_config(&opts).expect("config"), tls12_client(&ca)).await;
    assert!(out.server.is_err() && !out.client_ok);
}

#[tokio::test]
async fn certs_list_serves_by_sni_or_first() {
    let (dir, _) = certs();
    let mut opts = rnats_config::TlsConfig::default();
    let mut pairs = Vec::new();
    for stem in ["server-ed25519", "server"] {
        let mut p = server_opts(&dir.0, stem);
        pairs.push((
            p.cert_file.take().expect("c"),
            p.key_file.take().expect("k"),
        ));
    }
    // CertKeyPair is non_exhaustive: build it through the config parser.
    let text = format!(
        "tls {{ certs = [ {{cert_file: \"{}\", key_file: \"{}\"}}, {{cert_file: \"{}\", key_file: \"{}\"}} ] }}",
        pairs[0].0.display(),
        pairs[0].1.display(),
        pairs[1].0.display(),
        pairs[1].1.display()
    );
    let loaded = rnats_config::load_str(&text, None).expect("config parses");
    opts.certs = loaded.config.tls.expect("tls block").certs;
    assert_eq!(opts.certs.len(), 2);
    let out = handshake(
        server_config(&opts).expect("config"),
        client_config(&dir.join("ca.pem"), None),
    )
    .await;
    assert!(out.server.is_ok() && out.client_ok);

    opts.cert_file = Some(pairs[1].0.clone());
    opts.key_file = Some(pairs[1].1.clone());
    assert!(matches!(err_text(&opts).0, TlsError::CertFileAndCerts));
}
