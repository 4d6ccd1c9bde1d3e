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

#[cfg(test)]
mod tests {
    use super::*;

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
