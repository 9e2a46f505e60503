//! How many connections an instance takes: at most `MAX_CONNECTIONS` in all and
//! `MAX_CONNECTIONS_PER_IP` from one client address. The handshake (`edge::socket`)
//! takes a [`Slot`] or refuses the connection with a connect error whose message starts
//! with a stable code (`server_full`, `too_many_connections`); the slot is given back
//! when the socket disconnects (or, at the latest, when it is dropped).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use metrics::Counter;

use crate::base::error::ErrorCode;
use crate::services::metrics::{CONNECTIONS_REFUSED_TOTAL, Metrics};
use crate::services::settings::SocketLimits;

/// Connect error code: this instance has `MAX_CONNECTIONS` connections (try another).
pub const SERVER_FULL: ErrorCode = ErrorCode::new("server_full", 503);
/// Connect error code: this client address has `MAX_CONNECTIONS_PER_IP` connections.
pub const TOO_MANY_CONNECTIONS: ErrorCode = ErrorCode::new("too_many_connections", 429);

/// A refused handshake: its code and reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", code.as_str())]
pub struct Refused {
    pub code: ErrorCode,
    pub reason: String,
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_addr: HashMap<IpAddr, usize>,
}

/// The connection counts of one instance.
pub struct Admission {
    max_total: usize,
    /// 0: no cap per address.
    max_per_addr: usize,
    counts: Mutex<Counts>,
    refused_instance: Counter,
    refused_address: Counter,
}

impl Admission {
    pub fn new(limits: &SocketLimits, metrics: &Metrics) -> Arc<Self> {
        Arc::new(Self {
            max_total: limits.max_connections,
            max_per_addr: limits.max_connections_per_ip,
            counts: Mutex::default(),
            refused_instance: metrics.counter_with(CONNECTIONS_REFUSED_TOTAL, "reason", "instance"),
            refused_address: metrics.counter_with(CONNECTIONS_REFUSED_TOTAL, "reason", "address"),
        })
    }

    /// Take a slot for a connection from `addr` (None: the address is unknown, only the
    /// instance cap applies), or refuse it (counted).
    pub fn open(self: &Arc<Self>, addr: Option<IpAddr>) -> Result<Slot, Refused> {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if c.total >= self.max_total {
            self.refused_instance.increment(1);
            return Err(Refused {
                code: SERVER_FULL,
                reason: format!(
                    "this instance has its maximum of {} connections (MAX_CONNECTIONS); try another",
                    self.max_total
                ),
            });
        }
        if let Some(ip) = addr
            && self.max_per_addr > 0
        {
            let n = c.by_addr.entry(ip).or_default();
            if *n >= self.max_per_addr {
                self.refused_address.increment(1);
                return Err(Refused {
                    code: TOO_MANY_CONNECTIONS,
                    reason: format!(
                        "{ip} has its maximum of {} connections (MAX_CONNECTIONS_PER_IP)",
                        self.max_per_addr
                    ),
                });
            }
            *n += 1;
        }
        c.total += 1;
        Ok(Slot {
            admission: self.clone(),
            addr: addr.filter(|_| self.max_per_addr > 0),
            released: AtomicBool::new(false),
        })
    }

    /// Connections holding a slot now.
    pub fn open_count(&self) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    fn release(&self, addr: Option<IpAddr>) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(ip) = addr
            && let Some(n) = c.by_addr.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.by_addr.remove(&ip);
            }
        }
    }
}

/// One connection's place in the counts; given back once, by [`Slot::release`] or drop.
pub struct Slot {
    admission: Arc<Admission>,
    addr: Option<IpAddr>,
    released: AtomicBool,
}

impl Slot {
    pub fn release(&self) {
        if !self.released.swap(true, Ordering::AcqRel) {
            self.admission.release(self.addr);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(total: usize, per_addr: usize) -> Arc<Admission> {
        let limits = SocketLimits {
            max_connections: total,
            max_connections_per_ip: per_addr,
            ..SocketLimits::default()
        };
        Admission::new(&limits, &Metrics::new())
    }

    #[test]
    fn caps_per_instance_and_per_address() {
        let a = admission(3, 2);
        let ip1: IpAddr = [10, 0, 0, 1].into();
        let ip2: IpAddr = [10, 0, 0, 2].into();
        let s1 = a.open(Some(ip1)).unwrap();
        let _s2 = a.open(Some(ip1)).unwrap();
        let e = a.open(Some(ip1)).err().unwrap();
        assert_eq!(e.code, TOO_MANY_CONNECTIONS);
        assert!(e.to_string().starts_with("too_many_connections: "), "{e}");
        let _s3 = a.open(Some(ip2)).unwrap();
        let e = a.open(None).err().unwrap();
        assert_eq!(e.code, SERVER_FULL);
        assert_eq!(a.open_count(), 3);
        // Released twice (disconnect, then drop): counted once.
        s1.release();
        drop(s1);
        assert_eq!(a.open_count(), 2);
        let _s4 = a.open(Some(ip1)).unwrap();
    }

    #[test]
    fn zero_means_no_cap_per_address() {
        let a = admission(10, 0);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let slots: Vec<_> = (0..10).map(|_| a.open(Some(ip)).unwrap()).collect();
        assert_eq!(a.open(Some(ip)).err().unwrap().code, SERVER_FULL);
        drop(slots);
        assert_eq!(a.open_count(), 0);
    }
}
