//! `verify_and_map`: which configured user a client certificate names.
//!
//! Order (nats-server's): email SANs, DNS SANs, URI SANs, then the subject DN — the RFC 2253
//! string as given, each configured name that parses as a DN compared semantically (same RDNs
//! in the same order, then the same multiset of RDNs in any order), nats-server's with-DC
//! string, and the string without DC. IP SANs and a bare CN are never used.

use std::collections::HashSet;

use crate::TlsIdentity;
use crate::dn::{self, Dn};

/// The configured user a verified client certificate logs in as under
/// `tls { verify_and_map: true }`, in nats-server's order: every email SAN, every DNS SAN,
/// every URI SAN (literally), then the subject DN — first the exact
/// [`subject_dn`](TlsIdentity::subject_dn) string, then semantically (each name in `users`
/// that parses as a DN: same RDNs in the same order, then the same multiset of RDNs in any
/// order), then nats-server's literal with-DC form and the
/// [`subject_dn_without_dc`](TlsIdentity::subject_dn_without_dc) form.
///
/// Semantic matching compares attribute types case-insensitively (`cn` = `CN` = `2.5.4.3`) and
/// values exactly after unescaping: a different case in a value, an extra or missing RDN, a
/// repeated RDN standing in for another, or a name that merely contains the DN never matches.
/// An empty candidate never matches.
///
/// Pass only the users allowed on this connection type. Among several names that match at the
/// same step, the first in `users` wins. Returns the configured name as given.
///
/// ```
/// use rnats_auth::{TlsIdentity, map_certificate_user};
///
/// let id = TlsIdentity {
///     subject_dn: "CN=bob,OU=eng,O=Acme,DC=example,DC=com".into(),
///     subject_dn_without_dc: "CN=bob,OU=eng,O=Acme".into(),
///     ..TlsIdentity::default()
/// };
/// let users = ["alice@example.com", "dc=com,dc=example,o=Acme,ou=eng,cn=bob"];
/// assert_eq!(map_certificate_user(&id, users), Some(users[1]));
/// assert_eq!(map_certificate_user(&id, ["CN=bob"]), None);
/// ```
pub fn map_certificate_user<'u>(
    id: &TlsIdentity,
    users: impl IntoIterator<Item = &'u str>,
) -> Option<&'u str> {
    let users: Vec<&'u str> = users.into_iter().collect();
    let set: HashSet<&str> = users.iter().copied().collect();
    let find = |candidate: &str| {
        if candidate.is_empty() || !set.contains(candidate) {
            return None;
        }
        users.iter().copied().find(|u| *u == candidate)
    };
    let sans = id.emails.iter().chain(&id.dns_names).chain(&id.uris);
    if let Some(user) = sans.filter_map(|c| find(c)).next() {
        return Some(user);
    }
    if let Some(user) = find(&id.subject_dn) {
        return Some(user);
    }
    if let Some(cert_dn) = Dn::parse(&id.subject_dn) {
        let parsed: Vec<(&'u str, Dn)> = users
            .iter()
            .filter_map(|u| Dn::parse(u).map(|d| (*u, d)))
            .collect();
        if let Some((user, _)) = parsed.iter().find(|(_, d)| d.equal(&cert_dn)) {
            return Some(user);
        }
        if let Some((user, _)) = parsed.iter().find(|(_, d)| d.same_rdns(&cert_dn)) {
            return Some(user);
        }
    }
    with_dc_form(id)
        .as_deref()
        .and_then(find)
        .or_else(|| find(&id.subject_dn_without_dc))
}

