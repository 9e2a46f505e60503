//! The treasure hunt (`src/modes/hunt/`) for tests: typed claims, the test settings, and
//! helpers that seed maps and read the hunt's Redis state.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use arena::base::clock::unix_ms;
use arena::edge::config::Config;
use arena::modes::hunt::keys;
use arena::modes::hunt::map::HuntMap;
use arena::modes::hunt::projection::{self, ClaimEntry};
use arena::modes::hunt::scripts::{self, ClaimArgs, ClaimKeys, ClaimOutcome};
use arena::redis::Conn;
use arena::tools::client::{Client, ClientError};
use redis::streams::StreamRangeReply;
use redis::{AsyncCommands, RedisError};
use serde_json::{Value, json};

use super::ack;

/// How long a claim waits for its ack.
const WAIT: Duration = Duration::from_secs(10);

/// The number of partitions `tweak` sets; the helpers below assume it.
pub const PARTITIONS: u32 = 4;

/// Hunt settings for tests: few partitions, fast reclaim, and no generated maps in the
/// way (the tests store their own maps) unless a test sets `map_ms` itself.
pub fn tweak(c: &mut Config) {
    c.modes.hunt.hunt_partitions = PARTITIONS;
    c.modes.hunt.map_ms = 600_000;
    c.modes.hunt.hunt_reclaim_idle_ms = 300;
}

/// The hunt's `claim` event as a method on a client.
pub trait HuntClient {
    /// `claim {mapId, tile}`: the ack (`{ok: true, value}` or `{ok: false, error}`);
    /// panics when no ack comes within 10 s.
    async fn claim(&self, map: u64, tile: i64) -> Value;
    /// `claim {mapId, tile}`, waiting at most `within`: the ack, or the client's error
    /// (for tests where a missing ack is an expected outcome, e.g. Redis being killed).
    async fn try_claim(&self, map: u64, tile: i64, within: Duration) -> Result<Value, ClientError>;
}

impl HuntClient for Client {
    async fn claim(&self, map: u64, tile: i64) -> Value {
        ack(self, "claim", &json!({"mapId": map, "tile": tile}), WAIT).await
    }

    async fn try_claim(&self, map: u64, tile: i64, within: Duration) -> Result<Value, ClientError> {
        self.emit_with_ack("claim", &json!({"mapId": map, "tile": tile}), within)
            .await
    }
}

/// `player` claims `tile` of `map` straight into Redis (the claim script, no instance),
/// with a limit no test reaches.
pub async fn claim_direct(c: &mut Conn, map: u64, tile: i64, player: &str) -> ClaimOutcome {
    try_claim_direct(c, map, tile, player).await.unwrap()
}

/// [`claim_direct`], with the script's error for the caller to check.
pub async fn try_claim_direct(
    c: &mut Conn,
    map: u64,
    tile: i64,
    player: &str,
) -> Result<ClaimOutcome, RedisError> {
    let args = ClaimArgs {
        map_id: map,
        tile,
        player,
        now_ms: unix_ms(),
        stream_maxlen: 100_000,
        ttl_s: 3600,
        rate_per_s: 100_000,
    };
    scripts::claim(c, &ClaimKeys::new(map, PARTITIONS, player), &args).await
}

/// The next `n` `tile_claimed` events `c` gets, in the order they came, each within `wait`;
/// on a timeout, the ones seen so far and the error (for the caller's message).
pub async fn next_tile_claimed(
    c: &mut Client,
    n: usize,
    wait: Duration,
) -> Result<Vec<Value>, (Vec<Value>, ClientError)> {
    let mut seen = Vec::with_capacity(n);
    while seen.len() < n {
        match c.next_event("tile_claimed", wait).await {
            Ok(d) => seen.push(d),
            Err(e) => return Err((seen, e)),
        }
    }
    Ok(seen)
}

/// Store map `id` with `treasures` (tile -> value), claimable for `valid_ms` more.
pub async fn store_map(c: &mut Conn, id: u64, treasures: &[(u32, i64)], valid_ms: i64) {
    let map = HuntMap {
        map_id: id,
        width: 16,
        height: 16,
        treasures: treasures.iter().map(|(t, v)| (t.to_string(), *v)).collect(),
        expires_at: (unix_ms() as i64 + valid_ms) as u64,
    };
    arena::modes::hunt::map::store(c, &map, PARTITIONS, 3600)
        .await
        .unwrap();
}

/// Every claim entry in every partition stream.
pub async fn log(c: &mut Conn) -> Vec<ClaimEntry> {
    let mut all = Vec::new();
    for p in 0..PARTITIONS {
        let r: StreamRangeReply = c.xrange_all(keys::hunt_claims(p)).await.unwrap();
        all.extend(
            r.ids
                .iter()
                .map(|e| ClaimEntry::parse(e).expect("well-formed entry")),
        );
    }
    all
}

/// The owners of map `map_id`'s claimed tiles, tile -> player.
pub async fn owners(c: &mut Conn, map_id: u64) -> HashMap<String, String> {
    let p = keys::partition_of(map_id, PARTITIONS);
    c.hgetall(keys::hunt_owners(p, map_id)).await.unwrap()
}

/// The live global board as player -> score.
pub async fn board(c: &mut Conn) -> BTreeMap<String, i64> {
    let rows: Vec<(String, f64)> = c.zrange_withscores(keys::lb_global(), 0, -1).await.unwrap();
    rows.into_iter().map(|(p, s)| (p, s as i64)).collect()
}

/// Claim entries delivered to the projection's group and not yet acknowledged, in all
/// partitions.
pub async fn pending_total(c: &mut Conn) -> usize {
    let mut n = 0;
    for p in 0..PARTITIONS {
        let r: redis::streams::StreamPendingReply = c
            .xpending(keys::hunt_claims(p), projection::GROUP)
            .await
            .unwrap();
        n += r.count();
    }
    n
}
