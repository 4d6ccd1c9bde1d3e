//! `verify_and_map`: which configured user a client certificate names, and certificate pinning.

use std::collections::HashSet;

use rnats_config::TlsConfig;

use crate::PeerIdentity;
use crate::dn::Dn;

/// Candidate user names for `verify_and_map`, in nats-server's order (reference §2.3): every
/// email SAN, every DNS SAN, every URI SAN, then the subject DN as literal strings — the
/// RFC 2253 form with DC ([`PeerIdentity::subject_dn`]), nats-server's own with-DC form (DCs
/// appended in certificate order, e.g. `…,O=Acme,DC=com,DC=example`), and the form without DC
/// ([`PeerIdentity::subject_dn_without_dc`]).
///
/// Returns the first candidate for which `user_exists` is true. `user_exists` is where the
/// caller also checks that the user may use this kind of connection.
///
/// A predicate cannot list the configured names, so this function cannot match a DN written
/// with other spacing, lower-case types or RDNs in another order; [`map_user_in`] can, and is
/// what a server that holds its user list should call.
pub fn map_user(peer: &PeerIdentity, user_exists: impl Fn(&str) -> bool) -> Option<String> {
    literal_candidates(peer)
        .into_iter()
        .find(|c| !c.is_empty() && user_exists(c))
}

/// The whole nats-server mapping against a list of configured user names (reference §2.3):
/// email, DNS and URI SANs (literal), then the subject DN — first the exact RFC 2253 string,
/// then semantically (each configured name that parses as a DN: same RDNs in the same order,
/// then the same multiset of RDNs in any order), then nats-server's literal with-DC and
/// without-DC forms.
///
/// Semantic matching compares attribute types case-insensitively (`cn` = `CN` = `2.5.4.3`) and
/// values exactly after unescaping: a different case in a value, an extra or missing RDN, a
/// repeated RDN standing in for another, or a name that merely contains the DN never matches.
///
/// Pass only the users allowed on this connection type. Returns the configured name as given.
pub fn map_user_in<'u>(
    peer: &PeerIdentity,
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
    let sans = peer.emails.iter().chain(&peer.dns_names).chain(&peer.uris);
    if let Some(user) = sans.filter_map(|c| find(c)).next() {
        return Some(user);
    }
    if let Some(user) = find(&peer.subject_dn) {
        return Some(user);
    }
    if let Some(cert_dn) = Dn::parse(&peer.subject_dn) {
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
    let with_dc = peer.go_form_with_dc();
    with_dc
        .as_deref()
        .and_then(find)
        .or_else(|| find(&peer.subject_dn_without_dc))
}

fn literal_candidates(peer: &PeerIdentity) -> Vec<String> {
    let mut out: Vec<String> = peer
        .emails
        .iter()
        .chain(&peer.dns_names)
        .chain(&peer.uris)
        .cloned()
        .collect();
    out.push(peer.subject_dn.clone());
    if let Some(with_dc) = peer.go_form_with_dc() {
        out.push(with_dc);
    }
    out.push(peer.subject_dn_without_dc.clone());
    out
}

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

    fn peer(dn: &str, without_dc: &str) -> PeerIdentity {
        PeerIdentity {
            subject_dn: dn.to_owned(),
            subject_dn_without_dc: without_dc.to_owned(),
            emails: vec![],
            dns_names: vec![],
            uris: vec![],
            spki_sha256_hex: "ab".repeat(32),
        }
    }

    #[test]
    fn predicate_tries_literal_forms_in_order() {
        let p = peer(
            "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
            "CN=bob,OU=eng,O=Acme",
        );
        let tried = std::cell::RefCell::new(Vec::new());
        assert_eq!(
            map_user(&p, |u| {
                tried.borrow_mut().push(u.to_owned());
                false
            }),
            None
        );
        assert_eq!(
            tried.into_inner(),
            [
                "CN=bob,OU=eng,O=Acme,DC=example,DC=com",
                "CN=bob,OU=eng,O=Acme,DC=com,DC=example",
                "CN=bob,OU=eng,O=Acme",
            ]
        );
    }

    #[test]
    fn empty_subject_maps_to_nobody() {
        let p = peer("", "");
        assert_eq!(map_user(&p, |_| true), None);
        assert_eq!(map_user_in(&p, [""]), None);
    }

    #[test]
    fn pinning() {
        let p = peer("CN=a", "CN=a");
        let mut opts = TlsConfig::default();
        assert!(pinned(&opts, &p));
        opts.pinned_certs = vec!["cd".repeat(32)];
        assert!(!pinned(&opts, &p));
        opts.pinned_certs.push("AB".repeat(32));
        assert!(pinned(&opts, &p));
    }
}
