//! The `$SYS` endpoints of features rnats does not have (clustering, leaf nodes, gateways,
//! JetStream, RAFT, Go's runtime), answered as nats-server 2.15.1 answers them on a single
//! server without those features: the empty or disabled shape, so tools that ask every server
//! (`nats server report …`, `nats server list`) read rnats unchanged.

use std::time::SystemTime;

use serde::Serialize;

use super::go_time;
use crate::state::ServerState;

/// `IDZ`: who this server is (nats-server answers it without the usual envelope).
pub(super) fn idz(state: &ServerState) -> serde_json::Value {
    let settings = state.settings();
    let info = settings.info();
    serde_json::json!({
        "name": info.server_name,
        "host": info.host,
        "id": state.server_id,
    })
}

/// `LEAFZ`, for the server or one account: no leaf node connections.
pub(super) fn leafz(state: &ServerState) -> serde_json::Value {
    serde_json::json!({
        "server_id": state.server_id,
        "now": go_time(SystemTime::now()),
        "leafnodes": 0,
        "leafs": [],
    })
}

/// `ROUTEZ`: no routes.
pub(super) fn routez(state: &ServerState) -> serde_json::Value {
    let settings = state.settings();
    serde_json::json!({
        "server_id": state.server_id,
        "server_name": settings.info().server_name,
        "now": go_time(SystemTime::now()),
        "num_routes": 0,
        "routes": [],
    })
}

/// `GATEWAYZ`: no gateways.
pub(super) fn gatewayz(state: &ServerState) -> serde_json::Value {
    serde_json::json!({
        "server_id": state.server_id,
        "now": go_time(SystemTime::now()),
        "outbound_gateways": {},
        "inbound_gateways": {},
    })
}

/// `JSZ` for the server: JetStream disabled, every count zero.
pub(super) fn jsz(state: &ServerState) -> serde_json::Value {
    serde_json::json!({
        "memory": 0,
        "storage": 0,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "accounts": 0,
        "ha_assets": 0,
        "api": { "level": 0, "total": 0, "errors": 0 },
        "server_id": state.server_id,
        "now": go_time(SystemTime::now()),
        "disabled": true,
        "config": { "max_memory": 0, "max_storage": 0 },
        "streams": 0,
        "consumers": 0,
        "messages": 0,
        "bytes": 0,
        "total": 0,
    })
}

/// The error of `JSZ` for one account (nats-server's words with JetStream off).
pub(super) const JSZ_ACCOUNT_ERROR: &str = "jetstream not enabled";

/// nats-server's `ProfilezStatus`.
#[derive(Debug, Serialize)]
pub(super) struct Profilez {
    profile: Option<String>,
    error: String,
}

/// `PROFILEZ`: rnats has none of Go's runtime profiles, so every name is unknown.
pub(super) fn profilez(name: &str) -> Profilez {
    let error = if name.is_empty() {
        "Profile name not specified".to_owned()
    } else {
        format!("Profile {name:?} not found")
    };
    Profilez {
        profile: None,
        error,
    }
}

/// `EXPVARZ`: the command line and, under Go's names, what rnats knows of its memory (its
/// resident size; a Rust process has no garbage collector to report on).
pub(super) fn expvarz(mem: i64) -> serde_json::Value {
    let cmdline: Vec<String> = std::env::args().collect();
    serde_json::json!({
        "memstats": {
            "Alloc": mem,
            "TotalAlloc": mem,
            "Sys": mem,
            "HeapAlloc": mem,
            "HeapSys": mem,
            "HeapInuse": mem,
            "NumGC": 0,
            "EnableGC": false,
        },
        "cmdline": cmdline,
    })
}

/// `IPQUEUESZ` and `RAFTZ`: rnats has neither internal IP queues nor RAFT groups.
pub(super) fn empty() -> serde_json::Value {
    serde_json::json!({})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_unknown_in_nats_server_words() {
        let none = serde_json::to_value(profilez("")).unwrap();
        assert_eq!(
            none,
            serde_json::json!({"profile": null, "error": "Profile name not specified"})
        );
        let heap = serde_json::to_value(profilez("heap")).unwrap();
        assert_eq!(heap["error"], "Profile \"heap\" not found");
    }
}
