use super::*;

fn parse(src: &str) -> Value {
    match parse_str(src, None) {
        Ok(v) => v,
        Err(e) => panic!("parse failed: {e}\n--- input ---\n{src}"),
    }
}

fn get<'a>(v: &'a Value, key: &str) -> &'a ValueKind {
    match v.get(key) {
        Some(v) => &v.kind,
        None => panic!("no key {key} in {v:?}"),
    }
}

fn err(src: &str) -> ConfigError {
    match parse_str(src, None) {
        Ok(v) => panic!("expected an error for {src:?}, got {v:?}"),
        Err(e) => e,
    }
}

fn s(x: &str) -> ValueKind {
    ValueKind::String(x.to_owned())
}

#[test]
fn three_separators() {
    let v = parse("a = 1\nb: 2\nc 3\n");
    assert_eq!(get(&v, "a"), &ValueKind::Integer(1));
    assert_eq!(get(&v, "b"), &ValueKind::Integer(2));
    assert_eq!(get(&v, "c"), &ValueKind::Integer(3));
}

#[test]
fn entries_end_with_semicolon_or_comma() {
    let v = parse("a = 1; b = 2, c = 3");
    assert_eq!(get(&v, "c"), &ValueKind::Integer(3));
}

#[test]
fn top_level_needs_a_terminator() {
    let e = err("a = 1 b = 2");
    assert!(e.message.contains("top-level value to end"), "{e}");
    assert_eq!((e.line, e.column), (1, 7));
}

#[test]
fn maps_with_and_without_separator() {
    let v = parse("a { x: 1 }\nb = { y = 2; z = 3 }\nc: {\n  w 4\n}\n");
    let ValueKind::Map(a) = get(&v, "a") else {
        panic!()
    };
    assert_eq!(a[0].0.name, "x");
    assert!(matches!(get(&v, "b"), ValueKind::Map(m) if m.len() == 2));
    assert!(matches!(get(&v, "c"), ValueKind::Map(m) if m.len() == 1));
}

#[test]
fn arrays_with_commas_newlines_comments() {
    let v = parse("a [1, 2\n 3 # three\n 'four'; five // 5\n]\nb: []");
    let ValueKind::Array(a) = get(&v, "a") else {
        panic!()
    };
    assert_eq!(a.len(), 5);
    assert_eq!(a[3].kind, s("four"));
    assert_eq!(a[4].kind, s("five"));
    assert_eq!(get(&v, "b"), &ValueKind::Array(vec![]));
}

#[test]
fn bad_array_terminator() {
    let e = err("a [1 2]");
    assert!(e.message.contains("array value terminator"), "{e}");
}

