//! The records: players, battles and their participants, and the applied-events ledger
//! that makes applying an outbox event idempotent. A battle's `ended` event with final
//! standings also records them and rates its players (`results.rs`), in the same
//! transaction, so a redelivered `ended` event moves no rating twice.
//!
//! Applying an event is one transaction: first the ledger row (its key unique; an event
//! already applied stops here and changes nothing), then the upserts. The first
//! statement writes, so on SQLite the transaction takes the write lock at once (a
//! transaction that read first could fail to upgrade under a concurrent writer). The
//! upserts are also order-free: a battle's `ended` event applied before its `created`
//! one (two consumers, one partition) leaves the same rows as the other order.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::error::StoreError;
use super::pool::Store;
use super::rating::START_RATING;
use super::results::{StandingRecord, SubmissionRecord, insert_submission, record_standings};
use crate::base::clock::unix_ms;

/// A battle's lifecycle state in the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BattleState {
    Active,
    Ended,
}

impl BattleState {
    pub fn as_str(self) -> &'static str {
        match self {
            BattleState::Active => "active",
            BattleState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(BattleState::Active),
            "ended" => Some(BattleState::Ended),
            _ => None,
        }
    }
}

/// A battle as the records hold it (times in ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BattleRecord {
    pub id: String,
    pub pairing: String,
    pub state: BattleState,
    pub created_at: i64,
    pub ended_at: Option<i64>,
    pub winner: Option<String>,
    pub created_by: String,
    /// Sorted player ids.
    pub players: Vec<String>,
}

/// A player's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerRecord {
    pub id: String,
    pub display_name: String,
    pub rating: i64,
    pub created_at: i64,
    pub battles_played: i64,
    pub wins: i64,
}

/// What a coding battle's record adds (all absent in records written before coding
/// battles).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BattleDetails {
    pub problem_id: Option<String>,
    /// Why it ended: `solved`, `time`, `forfeit`, `disconnect`, `ended`.
    pub reason: Option<String>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    /// The final standings (an `ended` event of a coding battle): recorded and rated.
    pub standings: Option<Vec<StandingRecord>>,
}

/// What an outbox event changes.
#[derive(Debug, Clone)]
pub enum Change {
    /// A battle as it stands after the event (`created`, `ended`).
    Battle {
        battle: BattleRecord,
        details: BattleDetails,
    },
    /// A judged submission (`submission`).
    Submission(SubmissionRecord),
}

/// One outbox event to apply: its unique key, where it came from, and what it changes.
#[derive(Debug, Clone)]
pub struct BattleEvent {
    /// Unique per event, e.g. `<battleId>:created`, `<submissionId>:judged`.
    pub key: String,
    pub stream: String,
    pub stream_id: String,
    pub change: Change,
}

impl Store {
    /// Apply `events` in one transaction; for each, whether it was applied now (`false`:
    /// applied before). All or nothing: on an error none of them is applied.
    pub async fn apply_battle_events(
        &self,
        events: &[BattleEvent],
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut applied = Vec::with_capacity(events.len());
        for e in events {
            applied.push(apply(&mut tx, e).await?);
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// The battle `id`, if the records have it.
    pub async fn battle(&self, id: &str) -> Result<Option<BattleRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, pairing, state, created_at, ended_at, winner, created_by \
             FROM battles WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut b = battle_of(&row)?;
        let players = sqlx::query_scalar::<_, String>(
            "SELECT player_id FROM battle_participants WHERE battle_id = $1 ORDER BY player_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        b.players = players;
        Ok(Some(b))
    }

    /// What the records hold of battle `id`'s problem, clock and end (standings are
    /// read with `standings_of`); all `None` for an unknown battle.
    pub async fn battle_details(&self, id: &str) -> Result<BattleDetails, StoreError> {
        let row =
            sqlx::query("SELECT problem_id, reason, starts_at, ends_at FROM battles WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some(r) = row else {
            return Ok(BattleDetails::default());
        };
        Ok(BattleDetails {
            problem_id: r.try_get("problem_id")?,
            reason: r.try_get("reason")?,
            starts_at: r.try_get("starts_at")?,
            ends_at: r.try_get("ends_at")?,
            standings: None,
        })
    }

    /// The player `id`, if the records have it.
    pub async fn player(&self, id: &str) -> Result<Option<PlayerRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, display_name, rating, created_at, battles_played, wins \
             FROM players WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(PlayerRecord {
                id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
                rating: r.try_get("rating")?,
                created_at: r.try_get("created_at")?,
                battles_played: r.try_get("battles_played")?,
                wins: r.try_get("wins")?,
            })
        })
        .transpose()
    }

    /// The `limit` newest battles of player `id`, newest first, with their players.
    pub async fn player_battles(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<BattleRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT b.id, b.pairing, b.state, b.created_at, b.ended_at, b.winner, b.created_by \
             FROM battles b JOIN battle_participants p ON p.battle_id = b.id \
             WHERE p.player_id = $1 ORDER BY b.created_at DESC, b.id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut battles = rows.iter().map(battle_of).collect::<Result<Vec<_>, _>>()?;
        for b in &mut battles {
            b.players = sqlx::query_scalar::<_, String>(
                "SELECT player_id FROM battle_participants WHERE battle_id = $1 ORDER BY player_id",
            )
            .bind(&b.id)
            .fetch_all(self.pool())
            .await?;
        }
        Ok(battles)
    }
}

