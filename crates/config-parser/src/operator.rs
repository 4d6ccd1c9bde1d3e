//! Operator (JWT) mode: the operators a server trusts and where it finds account JWTs
//! (`operator`, `trusted`, `resolver`, `resolver_tls`, `resolver_preload`,
//! `resolver_pinned_accounts`, `default_sentinel`, and what they mean for `system_account`).
//!
//! The keys are read and checked as nats-server reads them from the file (`opts.go`) and checks
//! them when it starts (`validateTrustedOperators` in `jwt.go`, `validateNoAuthUser`,
//! `configureResolver`), with its messages. JWTs are not decoded here: the text of each is kept
//! (read from its file, or written inline) and only its shape is checked. Decoding and verifying
//! belong to the JWT crate; the checks that need an operator's claims are
//! [`ServerConfig::operator_system_account`], for the code that decodes them.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::de::Spanned;
use crate::error::{ConfigError, ErrorKind};
use crate::nkey::{NkeyRole, is_valid_public};
use crate::origins::Origins;
use crate::raw::{RawTls, Scalar};
use crate::server_config::ServerConfig;
use crate::tls::TlsConfig;
use crate::units::{go_format, parse_go_duration};
use crate::value::Pos;

mod shapes;

use shapes::strings;
pub(crate) use shapes::{Item, RawPreload, RawResolver, RawResolverMap, Strings};

/// Operator mode, present when the file names an operator JWT (`operator`) or trusted operator
/// keys (`trusted`). The system account stays in [`ServerConfig::system_account`].
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct OperatorMode {
    /// `operator` (aliases `operators`, `root`, `roots`, `root_operator`, `root_operators`):
    /// the operator JWTs, in file order.
    pub operators: Vec<OperatorJwt>,
    /// `trusted` (alias `trusted_keys`): operator public keys (`O…`) trusted without an operator
    /// JWT. nats-server refuses them together with `operator`.
    pub trusted_keys: Vec<String>,
    /// `resolver` (aliases `account_resolver`, `accounts_resolver`). `None` with one operator
    /// means what nats-server does then: a URL resolver at the operator JWT's
    /// `account_server_url` (plus `/accounts`).
    pub resolver: Option<Resolver>,
    /// `resolver_tls`: TLS for the URL resolver's HTTPS requests.
    pub resolver_tls: Option<TlsConfig>,
    /// `resolver_preload`: account JWTs the resolver starts with, in file order.
    pub resolver_preload: Vec<PreloadedAccount>,
    /// `resolver_pinned_accounts`: when not empty, only users of these accounts (and of the
    /// system account) may log in.
    pub resolver_pinned_accounts: Vec<String>,
    /// `default_sentinel`: the user JWT (a bearer token) of clients that present none.
    pub default_sentinel: Option<String>,
}

/// One operator JWT, as text: nothing here decodes or verifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperatorJwt {
    /// The file it was read from, as written (relative paths are taken from the working
    /// directory, as nats-server does); `None` when the JWT was written inline.
    pub file: Option<PathBuf>,
    /// The JWT: the first block between `-----…-----` lines of a decorated file (as `nsc`
    /// writes it), or the whole file or inline value, trimmed.
    pub jwt: String,
}

/// Where account JWTs come from (`resolver`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resolver {
    /// `MEMORY` (or `MEM`): only the accounts of `resolver_preload`.
    Memory,
    /// `URL("http://host/jwt/v1/accounts/")`: an HTTP GET of the URL plus the account key.
    Url(String),
    /// `{ type: full, dir: … }`: every account JWT, stored in a directory and kept in step with
    /// the other servers over the system account.
    Full(FullResolver),
    /// `{ type: cache, dir: … }`: account JWTs fetched from full resolvers, cached in a
    /// directory.
    Cache(CacheResolver),
}

/// `resolver { type: full, … }`, with nats-server's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FullResolver {
    /// `dir`: where the JWTs are stored (required).
    pub dir: PathBuf,
    /// `limit`: most JWTs stored; `None` (`0` or absent in the file) is no limit.
    pub limit: Option<u64>,
    /// `interval`: how often the store is compared with the other servers', default 1 minute.
    pub interval: Duration,
    /// `allow_delete` and `hard_delete`: what a delete request does.
    pub delete: DeletePolicy,
    /// `timeout`: how long a lookup waits for other servers, default 1.9 s.
    pub timeout: Duration,
}

