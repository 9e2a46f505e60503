//! Duplicate-free creation under concurrent starts on any instance, and the stored battle.
//!
//! Starting a battle for a pairing that has an active one returns that battle. Creation
//! is safe on two independent grounds, both inside one Lua step (`lua/battle_create.lua`):
//! 1. an idempotency key per pairing (`...:data:active`, set only if absent), and
//! 2. a fenced commit: the Redlock lease's fencing token must still be the newest, so a
//!    holder whose lease lapsed (slow handler, paused process) cannot write.
//!
//! All keys of a pairing share the hash tag `{lock:battle:<pairing hash>}` with its lock
//! fence, which is what makes (2) one atomic step on one Cluster slot. A battle id is
//! `<pairing hash>-<fencing token>`, so it is unique and names its keys.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, RedisError, Script};
use serde::{Deserialize, Serialize};

use super::pairing::Pairing;
use super::error::BattleError;
use super::state::Battles;
use crate::base::clock::unix_ms;
use crate::redis::script::unexpected_reply;
use crate::services::lock::Resource;

/// Battles (and their pairing keys) expire after this long if never ended.
const BATTLE_TTL_S: u64 = 6 * 3600;
/// The global index of active battles (score = expiry, ms), for `arena_active_battles`.
const ACTIVE_INDEX: &str = "arena:{battles}:active";

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
    // The id comes from the client: show only a prefix of it.
    let shown = crate::base::error::echo(battle_id);
    let bad = || BattleError::BadRequest(format!("malformed battle id {shown:?}"));
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
pub async fn start(b: &Battles, players: &[String]) -> Result<Started, BattleError> {
    let app = &b.ctx.app;
    let pairing = Pairing::parse(players)?;
    let resource = pairing.resource()?;
    let mut conn = app.redis.clone();
    let active_key = resource.data_key("active");
    for _ in 0..3 {
        // Fast path: an active battle needs no lock.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            b.metrics.start_conflicts.increment(1);
            return Ok(Started {
                battle: get(b, &id).await?,
                created: false,
            });
        }
        let wait = Duration::from_millis(app.settings.lock_ttl_ms * 4).max(Duration::from_secs(5));
        let lease = app.redlock.acquire_within(&resource, wait).await?;
        // Double-check under the lease: a holder before us may have just created it.
        if let Some(id) = conn.get::<_, Option<String>>(&active_key).await? {
            lease.release().await;
            b.metrics.start_conflicts.increment(1);
            return Ok(Started {
                battle: get(b, &id).await?,
                created: false,
            });
        }
        if b.settings.test_battle_delay_ms > 0 {
            // Test-only: a handler slower than the lease TTL (the reference incident).
            tokio::time::sleep(Duration::from_millis(b.settings.test_battle_delay_ms)).await;
        }
        let token = lease.fencing_token();
        let battle = Battle {
            battle_id: format!("{}-{token}", pairing.hash),
            players: pairing.players.clone(),
            state: "active".into(),
            created_at: unix_ms(),
            ended_at: None,
            created_by: app.instance_id.to_string(),
        };
        let keys = keys_of(&battle.battle_id)?;
        let record =
            serde_json::to_string(&battle).map_err(|e| BattleError::BadRequest(e.to_string()))?;
        let outcome = battle_create(
            &mut conn,
            &keys,
            token,
            &battle.battle_id,
            &record,
            BATTLE_TTL_S,
        )
        .await;
        lease.release().await;
        let outcome = outcome.inspect_err(|e| app.metrics.redis_failure("battle_create", e))?;
        match outcome {
            BattleCreate::Created(_) => {
                b.metrics.created.increment(1);
                let expires = unix_ms() + BATTLE_TTL_S * 1000;
                // The index only feeds a gauge; a failure here loses no battle.
                let _: Result<(), _> = conn.zadd(ACTIVE_INDEX, &battle.battle_id, expires).await;
                tracing::info!(battle = %battle.battle_id, players = ?battle.players, "battle created");
                return Ok(Started {
                    battle,
                    created: true,
                });
            }
            BattleCreate::Exists(id) => {
                b.metrics.start_conflicts.increment(1);
                return Ok(Started {
                    battle: get(b, &id).await?,
                    created: false,
                });
            }
            BattleCreate::Stale(newest) => {
                // Our lease lapsed and a newer holder exists: it decides; look again.
                b.metrics.start_conflicts.increment(1);
                tracing::warn!(token, newest, "battle commit fenced off: lease was lost");
            }
        }
    }
    Err(BattleError::Contended)
}

