//! The leaderboard projection: a consumer group over every partition's claim stream,
//! applying each claim to the global and per-map leaderboards exactly once.
//!
//! Delivery is at-least-once (an entry is XACKed only after it was applied; a consumer
//! that dies leaves its entries pending, and any live consumer takes them over with
//! XAUTOCLAIM once they have been idle `hunt_reclaim_idle_ms`). Applying is idempotent
//! (`apply_entry`), so at-least-once delivery counts each claim once. An entry delivered
//! `hunt_max_deliveries` times without being applied is moved to the partition's
//! dead-letter stream and counted. The apply-once markers live `hunt_key_ttl` (6 h by
//! default): an entry redelivered later than that (e.g. a consumer group recreated over an
//! old stream) would be counted again, so the TTL must outlast any possible redelivery.
//!
//! Reads use their own connection with a response timeout above the BLOCK time: on the
//! command connection (500 ms timeout) a blocking XREADGROUP would time out. One
//! XREADGROUP names every partition's stream: fine on one Redis; on a Cluster the streams
//! of different slots must be read separately (one read per slot or node).

use std::time::{Duration, Instant};

use crate::redis::Conn;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamPendingCountReply,
    StreamReadOptions, StreamReadReply,
};
use redis::{AsyncCommands, RedisError};
use tokio_util::sync::CancellationToken;

use super::metrics::HuntMetrics;
use super::settings::Settings;
use super::{keys, scripts};
use crate::redis::stream_connection;
use crate::base::clock::unix_ms;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::services::AppState;
use crate::services::streams::{DeadLetter, dead_letter};

/// The consumer group of the leaderboard projection (one group per projection).
pub const GROUP: &str = "leaderboard";
/// How long one XREADGROUP blocks.
const BLOCK_MS: usize = 1000;
/// Entries per read.
const BATCH: usize = 200;

/// One claim as logged by `claim.lua`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimEntry {
    pub map_id: u64,
    pub tile: i64,
    pub player: String,
    pub value: i64,
    /// `<mapId>:<tile>`: unique, since a tile is claimed at most once.
    pub claim_id: String,
    /// Milliseconds since the Unix epoch when it was claimed.
    pub at: u64,
}

impl ClaimEntry {
    /// Parse a stream entry's fields; `None` for a malformed (poison) entry.
    pub fn parse(e: &StreamId) -> Option<Self> {
        Some(Self {
            map_id: e.get::<String>("mapId")?.parse().ok()?,
            tile: e.get::<String>("tile")?.parse().ok()?,
            player: e.get("player")?,
            value: e.get::<String>("value")?.parse().ok()?,
            claim_id: e.get("claimId")?,
            at: e.get::<String>("at")?.parse().ok()?,
        })
    }
}

/// Apply one claim to the leaderboards, at most once per claim id (`leaderboard_apply.lua`:
/// marker SET NX + ZINCRBYs in one step). Applying the same entry twice is a no-op;
/// returns whether it was applied now.
pub async fn apply_entry(
    conn: &mut Conn,
    entry: &ClaimEntry,
    marker_ttl_s: u64,
) -> Result<bool, RedisError> {
    scripts::leaderboard_apply(
        conn,
        entry.map_id,
        &entry.claim_id,
        &entry.player,
        entry.value,
        marker_ttl_s,
    )
    .await
}

