//! Account exports and imports: which messages cross from one account to another, and how their
//! subjects are rewritten on the way.
//!
//! - A **stream** import of account B from A: messages published in A on the exported subject
//!   are delivered to B's subscribers, under `prefix.subject` or the `to` subject.
//! - A **service** import of account B from A: requests published in B on the local subject (the
//!   `to` subject, or the exported one) go to A's responders; the reply subject is replaced by a
//!   fresh `_R_.…` subject in A whose responses are routed back to B's requester.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rnats_config::{AccountConfig, ExportConfig, ExportKind, ResponseType};
use rnats_sublist::Sublist;

use crate::account::Account;

/// How long a service response route lives when the export sets no threshold (nats-server).
pub(crate) const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// A subject rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mapping {
    Same,
    Prefix(Box<[u8]>),
    /// Replace the subject by `to`. The tokens the published subject puts in the wildcards of
    /// `pattern` fill the wildcards of `to`, in order (nats-server's import mapping).
    To {
        pattern: Vec<Box<[u8]>>,
        to: Vec<Box<[u8]>>,
    },
}

impl Mapping {
    /// Writes the rewritten `subject` into `out` (emptied first). Allocates nothing once `out`
    /// has grown to the subjects' size: the router reuses one buffer for every message.
    pub(crate) fn apply_into(&self, subject: &[u8], out: &mut Vec<u8>) {
        out.clear();
        match self {
            Self::Same => out.extend_from_slice(subject),
            Self::Prefix(prefix) => {
                out.extend_from_slice(prefix);
                out.push(b'.');
                out.extend_from_slice(subject);
            }
            Self::To { pattern, to } => {
                let mut wildcard = 0;
                for (i, token) in to.iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    match &token[..] {
                        b"*" | b">" => {
                            match capture(pattern, subject, wildcard) {
                                Some(c) => out.extend_from_slice(c),
                                None => out.extend_from_slice(token),
                            }
                            wildcard += 1;
                        }
                        literal => out.extend_from_slice(literal),
                    }
                }
            }
        }
    }

    #[cfg(test)]
    fn apply(&self, subject: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.apply_into(subject, &mut out);
        out
    }
}

/// What the `n`th wildcard of `pattern` matched in `subject` (a slice of it: `>` takes the rest,
/// dots included). `None` when the subject is too short, which a matching subject never is.
fn capture<'s>(pattern: &[Box<[u8]>], subject: &'s [u8], n: usize) -> Option<&'s [u8]> {
    let mut seen = 0;
    let mut rest = subject;
    for token in pattern {
        let (here, after) = match memchr_dot(rest) {
            Some(dot) => (&rest[..dot], &rest[dot + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        match &token[..] {
            b">" => return (seen == n && !rest.is_empty()).then_some(rest),
            b"*" => {
                if seen == n {
                    return Some(here);
                }
                seen += 1;
            }
            _ => {}
        }
        if rest.is_empty() {
            return None;
        }
        rest = after;
    }
    None
}

fn memchr_dot(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'.')
}

fn tokens(subject: &str) -> Vec<Box<[u8]>> {
    subject.split('.').map(|t| t.as_bytes().into()).collect()
}

/// `pattern` (what is matched) rewritten to `to`.
fn to_mapping(pattern: &str, to: Option<&str>) -> Mapping {
    match to {
        Some(to) if to != pattern => Mapping::To {
            pattern: tokens(pattern),
            to: tokens(to),
        },
        _ => Mapping::Same,
    }
}

/// Messages published in the exporting account on `pattern` also go to `importer` as
/// `map(subject)`. Named by account; [`Links::resolve`] turns a plan into routes.
#[derive(Debug, Clone)]
pub(crate) struct StreamPlan {
    pub(crate) pattern: Box<[u8]>,
    pub(crate) importer: String,
    pub(crate) map: Mapping,
    /// The import's `allow_trace`: traced messages are traced on into the importer.
    pub(crate) allow_trace: bool,
}

/// Requests published in the importing account on `pattern` go to `exporter` as
/// `map(subject)`.
#[derive(Debug, Clone)]
pub(crate) struct ServicePlan {
    pub(crate) pattern: Box<[u8]>,
    pub(crate) exporter: String,
    pub(crate) map: Mapping,
    pub(crate) response: ResponseType,
    pub(crate) threshold: Duration,
    /// The export's `allow_trace`: traced requests are traced on into the exporter.
    pub(crate) allow_trace: bool,
}

/// The cross-account routes that start in one account, by account name: what the
/// configuration says, checked, before any account exists.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub(crate) streams: Vec<StreamPlan>,
    pub(crate) services: Vec<ServicePlan>,
}

