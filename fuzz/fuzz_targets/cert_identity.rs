//! Arbitrary bytes as a client certificate (DER), as a TLS peer presents it: reading the
//! identity (subject DN, SANs, key fingerprint) must never panic, and what it reads is printable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustls_pki_types::CertificateDer;

fuzz_target!(|data: &[u8]| {
    let cert = CertificateDer::from(data);
    if let Ok(identity) = rnats_tls::PeerIdentity::from_cert(&cert) {
        assert_eq!(identity.spki_sha256_hex.len(), 64);
        let _ = format!("{identity:?}");
    }
});