/// `resolver { type: cache, … }`, with nats-server's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheResolver {
    /// `dir`: where the cached JWTs are stored (required).
    pub dir: PathBuf,
    /// `limit`: most JWTs cached, the least recently used leaving first; default 1000.
    pub limit: u64,
    /// `ttl`: how long a JWT stays cached; `None` (absent or `0`) keeps it until the JWT
    /// expires.
    pub ttl: Option<Duration>,
    /// `timeout`: how long a lookup waits for full resolvers, default 1.9 s.
    pub timeout: Duration,
}

/// What a full resolver does with a request to delete account JWTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DeletePolicy {
    /// Refuse it (no `allow_delete`, the default).
    #[default]
    Refuse,
    /// `allow_delete: true`: rename the file to `….jwt.deleted`.
    Rename,
    /// `allow_delete: true` and `hard_delete: true`: remove the file.
    Remove,
}

/// One entry of `resolver_preload`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PreloadedAccount {
    /// The account's public key (`A…`).
    pub account: String,
    /// Its account JWT, as text.
    pub jwt: String,
}

/// The fetch timeout of full and cache resolvers when the file gives none (nats-server's
/// `DEFAULT_ACCOUNT_FETCH_TIMEOUT`).
const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_millis(1900);

/// nats-server's text, double space and unbalanced parenthesis included.
const RESOLVER_FORMS: &str = "error parsing account resolver, should be MEM or  URL(\"url\") or a map containing dir and type state=[FULL|CACHE])";

impl ServerConfig {
    /// The system account in operator mode, given the `system_account` claim of each operator
    /// JWT (`None` or `""` for none), in the order of `operator_mode.operators`: for the code
    /// that decodes the operator JWTs, which this crate does not.
    ///
    /// nats-server's rules: `system_account` in the file wins, but must be the claim of one of
    /// the operators when any operator claims one (`system_account in config and operator JWT
    /// must be identical`); without it, a single operator's claim is the system account; a full
    /// or cache resolver needs one or the other (`using nats based account resolver - …`).
    /// Outside operator mode, or with trusted keys only, this is `system_account` as written.
    pub fn operator_system_account(
        &self,
        claimed: &[Option<&str>],
    ) -> Result<Option<String>, ConfigError> {
        let Some(mode) = self
            .operator_mode
            .as_ref()
            .filter(|m| !m.operators.is_empty())
        else {
            return Ok(self.system_account.clone());
        };
        let claimed: Vec<&str> = claimed.iter().map(|c| c.unwrap_or_default()).collect();
        if let Some(sys) = &self.system_account {
            let any_claim = claimed.iter().any(|c| !c.is_empty());
            if any_claim && !claimed.contains(&sys.as_str()) {
                // jwt.go validateTrustedOperators.
                return Err(at_origin(
                    &self.origins,
                    "system_account",
                    "system_account in config and operator JWT must be identical",
                ));
            }
            return Ok(Some(sys.clone()));
        }
        match claimed.first().copied().unwrap_or_default() {
            "" if matches!(mode.resolver, Some(Resolver::Full(_) | Resolver::Cache(_))) => {
                // jwt.go validateTrustedOperators.
                Err(at_origin(
                    &self.origins,
                    "resolver",
                    "using nats based account resolver - the system account needs to be specified in configuration or the operator jwt",
                ))
            }
            "" => Ok(None),
            // opts.go takes the operator's system account only when there is one operator.
            first => Ok((claimed.len() == 1).then(|| first.to_owned())),
        }
    }
}

fn invalid(pos: &Pos, msg: impl Into<String>) -> ConfigError {
    ConfigError::new(ErrorKind::Invalid, pos, msg)
}

fn at_origin(origins: &Origins, key: &str, msg: &str) -> ConfigError {
    match origins.get(key) {
        Some(pos) => invalid(pos, msg),
        None => ConfigError::bare(ErrorKind::Invalid, msg),
    }
}

// ----- JWT text -----

