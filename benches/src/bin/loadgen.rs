//! `loadgen`: whole-server load for rnats and nats-server alike, over raw NATS protocol.
//!
//! ```text
//! loadgen --url 127.0.0.1:4222 --scenario NAME [--payload BYTES] [--msgs N] [--pubs N]
//!         [--subs K] [--seconds S] [--conns C] [--server-pid PID] [--auth SPEC]
//!         [--window BYTES] [--rate MSGS_PER_SEC] [--tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-resume true] [--tls-verify false]]
//! ```
//!
//! One thread, one `mio::Poll`, pipelined writes, and `rnats-protocol`'s server-op parser (no
//! copy, no allocation per message) and client-op encoders, so the tool costs as little as it can. Every scenario stops after a bounded count or `--seconds`, whichever comes
//! first, and prints exactly one JSON line to stdout (`"timed_out":true` if the clock won).
//!
//! Scenarios:
//! - `pub`: `--pubs` publishers, no subscribers; ends when every publisher's final PING is answered.
//! - `pubsub`: one publisher → one subscriber; counts what the subscriber receives.
//! - `fanout`: one publisher → `--subs` subscribers; the rate is deliveries in total per second.
//! - `queue`: one publisher → `--subs` members of one queue group; every payload carries its
//!   sequence number and each must arrive exactly once (`duplicates`, `lost`).
//! - `reqrep`: sequential request/reply; latency percentiles in microseconds.
//! - `connect`: INFO → CONNECT → PING → PONG handshakes, first one at a time, then `--conns` at
//!   once, with `--auth none|token:SECRET|user:NAME:PASS|nkey:SEED|creds:FILE` (`creds`: a
//!   user JWT and its seed, operator mode).
//! - `idle`: `--conns` idle connections with one SUB each; server VmRSS per connection.
//! - `subs`: time to add `--subs` (default 100 000) subscriptions on distinct subjects, then the
//!   pubsub rate with the publisher cycling over all of those subjects.
//! - `hostile`: `reqrep` by a well-behaved client while `--attack KIND` runs on other threads
//!   (`subflood`, `slowloris`, `noconnect`, `loginflood`, `importflood`, or `none` for the
//!   baseline; see `loadgen/attack.rs`), logged in as `--attack-auth user:NAME:PASS` where the
//!   attack logs in. Adds `attack_ops`, what the attack got done.
//!
//! `--tls-ca` makes every connection (in every scenario) start TLS after the server's plain-text
//! INFO, trusting that CA (PEM) and checking the certificate against the `--url` host (an IP or
//! `localhost`); `--tls-cert`/`--tls-key` add a client certificate. Each handshake is a full one,
//! without session resumption, unless `--tls-resume true`: then connections after the first
//! resume with the server's session tickets. `--tls-verify false` takes the certificate and
//! handshake-signature checks out of the client (for `connect` rows: the client's ECDSA
//! verification costs more than the server's signing, so with it the client, not the server,
//! bounds the handshake rate). The scenarios then run unchanged inside TLS.
//!
//! Flow control is the same for both servers: a publisher never has more than `--window` bytes
//! (default [`INFLIGHT_BYTES`]) of messages that a subscriber has not yet read, far below the
//! 64 MiB at which both servers close a slow consumer. `--window 0` takes that away: the
//! publisher writes as fast as the server reads, and only the server's own flow control stands
//! between it and its subscribers (a server without it drops them as slow consumers, which
//! shows as `lost`).
//!
//! `--rate N` paces the publishers to N messages per second in all (latency at a steady,
//! unsaturated load).
//!
//! The throughput scenarios with subscribers also report latency under that load: each payload
//! of at least 16 bytes carries the time it was queued for writing (bytes 8..16), and the
//! subscriber side samples receive − send (`p50_us`, `p99_us`, `max_us`). Only loopback
//! addresses are accepted.

// A crate root's modules would sit beside it in src/bin/, where cargo would take them for binaries.
#[path = "loadgen/attack.rs"]
mod attack;
#[path = "loadgen/net.rs"]
mod net;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rnats_protocol::{
    ConnectOptions, PING, ServerInfo, ServerOp, encode_connect, encode_pub, encode_sub,
};
use rustls_pki_types::ServerName;
use serde_json::{Map, Value, json};

use crate::net::{ConnId, Net, TlsClient};

pub(crate) type Error = Box<dyn std::error::Error>;
pub(crate) type Result<T> = std::result::Result<T, Error>;

