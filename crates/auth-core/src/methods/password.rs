//! [`UserTable`] (users by name, shared with the certificate map) and [`PasswordAuth`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::grant::UserGrant;
use crate::methods::plaintext_warning;
use crate::secret::{SecretCache, StoredSecret};
use crate::{AuthMethod, AuthRequest, Authorized, ConnectionType};

#[derive(Debug)]
pub(crate) struct PasswordUser {
    /// `None`: may only log in through a certificate map.
    pub(crate) password: Option<StoredSecret>,
    pub(crate) grant: UserGrant,
}

/// Users by name, with their passwords (plain, bcrypt or argon2id) and grants, and the cache
/// of verified secrets. Built once, then shared (in an `Arc`) by [`PasswordAuth`] and
/// [`TlsMapAuth`](crate::TlsMapAuth).
pub struct UserTable {
    users: HashMap<String, PasswordUser>,
    /// A hashed secret to verify against when the user is unknown, so the answer takes as
    /// long as for a known user with a wrong password.
    decoy: Option<StoredSecret>,
    plaintext_warnings: Vec<String>,
    cache: Arc<SecretCache>,
}

impl UserTable {
    /// An empty table with its own secret cache.
    pub fn new() -> Self {
        Self::with_cache(Arc::new(SecretCache::new()))
    }

    pub(crate) fn with_cache(cache: Arc<SecretCache>) -> Self {
        Self {
            users: HashMap::new(),
            decoy: None,
            plaintext_warnings: Vec::new(),
            cache,
        }
    }

    /// Adds user `name`. Without a password the user can only log in through a certificate
    /// map. Refuses a second user of the same name and a malformed argon2id hash.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        password: Option<&str>,
        grant: UserGrant,
    ) -> Result<(), AuthConfigError> {
        let name = name.into();
        let password = password.map(StoredSecret::new);
        if let Some(p) = &password {
            if !p.is_well_formed() {
                return Err(AuthConfigError::InvalidPasswordHash(name));
            }
            if p.is_hashed() {
                if self.decoy.is_none() {
                    self.decoy = Some(p.clone());
                }
            } else {
                self.plaintext_warnings.push(plaintext_warning(&name));
            }
        }
        if self.users.contains_key(&name) {
            return Err(AuthConfigError::DuplicateUser(name));
        }
        self.users.insert(name, PasswordUser { password, grant });
        Ok(())
    }

    /// Whether a user of this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    /// What user `name` is granted.
    pub fn grant(&self, name: &str) -> Option<&UserGrant> {
        self.users.get(name).map(|u| &u.grant)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// nats-server's `Plaintext passwords detected` warning, one per user with a plaintext
    /// password, in the order they were added.
    pub fn plaintext_password_warnings(&self) -> &[String] {
        &self.plaintext_warnings
    }

    pub(crate) fn get(&self, name: &str) -> Option<&PasswordUser> {
        self.users.get(name)
    }

    /// The names of the users allowed on `t`, sorted (so that a choice among several does
    /// not depend on the map's order).
    pub(crate) fn names_allowed_on(&self, t: ConnectionType) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .users
            .iter()
            .filter(|(_, u)| u.grant.allows(t))
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names
    }

    /// Verifies `presented` for user `name` through the cache.
    pub(crate) fn verify(&self, name: &str, stored: &StoredSecret, presented: &str) -> bool {
        self.cache.verify(name, stored, presented)
    }

    /// Whether checking `presented` for `name` costs no hashing.
    pub(crate) fn is_cheap(&self, name: &str, stored: &StoredSecret, presented: &str) -> bool {
        self.cache.is_cheap(name, stored, presented)
    }

    pub(crate) fn clear_cache(&self) {
        self.cache.clear();
    }
}

