//! `arena problems list` and `arena problems check`: the bank as a table, and every
//! reference and wrong solution run against every test through a [`Runner`].
//!
//! Until the judge lands, the runner is [`HostRunner`]: the host's python3, node, gcc
//! and g++ in a temp dir with a timeout, **outside any sandbox — trusted reference code
//! only; the judge replaces it** (one line in `check::run`).

pub mod check;
pub mod host_runner;
pub mod list;
pub mod runner;

pub use check::{CheckArgs, Report};
pub use host_runner::HostRunner;
pub use list::ListArgs;
pub use runner::{RunError, Runner, Submission, TestOutcome, Verdict};
