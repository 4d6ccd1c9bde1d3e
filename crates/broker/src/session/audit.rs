//! The audit trail's view of a session: the record of each authentication decision, built
//! only when the trail is on (see `crate::audit`).

use rnats_auth::{AuthRequest, Authorized};
use rnats_protocol::ConnectOptions;

use super::{AuthOutcome, Session};
use crate::account::Full;
use crate::audit::{Outcome, Record};
use crate::hashing::Refused;

/// Why a client the authenticator accepted is refused after all.
pub(super) enum Refusal {
    /// The account's or the user's connection limit.
    Full(Full),
    /// A CONNECT check made after authentication.
    Connect(&'static str),
}

impl Session {
    /// Records a decision in the audit trail; `build` runs only when the trail is on.
    pub(super) fn audit(&self, build: impl FnOnce(&super::Peer) -> Record) {
        if self.state.audit.enabled() {
            self.state.audit.record(build(&self.peer));
        }
    }

    /// Audits an authenticator's acceptance, or, with `refusal`, the check that refused the
    /// client after all.
    pub(super) fn audit_accepted(
        &self,
        authorized: &Authorized,
        request: Option<&AuthRequest>,
        opts: Option<&ConnectOptions>,
        latency: Option<std::time::Duration>,
        refusal: Option<Refusal>,
    ) {
        self.audit(|peer| {
            let method = authorized.method.as_str();
            let mut r = match refusal {
                None => Record::new(peer, Outcome::Accepted, method),
                Some(Refusal::Connect(reason)) => Record::refused(peer, method, reason),
                Some(Refusal::Full(Full::Account)) => {
                    Record::refused(peer, method, "maximum account active connections exceeded")
                }
                Some(Refusal::Full(Full::User)) => Record::refused(
                    peer,
                    method,
                    format!(
                        "maximum user active connections exceeded ({} allowed)",
                        authorized.max_user_connections.unwrap_or_default()
                    ),
                ),
            };
            if let Some(request) = request {
                r = r.presented(request);
            }
            r.authorized(authorized, request).client(opts).took(latency)
        });
    }

    /// Audits a re-check that accepted the credentials but closes the client anyway.
    pub(super) fn audit_reload_refused(
        &self,
        authorized: &Authorized,
        reason: impl FnOnce() -> String,
    ) {
        self.audit(|peer| {
            let mut r = Record::refused(peer, authorized.method.as_str(), reason())
                .authorized(authorized, None);
            r.phase = "reload";
            r
        });
    }

    /// Audits a refusal by the authenticator (or a failure to ask it), with the reason the
    /// log gives.
    pub(super) fn audit_refused(
        &self,
        outcome: &AuthOutcome,
        opts: Option<&ConnectOptions>,
        latency: Option<std::time::Duration>,
        phase: &'static str,
    ) {
        self.audit(|peer| {
            let from_opts = || {
                let mut request = self.empty_request();
                if let Some(o) = opts {
                    request.user.clone_from(&o.user);
                    request.nkey.clone_from(&o.nkey);
                    request.jwt.clone_from(&o.jwt);
                    request.token = o.auth_token.as_ref().map(|_| String::new());
                }
                request
            };
            let mut r = match outcome {
                AuthOutcome::Refused(e, request) => {
                    let method = crate::monitor::metrics::presented_method(request);
                    Record::refused(peer, method, e.to_string())
                        .presented(request)
                        .oidc_refusal(e)
                }
                AuthOutcome::Failed | AuthOutcome::Accepted(..) => {
                    let request = from_opts();
                    let method = crate::monitor::metrics::presented_method(&request);
                    Record::refused(peer, method, "authenticator failed").presented(&request)
                }
                AuthOutcome::Busy(why) => {
                    let request = from_opts();
                    let method = crate::monitor::metrics::presented_method(&request);
                    let why = match why {
                        Refused::AddressFull => {
                            "too many logins from this address are waiting for password hashing"
                        }
                        _ => "too many logins are waiting for password hashing",
                    };
                    Record::refused(peer, method, format!("refused without checking, {why}"))
                        .presented(&request)
                }
            };
            r.phase = phase;
            if phase == "reload" {
                r.account = Some(self.account.name.clone());
            }
            r.client(opts).took(latency)
        });
    }

    /// Audits the close of a client whose credentials expired while it was connected
    /// (`connection_deadline`, a JWT's `exp`).
    pub(super) fn audit_expiry(&self) {
        self.audit(|peer| {
            let method = self
                .credentials
                .as_ref()
                .map_or("none", crate::monitor::metrics::presented_method);
            let mut r = Record::refused(peer, method, "User Authentication Expired");
            if let Some(request) = &self.credentials {
                r = r.presented(request);
            }
            r.phase = "expiry";
            r.account = Some(self.account.name.clone());
            r
        });
    }
}
