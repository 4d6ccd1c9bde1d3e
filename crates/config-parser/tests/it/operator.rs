//! Operator (JWT) mode keys. Where nats-server has a message, the test names where it comes
//! from; "2.15.1" marks the messages seen by starting `nats-server` 2.15.1 on the same file
//! (`nats-server -t` makes only the load-time checks, not the start-up ones).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rnats_config::{
    ConfigError, DeletePolicy, ErrorKind, Loaded, OperatorMode, Resolver, ServerConfig, load_str,
};

/// Operator `TESTOP` with system account [`SYS`] (nats-server `server/opts_test.go`); the same
/// text as `fixtures/operator/op-bare.jwt`.
const OP: &str = "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJLRTZRU0tWTU1VWFFKNFZCTDNSNDdGRFlIWElaTDRZSE1INjVIT0k1UjZCNUpPUkxVQlZBIiwiaWF0IjoxNTg5OTE2MzgyLCJpc3MiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsIm5hbWUiOiJURVNUT1AiLCJzdWIiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsInR5cGUiOiJvcGVyYXRvciIsIm5hdHMiOnsic3lzdGVtX2FjY291bnQiOiJBRFNQT1lNSFhKTjZKVllRQ0xSWjVYUTVJVU42QTNTMzNYQTROVjRWSDc0NDIzVTdVN1lSNFlWVyJ9fQ.HiyUtlk8kectKHeQHtuqFcjFt0RbYZE_WAqPCcoWlV2IFVdXuOTzShYEMgDmtgvsFG_zxNQOj08Gr6a06ovwBA";

/// The system account named by [`OP`].
const SYS: &str = "ADSPOYMHXJN6JVYQCLRZ5XQ5IUN6A3S33XA4NV4VH74423U7U7YR4YVW";

/// Account `TESTSYS` ([`SYS`]), signed by [`OP`] (nats-server `server/opts_test.go`).
const SYS_JWT: &str = "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiI2WEtYUFZNTjdEVFlBSUE0R1JDWUxXUElSM1ZEM1Q2UVk2RFg3NURHTVFVWkdVWTJSRFNRIiwiaWF0IjoxNTg5OTE2MzIzLCJpc3MiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsIm5hbWUiOiJURVNUU1lTIiwic3ViIjoiQURTUE9ZTUhYSk42SlZZUUNMUlo1WFE1SVVONkEzUzMzWEE0TlY0Vkg3NDQyM1U3VTdZUjRZVlciLCJ0eXBlIjoiYWNjb3VudCIsIm5hdHMiOnsibGltaXRzIjp7InN1YnMiOi0xLCJjb25uIjotMSwibGVhZiI6LTEsImltcG9ydHMiOi0xLCJleHBvcnRzIjotMSwiZGF0YSI6LTEsInBheWxvYWQiOi0xLCJ3aWxkY2FyZHMiOnRydWV9fX0.vhtWanIrOncdNfg-yO-7L61ccc-yRacvVtEsaIgWBEmW4czlEPhsiF1MkUKG91rtgcbwUf73ZIFEfja5MgFBAQ";

/// Another account key (`06-nkey-account.conf` of the seed fixtures).
const OTHER_ACCOUNT: &str = "AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ";

/// The operator of `fixtures/operator/op-decorated.jwt`.
const DECORATED_OPERATOR: &str = "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG";

/// Three base64url chunks (`{"typ":"JWT"}`, `{"nats":{}}`, `sig`): the shape of a JWT, which
/// is all this crate checks of `default_sentinel`.
const SHAPED: &str = "eyJ0eXAiOiJKV1QifQ.eyJuYXRzIjp7fX0.c2ln";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/operator")
        .join(name)
}

fn ok(src: &str) -> Loaded {
    load_str(src, None).unwrap_or_else(|e| panic!("{src}\n=> {e}"))
}

fn mode(src: &str) -> OperatorMode {
    ok(src).config.operator_mode.expect("operator mode")
}

fn err(src: &str) -> ConfigError {
    match load_str(src, None) {
        Ok(_) => panic!("must fail: {src}"),
        Err(e) => e,
    }
}

