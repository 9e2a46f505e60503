//! Choosing the execution service's backend from `JUDGE_URL`.

use std::sync::Arc;

use crate::redis::Conn;

use super::client::{ExecError, Executor, QueueBackend};
use super::piston_client::PistonBackend;

/// The backend `JUDGE_URL` asks for: a Piston at that URL, else the queue on `redis`.
pub fn executor(judge_url: Option<&str>, redis: Conn) -> Result<Arc<dyn Executor>, ExecError> {
    match judge_url {
        Some(url) if !url.is_empty() => Ok(Arc::new(PistonBackend::new(url)?)),
        _ => Ok(Arc::new(QueueBackend::new(redis))),
    }
}
