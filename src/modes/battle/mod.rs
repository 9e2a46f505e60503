//! Coding battles. A battle is created exactly once per pairing on any instance
//! (`store`), fought on a problem from the bank (`problem`), timed on Redis's clock with
//! a countdown, pauses while the judge is down and an end when time is up (`clock`,
//! `deadline`). Players submit (`events::submit` -> `submission`); the judge's per-test
//! verdicts stream to the battle room as they come (`judging`, `broadcast`); each final
//! verdict is recorded once with the ICPC standings and, when it decides the battle, the
//! end (`lua/submission_final.lua`, `standing`). Players may forfeit, and forfeit by
//! staying away (`presence`). Every change appends an event to an outbox stream in the
//! same Lua step, and each instance's consumer (`outbox`) applies those events to the SQL
//! records exactly once; the HTTP API reads the records when Redis no longer has a
//! battle, and serves players' histories. Every Lua step runs through `durability::Steps`: with
//! `BATTLE_DURABILITY=replica` it also waits for a replica and says `durable`.

mod admin;
mod broadcast;
mod clock;
mod deadline;
mod durability;
mod error;
mod events;
mod http;
mod judging;
pub mod keys;
mod matchmaking;
mod metrics;
mod mode;
mod outbox;
mod outbox_entry;
mod pairing;
mod payload;
mod presence;
mod problem;
mod rating_board;
mod record_view;
mod rooms;
mod settings;
pub mod standing;
mod state;
mod store;
mod submission;
mod view;

pub use mode::build;
pub use settings::{Durability, Settings};
