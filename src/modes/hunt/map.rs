//! Leader-elected map generator: one immutable map per period of `map_ms`, across all
//! instances, never two.
//!
//! Period `n = floor(now / map_ms)` is raced like a tick (`services::period` on the
//! `{mapgen}` keys: a lease naming `n` plus a monotonic fence), so a period is won at most
//! once whatever the clock skew. The winner writes map `n` (id = period number) to its
//! partition `{p<n % partitions>}` in one MULTI, then broadcasts `map_created`.

use std::collections::BTreeMap;

use rand::Rng;
use redis::RedisError;
use crate::redis::Conn;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::keys;
use super::payload::ROOM;
use super::settings::{LIFETIME_PERIODS, MAP_HEIGHT, MAP_TREASURES, MAP_WIDTH, Settings};
use super::state::Hunt;
use crate::base::clock::unix_ms;
use crate::services::period::{self, Race};

/// The shape of new maps (`HUNT_MAP_WIDTH`, `HUNT_MAP_HEIGHT`, `HUNT_MAP_TREASURES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapShape {
    pub width: u32,
    pub height: u32,
    pub treasures: u32,
}

impl MapShape {
    pub fn of(s: &Settings) -> Self {
        Self {
            width: s.hunt_map_width,
            height: s.hunt_map_height,
            treasures: s.hunt_map_treasures,
        }
    }
}

impl Default for MapShape {
    fn default() -> Self {
        Self {
            width: MAP_WIDTH,
            height: MAP_HEIGHT,
            treasures: MAP_TREASURES,
        }
    }
}

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
    /// A map of `shape`: its treasures on distinct random tiles.
    pub fn random(map_id: u64, expires_at: u64, shape: MapShape, rng: &mut impl Rng) -> Self {
        // Settings bound a side to 4096, so the tile count fits a usize on any target.
        let size = shape.width as usize * shape.height as usize;
        let tiles = rand::seq::index::sample(rng, size, (shape.treasures as usize).min(size));
        let treasures = tiles
            .into_iter()
            .map(|t| (t.to_string(), rng.random_range(1..=100)))
            .collect();
        Self {
            map_id,
            width: shape.width,
            height: shape.height,
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
    conn: &mut Conn,
    map: &HuntMap,
    partitions: u32,
    ttl_s: u64,
) -> Result<(), RedisError> {
    let key = keys::hunt_map(keys::partition_of(map.map_id, partitions), map.map_id);
    let treasures = serde_json::to_string(&map.treasures)
        .map_err(|e| RedisError::from((redis::ErrorKind::Client, "map treasures", e.to_string())))?;
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

/// Why a stored map could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
    /// The map's hash exists but a field is missing or does not parse.
    #[error("map {map_id} is corrupt: {reason}")]
    Corrupt { map_id: u64, reason: String },
}

/// Map `map_id` and its owners (tile -> player), or `None` if it does not exist (any more).
/// A hash that exists but does not parse is [`LoadError::Corrupt`], never an empty map.
pub async fn load(
    conn: &mut Conn,
    map_id: u64,
    partitions: u32,
) -> Result<Option<(HuntMap, BTreeMap<String, String>)>, LoadError> {
    let p = keys::partition_of(map_id, partitions);
    let (fields, owners): (Vec<Option<String>>, BTreeMap<String, String>) = redis::pipe()
        .cmd("HMGET")
        .arg(keys::hunt_map(p, map_id))
        .arg(&["width", "height", "expiresAt", "treasures"])
        .hgetall(keys::hunt_owners(p, map_id))
        .query_async(conn)
        .await?;
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let corrupt = |reason: &str| LoadError::Corrupt {
        map_id,
        reason: reason.to_string(),
    };
    let field = |i: usize, name: &str| {
        fields
            .get(i)
            .cloned()
            .flatten()
            .ok_or_else(|| corrupt(&format!("{name} is missing")))
    };
    let map = HuntMap {
        map_id,
        width: field(0, "width")?
            .parse()
            .map_err(|_| corrupt("width is not a number"))?,
        height: field(1, "height")?
            .parse()
            .map_err(|_| corrupt("height is not a number"))?,
        expires_at: field(2, "expiresAt")?
            .parse()
            .map_err(|_| corrupt("expiresAt is not a number"))?,
        treasures: serde_json::from_str(&field(3, "treasures")?)
            .map_err(|_| corrupt("treasures is not a JSON object of numbers"))?,
    };
    Ok(Some((map, owners)))
}

/// Race for every period until `shutdown`; the winner of period `n` creates map `n`.
pub async fn run(hunt: Hunt, shutdown: CancellationToken) {
    let cfg = &hunt.settings;
    let race = Race {
        name: keys::MAPGEN_RACE,
        period_ms: cfg.map_ms,
        // The lease only has to outlive the race; the fence makes `n` single-use anyway.
        lease_ms: (cfg.map_ms / 2).max(10),
    };
    let hunt = &hunt;
    period::run(race, &hunt.ctx.app, shutdown, |n| create(hunt, n), |_| {}).await
}

/// Create, store and announce map `n` (this instance won period `n`).
async fn create(hunt: &Hunt, n: u64) {
    let cfg = &hunt.settings;
    let mut conn = hunt.ctx.app.redis.clone();
    let expires_at = unix_ms() + LIFETIME_PERIODS * cfg.map_ms;
    let map = HuntMap::random(n, expires_at, MapShape::of(cfg), &mut rand::rng());
    if let Err(e) = store(&mut conn, &map, cfg.hunt_partitions, cfg.hunt_key_ttl_s).await {
        // Period n is spent (the fence moved): no map for it rather than two.
        tracing::warn!(map = n, error = %e, "map not stored");
        return;
    }
    hunt.metrics.maps_generated.increment(1);
    if let Err(e) = hunt.ctx.io.to(ROOM).emit("map_created", &map).await {
        tracing::warn!(map = n, error = %e, "map_created broadcast failed");
    }
    tracing::debug!(map = n, "map created");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_maps_have_distinct_treasures_on_the_board() {
        let m = HuntMap::random(7, 1, MapShape::default(), &mut rand::rng());
        assert_eq!((m.width, m.height), (16, 16));
        assert_eq!(m.treasures.len(), 20);
        for (t, v) in &m.treasures {
            assert!(t.parse::<u32>().unwrap() < 16 * 16);
            assert!((1..=100).contains(v));
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["mapId"], 7);
        assert!(json["treasures"].is_object());
    }

    #[test]
    fn maps_take_their_shape_from_the_settings() {
        let shape = MapShape {
            width: 1000,
            height: 3,
            treasures: 50,
        };
        let m = HuntMap::random(1, 1, shape, &mut rand::rng());
        assert_eq!((m.width, m.height, m.treasures.len()), (1000, 3, 50));
        assert!(m.treasures.keys().all(|t| t.parse::<u32>().unwrap() < 3000));
        // A full map: every tile a treasure; an empty one: none.
        let full = MapShape { width: 3, height: 2, treasures: 6 };
        assert_eq!(HuntMap::random(1, 1, full, &mut rand::rng()).treasures.len(), 6);
        let bare = MapShape { treasures: 0, ..full };
        assert!(HuntMap::random(1, 1, bare, &mut rand::rng()).treasures.is_empty());
    }
}
