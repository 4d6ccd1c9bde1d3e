//! Integration tests of rnats-jwt through its public API.

mod claims;
mod creds;
mod errors;
mod interop;
mod roundtrip;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_encoding::BASE64URL_NOPAD;
use nkeys::KeyPair;

/// `secs` after the epoch.
fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A token with any header and payload, signed by `kp` over `header.payload`, or over the
/// payload only when `v1`: for tokens the encoder refuses to make.
fn sign_raw(header: &str, payload: &serde_json::Value, kp: &KeyPair, v1: bool) -> String {
    let h = BASE64URL_NOPAD.encode(header.as_bytes());
    let p = BASE64URL_NOPAD.encode(payload.to_string().as_bytes());
    let signed = if v1 { p.clone() } else { format!("{h}.{p}") };
    let sig = BASE64URL_NOPAD.encode(&kp.sign(signed.as_bytes()).unwrap());
    format!("{h}.{p}.{sig}")
}

const V2_HEADER: &str = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;
const V1_HEADER: &str = r#"{"typ":"jwt","alg":"ed25519"}"#;