impl Default for UserTable {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for UserTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&String> = self.users.keys().collect();
        users.sort();
        f.debug_struct("UserTable")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

/// Users by name and password. Applies to requests that name a user; an unknown user is
/// refused (after the same work as a wrong password), with no fallback.
#[derive(Debug, Clone)]
pub struct PasswordAuth {
    users: Arc<UserTable>,
}

impl PasswordAuth {
    /// Logs in the users of `users`.
    pub fn new(users: Arc<UserTable>) -> Self {
        Self { users }
    }
}

impl Authenticator for PasswordAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let Some(name) = given(&req.user) else {
            return Err(AuthError::NoCredentials);
        };
        let pass = req.pass.as_deref().unwrap_or_default();
        let Some(user) = self.users.get(name) else {
            if let Some(d) = &self.users.decoy {
                // Same work as a wrong password, result ignored.
                let _ = d.verify(pass);
            }
            return Err(AuthError::UnknownUser { user: name.into() });
        };
        let ok = match &user.password {
            Some(stored) => self.users.verify(name, stored, pass),
            // A certificate-only user cannot log in by name alone.
            None => false,
        };
        if !ok {
            return Err(AuthError::BadPassword { user: name.into() });
        }
        user.grant.admit(name, AuthMethod::Password, req, now)
    }

    /// A known user whose hashed password was not verified recently, or an unknown user
    /// while a decoy hash exists.
    fn may_block(&self, req: &AuthRequest) -> bool {
        let Some(name) = given(&req.user) else {
            return false;
        };
        let pass = req.pass.as_deref().unwrap_or_default();
        match self.users.get(name) {
            None => self.users.decoy.is_some(),
            Some(u) => u
                .password
                .as_ref()
                .is_some_and(|stored| !self.users.is_cheap(name, stored, pass)),
        }
    }

    fn clear_cache(&self) {
        self.users.clear_cache();
    }
}

impl ChainMember for PasswordAuth {
    /// Requests that name a user.
    fn applies(&self, req: &AuthRequest) -> bool {
        given(&req.user).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_password_bcrypt;
    use crate::methods::test_util::{anonymous, login};

    fn table() -> Arc<UserTable> {
        let mut t = UserTable::new();
        t.insert("alice", Some("a"), UserGrant::new("A")).unwrap();
        t.insert("cert-only", None, UserGrant::global()).unwrap();
        let h = hash_password_bcrypt("b", 4).unwrap();
        t.insert("bob", Some(&h), UserGrant::global()).unwrap();
        Arc::new(t)
    }

    #[test]
    fn users_by_name() {
        let p = PasswordAuth::new(table());
        assert!(p.applies(&login("x", "")) && !p.applies(&anonymous()));
        let who = p.authenticate(&login("alice", "a")).unwrap();
        assert_eq!(
            (who.account.as_str(), who.method),
            ("A", AuthMethod::Password)
        );
        assert!(matches!(
            p.authenticate(&login("alice", "b")),
            Err(AuthError::BadPassword { .. })
        ));
        assert!(matches!(
            p.authenticate(&login("zed", "a")),
            Err(AuthError::UnknownUser { .. })
        ));
        assert!(matches!(
            p.authenticate(&login("cert-only", "")),
            Err(AuthError::BadPassword { .. })
        ));
    }

    #[test]
    fn only_uncached_hashes_block() {
        let p = PasswordAuth::new(table());
        assert!(!p.may_block(&login("alice", "a")));
        assert!(p.may_block(&login("bob", "b")));
        assert!(
            p.may_block(&login("zed", "x")),
            "an unknown user costs the decoy hash"
        );
        p.authenticate(&login("bob", "b")).unwrap();
        assert!(!p.may_block(&login("bob", "b")));
        p.clear_cache();
        assert!(p.may_block(&login("bob", "b")));
    }

    #[test]
    fn table_checks_and_warnings() {
        let mut t = UserTable::new();
        t.insert("u", Some("plain"), UserGrant::global()).unwrap();
        assert!(matches!(
            t.insert("u", None, UserGrant::global()),
            Err(AuthConfigError::DuplicateUser(_))
        ));
        assert!(matches!(
            t.insert("v", Some("$argon2id$nope"), UserGrant::global()),
            Err(AuthConfigError::InvalidPasswordHash(_))
        ));
        assert_eq!(t.plaintext_password_warnings().len(), 1);
        assert!(!format!("{t:?}").contains("plain"));
    }
}
