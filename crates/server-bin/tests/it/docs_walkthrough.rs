//! docs/security.md as a user would follow it: every ```` ```sh ```` block of the guide, in
//! order, run by bash in a scratch directory, with `rnats-server` on `PATH`.
//!
//! The guide's commands must work as a user types them from the repository root, and
//! `cargo xtask` is a workspace alias (`.cargo/config.toml`) that cargo only finds from inside
//! the repository. The script runs in a scratch directory instead, so the test gives cargo
//! the same alias through the environment (`CARGO_ALIAS_XTASK`), pointed at this workspace
//! with `--manifest-path`. `cargo xtask certs` then runs the real xtask against the shared
//! target directory, from wherever the script happens to be. Nothing else about the commands
//! changes.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rnats_test_support::scratch_dir;

/// How long the script may run, once xtask is built.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/server-bin sits two levels below the workspace root")
        .to_path_buf()
}

/// The bodies of the ```` ```sh ```` blocks of a Markdown text, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match current.as_mut() {
            None => {
                if line.trim_end() == "```sh" {
                    current = Some(String::new());
                }
            }
            Some(block) => {
                if line.trim_end() == "```" {
                    blocks.extend(current.take());
                } else {
                    block.push_str(line);
                    block.push('\n');
                }
            }
        }
    }
    assert!(current.is_none(), "an unclosed ```sh block");
    blocks
}

/// The script's process group: killed when the test is done with it, whatever happened, so no
/// background `rnats-server` or `openssl` outlives the test.
struct ProcessGroup(Child);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let pid = i32::try_from(self.0.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            // The group may already be empty: nothing to do then.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = self.0.wait();
    }
}

/// What the guide's `cargo xtask` needs from outside the repository: the workspace's alias,
/// and its job limit (the workspace's `.cargo/config.toml` is not read from out there).
fn cargo_env(root: &Path) -> Vec<(&'static str, String)> {
    let mut env = vec![(
        "CARGO_ALIAS_XTASK",
        format!(
            "run --quiet --manifest-path {} --package xtask --",
            root.join("Cargo.toml").display()
        ),
    )];
    if std::env::var_os("CARGO_BUILD_JOBS").is_none() {
        env.push(("CARGO_BUILD_JOBS", "2".to_owned()));
    }
    env
}

#[test]
fn security_guide_commands_run_as_written() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/security.md")).expect("docs/security.md");
    let blocks = sh_blocks(&guide);
    assert!(
        blocks.len() >= 5,
        "expected the walk-through's sh blocks, found {}",
        blocks.len()
    );

    // Build xtask first, so that the time limit below is about the walk-through, not about
    // compiling.
    let built = Command::new(env!("CARGO"))
        .envs(cargo_env(&root))
        .args(["build", "--quiet", "--package", "xtask", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .status()
        .expect("run cargo");
    assert!(built.success(), "building xtask failed");

    let dir = scratch_dir("docs-walkthrough");
    let script = dir.join("walkthrough.sh");
    // -e: stop at the first failing command; -u: unset variables are mistakes; -x: the trace
    // goes to stderr, next to the servers' logs.
    std::fs::write(&script, format!("set -eux\n{}", blocks.concat())).unwrap();

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_rnats-server"))
        .parent()
        .unwrap()
        .to_path_buf();
    // The cargo that runs this test, ahead of any other, so the script's `cargo xtask` builds
    // with the same toolchain into the same target directory.
    let cargo_dir = Path::new(env!("CARGO")).parent().map(Path::to_path_buf);
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(cargo_dir).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();

    let stdout_path = dir.join("stdout");
    let stderr_path = dir.join("stderr");
    let child = Command::new("bash")
        .arg(&script)
        .current_dir(&dir)
        .envs(cargo_env(&root))
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap())
        // Its own process group, so that everything the script starts can be killed at once.
        .process_group(0)
        .spawn()
        .expect("run bash");
    let mut group = ProcessGroup(child);

    let started = Instant::now();
    let status = loop {
        if let Some(status) = group.0.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(group);

    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let report = format!("--- stdout\n{stdout}\n--- stderr\n{stderr}");
    let Some(status) = status else {
        panic!("the walk-through took more than {SCRIPT_LIMIT:?}\n{report}");
    };
    assert!(
        status.success(),
        "the walk-through failed: {status}\n{report}"
    );

    // What the clients saw, step by step (INFO lines shortened; other output, such as the
    // hashes and keys the earlier blocks print, left out).
    let seen: Vec<&str> = stdout
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter_map(|l| {
            if l.starts_with("INFO ") {
                Some("INFO")
            } else if l == "PONG"
                || l.starts_with("MSG ")
                || l.starts_with("-ERR ")
                || l == "alert certificate required"
            {
                Some(l)
            } else {
                None
            }
        })
        .collect();
    let expected = [
        // Operator mode: a bearer user of an account made by `rnats-server jwt`
        "INFO",
        "MSG orders.new 1 2",
        r#"-ERR 'Permissions Violation for Publish to "billing"'"#,
        "PONG",
        // OIDC: alice gets her own message and a violation; root is admin; an expired token
        "INFO",
        "MSG svc.u-17.ping 1 2",
        r#"-ERR 'Permissions Violation for Publish to "svc.u-18.ping"'"#,
        "PONG",
        "INFO",
        "PONG",
        "INFO",
        "-ERR 'Authorization Violation'",
        // Auth callout: a bash service lets alice in with her password, not with another
        "INFO",
        "PONG",
        "INFO",
        "-ERR 'Authorization Violation'",
        // 2. server-only TLS
        "INFO",
        "PONG",
        // 3. verify: with a client certificate, then without
        "INFO",
        "PONG",
        "alert certificate required",
        // 4. verify_and_map: bob's permissions hold; alice is alice whatever CONNECT says
        "INFO",
        "MSG eng.hello 1 2",
        r#"-ERR 'Permissions Violation for Publish to "ops.hello"'"#,
        "PONG",
        "INFO",
        "PONG",
        // 5. pinning: client.pem is pinned; client-dn.pem gets nothing at all
        "INFO",
        "PONG",
    ];
    assert_eq!(seen, expected, "\n{report}");

    // The server's side of it.
    for wanted in [
        "authenticated: method=jwt identity=\"U",
        r#"authenticated: method=oidc identity="alice" account="APP""#,
        r#"authenticated: method=oidc identity="root" account="APP""#,
        r#"oidc token of issuer "https://idp.example.com/realms/nats": Token has expired"#,
        r#"authenticated: method=auth_callout identity="alice" account="APP""#,
        "Auth callout service returned an error: unknown user or wrong password",
        "TLS handshake error: peer sent no certificates",
        r#"authenticated: method=tls_map identity="CN=bob,OU=eng,O=Acme,DC=example,DC=com" account="$G""#,
        r#"Publish Violation - User "CN=bob,OU=eng,O=Acme,DC=example,DC=com", Subject "ops.hello""#,
        r#"authenticated: method=tls_map identity="alice@example.com" account="$G""#,
        "is not pinned",
    ] {
        assert!(
            stderr.contains(wanted),
            "the log lacks {wanted:?}\n{report}"
        );
    }
}
