//! Printing distinguished names the way Go's `pkix` does: the short names of attribute types
//! and the escaping of values.
//!
//! `rnats-auth` parses the names configured in `users` lists with the same names and escapes
//! (its `dn` module); the unit test below holds the two to each other.

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

/// The short name Go's `pkix` prints for an attribute type OID (`"2.5.4.3"` → `"CN"`).
pub(crate) fn short_name(oid: &str) -> Option<&'static str> {
    NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// Appends `value` to `out` escaped as Go's `pkix.RDNSequence.String` escapes it: `,+"\<>;`
/// anywhere, a space at either end, a `#` at the start.
pub(crate) fn escape_value(value: &str, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaping() {
        let mut s = String::new();
        escape_value(r#" a,b+c"d\e<f>g;h #"#, &mut s);
        assert_eq!(s, r#"\ a\,b\+c\"d\\e\<f\>g\;h #"#);
        let mut t = String::new();
        escape_value("#a ", &mut t);
        assert_eq!(t, r"\#a\ ");
    }

    /// The printer here and the matcher in `rnats-auth` must agree, or a configured DN stops
    /// matching the certificate it names.
    #[test]
    fn agrees_with_the_matcher_in_rnats_auth() {
        for (oid, name) in NAMES {
            assert_eq!(rnats_auth::dn::short_name(oid), Some(*name), "{oid}");
        }
        assert_eq!(rnats_auth::dn::short_name("1.2.3.4"), None);
        for value in [
            "plain",
            " lead",
            "trail ",
            "#hash",
            r#"a,b+c"d\e<f>g;h"#,
            "é ü",
            "",
        ] {
            let (mut ours, mut theirs) = (String::new(), String::new());
            escape_value(value, &mut ours);
            rnats_auth::dn::escape_value(value, &mut theirs);
            assert_eq!(ours, theirs, "{value:?}");
        }
    }
}