fn battle_of(r: &AnyRow) -> Result<BattleRecord, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(BattleRecord {
        id: r.try_get("id")?,
        pairing: r.try_get("pairing")?,
        state: BattleState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("battle state {state:?}")))?,
        created_at: r.try_get("created_at")?,
        ended_at: r.try_get("ended_at")?,
        winner: r.try_get("winner")?,
        created_by: r.try_get("created_by")?,
        players: Vec::new(),
    })
}

/// Apply one event inside `tx`; `false` if its key was applied before.
async fn apply(tx: &mut Transaction<'static, Any>, e: &BattleEvent) -> Result<bool, StoreError> {
    let fresh = sqlx::query(
        "INSERT INTO applied_events (event_key, stream, stream_id, applied_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(&e.key)
    .bind(&e.stream)
    .bind(&e.stream_id)
    .bind(unix_ms() as i64)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if fresh == 0 {
        return Ok(false);
    }
    match &e.change {
        Change::Battle { battle, details } => apply_battle(tx, battle, details).await?,
        Change::Submission(s) => insert_submission(tx, s).await?,
    }
    Ok(true)
}

/// Apply a battle's change inside `tx` (its ledger row is written).
async fn apply_battle(
    tx: &mut Transaction<'static, Any>,
    b: &BattleRecord,
    d: &BattleDetails,
) -> Result<(), StoreError> {
    for p in &b.players {
        sqlx::query(
            "INSERT INTO players (id, display_name, rating, created_at) \
             VALUES ($1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(p)
        .bind(START_RATING)
        .bind(b.created_at)
        .execute(&mut **tx)
        .await?;
    }
    // Insert, or move an active row to ended; an ended row never goes back. The problem
    // and the clock are fixed at creation: the end keeps what `created` wrote, and fills
    // them in when it comes first.
    let changed = sqlx::query(
        "INSERT INTO battles (id, pairing, state, created_at, ended_at, winner, created_by, \
         problem_id, reason, starts_at, ends_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, ended_at = excluded.ended_at, \
         winner = excluded.winner, reason = excluded.reason, \
         problem_id = COALESCE(battles.problem_id, excluded.problem_id), \
         starts_at = COALESCE(battles.starts_at, excluded.starts_at), \
         ends_at = COALESCE(battles.ends_at, excluded.ends_at) \
         WHERE battles.state = 'active' AND excluded.state = 'ended'",
    )
    .bind(&b.id)
    .bind(&b.pairing)
    .bind(b.state.as_str())
    .bind(b.created_at)
    .bind(b.ended_at)
    .bind(&b.winner)
    .bind(&b.created_by)
    .bind(&d.problem_id)
    .bind(&d.reason)
    .bind(d.starts_at)
    .bind(d.ends_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    for p in &b.players {
        let joined = sqlx::query(
            "INSERT INTO battle_participants (battle_id, player_id) VALUES ($1, $2) \
             ON CONFLICT (battle_id, player_id) DO NOTHING",
        )
        .bind(&b.id)
        .bind(p)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if joined == 1 {
            sqlx::query("UPDATE players SET battles_played = battles_played + 1 WHERE id = $1")
                .bind(p)
                .execute(&mut **tx)
                .await?;
        }
    }
    if changed == 1
        && b.state == BattleState::Ended
        && let Some(w) = &b.winner
    {
        sqlx::query("UPDATE players SET wins = wins + 1 WHERE id = $1")
            .bind(w)
            .execute(&mut **tx)
            .await?;
    }
    if b.state == BattleState::Ended
        && let Some(standings) = &d.standings
    {
        // Under the `ended` event's ledger row: once per battle, whatever the order.
        let ended_at = b.ended_at.unwrap_or(b.created_at);
        record_standings(tx, &b.id, ended_at, standings).await?;
    }
    Ok(())
}
