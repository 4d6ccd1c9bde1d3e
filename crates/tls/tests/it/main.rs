//! Integration tests for rnats-tls, through the public API (one test binary).

mod config;
mod handshake;
mod identity;
mod nats_server;
mod support;
