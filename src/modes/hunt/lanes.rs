//! Members being caught up, each in a lane of its own, so no member waits for another.
//!
//! A catch-up (the claims this instance missed, read back from the claim stream) is a
//! burst, often longer than a client's queue (`CLIENT_BUFFER`), so it goes to each member
//! at the pace that member reads. The delivery task must not wait for that: a member that
//! reads slowly would hold `tile_claimed` back from every member here. (It did: a catch-up
//! waited for its slowest member, up to `CATCH_UP_PATIENCE` per claim, while live claims
//! queued behind it.)
//!
//! So a member being caught up gets a lane: a queue of batches, shared between the members
//! (one catch-up is one allocation, whatever the number of members), and a task that emits
//! them, each claim when the member's queue has room. While a member has a lane, its live
//! claims go into the lane behind the catch-up instead of straight to its socket, so what it
//! receives stays in its partition's order. When the task has emitted all the lane holds,
//! it hands the lane back to the delivery task, which closes it if nothing came meanwhile
//! (the delivery task is the lanes' only sender, so "empty" cannot change while it looks)
//! or starts it again. Members without a lane get live claims as one broadcast, as before.
//!
//! A member whose queue stays full for `CATCH_UP_PATIENCE` is left behind: the rest of its
//! lane is emitted without waiting, and what does not fit is dropped and counted in
//! `arena_client_send_dropped_total`, as a live broadcast would. A lane that would hold
//! more than [`LANE_BATCHES`] batches drops the newest the same way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use serde_json::value::RawValue;
use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use crate::services::realtime::Socket;
use crate::services::realtime::paced::{Paced, emit_now, emit_paced};

/// Claims in the order a lane emits them; shared by every lane they were queued in.
pub type Batch = Arc<[Box<RawValue>]>;

/// Most batches waiting in one lane: a catch-up is one batch per partition, a live claim
/// one batch; a member more than this behind is dropping anyway.
pub const LANE_BATCHES: usize = 1024;

/// The open lanes, kept by the delivery task (their only sender).
pub struct Lanes {
    event: &'static str,
    patience: Duration,
    open: HashMap<Sid, mpsc::Sender<Batch>>,
    back: mpsc::UnboundedSender<Lane>,
    dropped: Counter,
}

/// One member's lane, as its task hands it back.
pub struct Lane {
    socket: Socket,
    rx: mpsc::Receiver<Batch>,
    /// `CATCH_UP_PATIENCE` until the member is left behind, then zero.
    patience: Duration,
    /// The socket is gone: nothing more to emit.
    closed: bool,
}

impl Lanes {
    /// Lanes emitting `event`, waiting at most `patience` for a member's full queue; the
    /// receiver gets each lane back when its task has emitted all it held.
    pub fn new(
        event: &'static str,
        patience: Duration,
        dropped: Counter,
    ) -> (Self, mpsc::UnboundedReceiver<Lane>) {
        // Unbounded because a lane's task must never wait to hand its lane back; there is
        // at most one lane per connected member.
        let (back, returned) = mpsc::unbounded_channel();
        let lanes = Lanes {
            event,
            patience,
            open: HashMap::new(),
            back,
            dropped,
        };
        (lanes, returned)
    }

    /// No member is being caught up.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// A catch-up's claims for `members`: into each member's lane, opening the lanes that
    /// are not open yet.
    pub fn catch_up(&mut self, members: Vec<Socket>, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        for s in members {
            if let Some(tx) = self.open.get(&s.id) {
                push(tx, &batch, &self.dropped);
                continue;
            }
            let (tx, rx) = mpsc::channel(LANE_BATCHES);
            push(&tx, &batch, &self.dropped);
            self.open.insert(s.id, tx);
            self.start(Lane {
                socket: s,
                rx,
                patience: self.patience,
                closed: false,
            });
        }
    }

    /// A live claim for `members`: behind the catch-up for those with a lane, straight to
    /// the socket for the others (a full queue drops it, as a broadcast does).
    pub fn live(&mut self, members: Vec<Socket>, json: Box<RawValue>) {
        let one: Batch = Arc::from([json]);
        for s in members {
            match self.open.get(&s.id) {
                Some(tx) => push(tx, &one, &self.dropped),
                None => {
                    if emit_now(&s, self.event, &one[0]) == Err(Paced::Slow) {
                        self.dropped.increment(1);
                    }
                }
            }
        }
    }

    /// A lane's task has emitted all the lane held: close the lane unless more came since.
    pub fn returned(&mut self, lane: Lane) {
        if lane.closed || lane.rx.is_empty() {
            self.open.remove(&lane.socket.id);
            return;
        }
        self.start(lane);
    }

    fn start(&self, lane: Lane) {
        tokio::spawn(run(lane, self.event, self.back.clone(), self.dropped.clone()));
    }
}

/// Queue `batch` in a lane, or count its claims dropped when the lane is full.
fn push(tx: &mpsc::Sender<Batch>, batch: &Batch, dropped: &Counter) {
    if tx.try_send(batch.clone()).is_err() {
        dropped.increment(batch.len() as u64);
    }
}

/// Emit what the lane holds, each claim when the member's queue has room; then hand the
/// lane back.
async fn run(
    mut lane: Lane,
    event: &'static str,
    back: mpsc::UnboundedSender<Lane>,
    dropped: Counter,
) {
    'lane: while let Ok(batch) = lane.rx.try_recv() {
        for json in batch.iter() {
            match emit_paced(&lane.socket, event, json, lane.patience).await {
                Ok(()) => {}
                Err(Paced::Closed) => {
                    lane.closed = true;
                    break 'lane;
                }
                Err(Paced::Slow) => {
                    dropped.increment(1);
                    if !lane.patience.is_zero() {
                        tracing::warn!(sid = %lane.socket.id, event, "catch-up: the client takes nothing; left behind");
                        lane.patience = Duration::ZERO;
                    }
                }
            }
        }
    }
    // The delivery task is gone only when the instance stops; then so is the lane.
    let _ = back.send(lane);
}
