//! nats-server's command line, parsed the way Go's `flag` package does: `-p 4222`, `--port 4222`,
//! `-p=4222`, `--port=4222`; boolean flags take no value (`-D`, or `-D=false`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// What the command line asked for.
#[derive(Debug, Default)]
pub(crate) struct Cli {
    pub(crate) host: Option<String>,
    /// `-p`: `Some(0)` is a random port (nats-server's `-1`).
    pub(crate) port: Option<u16>,
    pub(crate) server_name: Option<String>,
    pub(crate) pid_file: Option<PathBuf>,
    pub(crate) config: Option<PathBuf>,
    pub(crate) check_config: bool,
    pub(crate) signal: Option<String>,
    pub(crate) ports_file_dir: Option<PathBuf>,
    pub(crate) log_file: Option<PathBuf>,
    pub(crate) logtime: Option<bool>,
    pub(crate) debug: Option<bool>,
    pub(crate) trace: Option<bool>,
    pub(crate) jetstream: bool,
    pub(crate) store_dir: Option<PathBuf>,
    pub(crate) user: Option<String>,
    pub(crate) pass: Option<String>,
    pub(crate) token: Option<String>,
    /// `--tls`, `--tlsverify`: turn TLS on (and client certificate verification).
    pub(crate) tls: bool,
    pub(crate) tls_verify: bool,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) tls_ca: Option<PathBuf>,
    pub(crate) help: bool,
    pub(crate) version: bool,
    /// `-m`/`--http_port`: the monitoring port (`Some(None)`: `0`, off).
    pub(crate) http_port: Option<Option<u16>>,
    /// `-ms`/`--https_port`: the HTTPS monitoring port.
    pub(crate) https_port: Option<Option<u16>>,
    /// Flags accepted for compatibility that change nothing yet, with a warning each.
    pub(crate) ignored: Vec<String>,
    /// Flags naming features rnats does not have yet: start-up refuses them.
    pub(crate) unsupported: Vec<String>,
}

enum Kind {
    Bool,
    Value,
}

/// A monitoring port flag as nats-server reads it: `0` is off, `-1` a free port.
fn monitor_port(name: &str, value: &str) -> Result<Option<u16>> {
    let port: i64 = value
        .parse()
        .with_context(|| format!("invalid value {value:?} for flag -{name}"))?;
    match port {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        p => u16::try_from(p).map(Some).map_err(|_| {
            anyhow::anyhow!("invalid value {value:?} for flag -{name}: port {p} is out of range")
        }),
    }
}

fn kind(name: &str) -> Option<Kind> {
    use Kind::{Bool, Value};
    Some(match name {
        "a" | "addr" | "net" | "p" | "port" | "n" | "name" | "server_name" | "P" | "pid" | "m"
        | "http_port" | "ms" | "https_port" | "c" | "config" | "sl" | "signal"
        | "client_advertise" | "ports_file_dir" | "l" | "log" | "r" | "remote_syslog"
        | "log_size_limit" | "max_traced_msg_len" | "sd" | "store_dir" | "user" | "pass"
        | "auth" | "tlscert" | "tlskey" | "tlscacert" | "routes" | "cluster" | "cluster_name"
        | "no_advertise" | "cluster_advertise" | "connect_retries" | "cluster_listen"
        | "profile" => Value,
        "t" | "T" | "logtime" | "logtime_utc" | "s" | "syslog" | "D" | "debug" | "V" | "trace"
        | "VV" | "DV" | "DVV" | "js" | "jetstream" | "tls" | "tlsverify" | "h" | "help" | "v"
        | "version" | "help_tls" => Bool,
        _ => return None,
    })
}

