//! The treasure hunt's wire payloads.

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
#[derive(utoipa::ToSchema)]
pub struct LeaderboardEntry {
    pub rank: u64,
    pub player: String,
    pub score: f64,
}

/// `leaderboard` (socket) and `GET /api/hunt/leaderboard`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[derive(utoipa::ToSchema)]
pub struct Leaderboard {
    pub entries: Vec<LeaderboardEntry>,
}
