//! `cargo xtask soak [--minutes N] [--no-build]`: a long mixed run against one rnats-server.
//!
//! Publishers with sequence numbers, plain subscribers and a queue group that must see every
//! message exactly once, request/reply, clients that keep reconnecting with every kind of
//! login (plain, bcrypt and argon2id passwords, NKeys, failed logins), SUB/UNSUB churn and a
//! configuration reload every few seconds. At the end the churn stops, and the server's
//! memory, file descriptors and threads must be back near what they were after warm-up, and
//! no message published to a live subscription may be missing. Prints a report; fails if a
//! check does not hold. Only loopback is used.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::StreamExt;

const PUBLISHERS: usize = 4;
const QUEUE_MEMBERS: usize = 3;
/// Messages per second per publisher.
const RATE: u64 = 2_000;
const NKEY_SEED: &str = "SUABB5KGGGOKJXABHLSUUNYG32C442LQMREZALIG2CI7365EDFAUL2DPOM";
const NKEY_PUBLIC: &str = "UCHB7KA5YPFI6F2MGL74QYSVGP225XCNV2UI5SPT47QWMULBBQWQYYHD";
/// bcrypt (cost 11) and argon2id hashes of `secret_password` (as the benchmarks use).
const BCRYPT_HASH: &str = "$2a$11$T54okxe8K9kI77Eio19W1ea9BzuLqBQ6cnyx416zfVDcmDv.wQXJO";
const ARGON2_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$KAzMhCxFbkgXOpE6GLTkew$rWqW3f92L0gaoQeUDL6dH+nOO4vKLjHT47YRXdtQ2jc";
const PASSWORD: &str = "secret_password";

struct Opts {
    minutes: f64,
    no_build: bool,
}

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut opts = Opts {
        minutes: 1.0,
        no_build: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => {
                opts.minutes = it
                    .next()
                    .context("--minutes needs a number")?
                    .parse()
                    .context("--minutes")?;
            }
            "--no-build" => opts.no_build = true,
            other => {
                bail!("unknown argument {other:?}: cargo xtask soak [--minutes N] [--no-build]")
            }
        }
    }
    if !opts.no_build {
        super::build_release(root, &[("rnats-server", "rnats-server")])?;
    }
    let target = super::target_dir(root);
    let dir = target.join("soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(soak(&target.join("release/rnats-server"), &dir, &opts))
}

