//! Account exports and imports: which messages cross from one account to another, and how their
//! subjects are rewritten on the way.
//!
//! - A **stream** import of account B from A: messages published in A on the exported subject
//!   are delivered to B's subscribers, under `prefix.subject` or the `to` subject.
//! - A **service** import of account B from A: requests published in B on the local subject (the
//!   `to` subject, or the exported one) go to A's responders; the reply subject is replaced by a
//!   fresh `_R_.…` subject in A whose responses are routed back to B's requester.

use std::collections::HashMap;
use std::time::Duration;

use rnats_config::{AccountConfig, ExportConfig, ExportKind, ResponseType};
use rnats_sublist::subject_matches;

/// How long a service response route lives when the export sets no threshold (nats-server).
pub(crate) const DEFAULT_RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);

/// A subject rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mapping {
    Same,
    Prefix(Box<[u8]>),
    /// Replace the subject by `to`; wildcard tokens of `to` take the published subject's tokens
    /// at the same positions.
    To(Vec<Box<[u8]>>),
}

impl Mapping {
    pub(crate) fn apply(&self, subject: &[u8]) -> Vec<u8> {
        match self {
            Self::Same => subject.to_vec(),
            Self::Prefix(prefix) => {
                let mut out = Vec::with_capacity(prefix.len() + 1 + subject.len());
                out.extend_from_slice(prefix);
                out.push(b'.');
                out.extend_from_slice(subject);
                out
            }
            Self::To(tokens) => {
                let published: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
                let mut out = Vec::with_capacity(subject.len() + 8);
                for (i, token) in tokens.iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    match &token[..] {
                        b"*" => out.extend_from_slice(published.get(i).copied().unwrap_or(b"*")),
                        b">" => {
                            let rest = published.get(i..).unwrap_or_default();
                            out.extend_from_slice(&rest.join(&b'.'));
                        }
                        literal => out.extend_from_slice(literal),
                    }
                }
                out
            }
        }
    }
}

fn to_mapping(to: Option<&str>) -> Mapping {
    match to {
        Some(to) => Mapping::To(to.split('.').map(|t| t.as_bytes().into()).collect()),
        None => Mapping::Same,
    }
}

/// Messages published in this account on `pattern` also go to `importer` as `map(subject)`.
#[derive(Debug, Clone)]
pub(crate) struct StreamRoute {
    pub(crate) pattern: Box<[u8]>,
    pub(crate) importer: String,
    pub(crate) map: Mapping,
}

/// Requests published in this account on `pattern` go to `exporter` as `map(subject)`.
#[derive(Debug, Clone)]
pub(crate) struct ServiceRoute {
    pub(crate) pattern: Box<[u8]>,
    pub(crate) exporter: String,
    pub(crate) map: Mapping,
    pub(crate) response: ResponseType,
    pub(crate) threshold: Duration,
}

/// The cross-account routes that start in one account.
#[derive(Debug, Clone, Default)]
pub(crate) struct Links {
    pub(crate) streams: Vec<StreamRoute>,
    pub(crate) services: Vec<ServiceRoute>,
}

impl Links {
    pub(crate) fn is_empty(&self) -> bool {
        self.streams.is_empty() && self.services.is_empty()
    }
}

/// Whether `subject` (a pattern) lies within `export` (a pattern): every subject it can match
/// is matched by the export.
fn within(export: &str, subject: &str) -> bool {
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
    })
}

/// Routes by the account they start in. An import that no export allows is left out with a
/// warning (nats-server does not start routing it either).
pub(crate) fn build(accounts: &[AccountConfig]) -> (HashMap<String, Links>, Vec<String>) {
    let by_name: HashMap<&str, &AccountConfig> =
        accounts.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut links: HashMap<String, Links> = HashMap::new();
    let mut warnings = Vec::new();
    for importer in accounts {
        for import in &importer.imports {
            let Some(exporter) = by_name.get(import.account.as_str()) else {
                warnings.push(format!(
                    "account {:?}: import from unknown account {:?} ignored",
                    importer.name, import.account
                ));
                continue;
            };
            let Some(export) = find_export(exporter, import.kind, &import.subject, &importer.name)
            else {
                warnings.push(format!(
                    "account {:?}: import of {:?} from {:?} is not exported to it; ignored",
                    importer.name, import.subject, import.account
                ));
                continue;
            };
            match import.kind {
                ExportKind::Stream => {
                    let map = match (&import.prefix, &import.to) {
                        (Some(prefix), _) => Mapping::Prefix(prefix.as_bytes().into()),
                        (None, to) => to_mapping(to.as_deref()),
                    };
                    links
                        .entry(exporter.name.clone())
                        .or_default()
                        .streams
                        .push(StreamRoute {
                            pattern: import.subject.as_bytes().into(),
                            importer: importer.name.clone(),
                            map,
                        });
                }
                _ => {
                    // Services. Requests arrive on the local subject (`to`, or the exported subject) and
                    // are mapped back to the exported subject.
                    let local = import.to.clone().unwrap_or_else(|| import.subject.clone());
                    let map = if local == import.subject {
                        Mapping::Same
                    } else {
                        to_mapping(Some(&import.subject))
                    };
                    links
                        .entry(importer.name.clone())
                        .or_default()
                        .services
                        .push(ServiceRoute {
                            pattern: local.as_bytes().into(),
                            exporter: exporter.name.clone(),
                            map,
                            response: export.response_type,
                            threshold: export
                                .response_threshold
                                .unwrap_or(DEFAULT_RESPONSE_THRESHOLD),
                        });
                }
            }
        }
    }
    (links, warnings)
}

impl StreamRoute {
    pub(crate) fn matches(&self, subject: &[u8]) -> bool {
        subject_matches(&self.pattern, subject)
    }
}

impl ServiceRoute {
    pub(crate) fn matches(&self, subject: &[u8]) -> bool {
        subject_matches(&self.pattern, subject)
    }
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
            to_mapping(Some("local.*.z")).apply(b"remote.7.z"),
            b"local.7.z"
        );
        assert_eq!(to_mapping(Some("q.>")).apply(b"p.1.2"), b"q.1.2");
        assert_eq!(to_mapping(Some("fixed")).apply(b"anything"), b"fixed");
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