/// The battle `id` (active or ended).
pub async fn get(b: &Battles, id: &str) -> Result<Battle, BattleError> {
    let keys = keys_of(id)?;
    let raw: Option<String> = b.ctx.app.redis.clone().get(&keys.record).await?;
    let raw = raw.ok_or_else(|| BattleError::NotFound(id.to_string()))?;
    parse_record(b, &raw)
}

/// A stored record that does not parse is corrupt: an error (counted, logged), never
/// "not found".
fn parse_record(b: &Battles, raw: &str) -> Result<Battle, BattleError> {
    serde_json::from_str(raw).map_err(|e| {
        b.ctx.app.metrics.corrupt("battle_record", &e);
        BattleError::Corrupt
    })
}

/// End an active battle; its pairing can then start a new one.
pub async fn end(b: &Battles, id: &str) -> Result<Battle, BattleError> {
    let keys = keys_of(id)?;
    let mut conn = b.ctx.app.redis.clone();
    let updated = battle_end(&mut conn, &keys, id, unix_ms())
        .await?
        .ok_or_else(|| BattleError::NotFound(id.to_string()))?;
    let _: Result<(), _> = conn.zrem(ACTIVE_INDEX, id).await;
    parse_record(b, &updated)
}

/// Active battles across all instances (expired entries pruned).
pub async fn active_count(conn: &ConnectionManager) -> Result<u64, RedisError> {
    let mut conn = conn.clone();
    let now = unix_ms();
    let (n,): (u64,) = redis::pipe()
        .zrembyscore(ACTIVE_INDEX, "-inf", now)
        .ignore()
        .zcard(ACTIVE_INDEX)
        .query_async(&mut conn)
        .await?;
    Ok(n)
}

/// The ids of up to `limit` active battles, soonest to expire first (expired entries
/// pruned), for the admin view.
pub async fn active_ids(conn: &ConnectionManager, limit: usize) -> Result<Vec<String>, RedisError> {
    let mut conn = conn.clone();
    let now = unix_ms();
    let (ids,): (Vec<String>,) = redis::pipe()
        .zrembyscore(ACTIVE_INDEX, "-inf", now)
        .ignore()
        .zrange(ACTIVE_INDEX, 0, limit.saturating_sub(1) as isize)
        .query_async(&mut conn)
        .await?;
    Ok(ids)
}

static BATTLE_CREATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/battle_create.lua")));
static BATTLE_END: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/battle_end.lua")));

/// What `battle_create.lua` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BattleCreate {
    Created(String),
    /// The pairing already has this active battle.
    Exists(String),
    /// The fencing token was superseded: this holder lost its lease; nothing was written.
    Stale(u64),
}

/// Keys of one battle (all in the pairing's lock tag, with its fence).
pub struct BattleKeys {
    pub fence: String,
    pub active: String,
    pub record: String,
}

/// Create the battle of a pairing if its fencing token is current and none is active.
pub async fn battle_create(
    conn: &mut ConnectionManager,
    keys: &BattleKeys,
    token: u64,
    battle_id: &str,
    record_json: &str,
    ttl_s: u64,
) -> Result<BattleCreate, RedisError> {
    let (kind, value): (String, String) = BATTLE_CREATE
        .key(&keys.fence)
        .key(&keys.active)
        .key(&keys.record)
        .arg(token)
        .arg(battle_id)
        .arg(record_json)
        .arg(ttl_s)
        .invoke_async(conn)
        .await?;
    let unexpected = || unexpected_reply("battle_create.lua", (&kind, &value));
    Ok(match kind.as_str() {
        "created" => BattleCreate::Created(value),
        "exists" => BattleCreate::Exists(value),
        "stale" => BattleCreate::Stale(value.parse().map_err(|_| unexpected())?),
        _ => return Err(unexpected()),
    })
}

/// End a battle; `Some(updated record JSON)` if it was active.
pub async fn battle_end(
    conn: &mut ConnectionManager,
    keys: &BattleKeys,
    battle_id: &str,
    ended_at_ms: u64,
) -> Result<Option<String>, RedisError> {
    BATTLE_END
        .key(&keys.active)
        .key(&keys.record)
        .arg(battle_id)
        .arg(ended_at_ms)
        .invoke_async(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
