//! Typed authorization, permission and account sections (parsed and checked, not enforced:
//! enforcement belongs to the auth engine).

use std::time::{Duration, SystemTime};

/// The `authorization { … }` block.
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AuthorizationConfig {
    /// `token`: the single shared token (plain or bcrypt).
    pub token: Option<String>,
    /// `user`/`username`: the single user.
    pub user: Option<String>,
    /// `password`/`pass` of the single user (plain or bcrypt).
    pub password: Option<String>,
    /// `users`: users and NKey users of the global account.
    pub users: Vec<UserConfig>,
    /// `timeout`: how long a client has to authenticate; `None` means nats-server's default
    /// (2 s, or the TLS timeout plus 1 s).
    pub timeout: Option<Duration>,
    /// `default_permissions` (aliases `default_permission`, `permissions`): for users without
    /// their own `permissions`. Not applied to `users` here.
    pub default_permissions: Option<PermissionsConfig>,
    /// `oidc` (an rnats extension): trusted OAuth 2 / OpenID Connect token issuers.
    pub oidc: Vec<crate::OidcConfig>,
    /// `auth_callout` (alias `auth_hook`): delegate authentication to an external service.
    pub auth_callout: Option<AuthCalloutConfig>,
}

/// `authorization { auth_callout { … } }`: clients are authenticated by a service that
/// answers `$SYS.REQ.USER.AUTH` requests in `account`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AuthCalloutConfig {
    /// `issuer`: the account public key (`A…`) that signs the user JWTs the service returns.
    pub issuer: String,
    /// `account` (alias `acc`): where requests are published and the service lives; `$G`
    /// when unset.
    pub account: String,
    /// `auth_users` (alias `users`): users or NKeys that bypass the callout (the service's own
    /// connections). Never empty.
    pub auth_users: Vec<String>,
    /// `xkey` (alias `key`): the service's public curve key (`X…`); requests are then sealed
    /// to it.
    pub xkey: Option<String>,
    /// `allowed_accounts`: accounts whose locally authenticated users are still sent to the
    /// service (empty: all); each a configured account.
    pub allowed_accounts: Vec<String>,
    /// `local_first` (an rnats extension): a client that authenticates against the locally
    /// configured users (password, token, NKey, certificate) is let in without asking the
    /// service; only clients the local rules refuse are sent to it.
    pub local_first: bool,
}

/// One entry of a `users` list.
#[derive(Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct UserConfig {
    /// `user`/`username`; `None` for NKey users.
    pub user: Option<String>,
    /// `password`/`pass` (plain or bcrypt).
    pub password: Option<String>,
    /// `nkey`: a user public key (`U…`), checked to be well formed.
    pub nkey: Option<String>,
    /// `permissions` (aliases `permission`, `authorization`).
    pub permissions: Option<PermissionsConfig>,
    /// `allowed_connection_types` (aliases `connection_types`, `clients`), upper-cased and
    /// checked; empty means every type.
    pub allowed_connection_types: Vec<String>,
    /// The account the user belongs to: the enclosing `accounts` entry, or (an rnats extension)
    /// `account: NAME` on a user in `authorization.users`.
    pub account: Option<String>,
    /// `connection_deadline` (an rnats extension): the credentials stop working at this time.
    pub connection_deadline: Option<SystemTime>,
    /// `proxy_required`: the user may only connect through a trusted proxy.
    pub proxy_required: bool,
    /// `max_connections` (alias `max_conn`; an rnats extension): most connections of this user
    /// at once; `None` (absent) means no per-user limit.
    pub max_connections: Option<u32>,
}

/// A `permissions { … }` block.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PermissionsConfig {
    /// `publish` (aliases `pub`, `import`).
    pub publish: Option<SubjectPermission>,
    /// `subscribe` (aliases `sub`, `export`). Entries may be `"subject queue"`.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses` (alias `publish_allow_responses`); `None` when absent or `false`.
    pub allow_responses: Option<ResponsePermission>,
}

/// Allow and deny lists of subjects. A plain subject or list in the file is an allow list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SubjectPermission {
    /// Subjects allowed; empty means no allow list (everything not denied is allowed).
    pub allow: Vec<String>,
    /// Subjects denied; deny wins over allow.
    pub deny: Vec<String>,
}

impl SubjectPermission {
    /// Lists of allowed and denied subjects.
    pub fn new(allow: Vec<String>, deny: Vec<String>) -> Self {
        Self { allow, deny }
    }
}

/// `allow_responses`: the right to publish to reply subjects of received requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponsePermission {
    /// Responses allowed per request; `None` is unlimited (a negative `max` in the file).
    /// Default 1 (also for `max: 0`).
    pub max_msgs: Option<u64>,
    /// How long the right lasts; `None` is unlimited (a negative `expires`). Default 2 minutes.
    pub expires: Option<Duration>,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        Self {
            max_msgs: Some(1),
            expires: Some(Duration::from_secs(120)),
        }
    }
}

