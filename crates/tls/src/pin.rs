//! Certificate pinning (`pinned_certs`).

use rnats_config::TlsConfig;

use crate::PeerIdentity;

/// Certificate pinning: true when `pinned_certs` is empty, else when the SHA-256 of the peer's
/// SubjectPublicKeyInfo is listed (hex, compared case-insensitively).
pub fn pinned(opts: &TlsConfig, peer: &PeerIdentity) -> bool {
    opts.pinned_certs.is_empty()
        || opts
            .pinned_certs
            .iter()
            .any(|p| p.trim().eq_ignore_ascii_case(&peer.spki_sha256_hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning() {
        let p = PeerIdentity {
            subject_dn: "CN=a".to_owned(),
            subject_dn_without_dc: "CN=a".to_owned(),
            emails: vec![],
            dns_names: vec![],
            uris: vec![],
            spki_sha256_hex: "ab".repeat(32),
        };
        let mut opts = TlsConfig::default();
        assert!(pinned(&opts, &p));
        opts.pinned_certs = vec!["cd".repeat(32)];
        assert!(!pinned(&opts, &p));
        opts.pinned_certs.push("AB".repeat(32));
        assert!(pinned(&opts, &p));
    }
}
