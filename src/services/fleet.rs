//! The fleet registry: every instance writes a heartbeat record into Redis every
//! [`BEAT`], and anyone can list the live ones. An instance silent for longer than
//! [`SILENT_AFTER`] is dropped from the list (its record also expires on its own).
//! Scores are Redis's clock (`TIME`), so hosts whose clocks differ agree on "silent".

use std::time::Duration;

use crate::redis::Conn;
use redis::{AsyncCommands, RedisError};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::realtime::Io;
use super::state::AppState;
use crate::base::shutdown::sleep_unless_cancelled;
use crate::redis::keys::{FLEET_INDEX, fleet_member};

/// How often an instance writes its record.
pub const BEAT: Duration = Duration::from_secs(2);
/// An instance not heard from for this long is gone from the list.
pub const SILENT_AFTER: Duration = Duration::from_secs(10);

/// One instance as it last described itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub id: String,
    /// `instance` (arena serve) or `judge`.
    pub kind: String,
    pub version: String,
    /// Where its HTTP port answers.
    pub address: String,
    pub pid: u32,
    /// Unix ms of its start.
    pub started_at: u64,
    pub clients: i64,
    pub rooms: u64,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Its Socket.IO server id (socketioxide's `server_id`), which cross-instance socket
    /// lookups report: the admin view maps a remote socket to its instance by it. Empty
    /// for members without sockets (judges).
    #[serde(default)]
    pub socket_server: String,
    /// A judge's job slots (`JUDGE_CONCURRENCY`) and how many are busy; 0 for instances.
    #[serde(default)]
    pub concurrency: u32,
    #[serde(default)]
    pub jobs_running: u32,
    /// Redis time (Unix ms) of this heartbeat; filled in on write.
    #[serde(default)]
    pub last_seen: u64,
}

/// Redis's clock in Unix milliseconds.
async fn redis_now_ms(conn: &mut Conn) -> Result<u64, RedisError> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(conn).await?;
    Ok(secs * 1000 + micros / 1000)
}

/// Write one heartbeat: the record (expiring after [`SILENT_AFTER`]) and its index entry.
pub async fn beat(conn: &mut Conn, member: &Member) -> Result<(), RedisError> {
    let now = redis_now_ms(conn).await?;
    let mut m = member.clone();
    m.last_seen = now;
    let json = serde_json::to_string(&m)
        .map_err(|e| RedisError::from((redis::ErrorKind::Client, "fleet record", e.to_string())))?;
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(fleet_member(&m.id))
        .arg(json)
        .arg("PX")
        .arg(SILENT_AFTER.as_millis() as u64)
        .ignore()
        .zadd(FLEET_INDEX, &m.id, now)
        .ignore()
        .query_async::<()>(conn)
        .await
}

/// The live members, oldest start first. Silent ones are pruned from the index; a
/// record that does not parse is an error (counted by the caller), never skipped.
pub async fn list(conn: &mut Conn) -> Result<Vec<Member>, RedisError> {
    let now = redis_now_ms(conn).await?;
    let horizon = now.saturating_sub(SILENT_AFTER.as_millis() as u64);
    let _: i64 = conn
        .zrembyscore(FLEET_INDEX, "-inf", format!("({horizon}"))
        .await?;
    let ids: Vec<String> = conn.zrange(FLEET_INDEX, 0, -1).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = ids.iter().map(|id| fleet_member(id)).collect();
    let raw: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(conn).await?;
    let mut out = Vec::new();
    for r in raw.into_iter().flatten() {
        let m: Member = serde_json::from_str(&r).map_err(|e| {
            RedisError::from((
                redis::ErrorKind::UnexpectedReturnType,
                "corrupt fleet record",
                e.to_string(),
            ))
        })?;
        out.push(m);
    }
    out.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    Ok(out)
}

/// This instance as the fleet sees it now.
async fn describe(app: &AppState, io: &Io, address: &str) -> Member {
    // Rooms with a member here, not counting the personal `player:*` rooms.
    let rooms = match io.local().rooms().await {
        Ok(rooms) => rooms.iter().filter(|r| !r.starts_with("player:")).count() as u64,
        Err(_) => 0,
    };
    let usage = crate::base::process::usage();
    let started_at =
        crate::base::clock::unix_ms().saturating_sub(app.started.elapsed().as_millis() as u64);
    Member {
        id: app.instance_id.to_string(),
        kind: "instance".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        address: address.to_string(),
        pid: std::process::id(),
        started_at,
        clients: app.metrics.connected(),
        rooms,
        cpu_seconds: usage.cpu_seconds,
        rss_bytes: usage.rss_bytes,
        socket_server: io.config().server_id.to_string(),
        concurrency: 0,
        jobs_running: 0,
        last_seen: 0,
    }
}

/// Heartbeat until `shutdown`, then remove this instance from the index at once (a
/// stopped instance leaves the list without waiting out the silence bound).
pub async fn run(app: AppState, io: Io, address: String, shutdown: CancellationToken) {
    let mut conn = app.redis.clone();
    loop {
        let member = describe(&app, &io, &address).await;
        if let Err(e) = beat(&mut conn, &member).await {
            tracing::debug!(error = %e, "fleet heartbeat failed; next one in {BEAT:?}");
        }
        if !sleep_unless_cancelled(BEAT, &shutdown).await {
            break;
        }
    }
    let _: Result<(), RedisError> = leave(&mut conn, &app.instance_id).await;
}

/// Take a member out of the list at once (a clean stop), without waiting out
/// [`SILENT_AFTER`].
pub async fn leave(conn: &mut Conn, id: &str) -> Result<(), RedisError> {
    redis::pipe()
        .zrem(FLEET_INDEX, id)
        .ignore()
        .del(fleet_member(id))
        .ignore()
        .query_async(conn)
        .await
}
