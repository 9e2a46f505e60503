//! The Lua scripts, loaded from `lua/*.lua`, with one typed wrapper each.
//!
//! `redis::Script` sends EVALSHA and reloads the script on NOSCRIPT (e.g. after a Redis
//! restart), so callers never see either.

use std::sync::LazyLock;

use redis::aio::ConnectionManager;
use redis::{RedisError, Script};

use super::keys;
use crate::lock::FencedOutcome;

static TICK_ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/tick_acquire.lua")));

/// Try to win tick interval `n` with `token` as the lease value. `true`: this caller won.
pub async fn tick_acquire(
    conn: &mut ConnectionManager,
    n: u64,
    token: &str,
    ttl_ms: u64,
) -> Result<bool, RedisError> {
    interval_acquire(
        conn,
        &keys::tick_lock(n),
        keys::tick_last(),
        n,
        token,
        ttl_ms,
    )
    .await
}

static LOCK_RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/lock_release.lua")));
static LOCK_EXTEND: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/lock_extend.lua")));
static FENCED_SET: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/fenced_set.lua")));
static FENCED_INCRBY: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/fenced_incrby.lua")));

/// Delete the lease `key` on one master if it still holds `token`. `true`: it did.
pub async fn lock_release(
    conn: &mut ConnectionManager,
    key: &str,
    token: &str,
) -> Result<bool, RedisError> {
    let deleted: i64 = LOCK_RELEASE.key(key).arg(token).invoke_async(conn).await?;
    Ok(deleted == 1)
}

/// Reset the lease `key` on one master to expire `ttl_ms` from now, if it still holds
/// `token`. `true`: it did.
pub async fn lock_extend(
    conn: &mut ConnectionManager,
    key: &str,
    token: &str,
    ttl_ms: u64,
) -> Result<bool, RedisError> {
    let extended: i64 = LOCK_EXTEND
        .key(key)
        .arg(token)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    Ok(extended == 1)
}

/// `SET data_key value` if fencing `token` is not older than the newest one in `fence_key`.
pub async fn fenced_set(
    conn: &mut ConnectionManager,
    fence_key: &str,
    data_key: &str,
    token: u64,
    value: &str,
) -> Result<FencedOutcome<()>, RedisError> {
    let (committed, n): (i64, i64) = FENCED_SET
        .key(fence_key)
        .key(data_key)
        .arg(token)
        .arg(value)
        .invoke_async(conn)
        .await?;
    Ok(FencedOutcome::from_reply(committed, n, |_| ()))
}

/// `INCRBY data_key by` if fencing `token` is not older than the newest one in `fence_key`;
/// commits with the counter's new value.
pub async fn fenced_incr_by(
    conn: &mut ConnectionManager,
    fence_key: &str,
    data_key: &str,
    token: u64,
    by: i64,
) -> Result<FencedOutcome<i64>, RedisError> {
    let (committed, n): (i64, i64) = FENCED_INCRBY
        .key(fence_key)
        .key(data_key)
        .arg(token)
        .arg(by)
        .invoke_async(conn)
        .await?;
    Ok(FencedOutcome::from_reply(committed, n, |v| v))
}

/// Win period `n` of a leader-elected interval race (the tick script on other keys:
/// `lock_key` names `n`, `last_key` is the monotonic fence). `true`: this caller won.
pub async fn interval_acquire(
    conn: &mut ConnectionManager,
    lock_key: &str,
    last_key: &str,
    n: u64,
    token: &str,
    ttl_ms: u64,
) -> Result<bool, RedisError> {
    let won: i64 = TICK_ACQUIRE
        .key(lock_key)
        .key(last_key)
        .arg(n)
        .arg(token)
        .arg(ttl_ms)
        .invoke_async(conn)
        .await?;
    Ok(won == 1)
}

static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/claim.lua")));
static LEADERBOARD_APPLY: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/leaderboard_apply.lua")));
static RATE_LIMIT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/rate_limit.lua")));

/// The keys `claim.lua` touches: all in the map's partition tag `{p<k>}`.
#[derive(Debug, Clone)]
pub struct ClaimKeys {
    pub map: String,
    pub owners: String,
    pub stream: String,
}

impl ClaimKeys {
    pub fn new(map_id: u64, partitions: u32) -> Self {
        let p = keys::partition_of(map_id, partitions);
        Self {
            map: keys::hunt_map(p, map_id),
            owners: keys::hunt_owners(p, map_id),
            stream: keys::hunt_claims(p),
        }
    }
}

/// The arguments of `claim.lua`.
#[derive(Debug, Clone)]
pub struct ClaimArgs<'a> {
    pub map_id: u64,
    pub tile: i64,
    pub player: &'a str,
    pub now_ms: u64,
    /// Approximate cap of the partition stream (`XADD MAXLEN ~`).
    pub stream_maxlen: u64,
    /// TTL of the owners hash, in seconds.
    pub ttl_s: u64,
}

