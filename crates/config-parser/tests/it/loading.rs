//! `load_str` / `load_file`: the typed configuration, its checks and warnings.

use std::path::PathBuf;
use std::time::Duration;

use rnats_config::{
    ErrorKind, HandshakeFirst, Loaded, ResponseType, ServerConfig, load_file, load_str,
};

fn ok(src: &str) -> Loaded {
    match load_str(src, None) {
        Ok(l) => l,
        Err(e) => panic!("{e}\n--- input ---\n{src}"),
    }
}

fn cfg(src: &str) -> ServerConfig {
    ok(src).config
}

fn err(src: &str) -> rnats_config::ConfigError {
    match load_str(src, None) {
        Ok(l) => panic!("expected an error for {src:?}, got {l:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_for_an_empty_file() {
    assert_eq!(cfg(""), ServerConfig::default());
    assert_eq!(cfg("# only a comment\n"), ServerConfig::default());
}

#[test]
fn core_fields() {
    let c = cfg(r#"
        host: 127.0.0.1
        port: 4333
        server_name: "n1"
        max_payload: 2MB
        max_control_line: 1kb
        max_pending: 100MB
        max_connections: 100
        max_subscriptions: 10
        ping_interval: "30s"
        ping_max: 3
        write_deadline: "1m30s"
        no_header_support: true
        lame_duck_duration: "45s"
        lame_duck_grace_period: "5s"
        debug: true
        trace: on
        logtime: false
        log_file: "rnats.log"
        pid_file: "/tmp/rnats.pid"
        ports_file_dir: "/tmp"
    "#);
    assert_eq!(c.host, "127.0.0.1");
    assert_eq!(c.port, 4333);
    assert_eq!(c.server_name.as_deref(), Some("n1"));
    assert_eq!(c.max_payload, 2 << 20);
    assert_eq!(c.max_control_line, 1024);
    assert_eq!(c.max_pending, 100 << 20);
    assert_eq!(c.max_connections, 100);
    assert_eq!(c.max_subscriptions, 10);
    assert_eq!(c.ping_interval, Duration::from_secs(30));
    assert_eq!(c.ping_max, 3);
    assert_eq!(c.write_deadline, Duration::from_secs(90));
    assert!(c.no_header_support && c.debug && c.trace && !c.logtime);
    assert_eq!(c.lame_duck_duration, Duration::from_secs(45));
    assert_eq!(c.lame_duck_grace_period, Duration::from_secs(5));
    // Relative paths stay as written: nats-server resolves them against the working directory.
    assert_eq!(c.log_file, Some(PathBuf::from("rnats.log")));
    assert_eq!(c.pid_file, Some(PathBuf::from("/tmp/rnats.pid")));
    assert_eq!(c.ports_file_dir, Some(PathBuf::from("/tmp")));
}

#[test]
fn aliases_and_case_insensitive_keys() {
    let c = cfg("NET: 10.0.0.1\nPort: 1\nmax_conn: 5\nmax_subs: 6\nlogfile: a\npidfile: b");
    assert_eq!(c.host, "10.0.0.1");
    assert_eq!(c.port, 1);
    assert_eq!(c.max_connections, 5);
    assert_eq!(c.max_subscriptions, 6);
    assert_eq!(c.log_file, Some(PathBuf::from("a")));
    assert_eq!(c.pid_file, Some(PathBuf::from("b")));
}

#[test]
fn listen_forms() {
    let c = cfg("listen: 127.0.0.1:4222");
    assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4222));
    let c = cfg("listen: \":4333\"");
    assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 4333));
    let c = cfg("listen: 4334");
    assert_eq!(c.port, 4334);
    let c = cfg("listen: \"[::1]:4335\"");
    assert_eq!((c.host.as_str(), c.port), ("::1", 4335));
    let c = cfg("listen: localhost:4336");
    assert_eq!((c.host.as_str(), c.port), ("localhost", 4336));
}

#[test]
fn port_rules() {
    assert_eq!(cfg("port: -1").port, 0);
    assert_eq!(cfg("port: 0").port, 4222);
    let e = err("port: 70000");
    assert_eq!((e.line, e.column), (1, 7));
    assert_eq!(err("port: \"abc\"").kind, ErrorKind::Invalid);
}

