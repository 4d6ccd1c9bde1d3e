//! The rough edges a newcomer or a client test harness meets, each checked as the official
//! clients' launchers do it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rnats_test_support::{RawClient, scratch_dir};

use crate::bin;

fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("rnats-server runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_without_config_says_so_and_fails() {
    let out = run(&["-t"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "rnats-server: must specify [-c, --config] option to check configuration file syntax\n"
    );
}

#[test]
fn flag_errors_name_the_flag() {
    let out = run(&["-p", "99999"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "rnats-server: invalid value \"99999\" for flag -p: port 99999 is out of range\n"
    );
    let out = run(&["--port", "x"]);
    assert!(stderr(&out).contains("for flag -port"), "{}", stderr(&out));
    let out = run(&["-l"]);
    assert_eq!(stderr(&out), "rnats-server: flag needs an argument: -l\n");
}

#[test]
fn version_command_is_dash_v() {
    let a = run(&["version"]);
    let b = run(&["-v"]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).contains("nats-server v2.15.1 compatible"));
    let out = run(&["frobnicate"]);
    assert_eq!(
        stderr(&out),
        "rnats-server: unrecognized command: \"frobnicate\"\n"
    );
}

#[test]
fn nkey_pub_with_a_bad_seed() {
    let out = run(&["nkey", "pub", "SUAXNOTASEED"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "rnats-server: the argument is not a valid NKey seed\n"
    );
}

#[test]
fn config_errors_after_loading_name_file_line_and_column() {
    let dir = scratch_dir("positions");
    let cases = [
        (
            "tls.conf",
            "port: 4222\ntls {\n  cert_file: \"missing.pem\"\n  key_file: \"missing-key.pem\"\n}\n",
            ":3:14: TLS: could not read missing.pem",
        ),
        (
            "argon2.conf",
            "authorization {\n  users = [\n    {user: a, password: \"$argon2id$v=19$m=1,t=x\"}\n  ]\n}\n",
            ":3:25: password of user \"a\" is not a valid argon2id hash",
        ),
        (
            "token.conf",
            "authorization {\n  token: \"$argon2id$nothing\"\n}\n",
            ":2:10: authorization token is not a valid argon2id hash",
        ),
    ];
    for (name, text, wanted) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        for extra in [&["-t"][..], &["-p", "-1"][..]] {
            let mut args = vec!["-c", path.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(1), "{name} {extra:?}");
            let err = stderr(&out);
            let expected = format!("{}{wanted}", path.display());
            assert!(
                err.contains(&expected),
                "{name}: {err:?} lacks {expected:?}"
            );
        }
    }
}

/// A server started through a symlink called `nats-server`, as client test harnesses do.
struct Harnessed {
    child: Child,
    dir: PathBuf,
}

impl Drop for Harnessed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_as_nats_server(extra: &[&str]) -> Harnessed {
    let dir = scratch_dir("symlink");
    let link = dir.join("nats-server");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let child = Command::new(&link)
        .args(["-p", "-1", "--ports_file_dir"])
        .arg(&dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Harnessed { child, dir }
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.is_empty()
        {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

fn ipv6_loopback_available() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test]
async fn symlinked_harness_finds_its_ports_file_and_ipv6_clients_get_in() {
    let server = start_as_nats_server(&[]);
    // nats-server names the file after argv[0]: the harness looks for exactly this name.
    let ports = server
        .dir
        .join(format!("nats-server_{}.ports", server.child.id()));
    let text = wait_for_file(&ports);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let urls: Vec<String> = json["nats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    let v4 = urls
        .iter()
        .find(|u| u.starts_with("nats://127.0.0.1:"))
        .expect("an IPv4 loopback URL");
    let port: u16 = v4.rsplit(':').next().unwrap().parse().unwrap();

    // The default host 0.0.0.0 is bound dual-stack, as Go binds it.
    let mut c = RawClient::connect(([127, 0, 0, 1], port).into()).await;
    c.send(b"CONNECT {\"verbose\":false}\r\n").await;
    assert_eq!(c.ping_pong().await, b"");
    if ipv6_loopback_available() {
        assert!(urls.contains(&format!("nats://[::1]:{port}")), "{urls:?}");
        let addr: std::net::SocketAddr = format!("[::1]:{port}").parse().unwrap();
        let mut c6 = RawClient::connect(addr).await;
        assert_eq!(c6.info_json()["client_ip"], "\"::1\"");
        c6.send(b"CONNECT {\"verbose\":false}\r\nSUB v6 1\r\n")
            .await;
        assert_eq!(c6.ping_pong().await, b"");
        c.send(b"PUB v6 2\r\nok\r\n").await;
        assert_eq!(c.ping_pong().await, b"");
        assert_eq!(c6.ping_pong().await, b"MSG v6 1 2\r\nok\r\n");
    }
}

#[tokio::test]
async fn info_carries_git_commit_and_api_level() {
    let server = rnats_test_support::ExternalServer::spawn(&bin(), &[]).unwrap();
    let c = RawClient::connect(server.addr()).await;
    let info = c.info_json();
    assert_eq!(info["api_lvl"], "5");
    assert_eq!(info["version"], "\"2.15.1\"");
    let commit = info.get("git_commit").map(String::as_str).unwrap_or("\"\"");
    assert!(
        commit
            .trim_matches('"')
            .bytes()
            .all(|b| b.is_ascii_hexdigit()),
        "{commit}"
    );
    assert!(!info.contains_key("go"));
}

#[tokio::test]
async fn trace_logs_each_op_without_secrets() {
    let dir = scratch_dir("trace");
    let log = dir.join("trace.log");
    let conf = dir.join("trace.conf");
    std::fs::write(
        &conf,
        "authorization { users = [ { user: alice, password: \"s3cr3t-pw\" } ] }\n",
    )
    .unwrap();
    let server = rnats_test_support::ExternalServer::spawn(
        &bin(),
        &[
            "-DV",
            "-l",
            log.to_str().unwrap(),
            "-c",
            conf.to_str().unwrap(),
        ],
    )
    .unwrap();
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"s3cr3t-pw\"}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\n")
        .await;
    assert_eq!(c.ping_pong().await, b"MSG foo 1 2\r\nhi\r\n");
    // A second client proves the first one's lines are all written.
    let mut d = RawClient::connect(server.addr()).await;
    d.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"s3cr3t-pw\"}\r\n")
        .await;
    assert_eq!(d.ping_pong().await, b"");
    let text = std::fs::read_to_string(&log).unwrap();
    for wanted in [
        "[TRC] ",
        "<<- [CONNECT {",
        "\"pass\":\"[REDACTED]\"",
        "<<- [SUB foo 1]",
        "<<- [PUB foo 2]",
        "<<- MSG_PAYLOAD: [\"hi\"]",
        "->> [MSG foo 1 2]",
        "<<- [PING]",
        "->> [PONG]",
    ] {
        assert!(text.contains(wanted), "trace lacks {wanted:?}:\n{text}");
    }
    assert!(
        !text.contains("s3cr3t-pw"),
        "a password reached the log:\n{text}"
    );
}

/// Client-supplied strings are quoted in the log (a newline cannot start a forged line), and a
/// secret sent in the wrong JSON type is never echoed by the CONNECT parse error.
#[tokio::test]
async fn client_strings_cannot_forge_log_lines_or_leak_secrets() {
    let dir = scratch_dir("forgery");
    let log = dir.join("server.log");
    let conf = dir.join("users.conf");
    std::fs::write(
        &conf,
        "authorization { users = [ { user: alice, password: right } ] }\n",
    )
    .unwrap();
    let server = rnats_test_support::ExternalServer::spawn(
        &bin(),
        &[
            "-D",
            "-l",
            log.to_str().unwrap(),
            "-c",
            conf.to_str().unwrap(),
        ],
    )
    .unwrap();
    for connect in [
        r#"{"verbose":false,"user":"x\n[INF] forged: authenticated method=password","pass":"p"}"#,
        r#"{"verbose":false,"nkey":"U\r\n[INF] forged nkey"}"#,
        r#"{"verbose":false,"user":"alice","pass":987654321}"#,
        r#"{"verbose":false,"user":"alice","auth_token":1234567890123}"#,
    ] {
        let mut c = RawClient::connect(server.addr()).await;
        c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes())
            .await;
        c.read_to_close().await;
    }
    // A last client makes sure every earlier line is written.
    let mut ok = RawClient::connect(server.addr()).await;
    ok.send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"right\"}\r\n")
        .await;
    assert_eq!(ok.ping_pong().await, b"");
    ok.send(b"-ERR 'bye\rforged'\r\n").await;
    ok.read_to_close().await;
    let mut alice = RawClient::connect(server.addr()).await;
    alice
        .send(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"right\"}\r\n")
        .await;
    assert_eq!(alice.ping_pong().await, b"");

    let text = std::fs::read_to_string(&log).unwrap();
    let prefix = format!("[{}] ", server.pid());
    for line in text.lines() {
        assert!(
            line.starts_with(&prefix),
            "forged or split line {line:?} in:\n{text}"
        );
        assert!(!line.contains('\r'), "raw CR in {line:?}");
    }
    assert!(text.contains(r#"User "x\n[INF] forged"#), "{text}");
    for secret in ["987654321", "1234567890123", "right"] {
        assert!(!text.contains(secret), "{secret} reached the log:\n{text}");
    }
}
