//! The room bus: room events over per-room sharded channels, delivered to this instance's
//! members of the room only, in order, exactly once, with missed-event recovery.
//!
//! socketioxide-redis publishes every broadcast of a namespace on one channel, so every
//! instance receives every room's traffic (and on a Cluster the namespace is one slot).
//! The bus sends a room's events on the room's own shard channel instead
//! (`room_channel`), which only instances with members in the room subscribe to
//! (`shard_subscriber`). Whole-namespace traffic (ticks, acks, remote disconnects,
//! presence queries) stays on socketioxide-redis (`adapter`).
//!
//! Publish: one script appends the event to the room's history and SPUBLISHes it
//! (`room_history::publish`), so every published event has a position `{epoch, offset}`
//! and is in the history. Deliver: one task per instance takes, in order, the live
//! messages, the joins and the catch-ups, and keeps per room the last position it
//! delivered. Offsets are consecutive, so a message past the next one means some were
//! missed (a full queue, a subscriber loss): they are read from the history and delivered
//! first, or, if the history no longer has them, the room's members get `resync`. Joins
//! go through the same task: a socket that names the position it last saw gets what
//! followed (or `resync`) before it becomes a member, so it sees each event once and in
//! order. A replay runs in a task of its own, paced to what the client reads (its queue
//! holds `CLIENT_BUFFER` packets), and comes back to the delivery task, which replays what
//! arrived meanwhile or makes the socket a member: a long replay neither drops events nor
//! holds up the other rooms. An optional write window (`BusConfig::write_delay`) gathers
//! the live messages of a few milliseconds and delivers them back to back: the same
//! steps in the same order, later, with each member's frames leaving in one write.
//!
//! Guarantee: an event acked ok is in the room's history and reaches every member on every
//! instance, live or through the history, while the history holds it
//! (`ROOM_HISTORY_LEN`, `ROOM_HISTORY_TTL_S`); past that its members get `resync`.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::Counter;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use socketioxide::BroadcastError;
use socketioxide::socket::Sid;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::adapter::DriverError;
use super::paced::{Paced, emit_paced};
use super::room_channel::{Partitions, RoomKeys};
use super::room_history::{self, Conn, HistoryLimits, Position, RoomEvent, Since};
use super::shard_subscriber::{self, ShardSubscriber};
use super::{Io, Socket};
use crate::base::error::{AckError, ErrorCode};
use crate::redis::Endpoint;
use crate::services::metrics::{self as m, Metrics};

/// The event a socket or a room gets when the history does not cover what it missed.
pub const RESYNC: &str = "resync";

/// Attempts at a history read before its members get `resync`.
const HISTORY_TRIES: u32 = 3;

/// How long a joining socket may take to read its replay: its queue holds
/// `CLIENT_BUFFER` packets, so a replay longer than that waits for the client to read.
/// A client that reads nothing for this long gets `resync` instead of the rest.
const REPLAY_PATIENCE: Duration = Duration::from_secs(10);

/// How the bus is set up (the rooms mode's settings).
#[derive(Debug, Clone)]
pub struct BusConfig {
    pub partitions: usize,
    pub history: HistoryLimits,
    /// Bound on each Redis call of the bus.
    pub timeout: Duration,
    /// Live messages queued for delivery before the live copy is dropped (the history
    /// still has them).
    pub queue: usize,
    /// The write window (`ROOM_WRITE_DELAY_MS`; zero: off): live messages that arrive
    /// within it of the first are delivered together, so each member's frames of the
    /// window reach its queue back to back and leave in one write.
    pub write_delay: Duration,
}

/// Why a publish failed; [`BusError::nothing_done`] tells the two kinds apart.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("not published: the room bus is re-subscribing or redis is stalled")]
    NotLive,
    #[error("publish: {0}")]
    Redis(#[from] DriverError),
    #[error("body is not a JSON object")]
    Body,
}

