//! How the battle side reaches the execution service: one interface, two backends —
//! the built-in queue (default) and an external Piston at `JUDGE_URL`.

use crate::redis::Conn;
use futures_util::future::BoxFuture;

use super::progress::Progress;
use super::queue::{self, QueueError, Status};
use super::submission::{Submission, SubmissionError};

/// A submission could not be handed over or looked up.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("bad submission: {0}")]
    Invalid(#[from] SubmissionError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("piston: {0}")]
    Piston(String),
}

/// The execution service. `submit` hands a submission over and returns its token at
/// once; `status` says where it stands. Neither waits for the judging itself.
pub trait Executor: Send + Sync + 'static {
    /// `queue` or `piston`.
    fn backend(&self) -> &'static str;
    fn submit<'a>(&'a self, sub: &'a Submission) -> BoxFuture<'a, Result<String, ExecError>>;
    fn status<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Status, ExecError>>;
    /// The tests finished so far, from entry `from` (0-based) on; a backend that cannot
    /// tell answers none (the caller then takes them from the report).
    fn progress<'a>(
        &'a self,
        token: &'a str,
        from: usize,
    ) -> BoxFuture<'a, Result<Vec<Progress>, ExecError>>;
}

/// The built-in queue: judges anywhere consume it (`arena judge`).
#[derive(Clone)]
pub struct QueueBackend {
    conn: Conn,
}

impl QueueBackend {
    pub fn new(conn: Conn) -> Self {
        Self { conn }
    }
}

impl Executor for QueueBackend {
    fn backend(&self) -> &'static str {
        "queue"
    }

    fn submit<'a>(&'a self, sub: &'a Submission) -> BoxFuture<'a, Result<String, ExecError>> {
        Box::pin(async move {
            sub.check()?;
            let mut conn = self.conn.clone();
            Ok(queue::submit(&mut conn, sub).await?)
        })
    }

    fn status<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Status, ExecError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            Ok(queue::status(&mut conn, token).await?)
        })
    }

    fn progress<'a>(
        &'a self,
        token: &'a str,
        from: usize,
    ) -> BoxFuture<'a, Result<Vec<Progress>, ExecError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            Ok(queue::progress(&mut conn, token, from).await?)
        })
    }
}
