//! Why a battle operation failed, and what the client sees.

use crate::base::error::{AckError, ErrorCode};
use crate::services::lock::LockError;
use crate::services::store::StoreError;

/// Errors of battle operations.
#[derive(Debug, thiserror::Error)]
pub enum BattleError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("records database: {0}")]
    Store(#[from] StoreError),
    #[error("battle start kept losing its lease; retry")]
    Contended,
    /// A stored record or script reply that does not parse (counted and logged where found).
    #[error("corrupt battle data in redis")]
    Corrupt,
}

impl BattleError {
    pub fn code(&self) -> ErrorCode {
        match self {
            BattleError::BadRequest(_) => ErrorCode::BAD_REQUEST,
            BattleError::NotFound(_) => ErrorCode::NOT_FOUND,
            BattleError::Lock(e) => e.code(),
            BattleError::Redis(_)
            | BattleError::Store(_)
            | BattleError::Contended
            | BattleError::Corrupt => {
                ErrorCode::UNAVAILABLE
            }
        }
    }
}

impl From<BattleError> for AckError {
    fn from(e: BattleError) -> Self {
        let message = match &e {
            // Internal details stay in the logs.
            BattleError::Redis(_)
            | BattleError::Store(_)
            | BattleError::Lock(LockError::Redis(_))
            | BattleError::Corrupt => {
                "a backing service is unavailable, retry".to_string()
            }
            other => other.to_string(),
        };
        AckError::new(e.code(), message)
    }
}

