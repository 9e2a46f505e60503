//! The leaderboard projection: a consumer group over every partition's claim stream,
//! applying each claim to the global and per-map leaderboards exactly once.
//!
//! Delivery is at-least-once (an entry is XACKed only after it was applied; a consumer
//! that dies leaves its entries pending, and any live consumer takes them over with
//! XAUTOCLAIM once they have been idle `hunt_reclaim_idle_ms`). Applying is idempotent
//! (`apply_batch`), so at-least-once delivery counts each claim once. An entry delivered
//! `hunt_max_deliveries` times without being applied is moved to the partition's
//! dead-letter stream and counted. The apply-once markers are one bitmap per map (bit =
//! tile: a tile is claimed once, so a bit names one claim), kept `hunt_key_ttl` (6 h by
//! default): an entry redelivered later than that (e.g. a consumer group recreated over an
//! old stream) would be counted again, so the TTL must outlast any possible redelivery.
//!
//! Partitions are split into groups of `hunt_projection_partitions`; each instance runs
//! one reader (one consumer, its own connection) per group, so readers scale out with
//! the partitions. A reader polls: one non-blocking `XREADGROUP ... COUNT n` per partition,
//! all sent at once, then one `leaderboard_apply.lua` call per chunk of the batch, then
//! one XACK per partition, all at once. Never one XREADGROUP over several streams, and
//! never one redis-rs pipeline across partitions: on a Redis Cluster the partitions live
//! in different slots (CROSSSLOT; redis-rs refuses a cross-slot pipeline). Concurrent
//! commands on the multiplexed connection go out back to back, so on one Redis a poll is
//! still one round trip; on a Cluster each goes to its slot's node. When every partition
//! was empty the reader sleeps, 1 ms doubling to `IDLE_MAX_MS`: a blocking read would need
//! one connection per partition, and the idle polls cost Redis a few µs each. After a
//! short batch the next poll starts no sooner than `hunt_projection_poll_ms` after this
//! one began: polling back to back at a steady rate reads one or two entries per
//! partition command, and the per-command cost then dominates the projection's CPU.

use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingCountReply,
    StreamReadReply,
};
use redis::{AsyncCommands, RedisError};
use tokio_util::sync::CancellationToken;

use super::metrics::HuntMetrics;
use super::scripts::BoardDelta;
use super::settings::{MAP_SIDE_MAX, Settings};
use super::{keys, scripts};
use crate::base::clock::unix_ms;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::redis::{Conn, command_connection};
use crate::services::AppState;
use crate::services::streams::{DeadLetter, dead_letter};

/// The consumer group of the leaderboard projection (one group per projection).
pub const GROUP: &str = "leaderboard";
/// Entries one XREADGROUP takes from one partition.
const READ_COUNT: usize = 200;
/// Claims per `leaderboard_apply.lua` call: bounds how long one call holds Redis (a few
/// µs per claim) when a reader catches up on a long backlog.
const APPLY_CHUNK: usize = 100;
/// The longest sleep between polls when every partition was empty: bounds the lag of a
/// claim arriving in a quiet moment.
const IDLE_MAX_MS: u64 = 8;
/// Response timeout of a reader's connection (its reads never block).
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// Entries taken per XPENDING / XAUTOCLAIM of one partition.
const RECLAIM_COUNT: usize = 200;

/// One claim as logged by `claim.lua`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimEntry {
    pub map_id: u64,
    /// Below `MAP_SIDE_MAX`² (claim.lua checks it against the map): the bit of the claim
    /// in its map's apply-once bitmap.
    pub tile: u32,
    pub player: String,
    pub value: i64,
    /// `<mapId>:<tile>`: unique, since a tile is claimed at most once.
    pub claim_id: String,
    /// Milliseconds since the Unix epoch when it was claimed.
    pub at: u64,
}

impl ClaimEntry {
    /// Parse a stream entry's fields; `None` for a malformed (poison) entry, including a
    /// tile outside any map or a claim id that is not `<mapId>:<tile>` (the apply-once
    /// bit is the tile's: such an entry would be marked under another claim's name).
    pub fn parse(e: &StreamId) -> Option<Self> {
        let entry = Self {
            map_id: e.get::<String>("mapId")?.parse().ok()?,
            tile: e.get::<String>("tile")?.parse().ok()?,
            player: e.get("player")?,
            value: e.get::<String>("value")?.parse().ok()?,
            claim_id: e.get("claimId")?,
            at: e.get::<String>("at")?.parse().ok()?,
        };
        let max_tile = u64::from(MAP_SIDE_MAX) * u64::from(MAP_SIDE_MAX);
        let (map, tile) = entry.claim_id.split_once(':')?;
        (u64::from(entry.tile) < max_tile
            && map.parse::<u64>().ok()? == entry.map_id
            && tile.parse::<u32>().ok()? == entry.tile)
            .then_some(entry)
    }
}