impl BusError {
    /// Did the publish certainly not happen? (`false`: its outcome is unknown.)
    pub fn nothing_done(&self) -> bool {
        match self {
            Self::NotLive | Self::Body => true,
            Self::Redis(d) => d.nothing_done(),
        }
    }

    /// The sender's ack.
    pub fn ack(&self) -> AckError {
        if self.nothing_done() {
            AckError::unavailable()
        } else {
            AckError::new(
                ErrorCode::TIMEOUT,
                "outcome unknown: redis did not answer in time and may still deliver it; \
                 retry only with the same id",
            )
        }
    }
}

/// A join's outcome.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// The room's newest position when the socket became a member (none: no events yet).
    pub at: Option<Position>,
    /// Events replayed to the socket from the history.
    pub replayed: usize,
    /// The socket got `resync` (its position was not covered).
    pub resync: bool,
}

/// A live message of a room channel: the room and its event.
pub type RoomMessage = (String, RoomEvent);

/// What the bus's subscriber carries.
type Incoming = shard_subscriber::Incoming<RoomMessage>;

/// A room channel's message (`room_history::RoomEvent`'s format) with the room its
/// channel names; anything else is not the bus's.
pub fn parse_message(chan: &str, payload: &[u8]) -> Option<RoomMessage> {
    let room = RoomKeys::room_of_channel(chan)?;
    Some((room.to_string(), RoomEvent::parse_message(payload)?))
}

enum Work {
    Live(Incoming),
    Join {
        socket: Socket,
        room: String,
        from: Option<Position>,
        done: oneshot::Sender<Result<Joined, AckError>>,
    },
    /// A replay task has sent a joining socket the room's events up to `reached`.
    Replayed(Replay),
}

/// A join whose replay runs outside the delivery task (it waits for the client to read).
struct Replay {
    socket: Socket,
    room: String,
    /// The last position the socket has been sent.
    reached: Position,
    joined: Joined,
    done: oneshot::Sender<Result<Joined, AckError>>,
}

#[derive(Clone)]
struct BusMetrics {
    replayed: Counter,
    resyncs: Counter,
    client_dropped: Counter,
    remote_dropped: Counter,
}

/// The bus of one instance. Clones share it.
#[derive(Clone)]
pub struct RoomBus {
    inner: Arc<Inner>,
}

struct Inner {
    io: Io,
    conn: Conn,
    instance: Arc<str>,
    parts: Partitions,
    config: BusConfig,
    sub: Arc<ShardSubscriber<RoomMessage>>,
    work: mpsc::Sender<Work>,
    live_rx: Mutex<Option<(mpsc::Receiver<Incoming>, mpsc::Receiver<Work>)>>,
    members: Mutex<Members>,
    /// Set by a publish that timed out; cleared when Redis answers a PING again.
    stalled: AtomicBool,
    metrics: BusMetrics,
}

/// Local members per room (what decides SSUBSCRIBE / SUNSUBSCRIBE), joined or joining.
#[derive(Default)]
struct Members {
    rooms: HashMap<String, LocalRoom>,
    /// Rooms each socket holds or is joining through the bus.
    held: HashMap<Sid, usize>,
    /// Numbers the periods in which a room has local members.
    periods: u64,
}

