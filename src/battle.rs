//! Battles: duplicate-free creation under concurrent starts on any instance.
//!
//! A pairing is the *set* of players (order does not matter). Starting a battle for a
//! pairing that has an active one returns that battle. Creation is safe on two
//! independent grounds, both inside one Lua step (`lua/battle_create.lua`):
//! 1. an idempotency key per pairing (`...:data:active`, set only if absent), and
//! 2. a fenced commit: the Redlock lease's fencing token must still be the newest, so a
//!    holder whose lease lapsed (slow handler, paused process) cannot write.
//!
//! All keys of a pairing share the hash tag `{lock:battle:<pairing hash>}` with its lock
//! fence, which is what makes (2) one atomic step on one Cluster slot. A battle id is
//! `<pairing hash>-<fencing token>`, so it is unique and names its keys.

use std::time::Duration;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AckError, ErrorCode};
use crate::lock::{LockError, Redlock, Resource};
use crate::realtime::protocol::PlayerId;
use crate::redis::scripts::{self, BattleCreate, BattleKeys};
use crate::state::AppState;

/// Most players in one battle.
pub const MAX_PLAYERS: usize = 16;
/// Battles (and their pairing keys) expire after this long if never ended.
const BATTLE_TTL_S: u64 = 6 * 3600;
/// The global index of active battles (score = expiry, ms), for `arena_active_battles`.
const ACTIVE_INDEX: &str = "arena:{battles}:active";

/// Errors of battle operations.
#[derive(Debug, thiserror::Error)]
pub enum BattleError {
    #[error("{0}")]
    BadRequest(String),
    #[error("no active battle {0}")]
    NotFound(String),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("battle start kept losing its lease; retry")]
    Contended,
}

impl BattleError {
    pub fn code(&self) -> ErrorCode {
        match self {
            BattleError::BadRequest(_) => ErrorCode::BadRequest,
            BattleError::NotFound(_) => ErrorCode::NotFound,
            BattleError::Lock(e) => e.code(),
            BattleError::Redis(_) | BattleError::Contended => ErrorCode::Unavailable,
        }
    }
}

impl From<BattleError> for AckError {
    fn from(e: BattleError) -> Self {
        let message = match &e {
            // Internal details stay in the logs.
            BattleError::Redis(_) | BattleError::Lock(LockError::Redis(_)) => {
                "a backing service is unavailable, retry".to_string()
            }
            other => other.to_string(),
        };
        AckError::new(e.code(), message)
    }
}

/// A validated set of players.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// Sorted, unique.
    pub players: Vec<String>,
    /// Hex of the first 16 bytes of SHA-256 over the sorted ids.
    pub hash: String,
}

impl Pairing {
    /// 2..=16 distinct valid player ids, in any order.
    pub fn parse(players: &[String]) -> Result<Self, BattleError> {
        if players.len() < 2 || players.len() > MAX_PLAYERS {
            return Err(BattleError::BadRequest(format!(
                "players must list 2 to {MAX_PLAYERS} player ids (got {})",
                players.len()
            )));
        }
        let mut sorted = Vec::with_capacity(players.len());
        for p in players {
            let id = PlayerId::parse(p).map_err(|e| BattleError::BadRequest(e.message))?;
            sorted.push(id.as_str().to_string());
        }
        sorted.sort();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(BattleError::BadRequest("players must be distinct".into()));
        }
        let digest = Sha256::digest(sorted.join("\n").as_bytes());
        let hash = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            players: sorted,
            hash,
        })
    }

    fn resource(&self) -> Result<Resource, BattleError> {
        Ok(Resource::parse(&format!("battle:{}", self.hash))?)
    }
}

/// A battle as stored and returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Battle {
    pub battle_id: String,
    pub players: Vec<String>,
    /// `active` or `ended`.
    pub state: String,
    pub created_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// The instance whose handler created it.
    pub created_by: String,
}

/// The answer to a start: the battle and whether this call created it.
#[derive(Debug, Clone)]
pub struct Started {
    pub battle: Battle,
    pub created: bool,
}

/// `<hash>-<n>` -> the battle's keys.
fn keys_of(battle_id: &str) -> Result<BattleKeys, BattleError> {
    let bad = || BattleError::BadRequest(format!("malformed battle id {battle_id:?}"));
    let (hash, n) = battle_id.rsplit_once('-').ok_or_else(bad)?;
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || n.parse::<u64>().is_err()
    {
        return Err(bad());
    }
    let r = Resource::parse(&format!("battle:{hash}"))?;
    Ok(BattleKeys {
        fence: crate::redis::keys::lock_fence(r.as_str()),
        active: r.data_key("active"),
        record: r.data_key(&format!("battle:{n}")),
    })
}

