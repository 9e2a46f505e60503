//! # arena
//!
//! A real-time competition server that scales out over Redis: several `arena` processes
//! share one Redis; every client on every instance sees the same rooms and ticks.
//!
//! # Layout
//! - `config`: typed, validated settings of one instance.
//! - `app`: builds an instance as a value (`App::build`, `local_addr`, `run`).
//! - `realtime`: the Socket.IO gateway — `protocol` (wire payloads, parsers),
//!   `handlers` (events), `adapter` (cross-instance rooms over Redis pub/sub), `probe`.
//! - `tick`: leader-elected ticks, at most one winner per interval.
//! - `battle`: duplicate-free battles (idempotency key + fenced commit, one Lua step).
//! - `warmup`: start-up seeding, at most once per minute across all instances.
//! - `lock`: Redlock over N masters — leases with renewal and a lost-lease signal,
//!   fencing tokens and fenced writes.
//! - `hunt`: the treasure hunt — leader-elected maps, exactly-once claims (one Lua CAS +
//!   XADD), a partitioned claim log and its idempotent leaderboard projection.
//! - `limiter`: rate limits shared by all instances (GCRA in Lua).
//! - `redis`: connections, key builders (`keys`), Lua scripts (`scripts`, `lua/`).
//! - `http`: `/health`, `/ready`, `/status`, `/metrics` and the UI.
//! - `metrics`: every metric name, one registry per instance.
//! - `launcher`: `arena demo` — a managed Redis and N instances, restarted on crash.
//! - `redis_server`: start and stop a `redis-server` process (demo and tests).
//! - `client`: a small Socket.IO v4 client (tests and `arena bench`).
//! - `bench`: `arena bench`, the load generator.
//!
//! # Follow an attack
//! A client emits `attack {room, damage}` -> `realtime::handlers::attack` parses it with
//! `protocol::Attack::parse` (bad input -> error ack), checks membership, and calls
//! `within(room).emit`, which publishes through `realtime::adapter::ReconnectingDriver`;
//! every other instance receives it from Redis and emits to its local members.
//! The sender gets `{ok:true}`; `arena_attacks_total` counts it once, on its instance.

pub mod app;
pub mod battle;
pub mod bench;
pub mod client;
pub mod config;
pub mod error;
pub mod http;
pub mod hunt;
pub mod launcher;
pub mod limiter;
pub mod lock;
pub mod metrics;
pub mod process;
pub mod realtime;
pub mod redis;
pub mod redis_server;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod tick;
pub mod warmup;
