//! Where a room's traffic lives: its partition tag, its sharded pub/sub channel and its
//! history keys.
//!
//! A room maps to one of `N` partitions (CRC16 of the room name, mod `N`); each partition
//! has a hash tag, and the room's channel and keys carry it, so the publish script (which
//! appends to the history and SPUBLISHes in one step) runs on one Cluster slot:
//!
//! | name | kind | purpose |
//! |---|---|---|
//! | `arena:{<tag>}:room:<room>` | shard channel | the room's live events (SPUBLISH / SSUBSCRIBE) |
//! | `arena:{<tag>}:roommeta:<room>` | hash, EX | `epoch` (changes when history is lost), `seq` (the last offset) |
//! | `arena:{<tag>}:roomlog:<room>` | stream, MAXLEN ~, EX | the short history; entry id `0-<offset>` |
//!
//! Why the tags are searched for rather than named `{r<k>}`: a Cluster splits the 16384
//! slots into contiguous ranges, one per master, and CRC16 of short names like `r0..r15`
//! clumps (16 such tags land on only 12 of 48 masters). So tag `k` is the first string
//! `r<k>.<j>` (j = 0, 1, ...) whose slot falls in the k-th of `N` equal slot ranges: the
//! partitions then spread over the masters as evenly as the masters spread over the slots,
//! whatever their number. Every instance computes the same tags (the search is
//! deterministic and takes well under a millisecond for 1024 partitions).

use crate::redis::slot::{SLOTS, crc16, key_slot};

/// The Cluster slot of `key` (its hash tag's, if it has one).
pub fn slot(key: &str) -> u16 {
    key_slot(key.as_bytes())
}

/// The partition tags of rooms, one per partition, spread evenly over the slots.
#[derive(Debug, Clone)]
pub struct Partitions {
    tags: Vec<String>,
}

impl Partitions {
    /// `n` partitions (1..=16384).
    pub fn new(n: usize) -> Self {
        let n = n.clamp(1, usize::from(SLOTS));
        let width = usize::from(SLOTS) as f64 / n as f64;
        let tags = (0..n)
            .map(|k| {
                let lo = (k as f64 * width).floor() as u16;
                let hi = ((k + 1) as f64 * width).floor() as u16;
                // The range holds at least one slot, and CRC16 of `r<k>.<j>` visits every
                // range long before j runs out, so the search ends.
                (0u64..)
                    .map(|j| format!("r{k}.{j}"))
                    .find(|t| (lo..hi.max(lo + 1)).contains(&slot(t)))
                    .unwrap_or_else(|| format!("r{k}"))
            })
            .collect();
        Self { tags }
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The tag of `room`'s partition.
    pub fn tag_of(&self, room: &str) -> &str {
        let k = usize::from(crc16(room.as_bytes())) % self.tags.len();
        &self.tags[k]
    }

    /// The channel and keys of `room`.
    pub fn room(&self, room: &str) -> RoomKeys {
        RoomKeys::new(self.tag_of(room), room)
    }
}

/// A room's channel and history keys (all in the partition's slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomKeys {
    pub room: String,
    pub channel: String,
    pub meta: String,
    pub log: String,
}

impl RoomKeys {
    pub fn new(tag: &str, room: &str) -> Self {
        Self {
            room: room.to_string(),
            channel: format!("arena:{{{tag}}}:room:{room}"),
            meta: format!("arena:{{{tag}}}:roommeta:{room}"),
            log: format!("arena:{{{tag}}}:roomlog:{room}"),
        }
    }

    /// The room named by a channel of this shape (`arena:{tag}:room:<room>`).
    pub fn room_of_channel(channel: &str) -> Option<&str> {
        let rest = channel.strip_prefix("arena:{")?;
        let close = rest.find('}')?;
        rest[close + 1..].strip_prefix(":room:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        // `CLUSTER KEYSLOT foo` = 12182, `{user1000}.following` = 3443.
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("{user1000}.following"), 3443);
    }

    #[test]
    fn channel_and_keys_share_one_slot() {
        let p = Partitions::new(64);
        for room in ["r1", "lobby", "a:b.c-d_e", "x"] {
            let k = p.room(room);
            assert_eq!(slot(&k.channel), slot(&k.meta), "{k:?}");
            assert_eq!(slot(&k.channel), slot(&k.log), "{k:?}");
            assert_eq!(RoomKeys::room_of_channel(&k.channel), Some(room));
        }
        assert_eq!(RoomKeys::room_of_channel("arena-request#/#"), None);
    }

    /// Tags spread over masters: with N partitions and M masters owning equal contiguous
    /// ranges, every master gets N/M partitions (±1).
    #[test]
    fn tags_spread_evenly_over_masters() {
        for (n, masters) in [
            (16usize, 3usize),
            (256, 3),
            (16, 48),
            (256, 48),
            (48, 48),
            (1024, 7),
        ] {
            let p = Partitions::new(n);
            let mut per = vec![0usize; masters];
            for t in &p.tags {
                let s = usize::from(slot(t));
                per[s * masters / usize::from(SLOTS)] += 1;
            }
            let (min, max) = (per.iter().min().copied(), per.iter().max().copied());
            let lo = n / masters;
            assert!(
                min >= Some(lo.saturating_sub(1)) && max <= Some(n.div_ceil(masters) + 1),
                "{n} partitions over {masters} masters: {per:?}"
            );
            if n >= masters {
                assert!(min >= Some(1), "a master without partitions: {per:?}");
            }
        }
        // Deterministic: every instance computes the same tags.
        assert_eq!(Partitions::new(256).tags, Partitions::new(256).tags);
    }
}