impl Cli {
    pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut cli = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                // As Go's flag package: the first non-flag ends the flags; nats-server then
                // takes `version` and `help` as commands.
                match arg.as_str() {
                    "version" => cli.version = true,
                    "help" => cli.help = true,
                    other => bail!("unrecognized command: {other:?}"),
                }
                break;
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (flag, None),
            };
            let Some(k) = kind(name) else {
                bail!("flag provided but not defined: -{name}");
            };
            let value = match k {
                Kind::Value => match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .with_context(|| format!("flag needs an argument: -{name}"))?,
                },
                Kind::Bool => match inline.as_deref() {
                    None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => "true".into(),
                    Some("false" | "0" | "f" | "F" | "FALSE" | "False") => "false".into(),
                    Some(v) => bail!("invalid boolean value {v:?} for -{name}"),
                },
            };
            cli.apply(name, value)?;
        }
        Ok(cli)
    }

    fn apply(&mut self, name: &str, value: String) -> Result<()> {
        let on = value == "true";
        match name {
            "a" | "addr" | "net" => self.host = Some(value),
            "p" | "port" => {
                let port: i64 = value
                    .parse()
                    .with_context(|| format!("invalid value {value:?} for flag -{name}"))?;
                self.port = Some(match port {
                    -1 => 0,
                    // nats-server treats 0 as "the default port".
                    0 => 4222,
                    p => u16::try_from(p).map_err(|_| {
                        anyhow::anyhow!(
                            "invalid value {value:?} for flag -{name}: port {p} is out of range"
                        )
                    })?,
                });
            }
            "n" | "name" | "server_name" => self.server_name = Some(value),
            "P" | "pid" => self.pid_file = Some(value.into()),
            "c" | "config" => self.config = Some(value.into()),
            "t" => self.check_config = on,
            "sl" | "signal" => self.signal = Some(value),
            "ports_file_dir" => self.ports_file_dir = Some(value.into()),
            "l" | "log" => self.log_file = Some(value.into()),
            "T" | "logtime" => self.logtime = Some(on),
            "D" | "debug" => self.debug = Some(on),
            "V" | "trace" | "VV" => self.trace = Some(on),
            "DV" | "DVV" => {
                self.debug = Some(on);
                self.trace = Some(on);
            }
            "js" | "jetstream" => self.jetstream = on,
            "sd" | "store_dir" => self.store_dir = Some(value.into()),
            "h" | "help" | "help_tls" => self.help = on,
            "v" | "version" => self.version = on,
            "m" | "http_port" => self.http_port = Some(monitor_port(name, &value)?),
            "ms" | "https_port" => self.https_port = Some(monitor_port(name, &value)?),
            "client_advertise" | "log_size_limit" | "max_traced_msg_len" | "profile"
            | "logtime_utc" | "s" | "syslog" | "r" | "remote_syslog" => {
                self.ignored.push(format!("-{name}"))
            }
            "user" => self.user = Some(value),
            "pass" => self.pass = Some(value),
            "auth" => self.token = Some(value),
            "tls" => self.tls = on,
            "tlsverify" => {
                self.tls |= on;
                self.tls_verify = on;
            }
            "tlscert" => self.tls_cert = Some(value.into()),
            "tlskey" => self.tls_key = Some(value.into()),
            "tlscacert" => self.tls_ca = Some(value.into()),
            _ => self
                .unsupported
                .push(format!("--{name} (clustering is not supported yet)")),
        }
        Ok(())
    }
}

pub(crate) const USAGE: &str = "\
Usage: rnats-server [options]
       rnats-server passwd [--argon2] [--cost N]     hash a password read from the terminal or stdin
       rnats-server nkey gen user|account|operator|server
       rnats-server nkey pub <seed>
       rnats-server jwt init [--dir DIR] [--name NAME]   an operator, its system account, server.conf
       rnats-server jwt account [--dir DIR] NAME [--signing-key] [--conn N]
       rnats-server jwt user [--dir DIR] ACCOUNT NAME [--pub S]... [--sub S]... [--bearer] [--expiry SECS]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for any free port)
    -n, --name
        --server_name <server_name>  Server name (default: the server id)
    -P, --pid <file>                 File to store PID
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to rnats-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality (not supported by rnats yet)
    -sd, --store_dir <dir>           Set the storage directory

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli> {
        Cli::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn go_flag_forms() {
        let cli = parse(&[
            "-p",
            "-1",
            "--addr=127.0.0.1",
            "-DV",
            "-P",
            "x.pid",
            "-T=false",
        ])
        .unwrap();
        assert_eq!(cli.port, Some(0));
        assert_eq!(cli.host.as_deref(), Some("127.0.0.1"));
        assert_eq!((cli.debug, cli.trace), (Some(true), Some(true)));
        assert_eq!(cli.pid_file, Some(PathBuf::from("x.pid")));
        assert_eq!(cli.logtime, Some(false));
        assert_eq!(parse(&["--port=0"]).unwrap().port, Some(4222));
    }

    fn error(args: &[&str]) -> String {
        format!("{:#}", parse(args).unwrap_err())
    }

    #[test]
    fn every_flag_error_names_the_flag() {
        assert_eq!(
            error(&["-p", "99999"]),
            "invalid value \"99999\" for flag -p: port 99999 is out of range"
        );
        assert_eq!(
            error(&["--port=-2"]),
            "invalid value \"-2\" for flag -port: port -2 is out of range"
        );
        assert!(error(&["-p", "x"]).starts_with("invalid value \"x\" for flag -p"));
        assert_eq!(error(&["-p"]), "flag needs an argument: -p");
        assert_eq!(
            error(&["-D=maybe"]),
            "invalid boolean value \"maybe\" for -D"
        );
        assert_eq!(error(&["-bogus"]), "flag provided but not defined: -bogus");
    }

    #[test]
    fn version_and_help_commands() {
        assert!(parse(&["version"]).unwrap().version);
        assert!(parse(&["-p", "4222", "help"]).unwrap().help);
        assert_eq!(error(&["foo"]), "unrecognized command: \"foo\"");
    }

    #[test]
    fn errors_and_unsupported() {
        assert!(parse(&["-bogus"]).is_err());
        assert!(parse(&["-p"]).is_err());
        assert!(parse(&["-p", "x"]).is_err());
        let cli = parse(&["--tls", "--routes", "nats://a:1", "-m", "8222", "-ms", "-1"]).unwrap();
        assert!(cli.tls);
        assert_eq!(cli.unsupported.len(), 1);
        assert!(cli.ignored.is_empty());
        assert_eq!(cli.http_port, Some(Some(8222)));
        assert_eq!(cli.https_port, Some(Some(0)));
        assert!(parse(&["-m", "70000"]).is_err());
    }
}
