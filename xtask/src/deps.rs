//! The crate graph, enforced: which workspace crates each crate may depend on, which
//! third-party crates it must not, and which edges it must have. Read from
//! `cargo metadata --format-version 1 --no-deps`.
//!
//! Only normal and build dependencies count (optional ones included): they are what a crate
//! brings to whoever depends on it. Dev-dependencies are free, so tests may reach across the
//! graph (the TLS tests feed real certificates to the auth matcher, for instance).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Which workspace crates a crate may depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Internal {
    /// Only these.
    Only(&'static [&'static str]),
    /// Any workspace crate (tools, benches, test helpers).
    Any,
}

/// Which third-party crates a crate may depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum External {
    /// None at all.
    Nothing,
    /// Anything but these.
    AllBut(&'static [&'static str]),
}

/// What one crate may and must depend on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// The package name.
    pub(crate) krate: &'static str,
    pub(crate) internal: Internal,
    pub(crate) external: External,
    /// Workspace crates it must depend on.
    pub(crate) required: &'static [&'static str],
}

/// I/O runtimes and the TLS stack: none of them belongs in a sans-IO or pure-logic crate.
const NO_IO: &[&str] = &["tokio", "tokio-util", "mio", "rustls", "tokio-rustls"];

/// `NO_IO` plus certificate parsing: authentication is string logic over what the broker
/// hands it.
const NO_IO_NO_X509: &[&str] = &[
    "tokio",
    "tokio-util",
    "mio",
    "rustls",
    "tokio-rustls",
    "rustls-pki-types",
    "x509-parser",
    "rcgen",
];

/// The graph. Every workspace crate has a row; a new crate fails tidy until it gets one.
pub(crate) const RULES: &[Rule] = &[
    Rule {
        krate: "rnats-sublist",
        internal: Internal::Only(&[]),
        external: External::Nothing,
        required: &[],
    },
    Rule {
        krate: "rnats-protocol",
        internal: Internal::Only(&[]),
        external: External::AllBut(NO_IO),
        required: &[],
    },
    Rule {
        krate: "rnats-config",
        internal: Internal::Only(&["rnats-sublist"]),
        external: External::AllBut(NO_IO),
        required: &[],
    },
    Rule {
        krate: "rnats-jwt",
        // A NATS JWT library on its own; the subject trie checks overlapping exports.
        internal: Internal::Only(&["rnats-sublist"]),
        external: External::AllBut(NO_IO),
        required: &[],
    },
    Rule {
        krate: "rnats-tls",
        internal: Internal::Only(&["rnats-config"]),
        external: External::AllBut(&["tokio", "tokio-util", "mio", "tokio-rustls"]),
        required: &[],
    },
    Rule {
        krate: "rnats-auth",
        internal: Internal::Only(&["rnats-config", "rnats-jwt", "rnats-sublist"]),
        external: External::AllBut(NO_IO_NO_X509),
        required: &[],
    },
    Rule {
        krate: "rnats-broker",
        internal: Internal::Only(&[
            "rnats-protocol",
            "rnats-sublist",
            "rnats-config",
            "rnats-auth",
            "rnats-jwt",
            "rnats-tls",
        ]),
        external: External::AllBut(&[]),
        required: &[],
    },
    Rule {
        krate: "rnats-server",
        internal: Internal::Only(&["rnats-broker", "rnats-config", "rnats-auth", "rnats-jwt"]),
        external: External::AllBut(&[]),
        required: &[],
    },
    Rule {
        krate: "rnats-test-support",
        internal: Internal::Any,
        external: External::AllBut(&[]),
        required: &["rnats-protocol"],
    },
    Rule {
        krate: "rnats-benches",
        internal: Internal::Any,
        external: External::AllBut(&[]),
        required: &["rnats-protocol"],
    },
    Rule {
        krate: "xtask",
        internal: Internal::Any,
        external: External::AllBut(&[]),
        required: &[],
    },
];

/// Runs `cargo metadata` in `root` and checks the graph against [`RULES`].
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let metadata: Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata output")?;
    check_metadata(&metadata, RULES)
}

