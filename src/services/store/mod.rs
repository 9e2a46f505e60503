//! Durable records in SQL (sqlx): SQLite embedded by default, PostgreSQL by URL. Redis
//! holds the live state; this holds what must outlive it — players, battles and their
//! participants, judged submissions, final standings and Elo ratings — written by the
//! battle mode's outbox consumer (`modes/battle/outbox.rs`) exactly once per event (a
//! player's display name comes from their token when they connect: `player_name.rs`), and
//! read by the HTTP API when Redis no longer has a battle.
//!
//! One migration set serves both databases (`migrations/`): the SQL is the common subset
//! (TEXT, BIGINT, `ON CONFLICT`), so there is no second folder to keep in step. Queries
//! go through sqlx's `Any` driver with `$n` placeholders, which both drivers accept.

pub mod error;
pub mod player_name;
pub mod pool;
pub mod rating;
pub mod records;
pub mod results;
pub mod settings;

pub use error::StoreError;
pub use pool::Store;
pub use settings::{Backend, Settings};
