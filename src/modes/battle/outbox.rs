//! The outbox consumer: applies the battle events that the battle's Lua steps append to
//! the partition streams `arena:{b<k>}:outbox` (`created`, `submission`, `ended`; parsed
//! in `outbox_entry.rs`) to the SQL records, each exactly once. An `ended` event with
//! standings rates the battle's players in the same transaction; after the commit the
//! players' ratings are copied to the Redis leaderboard (`arena:{ratings}:board`) with
//! ZADD of absolute values, so doing it again (a redelivery) is harmless.
//!
//! Every instance runs one consumer (name = instance id) of one consumer group
//! (`records`) over all partitions: no leader, no race. Delivery is at-least-once: an
//! entry is XACKed only after its SQL transaction committed; a consumer that dies leaves
//! its entries pending, and a live one takes them over with XAUTOCLAIM once they have
//! been idle `BATTLE_OUTBOX_RECLAIM_IDLE_MS`. Applying is idempotent: the transaction
//! first inserts the event's unique key into `applied_events`, and an event applied
//! before changes nothing (`services::store::records`). A batch of entries is one
//! transaction; if it fails, the entries are tried one by one, so one bad entry cannot
//! hold the others back.
//!
//! Poison: an entry that does not parse, or that the database refuses, stays pending and
//! is redelivered; after `BATTLE_OUTBOX_MAX_DELIVERIES` deliveries it is moved to
//! `arena:{b<k>}:outbox:dead` and counted. Deliveries only count while the database
//! answers: when it does not, nothing is reclaimed (an outage dead-letters nothing), the
//! consumer backs off, and the streams keep the events until it is back.
//!
//! Trimming: acknowledged entries are removed with `XTRIM MINID` below the oldest entry
//! the group still needs (its oldest pending entry, or the one after the last delivered). The
//! streams have no MAXLEN: an event is dropped only once it is in SQL, so a long database
//! outage grows them (watch `arena_outbox_backlog`).
//!
//! Reads use their own connection with a response timeout above the BLOCK time. On one
//! Redis one XREADGROUP names every partition's stream; on a Cluster each partition is
//! read on its own (`services::streams::read_new`: different slots cannot share one).

use std::time::{Duration, Instant};

use crate::redis::Conn;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamInfoGroupsReply,
    StreamPendingCountReply, StreamPendingReply,
};
use redis::{AsyncCommands, RedisError};
use tokio_util::sync::CancellationToken;

use super::keys;
use super::metrics::BattleMetrics;
use super::outbox_entry::OutboxEntry;
use super::settings::Settings;
use crate::base::clock::unix_ms;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::redis::stream_connection;
use crate::redis::entry_id::EntryId;
use crate::services::AppState;
use crate::services::streams::{DeadLetter, GroupRead, dead_letter, read_new};
use crate::services::store::StoreError;
use crate::services::store::records::{BattleEvent, Change};

/// The consumer group that applies the outbox to SQL.
pub const GROUP: &str = "records";
/// How long one XREADGROUP blocks.
const BLOCK_MS: usize = 1000;
/// Dead-letter streams keep about this many entries.
const DEAD_MAXLEN: u64 = 10_000;
/// Ratings per ZADD when the whole board is put back.
const PUBLISH_CHUNK: usize = 1000;
/// Pause after the database failed, before reading more.
const BACKOFF: Duration = Duration::from_millis(500);