/// The most payload bytes a publisher may have sent beyond what the slowest subscriber read.
const INFLIGHT_BYTES: u64 = 8 * 1024 * 1024;
/// Deliveries timed per throughput run (at most about this many).
const LATENCY_SAMPLES: u64 = 200_000;
/// Stop filling a connection's write buffer past this; write it out first.
const WRITE_BATCH: usize = 256 * 1024;
/// Longest single wait in `poll`, so the deadline is checked often enough.
const POLL_SLICE: Duration = Duration::from_millis(50);

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Args::parse(&args).and_then(|a| run(&a)) {
        Ok(line) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{line}").is_err() {
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<Value> {
    let mut report = match args.scenario.as_str() {
        "pub" | "pubsub" | "fanout" | "queue" => flow_scenario(args)?,
        "reqrep" => reqrep(args)?,
        "connect" => connect(args)?,
        "idle" => idle(args)?,
        "subs" => subs(args)?,
        "hostile" => hostile(args)?,
        other => {
            return Err(format!(
                "unknown scenario {other:?} (pub, pubsub, fanout, queue, reqrep, connect, idle, subs, hostile)"
            )
            .into());
        }
    };
    // `scenario` first, for people reading the lines.
    let mut line = Map::new();
    line.insert("scenario".into(), json!(args.scenario));
    line.append(&mut report);
    Ok(Value::Object(line))
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Args {
    addr: SocketAddr,
    scenario: String,
    payload: usize,
    msgs: Option<u64>,
    pubs: usize,
    subs: Option<usize>,
    seconds: f64,
    conns: usize,
    server_pid: Option<u32>,
    auth: Auth,
    tls: Option<TlsClient>,
    attack: String,
    /// CONNECT fields the attack logs in with.
    attack_login: String,
    /// Unread bytes a publisher may have ahead of the slowest subscriber; 0: no limit.
    window: u64,
    /// `--rate`: messages per second in all, evenly paced; 0: as fast as allowed.
    rate: u64,
}

impl Args {
    fn parse(argv: &[String]) -> Result<Self> {
        let mut values = HashMap::new();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("unexpected argument {flag:?}").into());
            };
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_owned(), value.clone());
        }
        let mut take = |name: &str| values.remove(name);
        let url = take("url").unwrap_or_else(|| "127.0.0.1:4222".into());
        let scenario = take("scenario").ok_or("--scenario is required")?;
        let resume = match take("tls-resume").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!("--tls-resume takes true or false, not {other:?}").into());
            }
        };
        let verify = match take("tls-verify").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(format!("--tls-verify takes true or false, not {other:?}").into());
            }
        };
        let tls = match (take("tls-ca"), take("tls-cert"), take("tls-key")) {
            (None, None, None) => None,
            (Some(ca), cert, key) => {
                let client_auth = match (&cert, &key) {
                    (Some(c), Some(k)) => Some((Path::new(c), Path::new(k))),
                    (None, None) => None,
                    _ => return Err("--tls-cert and --tls-key go together".into()),
                };
                Some(TlsClient::new(
                    Path::new(&ca),
                    client_auth,
                    server_name(&url)?,
                    resume,
                    verify,
                )?)
            }
            _ => return Err("--tls-cert and --tls-key need --tls-ca".into()),
        };
        if tls.is_none() && url.starts_with("tls://") {
            return Err(format!("--url {url:?} asks for TLS: give --tls-ca").into());
        }
        let args = Self {
            addr: resolve(&url)?,
            scenario,
            payload: number(take("payload"), "payload")?.unwrap_or(128),
            msgs: number(take("msgs"), "msgs")?,
            pubs: number(take("pubs"), "pubs")?.unwrap_or(1),
            subs: number(take("subs"), "subs")?,
            seconds: number(take("seconds"), "seconds")?.unwrap_or(10.0),
            conns: number(take("conns"), "conns")?.unwrap_or(1000),
            server_pid: number(take("server-pid"), "server-pid")?,
            window: number(take("window"), "window")?.unwrap_or(INFLIGHT_BYTES),
            rate: number(take("rate"), "rate")?.unwrap_or(0),
            auth: Auth::parse(take("auth").as_deref().unwrap_or("none"))?,
            tls,
            attack: take("attack").unwrap_or_else(|| "none".into()),
            attack_login: match take("attack-auth") {
                None => "\"name\":\"attacker\"".to_owned(),
                Some(spec) => {
                    let (user, pass) = spec
                        .strip_prefix("user:")
                        .and_then(|r| r.split_once(':'))
                        .ok_or("--attack-auth takes user:NAME:PASS")?;
                    json!({ "user": user, "pass": pass })
                        .to_string()
                        .trim_matches(|c| c == '{' || c == '}')
                        .to_owned()
                }
            },
        };
        if let Some(name) = values.keys().next() {
            return Err(format!("unknown flag --{name}").into());
        }
        if args.pubs == 0 || args.conns == 0 || args.seconds.is_nan() || args.seconds <= 0.0 {
            return Err("--pubs, --conns and --seconds must be positive".into());
        }
        Ok(args)
    }

    fn msgs(&self, default: u64) -> u64 {
        self.msgs.unwrap_or(default)
    }

    fn deadline(&self) -> Deadline {
        Deadline(Instant::now() + Duration::from_secs_f64(self.seconds))
    }

    fn net(&self) -> Result<Net> {
        Net::new(self.tls.clone())
    }
}

