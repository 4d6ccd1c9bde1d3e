//! Repository checks: every crate has a README and a crate-level example; libraries do not print;
//! every crate keeps to its allowed dependencies (`deps`), so the protocol crate stays sans-IO;
//! nothing reads outside the checkout.

use std::path::Path;

use anyhow::Result;

const LIBRARY_CRATES: &[&str] = &[
    "protocol",
    "sublist",
    "config-parser",
    "tls",
    "auth-core",
    "jwt-resolver",
    "broker",
];

/// The broker's rooms stay small enough to read in one sitting: a file past this many lines is
/// doing more than one job and should be split (docs/ARCHITECTURE.md maps the rooms).
const BROKER_FILE_MAX_LINES: usize = 650;

/// The only file allowed `unsafe` (the workspace denies it everywhere else): setting glibc's
/// allocator thresholds, with its proof in a SAFETY comment and its benchmark in the docs.
const UNSAFE_ALLOWED: &str = "crates/server-bin/src/malloc.rs";

/// Returns one line per problem.
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for krate in LIBRARY_CRATES {
        let dir = root.join("crates").join(krate);
        if !dir.join("README.md").exists() {
            problems.push(format!("crates/{krate}: no README.md"));
        }
        let lib = std::fs::read_to_string(dir.join("src/lib.rs"))?;
        if !lib.contains("```") {
            problems.push(format!("crates/{krate}/src/lib.rs: no crate-level example"));
        }
        for file in rust_files(&dir.join("src"))? {
            let text = std::fs::read_to_string(&file)?;
            for (i, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                if code.contains("println!(")
                    || code.contains("eprintln!(")
                    || code.contains("dbg!(")
                {
                    problems.push(format!(
                        "{}:{}: printing in a library",
                        file.display(),
                        i + 1
                    ));
                }
            }
        }
    }
    for file in rust_files(&root.join("crates/broker/src"))? {
        let lines = std::fs::read_to_string(&file)?.lines().count();
        if lines > BROKER_FILE_MAX_LINES {
            problems.push(format!(
                "{}: {lines} lines, over {BROKER_FILE_MAX_LINES}: split it into rooms with one job",
                file.display()
            ));
        }
    }
    for dir in ["crates", "benches", "xtask"] {
        for file in rust_files(&root.join(dir))? {
            let rel = file.strip_prefix(root).unwrap_or(&file);
            if rel == Path::new(UNSAFE_ALLOWED) {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            // Split so this file does not match itself.
            let (block, allow) = (
                ["unsafe", " {"].concat(),
                ["allow(", "unsafe_code"].concat(),
            );
            if text.lines().any(|l| {
                let code = l.trim_start();
                !code.starts_with("//") && (code.contains(&block) || code.contains(&allow))
            }) {
                problems.push(format!(
                    "{}: `unsafe` outside {UNSAFE_ALLOWED}",
                    rel.display()
                ));
            }
        }
    }
    // The crate graph (also keeps the protocol crate free of tokio: sans-IO).
    problems.extend(crate::deps::check(root)?);
    problems.extend(outside_paths(root)?);
    Ok(problems)
}

/// The project stands alone: no source, manifest or script names a folder beside the checkout
/// or an absolute path of some machine. (The patterns are split so this file does not match.)
fn outside_paths(root: &Path) -> Result<Vec<String>> {
    let patterns: Vec<String> = [
        ["../sha", "red"],
        ["shared/fix", "tures"],
        ["/wo", "rk/"],
        ["/ho", "me/"],
        ["/ro", "ot/"],
    ]
    .iter()
    .map(|p| p.concat())
    .collect();
    let mut files = Vec::new();
    for dir in ["crates", "benches", "xtask", "fuzz", ".ci", ".cargo"] {
        let dir = root.join(dir);
        if dir.is_dir() {
            files.extend(source_files(&dir)?);
        }
    }
    files.push(root.join("Cargo.toml"));
    let mut problems = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some(p) = patterns.iter().find(|p| line.contains(p.as_str())) {
                problems.push(format!(
                    "{}:{}: names a path outside the checkout ({p})",
                    file.display(),
                    i + 1
                ));
            }
        }
    }
    Ok(problems)
}

/// Sources, manifests and scripts under `dir`, skipping build output.
fn source_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | "corpus" | "artifacts") {
                out.extend(source_files(&path)?);
            }
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "toml" || e == "sh")
            || name == "run"
        {
            out.push(path);
        }
    }
    Ok(out)
}

fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn repository_is_tidy() {
        let problems = super::check(&crate::project_root()).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
