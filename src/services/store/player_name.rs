//! A player's display name in the records: the `name` claim of their token, written when
//! they connect.
//!
//! The outbox creates a player's row from battle events, which carry ids only (a name is
//! not battle state, and a battle may start with a player who is not connected). So the
//! name takes its own, simpler path: an idempotent upsert per connection, which the next
//! connection simply repeats if this one failed. It creates the row of a player who has
//! not played yet, so a profile shows the name from the start.

use super::error::StoreError;
use super::pool::Store;
use super::rating::START_RATING;
use crate::base::ids::{DisplayName, PlayerId};

impl Store {
    /// Create `player`'s row with `name`, or rename it. `Ok(true)` when a row was
    /// written (`false`: it already had that name, nothing changed).
    pub async fn name_player(
        &self,
        player: &PlayerId,
        name: &DisplayName,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let written = sqlx::query(
            "INSERT INTO players (id, display_name, rating, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name \
             WHERE players.display_name <> excluded.display_name",
        )
        .bind(player.as_str())
        .bind(name.as_str())
        .bind(START_RATING)
        .bind(now_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(written > 0)
    }
}
