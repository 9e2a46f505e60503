//! The keys and channels of the shared services, and the hash-tag rule every key obeys.
//!
//! Rule: all keys that one Lua script touches share a `{hash tag}`, so every script runs
//! on one Redis Cluster slot. Tags name the thing that is updated together. Each mode
//! builds its own keys in its `keys.rs` (e.g. `modes/hunt/keys.rs`); ARCHITECTURE.md has
//! the whole map. The shared ones:
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{<race>}:lock:<n>` | string, PX < period | lease on period `n` of a leader race (`tick`, `mapgen`, `hunt:board`); value = winner's token |
//! | `arena:{<race>}:last` | string | highest period of that race won so far (monotonic fence) |
//! | `arena:{lock:<r>}:lease` | string, PX ttl | Redlock lease on resource `r`, on every master; value = holder's random token |
//! | `arena:{lock:<r>}:fence` | string (int) | on the data Redis: newest fencing token issued or seen for `r` (INCR at acquire) |
//! | `arena:{lock:<r>}:data:<name>` | any | data guarded by lock `r`, written by the fenced scripts (same tag as its fence) |
//! | `arena:{rl:<action>:<subject>}` | string, PX | GCRA theoretical arrival time of one subject's `action` (rate_limit.lua) |
//! | `arena:{fleet}:instances` | zset | live instances: member = instance id, score = its last heartbeat (Redis ms) |
//! | `arena:{fleet}:instance:<id>` | string (JSON), PX | one instance's last heartbeat record |
//!
//! Pub/sub channels (not keys): socketioxide-redis uses `arena-request#/#`,
//! `arena-request#/#<uid>#` and `arena-response#/#<uid>#` (one set per namespace); the
//! round-trip probe uses `arena-probe#<uid>`.

/// The lease key of period `n` of the leader race named `race` (e.g. `tick`).
pub fn period_lock(race: &str, n: u64) -> String {
    format!("arena:{{{race}}}:lock:{n}")
}

/// The highest period of race `race` won so far (its monotonic fence).
pub fn period_last(race: &str) -> String {
    format!("arena:{{{race}}}:last")
}

/// The pub/sub round-trip probe channel of one instance.
pub fn probe_channel(uid: &str) -> String {
    format!("arena-probe#{uid}")
}

/// The index of live instances (`services::fleet`).
pub const FLEET_INDEX: &str = "arena:{fleet}:instances";

/// One instance's heartbeat record (same tag as the index: read together).
pub fn fleet_member(id: &str) -> String {
    format!("arena:{{fleet}}:instance:{id}")
}

/// The Redlock lease key of lock `resource` (the same name on every master).
pub fn lock_lease(resource: &str) -> String {
    format!("arena:{{lock:{resource}}}:lease")
}

/// The fencing counter of lock `resource`, on the data Redis.
pub fn lock_fence(resource: &str) -> String {
    format!("arena:{{lock:{resource}}}:fence")
}

/// A data key guarded by lock `resource`: it shares the fence's hash tag, so a fenced
/// script can check the token and write in one atomic step, on one Cluster slot.
pub fn lock_data(resource: &str, name: &str) -> String {
    format!("arena:{{lock:{resource}}}:data:{name}")
}

/// The rate-limit state of `subject` for `action`.
pub fn rate_limit(action: &str, subject: &str) -> String {
    format!("arena:{{rl:{action}:{subject}}}")
}

/// The hash tag of `key` as Redis Cluster computes it: the text between the first `{` and
/// the first `}` after it, if that text is not empty.
pub fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let len = key[open + 1..].find('}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

#[cfg(test)]
mod tests {
    #[test]
    fn period_keys_share_a_slot_tag() {
        assert_eq!(
            super::hash_tag(&super::period_lock("tick", 7)),
            Some("tick")
        );
        assert_eq!(super::hash_tag(&super::period_last("tick")), Some("tick"));
        assert_eq!(super::period_last("hunt:board"), "arena:{hunt:board}:last");
    }

    #[test]
    fn lock_keys_share_a_slot_tag() {
        let tag = Some("lock:battle:7");
        assert_eq!(super::hash_tag(&super::lock_lease("battle:7")), tag);
        assert_eq!(super::hash_tag(&super::lock_fence("battle:7")), tag);
        assert_eq!(super::hash_tag(&super::lock_data("battle:7", "x")), tag);
    }

    #[test]
    fn hash_tag_follows_the_cluster_rule() {
        assert_eq!(super::hash_tag("a{b}c{d}"), Some("b"));
        assert_eq!(super::hash_tag("a{}b{c}"), None);
        assert_eq!(super::hash_tag("abc"), None);
        assert_eq!(super::hash_tag("a{bc"), None);
    }
}
