//! The typed `tls { … }` block of the client listener.

use std::path::PathBuf;
use std::time::Duration;

/// TLS settings, as read; certificates are loaded by the TLS crate, not here.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct TlsConfig {
    /// `cert_file`: PEM certificate chain.
    pub cert_file: Option<PathBuf>,
    /// `key_file`: PEM private key.
    pub key_file: Option<PathBuf>,
    /// `certs`/`certificates`: several certificate/key pairs, chosen by SNI.
    pub certs: Vec<CertKeyPair>,
    /// `ca_file`: CAs that client certificates must chain to.
    pub ca_file: Option<PathBuf>,
    /// `verify`: require and verify client certificates (also set by `verify_and_map`).
    pub verify: bool,
    /// `verify_and_map`: verify, and take the user from the certificate.
    pub verify_and_map: bool,
    /// `timeout`: handshake timeout; `None` means the default (2 s).
    pub timeout: Option<Duration>,
    /// `pinned_certs`: lower-case hex SHA-256 of accepted peer SubjectPublicKeyInfo.
    pub pinned_certs: Vec<String>,
    /// `cipher_suites`: Go cipher suite names; empty means the defaults.
    pub cipher_suites: Vec<String>,
    /// `curve_preferences`: Go curve names; empty means the defaults.
    pub curve_preferences: Vec<String>,
    /// `min_version`: `"1.2"` or `"1.3"`; `None` means 1.2.
    pub min_version: Option<String>,
    /// `handshake_first` (aliases `first`, `immediate`).
    pub handshake_first: HandshakeFirst,
    /// `connection_rate_limit`: new handshakes per second.
    pub connection_rate_limit: Option<u64>,
    /// `allow_insecure_cipher_suites`: permit cipher suites Go deems insecure.
    pub dangerous_allow_insecure_cipher_suites: bool,
}

/// A certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertKeyPair {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// Whether the TLS handshake comes before the INFO line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HandshakeFirst {
    /// INFO first, then TLS (the default).
    #[default]
    Off,
    /// TLS first for every client.
    On,
    /// TLS first, falling back to INFO first after this delay for old clients (`auto` = 50 ms).
    Fallback(Duration),
}