fn config(generation: u64) -> String {
    format!(
        "# reload generation {generation}\n\
         max_subscriptions: 100000\n\
         authorization {{\n  users = [\n\
         \x20   {{ user: app, password: app }}\n\
         \x20   {{ user: hashed, password: \"{BCRYPT_HASH}\" }}\n\
         \x20   {{ user: argon, password: \"{ARGON2_HASH}\" }}\n\
         \x20   {{ nkey: \"{NKEY_PUBLIC}\" }}\n\
         \x20 ]\n}}\n"
    )
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, dir: &Path, conf: &Path) -> Result<Server> {
    let log = std::fs::File::create(dir.join("server.log"))?;
    let child = Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let ports = dir.join(format!("rnats-server_{}.ports", child.id()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ports)
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(url) = json["nats"][0].as_str()
        {
            return Ok(Server {
                url: url.to_owned(),
                child,
            });
        }
        if Instant::now() > deadline {
            bail!("rnats-server wrote no ports file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// VmRSS (bytes), open file descriptors and threads of the server process.
fn sample(pid: u32) -> Result<(u64, usize, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    Ok((field("VmRSS:") * 1024, fds, field("Threads:")))
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    received: AtomicU64,
    queue_received: AtomicU64,
    requests: AtomicU64,
    logins: AtomicU64,
    failed_logins_refused: AtomicU64,
    churn_subs: AtomicU64,
    reloads: AtomicU64,
    connect_errors: AtomicU64,
    request_errors: AtomicU64,
    publish_errors: AtomicU64,
    bad_login_accepted: AtomicU64,
}

async fn connect(url: &str, kind: usize) -> Result<async_nats::Client, async_nats::ConnectError> {
    let opts = match kind % 4 {
        0 => async_nats::ConnectOptions::with_user_and_password("app".into(), "app".into()),
        1 => async_nats::ConnectOptions::with_user_and_password("hashed".into(), PASSWORD.into()),
        2 => async_nats::ConnectOptions::with_user_and_password("argon".into(), PASSWORD.into()),
        _ => async_nats::ConnectOptions::with_nkey(NKEY_SEED.into()),
    };
    opts.retry_on_initial_connect()
        .max_reconnects(Some(0))
        .connect(url)
        .await
}

async fn soak(bin: &Path, dir: &Path, opts: &Opts) -> Result<()> {
    let conf = dir.join("soak.conf");
    std::fs::write(&conf, config(0))?;
    let server = start(bin, dir, &conf)?;
    let pid = server.child.id();
    let url = server.url.clone();
    let counters = Arc::new(Counters::default());
    let stop_churn = Arc::new(AtomicBool::new(false));
    let stop_pub = Arc::new(AtomicBool::new(false));

    // Live subscriptions: one plain subscriber per publisher subject, and one queue group on
    // all of them. They stay connected for the whole run.
    let mut checkers = Vec::new();
    let sub_client = connect(&url, 0).await?;
    for p in 0..PUBLISHERS {
        let mut sub = sub_client.subscribe(format!("soak.data.{p}")).await?;
        let c = counters.clone();
        checkers.push(tokio::spawn(async move {
            let mut next = 0u64;
            let mut missing = 0u64;
            while let Some(msg) = sub.next().await {
                if msg.payload.as_ref() == b"end" {
                    break;
                }
                let seq: u64 = std::str::from_utf8(&msg.payload)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(u64::MAX);
                if seq > next {
                    missing += seq - next;
                }
                next = seq.saturating_add(1);
                c.received.fetch_add(1, Ordering::Relaxed);
            }
            (next, missing)
        }));
    }
    let queue_client = connect(&url, 3).await?;
    let mut queue_tasks = Vec::new();
    for _ in 0..QUEUE_MEMBERS {
        let mut sub = queue_client
            .queue_subscribe("soak.data.*", "workers".into())
            .await?;
        let c = counters.clone();
        queue_tasks.push(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                if msg.payload.as_ref() != b"end" {
                    c.queue_received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    queue_client.flush().await?;
    sub_client.flush().await?;

    // A responder for request/reply.
    let responder = connect(&url, 1).await?;
    let mut requests = responder.subscribe("soak.rpc").await?;
    responder.flush().await?;
    let responder_task = {
        let r = responder.clone();
        tokio::spawn(async move {
            while let Some(msg) = requests.next().await {
                if let Some(reply) = msg.reply {
                    let _ = r.publish(reply, msg.payload).await;
                }
            }
        })
    };

    // Publishers at a steady rate.
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let client = connect(&url, p).await?;
        let (c, stop) = (counters.clone(), stop_pub.clone());
        publishers.push(tokio::spawn(async move {
            let subject = format!("soak.data.{p}");
            let mut seq = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..RATE / 100 {
                    if client
                        .publish(subject.clone(), seq.to_string().into())
                        .await
                        .is_err()
                    {
                        c.publish_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    seq += 1;
                }
                c.published.fetch_add(RATE / 100, Ordering::Relaxed);
            }
            let _ = client.flush().await;
            let _ = client.publish(subject, "end".into()).await;
            let _ = client.flush().await;
            seq
        }));
    }

    // Churn: reconnecting clients with every login kind, SUB/UNSUB, requests, failed logins.
    let mut churners = Vec::new();
    for w in 0..4usize {
        let (url, c, stop) = (url.clone(), counters.clone(), stop_churn.clone());
        churners.push(tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let Ok(client) = connect(&url, w + round).await else {
                    c.connect_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                c.logins.fetch_add(1, Ordering::Relaxed);
                for i in 0..20 {
                    if let Ok(mut s) = client.subscribe(format!("soak.churn.{w}.{i}")).await {
                        c.churn_subs.fetch_add(1, Ordering::Relaxed);
                        let _ = s.unsubscribe().await;
                    }
                }
                for _ in 0..10 {
                    match tokio::time::timeout(
                        Duration::from_secs(5),
                        client.request("soak.rpc", "ping".into()),
                    )
                    .await
                    {
                        Ok(Ok(_)) => {
                            c.requests.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            c.request_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                drop(client);
                // A failed login now and then (wrong password for the bcrypt user).
                if round.is_multiple_of(5) {
                    let bad = async_nats::ConnectOptions::with_user_and_password(
                        "hashed".into(),
                        "wrong".into(),
                    )
                    .max_reconnects(Some(0))
                    .connect(&url)
                    .await;
                    if bad.is_err() {
                        c.failed_logins_refused.fetch_add(1, Ordering::Relaxed);
                    } else {
                        c.bad_login_accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    // Reloads: a new generation of the same configuration every 5 s.
    let reloader = {
        let (c, stop, conf) = (counters.clone(), stop_churn.clone(), conf.clone());
        tokio::spawn(async move {
            let mut generation = 0;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                generation += 1;
                if std::fs::write(&conf, config(generation)).is_ok() && send_hup(pid) {
                    c.reloads.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    // Warm-up, baseline, then the run.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let baseline = sample(pid)?;
    let started = Instant::now();
    let total = Duration::from_secs_f64(opts.minutes * 60.0);
    let mut peak = baseline;
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let s = sample(pid)?;
        peak = (peak.0.max(s.0), peak.1.max(s.1), peak.2.max(s.2));
        #[allow(clippy::print_stdout)] // reason: progress of a long run
        {
            println!(
                "soak: {:>5.0}s rss {:.1} MiB fds {} threads {} published {} received {} logins {} reloads {} errors connect/request/publish {}/{}/{}",
                started.elapsed().as_secs_f64(),
                s.0 as f64 / 1048576.0,
                s.1,
                s.2,
                counters.published.load(Ordering::Relaxed),
                counters.received.load(Ordering::Relaxed),
                counters.logins.load(Ordering::Relaxed),
                counters.reloads.load(Ordering::Relaxed),
                counters.connect_errors.load(Ordering::Relaxed),
                counters.request_errors.load(Ordering::Relaxed),
                counters.publish_errors.load(Ordering::Relaxed),
            );
        }
    }

    // Stop the churn, then the publishers; every live subscription must have it all.
    stop_churn.store(true, Ordering::Relaxed);
    for t in churners {
        let _ = t.await;
    }
    let _ = reloader.await;
    stop_pub.store(true, Ordering::Relaxed);
    let mut sent = Vec::new();
    for t in publishers {
        sent.push(t.await?);
    }
    let mut lost = 0u64;
    for (p, t) in checkers.into_iter().enumerate() {
        let (next, missing) = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .context("a subscriber never saw its end marker")??;
        lost += missing + sent[p].saturating_sub(next);
    }
    let published: u64 = sent.iter().sum();
    // The queue group has everything once its count reaches what was published (each message
    // goes to exactly one member; a duplicate would overshoot).
    let waited = Instant::now();
    while counters.queue_received.load(Ordering::Relaxed) < published
        && waited.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queue_total = counters.queue_received.load(Ordering::Relaxed);
    for t in queue_tasks {
        t.abort();
    }
    drop(queue_client);
    responder_task.abort();
    drop(responder);
    drop(sub_client);
    // Let closed connections go, then compare with the baseline.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let end = sample(pid)?;
    let c = &counters;
    let report = format!(
        "soak report ({:.0} min)\n\
         published {published}, lost on live subscriptions {lost}, queue group got {queue_total} \
         (exactly once: {})\n\
         requests answered {}, logins {} (plain, bcrypt, argon2id, NKey in turn), failed logins \
         refused {} (accepted: {}), SUB/UNSUB churn {}, reloads {}, client-side errors: connect \
         {}, request {}, publish {}\n\
         server after warm-up: rss {:.1} MiB, fds {}, threads {}\n\
         server peak:          rss {:.1} MiB, fds {}, threads {}\n\
         server at the end:    rss {:.1} MiB, fds {}, threads {}",
        opts.minutes,
        queue_total == published,
        c.requests.load(Ordering::Relaxed),
        c.logins.load(Ordering::Relaxed),
        c.failed_logins_refused.load(Ordering::Relaxed),
        c.bad_login_accepted.load(Ordering::Relaxed),
        c.churn_subs.load(Ordering::Relaxed),
        c.reloads.load(Ordering::Relaxed),
        c.connect_errors.load(Ordering::Relaxed),
        c.request_errors.load(Ordering::Relaxed),
        c.publish_errors.load(Ordering::Relaxed),
        baseline.0 as f64 / 1048576.0,
        baseline.1,
        baseline.2,
        peak.0 as f64 / 1048576.0,
        peak.1,
        peak.2,
        end.0 as f64 / 1048576.0,
        end.1,
        end.2,
    );
    #[allow(clippy::print_stdout)] // reason: the report is the task's output
    {
        println!("{report}");
    }
    std::fs::write(dir.join("report.txt"), &report)?;
    let mut failures = Vec::new();
    if c.bad_login_accepted.load(Ordering::Relaxed) > 0 {
        failures.push("a wrong password was accepted".to_owned());
    }
    if lost > 0 {
        failures.push(format!("{lost} messages lost on live subscriptions"));
    }
    if queue_total != published {
        failures.push(format!(
            "the queue group got {queue_total} of {published} messages"
        ));
    }
    // Near the baseline: fds exactly (the live clients of the baseline are gone, so fewer is
    // fine), memory within 32 MiB (allocator caches), threads within the blocking pool's size.
    if end.1 > baseline.1 {
        failures.push(format!(
            "file descriptors grew: {} -> {}",
            baseline.1, end.1
        ));
    }
    if end.0 > baseline.0 + 32 * 1024 * 1024 {
        failures.push(format!(
            "memory grew: {:.1} -> {:.1} MiB",
            baseline.0 as f64 / 1048576.0,
            end.0 as f64 / 1048576.0
        ));
    }
    if end.2 > baseline.2 + 8 {
        failures.push(format!("threads grew: {} -> {}", baseline.2, end.2));
    }
    drop(server);
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("soak failed: {}", failures.join("; "))
    }
}

/// SIGHUP to the server: a configuration reload.
fn send_hup(pid: u32) -> bool {
    Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}
