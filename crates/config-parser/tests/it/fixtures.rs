//! Every seed configuration: `*.conf` loads, `bad-*` fails with a position. New fixtures are
//! covered without code changes.

use std::path::{Path, PathBuf};

use rnats_config::{ExportKind, ServerConfig, load_file};

/// The seed configurations kept in the repository (`tests/fixtures/seed-configs`).
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/seed-configs")
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("read fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "conf" || e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures found");
    files
}

fn is_bad(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("bad-"))
}

fn load(name: &str) -> ServerConfig {
    let path = fixtures_dir().join(name);
    match load_file(&path) {
        Ok(l) => l.config,
        Err(e) => panic!("{name}: {e}"),
    }
}

#[test]
fn good_fixtures_load_and_bad_ones_fail_with_a_position() {
    for path in fixture_files() {
        let result = load_file(&path);
        if is_bad(&path) {
            let Err(err) = result else {
                panic!("{} loaded but must be refused", path.display())
            };
            assert!(
                err.has_position(),
                "{}: no position in {err}",
                path.display()
            );
            let shown = err.to_string();
            let prefix = format!("{}:{}:{}: ", path.display(), err.line, err.column);
            assert!(
                shown.starts_with(&prefix),
                "{shown} should start with {prefix}"
            );
        } else if let Err(e) = result {
            panic!("{} must load: {e}", path.display());
        }
    }
}

#[test]
fn bad_fixtures_match_nats_server_positions() {
    // `nats-server -t` reports bad-01 at 4:6 (the `nkey` key) and bad-02 at 3:3.
    let dir = fixtures_dir();
    let e = load_file(&dir.join("bad-01-invalid-nkey.conf")).expect_err("bad-01");
    assert_eq!(e.line, 4);
    assert_eq!(e.message, "Not a valid public nkey for a user");
    let e = load_file(&dir.join("bad-02-unknown-field.conf")).expect_err("bad-02");
    assert_eq!((e.line, e.column), (3, 3));
    assert_eq!(e.message, "unknown field \"tokn\"");
}

#[test]
fn token() {
    let c = load("01-token.conf");
    let a = c.authorization.expect("authorization");
    assert_eq!(a.token.as_deref(), Some("secret_token_here"));
    assert!(a.users.is_empty() && a.user.is_none());
}

#[test]
fn single_user_bcrypt() {
    let a = load("02-single-user-bcrypt.conf")
        .authorization
        .expect("authorization");
    assert_eq!(a.user.as_deref(), Some("admin"));
    assert!(
        a.password
            .as_deref()
            .is_some_and(|p| p.starts_with("$2a$11$"))
    );
}

#[test]
fn multi_user_permissions() {
    let a = load("03-multi-user-permissions.conf")
        .authorization
        .expect("authorization");
    assert_eq!(a.users.len(), 2);
    assert_eq!(a.users[0].user.as_deref(), Some("alice"));
    assert!(a.users[0].permissions.is_none());
    let bob = &a.users[1];
    assert_eq!(bob.password.as_deref(), Some("bobpw"));
    let p = bob.permissions.as_ref().expect("bob permissions");
    assert_eq!(
        p.publish.as_ref().map(|s| s.allow.clone()),
        Some(vec!["events.>".to_owned()])
    );
    assert_eq!(
        p.subscribe.as_ref().map(|s| s.allow.clone()),
        Some(vec!["results.bob.>".to_owned()])
    );
}

#[test]
fn connection_deadline() {
    let a = load("04-connection-deadline.conf")
        .authorization
        .expect("authorization");
    let deadline = a.users[0].connection_deadline.expect("deadline");
    let secs = deadline
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    assert_eq!(secs, 1_798_761_599); // 2026-12-31T23:59:59Z
}

#[test]
fn nkey_users() {
    let a = load("05-nkey-users.conf")
        .authorization
        .expect("authorization");
    assert_eq!(a.users.len(), 2);
    assert_eq!(
        a.users[0].nkey.as_deref(),
        Some("UD2UNLWZU4NS3BXVYHVTA4RC5WKBSAWCKWQ7IZTHAXIZXIHVDGBZH2UP")
    );
    assert!(a.users[0].user.is_none());
    let p = a.users[1].permissions.as_ref().expect("permissions");
    assert_eq!(
        p.subscribe.as_ref().map(|s| s.allow.clone()),
        Some(vec!["_INBOX.>".to_owned()])
    );
}

#[test]
fn nkey_account() {
    let c = load("06-nkey-account.conf");
    assert_eq!(c.accounts.len(), 1);
    assert_eq!(c.accounts[0].name, "ORDERS");
    assert_eq!(c.accounts[0].users[0].account.as_deref(), Some("ORDERS"));
    assert!(c.accounts[0].users[0].nkey.is_some());
}

#[test]
fn account_signing_keys() {
    let c = load("07-account-signing-keys.conf");
    assert_eq!(c.accounts[0].name, "PROD");
    assert_eq!(
        c.accounts[0].signing_keys,
        vec!["AAM63CQKV4TMFTPIUOKZMYOQOI5YK26MBGARL7XIDDRBGBKX6JEEQTHZ".to_owned()]
    );
    assert!(
        c.accounts[0]
            .exports
            .iter()
            .all(|e| e.kind == ExportKind::Stream)
    );
}

#[test]
fn allow_deny() {
    let a = load("08-permissions-allow-deny.conf")
        .authorization
        .expect("authorization");
    let p = a.users[0].permissions.as_ref().expect("permissions");
    let publish = p.publish.as_ref().expect("publish");
    assert_eq!(
        publish.allow,
        vec!["orders.>".to_owned(), "users.signup".to_owned()]
    );
    assert!(publish.deny.is_empty());
    let sub = p.subscribe.as_ref().expect("subscribe");
    assert_eq!(sub.allow, vec!["events.>".to_owned()]);
    assert_eq!(sub.deny, vec!["events.audit.>".to_owned()]);
}

#[test]
fn try_it_yourself() {
    let c = load("09-try-it-yourself.conf");
    let alice = &c.accounts[0].users[0];
    assert_eq!(alice.user.as_deref(), Some("alice"));
    assert_eq!(alice.password.as_deref(), Some("s3cret"));
    let p = alice.permissions.as_ref().expect("permissions");
    assert_eq!(
        p.publish.as_ref().map(|s| s.allow.clone()),
        Some(vec!["orders.>".to_owned()])
    );
    assert_eq!(
        p.subscribe.as_ref().map(|s| s.allow.clone()),
        Some(vec!["_INBOX.>".to_owned()])
    );
}

#[test]
fn auth_timeout() {
    let a = load("10-auth-timeout.conf")
        .authorization
        .expect("authorization");
    assert_eq!(a.token.as_deref(), Some("t0ken"));
    assert_eq!(a.timeout, Some(std::time::Duration::from_secs(2)));
}