/// A stream route with its importer resolved.
pub(crate) struct StreamRoute {
    pub(crate) importer: Arc<Account>,
    pub(crate) map: Mapping,
    pub(crate) allow_trace: bool,
}

/// A service route with its exporter resolved.
pub(crate) struct ServiceRoute {
    pub(crate) exporter: Arc<Account>,
    pub(crate) map: Mapping,
    pub(crate) response: ResponseType,
    pub(crate) threshold: Duration,
    pub(crate) allow_trace: bool,
}

/// A route in a sublist, compared by identity.
pub(crate) struct RouteRef<T>(pub(crate) Arc<T>);

impl<T> Clone for RouteRef<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> PartialEq for RouteRef<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The cross-account routes that start in one account, resolved once (at start-up and at each
/// reload): each holds the other account itself, and the patterns sit in sublists, so a
/// message finds its routes without a scan, a lock on the account table or an allocation.
#[derive(Default)]
pub(crate) struct Links {
    pub(crate) streams: Sublist<RouteRef<StreamRoute>>,
    pub(crate) services: Sublist<RouteRef<ServiceRoute>>,
}

impl Links {
    pub(crate) fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.services.is_empty()
    }

    /// The routes of `plan`, with every account named in it found by `account`.
    pub(crate) fn resolve(plan: &Plan, mut account: impl FnMut(&str) -> Arc<Account>) -> Self {
        let mut links = Self::default();
        for p in &plan.streams {
            let route = StreamRoute {
                importer: account(&p.importer),
                map: p.map.clone(),
                allow_trace: p.allow_trace,
            };
            // Patterns were validated when the configuration was loaded.
            let _ = links
                .streams
                .insert(&p.pattern, None, RouteRef(Arc::new(route)));
        }
        for p in &plan.services {
            let route = ServiceRoute {
                exporter: account(&p.exporter),
                map: p.map.clone(),
                response: p.response,
                threshold: p.threshold,
                allow_trace: p.allow_trace,
            };
            let _ = links
                .services
                .insert(&p.pattern, None, RouteRef(Arc::new(route)));
        }
        links
    }
}

/// Whether `subject` (a pattern) lies within `export` (a pattern): every subject it can match
/// is matched by the export.
pub(crate) fn within(export: &str, subject: &str) -> bool {
    let e: Vec<&str> = export.split('.').collect();
    let s: Vec<&str> = subject.split('.').collect();
    for (i, et) in e.iter().enumerate() {
        match *et {
            ">" => return s.len() > i,
            "*" => {
                if s.get(i).is_none_or(|t| *t == ">") {
                    return false;
                }
            }
            literal => {
                if s.get(i) != Some(&literal) {
                    return false;
                }
            }
        }
    }
    e.len() == s.len()
}

fn find_export<'a>(
    exporter: &'a AccountConfig,
    kind: ExportKind,
    subject: &str,
    importer: &str,
) -> Option<&'a ExportConfig> {
    exporter.exports.iter().find(|e| {
        e.kind == kind
            && within(&e.subject, subject)
            && (e.accounts.is_empty() || e.accounts.iter().any(|a| a == importer))
            && e.account_token_position.is_none_or(|pos| {
                // That token of the imported subject must be the importer's own name.
                let index = (pos as usize).saturating_sub(1);
                subject.split('.').nth(index) == Some(importer)
            })
    })
}