/// `jwt.ParseDecoratedJWT`: the first token line between two `---…---` lines, or else the
/// whole text (trimmed here; Go's base64 decoder skips the newline nats-server keeps).
pub(crate) fn extract_jwt(contents: &str) -> &str {
    let is_marker = |line: &str| {
        let line = line.trim();
        line.len() >= 6 && line.starts_with("---") && line.ends_with("---")
    };
    let is_token = |line: &str| {
        !line.is_empty()
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
    };
    let lines: Vec<&str> = contents.lines().collect();
    lines
        .windows(3)
        .find(|w| is_marker(w[0]) && is_token(w[1]) && is_marker(w[2]))
        .map_or_else(|| contents.trim(), |w| w[1])
}

/// The one shape check made without decoding, with the message of nats-server's decoder.
fn check_jwt_shape(jwt: &str) -> Result<(), &'static str> {
    if jwt.split('.').count() == 3 {
        Ok(())
    } else {
        Err("expected 3 chunks")
    }
}

/// The largest JWT nats-server decodes (`jwt.MaxTokenSize`).
const MAX_JWT: usize = 1024 * 1024;

/// The most read from an operator file: the largest JWT plus room for the decoration. Bounded
/// so that a path such as `/dev/zero` ends in an error, not in memory exhaustion.
const MAX_JWT_FILE: u64 = MAX_JWT as u64 + 4096;

/// `readOperatorJWT`: a file, or, when no file can be read and the value looks like a JWT
/// (`eyJ`, the base64 of `{"`), the JWT itself.
fn read_operator_jwt(value: &str) -> Result<OperatorJwt, String> {
    let (file, contents) = match read_bounded(value) {
        Ok(contents) => (Some(PathBuf::from(value)), contents),
        Err(_) if value.starts_with("eyJ") => (None, value.to_owned()),
        Err(e) => return Err(format!("open {value}: {}", io_text(&e))),
    };
    let jwt = extract_jwt(&contents);
    if jwt.len() > MAX_JWT {
        // jwt.Decode's message.
        return Err(format!(
            "token size {} exceeds maximum of {MAX_JWT} bytes: token too large",
            jwt.len()
        ));
    }
    check_jwt_shape(jwt)?;
    Ok(OperatorJwt {
        file,
        jwt: jwt.to_owned(),
    })
}

fn read_bounded(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut contents = String::new();
    std::fs::File::open(path)?
        .take(MAX_JWT_FILE + 1)
        .read_to_string(&mut contents)?;
    if contents.len() as u64 > MAX_JWT_FILE {
        return Err(std::io::Error::other(format!(
            "more than {MAX_JWT_FILE} bytes, larger than any JWT"
        )));
    }
    Ok(contents)
}

/// Go's wording for the common I/O errors (`open x: no such file or directory`).
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

// ----- building -----

/// The operator-mode keys of a file, as serde read them.
#[derive(Debug, Default)]
pub(crate) struct RawOperatorKeys {
    pub(crate) operator: Option<Spanned<Strings>>,
    pub(crate) trusted: Option<Spanned<Strings>>,
    pub(crate) resolver: Option<Spanned<RawResolver>>,
    pub(crate) resolver_tls: Option<Spanned<RawTls>>,
    pub(crate) resolver_preload: Option<Spanned<RawPreload>>,
    pub(crate) resolver_pinned_accounts: Option<Spanned<Strings>>,
    pub(crate) default_sentinel: Option<Spanned<String>>,
}

/// What the rest of the file sets that operator mode forbids or ignores, with positions.
#[derive(Debug, Default)]
pub(crate) struct ConfigModeKeys<'a> {
    /// A non-empty `accounts` block.
    pub(crate) accounts: Option<&'a Pos>,
    /// The first entry of `authorization.users`.
    pub(crate) first_user: Option<&'a Pos>,
    /// `authorization.auth_callout`.
    pub(crate) auth_callout: Option<&'a Pos>,
    /// An `authorization` block with a token or a single user.
    pub(crate) token_or_single_user: Option<&'a Pos>,
    /// `no_auth_user`.
    pub(crate) no_auth_user: Option<&'a Pos>,
    /// `system_account`.
    pub(crate) system_account: Option<&'a Spanned<String>>,
}

