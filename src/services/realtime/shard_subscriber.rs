//! The subscription supervisor of shard channels: the SSUBSCRIBEs an instance wants, each
//! held on the node that serves the channel's slot, kept equal to the wanted set by our
//! own code. Two users: the room bus (the channels of the rooms that have members on this
//! instance) and the treasure hunt (its partitions' `claimed` channels, which the claim
//! script publishes to). Each hands its own parser; what this module knows is channels.
//!
//! A shard channel lives on one slot, and SSUBSCRIBE must be sent to the master serving
//! it, so on a Redis Cluster there is one pub/sub connection per master (`room_shard`),
//! found through the slot map (`redis::slot_map`, read with `CLUSTER SLOTS`). A
//! standalone Redis is the same code with one shard serving every slot.
//!
//! redis-rs does not restore sharded subscriptions (its cluster connection lost them for
//! 12-20 s after a failover or a slot move, silently), so nothing here relies on it: no
//! connection re-subscribes by itself, and this module
//! - re-subscribes the channels of a connection that broke (a `Disconnection` push or a
//!   failed command), on a new connection or, after a failover, on the new master;
//!   publishes to those rooms are refused until they are back (`live_for`);
//! - re-subscribes a channel that Redis unsubscribed without being asked (an unrequested
//!   `sunsubscribe` push: its slot moved to another master), on the new owner;
//! - keeps a channel whose SSUBSCRIBE failed in the missing set and retries it every
//!   [`RETRY_EVERY`]; a `MOVED` reply corrects the slot map at once, a `CLUSTERDOWN` or
//!   any other failure has the map read again before the retry;
//! - reconciles every [`RECONCILE_EVERY`]: reads the slot map again, re-subscribes every
//!   wanted channel that is not confirmed on its slot's current master, drops channels
//!   no longer wanted, and asks each connection how many shard channels it holds
//!   (`CLIENT INFO`): a count that differs from ours re-subscribes that node's channels,
//!   so a subscription lost without any push comes back within that period.
//!
//! Every channel that comes back after not being confirmed is handed to the reader as a
//! catch-up: the room bus reads what the room's members missed from the history.
//!
//! A message lost to a full queue (the reader is behind) is a loss of its channel too:
//! the channel's later messages are dropped as well until a catch-up notice for it fits
//! in the queue (tried with each of its messages and every [`RETRY_EVERY`]), so the
//! reader catches up on everything from the last message it took, in order, without
//! waiting for the channel's next event (which may never come).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge};
use redis::{ErrorKind, RedisError, ServerErrorKind};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use super::room_channel::slot;
use super::room_shard::{Shard, ShardSink};
use crate::redis::Endpoint;
use crate::redis::slot_map::SlotMap;
use crate::services::metrics::{self as m, Metrics};

/// How often the slot map is read again and the wanted set checked against what the
/// nodes hold.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// How often missing channels are retried while some are missing.
pub const RETRY_EVERY: Duration = Duration::from_millis(100);

/// What the supervisor hands to its reader (the room bus's delivery task, the hunt's
/// broadcaster).
#[derive(Debug)]
pub enum Incoming<M> {
    /// A live message of a channel, parsed by the reader's parser.
    Event(M),
    /// These channels stopped receiving: every message they got before is ahead of this
    /// in the queue, and none they get after (once subscribed again) is. A reader without
    /// a history of its own (the hunt) notes where each stood.
    Lost(Vec<String>),
    /// These channels were (re-)subscribed after a loss: what they carried meanwhile
    /// did not arrive.
    CatchUp(Vec<String>),
}

/// A reader's parser: a channel's message into what the reader takes, or `None` for
/// something that is not its message (dropped and counted as corrupt).
pub type Parse<M> = fn(&str, &[u8]) -> Option<M>;

/// The supervisor. Cheap to share (`Arc`).
pub struct ShardSubscriber<M> {
    endpoint: Endpoint,
    /// A standalone Redis: every channel on this one node.
    single: Option<Arc<str>>,
    /// The cluster seeds (`host:port`), asked for the slot map when no master answers.
    seeds: Vec<Arc<str>>,
    timeout: Duration,
    state: Arc<Shared<M>>,
    shards: Mutex<HashMap<Arc<str>, Arc<Shard>>>,
    map: RwLock<SlotMap>,
}