/// Create the group on every partition stream, from the stream's start (events written
/// before any consumer ran are applied too). Existing groups are kept.
pub async fn ensure_groups(conn: &mut Conn, partitions: u32) -> Result<(), RedisError> {
    for p in 0..partitions {
        let r: Result<(), RedisError> = conn.xgroup_create_mkstream(keys::outbox(p), GROUP, "0").await;
        match r {
            Ok(()) => {}
            Err(e) if e.code() == Some("BUSYGROUP") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The stream id right after `id` (`<ms>-<seq+1>`); `None` for `0-0` (nothing delivered)
/// or an id that does not parse.
fn next_id(id: &str) -> Option<String> {
    let id = EntryId::parse(id)?;
    if id == EntryId::ZERO {
        return None;
    }
    Some(id.next()?.to_string())
}

/// What applying a set of entries came to.
enum Applied {
    /// Applied (or found applied before): acknowledge them.
    Done,
    /// The database did not answer: leave them pending, back off.
    Unavailable,
}

/// The outbox consumer of one instance.
pub struct Outbox {
    app: AppState,
    settings: Settings,
    metrics: BattleMetrics,
    reader: Conn,
    consumer: String,
    /// Events applied by this consumer (for the test-only stall).
    applied: u64,
}

impl Outbox {
    pub fn new(app: AppState, settings: Settings, metrics: BattleMetrics) -> Result<Self, RedisError> {
        let reader = stream_connection(&app.redis_endpoint, Duration::from_millis(BLOCK_MS as u64))?;
        let consumer = app.instance_id.to_string();
        Ok(Self {
            app,
            settings,
            metrics,
            reader,
            consumer,
            applied: 0,
        })
    }

    /// Read, apply, acknowledge until `shutdown`; reclaim, dead-letter and trim on the
    /// side. Cancellation mid-batch leaves the rest pending (another consumer, or this one
    /// after a restart, takes them over).
    pub async fn run(mut self, shutdown: CancellationToken) {
        let partitions = self.settings.battle_outbox_partitions;
        let streams: Vec<String> = (0..partitions).map(keys::outbox).collect();
        let idle = self.settings.battle_outbox_reclaim_idle_ms;
        let reclaim_every = Duration::from_millis((idle / 2).clamp(50, 5000));
        let mut last_reclaim = Instant::now();
        let mut groups_ready = false;
        while !shutdown.is_cancelled() {
            if !groups_ready {
                match ensure_groups(&mut self.app.redis.clone(), partitions).await {
                    Ok(()) => groups_ready = true,
                    Err(e) => {
                        tracing::debug!(error = %e, "outbox: cannot create groups yet");
                        if !sleep_unless_cancelled(BACKOFF, &shutdown).await {
                            return;
                        }
                        continue;
                    }
                }
            }
            if last_reclaim.elapsed() >= reclaim_every {
                last_reclaim = Instant::now();
                if let Err(e) = self.upkeep(partitions, &shutdown).await {
                    tracing::debug!(error = %e, "outbox: reclaim failed");
                }
            }
            let block = BLOCK_MS.min(reclaim_every.as_millis() as usize);
            let read = GroupRead {
                group: GROUP,
                consumer: &self.consumer,
                count: self.settings.battle_outbox_batch,
                block_ms: block,
            };
            let read = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = read_new(&mut self.reader, &streams, read) => r,
            };
            match read {
                Ok(Some(reply)) => {
                    for key in reply.keys {
                        if let Applied::Unavailable = self.process(&key.key, &key.ids, &shutdown).await
                            && !sleep_unless_cancelled(BACKOFF, &shutdown).await
                        {
                            return;
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    if e.code() == Some("NOGROUP") {
                        // Redis lost its data (a flush, a restart without persistence).
                        groups_ready = false;
                    }
                    tracing::debug!(error = %e, "outbox: read failed");
                    if !sleep_unless_cancelled(Duration::from_millis(200), &shutdown).await {
                        return;
                    }
                }
            }
        }
    }

    /// Apply `entries` of `stream` and acknowledge what was applied. Entries that do not
    /// parse stay pending (dead-lettered after enough deliveries).
    async fn process(&mut self, stream: &str, entries: &[StreamId], shutdown: &CancellationToken) -> Applied {
        let mut parsed = Vec::with_capacity(entries.len());
        for e in entries {
            match OutboxEntry::parse(stream, e) {
                Some(p) => parsed.push(p),
                None => {
                    self.metrics.outbox_failures.increment(1);
                    tracing::warn!(stream, id = %e.id, "outbox: malformed entry left pending");
                }
            }
        }
        if self.settings.test_outbox_stall_after > 0 {
            // Test only: one entry per transaction, and a hang before acknowledging the
            // N-th, so a test can kill the instance between a commit and its XACK.
            for entry in parsed {
                if let Applied::Unavailable = self.apply(stream, std::slice::from_ref(&entry)).await {
                    return Applied::Unavailable;
                }
                if self.applied >= self.settings.test_outbox_stall_after {
                    tracing::warn!("outbox: test stall before acknowledging");
                    shutdown.cancelled().await;
                    return Applied::Done;
                }
                self.ack(stream, std::slice::from_ref(&entry)).await;
            }
            return Applied::Done;
        }
        if parsed.is_empty() {
            return Applied::Done;
        }
        match self.apply(stream, &parsed).await {
            Applied::Done => {
                self.ack(stream, &parsed).await;
                Applied::Done
            }
            Applied::Unavailable if parsed.len() > 1 => {
                // Maybe one entry spoils the batch: try each alone.
                let mut any_unavailable = false;
                for entry in &parsed {
                    match self.apply(stream, std::slice::from_ref(entry)).await {
                        Applied::Done => self.ack(stream, std::slice::from_ref(entry)).await,
                        Applied::Unavailable => any_unavailable = true,
                    }
                }
                if any_unavailable {
                    Applied::Unavailable
                } else {
                    Applied::Done
                }
            }
            Applied::Unavailable => Applied::Unavailable,
        }
    }

    /// One SQL transaction for `entries`; metrics for what it did.
    async fn apply(&mut self, stream: &str, entries: &[OutboxEntry]) -> Applied {
        let events: Vec<BattleEvent> = entries.iter().map(|e| e.event.clone()).collect();
        match self.app.store.apply_battle_events(&events).await {
            Ok(fresh) => {
                if let Err(e) = self.publish_ratings(entries).await {
                    // Committed but not on the board: leave the entries pending; their
                    // redelivery applies nothing and publishes again.
                    self.metrics.outbox_failures.increment(1);
                    tracing::warn!(stream, error = %e, "outbox: cannot update the rating board");
                    return Applied::Unavailable;
                }
                let now = unix_ms();
                for (entry, fresh) in entries.iter().zip(fresh) {
                    if fresh {
                        self.applied += 1;
                        self.metrics.outbox_applied.increment(1);
                        let lag_ms = now.saturating_sub(entry.at);
                        self.metrics.outbox_lag.record(lag_ms as f64 / 1000.0);
                    } else {
                        self.metrics.outbox_duplicates.increment(1);
                    }
                }
                Applied::Done
            }
            Err(e) => {
                self.metrics.outbox_failures.increment(1);
                match &e {
                    StoreError::Sql(sqlx::Error::Database(_)) => {
                        tracing::warn!(stream, entries = entries.len(), error = %e, "outbox: the database refused an apply");
                    }
                    _ => tracing::warn!(stream, error = %e, "outbox: database unavailable"),
                }
                Applied::Unavailable
            }
        }
    }

    /// Copy the current SQL ratings of the players of every rated `ended` event among
    /// `entries` (applied now or before) to the Redis leaderboard; all ratings when the
    /// board is gone (Redis lost its data), so it never shows only the latest players.
    /// Two consumers publishing the same player at once may leave the older value for a
    /// while; the player's next rated battle corrects it, and SQL stays the truth.
    async fn publish_ratings(&self, entries: &[OutboxEntry]) -> Result<(), PublishError> {
        let mut players: Vec<String> = Vec::new();
        for e in entries {
            if let Change::Battle { details, .. } = &e.event.change
                && let Some(standings) = &details.standings
            {
                players.extend(standings.iter().map(|s| s.player.clone()));
            }
        }
        if players.is_empty() {
            return Ok(());
        }
        players.sort();
        players.dedup();
        let mut redis = self.app.redis.clone();
        let exists: bool = redis.exists(keys::RATING_BOARD).await?;
        let ratings = if exists {
            self.app.store.ratings_of(&players).await?
        } else {
            self.app.store.all_ratings().await?
        };
        for chunk in ratings.chunks(PUBLISH_CHUNK) {
            let members: Vec<(i64, &str)> = chunk.iter().map(|(p, r)| (*r, p.as_str())).collect();
            let _: i64 = redis.zadd_multiple(keys::RATING_BOARD, &members).await?;
        }
        Ok(())
    }

    async fn ack(&self, stream: &str, entries: &[OutboxEntry]) {
        let ids: Vec<&str> = entries.iter().map(|e| e.event.stream_id.as_str()).collect();
        let acked: Result<i64, RedisError> = self.app.redis.clone().xack(stream, GROUP, &ids).await;
        if let Err(e) = acked {
            // Applied but not acknowledged: redelivered later, then a no-op.
            tracing::debug!(stream, error = %e, "outbox: xack failed");
        }
    }

    /// Per partition, while the database answers: dead-letter entries delivered too
    /// often, take over entries idle for `BATTLE_OUTBOX_RECLAIM_IDLE_MS` (their consumer
    /// died or stalled) and apply them, trim what is applied; and refresh the backlog.
    async fn upkeep(&mut self, partitions: u32, shutdown: &CancellationToken) -> Result<(), RedisError> {
        let idle = self.settings.battle_outbox_reclaim_idle_ms;
        let batch = self.settings.battle_outbox_batch;
        let mut conn = self.app.redis.clone();
        let db_up = sqlx::query("SELECT 1").execute(self.app.store.pool()).await.is_ok();
        let mut backlog = 0usize;
        for p in 0..partitions {
            let stream = keys::outbox(p);
            if db_up {
                let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                    .arg(&stream)
                    .arg(GROUP)
                    .arg("IDLE")
                    .arg(idle)
                    .arg("-")
                    .arg("+")
                    .arg(batch)
                    .query_async(&mut conn)
                    .await?;
                for id in &pending.ids {
                    if id.times_delivered as u64 >= self.settings.battle_outbox_max_deliveries {
                        self.dead_letter(&mut conn, p, &id.id, id.times_delivered).await?;
                    }
                }
                let claimed: StreamAutoClaimReply = conn
                    .xautoclaim_options(
                        &stream,
                        GROUP,
                        &self.consumer,
                        idle,
                        "0-0",
                        StreamAutoClaimOptions::default().count(batch),
                    )
                    .await?;
                if !claimed.claimed.is_empty() {
                    tracing::info!(stream, entries = claimed.claimed.len(), "outbox: took over idle entries");
                    self.process(&stream, &claimed.claimed, shutdown).await;
                }
            }
            backlog += self.trim(&mut conn, &stream).await?;
        }
        self.metrics.outbox_backlog.set(backlog as f64);
        Ok(())
    }

    /// Trim applied entries off `stream`; returns its backlog (pending + undelivered).
    async fn trim(&self, conn: &mut Conn, stream: &str) -> Result<usize, RedisError> {
        let groups: StreamInfoGroupsReply = conn.xinfo_groups(stream).await?;
        let Some(group) = groups.groups.iter().find(|g| g.name == GROUP) else {
            return Ok(0);
        };
        let summary: StreamPendingReply = conn.xpending(stream, GROUP).await?;
        // Everything below the oldest pending entry, or up to and including the last one
        // delivered when none is pending, is applied and acknowledged (one group reads).
        let keep_from = match &summary {
            StreamPendingReply::Data(d) => Some(d.start_id.clone()),
            _ => next_id(&group.last_delivered_id),
        };
        if let Some(keep_from) = keep_from {
            // Exact, not `~`: approximate trimming only drops whole internal nodes (100
            // entries), so a quiet stream would keep its applied entries for good.
            let _: i64 = redis::cmd("XTRIM")
                .arg(stream)
                .arg("MINID")
                .arg(&keep_from)
                .query_async(conn)
                .await?;
        }
        Ok(summary.count() + group.lag.unwrap_or(0))
    }

    /// Move entry `id` of partition `p` to its dead-letter stream (exactly once across
    /// consumers).
    async fn dead_letter(
        &self,
        conn: &mut Conn,
        p: u32,
        id: &str,
        deliveries: usize,
    ) -> Result<(), RedisError> {
        let moved = dead_letter(
            conn,
            DeadLetter {
                stream: &keys::outbox(p),
                dead: &keys::outbox_dead(p),
                group: GROUP,
                consumer: &self.consumer,
                min_idle_ms: self.settings.battle_outbox_reclaim_idle_ms,
                id,
                deliveries,
                maxlen: DEAD_MAXLEN,
            },
        )
        .await?;
        if moved {
            self.metrics.outbox_dead_letters.increment(1);
            tracing::warn!(partition = p, id, deliveries, "outbox entry dead-lettered");
        }
        Ok(())
    }
}

/// Why the rating board could not be updated.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
}

#[cfg(test)]
mod tests {
    use super::next_id;

    #[test]
    fn the_id_after() {
        assert_eq!(next_id("1700000000000-7").as_deref(), Some("1700000000000-8"));
        assert_eq!(next_id("0-0"), None);
        assert_eq!(next_id("nonsense"), None);
    }
}