/// A room's local members, and which period of local membership this is: between two
/// periods the room's channel was dropped, so what the instance delivered in an earlier
/// one says nothing about the events it has not heard since.
#[derive(Default)]
struct LocalRoom {
    sids: HashSet<Sid>,
    period: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn bounded<T>(
    within: Duration,
    f: impl Future<Output = Result<T, redis::RedisError>>,
) -> Result<T, DriverError> {
    match tokio::time::timeout(within, f).await {
        Ok(r) => r.map_err(DriverError::from),
        Err(_) => Err(DriverError::Timeout(within)),
    }
}

impl RoomBus {
    /// The bus; nothing connects until [`RoomBus::spawn`] or the first join.
    pub fn new(
        io: Io,
        conn: Conn,
        endpoint: Endpoint,
        instance: Arc<str>,
        metrics: &Metrics,
        config: BusConfig,
    ) -> Self {
        let (live_tx, live_rx) = mpsc::channel(config.queue.max(1));
        let (work_tx, work_rx) = mpsc::channel(1024);
        let sub = Arc::new(ShardSubscriber::new(
            endpoint,
            config.timeout,
            metrics,
            metrics.gauge(m::ROOM_CHANNELS_SUBSCRIBED),
            parse_message,
            live_tx,
        ));
        Self {
            inner: Arc::new(Inner {
                io,
                conn,
                instance,
                parts: Partitions::new(config.partitions),
                sub,
                work: work_tx,
                live_rx: Mutex::new(Some((live_rx, work_rx))),
                members: Mutex::default(),
                stalled: AtomicBool::new(false),
                metrics: BusMetrics {
                    replayed: metrics.counter(m::ROOM_REPLAYED_TOTAL),
                    resyncs: metrics.counter(m::ROOM_RESYNCS_TOTAL),
                    client_dropped: metrics.client_send_dropped.clone(),
                    remote_dropped: metrics.pubsub_client_dropped.clone(),
                },
                config,
            }),
        }
    }

    /// Start the supervisor, the stall prober and the delivery task.
    pub fn spawn(&self, tasks: &TaskTracker, shutdown: &CancellationToken) {
        let Some((live, work)) = lock(&self.inner.live_rx).take() else {
            return;
        };
        tasks.spawn(self.inner.sub.clone().run(shutdown.clone()));
        tasks.spawn(deliver(self.inner.clone(), live, work, shutdown.clone()));
        tasks.spawn(unstall(self.inner.clone(), shutdown.clone()));
    }

    /// The channel and keys of `room`.
    pub fn keys(&self, room: &str) -> RoomKeys {
        self.inner.parts.room(room)
    }

    /// Publish `event` with `body` (a JSON object) to `room`: appended to its history and
    /// sent to every instance with members there, in one step.
    pub async fn publish(
        &self,
        room: &str,
        event: &str,
        body: &impl Serialize,
    ) -> Result<Position, BusError> {
        let body = serde_json::to_string(body).map_err(|_| BusError::Body)?;
        self.publish_json(room, event, &body).await
    }

    /// [`RoomBus::publish`] of a body already serialized (the text of a JSON object):
    /// published as it is, never parsed or serialized again on the way to the members.
    pub async fn publish_json(
        &self,
        room: &str,
        event: &str,
        body: &str,
    ) -> Result<Position, BusError> {
        let inner = &self.inner;
        let keys = inner.parts.room(room);
        if !inner.sub.live_for(&keys.channel) || inner.stalled.load(Ordering::SeqCst) {
            return Err(BusError::NotLive);
        }
        if !body.starts_with('{') {
            return Err(BusError::Body);
        }
        let epoch = format!("{:016x}", rand::random::<u64>());
        let mut conn = inner.conn.clone();
        let published = bounded(
            inner.config.timeout,
            room_history::publish(
                &mut conn,
                &keys,
                inner.config.history,
                &epoch,
                &inner.instance,
                event,
                body,
            ),
        )
        .await;
        match published {
            Ok(p) => Ok(p.at),
            Err(e) => {
                if !e.nothing_done() {
                    // A frozen Redis would take every publish and answer none: refuse
                    // (nothing done) until it answers again.
                    inner.stalled.store(true, Ordering::SeqCst);
                }
                Err(BusError::Redis(e))
            }
        }
    }