impl RawOperatorKeys {
    /// Reads the keys with nats-server's load-time checks, then makes its start-up checks.
    /// `None` when the file names neither an operator nor a trusted key: the resolver keys are
    /// then ignored with a warning, as nats-server ignores them.
    pub(crate) fn build(
        self,
        others: &ConfigModeKeys<'_>,
        warnings: &mut Vec<String>,
        origins: &mut Origins,
    ) -> Result<Option<OperatorMode>, ConfigError> {
        // What opts.go checks while reading the file.
        let mut mode = OperatorMode::default();
        let operator_pos = self.operator.as_ref().map(|o| o.pos.clone());
        if let Some(o) = self.operator {
            origins.record("operator", o.pos.clone());
            for entry in strings(o, "operators")? {
                let jwt = read_operator_jwt(&entry.value)
                    .map_err(|m| invalid(&entry.pos, format!("error parsing operator JWT: {m}")))?;
                mode.operators.push(jwt);
            }
        }
        let trusted_pos = self.trusted.as_ref().map(|t| t.pos.clone());
        if let Some(t) = self.trusted {
            origins.record("trusted", t.pos.clone());
            for key in strings(t, "trusted")? {
                if !is_valid_public(&key.value, NkeyRole::Operator) {
                    return Err(invalid(
                        &key.pos,
                        format!(
                            "trust key \"{}\" required to be a valid public operator nkey",
                            key.value
                        ),
                    ));
                }
                mode.trusted_keys.push(key.value);
            }
        }
        let resolver_pos = self.resolver.as_ref().map(|r| r.pos.clone());
        if let Some(r) = self.resolver {
            origins.record("resolver", r.pos.clone());
            mode.resolver = Some(build_resolver(r, warnings)?);
        }
        let resolver_tls_pos = self.resolver_tls.as_ref().map(|t| t.pos.clone());
        if let Some(mut t) = self.resolver_tls {
            origins.record("resolver_tls", t.pos.clone());
            if let Some(i) = t.value.take_insecure().filter(|i| i.value) {
                return Err(ConfigError::new(
                    ErrorKind::Unsupported,
                    &i.pos,
                    "\"resolver_tls.insecure\" is not supported yet by rnats",
                ));
            }
            // The listener's `tls` owns the `tls.*` origins.
            let mut scratch = Origins::default();
            mode.resolver_tls = Some(t.value.build(&t.pos, &mut scratch)?);
        }
        let preload_pos = self.resolver_preload.as_ref().map(|p| p.pos.clone());
        let mut preload_key_pos = Vec::new();
        if let Some(p) = self.resolver_preload {
            origins.record("resolver_preload", p.pos.clone());
            for (account, jwt) in p.value.0 {
                let Item::Str(text) = jwt.value else {
                    return Err(invalid(
                        &jwt.pos,
                        "preload map value should be a string JWT",
                    ));
                };
                if check_jwt_shape(&text).is_err() {
                    return Err(invalid(&jwt.pos, "invalid account JWT"));
                }
                preload_key_pos.push(jwt.pos);
                mode.resolver_preload
                    .push(PreloadedAccount { account, jwt: text });
            }
        }
        let pinned_pos = self
            .resolver_pinned_accounts
            .as_ref()
            .map(|p| p.pos.clone());
        let mut pinned = Vec::new();
        if let Some(p) = self.resolver_pinned_accounts {
            pinned = strings(p, "resolver_pinned_accounts")?;
            mode.resolver_pinned_accounts = pinned.iter().map(|k| k.value.clone()).collect();
        }
        if let Some(s) = &self.default_sentinel {
            origins.record("default_sentinel", s.pos.clone());
        }

        // What nats-server checks when it starts (jwt.go validateTrustedOperators and after).
        if mode.operators.is_empty()
            && let Some(s) = &self.default_sentinel
        {
            return Err(invalid(
                &s.pos,
                "default sentinel requires operators and accounts",
            ));
        }
        // server.go configureResolver, with or without operators.
        if let (Some(Resolver::Url(_)), Some(pos)) = (&mode.resolver, &preload_pos) {
            return Err(preloads_need_a_writable_resolver(pos));
        }
        if mode.operators.is_empty() && mode.trusted_keys.is_empty() {
            for (key, pos) in [
                ("resolver", &resolver_pos),
                ("resolver_tls", &resolver_tls_pos),
                ("resolver_preload", &preload_pos),
                ("resolver_pinned_accounts", &pinned_pos),
            ] {
                if let Some(pos) = pos {
                    warnings.push(format!(
                        "{pos}: \"{key}\" has no effect without \"operator\" or \"trusted\" and is ignored"
                    ));
                }
            }
            return Ok(None);
        }
        if let Some(operator_pos) = &operator_pos
            && !mode.operators.is_empty()
        {
            check_against_operators(&mode, operator_pos, others, self.default_sentinel.as_ref())?;
            if let Some(pos) = &trusted_pos {
                return Err(invalid(
                    pos,
                    "conflicting options for 'TrustedKeys' and 'TrustedOperators'",
                ));
            }
            for key in &pinned {
                if !is_valid_public(&key.value, NkeyRole::Account) {
                    return Err(invalid(
                        &key.pos,
                        format!(
                            "pinned account key \"{}\" is not a valid public account nkey",
                            key.value
                        ),
                    ));
                }
            }
            if let Some(pos) = others.auth_callout {
                return Err(invalid(
                    pos,
                    "operators do not allow authorization callouts to be configured directly",
                ));
            }
            // auth.go validateNoAuthUser.
            if let Some(pos) = others.no_auth_user {
                return Err(invalid(
                    pos,
                    "no_auth_user not compatible with Trusted Operator",
                ));
            }
            // The URL resolver that one operator without `resolver` gets is read-only too.
            if mode.resolver.is_none()
                && let Some(pos) = &preload_pos
            {
                return Err(preloads_need_a_writable_resolver(pos));
            }
            if let Some(pos) = others.token_or_single_user {
                warnings.push(format!(
                    "{pos}: the token, user and password of \"authorization\" are ignored in operator mode, as nats-server ignores them"
                ));
            }
        }
        if let Some(s) = others.system_account
            && !is_valid_public(&s.value, NkeyRole::Account)
        {
            // accounts.go fetchAccount: in operator mode every account, the system account
            // included, comes from the resolver by its public key.
            return Err(invalid(
                &s.pos,
                "error resolving system account: will only fetch valid account keys",
            ));
        }
        // rnats' own check: nats-server stores such an entry and never finds it again.
        for (entry, pos) in mode.resolver_preload.iter().zip(&preload_key_pos) {
            if !is_valid_public(&entry.account, NkeyRole::Account) {
                return Err(invalid(
                    pos,
                    format!(
                        "resolver_preload key \"{}\" is not a valid public account nkey",
                        entry.account
                    ),
                ));
            }
        }
        mode.default_sentinel = self.default_sentinel.map(|s| s.value);
        Ok(Some(mode))
    }
}

