//! Errors: why a login was refused, why a configuration cannot be used, why a permission set
//! does not compile.
//!
//! No text here ever contains a password, token, signature or seed: only identities (user
//! names, public keys) and reasons, so the broker can log them as they are.

use std::net::SocketAddr;

use rnats_jwt::JwtError;
use rnats_sublist::SubjectError;

use crate::ConnectionType;

/// Why a client was not authenticated. `Display` is the reason for the audit log; on the wire
/// the client gets `Authorization Violation`, or (opt-in) the client-safe
/// [`category`](Self::category) after it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Authentication is required and the client presented nothing usable.
    #[error("no credentials presented")]
    NoCredentials,
    /// The auth callout service refused the client, answered wrongly, or could not be asked
    /// (nats-server's log text, or rnats' for a service that is down).
    #[error("auth callout: {0}")]
    Callout(String),
    /// No configured user has this name.
    #[error("unknown user {user:?}")]
    UnknownUser {
        /// The name the client sent.
        user: String,
    },
    /// The password does not match (also: the user has no password and was not mapped from a
    /// certificate).
    #[error("wrong password for user {user:?}")]
    BadPassword {
        /// The user.
        user: String,
    },
    /// The token does not match.
    #[error("wrong token")]
    BadToken,
    /// The client named an NKey that is not configured (there is no fallback to users).
    #[error("unknown nkey {nkey:?}")]
    UnknownNkey {
        /// The public key the client sent.
        nkey: String,
    },
    /// The client sent an NKey (or a non-bearer JWT) but no `sig`.
    #[error("missing nonce signature for {identity:?}")]
    MissingNonceSignature {
        /// The public key.
        identity: String,
    },
    /// The nonce signature is not base64 or does not verify.
    #[error("bad nonce signature for {identity:?}")]
    BadSignature {
        /// The public key.
        identity: String,
    },
    /// The request carried no nonce although the method needs one (a broker bug or a
    /// listener that did not send one).
    #[error("no nonce was sent to the client, cannot verify {identity:?}")]
    MissingNonce {
        /// The public key.
        identity: String,
    },
    /// The user may not connect over this kind of connection.
    #[error("user {identity:?} may not connect with connection type {connection_type}")]
    ConnectionTypeNotAllowed {
        /// The user.
        identity: String,
        /// What the client used.
        connection_type: ConnectionType,
    },
    /// The user's `connection_deadline` (or JWT `exp`) has passed.
    #[error("credentials of {identity:?} have expired")]
    Expired {
        /// The user.
        identity: String,
    },
    /// The JWT did not decode or verify.
    #[error("bad user JWT: {0}")]
    BadJwt(#[from] JwtError),
    /// The JWT's issuer is not a signing key of any account.
    #[error("JWT issuer {issuer:?} is not a signing key of any account")]
    UnknownSigningKey {
        /// The issuer key.
        issuer: String,
    },
    /// The JWT's `issuer_account` is not the account owning the signing key.
    #[error("JWT issuer_account {issuer_account:?} does not match account {account:?}")]
    IssuerAccountMismatch {
        /// What the JWT claims.
        issuer_account: String,
        /// The account that lists the signing key.
        account: String,
    },
    /// The JWT's permissions do not compile.
    #[error("JWT of {identity:?} has invalid permissions: {source}")]
    BadJwtPermissions {
        /// The user key.
        identity: String,
        /// Why.
        source: PermissionError,
    },
    /// The client's address is outside the JWT's `src` networks.
    #[error("{identity:?} may not connect from {addr}")]
    SourceNotAllowed {
        /// The user key.
        identity: String,
        /// The client's address.
        addr: SocketAddr,
    },
    /// The JWT carries a restriction rnats does not enforce yet, so it is refused rather than
    /// ignored.
    #[error("JWT of {identity:?} uses {what}, which is not supported")]
    UnsupportedRestriction {
        /// The user key.
        identity: String,
        /// The claim.
        what: &'static str,
    },
    /// The user must come through a trusted proxy, which rnats does not support yet.
    #[error("user {identity:?} requires a trusted proxy")]
    ProxyRequired {
        /// The user.
        identity: String,
    },
    /// `verify_and_map` is on and the client certificate names no configured user.
    #[error("no user matches the client certificate")]
    NoCertificateUser,
    /// `verify_and_map` is on and the client presented no certificate.
    #[error("a client certificate is required")]
    NoCertificate,
    /// Operator mode: the client presented no user JWT (and there is no default sentinel).
    #[error("authentication requires a user JWT")]
    NoUserJwt,
    /// The user's account is not in `resolver_pinned_accounts`.
    #[error("account {account} not listed as operator pinned account")]
    AccountNotPinned {
        /// The account key.
        account: String,
    },
    /// The user's account JWT could not be found or verified.
    #[error("account JWT lookup error for {account}: {reason}")]
    AccountLookup {
        /// The account key.
        account: String,
        /// Why.
        reason: String,
    },
    /// The user JWT's issuer is neither the account's key nor one of its signing keys.
    #[error("user JWT issuer {issuer} is not known to account {account}")]
    UnknownIssuer {
        /// The issuer key.
        issuer: String,
        /// The account key.
        account: String,
    },
    /// A user JWT issued by a scoped signing key sets permissions or limits of its own.
    #[error(
        "user JWT of {identity} is issued by a scoped signing key: scoped users require no permissions or limits set"
    )]
    ScopedUserWithPermissions {
        /// The user key.
        identity: String,
    },
    /// A scoped signing key's template did not produce valid permissions for this user.
    #[error("user JWT of {identity} generated invalid permissions: {reason}")]
    BadTemplate {
        /// The user key.
        identity: String,
        /// Why.
        reason: String,
    },
    /// The account JWT has expired.
    #[error("account JWT of {account} has expired")]
    AccountExpired {
        /// The account key.
        account: String,
    },
    /// The account's `disallow_bearer` refuses bearer user JWTs.
    #[error("account {account} does not allow bearer tokens")]
    BearerNotAllowed {
        /// The account key.
        account: String,
    },
    /// The account revoked this user (by key or `*`) at or after the JWT's `iat`.
    #[error("user {identity} authentication revoked")]
    Revoked {
        /// The user key.
        identity: String,
    },
    /// The user JWT's `times` do not include now.
    #[error("user {identity} is outside its connect times")]
    OutsideConnectTimes {
        /// The user key.
        identity: String,
    },
    /// An OIDC bearer token was refused. `identity` and `account` are filled in as far as the
    /// checks got (never from an unverified token).
    #[error(
        "oidc token of issuer {issuer:?}{}{}: {reason}",
        identity.as_ref().map(|i| format!(" for {i:?}")).unwrap_or_default(),
        account.as_ref().map(|a| format!(" in account {a:?}")).unwrap_or_default()
    )]
    Oidc {
        /// The issuer the token names.
        issuer: String,
        /// The `user_claim` of a verified token.
        identity: Option<String>,
        /// The account the user would have joined.
        account: Option<String>,
        /// Why.
        reason: String,
    },
    /// The user JWT's `times` or `times_location` cannot be read (an unknown zone, say).
    #[error("connect times of {identity} cannot be checked: {reason}")]
    BadConnectTimes {
        /// The user key.
        identity: String,
        /// Why.
        reason: String,
    },
}

