//! The options of the `$SYS` monitoring requests, as nats-server decodes them: the endpoint's
//! options under their JSON names plus the server filter every request accepts.

use serde::{Deserialize, Serialize};

use super::connz::{ConnzOptions, ConnzState, Sort, connz};
use crate::state::ServerState;

/// The request filter every endpoint accepts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Filter {
    pub(super) server_name: String,
    pub(super) cluster: String,
    pub(super) host: String,
    pub(super) exact_match: bool,
    pub(super) tags: Vec<String>,
    pub(super) domain: String,
}

impl Filter {
    /// Whether this server is left out (nats-server's `filterRequest`; rnats has no cluster,
    /// tags or JetStream domain, so asking for any leaves it out).
    pub(super) fn skips(&self, name: &str, host: &str) -> bool {
        let differs = |want: &str, have: &str| {
            !want.is_empty()
                && if self.exact_match {
                    want != have
                } else {
                    !have.contains(want)
                }
        };
        differs(&self.server_name, name)
            || differs(&self.host, host)
            || !self.cluster.is_empty()
            || !self.tags.is_empty()
            || !self.domain.is_empty()
    }
}

/// `ConnzOptions` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ConnzRequest {
    #[serde(flatten)]
    pub(super) filter: Filter,
    pub(super) sort: String,
    pub(super) auth: bool,
    pub(super) subscriptions: bool,
    pub(super) subscriptions_detail: bool,
    pub(super) offset: i64,
    pub(super) limit: i64,
    pub(super) cid: u64,
    pub(super) state: i64,
    pub(super) user: String,
    pub(super) acc: String,
    pub(super) filter_subject: String,
}

/// `SubszOptions` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct SubszRequest {
    #[serde(flatten)]
    pub(super) filter: Filter,
    pub(super) offset: i64,
    pub(super) limit: i64,
    pub(super) subscriptions: bool,
    pub(super) account: String,
    pub(super) test: String,
}

/// `AccountStatzOptions` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatzRequest {
    #[serde(flatten)]
    pub(super) filter: Filter,
    pub(super) accounts: Vec<String>,
    pub(super) include_unused: bool,
}

/// `ProfilezOptions` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ProfilezRequest {
    #[serde(flatten)]
    pub(super) filter: Filter,
    pub(super) name: String,
}

/// `AccountzOptions` as JSON.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct AccountzRequest {
    #[serde(flatten)]
    pub(super) filter: Filter,
    pub(super) account: String,
}

pub(super) fn connz_request(
    state: &ServerState,
    r: ConnzRequest,
    account: Option<&str>,
) -> Result<serde_json::Value, (u16, String)> {
    let sort =
        Sort::parse(&r.sort).ok_or_else(|| (500, format!("invalid sorting option: {}", r.sort)))?;
    let opts = ConnzOptions {
        sort,
        auth: r.auth,
        subs: r.subscriptions,
        subs_detail: r.subscriptions_detail,
        offset: r.offset,
        limit: r.limit,
        cid: r.cid,
        state: match r.state {
            1 => ConnzState::Closed,
            2 => ConnzState::All,
            _ => ConnzState::Open,
        },
        user: r.user,
        account: account.map_or(r.acc, str::to_owned),
        filter_subject: r.filter_subject,
    };
    connz(state, &opts)
        .map_err(|e| (500, e))
        .and_then(|c| to_value(&c))
}

/// A request body: empty means the defaults; a body that is not the options is a 400.
pub(super) fn decode<T: Default + for<'de> Deserialize<'de>>(
    payload: &[u8],
) -> Result<T, (u16, String)> {
    if payload.is_empty() {
        return Ok(T::default());
    }
    serde_json::from_slice(payload).map_err(|e| (400, e.to_string()))
}

pub(super) fn to_value<T: Serialize>(value: &T) -> Result<serde_json::Value, (u16, String)> {
    serde_json::to_value(value).map_err(|e| (500, e.to_string()))
}