/// The first checks of jwt.go `validateTrustedOperators`, in its order, for a file with
/// operator JWTs.
fn check_against_operators(
    mode: &OperatorMode,
    operator_pos: &Pos,
    others: &ConfigModeKeys<'_>,
    default_sentinel: Option<&Spanned<String>>,
) -> Result<(), ConfigError> {
    if let Some(s) = default_sentinel {
        // Decoding it (and checking that it is a bearer token) is the JWT crate's job.
        if check_jwt_shape(&s.value).is_err() {
            return Err(invalid(&s.pos, "default sentinel JWT not valid"));
        }
    }
    // One operator without a resolver gets a URL resolver from its JWT (opts.go).
    if mode.resolver.is_none() && mode.operators.len() > 1 {
        return Err(invalid(
            operator_pos,
            "operators require an account resolver to be configured",
        ));
    }
    if let Some(pos) = others.accounts {
        return Err(invalid(
            pos,
            "operators do not allow Accounts to be configured directly",
        ));
    }
    if let Some(pos) = others.first_user {
        return Err(invalid(
            pos,
            "operators do not allow users to be configured directly",
        ));
    }
    Ok(())
}

fn preloads_need_a_writable_resolver(pos: &Pos) -> ConfigError {
    invalid(
        pos,
        "resolver preloads only available for writeable resolver types MEM/DIR/CACHE_DIR",
    )
}

