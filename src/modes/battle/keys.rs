//! The battle mode's keys. A battle's keys, its pairing's fencing counter and the outbox
//! stream it appends to share one hash tag `{b<k>}`, k = the pairing's partition, so
//! `battle_create.lua` and `battle_end.lua` check the fence, change the battle and XADD
//! the event in one atomic step on one Cluster slot. A stream per pairing would share the
//! slot too, but no consumer could find them all; `BATTLE_OUTBOX_PARTITIONS` streams can
//! be read by a fixed set of consumers. The Redlock lease itself stays at
//! `arena:{lock:battle:<hash>}:lease` on the Redlock masters (no script reads it with
//! these keys).
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{b<k>}:battle:<hash>:fence` | string (int) | the pairing lock's fencing counter (Redlock INCRs it at acquire) |
//! | `arena:{b<k>}:battle:<hash>:active` | string, EX | the pairing's active battle id (idempotency key) |
//! | `arena:{b<k>}:battle:<hash>:<ms>-<n>` | string (JSON), EX | battle `<hash>-<ms>-<n>` |
//! | `arena:{b<k>}:outbox` | stream | battle events of partition k, for the SQL records (consumer group `records`) |
//! | `arena:{b<k>}:outbox:dead` | stream, MAXLEN ~ | outbox entries that failed `BATTLE_OUTBOX_MAX_DELIVERIES` times |
//! | `arena:{b<k>}:battle:<hash>:<ms>-<n>:subs` | hash, EX | the battle's submissions: id -> JSON (source, verdict, per-test verdicts) |
//! | `arena:{b<k>}:battle:<hash>:<ms>-<n>:key:<player>:<key>` | string, EX | a submit's idempotency key -> its submission id |
//! | `arena:{battles}:active` | zset | active battles by expiry, for `arena_active_battles` and the pause driver |
//! | `arena:{battles}:deadlines` | zset | running battles by the end of their clock (ms); paused ones leave it until resumed |
//! | `arena:{battles}:judging` | zset | `<battle id>/<submission id>` still being judged, by when an instance last took it (recovery of an instance that died mid-judging) |
//! | `arena:{ratings}:board` | zset | player -> Elo rating (a copy of SQL's `ratings`, ZADDed by the outbox consumer), for `GET /api/leaderboard/rating` |
//! | `arena:{mm}:queue:<difficulty>` | zset, PX | matchmaking queue (`easy`, `medium`, `hard`, `any`): player -> enqueue ms (Redis clock) |
//! | `arena:{mm}:queued:<player>` | string, PX | `<difficulty>:<enqueue ms>`: the player's one queue entry; its TTL is the entry's liveness |
//!
//! Changing `BATTLE_OUTBOX_PARTITIONS` moves every pairing's keys: live battles are then
//! found only in SQL and their pairings could start a second one. Every instance must use
//! the same value, changed only with the fleet stopped and Redis's battles drained.

/// The global index of active battles (score = expiry, ms), for `arena_active_battles`.
pub const ACTIVE_INDEX: &str = "arena:{battles}:active";

/// Running battles by the end of their clock (ms), for the sweep that ends them on time.
pub const DEADLINES: &str = "arena:{battles}:deadlines";

/// Submissions being judged (`<battle id>/<submission id>`) by when they were last taken.
pub const JUDGING: &str = "arena:{battles}:judging";

/// The rating leaderboard (score = the player's Elo rating, as SQL has it).
pub const RATING_BOARD: &str = "arena:{ratings}:board";

/// The partition of the pairing with hash `pairing_hash` (hex): its first 8 hex digits
/// modulo `partitions`.
pub fn partition_of(pairing_hash: &str, partitions: u32) -> u32 {
    let head = pairing_hash.get(..8).unwrap_or(pairing_hash);
    let n = u64::from_str_radix(head, 16).unwrap_or(0);
    (n % u64::from(partitions.max(1))) as u32
}

/// The fencing counter of the pairing's lock.
pub fn fence(p: u32, pairing_hash: &str) -> String {
    format!("arena:{{b{p}}}:battle:{pairing_hash}:fence")
}

/// The pairing's active battle id.
pub fn active(p: u32, pairing_hash: &str) -> String {
    format!("arena:{{b{p}}}:battle:{pairing_hash}:active")
}

/// The record of battle `<pairing_hash>-<suffix>`.
pub fn record(p: u32, pairing_hash: &str, suffix: &str) -> String {
    format!("arena:{{b{p}}}:battle:{pairing_hash}:{suffix}")
}

/// The submissions of battle `<pairing_hash>-<suffix>`.
pub fn subs(p: u32, pairing_hash: &str, suffix: &str) -> String {
    format!("arena:{{b{p}}}:battle:{pairing_hash}:{suffix}:subs")
}

/// The submission a player's idempotency key names, in battle `<record>`.
pub fn submit_key(record: &str, player: &str, key: &str) -> String {
    format!("{record}:key:{player}:{key}")
}

/// The outbox stream of partition `p`.
pub fn outbox(p: u32) -> String {
    format!("arena:{{b{p}}}:outbox")
}

/// The dead-letter stream of partition `p`.
pub fn outbox_dead(p: u32) -> String {
    format!("arena:{{b{p}}}:outbox:dead")
}

/// The matchmaking queue of `difficulty` (`easy|medium|hard|any`).
pub fn mm_queue(difficulty: &str) -> String {
    format!("arena:{{mm}}:queue:{difficulty}")
}

/// Prefix of every `arena:{mm}:queued:<player>` key (`matchmake.lua` builds a partner's).
pub const MM_QUEUED_PREFIX: &str = "arena:{mm}:queued:";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::keys::hash_tag;

    #[test]
    fn a_battles_keys_share_its_partitions_outbox_slot() {
        let h = "0123456789abcdef0123456789abcdef";
        let p = partition_of(h, 8);
        assert_eq!(p, (0x0123_4567u64 % 8) as u32);
        let tag = Some("b7");
        assert_eq!(hash_tag(&fence(p, h)), tag);
        assert_eq!(hash_tag(&active(p, h)), tag);
        assert_eq!(hash_tag(&record(p, h, "1-2")), tag);
        assert_eq!(hash_tag(&subs(p, h, "1-2")), tag);
        assert_eq!(hash_tag(&submit_key(&record(p, h, "1-2"), "alice", "k1")), tag);
        assert_eq!(hash_tag(&outbox(p)), tag);
        assert_eq!(hash_tag(&outbox_dead(p)), tag);
        assert_eq!(partition_of(h, 1), 0);
    }
}