/// `operator: OP` and a memory resolver, then `rest`.
fn with_op(rest: &str) -> String {
    format!("operator: {OP}\nresolver: MEMORY\n{rest}")
}

#[test]
fn inline_operator_and_aliases() {
    let m = mode(&with_op(""));
    assert_eq!(m.operators.len(), 1);
    assert_eq!(
        (m.operators[0].file.as_ref(), m.operators[0].jwt.as_str()),
        (None, OP)
    );
    assert_eq!(m.resolver, Some(Resolver::Memory));
    assert!(m.trusted_keys.is_empty() && m.resolver_preload.is_empty());
    for key in [
        "operators",
        "root",
        "roots",
        "root_operator",
        "root_operators",
        "OPERATOR",
    ] {
        let m = mode(&format!("{key}: [\n  {OP}\n]\nresolver: MEM"));
        assert_eq!(m.operators.len(), 1, "{key}");
        assert_eq!(m.operators[0].jwt, OP, "{key}");
    }
}

#[test]
fn operator_files_decorated_and_bare() {
    let decorated = fixture("op-decorated.jwt");
    let bare = fixture("op-bare.jwt");
    let m = mode(&format!(
        "operator: [\"{}\", \"{}\"]\nresolver: MEMORY",
        decorated.display(),
        bare.display()
    ));
    assert_eq!(m.operators.len(), 2);
    let text = std::fs::read_to_string(&decorated).expect("fixture");
    let inner = text.lines().nth(1).expect("the JWT line");
    assert!(inner.starts_with("eyJ") && text.starts_with("-----BEGIN TEST OPERATOR JWT-----"));
    assert_eq!(m.operators[0].file.as_deref(), Some(decorated.as_path()));
    assert_eq!(m.operators[0].jwt, inner);
    assert_eq!(m.operators[1].file.as_deref(), Some(bare.as_path()));
    assert_eq!(m.operators[1].jwt, OP, "trimmed of its newline");
}

#[test]
fn operator_errors() {
    // opts.go readOperatorJWT; 2.15.1: `error parsing operator JWT: open ./nope.jwt: no such
    // file or directory` (a relative path is taken from the working directory, as there).
    let e = load_str(
        "port: 1\noperator: \"./nope.jwt\"\nresolver: MEMORY",
        Some(Path::new("op.conf")),
    )
    .expect_err("missing file");
    assert_eq!(
        e.to_string(),
        "op.conf:2:11: error parsing operator JWT: open ./nope.jwt: no such file or directory"
    );
    // 2.15.1: `error parsing operator JWT: expected 3 chunks` (jwt.Decode).
    let e = err("operator: \"eyJhbGciOi.garbage\"\nresolver: MEMORY");
    assert_eq!(e.message, "error parsing operator JWT: expected 3 chunks");
    // 2.15.1: `error parsing operators: unsupported type int64`.
    let e = err("operator: 5");
    assert_eq!(
        e.message,
        "error parsing operators: unsupported type integer"
    );
    assert_eq!((e.line, e.column), (1, 11));
    // Every entry's type is checked before any file is read, as opts.go does.
    let e = err("operator: [x, 5]");
    assert_eq!(
        e.message,
        "error parsing operators: unsupported type in array integer"
    );
    assert_eq!(e.kind, ErrorKind::Invalid);
}

#[test]
fn trusted_keys() {
    let m = mode(&format!("trusted: {DECORATED_OPERATOR}"));
    assert_eq!(m.trusted_keys, vec![DECORATED_OPERATOR.to_owned()]);
    assert!(m.operators.is_empty() && m.resolver.is_none());
    let m = mode(&format!("trusted_keys: [{DECORATED_OPERATOR}]"));
    assert_eq!(m.trusted_keys.len(), 1);
    // opts.go; 2.15.1: `trustedbad.conf:1:10: trust key "ABC" required to be a valid public
    // operator nkey` (nats-server names the list, rnats the entry).
    let e = err("trusted: [ABC]");
    assert_eq!(
        e.message,
        "trust key \"ABC\" required to be a valid public operator nkey"
    );
    assert_eq!((e.line, e.column), (1, 11));
    let e = err(&format!("trusted: [{OTHER_ACCOUNT}]"));
    assert!(e.message.starts_with("trust key \"AAM63"), "{e}");
    let e = err("trusted: [1]");
    assert_eq!(
        e.message,
        "error parsing trusted: unsupported type in array integer"
    );
    // jwt.go validateTrustedOperators; 2.15.1 at start-up.
    let e = err(&with_op(&format!("trusted: {DECORATED_OPERATOR}")));
    assert_eq!(
        e.message,
        "conflicting options for 'TrustedKeys' and 'TrustedOperators'"
    );
    assert_eq!((e.line, e.column), (3, 10));
}