/// What the shards' push routers and the supervisor share.
struct Shared<M> {
    /// Channels with members here.
    wanted: Mutex<HashSet<String>>,
    /// Channels a node confirmed (`ssubscribe` push) and has not dropped since, with
    /// that node.
    subscribed: Mutex<HashMap<String, Arc<str>>>,
    /// Wanted channels to subscribe (again) at the next round.
    missing: Mutex<HashSet<String>>,
    /// Wanted channels whose connection broke, until they are subscribed again.
    lost: Mutex<HashSet<String>>,
    /// Channels that lost a message to a full queue and whose catch-up notice is not
    /// queued yet; `overflowing` says whether there are any (no lock per message).
    overflowed: Mutex<HashSet<String>>,
    overflowing: AtomicBool,
    /// The slot map is to be read again before the next round.
    stale_map: AtomicBool,
    wake: Notify,
    to_bus: mpsc::Sender<Incoming<M>>,
    parse: Parse<M>,
    channels: Gauge,
    resubscribes: Counter,
    reconnects: Counter,
    dropped: Counter,
    corrupt: Counter,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a holder panicked; the sets stay usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<M: Send + 'static> ShardSink for Shared<M> {
    fn message(&self, chan: &[u8], payload: &[u8]) {
        let chan = String::from_utf8_lossy(chan);
        let Some(m) = (self.parse)(&chan, payload) else {
            self.corrupt.increment(1);
            return;
        };
        // Behind a message lost to a full queue: only after the catch-up notice.
        if self.overflowing.load(Ordering::Acquire) && !self.notify_overflowed(Some(&chan)) {
            self.dropped.increment(1);
            return;
        }
        if self.to_bus.try_send(Incoming::Event(m)).is_err() {
            self.dropped.increment(1);
            // The flag changes under the set's lock only: never true over an empty set.
            let mut over = lock(&self.overflowed);
            over.insert(chan.into_owned());
            self.overflowing.store(true, Ordering::Release);
        }
    }

    fn confirmed(&self, node: &Arc<str>, chan: String) {
        let mut sub = lock(&self.subscribed);
        sub.insert(chan, node.clone());
        self.channels.set(sub.len() as f64);
    }

