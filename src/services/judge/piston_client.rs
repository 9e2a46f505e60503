//! The Piston backend: each test of a submission is one `POST /api/v2/execute` to the
//! Piston at `JUDGE_URL` (plain `http://`), run in the background; verdicts are worked out
//! here, since Piston reports only exit codes and signals. It cannot tell a time limit
//! from a memory limit (both are a SIGKILL): a SIGKILL reads as TLE. Results are kept in
//! memory on the instance that submitted (at most `KEPT` of them).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

use super::client::{ExecError, Executor};
use super::compare::matches;
use super::piston::{ExecuteRequest, ExecuteResponse, PistonFile, Stage, signal_number};
use super::progress::Progress;
use super::queue::{Status, new_token};
use super::report::{CompileResult, Report, RunStats, TestResult, Verdict};
use super::submission::Submission;

/// Results kept in memory; older ones are forgotten (then `Unknown`).
pub const KEPT: usize = 10_000;

/// An external Piston.
#[derive(Clone)]
pub struct PistonBackend {
    /// `host:port` of the Piston.
    authority: String,
    /// Path prefix before `/api/v2` (usually empty).
    prefix: String,
    results: Arc<Mutex<Kept>>,
}

/// Results by token, and tokens oldest first (to forget the oldest past [`KEPT`]).
type Kept = (HashMap<String, Status>, VecDeque<String>);

impl PistonBackend {
    pub fn new(url: &str) -> Result<Self, ExecError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            ExecError::Piston(format!("JUDGE_URL must be http://host:port, got {url:?}"))
        })?;
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        Ok(Self {
            authority: authority.to_string(),
            prefix: prefix.to_string(),
            results: Arc::default(),
        })
    }

    fn put(&self, token: &str, status: Status) {
        let Ok(mut g) = self.results.lock() else {
            return;
        };
        let (map, order) = &mut *g;
        if map.insert(token.to_string(), status).is_none() {
            order.push_back(token.to_string());
            while order.len() > KEPT {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    /// One execute call.
    pub async fn execute(
        &self,
        req: &ExecuteRequest,
        timeout: Duration,
    ) -> Result<ExecuteResponse, ExecError> {
        let body = serde_json::to_vec(req).map_err(|e| ExecError::Piston(e.to_string()))?;
        let (status, bytes) = tokio::time::timeout(
            timeout,
            self.post(&format!("{}/api/v2/execute", self.prefix), body),
        )
        .await
        .map_err(|_| ExecError::Piston("no answer in time".into()))??;
        if status != 200 {
            return Err(ExecError::Piston(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            )));
        }
        serde_json::from_slice(&bytes).map_err(|e| ExecError::Piston(format!("bad answer: {e}")))
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> Result<(u16, Bytes), ExecError> {
        let err = |e: &dyn std::fmt::Display| ExecError::Piston(e.to_string());
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| err(&e))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| err(&e))?;
        tokio::spawn(conn);
        let req = hyper::Request::post(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| err(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| err(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| err(&e))?
            .to_bytes();
        Ok((status, bytes))
    }

    async fn judge(&self, sub: &Submission) -> Report {
        let mut tests = Vec::new();
        let mut compile = None;
        let mut version = String::new();
        for t in &sub.tests {
            let req = ExecuteRequest {
                language: sub.language.clone(),
                version: "*".into(),
                files: vec![PistonFile {
                    name: None,
                    content: sub.source.clone(),
                    encoding: None,
                }],
                stdin: t.stdin.clone(),
                args: vec![],
                compile_timeout: None,
                run_timeout: Some(sub.limits.wall_ms() as i64),
                compile_memory_limit: None,
                run_memory_limit: Some(sub.limits.memory_bytes as i64),
            };
            let wait = Duration::from_millis(sub.limits.wall_ms() + 30_000);
            let resp = match self.execute(&req, wait).await {
                Ok(r) => r,
                Err(e) => return failed(sub, Verdict::IE, e.to_string(), compile),
            };
            version = resp.version.clone();
            if let Some(c) = &resp.compile {
                let ok = c.code == Some(0);
                compile = Some(CompileResult {
                    ok,
                    stats: stats(c),
                    output: c.output.clone(),
                });
                if !ok || resp.run.is_none() {
                    return failed(sub, Verdict::CE, "compilation failed".into(), compile);
                }
            }
            let Some(run) = resp.run else {
                return failed(
                    sub,
                    Verdict::IE,
                    "piston answered without a run".into(),
                    compile,
                );
            };
            let (verdict, message) = match (&run.signal, run.code) {
                (Some(s), _) if s == "SIGKILL" => (
                    Verdict::TLE,
                    Some("killed (SIGKILL) by Piston's limits".into()),
                ),
                (Some(s), _) => (Verdict::RE, Some(format!("killed by {s}"))),
                (None, Some(0)) => match &t.expected {
                    Some(e) if !matches(sub.comparator, run.stdout.as_bytes(), e.as_bytes()) => {
                        (Verdict::WA, None)
                    }
                    _ => (Verdict::AC, None),
                },
                (None, c) => (Verdict::RE, Some(format!("exit code {}", c.unwrap_or(-1)))),
            };
            tests.push(TestResult {
                verdict,
                stats: stats(&run),
                stdout: run.stdout,
                stderr: run.stderr,
                message,
            });
        }
        Report {
            verdict: Report::overall(&tests),
            language: sub.language.clone(),
            version,
            compile,
            tests,
            message: None,
        }
    }
}

fn stats(s: &Stage) -> RunStats {
    RunStats {
        exit_code: s.code,
        signal: s.signal.as_deref().and_then(signal_number),
        ..RunStats::default()
    }
}

fn failed(
    sub: &Submission,
    verdict: Verdict,
    message: String,
    compile: Option<CompileResult>,
) -> Report {
    Report {
        verdict,
        language: sub.language.clone(),
        version: String::new(),
        compile,
        tests: vec![],
        message: Some(message),
    }
}

impl Executor for PistonBackend {
    fn backend(&self) -> &'static str {
        "piston"
    }

    fn submit<'a>(&'a self, sub: &'a Submission) -> BoxFuture<'a, Result<String, ExecError>> {
        Box::pin(async move {
            sub.check()?;
            let token = new_token();
            self.put(&token, Status::Queued);
            let this = self.clone();
            let sub = sub.clone();
            let t = token.clone();
            tokio::spawn(async move {
                let report = this.judge(&sub).await;
                this.put(&t, Status::Done(Box::new(report)));
            });
            Ok(token)
        })
    }

    fn status<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Status, ExecError>> {
        Box::pin(async move {
            let g = self
                .results
                .lock()
                .map_err(|_| ExecError::Piston("results lock poisoned".into()))?;
            Ok(g.0.get(token).cloned().unwrap_or(Status::Unknown))
        })
    }

    /// Piston answers a whole execute call at once: no per-test progress to read.
    fn progress<'a>(
        &'a self,
        _token: &'a str,
        _from: usize,
    ) -> BoxFuture<'a, Result<Vec<Progress>, ExecError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}
