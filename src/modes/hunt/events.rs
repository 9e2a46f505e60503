//! `claim {mapId, tile}`: ack `{ok:true, value}` or an error. On success the claim script
//! itself has published `tile_claimed` on the partition's shard channel, which every
//! instance delivers to its members of the room `hunt` (`broadcast.rs`). With
//! `CLAIM_DURABILITY=replica` the ack also says `durable: true|false`.

use serde_json::Value;

use super::claim::{self, ClaimAck};
use super::state::Hunt;
use crate::base::error::AckError;
use crate::services::realtime::{Socket, player_of};

pub async fn claim(
    hunt: Hunt,
    s: Socket,
    v: Result<Value, AckError>,
) -> Result<ClaimAck, AckError> {
    // The broadcast left with the claim (one round trip); a client may see its
    // `tile_claimed` before or after its ack.
    claim::handle(&hunt, &player_of(&s), v).await
}
