//! The judge's HTTP API (`arena judge --port P`): Piston's `POST /api/v2/execute` and
//! `GET /api/v2/runtimes` (a tool written for Piston works against it), and the queued
//! `POST /api/judge/submissions` -> `{token}`, `GET /api/judge/submissions/{token}`.
//! `execute` runs on this judge at once, like Piston; submissions go through the queue
//! and any judge may take them. A submission brings its tests or names a problem of the
//! bank (`submit_request.rs`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::services::judge::client::{ExecError, Executor};
use crate::services::judge::piston::{
    ExecuteRequest, ExecuteResponse, PistonError, Runtime, Stage, signal_name,
};
use crate::services::judge::queue::Status;
use crate::services::judge::{
    Comparator, Limits, Report, Submission, TestCase, TestResult, Verdict,
};

use super::runner::Judge;
use super::submit_request::{self, RequestError};
use crate::services::problems::Bank;

/// Largest request body (a source and its tests).
pub const BODY_LIMIT: usize = 20 * 1024 * 1024;

#[derive(Clone)]
pub struct HttpState {
    pub judge: Arc<Judge>,
    /// The judge's registry (its worker's counters), served at `/metrics`.
    pub metrics: crate::services::metrics::Metrics,
    /// Where `/api/judge/submissions` go (the queue).
    pub executor: Arc<dyn Executor>,
    /// The problem bank a submission's `problemId` names.
    pub bank: Arc<Bank>,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(s): State<HttpState>| async move {
                s.metrics.upkeep();
                s.metrics.render()
            }),
        )
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
        .route("/api/judge/submissions", post(submit))
        .route("/api/judge/submissions/{token}", get(status))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

fn piston_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(PistonError {
            message: message.into(),
        }),
    )
        .into_response()
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

async fn runtimes(State(s): State<HttpState>) -> Json<Vec<Runtime>> {
    Json(
        s.judge
            .detected
            .languages
            .iter()
            .map(|l| Runtime {
                language: l.name.into(),
                version: l.version.clone(),
                aliases: l.aliases.iter().map(|a| a.to_string()).collect(),
                runtime: None,
            })
            .collect(),
    )
}

/// A Piston limit: -1 or absent means the judge's default; else a positive number.
fn limit(v: Option<i64>, default: u64) -> u64 {
    match v {
        Some(n) if n > 0 => n as u64,
        _ => default,
    }
}

fn stage(t: &TestResult) -> Stage {
    Stage {
        stdout: t.stdout.clone(),
        stderr: t.stderr.clone(),
        code: t.stats.exit_code,
        signal: t.stats.signal.map(signal_name),
        output: format!("{}{}", t.stdout, t.stderr),
    }
}

async fn execute(
    State(s): State<HttpState>,
    body: Result<Json<ExecuteRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return piston_error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(lang) = s.judge.language(&req.language) else {
        return piston_error(
            StatusCode::BAD_REQUEST,
            format!("{}-{} runtime is unknown", req.language, req.version),
        );
    };
    if req.version != "*" && !lang.version.starts_with(&req.version) {
        return piston_error(
            StatusCode::BAD_REQUEST,
            format!("{}-{} runtime is unknown", req.language, req.version),
        );
    }
    let Some(file) = req.files.first() else {
        return piston_error(StatusCode::BAD_REQUEST, "files is required as an array");
    };
    let defaults = Limits::default();
    let run_ms = limit(req.run_timeout, 3_000);
    let sub = Submission {
        language: lang.name.into(),
        source: file.content.clone(),
        tests: vec![TestCase {
            stdin: req.stdin.clone(),
            expected: None,
        }],
        limits: Limits {
            cpu_ms: run_ms,
            wall_ms: run_ms,
            memory_bytes: limit(req.run_memory_limit, defaults.memory_bytes),
            output_bytes: defaults.output_bytes,
        },
        comparator: Comparator::Exact,
        args: req.args.clone(),
    };
    if let Err(e) = sub.check() {
        return piston_error(StatusCode::BAD_REQUEST, e.to_string());
    }
    let report = match s.judge.judge(&sub).await {
        Ok(r) => r,
        Err(e) => return piston_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if report.verdict == Verdict::IE {
        return piston_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            report.message.unwrap_or_default(),
        );
    }
    let mut resp = ExecuteResponse {
        language: lang.name.into(),
        version: lang.version.clone(),
        compile: None,
        run: report.tests.first().map(stage),
    };
    if let Some(c) = &report.compile {
        let compile = Stage {
            stdout: String::new(),
            stderr: c.output.clone(),
            code: c.stats.exit_code,
            signal: c.stats.signal.map(signal_name),
            output: c.output.clone(),
        };
        if !lang.syntax_check {
            resp.compile = Some(compile);
        } else if !c.ok {
            // Piston has no compile stage for interpreted languages: a syntax error
            // is a failed run there.
            resp.run = Some(Stage {
                code: compile.code.or(Some(1)),
                ..compile
            });
        }
    }
    Json(resp).into_response()
}

async fn submit(
    State(s): State<HttpState>,
    body: Result<Json<serde_json::Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(v) = match body {
        Ok(b) => b,
        Err(e) => return api_error(StatusCode::BAD_REQUEST, "bad_request", e.body_text()),
    };
    let canonical = |name: &str| s.judge.language(name).map(|l| l.name);
    let sub = match submit_request::parse(v, &s.bank, canonical) {
        Ok(sub) => sub,
        Err(e) => {
            let (status, code) = match e {
                RequestError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
                RequestError::UnknownLanguage(_) => (StatusCode::BAD_REQUEST, "unknown_language"),
                RequestError::UnknownProblem(_) => (StatusCode::NOT_FOUND, "not_found"),
            };
            return api_error(status, code, e.to_string());
        }
    };
    match s.executor.submit(&sub).await {
        Ok(token) => (StatusCode::CREATED, Json(json!({"token": token}))).into_response(),
        Err(ExecError::Invalid(e)) => {
            api_error(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
        }
        Err(e) => {
            tracing::warn!(error = %e, "judge http: submit failed");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the judge queue is unreachable",
            )
        }
    }
}

async fn status(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    if token.len() > 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "a token is hex");
    }
    match s.executor.status(&token).await {
        Ok(Status::Unknown) => api_error(StatusCode::NOT_FOUND, "not_found", "no such submission"),
        Ok(Status::Queued) => Json(json!({"token": token, "status": "queued"})).into_response(),
        Ok(Status::Done(report)) => {
            let report: &Report = &report;
            Json(json!({"token": token, "status": "done", "verdict": report.verdict, "report": report})).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "judge http: status failed");
            api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the judge queue is unreachable",
            )
        }
    }
}

/// Serve `router` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: HttpState,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
