//! Every Redis key and channel arena uses, built in one place.
//!
//! Rule: all keys that one Lua script touches share a `{hash tag}`, so every script runs
//! on one Redis Cluster slot. Tags name the thing that is updated together:
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{tick}:lock:<n>` | string, PX < tick | lease on interval `n`; value = winner's token |
//! | `arena:{tick}:last` | string | highest interval number won so far (monotonic fence) |
//!
//! Pub/sub channels (not keys): socketioxide-redis uses `arena-request#/#`,
//! `arena-request#/#<uid>#` and `arena-response#/#<uid>#` (one set per namespace); the
//! round-trip probe uses `arena-probe#<uid>`.

/// Prefix of the socketioxide-redis channels.
pub const ADAPTER_PREFIX: &str = "arena";

/// The lease key of tick interval `n`.
pub fn tick_lock(n: u64) -> String {
    format!("arena:{{tick}}:lock:{n}")
}

/// The highest interval number won so far.
pub fn tick_last() -> &'static str {
    "arena:{tick}:last"
}

/// The pub/sub round-trip probe channel of one instance.
pub fn probe_channel(uid: &str) -> String {
    format!("arena-probe#{uid}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn tick_keys_share_a_slot_tag() {
        assert!(super::tick_lock(7).contains("{tick}"));
        assert!(super::tick_last().contains("{tick}"));
    }
}