fn number<T: std::str::FromStr>(value: Option<String>, name: &str) -> Result<Option<T>> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| format!("--{name}: not a number: {v:?}").into())
        })
        .transpose()
}

/// `host:port`, `nats://host:port` or `tls://host:port` (as nats-server writes its ports file
/// when it requires TLS) without the scheme.
fn host_port(url: &str) -> &str {
    url.strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tls://"))
        .unwrap_or(url)
}

/// The `--url` address, which must be a loopback address: this tool floods.
fn resolve(url: &str) -> Result<SocketAddr> {
    let hostport = host_port(url);
    let addr = hostport
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| format!("--url {url:?} resolves to nothing"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("--url {url:?}: loadgen only runs against loopback addresses").into());
    }
    Ok(addr)
}

/// The name the server's certificate must carry: the `--url` host, an IP address or a DNS name.
fn server_name(url: &str) -> Result<ServerName<'static>> {
    let hostport = host_port(url);
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|e| format!("--url {url:?}: {host:?} is no TLS server name: {e}").into())
}

/// What CONNECT carries to authenticate.
enum Auth {
    None,
    Token(String),
    User {
        name: String,
        pass: String,
    },
    Nkey(Box<nkeys::KeyPair>),
    /// A user JWT and the key that signs the nonce (operator mode), from a `.creds` file.
    Jwt {
        jwt: String,
        key: Box<nkeys::KeyPair>,
    },
}

impl Auth {
    fn parse(spec: &str) -> Result<Self> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        Ok(match kind {
            "none" => Self::None,
            "token" => Self::Token(rest.to_owned()),
            "user" => {
                let (name, pass) = rest
                    .split_once(':')
                    .ok_or("--auth user:NAME:PASS needs both")?;
                Self::User {
                    name: name.to_owned(),
                    pass: pass.to_owned(),
                }
            }
            "nkey" => Self::Nkey(Box::new(
                nkeys::KeyPair::from_seed(rest).map_err(|e| format!("--auth nkey: {e}"))?,
            )),
            "creds" => {
                let text = std::fs::read_to_string(rest)
                    .map_err(|e| format!("--auth creds:{rest}: {e}"))?;
                let creds = rnats_jwt::parse_user_creds(&text)
                    .map_err(|e| format!("--auth creds:{rest}: {e}"))?;
                Self::Jwt {
                    key: Box::new(creds.seed.key_pair()?),
                    jwt: creds.jwt,
                }
            }
            _ => {
                return Err(
                    format!("--auth {kind:?}: none, token:, user:, nkey: or creds:").into(),
                );
            }
        })
    }

    /// The name reported in the JSON line; never the secret.
    fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Token(_) => "token",
            Self::User { .. } => "user",
            Self::Nkey(_) => "nkey",
            Self::Jwt { .. } => "jwt",
        }
    }

    /// Appends `CONNECT {…}\r\n` answering the server's INFO (NKey signs its nonce).
    fn connect(&self, out: &mut BytesMut, info: &ServerInfo, tls: bool) -> Result<()> {
        let mut c = ConnectOptions {
            verbose: false,
            pedantic: false,
            tls_required: tls,
            name: Some("loadgen".into()),
            lang: Some("rust".into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            protocol: 1,
            headers: false,
            no_responders: false,
            ..ConnectOptions::default()
        };
        match self {
            Self::None => {}
            Self::Token(t) => c.auth_token = Some(t.clone()),
            Self::User { name, pass } => {
                c.user = Some(name.clone());
                c.pass = Some(pass.clone());
            }
            Self::Nkey(kp) => {
                let nonce = info.nonce.as_deref().ok_or(
                    "the server's INFO has no nonce: it does not offer NKey authentication",
                )?;
                let sig = kp.sign(nonce.as_bytes())?;
                c.nkey = Some(kp.public_key());
                c.sig = Some(data_encoding::BASE64URL_NOPAD.encode(&sig));
            }
            Self::Jwt { jwt, key } => {
                let nonce = info.nonce.as_deref().ok_or(
                    "the server's INFO has no nonce: it does not offer JWT authentication",
                )?;
                let sig = key.sign(nonce.as_bytes())?;
                c.jwt = Some(jwt.clone());
                c.sig = Some(data_encoding::BASE64URL_NOPAD.encode(&sig));
            }
        }
        encode_connect(out, &c)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Time and connections

#[derive(Clone, Copy)]
struct Deadline(Instant);

impl Deadline {
    fn passed(self) -> bool {
        Instant::now() >= self.0
    }

    /// How long the next poll may wait; an error once the time limit is reached during setup.
    fn slice(self, what: &str) -> Result<Duration> {
        let left = self.0.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("time limit reached while {what}").into());
        }
        Ok(left.min(POLL_SLICE))
    }
}