fn build_resolver(
    r: Spanned<RawResolver>,
    warnings: &mut Vec<String>,
) -> Result<Resolver, ConfigError> {
    match r.value {
        RawResolver::Text(s) => parse_resolver_text(&s).map_err(|m| invalid(&r.pos, m)),
        RawResolver::Map(m) => m.build(&r.pos, warnings),
        RawResolver::Other(t) => Err(invalid(
            &r.pos,
            format!("error parsing operator resolver, wrong type {t}"),
        )),
    }
}

/// `MEMORY`, `MEM`, `URL`, `URL(url)` or `URL("url")`, in any case.
pub(crate) fn parse_resolver_text(text: &str) -> Result<Resolver, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("MEM") || t.eq_ignore_ascii_case("MEMORY") {
        return Ok(Resolver::Memory);
    }
    let rest = match t.get(..3) {
        Some(head) if head.eq_ignore_ascii_case("URL") => t[3..].trim(),
        _ => return Err(RESOLVER_FORMS.to_owned()),
    };
    let url = if rest.is_empty() {
        ""
    } else {
        let inner = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| RESOLVER_FORMS.to_owned())?
            .trim();
        inner
            .strip_prefix('"')
            .and_then(|i| i.strip_suffix('"'))
            .unwrap_or(inner)
    };
    // The failures of Go's url.Parse that a resolver URL can meet: no scheme before `:`,
    // and characters a URL cannot hold.
    if url.starts_with(':')
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        return Err(format!("error parsing account resolver url [{url:?}]"));
    }
    Ok(Resolver::Url(url.to_owned()))
}

/// A string option of the resolver map.
fn text_of<'a>(v: &'a Spanned<Scalar>, key: &str) -> Result<&'a str, ConfigError> {
    match &v.value {
        Scalar::Str(s) => Ok(s),
        _ => Err(invalid(&v.pos, format!("resolver {key} must be a string"))),
    }
}

fn flag_of(v: &Spanned<Scalar>, key: &str) -> Result<bool, ConfigError> {
    match &v.value {
        Scalar::Bool(b) => Ok(*b),
        _ => Err(invalid(&v.pos, format!("resolver {key} must be a boolean"))),
    }
}

/// A duration string of the resolver map (`ttl`, `interval`, `timeout`) in signed
/// nanoseconds, with Go's messages.
fn nanos_of(v: &Spanned<Scalar>, key: &str) -> Result<i128, ConfigError> {
    let Scalar::Str(s) = &v.value else {
        return Err(invalid(
            &v.pos,
            format!("resolver {key} must be a duration string such as \"2m\""),
        ));
    };
    parse_go_duration(s).map_err(|m| invalid(&v.pos, format!("time: {m}")))
}

/// Positive nanoseconds as a `Duration`; `None` for zero or less.
fn positive(nanos: i128) -> Option<Duration> {
    u64::try_from(nanos)
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
}

/// Go's `%v` of a duration, negative ones included.
fn show_nanos(nanos: i128) -> String {
    let abs = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap_or(u64::MAX));
    if nanos < 0 {
        format!("-{}", go_format(abs))
    } else {
        go_format(abs)
    }
}