fn bad_reply(what: &'static str, detail: String) -> RedisError {
    RedisError::from((redis::ErrorKind::UnexpectedReturnType, what, detail))
}

/// Validate + compare-and-set + XADD in one atomic step (`lua/claim.lua`).
///
/// Guarantee: when this returns `Claimed`, the claim is in the partition stream and the
/// tile's owner is set; any other outcome wrote nothing.
pub async fn claim(
    conn: &mut ConnectionManager,
    keys: &ClaimKeys,
    args: &ClaimArgs<'_>,
) -> Result<crate::hunt::claim::ClaimOutcome, RedisError> {
    use crate::hunt::claim::ClaimOutcome;
    use redis::{Value, from_redis_value_ref as val};
    let reply: Vec<Value> = CLAIM
        .key(&keys.map)
        .key(&keys.owners)
        .key(&keys.stream)
        .arg(args.map_id)
        .arg(args.tile)
        .arg(args.player)
        .arg(args.now_ms)
        .arg(args.stream_maxlen)
        .arg(args.ttl_s)
        .invoke_async(conn)
        .await?;
    let bad = || bad_reply("unexpected claim.lua reply", format!("{reply:?}"));
    let kind: String = reply.first().and_then(|v| val(v).ok()).ok_or_else(bad)?;
    Ok(match kind.as_str() {
        "claimed" => ClaimOutcome::Claimed {
            value: reply.get(1).and_then(|v| val(v).ok()).ok_or_else(bad)?,
            entry_id: reply.get(2).and_then(|v| val(v).ok()).ok_or_else(bad)?,
        },
        "taken" => ClaimOutcome::Taken {
            owner: reply.get(1).and_then(|v| val(v).ok()).ok_or_else(bad)?,
        },
        "expired" => ClaimOutcome::Expired,
        "invalid" => ClaimOutcome::InvalidTile,
        "no_map" => ClaimOutcome::NoMap,
        _ => return Err(bad()),
    })
}

/// Apply one claim to the global and per-map leaderboards unless its marker says it
/// already was (`lua/leaderboard_apply.lua`). `true`: applied now; `false`: a no-op.
pub async fn leaderboard_apply(
    conn: &mut ConnectionManager,
    map_id: u64,
    claim_id: &str,
    player: &str,
    value: i64,
    ttl_s: u64,
) -> Result<bool, RedisError> {
    let applied: i64 = LEADERBOARD_APPLY
        .key(keys::lb_global())
        .key(keys::lb_map(map_id))
        .key(keys::lb_applied(claim_id))
        .arg(player)
        .arg(value)
        .arg(ttl_s)
        .invoke_async(conn)
        .await?;
    Ok(applied == 1)
}

/// Count one action against `key`'s GCRA limit (`lua/rate_limit.lua`); nothing is
/// written when it is over the limit.
pub async fn rate_limit(
    conn: &mut ConnectionManager,
    key: &str,
    rate_per_s: u32,
    burst: u32,
) -> Result<crate::limiter::LimitDecision, RedisError> {
    let (allowed, retry_after_ms): (i64, i64) = RATE_LIMIT
        .key(key)
        .arg(rate_per_s)
        .arg(burst)
        .invoke_async(conn)
        .await?;
    Ok(if allowed == 1 {
        crate::limiter::LimitDecision::Allowed
    } else {
        crate::limiter::LimitDecision::Limited {
            retry_after_ms: retry_after_ms.max(0) as u64,
        }
    })
}

static DEAD_LETTER: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/dead_letter.lua")));

/// Move pending entry `id` of partition `p`'s claim stream to its dead-letter stream and
/// ack it, if it has been idle `min_idle_ms` (`lua/dead_letter.lua`). Of several
/// consumers trying at once exactly one gets `true`.
#[allow(clippy::too_many_arguments)]
pub async fn dead_letter(
    conn: &mut ConnectionManager,
    p: u32,
    group: &str,
    consumer: &str,
    min_idle_ms: u64,
    id: &str,
    deliveries: usize,
    maxlen: u64,
) -> Result<bool, RedisError> {
    let moved: i64 = DEAD_LETTER
        .key(keys::hunt_claims(p))
        .key(keys::hunt_dead_letters(p))
        .arg(group)
        .arg(consumer)
        .arg(min_idle_ms)
        .arg(id)
        .arg(deliveries)
        .arg(maxlen)
        .invoke_async(conn)
        .await?;
    Ok(moved == 1)
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
    Ok(match kind.as_str() {
        "created" => BattleCreate::Created(value),
        "exists" => BattleCreate::Exists(value),
        _ => BattleCreate::Stale(value.parse().unwrap_or(u64::MAX)),
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
