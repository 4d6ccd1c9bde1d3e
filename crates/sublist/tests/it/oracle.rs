//! Property tests: `Sublist` against the `LinearIndex` oracle, and `MatchCache` against fresh
//! `matches()`, under random interleavings of inserts, removes and matches.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rnats_sublist::{LinearIndex, Match, MatchCache, Matches, SubjectIndex, Sublist};

/// Tokens for subscriptions: a few literals (one looks like a wildcard but is not) and both
/// wildcards; `>` may land in the middle, which both indexes must reject alike.
const SUB_TOKENS: &[&str] = &["a", "b", "c", "a*", "*", ">"];
/// Tokens for publishes: the same, plus an empty token and one with a space.
const PUB_TOKENS: &[&str] = &["a", "b", "c", "a*", "*", ">", "", "a b"];
const QUEUES: &[&str] = &["q1", "q2"];
/// A wide alphabet, so that nodes outgrow the short child vector and switch to a map and back.
const WIDE_SUB_TOKENS: &[&str] = &[
    "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "*", ">",
];
const WIDE_PUB_TOKENS: &[&str] = &[
    "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "t10", "t11", "*", ">", "",
];

fn subject(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 1..=4).prop_map(|t| t.join("."))
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        subject: String,
        queue: Option<&'static str>,
        value: u8,
    },
    /// Removes the `pick`-th live entry (modulo), or a random miss when there is none.
    RemoveExisting {
        pick: usize,
    },
    Remove {
        subject: String,
        queue: Option<&'static str>,
        value: u8,
    },
    Match {
        subject: String,
    },
}

fn op() -> impl Strategy<Value = Op> {
    op_over(SUB_TOKENS, PUB_TOKENS)
}

fn op_over(
    sub_tokens: &'static [&'static str],
    pub_tokens: &'static [&'static str],
) -> impl Strategy<Value = Op> {
    let queue = prop::option::weighted(0.3, prop::sample::select(QUEUES));
    prop_oneof![
        4 => (subject(sub_tokens), queue.clone(), 0u8..4)
            .prop_map(|(subject, queue, value)| Op::Insert { subject, queue, value }),
        2 => any::<usize>().prop_map(|pick| Op::RemoveExisting { pick }),
        1 => (subject(sub_tokens), queue, 0u8..4)
            .prop_map(|(subject, queue, value)| Op::Remove { subject, queue, value }),
        4 => subject(pub_tokens).prop_map(|subject| Op::Match { subject }),
    ]
}

/// A result as multisets: sorted plain values, and sorted members per group name.
type Canonical = (Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>);

fn canonical(m: &Matches<u8>) -> Canonical {
    let mut plain = m.plain.clone();
    plain.sort_unstable();
    let mut groups = BTreeMap::new();
    for q in &m.queues {
        assert!(!q.members.is_empty(), "empty queue group in result");
        let mut members = q.members.clone();
        members.sort_unstable();
        let previous = groups.insert(q.group.to_vec(), members);
        assert!(previous.is_none(), "queue group reported twice: not merged");
    }
    (plain, groups)
}

fn canonical_visit(s: &Sublist<u8>, subject: &[u8]) -> Canonical {
    let mut plain = Vec::new();
    let mut groups: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    s.for_each_match(subject, |m| match m {
        Match::Plain(v) => plain.push(*v),
        Match::Queue { group, members } => {
            assert!(!members.is_empty());
            groups
                .entry(group.to_vec())
                .or_default()
                .extend_from_slice(members);
        }
    });
    plain.sort_unstable();
    groups.values_mut().for_each(|m| m.sort_unstable());
    (plain, groups)
}

fn check(sublist: &Sublist<u8>, oracle: &LinearIndex<u8>, subject: &str) {
    let expected = canonical(&oracle.matches(subject.as_bytes()));
    let got = sublist.matches(subject.as_bytes());
    assert_eq!(canonical(&got), expected, "matches({subject:?})");
    assert_eq!(
        canonical_visit(sublist, subject.as_bytes()),
        expected,
        "for_each_match({subject:?})"
    );
}

/// Every publish subject of 1..=`depth` tokens over `tokens`.
fn all_publish_subjects(tokens: &'static [&'static str], depth: usize) -> Vec<String> {
    let mut out: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    let mut frontier = out.clone();
    for _ in 1..depth {
        frontier = frontier
            .iter()
            .flat_map(|s| tokens.iter().map(move |t| format!("{s}.{t}")))
            .collect();
        out.extend(frontier.iter().cloned());
    }
    out
}

