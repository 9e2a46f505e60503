//! Settings of the battle mode.

use clap::{Args, ValueEnum};

use crate::base::config::{ConfigError, in_range};

pub const OUTBOX_PARTITIONS: u32 = 8;
pub const OUTBOX_BATCH: usize = 200;
pub const OUTBOX_RECLAIM_IDLE_MS: u64 = 5000;
pub const OUTBOX_MAX_DELIVERIES: u64 = 10;

/// Settings of the battle mode.
/// A battle's length when the start names none.
pub const DURATION_S: u64 = 600;
/// The countdown between a battle's start and its clock.
pub const COUNTDOWN_MS: u64 = 3_000;
/// Largest source a submit may carry.
pub const SOURCE_LIMIT_BYTES: usize = 64 * 1024;
/// Submits per second per player (burst of the same size).
pub const SUBMITS_PER_S: u32 = 2;
/// How long a submission may wait for its verdict before it is recorded IE.
pub const JUDGE_WAIT_MS: u64 = 60_000;
/// A submission still `judging` this long after its instance took it is judged again
/// by another (the instance is presumed dead).
pub const JUDGING_STALE_MS: u64 = 90_000;
/// How long a battle player may be gone from every instance before forfeiting.
pub const DISCONNECT_GRACE_MS: u64 = 30_000;
pub const BATTLE_DURABILITY: Durability = Durability::None;
/// How long a battle step waits for a replica (`BATTLE_DURABILITY=replica`).
pub const BATTLE_WAIT_MS: u64 = 100;

/// What a battle step waits for before the client is told (`durability.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// The master's answer only: a change told just before its master dies may be
    /// missing on the replica that takes over (replication is asynchronous).
    None,
    /// Also one replica's confirmation (`WAIT 1 BATTLE_WAIT_MS` on the step's own
    /// connection and node); the client is told `durable: false` when none came in time.
    Replica,
}

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
    /// A battle's length when `start_battle` names none (seconds).
    #[arg(long, env = "BATTLE_DURATION_S", default_value_t = DURATION_S)]
    pub battle_duration_s: u64,

    /// Countdown between a battle's start and its clock (ms).
    #[arg(long, env = "BATTLE_COUNTDOWN_MS", default_value_t = COUNTDOWN_MS)]
    pub battle_countdown_ms: u64,

    /// Largest source a `submit` may carry (bytes); larger is `payload_too_large`.
    #[arg(long, env = "BATTLE_SOURCE_LIMIT_BYTES", default_value_t = SOURCE_LIMIT_BYTES)]
    pub battle_source_limit_bytes: usize,

    /// Submits per second per player (a burst of the same size); more is `rate_limited`.
    #[arg(long, env = "BATTLE_SUBMITS_PER_S", default_value_t = SUBMITS_PER_S)]
    pub battle_submits_per_s: u32,

    /// How long a submission waits for its verdict before it is recorded IE (ms).
    #[arg(long, env = "BATTLE_JUDGE_WAIT_MS", default_value_t = JUDGE_WAIT_MS)]
    pub battle_judge_wait_ms: u64,

    /// A submission still being judged this long after it was taken is judged again by
    /// another instance (ms; must exceed BATTLE_JUDGE_WAIT_MS).
    #[arg(long, env = "BATTLE_JUDGING_STALE_MS", default_value_t = JUDGING_STALE_MS)]
    pub battle_judging_stale_ms: u64,

    /// How long a player may be gone from every instance before forfeiting (ms).
    #[arg(long, env = "BATTLE_DISCONNECT_GRACE_MS", default_value_t = DISCONNECT_GRACE_MS)]
    pub battle_disconnect_grace_ms: u64,

    /// `replica` makes every battle step told to a client (create, matchmake, submission
    /// open and verdict, end, forfeit) wait for one replica of its Redis master to confirm it (at
    /// most BATTLE_WAIT_MS); acks and events then carry `durable: true|false`. `none`
    /// tells clients on the master's answer alone.
    #[arg(long, env = "BATTLE_DURABILITY", value_enum, default_value_t = BATTLE_DURABILITY)]
    pub battle_durability: Durability,

    /// With BATTLE_DURABILITY=replica, how long a battle step waits for a replica's
    /// confirmation, in milliseconds.
    #[arg(long, env = "BATTLE_WAIT_MS", default_value_t = BATTLE_WAIT_MS)]
    pub battle_wait_ms: u64,

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
            battle_duration_s: DURATION_S,
            battle_countdown_ms: COUNTDOWN_MS,
            battle_source_limit_bytes: SOURCE_LIMIT_BYTES,
            battle_submits_per_s: SUBMITS_PER_S,
            battle_judge_wait_ms: JUDGE_WAIT_MS,
            battle_judging_stale_ms: JUDGING_STALE_MS,
            battle_disconnect_grace_ms: DISCONNECT_GRACE_MS,
            battle_durability: BATTLE_DURABILITY,
            battle_wait_ms: BATTLE_WAIT_MS,
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
        let (lo, hi) = super::problem::DURATION_S;
        in_range("BATTLE_DURATION_S", self.battle_duration_s, lo, hi)?;
        in_range("BATTLE_COUNTDOWN_MS", self.battle_countdown_ms, 0, 60_000)?;
        in_range("BATTLE_SOURCE_LIMIT_BYTES", self.battle_source_limit_bytes, 1, 256 * 1024)?;
        in_range("BATTLE_SUBMITS_PER_S", self.battle_submits_per_s, 1, 1000)?;
        in_range("BATTLE_JUDGE_WAIT_MS", self.battle_judge_wait_ms, 1_000, 600_000)?;
        in_range(
            "BATTLE_JUDGING_STALE_MS",
            self.battle_judging_stale_ms,
            self.battle_judge_wait_ms + 1_000,
            3_600_000,
        )?;
        in_range("BATTLE_DISCONNECT_GRACE_MS", self.battle_disconnect_grace_ms, 0, 3_600_000)?;
        in_range("BATTLE_WAIT_MS", self.battle_wait_ms, 1, 10_000)?;
        Ok(())
    }
}
