//! `--signal ldm|stop|quit|term|reopen|reload[=PID|=PIDFILE]`: signal a running rnats-server.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};

fn signal_for(command: &str) -> Result<Signal> {
    Ok(match command {
        "stop" => Signal::KILL,
        "quit" => Signal::INT,
        "term" => Signal::TERM,
        "reopen" => Signal::USR1,
        "reload" => Signal::HUP,
        "ldm" => Signal::USR2,
        other => bail!("unknown signal {other:?}"),
    })
}

/// Sends the signal named in `spec` (`reload`, `reload=1234`, `reload=/run/rnats.pid`).
/// Without a pid, the pid file given with `-P` is read, else every running rnats-server is found.
pub(crate) fn send(spec: &str, pid_file: Option<&Path>) -> Result<()> {
    let (command, target) = match spec.split_once('=') {
        Some((c, t)) => (c, Some(t)),
        None => (spec, None),
    };
    let signal = signal_for(command)?;
    let pids = match target {
        Some(t) => vec![resolve(t)?],
        None => match pid_file {
            Some(path) => vec![read_pid_file(path)?],
            None => find_running()?,
        },
    };
    for pid in pids {
        let p = Pid::from_raw(pid).with_context(|| format!("invalid pid {pid}"))?;
        kill_process(p, signal)
            .map_err(std::io::Error::from)
            .with_context(|| format!("signal {command:?} {pid}"))?;
    }
    Ok(())
}

fn resolve(target: &str) -> Result<i32> {
    match target.parse::<i32>() {
        Ok(pid) => Ok(pid),
        Err(_) => read_pid_file(Path::new(target)),
    }
}

fn read_pid_file(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read pid file {}", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("invalid pid in {}", path.display()))
}

/// Every process named `rnats-server` other than this one.
fn find_running() -> Result<Vec<i32>> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .context("could not list processes")?
        .flatten()
    {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm"))
            && comm.trim_end() == "rnats-server"
        {
            pids.push(pid);
        }
    }
    match pids.len() {
        0 => bail!("no rnats-server processes running"),
        1 => Ok(pids),
        _ => bail!(
            "multiple rnats-server processes running:\n{}",
            pids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(signal_for("reload").unwrap(), Signal::HUP);
        assert_eq!(signal_for("ldm").unwrap(), Signal::USR2);
        assert!(signal_for("bogus").is_err());
        assert!(send("reload=notapidfile-xyz", None).is_err());
    }
}
