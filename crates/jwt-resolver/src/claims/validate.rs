//! The blocking checks nats-io/jwt's `AccountClaims.Validate` makes and nats-server applies
//! before it uses an account JWT (at start-up, on lookup and on a claim update): an account
//! that fails them is not used. Messages are the library's.

use std::collections::{BTreeSet, HashMap};

use rnats_sublist::Sublist;

use super::account::AccountClaims;
use super::exports::{Export, ExportType, Import};

impl AccountClaims {
    /// The blocking validation errors of this account, in a stable order; empty when nats-server
    /// would use it. Covers the operator limits on imports, exports and wildcard exports,
    /// imports, exports (including overlapping ones) and subject mappings.
    pub fn validation_errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        check_imports(&self.imports, &mut errors);
        check_exports(&self.exports, &mut errors);
        check_mappings(self, &mut errors);
        let limits = &self.limits;
        if limits.imports != -1 && count(self.imports.len()) > limits.imports {
            errors.push("the account contains more imports than allowed by the operator".into());
        }
        if limits.exports != -1 {
            if count(self.exports.len()) > limits.exports {
                errors
                    .push("the account contains more exports than allowed by the operator".into());
            }
            if !limits.wildcard_exports && self.exports.iter().any(|e| has_wildcards(&e.subject)) {
                errors.push(
                    "the account contains wildcard exports that are not allowed by the operator"
                        .into(),
                );
            }
        }
        errors
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn has_wildcards(subject: &str) -> bool {
    subject.split('.').any(|t| t == "*" || t == ">")
}

/// nats-io/jwt `Subject.Validate`.
fn check_subject(subject: &str, errors: &mut Vec<String>) {
    if subject.is_empty() {
        errors.push("subject cannot be empty".into());
        return;
    }
    if subject.contains(' ') {
        errors.push(format!("subject {subject:?} cannot have spaces"));
    }
    if subject.starts_with('.') || subject.ends_with('.') {
        errors.push(format!(
            "subject {subject:?} cannot start or end with a `.`"
        ));
    }
    if subject.contains("..") {
        errors.push(format!(
            "subject {subject:?} cannot contain consecutive `.`"
        ));
    }
}

fn check_imports(imports: &[Import], errors: &mut Vec<String>) {
    // Service imports from one account may not overlap (by the subject they appear as here).
    let mut by_account: HashMap<&str, Vec<&str>> = HashMap::new();
    for i in imports {
        if i.kind == ExportType::Service {
            let local = [i.to.as_str(), i.local_subject.as_str(), i.subject.as_str()]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or("");
            let seen = by_account.entry(i.account.as_str()).or_default();
            for other in seen.iter() {
                if contained_in(local, other) || contained_in(other, local) {
                    errors.push(format!(
                        "overlapping subject namespace for {local:?} and {other:?} in same account {:?}",
                        i.account
                    ));
                }
            }
            seen.push(local);
        }
        match i.kind {
            ExportType::Stream | ExportType::Service => {}
            _ => errors.push("invalid import type: \"unknown\"".into()),
        }
        if i.kind == ExportType::Service && i.allow_trace {
            errors.push("AllowTrace only valid for stream import".into());
        }
        if i.account.is_empty() {
            errors.push("account to import from is not specified".into());
        }
        check_subject(&i.subject, errors);
        if !i.local_subject.is_empty() && !i.to.is_empty() {
            errors.push("Local Subject replaces To".into());
        }
        if i.share && i.kind != ExportType::Service {
            errors.push(format!(
                "sharing information (for latency tracking) is only valid for services: {:?}",
                i.subject
            ));
        }
    }
}

fn check_exports(exports: &[Export], errors: &mut Vec<String>) {
    for e in exports {
        match e.kind {
            ExportType::Stream => {
                if e.response_type.is_some() {
                    errors.push("invalid response type for stream".into());
                }
                if e.response_threshold > 0 {
                    errors.push("response threshold only valid for services".into());
                }
            }
            ExportType::Service => {}
            _ => errors.push("invalid export type: \"unknown\"".into()),
        }
        if e.response_threshold < 0 {
            errors.push("negative response threshold is invalid".into());
        }
        check_subject(&e.subject, errors);
        if e.account_token_position > 0 {
            let tokens: Vec<&str> = e.subject.split('.').collect();
            let position = usize::try_from(e.account_token_position).unwrap_or(usize::MAX);
            if !has_wildcards(&e.subject) {
                errors.push(format!(
                    "Account Token Position can only be used with wildcard subjects: {}",
                    e.subject
                ));
            } else if position > tokens.len() {
                errors.push(format!(
                    "Account Token Position {position} exceeds length of subject '{}'",
                    e.subject
                ));
            } else if tokens[position - 1] != "*" {
                errors.push(format!(
                    "Account Token Position {position} matches '{}' but must match a * in: {}",
                    tokens[position - 1],
                    e.subject
                ));
            }
        }
    }
    for (kind, name) in [
        (ExportType::Service, "service"),
        (ExportType::Stream, "stream"),
    ] {
        let subjects: Vec<&str> = exports
            .iter()
            .filter(|e| e.kind == kind && !e.subject.is_empty())
            .map(|e| e.subject.as_str())
            .collect();
        for (outer, inner) in overlapping(&subjects) {
            errors.push(format!(
                "{name} export subject {outer:?} already exports {inner:?}"
            ));
        }
    }
}

/// Pairs (container, contained) of distinct entries where one subject lies within another,
/// one per container (the first contained one in list order), found through a subject trie
/// rather than by comparing every pair: an account JWT may hold many thousands of exports.
fn overlapping<'a>(subjects: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    let mut trie: Sublist<usize> = Sublist::new();
    for (i, s) in subjects.iter().enumerate() {
        // A subject the trie refuses (already reported by `check_subject`) takes no part.
        let _ = trie.insert(s.as_bytes(), None, i);
    }
    let mut first: HashMap<usize, usize> = HashMap::new();
    for (i, s) in subjects.iter().enumerate() {
        // Published as a literal, a subject reaches exactly the patterns that contain it.
        for j in trie.matches(s.as_bytes()).plain {
            if j != i {
                first.entry(j).or_insert(i);
            }
        }
    }
    let found: BTreeSet<(&str, &str)> = first
        .into_iter()
        .map(|(outer, inner)| (subjects[outer], subjects[inner]))
        .collect();
    found.into_iter().collect()
}

