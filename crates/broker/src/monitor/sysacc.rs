//! The system services every account reaches, and the account connection events.
//!
//! nats-server imports four system services into each account: `$SYS.REQ.ACCOUNT.PING.CONNZ`
//! and `$SYS.REQ.SERVER.PING.CONNZ` (the account's own connections),
//! `$SYS.REQ.ACCOUNT.PING.STATZ` (its own statistics) and `$SYS.REQ.USER.INFO` (who the
//! requester is). rnats gives each account an internal client subscribed to those subjects (the
//! system account only to `$SYS.REQ.USER.INFO`), which answers in the requester's account.
//! Who asked `USER.INFO` is known only to the requester's session, which hands it over
//! ([`super::Monitor::user_info_request`]); the subscription is there so the request has a
//! responder.
//!
//! `$SYS.ACCOUNT.<acc>.SERVER.CONNS` (and the older `$SYS.SERVER.ACCOUNT.<acc>.CONNS`) is
//! nats-server's `AccountNumConns`: published whenever an account other than `$G` gains or loses
//! a client, then every 30 seconds while it has any, and answered on
//! `$SYS.REQ.ACCOUNT.<acc>.CONNS` when the account has connections here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::go_time;
use super::json::AccountStat;
use super::sys::ServerInfo;
use crate::outbound::Outbound;
use crate::state::ServerState;
use crate::system::{InternalClient, Message};

/// The subject of the user info request.
pub(crate) const USER_INFO_SUBJECT: &str = "$SYS.REQ.USER.INFO";

/// The services imported into every account but the system account.
const ACCOUNT_SERVICES: [&str; 4] = [
    "$SYS.REQ.ACCOUNT.PING.CONNZ",
    "$SYS.REQ.SERVER.PING.CONNZ",
    "$SYS.REQ.ACCOUNT.PING.STATZ",
    USER_INFO_SUBJECT,
];

/// nats-server's heartbeat of an account's connection count while it has connections.
pub(super) const CONNS_HEARTBEAT: Duration = Duration::from_secs(30);

/// The type of the `AccountNumConns` event.
const CONNS_TYPE: &str = "io.nats.server.advisory.v1.account_connections";

/// A request that reached an account's internal client.
pub(super) struct AccountRequest {
    pub(super) account: String,
    pub(super) msg: Message,
}

/// The internal client of each account served so far.
pub(super) struct AccountClients {
    clients: HashMap<String, InternalClient>,
    tx: mpsc::Sender<AccountRequest>,
}

impl AccountClients {
    pub(super) fn new(tx: mpsc::Sender<AccountRequest>) -> Self {
        Self {
            clients: HashMap::new(),
            tx,
        }
    }

    /// The internal client of `account`, subscribed to the services on first use.
    pub(super) fn client(&mut self, state: &Arc<ServerState>, account: &str) -> InternalClient {
        if let Some(client) = self.clients.get(account) {
            return client.clone();
        }
        let client = InternalClient::new(state, account);
        let system = account == state.settings().system_account();
        for subject in ACCOUNT_SERVICES {
            if system && subject != USER_INFO_SUBJECT {
                continue;
            }
            match client.subscribe(subject, None) {
                Ok(sub) => {
                    let account = account.to_owned();
                    sub.forward(self.tx.clone(), state.shutdown.clone(), move |msg| {
                        AccountRequest {
                            account: account.clone(),
                            msg,
                        }
                    });
                }
                Err(e) => tracing::error!("Error setting up system service import {subject}: {e}"),
            }
        }
        self.clients.insert(account.to_owned(), client.clone());
        client
    }
}

