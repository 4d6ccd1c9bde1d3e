//! placeholder: the config-parser crate is being written.
mod server_config;
pub use server_config::ServerConfig;
