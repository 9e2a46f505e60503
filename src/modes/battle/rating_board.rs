//! The rating leaderboard: the best-rated players from the Redis zset
//! `arena:{ratings}:board` (the outbox consumer keeps it in step with SQL), or from SQL
//! while the zset is empty (Redis lost its data, or no battle was rated since).

use redis::AsyncCommands;
use serde::Serialize;

use super::error::BattleError;
use super::keys::RATING_BOARD;
use super::state::Battles;

/// One row of the leaderboard.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[derive(utoipa::ToSchema)]
pub struct Entry {
    /// 1-based; equal ratings share a rank (1, 2, 2, 4).
    pub rank: u32,
    pub player: String,
    pub rating: i64,
}

/// The `limit` best-rated players, best first (equal ratings by player id).
pub async fn top(b: &Battles, limit: u32) -> Result<Vec<Entry>, BattleError> {
    let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
    // A score that is not an integer is an error, not a rating (ratings are integers).
    let mut rows: Vec<(String, i64)> = b
        .ctx
        .app
        .redis
        .clone()
        .zrevrange_withscores(RATING_BOARD, 0, stop)
        .await?;
    if rows.is_empty() {
        rows = b.ctx.app.store.top_ratings(i64::from(limit)).await?;
    }
    Ok(ranked(rows))
}

/// Order `rows` by rating desc then player, and rank them. The page holds everyone
/// rated above its last entry, so ranks computed within it are the global ones.
fn ranked(mut rows: Vec<(String, i64)>) -> Vec<Entry> {
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<Entry> = Vec::with_capacity(rows.len());
    for (i, (player, rating)) in rows.into_iter().enumerate() {
        let rank = match out.last() {
            Some(prev) if prev.rating == rating => prev.rank,
            _ => i as u32 + 1,
        };
        out.push(Entry {
            rank,
            player,
            rating,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_ratings_share_a_rank_and_sort_by_player() {
        let rows = vec![
            ("carol".to_string(), 1184),
            ("bob".to_string(), 1216),
            ("alice".to_string(), 1216),
            ("dave".to_string(), 1100),
        ];
        let got: Vec<(u32, String, i64)> = ranked(rows)
            .into_iter()
            .map(|e| (e.rank, e.player, e.rating))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "alice".into(), 1216),
                (1, "bob".into(), 1216),
                (3, "carol".into(), 1184),
                (4, "dave".into(), 1100),
            ]
        );
    }
}
