//! `rustls::ServerConfig` from a nats-server `tls {}` block.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rnats_config::TlsConfig;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{PeerIdentity, TlsError};

/// Builds the server side of a `tls {}` block.
///
/// - `cert_file` + `key_file` (PEM chain, and an RSA, ECDSA or Ed25519 key in PKCS#1, PKCS#8
///   or SEC1), or `certs` (several pairs chosen by SNI; the first one when the client sends
///   no name or an unknown one).
/// - `verify` or `verify_and_map`: a client certificate is **required** and must chain to
///   `ca_file` (which is then mandatory: there is no fallback to the system roots). Otherwise
///   no client certificate is requested, even when `ca_file` is set.
/// - `cipher_suites`: nats-server (Go) names. Go only lets TLS 1.2 suites be chosen, so a list
///   of TLS 1.2 names restricts TLS 1.2 only: **the three TLS 1.3 suites stay enabled** (as
///   they do in Go). Listing TLS 1.3 names (`TLS_AES_128_GCM_SHA256`, …) restricts TLS 1.3
///   to those. Suites rustls does not implement (CBC, RSA key exchange, 3DES, RC4) are errors.
/// - `curve_preferences`: `X25519`, `CurveP256`, `CurveP384`, in order of preference;
///   `CurveP521` and the ML-KEM hybrids are known but not offered by rustls' ring provider, so
///   they are errors rather than silently dropped.
/// - `min_version`: `"1.2"` (the default) or `"1.3"`.
///
/// # Errors
/// Every [`TlsError`] names the file, option or value that is wrong.
pub fn server_config(opts: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(provider(opts)?);
    let versions = protocol_versions(opts.min_version.as_deref())?;
    let resolver = Arc::new(cert_resolver(opts, &provider)?);
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| TlsError::Rustls {
            context: "protocol versions",
            source: e,
        })?;
    let mut config = if opts.verify || opts.verify_and_map {
        builder
            .with_client_cert_verifier(client_verifier(opts, &provider)?)
            .with_cert_resolver(resolver)
    } else {
        builder.with_no_client_auth().with_cert_resolver(resolver)
    };
    // Session tickets, as Go's TLS server sends by default: a client that reconnects resumes
    // without a new signature or certificate check. Stateless (the ticket carries the session,
    // encrypted under keys rotated every few hours), so tickets cost the server no memory per
    // client. A resumed session keeps the client certificate it was made with, so mapping and
    // pinning see the same identity.
    // The server's order decides, as in Go (whose TLS 1.3 server picks by its own preference).
    config.ignore_client_order = true;
    config.ticketer = ring::Ticketer::new().map_err(|e| TlsError::Rustls {
        context: "session tickets",
        source: e,
    })?;
    // One ticket per handshake, as Go's server sends (rustls' default is two): a reconnecting
    // client needs one, and each ticket costs both ends an encryption and a record.
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

/// Reads every certificate in a PEM file.
///
/// # Errors
/// [`TlsError::Read`], [`TlsError::BadPem`] or [`TlsError::NoCertificates`], naming `path`.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificates {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#1, PKCS#8 or SEC1) in a PEM file.
///
/// # Errors
/// [`TlsError::Read`] or [`TlsError::NoPrivateKey`], naming `path`.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::NoPrivateKey {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// The ring provider with the configured suites and groups.
fn provider(opts: &TlsConfig) -> Result<CryptoProvider, TlsError> {
    let mut provider = ring::default_provider();
    if opts.cipher_suites.is_empty() {
        // Go's order where AES is in hardware: the SHA-256 suites before AES-256/SHA-384,
        // whose key schedule hashes with SHA-512 (7% of a pinned server's time per full
        // handshake when clients such as rustls list AES-256 first).
        provider.cipher_suites.sort_by_key(|s| {
            matches!(
                s.suite(),
                rustls::CipherSuite::TLS13_AES_256_GCM_SHA384
                    | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                    | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
            )
        });
    } else {
        provider.cipher_suites = cipher_suites(&opts.cipher_suites)?;
    }
    if !opts.curve_preferences.is_empty() {
        provider.kx_groups = kx_groups(&opts.curve_preferences)?;
    }
    Ok(provider)
}

