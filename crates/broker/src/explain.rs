//! The permission explain request (an rnats extension): for a user or a connection and a
//! subject, which rule allows or denies publishing and subscribing.
//!
//! Served in the system account on `$SYS.REQ.SERVER.PING.EXPLAIN` and
//! `$SYS.REQ.SERVER.<server id>.EXPLAIN`, so only system-account users can ask (account
//! isolation keeps everybody else from reaching the subscription). The request is JSON:
//! `{"cid": 5, "subject": "orders.x"}` for a live connection, or `{"user": "alice", …}` for a
//! user of the configuration (operator-mode users have no configuration entry: ask by `cid`),
//! with an optional `"queue"`. The answer is nats-server's request envelope, `{"server": {…},
//! "data": {…}}` or `{"server": {…}, "error": {"code": …, "description": …}}`. The work is
//! done by [`explain`], which an HTTP handler can call as it is.

use std::sync::{Arc, Mutex};

use rnats_auth::{Explanation, Permissions, Verdict};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::ServerState;
use crate::system::{InternalClient, Message};

/// What a connection is bound to, kept beside its outbound queue for requests like this one.
#[derive(Debug)]
pub(crate) struct Bound {
    pub(crate) user: String,
    pub(crate) account: String,
    pub(crate) permissions: Option<Arc<Permissions>>,
    /// When the credentials expire (`$SYS.REQ.USER.INFO` tells the user).
    pub(crate) expires: Option<std::time::SystemTime>,
    /// The user JWT's name, for a JWT login (`$SYS.REQ.USER.INFO` tells the user).
    pub(crate) jwt_name: Option<String>,
}

/// Where a connection keeps its [`Bound`] (`None` until it authenticates).
pub(crate) type BoundSlot = Mutex<Option<Arc<Bound>>>;

/// An explain request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainRequest {
    /// A live connection.
    pub(crate) cid: Option<u64>,
    /// A configured user (name or NKey).
    pub(crate) user: Option<String>,
    /// The subject to explain (wildcards allowed; then only subscribing is explained).
    pub(crate) subject: String,
    /// The queue group of a subscription.
    pub(crate) queue: Option<String>,
}

/// Why a request could not be answered: an HTTP-style code and a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExplainError {
    pub(crate) code: u16,
    pub(crate) description: String,
}

fn error(code: u16, description: impl Into<String>) -> ExplainError {
    ExplainError {
        code,
        description: description.into(),
    }
}

/// The explanation of `req` as JSON (the `data` of the answer).
pub(crate) fn explain(state: &ServerState, req: &ExplainRequest) -> Result<Value, ExplainError> {
    let subject = req.subject.as_bytes();
    if rnats_sublist::validate_subject(subject).is_err() {
        return Err(error(400, format!("invalid subject {:?}", req.subject)));
    }
    let queue = req.queue.as_deref().map(str::as_bytes);
    if queue.is_some_and(|q| q.is_empty() || q.iter().any(u8::is_ascii_whitespace)) {
        return Err(error(400, "invalid queue group"));
    }
    let (who, permissions) = match (req.cid, &req.user) {
        (Some(cid), None) => {
            let client = state
                .snapshot_clients()
                .into_iter()
                .find(|c| c.cid == cid)
                .ok_or_else(|| error(404, format!("no connection with cid {cid}")))?;
            let bound = client
                .bound
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .ok_or_else(|| error(404, format!("connection {cid} is not authenticated")))?;
            (
                json!({"cid": cid, "user": bound.user, "account": bound.account}),
                bound.permissions.clone(),
            )
        }
        (None, Some(user)) => {
            let config = state.config();
            let found = rnats_auth::configured_user(&config, user)
                .ok_or_else(|| {
                    error(
                        404,
                        format!("no user {user:?} in the configuration (JWT users: ask by cid)"),
                    )
                })?
                .map_err(|e| error(500, e.to_string()))?;
            (
                json!({"user": user, "account": found.account}),
                found.permissions,
            )
        }
        _ => return Err(error(400, "give exactly one of \"cid\" and \"user\"")),
    };
    let explanation = match &permissions {
        Some(p) => p.explain(subject, queue),
        None => Explanation::unrestricted(queue),
    };
    let literal = rnats_sublist::validate_literal_subject(subject).is_ok();
    let mut data = who;
    data["subject"] = json!(req.subject);
    data["queue"] = json!(req.queue);
    // A wildcard subject cannot be published to: only subscribing is explained then.
    data["publish"] = if literal {
        verdict(&explanation.publish)
    } else {
        Value::Null
    };
    data["subscribe"] = verdict(&explanation.subscribe);
    data["filtered_at_delivery"] = json!(explanation.filtered_at_delivery);
    data["allow_responses"] = match explanation.responses {
        Some(r) => json!({
            "max": r.max,
            "expires_ns": u64::try_from(r.ttl.as_nanos()).unwrap_or(u64::MAX),
        }),
        None => Value::Null,
    };
    Ok(data)
}

fn verdict(v: &Verdict) -> Value {
    json!({
        "allowed": v.allowed,
        "rule": v.rule.as_str(),
        "allow": v.allow,
        "deny": v.deny,
        "explanation": v.describe(),
    })
}

/// The answer to one request message, in nats-server's request envelope.
fn answer(state: &ServerState, payload: &[u8]) -> Value {
    let settings = state.settings();
    let info = settings.info();
    let server = json!({
        "name": info.server_name,
        "host": info.host,
        "id": state.server_id,
        "ver": info.version,
        "time": jiff::Timestamp::now().to_string(),
    });
    let result = serde_json::from_slice::<ExplainRequest>(payload)
        .map_err(|e| error(400, format!("invalid explain request: {e}")))
        .and_then(|req| explain(state, &req));
    match result {
        Ok(data) => json!({"server": server, "data": data}),
        Err(e) => json!({
            "server": server,
            "error": {"code": e.code, "description": e.description},
        }),
    }
}

/// Starts the explain service in the system account, on the server's task tracker.
pub(crate) fn start(state: &Arc<ServerState>) {
    let system = state.settings().system_account();
    let client = InternalClient::new(state, &system);
    let own = format!("$SYS.REQ.SERVER.{}.EXPLAIN", state.server_id);
    let (ping, own) = match (
        client.subscribe("$SYS.REQ.SERVER.PING.EXPLAIN", None),
        client.subscribe(&own, None),
    ) {
        (Ok(ping), Ok(own)) => (ping, own),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("Error setting up the permission explain service: {e}");
            return;
        }
    };
    let state_for_task = Arc::downgrade(state);
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let (mut ping, mut own) = (ping, own);
        loop {
            let message: Message = tokio::select! {
                () = shutdown.cancelled() => return,
                m = ping.next() => match m { Some(m) => m, None => return },
                m = own.next() => match m { Some(m) => m, None => return },
            };
            let Some(state) = state_for_task.upgrade() else {
                return;
            };
            let Some(reply) = message.reply.as_ref() else {
                continue;
            };
            let Ok(reply) = std::str::from_utf8(reply) else {
                continue;
            };
            let body = answer(&state, &message.payload).to_string();
            let _ = client.publish(reply, None, None, body.as_bytes());
        }
    });
}
