//! Printing a tree and parsing it again gives the same tree (positions aside).

use proptest::prelude::*;
use rnats_config::{Key, Pos, Value, ValueKind, parse_str};

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_][a-z0-9_]{0,8}", "[A-Za-z0-9 $.:=#/-]{1,10}",]
}

fn leaf() -> impl Strategy<Value = ValueKind> {
    prop_oneof![
        any::<i64>().prop_map(ValueKind::Integer),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(ValueKind::Float),
        any::<bool>().prop_map(ValueKind::Bool),
        any::<String>().prop_map(ValueKind::String),
        "[0-9a-z.:$#/ \\\\\"'-]{0,12}".prop_map(ValueKind::String),
        (
            1970u32..2100,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            0u32..60
        )
            .prop_map(|(y, mo, d, h, mi, s)| {
                ValueKind::DateTime(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"))
            }),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = leaf().prop_map(|k| Value::new(k, Pos::default()));
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5)
                .prop_map(|items| Value::new(ValueKind::Array(items), Pos::default())),
            map_of(inner),
        ]
    })
}

fn map_of(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), inner), 0..5).prop_map(|entries| {
        // Keys are unique in a parsed map (last wins), so generate them unique.
        let mut out: Vec<(Key, Value)> = Vec::new();
        for (k, v) in entries {
            if !out.iter().any(|(o, _)| o.name == k) {
                out.push((Key::new(k, Pos::default()), v));
            }
        }
        Value::new(ValueKind::Map(out), Pos::default())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(tree in map_of(value())) {
        let text = tree.to_string();
        let again = match parse_str(&text, None) {
            Ok(v) => v,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- text ---\n{text}"))),
        };
        prop_assert!(tree.same_content(&again), "printed:\n{}\nreparsed:\n{:?}", text, again);
    }
}

/// Config-flavoured noise, as the fuzz target sees it: whatever parses must print and re-parse
/// to the same tree, and loading must not panic.
fn noise() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_owned()),
            Just("key".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just(": ".to_owned()),
            Just(" = ".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(",".to_owned()),
            Just(";".to_owned()),
            Just("\"s\\t\"".to_owned()),
            Just("'q'".to_owned()),
            Just("#c\n".to_owned()),
            Just("//c\n".to_owned()),
            Just("12".to_owned()),
            Just("2k".to_owned()),
            Just("1.5".to_owned()),
            Just("1.2.3".to_owned()),
            Just("true".to_owned()),
            Just("$a".to_owned()),
            Just("$2a$x".to_owned()),
            Just("(\nblock\n)\n".to_owned()),
            Just("2026-01-02T03:04:05Z".to_owned()),
            Just("\"".to_owned()),
            Just("'".to_owned()),
            Just("\\".to_owned()),
            Just("port".to_owned()),
            Just("authorization".to_owned()),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn noise_never_panics_and_round_trips(text in noise()) {
        if let Ok(tree) = parse_str(&text, None) {
            let printed = tree.to_string();
            let again = match parse_str(&printed, None) {
                Ok(v) => v,
                Err(e) => return Err(TestCaseError::fail(format!("{e}\n--- input ---\n{text}\n--- printed ---\n{printed}"))),
            };
            prop_assert!(tree.same_content(&again), "input:\n{}\nprinted:\n{}", text, printed);
            let _ = rnats_config::load_value(&tree);
        }
    }
}
