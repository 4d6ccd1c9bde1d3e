//! Operator (JWT) mode in the broker: the trusted operators, the account resolver and the
//! verified account JWTs, opened once at start-up and shared by every reload (nats-server does
//! not reload operators or resolvers either), and the accounts' exports and imports turned
//! into the configuration form `links.rs` plans routes from.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use rnats_auth::{JwtAccount, JwtAccounts, TrustedOperators};
use rnats_config::{
    AccountConfig, ExportConfig, ExportKind, ImportConfig, MapDestination, MappingConfig,
    ResponseType, ServerConfig,
};
use rnats_jwt::{AccountResolver, DirDelete, DirResolver, ExportType, JwtError, MemoryResolver};

use crate::info::COMPAT_VERSION;
use crate::resolver_cache::{CacheStore, LookupSource, SharedLookup};
use crate::resolver_remote::{RemoteResolver, Source};
use crate::resolver_url::UrlSource;
use crate::server::ServerError;

/// What operator mode keeps for the server's life.
pub(crate) struct JwtMode {
    pub(crate) accounts: Arc<JwtAccounts>,
    /// The operator-mode block it was opened from: a reload must not change it.
    opened_from: rnats_config::OperatorMode,
    /// A full resolver (a directory): it serves updates of any account, lookups, lists and
    /// deletes.
    pub(crate) full: bool,
    /// A cache resolver (a directory of JWTs looked up from other servers): it serves
    /// updates of the accounts it holds, lists and deletes.
    pub(crate) cache: bool,
    /// The full resolver takes delete requests (`allow_delete`); the cache resolver always.
    pub(crate) deletes: bool,
    /// The cache resolver's lookups, sent by the claim services once the server runs.
    pub(crate) lookup: Option<Arc<LookupSource>>,
    /// The URL resolver's account server, asked once before the server starts.
    url: Option<Arc<UrlSource>>,
    /// Account JWTs of the resolver that were left out at start-up, and why (for `-t`).
    pub(crate) warnings: Vec<String>,
}

impl JwtMode {
    /// Checks the operators, opens the resolver (storing `resolver_preload` in a memory one)
    /// and loads every account JWT it holds; a JWT that does not verify is logged and left
    /// out (its users cannot log in), as nats-server leaves out an account it cannot fetch.
    pub(crate) fn open(config: &ServerConfig) -> Result<Self, ServerError> {
        let Some(mode) = &config.operator_mode else {
            return Err(ServerError::Config("not in operator mode".to_owned()));
        };
        let version = server_version();
        let trust = TrustedOperators::from_config(config, version).map_err(|e| {
            let key = match e {
                rnats_auth::AuthConfigError::SystemAccount(_) => "",
                _ => "operator",
            };
            ServerError::Config(config.origins.locate(key, &e))
        })?;
        let full = matches!(mode.resolver, Some(rnats_config::Resolver::Full(_)));
        let cache = matches!(mode.resolver, Some(rnats_config::Resolver::Cache(_)));
        let deletes = match &mode.resolver {
            Some(rnats_config::Resolver::Full(f)) => f.delete != rnats_config::DeletePolicy::Refuse,
            // nats-server's cache store removes files: it takes delete requests.
            Some(rnats_config::Resolver::Cache(_)) => true,
            _ => false,
        };
        let mut lookup = None;
        let mut url_source = None;
        let resolver: Arc<dyn AccountResolver> = match &mode.resolver {
            None if mode.operators.is_empty() => {
                return Err(ServerError::Unsupported(config.origins.locate(
                    "trusted",
                    "trusted keys need an account resolver: rnats supports resolver: MEMORY, URL(…) and resolver { type: full|cache, dir: … }",
                )));
            }
            None => {
                // One operator without `resolver`: its account server URL, with `/accounts`
                // appended as nsc pushes there (opts.go).
                let url = trust
                    .operators()
                    .first()
                    .and_then(|op| op.account_server_url.clone())
                    .filter(|u| !u.trim().is_empty())
                    .ok_or_else(|| {
                        ServerError::Config(config.origins.locate(
                            "operator",
                            "the operator JWT names no account server URL: configure a resolver (resolver: MEMORY, URL(…) or resolver { type: full|cache, dir: … })",
                        ))
                    })?;
                url_resolver(
                    config,
                    &format!("{}/accounts", url.trim()),
                    mode,
                    &mut url_source,
                )?
            }
            Some(rnats_config::Resolver::Url(url)) => {
                url_resolver(config, url, mode, &mut url_source)?
            }
            Some(rnats_config::Resolver::Cache(c)) => {
                let limit = usize::try_from(c.limit).unwrap_or(usize::MAX);
                let limit = if limit == 0 { 1000 } else { limit };
                let store = CacheStore::open(&c.dir, limit, c.ttl).map_err(|e| {
                    ServerError::Config(config.origins.locate(
                        "resolver",
                        format!("account resolver directory {}: {e}", c.dir.display()),
                    ))
                })?;
                let source = Arc::new(LookupSource::new(c.timeout));
                lookup = Some(source.clone());
                Arc::new(RemoteResolver::new(
                    "cache",
                    Some(Arc::new(store)),
                    Box::new(SharedLookup(source)),
                ))
            }
            Some(rnats_config::Resolver::Memory) => Arc::new(MemoryResolver::new(None)),
            Some(rnats_config::Resolver::Full(full)) => {
                let delete = match full.delete {
                    rnats_config::DeletePolicy::Refuse => DirDelete::Refuse,
                    rnats_config::DeletePolicy::Rename => DirDelete::Rename,
                    _ => DirDelete::Remove,
                };
                let limit = full.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
                let dir = DirResolver::open(&full.dir, limit, delete).map_err(|e| {
                    ServerError::Config(config.origins.locate(
                        "resolver",
                        format!("account resolver directory {}: {e}", full.dir.display()),
                    ))
                })?;
                Arc::new(dir)
            }
            Some(_) => {
                return Err(ServerError::Unsupported(config.origins.locate(
                    "resolver",
                    "this account resolver is not supported by rnats",
                )));
            }
        };
        for entry in &mode.resolver_preload {
            // server.go configureResolver: a preload must decode; its times only warn.
            match rnats_jwt::decode_account(&entry.jwt) {
                Ok(_) | Err(JwtError::Expired | JwtError::NotYetValid) => {}
                Err(e) => {
                    return Err(ServerError::Config(config.origins.locate(
                        "resolver_preload",
                        format!("preload account error for {:?}: {e}", entry.account),
                    )));
                }
            }
            resolver.store(&entry.account, &entry.jwt).map_err(|e| {
                ServerError::Config(config.origins.locate(
                    "resolver_preload",
                    format!("preload account error for {:?}: {e}", entry.account),
                ))
            })?;
        }
        let accounts = Arc::new(JwtAccounts::new(trust, resolver));
        let now = SystemTime::now();
        let mut warnings = Vec::new();
        for key in accounts.resolver().list() {
            if let Err(reason) = accounts.get(&key, now) {
                warnings.push(format!("account JWT {key} not loaded: {reason}"));
            }
        }
        Ok(Self {
            accounts,
            opened_from: mode.clone(),
            full,
            cache,
            deletes,
            lookup,
            url: url_source,
            warnings,
        })
    }

