//! Auth callout: the messaging half. The policy, the request claims and every check of the
//! answer are rnats-auth's ([`rnats_auth::callout`], pure functions); this file publishes the
//! request on `$SYS.REQ.USER.AUTH` in the callout account through an [`InternalClient`] and
//! waits for the reply, asynchronously and per connection: a connection waiting for the
//! service holds no I/O thread and delays no other login. At most [`MAX_IN_FLIGHT`] requests
//! wait at once; past that, clients that need the service are refused at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use nkeys::{KeyPair, XKey};
use rnats_auth::callout::{
    CALLOUT_SUBJECT, CalloutError, CalloutPolicy, ClientDetails, ServerIdentity, XKEY_HEADER,
};
use rnats_auth::{AuthError, AuthRequest, Authorized};
use rnats_jwt::ServerId;
use tokio::sync::Semaphore;

use crate::state::{ServerState, Settings};
use crate::system::{InternalClient, InternalError};

/// Callout requests that may wait for the service at once.
pub(crate) const MAX_IN_FLIGHT: usize = 1024;

/// The server's callout keys and the internal clients that publish requests.
pub(crate) struct CalloutService {
    /// The server's signing key (its public key is the server id); set once at start-up.
    key: OnceLock<KeyPair>,
    /// The server's curve key, announced in INFO as `xkey`.
    xkey: XKey,
    xkey_public: String,
    in_flight: Arc<Semaphore>,
    clients: Mutex<HashMap<String, InternalClient>>,
}

impl CalloutService {
    pub(crate) fn new() -> Self {
        let xkey = XKey::new();
        let xkey_public = xkey.public_key();
        Self {
            key: OnceLock::new(),
            xkey,
            xkey_public,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the server's signing key (once; later calls are ignored).
    pub(crate) fn set_key(&self, key: KeyPair) {
        let _ = self.key.set(key);
    }

    /// The server's public curve key.
    pub(crate) fn xkey_public(&self) -> &str {
        &self.xkey_public
    }

    fn client(&self, state: &Arc<ServerState>, account: &str) -> InternalClient {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        match clients.get(account) {
            // A client that fell behind is replaced, so one bad moment does not end callouts.
            Some(c) if !c.is_closed() => c.clone(),
            _ => {
                let c = InternalClient::new(state, account);
                clients.insert(account.to_owned(), c.clone());
                c
            }
        }
    }
}

/// The chain's answer `local` to `request`, completed by the callout when `policy` delegates
/// it: the service's answer replaces the local one. `Err` carries why the client is refused.
/// `reload`: a connection that is already in is checked again; it waits for its turn instead
/// of being refused when [`MAX_IN_FLIGHT`] requests are waiting.
pub(crate) async fn complete(
    state: &Arc<ServerState>,
    settings: &Settings,
    policy: &CalloutPolicy,
    local: Result<Authorized, AuthError>,
    request: &AuthRequest,
    client: ClientDetails,
    reload: bool,
) -> Result<Authorized, AuthError> {
    if !policy.delegates(&local, request) {
        // As nats-server: users of accounts the service does not handle keep their answer,
        // and only connections into the callout account get the publish deny.
        return local.map(|mut a| {
            policy.restrict(&mut a);
            a
        });
    }
    let service = &state.callout;
    let refuse = |why: String| Err(AuthError::Callout(why));
    let Some(key) = service.key.get() else {
        return refuse("the server has no signing key for auth callout requests".into());
    };
    let permit = if reload {
        service.in_flight.clone().acquire_owned().await.ok()
    } else {
        service.in_flight.clone().try_acquire_owned().ok()
    };
    let Some(_permit) = permit else {
        return refuse(format!(
            "too many auth callout requests in flight (at most {MAX_IN_FLIGHT})"
        ));
    };
    let timeout = settings.auth.auth_timeout();
    let config = &settings.config;
    let server = ServerId {
        name: config
            .server_name
            .clone()
            .unwrap_or_else(|| state.server_id.clone()),
        host: config.host.clone(),
        id: state.server_id.clone(),
        version: crate::info::COMPAT_VERSION.to_owned(),
        ..ServerId::default()
    };
    let identity = ServerIdentity {
        server,
        key,
        xkey: &service.xkey,
    };
    let pending = policy
        .request(identity, request, &client, SystemTime::now() + timeout)
        .map_err(callout_error)?;
    let headers = pending
        .xkey_header
        .as_ref()
        .map(|x| format!("NATS/1.0\r\n{XKEY_HEADER}: {x}\r\n\r\n"));
    let internal = service.client(state, policy.account());
    let reply = internal
        .request_with_headers(
            CALLOUT_SUBJECT,
            headers.as_deref().map(str::as_bytes),
            &pending.payload,
            timeout,
        )
        .await;
    let message = match reply {
        Ok(m) => m,
        Err(InternalError::NoResponders) => {
            return refuse(format!(
                "no auth callout service is listening on {CALLOUT_SUBJECT} in account {:?}",
                policy.account()
            ));
        }
        Err(InternalError::Timeout) => {
            return refuse(format!(
                "Authorization callout response not received in time on account {:?} (waited {timeout:?})",
                policy.account()
            ));
        }
        Err(e) => return refuse(format!("Error sending authorization request: {e}")),
    };
    let mut authorized = if policy.may_fetch() {
        // The answer may place the user in an account a URL or cache resolver has to fetch
        // first: that waits on the network, so it runs on a blocking thread, not this one.
        let (state, policy, request) = (state.clone(), policy.clone(), request.clone());
        tokio::task::spawn_blocking(move || {
            policy.verify_response(
                &pending,
                &state.callout.xkey,
                &message.payload,
                &request,
                SystemTime::now(),
            )
        })
        .await
        .map_err(|e| AuthError::Callout(format!("auth callout check failed: {e}")))?
    } else {
        policy.verify_response(
            &pending,
            &service.xkey,
            &message.payload,
            request,
            SystemTime::now(),
        )
    }
    .map_err(callout_error)?;
    policy.restrict(&mut authorized);
    Ok(authorized)
}

fn callout_error(e: CalloutError) -> AuthError {
    AuthError::Callout(e.0)
}
