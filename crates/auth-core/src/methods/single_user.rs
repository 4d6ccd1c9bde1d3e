//! [`SingleUserAuth`]: `authorization { user, password }`.

use std::fmt;
use std::sync::Arc;

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::secret::{SecretCache, StoredSecret};
use crate::{AuthMethod, AuthRequest, Authorized, GLOBAL_ACCOUNT};

/// The single user of `authorization { user, password }`: joins `$G` with every permission.
/// Applies to requests that name a user.
pub struct SingleUserAuth {
    user: String,
    password: StoredSecret,
    cache: Arc<SecretCache>,
}

impl SingleUserAuth {
    /// The user `user` with `password` (plain, bcrypt or argon2id).
    pub fn new(user: impl Into<String>, password: &str) -> Result<Self, AuthConfigError> {
        Self::with_cache(user.into(), password, Arc::new(SecretCache::new()))
    }

    pub(crate) fn with_cache(
        user: String,
        password: &str,
        cache: Arc<SecretCache>,
    ) -> Result<Self, AuthConfigError> {
        let password = StoredSecret::new(password);
        if !password.is_well_formed() {
            return Err(AuthConfigError::InvalidPasswordHash(user));
        }
        Ok(Self {
            user,
            password,
            cache,
        })
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the password is a hash (bcrypt or argon2id).
    pub fn is_hashed(&self) -> bool {
        self.password.is_hashed()
    }
}

impl Authenticator for SingleUserAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        let Some(user) = given(&req.user) else {
            return Err(AuthError::NoCredentials);
        };
        let pass = req.pass.as_deref().unwrap_or_default();
        if user != self.user {
            // Same work as a wrong password, result ignored.
            let _ = self.password.verify(pass);
            return Err(AuthError::UnknownUser { user: user.into() });
        }
        if !self.cache.verify(&self.user, &self.password, pass) {
            return Err(AuthError::BadPassword {
                user: self.user.clone(),
            });
        }
        Ok(Authorized::new(
            GLOBAL_ACCOUNT,
            self.user.clone(),
            AuthMethod::Password,
        ))
    }

    /// A hashed password, unless this user's secret was verified recently.
    fn may_block(&self, req: &AuthRequest) -> bool {
        let pass = req.pass.as_deref().unwrap_or_default();
        match given(&req.user) {
            Some(u) if u == self.user => !self.cache.is_cheap(&self.user, &self.password, pass),
            _ => self.password.is_hashed(),
        }
    }

    fn clear_cache(&self) {
        self.cache.clear();
    }
}

impl ChainMember for SingleUserAuth {
    /// Requests that name a user.
    fn applies(&self, req: &AuthRequest) -> bool {
        given(&req.user).is_some()
    }
}

impl fmt::Debug for SingleUserAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleUserAuth")
            .field("user", &self.user)
            .field("password", &self.password)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::test_util::{anonymous, login};

    #[test]
    fn single_user_outcomes() {
        let s = SingleUserAuth::new("admin", "pw").unwrap();
        assert!(s.applies(&login("x", "")) && !s.applies(&anonymous()));
        let who = s.authenticate(&login("admin", "pw")).unwrap();
        assert_eq!(
            (who.identity.as_str(), who.method),
            ("admin", AuthMethod::Password)
        );
        assert!(matches!(
            s.authenticate(&login("eve", "pw")),
            Err(AuthError::UnknownUser { user }) if user == "eve"
        ));
        assert!(matches!(
            s.authenticate(&login("admin", "no")),
            Err(AuthError::BadPassword { .. })
        ));
        assert!(!s.may_block(&login("admin", "pw")));
        assert!(!format!("{s:?}").contains("pw\""));
    }
}
