//! Redis connections, key builders and Lua scripts.
//!
//! Every client is made by [`Endpoint::client`] (`connect.rs`): plain or TLS
//! (`rediss://`), with or without an ACL user. Commands go over one [`Conn`]
//! (`conn.rs`): a multiplexed `ConnectionManager` with a short response timeout (it
//! reconnects by itself after a Redis restart), or for a `redis+cluster://` URL redis-rs's
//! cluster connection. Pub/sub for cross-instance rooms has its own
//! connections in `services::realtime::adapter`, never shared with commands; the room bus's
//! sharded subscriptions go to each slot's master directly, found through `slot_map.rs`.
//! A script that must reach a replica before it counts runs with a `WAIT` behind it
//! (`wait.rs`).

pub mod conn;
pub mod connect;
pub mod entry_id;
pub mod keys;
pub mod script;
pub mod slot;
pub mod slot_map;
pub mod wait;

pub use conn::Conn;
pub use connect::{
    Endpoint, PUBSUB_SLOT, Tls, TlsError, TlsFile, check, command_connection, is_auth_error, ping,
    stream_connection,
};