/// nats-server's `UserInfo`.
#[derive(Debug, Serialize)]
struct UserInfo {
    user: String,
    account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    user_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    permissions: Option<serde_json::Value>,
    /// Nanoseconds left, whole seconds.
    #[serde(skip_serializing_if = "is_zero")]
    expires: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The `data` of the answer to `$SYS.REQ.USER.INFO` from the connection behind `out`; `None`
/// before it authenticated.
pub(super) fn user_info(state: &ServerState, out: &Outbound) -> Option<serde_json::Value> {
    let bound = out
        .bound
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()?;
    let expires = bound.expires.map_or(0, |at| {
        at.duration_since(SystemTime::now())
            .map_or(0, |left| left.as_secs().saturating_mul(1_000_000_000))
    });
    let info = UserInfo {
        user: bound.user.clone(),
        account: bound.account.clone(),
        account_name: account_name(state, &bound.account),
        user_name: bound.jwt_name.clone().unwrap_or_default(),
        permissions: bound
            .permissions
            .as_ref()
            .map(|p| public_permissions(p.config())),
        expires,
    };
    serde_json::to_value(info).ok()
}

/// An account's name tag: in operator mode the name in its JWT (nats-server's `getNameTag`),
/// else its name.
fn account_name(state: &ServerState, account: &str) -> String {
    state
        .settings()
        .jwt
        .as_ref()
        .and_then(|jwt| jwt.accounts.loaded_account(account))
        .and_then(|a| a.claims.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| account.to_owned())
}

/// Permissions as nats-server shows them to their user: `publish` and `subscribe` always
/// (each with non-empty `allow` and `deny`), `responses` when replies are allowed.
fn public_permissions(config: &rnats_config::PermissionsConfig) -> serde_json::Value {
    let lists = |p: Option<&rnats_config::SubjectPermission>| {
        let mut out = serde_json::Map::new();
        if let Some(p) = p {
            if !p.allow.is_empty() {
                out.insert("allow".to_owned(), p.allow.clone().into());
            }
            if !p.deny.is_empty() {
                out.insert("deny".to_owned(), p.deny.clone().into());
            }
        }
        serde_json::Value::Object(out)
    };
    let mut perms = serde_json::json!({
        "publish": lists(config.publish.as_ref()),
        "subscribe": lists(config.subscribe.as_ref()),
    });
    if let Some(r) = &config.allow_responses {
        let max = r
            .max_msgs
            .map_or(-1, |m| i64::try_from(m).unwrap_or(i64::MAX));
        let ttl = r
            .expires
            .map_or(-1, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        perms["responses"] = serde_json::json!({ "max": max, "ttl": ttl });
    }
    perms
}

/// A `$SYS.REQ.ACCOUNT.<acc>.CONNS` request body (nats-server's `accNumConnsReq`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ConnsRequest {
    pub(super) account: String,
}

/// nats-server's `AccountNumConns`: an event header and the account's statistics.
#[derive(Debug, Serialize)]
pub(super) struct AccountNumConns {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: ServerInfo,
    #[serde(flatten)]
    stat: AccountStat,
}

impl AccountNumConns {
    pub(super) fn new(server: ServerInfo, stat: AccountStat) -> Self {
        Self {
            kind: CONNS_TYPE,
            id: super::events::event_id(),
            timestamp: go_time(SystemTime::now()),
            server,
            stat,
        }
    }

    /// Local client connections (leaf nodes included, of which rnats has none).
    pub(super) fn total_conns(&self) -> u64 {
        self.stat.total_conns
    }
}

/// When each account's next connection-count heartbeat is due.
#[derive(Debug, Default)]
pub(super) struct ConnsHeartbeats {
    due: BTreeMap<String, Instant>,
}

impl ConnsHeartbeats {
    /// After an update of `account` with `conns` connections: a heartbeat in 30 seconds while
    /// it has any, none at zero.
    pub(super) fn updated(&mut self, account: &str, conns: u64) {
        if conns == 0 {
            self.due.remove(account);
        } else {
            self.due
                .insert(account.to_owned(), Instant::now() + CONNS_HEARTBEAT);
        }
    }

    /// The earliest heartbeat due, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// The accounts whose heartbeat is due at `now` (their entries removed).
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<String> = self
            .due
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(name, _)| name.clone())
            .collect();
        for name in &due {
            self.due.remove(name);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_in_nats_server_shape() {
        let mut config = rnats_config::PermissionsConfig::default();
        config.publish = Some(rnats_config::SubjectPermission::new(
            vec!["x".into()],
            vec![],
        ));
        config.subscribe = Some(rnats_config::SubjectPermission::new(
            vec![],
            vec!["secret".into()],
        ));
        assert_eq!(
            public_permissions(&config),
            serde_json::json!({"publish": {"allow": ["x"]}, "subscribe": {"deny": ["secret"]}})
        );
    }

    #[test]
    fn heartbeats_only_while_connected() {
        let mut beats = ConnsHeartbeats::default();
        beats.updated("A", 2);
        beats.updated("B", 1);
        beats.updated("B", 0);
        assert!(beats.next().is_some());
        let later = Instant::now() + CONNS_HEARTBEAT + Duration::from_secs(1);
        assert_eq!(beats.take_due(later), vec!["A".to_owned()]);
        assert!(beats.next().is_none());
    }
}
