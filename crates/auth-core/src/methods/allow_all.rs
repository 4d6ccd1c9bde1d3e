//! [`AllowAll`]: everyone in, to `$G`.

use crate::authenticator::{Authenticator, ChainMember};
use crate::error::AuthError;
use crate::{AuthMethod, AuthRequest, Authorized, GLOBAL_ACCOUNT};

/// Lets every client into `$G` with every permission and [`AuthMethod::None`], whatever it
/// presents. Unlike an empty [`AuthChain`](crate::AuthChain) it is still asked (so the
/// broker keeps each client's credentials to check again on reload): what a configuration
/// with an `authorization` or `accounts` block but no credential in it means.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _req: &AuthRequest) -> Result<Authorized, AuthError> {
        Ok(Authorized::new(GLOBAL_ACCOUNT, "", AuthMethod::None))
    }

    /// `false`: nobody needs credentials.
    fn auth_required(&self) -> bool {
        false
    }

    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

impl ChainMember for AllowAll {
    /// Every request.
    fn applies(&self, _req: &AuthRequest) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::test_util::login;

    #[test]
    fn everyone_in() {
        let who = AllowAll.authenticate(&login("anyone", "anything")).unwrap();
        assert_eq!((who.account.as_str(), who.method), ("$G", AuthMethod::None));
        assert!(AllowAll.configured() && !AllowAll.auth_required());
    }
}
