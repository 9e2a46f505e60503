//! Redis connections, key builders and Lua scripts.
//!
//! Commands go over one multiplexed [`ConnectionManager`] with a short response timeout
//! (it reconnects by itself after a Redis restart). Pub/sub for cross-instance rooms has
//! its own connections in `services::realtime::adapter`, never shared with commands.

pub mod keys;
pub mod script;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, IntoConnectionInfo, ProtocolVersion, RedisError};

/// Open a client for `url`, forcing RESP3 when `resp3` is set (pub/sub push messages need it).
pub fn client(url: &str, resp3: bool) -> Result<Client, RedisError> {
    let mut info = url.into_connection_info()?;
    if resp3 {
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        info = info.set_redis_settings(settings);
    }
    Client::open(info)
}

/// A command connection: reconnects with backoff, each command bounded by `timeout`.
///
/// Created lazily, so an instance can start while Redis is still down (`/ready` says so).
pub fn command_connection(url: &str, timeout: Duration) -> Result<ConnectionManager, RedisError> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(timeout))
        .set_connection_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client(url, false)?, config)
}

/// `PING` within `timeout`: is Redis reachable right now?
pub async fn ping(conn: &ConnectionManager, timeout: Duration) -> Result<(), RedisError> {
    let mut conn = conn.clone();
    match tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn)).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "PING timed out",
        ))),
    }
}
