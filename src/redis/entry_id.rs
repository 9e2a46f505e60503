//! Stream entry ids (`<ms>-<seq>`; redis-rs's `StreamId` is the whole entry), parsed
//! into numbers so they compare as Redis orders them (as text, `10-0` sorts before `9-9`).
//! Used by the battle outbox (the id after the group's last) and the hunt's `tile_claimed`
//! catch-up (which claims a reader has seen).

use std::fmt;

/// One stream entry id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryId {
    pub ms: u64,
    pub seq: u64,
}

impl EntryId {
    /// `0-0`: before every entry (an empty stream's position, a group that read nothing).
    pub const ZERO: EntryId = EntryId { ms: 0, seq: 0 };

    /// `<ms>-<seq>`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let (ms, seq) = s.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }

    /// The id right after this one (`<ms>-<seq+1>`); `None` past the last sequence number.
    pub fn next(self) -> Option<Self> {
        Some(Self {
            ms: self.ms,
            seq: self.seq.checked_add(1)?,
        })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_strictly_and_order_as_redis_does() {
        let id = |s| EntryId::parse(s).unwrap();
        assert!(id("10-0") > id("9-99"));
        assert!(id("10-2") > id("10-1"));
        assert_eq!(id("5-7").to_string(), "5-7");
        assert_eq!(id("0-0"), EntryId::ZERO);
        assert_eq!(id("5-7").next(), Some(id("5-8")));
        assert_eq!(
            EntryId {
                ms: 1,
                seq: u64::MAX
            }
            .next(),
            None
        );
        for bad in ["5", "x-0", "1-y", "-1", "1-", "nonsense"] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
    }
}
