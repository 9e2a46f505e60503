//! The shared test harness: Redis servers, arena instances, clients, bounded waits, and
//! one file per game mode (as in `src/modes/`) with typed requests on the client
//! (`RoomsClient`, `BattleClient`, `HuntClient`) and that mode's other helpers.

pub mod app;
pub mod battle;
pub mod cluster;
pub mod demo;
pub mod hunt;
pub mod postgres;
pub mod records;
pub mod rooms;
pub mod serve;
pub mod tls;

pub use app::{Arena, Instance};
pub use arena::tools::redis_server::{RedisOptions, RedisServer};
pub use battle::BattleClient;
pub use hunt::HuntClient;
pub use rooms::RoomsClient;

use std::time::Duration;

use arena::tools::client::Client;
use serde_json::Value;

/// Start a Redis for one test (no persistence), with a clear panic if it cannot start.
pub fn redis() -> RedisServer {
    init_logs();
    RedisServer::start(RedisOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// A plain connection to the test's Redis at `url`, for reading or changing it beside
/// arena (`PUBSUB`, `CONFIG`, `CLIENT KILL`, ...).
pub async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap_or_else(|e| panic!("redis url {url}: {e}"))
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// Logs are silent unless `TEST_LOG=1`; the layer that counts drops of broadcasts from
/// other instances (`services::realtime::drops`) is always installed, as in the binary.
pub fn init_logs() {
    let log = std::env::var_os("TEST_LOG").is_some();
    arena::base::telemetry::init_with(log, arena::services::realtime::drops::layer());
}

/// Emit `event` with `payload` and return its ack; panic naming the event and payload if
/// no ack comes within `within`. The mode helpers (`RoomsClient`, ...) are built on it.
pub async fn ack(client: &Client, event: &str, payload: &Value, within: Duration) -> Value {
    client
        .emit_with_ack(event, payload, within)
        .await
        .unwrap_or_else(|e| {
            let shown = payload.to_string();
            panic!("no ack to {event} {shown:.200} within {within:?}: {e}")
        })
}

/// Poll `f` every 50 ms until it returns `Some`, or panic with `what` after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait up to 30 s for `GET /health` on `addr` (`host:port`) to answer 200; panic naming
/// `what` otherwise. For arena processes started by a test.
pub async fn wait_healthy(addr: &str, what: &str) {
    eventually(Duration::from_secs(30), what, || async move {
        matches!(
            arena::tools::http_client::http_get(addr, "/health").await,
            Ok((200, _))
        )
        .then_some(())
    })
    .await;
}

/// `n` consecutive free ports (for `arena demo --port`): the first one.
pub fn free_port_pair_n(n: u16) -> u16 {
    for _ in 0..200 {
        let p = 20_000 + (rand::random::<u16>() % 40_000);
        let all: Vec<_> = (0..n)
            .map(|i| std::net::TcpListener::bind(("127.0.0.1", p + i)))
            .collect();
        if all.iter().all(Result::is_ok) {
            return p;
        }
    }
    panic!("no {n} consecutive free ports found");
}
