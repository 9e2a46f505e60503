//! What one connection may ask of an instance: events per second (a token bucket with a
//! burst), handlers running at once, and the disconnect of a connection that keeps
//! flooding. Every socket event goes through [`Intake::admit`] (in `events::Event::on`)
//! before its payload is even decoded.
//!
//! Why: socketioxide spawns a task for every incoming event as soon as it is read, with
//! no bound. One socket emitting 50k small `attack`s took an instance from 9 MB to 187 MB
//! of RSS, eight took it to 1.25 GB, and a quiet client on the same instance waited
//! seconds for its acks. Here an event over the rate, or over the in-flight cap, is
//! answered `rate_limited` at once (or dropped and counted when it asked no ack) and
//! nothing of it is kept; a connection over the rate for `SOCKET_FLOOD_SECS` in a row is
//! disconnected. Work per connection is thus bounded by `SOCKET_MAX_INFLIGHT` handlers
//! and memory by that many payloads.
//!
//! The decision is taken synchronously in the connection's read path (socketioxide calls
//! the handler closure there, then spawns the future it returns), so events are judged in
//! the order they arrived.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::Counter;

use super::Socket;
use crate::services::metrics::{
    ACKS_DROPPED_TOTAL, ACKS_RETRIED_TOTAL, EVENTS_REFUSED_TOTAL, FLOOD_DISCONNECTS_TOTAL, Metrics,
};
use crate::services::settings::SocketLimits;

/// A gap this long without a refusal ends a flooding streak.
const STREAK_GAP: Duration = Duration::from_secs(1);

/// The limits every connection of an instance gets.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Events per second, refilled continuously.
    pub rate: f64,
    /// Events that may arrive at once after a quiet spell (the bucket's size).
    pub burst: f64,
    /// A connection refused for its rate at least once a second for this long is
    /// disconnected.
    pub flood: Duration,
    /// Handlers of one connection running (or waiting to deliver their ack) at once.
    pub max_inflight: usize,
}

impl Limits {
    pub fn new(s: &SocketLimits) -> Self {
        Self {
            rate: f64::from(s.socket_event_rate),
            burst: f64::from(s.socket_event_burst),
            flood: Duration::from_secs(s.socket_flood_secs),
            max_inflight: s.socket_max_inflight,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(&SocketLimits::default())
    }
}

/// The counters of the intake and of ack delivery (closed label sets).
#[derive(Clone)]
pub struct IntakeMetrics {
    pub refused_rate: Counter,
    pub refused_inflight: Counter,
    pub flood_disconnects: Counter,
    /// Acks that found the client's queue full and went out on a later try.
    pub acks_retried: Counter,
    /// Acks to refused events that found the client's queue full (not retried).
    pub acks_dropped_refused: Counter,
    /// Acks whose connection closed before they could be queued.
    pub acks_dropped_closed: Counter,
    /// Acks that found the client's queue full for a whole minute (the client stopped
    /// reading, yet its connection is still open).
    pub acks_dropped_stalled: Counter,
}

impl IntakeMetrics {
    pub fn new(m: &Metrics) -> Self {
        Self {
            refused_rate: m.counter_with(EVENTS_REFUSED_TOTAL, "reason", "rate"),
            refused_inflight: m.counter_with(EVENTS_REFUSED_TOTAL, "reason", "inflight"),
            flood_disconnects: m.counter(FLOOD_DISCONNECTS_TOTAL),
            acks_retried: m.counter(ACKS_RETRIED_TOTAL),
            acks_dropped_refused: m.counter_with(ACKS_DROPPED_TOTAL, "reason", "refused"),
            acks_dropped_closed: m.counter_with(ACKS_DROPPED_TOTAL, "reason", "closed"),
            acks_dropped_stalled: m.counter_with(ACKS_DROPPED_TOTAL, "reason", "stalled"),
        }
    }
}

/// The limits and counters shared by every connection of one instance.
pub struct Policy {
    pub limits: Limits,
    pub metrics: IntakeMetrics,
}

impl Policy {
    pub fn new(limits: Limits, metrics: &Metrics) -> Arc<Self> {
        Arc::new(Self {
            limits,
            metrics: IntakeMetrics::new(metrics),
        })
    }
}

/// Why an event was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over `SOCKET_EVENT_RATE` / `SOCKET_EVENT_BURST`.
    Rate,
    /// `SOCKET_MAX_INFLIGHT` handlers of this connection are still running.
    Inflight,
    /// The connection is being disconnected for flooding: dropped without an answer.
    Closing,
}

/// The verdict on one event.
pub enum Verdict {
    /// Run it; the guard holds its in-flight slot until dropped.
    Admit(InflightGuard),
    Refuse(Refusal),
    /// Refused, and the connection has now flooded for `SOCKET_FLOOD_SECS`: disconnect
    /// it (returned once per connection).
    Disconnect,
}

/// The token bucket, kept by hand rather than with `governor`: one lock decides the rate,
/// the flooding streak and (before a token is spent) the in-flight cap together, and a
/// refused event must not spend a token; governor's `check` spends on success and keeps
/// no streak, so it would take a second lock beside it.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// First refusal of the current streak of rate refusals, and the latest one.
    streak: Option<(Instant, Instant)>,
}

/// One connection's intake state (in the socket's extensions).
pub struct Intake {
    policy: Arc<Policy>,
    bucket: Mutex<Bucket>,
    inflight: Arc<AtomicUsize>,
    closing: AtomicBool,
}

