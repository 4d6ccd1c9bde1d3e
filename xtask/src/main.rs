//! `cargo xtask <task>`: developer automation for rnats, in Rust (the rust-analyzer way).
//!
//! - `ci`     — exactly what `.ci/run` runs.
//! - `tidy`   — the repository checks (also run as tests: `cargo test -p xtask`).
//! - `fuzz T` — `cargo fuzz run T` for a target in `fuzz/` (needs cargo-fuzz and nightly).
//! - `certs [DIR]` — throwaway CA, server and client certificates (default `target/certs`).
//! - `soak [--minutes N]` — a long mixed run against rnats-server; fails on lost messages or on
//!   memory, file descriptors or threads that do not come back (see `soak.rs`).
//! - `bench`  — rnats against nats-server 2.15.1, written up in `docs/benchmarks.md` (`--quick`,
//!   `--criterion` for the micro-benchmarks; see `bench.rs`).

mod bench;
mod certs;
mod deps;
mod soak;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("ci") => run(&root, "bash", &[".ci/run"]),
        Some("tidy") => {
            let problems = tidy::check(&root)?;
            if problems.is_empty() {
                Ok(())
            } else {
                bail!("tidy found problems:\n{}", problems.join("\n"))
            }
        }
        Some("fuzz") => {
            let target = args.get(1).context("usage: cargo xtask fuzz <target>")?;
            let corpus = format!("fuzz/corpus/{target}");
            let seeds = format!("fuzz/seeds/{target}");
            std::fs::create_dir_all(root.join(&corpus))?;
            run(
                &root,
                "cargo",
                &["+nightly", "fuzz", "run", target, &corpus, &seeds],
            )
        }
        Some("bench") => bench::run(&root, &args[1..]),
        Some("soak") => soak::run(&root, &args[1..]),
        Some("certs") => certs::run(&root, args.get(1).map(String::as_str)),
        _ => bail!("usage: cargo xtask ci | tidy | fuzz <target> | bench | soak | certs"),
    }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("could not run {program}"))?;
    if !status.success() {
        bail!("{program} {} failed: {status}", args.join(" "));
    }
    Ok(())
}

/// `cargo build --release` of the given `(package, binary)` pairs.
pub(crate) fn build_release(root: &Path, bins: &[(&str, &str)]) -> Result<()> {
    let mut args = vec!["build", "--release"];
    for (package, bin) in bins {
        args.extend(["-p", package, "--bin", bin]);
    }
    run(root, "cargo", &args)
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, relative to the root, or `target`).
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |t| root.join(t))
}

pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
