//! Records the git commit the broker is built from, for INFO's `git_commit` (as nats-server
//! sends its own). Outside a git checkout (a crates.io build) the field is left out.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RNATS_GIT_COMMIT");
    let commit = std::env::var("RNATS_GIT_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=7", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    // Rebuild when HEAD moves (a new commit or another branch).
    if let Ok(out) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        && out.status.success()
    {
        let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        for file in ["HEAD", "refs/heads", "packed-refs"] {
            let path = dir.join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    let commit = commit
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_default();
    println!("cargo:rustc-env=RNATS_GIT_COMMIT={commit}");
}
