//! The `rnats-server` binary driven the way client test harnesses drive `nats-server`.

mod docs_walkthrough;
mod harness;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rnats_test_support::{ExternalServer, RawClient, scratch_dir};

/// `rnats-server -t -c CONF`: checks a configuration file without starting.
fn config_check(conf: &std::path::Path) -> std::process::Output {
    Command::new(bin())
        .args(["-t", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap()
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rnats-server"))
}

#[tokio::test]
async fn harness_flags_log_pid_and_ports_files() {
    let dir = scratch_dir("bin");
    let log = dir.join("server.log");
    let pid = dir.join("server.pid");
    let mut server = ExternalServer::spawn(
        &bin(),
        &[
            "-l",
            log.to_str().unwrap(),
            "-P",
            pid.to_str().unwrap(),
            "-n",
            "alpha",
        ],
    )
    .expect("rnats-server starts");

    // The pid file holds digits only, no newline.
    let pid_text = std::fs::read_to_string(&pid).unwrap();
    assert_eq!(pid_text, server.pid().to_string());

    // INFO carries the real port and the name given with -n.
    let mut c = RawClient::connect(server.addr()).await;
    let info = c.info_json();
    assert_eq!(info["port"], server.addr().port().to_string());
    assert_eq!(info["server_name"], "\"alpha\"");
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\nPUB x 2\r\nok\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"MSG x 1 2\r\nok\r\n");

    let text = std::fs::read_to_string(&log).unwrap();
    let wanted = format!(
        "Listening for client connections on 127.0.0.1:{}",
        server.addr().port()
    );
    assert!(text.contains(&wanted), "log lacks {wanted:?}:\n{text}");
    assert!(text.contains("[INF] Server is ready"), "{text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("[{}] ", server.pid())),
        "nats-server line format: {first}"
    );

    // --signal quit=PIDFILE stops it gracefully.
    let status = Command::new(bin())
        .args(["--signal", &format!("quit={}", pid.display())])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        server
            .wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    assert_eq!(c.read_to_close().await, b"");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("Trapped \"interrupt\" signal"), "{text}");
    assert!(text.contains("Server Exiting.."), "{text}");
}

#[tokio::test]
async fn lame_duck_by_signal() {
    let server = ExternalServer::spawn(&bin(), &[]).expect("rnats-server starts");
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(c.ping_pong().await, b"");
    let status = Command::new(bin())
        .args(["--signal", &format!("ldm={}", server.pid())])
        .status()
        .unwrap();
    assert!(status.success());
    let line = c.read_line().await;
    assert!(line.contains("\"ldm\":true"), "{line}");
}

