//! From a file (nats-server syntax or TOML) to a checked [`ServerConfig`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::UserConfig;
use crate::de::{Spanned, from_value};
use crate::error::{ConfigError, ErrorKind};
use crate::operator::{ConfigModeKeys, RawOperatorKeys, RawPreload, RawResolver, Strings};
use crate::raw::{
    RawAccounts, RawAuthorization, RawTls, Scalar, duration_or_seconds, duration_string, show,
};
use crate::server_config::ServerConfig;
use crate::units::non_negative;
use crate::value::{Key, Pos, Value, ValueKind};

/// A configuration and the warnings its loading produced (options accepted but ignored,
/// deprecated forms), each warning starting with `FILE:LINE:COL:`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Loaded {
    /// The configuration.
    pub config: ServerConfig,
    /// Things the operator should know; the broker logs them at start.
    pub warnings: Vec<String>,
}

/// Reads a configuration file. A name ending in `.toml` is read as TOML (same key names);
/// anything else in the nats-server configuration language.
///
/// Relative paths *inside* the file (`log_file`, `pid_file`, TLS files, operator JWT files,
/// resolver `dir`) are kept as written and resolve against the working directory, as
/// nats-server does; only `include` is relative to the including file. Operator JWT files are
/// read here, at load, as nats-server reads them.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, &e))?;
    load_str(&src, Some(path))
}

/// Loads configuration text; `file` names where it came from (for positions, `include`, and to
/// choose TOML when it ends in `.toml`).
pub fn load_str(src: &str, file: Option<&Path>) -> Result<Loaded, ConfigError> {
    let is_toml = file
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let tree = if is_toml {
        toml_to_value(src, file)?
    } else {
        crate::parse::parse_str(src, file)?
    };
    load_value(&tree)
}

/// Top-level sections nats-server has and rnats does not support yet: refused.
const UNSUPPORTED: &[&str] = &[
    "cluster",
    "gateway",
    "leafnodes",
    "leaf",
    "jetstream",
    "mqtt",
    "ocsp",
    "ocsp_cache",
    "proxies",
    "proxy_protocol",
    "nkey",
    "accounts_jwt",
];