#[test]
fn trusted_keys_alone_allow_config_accounts() {
    // nats-server makes the operator checks only for operator JWTs (2.15.1 starts with this).
    let c = ok(&format!(
        "trusted: {DECORATED_OPERATOR}\naccounts {{ A {{ users [{{user: a}}] }} }}\nno_auth_user: a"
    ))
    .config;
    assert!(c.operator_mode.is_some());
    assert_eq!(c.accounts.len(), 1);
}

#[test]
fn resolver_strings() {
    assert_eq!(mode(&with_op("")).resolver, Some(Resolver::Memory));
    let m = mode(&format!(
        "operator: {OP}\nresolver: URL(\"http://localhost:9090/jwt/v1/accounts/\")"
    ));
    assert_eq!(
        m.resolver,
        Some(Resolver::Url(
            "http://localhost:9090/jwt/v1/accounts/".to_owned()
        ))
    );
    for key in ["account_resolver", "accounts_resolver"] {
        assert_eq!(
            mode(&format!("operator: {OP}\n{key}: mem")).resolver,
            Some(Resolver::Memory)
        );
    }
    // One operator without a resolver: nats-server uses the JWT's account_server_url.
    assert_eq!(mode(&format!("operator: {OP}")).resolver, None);
    // opts.go; 2.15.1: `rbad.conf:2:1: error parsing account resolver, should be MEM or
    // URL("url") or a map containing dir and type state=[FULL|CACHE])` (two spaces after "or").
    let e = err(&format!("operator: {OP}\nresolver: FOO"));
    assert_eq!(
        e.message,
        "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])"
    );
    assert_eq!((e.line, e.column), (2, 11));
    // 2.15.1: `error parsing operator resolver, wrong type int64`.
    let e = err(&format!("operator: {OP}\nresolver: 5"));
    assert_eq!(
        e.message,
        "error parsing operator resolver, wrong type integer"
    );
    // 2.15.1: `error parsing account resolver url ["::bad"]`.
    let e = err(&format!("operator: {OP}\nresolver: URL(\"::bad\")"));
    assert_eq!(e.message, "error parsing account resolver url [\"::bad\"]");
}

