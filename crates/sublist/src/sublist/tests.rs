use super::*;

fn plain_sorted(m: &Matches<u32>) -> Vec<u32> {
    let mut v = m.plain.clone();
    v.sort_unstable();
    v
}

#[test]
fn for_each_visits_every_entry_once() {
    let mut s = Sublist::new();
    let subjects: [(&[u8], Option<&[u8]>); 10] = [
        (b"a", None),
        (b"a.b", None),
        (b"a.b", Some(b"q")),
        (b"a.*", None),
        (b"a.>", None),
        (b"a.>", Some(b"q")),
        (b">", None),
        (b"*", Some(b"r")),
        (b"x.y.z", None),
        (b"x.y.z", None),
    ];
    for (i, (subject, queue)) in subjects.iter().enumerate() {
        s.insert(subject, *queue, i as u32).unwrap();
    }
    for i in 100..120u32 {
        s.insert(format!("many.{i}").as_bytes(), None, i).unwrap();
    }
    let mut seen = Vec::new();
    s.for_each(|v| seen.push(*v));
    seen.sort_unstable();
    let mut want: Vec<u32> = (0..10).chain(100..120).collect();
    want.sort_unstable();
    assert_eq!(seen, want);
}

#[test]
fn literal_and_wildcard_matching() {
    let mut s = Sublist::new();
    s.insert(b"foo.bar", None, 1).unwrap();
    s.insert(b"foo.*", None, 2).unwrap();
    s.insert(b"foo.>", None, 3).unwrap();
    s.insert(b">", None, 4).unwrap();
    s.insert(b"*.bar", None, 5).unwrap();
    s.insert(b"foo.bar.baz", None, 6).unwrap();
    s.insert(b"foo*.bar", None, 7).unwrap();

    assert_eq!(plain_sorted(&s.matches(b"foo.bar")), [1, 2, 3, 4, 5]);
    assert_eq!(plain_sorted(&s.matches(b"foo.baz")), [2, 3, 4]);
    assert_eq!(plain_sorted(&s.matches(b"foo.bar.baz")), [3, 4, 6]);
    assert_eq!(plain_sorted(&s.matches(b"foo")), [4]);
    assert_eq!(plain_sorted(&s.matches(b"foo*.bar")), [4, 5, 7]);
    assert_eq!(plain_sorted(&s.matches(b"fooa.bar")), [4, 5]);
}

#[test]
fn published_wildcards_are_literal_tokens() {
    let mut s = Sublist::new();
    s.insert(b"foo.bar", None, 1).unwrap();
    s.insert(b"foo.*", None, 2).unwrap();
    s.insert(b"foo.>", None, 3).unwrap();
    assert_eq!(plain_sorted(&s.matches(b"foo.*")), [2, 3]);
    assert_eq!(plain_sorted(&s.matches(b"foo.>")), [2, 3]);
    assert_eq!(plain_sorted(&s.matches(b"foo.>.x")), [3]);
}

#[test]
fn empty_tokens_match_nothing() {
    let mut s = Sublist::new();
    s.insert(b">", None, 1).unwrap();
    s.insert(b"foo.>", None, 2).unwrap();
    s.insert(b"*.*", None, 3).unwrap();
    s.insert(b"foo.*.baz", None, 4).unwrap();
    for subject in [
        &b""[..],
        b".",
        b"..",
        b".foo",
        b"foo.",
        b"foo..",
        b"foo..bar",
        b"foo.bar.",
        b"foo.bar..baz",
    ] {
        assert!(s.matches(subject).is_empty(), "{subject:?}");
        let mut seen = 0;
        s.for_each_match(subject, |_| seen += 1);
        assert_eq!(seen, 0, "{subject:?}");
    }
}

#[test]
fn insert_rejects_invalid_subjects_without_change() {
    let mut s = Sublist::new();
    let g = s.generation();
    assert_eq!(
        s.insert(b"foo..bar", None, 1),
        Err(SubjectError::EmptyToken)
    );
    assert_eq!(
        s.insert(b"foo.>.bar", None, 1),
        Err(SubjectError::FullWildcardNotLast)
    );
    assert_eq!(s.insert(b"", None, 1), Err(SubjectError::Empty));
    assert_eq!(s.generation(), g);
    assert_eq!((s.len(), s.node_count()), (0, 0));
}

