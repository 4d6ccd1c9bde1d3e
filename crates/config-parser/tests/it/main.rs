//! Integration tests of rnats-config through its public API (one test binary).

mod callout;
mod fixtures;
mod loading;
mod operator;
mod roundtrip;