#[test]
fn full_and_cache_resolvers() {
    let dir = fixture("");
    let dir = dir.display();
    let m = mode(&format!(
        "operator: {OP}\nresolver: {{ type: full, dir: \"{dir}\" }}"
    ));
    let Some(Resolver::Full(full)) = m.resolver else {
        panic!("full resolver")
    };
    assert_eq!(full.limit, None);
    assert_eq!(full.interval, Duration::from_secs(60));
    assert_eq!(full.delete, DeletePolicy::Refuse);
    assert_eq!(full.timeout, Duration::from_millis(1900));
    let m = mode(&format!(
        "operator: {OP}\nresolver {{\n  type: FULL\n  dir: \"{dir}\"\n  allow_delete: true\n  hard_delete: true\n  interval: \"2m\"\n  limit: 1000\n  timeout: \"3s\"\n}}"
    ));
    let Some(Resolver::Full(full)) = m.resolver else {
        panic!("full resolver")
    };
    assert_eq!(full.dir, fixture(""));
    assert_eq!(full.limit, Some(1000));
    assert_eq!(full.interval, Duration::from_secs(120));
    assert_eq!(full.delete, DeletePolicy::Remove);
    assert_eq!(full.timeout, Duration::from_secs(3));
    let m = mode(&format!(
        "operator: {OP}\nresolver: {{ type: full, dir: \"{dir}\", allow_delete: true, limit: -1 }}"
    ));
    let Some(Resolver::Full(full)) = m.resolver else {
        panic!("full resolver")
    };
    assert_eq!((full.delete, full.limit), (DeletePolicy::Rename, None));

    let m = mode(&format!(
        "operator: {OP}\nresolver: {{ type: cache, dir: \"{dir}\" }}"
    ));
    let Some(Resolver::Cache(cache)) = m.resolver else {
        panic!("cache resolver")
    };
    assert_eq!(
        (cache.limit, cache.ttl, cache.timeout),
        (1000, None, Duration::from_millis(1900))
    );
    let m = mode(&format!(
        "operator: {OP}\nresolver: {{ type: cache, dir: \"{dir}\", ttl: \"1h\", limit: 10 }}"
    ));
    let Some(Resolver::Cache(cache)) = m.resolver else {
        panic!("cache resolver")
    };
    assert_eq!(
        (cache.limit, cache.ttl),
        (10, Some(Duration::from_secs(3600)))
    );
    // The map form of a memory resolver; a directory that does not exist yet is fine.
    let m = mode(&format!("operator: {OP}\nresolver: {{ type: mem }}"));
    assert_eq!(m.resolver, Some(Resolver::Memory));
    assert!(
        load_str(
            &format!("operator: {OP}\nresolver: {{ type: full, dir: \"/nonexistent/rnats/jwt\" }}"),
            None
        )
        .is_ok()
    );
}

#[test]
fn resolver_map_errors() {
    let dir = fixture("");
    let dir = dir.display();
    let resolver = |body: &str| err(&format!("operator: {OP}\nresolver: {{ {body} }}"));
    // All from opts.go, seen with 2.15.1 (which names the `resolver` key for each).
    let e = resolver("type: full");
    assert_eq!(
        e.message,
        "dir has no value and needs to point to a directory"
    );
    assert_eq!((e.line, e.column), (2, 11));
    let file = fixture("op-bare.jwt");
    let e = resolver(&format!("type: full, dir: \"{}\"", file.display()));
    assert_eq!(e.message, "dir needs to point to an accessible directory");
    let e = resolver(&format!("type: cache, dir: \"{dir}\", interval: \"1m\""));
    assert_eq!(e.message, "CACHE does not accept sync");
    let e = resolver(&format!("type: cache, dir: \"{dir}\", allow_delete: true"));
    assert_eq!(e.message, "CACHE does not accept allow_delete");
    let e = resolver(&format!("type: cache, dir: \"{dir}\", hard_delete: false"));
    assert_eq!(e.message, "CACHE does not accept hard_delete");
    let e = resolver(&format!("type: full, dir: \"{dir}\", ttl: \"1h\""));
    assert_eq!(e.message, "FULL does not accept ttl");
    let e = resolver(&format!("type: full, dir: \"{dir}\", hard_delete: true"));
    assert_eq!(e.message, "hard_delete has no effect without delete");
    let e = resolver(&format!("type: full, dir: \"{dir}\", interval: \"5x\""));
    assert_eq!(e.message, "time: unknown unit \"x\" in duration \"5x\"");
    // accounts.go FetchTimeout (its spelling).
    let e = resolver(&format!("type: full, dir: \"{dir}\", timeout: \"0s\""));
    assert_eq!(e.message, "Fetch timeout 0s is too smal");
    let e = resolver(&format!("type: full, dir: \"{dir}\", timeout: \"-1s\""));
    assert_eq!(e.message, "Fetch timeout -1s is too smal");
    let e = resolver(&format!("type: foo, dir: \"{dir}\""));
    assert!(
        e.message
            .starts_with("error parsing account resolver, should be MEM")
    );
    let e = resolver(&format!("dir: \"{dir}\""));
    assert!(
        e.message
            .starts_with("error parsing account resolver, should be MEM")
    );
    // nats-server fails on these with a Go type-assertion message.
    let e = resolver(&format!("type: full, dir: \"{dir}\", interval: 5"));
    assert_eq!(
        e.message,
        "resolver interval must be a duration string such as \"2m\""
    );
    let e = resolver(&format!("type: full, dir: \"{dir}\", limit: \"5\""));
    assert_eq!(e.message, "resolver limit must be an integer");
    // nats-server ignores keys it does not know in this map; rnats warns.
    let l = ok(&format!(
        "operator: {OP}\nresolver: {{ type: full, dir: \"{dir}\", intervall: \"2m\" }}"
    ));
    assert_eq!(
        l.warnings,
        vec![
            "2:11: unknown field \"intervall\" in resolver is ignored, as nats-server ignores it"
                .to_owned()
        ]
    );
}

