//! `CLAIM_DURABILITY=replica`: a claim is acknowledged once one replica of its master
//! has it, or once `CLAIM_WAIT_MS` passed without one (then the ack says
//! `durable: false`).
//!
//! Why: a Redis master acknowledges a write before its replicas have it. If it dies
//! (kill -9, a lost host) right after a claim's ack, the replica that takes over may not
//! have the claim: the ack promised a tile that no longer has its owner nor its stream
//! entry. `WAIT 1` closes that window for every claim it confirms. It does not make
//! Redis synchronous: a replica that confirmed may still lose the claim if it dies too,
//! and `durable: false` claims are as safe as with `none`.
//!
//! `WAIT` holds its connection until a replica answers, so these claims use connections
//! of their own (never the shared command connection the ticks and every other command
//! use), a few of them so that claims of one instance do not all queue behind one
//! `WAIT`.
//!
//! A master without a replica (one just promoted by a failover, or whose replica died)
//! would make every claim wait the whole bound, one after another on each connection:
//! measured, 2 instances managed 4 claims/s and timed the rest out. So a `WAIT` that
//! found no replica (or failed) marks the claim's partition: for [`DEGRADED_FOR`] its
//! claims skip the wait and are acked `durable: false` at once; then one claim (a probe)
//! waits again while the others still skip, and only its confirmation ends the pause.
//! (Letting every claim wait again after the pause queued them behind each other's
//! `WAIT`s once more: measured, 1,597 of 1,999 timed out.)

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis::RedisError;

use super::settings::{Durability, Settings};
use crate::redis::{Conn, command_connection};
use crate::services::AppState;

/// Connections for claims that wait for a replica. Four lets four claims of an instance
/// wait at once; measured in BENCHMARKS.md ("Claim durability").
const CONNECTIONS: usize = 4;

/// How long a partition's claims skip the wait after one found no replica.
pub const DEGRADED_FOR: Duration = Duration::from_secs(1);

/// The connections durable claims take turns on, the bound of their wait, and per
/// partition until when claims skip it (milliseconds since `start`; 0: they wait).
pub struct Durable {
    conns: Vec<Conn>,
    next: AtomicUsize,
    pub wait: Duration,
    start: Instant,
    degraded_until: Vec<AtomicU64>,
}

impl Durable {
    /// `None` unless `CLAIM_DURABILITY=replica`. The connections are lazy (connected by
    /// their first claim); each command's timeout covers the wait.
    pub fn of(app: &AppState, settings: &Settings) -> Result<Option<Self>, RedisError> {
        if settings.claim_durability != Durability::Replica {
            return Ok(None);
        }
        let wait = Duration::from_millis(settings.claim_wait_ms);
        let timeout = Duration::from_millis(app.settings.redis_timeout_ms) + wait;
        let conns = (0..CONNECTIONS)
            .map(|_| command_connection(&app.redis_endpoint, timeout))
            .collect::<Result<_, _>>()?;
        Ok(Some(Self {
            conns,
            next: AtomicUsize::new(0),
            wait,
            start: Instant::now(),
            degraded_until: (0..settings.hunt_partitions)
                .map(|_| AtomicU64::new(0))
                .collect(),
        }))
    }

    fn now_ms(&self) -> u64 {
        ms(self.start.elapsed())
    }

    /// Should a claim in partition `p` wait for a replica now? Yes while its replica
    /// answers; during a pause no; after it, yes for exactly one claim, the probe.
    pub fn should_wait(&self, p: u32) -> bool {
        let Some(slot) = self.degraded_until.get(p as usize) else {
            return true;
        };
        let until = slot.load(Ordering::Relaxed);
        if until == 0 {
            return true;
        }
        let now = self.now_ms();
        if now < until {
            return false;
        }
        // The pause is over: one claim probes; the others skip until its answer (or, if
        // it never reports, until its own bound and one more pause have passed).
        let probe_until = now
            .saturating_add(ms(self.wait))
            .saturating_add(ms(DEGRADED_FOR));
        slot.compare_exchange(until, probe_until, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// A replica confirmed a claim in partition `p`: its claims wait again.
    pub fn confirmed(&self, p: u32) {
        if let Some(slot) = self.degraded_until.get(p as usize) {
            slot.store(0, Ordering::Relaxed);
        }
    }

    /// A claim in partition `p` found no replica in time: skip the wait there for a while.
    pub fn no_replica(&self, p: u32) {
        if let Some(slot) = self.degraded_until.get(p as usize) {
            // Never 0 (that means "wait"), even in the first millisecond.
            let until = self.now_ms().saturating_add(ms(DEGRADED_FOR)).max(1);
            slot.store(until, Ordering::Relaxed);
        }
    }

    /// The next connection, in turn.
    pub fn conn(&self) -> Conn {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].clone()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn durable(partitions: u32) -> Durable {
        Durable {
            conns: Vec::new(),
            next: AtomicUsize::new(0),
            wait: Duration::from_millis(100),
            // As if the instance started a while ago, so "1 ms after start" is past.
            start: Instant::now() - Duration::from_secs(10),
            degraded_until: (0..partitions).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    #[test]
    fn a_partition_without_replica_pauses_then_sends_one_probe() {
        let d = durable(2);
        assert!(d.should_wait(0) && d.should_wait(0), "healthy: every claim waits");
        d.no_replica(0);
        assert!(!d.should_wait(0), "paused");
        assert!(d.should_wait(1), "other partitions are not");
        // The pause is over (its end set in the past): one probe, the others skip.
        d.degraded_until[0].store(1, Ordering::Relaxed);
        assert!(d.should_wait(0), "the probe");
        assert!(!d.should_wait(0) && !d.should_wait(0), "no second probe");
        d.confirmed(0);
        assert!(d.should_wait(0) && d.should_wait(0), "confirmed: every claim waits");
        // A partition past the table (never: the table has HUNT_PARTITIONS) waits.
        assert!(d.should_wait(7));
    }
}