/// One account of the `accounts` block (config mode, not operator/JWT mode).
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AccountConfig {
    /// The account name.
    pub name: String,
    /// `users`: each has `account` set to this account's name.
    pub users: Vec<UserConfig>,
    /// `exports`.
    pub exports: Vec<ExportConfig>,
    /// `imports`.
    pub imports: Vec<ImportConfig>,
    /// `jetstream`: whether JetStream was enabled for the account (not supported yet; kept so
    /// the file means the same).
    pub jetstream: bool,
    /// `default_permissions` (alias `default_permission`): for the account's users without their
    /// own permissions. Not applied to `users` here.
    pub default_permissions: Option<PermissionsConfig>,
    /// `signing_keys` (an rnats extension in config mode): account public keys (`A…`).
    pub signing_keys: Vec<String>,
    /// `nkey`: the account's own public key (`A…`).
    pub nkey: Option<String>,
    /// `mappings` (alias `maps`): subject mappings applied to what this account's clients
    /// publish, in file order.
    pub mappings: Vec<crate::MappingConfig>,
    /// `msg_trace` (alias `trace_dest`): where messages with a sampled `traceparent` header
    /// are traced.
    pub msg_trace: Option<crate::MsgTraceConfig>,
}

/// Whether an export or import is a stream or a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportKind {
    /// `stream`: messages flow to the importer.
    Stream,
    /// `service`: requests flow to the exporter, replies back.
    Service,
}

/// How a service answers (`response_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseType {
    /// `single`/`singleton`: one reply (the default).
    #[default]
    Singleton,
    /// `stream`: several replies until the threshold.
    Stream,
    /// `chunk`/`chunked`: a chunked reply.
    Chunked,
}

/// Service latency tracking of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencyConfig {
    /// Subject the measurements are published to.
    pub subject: String,
    /// Which requests are measured.
    pub sampling: LatencySampling,
}

/// `latency.sampling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LatencySampling {
    /// This percentage (1–100) of requests; default 100.
    Percent(u8),
    /// Only requests that carry tracing headers.
    Headers,
}

/// One entry of an account's `exports`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportConfig {
    /// Stream or service.
    pub kind: ExportKind,
    /// The exported subject.
    pub subject: String,
    /// `accounts`: who may import; empty means public.
    pub accounts: Vec<String>,
    /// `response_type` (alias `response`), services only.
    pub response_type: ResponseType,
    /// `threshold` (aliases `response_threshold`, `response_max_time`, `response_time`).
    pub response_threshold: Option<Duration>,
    /// `account_token_position`: the token of the subject that must be the importer's name.
    pub account_token_position: Option<u32>,
    /// `latency` tracking.
    pub latency: Option<LatencyConfig>,
    /// `allow_trace`.
    pub allow_trace: bool,
}

impl ExportConfig {
    /// A public export of `subject` with every option at its default.
    pub fn new(kind: ExportKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
            accounts: Vec::new(),
            response_type: ResponseType::default(),
            response_threshold: None,
            account_token_position: None,
            latency: None,
            allow_trace: false,
        }
    }
}

/// One entry of an account's `imports`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ImportConfig {
    /// Stream or service.
    pub kind: ExportKind,
    /// The exporting account.
    pub account: String,
    /// The subject as exported.
    pub subject: String,
    /// `to`: the local subject (services; remaps streams).
    pub to: Option<String>,
    /// `prefix` (streams): prepended to the subject.
    pub prefix: Option<String>,
    /// `share` (services): share requestor information for latency tracking.
    pub share: bool,
    /// `allow_trace`.
    pub allow_trace: bool,
}

impl ImportConfig {
    /// An import of `subject` from `account`, with every option at its default.
    pub fn new(kind: ExportKind, account: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            kind,
            account: account.into(),
            subject: subject.into(),
            to: None,
            prefix: None,
            share: false,
            allow_trace: false,
        }
    }
}

/// Shown in place of a secret by the hand-written `Debug` impls: configurations get logged and
/// printed in errors, passwords and tokens must never be.
const REDACTED: &str = "<redacted>";

fn redact(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

impl std::fmt::Debug for AuthorizationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationConfig")
            .field("token", &redact(&self.token))
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("users", &self.users)
            .field("timeout", &self.timeout)
            .field("default_permissions", &self.default_permissions)
            .field("oidc", &self.oidc)
            .field("auth_callout", &self.auth_callout)
            .finish()
    }
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("user", &self.user)
            .field("password", &redact(&self.password))
            .field("nkey", &self.nkey)
            .field("permissions", &self.permissions)
            .field("allowed_connection_types", &self.allowed_connection_types)
            .field("account", &self.account)
            .field("connection_deadline", &self.connection_deadline)
            .field("proxy_required", &self.proxy_required)
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn debug_never_prints_secrets() {
        let loaded = crate::load_str(
            "authorization { users = [ { user: v, password: tok-SECRET } ] }\naccounts { A { users = [ { user: u, password: pw-SECRET } ] } }",
            None,
        )
        .unwrap();
        let text = format!("{:?}", loaded.config);
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