impl AuthError {
    /// The client-safe category of this refusal, for brokers that tell clients why (opt-in).
    ///
    /// Every failure that concerns *which* credentials were presented (an unknown user, a wrong
    /// password, an unknown NKey, a bad signature, a JWT from an unknown issuer) maps to
    /// [`FailureCategory::CredentialsRejected`], so the text never reveals whether a user
    /// exists. The other categories are only produced by checks that run after the
    /// credentials were verified (connection type, deadline, source network, connect times,
    /// account state), so naming them tells the client nothing it could not know.
    pub fn category(&self) -> FailureCategory {
        match self {
            Self::NoCredentials | Self::NoUserJwt | Self::NoCertificate => {
                FailureCategory::CredentialsRequired
            }
            Self::UnknownUser { .. }
            | Self::BadPassword { .. }
            | Self::BadToken
            | Self::UnknownNkey { .. }
            | Self::MissingNonceSignature { .. }
            | Self::BadSignature { .. }
            | Self::MissingNonce { .. }
            | Self::BadJwt(_)
            | Self::UnknownSigningKey { .. }
            | Self::IssuerAccountMismatch { .. }
            | Self::UnknownIssuer { .. }
            | Self::NoCertificateUser
            // A callout service's or an identity provider's refusal is not explained further:
            // its reasons may depend on whether the user exists.
            | Self::Callout(_)
            | Self::Oidc { .. } => FailureCategory::CredentialsRejected,
            Self::ConnectionTypeNotAllowed { .. } => FailureCategory::ConnectionTypeNotAllowed,
            Self::Expired { .. } => FailureCategory::CredentialsExpired,
            Self::Revoked { .. } => FailureCategory::CredentialsRevoked,
            Self::SourceNotAllowed { .. } => FailureCategory::AddressNotAllowed,
            Self::OutsideConnectTimes { .. } => FailureCategory::OutsideAllowedTimes,
            Self::AccountNotPinned { .. } | Self::AccountLookup { .. } => {
                FailureCategory::AccountNotFound
            }
            Self::AccountExpired { .. } => FailureCategory::AccountExpired,
            Self::BadJwtPermissions { .. }
            | Self::UnsupportedRestriction { .. }
            | Self::ProxyRequired { .. }
            | Self::ScopedUserWithPermissions { .. }
            | Self::BadTemplate { .. }
            | Self::BearerNotAllowed { .. }
            | Self::BadConnectTimes { .. } => FailureCategory::CredentialsNotUsable,
        }
    }
}