/// TLS 1.3 suites, by their Go names.
const TLS13: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// TLS 1.2 suites rustls implements, by their Go names (Go also spells the ChaCha suites
/// without `_SHA256`).
const TLS12: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Suites Go knows (some only as insecure) that rustls does not implement.
const GO_ONLY: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

/// Maps Go cipher suite names to rustls suites, keeping the TLS 1.3 suites on unless TLS 1.3
/// names are listed.
pub(crate) fn cipher_suites(names: &[String]) -> Result<Vec<SupportedCipherSuite>, TlsError> {
    let mut tls13 = Vec::new();
    let mut tls12 = Vec::new();
    let mut unknown = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let name = name.trim();
        if let Some((_, s)) = TLS13.iter().find(|(n, _)| *n == name) {
            push_unique(&mut tls13, *s);
        } else if let Some((_, s)) = TLS12.iter().find(|(n, _)| *n == name) {
            push_unique(&mut tls12, *s);
        } else if GO_ONLY.contains(&name) {
            unsupported.push(name.to_owned());
        } else {
            unknown.push(name.to_owned());
        }
    }
    if !unknown.is_empty() {
        return Err(TlsError::UnknownCipherSuites { names: unknown });
    }
    if !unsupported.is_empty() {
        return Err(TlsError::UnsupportedCipherSuites { names: unsupported });
    }
    if tls13.is_empty() {
        tls13 = TLS13.iter().map(|(_, s)| *s).collect();
    }
    tls13.extend(tls12);
    Ok(tls13)
}

fn push_unique(v: &mut Vec<SupportedCipherSuite>, s: SupportedCipherSuite) {
    if !v.iter().any(|x| x.suite() == s.suite()) {
        v.push(s);
    }
}

/// Maps Go curve names to rustls key-exchange groups, in the order given.
pub(crate) fn kx_groups(names: &[String]) -> Result<Vec<&'static dyn SupportedKxGroup>, TlsError> {
    let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut unknown = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let group = match name.trim() {
            "X25519" => ring::kx_group::X25519,
            "CurveP256" => ring::kx_group::SECP256R1,
            "CurveP384" => ring::kx_group::SECP384R1,
            "CurveP521" | "X25519MLKEM768" | "SecP256r1MLKEM768" | "SecP384r1MLKEM1024" => {
                unsupported.push(name.trim().to_owned());
                continue;
            }
            other => {
                unknown.push(other.to_owned());
                continue;
            }
        };
        if !groups.iter().any(|g| g.name() == group.name()) {
            groups.push(group);
        }
    }
    if !unknown.is_empty() {
        return Err(TlsError::UnknownCurves { names: unknown });
    }
    if !unsupported.is_empty() {
        return Err(TlsError::UnsupportedCurves { names: unsupported });
    }
    Ok(groups)
}

fn protocol_versions(
    min: Option<&str>,
) -> Result<&'static [&'static SupportedProtocolVersion], TlsError> {
    static ONLY_13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match min.map(str::trim) {
        None | Some("1.2") => Ok(rustls::ALL_VERSIONS),
        Some("1.3") => Ok(ONLY_13),
        Some(other) => Err(TlsError::BadMinVersion {
            value: other.to_owned(),
        }),
    }
}

fn client_verifier(
    opts: &TlsConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let ca_file = opts.ca_file.as_deref().ok_or(TlsError::MissingCaFile)?;
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca_file)? {
        roots.add(cert).map_err(|e| TlsError::BadCertificate {
            path: ca_file.to_owned(),
            reason: e.to_string(),
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| TlsError::BadCertificate {
            path: ca_file.to_owned(),
            reason: e.to_string(),
        })
}

/// Loads one certificate/key pair and checks that they belong together.
fn certified_key(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<(Vec<String>, Arc<CertifiedKey>), TlsError> {
    let chain = load_certs(cert_file)?;
    let key = load_key(key_file)?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| TlsError::UnsupportedKey {
                path: key_file.to_owned(),
                reason: e.to_string(),
            })?;
    let names = chain
        .first()
        .and_then(|c| PeerIdentity::from_cert(c).ok())
        .map(|id| id.dns_names)
        .ok_or_else(|| TlsError::BadCertificate {
            path: cert_file.to_owned(),
            reason: "the first certificate does not parse".to_owned(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert_file: cert_file.to_owned(),
                key_file: key_file.to_owned(),
            });
        }
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: cert_file.to_owned(),
                reason: e.to_string(),
            });
        }
    }
    Ok((names, Arc::new(certified)))
}