    /// What nats-server checks when it starts with a URL resolver: a GET of the URL itself
    /// must succeed ("to see if anyone is home"), else the server does not start. Blocks up
    /// to the fetch timeout; not part of `-t`.
    pub(crate) fn probe(&self) -> Result<(), ServerError> {
        match &self.url {
            Some(url) => url.get("").map(|_| ()).map_err(ServerError::Config),
            None => Ok(()),
        }
    }

    /// The system account's key, from the configuration or the operator JWT.
    pub(crate) fn system_account(&self) -> Option<&str> {
        self.accounts.trust().system_account()
    }

    /// Whether `config` names the same operators and resolver (what a reload may not change).
    pub(crate) fn same_as(&self, config: &ServerConfig) -> bool {
        config.operator_mode.as_ref() == Some(&self.opened_from)
    }

    /// Every loaded account as an `accounts {}` entry: its exports (a token-requiring one open
    /// only to the importers holding a valid activation) and its imports from other loaded
    /// accounts.
    pub(crate) fn account_configs(&self, now: SystemTime) -> Vec<AccountConfig> {
        let loaded = self.accounts.loaded();
        let by_key: HashMap<&str, &JwtAccount> = loaded.iter().map(|a| (a.key(), &**a)).collect();
        // (exporter, export index) → importers that hold a valid activation token.
        let mut activated: HashMap<(&str, usize), Vec<String>> = HashMap::new();
        for importer in &loaded {
            for import in &importer.claims.imports {
                let Some(exporter) = by_key.get(import.account.as_str()) else {
                    continue;
                };
                let Some((index, export)) =
                    exporter.claims.exports.iter().enumerate().find(|(_, e)| {
                        e.kind == import.kind && crate::links::within(&e.subject, &import.subject)
                    })
                else {
                    continue;
                };
                if !export.token_req {
                    continue;
                }
                match check_activation(importer.key(), import, exporter, export, now) {
                    Ok(()) => activated
                        .entry((exporter.key(), index))
                        .or_default()
                        .push(importer.key().to_owned()),
                    Err(reason) => tracing::warn!(
                        "Account [{}] import of {:?} from [{}] not authorized: {reason}",
                        importer.key(),
                        import.subject,
                        exporter.key()
                    ),
                }
            }
        }
        loaded
            .iter()
            .map(|a| {
                let mut cfg = AccountConfig::default();
                cfg.name = a.key().to_owned();
                for (index, e) in a.claims.exports.iter().enumerate() {
                    let Some(kind) = kind_of(e.kind) else {
                        continue;
                    };
                    let mut export = ExportConfig::new(kind, e.subject.clone());
                    if e.token_req {
                        // Only the activated importers; none (an empty name, which no account
                        // has) when nobody holds a token, since an empty list means public.
                        export.accounts = activated
                            .get(&(a.key(), index))
                            .cloned()
                            .unwrap_or_else(|| vec![String::new()]);
                    }
                    export.response_type = match e.response_type {
                        Some(rnats_jwt::ResponseType::Stream) => ResponseType::Stream,
                        Some(rnats_jwt::ResponseType::Chunked) => ResponseType::Chunked,
                        _ => ResponseType::Singleton,
                    };
                    export.response_threshold = e.response_threshold();
                    export.account_token_position = u32::try_from(e.account_token_position)
                        .ok()
                        .filter(|p| *p > 0);
                    cfg.exports.push(export);
                }
                for i in &a.claims.imports {
                    let Some(kind) = kind_of(i.kind) else {
                        continue;
                    };
                    if !by_key.contains_key(i.account.as_str()) {
                        tracing::warn!(
                            "Can't locate account [{}] for import of [{}] {}",
                            i.account,
                            i.subject,
                            i.kind.as_str()
                        );
                        continue;
                    }
                    let mut import = ImportConfig::new(kind, i.account.clone(), i.subject.clone());
                    let local = (!i.local_subject.is_empty()).then(|| i.local_subject.clone());
                    match kind {
                        ExportKind::Stream => {
                            import.to = local;
                            if import.to.is_none() && !i.to.is_empty() {
                                import.prefix = Some(i.to.clone());
                            }
                        }
                        _ => import.to = local,
                    }
                    import.share = i.share;
                    cfg.imports.push(import);
                }
                cfg.mappings = a
                    .claims
                    .mappings
                    .iter()
                    .map(|(source, dests)| MappingConfig {
                        source: source.clone(),
                        destinations: dests
                            .iter()
                            .map(|d| MapDestination {
                                subject: d.subject.clone(),
                                weight: d.weight(),
                                cluster: (!d.cluster.is_empty()).then(|| d.cluster.clone()),
                            })
                            .collect(),
                    })
                    .collect();
                cfg
            })
            .collect()
    }
}

