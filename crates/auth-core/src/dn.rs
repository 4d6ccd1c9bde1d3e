//! Distinguished names: printing in the RFC 2253 form Go's `pkix` uses, parsing the RFC 4514
//! strings found in `users` lists, and comparing the two.
//!
//! Only the naming and escaping rules ([`short_name`], [`escape_value`]) are public: they are
//! the ones the parser below and the DC form of the certificate map use, and the certificate
//! printer in `rnats-tls` (which has its own copy, as this crate does not depend on TLS) is
//! tested against them. Pure string logic: no X.509 here.
//!
//! The comparison is deliberately strict, because a DN match logs a client in
//! (CVE-2026-33248 was a bypass in exactly this step): attribute types compare
//! case-insensitively (and `2.5.4.3` is `CN`), values compare byte for byte after unescaping,
//! and "any order" means the two DNs hold the same *multiset* of RDNs — never a subset, never
//! a repeated RDN standing in for a missing one.

/// Short names printed for attribute types, with their OIDs. Types not listed are printed as
/// the dotted OID with a `#hex` DER value, as Go does.
const NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// The short name Go's `pkix` prints for an attribute type OID (`"2.5.4.3"` → `"CN"`), if it
/// has one: `CN`, `SERIALNUMBER`, `C`, `L`, `ST`, `STREET`, `O`, `OU`, `POSTALCODE`, `DC`, `UID`.
pub fn short_name(oid: &str) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// The comparable form of an attribute type: its short name in upper case when known (also
/// when written as an OID), else the type as written, upper-cased.
fn canonical_type(ty: &str) -> String {
    let upper = ty.to_ascii_uppercase();
    if let Some(name) = short_name(&upper) {
        return name.to_owned();
    }
    let oid = upper.strip_prefix("OID.").unwrap_or(&upper);
    match short_name(oid) {
        Some(name) => name.to_owned(),
        None => oid.to_owned(),
    }
}

/// Appends `value` to `out` escaped as Go's `pkix.RDNSequence.String` escapes it: `,+"\<>;`
/// anywhere, a space at either end, a `#` at the start.
///
/// ```
/// let mut s = String::from("O=");
/// rnats_auth::dn::escape_value("Acme, Inc", &mut s);
/// assert_eq!(s, r"O=Acme\, Inc");
/// ```
pub fn escape_value(value: &str, out: &mut String) {
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => i == 0 || i == last,
            '#' => i == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}

/// One `type=value` pair in comparable form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Attr {
    /// Canonical type (see [`canonical_type`]).
    pub(crate) ty: String,
    /// The unescaped value, or `#` followed by lower-case hex for a raw BER value.
    pub(crate) value: String,
}

/// A parsed DN: RDNs in the order written (most specific first), each RDN's attributes sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dn {
    pub(crate) rdns: Vec<Vec<Attr>>,
}

impl Dn {
    /// Parses an RFC 4514 / RFC 2253 string (`,` or `;` between RDNs, `+` inside one, `\`
    /// escapes, `#hex` values). Returns `None` for anything malformed, including quoted values.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let mut rdns = Vec::new();
        let mut rest = s;
        let mut rdn = Vec::new();
        loop {
            let (attr, sep, after) = parse_attr(rest)?;
            rdn.push(attr);
            rest = after;
            match sep {
                Some('+') => continue,
                Some(_) => {
                    rdn.sort();
                    rdns.push(std::mem::take(&mut rdn));
                }
                None => {
                    rdn.sort();
                    rdns.push(rdn);
                    return Some(Self { rdns });
                }
            }
        }
    }

    /// Same RDNs in the same order.
    pub(crate) fn equal(&self, other: &Self) -> bool {
        !self.rdns.is_empty() && self.rdns == other.rdns
    }

    /// Same multiset of RDNs, in any order.
    pub(crate) fn same_rdns(&self, other: &Self) -> bool {
        if self.rdns.is_empty() || self.rdns.len() != other.rdns.len() {
            return false;
        }
        let mut a = self.rdns.clone();
        let mut b = other.rdns.clone();
        a.sort();
        b.sort();
        a == b
    }
}

