//! The execution service as the battle side sees it: what a submission is, what a judge
//! reports, the queue judges consume (its keys and scripts), and the comparators both
//! sides use. The worker that runs submissions is the `judge` layer above.

pub mod backend;
pub mod breaker;
pub mod client;
pub mod compare;
pub mod guarded;
pub mod keys;
pub mod metrics;
pub mod piston;
pub mod piston_client;
pub mod progress;
pub mod queue;
pub mod report;
pub mod settings;
pub mod submission;

pub use progress::Progress;
pub use report::{CompileResult, Report, RunStats, TestResult, Verdict};
pub use submission::{Comparator, Limits, Submission, SubmissionError, TestCase};