/// Why a login was refused, in words a client may be told: a small, stable set that never
/// distinguishes an unknown user from a wrong secret (see [`AuthError::category`]).
///
/// ```
/// use rnats_auth::{AuthError, FailureCategory};
///
/// let unknown = AuthError::UnknownUser { user: "mallory".into() };
/// let wrong = AuthError::BadPassword { user: "alice".into() };
/// assert_eq!(unknown.category(), wrong.category());
/// assert_eq!(wrong.category().client_text(), "credentials rejected");
/// assert_eq!(FailureCategory::AddressNotAllowed.client_text(), "not permitted from this address");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureCategory {
    /// Authentication is required and nothing usable was presented.
    CredentialsRequired,
    /// The credentials do not identify a user (unknown user, wrong password or token, unknown
    /// NKey, bad signature, untrusted JWT): one category so a user's existence is not revealed.
    CredentialsRejected,
    /// The credentials are past their deadline or expiry.
    CredentialsExpired,
    /// The account revoked the user.
    CredentialsRevoked,
    /// The credentials carry restrictions or options this server cannot honour (bearer tokens
    /// refused, permissions that do not compile, a trusted proxy required, …).
    CredentialsNotUsable,
    /// The user may not connect from the client's address.
    AddressNotAllowed,
    /// The user may not connect at this time of day.
    OutsideAllowedTimes,
    /// The user may not connect over this kind of connection (plain, WebSocket, …).
    ConnectionTypeNotAllowed,
    /// The user's account could not be found or is not allowed.
    AccountNotFound,
    /// The user's account has expired.
    AccountExpired,
    /// The server is busy with other logins and refused this one without checking it (a
    /// broker's own category, not produced by [`AuthError::category`]).
    ServerBusy,
}

impl FailureCategory {
    /// Every category, for documentation and tests.
    pub const ALL: [Self; 11] = [
        Self::CredentialsRequired,
        Self::CredentialsRejected,
        Self::CredentialsExpired,
        Self::CredentialsRevoked,
        Self::CredentialsNotUsable,
        Self::AddressNotAllowed,
        Self::OutsideAllowedTimes,
        Self::ConnectionTypeNotAllowed,
        Self::AccountNotFound,
        Self::AccountExpired,
        Self::ServerBusy,
    ];

    /// A stable `snake_case` name for this category, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CredentialsRequired => "credentials_required",
            Self::CredentialsRejected => "credentials_rejected",
            Self::CredentialsExpired => "credentials_expired",
            Self::CredentialsRevoked => "credentials_revoked",
            Self::CredentialsNotUsable => "credentials_not_usable",
            Self::AddressNotAllowed => "address_not_allowed",
            Self::OutsideAllowedTimes => "outside_allowed_times",
            Self::ConnectionTypeNotAllowed => "connection_type_not_allowed",
            Self::AccountNotFound => "account_not_found",
            Self::AccountExpired => "account_expired",
            Self::ServerBusy => "server_busy",
        }
    }

    /// The words a client may be told (lower case, no quotes, no identity).
    pub fn client_text(self) -> &'static str {
        match self {
            Self::CredentialsRequired => "credentials required",
            Self::CredentialsRejected => "credentials rejected",
            Self::CredentialsExpired => "credentials expired",
            Self::CredentialsRevoked => "credentials revoked",
            Self::CredentialsNotUsable => "credentials not usable",
            Self::AddressNotAllowed => "not permitted from this address",
            Self::OutsideAllowedTimes => "outside allowed times",
            Self::ConnectionTypeNotAllowed => "connection type not allowed",
            Self::AccountNotFound => "account not found",
            Self::AccountExpired => "account expired",
            Self::ServerBusy => "server busy, try again later",
        }
    }
}