impl ClaimEntry {
    fn delta(&self) -> BoardDelta<'_> {
        BoardDelta {
            map_id: self.map_id,
            tile: self.tile,
            player: &self.player,
            value: self.value,
        }
    }
}

/// Apply claims to the leaderboards, each at most once per claim, in one script call
/// (`leaderboard_apply.lua`: the claim's bit in its map's bitmap (SETBIT) + summed
/// ZINCRBYs in one step). Applying an
/// entry again is a no-op; returns, per entry, whether it was applied now.
pub async fn apply_batch(
    conn: &mut Conn,
    entries: &[&ClaimEntry],
    marker_ttl_s: u64,
) -> Result<Vec<bool>, RedisError> {
    let deltas: Vec<BoardDelta<'_>> = entries.iter().map(|e| e.delta()).collect();
    scripts::leaderboard_apply(conn, &deltas, marker_ttl_s).await
}

/// Apply one claim (a batch of one); returns whether it was applied now.
pub async fn apply_entry(
    conn: &mut Conn,
    entry: &ClaimEntry,
    marker_ttl_s: u64,
) -> Result<bool, RedisError> {
    let applied = apply_batch(conn, &[entry], marker_ttl_s).await?;
    Ok(applied.first().copied().unwrap_or(false))
}

/// Create the group on every partition stream (from the start of the stream, so entries
/// written before the first consumer started are projected too). Existing groups are kept.
pub async fn ensure_groups(
    conn: &mut Conn,
    partitions: u32,
) -> Result<(), RedisError> {
    let all: Vec<u32> = (0..partitions).collect();
    ensure_groups_of(conn, &all).await
}

