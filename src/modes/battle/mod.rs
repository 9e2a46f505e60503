//! Battles: duplicate-free creation under concurrent starts on any instance (`store`),
//! started and ended over sockets (`events`) or HTTP (`http`). Each socket joins its
//! player's personal room, so a new battle reaches its players on any instance.

mod admin;
mod error;
mod events;
mod http;
mod metrics;
mod mode;
mod pairing;
mod payload;
mod rooms;
mod settings;
mod state;
mod store;

pub use mode::build;
pub use settings::Settings;
