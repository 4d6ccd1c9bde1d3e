//! `rnats-server passwd`, `rnats-server nkey` and `rnats-server jwt`: the small tools operators
//! need next to a config.

use std::io::{BufRead, IsTerminal, Write};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs a tool when `args` names one; `None` when the arguments are for the server.
pub(crate) fn run(args: &[String]) -> Option<Result<()>> {
    match args.first().map(String::as_str) {
        Some("passwd") => Some(passwd(&args[1..])),
        Some("nkey") => Some(nkey(&args[1..])),
        Some("jwt") => Some(crate::jwt_tools::run(&args[1..])),
        _ => None,
    }
}

#[allow(clippy::print_stdout)] // reason: the hash is the tool's output
fn passwd(args: &[String]) -> Result<()> {
    let mut argon2 = false;
    let mut cost = 11u32;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--argon2" => argon2 = true,
            "--cost" => {
                cost = it
                    .next()
                    .context("--cost needs a number")?
                    .parse()
                    .context("--cost")?;
            }
            other => bail!(
                "unknown argument {other:?}: usage: rnats-server passwd [--argon2] [--cost N]"
            ),
        }
    }
    let password = read_password()?;
    if password.is_empty() {
        bail!("empty password");
    }
    let hash = if argon2 {
        rnats_auth::hash_password_argon2(&password).map_err(anyhow::Error::msg)?
    } else {
        rnats_auth::hash_password_bcrypt(&password, cost).map_err(anyhow::Error::msg)?
    };
    println!("{hash}");
    Ok(())
}

/// From a terminal: prompted twice with echo off. Otherwise: the first line of standard input.
#[allow(clippy::print_stderr)] // reason: prompts go to the terminal, not to the output
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let echo = |on: bool| {
        let _ = Command::new("stty")
            .arg(if on { "echo" } else { "-echo" })
            .status();
    };
    let ask = |prompt: &str| -> Result<String> {
        eprint!("{prompt}");
        std::io::stderr().flush().ok();
        echo(false);
        let mut line = String::new();
        let read = stdin.lock().read_line(&mut line);
        echo(true);
        eprintln!();
        read.context("reading the password")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let first = ask("Enter Password: ")?;
    let second = ask("Reenter Password: ")?;
    if first != second {
        bail!("passwords do not match");
    }
    Ok(first)
}

#[allow(clippy::print_stdout)] // reason: keys are the tool's output
fn nkey(args: &[String]) -> Result<()> {
    match (
        args.first().map(String::as_str),
        args.get(1).map(String::as_str),
    ) {
        (Some("gen"), Some(kind)) => {
            let pair = match kind {
                "user" => nkeys::KeyPair::new_user(),
                "account" => nkeys::KeyPair::new_account(),
                "operator" => nkeys::KeyPair::new_operator(),
                "server" => nkeys::KeyPair::new_server(),
                other => bail!("unknown key type {other:?}: user, account, operator or server"),
            };
            println!("{}", pair.seed().map_err(|e| anyhow::anyhow!("{e}"))?);
            println!("{}", pair.public_key());
            Ok(())
        }
        (Some("pub"), Some(seed)) => {
            // The decoder's own error chain says nothing a user can act on (and a seed is a
            // secret: it is never echoed).
            let pair = nkeys::KeyPair::from_seed(seed.trim())
                .map_err(|_| anyhow::anyhow!("the argument is not a valid NKey seed"))?;
            println!("{}", pair.public_key());
            Ok(())
        }
        _ => bail!("usage: rnats-server nkey gen user|account|operator|server | nkey pub <seed>"),
    }
}