    /// `s` joins `room` if `reserve` accepts the number of rooms it already holds through
    /// the bus (joined or joining, this one not counted): the room's channel is subscribed first,
    /// then, in the delivery task, what the socket missed after `from` is replayed to it
    /// (or it gets `resync`), then it becomes a member.
    pub async fn join(
        &self,
        s: &Socket,
        room: &str,
        from: Option<Position>,
        reserve: impl FnOnce(usize) -> Result<(), AckError>,
    ) -> Result<Joined, AckError> {
        let inner = &self.inner;
        let keys = inner.parts.room(room);
        {
            // Count and reserve in one step: two joins at once cannot both pass a cap,
            // and a refused join costs no subscription.
            let mut members = lock(&inner.members);
            let held = members.held.get(&s.id).copied().unwrap_or(0);
            let Members { rooms, periods, .. } = &mut *members;
            let local = rooms.entry(room.to_string()).or_insert_with(|| {
                *periods += 1;
                LocalRoom {
                    sids: HashSet::new(),
                    period: *periods,
                }
            });
            if !local.sids.contains(&s.id) {
                if let Err(e) = reserve(held) {
                    if local.sids.is_empty() {
                        members.rooms.remove(room);
                    }
                    return Err(e);
                }
                local.sids.insert(s.id);
                *members.held.entry(s.id).or_default() += 1;
            }
        }
        let joined = match inner.sub.want(&keys.channel).await {
            Ok(()) => {
                let (done, answer) = oneshot::channel();
                let work = Work::Join {
                    socket: s.clone(),
                    room: room.to_string(),
                    from,
                    done,
                };
                if inner.work.send(work).await.is_err() {
                    Err(AckError::unavailable())
                } else {
                    answer
                        .await
                        .unwrap_or_else(|_| Err(AckError::unavailable()))
                }
            }
            Err(e) => {
                tracing::warn!(room, error = %e, "room channel subscribe failed");
                Err(AckError::unavailable())
            }
        };
        if joined.is_err() && !s.rooms().iter().any(|r| **r == *room) {
            self.forget(s.id, room).await;
        }
        joined
    }

    /// `s` leaves `room`; the room's channel is dropped when no local member is left.
    pub async fn leave(&self, s: &Socket, room: &str) {
        s.leave(room.to_string());
        self.forget(s.id, room).await;
    }

    /// A socket is going away: forget it in every room (`rooms`: the ones it was in).
    pub async fn gone(&self, sid: Sid, rooms: Vec<String>) {
        for room in rooms {
            self.forget(sid, &room).await;
        }
    }

    async fn forget(&self, sid: Sid, room: &str) {
        let last = {
            let mut members = lock(&self.inner.members);
            let Members { rooms, held, .. } = &mut *members;
            let removed = rooms
                .get_mut(room)
                .map(|local| (local.sids.remove(&sid), local.sids.is_empty()));
            match removed {
                Some((true, empty)) => {
                    if let Some(n) = held.get_mut(&sid) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            held.remove(&sid);
                        }
                    }
                    if empty {
                        rooms.remove(room);
                    }
                    empty
                }
                _ => false,
            }
        };
        if last {
            let keys = self.inner.parts.room(room);
            self.inner.sub.unwant(&keys.channel).await;
        }
    }

    /// Does `sid` hold `room` through the bus (joined, or its join under way)? One lookup,
    /// where the socket's own room set would be copied.
    pub fn holds(&self, sid: Sid, room: &str) -> bool {
        lock(&self.inner.members)
            .rooms
            .get(room)
            .is_some_and(|local| local.sids.contains(&sid))
    }

    /// Rooms with local members (their channels are the wanted set).
    pub fn rooms(&self) -> usize {
        lock(&self.inner.members).rooms.len()
    }
}

/// While a publish timed out: PING every 100 ms and let publishes through once Redis
/// answers.
async fn unstall(inner: Arc<Inner>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        if inner.stalled.load(Ordering::SeqCst) {
            let mut conn = inner.conn.clone();
            let ping = redis::cmd("PING");
            if bounded(inner.config.timeout, ping.query_async::<String>(&mut conn))
                .await
                .is_ok()
            {
                inner.stalled.store(false, Ordering::SeqCst);
                tracing::info!("room bus: redis answers again; publishes let through");
            }
        }
    }
}

/// The delivery task's state: per room, the last position delivered to its members here,
/// and in which period of local membership (`LocalRoom::period`).
struct Delivery {
    inner: Arc<Inner>,
    delivered: HashMap<String, (u64, Position)>,
}