/// Runs `ops` against both indexes and a cache, checking after each step, then checks every
/// publish subject of up to `depth` tokens and removes everything left.
fn run_against_oracle(
    ops: Vec<Op>,
    pub_tokens: &'static [&'static str],
    depth: usize,
) -> Result<(), TestCaseError> {
    let mut sublist = Sublist::new();
    let mut oracle = LinearIndex::new();
    let mut cache = MatchCache::new(4);
    let mut live: Vec<(String, Option<&'static str>, u8)> = Vec::new();

    for op in ops {
        let generation = sublist.generation();
        let changed = match op {
            Op::Insert {
                subject,
                queue,
                value,
            } => {
                let q = queue.map(str::as_bytes);
                let got = sublist.insert(subject.as_bytes(), q, value);
                prop_assert_eq!(got, oracle.insert(subject.as_bytes(), q, value));
                if got.is_ok() {
                    live.push((subject, queue, value));
                }
                got.is_ok()
            }
            Op::RemoveExisting { pick } => {
                if live.is_empty() {
                    prop_assert!(!sublist.remove(b"a", None, &0));
                    false
                } else {
                    let (subject, queue, value) = live.swap_remove(pick % live.len());
                    let q = queue.map(str::as_bytes);
                    prop_assert!(oracle.remove(subject.as_bytes(), q, &value));
                    prop_assert!(sublist.remove(subject.as_bytes(), q, &value));
                    true
                }
            }
            Op::Remove {
                subject,
                queue,
                value,
            } => {
                let q = queue.map(str::as_bytes);
                let got = sublist.remove(subject.as_bytes(), q, &value);
                prop_assert_eq!(got, oracle.remove(subject.as_bytes(), q, &value));
                if got {
                    let at = live
                        .iter()
                        .position(|(s, qq, v)| *s == subject && *qq == queue && *v == value);
                    prop_assert!(at.is_some());
                    if let Some(at) = at {
                        live.swap_remove(at);
                    }
                }
                got
            }
            Op::Match { subject } => {
                check(&sublist, &oracle, &subject);
                let cached = cache.get(&sublist, subject.as_bytes());
                prop_assert_eq!(&*cached, &sublist.matches(subject.as_bytes()));
                false
            }
        };
        prop_assert_eq!(sublist.generation() != generation, changed);
        prop_assert_eq!(sublist.len(), oracle.len());
        prop_assert_eq!(sublist.len(), live.len());
    }

    for subject in all_publish_subjects(pub_tokens, depth) {
        check(&sublist, &oracle, &subject);
    }

    for (subject, queue, value) in live.drain(..) {
        prop_assert!(sublist.remove(subject.as_bytes(), queue.map(str::as_bytes), &value));
    }
    prop_assert!(sublist.is_empty());
    prop_assert_eq!(sublist.node_count(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sublist_agrees_with_linear_index(ops in prop::collection::vec(op(), 1..120)) {
        run_against_oracle(ops, PUB_TOKENS, 3)?;
    }

    #[test]
    fn sublist_agrees_with_linear_index_on_wide_nodes(
        ops in prop::collection::vec(op_over(WIDE_SUB_TOKENS, WIDE_PUB_TOKENS), 1..300),
    ) {
        run_against_oracle(ops, WIDE_PUB_TOKENS, 2)?;
    }

    /// A cache shared across many changes never serves a result that differs from a fresh one.
    #[test]
    fn cache_is_never_stale(
        ops in prop::collection::vec(op(), 1..200),
        capacity in 0usize..6,
    ) {
        let mut sublist = Sublist::new();
        let mut cache = MatchCache::new(capacity);
        let probes = ["a.b", "a.*", "a.>", "a", "b.c.a", "a*.b"];
        let mut live: Vec<(String, Option<&'static str>, u8)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert { subject, queue, value } => {
                    if sublist.insert(subject.as_bytes(), queue.map(str::as_bytes), value).is_ok() {
                        live.push((subject, queue, value));
                    }
                }
                Op::RemoveExisting { pick } if !live.is_empty() => {
                    let (subject, queue, value) = live.swap_remove(pick % live.len());
                    prop_assert!(sublist.remove(subject.as_bytes(), queue.map(str::as_bytes), &value));
                }
                Op::RemoveExisting { .. } => {}
                Op::Remove { subject, queue, value } => {
                    if sublist.remove(subject.as_bytes(), queue.map(str::as_bytes), &value) {
                        let at = live
                            .iter()
                            .position(|(s, qq, v)| *s == subject && *qq == queue && *v == value);
                        if let Some(at) = at {
                            live.swap_remove(at);
                        }
                    }
                }
                Op::Match { subject } => {
                    let cached = cache.get(&sublist, subject.as_bytes());
                    prop_assert_eq!(&*cached, &sublist.matches(subject.as_bytes()));
                }
            }
            for probe in probes {
                let cached = cache.get(&sublist, probe.as_bytes());
                prop_assert_eq!(&*cached, &sublist.matches(probe.as_bytes()), "probe {}", probe);
                prop_assert!(cache.len() <= capacity);
            }
        }
    }
}
