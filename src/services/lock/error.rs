//! `LockError`: why a lock operation failed, and the wire code it maps to.

use std::time::Duration;

use redis::RedisError;

use crate::base::error::ErrorCode;

/// Why a lock operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("invalid lock resource {name:?}: {reason}")]
    InvalidResource { name: String, reason: &'static str },
    #[error("invalid lock settings: {0}")]
    Config(String),
    #[error("invalid Redlock master URL {url:?}: {source}")]
    Url { url: String, source: RedisError },
    #[error(
        "quorum not reached: {granted} of {masters} masters granted the lock (need {quorum}; \
         {held} held by another holder, {failed} failed or timed out)"
    )]
    NoQuorum {
        granted: usize,
        held: usize,
        failed: usize,
        masters: usize,
        quorum: usize,
    },
    #[error(
        "lock acquired too slowly: the round took {elapsed:?} of a {ttl:?} TTL, no validity left"
    )]
    NoValidity { elapsed: Duration, ttl: Duration },
    #[error("fencing token not issued by the data Redis: {0}")]
    Fence(String),
    #[error("lock {resource} not acquired within {waited:?} ({attempts} attempts); last: {last}")]
    NotAcquired {
        resource: String,
        waited: Duration,
        attempts: u32,
        last: Box<LockError>,
    },
    #[error(
        "key {key:?} is outside the hash tag {{lock:{resource}}}: a fenced write cannot check \
         it atomically"
    )]
    CrossSlot { key: String, resource: String },
    #[error("redis: {0}")]
    Redis(#[from] RedisError),
}

impl LockError {
    /// The wire code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            LockError::InvalidResource { .. } => ErrorCode::BAD_REQUEST,
            LockError::Config(_) | LockError::Url { .. } | LockError::CrossSlot { .. } => {
                ErrorCode::INTERNAL
            }
            LockError::NoQuorum { .. }
            | LockError::NoValidity { .. }
            | LockError::Fence(_)
            | LockError::NotAcquired { .. }
            | LockError::Redis(_) => ErrorCode::UNAVAILABLE,
        }
    }

    /// Another holder has the lock and every master answered: plain contention, not a fault.
    pub fn is_contended(&self) -> bool {
        match self {
            LockError::NoQuorum { failed, .. } => *failed == 0,
            LockError::NotAcquired { last, .. } => last.is_contended(),
            _ => false,
        }
    }

    pub(super) fn is_retryable(&self) -> bool {
        matches!(
            self,
            LockError::NoQuorum { .. } | LockError::NoValidity { .. } | LockError::Fence(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_error_reads_clearly() {
        let e = LockError::NoQuorum {
            granted: 1,
            held: 0,
            failed: 2,
            masters: 3,
            quorum: 2,
        };
        assert!(
            e.to_string()
                .starts_with("quorum not reached: 1 of 3 masters granted the lock (need 2;"),
            "{e}"
        );
        assert!(!e.is_contended());
        assert_eq!(e.code(), ErrorCode::UNAVAILABLE);
    }
}