async fn deliver(
    inner: Arc<Inner>,
    mut live: mpsc::Receiver<Incoming>,
    mut work: mpsc::Receiver<Work>,
    shutdown: CancellationToken,
) {
    let delay = inner.config.write_delay;
    // A window holds at most what the live queue would: a burst past it is delivered
    // at once rather than held in memory the queue bound was meant to cap.
    let cap = inner.config.queue.max(1);
    let mut d = Delivery {
        inner,
        delivered: HashMap::new(),
    };
    let mut batch = Vec::new();
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            Some(w) = work.recv() => w,
            Some(i) = live.recv() => Work::Live(i),
            else => return,
        };
        match next {
            Work::Live(first) if !delay.is_zero() => {
                batch.push(first);
                let after = gather(&mut batch, delay, cap, &mut live, &mut work, &shutdown).await;
                // In arrival order and without a pause in between: the frames of one
                // member reach its queue back to back, and its writer sends them in one
                // write (engineioxide flushes once its queue is empty).
                for i in batch.drain(..) {
                    d.handle(Work::Live(i)).await;
                }
                match after {
                    WindowEnd::Deadline => {}
                    WindowEnd::Work(w) => d.handle(w).await,
                    WindowEnd::Shutdown => return,
                }
            }
            w => d.handle(w).await,
        }
        d.prune();
    }
}

/// What ended a write window.
enum WindowEnd {
    /// Its time ran out, or it held `cap` messages.
    Deadline,
    /// A join or a replay's return: handled after the window's messages, so the bus
    /// sees joins and live messages in the same order as without a window.
    Work(Work),
    Shutdown,
}

/// Add to `batch` the live messages that arrive within `delay` of the first, until it
/// holds `cap` or other work comes.
async fn gather(
    batch: &mut Vec<Incoming>,
    delay: Duration,
    cap: usize,
    live: &mut mpsc::Receiver<Incoming>,
    work: &mut mpsc::Receiver<Work>,
    shutdown: &CancellationToken,
) -> WindowEnd {
    // One timer for the window, not one per message.
    let deadline = tokio::time::sleep(delay);
    tokio::pin!(deadline);
    while batch.len() < cap {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return WindowEnd::Shutdown,
            Some(w) = work.recv() => return WindowEnd::Work(w),
            Some(i) = live.recv() => batch.push(i),
            _ = &mut deadline => break,
        }
    }
    WindowEnd::Deadline
}

impl Delivery {
    async fn handle(&mut self, w: Work) {
        match w {
            Work::Live(Incoming::Event((room, event))) => self.live(&room, event).await,
            // The offsets find what a lost channel missed; nothing to note.
            Work::Live(Incoming::Lost(_)) => {}
            Work::Live(Incoming::CatchUp(chans)) => {
                for room in chans.iter().filter_map(|c| RoomKeys::room_of_channel(c)) {
                    self.catch_up(room).await;
                }
            }
            Work::Join {
                socket,
                room,
                from,
                done,
            } => self.join(socket, room, from, done).await,
            Work::Replayed(r) => self.replayed(r),
        }
    }

    fn has_members(&self, room: &str) -> bool {
        lock(&self.inner.members).rooms.contains_key(room)
    }

    /// The current period of local membership of `room`, if it has local members.
    fn period(&self, room: &str) -> Option<u64> {
        lock(&self.inner.members).rooms.get(room).map(|l| l.period)
    }

    /// The last position delivered to `room`'s members here, if it belongs to the current
    /// period of local membership. One from an earlier period is stale: the channel was
    /// dropped in between (a member who left and came back must not be told that the
    /// room stopped where this instance last heard it).
    fn delivered(&self, room: &str) -> Option<Position> {
        self.delivered_at(room).cloned()
    }

