//! Battles: duplicate-free creation under concurrent starts on any instance (`store`),
//! started and ended over sockets (`events`) or HTTP (`http`). Each socket joins its
//! player's personal room, so a new battle reaches its players on any instance.

pub mod error;
pub mod events;
pub mod http;
pub mod metrics;
pub mod mode;
pub mod pairing;
pub mod payload;
pub mod rooms;
pub mod settings;
pub mod state;
pub mod store;

pub use mode::build;
pub use settings::Settings;
