use super::*;

fn apply(src: &str, dest: &str, subject: &str) -> String {
    SubjectTransform::new(src, dest)
        .unwrap()
        .apply(subject)
        .unwrap()
}

fn refused(src: &str, dest: &str) -> String {
    Mapping::new(src, &[(dest, 100)]).unwrap_err().to_string()
}

#[test]
fn wildcards_reorder_and_keep_the_rest() {
    assert_eq!(
        apply("a.*.*", "{{wildcard(2)}}.{{wildcard(1)}}", "a.x.y"),
        "y.x"
    );
    assert_eq!(apply("a.*.*", "b.$2.$1", "a.x.y"), "b.y.x");
    assert_eq!(apply("a.*.>", "b.$1.>", "a.x.y.z"), "b.x.y.z");
    assert_eq!(apply("a.>", "b.>", "a.x"), "b.x");
    assert_eq!(apply("a", "b.c", "a"), "b.c");
    // `{{ Wildcard( 1 ) }}`: spaces and the capital letter are allowed.
    assert_eq!(apply("a.*", "{{ Wildcard( 1 ) }}", "a.x"), "x");
    // `$` followed by no number is a plain token.
    assert_eq!(apply("a.*", "$x.$1", "a.y"), "$x.y");
    assert_eq!(
        SubjectTransform::new("a.*", "b").unwrap().apply("c.d"),
        None
    );
}

#[test]
fn string_functions() {
    assert_eq!(
        apply("a.*", "{{splitFromLeft(1,3)}}", "a.abcdef"),
        "abc.def"
    );
    assert_eq!(
        apply("a.*", "{{SplitFromRight(1,3)}}", "a.abcdefgh"),
        "abcde.fgh"
    );
    assert_eq!(apply("a.*", "{{splitFromLeft(1,9)}}", "a.abc"), "abc");
    assert_eq!(apply("a.*", "{{sliceFromLeft(1,2)}}", "a.12345"), "12.34.5");
    assert_eq!(apply("a.*", "{{sliceFromLeft(1,2)}}", "a.1234"), "12.34");
    assert_eq!(
        apply("a.*", "{{sliceFromRight(1,2)}}", "a.12345"),
        "1.23.45"
    );
    assert_eq!(apply("a.*", "{{sliceFromRight(1,2)}}", "a.1234"), "12.34");
    assert_eq!(apply("a.*", "{{split(1,-)}}", "a.-x--y-"), "x.y");
    assert_eq!(apply("a.*", "{{left(1,2)}}", "a.abcd"), "ab");
    assert_eq!(apply("a.*", "{{right(1,2)}}", "a.abcd"), "cd");
    assert_eq!(apply("a.*", "{{right(1,9)}}", "a.abcd"), "abcd");
}

#[test]
fn partitions_hash_with_fnv1a() {
    // Reference values: 32-bit FNV-1a of the bytes, modulo the count.
    assert_eq!(apply("a.*", "p.{{partition(3,1)}}", "a.abc"), "p.2");
    assert_eq!(apply("a.*", "p.{{partition(7,1)}}", "a.ab"), "p.2");
    // Without token positions (and for a literal source) the whole subject is hashed.
    assert_eq!(apply("orders.*", "p.{{partition(5)}}", "orders.abc"), "p.0");
    assert_eq!(
        apply("orders.abc", "p.{{partition(5)}}", "orders.abc"),
        "p.0"
    );
    assert_eq!(apply("a.*", "p.{{partition(0,1)}}", "a.abc"), "p.0");
}

#[test]
fn random_is_reduced_below_the_bound() {
    let t = SubjectTransform::new("a", "r.{{random(10)}}").unwrap();
    assert_eq!(t.rewrite(&["a"], &mut || 1234), "r.4");
    assert_eq!(t.rewrite(&["a"], &mut || u32::MAX), "r.7");
}

#[test]
fn invalid_destinations_are_refused_with_nats_server_words() {
    assert_eq!(
        refused("a.*", "b.{{wildcard(2)}}"),
        "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
    );
    assert_eq!(
        refused("a", "b.{{wildcard(1)}}"),
        "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"
    );
    assert_eq!(refused("a.*", "b.*"), "invalid subject");
    assert_eq!(refused("a.>", "b"), "invalid subject");
    assert_eq!(
        refused("a.*", "{{nope(1)}}"),
        "invalid mapping destination: unknown function in {{nope(1)}}"
    );
    assert_eq!(
        refused("a.*", "{{wildcard()}}"),
        "invalid mapping destination: not enough arguments passed to the function in {{wildcard()}}"
    );
    assert_eq!(
        refused("a.*", "{{wildcard(1,2)}}"),
        "invalid mapping destination: too many arguments passed to the function in {{wildcard(1,2)}}"
    );
    assert_eq!(
        refused("a.*", "{{split(1,a b)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{split(1,a b)}}"
    );
    assert_eq!(
        refused("a.*", "{{left(x,2)}}"),
        "invalid mapping destination: function argument is invalid or in the wrong format in {{left(x,2)}}"
    );
    assert_eq!(
        refused("a.>", "b.>.c"),
        "invalid mapping destination: invalid transform in c"
    );
    assert_eq!(refused("a..b", "c"), "invalid subject");
}

#[test]
fn weights_pick_in_ascending_order_and_leave_the_rest_to_the_source() {
    let m = Mapping::new("a.*", &[("b.$1", 60), ("c.$1", 30)]).unwrap();
    let pick = |roll| m.select("a.x", roll, &mut || 0);
    // Sorted by weight: the source itself (the 10 left over), c (30), b (60).
    assert_eq!(pick(0), Mapped::To("a.x".into()));
    assert_eq!(pick(9), Mapped::To("a.x".into()));
    assert_eq!(pick(10), Mapped::To("c.x".into()));
    assert_eq!(pick(39), Mapped::To("c.x".into()));
    assert_eq!(pick(40), Mapped::To("b.x".into()));
    assert_eq!(pick(99), Mapped::To("b.x".into()));
    assert!(m.is_weighted());
    assert_eq!(m.select("z.x", 0, &mut || 0), Mapped::NoMatch);

    // The source listed as a destination: what is left over is dropped.
    let m = Mapping::new("a", &[("a", 50), ("b", 10)]).unwrap();
    assert_eq!(m.select("a", 5, &mut || 0), Mapped::To("b".into()));
    assert_eq!(m.select("a", 30, &mut || 0), Mapped::To("a".into()));
    assert_eq!(m.select("a", 70, &mut || 0), Mapped::Dropped);

    let single = Mapping::new("a", &[("b", 100)]).unwrap();
    assert!(!single.is_weighted());
}

#[test]
fn weights_are_checked() {
    let err = |d: &[(&str, u8)]| Mapping::new("a", d).unwrap_err().to_string();
    assert_eq!(err(&[("b", 101)]), "individual weights need to be <= 100");
    assert_eq!(
        err(&[("b", 60), ("c", 50)]),
        "total weight needs to be <= 100"
    );
    assert_eq!(err(&[("b", 10), ("b", 10)]), "duplicate entry for \"b\"");
    let itself = Mapping::new("a", &[]).unwrap();
    assert_eq!(itself.select("a", 99, &mut || 0), Mapped::To("a".into()));
    assert_eq!(
        Mapping::new("a.", &[("b", 1)]).unwrap_err(),
        MappingError::BadSource
    );
}
