//! Integration tests for rnats-protocol through its public API (one binary).

mod chunking;
mod encode;
mod limits;
mod roundtrip;
mod support;