#[test]
fn max_payload_limits() {
    assert_eq!(cfg("max_payload: 2147483647").max_payload, 2_147_483_647);
    let e = err("\nmax_payload: 3gb");
    assert_eq!(e.to_string(), "2:14: max_payload value is too big");
    assert_eq!(cfg("max_payload: 0").max_payload, 1 << 20);
}

#[test]
fn max_connections_zero_is_kept() {
    assert_eq!(cfg("max_connections: 0").max_connections, 0);
    assert_eq!(cfg("max_subscriptions: 0").max_subscriptions, 0);
}

#[test]
fn unquoted_2m_is_two_million() {
    // As nats-server: an unquoted 2m is the integer 2,000,000, taken as seconds with a warning.
    let l = ok("ping_interval: 2m");
    assert_eq!(l.config.ping_interval, Duration::from_secs(2_000_000));
    assert_eq!(l.warnings.len(), 1);
    assert!(
        l.warnings[0].ends_with("invalid use of field \"ping_interval\": ping_interval should be converted to a duration"),
        "{:?}",
        l.warnings
    );
    let l = ok("ping_interval: 5\nwrite_deadline: 3");
    assert_eq!(l.config.ping_interval, Duration::from_secs(5));
    assert_eq!(l.config.write_deadline, Duration::from_secs(3));
    assert_eq!(l.warnings.len(), 2);
    // Unquoted 10s happens to be a string, so it works.
    assert_eq!(
        cfg("ping_interval: 10s").ping_interval,
        Duration::from_secs(10)
    );
}

#[test]
fn idle_poll_window() {
    assert_eq!(cfg("").idle_poll, Duration::from_micros(50));
    assert_eq!(
        cfg("idle_poll: \"200us\"").idle_poll,
        Duration::from_micros(200)
    );
    assert_eq!(cfg("idle_poll: 0").idle_poll, Duration::ZERO);
    let e = err("\nidle_poll: \"1s\"");
    assert_eq!(e.to_string(), "2:12: idle_poll must be at most 10ms");
    assert_eq!(err("idle_poll: \"-1us\"").kind, ErrorKind::Invalid);
}

#[test]
fn lame_duck_rules() {
    let e = err("lame_duck_duration: \"5s\"");
    assert_eq!(
        e.message,
        "invalid lame_duck_duration of 5s, minimum is 30 seconds"
    );
    assert_eq!(err("lame_duck_duration: 30").kind, ErrorKind::Invalid);
}

#[test]
fn type_errors_have_positions() {
    let e = err("\n\ndebug: \"true\"");
    assert_eq!((e.line, e.column), (3, 8));
    let e = err("port: 1.5");
    assert_eq!((e.line, e.column), (1, 7));
}

#[test]
fn unknown_fields() {
    let e = err("foo: 1");
    assert_eq!(e.to_string(), "1:1: unknown field \"foo\"");
    assert_eq!(e.kind, ErrorKind::UnknownField);
    let e = err("authorization {\n  users: [{user: x, password: y, foo: 1}]\n}");
    assert_eq!(e.to_string(), "2:34: unknown field \"foo\"");
    let e = err("tls {\n  cert_file: a, key_file: b, foo: 1\n}");
    assert_eq!(
        e.to_string(),
        "2:30: error parsing tls config, unknown field \"foo\""
    );
}

#[test]
fn variables_exempt_from_unknown_fields() {
    let c = cfg("PORT_VAR = 4444\nport: $PORT_VAR");
    assert_eq!(c.port, 4444);
    let e = err("X = 4222");
    assert_eq!(e.message, "unknown field \"X\"");
    // Inside blocks too.
    let c = cfg("authorization {\n  PW = secret\n  user: a\n  password: $PW\n}");
    assert_eq!(
        c.authorization.and_then(|a| a.password).as_deref(),
        Some("secret")
    );
}

#[test]
fn unsupported_sections_are_refused() {
    for key in ["cluster", "gateway", "leafnodes", "jetstream", "mqtt"] {
        let e = err(&format!("port: 1\n{key} {{ port: 6222 }}"));
        assert_eq!(e.kind, ErrorKind::Unsupported, "{key}");
        assert_eq!((e.line, e.column), (2, 1), "{key}");
        assert_eq!(
            e.message,
            format!("\"{key}\" is not supported yet by rnats")
        );
    }
}

