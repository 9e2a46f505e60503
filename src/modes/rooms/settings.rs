//! Settings of the rooms mode.

use clap::Args;

use crate::base::config::{ConfigError, bad};

pub const TICK_MS: u64 = 2000;

/// Settings of the rooms mode.
#[derive(Debug, Clone, Args)]
#[group(id = "rooms")]
pub struct Settings {
    /// Tick interval in milliseconds (the tick lease is LOCK_TTL_MS, which must be below it).
    #[arg(long, env = "TICK_MS", default_value_t = TICK_MS)]
    pub tick_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { tick_ms: TICK_MS }
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
        Ok(())
    }
}