#[test]
fn jetstream_refuses_to_start() {
    let out = Command::new(bin())
        .args(["-js", "-p", "-1", "--store_dir", "/tmp/x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("JetStream is not supported"), "{err}");
}

#[test]
fn tls_flag_without_certificate_refuses_to_start() {
    let out = Command::new(bin())
        .args(["--tls", "-p", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no server certificate"));
}

#[test]
fn version_help_and_unknown_flag() {
    let out = Command::new(bin()).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nats-server v2.15.1 compatible"));
    let out = Command::new(bin()).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--ports_file_dir"));
    let out = Command::new(bin()).arg("--bogus").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("flag provided but not defined: -bogus"));
}

#[test]
fn port_in_use_fails_to_start() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = Command::new(bin())
        .args(["-a", "127.0.0.1", "-p", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Error listening on port"));
}

#[test]
fn config_file_check_and_flags_over_file() {
    let dir = scratch_dir("conf");
    let good = dir.join("good.conf");
    std::fs::write(&good, "port: 4999\nmax_payload: 2KB\n").unwrap();
    let out = config_check(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is valid"));

    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "port: 4999\n  tokn: x\n").unwrap();
    let out = config_check(&bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:2:3: unknown field \"tokn\"", bad.display())),
        "{err}"
    );
}

#[tokio::test]
async fn config_file_values_with_command_line_port() {
    let dir = scratch_dir("conf");
    let conf = dir.join("server.conf");
    std::fs::write(&conf, "port: 1\nmax_payload: 2KB\nserver_name: from-file\n").unwrap();
    // -p -1 (added by spawn) wins over the file's port.
    let server = ExternalServer::spawn(&bin(), &["-c", conf.to_str().unwrap()]).unwrap();
    let c = RawClient::connect(server.addr()).await;
    let info = c.info_json();
    assert_eq!(info["max_payload"], "2048");
    assert_eq!(info["server_name"], "\"from-file\"");
}

#[test]
fn tls_with_missing_certificate_refuses_to_start() {
    let dir = scratch_dir("conf");
    let conf = dir.join("tls.conf");
    std::fs::write(
        &conf,
        "tls { cert_file: \"missing.pem\", key_file: \"missing-key.pem\" }\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["-p", "-1", "-c", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.pem"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the log file contains `needle` (a signal has no reply to wait on).
fn wait_for_log(log: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "log never showed {needle:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn reload_by_signal_and_bad_file_keeps_old_config() {
    let dir = scratch_dir("reload");
    let conf = dir.join("server.conf");
    let log = dir.join("server.log");
    std::fs::write(&conf, "max_payload: 1KB\n").unwrap();
    let server = ExternalServer::spawn(
        &bin(),
        &["-c", conf.to_str().unwrap(), "-l", log.to_str().unwrap()],
    )
    .unwrap();
    let signal = |_: ()| {
        let status = Command::new(bin())
            .args(["--signal", &format!("reload={}", server.pid())])
            .status()
            .unwrap();
        assert!(status.success());
    };

    std::fs::write(&conf, "max_payload: 2KB\n").unwrap();
    signal(());
    let text = wait_for_log(&log, "Reloaded server configuration");
    assert!(text.contains("Reloaded: max_payload = 2048"), "{text}");
    let c = RawClient::connect(server.addr()).await;
    assert_eq!(c.info_json()["max_payload"], "2048");

    std::fs::write(&conf, "max_payload: 4KB\n  bogus: 1\n").unwrap();
    signal(());
    let text = wait_for_log(&log, "Failed to reload server configuration");
    assert!(text.contains("2:3: unknown field \"bogus\""), "{text}");
    let c = RawClient::connect(server.addr()).await;
    assert_eq!(
        c.info_json()["max_payload"],
        "2048",
        "the old configuration stays"
    );
}

#[test]
fn passwd_hashes_from_stdin_and_nkey_tools() {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(["passwd", "--cost", "4"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(
        hash.starts_with("$2b$04$") || hash.starts_with("$2a$04$"),
        "{hash}"
    );

    let mut child = Command::new(bin())
        .args(["passwd", "--argon2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("$argon2id$"));

    let out = Command::new(bin())
        .args(["nkey", "gen", "user"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let (seed, public) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(seed.starts_with("SU") && public.starts_with('U'));
    let out = Command::new(bin())
        .args(["nkey", "pub", seed])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), public);
    let out = Command::new(bin())
        .args(["nkey", "pub", "SUnotaseed"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn user_and_token_flags_require_credentials() {
    let server = ExternalServer::spawn(&bin(), &["--user", "admin", "--pass", "pw"]).unwrap();
    let mut c = RawClient::connect(server.addr()).await;
    assert_eq!(c.info_json()["auth_required"], "true");
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"pw\"}\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"");
    let mut bad = RawClient::connect(server.addr()).await;
    bad.send(b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"no\"}\r\n")
        .await;
    assert_eq!(
        bad.read_to_close().await,
        b"-ERR 'Authorization Violation'\r\n"
    );

    let server = ExternalServer::spawn(&bin(), &["--auth", "t0k"]).unwrap();
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"auth_token\":\"t0k\"}\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"");
}

#[test]
fn bad_fixtures_are_refused_with_position() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/seed-configs");
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".conf") {
            continue;
        }
        let out = config_check(&path);
        let err = String::from_utf8_lossy(&out.stderr);
        if name.starts_with("bad-") {
            assert!(!out.status.success(), "{name} must be refused");
            let re_pos = format!("{}:", path.display());
            let tail = err.split(&re_pos).nth(1).unwrap_or_default();
            let mut parts = tail.split(':');
            let line: u32 = parts.next().unwrap_or("").parse().unwrap_or(0);
            let col: u32 = parts.next().unwrap_or("").parse().unwrap_or(0);
            assert!(line > 0 && col > 0, "{name}: no file:line:col in {err}");
        } else {
            assert!(out.status.success(), "{name} must load: {err}");
        }
    }
}

/// Issue 3's acceptance test: a running server, a connected async-nats client, a changed file,
/// SIGHUP, and the new permissions enforced on that same connection.
#[tokio::test]
async fn sighup_reload_changes_permissions_of_a_connected_client() {
    use futures_util::StreamExt;
    let dir = scratch_dir("reload-perms");
    let conf = dir.join("server.conf");
    let log = dir.join("server.log");
    let users = |alice_publish: &str| {
        format!(
            "authorization {{ users = [
                {{ user: alice, password: a, permissions: {{ publish: \"{alice_publish}\" }} }}
                {{ user: watcher, password: w }}
            ] }}\n"
        )
    };
    std::fs::write(&conf, users("orders.>")).unwrap();
    let server = ExternalServer::spawn(
        &bin(),
        &["-c", conf.to_str().unwrap(), "-l", log.to_str().unwrap()],
    )
    .unwrap();
    let url = format!("nats://{}", server.addr());
    let watcher = async_nats::ConnectOptions::with_user_and_password("watcher".into(), "w".into())
        .connect(&url)
        .await
        .unwrap();
    let mut seen = watcher.subscribe(">").await.unwrap();
    watcher.flush().await.unwrap();
    let alice = async_nats::ConnectOptions::with_user_and_password("alice".into(), "a".into())
        .connect(&url)
        .await
        .unwrap();

    // Before: billing is denied, orders allowed.
    alice.publish("billing.1", "no".into()).await.unwrap();
    alice.publish("orders.1", "yes".into()).await.unwrap();
    alice.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.subject.as_str(), "orders.1");

    std::fs::write(&conf, users("billing.>")).unwrap();
    let status = Command::new(bin())
        .args(["--signal", &format!("reload={}", server.pid())])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_log(&log, "Reloaded server configuration");

    // After, on the same connection: orders denied, billing allowed.
    alice.publish("orders.2", "no".into()).await.unwrap();
    alice.publish("billing.2", "yes".into()).await.unwrap();
    alice.flush().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), seen.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.subject.as_str(), "billing.2");
    assert_eq!(
        alice
            .statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed),
        1,
        "no reconnect"
    );
}

#[test]
fn operator_mode_is_checked_and_an_unreachable_url_resolver_refused() {
    // Operator `TESTOP` (nats-server `server/opts_test.go`).
    let jwt = "eyJ0eXAiOiJqd3QiLCJhbGciOiJlZDI1NTE5In0.eyJqdGkiOiJLRTZRU0tWTU1VWFFKNFZCTDNSNDdGRFlIWElaTDRZSE1INjVIT0k1UjZCNUpPUkxVQlZBIiwiaWF0IjoxNTg5OTE2MzgyLCJpc3MiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsIm5hbWUiOiJURVNUT1AiLCJzdWIiOiJPQVRUVkJYTElVTVRRT1FXVUEySU0zRkdUQlFRSEFHUEZaQTVET05NTlFSUlRQUjYzTERBTDM1WiIsInR5cGUiOiJvcGVyYXRvciIsIm5hdHMiOnsic3lzdGVtX2FjY291bnQiOiJBRFNQT1lNSFhKTjZKVllRQ0xSWjVYUTVJVU42QTNTMzNYQTROVjRWSDc0NDIzVTdVN1lSNFlWVyJ9fQ.HiyUtlk8kectKHeQHtuqFcjFt0RbYZE_WAqPCcoWlV2IFVdXuOTzShYEMgDmtgvsFG_zxNQOj08Gr6a06ovwBA";
    let dir = scratch_dir("operator");
    let conf = dir.join("operator.conf");
    std::fs::write(&conf, format!("operator: {jwt}\nresolver: MEMORY\n")).unwrap();
    let out = config_check(&conf);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &conf,
        format!("operator: {jwt}\nresolver: URL(\"http://127.0.0.1:9/jwt/v1/accounts/\")\n"),
    )
    .unwrap();
    // `-t` accepts a URL resolver; starting asks the URL first (nothing listens on port 9).
    let out = config_check(&conf);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin())
        .args(["-c", conf.to_str().unwrap(), "-a", "127.0.0.1", "-p", "-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not fetch <\"http://127.0.0.1:9/jwt/v1/accounts/\">: "),
        "{err}"
    );
}

#[tokio::test]
async fn jwt_tools_make_an_operator_setup_that_serves_creds_logins() {
    let dir = scratch_dir("jwt-tools");
    let ops = dir.join("ops");
    let ops_s = ops.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(bin()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["jwt", "init", "--dir", ops_s, "--name", "t"]);
    run(&["jwt", "account", "--dir", ops_s, "A", "--signing-key"]);
    run(&["jwt", "account", "--dir", ops_s, "B", "--conn", "1"]);
    run(&["jwt", "user", "--dir", ops_s, "A", "alice", "--pub", "a.>"]);
    run(&["jwt", "user", "--dir", ops_s, "B", "bob"]);
    // Seeds are the owner's alone; a second init or a duplicate account is refused.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ops.join("users/A/alice.creds"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "creds readable by others: {mode:o}");
    let again = Command::new(bin())
        .args(["jwt", "account", "--dir", ops_s, "A"])
        .output()
        .unwrap();
    assert!(!again.status.success());

    let conf = ops.join("server.conf");
    let server = ExternalServer::spawn(&bin(), &["-c", conf.to_str().unwrap()]).unwrap();
    let url = format!("nats://{}", server.addr());
    let alice = async_nats::ConnectOptions::with_credentials_file(ops.join("users/A/alice.creds"))
        .await
        .unwrap()
        .connect(&url)
        .await
        .expect("alice logs in with her creds");
    let bob = async_nats::ConnectOptions::with_credentials_file(ops.join("users/B/bob.creds"))
        .await
        .unwrap()
        .connect(&url)
        .await
        .expect("bob logs in with his creds");
    alice.publish("a.x", "hi".into()).await.unwrap();
    alice.flush().await.unwrap();
    bob.flush().await.unwrap();
    // B admits one connection: a second bob is refused.
    let second = async_nats::ConnectOptions::with_credentials_file(ops.join("users/B/bob.creds"))
        .await
        .unwrap()
        .connect(&url);
    let second = tokio::time::timeout(Duration::from_secs(5), second).await;
    assert!(
        !matches!(second, Ok(Ok(_))),
        "B's conn limit lets in only one"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn monitoring_flag_serves_varz_and_lists_it_in_the_ports_file() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ExternalServer::spawn(&bin(), &["-m", "-1"]).expect("rnats-server starts");
    let http = server
        .monitor_addr()
        .expect("the ports file lists the monitoring URL");
    let mut tcp = tokio::net::TcpStream::connect(http).await.unwrap();
    tcp.write_all(b"GET /varz HTTP/1.0\r\n\r\n").await.unwrap();
    let mut raw = String::new();
    tcp.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.0 200 OK\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("\"http_port\": {}", http.port())),
        "{raw}"
    );
    assert!(
        raw.contains(&format!("\"port\": {}", server.addr().port())),
        "{raw}"
    );
}

#[test]
fn config_check_validates_the_audit_block() {
    let dir = scratch_dir("conf");
    let check = |text: &str| {
        let conf = dir.join("audit.conf");
        std::fs::write(&conf, text).unwrap();
        let out = config_check(&conf);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            conf,
        )
    };
    let log = dir.join("audit.log");
    let (ok, err, _) = check(&format!(
        "audit {{ file: \"{}\", max_size: 1MB }}\n",
        log.display()
    ));
    assert!(ok, "{err}");
    assert!(!log.exists(), "-t creates no audit file");
    let (ok, err, conf) = check("port: 4999\naudit {\n  file: a.log, max_files: -1\n}\n");
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}:3:27: audit.max_files must be an integer from 0 to 1000",
            conf.display()
        )),
        "{err}"
    );
    let missing = dir.join("no-such-dir").join("audit.log");
    let (ok, err, _) = check(&format!("audit {{ file: \"{}\" }}\n", missing.display()));
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
}
