//! The battle mode's wire payloads.

use serde::{Deserialize, Serialize};

use super::store::Started;

/// `start_battle` / `POST /api/battles` payload.
#[derive(Debug, Deserialize)]
pub struct StartBattleReq {
    pub players: Vec<String>,
}

/// Ack of `start_battle`: `{ok, battleId, created}` (plus `players`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBattleAck {
    pub battle_id: String,
    pub players: Vec<String>,
    pub created: bool,
}

impl From<&Started> for StartBattleAck {
    fn from(s: &Started) -> Self {
        Self {
            battle_id: s.battle.battle_id.clone(),
            players: s.battle.players.clone(),
            created: s.created,
        }
    }
}

/// Sent to the players and every asker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleStarted {
    pub battle_id: String,
    pub players: Vec<String>,
}

/// `end_battle` payload (`winner`: optional, one of the players), and its ack body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdReq {
    pub battle_id: String,
    #[serde(default)]
    pub winner: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BattleIdAck {
    pub battle_id: String,
}