    /// [`Delivery::delivered`] by reference: the live path reads it for every message.
    fn delivered_at(&self, room: &str) -> Option<&Position> {
        let (period, at) = self.delivered.get(room)?;
        (Some(*period) == self.period(room)).then_some(at)
    }

    /// Record `at` as delivered in the room's current period (forgotten when it has none).
    /// In place when the room has an entry: no key allocated per live message.
    fn set_delivered(&mut self, room: &str, at: Position) {
        match self.period(room) {
            Some(period) => match self.delivered.get_mut(room) {
                Some(slot) => *slot = (period, at),
                None => {
                    self.delivered.insert(room.to_string(), (period, at));
                }
            },
            None => {
                self.delivered.remove(room);
            }
        }
    }

    /// Forget positions of rooms without members (their channels are dropped).
    fn prune(&mut self) {
        if self.delivered.len() > 64 {
            let members = lock(&self.inner.members);
            self.delivered.retain(|r, _| members.rooms.contains_key(r));
        }
    }

    async fn emit_room(&self, room: &str, e: &RoomEvent) {
        // Checked as JSON but not parsed into a tree: socketioxide writes the text as it
        // is into the one packet all the room's members here are sent.
        let Ok(data) = serde_json::from_str::<&RawValue>(&e.data) else {
            return;
        };
        let r = self
            .inner
            .io
            .local()
            .to(room.to_string())
            .emit(&e.event, &data)
            .await;
        if let Err(BroadcastError::Socket(errs)) = &r {
            let n = errs.len() as u64;
            self.inner.metrics.client_dropped.increment(n);
            if *e.origin != *self.inner.instance {
                self.inner.metrics.remote_dropped.increment(n);
            }
        } else if let Err(err) = r {
            tracing::warn!(room, error = %err, "room delivery failed");
        }
    }

    async fn resync_room(&mut self, room: &str, now: Option<Position>) {
        self.inner.metrics.resyncs.increment(1);
        let body = resync_body(room, now.as_ref());
        let _ = self
            .inner
            .io
            .local()
            .to(room.to_string())
            .emit(RESYNC, &body)
            .await;
        // Unknown: the next event, whatever its epoch, is read from its history's start.
        let at = now.unwrap_or(Position {
            epoch: String::new(),
            offset: 0,
        });
        self.set_delivered(room, at);
    }

    /// A live message: deliver it after whatever came before it and is not delivered yet.
    /// The usual case (the next offset) allocates nothing here.
    async fn live(&mut self, room: &str, e: RoomEvent) {
        if !self.has_members(room) {
            return;
        }
        let Some(last) = self.delivered_at(room) else {
            // No join of this period has read the room's position yet: whoever joins
            // starts after it.
            return;
        };
        // Where missed events start, if `e` is not the next one.
        let gap_from = if last.epoch == e.at.epoch {
            if e.at.offset <= last.offset {
                return; // delivered already (live or from the history)
            }
            (e.at.offset > last.offset + 1).then(|| last.clone())
        } else {
            // A new epoch: its events from the first.
            (e.at.offset > 1).then(|| Position {
                epoch: e.at.epoch.clone(),
                offset: 0,
            })
        };
        if let Some(from) = gap_from {
            match history(&self.inner, room, &from, Some(e.at.offset - 1)).await {
                Since::Covered { events, .. } => {
                    self.inner.metrics.replayed.increment(events.len() as u64);
                    for missed in &events {
                        self.emit_room(room, missed).await;
                    }
                }
                Since::Gone { .. } => {
                    let at = Position {
                        epoch: e.at.epoch.clone(),
                        offset: e.at.offset - 1,
                    };
                    self.resync_room(room, Some(at)).await;
                }
            }
        }
        self.emit_room(room, &e).await;
        self.set_delivered(room, e.at);
    }

