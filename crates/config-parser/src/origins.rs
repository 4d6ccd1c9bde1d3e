//! Where values came from, so that checks made after loading (TLS files, password hashes) can
//! still name `FILE:LINE:COL`.

use std::collections::BTreeMap;

use crate::value::Pos;

/// Positions of values checked after loading, by a key naming the value:
/// `tls`, `tls.cert_file`, `tls.key_file`, `tls.ca_file`, `authorization.token`,
/// `password of USER` for each user with a password, and the operator-mode keys `operator`,
/// `trusted`, `system_account`, `resolver`, `resolver_preload` and `default_sentinel`.
///
/// Not part of a configuration's meaning: two configurations that differ only here are equal
/// (a reload that moves a line changes nothing).
#[derive(Debug, Clone, Default)]
pub struct Origins(BTreeMap<String, Pos>);

impl Origins {
    /// Records where the value named `key` was written.
    pub fn record(&mut self, key: impl Into<String>, pos: Pos) {
        self.0.insert(key.into(), pos);
    }

    /// Where the value named `key` was written, if it came from a file.
    pub fn get(&self, key: &str) -> Option<&Pos> {
        self.0.get(key)
    }

    /// `"FILE:LINE:COL: msg"` when `key` has a position, else `msg` as it is.
    pub fn locate(&self, key: &str, msg: impl std::fmt::Display) -> String {
        match self.get(key) {
            Some(pos) => format!("{pos}: {msg}"),
            None => msg.to_string(),
        }
    }
}

impl PartialEq for Origins {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_prefixes_known_keys_only() {
        let mut o = Origins::default();
        o.record(
            "tls.cert_file",
            Pos {
                file: Some(std::path::Path::new("a.conf").into()),
                line: 3,
                column: 14,
            },
        );
        assert_eq!(o.locate("tls.cert_file", "bad"), "a.conf:3:14: bad");
        assert_eq!(o.locate("tls.key_file", "bad"), "bad");
        assert_eq!(o, Origins::default(), "positions never make configs differ");
    }
}
