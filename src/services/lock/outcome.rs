//! `FencedOutcome`: what a fenced write did (committed, or refused as stale). Its own file
//! because both the fenced-write API (`fence.rs`) and the script wrappers (`scripts.rs`)
//! return it, and `fence.rs` calls the scripts.

/// The result of a fenced write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FencedOutcome<T> {
    /// Applied; carries what the write returns (`()` for SET, the new value for INCRBY).
    Committed(T),
    /// Refused, nothing written: a lease with fencing token `newest` was granted after
    /// the writer's. Treat it like a lost lease.
    Stale { newest: u64 },
}

impl<T> FencedOutcome<T> {
    /// From the scripts' reply `{1, value}` or `{0, newest}`; anything else is `None`
    /// (an unknown reply, never read as a default).
    pub(crate) fn from_reply(committed: i64, n: i64, value: impl FnOnce(i64) -> T) -> Option<Self> {
        match (committed, u64::try_from(n)) {
            (1, _) => Some(FencedOutcome::Committed(value(n))),
            (0, Ok(newest)) => Some(FencedOutcome::Stale { newest }),
            _ => None,
        }
    }

    pub fn is_committed(&self) -> bool {
        matches!(self, FencedOutcome::Committed(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_into_outcomes() {
        assert_eq!(
            FencedOutcome::from_reply(1, 7, |v| v),
            Some(FencedOutcome::Committed(7))
        );
        assert_eq!(
            FencedOutcome::<()>::from_reply(0, 9, |_| ()),
            Some(FencedOutcome::Stale { newest: 9 })
        );
        assert_eq!(FencedOutcome::<()>::from_reply(2, 9, |_| ()), None);
        assert_eq!(FencedOutcome::<()>::from_reply(0, -1, |_| ()), None);
    }
}