    /// After a (re-)subscription: deliver what the room's members missed meanwhile.
    async fn catch_up(&mut self, room: &str) {
        let Some(last) = self.delivered(room) else {
            return;
        };
        if !self.has_members(room) {
            return;
        }
        match history(&self.inner, room, &last, None).await {
            Since::Covered { events, now } => {
                self.inner.metrics.replayed.increment(events.len() as u64);
                for e in &events {
                    self.emit_room(room, e).await;
                }
                self.set_delivered(room, now);
            }
            Since::Gone { now } => {
                // History lost or moved on: a new epoch from its start if it is all there.
                if let Some(now) = now.clone().filter(|n| n.epoch != last.epoch) {
                    let start = Position {
                        epoch: now.epoch.clone(),
                        offset: 0,
                    };
                    if let Since::Covered { events, now } =
                        history(&self.inner, room, &start, None).await
                    {
                        self.inner.metrics.replayed.increment(events.len() as u64);
                        for e in &events {
                            self.emit_room(room, e).await;
                        }
                        self.set_delivered(room, now);
                        return;
                    }
                    self.resync_room(room, Some(now)).await;
                } else {
                    self.resync_room(room, now).await;
                }
            }
        }
    }

    /// A join: read the room's position if this instance has none yet (first member of
    /// a period), then either make the socket a member at once (no position given, or
    /// nothing missed), answer `resync` (a position the history cannot continue), or
    /// hand the replay to a task of its own, which paces it to what the client reads and
    /// comes back with `Work::Replayed`.
    async fn join(
        &mut self,
        s: Socket,
        room: String,
        from: Option<Position>,
        done: oneshot::Sender<Result<Joined, AckError>>,
    ) {
        if self.delivered(&room).is_none() {
            // The first member here in this period: live messages from now on are new to
            // everyone.
            let keys = self.inner.parts.room(&room);
            let mut conn = self.inner.conn.clone();
            let head = bounded(
                self.inner.config.timeout,
                room_history::head(&mut conn, &keys),
            )
            .await;
            let head = match head {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(room, error = %e, "room position read failed");
                    let _ = done.send(Err(AckError::unavailable()));
                    return;
                }
            };
            let at = head.unwrap_or(Position {
                epoch: String::new(),
                offset: 0,
            });
            self.set_delivered(&room, at);
        }
        let now = self.delivered(&room).filter(|p| !p.epoch.is_empty());
        let joined = Joined {
            at: now.clone(),
            ..Joined::default()
        };
        match (from, now) {
            (None, _) => self.member(s, room, joined, done),
            (Some(from), Some(now)) if now.epoch == from.epoch && from.offset <= now.offset => {
                self.replay_or_join(Replay {
                    socket: s,
                    room,
                    reached: from,
                    joined,
                    done,
                });
            }
            (Some(_), now) => {
                resync_joiner(&self.inner, &s, &room, now.as_ref());
                let joined = Joined {
                    resync: true,
                    ..joined
                };
                self.member(s, room, joined, done);
            }
        }
    }

    /// A replay came back: the socket has what the room had up to `reached`. Replay what
    /// was delivered here meanwhile, or make it a member now that it is level.
    fn replayed(&mut self, r: Replay) {
        match self.delivered(&r.room).filter(|p| !p.epoch.is_empty()) {
            // The room moved to a new epoch meanwhile (its history was lost).
            Some(now) if now.epoch != r.reached.epoch => {
                resync_joiner(&self.inner, &r.socket, &r.room, Some(&now));
                let joined = Joined {
                    at: Some(now),
                    resync: true,
                    ..r.joined
                };
                self.member(r.socket, r.room, joined, r.done);
            }
            _ => self.replay_or_join(r),
        }
    }

    /// Become a member if the socket has everything delivered here; otherwise replay
    /// the rest in a task of its own.
    fn replay_or_join(&mut self, mut r: Replay) {
        let now = self.delivered(&r.room).filter(|p| !p.epoch.is_empty());
        match now {
            Some(now) if now.offset > r.reached.offset => {
                let inner = self.inner.clone();
                tokio::spawn(async move {
                    if replay(&inner, &mut r, now).await {
                        // The delivery task is the only one that makes members: back to it.
                        let _ = inner.work.send(Work::Replayed(r)).await;
                    } else {
                        // The socket went away mid-replay: nothing to make a member of
                        // (and replaying again would only fail again); the join is
                        // answered as failed, which forgets it.
                        let _ = r.done.send(Err(AckError::unavailable()));
                    }
                });
            }
            now => {
                let joined = Joined {
                    at: now.or(r.joined.at.take()),
                    ..r.joined
                };
                self.member(r.socket, r.room, joined, r.done);
            }
        }
    }

    /// The socket joins the room here: from now on live events reach it.
    fn member(
        &self,
        s: Socket,
        room: String,
        joined: Joined,
        done: oneshot::Sender<Result<Joined, AckError>>,
    ) {
        s.join(room);
        let _ = done.send(Ok(joined));
    }
}