/// Routes by the account they start in. An import from an unknown account, or one that no
/// export allows, is an error: nats-server refuses to start with the same text.
pub(crate) fn build(accounts: &[AccountConfig]) -> Result<HashMap<String, Plan>, String> {
    plan(accounts, &mut |e| Err(e))
}

/// Routes by the account they start in, leaving out (and reporting to `skipped`) an import
/// that no export allows: operator mode, where nats-server logs such an import of an account
/// JWT and serves the rest.
pub(crate) fn build_lenient(
    accounts: &[AccountConfig],
    skipped: &mut dyn FnMut(String),
) -> HashMap<String, Plan> {
    plan(accounts, &mut |e| {
        skipped(e);
        Ok(())
    })
    .unwrap_or_default()
}

/// The routes; `refused` decides what an import no export allows means: an error, or `Ok`
/// to go on without it.
fn plan(
    accounts: &[AccountConfig],
    refused: &mut dyn FnMut(String) -> Result<(), String>,
) -> Result<HashMap<String, Plan>, String> {
    let by_name: HashMap<&str, &AccountConfig> =
        accounts.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut links: HashMap<String, Plan> = HashMap::new();
    for importer in accounts {
        for import in &importer.imports {
            let kind = if import.kind == ExportKind::Stream {
                "stream"
            } else {
                "service"
            };
            let Some(exporter) = by_name.get(import.account.as_str()) else {
                refused(format!(
                    "{:?} account not defined for {kind} import",
                    import.account
                ))?;
                continue;
            };
            let Some(export) = find_export(exporter, import.kind, &import.subject, &importer.name)
            else {
                refused(format!(
                    "Error adding {kind} import {:?}: {kind} import not authorized",
                    import.subject
                ))?;
                continue;
            };
            match import.kind {
                ExportKind::Stream => {
                    let map = match (&import.prefix, &import.to) {
                        (Some(prefix), _) => Mapping::Prefix(prefix.as_bytes().into()),
                        (None, to) => to_mapping(&import.subject, to.as_deref()),
                    };
                    links
                        .entry(exporter.name.clone())
                        .or_default()
                        .streams
                        .push(StreamPlan {
                            pattern: import.subject.as_bytes().into(),
                            importer: importer.name.clone(),
                            map,
                            allow_trace: import.allow_trace,
                        });
                }
                _ => {
                    // Services. Requests arrive on the local subject (`to`, or the exported subject) and
                    // are mapped back to the exported subject.
                    let local = import.to.clone().unwrap_or_else(|| import.subject.clone());
                    let map = to_mapping(&local, Some(&import.subject));
                    links
                        .entry(importer.name.clone())
                        .or_default()
                        .services
                        .push(ServicePlan {
                            pattern: local.as_bytes().into(),
                            exporter: exporter.name.clone(),
                            map,
                            response: export.response_type,
                            threshold: export
                                .response_threshold
                                .unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
                            allow_trace: export.allow_trace,
                        });
                }
            }
        }
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings() {
        assert_eq!(Mapping::Same.apply(b"a.b"), b"a.b");
        assert_eq!(
            Mapping::Prefix((*b"from.a").into()).apply(b"x.y"),
            b"from.a.x.y"
        );
        assert_eq!(
            to_mapping("remote.*.z", Some("local.*.z")).apply(b"remote.7.z"),
            b"local.7.z"
        );
        assert_eq!(to_mapping("p.>", Some("q.>")).apply(b"p.1.2"), b"q.1.2");
        // Wildcards fill in order, whatever their position (nats-server's mapping).
        assert_eq!(
            to_mapping("private.>", Some("a.private.>")).apply(b"private.x.y"),
            b"a.private.x.y"
        );
        assert_eq!(
            to_mapping("fixed.in", Some("fixed")).apply(b"fixed.in"),
            b"fixed"
        );
        assert_eq!(to_mapping("same.*", Some("same.*")), Mapping::Same);
    }

    fn account(name: &str, conf: &str) -> AccountConfig {
        let text = format!("accounts {{ {name} {{ {conf} }} }}");
        rnats_config::load_str(&text, None)
            .unwrap()
            .config
            .accounts
            .remove(0)
    }

    #[test]
    fn account_token_position_binds_the_import_to_the_importer() {
        let a = account(
            "A",
            "exports = [ { stream: \"feed.*.>\", account_token_position: 2 } ]",
        );
        let b = account(
            "B",
            "imports = [ { stream: { account: A, subject: \"feed.C.>\" } } ]",
        );
        let c = account(
            "C",
            "imports = [ { stream: { account: A, subject: \"feed.C.>\" } } ]",
        );
        assert_eq!(
            build(&[a.clone(), b]).unwrap_err(),
            "Error adding stream import \"feed.C.>\": stream import not authorized"
        );
        assert!(build(&[a, c]).is_ok());
    }

    #[test]
    fn unknown_exporter_is_an_error() {
        let b = account(
            "B",
            "imports = [ { service: { account: Z, subject: \"x\" } } ]",
        );
        assert_eq!(
            build(&[b]).unwrap_err(),
            "\"Z\" account not defined for service import"
        );
    }

    #[test]
    fn resolved_routes_hold_their_accounts_and_match_through_the_sublist() {
        let a = account(
            "A",
            "exports = [ { stream: \"feed.>\" }, { service: \"svc.*\" } ]",
        );
        let b = account(
            "B",
            "imports = [ { stream: { account: A, subject: \"feed.>\" }, prefix: from_a }, \
             { service: { account: A, subject: \"svc.*\" }, to: \"local.*\" } ]",
        );
        let plans = build(&[a, b]).unwrap();
        let accounts: HashMap<&str, Arc<Account>> =
            [("A", Account::new("A")), ("B", Account::new("B"))]
                .into_iter()
                .map(|(n, a)| (n, Arc::new(a)))
                .collect();
        let resolve = |name: &str| accounts[name].clone();
        let from_a = Links::resolve(&plans["A"], resolve);
        let from_b = Links::resolve(&plans["B"], resolve);
        let mut found = Vec::new();
        let mut buf = Vec::new();
        from_a.streams.for_each_match(b"feed.x.y", |m| {
            if let rnats_sublist::Match::Plain(RouteRef(route)) = m {
                route.map.apply_into(b"feed.x.y", &mut buf);
                found.push((route.importer.name.clone(), buf.clone()));
            }
        });
        assert_eq!(found, [("B".to_owned(), b"from_a.feed.x.y".to_vec())]);
        let mut found = Vec::new();
        from_b.services.for_each_match(b"local.7", |m| {
            if let rnats_sublist::Match::Plain(RouteRef(route)) = m {
                route.map.apply_into(b"local.7", &mut buf);
                found.push((route.exporter.name.clone(), buf.clone()));
            }
        });
        assert_eq!(found, [("A".to_owned(), b"svc.7".to_vec())]);
        let mut none = 0;
        from_b.services.for_each_match(b"svc.7", |_| none += 1);
        assert_eq!(none, 0, "a service import matches its local subject only");
    }

    #[test]
    fn captures_follow_the_pattern() {
        let pattern = tokens("a.*.b.>");
        assert_eq!(capture(&pattern, b"a.1.b.c.d", 0), Some(&b"1"[..]));
        assert_eq!(capture(&pattern, b"a.1.b.c.d", 1), Some(&b"c.d"[..]));
        assert_eq!(capture(&pattern, b"a.1.b.c.d", 2), None);
        assert_eq!(capture(&pattern, b"a.1", 1), None);
    }

    #[test]
    fn subsets() {
        assert!(within("orders.>", "orders.eu.>"));
        assert!(within("orders.>", "orders.eu"));
        assert!(within("orders.*", "orders.eu"));
        assert!(!within("orders.*", "orders.>"));
        assert!(!within("orders.eu", "orders.*"));
        assert!(within("a.b", "a.b"));
        assert!(!within("a.b", "a.b.c"));
    }
}
