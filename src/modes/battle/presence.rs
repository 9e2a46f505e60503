//! Whether a player is still connected anywhere, for the disconnect forfeit: a battle
//! player whose last socket closed and who is not back within
//! `BATTLE_DISCONNECT_GRACE_MS` forfeits (reason `disconnect`).
//!
//! Presence is a hash per player, `arena:presence:<player>`: instance id -> open
//! sockets, counted up on connect and down on disconnect by the instance that has them.
//! An instance that dies leaves its count behind, which reads as "still connected": that
//! errs toward no forfeit (the battle's clock still ends it), never toward a false one.
//! The hash expires a day after the player's last connect.

use std::time::Duration;

use redis::AsyncCommands;
use crate::redis::Conn;
use redis::RedisError;

use super::broadcast;
use super::state::Battles;
use super::store::{self, Ending};
use crate::services::realtime::{Socket, player_of};

const PRESENCE_TTL_S: i64 = 24 * 3600;

fn key(player: &str) -> String {
    format!("arena:presence:{player}")
}

/// One more socket of `player` on this instance.
pub async fn connected(conn: &mut Conn, instance: &str, player: &str) -> Result<(), RedisError> {
    let k = key(player);
    redis::pipe()
        .hincr(&k, instance, 1)
        .ignore()
        .expire(&k, PRESENCE_TTL_S)
        .ignore()
        .query_async(conn)
        .await
}

/// One socket fewer.
pub async fn disconnected(conn: &mut Conn, instance: &str, player: &str) -> Result<(), RedisError> {
    conn.hincr(key(player), instance, -1).await
}

/// Open sockets of `player` across the fleet.
pub async fn sockets(conn: &mut Conn, player: &str) -> Result<i64, RedisError> {
    let counts: Vec<i64> = conn.hvals(key(player)).await?;
    Ok(counts.into_iter().filter(|n| *n > 0).sum())
}

/// A socket closed: count it, and for each battle it was in, forfeit the player if they
/// are gone from every instance once the grace period is over.
pub fn left(b: &Battles, s: &Socket) {
    let player = player_of(s).as_str().to_string();
    let battles: Vec<String> = s
        .rooms()
        .into_iter()
        .filter_map(|r| r.strip_prefix("battle:").map(str::to_string))
        .collect();
    let b = b.clone();
    tokio::spawn(async move {
        let mut conn = b.ctx.app.redis.clone();
        if let Err(e) = disconnected(&mut conn, &b.ctx.app.instance_id, &player).await {
            tracing::warn!(error = %e, "presence not counted down");
        }
        if battles.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(b.settings.battle_disconnect_grace_ms)).await;
        match sockets(&mut conn, &player).await {
            Ok(0) => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "presence unknown: no disconnect forfeit");
                return;
            }
        }
        for id in battles {
            let how = Ending::Forfeit {
                player: &player,
                disconnect: true,
            };
            // An error: already over, or not a player's battle (a spectator).
            if let Ok((ended, durable)) = store::end(&b, &id, how).await {
                broadcast::ending(&b, &ended, durable).await;
            }
        }
    });
}
