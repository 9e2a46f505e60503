//! The results of coding battles in SQL: judged submissions, final standings, ratings
//! and their history. Written inside the outbox's transactions (`records.rs`), read by
//! the HTTP API and the battle view.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::error::StoreError;
use super::pool::Store;
use super::rating::{Entrant, START_RATING, new_ratings};

/// A judged submission (the `submission` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRecord {
    pub id: String,
    pub battle_id: String,
    pub player: String,
    pub language: String,
    pub source: String,
    pub verdict: String,
    pub passed: i64,
    pub of_tests: i64,
    pub failed_test: Option<i64>,
    /// Per-test verdicts, a JSON array as the judge reported them.
    pub tests: String,
    pub submitted_at: i64,
    pub judged_at: i64,
}

/// One player's final standing in a battle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingRecord {
    pub player: String,
    pub rank: i64,
    pub solved: i64,
    pub penalty_ms: i64,
    pub attempts: i64,
    pub solved_at_ms: Option<i64>,
}

/// A player's rating and rated battles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    pub rating: i64,
    pub games: i64,
}

/// One rated battle of a player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatingChange {
    pub battle_id: String,
    pub before: i64,
    pub after: i64,
    pub at: i64,
}

const SUBMISSION_COLUMNS: &str = "id, battle_id, player, language, source, verdict, passed, \
     of_tests, failed_test, tests, submitted_at, judged_at";

impl Store {
    /// A battle's final standings, best first (empty before it ended, or for a battle
    /// that ended without standings).
    pub async fn standings_of(&self, battle_id: &str) -> Result<Vec<StandingRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT player, rank, solved, penalty_ms, attempts, solved_at_ms \
             FROM battle_standings WHERE battle_id = $1 ORDER BY rank, player",
        )
        .bind(battle_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StandingRecord {
                    player: r.try_get("player")?,
                    rank: r.try_get("rank")?,
                    solved: r.try_get("solved")?,
                    penalty_ms: r.try_get("penalty_ms")?,
                    attempts: r.try_get("attempts")?,
                    solved_at_ms: r.try_get("solved_at_ms")?,
                })
            })
            .collect()
    }

    /// A battle's judged submissions, oldest first (with their sources: the caller
    /// decides who may see one).
    pub async fn submissions_of(
        &self,
        battle_id: &str,
    ) -> Result<Vec<SubmissionRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE battle_id = $1 \
             ORDER BY submitted_at, id"
        ))
        .bind(battle_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(submission_of).collect()
    }

    /// Player `id`'s rating; a player never rated has the start rating and no games.
    pub async fn rating(&self, player: &str) -> Result<Rating, StoreError> {
        let row = sqlx::query("SELECT rating, games FROM ratings WHERE player = $1")
            .bind(player)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => Ok(Rating {
                rating: r.try_get("rating")?,
                games: r.try_get("games")?,
            }),
            None => Ok(Rating {
                rating: START_RATING,
                games: 0,
            }),
        }
    }

    /// The current ratings of `players` that have one (for the Redis leaderboard).
    pub async fn ratings_of(&self, players: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        let mut out = Vec::with_capacity(players.len());
        for p in players {
            let rating: Option<i64> =
                sqlx::query_scalar("SELECT rating FROM ratings WHERE player = $1")
                    .bind(p)
                    .fetch_optional(self.pool())
                    .await?;
            if let Some(r) = rating {
                out.push((p.clone(), r));
            }
        }
        Ok(out)
    }

    /// Every rated player's rating (to put the Redis leaderboard back after Redis lost
    /// it).
    pub async fn all_ratings(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT player, rating FROM ratings ORDER BY player")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("player")?, r.try_get("rating")?)))
            .collect()
    }

    /// Player `id`'s `limit` newest rating changes, newest first.
    pub async fn rating_history(
        &self,
        player: &str,
        limit: i64,
    ) -> Result<Vec<RatingChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT battle_id, before, after, at FROM rating_history WHERE player = $1 \
             ORDER BY at DESC, battle_id DESC LIMIT $2",
        )
        .bind(player)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RatingChange {
                    battle_id: r.try_get("battle_id")?,
                    before: r.try_get("before")?,
                    after: r.try_get("after")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// The `limit` best-rated players (rating desc, then id), from SQL: the leaderboard
    /// when Redis's copy is empty.
    pub async fn top_ratings(&self, limit: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT player, rating FROM ratings ORDER BY rating DESC, player ASC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("player")?, r.try_get("rating")?)))
            .collect()
    }
}