#[test]
fn queue_groups_merge_across_nodes() {
    let mut s = Sublist::new();
    s.insert(b"foo.bar", Some(b"workers"), 1).unwrap();
    s.insert(b"foo.*", Some(b"workers"), 2).unwrap();
    s.insert(b"foo.>", Some(b"workers"), 3).unwrap();
    s.insert(b"foo.>", Some(b"audit"), 4).unwrap();
    s.insert(b"foo.bar", None, 5).unwrap();

    let m = s.matches(b"foo.bar");
    assert_eq!(m.plain, [5]);
    assert_eq!(m.len(), 5);
    let mut groups: Vec<(Vec<u8>, Vec<u32>)> = m
        .queues
        .iter()
        .map(|q| {
            let mut members = q.members.clone();
            members.sort_unstable();
            (q.group.to_vec(), members)
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            (b"audit".to_vec(), vec![4]),
            (b"workers".to_vec(), vec![1, 2, 3])
        ]
    );

    // for_each_match reports the group once per node.
    let mut workers = 0;
    s.for_each_match(b"foo.bar", |m| {
        if let Match::Queue {
            group: b"workers",
            members,
        } = m
        {
            assert_eq!(members.len(), 1);
            workers += 1;
        }
    });
    assert_eq!(workers, 3);
}

#[test]
fn removal_prunes_every_node() {
    let mut s = Sublist::new();
    let subjects: &[&[u8]] = &[
        b"foo.bar",
        b"foo.bar.baz",
        b"foo.*",
        b"foo.*.baz",
        b"foo.>",
        b">",
        b"*",
        b"a.b.c.d.e.f",
    ];
    for (i, subject) in subjects.iter().enumerate() {
        s.insert(subject, None, i).unwrap();
        s.insert(subject, Some(b"q"), i).unwrap();
    }
    assert_eq!(s.len(), 16);
    assert!(s.node_count() > 0);
    for (i, subject) in subjects.iter().enumerate() {
        assert!(s.remove(subject, None, &i));
        assert!(!s.remove(subject, None, &i), "removed twice");
        assert!(s.remove(subject, Some(b"q"), &i));
    }
    assert_eq!((s.len(), s.node_count()), (0, 0));
    assert!(s.is_empty());
    assert!(s.root.is_empty());
    assert!(s.matches(b"foo.bar").is_empty());
}

#[test]
fn remove_needs_exact_subject_queue_and_value() {
    let mut s = Sublist::new();
    s.insert(b"foo.*", Some(b"q"), 1).unwrap();
    s.insert(b"foo.*", Some(b"q"), 1).unwrap();
    let g = s.generation();
    assert!(!s.remove(b"foo.bar", Some(b"q"), &1));
    assert!(!s.remove(b"foo.*", None, &1));
    assert!(!s.remove(b"foo.*", Some(b"r"), &1));
    assert!(!s.remove(b"foo.*", Some(b"q"), &2));
    assert!(!s.remove(b"foo.>", Some(b"q"), &1));
    assert!(!s.remove(b"foo.*.>", Some(b"q"), &1));
    assert!(!s.remove(b"foo..", Some(b"q"), &1));
    assert_eq!(s.generation(), g, "failed removes keep the generation");
    assert!(s.remove(b"foo.*", Some(b"q"), &1));
    assert_eq!(s.matches(b"foo.x").queues[0].members, [1]);
    assert!(s.remove(b"foo.*", Some(b"q"), &1));
    assert_eq!(s.node_count(), 0);
}

#[test]
fn churn_does_not_grow_nodes() {
    let mut s = Sublist::new();
    for round in 0..3 {
        for i in 0..2_000u32 {
            let subject = format!("orders.r{}.{i}.created", i % 7);
            s.insert(subject.as_bytes(), None, i).unwrap();
        }
        assert_eq!(s.len(), 2_000, "round {round}");
        for i in 0..2_000u32 {
            let subject = format!("orders.r{}.{i}.created", i % 7);
            assert!(s.remove(subject.as_bytes(), None, &i));
        }
        assert_eq!(s.node_count(), 0, "round {round}");
        assert_eq!(s.root.literal.allocated(), 0);
    }
}