/// Send `r.socket` the room's events after `r.reached` up to `upto`, from the history,
/// each when its queue has room: a client that reads slowly gets them all, in order; one
/// that reads nothing for `REPLAY_PATIENCE` gets `resync` (and so does one whose
/// position the history no longer covers). False when the socket went away.
async fn replay(inner: &Inner, r: &mut Replay, upto: Position) -> bool {
    match history(inner, &r.room, &r.reached, Some(upto.offset)).await {
        Since::Covered { events, .. } => {
            for e in &events {
                // Checked as JSON, not parsed into a tree (as `emit_room` does).
                let Ok(data) = serde_json::from_str::<&RawValue>(&e.data) else {
                    continue;
                };
                match emit_paced(&r.socket, &e.event, data, REPLAY_PATIENCE).await {
                    Ok(()) => {
                        inner.metrics.replayed.increment(1);
                        r.joined.replayed += 1;
                        r.reached = e.at.clone();
                    }
                    Err(Paced::Closed) => return false,
                    Err(Paced::Slow) => {
                        r.resync(inner, &upto);
                        return true;
                    }
                }
            }
            // Events past the last entry read are none (the read checks the range is
            // whole up to `upto`): level with it.
            r.reached = upto;
        }
        Since::Gone { now } => r.resync(inner, now.as_ref().unwrap_or(&upto)),
    }
    true
}

/// The room's events after `from` up to `upto` (the newest when `None`).
async fn history(inner: &Inner, room: &str, from: &Position, upto: Option<u64>) -> Since {
    let keys = inner.parts.room(room);
    let mut conn = inner.conn.clone();
    // A read can fail for a moment (a slot moving, a failover): a resync costs every
    // member its state, so try a few times first.
    let mut tries = 0;
    loop {
        tries += 1;
        let read = room_history::since(&mut conn, &keys, from, upto);
        match bounded(inner.config.timeout, read).await {
            Ok(s) => return s,
            Err(e) if tries < HISTORY_TRIES => {
                tracing::debug!(room, error = %e, "room history read failed; trying again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                // Unknown is not "nothing missed": the members start over.
                tracing::warn!(room, error = %e, "room history read failed; sending resync");
                return Since::Gone { now: None };
            }
        }
    }
}

/// Tell one joining socket to start over from `at` (the room's newest position; none:
/// no events yet).
fn resync_joiner(inner: &Inner, s: &Socket, room: &str, at: Option<&Position>) {
    inner.metrics.resyncs.increment(1);
    let _ = s.emit(RESYNC, &resync_body(room, at));
}

impl Replay {
    /// The replay ends in `resync` from `at`: the socket starts over there.
    fn resync(&mut self, inner: &Inner, at: &Position) {
        resync_joiner(inner, &self.socket, &self.room, Some(at));
        self.joined.resync = true;
        self.reached = at.clone();
    }
}

/// `resync {room, epoch, offset}`: the room's newest position (nulls: no events yet).
fn resync_body(room: &str, now: Option<&Position>) -> Value {
    json!({
        "room": room,
        "epoch": now.map(|p| p.epoch.as_str()),
        "offset": now.map(|p| p.offset),
    })
}
