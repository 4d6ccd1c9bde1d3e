//! Throwaway certificates for tests and `cargo xtask certs` (feature `test-certs`).
//!
//! Everything is generated fresh, in memory, with new keys: nothing here is secret and nothing
//! generated is meant to be committed. Validity runs from 1975 to 4096 (rcgen's default), so
//! tests never depend on the clock.
//!
//! [`write_all`] writes this set into a directory:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem`, `ca-key.pem` | the CA (ECDSA P-256), `CN=rnats test CA` |
//! | `server.pem`, `server-key.pem` | server, ECDSA P-256, SANs `localhost`, `127.0.0.1`, `::1` |
//! | `server-ecdsa.pem`, `server-ecdsa-key.pem` | the same names, ECDSA P-384 key |
//! | `server-ed25519.pem`, `server-ed25519-key.pem` | the same names, Ed25519 key |
//! | `client.pem`, `client-key.pem` | client, `CN=alice`, email SAN `alice@example.com` |
//! | `client-dn.pem`, `client-dn-key.pem` | client, `CN=bob,OU=eng,O=Acme,DC=example,DC=com`, no SANs |
//!
//! `ring` cannot generate RSA keys; [`Ca::issue_for_key_pem`] certifies an RSA key made
//! elsewhere (for instance by `openssl genpkey`).

use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SignatureAlgorithm,
};

use crate::TlsError;

/// The OID of domainComponent, for rcgen.
const DC: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 25];

