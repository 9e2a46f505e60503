//! `tile_claimed` to this instance's members of the room `hunt`.
//!
//! `claim.lua` SPUBLISHes every successful claim on its partition's shard channel
//! (`keys::hunt_claimed`) in the claim's own step: `<stream entry id>\n<the event's JSON>`.
//! Every instance holds an SSUBSCRIBE of every partition's channel (`shard_subscriber`,
//! which keeps them on the right master through failovers and slot moves), and this task
//! emits what arrives to the local members, the JSON as the script built it: checked, never
//! parsed into a value or serialized again.
//!
//! Why not the namespace adapter (`s.within("hunt").emit(..)`), as before: that was a second
//! round trip per claim (a PUBLISH after the script), a MessagePack encode on the claiming
//! instance and a decode on every other, all on the one namespace channel. Measured on a
//! 2-core host it was ~28 µs of server CPU of a successful claim's ~108 (BENCHMARKS.md).
//! And a claim's broadcast could be lost between the script and the PUBLISH; now a claim is
//! published if and only if it happened.
//!
//! Missed events: when a channel stops receiving (its connection broke, Redis dropped it),
//! the subscriber says so in the queue, behind every message the channel got; this task
//! notes the last claim it delivered from that partition and holds the partition's live
//! messages from then on. When the channel is subscribed again, the partition is caught
//! up from its claim stream: every entry after the noted one (at most [`CATCH_UP_MAX`]),
//! in order, which covers both what was published while nobody here listened and what was
//! held; then live delivery resumes, skipping what the catch-up sent. So each claim
//! reaches a member here once, in its partition's order. A partition not heard from since
//! this instance subscribed resumes from where its stream stood then. A message lost to a
//! full queue (this task behind a burst) counts as a loss of its channel: the subscriber
//! drops the channel's later messages too until a catch-up notice fits, and the catch-up
//! starts at the last claim delivered. A catch-up goes to each member in a lane of its own
//! (`lanes`), each claim when the member's queue has room: one broadcast per claim would
//! cut a burst longer than a client's queue short for every member, and waiting here for
//! each member would hold every member's live claims behind the slowest reader.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use serde_json::value::RawValue;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::keys;
use super::lanes::{Batch, Lanes};
use super::payload::{ROOM, TileClaimed};
use super::projection::ClaimEntry;
use super::state::Hunt;
use crate::redis::entry_id::EntryId;
use crate::services::realtime::outcome;
use crate::services::realtime::shard_subscriber::{Incoming, ShardSubscriber};

/// The event clients get.
pub const EVENT: &str = "tile_claimed";
/// Most entries one catch-up reads from a partition's stream.
pub const CATCH_UP_MAX: usize = 10_000;
/// How long a member's catch-up waits for its full queue to take a claim before the
/// member is left behind.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(5);

/// One message of a `claimed` channel: its partition, its claim's entry id, the JSON.
#[derive(Debug)]
pub struct Claimed {
    pub partition: u32,
    pub id: EntryId,
    pub json: Box<RawValue>,
}

/// Parse a `claimed` channel's message; anything else is not ours.
pub fn parse_message(chan: &str, payload: &[u8]) -> Option<Claimed> {
    let partition = keys::partition_of_claimed(chan)?;
    let text = std::str::from_utf8(payload).ok()?;
    let (id, json) = text.split_once('\n')?;
    let json: Box<RawValue> = serde_json::from_str(json).ok()?;
    json.get().starts_with('{').then_some(Claimed {
        partition,
        id: EntryId::parse(id)?,
        json,
    })
}

/// Start the subscriber and the delivery task.
pub fn spawn(hunt: &Hunt, tasks: &TaskTracker, shutdown: &CancellationToken) {
    let app = &hunt.ctx.app;
    let (tx, rx) = mpsc::channel(app.settings.pubsub_buffer.max(1));
    let sub = Arc::new(ShardSubscriber::new(
        app.redis_endpoint.clone(),
        Duration::from_millis(app.settings.redis_timeout_ms),
        &app.metrics,
        hunt.metrics.channels.clone(),
        parse_message,
        tx,
    ));
    tasks.spawn(sub.clone().run(shutdown.clone()));
    tasks.spawn(deliver(hunt.clone(), sub, rx, shutdown.clone()));
}

async fn deliver(
    hunt: Hunt,
    sub: Arc<ShardSubscriber<Claimed>>,
    mut rx: mpsc::Receiver<Incoming<Claimed>>,
    shutdown: CancellationToken,
) {
    let partitions = hunt.settings.hunt_partitions;
    let (lanes, mut returned) = Lanes::new(
        EVENT,
        CATCH_UP_PATIENCE,
        hunt.ctx.app.metrics.client_send_dropped.clone(),
    );
    let mut d = Delivery {
        hunt: hunt.clone(),
        last: HashMap::new(),
        held: HashMap::new(),
        lanes,
    };
    // Where each partition's stream ends, read before subscribing: a message that arrives
    // between the two is then newer and delivered, never skipped as already seen. All
    // partitions at once: with Redis away at start-up, one timeout, not one per partition,
    // before this task serves the queue.
    let ends = join_all((0..partitions).map(|p| newest(&hunt, p))).await;
    for (p, id) in (0..partitions).zip(ends) {
        if let Some(id) = id {
            d.last.insert(p, id);
        }
    }
    let chans: Vec<String> = (0..partitions).map(keys::hunt_claimed).collect();
    for (chan, r) in chans.iter().zip(join_all(chans.iter().map(|c| sub.want(c))).await) {
        // A failed SSUBSCRIBE stays wanted: the supervisor retries it.
        if let Err(e) = r {
            tracing::warn!(channel = %chan, error = %e, "tile_claimed channel not subscribed yet; retrying");
        }
    }
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(lane) = returned.recv() => {
                d.lanes.returned(lane);
                continue;
            }
            n = rx.recv() => n,
        };
        match next {
            None => return,
            Some(Incoming::Event(c)) => d.live(c).await,
            Some(Incoming::Lost(chans)) => {
                for p in chans.iter().filter_map(|c| keys::partition_of_claimed(c)) {
                    d.held.entry(p).or_default();
                }
            }
            Some(Incoming::CatchUp(chans)) => {
                for p in chans.iter().filter_map(|c| keys::partition_of_claimed(c)) {
                    d.catch_up(p).await;
                }
            }
        }
    }
}