/// Parses one `type=value` and the separator after it (`None` at the end of input).
fn parse_attr(s: &str) -> Option<(Attr, Option<char>, &str)> {
    let s = s.trim_start_matches(' ');
    let eq = s.find('=')?;
    let ty = s[..eq].trim_matches(' ');
    if ty.is_empty()
        || !ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let ty = canonical_type(ty);
    let s = s[eq + 1..].trim_start_matches(' ');
    if let Some(hex) = s.strip_prefix('#') {
        let end = hex.find([',', ';', '+', ' ']).unwrap_or(hex.len());
        let digits = &hex[..end];
        if digits.is_empty()
            || digits.len() % 2 != 0
            || !digits.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let after = hex[end..].trim_start_matches(' ');
        let (sep, rest) = split_sep(after)?;
        let value = format!("#{}", digits.to_ascii_lowercase());
        return Some((Attr { ty, value }, sep, rest));
    }
    let mut bytes = Vec::new();
    // Length of `bytes` up to and including the last escaped byte: trailing spaces before it
    // are part of the value, unescaped ones after it are not.
    let mut keep = 0;
    let mut chars = s.char_indices();
    let mut end = s.len();
    let mut sep = None;
    while let Some((i, c)) = chars.next() {
        match c {
            ',' | ';' | '+' => {
                end = i + 1;
                sep = Some(c);
                break;
            }
            '"' => return None,
            '\\' => {
                let (_, next) = chars.next()?;
                if next.is_ascii_hexdigit() {
                    let (_, low) = chars.next()?;
                    let hi = next.to_digit(16)?;
                    let lo = low.to_digit(16)?;
                    bytes.push(u8::try_from(hi * 16 + lo).ok()?);
                } else if matches!(
                    next,
                    ',' | '+' | '"' | '\\' | '<' | '>' | ';' | ' ' | '#' | '='
                ) {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                } else {
                    return None;
                }
                keep = bytes.len();
            }
            _ => {
                let mut buf = [0; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                if c != ' ' {
                    keep = bytes.len();
                }
            }
        }
    }
    bytes.truncate(keep);
    let value = String::from_utf8(bytes).ok()?;
    let rest = &s[end..];
    if sep.is_some() && rest.trim_matches(' ').is_empty() {
        // A trailing separator with nothing after it.
        return None;
    }
    Some((Attr { ty, value }, sep, rest))
}

fn split_sep(s: &str) -> Option<(Option<char>, &str)> {
    let mut chars = s.chars();
    match chars.next() {
        None => Some((None, s)),
        Some(c @ (',' | ';' | '+')) => {
            let rest = chars.as_str();
            (!rest.trim_matches(' ').is_empty()).then_some((Some(c), rest))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn parses_types_case_insensitively_and_oids() {
        let a = dn("CN=bob,OU=eng,DC=example");
        assert!(a.equal(&dn("cn=bob, ou=eng , dc=example")));
        assert!(a.equal(&dn(
            "2.5.4.3=bob,OID.2.5.4.11=eng,0.9.2342.19200300.100.1.25=example"
        )));
    }

    #[test]
    fn values_are_case_sensitive() {
        assert!(!dn("CN=bob").equal(&dn("CN=Bob")));
    }

    #[test]
    fn escapes() {
        let a = dn(r"O=Acme\, Inc,CN=a\+b");
        assert_eq!(a.rdns.len(), 2);
        assert_eq!(a.rdns[0][0].value, "Acme, Inc");
        assert_eq!(a.rdns[1][0].value, "a+b");
        assert_eq!(dn(r"CN=\41\42").rdns[0][0].value, "AB");
        assert_eq!(dn(r"CN=a\ ").rdns[0][0].value, "a ");
        assert_eq!(dn("CN= a  ").rdns[0][0].value, "a");
        assert_eq!(dn(r"CN=\#x").rdns[0][0].value, "#x");
        assert_eq!(dn("CN=#0C03626F62").rdns[0][0].value, "#0c03626f62");
        assert_eq!(dn("CN=").rdns[0][0].value, "");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "CN",
            "=x",
            "CN=a,",
            "CN=a+",
            "C N=a",
            r"CN=a\",
            r"CN=a\q",
            r#"CN="a""#,
            "CN=#abc",
            "CN=#zz",
            "CN=a,,O=b",
            r"CN=\ff",
        ] {
            assert!(Dn::parse(bad).is_none(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn multi_valued_rdns_are_sets() {
        assert!(dn("UID=m+CN=x,O=a").equal(&dn("CN=x+UID=m,O=a")));
        assert!(!dn("CN=x+UID=m,O=a").equal(&dn("CN=x,UID=m,O=a")));
    }

    #[test]
    fn same_rdns_is_a_multiset_comparison() {
        let cert = dn("CN=x,OU=b,OU=a,O=Acme");
        assert!(dn("O=Acme,OU=a,CN=x,OU=b").same_rdns(&cert));
        assert!(!dn("CN=x,OU=a,OU=a,O=Acme").same_rdns(&cert));
        assert!(!cert.same_rdns(&dn("CN=x,OU=a,OU=a,O=Acme")));
        assert!(!dn("CN=x,OU=a,O=Acme").same_rdns(&cert));
        assert!(!Dn { rdns: vec![] }.same_rdns(&Dn { rdns: vec![] }));
    }

    #[test]
    fn go_escaping() {
        let mut s = String::new();
        escape_value(r#" a,b+c"d\e<f>g;h #"#, &mut s);
        assert_eq!(s, r#"\ a\,b\+c\"d\\e\<f\>g\;h #"#);
        let mut t = String::new();
        escape_value("#a ", &mut t);
        assert_eq!(t, r"\#a\ ");
    }
}
