//! `rnats-server`: a NATS-compatible message broker with nats-server's command line.

mod callout_tools;
mod cli;
mod jwt_tools;
mod logging;
mod malloc;
mod signal;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use rnats_broker::{COMPAT_VERSION, Server, ServerConfig};

use crate::cli::Cli;

fn main() -> ExitCode {
    malloc::tune();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Harnesses find the ports file by the name they started the server as (a `nats-server`
    // symlink to rnats-server, say), as nats-server names it after its argv[0].
    let argv0 = std::env::args_os()
        .next()
        .as_deref()
        .and_then(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "rnats-server".to_owned());
    let result = match tools::run(&args) {
        Some(result) => result.map(|()| ExitCode::SUCCESS),
        None => run(args, &argv0),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            #[allow(clippy::print_stderr)] // reason: fatal errors before or outside logging
            {
                eprintln!("rnats-server: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr)] // reason: help, version and -t answers
fn run(args: Vec<String>, argv0: &str) -> Result<ExitCode> {
    let cli = Cli::parse(args)?;
    if cli.help {
        print!("{}", cli::USAGE);
        return Ok(ExitCode::SUCCESS);
    }
    if cli.version {
        println!(
            "rnats-server: v{} (nats-server v{COMPAT_VERSION} compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(spec) = &cli.signal {
        signal::send(spec, cli.pid_file.as_deref())?;
        return Ok(ExitCode::SUCCESS);
    }
    if cli.check_config && cli.config.is_none() {
        bail!("must specify [-c, --config] option to check configuration file syntax");
    }
    let (config, warnings) = load_config(&cli)?;
    if cli.check_config {
        // Everything start-up would refuse, `-t` refuses too (accounts, imports, TLS files).
        let more = rnats_broker::check_config(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
        for w in warnings.iter().chain(&more) {
            eprintln!("rnats-server: warning: {w}");
        }
        if let Some(path) = &cli.config {
            eprintln!(
                "rnats-server: configuration file {} is valid",
                path.display()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !cli.unsupported.is_empty() {
        bail!("not supported by rnats yet: {}", cli.unsupported.join(", "));
    }
    if cli.jetstream {
        bail!("JetStream is not supported by rnats yet: start without -js/--jetstream");
    }
    let log = logging::init(&logging::LogOptions {
        file: config.log_file.as_deref(),
        logtime: config.logtime,
        debug: config.debug,
        trace: config.trace,
    })?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    for flag in &cli.ignored {
        tracing::warn!("flag {flag} is accepted for compatibility but has no effect in rnats yet");
    }
    if let Some(dir) = &cli.store_dir {
        tracing::warn!(
            "store_dir {} noted; JetStream is not supported by rnats yet",
            dir.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the runtime")?;
    runtime.block_on(serve(config, cli, log, argv0))
}

/// The configuration file (if any), then the command line on top, as nats-server does.
fn load_config(cli: &Cli) -> Result<(ServerConfig, Vec<String>)> {
    let (mut config, warnings) = match &cli.config {
        Some(path) => {
            let loaded = rnats_config::load_file(path).map_err(anyhow::Error::msg)?;
            (loaded.config, loaded.warnings)
        }
        None => (ServerConfig::default(), Vec::new()),
    };
    if let Some(host) = &cli.host {
        config.host.clone_from(host);
    }
    if let Some(port) = cli.port {
        config.port = port;
    }
    if let Some(port) = cli.http_port {
        config.http_port = port;
    }
    if let Some(port) = cli.https_port {
        config.https_port = port;
    }
    if let Some(name) = &cli.server_name {
        config.server_name = Some(name.clone());
    }
    if let Some(p) = &cli.pid_file {
        config.pid_file = Some(p.clone());
    }
    if let Some(p) = &cli.ports_file_dir {
        config.ports_file_dir = Some(p.clone());
    }
    if let Some(p) = &cli.log_file {
        config.log_file = Some(p.clone());
    }
    if let Some(v) = cli.logtime {
        config.logtime = v;
    }
    if let Some(v) = cli.debug {
        config.debug = v;
    }
    if let Some(v) = cli.trace {
        config.trace = v;
    }
    if cli.tls || cli.tls_cert.is_some() || cli.tls_key.is_some() || cli.tls_ca.is_some() {
        let tls = config.tls.get_or_insert_default();
        if let Some(p) = &cli.tls_cert {
            tls.cert_file = Some(p.clone());
        }
        if let Some(p) = &cli.tls_key {
            tls.key_file = Some(p.clone());
        }
        if let Some(p) = &cli.tls_ca {
            tls.ca_file = Some(p.clone());
        }
        if cli.tls_verify {
            tls.verify = true;
        }
    }
    if cli.user.is_some() || cli.pass.is_some() || cli.token.is_some() {
        let auth = config.authorization.get_or_insert_default();
        if let Some(user) = &cli.user {
            auth.user = Some(user.clone());
        }
        if let Some(pass) = &cli.pass {
            auth.password = Some(pass.clone());
        }
        if let Some(token) = &cli.token {
            auth.token = Some(token.clone());
        }
    }
    Ok((config, warnings))
}

async fn serve(
    config: ServerConfig,
    cli: Cli,
    log: logging::LogControl,
    argv0: &str,
) -> Result<ExitCode> {
    let pid_file = config.pid_file.clone();
    let tls = config.tls.is_some();
    let ports_dir = config.ports_file_dir.clone();
    let monitor_scheme = if config.https_port.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match Server::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    tracing::info!("Starting rnats-server");
    tracing::info!(
        "  Version:  {} (nats-server {COMPAT_VERSION} compatible)",
        env!("CARGO_PKG_VERSION")
    );
    tracing::info!("  ID:       {}", server.server_id());
    for warning in server.handle().warnings() {
        tracing::warn!("{warning}");
    }
    if let Some(path) = &cli.config {
        tracing::info!("Using configuration file: {}", path.display());
    }
    if let Some(path) = &pid_file {
        // Digits only, no newline: harnesses parse the file as it is.
        std::fs::write(path, std::process::id().to_string())
            .with_context(|| format!("could not write pid file {}", path.display()))?;
    }
    let ports_file = match &ports_dir {
        Some(dir) => Some(write_ports_file(
            dir,
            argv0,
            &client_urls(server.local_addr(), tls),
            &server
                .monitor_addr()
                .map(|a| urls(monitor_scheme, a))
                .unwrap_or_default(),
        )?),
        None => None,
    };
    let handle = server.handle();
    tokio::spawn(handle_signals(handle, cli, log));
    let result = server.run().await;
    if let Some(p) = ports_file {
        let _ = std::fs::remove_file(p);
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The URLs a client on this machine can use: the bound address, or for the wildcard host
/// (bound dual-stack) the loopback addresses of each family; `tls://` when TLS is required.
fn client_urls(addr: std::net::SocketAddr, tls: bool) -> Vec<String> {
    urls(if tls { "tls" } else { "nats" }, addr)
}

/// `scheme://` URLs of a listener on `addr`, as [`client_urls`].
fn urls(scheme: &str, addr: std::net::SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut urls = Vec::new();
    if addr.ip().is_unspecified() {
        urls.push(format!("{scheme}://127.0.0.1:{port}"));
        if addr.is_ipv6() {
            urls.push(format!("{scheme}://[::1]:{port}"));
        }
    } else {
        urls.push(format!("{scheme}://{addr}"));
    }
    urls
}

/// `<dir>/<argv0>_<pid>.ports` holding `{"nats":["nats://host:port", …]}` (and
/// `"monitoring"` when it is on), as nats-server writes it.
fn write_ports_file(
    dir: &Path,
    argv0: &str,
    urls: &[String],
    monitoring: &[String],
) -> Result<PathBuf> {
    let path = dir.join(format!("{argv0}_{}.ports", std::process::id()));
    // "nats" first, as nats-server writes it (harnesses take the first URL).
    let mut json = format!("{{\"nats\":{}", serde_json::json!(urls));
    if !monitoring.is_empty() {
        json.push_str(&format!(
            ",\"monitoring\":{}",
            serde_json::json!(monitoring)
        ));
    }
    json.push('}');
    std::fs::write(&path, json)
        .with_context(|| format!("could not write ports file {}", path.display()))?;
    Ok(path)
}

/// Re-reads the configuration file (flags still win) and applies it; on any error nothing
/// changes and the server keeps running on what it had.
fn reload(handle: &rnats_broker::ServerHandle, cli: &Cli, log: &logging::LogControl) {
    let applied = load_config(cli).and_then(|(config, warnings)| {
        let (debug, trace) = (config.debug, config.trace);
        let changes = handle.reload(config)?;
        Ok((changes, warnings, debug, trace))
    });
    match applied {
        Ok((changes, warnings, debug, trace)) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
            log.set_level(debug, trace);
            for change in changes {
                tracing::info!("Reloaded: {change}");
            }
            tracing::info!("Reloaded server configuration");
        }
        Err(e) => tracing::error!("Failed to reload server configuration: {e:#}"),
    }
}

async fn handle_signals(handle: rnats_broker::ServerHandle, cli: Cli, log: logging::LogControl) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term), Ok(mut hup), Ok(mut usr1), Ok(mut usr2)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined1()),
        signal(SignalKind::user_defined2()),
    ) else {
        tracing::error!("could not install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = int.recv() => {
                tracing::info!("Trapped \"interrupt\" signal");
                break;
            }
            _ = term.recv() => {
                tracing::info!("Trapped \"terminated\" signal");
                break;
            }
            _ = hup.recv() => {
                tracing::info!("Trapped \"hangup\" signal");
                reload(&handle, &cli, &log);
            }
            _ = usr1.recv() => {
                tracing::info!("Trapped \"user defined signal 1\" signal: log reopen is not needed, logs are appended");
            }
            _ = usr2.recv() => {
                handle.lame_duck();
            }
        }
    }
    tracing::info!("Initiating Shutdown...");
    handle.shutdown();
}
