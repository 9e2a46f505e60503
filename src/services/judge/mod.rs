//! The execution service as the battle side sees it: what a submission is, what a judge
//! reports, and (with the queue, its keys and the shared breaker) how one gets there.
//! The worker that runs submissions is the `judge` layer above.

pub mod report;
pub mod submission;

pub use report::{CompileResult, Report, RunStats, TestResult, Verdict};
pub use submission::{Comparator, Limits, Submission, SubmissionError, TestCase};