fn submission_of(r: &AnyRow) -> Result<SubmissionRecord, StoreError> {
    Ok(SubmissionRecord {
        id: r.try_get("id")?,
        battle_id: r.try_get("battle_id")?,
        player: r.try_get("player")?,
        language: r.try_get("language")?,
        source: r.try_get("source")?,
        verdict: r.try_get("verdict")?,
        passed: r.try_get("passed")?,
        of_tests: r.try_get("of_tests")?,
        failed_test: r.try_get("failed_test")?,
        tests: r.try_get("tests")?,
        submitted_at: r.try_get("submitted_at")?,
        judged_at: r.try_get("judged_at")?,
    })
}

/// Insert a judged submission inside `tx` (a second copy of the same id changes
/// nothing).
pub(super) async fn insert_submission(
    tx: &mut Transaction<'static, Any>,
    s: &SubmissionRecord,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO submissions ({SUBMISSION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING"
    ))
    .bind(&s.id)
    .bind(&s.battle_id)
    .bind(&s.player)
    .bind(&s.language)
    .bind(&s.source)
    .bind(&s.verdict)
    .bind(s.passed)
    .bind(s.of_tests)
    .bind(s.failed_test)
    .bind(&s.tests)
    .bind(s.submitted_at)
    .bind(s.judged_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Record battle `battle_id`'s final `standings` and rate its players, inside `tx`
/// (the caller holds the event's applied_events row, so this runs once per battle).
/// The ratings read here are the committed ones of earlier battles (or this
/// transaction's own, for an earlier event of its batch); two battles of one player
/// applied at once serialize on the ratings rows (PostgreSQL, READ COMMITTED: the read
/// after the lock sees the other's commit) or on the database's write lock (SQLite).
pub(super) async fn record_standings(
    tx: &mut Transaction<'static, Any>,
    battle_id: &str,
    ended_at: i64,
    standings: &[StandingRecord],
) -> Result<(), StoreError> {
    // Create and lock every player's ratings row first, in player order: PostgreSQL
    // holds each row lock from this write to commit, so a concurrent battle of the same
    // players waits for ours, and a common order means two such battles cannot deadlock.
    let mut by_player: Vec<&str> = standings.iter().map(|s| s.player.as_str()).collect();
    by_player.sort_unstable();
    for p in by_player {
        sqlx::query(
            "INSERT INTO ratings (player, rating, games) VALUES ($1, $2, 0) \
             ON CONFLICT (player) DO UPDATE SET games = ratings.games",
        )
        .bind(p)
        .bind(START_RATING)
        .execute(&mut **tx)
        .await?;
    }
    let mut entrants = Vec::with_capacity(standings.len());
    for s in standings {
        sqlx::query(
            "INSERT INTO battle_standings \
             (battle_id, player, rank, solved, penalty_ms, attempts, solved_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (battle_id, player) DO NOTHING",
        )
        .bind(battle_id)
        .bind(&s.player)
        .bind(s.rank)
        .bind(s.solved)
        .bind(s.penalty_ms)
        .bind(s.attempts)
        .bind(s.solved_at_ms)
        .execute(&mut **tx)
        .await?;
        let rating: i64 = sqlx::query_scalar("SELECT rating FROM ratings WHERE player = $1")
            .bind(&s.player)
            .fetch_one(&mut **tx)
            .await?;
        entrants.push(Entrant {
            rating,
            rank: s.rank,
        });
    }
    let after = new_ratings(&entrants);
    for ((s, e), after) in standings.iter().zip(&entrants).zip(after) {
        sqlx::query("UPDATE ratings SET rating = $2, games = games + 1 WHERE player = $1")
            .bind(&s.player)
            .bind(after)
            .execute(&mut **tx)
            .await?;
        // The profile's copy (players.rating, from 0001) follows the ratings table.
        sqlx::query("UPDATE players SET rating = $2 WHERE id = $1")
            .bind(&s.player)
            .bind(after)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO rating_history (player, battle_id, before, after, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (player, battle_id) DO NOTHING",
        )
        .bind(&s.player)
        .bind(battle_id)
        .bind(e.rating)
        .bind(after)
        .bind(ended_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
