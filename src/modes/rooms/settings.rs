//! Settings of the rooms mode.

use clap::Args;

use crate::base::config::{ConfigError, bad, in_range};

pub const TICK_MS: u64 = 2000;
pub const SOCKET_MAX_ROOMS: usize = 100;

/// Settings of the rooms mode.
#[derive(Debug, Clone, Args)]
#[group(id = "rooms")]
pub struct Settings {
    /// Tick interval in milliseconds (the tick lease is LOCK_TTL_MS, which must be below it).
    #[arg(long, env = "TICK_MS", default_value_t = TICK_MS)]
    pub tick_ms: u64,

    /// Rooms one socket may be in (its own `player:*` room not counted); a `join_room`
    /// beyond it gets `too_many_rooms`.
    #[arg(long, env = "SOCKET_MAX_ROOMS", default_value_t = SOCKET_MAX_ROOMS)]
    pub socket_max_rooms: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick_ms: TICK_MS,
            socket_max_rooms: SOCKET_MAX_ROOMS,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick_ms < 50 {
            return Err(bad(
                "TICK_MS",
                format!("{} is below the minimum of 50", self.tick_ms),
            ));
        }
        in_range("SOCKET_MAX_ROOMS", self.socket_max_rooms, 1, 100_000)?;
        Ok(())
    }
}
