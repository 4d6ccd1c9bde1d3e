//! Integration tests of rnats-jwt through its public API.

mod roundtrip;
