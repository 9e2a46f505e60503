//! Settings of the treasure hunt; each default is a constant here, used by clap and by
//! `Default` alike.

use clap::{Args, ValueEnum};

use crate::base::config::{ConfigError, bad, in_range};

/// A map can be claimed for this many periods after it is created.
pub const LIFETIME_PERIODS: u64 = 5;
pub const MAP_MS: u64 = 1000;
pub const PARTITIONS: u32 = 16;
pub const KEY_TTL_S: u64 = 21_600;
pub const CLAIM_RATE: u32 = 20;
pub const RECLAIM_IDLE_MS: u64 = 5000;
pub const MAX_DELIVERIES: u64 = 5;
pub const STREAM_MAXLEN: u64 = 1_000_000;
pub const PROJECTION_PARTITIONS: u32 = 16;
/// 5 ms: the projection's CPU per claim fell by 30-45 % at 10-20k claims/s against
/// polling back to back, for ~1 ms more lag at p50 (BENCHMARKS.md, "The projection alone").
pub const PROJECTION_POLL_MS: u64 = 5;
pub const CLAIM_DURABILITY: Durability = Durability::None;
pub const CLAIM_WAIT_MS: u64 = 100;
pub const MAP_WIDTH: u32 = 16;
pub const MAP_HEIGHT: u32 = 16;
pub const MAP_TREASURES: u32 = 20;
/// Upper bound of a map's width and of its height: 4096 x 4096 tiles keeps a tile number
/// below 2^24, exact in Lua's numbers and in JavaScript's.
pub const MAP_SIDE_MAX: u32 = 4096;
/// Upper bound of the treasures on one map: `map_created` carries every treasure (about
/// 16 bytes of JSON each) to every client in the room, so 4096 keeps it near 64 KiB.
/// Tiles without treasure are not sent, so a map's size costs the payload nothing.
pub const MAP_TREASURES_MAX: u32 = 4096;

/// What a claim's ack waits for before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// The master's answer only: a claim acknowledged just before its master dies may be
    /// missing on the replica that takes over (replication is asynchronous).
    None,
    /// Also one replica's confirmation (`WAIT 1 CLAIM_WAIT_MS` on the claim's own
    /// connection and node); the ack says `durable: false` when none came in time.
    Replica,
}

/// Settings of the treasure hunt.
#[derive(Debug, Clone, Args)]
#[group(id = "hunt")]
pub struct Settings {
    /// Treasure hunt: one map is generated per period of this many milliseconds, across
    /// all instances. A map can be claimed for 5 periods.
    #[arg(long, env = "MAP_MS", default_value_t = MAP_MS)]
    pub map_ms: u64,

    /// Treasure hunt: number of partitions (claim streams, `{p<k>}` hash tags).
    /// Changing it orphans existing maps and streams.
    #[arg(long, env = "HUNT_PARTITIONS", default_value_t = PARTITIONS)]
    pub hunt_partitions: u32,

    /// Treasure hunt: TTL in seconds of maps, owners, per-map boards and apply-once
    /// markers (21600 = 6 h).
    #[arg(long = "hunt-key-ttl", env = "HUNT_KEY_TTL", default_value_t = KEY_TTL_S)]
    pub hunt_key_ttl_s: u64,

    /// Treasure hunt: claims per second allowed per player, shared by all instances; the
    /// same number may be spent at once. Checked inside the claim script, per partition:
    /// a player spreading claims over the live maps (5 at most, in different partitions)
    /// gets up to 5 times this in total.
    #[arg(long, env = "CLAIM_RATE", default_value_t = CLAIM_RATE)]
    pub claim_rate: u32,

    /// Treasure hunt: a claim entry pending this long (its consumer died or stalled) is
    /// taken over by another consumer, in milliseconds.
    #[arg(long, env = "HUNT_RECLAIM_IDLE_MS", default_value_t = RECLAIM_IDLE_MS)]
    pub hunt_reclaim_idle_ms: u64,

