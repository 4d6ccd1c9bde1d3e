//! Subject mappings in force: compiled per account from the configuration (or the account
//! JWTs) and applied to what a client publishes before its permissions are checked and the
//! message is routed, as nats-server applies them.

use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use rnats_config::{AccountConfig, MappingConfig};
use rnats_sublist::{Mapped, Mapping};

/// Each account's mappings, by account name; accounts without any are left out.
pub(crate) type AccountMappings = HashMap<String, Arc<[Mapping]>>;

/// Compiles the mappings of `accounts`, and `global` for the account named `global_name`. A
/// mapping that does not compile is reported to `skipped` and left out (the configuration
/// loader refuses those already; account JWTs are not checked before).
pub(crate) fn compile(
    accounts: &[AccountConfig],
    global: (&str, &[MappingConfig]),
    skipped: &mut dyn FnMut(String),
) -> AccountMappings {
    let mut out = AccountMappings::new();
    let all = accounts
        .iter()
        .map(|a| (a.name.as_str(), a.mappings.as_slice()))
        .chain(std::iter::once(global));
    for (name, entries) in all {
        let compiled: Vec<Mapping> = entries
            .iter()
            .filter_map(|m| match m.compile() {
                Ok(c) => Some(c),
                Err(e) => {
                    skipped(format!(
                        "Error adding mapping for {:?} in account {name}: {e}",
                        m.source
                    ));
                    None
                }
            })
            .collect();
        if !compiled.is_empty() {
            out.insert(name.to_owned(), compiled.into());
        }
    }
    out
}

/// What the mappings make of a published subject: an entry whose source is the subject
/// itself wins, then the first wildcard entry that matches, in the order written.
pub(crate) fn select(mappings: &[Mapping], subject: &[u8]) -> Mapped {
    let Ok(subject) = std::str::from_utf8(subject) else {
        return Mapped::NoMatch;
    };
    let found = mappings
        .iter()
        .find(|m| !m.is_wildcard() && m.source() == subject)
        .or_else(|| {
            mappings
                .iter()
                .find(|m| m.is_wildcard() && m.matches(subject))
        });
    let Some(mapping) = found else {
        return Mapped::NoMatch;
    };
    let mut rng = rand::thread_rng();
    let roll = if mapping.is_weighted() {
        rng.gen_range(0..100)
    } else {
        0
    };
    mapping.select(subject, roll, &mut || rng.r#gen())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(source: &str, dest: &str) -> Mapping {
        Mapping::new(source, &[(dest, 100)]).unwrap()
    }

    #[test]
    fn a_literal_source_wins_over_an_earlier_wildcard() {
        let m = [mapping("a.*", "wild.$1"), mapping("a.b", "exact")];
        assert_eq!(select(&m, b"a.b"), Mapped::To("exact".into()));
        assert_eq!(select(&m, b"a.c"), Mapped::To("wild.c".into()));
        assert_eq!(select(&m, b"z"), Mapped::NoMatch);
        assert_eq!(select(&m, b"\xff"), Mapped::NoMatch);
    }

    #[test]
    fn weights_spread_messages() {
        let m = [Mapping::new("a", &[("b", 50), ("c", 50)]).unwrap()];
        let mut seen = (0, 0);
        for _ in 0..2000 {
            match select(&m, b"a") {
                Mapped::To(s) if s == "b" => seen.0 += 1,
                Mapped::To(s) if s == "c" => seen.1 += 1,
                other => panic!("{other:?}"),
            }
        }
        // 2000 fair coin flips land within 800..1200 with overwhelming probability.
        assert!((800..1200).contains(&seen.0), "{seen:?}");
    }
}