#[test]
fn operational_keys_warn() {
    let l = ok("syslog: true\nmax_traced_msg_len: 10\nport: 5");
    assert_eq!(l.config.port, 5);
    assert_eq!(l.warnings.len(), 2);
    assert!(
        l.warnings[0].starts_with("1:1: \"syslog\""),
        "{:?}",
        l.warnings
    );
}

#[test]
fn monitoring_keys() {
    let l = ok("http_port: 8222");
    assert_eq!(l.config.http_port, Some(8222));
    assert_eq!(l.config.https_port, None);
    assert_eq!(l.config.max_closed_clients, 10_000);
    let l = ok("monitor_port: -1\nhttp_base_path: /nats\nmax_closed_clients: 5");
    assert_eq!(l.config.http_port, Some(0));
    assert_eq!(l.config.http_base_path, "/nats");
    assert_eq!(l.config.max_closed_clients, 5);
    let l = ok("http: \"127.0.0.1:8222\"");
    assert_eq!(l.config.http_host.as_deref(), Some("127.0.0.1"));
    assert_eq!(l.config.http_port, Some(8222));
    let l = ok("https: 8443\nhttp_host: \"::1\"");
    assert_eq!(l.config.https_port, Some(8443));
    assert_eq!(l.config.http_host.as_deref(), Some("::1"));
    let l = ok("http_port: 0");
    assert_eq!(l.config.http_port, None);
    assert!(l.warnings.is_empty());
}

#[test]
fn authorization_conflicts() {
    let e = err("authorization { user: a, password: b, token: c }");
    assert_eq!(e.message, "Cannot have a user/pass and token");
    let e = err("authorization { token: c, users: [{user: x, password: y}] }");
    assert_eq!(e.message, "Can not have a token and a users array");
    let e = err("authorization { user: c, users: [{user: x, password: y}] }");
    assert_eq!(
        e.message,
        "Can not have a single user/pass and a users array"
    );
    let e = err("authorization { token: t }\naccounts { A { users [{user: a, password: b}] } }");
    assert_eq!(e.message, "Can not have a token and accounts");
    let e = err("authorization { users: [{user: a, password: b}, {user: a, password: c}] }");
    assert_eq!(e.message, "Duplicate user \"a\" detected");
    let e = err("accounts { A { users [{user: a}] }, B { users [{user: a}] } }");
    assert_eq!(e.message, "Duplicate user \"a\" detected");
    let e = err("authorization { users: [{password: x}] }");
    assert_eq!(e.message, "User entry requires a user");
    let e = err(
        "authorization { users: [{nkey: UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP, user: x}] }",
    );
    assert_eq!(e.message, "Nkey users do not take usernames or passwords");
    let e = err("authorization { users: [{user: a, allowed_connection_types: [STANDARD, foo]}] }");
    assert_eq!(e.message, "invalid connection types [\"FOO\"]");
    let e = err("accounts { $G { } }");
    assert_eq!(e.message, "\"$G\" is a Reserved Account");
    let e = err("accounts { A { nkey: ABC } }");
    assert_eq!(e.message, "Not a valid public nkey for an account: \"ABC\"");
}

#[test]
fn no_auth_user_and_system_account_must_exist() {
    let e = err("no_auth_user: bob\nauthorization { users: [{user: a, password: b}] }");
    assert!(
        e.message.starts_with("no_auth_user: \"bob\" not present"),
        "{e}"
    );
    let c = cfg(
        "no_auth_user: a\naccounts { A { users [{user: a, password: b}] } }\nsystem_account: A",
    );
    assert_eq!(c.no_auth_user.as_deref(), Some("a"));
    assert_eq!(c.system_account.as_deref(), Some("A"));
    assert!(load_str("system_account: NOPE", None).is_err());
    let c = cfg("accounts [A, B]\nsystem: B");
    assert_eq!(c.accounts.len(), 2);
    assert_eq!(c.system_account.as_deref(), Some("B"));
}