impl std::fmt::Display for FailureCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.client_text())
    }
}

/// Why a configuration cannot be turned into a [`ServerAuth`](crate::ServerAuth). Texts are
/// nats-server's where it has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthConfigError {
    /// `token` together with `user`/`password`.
    #[error("Cannot have a user/pass and token")]
    TokenAndUser,
    /// Single user together with a `users` list.
    #[error("Can not have a single user/pass and a users array")]
    SingleUserAndUsers,
    /// Token together with a `users` list.
    #[error("Can not have a token and a users array")]
    TokenAndUsers,
    /// Token together with account users.
    #[error("Can not have a token and accounts")]
    TokenAndAccounts,
    /// Single user together with account users.
    #[error("Can not have a single user/pass and accounts")]
    SingleUserAndAccounts,
    /// The same user name twice.
    #[error("Duplicate user {0:?} detected")]
    DuplicateUser(String),
    /// The same NKey twice.
    #[error("Duplicate nkey {0:?} detected")]
    DuplicateNkey(String),
    /// An NKey user with a name or password.
    #[error("Nkey users do not take usernames or passwords")]
    NkeyWithPassword,
    /// A password that looks like an argon2id hash but does not parse.
    #[error("password of user {0:?} is not a valid argon2id hash")]
    InvalidPasswordHash(String),
    /// A token that looks like an argon2id hash but does not parse.
    #[error("authorization token is not a valid argon2id hash")]
    InvalidTokenHash,
    /// A `users` entry with neither name nor NKey.
    #[error("User entry requires a user")]
    UserWithoutName,
    /// Not a valid user public key.
    #[error("Not a valid public nkey for a user: {0:?}")]
    InvalidUserNkey(String),
    /// Not a valid account public key (account `nkey` or `signing_keys`).
    #[error("Not a valid public nkey for an account: {0:?}")]
    InvalidAccountNkey(String),
    /// `$G` used as an account name.
    #[error("\"$G\" is a Reserved Account")]
    ReservedAccount,
    /// A user names an account that does not exist.
    #[error("account {0:?} is not defined in accounts")]
    UnknownAccount(String),
    /// `no_auth_user` names nobody.
    #[error(
        "no_auth_user: {0:?} not present as user or nkey in authorization block or account configuration"
    )]
    UnknownNoAuthUser(String),
    /// The same signing key listed by two accounts.
    #[error("signing key {key:?} is listed by accounts {first:?} and {second:?}")]
    DuplicateSigningKey {
        /// The key.
        key: String,
        /// One account.
        first: String,
        /// The other.
        second: String,
    },
    /// An unknown `allowed_connection_types` value.
    #[error("invalid connection types [{0:?}]")]
    UnknownConnectionType(String),
    /// An operator JWT (or the default sentinel, or an operator's version assertion) is not
    /// usable; nats-server's text where it has one.
    #[error("{0}")]
    Operator(String),
    /// The system account does not agree with the operators (located text).
    #[error("{0}")]
    SystemAccount(String),
    /// An `oidc` issuer cannot be used (its `jwks_file` cannot be read, say).
    #[error("{reason}")]
    Oidc {
        /// The [`Origins`](rnats_config::Origins) key of the value at fault.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A permission set does not compile.
    #[error("permissions of {owner}: {source}")]
    Permissions {
        /// Whose permissions (user, or `default_permissions` of an account).
        owner: String,
        /// Why.
        source: PermissionError,
    },
}

/// Why a permission set does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionError {
    /// An entry is not a valid subject.
    #[error("{list}: subject {subject:?} is not a valid subject: {reason}")]
    InvalidSubject {
        /// `publish allow`, `subscribe deny`, ….
        list: &'static str,
        /// The entry.
        subject: String,
        /// Why.
        reason: SubjectError,
    },
    /// A subscribe entry is not `subject` or `subject queue`.
    #[error("{list}: {entry:?} is not \"subject\" or \"subject queue\"")]
    InvalidQueueEntry {
        /// The list.
        list: &'static str,
        /// The entry.
        entry: String,
    },
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// bcrypt refused (cost out of 4..=31, or a password longer than 72 bytes).
    #[error("bcrypt: {0}")]
    Bcrypt(String),
    /// argon2 refused.
    #[error("argon2: {0}")]
    Argon2(String),
}