/// Operational options: accepted, ignored, and reported as warnings.
const OPERATIONAL: &[&str] = &[
    "syslog",
    "remote_syslog",
    "rsyslog",
    "max_traced_msg_len",
    "connect_error_reports",
    "reconnect_error_reports",
    "logfile_size_limit",
    "log_size_limit",
    "logfile_max_num",
    "log_max_num",
    "logtime_utc",
    "trace_verbose",
    "prof_port",
    "prof_block_rate",
    "client_advertise",
    "server_tags",
    "disable_sublist_cache",
    "no_sublist_cache",
    "no_system_account",
    "write_timeout",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(alias = "net")]
    host: Option<String>,
    port: Option<Spanned<i64>>,
    listen: Option<Spanned<Scalar>>,
    server_name: Option<String>,
    max_payload: Option<Spanned<i64>>,
    max_control_line: Option<Spanned<i64>>,
    max_pending: Option<Spanned<i64>>,
    #[serde(alias = "max_conn")]
    max_connections: Option<Spanned<i64>>,
    #[serde(alias = "max_subs")]
    max_subscriptions: Option<Spanned<i64>>,
    ping_interval: Option<Spanned<Scalar>>,
    ping_max: Option<Spanned<i64>>,
    write_deadline: Option<Spanned<Scalar>>,
    no_header_support: Option<bool>,
    no_fast_producer_stall: Option<bool>,
    idle_poll: Option<Spanned<Scalar>>,
    allow_non_tls: Option<bool>,
    lame_duck_duration: Option<Spanned<Scalar>>,
    lame_duck_grace_period: Option<Spanned<Scalar>>,
    debug: Option<bool>,
    trace: Option<bool>,
    logtime: Option<bool>,
    #[serde(alias = "logfile")]
    log_file: Option<String>,
    #[serde(alias = "pidfile")]
    pid_file: Option<String>,
    ports_file_dir: Option<String>,
    authorization: Option<Spanned<RawAuthorization>>,
    accounts: Option<Spanned<RawAccounts>>,
    mappings: Option<crate::mappings::RawMappings>,
    maps: Option<crate::mappings::RawMappings>,
    no_auth_user: Option<Spanned<String>>,
    #[serde(alias = "system")]
    system_account: Option<Spanned<String>>,
    tls: Option<Spanned<RawTls>>,
    #[serde(alias = "ws")]
    websocket: Option<crate::websocket::RawWebsocket>,
    #[serde(
        alias = "operators",
        alias = "root",
        alias = "roots",
        alias = "root_operator",
        alias = "root_operators"
    )]
    operator: Option<Spanned<Strings>>,
    #[serde(alias = "trusted_keys")]
    trusted: Option<Spanned<Strings>>,
    #[serde(alias = "account_resolver", alias = "accounts_resolver")]
    resolver: Option<Spanned<RawResolver>>,
    resolver_tls: Option<Spanned<RawTls>>,
    resolver_preload: Option<Spanned<RawPreload>>,
    resolver_pinned_accounts: Option<Spanned<Strings>>,
    default_sentinel: Option<Spanned<String>>,
    http: Option<Spanned<Scalar>>,
    #[serde(alias = "monitor_port")]
    http_port: Option<Spanned<i64>>,
    https: Option<Spanned<Scalar>>,
    https_port: Option<Spanned<i64>>,
    http_host: Option<String>,
    http_base_path: Option<String>,
    max_closed_clients: Option<Spanned<i64>>,
    auth_error_reasons: Option<bool>,
    connect_rate_limit: Option<Spanned<crate::limits::RawConnectRateLimit>>,
    audit: Option<Spanned<crate::audit::RawAudit>>,
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

/// Turns a parsed tree into a checked configuration.
pub fn load_value(tree: &Value) -> Result<Loaded, ConfigError> {
    let ValueKind::Map(entries) = &tree.kind else {
        return Err(invalid(
            &tree.pos,
            "a configuration must be a map of options",
        ));
    };
    let mut warnings = Vec::new();
    let mut kept: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let lower = key.name.to_ascii_lowercase();
        if UNSUPPORTED.contains(&lower.as_str()) {
            return Err(ConfigError::new(
                ErrorKind::Unsupported,
                &key.pos,
                format!("\"{}\" is not supported yet by rnats", key.name),
            ));
        }
        if OPERATIONAL.contains(&lower.as_str()) {
            warnings.push(format!(
                "{}: \"{}\" is not supported yet by rnats and is ignored",
                key.pos, key.name
            ));
            continue;
        }
        kept.push((key.clone(), value.clone()));
    }
    let filtered = Value::new(ValueKind::Map(kept), tree.pos.clone());
    let raw: RawConfig = from_value(&filtered)?;
    let config = build(raw, &mut warnings)?;
    Ok(Loaded { config, warnings })
}

/// `max_payload`-style sizes: positive, at most 2^31-1; `0` means the default.
fn size_i32(name: &str, v: &Spanned<i64>, default: u32) -> Result<u32, ConfigError> {
    match v.value {
        0 => Ok(default),
        n if n < 0 => Err(invalid(&v.pos, format!("{name} can not be negative"))),
        n => u32::try_from(n)
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| invalid(&v.pos, format!("{name} value is too big"))),
    }
}

