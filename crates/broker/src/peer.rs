//! The client-certificate identity, handed from the TLS layer to authentication.

/// What `rnats-auth` needs of a verified peer certificate for `verify_and_map`: the subject DN
/// forms and the SANs (the SPKI hash stays with `rnats-tls`, which does the pinning). The two
/// crates do not know each other; this conversion is where they meet.
pub(crate) fn auth_identity(p: &rnats_tls::PeerIdentity) -> rnats_auth::TlsIdentity {
    rnats_auth::TlsIdentity {
        subject_dn: p.subject_dn.clone(),
        subject_dn_without_dc: p.subject_dn_without_dc.clone(),
        emails: p.emails.clone(),
        dns_names: p.dns_names.clone(),
        uris: p.uris.clone(),
    }
}

/// The client's TLS session as an auth callout request reports it (`client_tls`): version and
/// cipher suite in Go's names, and the peer certificates in PEM. nats-server reports the
/// verified chains (leaf to CA) when it verified the client; rustls does not expose those, so
/// rnats sends the certificates the client presented, in `certs`.
pub(crate) fn callout_tls(conn: &tokio_rustls::rustls::ServerConnection) -> rnats_jwt::ClientTls {
    let (version, cipher) = crate::monitor::tls_description(conn);
    let certs = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| pem_certificate(c.as_ref()))
        .collect();
    rnats_jwt::ClientTls {
        version,
        cipher,
        certs,
        verified_chains: Vec::new(),
    }
}

/// A DER certificate as Go's `pem.EncodeToMemory` writes it: 64 base64 characters a line.
fn pem_certificate(der: &[u8]) -> String {
    let b64 = data_encoding::BASE64.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    out.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_64_characters() {
        let pem = pem_certificate(&[7u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        // 100 bytes are 136 base64 characters: 64 + 64 + 8.
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 8);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert!(pem.ends_with("-----\n"));
    }

    #[test]
    fn every_name_is_carried_over() {
        let peer = rnats_tls::PeerIdentity {
            subject_dn: "CN=carol,O=Acme,DC=acme,DC=io".into(),
            subject_dn_without_dc: "CN=carol,O=Acme".into(),
            emails: vec!["carol@acme.io".into()],
            dns_names: vec!["carol.acme.io".into()],
            uris: vec!["spiffe://acme.io/carol".into()],
            spki_sha256_hex: "00".into(),
        };
        assert_eq!(
            auth_identity(&peer),
            rnats_auth::TlsIdentity {
                subject_dn: "CN=carol,O=Acme,DC=acme,DC=io".into(),
                subject_dn_without_dc: "CN=carol,O=Acme".into(),
                emails: vec!["carol@acme.io".into()],
                dns_names: vec!["carol.acme.io".into()],
                uris: vec!["spiffe://acme.io/carol".into()],
            }
        );
    }
}
