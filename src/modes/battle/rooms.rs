//! The rooms a battle uses: the battle's own, and each player's personal room, which
//! every socket of the player joins on connect (server-managed, so a battle can pull a
//! player's sockets in from any instance).

/// The room of a battle.
pub fn room(battle_id: &str) -> String {
    format!("battle:{battle_id}")
}

/// The personal room every socket of a player joins on connect (server-managed).
pub fn player_room(player: &str) -> String {
    format!("player:{player}")
}
