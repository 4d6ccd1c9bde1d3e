//! §3 permission semantics, as table tests (cases checked against nats-server 2.15.1 over a
//! raw socket), and the publish cache against the uncached answer.

use proptest::prelude::*;
use rnats_auth::{Permissions, PublishCache, ResponsePermission};
use rnats_config::{PermissionsConfig, SubjectPermission};

fn list(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn perms(
    publish: Option<(&[&str], &[&str])>,
    subscribe: Option<(&[&str], &[&str])>,
) -> Permissions {
    let mut c = PermissionsConfig::default();
    c.publish = publish.map(|(a, d)| SubjectPermission::new(list(a), list(d)));
    c.subscribe = subscribe.map(|(a, d)| SubjectPermission::new(list(a), list(d)));
    Permissions::compile(&c).unwrap()
}

#[test]
fn publish_table() {
    // (allow, deny, subject, allowed)
    let cases: &[(&[&str], &[&str], &str, bool)] = &[
        (&[], &[], "anything", true),
        (&["foo"], &[], "foo", true),
        (&["foo"], &[], "bar", false),
        (&["foo.>"], &[], "foo.a.b", true),
        (&["foo.>"], &[], "foo", false),
        (&["foo.*"], &[], "foo.a", true),
        (&["foo.*"], &[], "foo.a.b", false),
        (&[], &["foo"], "foo", false),
        (&[], &["foo"], "bar", true),
        (&[], &["foo.*"], "foo.bar", false),
        (&[">"], &["secret.>"], "secret.x", false),
        (&[">"], &["secret.>"], "public.x", true),
        (&["foo.>"], &["foo.bar"], "foo.bar", false),
        (&["foo.>"], &["foo.bar"], "foo.baz", true),
        // A published `*` token is literal: only wildcard entries match it.
        (&["foo.bar"], &[], "foo.*", false),
        (&["foo.*"], &[], "foo.*", true),
    ];
    for &(allow, deny, subject, expected) in cases {
        let p = perms(Some((allow, deny)), None);
        assert_eq!(
            p.may_publish(subject.as_bytes()),
            expected,
            "allow {allow:?} deny {deny:?} PUB {subject}"
        );
    }
}

/// (allow, deny, subject, queue, allowed)
type SubscribeCase = (
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
    Option<&'static str>,
    bool,
);

#[test]
fn subscribe_table() {
    // (allow, deny, subject, queue, allowed) — the rows marked [v] were run against nats-server.
    let cases: &[SubscribeCase] = &[
        (&[], &[], "foo", None, true),
        (&[], &[], "foo", Some("_sys_"), false), // [v]
        // allow "foo v1": only queue v1, no plain sub [v]
        (&["foo v1"], &[], "foo", None, false),
        (&["foo v1"], &[], "foo", Some("v1"), true),
        (&["foo v1"], &[], "foo", Some("v2"), false),
        (&["foo v1"], &[], "*", None, false),
        (&["foo v1"], &[], "foo", Some("v1.a"), false),
        // allow "foo": plain and any queue
        (&["foo"], &[], "foo", None, true),
        (&["foo"], &[], "foo", Some("anything"), true),
        // both: plain, and only queue v1 [v]
        (&["foo", "foo v1"], &[], "foo", None, true),
        (&["foo", "foo v1"], &[], "foo", Some("v1"), true),
        (&["foo", "foo v1"], &[], "foo", Some("v2"), false),
        // wildcard queue names are subsets [v]
        (&["foo v1.*"], &[], "foo", Some("v1.a"), true),
        (&["foo v1.*"], &[], "foo", Some("v1.*"), true),
        (&["foo v1.*"], &[], "foo", Some("v1.>"), false),
        (&["foo v1.*"], &[], "foo", Some("v1"), false),
        // the reference's verified row: allow `q.* grp`
        (&["q.* grp"], &[], "q.x", None, false),
        (&["q.* grp"], &[], "q.x", Some("other"), false),
        (&["q.* grp"], &[], "q.x", Some("grp"), true),
        // deny "foo v1" blocks only that queue
        (&[], &["foo v1"], "foo", None, true),
        (&[], &["foo v1"], "foo", Some("v1"), false),
        (&[], &["foo v1"], "foo", Some("v2"), true),
        // deny "foo" (plus "foo v1") blocks plain and every queue [v]
        (&[], &["foo", "foo v1"], "foo", Some("v2"), false),
        (&[], &["foo"], "foo", Some("v1"), false),
        // a subscription broader than a deny entry is accepted [v]
        (&[">"], &["foo"], "*", None, true),
        (&[">"], &["foo"], "foo", None, false),
        (&[">"], &["foo"], ">", None, true),
        // allow wildcards
        (&["foo.>"], &[], "foo.*", None, true),
        (&["foo.>"], &[], "foo.>", None, true),
        // Deliberate deviation: nats-server 2.15.1 accepts these (a `*` entry matches the `>`
        // token) and then delivers subjects the allow list never named (`SUB >` with allow
        // `*` receives `x.y.z`). rnats requires the subscription to be a subset of an entry.
        (&["foo.*"], &[], "foo.>", None, false),
        (&["*"], &[], ">", None, false),
        (&["foo.* q"], &[], "foo.>", Some("q"), false),
        (&["*"], &[], "*", None, true),
        (&["foo.bar"], &[], "foo.*", None, false),
        (
            &["events.>"],
            &["events.audit.>"],
            "events.audit.login",
            None,
            false,
        ),
        (&["events.>"], &["events.audit.>"], "events.>", None, true),
    ];
    for &(allow, deny, subject, queue, expected) in cases {
        let p = perms(None, Some((allow, deny)));
        assert_eq!(
            p.may_subscribe(subject.as_bytes(), queue.map(str::as_bytes)),
            expected,
            "allow {allow:?} deny {deny:?} SUB {subject} {queue:?}"
        );
    }
}

#[test]
fn delivery_filter() {
    let p = perms(None, Some((&[">"], &["foo", "bar.>", "baz v1"])));
    assert!(p.has_delivery_filter());
    assert!(!p.may_deliver(b"foo", None));
    assert!(!p.may_deliver(b"bar.x.y", None));
    assert!(p.may_deliver(b"foo.x", None));
    assert!(p.may_deliver(b"bar", None));
    // A queue deny entry filters deliveries to that queue group only (checked against
    // nats-server 2.15.1: `SUB b* v1` under deny `baz v1` does not get `baz`).
    assert!(p.may_deliver(b"baz", None));
    assert!(!p.may_deliver(b"baz", Some(b"v1")));
    assert!(p.may_deliver(b"baz", Some(b"v2")));
    assert!(
        !p.may_deliver(b"foo", Some(b"v2")),
        "a plain entry denies every group"
    );
    let p = perms(None, Some((&[">"], &["admin.secret workers"])));
    assert!(
        p.has_delivery_filter(),
        "a queue-only deny list still filters"
    );
    assert!(!p.may_deliver(b"admin.secret", Some(b"workers")));
    let p = perms(None, Some((&["x"], &[])));
    assert!(!p.has_delivery_filter());
    assert!(p.may_deliver(b"anything", None));
}

#[test]
fn allow_responses_closes_the_publish_list() {
    let mut c = PermissionsConfig::default();
    c.allow_responses = Some(rnats_config::ResponsePermission::default());
    let p = Permissions::compile(&c).unwrap();
    assert!(!p.may_publish(b"foo")); // [v] nats-server refuses PUB foo
    assert!(p.may_subscribe(b"foo", None));
    assert_eq!(p.responses(), Some(ResponsePermission::default()));
    assert_eq!(p.responses().unwrap().max, Some(1));
    assert_eq!(
        p.responses().unwrap().ttl,
        std::time::Duration::from_secs(120)
    );

    // An existing allow list is kept; a deny-only list gets an empty allow list.
    c.publish = Some(SubjectPermission::new(list(&["ok"]), vec![]));
    let p = Permissions::compile(&c).unwrap();
    assert!(p.may_publish(b"ok") && !p.may_publish(b"other"));
    c.publish = Some(SubjectPermission::new(vec![], list(&["no"])));
    let p = Permissions::compile(&c).unwrap();
    assert!(!p.may_publish(b"other"));

    // Unlimited values from the file.
    let mut rp = rnats_config::ResponsePermission::default();
    rp.max_msgs = None;
    rp.expires = None;
    c.allow_responses = Some(rp);
    let r = Permissions::compile(&c).unwrap().responses().unwrap();
    assert_eq!(r.max, None);
    assert_eq!(r.ttl, ResponsePermission::UNLIMITED_TTL);
}

#[test]
fn empty_allow_list_from_a_file_means_no_allow_list() {
    // [v] nats-server 2.15.1: `publish: { allow: [] }` restricts nothing.
    let auth = crate::server(
        "authorization { users = [ { user: u, password: pw, permissions: { publish: { allow: [] } } } ] }",
    );
    let p = auth_perms(&auth);
    assert!(p.may_publish(b"foo"));
}

fn auth_perms(auth: &rnats_auth::ServerAuth) -> std::sync::Arc<Permissions> {
    use rnats_auth::Authenticator;
    auth.authenticate(&crate::login("u", "pw"))
        .unwrap()
        .permissions
        .unwrap()
}

#[test]
fn invalid_entries_are_refused() {
    let mut c = PermissionsConfig::default();
    c.publish = Some(SubjectPermission::new(list(&["foo..bar"]), vec![]));
    assert!(Permissions::compile(&c).is_err());
    let mut c = PermissionsConfig::default();
    c.subscribe = Some(SubjectPermission::new(list(&["foo q extra"]), vec![]));
    assert!(Permissions::compile(&c).is_err());
    let mut c = PermissionsConfig::default();
    c.subscribe = Some(SubjectPermission::new(list(&["foo.>.bar"]), vec![]));
    assert!(Permissions::compile(&c).is_err());
}

#[test]
fn cache_matches_uncached_on_the_table() {
    let p = perms(Some((&["foo.>", "bar"], &["foo.secret"])), None);
    let mut cache = PublishCache::new();
    for s in ["foo.a", "foo.secret", "bar", "baz", "foo.a", "foo.secret"] {
        assert_eq!(
            cache.may_publish(&p, s.as_bytes()),
            p.may_publish(s.as_bytes()),
            "{s}"
        );
    }
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_owned()),
        Just("b".to_owned()),
        Just("c".to_owned()),
        Just("*".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    (prop::collection::vec(token(), 1..4), any::<bool>()).prop_map(|(t, fwc)| {
        let mut s = t.join(".");
        if fwc {
            s.push_str(".>");
        }
        s
    })
}

fn literal() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just("c"), Just("d")],
        1..5,
    )
    .prop_map(|t| t.join("."))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// The cache never changes an answer, also across evictions (many distinct subjects).
    #[test]
    fn publish_cache_equals_uncached(
        allow in prop::collection::vec(pattern(), 0..4),
        deny in prop::collection::vec(pattern(), 0..3),
        subjects in prop::collection::vec(literal(), 1..400),
    ) {
        let mut c = PermissionsConfig::default();
        c.publish = Some(SubjectPermission::new(allow, deny));
        let p = Permissions::compile(&c).unwrap();
        let mut cache = PublishCache::new();
        for s in &subjects {
            prop_assert_eq!(cache.may_publish(&p, s.as_bytes()), p.may_publish(s.as_bytes()), "{}", s);
            prop_assert!(cache.len() <= rnats_auth::PUBLISH_CACHE_CAPACITY);
        }
    }

    /// Deny always wins, and allow matches as the subject-matching oracle says.
    #[test]
    fn publish_matches_the_oracle(
        allow in prop::collection::vec(pattern(), 0..4),
        deny in prop::collection::vec(pattern(), 0..3),
        subject in literal(),
    ) {
        let mut c = PermissionsConfig::default();
        c.publish = Some(SubjectPermission::new(allow.clone(), deny.clone()));
        let p = Permissions::compile(&c).unwrap();
        let m = |pat: &String| rnats_sublist::subject_matches(pat.as_bytes(), subject.as_bytes());
        let expected = (allow.is_empty() || allow.iter().any(m)) && !deny.iter().any(m);
        prop_assert_eq!(p.may_publish(subject.as_bytes()), expected);
    }
}