impl RawResolverMap {
    fn build(self, pos: &Pos, warnings: &mut Vec<String>) -> Result<Resolver, ConfigError> {
        for k in &self.unknown {
            warnings.push(format!(
                "{pos}: unknown field \"{k}\" in resolver is ignored, as nats-server ignores it"
            ));
        }
        // opts.go reads every value first, durations included.
        let kind = self.kind.as_ref().map(|k| text_of(k, "type")).transpose()?;
        let dir = self.dir.as_ref().map(|d| text_of(d, "dir")).transpose()?;
        let allow_delete = self
            .allow_delete
            .as_ref()
            .map(|v| flag_of(v, "allow_delete"))
            .transpose()?
            .unwrap_or(false);
        let hard_delete = self
            .hard_delete
            .as_ref()
            .map(|v| flag_of(v, "hard_delete"))
            .transpose()?;
        let limit = match &self.limit {
            Some(Spanned {
                value: Scalar::Int(n),
                ..
            }) => *n,
            Some(v) => {
                return Err(invalid(&v.pos, "resolver limit must be an integer"));
            }
            None => 0,
        };
        let ttl = self.ttl.as_ref().map(|v| nanos_of(v, "ttl")).transpose()?;
        let interval = self
            .interval
            .as_ref()
            .map(|v| nanos_of(v, "interval"))
            .transpose()?;
        let timeout = match &self.timeout {
            Some(v) => {
                let nanos = nanos_of(v, "timeout")?;
                // accounts.go FetchTimeout, its spelling kept.
                Some(positive(nanos).ok_or_else(|| {
                    invalid(
                        &v.pos,
                        format!("Fetch timeout {} is too smal", show_nanos(nanos)),
                    )
                })?)
            }
            None => None,
        };
        let kind = kind.unwrap_or_default().to_ascii_uppercase();
        let dir_of = || -> Result<PathBuf, ConfigError> {
            let dir = dir.filter(|d| !d.is_empty()).ok_or_else(|| {
                invalid(pos, "dir has no value and needs to point to a directory")
            })?;
            check_dir(dir).map_err(|m| invalid(self.dir.as_ref().map_or(pos, |d| &d.pos), m))?;
            Ok(PathBuf::from(dir))
        };
        match kind.as_str() {
            "CACHE" => {
                let dir = dir_of()?;
                let at = |v: &Option<Spanned<Scalar>>| v.as_ref().map_or(pos, |v| &v.pos).clone();
                if interval.is_some_and(|n| n != 0) {
                    return Err(invalid(&at(&self.interval), "CACHE does not accept sync"));
                }
                if allow_delete {
                    return Err(invalid(
                        &at(&self.allow_delete),
                        "CACHE does not accept allow_delete",
                    ));
                }
                if hard_delete.is_some() {
                    return Err(invalid(
                        &at(&self.hard_delete),
                        "CACHE does not accept hard_delete",
                    ));
                }
                Ok(Resolver::Cache(CacheResolver {
                    dir,
                    limit: u64::try_from(limit).ok().filter(|n| *n > 0).unwrap_or(1000),
                    ttl: ttl.and_then(positive),
                    timeout: timeout.unwrap_or(DEFAULT_FETCH_TIMEOUT),
                }))
            }
            "FULL" => {
                let dir = dir_of()?;
                let at = |v: &Option<Spanned<Scalar>>| v.as_ref().map_or(pos, |v| &v.pos).clone();
                if ttl.is_some_and(|n| n != 0) {
                    return Err(invalid(&at(&self.ttl), "FULL does not accept ttl"));
                }
                if hard_delete.is_some() && !allow_delete {
                    return Err(invalid(
                        &at(&self.hard_delete),
                        "hard_delete has no effect without delete",
                    ));
                }
                let delete = match (allow_delete, hard_delete.unwrap_or(false)) {
                    (false, _) => DeletePolicy::Refuse,
                    (true, false) => DeletePolicy::Rename,
                    (true, true) => DeletePolicy::Remove,
                };
                Ok(Resolver::Full(FullResolver {
                    dir,
                    limit: u64::try_from(limit).ok().filter(|n| *n > 0),
                    interval: interval
                        .and_then(positive)
                        .unwrap_or(Duration::from_secs(60)),
                    delete,
                    timeout: timeout.unwrap_or(DEFAULT_FETCH_TIMEOUT),
                }))
            }
            "MEM" | "MEMORY" => Ok(Resolver::Memory),
            _ => Err(invalid(pos, RESOLVER_FORMS)),
        }
    }
}

/// opts.go's check of an existing `dir`: a directory its owner may write. A missing one is
/// fine (nats-server creates it; rnats leaves that to the resolver).
fn check_dir(dir: &str) -> Result<(), &'static str> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    #[cfg(unix)]
    let writable = {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o200 != 0
    };
    #[cfg(not(unix))]
    let writable = !meta.permissions().readonly();
    if meta.is_dir() && writable {
        Ok(())
    } else {
        Err("dir needs to point to an accessible directory")
    }
}

#[cfg(test)]
mod tests;
