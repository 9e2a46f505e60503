//! # arena
//!
//! A real-time competition server that scales out over Redis: several `arena` processes
//! share one Redis; every client on every instance sees the same rooms, ticks, battles
//! and treasure hunt.
//!
//! # Layout
//! Six layers; a module only uses its own layer and the ones below it (a test in
//! `tests/layers.rs` keeps it so, and keeps the module graph free of cycles):
//! - `edge`: the instance's wiring (`app`), its whole config, the Socket.IO namespace
//!   (`socket`) and the HTTP router (`http`). `tools` sits beside it: `arena demo`,
//!   `arena bench` and the clients they use. `main.rs` is the binary over both.
//! - `judge`: the `arena judge` process (its own binary mode): the sandbox, the
//!   languages, verdicts, the queue worker and its HTTP API. Only `main.rs` uses it.
//! - `modes`: one folder per game mode — `rooms` (rooms, attacks, ticks), `battle`,
//!   `hunt` (the treasure hunt), `workers` (warm-up and the shared counter). Each owns its
//!   events, payloads, routes, scripts, keys, metrics, settings and tasks.
//! - `services`: what modes share — `state`, `settings`, `lock` (Redlock), `limiter`,
//!   `period` (the leader-per-period runner), `metrics`, `realtime` (the Socket.IO
//!   adapter and the handler wrapper), `mode` (the contract a mode implements) and
//!   `judge` (submissions, the judge queue, the execution backends, the shared breaker).
//! - `redis`: connections, the shared keys and the hash-tag rule, the script helper.
//! - `base`: ids, the clock, the error envelope, config errors, process facts, logs,
//!   the shutdown signal.
//!
//! # Follow a claim
//! A client emits `claim {mapId, tile}` -> `services::realtime::events::Event::on`
//! parses the payload and calls `modes::hunt::events::claim` -> `modes::hunt::claim::handle`
//! (`ClaimReq::parse`) ->
//! `modes::hunt::scripts::claim` runs `modes/hunt/lua/claim.lua` (rate limit, validate, set the
//! owner, XADD to the partition stream: one atomic step) -> the wrapper acks
//! `{ok:true, value}` and the handler emits `tile_claimed` to the room `hunt`, which
//! `services::realtime::adapter` carries to every other instance -> in the background
//! `modes::hunt::projection` reads the stream and applies each claim once to the
//! leaderboard -> `modes::hunt::board` broadcasts the top 10 every 500 ms from the one
//! instance that wins that period (`services::period`). ARCHITECTURE.md walks it file
//! by file.

pub mod base;
pub mod edge;
pub mod judge;
pub mod modes;
pub mod redis;
pub mod services;
pub mod tools;
