//! [`AuthChain`]: authentication methods tried in order, the first that applies deciding.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::authenticator::{Authenticator, ChainMember};
use crate::error::AuthError;
use crate::{AuthMethod, AuthRequest, Authorized, DEFAULT_AUTH_TIMEOUT, GLOBAL_ACCOUNT};

/// Authentication methods in order; the first member that [applies](ChainMember::applies) to
/// a request decides it, and its refusal is final (nats-server never falls back from, say, an
/// unknown NKey to passwords). A request no member applies to is refused with
/// [`AuthError::NoCredentials`].
///
/// An empty chain is "no authentication": it is not [`configured`](Authenticator::configured)
/// and lets everyone into `$G` with [`AuthMethod::None`].
///
/// [`ServerAuth::from_config`](crate::ServerAuth::from_config) builds the chain a
/// configuration file describes; the crate docs show one built by hand.
pub struct AuthChain {
    members: Vec<Box<dyn ChainMember>>,
    auth_timeout: Duration,
}

impl AuthChain {
    /// An empty chain (no authentication) with the default CONNECT timeout.
    pub fn new() -> Self {
        Self {
            members: Vec::new(),
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
        }
    }

    /// Adds `member` after the others.
    #[must_use]
    pub fn with(mut self, member: impl ChainMember) -> Self {
        self.push(member);
        self
    }

    /// Adds `member` after the others.
    pub fn push(&mut self, member: impl ChainMember) {
        self.members.push(Box::new(member));
    }

    /// Sets how long a client has to send CONNECT.
    #[must_use]
    pub fn with_auth_timeout(mut self, timeout: Duration) -> Self {
        self.auth_timeout = timeout;
        self
    }

    /// How many methods the chain holds.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the chain holds no method (everyone is let in).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn deciding(&self, req: &AuthRequest) -> Option<&dyn ChainMember> {
        self.members.iter().map(|m| &**m).find(|m| m.applies(req))
    }
}

impl Default for AuthChain {
    fn default() -> Self {
        Self::new()
    }
}

impl Authenticator for AuthChain {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        if self.members.is_empty() {
            return Ok(Authorized::new(GLOBAL_ACCOUNT, "", AuthMethod::None));
        }
        match self.deciding(req) {
            Some(member) => member.authenticate_at(req, now),
            None => Err(AuthError::NoCredentials),
        }
    }

    /// `true` unless the chain is empty.
    fn configured(&self) -> bool {
        !self.members.is_empty()
    }

    /// `true` when the chain is not empty and every member requires authentication (none
    /// lets in a client that presents nothing).
    fn auth_required(&self) -> bool {
        !self.members.is_empty() && self.members.iter().all(|m| m.auth_required())
    }

    /// Whether any member needs a nonce.
    fn needs_nonce(&self) -> bool {
        self.members.iter().any(|m| m.needs_nonce())
    }

    fn auth_timeout(&self) -> Duration {
        self.auth_timeout
    }

    /// What the member that would decide `req` says; `false` when none would.
    fn may_block(&self, req: &AuthRequest) -> bool {
        self.deciding(req).is_some_and(|m| m.may_block(req))
    }

    fn clear_cache(&self) {
        for m in &self.members {
            m.clear_cache();
        }
    }
}

/// A chain can be a member of another chain: it applies when one of its members does.
impl ChainMember for AuthChain {
    fn applies(&self, req: &AuthRequest) -> bool {
        self.deciding(req).is_some()
    }
}

impl fmt::Debug for AuthChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthChain")
            .field("members", &self.members)
            .field("auth_timeout", &self.auth_timeout)
            .finish()
    }
}
