//! The identity a client certificate presents: subject DN forms, SANs and the SPKI hash.

use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::TlsError;
use crate::dn;

/// What a peer certificate says about who holds it; the input to `verify_and_map` and
/// pinning. The broker hands the names (not the SPKI hash) to `rnats-auth`, which decides the
/// user; this crate does not depend on it.
///
/// Only the first (leaf) certificate of a chain is ever looked at, as in nats-server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The subject as an RFC 2253 string, most specific RDN first, with domain components:
    /// `CN=bob,OU=eng,O=Acme,DC=example,DC=com`. Values are escaped as Go's `pkix` escapes
    /// them; `CN`, `L`, `ST`, `O`, `OU`, `C`, `STREET`, `POSTALCODE`, `SERIALNUMBER`, `DC` and
    /// `UID` are named, any other type is printed as `OID=#hex-of-DER`. Multi-valued RDNs
    /// are joined with `+`.
    pub subject_dn: String,
    /// The subject exactly as Go's `pkix.Name.ToRDNSequence().String()` prints it, which is
    /// the last form nats-server tries: only the attributes Go's `pkix.Name` has fields for
    /// (C, ST, L, STREET, POSTALCODE, O, OU, CN, SERIALNUMBER), in that fixed order
    /// (printed reversed), several values of one type joined with `+` (`OU=a+OU=b`). `DC`,
    /// `UID`, `emailAddress` and other attributes are left out — as in nats-server.
    pub subject_dn_without_dc: String,
    /// RFC 822 (email) subject alternative names, in certificate order.
    pub emails: Vec<String>,
    /// DNS subject alternative names, in certificate order.
    pub dns_names: Vec<String>,
    /// URI subject alternative names, in certificate order.
    pub uris: Vec<String>,
    /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (what `pinned_certs` lists).
    pub spki_sha256_hex: String,
}

impl PeerIdentity {
    /// Reads the identity from a DER certificate.
    ///
    /// # Errors
    /// [`TlsError::BadPeerCertificate`] when the certificate or its SAN extension does not parse.
    pub fn from_cert(cert: &CertificateDer<'_>) -> Result<Self, TlsError> {
        let bad = |reason: String| TlsError::BadPeerCertificate { reason };
        let (_, x509) = X509Certificate::from_der(cert.as_ref()).map_err(|e| bad(e.to_string()))?;
        let attrs = subject_attrs(x509.subject());

        let mut emails = Vec::new();
        let mut dns_names = Vec::new();
        let mut uris = Vec::new();
        let san = x509
            .subject_alternative_name()
            .map_err(|e| bad(format!("subjectAltName: {e}")))?;
        if let Some(san) = san {
            for name in &san.value.general_names {
                match name {
                    GeneralName::RFC822Name(v) => emails.push((*v).to_owned()),
                    GeneralName::DNSName(v) => dns_names.push((*v).to_owned()),
                    GeneralName::URI(v) => uris.push((*v).to_owned()),
                    _ => {}
                }
            }
        }
        Ok(Self {
            subject_dn: rfc2253(&attrs),
            subject_dn_without_dc: go_standard_form(&attrs),
            emails,
            dns_names,
            uris,
            spki_sha256_hex: hex(&Sha256::digest(x509.public_key().raw)),
        })
    }
}

/// One subject attribute as read from the certificate, RDN index kept.
struct SubjectAttr {
    rdn: usize,
    oid: String,
    /// Decoded text for string types; `None` for other types.
    text: Option<String>,
    /// DER of the value (for the `#hex` form).
    der: Vec<u8>,
}

fn subject_attrs(name: &X509Name<'_>) -> Vec<SubjectAttr> {
    let mut out = Vec::new();
    for (rdn, set) in name.iter().enumerate() {
        for atv in set.iter() {
            out.push(SubjectAttr {
                rdn,
                oid: atv.attr_type().to_id_string(),
                text: text_value(atv),
                der: atv.attr_value().to_der_vec().unwrap_or_default(),
            });
        }
    }
    out
}

