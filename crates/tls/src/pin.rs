//! Certificate pinning (`pinned_certs`).

use rnats_config::TlsConfig;

use crate::PeerIdentity;

/// Certificate pinning: true when `pinned_certs` is empty, else when the peer presented a
/// certificate (`peer`) whose SubjectPublicKeyInfo SHA-256 is listed (hex, compared
/// case-insensitively). It fails closed: with pins set, no certificate is no entry, whether or
/// not `verify` asked for one (as nats-server).
pub fn pinned(opts: &TlsConfig, peer: Option<&PeerIdentity>) -> bool {
    if opts.pinned_certs.is_empty() {
        return true;
    }
    peer.is_some_and(|peer| {
        opts.pinned_certs
            .iter()
            .any(|p| p.trim().eq_ignore_ascii_case(&peer.spki_sha256_hex))
    })
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
        assert!(pinned(&opts, Some(&p)));
        assert!(pinned(&opts, None), "no pins, no certificate needed");
        opts.pinned_certs = vec!["cd".repeat(32)];
        assert!(!pinned(&opts, Some(&p)));
        assert!(!pinned(&opts, None), "pins set: no certificate is refused");
        opts.pinned_certs.push("AB".repeat(32));
        assert!(pinned(&opts, Some(&p)));
    }
}
