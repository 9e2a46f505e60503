//! `claim {mapId, tile}`: ack `{ok:true, value}` or an error; on success `tile_claimed`
//! goes to the room `hunt` on every instance, built from the claim script's reply. With
//! `CLAIM_DURABILITY=replica` the ack also says `durable: true|false`.

use serde_json::Value;

use super::claim::{self, ClaimAck};
use super::payload::ROOM;
use super::state::Hunt;
use crate::base::error::AckError;
use crate::services::realtime::outcome;
use crate::services::realtime::{Socket, player_of};

pub async fn claim(
    hunt: Hunt,
    s: Socket,
    v: Result<Value, AckError>,
) -> Result<ClaimAck, AckError> {
    let claim::Claimed { delta, durable } = claim::handle(&hunt, &player_of(&s), v).await?;
    let ack = ClaimAck {
        value: delta.value,
        durable,
    };
    // Every member of the room on every instance, the claimer included if it is one. The
    // claim happened whatever the broadcast does, so its failure does not fail the ack,
    // and the ack does not wait for it: on a Redis adapter the broadcast is a PUBLISH, a
    // second round trip that doubled a successful claim's ack time under load (measured
    // in BENCHMARKS.md). A client may therefore see `tile_claimed` before or after its ack.
    tokio::spawn(async move {
        let sent = s.within(ROOM).emit("tile_claimed", &delta).await;
        let _ = outcome::broadcast(&hunt.ctx.app.metrics, "tile_claimed", sent);
    });
    Ok(ack)
}