/// Holds one in-flight slot of a connection; frees it when dropped.
#[derive(Debug)]
pub struct InflightGuard(Arc<AtomicUsize>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Intake {
    pub fn new(policy: Arc<Policy>, now: Instant) -> Self {
        let burst = policy.limits.burst;
        Self {
            policy,
            bucket: Mutex::new(Bucket {
                tokens: burst,
                last: now,
                streak: None,
            }),
            inflight: Arc::default(),
            closing: AtomicBool::new(false),
        }
    }

    pub fn metrics(&self) -> &IntakeMetrics {
        &self.policy.metrics
    }

    pub fn limits(&self) -> &Limits {
        &self.policy.limits
    }

    /// Judge one event arriving at `now`; counts the refusals.
    pub fn admit(&self, now: Instant) -> Verdict {
        let m = &self.policy.metrics;
        if self.closing.load(Ordering::Acquire) {
            m.refused_rate.increment(1);
            return Verdict::Refuse(Refusal::Closing);
        }
        let limits = &self.policy.limits;
        // A poisoned lock only means a panic elsewhere; the bucket is plain numbers.
        let mut b = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limits.rate).min(limits.burst);
        b.last = now;
        if b.tokens < 1.0 {
            m.refused_rate.increment(1);
            let start = match b.streak {
                Some((start, last)) if now.saturating_duration_since(last) <= STREAK_GAP => start,
                _ => now,
            };
            b.streak = Some((start, now));
            if now.saturating_duration_since(start) >= limits.flood
                && !self.closing.swap(true, Ordering::AcqRel)
            {
                m.flood_disconnects.increment(1);
                return Verdict::Disconnect;
            }
            return Verdict::Refuse(Refusal::Rate);
        }
        // Events of one connection are judged one at a time (its read path), so only
        // finishing handlers race with this: they only lower the count.
        if self.inflight.load(Ordering::Acquire) >= limits.max_inflight {
            m.refused_inflight.increment(1);
            return Verdict::Refuse(Refusal::Inflight);
        }
        b.tokens -= 1.0;
        self.inflight.fetch_add(1, Ordering::AcqRel);
        Verdict::Admit(InflightGuard(self.inflight.clone()))
    }

    /// Handlers of this connection running now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Acquire)
    }
}

/// Give socket `s` its intake state (the edge does it once per connection, first).
pub fn attach(s: &Socket, policy: &Arc<Policy>) -> Arc<Intake> {
    let intake = Arc::new(Intake::new(policy.clone(), Instant::now()));
    s.extensions.insert(intake.clone());
    intake
}

/// The intake state of socket `s`; one with the default limits if the edge attached none
/// (only a socket set up outside `edge::socket` lacks it).
pub fn of(s: &Socket, metrics: &Metrics) -> Arc<Intake> {
    match s.extensions.get::<Arc<Intake>>() {
        Some(i) => i,
        None => attach(s, &Policy::new(Limits::default(), metrics)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intake(rate: f64, burst: f64, flood_s: u64, inflight: usize, now: Instant) -> Intake {
        let limits = Limits {
            rate,
            burst,
            flood: Duration::from_secs(flood_s),
            max_inflight: inflight,
        };
        Intake::new(Policy::new(limits, &Metrics::new()), now)
    }

    fn admitted(v: &Verdict) -> bool {
        matches!(v, Verdict::Admit(_))
    }

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let i = intake(10.0, 5.0, 60, 1000, t0);
        let mut held = Vec::new();
        for _ in 0..5 {
            let v = i.admit(t0);
            assert!(admitted(&v));
            held.push(v);
        }
        assert!(matches!(i.admit(t0), Verdict::Refuse(Refusal::Rate)));
        // 100 ms at 10/s is one more token.
        assert!(admitted(&i.admit(t0 + Duration::from_millis(100))));
        assert!(!admitted(&i.admit(t0 + Duration::from_millis(110))));
        // A long quiet spell refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        let n = (0..20).filter(|_| admitted(&i.admit(later))).count();
        assert_eq!(n, 5);
    }

    #[test]
    fn inflight_is_capped_and_freed_by_the_guard() {
        let t0 = Instant::now();
        let i = intake(1000.0, 1000.0, 60, 2, t0);
        let a = i.admit(t0);
        let b = i.admit(t0);
        assert!(admitted(&a) && admitted(&b));
        assert!(matches!(i.admit(t0), Verdict::Refuse(Refusal::Inflight)));
        assert_eq!(i.inflight(), 2);
        drop(a);
        assert!(admitted(&i.admit(t0)));
    }

    #[test]
    fn a_connection_over_the_rate_for_the_flood_time_is_disconnected_once() {
        let t0 = Instant::now();
        let i = intake(10.0, 1.0, 3, 1000, t0);
        let mut disconnects = 0;
        // 100 events per second for 5 s: over the rate all the time.
        for k in 0..500u64 {
            let now = t0 + Duration::from_millis(10 * k);
            match i.admit(now) {
                Verdict::Disconnect => {
                    disconnects += 1;
                    assert!(now >= t0 + Duration::from_secs(3), "{k}");
                    assert!(now < t0 + Duration::from_millis(3100), "{k}");
                }
                Verdict::Refuse(Refusal::Closing) => assert!(disconnects == 1),
                _ => assert!(disconnects == 0),
            }
        }
        assert_eq!(disconnects, 1);
    }

    #[test]
    fn bursts_with_quiet_gaps_are_not_a_flood() {
        let t0 = Instant::now();
        let i = intake(10.0, 10.0, 2, 1000, t0);
        // Every 1.5 s a burst of 20: half refused, then quiet for over a second.
        for round in 0..10u64 {
            let now = t0 + Duration::from_millis(1500 * round);
            for _ in 0..20 {
                assert!(!matches!(i.admit(now), Verdict::Disconnect), "{round}");
            }
        }
    }
}