/// Start (or join) the battle of `players`. Concurrent calls for the same pairing, on
/// any instance, all get the same battle; exactly one of them has `created: true`.
pub async fn start(
    app: &AppState,
    redlock: &Redlock,
    players: &[String],
) -> Result<Started, BattleError> {
    let pairing = Pairing::parse(players)?;
    let resource = pairing.resource()?;
    let mut conn = app.redis.clone();
    let active_key = resource.data_key("active");
    for _ in 0..3 {
        // Fast path: an active battle needs no lock.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            app.metrics.battle_start_conflicts.increment(1);
            return Ok(Started {
                battle: get(app, &id).await?,
                created: false,
            });
        }
        let wait = Duration::from_millis(app.config.lock_ttl_ms * 4).max(Duration::from_secs(5));
        let lease = redlock.acquire_within(&resource, wait).await?;
        // Double-check under the lease: a holder before us may have just created it.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            lease.release().await;
            app.metrics.battle_start_conflicts.increment(1);
            return Ok(Started {
                battle: get(app, &id).await?,
                created: false,
            });
        }
        if app.config.test_battle_delay_ms > 0 {
            // Test-only: a handler slower than the lease TTL (the reference incident).
            tokio::time::sleep(Duration::from_millis(app.config.test_battle_delay_ms)).await;
        }
        let token = lease.fencing_token();
        let battle = Battle {
            battle_id: format!("{}-{token}", pairing.hash),
            players: pairing.players.clone(),
            state: "active".into(),
            created_at: crate::tick::unix_ms(),
            ended_at: None,
            created_by: app.instance_id.to_string(),
        };
        let keys = keys_of(&battle.battle_id)?;
        let record =
            serde_json::to_string(&battle).map_err(|e| BattleError::BadRequest(e.to_string()))?;
        let outcome = scripts::battle_create(
            &mut conn,
            &keys,
            token,
            &battle.battle_id,
            &record,
            BATTLE_TTL_S,
        )
        .await;
        lease.release().await;
        match outcome? {
            BattleCreate::Created(_) => {
                app.metrics.battles_created.increment(1);
                let expires = crate::tick::unix_ms() + BATTLE_TTL_S * 1000;
                // The index only feeds a gauge; a failure here loses no battle.
                let _: Result<(), _> = conn.zadd(ACTIVE_INDEX, &battle.battle_id, expires).await;
                tracing::info!(battle = %battle.battle_id, players = ?battle.players, "battle created");
                return Ok(Started {
                    battle,
                    created: true,
                });
            }
            BattleCreate::Exists(id) => {
                app.metrics.battle_start_conflicts.increment(1);
                return Ok(Started {
                    battle: get(app, &id).await?,
                    created: false,
                });
            }
            BattleCreate::Stale(newest) => {
                // Our lease lapsed and a newer holder exists: it decides; look again.
                app.metrics.battle_start_conflicts.increment(1);
                tracing::warn!(token, newest, "battle commit fenced off: lease was lost");
            }
        }
    }
    Err(BattleError::Contended)
}

/// The battle `id` (active or ended).
pub async fn get(app: &AppState, id: &str) -> Result<Battle, BattleError> {
    let keys = keys_of(id)?;
    let raw: Option<String> = app.redis.clone().get(&keys.record).await?;
    let raw = raw.ok_or_else(|| BattleError::NotFound(id.to_string()))?;
    serde_json::from_str(&raw).map_err(|_| BattleError::NotFound(id.to_string()))
}

/// End an active battle; its pairing can then start a new one.
pub async fn end(app: &AppState, id: &str) -> Result<Battle, BattleError> {
    let keys = keys_of(id)?;
    let mut conn = app.redis.clone();
    let updated = scripts::battle_end(&mut conn, &keys, id, crate::tick::unix_ms())
        .await?
        .ok_or_else(|| BattleError::NotFound(id.to_string()))?;
    let _: Result<(), _> = conn.zrem(ACTIVE_INDEX, id).await;
    serde_json::from_str(&updated).map_err(|_| BattleError::NotFound(id.to_string()))
}

/// Active battles across all instances (expired entries pruned).
pub async fn active_count(app: &AppState) -> Result<u64, BattleError> {
    let mut conn = app.redis.clone();
    let now = crate::tick::unix_ms();
    let (n,): (u64,) = redis::pipe()
        .zrembyscore(ACTIVE_INDEX, "-inf", now)
        .ignore()
        .zcard(ACTIVE_INDEX)
        .query_async(&mut conn)
        .await?;
    Ok(n)
}

/// The room of a battle.
pub fn room(battle_id: &str) -> String {
    format!("battle:{battle_id}")
}

/// The personal room every socket of a player joins on connect (server-managed).
pub fn player_room(player: &str) -> String {
    format!("player:{player}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairing_is_order_free() {
        let a = Pairing::parse(&ids(&["bob", "alice"])).unwrap();
        let b = Pairing::parse(&ids(&["alice", "bob"])).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.players, ids(&["alice", "bob"]));
        assert_eq!(a.hash.len(), 32);
        assert_ne!(
            a.hash,
            Pairing::parse(&ids(&["alice", "carol"])).unwrap().hash
        );
    }

    #[test]
    fn bad_pairings() {
        for bad in [
            vec![],
            ids(&["solo"]),
            ids(&["a", "a"]),
            ids(&["a", "b c"]),
            (0..17).map(|i| format!("p{i}")).collect(),
        ] {
            assert!(
                matches!(Pairing::parse(&bad), Err(BattleError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn battle_ids_name_their_keys() {
        let k = keys_of("0123456789abcdef0123456789abcdef-7").unwrap();
        assert_eq!(
            k.record,
            "arena:{lock:battle:0123456789abcdef0123456789abcdef}:data:battle:7"
        );
        assert!(
            k.active
                .starts_with("arena:{lock:battle:0123456789abcdef0123456789abcdef}")
        );
        for bad in [
            "",
            "x-1",
            "0123456789abcdef0123456789abcdef-x",
            "0123456789abcdef0123456789abcde!-1",
        ] {
            assert!(keys_of(bad).is_err(), "{bad}");
        }
    }
}