#[test]
fn generation_changes_on_every_change() {
    let mut a = Sublist::new();
    let b: Sublist<u32> = Sublist::new();
    assert_ne!(a.generation(), b.generation());
    let mut seen = vec![a.generation()];
    a.insert(b"foo", None, 1).unwrap();
    seen.push(a.generation());
    a.insert(b"foo", None, 1).unwrap();
    seen.push(a.generation());
    assert!(a.remove(b"foo", None, &1));
    seen.push(a.generation());
    assert!(!a.remove(b"bar", None, &1));
    assert_eq!(a.generation(), *seen.last().unwrap());
    let before = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), before);

    let c = a.clone();
    assert_eq!(c.generation(), a.generation());
    assert_eq!(c.matches(b"foo").plain, [1]);
}

#[test]
fn for_each_match_can_keep_references() {
    let mut s = Sublist::new();
    s.insert(b"a.*", None, String::from("x")).unwrap();
    let mut found: Vec<&String> = Vec::new();
    s.for_each_match(b"a.b", |m| {
        if let Match::Plain(v) = m {
            found.push(v);
        }
    });
    assert_eq!(found, ["x"]);
}

#[test]
fn map_slots_stay_small() {
    // A map slot is a (Token, Node): these sizes keep a large trie's lookups at few cache
    // lines (see the notes on `Node`, `Token` and `Children::Leaf`).
    assert_eq!(size_of::<Token>(), 16);
    assert_eq!(size_of::<Plain<u64>>(), 16);
    assert!(size_of::<(Token, Node<u64>)>() <= 72);
}

/// The deepest subscription a client may make is inserted, matched through `*` nodes,
/// removed and dropped on a thread with a quarter of a tokio worker's 2 MiB stack (even
/// unoptimised): the recursion is bounded by `MAX_TOKENS`, whatever arrives from the
/// network. One token more is refused.
#[test]
fn deepest_subjects_fit_a_small_stack() {
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(|| {
            let deep_wild = vec!["*"; crate::MAX_TOKENS].join(".");
            let deep_lit = vec!["a"; crate::MAX_TOKENS].join(".");
            let mut sl = Sublist::new();
            sl.insert(deep_wild.as_bytes(), None, 1u32).unwrap();
            sl.insert(deep_lit.as_bytes(), Some(b"q"), 2u32).unwrap();
            let m = sl.matches(deep_lit.as_bytes());
            assert_eq!(m.plain, [1]);
            assert_eq!(m.queues.len(), 1);
            // A published subject may be longer than any subscription: it matches nothing.
            let longer = vec!["a"; 10_000].join(".");
            assert!(sl.matches(longer.as_bytes()).is_empty());
            let copy = sl.clone();
            assert!(sl.remove(deep_wild.as_bytes(), None, &1));
            drop(copy);
            drop(sl);
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
    let too_deep = vec!["*"; crate::MAX_TOKENS + 1].join(".");
    let mut sl = Sublist::new();
    assert_eq!(
        sl.insert(too_deep.as_bytes(), None, 1u32),
        Err(SubjectError::TooManyTokens)
    );
    assert!(sl.is_empty());
    let long_literal = vec!["a"; 10_000].join(".");
    assert_eq!(
        crate::validate_literal_subject(long_literal.as_bytes()),
        Ok(())
    );
}

#[test]
fn splitting_helpers() {
    assert_eq!(split_token(b"a.b.c"), (&b"a"[..], Some(&b"b.c"[..])));
    assert_eq!(split_token(b"abc"), (&b"abc"[..], None));
    assert_eq!(split_token(b"a."), (&b"a"[..], Some(&b""[..])));
    assert!(no_empty_tokens(b"a.b"));
    assert!(!no_empty_tokens(b""));
    assert!(!no_empty_tokens(b"a..b"));
    assert!(!no_empty_tokens(b"a.b."));
    assert!(!no_empty_tokens(b".a"));
}