/// Create the group on every partition stream (from the start of the stream, so entries
/// written before the first consumer started are projected too). Existing groups are kept.
pub async fn ensure_groups(
    conn: &mut Conn,
    partitions: u32,
) -> Result<(), RedisError> {
    for p in 0..partitions {
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

/// The projection loop of one instance (consumer name = instance id).
pub struct Projection {
    app: AppState,
    settings: Settings,
    metrics: HuntMetrics,
    reader: Conn,
    consumer: String,
}

impl Projection {
    pub fn new(app: AppState, settings: Settings, metrics: HuntMetrics) -> Result<Self, RedisError> {
        let reader =
            stream_connection(&app.redis_endpoint, Duration::from_millis(BLOCK_MS as u64))?;
        let consumer = app.instance_id.to_string();
        Ok(Self {
            app,
            settings,
            metrics,
            reader,
            consumer,
        })
    }

    /// Read, apply, ack until `shutdown`; reclaim idle entries and refresh the pending
    /// gauges on the side. Cancellation mid-batch leaves the rest pending (reclaimed later).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let partitions = self.settings.hunt_partitions;
        let streams: Vec<String> = (0..partitions).map(keys::hunt_claims).collect();
        let ids: Vec<&str> = vec![">"; streams.len()];
        let reclaim_every =
            Duration::from_millis((self.settings.hunt_reclaim_idle_ms / 2).clamp(50, 5000));
        let mut last_reclaim = Instant::now();
        let mut groups_ready = false;
        while !shutdown.is_cancelled() {
            if !groups_ready {
                let mut conn = self.app.redis.clone();
                match ensure_groups(&mut conn, partitions).await {
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
                if let Err(e) = self.reclaim(partitions).await {
                    tracing::debug!(error = %e, "projection: reclaim failed");
                }
            }
            let block = BLOCK_MS.min(reclaim_every.as_millis() as usize);
            let opts = StreamReadOptions::default()
                .group(GROUP, &self.consumer)
                .count(BATCH)
                .block(block);
            let read = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.reader.xread_options::<_, _, Option<StreamReadReply>>(&streams, &ids, &opts) => r,
            };
            match read {
                Ok(Some(reply)) => {
                    for key in reply.keys {
                        for entry in &key.ids {
                            if shutdown.is_cancelled() {
                                return;
                            }
                            self.process(&key.key, entry).await;
                        }
                    }
                }
                Ok(None) => {}
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

    /// Apply then XACK one entry. A failure leaves it pending: it is retried after it has
    /// been idle long enough, and dead-lettered after `hunt_max_deliveries` deliveries.
    async fn process(&self, stream: &str, entry: &StreamId) {
        let mut conn = self.app.redis.clone();
        let Some(claim) = ClaimEntry::parse(entry) else {
            tracing::warn!(stream, id = %entry.id, "projection: malformed claim entry left pending");
            return;
        };
        match apply_entry(&mut conn, &claim, self.settings.hunt_key_ttl_s).await {
            Ok(applied) => {
                if applied {
                    let lag_ms = unix_ms().saturating_sub(claim.at);
                    self.metrics.leaderboard_lag
                        .record(lag_ms as f64 / 1000.0);
                }
                let acked: Result<i64, RedisError> = conn.xack(stream, GROUP, &[&entry.id]).await;
                if let Err(e) = acked {
                    // Applied but not acked: redelivered later, then a no-op.
                    tracing::debug!(stream, id = %entry.id, error = %e, "projection: xack failed");
                }
            }
            Err(e) => {
                tracing::debug!(stream, id = %entry.id, error = %e, "projection: apply failed");
            }
        }
    }

    /// Per partition: dead-letter entries delivered too often, take over entries idle for
    /// `hunt_reclaim_idle_ms` (their consumer died or stalled) and apply them, and refresh
    /// `arena_stream_pending{partition}`.
    async fn reclaim(&self, partitions: u32) -> Result<(), RedisError> {
        let cfg = &self.settings;
        let idle = cfg.hunt_reclaim_idle_ms;
        let mut conn = self.app.redis.clone();
        for p in 0..partitions {
            let stream = keys::hunt_claims(p);
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(&stream)
                .arg(GROUP)
                .arg("IDLE")
                .arg(idle)
                .arg("-")
                .arg("+")
                .arg(BATCH)
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
                    StreamAutoClaimOptions::default().count(BATCH),
                )
                .await?;
            for entry in &claimed.claimed {
                self.process(&stream, entry).await;
            }
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