#[test]
fn double_quoted_escapes() {
    let v = parse(r#"a: "t\tn\nr\rq\"b\\x\x41""#);
    assert_eq!(get(&v, "a"), &s("t\tn\nr\rq\"b\\xA"));
}

#[test]
fn invalid_escape_is_an_error() {
    let e = err(r#"a: "\q""#);
    assert!(e.message.starts_with("Invalid escape character 'q'"), "{e}");
    assert_eq!((e.line, e.column), (1, 5));
}

#[test]
fn double_quoted_spans_lines() {
    let v = parse("a: \"one\ntwo\"\nb: 1");
    assert_eq!(get(&v, "a"), &s("one\ntwo"));
    assert_eq!(v.get("b").map(|b| b.pos.line), Some(3));
}

#[test]
fn single_quoted_is_raw() {
    let v = parse(r"a: 'c:\path\n $X'");
    assert_eq!(get(&v, "a"), &s(r"c:\path\n $X"));
}

#[test]
fn bare_strings() {
    let v = parse(
        "a: nats://h:4222\nb: 127.0.0.1:4222\nc: localhost\nd: 1.2.3.4\ne: 1.2.3\nf: 10s\ng: 3xyz\nh: -x",
    );
    assert_eq!(get(&v, "a"), &s("nats://h:4222"));
    assert_eq!(get(&v, "b"), &s("127.0.0.1:4222"));
    assert_eq!(get(&v, "c"), &s("localhost"));
    assert_eq!(get(&v, "d"), &s("1.2.3.4"));
    assert_eq!(get(&v, "e"), &s("1.2.3"));
    assert_eq!(get(&v, "f"), &s("10s"));
    assert_eq!(get(&v, "g"), &s("3xyz"));
    assert_eq!(get(&v, "h"), &s("-x"));
}

#[test]
fn listen_host_port_unquoted() {
    let v = parse("listen: 127.0.0.1:4222");
    assert_eq!(get(&v, "listen"), &s("127.0.0.1:4222"));
}

#[test]
fn bare_string_escapes() {
    let v = parse(r"a: x\ty");
    assert_eq!(get(&v, "a"), &s("x\ty"));
    assert!(parse_str(r"a: x\qy", None).is_err());
}

#[test]
fn integers_and_sizes() {
    let v = parse(
        "a: 42\nb: -5\nc: 2k\nd: 2kb\ne: 2KiB\nf: 2m\ng: 1MB\nh: 1g\ni: 1gb\nj: 1t\nk: 1tb\nl: 1ki\nm: 3Mi\nn: 1e\no: 1P",
    );
    let want = [
        ("a", 42),
        ("b", -5),
        ("c", 2000),
        ("d", 2048),
        ("e", 2048),
        ("f", 2_000_000),
        ("g", 1 << 20),
        ("h", 1_000_000_000),
        ("i", 1 << 30),
        ("j", 1_000_000_000_000),
        ("k", 1 << 40),
        ("l", 1024),
        ("m", 3 << 20),
        ("n", 1_000_000_000_000_000_000),
        ("o", 1_000_000_000_000_000),
    ];
    for (k, n) in want {
        assert_eq!(get(&v, k), &ValueKind::Integer(n), "{k}");
    }
}

#[test]
fn integer_overflow_is_an_error() {
    assert!(parse_str("a: 99999999999999999999", None).is_err());
    assert!(parse_str("a: 100e", None).is_err());
    let v = parse("a: -9223372036854775808");
    assert_eq!(get(&v, "a"), &ValueKind::Integer(i64::MIN));
}

#[test]
fn floats() {
    let v = parse("a: 1.5\nb: -0.25\nc: 2.0");
    assert_eq!(get(&v, "a"), &ValueKind::Float(1.5));
    assert_eq!(get(&v, "b"), &ValueKind::Float(-0.25));
    assert_eq!(get(&v, "c"), &ValueKind::Float(2.0));
    let e = err("a: .5");
    assert!(
        e.message.starts_with("Floats must start with a digit"),
        "{e}"
    );
}

#[test]
fn booleans_bare_only() {
    let v = parse("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: off\ng: \"true\"");
    assert_eq!(get(&v, "a"), &ValueKind::Bool(true));
    assert_eq!(get(&v, "b"), &ValueKind::Bool(false));
    assert_eq!(get(&v, "c"), &ValueKind::Bool(true));
    assert_eq!(get(&v, "d"), &ValueKind::Bool(false));
    assert_eq!(get(&v, "e"), &ValueKind::Bool(true));
    assert_eq!(get(&v, "f"), &ValueKind::Bool(false));
    assert_eq!(get(&v, "g"), &s("true"));
}

#[test]
fn zulu_datetime() {
    let v = parse("a: 2026-12-31T23:59:59Z\nb: \"2026-12-31T23:59:59Z\"");
    assert_eq!(
        get(&v, "a"),
        &ValueKind::DateTime("2026-12-31T23:59:59Z".into())
    );
    assert_eq!(get(&v, "b"), &s("2026-12-31T23:59:59Z"));
}

#[test]
fn comments_everywhere() {
    let src = "# head\n// head too\na = 1 # after\nb { # open\n  c: 2 // inner\n  # alone\n} // close\nd [ # open\n 1, # one\n // c\n 2 ]\ne: \"#not\" # yes";
    let v = parse(src);
    assert_eq!(get(&v, "a"), &ValueKind::Integer(1));
    assert!(matches!(get(&v, "b"), ValueKind::Map(m) if m.len() == 1));
    assert!(matches!(get(&v, "d"), ValueKind::Array(a) if a.len() == 2));
    assert_eq!(get(&v, "e"), &s("#not"));
}

#[test]
fn whole_file_in_braces() {
    let v = parse("{\n  \"port\": 4222,\n  \"debug\": true\n}\n");
    assert_eq!(get(&v, "port"), &ValueKind::Integer(4222));
    assert_eq!(get(&v, "debug"), &ValueKind::Bool(true));
    assert!(parse_str("{ a: 1 } b", None).is_err());
}

#[test]
fn quoted_keys() {
    let v = parse("\"a b\": 1\n'c:d' = 2");
    assert_eq!(get(&v, "a b"), &ValueKind::Integer(1));
    assert_eq!(get(&v, "c:d"), &ValueKind::Integer(2));
}

#[test]
fn block_strings() {
    let v = parse("a (\nline one\n  line two $X \"q\"\n)\nb: 1\n");
    assert_eq!(get(&v, "a"), &s("line one\n  line two $X \"q\""));
    assert_eq!(get(&v, "b"), &ValueKind::Integer(1));
    // A ')' that is not alone on its line does not close the block.
    let v = parse("a (\nx)\n)\n");
    assert_eq!(get(&v, "a"), &s("x)"));
    assert!(parse_str("a (\nnever closed", None).is_err());
}

#[test]
fn duplicate_keys_last_wins() {
    let v = parse("a: 1\nb: 2\na: 3");
    let ValueKind::Map(m) = &v.kind else { panic!() };
    assert_eq!(m.len(), 2);
    assert_eq!(get(&v, "a"), &ValueKind::Integer(3));
    assert_eq!(v.get("a").map(|a| a.pos.line), Some(3));
}

#[test]
fn key_without_value() {
    let e = err("a:\n1");
    assert!(e.message.contains("no value"), "{e}");
    assert!(parse_str("a", None).is_err());
}

#[test]
fn positions_are_one_based() {
    let v = parse("a: 1\n  b {\n    c: \"x\"\n  }\n");
    let ValueKind::Map(m) = &v.kind else { panic!() };
    assert_eq!((m[0].0.pos.line, m[0].0.pos.column), (1, 1));
    assert_eq!((m[0].1.pos.line, m[0].1.pos.column), (1, 4));
    assert_eq!((m[1].0.pos.line, m[1].0.pos.column), (2, 3));
    let ValueKind::Map(inner) = &m[1].1.kind else {
        panic!()
    };
    assert_eq!((inner[0].0.pos.line, inner[0].0.pos.column), (3, 5));
    assert_eq!((inner[0].1.pos.line, inner[0].1.pos.column), (3, 8));
}

#[test]
fn variables_from_enclosing_maps() {
    let v = parse("PASS = secret\nX = 1\nauth { X = 2, a: $X, u: [{p: $PASS}] }\nb: $X");
    let auth = v.get("auth").expect("auth");
    assert_eq!(get(auth, "a"), &ValueKind::Integer(2));
    assert_eq!(get(&v, "b"), &ValueKind::Integer(1));
    let ValueKind::Map(m) = &v.kind else { panic!() };
    assert!(
        m.iter()
            .find(|(k, _)| k.name == "PASS")
            .is_some_and(|(k, _)| k.used_as_variable)
    );
    // The variable takes the position of the reference.
    assert_eq!(v.get("b").map(|b| (b.pos.line, b.pos.column)), Some((4, 4)));
}

#[test]
fn inner_variables_are_not_visible_outside() {
    let e = err("p { x = 7 }\nport = $x");
    assert_eq!(e.kind, ErrorKind::Variable);
}

#[test]
fn quoted_dollar_is_literal() {
    let v = parse("a: \"$NOPE\"\nb: '$NOPE'");
    assert_eq!(get(&v, "a"), &s("$NOPE"));
    assert_eq!(get(&v, "b"), &s("$NOPE"));
}

#[test]
fn bcrypt_2a_is_literal() {
    let v = parse("p: $2a$11$T54okxe8K9kI77Eio19W1ea9BzuLqBQ6cnyx416zfVDcmDv.wQXJO");
    assert_eq!(
        get(&v, "p"),
        &s("$2a$11$T54okxe8K9kI77Eio19W1ea9BzuLqBQ6cnyx416zfVDcmDv.wQXJO")
    );
    // Other bcrypt prefixes are variable references, as in nats-server.
    assert_eq!(err("p: $2b$11$abc").kind, ErrorKind::Variable);
}

#[test]
fn missing_variable() {
    let e = err("a: 1\nport: $RNATS_TEST_SURELY_UNSET_VARIABLE");
    assert_eq!(e.kind, ErrorKind::Variable);
    assert_eq!(
        e.to_string(),
        "2:7: variable reference for 'RNATS_TEST_SURELY_UNSET_VARIABLE' on line 2 can not be found"
    );
}

// Setting environment variables needs `unsafe` in edition 2024 (forbidden here), so these
// use variables cargo sets for every test run.
#[test]
fn environment_fallback_is_reparsed() {
    let v = parse("a: $CARGO_PKG_VERSION_MAJOR\nb: $CARGO_PKG_NAME\nc: $CARGO_PKG_VERSION");
    let major: i64 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(-1);
    assert_eq!(get(&v, "a"), &ValueKind::Integer(major));
    assert_eq!(get(&v, "b"), &s("rnats-config"));
    assert_eq!(get(&v, "c"), &s(env!("CARGO_PKG_VERSION")));
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnats-config-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("dir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn nested_includes_relative_to_including_file() {
    let dir = temp_dir("incl");
    write(
        &dir.join("main.conf"),
        "port: 1\nauthorization {\n  include sub/users.conf\n}\ninclude \"extra.conf\"\n",
    );
    write(
        &dir.join("sub/users.conf"),
        "token: abc\ninclude 'deeper/more.conf'\n",
    );
    write(&dir.join("sub/deeper/more.conf"), "timeout: 3\n");
    write(&dir.join("extra.conf"), "port: 2\n");
    let v = parse_file(&dir.join("main.conf")).expect("parse");
    assert_eq!(get(&v, "port"), &ValueKind::Integer(2));
    let auth = v.get("authorization").expect("authorization");
    assert_eq!(get(auth, "token"), &s("abc"));
    assert_eq!(get(auth, "timeout"), &ValueKind::Integer(3));
    let timeout = auth.get("timeout").expect("timeout");
    assert!(
        timeout
            .pos
            .file
            .as_deref()
            .is_some_and(|f| f.ends_with("more.conf"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn include_cycles_are_refused() {
    let dir = temp_dir("cycle");
    write(&dir.join("a.conf"), "include b.conf\n");
    write(&dir.join("b.conf"), "x: 1\ninclude a.conf\n");
    let e = parse_file(&dir.join("a.conf")).expect_err("cycle");
    assert_eq!(e.kind, ErrorKind::Include);
    assert!(e.message.contains("cycle"), "{e}");
    assert!(
        e.file.as_deref().is_some_and(|f| f.ends_with("b.conf")),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_include() {
    let dir = temp_dir("missing");
    write(&dir.join("a.conf"), "\ninclude nothere.conf\n");
    let e = parse_file(&dir.join("a.conf")).expect_err("missing");
    assert_eq!((e.line, e.column), (2, 1));
    assert!(
        e.message
            .starts_with("error parsing include file 'nothere.conf'"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn included_file_does_not_see_outer_variables() {
    let dir = temp_dir("scope");
    write(&dir.join("a.conf"), "X = 5\ninclude b.conf\n");
    write(&dir.join("b.conf"), "port = $X\n");
    assert_eq!(
        parse_file(&dir.join("a.conf")).expect_err("scope").kind,
        ErrorKind::Variable
    );
    // But variables from an include are visible after it.
    write(&dir.join("c.conf"), "include d.conf\nport = $Y\n");
    write(&dir.join("d.conf"), "Y = 4000\n");
    let v = parse_file(&dir.join("c.conf")).expect("parse");
    assert_eq!(get(&v, "port"), &ValueKind::Integer(4000));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let src = format!("a: {}", "[".repeat(100_000));
    assert!(parse_str(&src, None).is_err());
    let src = format!("a: {}", "{b: ".repeat(100_000));
    assert!(parse_str(&src, None).is_err());
}

#[test]
fn printer_round_trips_awkward_strings() {
    let v = parse("a: \"$X \\\" \\\\ \\x01 é\"\nb: \"1.2.3\"\nc: \"true\"\n\"include\": 1\nd: 2.0");
    let again = parse(&v.to_string());
    assert!(v.same_content(&again), "{v}");
}
