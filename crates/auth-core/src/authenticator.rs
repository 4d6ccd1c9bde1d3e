//! The seam between the broker and authentication: [`Authenticator`], and [`ChainMember`] for
//! the methods an [`AuthChain`](crate::AuthChain) combines.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::error::AuthError;
use crate::{AuthRequest, Authorized, DEFAULT_AUTH_TIMEOUT};

/// Decides who a client is; everything a broker asks of authentication.
///
/// The broker holds one as `Arc<dyn Authenticator>`. It asks, per connection:
/// 1. [`configured`](Self::configured): whether to ask at all;
/// 2. [`needs_nonce`](Self::needs_nonce): whether INFO carries a nonce to sign;
/// 3. [`auth_required`](Self::auth_required): what INFO says, and whether a client must send
///    CONNECT (within [`auth_timeout`](Self::auth_timeout)) before anything else;
/// 4. [`may_block`](Self::may_block) then [`authenticate`](Self::authenticate): on CONNECT,
///    on a first op that is not CONNECT when authentication is not required, and again for
///    every live connection after a reload.
///
/// The answer carries the rest: the account, permissions, limits and when the credentials
/// expire ([`Authorized::expires`]; the broker closes the connection then).
///
/// Only `authenticate` is required; the defaults describe an authenticator that must always
/// be asked, requires credentials, sends no nonce and may block.
///
/// Room for what is to come: an authenticator that resolves account JWTs (operator mode)
/// answers from its resolver's cache here and refreshes it elsewhere; one that asks an
/// external service (auth callout, OIDC) needs an asynchronous answer, which will be a
/// separate trait or outcome rather than a change to this one.
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticates one client against the clock.
    fn authenticate(&self, req: &AuthRequest) -> Result<Authorized, AuthError>;

    /// [`authenticate`](Self::authenticate) at the instant `now` (deadlines and JWT
    /// `exp`/`nbf` are judged against it). The default ignores `now`; authenticators that look
    /// at time override this, and [`AuthChain`](crate::AuthChain) passes one `now` to every
    /// member.
    fn authenticate_at(&self, req: &AuthRequest, now: SystemTime) -> Result<Authorized, AuthError> {
        let _ = now;
        self.authenticate(req)
    }

    /// Whether authentication is configured at all. When `false` the broker never calls this
    /// authenticator: CONNECT is applied at once and the client lands in `$G` with every
    /// permission, ops before CONNECT are served, nothing is kept to check again on reload,
    /// and a reload that turns authentication off keeps only the clients of `$G` (dropping
    /// their permissions). When `true` every client is asked about (even if the answer is
    /// "everyone in"), and its CONNECT credentials are kept to be checked again on reload.
    ///
    /// Default `true`.
    fn configured(&self) -> bool {
        true
    }

    /// Whether a client must present credentials: INFO's `auth_required`. When `false` a
    /// client that sends an op before CONNECT is authenticated with no credentials (the
    /// `no_auth_user`), and there is no CONNECT deadline. Default `true`.
    fn auth_required(&self) -> bool {
        true
    }

    /// Whether INFO must carry a `nonce` for the client to sign (NKeys, user JWTs).
    /// Default `false`.
    fn needs_nonce(&self) -> bool {
        false
    }

    /// How long a client has to send CONNECT when [`auth_required`](Self::auth_required).
    /// Default [`DEFAULT_AUTH_TIMEOUT`].
    fn auth_timeout(&self) -> Duration {
        DEFAULT_AUTH_TIMEOUT
    }

    /// Whether answering `req` may take long (bcrypt or argon2: tens to hundreds of
    /// milliseconds of CPU; or I/O): the caller then runs it off its I/O threads. `false`
    /// promises an answer in microseconds. Default `true`, the safe answer.
    fn may_block(&self, req: &AuthRequest) -> bool {
        let _ = req;
        true
    }

    /// Forgets every remembered verification (the verified-secret cache). Default: nothing
    /// to forget.
    fn clear_cache(&self) {}
}

/// One method of an [`AuthChain`](crate::AuthChain): an [`Authenticator`] that also says,
/// cheaply and without blocking, whether a request is its to decide.
///
/// For a member, [`Authenticator::auth_required`] means "a client that presents nothing is
/// not let in by me"; a chain requires authentication only if every member does.
/// `Debug` output must not show secrets.
pub trait ChainMember: Authenticator + fmt::Debug {
    /// Whether this method decides `req`. The chain asks members in order and the first that
    /// applies gives the answer, success or refusal: there is no fallback to later members.
    fn applies(&self, req: &AuthRequest) -> bool;
}

/// The value of a CONNECT field if present and not empty.
pub(crate) fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}