/// The string value of an attribute, for the types Go's asn1 decodes into a string.
fn text_value(atv: &AttributeTypeAndValue<'_>) -> Option<String> {
    let any = atv.attr_value();
    let data = any.as_bytes();
    match any.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::T61String => std::str::from_utf8(data).ok().map(str::to_owned),
        Tag::BmpString => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

fn push_attr(out: &mut String, a: &SubjectAttr) {
    match (dn::short_name(&a.oid), &a.text) {
        (Some(name), Some(text)) => {
            out.push_str(name);
            out.push('=');
            dn::escape_value(text, out);
        }
        _ => {
            out.push_str(&a.oid);
            out.push_str("=#");
            out.push_str(&hex(&a.der));
        }
    }
}

/// RFC 2253: RDNs reversed, attributes of one RDN joined with `+`.
fn rfc2253(attrs: &[SubjectAttr]) -> String {
    let mut out = String::new();
    let last = attrs.last().map_or(0, |a| a.rdn + 1);
    for rdn in (0..last).rev() {
        let mut first = true;
        for a in attrs.iter().filter(|a| a.rdn == rdn) {
            if first {
                if !out.is_empty() {
                    out.push(',');
                }
            } else {
                out.push('+');
            }
            first = false;
            push_attr(&mut out, a);
        }
    }
    out
}

/// Go's `pkix.Name.FillFromRDNSequence` followed by `ToRDNSequence().String()`.
fn go_standard_form(attrs: &[SubjectAttr]) -> String {
    // Go's ToRDNSequence order; CN and SERIALNUMBER keep only their last value.
    const ORDER: &[(&str, &str, bool)] = &[
        ("2.5.4.6", "C", true),
        ("2.5.4.8", "ST", true),
        ("2.5.4.7", "L", true),
        ("2.5.4.9", "STREET", true),
        ("2.5.4.17", "POSTALCODE", true),
        ("2.5.4.10", "O", true),
        ("2.5.4.11", "OU", true),
        ("2.5.4.3", "CN", false),
        ("2.5.4.5", "SERIALNUMBER", false),
    ];
    let mut rdns: Vec<String> = Vec::new();
    for (oid, name, multi) in ORDER {
        let values: Vec<&str> = attrs
            .iter()
            .filter(|a| a.oid == *oid)
            .filter_map(|a| a.text.as_deref())
            .collect();
        let values: Vec<&str> = if *multi {
            values
        } else {
            values
                .last()
                .filter(|v| !v.is_empty())
                .into_iter()
                .copied()
                .collect()
        };
        if values.is_empty() {
            continue;
        }
        let mut rdn = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                rdn.push('+');
            }
            rdn.push_str(name);
            rdn.push('=');
            dn::escape_value(v, &mut rdn);
        }
        rdns.push(rdn);
    }
    rdns.reverse();
    rdns.join(",")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const OID_DC: &str = "0.9.2342.19200300.100.1.25";

    fn attr(rdn: usize, oid: &str, text: &str) -> SubjectAttr {
        SubjectAttr {
            rdn,
            oid: oid.to_owned(),
            text: Some(text.to_owned()),
            der: Vec::new(),
        }
    }

    #[test]
    fn go_form_groups_and_reorders() {
        // Raw order as issued by `-subj /DC=com/DC=example/O=Acme/OU=a/OU=b/CN=x`.
        let attrs = vec![
            attr(0, OID_DC, "com"),
            attr(1, OID_DC, "example"),
            attr(2, "2.5.4.10", "Acme"),
            attr(3, "2.5.4.11", "a"),
            attr(4, "2.5.4.11", "b"),
            attr(5, "2.5.4.3", "x"),
        ];
        assert_eq!(go_standard_form(&attrs), "CN=x,OU=a+OU=b,O=Acme");
        assert_eq!(rfc2253(&attrs), "CN=x,OU=b,OU=a,O=Acme,DC=example,DC=com");
    }

    #[test]
    fn go_form_uses_canonical_order_and_last_cn() {
        let attrs = vec![
            attr(0, "2.5.4.3", "first"),
            attr(1, OID_DC, "com"),
            attr(2, "2.5.4.10", "Acme"),
            attr(3, "2.5.4.3", "z"),
            attr(4, "0.9.2342.19200300.100.1.1", "u9"),
        ];
        assert_eq!(go_standard_form(&attrs), "CN=z,O=Acme");
        assert_eq!(rfc2253(&attrs), "UID=u9,CN=z,O=Acme,DC=com,CN=first");
    }

    #[test]
    fn multi_valued_and_unknown_types() {
        let mut unknown = attr(1, "1.2.3.4", "v");
        unknown.text = None;
        unknown.der = vec![0x04, 0x01, 0xab];
        let attrs = vec![
            attr(0, "2.5.4.10", "A, Inc"),
            unknown,
            attr(1, "2.5.4.3", "m"),
        ];
        assert_eq!(rfc2253(&attrs), r"1.2.3.4=#0401ab+CN=m,O=A\, Inc");
    }

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(hex(&[0x00, 0xAB, 0x7f]), "00ab7f");
    }
}