/// `listen`: `host:port`, `:port`, `[::1]:port`, or a port.
pub(crate) fn parse_listen(v: &Spanned<Scalar>) -> Result<(Option<String>, i64), ConfigError> {
    let text = match &v.value {
        Scalar::Int(p) => return Ok((None, *p)),
        Scalar::Str(s) => s.as_str(),
        _ => return Err(invalid(&v.pos, "listen must be \"host:port\" or a port")),
    };
    if let Ok(p) = text.parse::<i64>() {
        return Ok((None, p));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(invalid(
            &v.pos,
            format!("could not parse address string \"{text}\": missing port"),
        ));
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: i64 = port
        .parse()
        .map_err(|_| invalid(&v.pos, format!("could not parse port in \"{text}\"")))?;
    Ok(((!host.is_empty()).then(|| host.to_owned()), port))
}

/// nats-server's port rule: `-1` picks a free port (`0` here), `0` means the default.
fn port_value(p: i64, pos: &Pos) -> Result<u16, ConfigError> {
    match p {
        -1 => Ok(0),
        0 => Ok(4222),
        p => u16::try_from(p).map_err(|_| invalid(pos, format!("port {p} is out of range"))),
    }
}

/// A monitoring port as nats-server reads it: `0` is off, `-1` a free port.
fn monitor_port(p: i64, pos: &Pos) -> Result<Option<u16>, ConfigError> {
    match p {
        0 => Ok(None),
        -1 => Ok(Some(0)),
        p => u16::try_from(p)
            .map(Some)
            .map_err(|_| invalid(pos, format!("port {p} is out of range"))),
    }
}

/// `http`, `https` (`host:port`), `http_port`, `https_port`, `http_host`, `http_base_path`
/// and `max_closed_clients`; a later key wins over an earlier one as in nats-server only
/// for the port pairs, which are read in this fixed order.
struct RawMonitor {
    http: Option<Spanned<Scalar>>,
    http_port: Option<Spanned<i64>>,
    https: Option<Spanned<Scalar>>,
    https_port: Option<Spanned<i64>>,
    http_host: Option<String>,
    http_base_path: Option<String>,
    max_closed_clients: Option<Spanned<i64>>,
}

fn monitoring(c: &mut ServerConfig, raw: &RawMonitor) -> Result<(), ConfigError> {
    if let Some(v) = &raw.http {
        let (host, port) = parse_listen(v)?;
        if host.is_some() {
            c.http_host = host;
        }
        c.http_port = monitor_port(port, &v.pos)?;
    }
    if let Some(v) = &raw.https {
        let (host, port) = parse_listen(v)?;
        if host.is_some() {
            c.http_host = host;
        }
        c.https_port = monitor_port(port, &v.pos)?;
    }
    if let Some(v) = &raw.http_port {
        c.http_port = monitor_port(v.value, &v.pos)?;
    }
    if let Some(v) = &raw.https_port {
        c.https_port = monitor_port(v.value, &v.pos)?;
    }
    if let Some(h) = &raw.http_host {
        c.http_host = Some(h.clone());
    }
    if let Some(p) = &raw.http_base_path {
        c.http_base_path.clone_from(p);
    }
    if let Some(v) = &raw.max_closed_clients {
        // nats-server: 0 means the default; a negative value keeps none.
        c.max_closed_clients = match v.value {
            0 => 10_000,
            n => usize::try_from(n).unwrap_or(0),
        };
    }
    Ok(())
}

fn build(raw: RawConfig, warnings: &mut Vec<String>) -> Result<ServerConfig, ConfigError> {
    let mut c = ServerConfig::default();
    if let Some(l) = &raw.listen {
        let (host, port) = parse_listen(l)?;
        if let Some(h) = host {
            c.host = h;
        }
        c.port = port_value(port, &l.pos)?;
    }
    if let Some(h) = raw.host {
        c.host = h;
    }
    if let Some(p) = &raw.port {
        c.port = port_value(p.value, &p.pos)?;
    }
    c.server_name = raw.server_name;
    if let Some(v) = &raw.max_payload {
        c.max_payload = size_i32("max_payload", v, c.max_payload)?;
    }
    if let Some(v) = &raw.max_control_line {
        c.max_control_line = size_i32("max_control_line", v, c.max_control_line)?;
    }
    if let Some(v) = &raw.max_pending {
        match u64::try_from(v.value) {
            Ok(0) => {}
            Ok(n) => c.max_pending = n,
            Err(_) => warnings.push(format!(
                "{}: max_pending {} is negative; using the default",
                v.pos, v.value
            )),
        }
    }
    if let Some(v) = &raw.max_connections {
        // 0 lets nobody in (as nats-server); a negative value means no limit.
        c.max_connections = usize::try_from(v.value).unwrap_or(usize::MAX);
    }
    if let Some(v) = &raw.max_subscriptions {
        c.max_subscriptions = match v.value {
            n if n <= 0 => 0,
            n => u32::try_from(n)
                .map_err(|_| invalid(&v.pos, "max_subscriptions value is too big"))?,
        };
    }
    if let Some(v) = &raw.ping_interval {
        c.ping_interval = duration_or_seconds("ping_interval", v, warnings)?;
    }
    if let Some(v) = &raw.ping_max {
        c.ping_max = u32::try_from(v.value)
            .map_err(|_| invalid(&v.pos, "ping_max must be between 0 and 2^32-1"))?;
    }
    if let Some(v) = &raw.write_deadline {
        c.write_deadline = duration_or_seconds("write_deadline", v, warnings)?;
    }
    if let Some(v) = raw.allow_non_tls {
        c.allow_non_tls = v;
    }
    if let Some(v) = raw.no_header_support {
        c.no_header_support = v;
    }
    if let Some(v) = raw.no_fast_producer_stall {
        c.no_fast_producer_stall = v;
    }
    if let Some(v) = &raw.idle_poll {
        c.idle_poll = duration_or_seconds("idle_poll", v, warnings)?;
        if c.idle_poll > Duration::from_millis(10) {
            return Err(invalid(&v.pos, "idle_poll must be at most 10ms"));
        }
    }
    if let Some(v) = &raw.lame_duck_duration {
        let nanos = duration_string("lame_duck_duration", v)?;
        let d = non_negative(nanos).unwrap_or_default();
        if d < Duration::from_secs(30) {
            let shown = match &v.value {
                Scalar::Str(s) => s.clone(),
                _ => show(d),
            };
            return Err(invalid(
                &v.pos,
                format!("invalid lame_duck_duration of {shown}, minimum is 30 seconds"),
            ));
        }
        c.lame_duck_duration = d;
    }
    if let Some(v) = &raw.lame_duck_grace_period {
        let nanos = duration_string("lame_duck_grace_period", v)?;
        c.lame_duck_grace_period = non_negative(nanos).ok_or_else(|| {
            invalid(
                &v.pos,
                "invalid lame_duck_grace_period, needs to be positive",
            )
        })?;
    }
    if let Some(v) = raw.debug {
        c.debug = v;
    }
    if let Some(v) = raw.trace {
        c.trace = v;
    }
    if let Some(v) = raw.logtime {
        c.logtime = v;
    }
    let monitor = RawMonitor {
        http: raw.http,
        http_port: raw.http_port,
        https: raw.https,
        https_port: raw.https_port,
        http_host: raw.http_host,
        http_base_path: raw.http_base_path,
        max_closed_clients: raw.max_closed_clients,
    };
    monitoring(&mut c, &monitor)?;
    c.log_file = raw.log_file.map(PathBuf::from);
    c.pid_file = raw.pid_file.map(PathBuf::from);
    c.ports_file_dir = raw.ports_file_dir.map(PathBuf::from);

    // Operator mode first: it forbids sections checked below, with nats-server's messages.
    let operator_keys = RawOperatorKeys {
        operator: raw.operator,
        trusted: raw.trusted,
        resolver: raw.resolver,
        resolver_tls: raw.resolver_tls,
        resolver_preload: raw.resolver_preload,
        resolver_pinned_accounts: raw.resolver_pinned_accounts,
        default_sentinel: raw.default_sentinel,
    };
    let others = ConfigModeKeys {
        accounts: raw
            .accounts
            .as_ref()
            .filter(|a| !a.value.is_empty())
            .map(|a| &a.pos),
        first_user: raw
            .authorization
            .as_ref()
            .and_then(|a| a.value.first_user()),
        auth_callout: raw
            .authorization
            .as_ref()
            .and_then(|a| a.value.auth_callout()),
        token_or_single_user: raw
            .authorization
            .as_ref()
            .filter(|a| a.value.has_token_or_single_user())
            .map(|a| &a.pos),
        no_auth_user: raw.no_auth_user.as_ref().map(|n| &n.pos),
        system_account: raw.system_account.as_ref(),
    };
    c.operator_mode = operator_keys.build(&others, warnings, &mut c.origins)?;
    if c.operator_mode.is_some()
        && let Some(p) = raw
            .authorization
            .as_ref()
            .and_then(|a| a.value.first_oidc())
    {
        return Err(invalid(p, "oidc issuers cannot be used in operator mode"));
    }

    // Users, with where they were defined, for the cross-section checks.
    let mut users: Vec<(UserConfig, Pos)> = Vec::new();
    let mut account_refs = Vec::new();
    let mut callout_accounts = Vec::new();
    if let Some(a) = raw.authorization {
        c.authorization = Some(a.value.build(
            &a.pos,
            warnings,
            &mut users,
            &mut account_refs,
            &mut callout_accounts,
            &mut c.origins,
        )?);
    }
    if let Some(m) = raw.mappings.or(raw.maps) {
        c.mappings = m.build()?;
    }
    if let Some(a) = raw.accounts {
        let mut account_users = Vec::new();
        c.accounts = a
            .value
            .build(&mut account_users, &a.pos, warnings, &mut c.origins)?;
        if let (Some(auth), Some((_, first_pos))) = (&c.authorization, account_users.first()) {
            if auth.token.is_some() {
                return Err(invalid(first_pos, "Can not have a token and accounts"));
            }
            if auth.user.is_some() || auth.password.is_some() {
                return Err(invalid(
                    first_pos,
                    "Can not have a single user/pass and accounts",
                ));
            }
        }
        users.extend(account_users);
    }
    for r in &account_refs {
        if !c.accounts.iter().any(|a| a.name == r.account) {
            return Err(invalid(
                &r.pos,
                format!("account \"{}\" is not defined in accounts", r.account),
            ));
        }
    }
    for r in &callout_accounts {
        if !c.accounts.iter().any(|a| a.name == r.account) {
            return Err(invalid(
                &r.pos,
                format!(
                    "auth_callout allowed account \"{}\" not found in configured accounts",
                    r.account
                ),
            ));
        }
    }
    for (i, (u, pos)) in users.iter().enumerate() {
        let earlier = &users[..i];
        if let Some(name) = &u.user
            && earlier.iter().any(|(o, _)| o.user.as_ref() == Some(name))
        {
            return Err(invalid(pos, format!("Duplicate user \"{name}\" detected")));
        }
        if let Some(nkey) = &u.nkey
            && earlier.iter().any(|(o, _)| o.nkey.as_ref() == Some(nkey))
        {
            return Err(invalid(pos, format!("Duplicate nkey \"{nkey}\" detected")));
        }
    }
    if let Some(n) = raw.no_auth_user {
        let known = users
            .iter()
            .any(|(u, _)| u.user.as_ref() == Some(&n.value) || u.nkey.as_ref() == Some(&n.value));
        if !known {
            return Err(invalid(
                &n.pos,
                format!(
                    "no_auth_user: \"{}\" not present as user or nkey in authorization block or account configuration",
                    n.value
                ),
            ));
        }
        c.no_auth_user = Some(n.value);
    }
    if let Some(s) = raw.system_account {
        c.origins.record("system_account", s.pos.clone());
        // In operator mode the account comes from the resolver (checked above).
        if c.operator_mode.is_none()
            && s.value != "$SYS"
            && !c.accounts.iter().any(|a| a.name == s.value)
        {
            return Err(invalid(
                &s.pos,
                format!(
                    "error resolving system account: account \"{}\" is not defined",
                    s.value
                ),
            ));
        }
        c.system_account = Some(s.value);
    }
    if let Some(t) = raw.tls {
        c.tls = Some(t.value.build(&t.pos, &mut c.origins)?);
    }
    c.auth_error_reasons = raw.auth_error_reasons.unwrap_or(false);
    if let Some(l) = raw.connect_rate_limit {
        c.connect_rate_limit = Some(l.value.build(&l.pos)?);
    }
    if let Some(a) = raw.audit {
        c.origins.record("audit.file", a.pos.clone());
        c.audit = a.value.build(&a.pos)?;
    }
    if let Some(ws) = raw.websocket {
        c.websocket = ws.build(warnings, &mut c.origins)?;
    }
    Ok(c)
}

// ----- TOML -----

/// Reads TOML into the same tree, with positions from the TOML spans.
fn toml_to_value(src: &str, file: Option<&Path>) -> Result<Value, ConfigError> {
    let file: Option<Arc<Path>> = file.map(Arc::from);
    let lines = LineIndex::new(src, file);
    let doc = toml::de::DeTable::parse(src).map_err(|e| {
        let pos = e
            .span()
            .map_or_else(|| lines.pos(0), |s| lines.pos(s.start));
        ConfigError::new(ErrorKind::Syntax, &pos, e.message().trim().to_owned())
    })?;
    let span = doc.span();
    Ok(Value::new(
        table_entries(doc.into_inner(), &lines)?,
        lines.pos(span.start),
    ))
}

fn table_entries(
    table: toml::de::DeTable<'_>,
    lines: &LineIndex<'_>,
) -> Result<ValueKind, ConfigError> {
    let mut out = Vec::new();
    for (k, v) in table {
        let kpos = lines.pos(k.span().start);
        out.push((
            Key::new(k.into_inner().into_owned(), kpos),
            toml_value(v, lines)?,
        ));
    }
    Ok(ValueKind::Map(out))
}

fn toml_value(
    v: toml::Spanned<toml::de::DeValue<'_>>,
    lines: &LineIndex<'_>,
) -> Result<Value, ConfigError> {
    use toml::de::DeValue;
    let pos = lines.pos(v.span().start);
    let kind = match v.into_inner() {
        DeValue::String(s) => ValueKind::String(s.into_owned()),
        DeValue::Integer(i) => ValueKind::Integer(
            i64::from_str_radix(i.as_str(), i.radix())
                .map_err(|_| invalid(&pos, "integer out of range"))?,
        ),
        DeValue::Float(x) => ValueKind::Float(
            x.as_str()
                .replace('_', "")
                .parse()
                .map_err(|_| invalid(&pos, "invalid float"))?,
        ),
        DeValue::Boolean(b) => ValueKind::Bool(b),
        DeValue::Datetime(d) => ValueKind::String(d.to_string()),
        DeValue::Array(items) => ValueKind::Array(
            items
                .into_iter()
                .map(|i| toml_value(i, lines))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => table_entries(t, lines)?,
    };
    Ok(Value::new(kind, pos))
}

/// Byte offsets to 1-based line and column.
struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
    file: Option<Arc<Path>>,
}

impl<'a> LineIndex<'a> {
    fn new(src: &'a str, file: Option<Arc<Path>>) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        Self { src, starts, file }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|s| *s <= offset).max(1);
        let start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .src
            .get(start..offset.min(self.src.len()))
            .map_or(0, |s| s.chars().count());
        Pos {
            file: self.file.clone(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}
