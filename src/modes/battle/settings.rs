//! Settings of the battle mode.

use clap::Args;

use crate::base::config::ConfigError;

/// Settings of the battle mode.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "battle")]
pub struct Settings {
    /// Test only: hold the battle lock this long before committing (simulates a handler
    /// slower than the lease TTL).
    #[arg(
        long,
        env = "ARENA_TEST_BATTLE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_battle_delay_ms: u64,
}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

