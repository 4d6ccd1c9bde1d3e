//! Hostile clients for the `hostile` scenario: each attack runs on threads of its own (blocking
//! sockets, so it never shares the measuring thread's poll loop) until stopped, and counts what
//! it did. Only loopback addresses reach here (checked by `resolve`).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rnats_protocol::{PING, encode_connect_json, encode_pub, encode_sub, encode_unsub};

use crate::Result;

/// A running attack.
pub(crate) struct Attack {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

/// What an attack needs to know: where, and which credentials it may (or pretends to) use.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// CONNECT fields for attacks that log in (`"user":"x","pass":"y"`), without braces.
    pub(crate) login: String,
}

pub(crate) const KINDS: &[&str] = &[
    "none",
    "subflood",
    "slowloris",
    "noconnect",
    "loginflood",
    "importflood",
];

impl Attack {
    pub(crate) fn start(kind: &str, target: Target) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let spawn = |n: usize, f: fn(&Target, &AtomicBool, &AtomicU64)| -> Vec<JoinHandle<()>> {
            (0..n)
                .map(|_| {
                    let (t, s, o) = (target.clone(), stop.clone(), ops.clone());
                    std::thread::spawn(move || f(&t, &s, &o))
                })
                .collect()
        };
        let threads = match kind {
            "none" => Vec::new(),
            "subflood" => spawn(1, sub_flood),
            "slowloris" => spawn(1, slowloris),
            "noconnect" => spawn(1, no_connect),
            "loginflood" => spawn(4, login_flood),
            "importflood" => spawn(1, import_flood),
            other => {
                return Err(format!("unknown attack {other:?} ({})", KINDS.join(", ")).into());
            }
        };
        Ok(Self { stop, ops, threads })
    }

    /// Stops the attack; returns how many operations it made (SUBs, bytes, connections, logins
    /// or requests, by kind).
    pub(crate) fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.ops.load(Ordering::Relaxed)
    }
}

fn dial(addr: SocketAddr) -> Option<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    let _ = s.set_nodelay(true);
    Some(s)
}

/// Reads and drops whatever the server sends, on a thread of its own, until the socket closes.
fn drain(stream: &TcpStream) -> Option<JoinHandle<()>> {
    let mut rd = stream.try_clone().ok()?;
    Some(std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(rd.read(&mut buf), Ok(n) if n > 0) {}
    }))
}

/// `CONNECT` with `verbose` off and the login fields (`login` is JSON members, no braces).
fn hello(login: &str) -> BytesMut {
    let mut line = BytesMut::new();
    let json = format!(r#"{{"verbose":false,{login}}}"#);
    encode_connect_json(&mut line, json.as_bytes());
    line
}

/// One authenticated connection pipelining SUB/UNSUB pairs on distinct subjects.
fn sub_flood(t: &Target, stop: &AtomicBool, ops: &AtomicU64) {
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = dial(t.addr) else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let reader = drain(&s);
        if s.write_all(&hello(&t.login)).is_err() {
            continue;
        }
        let mut batch = BytesMut::with_capacity(64 * 1024);
        let mut subject = String::new();
        while !stop.load(Ordering::Relaxed) {
            batch.clear();
            for _ in 0..1000 {
                i += 1;
                let sid = i.to_string();
                subject.clear();
                let _ = write!(subject, "flood.{i}.x");
                encode_sub(&mut batch, subject.as_bytes(), None, sid.as_bytes());
                encode_unsub(&mut batch, sid.as_bytes(), None);
            }
            if s.write_all(&batch).is_err() {
                break;
            }
            ops.fetch_add(1000, Ordering::Relaxed);
        }
        let _ = s.shutdown(std::net::Shutdown::Both);
        if let Some(r) = reader {
            let _ = r.join();
        }
    }
}

/// 200 connections that each send one byte of a CONNECT every 50 ms and never finish it.
fn slowloris(t: &Target, stop: &AtomicBool, ops: &AtomicU64) {
    const CONNS: usize = 200;
    const LINE: &[u8] = b"CONNECT {\"verbose\":false,\"name\":\"slow\"";
    let mut conns: Vec<Option<(TcpStream, usize)>> = (0..CONNS).map(|_| None).collect();
    while !stop.load(Ordering::Relaxed) {
        let round = Instant::now();
        for slot in &mut conns {
            if slot.is_none() {
                *slot = dial(t.addr).map(|s| {
                    let _ = s.set_nonblocking(true);
                    (s, 0)
                });
            }
            let Some((s, at)) = slot else { continue };
            let mut sink = [0u8; 4096];
            let closed = matches!(s.read(&mut sink), Ok(0));
            if closed || s.write_all(&LINE[*at..=*at]).is_err() {
                *slot = None;
                continue;
            }
            ops.fetch_add(1, Ordering::Relaxed);
            *at = (*at + 1) % LINE.len();
        }
        if let Some(left) = Duration::from_millis(50).checked_sub(round.elapsed()) {
            std::thread::sleep(left);
        }
    }
}

/// A thousand connections that read nothing and never send CONNECT (against a TLS server:
/// handshakes that never start); each one the server closes is opened again.
fn no_connect(t: &Target, stop: &AtomicBool, ops: &AtomicU64) {
    const CONNS: usize = 1000;
    let mut conns: Vec<Option<TcpStream>> = (0..CONNS).map(|_| None).collect();
    while !stop.load(Ordering::Relaxed) {
        for slot in &mut conns {
            if let Some(s) = slot {
                let mut probe = [0u8; 1];
                // Peek only: the INFO stays unread, as a stalled client leaves it.
                if matches!(s.peek(&mut probe), Ok(0)) {
                    *slot = None;
                }
            }
            if slot.is_none() {
                *slot = dial(t.addr).inspect(|s| {
                    let _ = s.set_nonblocking(true);
                    ops.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Logins with a wrong password, one after another on each thread.
fn login_flood(t: &Target, stop: &AtomicBool, ops: &AtomicU64) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut s) = dial(t.addr) else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        n += 1;
        let mut hello = BytesMut::new();
        let json = format!(r#"{{"verbose":false,"user":"bench","pass":"wrong-{n}"}}"#);
        encode_connect_json(&mut hello, json.as_bytes());
        hello.extend_from_slice(PING);
        if s.write_all(&hello).is_ok() {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Requests through a service import, each with a new reply subject (every one leaves a
/// pending response route in the exporting account), pipelined.
fn import_flood(t: &Target, stop: &AtomicBool, ops: &AtomicU64) {
    let Some(mut s) = dial(t.addr) else { return };
    let reader = drain(&s);
    if s.write_all(&hello(&t.login)).is_err() {
        return;
    }
    let mut i = 0u64;
    let mut batch = BytesMut::with_capacity(64 * 1024);
    let mut reply = String::new();
    while !stop.load(Ordering::Relaxed) {
        batch.clear();
        for _ in 0..500 {
            i += 1;
            reply.clear();
            let _ = write!(reply, "_INBOX.flood.{i}");
            encode_pub(&mut batch, b"svc.req", Some(reply.as_bytes()), b"hi");
        }
        if s.write_all(&batch).is_err() {
            break;
        }
        ops.fetch_add(500, Ordering::Relaxed);
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    if let Some(r) = reader {
        let _ = r.join();
    }
}