/// INFO → CONNECT (+ `extra(i)`) → PING → PONG on every connection of `ids`, all at once.
fn handshake(
    net: &mut Net,
    ids: &[ConnId],
    auth: &Auth,
    extra: impl Fn(usize) -> Vec<u8>,
    deadline: Deadline,
) -> Result<()> {
    let index: HashMap<ConnId, usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    let tls = net.is_tls();
    let mut greeted = vec![false; ids.len()];
    let mut left = ids.len();
    while left > 0 {
        net.poll(deadline.slice("connecting")?, |id, op, out| {
            let Some(&i) = index.get(&id) else {
                return Ok(());
            };
            match op {
                ServerOp::Info(info) if !greeted[i] => {
                    greeted[i] = true;
                    auth.connect(out, &info, tls)?;
                    out.extend_from_slice(&extra(i));
                    out.extend_from_slice(PING);
                }
                ServerOp::Pong if greeted[i] => left -= 1,
                _ => {}
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Connects and handshakes `n` connections, `extra(i)` sent after each CONNECT.
fn open(
    net: &mut Net,
    args: &Args,
    n: usize,
    extra: impl Fn(usize) -> Vec<u8>,
    deadline: Deadline,
) -> Result<Vec<ConnId>> {
    let ids = (0..n)
        .map(|_| net.connect(args.addr))
        .collect::<Result<Vec<_>>>()?;
    handshake(net, &ids, &args.auth, extra, deadline)?;
    Ok(ids)
}

fn sub_line(subject: &str, queue: Option<&str>, sid: usize) -> Vec<u8> {
    let mut line = BytesMut::new();
    let sid = sid.to_string();
    encode_sub(
        &mut line,
        subject.as_bytes(),
        queue.map(str::as_bytes),
        sid.as_bytes(),
    );
    line.into()
}

// ---------------------------------------------------------------------------------------------
// Throughput: pub, pubsub, fanout, queue, and the second half of subs

/// How published messages reach subscribers, which decides flow control and the count.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// No subscribers: the server only parses and drops.
    Nobody,
    /// Every subscriber gets every message (pubsub, fanout).
    Everyone,
    /// One queue group: each message goes to exactly one subscriber.
    OneOfGroup,
}

struct Flow {
    pubs: Vec<ConnId>,
    subs: Vec<ConnId>,
    delivery: Delivery,
    /// Messages per publisher.
    per_pub: u64,
    payload: usize,
    /// Subjects published to, in turn.
    subjects: Vec<Vec<u8>>,
    /// `--window`: unread bytes allowed ahead of the slowest subscriber; 0: unlimited.
    window: u64,
    /// `--rate`: messages per second from all publishers together; 0: unpaced.
    rate: u64,
}

struct FlowResult {
    published: u64,
    delivered: u64,
    duplicates: u64,
    /// `None` when the clock stopped the run: what was still in flight is not lost.
    lost: Option<u64>,
    secs: f64,
    timed_out: bool,
    /// Sampled send-to-receive latencies, sorted (empty without subscribers or with payloads
    /// under 16 bytes).
    latencies: Vec<Duration>,
}

fn flow_scenario(args: &Args) -> Result<Map<String, Value>> {
    let deadline = args.deadline();
    let mut net = args.net()?;
    let subject = format!("bench.{}", args.scenario);
    let (delivery, nsubs, queue) = match args.scenario.as_str() {
        "pub" => (Delivery::Nobody, 0, None),
        "pubsub" => (Delivery::Everyone, 1, None),
        "fanout" => (Delivery::Everyone, args.subs.unwrap_or(4), None),
        _ => (
            Delivery::OneOfGroup,
            args.subs.unwrap_or(4),
            Some("workers"),
        ),
    };
    let pubs = if delivery == Delivery::Nobody {
        args.pubs
    } else {
        1
    };
    if delivery == Delivery::OneOfGroup && args.payload < 8 {
        return Err("queue needs --payload of at least 8 bytes for sequence numbers".into());
    }
    let subs = open(
        &mut net,
        args,
        nsubs,
        |_| sub_line(&subject, queue, 1),
        deadline,
    )?;
    let pub_ids = open(&mut net, args, pubs, |_| Vec::new(), deadline)?;
    let msgs = args.msgs(100_000);
    let flow = Flow {
        pubs: pub_ids,
        subs,
        delivery,
        per_pub: msgs.div_ceil(pubs as u64),
        payload: args.payload,
        subjects: vec![subject.into_bytes()],
        window: args.window,
        rate: args.rate,
    };
    let r = run_flow(&mut net, &flow, deadline)?;
    let mut out = throughput_fields(args.payload, &r);
    out.insert("pubs".into(), json!(pubs));
    out.insert("subs".into(), json!(nsubs));
    Ok(out)
}

fn throughput_fields(payload: usize, r: &FlowResult) -> Map<String, Value> {
    let rate = r.delivered as f64 / r.secs;
    let Value::Object(map) = json!({
        "payload": payload,
        "msgs": r.delivered,
        "published": r.published,
        "secs": round3(r.secs),
        "msgs_per_sec": rate.round(),
        "mb_per_sec": round3(rate * payload as f64 / 1e6),
        "duplicates": r.duplicates,
        "lost": r.lost,
        "timed_out": r.timed_out,
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    let mut map = map;
    if !r.latencies.is_empty() {
        let at = |q: f64| {
            let i = ((r.latencies.len() as f64 * q) as usize).min(r.latencies.len() - 1);
            round3(micros(r.latencies[i]))
        };
        map.insert("p50_us".into(), json!(at(0.50)));
        map.insert("p99_us".into(), json!(at(0.99)));
        map.insert("max_us".into(), json!(at(1.0)));
        map.insert("latency_samples".into(), json!(r.latencies.len()));
    }
    map
}

/// Publishes `per_pub` messages from every publisher as fast as flow control allows, counts
/// deliveries, then syncs every subscriber with PING/PONG so nothing is still on its way.
///
/// The clock runs from the first write to the last message received (to the last publisher's
/// final PONG when there are no subscribers).
fn run_flow(net: &mut Net, flow: &Flow, deadline: Deadline) -> Result<FlowResult> {
    let nsubs = flow.subs.len();
    let max_inflight = match flow.window {
        0 => u64::MAX,
        w => (w / (flow.payload as u64 + 64)).max(16),
    };
    let expected = match flow.delivery {
        Delivery::Nobody => 0,
        Delivery::Everyone => flow.per_pub * flow.pubs.len() as u64 * nsubs as u64,
        Delivery::OneOfGroup => flow.per_pub * flow.pubs.len() as u64,
    };
    let role: HashMap<ConnId, Role> = flow
        .pubs
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, Role::Pub(i)))
        .chain(
            flow.subs
                .iter()
                .enumerate()
                .map(|(i, &id)| (id, Role::Sub(i))),
        )
        .collect();
    // Each subject's whole PUB, encoded once; copied per message with its sequence number.
    let messages: Vec<BytesMut> = flow
        .subjects
        .iter()
        .map(|subject| {
            let mut msg = BytesMut::new();
            encode_pub(&mut msg, subject, None, &vec![b'x'; flow.payload]);
            msg
        })
        .collect();

    let mut sent = vec![0u64; flow.pubs.len()];
    let mut pinged = vec![false; flow.pubs.len()];
    let mut final_pong = vec![false; flow.pubs.len()];
    let mut received = vec![0u64; nsubs];
    let mut synced = vec![false; nsubs];
    let mut sync_sent = false;
    let mut seen = match flow.delivery {
        Delivery::OneOfGroup => vec![false; usize::try_from(expected)?],
        _ => Vec::new(),
    };
    let mut duplicates = 0u64;
    let mut next_subject = 0usize;
    // About LATENCY_SAMPLES deliveries are timed, spread evenly over the run.
    let timed = flow.payload >= 16 && expected > 0;
    let sample_every = expected.div_ceil(LATENCY_SAMPLES).max(1);
    let mut latencies: Vec<Duration> = Vec::new();
    let mut delivered_so_far = 0u64;

    let start = Instant::now();
    let mut end = start;
    let mut timed_out = false;
    loop {
        // Publish what flow control allows, at most one batch per publisher per turn.
        let total_sent: u64 = sent.iter().sum();
        let mut room = match flow.delivery {
            Delivery::Nobody => u64::MAX,
            Delivery::Everyone => {
                let slowest = received.iter().copied().min().unwrap_or(0);
                slowest
                    .saturating_add(max_inflight)
                    .saturating_sub(total_sent)
            }
            Delivery::OneOfGroup => (received.iter().sum::<u64>())
                .saturating_add(max_inflight)
                .saturating_sub(total_sent),
        };
        if flow.rate > 0 {
            let due = (start.elapsed().as_secs_f64() * flow.rate as f64) as u64;
            room = room.min(due.saturating_sub(total_sent));
        }
        let mut busy = false;
        for (p, &id) in flow.pubs.iter().enumerate() {
            let conn = net.conn(id)?;
            if !conn.is_writable() {
                continue;
            }
            while sent[p] < flow.per_pub && room > 0 && conn.wbuf.len() < WRITE_BATCH {
                conn.wbuf.extend_from_slice(&messages[next_subject]);
                next_subject = (next_subject + 1) % messages.len();
                // The payload ends two bytes (its CRLF) before the end of what was written.
                let at = conn.wbuf.len() - 2 - flow.payload;
                if flow.payload >= 8 {
                    conn.wbuf[at..at + 8].copy_from_slice(&sent[p].to_le_bytes());
                }
                if timed {
                    let nanos = start.elapsed().as_nanos() as u64;
                    conn.wbuf[at + 8..at + 16].copy_from_slice(&nanos.to_le_bytes());
                }
                sent[p] += 1;
                room -= 1;
                busy = true;
            }
            if sent[p] == flow.per_pub && !pinged[p] {
                // Marks the end of this publisher's stream; answered once all its PUBs are in.
                conn.wbuf.extend_from_slice(PING);
                pinged[p] = true;
            }
            net.flush(id)?;
        }
        if deadline.passed() {
            timed_out = true;
            end = Instant::now();
            break;
        }
        let timeout = match (busy, flow.rate) {
            (true, _) => Duration::ZERO,
            // Paced: back in time for the next message.
            (false, r) if r > 0 => Duration::from_secs_f64(1.0 / r as f64).min(POLL_SLICE),
            (false, _) => POLL_SLICE,
        };
        let mut got = false;
        net.poll(timeout, |id, op, _out| {
            match (role.get(&id), op) {
                (Some(&Role::Sub(s)), ServerOp::Msg { payload, .. }) => {
                    received[s] += 1;
                    got = true;
                    delivered_so_far += 1;
                    if timed
                        && delivered_so_far.is_multiple_of(sample_every)
                        && let Some(sent_at) = payload
                            .get(8..16)
                            .and_then(|b| b.try_into().ok())
                            .map(u64::from_le_bytes)
                    {
                        let now = start.elapsed().as_nanos() as u64;
                        latencies.push(Duration::from_nanos(now.saturating_sub(sent_at)));
                    }
                    if flow.delivery == Delivery::OneOfGroup {
                        let seq = payload
                            .get(..8)
                            .and_then(|b| b.try_into().ok())
                            .map(u64::from_le_bytes)
                            .and_then(|s| usize::try_from(s).ok())
                            .filter(|&s| s < seen.len())
                            .ok_or("queue member received a message with a bad sequence number")?;
                        if std::mem::replace(&mut seen[seq], true) {
                            duplicates += 1;
                        }
                    }
                }
                (Some(&Role::Sub(s)), ServerOp::Pong) => synced[s] = true,
                (Some(&Role::Pub(p)), ServerOp::Pong) => final_pong[p] = true,
                (None, _) => return Err(format!("message on unknown connection {id}").into()),
                _ => {}
            }
            Ok(())
        })?;
        if got {
            end = Instant::now();
        }
        if final_pong.iter().all(|&f| f) {
            if flow.delivery == Delivery::Nobody {
                end = Instant::now();
                break;
            }
            if !sync_sent {
                // Every PUB is routed; a PONG on each subscriber now follows all its MSGs.
                for &id in &flow.subs {
                    net.send(id, PING)?;
                }
                sync_sent = true;
            } else if synced.iter().all(|&s| s) {
                break;
            }
        }
    }
    let published: u64 = sent.iter().sum();
    let delivered: u64 = received.iter().sum();
    let lost = (!timed_out).then(|| match flow.delivery {
        Delivery::Nobody => 0,
        Delivery::Everyone => (published * nsubs as u64).saturating_sub(delivered),
        Delivery::OneOfGroup => published.saturating_sub(delivered - duplicates),
    });
    Ok(FlowResult {
        published,
        delivered: if flow.delivery == Delivery::Nobody {
            published
        } else {
            delivered
        },
        duplicates,
        lost,
        secs: end.duration_since(start).as_secs_f64().max(1e-9),
        timed_out,
        latencies: {
            latencies.sort_unstable();
            latencies
        },
    })
}

#[derive(Clone, Copy)]
enum Role {
    Pub(usize),
    Sub(usize),
}

// ---------------------------------------------------------------------------------------------
// reqrep

/// Requests sent before measuring, so connection set-up and first-use costs stay out.
const REQREP_WARMUP: u64 = 100;

fn reqrep(args: &Args) -> Result<Map<String, Value>> {
    let deadline = args.deadline();
    let mut net = args.net()?;
    let inbox = "_INBOX.loadgen.reply";
    let responder = open(
        &mut net,
        args,
        1,
        |_| sub_line("bench.reqrep", None, 1),
        deadline,
    )?[0];
    let requester = open(&mut net, args, 1, |_| sub_line(inbox, None, 1), deadline)?[0];
    let mut request = BytesMut::new();
    encode_pub(
        &mut request,
        b"bench.reqrep",
        Some(inbox.as_bytes()),
        &vec![b'r'; args.payload],
    );

    let n = args.msgs(10_000);
    let mut latencies = Vec::with_capacity(usize::try_from(n)?);
    let mut timed_out = false;
    let start = Instant::now();
    for i in 0..REQREP_WARMUP + n {
        if deadline.passed() {
            timed_out = true;
            break;
        }
        let t0 = Instant::now();
        net.send(requester, &request)?;
        let mut answered = false;
        while !answered {
            let Ok(slice) = deadline.slice("waiting for a reply") else {
                break;
            };
            net.poll(slice, |id, op, out| {
                if let ServerOp::Msg { reply, payload, .. } = op {
                    if id == responder {
                        let reply = reply.ok_or("request without a reply subject")?;
                        encode_pub(out, reply, None, payload);
                    } else if id == requester {
                        answered = true;
                    }
                }
                Ok(())
            })?;
        }
        if !answered {
            timed_out = true;
            break;
        }
        if i >= REQREP_WARMUP {
            latencies.push(t0.elapsed());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if latencies.is_empty() {
        return Err("no request was answered in time".into());
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        micros(latencies[i])
    };
    let Value::Object(map) = json!({
        "payload": args.payload,
        "msgs": latencies.len(),
        "secs": round3(secs),
        "msgs_per_sec": (latencies.len() as f64 / latencies.iter().sum::<Duration>().as_secs_f64()).round(),
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "max_us": pct(1.0),
        "timed_out": timed_out,
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// hostile

/// The well-behaved client's request/reply while an attack runs (started a second earlier, so
/// it is in full swing when the measurement starts).
fn hostile(args: &Args) -> Result<Map<String, Value>> {
    let target = attack::Target {
        addr: args.addr,
        login: args.attack_login.clone(),
    };
    let running = attack::Attack::start(&args.attack, target)?;
    std::thread::sleep(Duration::from_secs(1));
    let measured = reqrep(args);
    let ops = running.stop();
    let mut map = measured?;
    map.insert("attack".into(), json!(args.attack));
    map.insert("attack_ops".into(), json!(ops));
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// connect

fn connect(args: &Args) -> Result<Map<String, Value>> {
    let deadline = args.deadline();
    let mut net = args.net()?;
    let c = args.conns;

    let mut seq = Vec::with_capacity(c);
    let seq_start = Instant::now();
    for _ in 0..c {
        let t0 = Instant::now();
        let id = net.connect(args.addr)?;
        handshake(&mut net, &[id], &args.auth, |_| Vec::new(), deadline)?;
        seq.push(t0.elapsed());
        net.close(id)?;
    }
    let seq_secs = seq_start.elapsed().as_secs_f64();

    let par_start = Instant::now();
    let ids = open(&mut net, args, c, |_| Vec::new(), deadline)?;
    let par_secs = par_start.elapsed().as_secs_f64();
    for id in ids {
        net.close(id)?;
    }

    seq.sort_unstable();
    let Value::Object(map) = json!({
        "auth": args.auth.kind(),
        "conns": c,
        "secs": round3(seq_secs + par_secs),
        "seq_per_sec": (c as f64 / seq_secs).round(),
        "par_per_sec": (c as f64 / par_secs).round(),
        "seq_p50_us": micros(seq[seq.len() / 2]),
        "seq_p99_us": micros(seq[(seq.len() * 99 / 100).min(seq.len() - 1)]),
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    Ok(map)
}

// ---------------------------------------------------------------------------------------------
// idle

/// Connections handshaking at once while opening many: well under any listen backlog.
const OPEN_BATCH: usize = 200;

fn idle(args: &Args) -> Result<Map<String, Value>> {
    let pid = args.server_pid.ok_or("idle needs --server-pid")?;
    let deadline = args.deadline();
    let mut net = args.net()?;
    let before = vm_rss(pid)?;
    let mut ids = Vec::with_capacity(args.conns);
    while ids.len() < args.conns {
        let first = ids.len();
        let n = OPEN_BATCH.min(args.conns - first);
        let batch = open(
            &mut net,
            args,
            n,
            |i| sub_line(&format!("idle.{}", first + i), None, 1),
            deadline,
        )?;
        ids.extend(batch);
    }
    // Let the server finish whatever it does after the last PONG before reading its memory.
    std::thread::sleep(Duration::from_millis(500));
    let after = vm_rss(pid)?;
    let per_conn = (after as f64 - before as f64) / args.conns as f64;
    let Value::Object(map) = json!({
        "conns": args.conns,
        "rss_before": before,
        "rss_after": after,
        "bytes_per_conn": per_conn.round(),
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    Ok(map)
}

/// Resident memory of a process in bytes, from `/proc/<pid>/status`.
fn vm_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(kib * 1024)
}

// ---------------------------------------------------------------------------------------------
// subs

fn subs(args: &Args) -> Result<Map<String, Value>> {
    let deadline = args.deadline();
    let mut net = args.net()?;
    let n = args.subs.unwrap_or(100_000);
    if n == 0 {
        return Err("--subs must be positive".into());
    }
    let sub = open(&mut net, args, 1, |_| Vec::new(), deadline)?[0];
    let publisher = open(&mut net, args, 1, |_| Vec::new(), deadline)?[0];

    let mut lines = Vec::with_capacity(n * 32);
    for i in 0..n {
        lines.extend_from_slice(&sub_line(&format!("bench.subs.{i}"), None, i + 1));
    }
    lines.extend_from_slice(PING);
    let t0 = Instant::now();
    net.send(sub, &lines)?;
    let mut ponged = false;
    while !ponged {
        net.poll(deadline.slice("subscribing")?, |id, op, _| {
            ponged |= id == sub && op == ServerOp::Pong;
            Ok(())
        })?;
    }
    let sub_secs = t0.elapsed().as_secs_f64();

    let flow = Flow {
        pubs: vec![publisher],
        subs: vec![sub],
        delivery: Delivery::Everyone,
        per_pub: args.msgs(100_000),
        payload: args.payload,
        subjects: (0..n)
            .map(|i| format!("bench.subs.{i}").into_bytes())
            .collect(),
        window: args.window,
        rate: 0,
    };
    let r = run_flow(&mut net, &flow, deadline)?;
    let mut out = throughput_fields(args.payload, &r);
    out.insert("subs".into(), json!(n));
    out.insert("sub_secs".into(), json!(round3(sub_secs)));
    out.insert("subs_per_sec".into(), json!((n as f64 / sub_secs).round()));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_server_names() {
        for url in [
            "127.0.0.1:4222",
            "nats://127.0.0.1:4222",
            "tls://127.0.0.1:4222",
        ] {
            assert_eq!(resolve(url).unwrap(), "127.0.0.1:4222".parse().unwrap());
            assert_eq!(
                server_name(url).unwrap(),
                ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
            );
        }
        assert_eq!(
            server_name("[::1]:4222").unwrap(),
            ServerName::IpAddress(std::net::Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(
            server_name("tls://localhost:4222").unwrap(),
            ServerName::try_from("localhost").unwrap()
        );
        assert!(resolve("192.0.2.1:4222").is_err());
    }

    #[test]
    fn tls_flags_go_together() {
        let parse = |s: &str| {
            let argv: Vec<String> = s.split(' ').map(str::to_owned).collect();
            Args::parse(&argv).err().map(|e| e.to_string())
        };
        let err = |s: &str| parse(s).unwrap_or_default();
        assert!(
            err("--scenario pubsub --tls-cert c.pem --tls-key k.pem").contains("need --tls-ca")
        );
        assert!(err("--scenario pubsub --tls-ca ca.pem --tls-cert c.pem").contains("go together"));
        assert!(err("--scenario pubsub --url tls://127.0.0.1:4222").contains("give --tls-ca"));
        assert!(err("--scenario pubsub --tls-ca /nonexistent/ca.pem").contains("/nonexistent"));
        assert_eq!(parse("--scenario pubsub --url nats://127.0.0.1:4222"), None);
        assert!(err("--scenario connect --tls-verify no").contains("true or false"));
    }
}
