//! Leader-elected map generator: one immutable map per period of `map_ms`, across all
//! instances, never two.
//!
//! Period `n = floor(now / map_ms)` is raced like a tick (`lua/tick_acquire.lua` on the
//! `{mapgen}` keys: a lease naming `n` plus a monotonic fence), so a period is won at most
//! once whatever the clock skew. The winner writes map `n` (id = period number) to its
//! partition `{p<n % partitions>}` in one MULTI, then broadcasts `map_created`.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use redis::RedisError;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::realtime::Io;
use crate::redis::{keys, scripts};
use crate::state::AppState;
use crate::tick::unix_ms;

pub const WIDTH: u32 = 16;
pub const HEIGHT: u32 = 16;
pub const TREASURES: usize = 20;
/// A map can be claimed for this many periods after it is created.
pub const LIFETIME_PERIODS: u64 = 5;

/// An immutable map; also the `map_created` payload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HuntMap {
    pub map_id: u64,
    pub width: u32,
    pub height: u32,
    /// Tile (`y * width + x`, as a string) -> value 1..=100. Other tiles are worth 0.
    pub treasures: BTreeMap<String, i64>,
    /// Milliseconds since the Unix epoch; claims at or after it get `map_expired`.
    pub expires_at: u64,
}

impl HuntMap {
    /// A `WIDTH` x `HEIGHT` map with `TREASURES` treasures on distinct random tiles.
    pub fn random(map_id: u64, expires_at: u64, rng: &mut impl Rng) -> Self {
        let size = (WIDTH * HEIGHT) as usize;
        let tiles = rand::seq::index::sample(rng, size, TREASURES.min(size));
        let treasures = tiles
            .into_iter()
            .map(|t| (t.to_string(), rng.random_range(1..=100)))
            .collect();
        Self {
            map_id,
            width: WIDTH,
            height: HEIGHT,
            treasures,
            expires_at,
        }
    }

    /// Sum of every treasure's value.
    pub fn total_value(&self) -> i64 {
        self.treasures.values().sum()
    }
}

/// Write `map` to its partition with a TTL, in one MULTI (all or nothing).
pub async fn store(
    conn: &mut ConnectionManager,
    map: &HuntMap,
    partitions: u32,
    ttl_s: u64,
) -> Result<(), RedisError> {
    let key = keys::hunt_map(keys::partition_of(map.map_id, partitions), map.map_id);
    let treasures = serde_json::to_string(&map.treasures).unwrap_or_else(|_| "{}".into());
    let mut fields: Vec<(String, String)> = vec![
        ("width".into(), map.width.to_string()),
        ("height".into(), map.height.to_string()),
        ("expiresAt".into(), map.expires_at.to_string()),
        ("treasures".into(), treasures),
    ];
    for (tile, value) in &map.treasures {
        fields.push((format!("v:{tile}"), value.to_string()));
    }
    redis::pipe()
        .atomic()
        .hset_multiple(&key, &fields)
        .ignore()
        .expire(&key, ttl_s as i64)
        .ignore()
        .query_async::<()>(conn)
        .await
}

/// Map `map_id` and its owners (tile -> player), or `None` if it does not exist (any more).
pub async fn load(
    conn: &mut ConnectionManager,
    map_id: u64,
    partitions: u32,
) -> Result<Option<(HuntMap, BTreeMap<String, String>)>, RedisError> {
    let p = keys::partition_of(map_id, partitions);
    let (fields, owners): (Vec<Option<String>>, BTreeMap<String, String>) = redis::pipe()
        .cmd("HMGET")
        .arg(keys::hunt_map(p, map_id))
        .arg(&["width", "height", "expiresAt", "treasures"])
        .hgetall(keys::hunt_owners(p, map_id))
        .query_async(conn)
        .await?;
    let [Some(w), Some(h), Some(exp), Some(t)] =
        <[Option<String>; 4]>::try_from(fields).unwrap_or([None, None, None, None])
    else {
        return Ok(None);
    };
    let map = HuntMap {
        map_id,
        width: w.parse().unwrap_or(0),
        height: h.parse().unwrap_or(0),
        treasures: serde_json::from_str(&t).unwrap_or_default(),
        expires_at: exp.parse().unwrap_or(0),
    };
    Ok(Some((map, owners)))
}

/// The map generator loop of one instance.
pub struct MapGenerator {
    app: AppState,
    io: Io,
}

impl MapGenerator {
    pub fn new(app: AppState, io: Io) -> Self {
        Self { app, io }
    }

    /// Race for every period until `shutdown`; the winner of period `n` creates map `n`.
    pub async fn run(self, shutdown: CancellationToken) {
        let period = self.app.config.map_ms;
        let mut last = unix_ms() / period;
        loop {
            let next_at = (last + 1) * period;
            let wait = Duration::from_millis(next_at.saturating_sub(unix_ms()));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let n = (unix_ms() / period).max(last + 1);
            last = n;
            self.race(n).await;
        }
    }

    async fn race(&self, n: u64) {
        let cfg = &self.app.config;
        let token = format!("{}:{:032x}", self.app.instance_id, rand::random::<u128>());
        let mut conn = self.app.redis.clone();
        // The lease only has to outlive the race; the fence makes `n` single-use anyway.
        let ttl = (cfg.map_ms / 2).max(10);
        let won = scripts::interval_acquire(
            &mut conn,
            &keys::mapgen_lock(n),
            keys::mapgen_last(),
            n,
            &token,
            ttl,
        )
        .await;
        match won {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(period = n, error = %e, "map race failed: redis unavailable");
                return;
            }
        }
        let expires_at = unix_ms() + LIFETIME_PERIODS * cfg.map_ms;
        let map = HuntMap::random(n, expires_at, &mut rand::rng());
        if let Err(e) = store(&mut conn, &map, cfg.hunt_partitions, cfg.hunt_key_ttl_s).await {
            // Period n is spent (the fence moved): no map for it rather than two.
            tracing::warn!(map = n, error = %e, "map not stored");
            return;
        }
        self.app.metrics.maps_generated.increment(1);
        if let Err(e) = self.io.to(super::ROOM).emit("map_created", &map).await {
            tracing::warn!(map = n, error = %e, "map_created broadcast failed");
        }
        tracing::debug!(map = n, "map created");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_maps_have_distinct_treasures_on_the_board() {
        let m = HuntMap::random(7, 1, &mut rand::rng());
        assert_eq!(m.treasures.len(), TREASURES);
        for (t, v) in &m.treasures {
            assert!(t.parse::<u32>().unwrap() < WIDTH * HEIGHT);
            assert!((1..=100).contains(v));
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["mapId"], 7);
        assert!(json["treasures"].is_object());
    }
}
