//! The treasure hunt's keys. Every key one hunt script touches shares a tag: a map's keys
//! and its partition's claim stream share `{p<k>}`; the leaderboards and their apply-once
//! markers share `{lb}`.
//!
//! | key | type | purpose |
//! |---|---|---|
//! | `arena:{p<k>}:map:<id>` | hash, EX hunt_key_ttl | immutable map `id` (k = id % partitions): width, height, expiresAt, treasures (JSON), `v:<tile>` = value |
//! | `arena:{p<k>}:map:<id>:owners` | hash, EX hunt_key_ttl | tile -> player; set once per tile by `claim.lua` |
//! | `arena:{p<k>}:claims` | stream, MAXLEN ~ | the claim log of partition k: mapId, tile, player, value, claimId, at |
//! | `arena:{p<k>}:claimed` | shard channel | `tile_claimed` of partition k: `claim.lua` SPUBLISHes `<entry id>\n<JSON>` in the claim's own step; every instance SSUBSCRIBEs every partition's (`broadcast.rs`) |
//! | `arena:{p<k>}:claims:dead` | stream, MAXLEN ~ | claim entries that failed `hunt_max_deliveries` times |
//! | `arena:{lb}:global` | zset | hunt leaderboard, player -> score (projection of every partition) |
//! | `arena:{lb}:map:<id>` | zset, EX hunt_key_ttl | leaderboard of one map |
//! | `arena:{lb}:applied:<mapId>` | string (bitmap), EX hunt_key_ttl | apply-once markers of a map's claims, bit `tile` (a tile is claimed at most once, so the bit is the claim): at most width x height / 8 bytes a map, where one key per claim cost ~430M keys for 6 h of 20k claims/s; in `{lb}` so the check and the ZINCRBY are one script on one slot (the price: every projection write lands on the `{lb}` slot) |
//! | `arena:{mapgen}:lock:<n>` / `:last` | period race | one map per period (`services::period`) |
//! | `arena:{hunt:board}:lock:<n>` / `:last` | period race | the 500 ms leaderboard broadcast |
//! | `arena:{p<k>}:rl:claim:<player>` | string, PX | GCRA state of the player's claim limit in partition k, checked by `claim.lua` itself (`claim_limit`) |

/// The period race of the map generator.
pub const MAPGEN_RACE: &str = "mapgen";
/// The period race of the leaderboard broadcast.
pub const BOARD_RACE: &str = "hunt:board";

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

/// The shard channel of partition `p`'s `tile_claimed` (a channel, not a key; it shares
/// the partition's tag so the claim script may SPUBLISH to it on a Cluster).
pub fn hunt_claimed(p: u32) -> String {
    format!("arena:{{p{p}}}:claimed")
}

/// The partition `channel` belongs to, if it is a `tile_claimed` channel.
pub fn partition_of_claimed(channel: &str) -> Option<u32> {
    channel
        .strip_prefix("arena:{p")?
        .strip_suffix("}:claimed")?
        .parse()
        .ok()
}

/// The dead-letter stream of partition `p`.
pub fn hunt_dead_letters(p: u32) -> String {
    format!("arena:{{p{p}}}:claims:dead")
}

/// The GCRA state of `player`'s claim rate limit in partition `p`.
///
/// It lives in the map's partition so that `claim.lua` checks the limit in the claim's
/// own step (one round trip, one Cluster slot). The price: the limit is per player *per
/// partition*. A player claiming on one map (the usual case) gets exactly `CLAIM_RATE`;
/// one spreading claims over every live map gets at most `CLAIM_RATE` on each. Maps are
/// claimable for `LIFETIME_PERIODS` (5) periods and consecutive map ids fall in different
/// partitions, so the fleet-wide ceiling is `CLAIM_RATE x min(5, HUNT_PARTITIONS)`: still a
/// hard bound. Splitting the budget (`CLAIM_RATE / 5` per partition) would cut the usual
/// case to a fifth; a limit key in the player's own slot needs a second round trip.
pub fn claim_limit(p: u32, player: &str) -> String {
    format!("arena:{{p{p}}}:rl:claim:{player}")
}

/// The global hunt leaderboard.
pub fn lb_global() -> &'static str {
    "arena:{lb}:global"
}

/// The leaderboard of map `map_id`.
pub fn lb_map(map_id: u64) -> String {
    format!("arena:{{lb}}:map:{map_id}")
}

/// The apply-once markers of map `map_id`'s claims: a bitmap, bit `tile` per claim.
pub fn lb_applied(map_id: u64) -> String {
    format!("arena:{{lb}}:applied:{map_id}")
}

/// A scratch key for `arena hunt rebuild` (renamed over `lb_global`: same tag).
pub fn lb_rebuild(nonce: u64) -> String {
    format!("arena:{{lb}}:rebuild:{nonce}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis::keys::hash_tag;

    #[test]
    fn hunt_keys_share_their_partition_tag() {
        let p = partition_of(42, 16);
        assert_eq!(p, 10);
        assert_eq!(hash_tag(&hunt_map(p, 42)), Some("p10"));
        assert_eq!(hash_tag(&hunt_owners(p, 42)), Some("p10"));
        assert_eq!(hash_tag(&hunt_claims(p)), Some("p10"));
        assert_eq!(hash_tag(&hunt_dead_letters(p)), Some("p10"));
        assert_eq!(hash_tag(&hunt_claimed(p)), Some("p10"));
        assert_eq!(partition_of_claimed(&hunt_claimed(p)), Some(p));
        assert_eq!(partition_of_claimed("arena:{r1.0}:room:x"), None);
        assert_eq!(hash_tag(&claim_limit(p, "bob")), Some("p10"));
        // A player id with braces cannot move the key out of its partition's slot.
        assert_eq!(hash_tag(&claim_limit(p, "{evil}")), Some("p10"));
        assert_eq!(hash_tag(lb_global()), Some("lb"));
        assert_eq!(hash_tag(&lb_map(42)), Some("lb"));
        assert_eq!(hash_tag(&lb_applied(42)), Some("lb"));
        assert_eq!(hash_tag(&lb_rebuild(1)), Some("lb"));
    }
}
