//! Redis connections, key builders and Lua scripts.
//!
//! Every client is made by [`Endpoint::client`] (`connect.rs`): plain or TLS
//! (`rediss://`), with or without an ACL user. Commands go over one multiplexed
//! [`redis::aio::ConnectionManager`] with a short response timeout (it reconnects by
//! itself after a Redis restart). Pub/sub for cross-instance rooms has its own
//! connections in `services::realtime::adapter`, never shared with commands.

pub mod connect;
pub mod keys;
pub mod script;

pub use connect::{
    Endpoint, Tls, TlsError, TlsFile, check, command_connection, is_auth_error, ping,
    stream_connection,
};
