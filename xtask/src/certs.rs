//! `cargo xtask certs [DIR]`: throwaway TLS material for trying rnats (or nats-server) with
//! TLS and mTLS, written by `rnats_tls::testcerts` (default `target/certs`). Nothing written
//! here is secret or meant to be committed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use rnats_tls::testcerts::{self, Ca};

/// Writes the set into `dir` (relative paths are taken from the repository root), plus an RSA
/// server variant when the `openssl` tool is there to make the key (ring cannot).
pub(crate) fn run(root: &Path, dir: Option<&str>) -> Result<()> {
    let dir = dir.map_or_else(|| root.join("target/certs"), PathBuf::from);
    let dir = if dir.is_absolute() {
        dir
    } else {
        root.join(dir)
    };
    let ca = Ca::new("rnats test CA")?;
    let files = testcerts::write_set(&ca, &dir)
        .with_context(|| format!("writing certificates into {}", dir.display()))?;
    let mut written = files.written;
    match rsa_variant(&ca, &dir) {
        Ok(mut more) => written.append(&mut more),
        Err(e) => eprintln!("note: no RSA server variant ({e:#})"),
    }
    for path in &written {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `server-rsa.pem`/`server-rsa-key.pem`, signed by the CA in `dir`.
fn rsa_variant(ca: &Ca, dir: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .context("running openssl")?;
    anyhow::ensure!(out.status.success(), "openssl genpkey failed");
    let key_pem = String::from_utf8(out.stdout).context("openssl output")?;
    let pair = ca.issue_for_key_pem(&key_pem, &rcgen::PKCS_RSA_SHA256)?;
    let cert = dir.join("server-rsa.pem");
    let key = dir.join("server-rsa-key.pem");
    std::fs::write(&cert, pair.cert_pem)?;
    std::fs::write(&key, pair.key_pem)?;
    Ok(vec![cert, key])
}
