//! Rooms and ticks, the battle demo's mode: join and leave rooms, attack inside a room
//! (every member on every instance sees it), and one `server_tick` per interval across
//! the whole fleet.

pub mod events;
pub mod metrics;
pub mod mode;
pub mod payload;
pub mod settings;
pub mod state;
pub mod tick;

pub use mode::build;
pub use settings::Settings;