    /// Treasure hunt: deliveries after which an entry that still fails is dead-lettered.
    #[arg(long, env = "HUNT_MAX_DELIVERIES", default_value_t = MAX_DELIVERIES)]
    pub hunt_max_deliveries: u64,

    /// Treasure hunt: approximate cap of each claim stream (XADD MAXLEN ~).
    /// `arena hunt rebuild` is exact only while the streams hold every claim.
    #[arg(long, env = "HUNT_STREAM_MAXLEN", default_value_t = STREAM_MAXLEN)]
    pub hunt_stream_maxlen: u64,

    /// Treasure hunt: partitions one leaderboard projection reader serves (one consumer,
    /// one pipelined read per poll); each instance runs ceil(HUNT_PARTITIONS / this)
    /// readers, so the projection scales out as partitions grow.
    #[arg(long, env = "HUNT_PROJECTION_PARTITIONS", default_value_t = PROJECTION_PARTITIONS)]
    pub hunt_projection_partitions: u32,

    /// Treasure hunt: a projection reader whose poll found less than a full read waits
    /// until this many milliseconds after the poll began before the next one, so a
    /// steady rate is read in batches rather than one entry per command (0 = back to
    /// back; at most 100). Bounds the lag it adds.
    #[arg(long, env = "HUNT_PROJECTION_POLL_MS", default_value_t = PROJECTION_POLL_MS)]
    pub hunt_projection_poll_ms: u64,

    /// Treasure hunt: `replica` makes every claim wait for one replica of its Redis
    /// master to confirm it (at most CLAIM_WAIT_MS) before the ack, which then carries
    /// `durable: true|false`; `none` acks on the master's answer alone.
    #[arg(long, env = "CLAIM_DURABILITY", value_enum, default_value_t = CLAIM_DURABILITY)]
    pub claim_durability: Durability,

    /// Treasure hunt: with CLAIM_DURABILITY=replica, how long a claim waits for a
    /// replica's confirmation, in milliseconds.
    #[arg(long, env = "CLAIM_WAIT_MS", default_value_t = CLAIM_WAIT_MS)]
    pub claim_wait_ms: u64,

    /// Treasure hunt: tiles per row of every new map (1..=4096). Larger maps let more
    /// claims succeed (a tile is claimed once), e.g. for load tests.
    #[arg(long, env = "HUNT_MAP_WIDTH", default_value_t = MAP_WIDTH)]
    pub hunt_map_width: u32,

    /// Treasure hunt: rows of every new map (1..=4096).
    #[arg(long, env = "HUNT_MAP_HEIGHT", default_value_t = MAP_HEIGHT)]
    pub hunt_map_height: u32,

