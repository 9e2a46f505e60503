//! `start_battle` and `end_battle`, and the announcement both the socket and the HTTP
//! start use.

use super::payload::{BattleIdAck, BattleIdReq, BattleStarted, StartBattleAck, StartBattleReq};
use super::store::{self, Started};
use super::rooms::{player_room, room};
use super::state::Battles;
use crate::base::error::AckError;
use crate::services::realtime::{Io, Socket, player_of};

/// `start_battle {players}`: ack `{ok, battleId, created}`. Every asker gets
/// `battle_started`; when this call created the battle, the players' sockets (on any
/// instance) join the battle room and get it there.
pub async fn start_battle(
    b: Battles,
    s: Socket,
    req: Result<StartBattleReq, AckError>,
) -> Result<StartBattleAck, AckError> {
    let req = req.map_err(|e| {
        AckError::bad_request(format!("expected {{players: [ids]}}: {}", e.message))
    })?;
    let started = store::start(&b, &req.players).await?;
    announce(&b.ctx.io, &started, Some(&s)).await;
    Ok(StartBattleAck::from(&started))
}

/// Tell the players (and the asker) that a battle started; on creation, pull every
/// player's sockets into the battle room first.
pub async fn announce(io: &Io, started: &Started, asker: Option<&Socket>) {
    let b = &started.battle;
    let event = BattleStarted {
        battle_id: b.battle_id.clone(),
        players: b.players.clone(),
    };
    let room = room(&b.battle_id);
    let asker_is_player =
        asker.is_some_and(|s| b.players.iter().any(|x| x == player_of(s).as_str()));
    if started.created {
        let players: Vec<String> = b.players.iter().map(|p| player_room(p)).collect();
        if let Err(e) = io.within(players).join(room.clone()).await {
            tracing::warn!(error = %e, "could not add players to the battle room");
        }
        if let Err(e) = io.within(room).emit("battle_started", &event).await {
            tracing::warn!(error = %e, "battle_started broadcast failed");
        }
    }
    // The asker always hears back once: from the room above, or directly.
    if let Some(s) = asker
        && !(started.created && asker_is_player)
    {
        let _ = s.emit("battle_started", &event);
    }
}

/// `end_battle {battleId, winner?}`: ack `{ok, battleId}`; `battle_ended` to the battle
/// room. Only the battle's players may end it (`forbidden` for anyone else); spectators
/// watch. `winner`, if given, must be one of them.
pub async fn end_battle(
    b: Battles,
    s: Socket,
    req: Result<BattleIdReq, AckError>,
) -> Result<BattleIdAck, AckError> {
    let req = req.map_err(|e| AckError::bad_request(format!("expected {{battleId}}: {}", e.message)))?;
    // A battle's players never change, so checking before the end cannot be raced.
    let me = player_of(&s);
    let battle = store::get(&b, &req.battle_id).await?;
    if !battle.players.iter().any(|p| p == me.as_str()) {
        return Err(b
            .ctx
            .app
            .auth
            .refuse(format!(
                "only the battle's players may end it; {} is not one of them",
                me.as_str()
            ))
            .into());
    }
    let battle = store::end(&b, &req.battle_id, req.winner.as_deref()).await?;
    if let Err(e) = s.within(room(&battle.battle_id)).emit("battle_ended", &battle).await {
        tracing::warn!(error = %e, "battle_ended broadcast failed");
    }
    Ok(BattleIdAck {
        battle_id: battle.battle_id,
    })
}
