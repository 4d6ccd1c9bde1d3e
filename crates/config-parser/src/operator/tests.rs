use super::*;

#[test]
fn decorated_and_bare_jwts() {
    let decorated =
        "-----BEGIN TEST OPERATOR JWT-----\neyJa.eyJb.c_d-e\n------END TEST OPERATOR JWT------";
    assert_eq!(extract_jwt(decorated), "eyJa.eyJb.c_d-e");
    let creds = "-----BEGIN NATS USER JWT-----\r\neyJu.eyJv.w\r\n------END NATS USER JWT------\r\n\r\n\
                     -----BEGIN USER NKEY SEED-----\r\nSUAB\r\n------END USER NKEY SEED------\r\n";
    assert_eq!(extract_jwt(creds), "eyJu.eyJv.w", "the first block wins");
    assert_eq!(extract_jwt("  eyJa.eyJb.c\n\n"), "eyJa.eyJb.c");
    // Markers without a token line between them: the whole text.
    assert_eq!(extract_jwt("------\n\n------"), "------\n\n------");
    assert_eq!(check_jwt_shape("a.b.c"), Ok(()));
    assert_eq!(
        check_jwt_shape("eyJhbGciOi.garbage"),
        Err("expected 3 chunks")
    );
}

#[cfg(unix)]
#[test]
fn endless_files_are_cut_short() {
    let e = read_operator_jwt("/dev/zero").expect_err("too large");
    assert!(e.ends_with("larger than any JWT"), "{e}");
}

#[test]
fn resolver_strings() {
    assert_eq!(parse_resolver_text("MEMORY"), Ok(Resolver::Memory));
    assert_eq!(parse_resolver_text(" mem "), Ok(Resolver::Memory));
    assert_eq!(
        parse_resolver_text("URL(\"http://h:9090/jwt/v1/accounts/\")"),
        Ok(Resolver::Url("http://h:9090/jwt/v1/accounts/".to_owned()))
    );
    assert_eq!(
        parse_resolver_text("url( http://h/a/ )"),
        Ok(Resolver::Url("http://h/a/".to_owned()))
    );
    assert_eq!(parse_resolver_text("URL"), Ok(Resolver::Url(String::new())));
    // nats-server 2.15.1: `rbad.conf:2:1: error parsing account resolver, should be MEM or  URL("url") …`.
    assert_eq!(parse_resolver_text("FOO"), Err(RESOLVER_FORMS.to_owned()));
    assert_eq!(
        parse_resolver_text("URL[x]"),
        Err(RESOLVER_FORMS.to_owned())
    );
    // nats-server 2.15.1: `error parsing account resolver url ["::bad"]`.
    assert_eq!(
        parse_resolver_text("URL(\"::bad\")"),
        Err("error parsing account resolver url [\"::bad\"]".to_owned())
    );
}

#[test]
fn durations_print_as_go_does() {
    assert_eq!(show_nanos(0), "0s");
    assert_eq!(show_nanos(-1_000_000_000), "-1s");
    assert_eq!(positive(0), None);
    assert_eq!(positive(-5), None);
    assert_eq!(positive(5), Some(Duration::from_nanos(5)));
}