/// Checks a `cargo metadata` document against `rules`; one line per problem.
pub(crate) fn check_metadata(metadata: &Value, rules: &[Rule]) -> Result<Vec<String>> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata: no `packages` array")?;
    let workspace: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().context("package without a name")?;
        let Some(rule) = rules.iter().find(|r| r.krate == name) else {
            problems.push(format!(
                "crate {name}: no row in the dependency table (xtask/src/deps.rs)"
            ));
            continue;
        };
        let deps: Vec<&str> = package["dependencies"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .collect();
        for dep in &deps {
            if workspace.contains(dep) {
                if let Internal::Only(allowed) = rule.internal
                    && !allowed.contains(dep)
                {
                    problems.push(format!(
                        "crate {name} depends on {dep}: not an allowed edge (allowed: {})",
                        list(allowed)
                    ));
                }
            } else {
                match rule.external {
                    External::Nothing => problems.push(format!(
                        "crate {name} depends on {dep}: it must have no dependencies"
                    )),
                    External::AllBut(forbidden) if forbidden.contains(dep) => {
                        problems.push(format!(
                            "crate {name} depends on {dep}: forbidden for this crate ({})",
                            list(forbidden)
                        ));
                    }
                    External::AllBut(_) => {}
                }
            }
        }
        for required in rule.required {
            if !deps.contains(required) {
                problems.push(format!(
                    "crate {name} does not depend on {required}: it must use it"
                ));
            }
        }
    }
    Ok(problems)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn package(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(dep, kind)| json!({ "name": dep, "kind": kind, "optional": false }))
            .collect();
        json!({ "name": name, "dependencies": deps })
    }

    const FAKE: &[Rule] = &[
        Rule {
            krate: "leaf",
            internal: Internal::Only(&[]),
            external: External::Nothing,
            required: &[],
        },
        Rule {
            krate: "tls",
            internal: Internal::Only(&["config"]),
            external: External::AllBut(&["tokio"]),
            required: &[],
        },
        Rule {
            krate: "config",
            internal: Internal::Only(&["leaf"]),
            external: External::AllBut(&[]),
            required: &[],
        },
        Rule {
            krate: "auth",
            internal: Internal::Only(&["config"]),
            external: External::AllBut(&["rustls"]),
            required: &[],
        },
        Rule {
            krate: "helper",
            internal: Internal::Any,
            external: External::AllBut(&[]),
            required: &["leaf"],
        },
    ];

    #[test]
    fn a_clean_graph_passes() {
        let metadata = json!({ "packages": [
            package("leaf", &[("proptest", Some("dev"))]),
            package("config", &[("leaf", None), ("serde", None)]),
            package("tls", &[("config", None), ("rustls", None), ("auth", Some("dev"))]),
            package("auth", &[("config", None), ("bcrypt", None), ("rustls", Some("dev"))]),
            package("helper", &[("leaf", None), ("tls", None), ("tokio", None)]),
        ]});
        assert_eq!(
            check_metadata(&metadata, FAKE).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn wrong_edges_are_named() {
        let metadata = json!({ "packages": [
            package("leaf", &[("memchr", None)]),
            package("config", &[("leaf", None)]),
            package("tls", &[("config", None), ("auth", None), ("tokio", Some("build"))]),
            package("auth", &[("config", None), ("rustls", None)]),
            package("helper", &[("tls", None), ("leaf", Some("dev"))]),
            package("stray", &[]),
        ]});
        assert_eq!(
            check_metadata(&metadata, FAKE).unwrap(),
            vec![
                "crate leaf depends on memchr: it must have no dependencies".to_owned(),
                "crate tls depends on auth: not an allowed edge (allowed: config)".to_owned(),
                "crate tls depends on tokio: forbidden for this crate (tokio)".to_owned(),
                "crate auth depends on rustls: forbidden for this crate (rustls)".to_owned(),
                "crate helper does not depend on leaf: it must use it".to_owned(),
                "crate stray: no row in the dependency table (xtask/src/deps.rs)".to_owned(),
            ]
        );
    }

    #[test]
    fn the_workspace_follows_the_table() {
        let problems = check(&crate::project_root()).unwrap();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
