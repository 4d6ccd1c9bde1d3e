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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::UserGrant;
    use crate::methods::test_util::anonymous;
    use crate::{ConnectionType, TlsIdentity};

    fn with_cert(dn: &str) -> AuthRequest {
        let mut r = anonymous();
        r.tls = Some(TlsIdentity {
            subject_dn: dn.into(),
            subject_dn_without_dc: dn.into(),
            ..TlsIdentity::default()
        });
        r
    }

    fn auth() -> TlsMapAuth {
        let mut t = UserTable::new();
        t.insert("CN=carol,O=Acme", None, UserGrant::new("A"))
            .unwrap();
        t.insert("CN=dave,O=Acme", Some("pw"), UserGrant::global())
            .unwrap();
        t.insert(
            "CN=ws,O=Acme",
            None,
            UserGrant::global().with_connection_types([ConnectionType::Websocket]),
        )
        .unwrap();
        TlsMapAuth::new(Arc::new(t))
    }

    #[test]
    fn the_certificate_names_the_user() {
        let m = auth();
        assert!(m.applies(&anonymous()));
        let who = m.authenticate(&with_cert("CN=carol,O=Acme")).unwrap();
        assert_eq!(
            (who.account.as_str(), who.method),
            ("A", AuthMethod::TlsMap)
        );
        assert!(matches!(
            m.authenticate(&anonymous()),
            Err(AuthError::NoCertificate)
        ));
        assert!(matches!(
            m.authenticate(&with_cert("CN=eve,O=Acme")),
            Err(AuthError::NoCertificateUser)
        ));
        // Only users allowed on the connection type are candidates.
        assert!(matches!(
            m.authenticate(&with_cert("CN=ws,O=Acme")),
            Err(AuthError::NoCertificateUser)
        ));
    }

    #[test]
    fn a_mapped_user_with_a_password_presents_it() {
        let m = auth();
        let mut r = with_cert("CN=dave,O=Acme");
        assert!(matches!(
            m.authenticate(&r),
            Err(AuthError::BadPassword { .. })
        ));
        r.pass = Some("pw".into());
        assert!(m.authenticate(&r).is_ok());
        assert!(!m.may_block(&r), "a plain password never hashes");
    }

    #[test]
    fn an_empty_table_applies_to_nothing() {
        assert!(!TlsMapAuth::new(Arc::new(UserTable::new())).applies(&anonymous()));
    }
}
