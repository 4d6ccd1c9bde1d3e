//! [`TlsMapAuth`]: `tls { verify_and_map }`, the user named by the client certificate.

use std::sync::Arc;
use std::time::SystemTime;

use crate::authenticator::{Authenticator, ChainMember};
use crate::error::AuthError;
use crate::methods::UserTable;
use crate::tls_map::map_certificate_user;
use crate::{AuthMethod, AuthRequest, Authorized};

/// The user of a [`UserTable`] that the verified client certificate names (see
/// [`map_certificate_user`]); a mapped user that also has a password must present it too.
/// Applies to every request while the table has users: a client without a certificate, or
/// whose certificate names nobody, is refused.
#[derive(Debug, Clone)]
pub struct TlsMapAuth {
    users: Arc<UserTable>,
}

impl TlsMapAuth {
    /// Maps certificates to the users of `users`.
    pub fn new(users: Arc<UserTable>) -> Self {
        Self { users }
    }

    /// The user the request's certificate names, among those allowed on its connection type.
    fn mapped(&self, req: &AuthRequest) -> Option<String> {
        let cert = req.tls.as_ref()?;
        map_certificate_user(cert, self.users.names_allowed_on(req.connection_type))
            .map(str::to_owned)
    }
}

impl Authenticator for TlsMapAuth {
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError> {
        self.authenticate_at(req, SystemTime::now())
    }

    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        if req.tls.is_none() {
            return Err(AuthError::NoCertificate);
        }
        let Some(name) = self.mapped(req) else {
            return Err(AuthError::NoCertificateUser);
        };
        let Some(user) = self.users.get(&name) else {
            return Err(AuthError::NoCertificateUser);
        };
        // A mapped user that also has a password must present it too (as nats-server).
        if let Some(stored) = &user.password
            && !self
                .users
                .verify(&name, stored, req.pass.as_deref().unwrap_or_default())
        {
            return Err(AuthError::BadPassword { user: name });
        }
        user.grant.admit(&name, AuthMethod::TlsMap, req, now)
    }

    /// Only when the mapped user has a hashed password not verified recently.
    fn may_block(&self, req: &AuthRequest) -> bool {
        let Some(name) = self.mapped(req) else {
            return false;
        };
        let pass = req.pass.as_deref().unwrap_or_default();
        self.users
            .get(&name)
            .and_then(|u| u.password.as_ref())
            .is_some_and(|stored| !self.users.is_cheap(&name, stored, pass))
    }

    fn clear_cache(&self) {
        self.users.clear_cache();
    }
}

impl ChainMember for TlsMapAuth {
    /// Every request, while the table has users.
    fn applies(&self, _req: &AuthRequest) -> bool {
        !self.users.is_empty()
    }
}