/// The email SAN of `client.pem`.
pub const CLIENT_EMAIL: &str = "alice@example.com";
/// The subject of `client-dn.pem`, as nats-server prints it.
pub const CLIENT_DN: &str = "CN=bob,OU=eng,O=Acme,DC=example,DC=com";

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertAndKey {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

/// The key algorithm for a generated certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            Self::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            Self::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            Self::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// A throwaway certificate authority.
pub struct Ca {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

fn gen_err(what: &str) -> impl FnOnce(rcgen::Error) -> TlsError + '_ {
    move |e| TlsError::Generate {
        what: what.to_owned(),
        reason: e.to_string(),
    }
}

impl Ca {
    /// A new CA (ECDSA P-256) with subject `CN=<common_name>`.
    ///
    /// # Errors
    /// [`TlsError::Generate`] if rcgen fails.
    pub fn new(common_name: &str) -> Result<Self, TlsError> {
        let key =
            KeyPair::generate_for(KeyKind::EcdsaP256.algorithm()).map_err(gen_err("CA key"))?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params
            .self_signed(&key)
            .map_err(gen_err("CA certificate"))?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key, PEM (PKCS#8).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server certificate for `localhost`, `127.0.0.1` and `::1`.
    ///
    /// # Errors
    /// [`TlsError::Generate`] if rcgen fails.
    pub fn server(&self, kind: KeyKind) -> Result<CertAndKey, TlsError> {
        let key = KeyPair::generate_for(kind.algorithm()).map_err(gen_err("server key"))?;
        self.issue(server_params(), &key, "server certificate")
    }

    /// A server certificate (as [`Ca::server`]) for a key made elsewhere: a PKCS#8 PEM key of
    /// the given rcgen algorithm, e.g. `&rcgen::PKCS_RSA_SHA256` for an RSA key.
    ///
    /// # Errors
    /// [`TlsError::Generate`] if the key does not load or rcgen fails.
    pub fn issue_for_key_pem(
        &self,
        key_pem: &str,
        alg: &'static SignatureAlgorithm,
    ) -> Result<CertAndKey, TlsError> {
        let key = KeyPair::from_pkcs8_pem_and_sign_algo(key_pem, alg).map_err(gen_err("key"))?;
        self.issue(server_params(), &key, "server certificate")
    }

    /// A client certificate with the given subject RDNs (in ASN.1 order, least specific
    /// first: `[(DC, com), (DC, example), (O, Acme), …]`, as `(OID arcs, value)`; one
    /// attribute per RDN, types may repeat) and SANs.
    ///
    /// # Errors
    /// [`TlsError::Generate`] if rcgen fails.
    pub fn client(
        &self,
        subject: &[(&[u64], &str)],
        emails: &[&str],
        dns_names: &[&str],
        uris: &[&str],
    ) -> Result<CertAndKey, TlsError> {
        let key =
            KeyPair::generate_for(KeyKind::EcdsaP256.algorithm()).map_err(gen_err("client key"))?;
        let mut params = CertificateParams::default();
        // rcgen keeps one value per attribute type, so the certificate is issued with a
        // placeholder subject that is then replaced (and the certificate signed again).
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, PLACEHOLDER);
        let ia5 = |v: &str| rcgen::string::Ia5String::try_from(v).map_err(gen_err("SAN"));
        for v in emails {
            params.subject_alt_names.push(SanType::Rfc822Name(ia5(v)?));
        }
        for v in dns_names {
            params.subject_alt_names.push(SanType::DnsName(ia5(v)?));
        }
        for v in uris {
            params.subject_alt_names.push(SanType::URI(ia5(v)?));
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(gen_err("client certificate"))?;
        let der = der::replace_subject(cert.der(), &der::name(subject), self.issuer.key())
            .ok_or_else(|| TlsError::Generate {
                what: "client certificate".to_owned(),
                reason: "could not re-encode the subject".to_owned(),
            })?;
        Ok(CertAndKey {
            cert_pem: der::pem("CERTIFICATE", &der),
            key_pem: key.serialize_pem(),
        })
    }

    fn issue(
        &self,
        params: CertificateParams,
        key: &KeyPair,
        what: &str,
    ) -> Result<CertAndKey, TlsError> {
        let cert = params.signed_by(key, &self.issuer).map_err(gen_err(what))?;
        Ok(CertAndKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The subject a client certificate is first issued with.
const PLACEHOLDER: &str = "rnats-testcerts-placeholder-subject";

/// Just enough DER to swap a certificate's subject.
mod der {
    use rcgen::SigningKey;

    fn push_len(out: &mut Vec<u8>, len: usize) {
        if let Ok(short) = u8::try_from(len)
            && short < 0x80
        {
            out.push(short);
            return;
        }
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let n = bytes.len() - skip;
        out.push(0x80 | u8::try_from(n).unwrap_or(0));
        out.extend_from_slice(&bytes[skip..]);
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        push_len(&mut out, content.len());
        out.extend_from_slice(content);
        out
    }

    /// `(header length, content length)` of the element at the start of `buf`.
    fn header(buf: &[u8]) -> Option<(usize, usize)> {
        let first = *buf.get(1)?;
        if first < 0x80 {
            return Some((2, usize::from(first)));
        }
        let n = usize::from(first & 0x7f);
        let mut len = 0usize;
        for b in buf.get(2..2 + n)? {
            len = len.checked_mul(256)? + usize::from(*b);
        }
        Some((2 + n, len))
    }

    fn oid(arcs: &[u64]) -> Vec<u8> {
        let mut content = Vec::new();
        let (first, rest) = match arcs {
            [a, b, rest @ ..] => (a * 40 + b, rest),
            _ => (0, &[][..]),
        };
        for arc in std::iter::once(first).chain(rest.iter().copied()) {
            let mut groups = vec![u8::try_from(arc & 0x7f).unwrap_or(0)];
            let mut v = arc >> 7;
            while v > 0 {
                groups.push(0x80 | u8::try_from(v & 0x7f).unwrap_or(0));
                v >>= 7;
            }
            content.extend(groups.iter().rev());
        }
        tlv(0x06, &content)
    }

    /// A Name with one attribute per RDN: IA5String for DC, UTF8String otherwise.
    pub(super) fn name(subject: &[(&[u64], &str)]) -> Vec<u8> {
        let mut rdns = Vec::new();
        for (arcs, value) in subject {
            let tag = if *arcs == super::DC { 0x16 } else { 0x0c };
            let mut atv = oid(arcs);
            atv.extend(tlv(tag, value.as_bytes()));
            rdns.extend(tlv(0x31, &tlv(0x30, &atv)));
        }
        tlv(0x30, &rdns)
    }

    /// Replaces the subject of `cert` (issued with the placeholder subject) by `subject` and
    /// signs it again with `key` (an ECDSA P-256 CA key).
    pub(super) fn replace_subject(
        cert: &[u8],
        subject: &[u8],
        key: &impl SigningKey,
    ) -> Option<Vec<u8>> {
        let mut placeholder_atv = oid(&[2, 5, 4, 3]);
        placeholder_atv.extend(tlv(0x0c, super::PLACEHOLDER.as_bytes()));
        let placeholder = tlv(0x30, &tlv(0x31, &tlv(0x30, &placeholder_atv)));

        let (outer, _) = header(cert)?;
        let body = cert.get(outer..)?;
        let (tbs_header, tbs_len) = header(body)?;
        let tbs = body.get(tbs_header..tbs_header + tbs_len)?;
        let at = tbs
            .windows(placeholder.len())
            .position(|w| w == placeholder)?;
        let mut new_tbs = tbs[..at].to_vec();
        new_tbs.extend_from_slice(subject);
        new_tbs.extend_from_slice(&tbs[at + placeholder.len()..]);
        let new_tbs = tlv(0x30, &new_tbs);
        let signature = key.sign(&new_tbs).ok()?;
        // ecdsa-with-SHA256
        let alg = tlv(0x30, &oid(&[1, 2, 840, 10045, 4, 3, 2]));
        let mut bits = vec![0];
        bits.extend(signature);
        let mut content = new_tbs;
        content.extend(alg);
        content.extend(tlv(0x03, &bits));
        Some(tlv(0x30, &content))
    }

    pub(super) fn pem(label: &str, der: &[u8]) -> String {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut b64 = String::new();
        for chunk in der.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    let idx = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                    b64.push(char::from(B64[idx]));
                } else {
                    b64.push('=');
                }
            }
        }
        let mut out = format!("-----BEGIN {label}-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }
}

/// OID arcs for building subjects with [`Ca::client`].
pub mod oid {
    /// commonName.
    pub const CN: &[u64] = &[2, 5, 4, 3];
    /// organizationName.
    pub const O: &[u64] = &[2, 5, 4, 10];
    /// organizationalUnitName.
    pub const OU: &[u64] = &[2, 5, 4, 11];
    /// countryName.
    pub const C: &[u64] = &[2, 5, 4, 6];
    /// domainComponent.
    pub const DC: &[u64] = super::DC;
    /// userId.
    pub const UID: &[u64] = &[0, 9, 2342, 19200300, 100, 1, 1];
}

fn server_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.subject_alt_names = vec![
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    if let Ok(name) = rcgen::string::Ia5String::try_from("localhost") {
        params.subject_alt_names.insert(0, SanType::DnsName(name));
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// What [`write_all`] wrote.
#[derive(Debug, Clone)]
pub struct Files {
    /// The directory.
    pub dir: PathBuf,
    /// Every file written, in the order written.
    pub written: Vec<PathBuf>,
}

impl Files {
    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Generates the whole set (see the module docs) into `dir`, creating it if needed.
///
/// # Errors
/// [`TlsError::Generate`] or [`TlsError::Write`].
pub fn write_all(dir: &Path) -> Result<Files, TlsError> {
    write_set(&Ca::new("rnats test CA")?, dir)
}

/// As [`write_all`], with a CA the caller keeps (to issue more certificates with it).
///
/// # Errors
/// [`TlsError::Generate`] or [`TlsError::Write`].
pub fn write_set(ca: &Ca, dir: &Path) -> Result<Files, TlsError> {
    let server = ca.server(KeyKind::EcdsaP256)?;
    let server_ecdsa = ca.server(KeyKind::EcdsaP384)?;
    let server_ed25519 = ca.server(KeyKind::Ed25519)?;
    let client = ca.client(&[(oid::CN, "alice")], &[CLIENT_EMAIL], &[], &[])?;
    let client_dn = ca.client(
        &[
            (oid::DC, "com"),
            (oid::DC, "example"),
            (oid::O, "Acme"),
            (oid::OU, "eng"),
            (oid::CN, "bob"),
        ],
        &[],
        &[],
        &[],
    )?;
    fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut files = Files {
        dir: dir.to_owned(),
        written: Vec::new(),
    };
    let mut put = |name: &str, text: &str| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|source| TlsError::Write {
            path: path.clone(),
            source,
        })?;
        files.written.push(path);
        Ok::<(), TlsError>(())
    };
    put("ca.pem", ca.cert_pem())?;
    put("ca-key.pem", ca.key_pem())?;
    for (stem, pair) in [
        ("server", &server),
        ("server-ecdsa", &server_ecdsa),
        ("server-ed25519", &server_ed25519),
        ("client", &client),
        ("client-dn", &client_dn),
    ] {
        put(&format!("{stem}.pem"), &pair.cert_pem)?;
        put(&format!("{stem}-key.pem"), &pair.key_pem)?;
    }
    Ok(files)
}
