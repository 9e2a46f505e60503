//! Which Redis Cluster master serves which hash slot, for code that must talk to the
//! owner of a slot itself rather than through redis-rs's cluster connection (the room
//! bus's sharded subscriptions: SSUBSCRIBE must be sent to the node that owns the
//! channel's slot, and redis-rs's cluster connection does not restore those after a slot
//! moves or a master fails over).
//!
//! The map is read from `CLUSTER SLOTS` (Redis 3.0 and later; `CLUSTER SHARDS` exists only
//! from 7.0 and says the same for this purpose) and corrected one slot at a time from a
//! `MOVED <slot> <host:port>` reply, as the cluster clients do.

use std::sync::Arc;

use redis::Value;

use super::slot::SLOTS;

/// A `CLUSTER SLOTS` reply that does not have the documented shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected CLUSTER SLOTS reply: {0}")]
pub struct SlotMapError(pub String);

/// The master of every slot (`host:port`), as one node saw it.
#[derive(Debug, Clone)]
pub struct SlotMap {
    /// The masters, indexed by `owner`.
    nodes: Vec<Arc<str>>,
    /// Per slot, an index into `nodes`, or [`NONE`] (no master serves it).
    owner: Box<[u16]>,
}

const NONE: u16 = u16::MAX;

impl Default for SlotMap {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            owner: vec![NONE; usize::from(SLOTS)].into_boxed_slice(),
        }
    }
}

/// `host` and `port` as one address; an IPv6 host in brackets.
fn addr(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

impl SlotMap {
    /// Parse a `CLUSTER SLOTS` reply got from the node whose host is `asked_host` (an
    /// empty host in the reply means that one, as the command's documentation says).
    /// A master whose endpoint is unknown (`?`) is left out: its slots have no owner
    /// until a later read or a MOVED names one.
    pub fn parse(reply: &Value, asked_host: &str) -> Result<Self, SlotMapError> {
        let bad = |what: &str| SlotMapError(what.to_string());
        let Value::Array(ranges) = reply else {
            return Err(bad("not an array"));
        };
        let mut map = Self::default();
        for range in ranges {
            let Value::Array(fields) = range else {
                return Err(bad("a range is not an array"));
            };
            let (Some(start), Some(end), Some(Value::Array(master))) = (
                fields.first().and_then(int),
                fields.get(1).and_then(int),
                fields.get(2),
            ) else {
                return Err(bad("a range without start, end and master"));
            };
            let slots = 0..i64::from(SLOTS);
            if !slots.contains(&start) || !slots.contains(&end) || start > end {
                return Err(SlotMapError(format!("slot range {start}-{end}")));
            }
            let (Some(host), Some(port)) =
                (master.first().and_then(text), master.get(1).and_then(int))
            else {
                return Err(bad("a master without host and port"));
            };
            if host == "?" {
                continue;
            }
            let host = if host.is_empty() { asked_host } else { &host };
            let node = map.index_of(&addr(host, port));
            // In range: checked above.
            for slot in start as usize..=end as usize {
                map.owner[slot] = node;
            }
        }
        Ok(map)
    }

    fn index_of(&mut self, node: &str) -> u16 {
        match self.nodes.iter().position(|n| **n == *node) {
            Some(i) => i as u16,
            None => {
                self.nodes.push(Arc::from(node));
                (self.nodes.len() - 1) as u16
            }
        }
    }

    /// The master serving `slot` (`host:port`), if one does.
    pub fn owner(&self, slot: u16) -> Option<&Arc<str>> {
        let i = *self.owner.get(usize::from(slot))?;
        self.nodes.get(usize::from(i))
    }

    /// A `MOVED <slot> <addr>` reply: `slot` is served by `addr` now.
    pub fn moved(&mut self, slot: u16, addr: &str) {
        if usize::from(slot) < self.owner.len() {
            let i = self.index_of(addr);
            self.owner[usize::from(slot)] = i;
        }
    }

    /// The masters serving at least one slot.
    pub fn masters(&self) -> Vec<Arc<str>> {
        let mut used = vec![false; self.nodes.len()];
        for &i in self.owner.iter() {
            if let Some(u) = used.get_mut(usize::from(i)) {
                *u = true;
            }
        }
        self.nodes
            .iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Slots that no master serves.
    pub fn uncovered(&self) -> usize {
        self.owner.iter().filter(|&&i| i == NONE).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    fn range(start: i64, end: i64, host: &str, port: i64) -> Value {
        Value::Array(vec![
            Value::Int(start),
            Value::Int(end),
            Value::Array(vec![
                b(host),
                Value::Int(port),
                b("id"),
                Value::Array(vec![]),
            ]),
            // A replica: ignored.
            Value::Array(vec![b("10.0.0.9"), Value::Int(9), b("id2")]),
        ])
    }

    #[test]
    fn parses_cluster_slots_and_follows_moved() {
        let reply = Value::Array(vec![
            range(0, 5460, "10.0.0.1", 7000),
            range(5461, 10922, "", 7001),
            range(10923, 16383, "::1", 7002),
        ]);
        let mut map = SlotMap::parse(&reply, "asked").unwrap();
        assert_eq!(map.owner(0).map(|a| &**a), Some("10.0.0.1:7000"));
        assert_eq!(map.owner(5461).map(|a| &**a), Some("asked:7001"));
        assert_eq!(map.owner(16383).map(|a| &**a), Some("[::1]:7002"));
        assert_eq!(map.masters().len(), 3);
        assert_eq!(map.uncovered(), 0);
        map.moved(0, "10.0.0.4:7003");
        assert_eq!(map.owner(0).map(|a| &**a), Some("10.0.0.4:7003"));
        assert_eq!(map.owner(1).map(|a| &**a), Some("10.0.0.1:7000"));
        assert_eq!(map.masters().len(), 4);
    }

    #[test]
    fn unknown_shapes_are_errors_and_gaps_stay_uncovered() {
        assert!(SlotMap::parse(&Value::Nil, "h").is_err());
        assert!(SlotMap::parse(&Value::Array(vec![Value::Int(1)]), "h").is_err());
        let out_of_range = Value::Array(vec![range(0, 16384, "h", 1)]);
        assert!(SlotMap::parse(&out_of_range, "h").is_err());
        let part = SlotMap::parse(&Value::Array(vec![range(0, 99, "h", 1)]), "x").unwrap();
        assert_eq!(part.uncovered(), 16384 - 100);
        assert!(part.owner(100).is_none());
        let unknown = SlotMap::parse(&Value::Array(vec![range(0, 9, "?", 1)]), "x").unwrap();
        assert!(unknown.owner(0).is_none());
        assert!(unknown.masters().is_empty());
    }
}