fn kind_of(t: ExportType) -> Option<ExportKind> {
    match t {
        ExportType::Stream => Some(ExportKind::Stream),
        ExportType::Service => Some(ExportKind::Service),
        _ => None,
    }
}

/// An import's activation token for a token-requiring export (nats-server `checkActivation`):
/// it decodes and is current, names the importer, comes from the exporter (or one of its
/// signing keys), is of the export's kind, covers the imported subject and is not revoked.
fn check_activation(
    importer: &str,
    import: &rnats_jwt::Import,
    exporter: &JwtAccount,
    export: &rnats_jwt::Export,
    now: SystemTime,
) -> Result<(), String> {
    if import.token.is_empty() {
        return Err("no activation token".to_owned());
    }
    let act = rnats_jwt::decode_activation_at(&import.token, now).map_err(|e| e.to_string())?;
    if act.subject != importer {
        return Err("activation token is for another account".to_owned());
    }
    let issuer_ok = act.issuer == exporter.key()
        || (exporter.claims.signing_keys.contains(&act.issuer)
            && act.issuer_account.as_deref() == Some(exporter.key()));
    if !issuer_ok {
        return Err("activation token is not signed by the exporter".to_owned());
    }
    if act.kind != export.kind {
        return Err("activation token is for another kind of export".to_owned());
    }
    if !crate::links::within(&act.import_subject, &import.subject) {
        return Err("activation token does not cover the subject".to_owned());
    }
    let issued = act.issued_at.unwrap_or(SystemTime::UNIX_EPOCH);
    if export.revocations.is_revoked(importer, issued) {
        return Err("activation token revoked".to_owned());
    }
    Ok(())
}

/// `resolver: URL(…)` (or an operator's account server URL): fetched over HTTP, with
/// `resolver_tls` for HTTPS.
fn url_resolver(
    config: &ServerConfig,
    url: &str,
    mode: &rnats_config::OperatorMode,
    keep: &mut Option<Arc<UrlSource>>,
) -> Result<Arc<dyn AccountResolver>, ServerError> {
    let source = UrlSource::new(url, mode.resolver_tls.as_ref()).map_err(|e| {
        let key = if mode.resolver_tls.is_some() && e.starts_with("resolver_tls") {
            "resolver_tls"
        } else {
            "resolver"
        };
        ServerError::Config(config.origins.locate(key, e))
    })?;
    let source = Arc::new(source);
    *keep = Some(source.clone());
    Ok(Arc::new(RemoteResolver::new("URL", None, Box::new(source))))
}

/// The nats-server version rnats speaks, as numbers.
fn server_version() -> (u64, u64, u64) {
    let mut parts = COMPAT_VERSION.split('.').map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}
