//! Integration tests for rnats-protocol through its public API (one binary).

mod chunking;
mod client_side;
mod encode;
mod info;
mod limits;
mod roundtrip;
mod support;