    /// Treasure hunt: treasures on every new map, on distinct random tiles (0..=4096 and
    /// at most width x height); `map_created` carries each one.
    #[arg(long, env = "HUNT_MAP_TREASURES", default_value_t = MAP_TREASURES)]
    pub hunt_map_treasures: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            map_ms: MAP_MS,
            hunt_partitions: PARTITIONS,
            hunt_key_ttl_s: KEY_TTL_S,
            claim_rate: CLAIM_RATE,
            hunt_reclaim_idle_ms: RECLAIM_IDLE_MS,
            hunt_max_deliveries: MAX_DELIVERIES,
            hunt_stream_maxlen: STREAM_MAXLEN,
            hunt_projection_partitions: PROJECTION_PARTITIONS,
            hunt_projection_poll_ms: PROJECTION_POLL_MS,
            claim_durability: CLAIM_DURABILITY,
            claim_wait_ms: CLAIM_WAIT_MS,
            hunt_map_width: MAP_WIDTH,
            hunt_map_height: MAP_HEIGHT,
            hunt_map_treasures: MAP_TREASURES,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        in_range("MAP_MS", self.map_ms, 50, 3_600_000)?;
        in_range("HUNT_PARTITIONS", self.hunt_partitions, 1, 1024)?;
        in_range("HUNT_KEY_TTL", self.hunt_key_ttl_s, 60, 30 * 86_400)?;
        if self.hunt_key_ttl_s * 1000 <= LIFETIME_PERIODS * self.map_ms {
            return Err(bad(
                "HUNT_KEY_TTL",
                format!(
                    "{} s must outlive a map (5 x MAP_MS = {} ms)",
                    self.hunt_key_ttl_s,
                    LIFETIME_PERIODS * self.map_ms
                ),
            ));
        }
        in_range("CLAIM_RATE", self.claim_rate, 1, 100_000)?;
        in_range("HUNT_RECLAIM_IDLE_MS", self.hunt_reclaim_idle_ms, 100, 3_600_000)?;
        in_range("HUNT_MAX_DELIVERIES", self.hunt_max_deliveries, 1, 1000)?;
        in_range("HUNT_PROJECTION_PARTITIONS", self.hunt_projection_partitions, 1, 1024)?;
        in_range("HUNT_PROJECTION_POLL_MS", self.hunt_projection_poll_ms, 0, 100)?;
        // WAIT 0 would wait for ever; past 10 s a claim's ack is later than any client waits.
        in_range("CLAIM_WAIT_MS", self.claim_wait_ms, 1, 10_000)?;
        in_range("HUNT_MAP_WIDTH", self.hunt_map_width, 1, MAP_SIDE_MAX)?;
        in_range("HUNT_MAP_HEIGHT", self.hunt_map_height, 1, MAP_SIDE_MAX)?;
        in_range("HUNT_MAP_TREASURES", self.hunt_map_treasures, 0, MAP_TREASURES_MAX)?;
        let tiles = u64::from(self.hunt_map_width) * u64::from(self.hunt_map_height);
        if u64::from(self.hunt_map_treasures) > tiles {
            return Err(bad(
                "HUNT_MAP_TREASURES",
                format!(
                    "{} treasures do not fit on {tiles} tiles (HUNT_MAP_WIDTH x HUNT_MAP_HEIGHT)",
                    self.hunt_map_treasures
                ),
            ));
        }
        if self.hunt_stream_maxlen < 1000 {
            return Err(bad("HUNT_STREAM_MAXLEN", "must be at least 1000"));
        }
        Ok(())
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_wait_is_bounded_and_named() {
        let ok = Settings {
            claim_durability: Durability::Replica,
            ..Settings::default()
        };
        assert!(ok.validate().is_ok());
        for ms in [0, 10_001] {
            let s = Settings {
                claim_wait_ms: ms,
                ..ok.clone()
            };
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains("CLAIM_WAIT_MS"), "{e}");
        }
        assert_eq!(Settings::default().claim_durability, Durability::None);
    }

    #[test]
    fn map_size_is_bounded_and_named() {
        let d = Settings::default();
        assert_eq!((d.hunt_map_width, d.hunt_map_height, d.hunt_map_treasures), (16, 16, 20));
        let big = Settings {
            hunt_map_width: 4096,
            hunt_map_height: 4096,
            hunt_map_treasures: 4096,
            ..d.clone()
        };
        assert!(big.validate().is_ok());
        let no_treasure = Settings {
            hunt_map_width: 1,
            hunt_map_height: 1,
            hunt_map_treasures: 0,
            ..d.clone()
        };
        assert!(no_treasure.validate().is_ok());
        let cases = [
            (0, 16, 20, "HUNT_MAP_WIDTH"),
            (4097, 16, 20, "HUNT_MAP_WIDTH"),
            (16, 0, 20, "HUNT_MAP_HEIGHT"),
            (16, 4097, 20, "HUNT_MAP_HEIGHT"),
            (100, 100, 4097, "HUNT_MAP_TREASURES"),
            (4, 4, 17, "HUNT_MAP_TREASURES"),
        ];
        for (w, h, t, name) in cases {
            let s = Settings {
                hunt_map_width: w,
                hunt_map_height: h,
                hunt_map_treasures: t,
                ..d.clone()
            };
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{w}x{h} with {t}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }
}