fn cert_resolver(opts: &TlsConfig, provider: &CryptoProvider) -> Result<CertResolver, TlsError> {
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    match (&opts.cert_file, &opts.key_file) {
        (Some(c), Some(k)) => pairs.push((c.clone(), k.clone())),
        (Some(c), None) => {
            return Err(TlsError::MissingKeyFile {
                cert_file: c.clone(),
            });
        }
        (None, Some(k)) => {
            return Err(TlsError::MissingCertFile {
                key_file: k.clone(),
            });
        }
        (None, None) => {}
    }
    if !pairs.is_empty() && !opts.certs.is_empty() {
        return Err(TlsError::CertFileAndCerts);
    }
    pairs.extend(
        opts.certs
            .iter()
            .map(|p| (p.cert_file.clone(), p.key_file.clone())),
    );
    if pairs.is_empty() {
        return Err(TlsError::NoServerCertificate);
    }
    let entries = pairs
        .iter()
        .map(|(c, k)| certified_key(c, k, provider))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CertResolver { entries })
}

/// Picks a certificate by SNI (exact or left-most `*.` wildcard DNS SAN, ignoring case), or
/// the first one.
#[derive(Debug)]
struct CertResolver {
    entries: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = hello.server_name().and_then(|sni| {
            self.entries
                .iter()
                .find(|(names, _)| names.iter().any(|n| dns_matches(n, sni)))
        });
        by_name
            .or_else(|| self.entries.first())
            .map(|(_, key)| Arc::clone(key))
    }
}

fn dns_matches(pattern: &str, name: &str) -> bool {
    if pattern.eq_ignore_ascii_case(name) {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && suffix.eq_ignore_ascii_case(rest)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tls12_names_keep_tls13_suites() {
        let suites =
            cipher_suites(&names(&["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])).unwrap_or_default();
        assert_eq!(suites.len(), 4);
        assert!(suites.iter().take(3).all(|s| s.tls13().is_some()));
    }

    #[test]
    fn tls13_names_restrict_tls13() {
        let suites = cipher_suites(&names(&[
            "TLS_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]))
        .unwrap_or_default();
        assert_eq!(suites.len(), 2);
    }

    #[test]
    fn unknown_and_unsupported_suites_are_named() {
        let err = cipher_suites(&names(&["TLS_NOPE", "TLS_RSA_WITH_AES_128_CBC_SHA"]));
        assert!(
            matches!(err, Err(TlsError::UnknownCipherSuites { names }) if names == ["TLS_NOPE"])
        );
        let err = cipher_suites(&names(&["TLS_RSA_WITH_AES_128_CBC_SHA"]));
        assert!(matches!(err, Err(TlsError::UnsupportedCipherSuites { .. })));
    }

    #[test]
    fn curves() {
        let groups = kx_groups(&names(&["CurveP384", "X25519", "CurveP384"])).unwrap_or_default();
        assert_eq!(groups.len(), 2);
        assert!(matches!(
            kx_groups(&names(&["P-256"])),
            Err(TlsError::UnknownCurves { names }) if names == ["P-256"]
        ));
        assert!(matches!(
            kx_groups(&names(&["CurveP521"])),
            Err(TlsError::UnsupportedCurves { .. })
        ));
    }

    #[test]
    fn versions() {
        assert_eq!(protocol_versions(None).map(<[_]>::len).ok(), Some(2));
        assert_eq!(protocol_versions(Some("1.3")).map(<[_]>::len).ok(), Some(1));
        assert!(protocol_versions(Some("1.1")).is_err());
    }

    #[test]
    fn wildcards() {
        assert!(dns_matches("*.example.com", "a.example.com"));
        assert!(dns_matches("Localhost", "localhost"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
    }
}
