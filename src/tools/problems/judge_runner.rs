//! `arena problems check` through the judge: the same sandbox, limits and comparators a
//! battle submission meets (bubblewrap, seccomp, cgroups), in this process.

use std::path::PathBuf;

use super::runner::{RunError, Runner, Submission, TestOutcome, Verdict};
use crate::judge::{HostSetup, Judge};
use crate::services::judge::{Report, Verdict as JudgeVerdict};
use crate::services::problems::submission::to_judge;

/// The judge, started on this host.
pub struct JudgeRunner {
    judge: Judge,
}

impl JudgeRunner {
    /// Start a judge here (fails, naming the missing layer, on a host without one).
    pub async fn start() -> Result<JudgeRunner, RunError> {
        let io = |what: &'static str| move |source| RunError::Io { what, source };
        let helper = std::env::current_exe().map_err(io("the arena binary's path"))?;
        let setup = HostSetup {
            work_dir: std::env::temp_dir().join("arena-problems-check"),
            bwrap: PathBuf::from(crate::judge::settings::BWRAP),
            helper,
            cgroup_root: PathBuf::from(crate::judge::settings::CGROUP_ROOT),
        };
        let (judge, _) = crate::judge::start(&setup)
            .await
            .map_err(|e| RunError::Judge(e.to_string()))?;
        Ok(JudgeRunner { judge })
    }
}

impl Runner for JudgeRunner {
    async fn run(&self, s: &Submission<'_>) -> Result<Vec<TestOutcome>, RunError> {
        let sub = to_judge(s.language, s.source, s.tests, s.limits, s.comparator);
        let report = self
            .judge
            .judge(&sub)
            .await
            .map_err(|e| RunError::Judge(e.to_string()))?;
        outcomes(&report)
    }
}

/// The runner's contract from a judge's report: outcomes in test order, stopping at the
/// first test not accepted; a compile error is one outcome; an internal error is no
/// verdict at all.
fn outcomes(r: &Report) -> Result<Vec<TestOutcome>, RunError> {
    if r.verdict == JudgeVerdict::CE {
        let detail = r
            .compile
            .as_ref()
            .map(|c| c.output.clone())
            .unwrap_or_default();
        return Ok(vec![TestOutcome {
            verdict: Verdict::CompileError,
            time_ms: 0,
            detail: first_lines(&detail),
        }]);
    }
    let mut out = Vec::new();
    for t in &r.tests {
        let verdict = match t.verdict {
            JudgeVerdict::AC => Verdict::Accepted,
            JudgeVerdict::WA => Verdict::WrongAnswer,
            JudgeVerdict::TLE => Verdict::TimeLimitExceeded,
            JudgeVerdict::OLE => Verdict::OutputLimitExceeded,
            // The host runner's contract has no memory verdict: a program killed for
            // its memory did not run to the end.
            JudgeVerdict::RE | JudgeVerdict::MLE => Verdict::RuntimeError,
            JudgeVerdict::CE => Verdict::CompileError,
            JudgeVerdict::IE => {
                return Err(RunError::Judge(
                    t.message.clone().unwrap_or_else(|| "internal error".into()),
                ));
            }
        };
        let detail = match t.verdict {
            JudgeVerdict::AC => String::new(),
            JudgeVerdict::MLE => "memory limit exceeded".into(),
            _ => first_lines(if t.stderr.is_empty() {
                &t.stdout
            } else {
                &t.stderr
            }),
        };
        out.push(TestOutcome {
            verdict,
            time_ms: t.stats.cpu_ms,
            detail,
        });
        if verdict != Verdict::Accepted {
            break;
        }
    }
    if r.verdict == JudgeVerdict::IE && out.iter().all(|o| o.verdict == Verdict::Accepted) {
        return Err(RunError::Judge(
            r.message.clone().unwrap_or_else(|| "internal error".into()),
        ));
    }
    Ok(out)
}

/// The first few lines, for a table cell.
fn first_lines(s: &str) -> String {
    s.lines().take(3).collect::<Vec<_>>().join(" / ")
}
