//! Settings of the rooms mode.

use clap::{Args, ValueEnum};

use crate::base::config::{ConfigError, bad, in_range};

pub const TICK_MS: u64 = 2000;
pub const SOCKET_MAX_ROOMS: usize = 100;
pub const ROOM_FANOUT: Fanout = Fanout::Sharded;
pub const ROOM_PARTITIONS: usize = 256;
pub const ROOM_HISTORY_LEN: usize = 1000;
pub const ROOM_HISTORY_TTL_S: u64 = 600;
/// Off: every live room event is delivered as soon as it arrives.
pub const ROOM_WRITE_DELAY_MS: u64 = 0;
/// A longer window would be a delay, not a batching of writes.
pub const ROOM_WRITE_DELAY_MAX_MS: u64 = 1000;

/// How a room's attacks reach its members on other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fanout {
    /// The room's own shard channel, with history and recovery (the default).
    Sharded,
    /// socketioxide-redis's one channel per namespace: every instance receives every
    /// room's attacks; no positions, no recovery. Kept to compare the two (`arena bench
    /// fanout`) and as a fallback for a Redis without SPUBLISH (< 7.0).
    Namespace,
}

/// Settings of the rooms mode.
#[derive(Debug, Clone, Args)]
#[group(id = "rooms")]
pub struct Settings {
    /// Tick interval in milliseconds (the tick lease is LOCK_TTL_MS, which must be below it).
    #[arg(long, env = "TICK_MS", default_value_t = TICK_MS)]
    pub tick_ms: u64,

    /// Rooms one socket may join with `join_room` (rooms the server puts it in, like its
    /// `player:*` room, not counted); a `join_room` beyond it gets `too_many_rooms`.
    #[arg(long, env = "SOCKET_MAX_ROOMS", default_value_t = SOCKET_MAX_ROOMS)]
    pub socket_max_rooms: usize,

    /// How attacks fan out: `sharded` (per-room shard channels, history, recovery) or
    /// `namespace` (one channel for the whole namespace, no recovery).
    #[arg(long, env = "ROOM_FANOUT", value_enum, default_value_t = ROOM_FANOUT)]
    pub room_fanout: Fanout,

    /// Partitions of room channels: each room's shard channel and history carry its
    /// partition's hash tag; tags are chosen so partitions spread evenly over the slots
    /// (256 cover 48 Cluster masters).
    #[arg(long, env = "ROOM_PARTITIONS", default_value_t = ROOM_PARTITIONS)]
    pub room_partitions: usize,

    /// Events a room's history keeps for recovery (at least; trimmed approximately).
    #[arg(long, env = "ROOM_HISTORY_LEN", default_value_t = ROOM_HISTORY_LEN)]
    pub room_history_len: usize,

    /// Seconds a room's history outlives its last event; after that its epoch changes
    /// and clients holding an old position get `resync`.
    #[arg(long, env = "ROOM_HISTORY_TTL_S", default_value_t = ROOM_HISTORY_TTL_S)]
    pub room_history_ttl_s: u64,

    /// Write window in milliseconds (0: off): live room events that arrive within it of
    /// the first are delivered together, so a member's events of the window leave in one
    /// write. Trades up to this much extra latency for fewer syscalls per delivery.
    #[arg(long, env = "ROOM_WRITE_DELAY_MS", default_value_t = ROOM_WRITE_DELAY_MS)]
    pub room_write_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tick_ms: TICK_MS,
            socket_max_rooms: SOCKET_MAX_ROOMS,
            room_fanout: ROOM_FANOUT,
            room_partitions: ROOM_PARTITIONS,
            room_history_len: ROOM_HISTORY_LEN,
            room_history_ttl_s: ROOM_HISTORY_TTL_S,
            room_write_delay_ms: ROOM_WRITE_DELAY_MS,
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
        in_range("ROOM_PARTITIONS", self.room_partitions, 1, 16_384)?;
        in_range("ROOM_HISTORY_LEN", self.room_history_len, 1, 1_000_000)?;
        in_range("ROOM_HISTORY_TTL_S", self.room_history_ttl_s, 1, 30 * 24 * 3600)?;
        in_range(
            "ROOM_WRITE_DELAY_MS",
            self.room_write_delay_ms,
            0,
            ROOM_WRITE_DELAY_MAX_MS,
        )?;
        if self.room_write_delay_ms > 0 && self.room_fanout == Fanout::Namespace {
            return Err(bad(
                "ROOM_WRITE_DELAY_MS",
                "needs ROOM_FANOUT=sharded (the namespace channel has no write window)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_window_is_off_by_default_and_bounded() {
        let s = Settings::default();
        assert_eq!(s.room_write_delay_ms, 0);
        assert!(s.validate().is_ok());
        for ms in [1, 20, ROOM_WRITE_DELAY_MAX_MS] {
            let s = Settings {
                room_write_delay_ms: ms,
                ..Settings::default()
            };
            assert!(s.validate().is_ok(), "{ms}");
        }
        let s = Settings {
            room_write_delay_ms: ROOM_WRITE_DELAY_MAX_MS + 1,
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("ROOM_WRITE_DELAY_MS"), "{e}");
        assert!(e.contains("between 0 and 1000"), "{e}");
        let s = Settings {
            room_write_delay_ms: 5,
            room_fanout: Fanout::Namespace,
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("ROOM_FANOUT=sharded"), "{e}");
    }
}