#[test]
fn permissions_forms() {
    let c = cfg(r#"
authorization {
  default_permissions { publish: "x.>" }
  users: [
    {user: a, password: b, permissions: {pub: a, sub: [b, "c q1"], allow_responses: true}}
    {user: c, password: d, permissions: {publish: {allow: a, deny: [b]}, allow_responses: {max: 3, expires: "1m"}}}
    {user: e, password: f, permissions: {allow_responses: {max: -1, expires: "-1s"}}, allowed_connection_types: [websocket, "Standard"]}
  ]
}"#);
    let a = c.authorization.expect("authorization");
    assert_eq!(
        a.default_permissions
            .and_then(|p| p.publish)
            .map(|p| p.allow),
        Some(vec!["x.>".to_owned()])
    );
    let p0 = a.users[0].permissions.clone().expect("p0");
    assert_eq!(
        p0.subscribe.map(|s| s.allow),
        Some(vec!["b".to_owned(), "c q1".to_owned()])
    );
    let r0 = p0.allow_responses.expect("responses");
    assert_eq!(
        (r0.max_msgs, r0.expires),
        (Some(1), Some(Duration::from_secs(120)))
    );
    let p1 = a.users[1].permissions.clone().expect("p1");
    assert_eq!(p1.publish.map(|s| s.deny), Some(vec!["b".to_owned()]));
    let r1 = p1.allow_responses.expect("responses");
    assert_eq!(
        (r1.max_msgs, r1.expires),
        (Some(3), Some(Duration::from_secs(60)))
    );
    let r2 = a.users[2]
        .permissions
        .clone()
        .and_then(|p| p.allow_responses)
        .expect("r2");
    assert_eq!((r2.max_msgs, r2.expires), (None, None));
    assert_eq!(
        a.users[2].allowed_connection_types,
        vec!["WEBSOCKET".to_owned(), "STANDARD".to_owned()]
    );

    let e =
        err("authorization { users: [{user: a, permissions: {publish: {allow: [a], foo: b}}}] }");
    assert_eq!(
        e.message,
        "Unknown field name \"foo\" parsing subject permissions, only 'allow' or 'deny' are permitted"
    );
    assert_eq!(e.column, 71);
    let e = err("authorization { users: [{user: a, permissions: {publish: \"a b\"}}] }");
    assert_eq!(e.message, "subject \"a b\" is not a valid subject");
}

#[test]
fn auth_timeout_forms() {
    let t = |src: &str| cfg(src).authorization.and_then(|a| a.timeout);
    assert_eq!(
        t("authorization { token: t, timeout: 2 }"),
        Some(Duration::from_secs(2))
    );
    assert_eq!(
        t("authorization { token: t, timeout: 0.5 }"),
        Some(Duration::from_millis(500))
    );
    assert_eq!(
        t("authorization { token: t, timeout: \"3s\" }"),
        Some(Duration::from_secs(3))
    );
    let l = ok("authorization { token: t\n timeout: 1m }");
    assert_eq!(
        l.config.authorization.and_then(|a| a.timeout),
        Some(Duration::from_secs(1_000_000))
    );
    assert!(
        l.warnings[0].contains("possibly caused by unquoted duration"),
        "{:?}",
        l.warnings
    );
}

#[test]
fn accounts_exports_imports() {
    let c = cfg(r#"
accounts {
  A {
    users [{user: a, password: b}]
    exports [
      {stream: "a.>"}
      {service: "b", response_type: stream, accounts: [B], latency: {subject: lat, sampling: "50%"}}
    ]
    jetstream: enabled
    default_permissions { subscribe: "x" }
  }
  B {
    imports [
      {stream: {account: A, subject: "a.>"}, prefix: p}
      {service: {account: A, subject: b}, to: c}
    ]
  }
}"#);
    assert_eq!(c.accounts.len(), 2);
    let a = &c.accounts[0];
    assert_eq!(a.exports.len(), 2);
    assert_eq!(a.exports[1].response_type, ResponseType::Stream);
    assert_eq!(a.exports[1].accounts, vec!["B".to_owned()]);
    assert!(a.jetstream);
    let b = &c.accounts[1];
    assert_eq!(b.imports[0].prefix.as_deref(), Some("p"));
    assert_eq!(b.imports[1].to.as_deref(), Some("c"));
    assert_eq!(b.imports[1].subject, "b");
}

#[test]
fn user_account_must_exist() {
    let c = cfg("accounts { A {} }\nauthorization { users: [{user: a, password: b, account: A}] }");
    assert_eq!(
        c.authorization.map(|a| a.users[0].account.clone()),
        Some(Some("A".to_owned()))
    );
    let e = err("authorization { users: [{user: a, password: b, account: C}] }");
    assert!(e.message.contains("\"C\""), "{e}");
}

#[test]
fn tls_block() {
    let c = cfg(r#"
tls {
  cert_file: "server.pem"
  key_file: "server-key.pem"
  ca_file: "ca.pem"
  verify_and_map: true
  timeout: 3
  pinned_certs: ["ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"]
  cipher_suites: [TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519]
  min_version: "1.3"
  handshake_first: auto
}"#);
    let t = c.tls.expect("tls");
    assert!(t.verify && t.verify_and_map);
    assert_eq!(t.timeout, Some(Duration::from_secs(3)));
    assert_eq!(
        t.pinned_certs[0],
        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
    );
    assert_eq!(t.min_version.as_deref(), Some("1.3"));
    assert_eq!(
        t.handshake_first,
        HandshakeFirst::Fallback(Duration::from_millis(50))
    );
    let e = err("tls { min_version: \"1.1\" }");
    assert_eq!(
        e.message,
        "error parsing tls config: unsupported TLS version: TLS 1.1"
    );
    let e = err("tls { pinned_certs: [abc] }");
    assert!(
        e.message.contains("does not look like hex-encoded sha256"),
        "{e}"
    );
    assert!(load_str("tls { cert_file: a }", None).is_err());
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnats-config-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn errors_name_the_file() {
    let dir = temp_dir("errfile");
    let path = dir.join("bad.conf");
    std::fs::write(&path, "port: 1\nauthorization {\n  tokn: x\n}\n").expect("write");
    let e = load_file(&path).expect_err("bad");
    assert_eq!(
        e.to_string(),
        format!("{}:3:3: unknown field \"tokn\"", path.display())
    );
    let e = load_file(&dir.join("missing.conf")).expect_err("missing");
    assert_eq!(e.kind, ErrorKind::Io);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn includes_inside_blocks() {
    let dir = temp_dir("include");
    std::fs::write(dir.join("users.conf"), "users = [{user: a, password: b}]\n").expect("write");
    std::fs::write(
        dir.join("main.conf"),
        "authorization {\n  include users.conf\n}\n",
    )
    .expect("write");
    let c = load_file(&dir.join("main.conf")).expect("load").config;
    assert_eq!(c.authorization.map(|a| a.users.len()), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn toml_form_means_the_same() {
    let dir = temp_dir("toml");
    let conf = dir.join("s.conf");
    let toml = dir.join("s.toml");
    std::fs::write(
        &conf,
        r#"
listen: "127.0.0.1:4333"
max_payload: 2MB
ping_interval: "30s"
authorization {
  timeout: 2.5
  users = [
    {user: alice, password: "pw", permissions: {publish: {allow: ["orders.>"], deny: "orders.secret"}, allow_responses: true}}
    {nkey: UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP}
  ]
}
accounts {
  ORDERS { users: [{user: bob, password: x}] }
}
"#,
    )
    .expect("write conf");
    std::fs::write(
        &toml,
        r#"
listen = "127.0.0.1:4333"
max_payload = 2097152
ping_interval = "30s"

[authorization]
timeout = 2.5

[[authorization.users]]
user = "alice"
password = "pw"
permissions = { publish = { allow = ["orders.>"], deny = "orders.secret" }, allow_responses = true }

[[authorization.users]]
nkey = "UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP"

[accounts.ORDERS]
users = [{ user = "bob", password = "x" }]
"#,
    )
    .expect("write toml");
    let a = load_file(&conf).expect("conf").config;
    let b = load_file(&toml).expect("toml").config;
    assert_eq!(a, b);
    assert_eq!(a.port, 4333);

    std::fs::write(&toml, "port = 1\n\n[authorization]\ntokn = \"x\"\n").expect("write");
    let e = load_file(&toml).expect_err("unknown");
    assert_eq!(
        e.to_string(),
        format!("{}:4:1: unknown field \"tokn\"", toml.display())
    );
    std::fs::write(&toml, "port = \n").expect("write");
    let e = load_file(&toml).expect_err("syntax");
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert!(e.has_position());
    let _ = std::fs::remove_dir_all(&dir);
}
