//! [`UserGrant`]: what a configured user gets once its credentials check out, and the checks
//! common to every method (connection type, deadline, proxy).

use std::sync::Arc;
use std::time::SystemTime;

use crate::error::AuthError;
use crate::{AuthMethod, AuthRequest, Authorized, ConnectionType, GLOBAL_ACCOUNT, Permissions};

/// Connection types a user may use, as a bit set; 0 means all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ConnectionTypes(u8);

impl ConnectionTypes {
    pub(crate) fn from_types(types: impl IntoIterator<Item = ConnectionType>) -> Self {
        Self(types.into_iter().fold(0, |b, t| b | t.bit()))
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub(crate) fn allows(self, t: ConnectionType) -> bool {
        self.0 == 0 || self.0 & t.bit() != 0
    }
}

/// What a user, NKey user or JWT user is granted once its credentials are verified: the
/// account, the permissions, and the conditions checked on every login.
///
/// ```
/// use rnats_auth::{ConnectionType, UserGrant};
///
/// let grant = UserGrant::new("ORDERS").with_connection_types([ConnectionType::Standard]);
/// assert_eq!(grant.account(), "ORDERS");
/// ```
#[derive(Debug, Clone)]
pub struct UserGrant {
    account: String,
    permissions: Option<Arc<Permissions>>,
    connection_types: ConnectionTypes,
    deadline: Option<SystemTime>,
    proxy_required: bool,
    max_connections: Option<u32>,
}

impl UserGrant {
    /// Everything allowed in `account`, on every connection type, forever.
    pub fn new(account: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            permissions: None,
            connection_types: ConnectionTypes::default(),
            deadline: None,
            proxy_required: false,
            max_connections: None,
        }
    }

    /// Everything allowed in the global account `$G`.
    pub fn global() -> Self {
        Self::new(GLOBAL_ACCOUNT)
    }

    /// These permissions (`None`: everything allowed).
    #[must_use]
    pub fn with_permissions(mut self, permissions: Option<Arc<Permissions>>) -> Self {
        self.permissions = permissions;
        self
    }

    /// Only these connection types (`allowed_connection_types`); none listed: all.
    #[must_use]
    pub fn with_connection_types(
        mut self,
        types: impl IntoIterator<Item = ConnectionType>,
    ) -> Self {
        self.connection_types = ConnectionTypes::from_types(types);
        self
    }

    /// Refused from `deadline` on (`connection_deadline`); connections made before it are
    /// closed then (see [`Authorized::expires`]).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<SystemTime>) -> Self {
        self.deadline = deadline;
        self
    }

    /// `proxy_required`: the user may only come through a trusted proxy, which rnats does not
    /// support yet, so such a user is always refused.
    #[must_use]
    pub fn with_proxy_required(mut self, required: bool) -> Self {
        self.proxy_required = required;
        self
    }

    /// At most `max` connections of this user at once (`max_connections`, an rnats
    /// extension); the broker counts them ([`Authorized::max_user_connections`]).
    #[must_use]
    pub fn with_max_connections(mut self, max: Option<u32>) -> Self {
        self.max_connections = max;
        self
    }

    /// The account the user lands in.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The permissions (`None`: everything allowed).
    pub fn permissions(&self) -> Option<&Arc<Permissions>> {
        self.permissions.as_ref()
    }

    /// Whether the user may connect over `t`.
    pub(crate) fn allows(&self, t: ConnectionType) -> bool {
        self.connection_types.allows(t)
    }

    pub(crate) fn set_connection_types(&mut self, types: ConnectionTypes) {
        self.connection_types = types;
    }

    /// Checks what is common to every user once its secret is verified (connection type,
    /// deadline, proxy), then builds the answer.
    pub(crate) fn admit(
        &self,
        identity: &str,
        method: AuthMethod,
        req: &AuthRequest,
        now: SystemTime,
    ) -> Result<Authorized, AuthError> {
        if !self.connection_types.allows(req.connection_type) {
            return Err(AuthError::ConnectionTypeNotAllowed {
                identity: identity.into(),
                connection_type: req.connection_type,
            });
        }
        if self.deadline.is_some_and(|d| now >= d) {
            return Err(AuthError::Expired {
                identity: identity.into(),
            });
        }
        if self.proxy_required {
            return Err(AuthError::ProxyRequired {
                identity: identity.into(),
            });
        }
        let mut authorized = Authorized::new(self.account.clone(), identity, method);
        authorized.permissions.clone_from(&self.permissions);
        authorized.expires = self.deadline;
        authorized.max_user_connections = self.max_connections;
        Ok(authorized)
    }
}
