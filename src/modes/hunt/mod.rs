//! The treasure hunt: a leader-elected generator emits an immutable map every `map_ms`
//! (`map`); players claim tiles exactly once through one Lua compare-and-set that also
//! appends the claim to a partitioned Redis Stream (`claim`); a consumer group projects
//! the log into leaderboards, idempotently (`projection`); `board` reads, broadcasts and
//! rebuilds them.
//!
//! Follow a claim: `events::claim` -> `claim::handle` (parse, rate limit) ->
//! `scripts::claim` (`lua/claim.lua`: validate, HSET owner, XADD, SPUBLISH of
//! `tile_claimed` on the partition's shard channel, one atomic step) -> the ack (with
//! `CLAIM_DURABILITY=replica` the script and a `WAIT 1` first, `durability`); every
//! instance's `broadcast` emits the published `tile_claimed` to its members of `hunt`;
//! `projection`
//! (XREADGROUP, `lua/leaderboard_apply.lua`, XACK) -> `board` (top N every 500 ms).

mod admin;
pub mod board;
mod broadcast;
pub mod claim;
mod durability;
mod events;
mod http;
pub mod keys;
mod lanes;
pub mod map;
mod metrics;
mod mode;
mod payload;
pub mod projection;
pub mod scripts;
mod settings;
mod state;

pub use mode::build;
pub use settings::{Durability, PARTITIONS, STREAM_MAXLEN, Settings};
