//! **Trusted reference code only; the judge replaces this.** Runs a program with the
//! host's own toolchains (python3, node, gcc, g++) in a temp dir, with a wall-clock time
//! limit and an output cap, **outside any sandbox**: no memory limit, no network or file
//! isolation. It exists so `arena problems check` can prove the bank's reference and
//! wrong solutions before the judge exists; never give it a player's code.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::runner::{RunError, Runner, Submission, TestOutcome, Verdict};
use crate::services::problems::{Language, compare};

/// How long a compiler may take.
pub const COMPILE_TIMEOUT: Duration = Duration::from_secs(60);
/// Standard output kept from one run; more is `OutputLimitExceeded`.
pub const OUTPUT_CAP_BYTES: usize = 16 << 20;
/// Standard error kept from one run, for the detail.
const STDERR_CAP_BYTES: usize = 64 << 10;

/// Runs programs with the host's toolchains, unsandboxed (see the module docs).
#[derive(Debug, Default)]
pub struct HostRunner {
    /// The interpreter `python3` resolves to, found once: version managers put a shell
    /// script named `python3` on the PATH that costs more than the program it starts.
    python: tokio::sync::OnceCell<String>,
}

impl HostRunner {
    pub fn new() -> HostRunner {
        HostRunner::default()
    }

    async fn python(&self) -> Result<&str, RunError> {
        let path = self
            .python
            .get_or_try_init(|| async {
                let ran = execute(
                    Path::new("."),
                    "python3",
                    &["-c", "import sys; print(sys.executable)"],
                    "",
                    COMPILE_TIMEOUT,
                )
                .await
                .map_err(|e| spawn_error(e, "python3", Language::Python))?;
                let path = String::from_utf8_lossy(&ran.stdout).trim().to_string();
                match ran.end {
                    End::Exited(status) if status.success() && !path.is_empty() => Ok(path),
                    // No answer we can use: run `python3` itself every time.
                    _ => Ok("python3".to_string()),
                }
            })
            .await?;
        Ok(path)
    }
}

