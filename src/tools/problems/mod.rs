//! `arena problems list` and `arena problems check`: the bank as a table, and every
//! reference and wrong solution run against every test through a [`Runner`].
//!
//! The runner is the judge ([`JudgeRunner`]: bubblewrap, seccomp, cgroups, the limits a
//! battle submission meets). `--host` uses [`HostRunner`] instead: the host's python3,
//! node, gcc and g++ in a temp dir with a timeout, **outside any sandbox — trusted
//! reference code only**, for a machine without the judge's layers.

pub mod check;
pub mod host_runner;
pub mod judge_runner;
pub mod list;
pub mod runner;

pub use check::{CheckArgs, Report};
pub use host_runner::HostRunner;
pub use judge_runner::JudgeRunner;
pub use list::ListArgs;
pub use runner::{RunError, Runner, Submission, TestOutcome, Verdict};
