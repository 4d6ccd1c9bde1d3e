//! Real handshakes (in memory, tokio-rustls): server-only TLS, and client verification.

use rnats_auth::map_certificate_user;
use rnats_tls::testcerts;
use rnats_tls::{PeerIdentity, server_config};

use crate::support::{auth_identity, certs, client_config, handshake, server_opts};

#[tokio::test]
async fn server_only_tls_succeeds_without_client_certificate() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    // ca_file alone does not request client certificates.
    opts.ca_file = Some(dir.join("ca.pem"));
    let out = handshake(
        server_config(&opts).expect("config"),
        client_config(&dir.join("ca.pem"), None),
    )
    .await;
    assert!(matches!(out.server, Ok(None)), "{:?}", out.server);
    assert!(out.client_ok);
}

#[tokio::test]
async fn verify_refuses_a_client_without_certificate() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.ca_file = Some(dir.join("ca.pem"));
    opts.verify = true;
    let out = handshake(
        server_config(&opts).expect("config"),
        client_config(&dir.join("ca.pem"), None),
    )
    .await;
    assert!(out.server.is_err(), "accepted a client without certificate");
    assert!(!out.client_ok);
}

#[tokio::test]
async fn verify_and_map_accepts_a_ca_signed_client_and_maps_it() {
    let (dir, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.ca_file = Some(dir.join("ca.pem"));
    opts.verify_and_map = true;
    let config = server_config(&opts).expect("config");
    let client = client_config(
        &dir.join("ca.pem"),
        Some((&dir.join("client-dn.pem"), &dir.join("client-dn-key.pem"))),
    );
    let out = handshake(config, client).await;
    assert!(out.client_ok);
    let peers = out.server.expect("handshake").expect("peer certificates");
    let peer = PeerIdentity::from_cert(&peers[0]).expect("identity");
    assert_eq!(peer.subject_dn, testcerts::CLIENT_DN);
    assert_eq!(
        map_certificate_user(&auth_identity(&peer), [testcerts::CLIENT_DN]),
        Some(testcerts::CLIENT_DN)
    );
}

#[tokio::test]
async fn verify_refuses_a_certificate_from_another_ca() {
    let (dir, _) = certs();
    let (other, _) = certs();
    let mut opts = server_opts(&dir.0, "server");
    opts.ca_file = Some(dir.join("ca.pem"));
    opts.verify = true;
    let client = client_config(
        &dir.join("ca.pem"),
        Some((&other.join("client.pem"), &other.join("client-key.pem"))),
    );
    let out = handshake(server_config(&opts).expect("config"), client).await;
    assert!(
        out.server.is_err(),
        "accepted a certificate from another CA"
    );
    assert!(!out.client_ok);
}
