//! The fleet's index of when running battles run out of time (`arena:{battles}:deadlines`)
//! and of submissions being judged (`arena:{battles}:judging`). The battle's own record
//! is the truth (`battle_end.lua` refuses an end that is not due); these indexes only say
//! where to look, so a stale entry costs one script call and is then dropped or moved.

use redis::AsyncCommands;
use crate::redis::Conn;
use redis::RedisError;

use super::keys::{ACTIVE_INDEX, DEADLINES, JUDGING};

/// Put a battle's end (ms) in the index.
pub async fn schedule(
    conn: &mut Conn,
    battle_id: &str,
    ends_at: u64,
) -> Result<(), RedisError> {
    conn.zadd(DEADLINES, battle_id, ends_at).await
}

/// Move a battle's end (resumed), or take it out while paused (`None`).
pub async fn reschedule(
    conn: &mut Conn,
    battle_id: &str,
    ends_at: Option<u64>,
) -> Result<(), RedisError> {
    match ends_at {
        Some(at) => conn.zadd(DEADLINES, battle_id, at).await,
        None => conn.zrem(DEADLINES, battle_id).await,
    }
}

/// A battle is over: out of both indexes (best effort: a leftover entry is dropped by
/// the next sweep, when its end is refused as `none`).
pub async fn forget(conn: &mut Conn, battle_id: &str) {
    let _: Result<(), _> = redis::pipe()
        .zrem(DEADLINES, battle_id)
        .ignore()
        .zrem(ACTIVE_INDEX, battle_id)
        .ignore()
        .query_async(conn)
        .await;
}

/// Up to `limit` battles whose end is at or before `now_ms`.
pub async fn due(
    conn: &mut Conn,
    now_ms: u64,
    limit: isize,
) -> Result<Vec<String>, RedisError> {
    conn.zrangebyscore_limit(DEADLINES, "-inf", now_ms, 0, limit)
        .await
}

/// The member of the judging index for one submission.
fn judging_member(battle_id: &str, submission_id: &str) -> String {
    format!("{battle_id}/{submission_id}")
}

/// A submission is being judged by this instance from `now_ms`.
pub async fn judging(
    conn: &mut Conn,
    battle_id: &str,
    submission_id: &str,
    now_ms: u64,
) -> Result<(), RedisError> {
    conn.zadd(JUDGING, judging_member(battle_id, submission_id), now_ms)
        .await
}

/// Its verdict is recorded.
pub async fn judged(conn: &mut Conn, battle_id: &str, submission_id: &str) {
    let _: Result<(), _> = conn
        .zrem(JUDGING, judging_member(battle_id, submission_id))
        .await;
}

/// Submissions taken for judging before `before_ms` and still without a verdict: their
/// instance probably died. Each is re-taken (its score moved to `now_ms`) so other
/// instances leave it alone for a while; returns `(battle id, submission id)`.
pub async fn stale_judging(
    conn: &mut Conn,
    before_ms: u64,
    now_ms: u64,
    limit: isize,
) -> Result<Vec<(String, String)>, RedisError> {
    let members: Vec<String> = conn
        .zrangebyscore_limit(JUDGING, "-inf", before_ms, 0, limit)
        .await?;
    let mut taken = Vec::new();
    for m in members {
        // ZADD XX with the old score checked would need a script; a second instance
        // taking the same one only judges it twice, and the verdict is recorded once.
        let _: i64 = conn.zadd(JUDGING, &m, now_ms).await?;
        if let Some((b, s)) = m.split_once('/') {
            taken.push((b.to_string(), s.to_string()));
        }
    }
    Ok(taken)
}