    fn dropped(&self, node: &Arc<str>, chan: String) {
        {
            let mut sub = lock(&self.subscribed);
            // The channel may be confirmed on another node already (it moved, and the
            // old owner's goodbye comes late): that subscription stands.
            if sub.get(&chan) != Some(node) {
                return;
            }
            sub.remove(&chan);
            self.channels.set(sub.len() as f64);
        }
        // Still wanted: Redis dropped it unasked (its slot moved).
        if lock(&self.wanted).contains(&chan) {
            tracing::warn!(channel = %chan, %node, "shard channel unsubscribed by redis; subscribing again");
            self.mark_lost(vec![chan.clone()]);
            lock(&self.missing).insert(chan);
            self.stale_map.store(true, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    fn lost(&self, node: &Arc<str>) {
        let gone: Vec<String> = {
            let mut sub = lock(&self.subscribed);
            let gone = sub
                .iter()
                .filter(|(_, n)| *n == node)
                .map(|(c, _)| c.clone())
                .collect::<Vec<_>>();
            for c in &gone {
                sub.remove(c);
            }
            self.channels.set(sub.len() as f64);
            gone
        };
        let wanted = lock(&self.wanted).clone();
        let gone: Vec<String> = gone.into_iter().filter(|c| wanted.contains(c)).collect();
        if !gone.is_empty() {
            self.mark_lost(gone.clone());
        }
        lock(&self.lost).extend(gone.iter().cloned());
        lock(&self.missing).extend(gone);
        self.reconnects.increment(1);
        // The node may be down for good (a failover): ask who serves its slots now.
        self.stale_map.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

impl<M> Shared<M> {
    /// Queue a catch-up notice for the overflowed channels (`only`: just that one, if it
    /// is one). False if `only` overflowed and its notice still does not fit.
    fn notify_overflowed(&self, only: Option<&str>) -> bool {
        let mut over = lock(&self.overflowed);
        let chans: Vec<String> = match only {
            Some(c) if over.contains(c) => vec![c.to_string()],
            Some(_) => return true,
            None => over.iter().cloned().collect(),
        };
        if chans.is_empty() {
            self.overflowing.store(false, Ordering::Release);
            return true;
        }
        if self.to_bus.try_send(Incoming::CatchUp(chans)).is_err() {
            return false;
        }
        // The notice named `only`, or every overflowed channel (all under this lock).
        match only {
            Some(c) => {
                over.remove(c);
            }
            None => over.clear(),
        }
        self.overflowing.store(!over.is_empty(), Ordering::Release);
        true
    }

    /// Tell the reader these channels stopped receiving. In the queue's order: behind
    /// every message they got. A full queue drops the notice, as it drops messages
    /// (counted); the reader then catches up from the last message it took.
    fn mark_lost(&self, chans: Vec<String>) {
        if self.to_bus.try_send(Incoming::Lost(chans)).is_err() {
            self.dropped.increment(1);
        }
    }
}

/// Should the slot map be read again after this SSUBSCRIBE failure?
fn map_suspect(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(ServerErrorKind::ClusterDown | ServerErrorKind::Moved)
    ) || e.is_io_error()
        || e.is_connection_refusal()
        || e.is_timeout()
}

impl<M: Send + 'static> ShardSubscriber<M> {
    /// `channels`: the gauge of the channels held (each user has its own); `parse` turns
    /// a message into what `to_bus` takes.
    pub fn new(
        endpoint: Endpoint,
        timeout: Duration,
        metrics: &Metrics,
        channels: Gauge,
        parse: Parse<M>,
        to_bus: mpsc::Sender<Incoming<M>>,
    ) -> Self {
        let corrupt = metrics.counter_with(m::CORRUPT_VALUES_TOTAL, "what", "shard_message");
        let cluster = endpoint.is_cluster();
        let single = (!cluster).then(|| Arc::from(endpoint.redacted().as_str()));
        let seeds = if cluster {
            endpoint
                .seeds()
                .iter()
                .filter_map(Endpoint::addr)
                .map(|a| Arc::from(a.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            endpoint,
            single,
            seeds,
            timeout,
            shards: Mutex::default(),
            map: RwLock::new(SlotMap::default()),
            state: Arc::new(Shared {
                wanted: Mutex::default(),
                subscribed: Mutex::default(),
                missing: Mutex::default(),
                lost: Mutex::default(),
                overflowed: Mutex::default(),
                overflowing: AtomicBool::new(false),
                stale_map: AtomicBool::new(cluster),
                wake: Notify::new(),
                to_bus,
                parse,
                channels,
                resubscribes: metrics.counter(m::ROOM_RESUBSCRIBES_TOTAL),
                reconnects: metrics.counter(m::PUBSUB_RECONNECTS_TOTAL),
                dropped: metrics.counter(m::PUBSUB_DROPPED_TOTAL),
                corrupt,
            }),
        }
    }

    /// May `chan` be published to: is it not waiting to be subscribed again after its
    /// connection broke? (Redis is then likely away or failing over; the publisher gets
    /// `unavailable` rather than an outcome nobody here could see.)
    pub fn live_for(&self, chan: &str) -> bool {
        !lock(&self.state.lost).contains(chan)
    }

    /// The shard of `node`, made on first use.
    fn shard(&self, node: &Arc<str>) -> Arc<Shard> {
        let mut shards = lock(&self.shards);
        shards
            .entry(node.clone())
            .or_insert_with(|| {
                let endpoint = match &self.single {
                    Some(_) => self.endpoint.clone(),
                    None => self.endpoint.node(node),
                };
                let sink: Arc<dyn ShardSink> = self.state.clone();
                Shard::new(node.clone(), endpoint, self.timeout, sink)
            })
            .clone()
    }

    /// The node serving `chan`'s slot, as far as the map knows.
    fn node_of(&self, chan: &str) -> Option<Arc<str>> {
        if let Some(single) = &self.single {
            return Some(single.clone());
        }
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.owner(slot(chan)).cloned()
    }

    /// Read the slot map from the first node that answers: a known master, else a seed.
    async fn refresh_map(&self) -> Result<(), RedisError> {
        if self.single.is_some() {
            return Ok(());
        }
        let known = self.map.read().unwrap_or_else(|e| e.into_inner()).masters();
        let mut last = None;
        let mut asked = HashSet::new();
        for node in known.iter().chain(self.seeds.iter()) {
            if !asked.insert(node.clone()) {
                continue;
            }
            let shard = self.shard(node);
            let reply = match shard
                .query(&redis::cmd("CLUSTER").arg("SLOTS").clone())
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let host = node.rsplit_once(':').map_or(&**node, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            match SlotMap::parse(&reply, host) {
                Ok(map) => {
                    *self.map.write().unwrap_or_else(|e| e.into_inner()) = map;
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(%node, error = %e, "slot map not understood");
                    self.state.corrupt.increment(1);
                    last = Some(RedisError::from((
                        ErrorKind::UnexpectedReturnType,
                        "CLUSTER SLOTS",
                        e.to_string(),
                    )));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            RedisError::from((ErrorKind::InvalidClientConfig, "no cluster node to ask"))
        }))
    }

    /// SSUBSCRIBE `chan` on the node serving its slot; a MOVED reply corrects the map
    /// and is followed once.
    async fn subscribe(&self, chan: &str) -> Result<(), RedisError> {
        let (mut followed, mut read) = (false, false);
        loop {
            let Some(node) = self.node_of(chan) else {
                // No map yet (the first join) or a hole in it: read it now, once.
                if !read {
                    read = true;
                    if self.refresh_map().await.is_ok() {
                        continue;
                    }
                }
                self.state.stale_map.store(true, Ordering::SeqCst);
                return Err(RedisError::from((
                    ErrorKind::ClusterConnectionNotFound,
                    "no master known for the channel's slot",
                )));
            };
            let before = lock(&self.state.subscribed).get(chan).cloned();
            match self.shard(&node).command("SSUBSCRIBE", chan).await {
                Ok(()) => {
                    // Held on a former owner too: let it go there.
                    if let Some(old) = before.filter(|old| *old != node) {
                        let old = self.shard(&old);
                        if let Err(e) = old.command("SUNSUBSCRIBE", chan).await {
                            tracing::debug!(channel = chan, error = %e, "SUNSUBSCRIBE on the former owner failed");
                        }
                    }
                    return Ok(());
                }
                Err(e) => {
                    if let Some((addr, slot)) = e.redirect_node()
                        && matches!(e.kind(), ErrorKind::Server(ServerErrorKind::Moved))
                    {
                        self.map
                            .write()
                            .unwrap_or_else(|e| e.into_inner())
                            .moved(slot, addr);
                        if !followed {
                            followed = true;
                            continue;
                        }
                    }
                    if map_suspect(&e) {
                        self.state.stale_map.store(true, Ordering::SeqCst);
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Want `chan` and make sure it is subscribed before returning (a join is acked only
    /// once the room's events reach this instance).
    pub async fn want(&self, chan: &str) -> Result<(), RedisError> {
        lock(&self.state.wanted).insert(chan.to_string());
        if lock(&self.state.subscribed).contains_key(chan) {
            return Ok(());
        }
        match self.subscribe(chan).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Still wanted: the supervisor retries.
                lock(&self.state.missing).insert(chan.to_string());
                self.state.wake.notify_one();
                Err(e)
            }
        }
    }

    /// Stop wanting `chan` (its last local member left).
    pub async fn unwant(&self, chan: &str) {
        lock(&self.state.wanted).remove(chan);
        lock(&self.state.missing).remove(chan);
        lock(&self.state.lost).remove(chan);
        let held = lock(&self.state.subscribed).get(chan).cloned();
        if let Some(node) = held
            && let Err(e) = self.shard(&node).command("SUNSUBSCRIBE", chan).await
        {
            // The reconciliation drops it later.
            tracing::debug!(channel = chan, error = %e, "SUNSUBSCRIBE failed");
        }
    }

    /// Subscribe `chans`; returns the channels now subscribed and the ones that failed.
    async fn subscribe_all(&self, chans: Vec<String>) -> (Vec<String>, Vec<String>) {
        let results = futures_util::future::join_all(chans.into_iter().map(|c| async move {
            let r = self.subscribe(&c).await;
            (c, r)
        }))
        .await;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for (chan, r) in results {
            match r {
                Ok(()) => ok.push(chan),
                Err(e) => {
                    tracing::debug!(channel = %chan, error = %e, "SSUBSCRIBE failed; retrying");
                    failed.push(chan);
                }
            }
        }
        (ok, failed)
    }

    /// The supervisor loop, until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let s = &self.state;
        let mut next_full = tokio::time::Instant::now() + RECONCILE_EVERY;
        loop {
            let pending = !lock(&s.missing).is_empty()
                || s.stale_map.load(Ordering::SeqCst)
                || s.overflowing.load(Ordering::Acquire);
            let pause = if pending {
                RETRY_EVERY
            } else {
                next_full.saturating_duration_since(tokio::time::Instant::now())
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = s.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
            // Overflowed channels with no message since: their notice, once it fits.
            if s.overflowing.load(Ordering::Acquire) {
                s.notify_overflowed(None);
            }
            let wanted_any = !lock(&s.wanted).is_empty();
            if wanted_any
                && s.stale_map.swap(false, Ordering::SeqCst)
                && let Err(e) = self.refresh_map().await
            {
                tracing::debug!(error = %e, "slot map read failed; retrying");
                s.stale_map.store(true, Ordering::SeqCst);
            }
            let now = tokio::time::Instant::now();
            if now >= next_full {
                next_full = now + RECONCILE_EVERY;
                if wanted_any || !lock(&s.subscribed).is_empty() {
                    self.reconcile().await;
                }
            }
            let chans: Vec<String> = lock(&s.missing).drain().collect();
            if chans.is_empty() {
                continue;
            }
            // Channels not confirmed before this round were not receiving: catch them up.
            // (Held on a node that no longer serves the slot counts as not confirmed.)
            let unconfirmed: HashSet<String> = {
                let sub = lock(&s.subscribed);
                chans
                    .iter()
                    .filter(|c| sub.get(*c) != self.node_of(c).as_ref())
                    .cloned()
                    .collect()
            };
            let (ok, failed) = self.subscribe_all(chans).await;
            let wanted = lock(&s.wanted).clone();
            lock(&s.missing).extend(failed.into_iter().filter(|c| wanted.contains(c)));
            {
                let mut lost = lock(&s.lost);
                for c in &ok {
                    lost.remove(c);
                }
            }
            let back: Vec<String> = ok
                .iter()
                .filter(|c| unconfirmed.contains(*c))
                .cloned()
                .collect();
            if !back.is_empty() {
                s.resubscribes.increment(1);
                tracing::info!(channels = back.len(), "shard channels subscribed again");
                self.catch_up(back).await;
            }
        }
    }

    /// The periodic check: read the map again, drop what is not wanted, and mark missing
    /// every wanted channel not confirmed on its slot's master or held by a connection
    /// whose count disagrees with ours.
    async fn reconcile(&self) {
        let s = &self.state;
        if self.single.is_none()
            && let Err(e) = self.refresh_map().await
        {
            tracing::debug!(error = %e, "slot map read failed");
            s.stale_map.store(true, Ordering::SeqCst);
        }
        self.drop_unwanted().await;
        let wanted = lock(&s.wanted).clone();
        let subscribed = lock(&s.subscribed).clone();
        let mut missing = Vec::new();
        for chan in &wanted {
            let owner = self.node_of(chan);
            match (subscribed.get(chan), owner) {
                (Some(held), Some(owner)) if *held == owner => {}
                _ => missing.push(chan.clone()),
            }
        }
        // Per node: the channels we believe it holds for us, against its own count.
        let mut per_node: HashMap<Arc<str>, Vec<String>> = HashMap::new();
        for (chan, node) in &subscribed {
            per_node.entry(node.clone()).or_default().push(chan.clone());
        }
        let shards: Vec<Arc<Shard>> = lock(&self.shards).values().cloned().collect();
        for shard in &shards {
            let ours = per_node.remove(shard.node()).unwrap_or_default();
            if ours.is_empty() {
                continue;
            }
            match shard.held().await {
                Ok(n) if n == ours.len() => {}
                Ok(n) => {
                    tracing::warn!(node = %shard.node(), held = n, expected = ours.len(), "shard channels lost without notice; subscribing again");
                    {
                        let mut sub = lock(&s.subscribed);
                        for c in &ours {
                            sub.remove(c);
                        }
                        s.channels.set(sub.len() as f64);
                    }
                    let ours: Vec<String> =
                        ours.into_iter().filter(|c| wanted.contains(c)).collect();
                    s.mark_lost(ours.clone());
                    missing.extend(ours);
                }
                // A transport failure closed the connection: `lost` took its channels.
                Err(e) => tracing::debug!(node = %shard.node(), error = %e, "CLIENT INFO failed"),
            }
        }
        if !missing.is_empty() {
            lock(&s.missing).extend(missing);
        }
        self.prune();
    }

    /// Close connections to nodes that serve no slot any more and hold nothing for us.
    fn prune(&self) {
        if self.single.is_some() {
            return;
        }
        let masters: HashSet<Arc<str>> = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .masters()
            .into_iter()
            .collect();
        let used: HashSet<Arc<str>> = lock(&self.state.subscribed).values().cloned().collect();
        lock(&self.shards).retain(|node, _| masters.contains(node) || used.contains(node));
    }

    /// SUNSUBSCRIBE channels that are subscribed but no longer wanted.
    async fn drop_unwanted(&self) {
        let extra: Vec<(String, Arc<str>)> = {
            let wanted = lock(&self.state.wanted);
            lock(&self.state.subscribed)
                .iter()
                .filter(|(c, _)| !wanted.contains(*c))
                .map(|(c, n)| (c.clone(), n.clone()))
                .collect()
        };
        for (chan, node) in extra {
            if let Err(e) = self.shard(&node).command("SUNSUBSCRIBE", &chan).await {
                tracing::debug!(channel = %chan, error = %e, "SUNSUBSCRIBE failed");
            }
        }
    }

    async fn catch_up(&self, chans: Vec<String>) {
        if !chans.is_empty()
            && self
                .state
                .to_bus
                .send(Incoming::CatchUp(chans))
                .await
                .is_err()
        {
            tracing::debug!("reader gone; no catch-up");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The books the pushes keep, without a server: which node holds a channel, what is
    /// missing, what may be published to.
    #[test]
    fn pushes_keep_the_books() {
        let (tx, mut rx) = mpsc::channel(8);
        let endpoint = Endpoint::plain("redis+cluster://127.0.0.1:1");
        let metrics = Metrics::new();
        let sub = ShardSubscriber::new(
            endpoint,
            Duration::from_millis(100),
            &metrics,
            metrics.gauge(m::ROOM_CHANNELS_SUBSCRIBED),
            crate::services::realtime::room_bus::parse_message,
            tx,
        );
        let s = &sub.state;
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("10.0.0.1:1"), Arc::from("10.0.0.2:2"));
        let (x, y) = ("arena:{r1.0}:room:x", "arena:{r2.0}:room:y");
        lock(&s.wanted).extend([x.to_string(), y.to_string()]);
        s.confirmed(&a, x.to_string());
        s.confirmed(&a, y.to_string());

        // x moved to b: b confirms it, then a's late goodbye changes nothing.
        s.confirmed(&b, x.to_string());
        s.dropped(&a, x.to_string());
        assert_eq!(lock(&s.subscribed).get(x), Some(&b));
        assert!(lock(&s.missing).is_empty());

        // b drops x unasked (its slot moved again): missing, the map to be read again,
        // publishes go on (the history covers the moment).
        s.stale_map.store(false, Ordering::SeqCst);
        s.dropped(&b, x.to_string());
        assert!(lock(&s.missing).contains(x));
        // The reader hears that x stopped receiving, behind what x got before.
        assert!(matches!(rx.try_recv(), Ok(Incoming::Lost(c)) if c == [x]));
        assert!(s.stale_map.load(Ordering::SeqCst));
        assert!(sub.live_for(x));

        // a's connection is lost: y is missing and refused for publishing until back;
        // nothing else is touched.
        lock(&s.missing).clear();
        s.confirmed(&b, x.to_string());
        s.lost(&a);
        assert!(matches!(rx.try_recv(), Ok(Incoming::Lost(c)) if c == [y]));
        assert!(!sub.live_for(y));
        assert!(sub.live_for(x));
        assert_eq!(*lock(&s.missing), HashSet::from([y.to_string()]));
        assert_eq!(lock(&s.subscribed).get(x), Some(&b));
        assert!(!lock(&s.subscribed).contains_key(y));

        // Messages: a room event is handed on; anything else is dropped (and counted).
        s.message(x.as_bytes(), b"i0\nab12\n7\nattack\n{}");
        match rx.try_recv() {
            Ok(Incoming::Event((room, event))) => {
                assert_eq!(room, "x");
                assert_eq!(event.at.offset, 7);
            }
            other => panic!("{other:?}"),
        }
        s.message(b"arena-request#/#", b"junk");
        s.message(x.as_bytes(), b"not an event");
        assert!(rx.try_recv().is_err());
    }
}
