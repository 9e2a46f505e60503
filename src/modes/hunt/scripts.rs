//! The hunt's Lua scripts (`lua/`), one typed wrapper each. Every wrapper parses the
//! reply into a type; a reply it does not know is an error, never a default.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::{Conn, script, wait};
use redis::{Cmd, RedisError, Script, Value};

use super::keys;
use crate::redis::script::unexpected_reply;
use crate::services::limiter;

/// What the claim script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This claim won the tile; it is in the stream at `entry_id`.
    Claimed {
        value: i64,
        entry_id: String,
    },
    /// Someone else (`owner`) won it first.
    Taken {
        owner: String,
    },
    Expired,
    InvalidTile,
    NoMap,
    /// Over the player's claim rate in this partition; nothing was written.
    RateLimited {
        retry_after_ms: u64,
    },
}

/// `claim.lua` behind the shared GCRA function (the limit is checked in the same step).
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}{}",
        limiter::GCRA_LUA,
        include_str!("lua/claim.lua")
    ))
});
static LEADERBOARD_APPLY: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/leaderboard_apply.lua")));

/// The keys `claim.lua` touches: all in the map's partition tag `{p<k>}`.
#[derive(Debug, Clone)]
pub struct ClaimKeys {
    pub map: String,
    pub owners: String,
    pub stream: String,
    /// The player's claim limit in this partition (`keys::claim_limit`).
    pub limit: String,
    /// The partition's `tile_claimed` shard channel (`keys::hunt_claimed`): not a key,
    /// an argument, but in the same slot.
    pub channel: String,
}

impl ClaimKeys {
    pub fn new(map_id: u64, partitions: u32, player: &str) -> Self {
        let p = keys::partition_of(map_id, partitions);
        Self {
            map: keys::hunt_map(p, map_id),
            owners: keys::hunt_owners(p, map_id),
            stream: keys::hunt_claims(p),
            limit: keys::claim_limit(p, player),
            channel: keys::hunt_claimed(p),
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
    /// The player's claims per second in this partition, and the burst.
    pub rate_per_s: u32,
}

/// Rate limit + validate + compare-and-set + XADD + SPUBLISH of `tile_claimed` in one
/// atomic step (`lua/claim.lua`): one round trip.
///
/// Guarantee: when this returns `Claimed`, the claim is in the partition stream, the
/// tile's owner is set and its `tile_claimed` was published; any other outcome wrote nothing but the limiter's budget (and
/// `RateLimited` not even that).
pub async fn claim(
    conn: &mut Conn,
    keys: &ClaimKeys,
    args: &ClaimArgs<'_>,
) -> Result<ClaimOutcome, RedisError> {
    let reply = script::eval(conn, &CLAIM, &claim_cmd(keys, args)).await?;
    claim_outcome(reply)
}

/// [`claim`], then `WAIT 1 within` on the same connection and node
/// (`CLAIM_DURABILITY=replica`): the outcome and how many replicas confirmed the claim's
/// writes (an error when `WAIT` itself failed: the claim happened, unconfirmed). Give
/// it a connection of its own: `WAIT` holds its connection until a replica answers.
pub async fn claim_and_wait(
    conn: &mut Conn,
    keys: &ClaimKeys,
    args: &ClaimArgs<'_>,
    within: Duration,
) -> Result<(ClaimOutcome, Result<u64, RedisError>), RedisError> {
    let waited = wait::eval_and_wait(conn, &CLAIM, &claim_cmd(keys, args), 1, within).await?;
    Ok((claim_outcome(waited.reply)?, waited.replicas))
}

/// The `EVALSHA` of `claim.lua` with its keys and arguments.
fn claim_cmd(keys: &ClaimKeys, args: &ClaimArgs<'_>) -> Cmd {
    let mut cmd = script::evalsha(
        &CLAIM,
        &[&keys.map, &keys.owners, &keys.stream, &keys.limit],
    );
    cmd.arg(args.map_id)
        .arg(args.tile)
        .arg(args.player)
        .arg(args.now_ms)
        .arg(args.stream_maxlen)
        .arg(args.ttl_s)
        .arg(args.rate_per_s.max(1))
        .arg(&keys.channel);
    cmd
}

/// `claim.lua`'s reply as a [`ClaimOutcome`]; anything else is an error.
fn claim_outcome(reply: Value) -> Result<ClaimOutcome, RedisError> {
    use redis::from_redis_value_ref as val;
    let bad = || unexpected_reply("claim.lua", &reply);
    let Value::Array(items) = &reply else {
        return Err(bad());
    };
    let kind: String = items.first().and_then(|v| val(v).ok()).ok_or_else(bad)?;
    Ok(match kind.as_str() {
        "claimed" => ClaimOutcome::Claimed {
            value: items.get(1).and_then(|v| val(v).ok()).ok_or_else(bad)?,
            entry_id: items.get(2).and_then(|v| val(v).ok()).ok_or_else(bad)?,
        },
        "taken" => ClaimOutcome::Taken {
            owner: items.get(1).and_then(|v| val(v).ok()).ok_or_else(bad)?,
        },
        "expired" => ClaimOutcome::Expired,
        "invalid" => ClaimOutcome::InvalidTile,
        "no_map" => ClaimOutcome::NoMap,
        "rate_limited" => ClaimOutcome::RateLimited {
            retry_after_ms: items.get(1).and_then(|v| val(v).ok()).ok_or_else(bad)?,
        },
        _ => return Err(bad()),
    })
}

/// One claim as the leaderboard apply needs it.
#[derive(Debug, Clone, Copy)]
pub struct BoardDelta<'a> {
    pub map_id: u64,
    /// The claimed tile: its bit in the map's apply-once bitmap (`keys::lb_applied`).
    pub tile: u32,
    pub player: &'a str,
    pub value: i64,
}

/// Apply a batch of claims to the global and per-map leaderboards in one call, each
/// unless its bit in the map's apply-once bitmap says it already was
/// (`lua/leaderboard_apply.lua`). One flag per
/// claim, in order: `true` applied now, `false` a no-op. An empty batch costs nothing.
pub async fn leaderboard_apply(
    conn: &mut Conn,
    batch: &[BoardDelta<'_>],
    ttl_s: u64,
) -> Result<Vec<bool>, RedisError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let mut inv = LEADERBOARD_APPLY.key(keys::lb_global());
    inv.arg(ttl_s);
    for d in batch {
        inv.key(keys::lb_map(d.map_id))
            .key(keys::lb_applied(d.map_id))
            .arg(d.player)
            .arg(d.value)
            .arg(d.tile);
    }
    let reply: Vec<i64> = inv.invoke_async(conn).await?;
    if reply.len() != batch.len() {
        return Err(unexpected_reply("leaderboard_apply.lua", &reply));
    }
    reply
        .iter()
        .map(|f| match f {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(unexpected_reply("leaderboard_apply.lua", &reply)),
        })
        .collect()
}