/// nats-io/jwt `Subject.IsContainedIn`: every subject `other` matches also matches `s`'s
/// shape token by token.
fn contained_in(s: &str, other: &str) -> bool {
    let mine: Vec<&str> = s.split('.').collect();
    let theirs: Vec<&str> = other.split('.').collect();
    let open = theirs.last() == Some(&">");
    if (mine.len() > theirs.len() && !open) || mine.len() < theirs.len() {
        return false;
    }
    for (i, t) in theirs.iter().enumerate() {
        if i == theirs.len() - 1 && *t == ">" {
            return true;
        }
        if *t != mine[i] && *t != "*" {
            return false;
        }
    }
    true
}

fn check_mappings(claims: &AccountClaims, errors: &mut Vec<String>) {
    for (from, destinations) in &claims.mappings {
        check_subject(from, errors);
        let mut per_cluster: HashMap<&str, u32> = HashMap::new();
        let mut total = 0u32;
        for d in destinations {
            check_subject(&d.subject, errors);
            let weight = u32::from(d.weight());
            if weight > 100 {
                errors.push(format!(
                    "Mapping {from:?} has a weight {weight} that exceeds 100"
                ));
            }
            if d.cluster.is_empty() {
                total += weight;
            } else {
                let t = per_cluster.entry(d.cluster.as_str()).or_default();
                *t += weight;
                if *t > 100 {
                    errors.push(format!(
                        "Mapping {from:?} in cluster {:?} exceeds 100% among all of it's weighted to mappings",
                        d.cluster
                    ));
                }
            }
        }
        if total > 100 {
            errors.push(format!(
                "Mapping {from:?} exceeds 100% among all of it's weighted to mappings"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::account::{AccountLimits, WeightedMapping};

    fn account() -> AccountClaims {
        let mut a = AccountClaims::new("ACZSWBJ4SYILK7QVDELO64VX3EFWB6CXCPMEBN3YQGUGDWIIMBY6EMSQ");
        a.limits = AccountLimits::UNLIMITED;
        a
    }

    fn export(subject: &str, kind: ExportType) -> Export {
        Export {
            subject: subject.into(),
            kind,
            ..Export::default()
        }
    }

    #[test]
    fn a_plain_account_is_valid() {
        let mut a = account();
        a.exports.push(export("orders.>", ExportType::Stream));
        a.exports.push(export("orders.>", ExportType::Service));
        assert_eq!(a.validation_errors(), Vec::<String>::new());
    }

    #[test]
    fn operator_limits_on_imports_exports_and_wildcards() {
        let mut a = account();
        a.limits.exports = 1;
        a.limits.wildcard_exports = false;
        a.exports.push(export("a.*", ExportType::Stream));
        a.exports.push(export("b", ExportType::Stream));
        a.limits.imports = 0;
        a.imports.push(Import {
            subject: "x".into(),
            account: "AX".into(),
            kind: ExportType::Stream,
            ..Import::default()
        });
        assert_eq!(
            a.validation_errors(),
            [
                "the account contains more imports than allowed by the operator",
                "the account contains more exports than allowed by the operator",
                "the account contains wildcard exports that are not allowed by the operator",
            ]
        );
    }

    #[test]
    fn overlapping_exports_of_one_kind_are_refused() {
        let mut a = account();
        for s in ["a.>", "a.b", "a.*", "c"] {
            a.exports.push(export(s, ExportType::Stream));
        }
        // Each container with the first export it holds, as nats-io/jwt reports them.
        assert_eq!(
            a.validation_errors(),
            [
                "stream export subject \"a.*\" already exports \"a.>\"",
                "stream export subject \"a.>\" already exports \"a.b\"",
            ]
        );
    }

    #[test]
    fn many_exports_are_checked_quickly() {
        let mut a = account();
        for i in 0..20_000 {
            a.exports
                .push(export(&format!("svc.{i}.>"), ExportType::Service));
        }
        assert!(a.validation_errors().is_empty());
    }

    #[test]
    fn mappings_and_subjects() {
        let mut a = account();
        a.mappings.insert(
            "m".into(),
            vec![
                WeightedMapping {
                    subject: "x".into(),
                    weight: 60,
                    cluster: String::new(),
                },
                WeightedMapping {
                    subject: "y".into(),
                    weight: 60,
                    cluster: String::new(),
                },
            ],
        );
        a.exports.push(export("bad..subject", ExportType::Stream));
        assert_eq!(
            a.validation_errors(),
            [
                "subject \"bad..subject\" cannot contain consecutive `.`",
                "Mapping \"m\" exceeds 100% among all of it's weighted to mappings",
            ]
        );
    }

    #[test]
    fn contained_in_follows_the_library() {
        assert!(contained_in("a.b", "a.>"));
        assert!(contained_in("a.>", "a.*"));
        assert!(contained_in("a.b", "a.*"));
        assert!(!contained_in("a.*", "a.b"));
        assert!(!contained_in("a", "a.>"));
    }
}
