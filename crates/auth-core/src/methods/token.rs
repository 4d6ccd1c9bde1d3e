//! [`TokenAuth`]: `authorization { token }`.

use std::fmt;
use std::sync::Arc;

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::secret::{SecretCache, StoredSecret};
use crate::{AuthMethod, AuthRequest, Authorized, GLOBAL_ACCOUNT};

/// The shared token (plain, bcrypt or argon2id): a client sending it joins `$G` with every
/// permission. Applies to requests that carry a CONNECT `auth_token`.
pub struct TokenAuth {
    token: StoredSecret,
    cache: Arc<SecretCache>,
}

impl TokenAuth {
    /// A token authenticator; `token` may be a bcrypt or argon2id hash.
    pub fn new(token: &str) -> Result<Self, AuthConfigError> {
        Self::with_cache(token, Arc::new(SecretCache::new()))
    }

    pub(crate) fn with_cache(
        token: &str,
        cache: Arc<SecretCache>,
    ) -> Result<Self, AuthConfigError> {
        let token = StoredSecret::new(token);
        if !token.is_well_formed() {
            return Err(AuthConfigError::InvalidTokenHash);
        }
        Ok(Self { token, cache })
    }

    /// Whether the configured token is a hash (bcrypt or argon2id).
    pub fn is_hashed(&self) -> bool {
        self.token.is_hashed()
    }
}

impl Authenticator for TokenAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        let Some(token) = given(&req.token) else {
            return Err(AuthError::NoCredentials);
        };
        if !self.cache.verify("", &self.token, token) {
            return Err(AuthError::BadToken);
        }
        Ok(Authorized::new(GLOBAL_ACCOUNT, "", AuthMethod::Token))
    }

    /// Only a hashed token not verified recently.
    fn may_block(&self, req: &AuthRequest) -> bool {
        !given(&req.token).is_some_and(|t| self.cache.is_cheap("", &self.token, t))
    }

    fn clear_cache(&self) {
        self.cache.clear();
    }
}

impl ChainMember for TokenAuth {
    /// Requests with an `auth_token`.
    fn applies(&self, req: &AuthRequest) -> bool {
        given(&req.token).is_some()
    }
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_password_bcrypt;
    use crate::methods::test_util::{anonymous, login, token};

    #[test]
    fn right_and_wrong_token() {
        let t = TokenAuth::new("s3cret").unwrap();
        assert!(t.applies(&token("x")) && !t.applies(&login("u", "p")));
        let who = t.authenticate(&token("s3cret")).unwrap();
        assert_eq!(
            (who.account.as_str(), who.method),
            ("$G", AuthMethod::Token)
        );
        assert!(matches!(
            t.authenticate(&token("nope")),
            Err(AuthError::BadToken)
        ));
        assert!(matches!(
            t.authenticate(&anonymous()),
            Err(AuthError::NoCredentials)
        ));
        assert!(!t.may_block(&token("nope")), "a plain token never hashes");
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn hashed_token_blocks_until_verified() {
        let t = TokenAuth::new(&hash_password_bcrypt("tok", 4).unwrap()).unwrap();
        assert!(t.is_hashed() && t.may_block(&token("tok")));
        t.authenticate(&token("tok")).unwrap();
        assert!(!t.may_block(&token("tok")));
        assert!(t.may_block(&token("other")));
        t.clear_cache();
        assert!(t.may_block(&token("tok")));
    }

    #[test]
    fn malformed_argon2_token_is_refused() {
        assert!(matches!(
            TokenAuth::new("$argon2id$garbage"),
            Err(AuthConfigError::InvalidTokenHash)
        ));
    }
}