/// [`ensure_groups`] for the partitions `ps`.
async fn ensure_groups_of(conn: &mut Conn, ps: &[u32]) -> Result<(), RedisError> {
    for &p in ps {
        let r: Result<(), RedisError> = conn
            .xgroup_create_mkstream(keys::hunt_claims(p), GROUP, "0")
            .await;
        match r {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The partition groups of `partitions` split `per_reader` at a time: one reader each.
pub fn partition_groups(partitions: u32, per_reader: u32) -> Vec<Vec<u32>> {
    let all: Vec<u32> = (0..partitions).collect();
    all.chunks(per_reader.max(1) as usize)
        .map(<[u32]>::to_vec)
        .collect()
}

/// Entries read in one poll: (partition, entry).
type Batch = Vec<(u32, StreamId)>;

/// The projection reader of one partition group on one instance (consumer name = instance
/// id: within one partition's group, one reader per instance).
pub struct Projection {
    app: AppState,
    settings: Settings,
    metrics: HuntMetrics,
    reader: Conn,
    consumer: String,
    partitions: Vec<u32>,
}

impl Projection {
    /// One reader per partition group (see [`partition_groups`]).
    pub fn for_instance(
        app: &AppState,
        settings: &Settings,
        metrics: &HuntMetrics,
    ) -> Result<Vec<Self>, RedisError> {
        partition_groups(settings.hunt_partitions, settings.hunt_projection_partitions)
            .into_iter()
            .map(|ps| Self::new(app.clone(), settings.clone(), metrics.clone(), ps))
            .collect()
    }

    pub fn new(
        app: AppState,
        settings: Settings,
        metrics: HuntMetrics,
        partitions: Vec<u32>,
    ) -> Result<Self, RedisError> {
        // Its own connection: a poll's replies (up to READ_COUNT entries per partition)
        // do not queue in front of the claims on the command connection.
        let reader = command_connection(&app.redis_endpoint, READ_TIMEOUT)?;
        let consumer = app.instance_id.to_string();
        Ok(Self {
            app,
            settings,
            metrics,
            reader,
            consumer,
            partitions,
        })
    }

    /// Poll, apply, ack until `shutdown`; reclaim idle entries and refresh the pending
    /// gauges on the side. Cancellation mid-batch leaves the rest pending (reclaimed later).
    pub async fn run(self, shutdown: CancellationToken) {
        let reclaim_every =
            Duration::from_millis((self.settings.hunt_reclaim_idle_ms / 2).clamp(50, 5000));
        let mut last_reclaim = Instant::now();
        let mut groups_ready = false;
        let mut idle_ms = 0u64;
        while !shutdown.is_cancelled() {
            if !groups_ready {
                let mut conn = self.app.redis.clone();
                match ensure_groups_of(&mut conn, &self.partitions).await {
                    Ok(()) => groups_ready = true,
                    Err(e) => {
                        tracing::debug!(error = %e, "projection: cannot create groups yet");
                        if !sleep_unless_cancelled(Duration::from_millis(500), &shutdown).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            if last_reclaim.elapsed() >= reclaim_every {
                last_reclaim = Instant::now();
                if let Err(e) = self.reclaim(&shutdown).await {
                    tracing::debug!(error = %e, "projection: reclaim failed");
                }
            }
            let polled_at = Instant::now();
            let read = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.poll() => r,
            };
            match read {
                Ok(batch) if batch.is_empty() => {
                    idle_ms = (idle_ms * 2).clamp(1, IDLE_MAX_MS);
                    if !sleep_unless_cancelled(Duration::from_millis(idle_ms), &shutdown).await {
                        return;
                    }
                }
                Ok(batch) => {
                    idle_ms = 0;
                    self.process(&batch, &shutdown).await;
                    // A short batch: wait out the poll interval so the next read takes
                    // a batch, not one entry per partition command.
                    let min = Duration::from_millis(self.settings.hunt_projection_poll_ms);
                    let spent = polled_at.elapsed();
                    if batch.len() < READ_COUNT && spent < min
                        && !sleep_unless_cancelled(min - spent, &shutdown).await
                    {
                        return;
                    }
                }
                Err(e) => {
                    if e.code() == Some("NOGROUP") {
                        // Redis lost its data (restart without persistence): recreate.
                        groups_ready = false;
                    }
                    tracing::debug!(error = %e, "projection: read failed");
                    if !sleep_unless_cancelled(Duration::from_millis(200), &shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// One non-blocking `XREADGROUP ... COUNT READ_COUNT STREAMS <p> >` per partition of
    /// the group (each names one stream: one slot), sent concurrently.
    async fn poll(&self) -> Result<Batch, RedisError> {
        let reads = self.partitions.iter().map(|&p| {
            let mut conn = self.reader.clone();
            let consumer = self.consumer.as_str();
            async move {
                let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(GROUP)
                    .arg(consumer)
                    .arg("COUNT")
                    .arg(READ_COUNT)
                    .arg("STREAMS")
                    .arg(keys::hunt_claims(p))
                    .arg(">")
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, RedisError>((p, reply))
            }
        });
        let mut batch = Vec::new();
        for (p, reply) in try_join_all(reads).await? {
            for key in reply.map(|r| r.keys).unwrap_or_default() {
                batch.extend(key.ids.into_iter().map(|e| (p, e)));
            }
        }
        Ok(batch)
    }

    /// Apply a batch (chunks of `APPLY_CHUNK`, one script call each), then XACK what was
    /// applied, all partitions at once. A malformed entry or a chunk whose apply failed stays
    /// pending: it is retried once idle long enough, and dead-lettered after
    /// `hunt_max_deliveries` deliveries.
    async fn process(&self, batch: &[(u32, StreamId)], shutdown: &CancellationToken) {
        let mut conn = self.app.redis.clone();
        let mut parsed: Vec<(u32, &str, ClaimEntry)> = Vec::with_capacity(batch.len());
        for (p, entry) in batch {
            match ClaimEntry::parse(entry) {
                Some(c) => parsed.push((*p, &entry.id, c)),
                None => {
                    tracing::warn!(partition = p, id = %entry.id, "projection: malformed claim entry left pending");
                }
            }
        }
        let mut done: Vec<(u32, &str)> = Vec::with_capacity(parsed.len());
        for chunk in parsed.chunks(APPLY_CHUNK) {
            if shutdown.is_cancelled() {
                return;
            }
            let entries: Vec<&ClaimEntry> = chunk.iter().map(|(_, _, c)| c).collect();
            match apply_batch(&mut conn, &entries, self.settings.hunt_key_ttl_s).await {
                Ok(applied) => {
                    let now = unix_ms();
                    for (e, now_applied) in entries.iter().zip(applied) {
                        if now_applied {
                            let lag_ms = now.saturating_sub(e.at);
                            self.metrics.leaderboard_lag.record(lag_ms as f64 / 1000.0);
                        }
                    }
                    done.extend(chunk.iter().map(|(p, id, _)| (*p, *id)));
                }
                Err(e) => {
                    tracing::debug!(error = %e, claims = chunk.len(), "projection: apply failed");
                }
            }
        }
        if let Err(e) = ack(&conn, &done).await {
            // Applied but not acked: redelivered later, then a no-op.
            tracing::debug!(error = %e, entries = done.len(), "projection: xack failed");
        }
    }

    /// Per partition of the group: dead-letter entries delivered too often, take over
    /// entries idle for `hunt_reclaim_idle_ms` (their consumer died or stalled) and apply
    /// them, and refresh `arena_stream_pending{partition}`.
    async fn reclaim(&self, shutdown: &CancellationToken) -> Result<(), RedisError> {
        let cfg = &self.settings;
        let idle = cfg.hunt_reclaim_idle_ms;
        let mut conn = self.app.redis.clone();
        for &p in &self.partitions {
            let stream = keys::hunt_claims(p);
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(GROUP)
                .arg("IDLE")
                .arg(idle)
                .arg("-")
                .arg("+")
                .arg(RECLAIM_COUNT)
                .query_async(&mut conn)
                .await?;
            for id in &pending.ids {
                if id.times_delivered as u64 >= cfg.hunt_max_deliveries {
                    self.dead_letter(&mut conn, p, &id.id, id.times_delivered)
                        .await?;
                }
            }
            let claimed: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    &stream,
                    GROUP,
                    &self.consumer,
                    idle,
                    "0-0",
                    StreamAutoClaimOptions::default().count(RECLAIM_COUNT),
                )
                .await?;
            let batch: Batch = claimed.claimed.into_iter().map(|e| (p, e)).collect();
            self.process(&batch, shutdown).await;
            let summary: redis::streams::StreamPendingReply = conn.xpending(&stream, GROUP).await?;
            self.app
                .metrics
                .gauge_with(super::metrics::STREAM_PENDING, "partition", &p.to_string())
                .set(summary.count() as f64);
        }
        Ok(())
    }

    /// Move entry `id` to the dead-letter stream (exactly once across consumers).
    async fn dead_letter(
        &self,
        conn: &mut Conn,
        p: u32,
        id: &str,
        deliveries: usize,
    ) -> Result<(), RedisError> {
        let cfg = &self.settings;
        let moved = dead_letter(
            conn,
            DeadLetter {
                stream: &keys::hunt_claims(p),
                dead: &keys::hunt_dead_letters(p),
                group: GROUP,
                consumer: &self.consumer,
                min_idle_ms: cfg.hunt_reclaim_idle_ms,
                id,
                deliveries,
                maxlen: cfg.hunt_stream_maxlen,
            },
        )
        .await?;
        if moved {
            self.metrics.dead_letters.increment(1);
            tracing::warn!(partition = p, id, deliveries, "claim entry dead-lettered");
        }
        Ok(())
    }
}

/// XACK `done` (partition, entry id): one XACK per partition (one slot each) with every
/// id of that partition, sent concurrently.
async fn ack(conn: &Conn, done: &[(u32, &str)]) -> Result<(), RedisError> {
    let mut by_partition: std::collections::BTreeMap<u32, Vec<&str>> = Default::default();
    for (p, id) in done {
        by_partition.entry(*p).or_default().push(id);
    }
    let acks = by_partition.into_iter().map(|(p, ids)| {
        let mut conn = conn.clone();
        async move {
            let _: i64 = conn.xack(keys::hunt_claims(p), GROUP, &ids).await?;
            Ok::<_, RedisError>(())
        }
    });
    try_join_all(acks).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_split_into_reader_groups() {
        assert_eq!(partition_groups(16, 16), vec![(0..16).collect::<Vec<_>>()]);
        assert_eq!(
            partition_groups(5, 2),
            vec![vec![0, 1], vec![2, 3], vec![4]]
        );
        assert_eq!(partition_groups(3, 0), vec![vec![0], vec![1], vec![2]]);
        let all: Vec<u32> = partition_groups(1024, 16).concat();
        assert_eq!(all, (0..1024).collect::<Vec<_>>());
    }
}
