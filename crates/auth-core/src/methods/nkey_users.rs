//! [`NkeyAuth`]: users known by a public NKey, proving it by signing the nonce.

use std::collections::HashMap;
use std::fmt;
use std::time::SystemTime;

use nkeys::{KeyPair, KeyPairType};

use crate::authenticator::{Authenticator, ChainMember, given};
use crate::error::{AuthConfigError, AuthError};
use crate::grant::UserGrant;
use crate::nkey::{public_key, verify_nonce};
use crate::{AuthMethod, AuthRequest, Authorized};

struct NkeyUser {
    key: KeyPair,
    grant: UserGrant,
}

/// NKey users: the client names its public key (CONNECT `nkey`) and signs the INFO nonce
/// (`sig`). Applies to requests with an `nkey` while at least one NKey user exists; an
/// unknown key is refused, with no fallback to other methods.
#[derive(Default)]
pub struct NkeyAuth {
    users: HashMap<String, NkeyUser>,
}

impl NkeyAuth {
    /// No NKey user yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the user with public key `key` (`U…`). Refuses a key that is not a user public
    /// key and a key added twice.
    pub fn insert(&mut self, key: &str, grant: UserGrant) -> Result<(), AuthConfigError> {
        let pair = public_key(key, &KeyPairType::User)
            .ok_or_else(|| AuthConfigError::InvalidUserNkey(key.to_owned()))?;
        if self.users.contains_key(key) {
            return Err(AuthConfigError::DuplicateNkey(key.to_owned()));
        }
        self.users
            .insert(key.to_owned(), NkeyUser { key: pair, grant });
        Ok(())
    }

    /// Whether user `key` exists.
    pub fn contains(&self, key: &str) -> bool {
        self.users.contains_key(key)
    }

    /// What user `key` is granted.
    pub fn grant(&self, key: &str) -> Option<&UserGrant> {
        self.users.get(key).map(|u| &u.grant)
    }

    /// How many NKey users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no NKey user.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl Authenticator for NkeyAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let Some(nk) = given(&req.nkey) else {
            return Err(AuthError::NoCredentials);
        };
        let Some(user) = self.users.get(nk) else {
            return Err(AuthError::UnknownNkey { nkey: nk.into() });
        };
        verify_nonce(&user.key, nk, req.nonce.as_deref(), req.sig.as_deref())?;
        user.grant.admit(nk, AuthMethod::Nkey, req, now)
    }

    /// While any NKey user exists.
    fn needs_nonce(&self) -> bool {
        !self.users.is_empty()
    }

    /// Never: a signature check takes microseconds.
    fn may_block(&self, _req: &AuthRequest) -> bool {
        false
    }
}

impl ChainMember for NkeyAuth {
    /// Requests with an `nkey`, when NKey users exist.
    fn applies(&self, req: &AuthRequest) -> bool {
        given(&req.nkey).is_some() && !self.users.is_empty()
    }
}

impl fmt::Debug for NkeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&String> = self.users.keys().collect();
        keys.sort();
        f.debug_struct("NkeyAuth").field("users", &keys).finish()
    }
}

#[cfg(test)]
mod tests {
    use data_encoding::BASE64URL_NOPAD;

    use super::*;
    use crate::methods::test_util::anonymous;

    fn signed(kp: &KeyPair, nonce: &str) -> AuthRequest {
        let mut r = anonymous();
        r.nkey = Some(kp.public_key());
        r.nonce = Some(nonce.into());
        r.sig = Some(BASE64URL_NOPAD.encode(&kp.sign(nonce.as_bytes()).unwrap()));
        r
    }

    #[test]
    fn known_keys_sign_the_nonce() {
        let kp = KeyPair::new_user();
        let mut n = NkeyAuth::new();
        assert!(!n.needs_nonce() && !n.applies(&signed(&kp, "x")));
        n.insert(&kp.public_key(), UserGrant::new("A")).unwrap();
        assert!(n.needs_nonce() && n.applies(&signed(&kp, "x")) && !n.may_block(&anonymous()));
        let who = n.authenticate(&signed(&kp, "abc")).unwrap();
        assert_eq!((who.account.as_str(), who.method), ("A", AuthMethod::Nkey));
        let mut bad = signed(&kp, "abc");
        bad.nonce = Some("other".into());
        assert!(matches!(
            n.authenticate(&bad),
            Err(AuthError::BadSignature { .. })
        ));
        assert!(matches!(
            n.authenticate(&signed(&KeyPair::new_user(), "abc")),
            Err(AuthError::UnknownNkey { .. })
        ));
    }

    #[test]
    fn keys_are_checked() {
        let mut n = NkeyAuth::new();
        let account = KeyPair::new_account().public_key();
        assert!(matches!(
            n.insert(&account, UserGrant::global()),
            Err(AuthConfigError::InvalidUserNkey(_))
        ));
        let u = KeyPair::new_user().public_key();
        n.insert(&u, UserGrant::global()).unwrap();
        assert!(matches!(
            n.insert(&u, UserGrant::global()),
            Err(AuthConfigError::DuplicateNkey(_))
        ));
    }
}
