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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::RedisError;

use super::settings::{Durability, Settings};
use crate::redis::{Conn, command_connection};
use crate::services::AppState;

/// Connections for claims that wait for a replica. Four lets four claims of an instance
/// wait at once; measured in BENCHMARKS.md ("Claim durability").
const CONNECTIONS: usize = 4;

/// The connections durable claims take turns on, and the bound of their wait.
pub struct Durable {
    conns: Vec<Conn>,
    next: AtomicUsize,
    pub wait: Duration,
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
        }))
    }

    /// The next connection, in turn.
    pub fn conn(&self) -> Conn {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.conns.len();
        self.conns[i].clone()
    }
}