/// The file a language's source is written to, the compiler (if any) and the program:
/// an interpreter on the PATH, or for a compiled language the file the compiler wrote in
/// the run's dir.
struct Toolchain {
    file: &'static str,
    compile: Option<(&'static str, &'static [&'static str])>,
    run: (&'static str, &'static [&'static str]),
}

fn toolchain(language: Language) -> Toolchain {
    match language {
        Language::Python => Toolchain {
            file: "main.py",
            compile: None,
            // `python3` is replaced by the interpreter it resolves to (`HostRunner::python`).
            run: ("python3", &["main.py"]),
        },
        Language::Javascript => Toolchain {
            file: "main.js",
            compile: None,
            run: ("node", &["main.js"]),
        },
        Language::C => Toolchain {
            file: "main.c",
            compile: Some(("gcc", &["-O2", "-std=c17", "-o", "main", "main.c", "-lm"])),
            run: ("main", &[]),
        },
        Language::Cpp => Toolchain {
            file: "main.cpp",
            compile: Some(("g++", &["-O2", "-std=c++17", "-o", "main", "main.cpp"])),
            run: ("main", &[]),
        },
    }
}

impl Runner for HostRunner {
    async fn run(&self, s: &Submission<'_>) -> Result<Vec<TestOutcome>, RunError> {
        let dir = tempfile::Builder::new()
            .prefix("arena-run-")
            .tempdir()
            .map_err(|source| RunError::Io {
                what: "temp dir",
                source,
            })?;
        let tc = toolchain(s.language);
        tokio::fs::write(dir.path().join(tc.file), s.source)
            .await
            .map_err(|source| RunError::Io {
                what: "writing the source",
                source,
            })?;

        if let Some((compiler, args)) = tc.compile {
            // Compiled once, then run on every test.
            if let Some(failure) = compile(dir.path(), compiler, args, s.language).await? {
                return Ok(vec![failure]);
            }
        }

        let (tool, args) = tc.run;
        let built = dir.path().join(tool);
        let program = match s.language {
            Language::Python => self.python().await?,
            Language::Javascript => tool,
            // The binary the compiler wrote, by its full path.
            Language::C | Language::Cpp => built.to_str().unwrap_or(tool),
        };
        let limit = Duration::from_millis(u64::from(s.limits.time_ms));
        let mut outcomes = Vec::with_capacity(s.tests.len());
        for test in s.tests {
            let ran = execute(dir.path(), program, args, &test.input, limit)
                .await
                .map_err(|e| spawn_error(e, tool, s.language))?;
            let outcome = judge(&ran, &test.output, s, limit);
            let stop = outcome.verdict != Verdict::Accepted;
            outcomes.push(outcome);
            if stop {
                break;
            }
        }
        Ok(outcomes)
    }
}

/// `None` when the build succeeded, else the compile-error outcome.
async fn compile(
    dir: &Path,
    compiler: &'static str,
    args: &[&str],
    language: Language,
) -> Result<Option<TestOutcome>, RunError> {
    let ran = execute(dir, compiler, args, "", COMPILE_TIMEOUT)
        .await
        .map_err(|e| spawn_error(e, compiler, language))?;
    Ok(match ran.end {
        End::Exited(status) if status.success() => None,
        End::Exited(_) => Some(outcome(
            Verdict::CompileError,
            0,
            first_lines(&ran.stderr, 5),
        )),
        End::TimedOut => Some(outcome(
            Verdict::CompileError,
            0,
            format!("the compiler took over {} s", COMPILE_TIMEOUT.as_secs()),
        )),
        End::OutputCapped => Some(outcome(
            Verdict::CompileError,
            0,
            "compiler output too long".into(),
        )),
    })
}

fn judge(ran: &Ran, expected: &str, s: &Submission<'_>, limit: Duration) -> TestOutcome {
    let ms = u64::try_from(ran.elapsed.as_millis()).unwrap_or(u64::MAX);
    match ran.end {
        End::TimedOut => outcome(
            Verdict::TimeLimitExceeded,
            u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            String::new(),
        ),
        End::OutputCapped => outcome(
            Verdict::OutputLimitExceeded,
            ms,
            format!("more than {OUTPUT_CAP_BYTES} bytes of output"),
        ),
        End::Exited(status) if !status.success() => outcome(
            Verdict::RuntimeError,
            ms,
            format!("{}: {}", describe(status), error_line(&ran.stderr)),
        ),
        End::Exited(_) => {
            let actual = String::from_utf8_lossy(&ran.stdout);
            if compare(&s.comparator, expected, &actual) {
                outcome(Verdict::Accepted, ms, String::new())
            } else {
                outcome(
                    Verdict::WrongAnswer,
                    ms,
                    format!("expected {}, got {}", clip(expected), clip(&actual)),
                )
            }
        }
    }
}

fn outcome(verdict: Verdict, time_ms: u64, detail: String) -> TestOutcome {
    TestOutcome {
        verdict,
        time_ms,
        detail,
    }
}

/// How a run ended.
enum End {
    Exited(ExitStatus),
    TimedOut,
    OutputCapped,
}

struct Ran {
    end: End,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    elapsed: Duration,
}

/// Runs `program args` in `dir` with `input` on stdin, for at most `limit` (wall time).
/// A program still running at the limit is killed.
async fn execute(
    dir: &Path,
    program: &str,
    args: &[&str],
    input: &str,
    limit: Duration,
) -> std::io::Result<Ran> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's pipes were not set up"));
    };
    let started = Instant::now();
    let feed = async move {
        // A program that exits without reading all its input closes the pipe: not an error.
        let _ = stdin.write_all(input.as_bytes()).await;
        drop(stdin);
    };
    let work = async {
        let ((), out, err, status) = tokio::join!(
            feed,
            read_capped(stdout, OUTPUT_CAP_BYTES),
            read_capped(stderr, STDERR_CAP_BYTES),
            child.wait()
        );
        (out, err, status)
    };
    let finished = tokio::time::timeout(limit, work).await;
    let elapsed = started.elapsed();
    let Ok((out, err, status)) = finished else {
        // Killed here rather than on drop, so the process is gone before its dir is.
        let _ = child.kill().await;
        return Ok(Ran {
            end: End::TimedOut,
            stdout: Vec::new(),
            stderr: Vec::new(),
            elapsed,
        });
    };
    let status = status?;
    let stderr = err?.unwrap_or_else(|capped| capped);
    Ok(match out? {
        Ok(stdout) => Ran {
            end: End::Exited(status),
            stdout,
            stderr,
            elapsed,
        },
        Err(_) => Ran {
            end: End::OutputCapped,
            stdout: Vec::new(),
            stderr,
            elapsed,
        },
    })
}

/// Reads a pipe to its end; `Err(first cap bytes)` when it has more than `cap` (the pipe
/// is closed then, so a program that keeps writing gets EPIPE and stops).
async fn read_capped(
    pipe: impl AsyncRead + Unpin,
    cap: usize,
) -> std::io::Result<Result<Vec<u8>, Vec<u8>>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    pipe.take(limit).read_to_end(&mut buf).await?;
    if buf.len() > cap {
        buf.truncate(cap);
        return Ok(Err(buf));
    }
    Ok(Ok(buf))
}

fn spawn_error(e: std::io::Error, program: &'static str, language: Language) -> RunError {
    if e.kind() == std::io::ErrorKind::NotFound {
        RunError::ToolMissing {
            tool: program,
            language,
        }
    } else {
        RunError::Io {
            what: "running a program",
            source: e,
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        (None, None) => "ended abnormally".into(),
    }
}

/// The first `n` non-blank lines, joined (a compiler's first error is the one to read).
fn first_lines(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The line of a program's error output that says what went wrong: the last one naming
/// an error (Python's traceback ends with it; Node's is followed by a stack and its
/// version), else the last line.
fn error_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let named = lines
        .iter()
        .rev()
        .find(|l| l.contains("Error") || l.contains("Exception"));
    named
        .or(lines.last())
        .map_or_else(String::new, |l| (*l).to_string())
}

/// The start of an output, on one line, for a WA detail.
fn clip(text: &str) -> String {
    let one_line: String = text.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = one_line.chars().take(40).collect();
    if short.len() < one_line.len() {
        format!("'{short}...'")
    } else {
        format!("'{short}'")
    }
}
