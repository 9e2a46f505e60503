//! The treasure hunt: a leader-elected generator emits an immutable map every `map_ms`
//! (`map`); players claim tiles exactly once through one Lua compare-and-set that also
//! appends the claim to a partitioned Redis Stream (`claim`); a consumer group projects
//! the log into leaderboards, idempotently (`projection`); `board` reads, broadcasts and
//! rebuilds them.
//!
//! Follow a claim: `realtime::handlers::claim` -> `claim::handle` (parse, rate limit) ->
//! `redis::scripts::claim` (`lua/claim.lua`: validate, HSET owner, XADD, one atomic step)
//! -> ack + `tile_claimed` to the room `hunt` from the script's reply -> `projection`
//! (XREADGROUP, `lua/leaderboard_apply.lua`, XACK) -> `board` (top N every 500 ms).

pub mod board;
pub mod claim;
pub mod map;
pub mod projection;

use serde::{Deserialize, Serialize};

/// The room that receives `map_created`, `tile_claimed` and `leaderboard`.
pub const ROOM: &str = "hunt";

/// `tile_claimed`: one successful claim, broadcast from what the claim script returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TileClaimed {
    pub map_id: u64,
    pub tile: i64,
    pub player: String,
    pub value: i64,
}

/// One row of a leaderboard; `rank` is 1-based.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeaderboardEntry {
    pub rank: u64,
    pub player: String,
    pub score: f64,
}

/// `leaderboard` (socket) and `GET /api/hunt/leaderboard`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Leaderboard {
    pub entries: Vec<LeaderboardEntry>,
}