/// What the delivery task keeps per partition.
struct Delivery {
    hunt: Hunt,
    /// The last claim delivered here (or the stream's end when this instance subscribed):
    /// what a catch-up starts after, and what a live message must be newer than.
    last: HashMap<u32, EntryId>,
    /// Partitions between a loss and their catch-up, with the live messages held meanwhile.
    held: HashMap<u32, Vec<Claimed>>,
    /// Members being caught up, each at its own pace.
    lanes: Lanes,
}

impl Delivery {
    async fn live(&mut self, c: Claimed) {
        if let Some(held) = self.held.get_mut(&c.partition) {
            if held.len() < CATCH_UP_MAX {
                held.push(c);
                return;
            }
            // A catch-up that does not come: stop holding, deliver in arrival order.
            tracing::warn!(partition = c.partition, "tile_claimed catch-up overdue; delivering live");
            let held = self.held.remove(&c.partition).unwrap_or_default();
            for h in held {
                self.deliver(h).await;
            }
        }
        self.deliver(c).await;
    }

    async fn deliver(&mut self, c: Claimed) {
        if self.last.get(&c.partition).is_some_and(|seen| c.id <= *seen) {
            return;
        }
        self.last.insert(c.partition, c.id);
        if self.lanes.is_empty() {
            emit(&self.hunt, &c.json).await;
        } else {
            let members = self.hunt.ctx.io.local().to(ROOM).sockets();
            self.lanes.live(members, c.json);
        }
    }

    /// Deliver partition `p`'s claims after `last[p]` from its stream, then what was held.
    async fn catch_up(&mut self, p: u32) {
        let held = self.held.remove(&p).unwrap_or_default();
        if let Some(after) = self.last.get(&p).copied() {
            self.replay(p, after).await;
        } else {
            // Nothing heard and the stream's end unknown: no position to resume from.
            tracing::warn!(partition = p, "tile_claimed channel back; no position to catch up from");
        }
        for c in held {
            self.deliver(c).await;
        }
    }

    async fn replay(&mut self, p: u32, after: EntryId) {
        let hunt = &self.hunt;
        let mut conn = hunt.ctx.app.redis.clone();
        let r: Result<StreamRangeReply, _> = conn
            .xrange_count(keys::hunt_claims(p), format!("({after}"), "+", CATCH_UP_MAX)
            .await;
        let reply = match r {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "tile_claimed catch-up failed; the claims meanwhile are not re-sent");
                return;
            }
        };
        let mut items = Vec::with_capacity(reply.ids.len());
        for e in &reply.ids {
            let Some(id) = EntryId::parse(&e.id) else {
                continue;
            };
            self.last.insert(p, id);
            // A poison entry (the projection dead-letters it) is not a claim to announce.
            let Some(c) = ClaimEntry::parse(e) else {
                continue;
            };
            let delta = TileClaimed {
                map_id: c.map_id,
                tile: i64::from(c.tile),
                player: c.player,
                value: c.value,
            };
            if let Ok(json) = serde_json::value::to_raw_value(&delta) {
                items.push(json);
            }
        }
        let sent = items.len();
        let members = hunt.ctx.io.local().to(ROOM).sockets();
        self.lanes.catch_up(members, Batch::from(items));
        tracing::info!(partition = p, sent, "tile_claimed catch-up read from the claim stream");
    }
}

async fn emit(hunt: &Hunt, json: &RawValue) {
    let sent = hunt.ctx.io.local().to(ROOM).emit(EVENT, json).await;
    let _ = outcome::broadcast(&hunt.ctx.app.metrics, EVENT, sent);
}

/// The id of partition `p`'s newest claim entry, `0-0` for an empty stream (none: Redis
/// did not answer; then the first live message sets it).
async fn newest(hunt: &Hunt, p: u32) -> Option<EntryId> {
    let mut conn = hunt.ctx.app.redis.clone();
    let r: Result<StreamRangeReply, _> = conn.xrevrange_count(keys::hunt_claims(p), "+", "-", 1).await;
    match r {
        // An empty stream: every claim to come is after its beginning.
        Ok(reply) => match reply.ids.first() {
            Some(e) => EntryId::parse(&e.id),
            None => Some(EntryId::ZERO),
        },
        Err(e) => {
            tracing::debug!(partition = p, error = %e, "newest claim entry not read");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_strictly() {
        let chan = keys::hunt_claimed(3);
        let c = parse_message(&chan, b"1700000000000-4\n{\"mapId\":1,\"tile\":2}").unwrap();
        assert_eq!(c.partition, 3);
        assert_eq!(c.id, EntryId { ms: 1_700_000_000_000, seq: 4 });
        assert_eq!(c.json.get(), "{\"mapId\":1,\"tile\":2}");
        for bad in [
            &b"1-0"[..],
            b"x-0\n{}",
            b"1-0\n[1]",
            b"1-0\n{\"a\":",
            b"\xff\n{}",
        ] {
            assert!(parse_message(&chan, bad).is_none(), "{bad:?}");
        }
        assert!(parse_message("arena:{r1.0}:room:x", b"1-0\n{}").is_none());
    }
}
