//! Every Redis key and channel arena uses, built in one place.
//!
//! Rule: all keys that one Lua script touches share a `{hash tag}`, so every script runs
//! on one Redis Cluster slot. Tags name the thing that is updated together:
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{tick}:lock:<n>` | string, PX < tick | lease on interval `n`; value = winner's token |
//! | `arena:{tick}:last` | string | highest interval number won so far (monotonic fence) |
//! | `arena:{lock:<r>}:lease` | string, PX ttl | Redlock lease on resource `r`, on every master; value = holder's random token |
//! | `arena:{lock:<r>}:fence` | string (int) | on the data Redis: newest fencing token issued or seen for `r` (INCR at acquire) |
//! | `arena:{lock:<r>}:data:<name>` | any | data guarded by lock `r`, written by the fenced scripts (same tag as its fence) |
//! | `arena:{mapgen}:lock:<n>` | string, PX < map_ms | lease on map period `n`; value = generator's token |
//! | `arena:{mapgen}:last` | string | highest map period generated so far (monotonic fence) |
//! | `arena:{p<k>}:map:<id>` | hash, EX hunt_key_ttl | immutable map `id` (k = id % partitions): width, height, createdAt, expiresAt, treasures (JSON), `v:<tile>` = value |
//! | `arena:{p<k>}:map:<id>:owners` | hash, EX hunt_key_ttl | tile -> player; set once per tile by `claim.lua` |
//! | `arena:{p<k>}:claims` | stream, MAXLEN ~ | the claim log of partition k: mapId, tile, player, value, claimId, at |
//! | `arena:{p<k>}:claims:dead` | stream, MAXLEN ~ | claim entries that failed `hunt_max_deliveries` times |
//! | `arena:{lb}:global` | zset | hunt leaderboard, player -> score (projection of every partition) |
//! | `arena:{lb}:map:<id>` | zset, EX hunt_key_ttl | leaderboard of one map |
//! | `arena:{lb}:applied:<claimId>` | string, EX hunt_key_ttl | apply-once marker of a claim; in `{lb}` so the check and the ZINCRBY are one script on one slot (the price: every projection write lands on the `{lb}` slot) |
//! | `arena:{hunt:board}:lock:<n>` / `:last` | string | leader race for the 500 ms leaderboard broadcast |
//! | `arena:{rl:<action>:<player>}` | string, PX | GCRA theoretical arrival time of one player's `action` (rate_limit.lua) |
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

/// The lease key of map period `n` (the map generator's race).
pub fn mapgen_lock(n: u64) -> String {
    format!("arena:{{mapgen}}:lock:{n}")
}

/// The highest map period generated so far.
pub fn mapgen_last() -> &'static str {
    "arena:{mapgen}:last"
}

/// The lease key of leaderboard-broadcast period `n`.
pub fn board_lock(n: u64) -> String {
    format!("arena:{{hunt:board}}:lock:{n}")
}

/// The highest leaderboard-broadcast period won so far.
pub fn board_last() -> &'static str {
    "arena:{hunt:board}:last"
}

/// The partition of map `map_id`: `map_id % partitions`.
pub fn partition_of(map_id: u64, partitions: u32) -> u32 {
    (map_id % u64::from(partitions.max(1))) as u32
}

/// The immutable map `map_id`, in partition `p`.
pub fn hunt_map(p: u32, map_id: u64) -> String {
    format!("arena:{{p{p}}}:map:{map_id}")
}

/// Tile owners of map `map_id`, in partition `p`.
pub fn hunt_owners(p: u32, map_id: u64) -> String {
    format!("arena:{{p{p}}}:map:{map_id}:owners")
}

/// The claim stream of partition `p`.
pub fn hunt_claims(p: u32) -> String {
    format!("arena:{{p{p}}}:claims")
}

/// The dead-letter stream of partition `p`.
pub fn hunt_dead_letters(p: u32) -> String {
    format!("arena:{{p{p}}}:claims:dead")
}

/// The global hunt leaderboard.
pub fn lb_global() -> &'static str {
    "arena:{lb}:global"
}

/// The leaderboard of map `map_id`.
pub fn lb_map(map_id: u64) -> String {
    format!("arena:{{lb}}:map:{map_id}")
}

/// The apply-once marker of claim `claim_id`.
pub fn lb_applied(claim_id: &str) -> String {
    format!("arena:{{lb}}:applied:{claim_id}")
}

/// A scratch key for `arena hunt rebuild` (renamed over `lb_global`: same tag).
pub fn lb_rebuild(nonce: u64) -> String {
    format!("arena:{{lb}}:rebuild:{nonce}")
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
    fn tick_keys_share_a_slot_tag() {
        assert!(super::tick_lock(7).contains("{tick}"));
        assert!(super::tick_last().contains("{tick}"));
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

    #[test]
    fn hunt_keys_share_their_partition_tag() {
        let p = super::partition_of(42, 16);
        assert_eq!(p, 10);
        assert_eq!(super::hash_tag(&super::hunt_map(p, 42)), Some("p10"));
        assert_eq!(super::hash_tag(&super::hunt_owners(p, 42)), Some("p10"));
        assert_eq!(super::hash_tag(&super::hunt_claims(p)), Some("p10"));
        assert_eq!(super::hash_tag(&super::hunt_dead_letters(p)), Some("p10"));
        assert_eq!(super::hash_tag(super::lb_global()), Some("lb"));
        assert_eq!(super::hash_tag(&super::lb_map(42)), Some("lb"));
        assert_eq!(super::hash_tag(&super::lb_applied("42:7")), Some("lb"));
        assert_eq!(super::hash_tag(&super::lb_rebuild(1)), Some("lb"));
    }
}
