//! Leaderboard reads (top N, 1-based ranks), the leader's periodic `leaderboard`
//! broadcast, and `arena hunt rebuild`, which recomputes the board from the claim log.

use std::collections::{HashMap, HashSet};

use crate::redis::Conn;
use redis::streams::StreamRangeReply;
use redis::{AsyncCommands, RedisError};
use tokio_util::sync::CancellationToken;

use super::projection::ClaimEntry;
use super::keys;
use super::payload::{Leaderboard, LeaderboardEntry, ROOM};
use super::state::Hunt;
use crate::services::period::{self, Race};

/// How often the leader broadcasts the top N.
pub const BROADCAST_MS: u64 = 500;
/// How many rows the broadcast carries.
pub const BROADCAST_TOP: usize = 10;

/// The top `limit` rows of the sorted set `key`, best first, ranks from 1.
pub async fn top_of(
    conn: &mut Conn,
    key: &str,
    limit: usize,
) -> Result<Leaderboard, RedisError> {
    if limit == 0 {
        return Ok(Leaderboard::default());
    }
    let rows: Vec<(String, f64)> = conn
        .zrevrange_withscores(key, 0, limit as isize - 1)
        .await?;
    Ok(Leaderboard {
        entries: rows
            .into_iter()
            .enumerate()
            .map(|(i, (player, score))| LeaderboardEntry {
                rank: i as u64 + 1,
                player,
                score,
            })
            .collect(),
    })
}

/// The top `limit` of the global hunt leaderboard.
pub async fn top(conn: &mut Conn, limit: usize) -> Result<Leaderboard, RedisError> {
    top_of(conn, keys::lb_global(), limit).await
}

/// Every 500 ms, the instance that wins the period's race broadcasts the top N to `hunt`.
pub async fn run(hunt: Hunt, shutdown: CancellationToken) {
    let race = Race {
        name: keys::BOARD_RACE,
        period_ms: BROADCAST_MS,
        lease_ms: BROADCAST_MS / 2,
    };
    let hunt = &hunt;
    period::run(race, &hunt.ctx.app, shutdown, |_| broadcast(hunt), |_| {}).await
}

async fn broadcast(hunt: &Hunt) {
    let mut conn = hunt.ctx.app.redis.clone();
    match top(&mut conn, BROADCAST_TOP).await {
        Ok(board) => {
            if let Err(e) = hunt.ctx.io.to(ROOM).emit("leaderboard", &board).await {
                tracing::debug!(error = %e, "leaderboard broadcast failed");
            }
        }
        Err(e) => tracing::debug!(error = %e, "leaderboard read failed"),
    }
}

/// What `rebuild` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// Claim entries read from the streams (each claim id counted once).
    pub claims: u64,
    pub players: u64,
    pub total: i64,
}

/// Recompute the global leaderboard from every partition's claim stream: read them all
/// (XRANGE, in pages) into a fresh key, then RENAME it over the live one (same `{lb}` tag).
///
/// The result equals the live board once the projection has caught up, as long as the
/// streams still hold every claim (they are trimmed at `hunt_stream_maxlen`). Run it while
/// claims are quiet: a claim applied by the projection between the read and the RENAME
/// would be overwritten and, its marker being set, never re-applied.
pub async fn rebuild(
    conn: &mut Conn,
    partitions: u32,
) -> Result<RebuildReport, RedisError> {
    let mut scores: HashMap<String, i64> = HashMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    for p in 0..partitions {
        let stream = keys::hunt_claims(p);
        let mut start = "-".to_string();
        loop {
            let page: StreamRangeReply = conn.xrange_count(&stream, &start, "+", 1000).await?;
            let n = page.ids.len();
            for e in &page.ids {
                if let Some(c) = ClaimEntry::parse(e)
                    && seen.insert(c.claim_id.clone())
                {
                    *scores.entry(c.player).or_default() += c.value;
                }
            }
            match page.ids.last() {
                Some(last) if n == 1000 => start = format!("({}", last.id),
                _ => break,
            }
        }
    }
    let report = RebuildReport {
        claims: seen.len() as u64,
        players: scores.len() as u64,
        total: scores.values().sum(),
    };
    let fresh = keys::lb_rebuild(rand::random::<u64>());
    let rows: Vec<(i64, String)> = scores.into_iter().map(|(p, s)| (s, p)).collect();
    if rows.is_empty() {
        let _: i64 = conn.del(keys::lb_global()).await?;
        return Ok(report);
    }
    for chunk in rows.chunks(1000) {
        let _: i64 = conn.zadd_multiple(&fresh, chunk).await?;
    }
    let _: () = conn.rename(&fresh, keys::lb_global()).await?;
    Ok(report)
}
