//! `verify_and_map`: which configured user a client certificate names.
//!
//! Order (nats-server's): email SANs, DNS SANs, URI SANs, the subject DN matched semantically
//! against user names that are DNs (same RDN order first, then any order), the DN string as
//! given, the DN string without `DC` components. IP SANs and a bare CN are never used.

use crate::TlsIdentity;

/// One attribute of an RDN: upper-cased type, unescaped value.
type Attr = (String, String);
/// A relative distinguished name: one or more attributes (`+`-joined), sorted.
type Rdn = Vec<Attr>;

/// The first candidate for which `usable` (the user exists and may use this connection type)
/// holds. `user_names` are all configured user names, for the DN comparison.
pub(crate) fn map_certificate<'a>(
    id: &TlsIdentity,
    user_names: impl Iterator<Item = &'a str>,
    usable: impl Fn(&str) -> bool,
) -> Option<String> {
    let sans = id.emails.iter().chain(&id.dns_names).chain(&id.uris);
    if let Some(found) = sans.filter(|c| !c.is_empty()).find(|c| usable(c)) {
        return Some(found.clone());
    }
    let cert_dn = parse_dn(&id.subject_dn)?;
    if cert_dn.is_empty() {
        return None;
    }
    let dn_users: Vec<(&str, Vec<Rdn>)> = user_names
        .filter(|n| n.contains('='))
        .filter_map(|n| parse_dn(n).map(|dn| (n, dn)))
        .filter(|(_, dn)| !dn.is_empty())
        .collect();
    if let Some((name, _)) = dn_users
        .iter()
        .find(|(name, dn)| *dn == cert_dn && usable(name))
    {
        return Some((*name).to_owned());
    }
    if let Some((name, _)) = dn_users
        .iter()
        .find(|(name, dn)| same_rdns_any_order(dn, &cert_dn) && usable(name))
    {
        return Some((*name).to_owned());
    }
    if usable(&id.subject_dn) {
        return Some(id.subject_dn.clone());
    }
    let without_dc = without_dc(&id.subject_dn);
    if without_dc != id.subject_dn && !without_dc.is_empty() && usable(&without_dc) {
        return Some(without_dc);
    }
    None
}

/// Whether the two DNs hold the same RDNs as multisets (each RDN of one pairs with a distinct
/// RDN of the other), in any order.
fn same_rdns_any_order(a: &[Rdn], b: &[Rdn]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut used = vec![false; b.len()];
    a.iter().all(|ra| {
        let Some(i) = b
            .iter()
            .enumerate()
            .position(|(i, rb)| !used[i] && rb == ra)
        else {
            return false;
        };
        used[i] = true;
        true
    })
}

/// Parses an RFC 2253 DN (`CN=a,O=b+OU=c`); `None` if malformed.
fn parse_dn(s: &str) -> Option<Vec<Rdn>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(Vec::new());
    }
    let mut rdns = Vec::new();
    for rdn in split_unescaped(s, b',') {
        let mut attrs = Vec::new();
        for attr in split_unescaped(&rdn, b'+') {
            let (t, v) = attr.split_once('=')?;
            let t = t.trim();
            if t.is_empty() {
                return None;
            }
            attrs.push((t.to_ascii_uppercase(), unescape(v.trim())?));
        }
        attrs.sort();
        rdns.push(attrs);
    }
    Some(rdns)
}

/// Splits on `sep` not preceded by a backslash; parts keep their escapes.
fn split_unescaped(s: &str, sep: u8) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            cur.push(c);
            escaped = true;
        } else if c == sep as char {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

/// Removes RFC 2253 escapes (`\,` and `\2C` forms).
fn unescape(v: &str) -> Option<String> {
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let next = *b.get(i + 1)?;
            if let (Some(h), Some(l)) = (hex(next), b.get(i + 2).copied().and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
            } else {
                out.push(next);
                i += 2;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The DN string without its `DC=` components.
fn without_dc(dn: &str) -> String {
    split_unescaped(dn, b',')
        .into_iter()
        .filter(|rdn| {
            !rdn.trim_start()
                .get(..3)
                .is_some_and(|p| p.eq_ignore_ascii_case("DC="))
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(dn: &str) -> TlsIdentity {
        TlsIdentity {
            subject_dn: dn.into(),
            ..TlsIdentity::default()
        }
    }

    #[test]
    fn email_beats_dns_beats_dn() {
        let t = TlsIdentity {
            subject_dn: "CN=x".into(),
            emails: vec!["a@x".into()],
            dns_names: vec!["x.example".into()],
            uris: vec![],
        };
        let users = ["a@x", "x.example", "CN=x"];
        let usable = |n: &str| users.contains(&n);
        assert_eq!(
            map_certificate(&t, users.into_iter(), usable).as_deref(),
            Some("a@x")
        );
        let usable = |n: &str| n != "a@x" && users.contains(&n);
        assert_eq!(
            map_certificate(&t, users.into_iter(), usable).as_deref(),
            Some("x.example")
        );
    }

    #[test]
    fn dn_in_any_order_and_without_dc() {
        let users = ["DC=io,DC=acme,O=Acme,CN=carol", "CN=dave,O=Acme"];
        let usable = |n: &str| users.contains(&n);
        assert_eq!(
            map_certificate(
                &id("CN=carol,O=Acme,DC=acme,DC=io"),
                users.into_iter(),
                usable
            )
            .as_deref(),
            Some("DC=io,DC=acme,O=Acme,CN=carol")
        );
        assert_eq!(
            map_certificate(
                &id("CN=dave,O=Acme,DC=acme,DC=io"),
                users.into_iter(),
                usable
            )
            .as_deref(),
            Some("CN=dave,O=Acme")
        );
    }

    #[test]
    fn rdn_multiset_is_not_fooled_by_duplicates() {
        let users = ["CN=a,CN=a"];
        let usable = |n: &str| users.contains(&n);
        assert_eq!(
            map_certificate(&id("CN=a,O=b"), users.into_iter(), usable),
            None
        );
        let users = ["CN=a,O=b"];
        let usable = |n: &str| users.contains(&n);
        assert_eq!(
            map_certificate(&id("CN=a,CN=a"), users.into_iter(), usable),
            None
        );
    }

    #[test]
    fn escapes_and_bare_cn() {
        let users = ["CN=a\\,b,O=x", "carol"];
        let usable = |n: &str| users.contains(&n);
        assert_eq!(
            map_certificate(&id("O=x,CN=a\\2Cb"), users.into_iter(), usable).as_deref(),
            Some("CN=a\\,b,O=x")
        );
        // A bare CN never maps.
        assert_eq!(
            map_certificate(&id("CN=carol"), users.into_iter(), usable),
            None
        );
        assert_eq!(map_certificate(&id(""), users.into_iter(), usable), None);
    }
}
