//! rustls server configurations from nats-server `tls {}` options, the identity a client
//! certificate presents (for `verify_and_map`), and certificate pinning.
//!
//! Which user that identity maps to is decided in `rnats-auth` (one implementation, pure
//! string logic): the broker copies the names of a [`PeerIdentity`] into an
//! `rnats_auth::TlsIdentity`. The two crates do not depend on each other, so the TLS stack
//! stays out of authentication and password hashing out of TLS.
//!
//! No I/O beyond reading the configured PEM files, and no tokio: the broker owns the sockets
//! and runs the handshake with the [`rustls::ServerConfig`] built here.
//!
//! ```
//! use rnats_config::TlsConfig;
//! use rnats_tls::{PeerIdentity, pinned, server_config};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("rnats-tls-doc-{}", std::process::id()));
//! # let files = rnats_tls::testcerts::write_all(&dir)?;
//! let mut opts = TlsConfig::default();
//! opts.cert_file = Some(dir.join("server.pem"));
//! opts.key_file = Some(dir.join("server-key.pem"));
//! opts.ca_file = Some(dir.join("ca.pem"));
//! opts.verify_and_map = true;
//! let config = server_config(&opts)?; // hand to tokio-rustls' TlsAcceptor
//! # drop(config);
//!
//! // After the handshake: the first peer certificate names the user.
//! # let client_cert = rnats_tls::load_certs(&dir.join("client-dn.pem"))?.remove(0);
//! let peer = PeerIdentity::from_cert(&client_cert)?;
//! assert_eq!(peer.subject_dn, "CN=bob,OU=eng,O=Acme,DC=example,DC=com");
//! assert_eq!(peer.subject_dn_without_dc, "CN=bob,OU=eng,O=Acme");
//! assert!(pinned(&opts, Some(&peer))); // no pinned_certs configured
//! # drop(files);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! The example uses the `test-certs` feature (throwaway certificates, [`testcerts`]).

#![warn(missing_docs)]

mod config;
mod dn;
mod identity;
mod pin;
#[cfg(feature = "test-certs")]
pub mod testcerts;

use std::path::PathBuf;

pub use config::{load_certs, load_key, server_config};
pub use identity::PeerIdentity;
pub use pin::pinned;

/// Why a TLS configuration could not be built or a certificate not be read. Messages name the
/// file, option or value at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A configured file could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A certificate file is not valid PEM.
    #[error("{path}: invalid PEM: {reason}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// A certificate file holds no `CERTIFICATE` block.
    #[error("{path}: no PEM certificate found")]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// A certificate could not be used (CA store, parsing, verifier).
    #[error("{path}: unusable certificate: {reason}")]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key file holds no readable private key.
    #[error("{path}: no PEM private key (PKCS#1, PKCS#8 or SEC1) found: {reason}")]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// A private key of a kind rustls cannot sign with.
    #[error("{path}: unsupported private key: {reason}")]
    UnsupportedKey {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The private key does not belong to the certificate.
    #[error("private key {key_file} does not match certificate {cert_file}")]
    KeyMismatch {
        /// The certificate file.
        cert_file: PathBuf,
        /// The key file.
        key_file: PathBuf,
    },
    /// `cert_file` without `key_file`.
    #[error("tls: cert_file {cert_file} given without key_file")]
    MissingKeyFile {
        /// The certificate file.
        cert_file: PathBuf,
    },
    /// `key_file` without `cert_file`.
    #[error("tls: key_file {key_file} given without cert_file")]
    MissingCertFile {
        /// The key file.
        key_file: PathBuf,
    },
    /// Neither `cert_file`/`key_file` nor `certs`.
    #[error("tls: no server certificate: set cert_file and key_file, or certs")]
    NoServerCertificate,
    /// Both `cert_file` and `certs`.
    #[error("tls: cert_file/key_file and certs are mutually exclusive")]
    CertFileAndCerts,
    /// `verify`/`verify_and_map` without `ca_file`.
    #[error("tls: verify and verify_and_map need ca_file (system roots are not used)")]
    MissingCaFile,
    /// Cipher suite names that are not TLS cipher suite names at all.
    #[error("tls: unknown cipher suites: {}", names.join(", "))]
    UnknownCipherSuites {
        /// The names, as configured.
        names: Vec<String>,
    },
    /// Cipher suites Go knows but rustls does not implement (CBC, RSA key exchange, 3DES, RC4).
    #[error("tls: cipher suites not supported by rustls (only ECDHE with AES-GCM or ChaCha20-Poly1305 are): {}", names.join(", "))]
    UnsupportedCipherSuites {
        /// The names, as configured.
        names: Vec<String>,
    },
    /// Curve names that are not Go curve names.
    #[error("tls: unknown curve_preferences: {} (known: X25519, CurveP256, CurveP384)", names.join(", "))]
    UnknownCurves {
        /// The names, as configured.
        names: Vec<String>,
    },
    /// Curves Go knows that rustls' ring provider does not offer.
    #[error("tls: curve_preferences not supported by rustls (X25519, CurveP256, CurveP384 are): {}", names.join(", "))]
    UnsupportedCurves {
        /// The names, as configured.
        names: Vec<String>,
    },
    /// `min_version` other than `1.2` or `1.3`.
    #[error("tls: unsupported min_version {value:?}: use \"1.2\" or \"1.3\"")]
    BadMinVersion {
        /// The value, as configured.
        value: String,
    },
    /// rustls refused the assembled configuration.
    #[error("tls: {context}: {source}")]
    Rustls {
        /// Which step.
        context: &'static str,
        /// The rustls error.
        source: rustls::Error,
    },
    /// A peer certificate that does not parse as X.509.
    #[error("peer certificate does not parse: {reason}")]
    BadPeerCertificate {
        /// What the parser said.
        reason: String,
    },
    /// Test certificates could not be generated.
    #[error("generating {what}: {reason}")]
    Generate {
        /// Which certificate or key.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// Test certificates could not be written.
    #[error("could not write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl TlsError {
    /// The one configured file this error is about, if it is about one.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            Self::Read { path, .. }
            | Self::BadPem { path, .. }
            | Self::NoCertificates { path }
            | Self::BadCertificate { path, .. }
            | Self::NoPrivateKey { path, .. }
            | Self::UnsupportedKey { path, .. } => Some(path),
            Self::KeyMismatch { key_file, .. } => Some(key_file),
            _ => None,
        }
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
