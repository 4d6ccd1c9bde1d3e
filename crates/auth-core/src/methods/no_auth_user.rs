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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::methods::test_util::{anonymous, login, token};

    #[test]
    fn only_requests_with_nothing() {
        let n = NoAuthUser::new("guest", UserGrant::new("A"));
        assert!(n.applies(&anonymous()));
        assert!(!n.applies(&login("u", "")) && !n.applies(&token("t")));
        let mut jwt_only = anonymous();
        jwt_only.jwt = Some("e30".into());
        assert!(n.applies(&jwt_only));
        let who = n.authenticate(&anonymous()).unwrap();
        assert_eq!(
            (who.account.as_str(), who.identity.as_str(), who.method),
            ("A", "guest", AuthMethod::NoAuthUser)
        );
        assert!(!n.auth_required());
    }

    #[test]
    fn the_grant_still_applies() {
        let now = SystemTime::now();
        let n = NoAuthUser::new("guest", UserGrant::global().with_deadline(Some(now)));
        assert!(matches!(
            n.authenticate_at(&anonymous(), now + Duration::from_secs(1)),
            Err(AuthError::Expired { .. })
        ));
    }

    #[test]
    fn hidden_global_user_keeps_auth_required() {
        let h = NoAuthUser::hidden_global();
        assert!(h.auth_required());
        let who = h.authenticate(&anonymous()).unwrap();
        assert_eq!(
            (who.account.as_str(), who.method),
            ("$G", AuthMethod::NoAuthUser)
        );
    }
}
