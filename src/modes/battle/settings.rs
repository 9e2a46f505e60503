//! Settings of the battle mode.

use clap::Args;

use crate::base::config::{ConfigError, in_range};

pub const OUTBOX_PARTITIONS: u32 = 8;
pub const OUTBOX_BATCH: usize = 200;
pub const OUTBOX_RECLAIM_IDLE_MS: u64 = 5000;
pub const OUTBOX_MAX_DELIVERIES: u64 = 10;

/// Settings of the battle mode.
#[derive(Debug, Clone, Args)]
#[group(id = "battle")]
pub struct Settings {
    /// Outbox streams (and hash slots) battles are spread over; every instance must use
    /// the same value (it places each pairing's keys).
    #[arg(long, env = "BATTLE_OUTBOX_PARTITIONS", default_value_t = OUTBOX_PARTITIONS)]
    pub battle_outbox_partitions: u32,

    /// Outbox entries read and applied to SQL in one transaction.
    #[arg(long, env = "BATTLE_OUTBOX_BATCH", default_value_t = OUTBOX_BATCH)]
    pub battle_outbox_batch: usize,

    /// An outbox entry delivered but not acknowledged for this long (its consumer died or
    /// stalled) is taken over by another instance, in milliseconds.
    #[arg(long, env = "BATTLE_OUTBOX_RECLAIM_IDLE_MS", default_value_t = OUTBOX_RECLAIM_IDLE_MS)]
    pub battle_outbox_reclaim_idle_ms: u64,

    /// Deliveries after which an entry that still cannot be applied (while the database
    /// answers) is moved to the dead-letter stream and counted.
    #[arg(long, env = "BATTLE_OUTBOX_MAX_DELIVERIES", default_value_t = OUTBOX_MAX_DELIVERIES)]
    pub battle_outbox_max_deliveries: u64,

    /// Test only: hold the battle lock this long before committing (simulates a handler
    /// slower than the lease TTL).
    #[arg(
        long,
        env = "ARENA_TEST_BATTLE_DELAY_MS",
        default_value_t = 0,
        hide = true
    )]
    pub test_battle_delay_ms: u64,

    /// Test only: the outbox consumer applies entries one at a time and, after applying
    /// this many, hangs before acknowledging the last one (a consumer dying mid-batch).
    #[arg(
        long,
        env = "ARENA_TEST_OUTBOX_STALL_AFTER",
        default_value_t = 0,
        hide = true
    )]
    pub test_outbox_stall_after: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            battle_outbox_partitions: OUTBOX_PARTITIONS,
            battle_outbox_batch: OUTBOX_BATCH,
            battle_outbox_reclaim_idle_ms: OUTBOX_RECLAIM_IDLE_MS,
            battle_outbox_max_deliveries: OUTBOX_MAX_DELIVERIES,
            test_battle_delay_ms: 0,
            test_outbox_stall_after: 0,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("BATTLE_OUTBOX_PARTITIONS", self.battle_outbox_partitions, 1, 1024)?;
        in_range("BATTLE_OUTBOX_BATCH", self.battle_outbox_batch, 1, 10_000)?;
        in_range(
            "BATTLE_OUTBOX_RECLAIM_IDLE_MS",
            self.battle_outbox_reclaim_idle_ms,
            100,
            3_600_000,
        )?;
        in_range(
            "BATTLE_OUTBOX_MAX_DELIVERIES",
            self.battle_outbox_max_deliveries,
            1,
            1000,
        )?;
        Ok(())
    }
}