/// The literal form nats-server tries before the one without DC: the form without DC with
/// `,DC=…` appended for each domain component in certificate (ASN.1) order —
/// `CN=bob,OU=eng,O=Acme,DC=com,DC=example` for a `/DC=com/DC=example/…` certificate
/// (verified against nats-server 2.15.1). `None` when the subject has no DC.
///
/// Unlike nats-server, DC values are escaped here: nats-server 2.15.1 joins them raw, so a
/// single DC `example,DC=com` reads as `…,DC=example,DC=com` and maps to that user (seen
/// with the real server); here it cannot.
fn with_dc_form(id: &TlsIdentity) -> Option<String> {
    let parsed = Dn::parse(&id.subject_dn)?;
    let dcs: Vec<String> = parsed
        .rdns
        .iter()
        .rev()
        .flatten()
        .filter(|a| a.ty == "DC" && !a.value.starts_with('#'))
        .map(|a| {
            let mut s = String::from("DC=");
            dn::escape_value(&a.value, &mut s);
            s
        })
        .collect();
    if dcs.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(dcs.len() + 1);
    if !id.subject_dn_without_dc.is_empty() {
        parts.push(id.subject_dn_without_dc.clone());
    }
    parts.extend(dcs);
    Some(parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(dn: &str, without_dc: &str) -> TlsIdentity {
        TlsIdentity {
            subject_dn: dn.into(),
            subject_dn_without_dc: without_dc.into(),
            ..TlsIdentity::default()
        }
    }

    #[test]
    fn with_dc_form_appends_dcs_in_certificate_order() {
        let bob = id(
            "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
            "CN=bob,OU=eng,O=Acme",
        );
        assert_eq!(
            with_dc_form(&bob).as_deref(),
            Some("CN=bob,OU=eng,O=Acme,DC=com,DC=example")
        );
        assert_eq!(with_dc_form(&id("CN=bob,O=Acme", "CN=bob,O=Acme")), None);
        assert_eq!(
            with_dc_form(&id("DC=example,DC=com", "")).as_deref(),
            Some("DC=com,DC=example")
        );
        // A DC value is escaped, so it cannot forge further components.
        assert_eq!(
            with_dc_form(&id(r"CN=bob,DC=example\,DC=com", "CN=bob")).as_deref(),
            Some(r"CN=bob,DC=example\,DC=com")
        );
    }

    #[test]
    fn literal_dn_forms_in_order() {
        let bob = id(
            "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
            "CN=bob,OU=eng,O=Acme",
        );
        let rfc2253 = "CN=bob,OU=eng,O=Acme,DC=example,DC=com";
        let with_dc = "CN=bob,OU=eng,O=Acme,DC=com,DC=example";
        let without_dc = "CN=bob,OU=eng,O=Acme";
        assert_eq!(
            map_certificate_user(&bob, [without_dc, with_dc, rfc2253]),
            Some(rfc2253)
        );
        assert_eq!(
            map_certificate_user(&bob, [without_dc, with_dc]),
            Some(with_dc)
        );
        assert_eq!(map_certificate_user(&bob, [without_dc]), Some(without_dc));
    }

    #[test]
    fn empty_subject_maps_to_nobody() {
        assert_eq!(map_certificate_user(&id("", ""), [""]), None);
    }

    #[test]
    fn email_beats_dns_beats_uri_beats_dn() {
        let t = TlsIdentity {
            subject_dn: "CN=x".into(),
            subject_dn_without_dc: "CN=x".into(),
            emails: vec!["a@x".into()],
            dns_names: vec!["x.example".into()],
            uris: vec!["spiffe://x".into()],
        };
        let mut users = vec!["CN=x", "spiffe://x", "x.example", "a@x"];
        while let Some(expected) = users.last().copied() {
            assert_eq!(
                map_certificate_user(&t, users.iter().copied()),
                Some(expected)
            );
            users.pop();
        }
    }

    #[test]
    fn dn_in_any_order_and_without_dc() {
        let users = ["DC=io,DC=acme,O=Acme,CN=carol", "CN=dave,O=Acme"];
        assert_eq!(
            map_certificate_user(
                &id("CN=carol,O=Acme,DC=acme,DC=io", "CN=carol,O=Acme"),
                users
            ),
            Some("DC=io,DC=acme,O=Acme,CN=carol")
        );
        assert_eq!(
            map_certificate_user(&id("CN=dave,O=Acme,DC=acme,DC=io", "CN=dave,O=Acme"), users),
            Some("CN=dave,O=Acme")
        );
    }

    #[test]
    fn rdn_multiset_is_not_fooled_by_duplicates() {
        assert_eq!(
            map_certificate_user(&id("CN=a,O=b", "CN=a,O=b"), ["CN=a,CN=a"]),
            None
        );
        assert_eq!(
            map_certificate_user(&id("CN=a,CN=a", "CN=a"), ["CN=a,O=b"]),
            None
        );
    }

    #[test]
    fn escapes_and_bare_cn() {
        let users = [r"CN=a\,b,O=x", "carol"];
        assert_eq!(
            map_certificate_user(&id(r"O=x,CN=a\2Cb", ""), users),
            Some(r"CN=a\,b,O=x")
        );
        // A bare CN never maps.
        assert_eq!(
            map_certificate_user(&id("CN=carol", "CN=carol"), users),
            None
        );
    }
}
