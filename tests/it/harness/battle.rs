//! Typed requests of the battle mode (`src/modes/battle/`), and a look at its stored
//! records.

use std::time::Duration;

use arena::tools::client::Client;
use redis::AsyncCommands;
use serde_json::{Value, json};

use super::ack;

/// How long a battle request waits for its ack (a test handler may be slowed down to
/// several lease TTLs, and fifty of them contend for one lock).
const WAIT: Duration = Duration::from_secs(20);

/// The battle mode's events as methods on a client. Each returns the ack (`{ok: true,
/// ..}` or `{ok: false, error}`) and panics naming the event when no ack comes within 20 s.
pub trait BattleClient {
    /// `start_battle {players}`.
    async fn start_battle(&self, players: &[&str]) -> Value;
    /// `end_battle {battleId}`.
    async fn end_battle(&self, battle_id: &str) -> Value;
    /// `end_battle {battleId, winner}`.
    async fn end_battle_won_by(&self, battle_id: &str, winner: &str) -> Value;
}

impl BattleClient for Client {
    async fn start_battle(&self, players: &[&str]) -> Value {
        ack(self, "start_battle", &json!({"players": players}), WAIT).await
    }

    async fn end_battle(&self, battle_id: &str) -> Value {
        ack(self, "end_battle", &json!({"battleId": battle_id}), WAIT).await
    }

    async fn end_battle_won_by(&self, battle_id: &str, winner: &str) -> Value {
        let payload = json!({"battleId": battle_id, "winner": winner});
        ack(self, "end_battle", &payload, WAIT).await
    }
}

/// The keys of every stored battle record in the Redis at `url`.
pub async fn battle_keys(url: &str) -> Vec<String> {
    // A cluster URL: KEYS on each seed (each node lists only its own keys).
    let mut all = std::collections::BTreeSet::new();
    for node in arena::redis::Endpoint::plain(url).seeds() {
        let mut conn = redis::Client::open(node.redacted())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = conn.keys("arena:{b*}:battle:*:*-*").await.unwrap();
        all.extend(keys);
    }
    all.into_iter().collect()
}