#[test]
fn resolver_tls() {
    let m = mode(&with_op(
        "resolver_tls { ca_file: \"ca.pem\", cert_file: \"c.pem\", key_file: \"k.pem\" }",
    ));
    let tls = m.resolver_tls.expect("resolver_tls");
    assert_eq!(tls.ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(tls.cert_file.as_deref(), Some(Path::new("c.pem")));
    let e = err(&with_op("resolver_tls { insecure: true }"));
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert_eq!(
        e.message,
        "\"resolver_tls.insecure\" is not supported yet by rnats"
    );
    let e = err(&with_op("resolver_tls { cert_file: a }"));
    assert!(e.message.starts_with("error parsing tls config"), "{e}");
}

#[test]
fn resolver_preload() {
    let m = mode(&with_op(&format!(
        "resolver_preload: {{\n  {SYS}: {SYS_JWT}\n}}"
    )));
    assert_eq!(m.resolver_preload.len(), 1);
    assert_eq!(m.resolver_preload[0].account, SYS);
    assert_eq!(m.resolver_preload[0].jwt, SYS_JWT);
    // Full and cache resolvers take preloads too.
    let dir = fixture("");
    assert!(
        load_str(
            &format!(
                "operator: {OP}\nresolver: {{ type: full, dir: \"{}\" }}\nresolver_preload: {{ {SYS}: {SYS_JWT} }}",
                dir.display()
            ),
            None
        )
        .is_ok()
    );
    // opts.go; 2.15.1: `prenotmap.conf:4:1: preload should be a map of
    // account_public_key:account_jwt`.
    let e = err(&with_op("resolver_preload: [a]"));
    assert_eq!(
        e.message,
        "preload should be a map of account_public_key:account_jwt"
    );
    assert_eq!((e.line, e.column), (3, 19));
    // 2.15.1: `prenotstr.conf:3:21: preload map value should be a string JWT`.
    let e = err(&with_op(&format!("resolver_preload: {{ {SYS}: 5 }}")));
    assert_eq!(e.message, "preload map value should be a string JWT");
    // 2.15.1: `prebadjwt.conf:3:21: invalid account JWT` (nats-server decodes it; rnats only
    // looks at its shape).
    let e = err(&with_op(&format!("resolver_preload: {{ {SYS}: \"abc\" }}")));
    assert_eq!(e.message, "invalid account JWT");
    // rnats' own check (nats-server keeps an entry it can never find).
    let e = err(&with_op(&format!("resolver_preload: {{ FOO: {SYS_JWT} }}")));
    assert_eq!(
        e.message,
        "resolver_preload key \"FOO\" is not a valid public account nkey"
    );
    // server.go configureResolver; 2.15.1 at start-up, for an explicit URL resolver and for
    // the URL resolver one operator gets without `resolver`.
    let msg = "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR";
    let e = err(&format!(
        "operator: {OP}\nresolver: URL(\"http://localhost:9/jwt/v1/accounts/\")\nresolver_preload: {{ {SYS}: {SYS_JWT} }}"
    ));
    assert_eq!(e.message, msg);
    let e = err(&format!(
        "operator: {OP}\nresolver_preload: {{ {SYS}: {SYS_JWT} }}"
    ));
    assert_eq!(e.message, msg);
}

#[test]
fn pinned_accounts() {
    let m = mode(&with_op(&format!(
        "resolver_pinned_accounts: {OTHER_ACCOUNT}"
    )));
    assert_eq!(m.resolver_pinned_accounts, vec![OTHER_ACCOUNT.to_owned()]);
    let m = mode(&with_op(&format!(
        "resolver_pinned_accounts: [{OTHER_ACCOUNT}, {SYS}]"
    )));
    assert_eq!(m.resolver_pinned_accounts.len(), 2);
    // jwt.go validateTrustedOperators; 2.15.1: `pinned account key "FOO" is not a valid public
    // account nkey`.
    let e = err(&with_op("resolver_pinned_accounts: [FOO]"));
    assert_eq!(
        e.message,
        "pinned account key \"FOO\" is not a valid public account nkey"
    );
    assert_eq!((e.line, e.column), (3, 28));
    let e = err(&with_op("resolver_pinned_accounts: [1]"));
    assert_eq!(
        e.message,
        "error parsing resolver_pinned_accounts: unsupported type in array integer"
    );
}

#[test]
fn default_sentinel() {
    let m = mode(&with_op(&format!("default_sentinel: {SHAPED}")));
    assert_eq!(m.default_sentinel.as_deref(), Some(SHAPED));
    // jwt.go validateTrustedOperators; 2.15.1 at start-up, also with trusted keys alone.
    let e = err(&format!("default_sentinel: {SHAPED}"));
    assert_eq!(
        e.message,
        "default sentinel requires operators and accounts"
    );
    let e = err(&format!(
        "trusted: {DECORATED_OPERATOR}\ndefault_sentinel: {SHAPED}"
    ));
    assert_eq!(
        e.message,
        "default sentinel requires operators and accounts"
    );
    // 2.15.1: `default sentinel JWT not valid` (rnats checks the shape only; that it decodes
    // to a bearer user JWT is for the JWT crate).
    let e = err(&with_op("default_sentinel: abc"));
    assert_eq!(e.message, "default sentinel JWT not valid");
}

#[test]
fn operator_mode_forbids_config_mode_auth() {
    // All from jwt.go validateTrustedOperators and auth.go validateNoAuthUser, seen with
    // 2.15.1 at start-up.
    let e = err(&with_op("accounts { A {} }"));
    assert_eq!(
        e.message,
        "operators do not allow Accounts to be configured directly"
    );
    assert_eq!((e.line, e.column), (3, 10));
    let e = err(&with_op(
        "authorization { users: [{user: a, password: b}] }",
    ));
    assert_eq!(
        e.message,
        "operators do not allow users to be configured directly"
    );
    let e = err(&with_op(
        "authorization { users: [{nkey: UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP}] }",
    ));
    assert_eq!(
        e.message,
        "operators do not allow users to be configured directly"
    );
    let e = err(&with_op(
        "authorization { auth_callout { issuer: ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA, auth_users: [a] } }",
    ));
    assert_eq!(
        e.message,
        "operators do not allow authorization callouts to be configured directly"
    );
    let e = err(&with_op("no_auth_user: bob"));
    assert_eq!(
        e.message,
        "no_auth_user not compatible with Trusted Operator"
    );
    // Two operators need a resolver (one gets the URL resolver of its JWT).
    let e = err(&format!("operator: [{OP}, {OP}]"));
    assert_eq!(
        e.message,
        "operators require an account resolver to be configured"
    );
    // nats-server starts with an empty accounts block, and with a token or single user, which
    // it then ignores: rnats loads them with a warning.
    assert!(mode(&with_op("accounts {}")).operators.len() == 1);
    let l = ok(&with_op("authorization {\n  token: abc\n}"));
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert!(l.warnings[0].starts_with("3:15: the token, user and password"));
}

#[test]
fn system_account_in_operator_mode() {
    // An account key, resolved in operator mode, not an entry of `accounts`.
    let c = ok(&with_op(&format!("system_account: {SYS}"))).config;
    assert_eq!(c.system_account.as_deref(), Some(SYS));
    let c = ok(&with_op(&format!("system: {SYS}"))).config;
    assert_eq!(c.system_account.as_deref(), Some(SYS));
    // accounts.go fetchAccount; 2.15.1: `error resolving system account: will only fetch
    // valid account keys`.
    let e = err(&with_op("system_account: FOO"));
    assert_eq!(
        e.message,
        "error resolving system account: will only fetch valid account keys"
    );
    assert_eq!((e.line, e.column), (3, 17));
}

/// `operator_system_account` with the claims a decoder would read from the operator JWTs.
#[test]
fn system_account_against_operator_claims() {
    let config = |src: &str| -> ServerConfig {
        load_str(src, Some(Path::new("op.conf")))
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    };
    let c = config(&with_op(&format!("system_account: {SYS}")));
    assert_eq!(
        c.operator_system_account(&[Some(SYS)]).expect("same"),
        Some(SYS.to_owned())
    );
    // jwt.go validateTrustedOperators; 2.15.1: `system_account in config and operator JWT must
    // be identical`.
    let c = config(&with_op(&format!("system_account: {OTHER_ACCOUNT}")));
    let e = c
        .operator_system_account(&[Some(SYS)])
        .expect_err("mismatch");
    assert_eq!(
        e.to_string(),
        "op.conf:3:17: system_account in config and operator JWT must be identical"
    );
    // No claim: the file's wins.
    assert_eq!(
        c.operator_system_account(&[None]).expect("no claim"),
        Some(OTHER_ACCOUNT.to_owned())
    );
    // Not in the file: the single operator's.
    let c = config(&with_op(""));
    assert_eq!(
        c.operator_system_account(&[Some(SYS)]).expect("claimed"),
        Some(SYS.to_owned())
    );
    assert_eq!(c.operator_system_account(&[None]).expect("none"), None);
    // 2.15.1: `using nats based account resolver - the system account needs to be specified
    // in configuration or the operator jwt`.
    let c = config(&format!(
        "operator: {OP}\nresolver: {{ type: cache, dir: \"{}\" }}",
        fixture("").display()
    ));
    let e = c
        .operator_system_account(&[None])
        .expect_err("nats resolver");
    assert_eq!(
        e.to_string(),
        "op.conf:2:11: using nats based account resolver - the system account needs to be specified in configuration or the operator jwt"
    );
    assert_eq!(
        c.operator_system_account(&[Some(SYS)]).expect("claimed"),
        Some(SYS.to_owned())
    );
}

#[test]
fn resolver_keys_without_operator_are_ignored_with_a_warning() {
    let l = ok(&format!(
        "resolver: MEMORY\nresolver_preload: {{ {SYS}: {SYS_JWT} }}\nresolver_pinned_accounts: [FOO]"
    ));
    assert_eq!(l.config.operator_mode, None);
    assert_eq!(l.warnings.len(), 3, "{:?}", l.warnings);
    assert_eq!(
        l.warnings[0],
        "1:11: \"resolver\" has no effect without \"operator\" or \"trusted\" and is ignored"
    );
    // Outside operator mode `system_account` still names an account of `accounts`.
    assert!(load_str(&format!("system_account: {SYS}"), None).is_err());
}

#[test]
fn toml_form() {
    let dir = std::env::temp_dir().join(format!("rnats-config-op-toml-{}", std::process::id()));
    let path = dir.join("server.toml");
    // TOML is chosen by the name; nothing is written to or read from `dir`.
    let src = format!(
        "operator = \"{OP}\"\nsystem_account = \"{SYS}\"\n[resolver]\ntype = \"full\"\ndir = \"{}\"\ninterval = \"2m\"\n",
        fixture("").display()
    );
    let c = load_str(&src, Some(&path))
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let m = c.operator_mode.expect("operator mode");
    assert_eq!(m.operators[0].jwt, OP);
    assert!(
        matches!(m.resolver, Some(Resolver::Full(f)) if f.interval == Duration::from_secs(120))
    );
}

#[test]
fn oidc_issuers_are_refused_in_operator_mode() {
    let e = err(&with_op(
        "authorization {\n  oidc: [ { issuer: i, audience: a, jwks_file: f } ]\n}",
    ));
    assert_eq!(
        e.to_string(),
        "4:11: oidc issuers cannot be used in operator mode"
    );
}
