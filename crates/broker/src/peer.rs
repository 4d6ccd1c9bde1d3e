//! The client certificate, as the authenticator sees it.

/// What `verify_and_map` needs from a verified client certificate.
pub(crate) fn auth_identity(p: &rnats_tls::PeerIdentity) -> rnats_auth::TlsIdentity {
    p.to_auth_identity()
}
