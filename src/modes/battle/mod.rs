//! Battles: duplicate-free creation under concurrent starts on any instance (`store`),
//! started and ended over sockets (`events`) or HTTP (`http`). Each socket joins its
//! player's personal room, so a new battle reaches its players on any instance. Every
//! change appends an event to an outbox stream in the same Lua step, and each instance's
//! consumer (`outbox`) applies those events to the SQL records exactly once; the HTTP API
//! reads the records when Redis no longer has a battle, and serves players' histories.

mod admin;
mod error;
mod events;
mod http;
mod keys;
mod metrics;
mod mode;
mod outbox;
mod pairing;
mod payload;
mod rooms;
mod settings;
mod state;
mod store;

pub use mode::build;
pub use settings::Settings;
