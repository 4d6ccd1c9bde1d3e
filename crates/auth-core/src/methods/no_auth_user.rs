//! [`NoAuthUser`]: who a client that presents nothing becomes.

use std::time::SystemTime;

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::AuthError;
use crate::grant::UserGrant;
use crate::{AuthMethod, AuthRequest, Authorized, GLOBAL_ACCOUNT};

#[derive(Debug, Clone)]
enum Who {
    /// `no_auth_user`: a configured user (by name or NKey) and its grant.
    User { identity: String, grant: UserGrant },
    /// nats-server's hidden global user.
    HiddenGlobal,
}

/// A client that presents no user, password, token or NKey becomes a fixed user. Applies to
/// exactly those requests (a JWT alone counts as nothing when no member before this one took
/// it).
#[derive(Debug, Clone)]
pub struct NoAuthUser {
    who: Who,
}

impl NoAuthUser {
    /// `no_auth_user`: the user `identity` (a name or public NKey) with its grant. INFO then
    /// says authentication is not required.
    pub fn new(identity: impl Into<String>, grant: UserGrant) -> Self {
        Self {
            who: Who::User {
                identity: identity.into(),
                grant,
            },
        }
    }

    /// nats-server's hidden global user: when only the system account has users (and there
    /// is no `authorization` block), a client presenting nothing joins `$G` with every
    /// permission, while INFO still says authentication is required.
    pub fn hidden_global() -> Self {
        Self {
            who: Who::HiddenGlobal,
        }
    }
}

impl Authenticator for NoAuthUser {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        match &self.who {
            Who::User { identity, grant } => {
                grant.admit(identity, AuthMethod::NoAuthUser, req, now)
            }
            Who::HiddenGlobal => Ok(Authorized::new(GLOBAL_ACCOUNT, "", AuthMethod::NoAuthUser)),
        }
    }

    /// `false` for a `no_auth_user`; `true` for the hidden global user (as nats-server).
    fn auth_required(&self) -> bool {
        matches!(self.who, Who::HiddenGlobal)
    }

    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

impl ChainMember for NoAuthUser {
    /// Requests with no user, password, token or NKey.
    fn applies(&self, req: &AuthRequest) -> bool {
        [&req.user, &req.pass, &req.token, &req.nkey]
            .into_iter()
            .all(|v| given(v).is_none())
    }
}
