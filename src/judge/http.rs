//! The judge's HTTP API (`arena judge --port P`): Piston's `POST /api/v2/execute` and
//! `GET /api/v2/runtimes` (a tool written for Piston works against it), and the queued
//! `POST /api/judge/submissions` -> `{token}`, `GET /api/judge/submissions/{token}`.
//! `execute` runs on this judge at once, like Piston; submissions go through the queue
//! and any judge may take them. A submission brings its tests or names a problem of the
//! bank (`submit_request.rs`). The judge describes these routes in its own OpenAPI
//! document ([`document`], generated from the handlers' `#[utoipa::path]` and the wire
//! types' `ToSchema`), served at `GET /api/openapi.json`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::{OpenApi as Document, RefOr, Schema};
use utoipa::{OpenApi, ToSchema};

use crate::base::error::{ErrorDetail, ErrorEnvelope};
use crate::base::openapi;
use crate::services::judge::client::{ExecError, Executor};
use crate::services::judge::piston::{
    ExecuteRequest, ExecuteResponse, PistonError, Runtime, Stage, signal_name,
};
use crate::services::judge::queue::Status;
use crate::services::judge::{
    Comparator, Limits, Report, Submission, TestCase, TestResult, Verdict,
};

use super::runner::Judge;
use super::submit_request::{self, ProblemRequest, RequestError, SubmitBody};
use crate::services::problems::{Bank, Language};

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

/// The OpenAPI description of the judge's routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "arena judge",
        description = "The HTTP API of `arena judge --port P`: Piston's `/api/v2/execute` and \
            `/api/v2/runtimes` (run a program now, on this judge), and the queued \
            `/api/judge/submissions` (any judge of the fleet takes it). No authentication: \
            keep the port on a private network. Errors of the Piston routes are Piston's \
            `{message}`; those of `/api/judge/*` are the envelope `{error: {code, message}}`."
    ),
    paths(
        health,
        metrics,
        runtimes,
        execute,
        submit,
        status,
        openapi::openapi_json,
    ),
    components(schemas(ErrorEnvelope, ErrorDetail, SubmitBody, ProblemRequest))
)]
struct JudgeApi;

/// The judge's OpenAPI document, as the code describes it (any judge).
pub fn document() -> Document {
    openapi::finish(JudgeApi::openapi())
}

/// The document as `judge` serves it: a body's `language` is one of the names and
/// aliases this judge has (a problem's, one of those the bank is judged in), and
/// execute's `version` is `*` or one of its versions (a prefix of one is taken too, as
/// Piston does), so a client (and the fuzzer) can tell a runtime this judge runs from
/// one it refuses with 400.
pub fn document_for(judge: &Judge) -> Document {
    let languages = &judge.detected.languages;
    let names = |bank_only: bool| -> Vec<serde_json::Value> {
        languages
            .iter()
            .filter(|l| !bank_only || Language::parse(l.name).is_some())
            .flat_map(|l| std::iter::once(l.name).chain(l.aliases.iter().copied()))
            .map(serde_json::Value::from)
            .collect()
    };
    let mut versions = vec![serde_json::Value::from("*")];
    for l in languages {
        let v = serde_json::Value::from(l.version.as_str());
        if !versions.contains(&v) {
            versions.push(v);
        }
    }
    let mut doc = document();
    let schemas = &mut doc.components.get_or_insert_with(Default::default).schemas;
    set_enum(schemas, "ExecuteRequest", "language", names(false));
    set_enum(schemas, "ExecuteRequest", "version", versions);
    set_enum(schemas, "Submission", "language", names(false));
    set_enum(schemas, "ProblemRequest", "language", names(true));
    doc
}

/// `values` as the `enum` of `schema`'s property `field`. The derives make each of the
/// schemas above an object with string properties; `tests/it/openapi.rs` checks that the
/// enums are there.
fn set_enum(
    schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>,
    schema: &str,
    field: &str,
    values: Vec<serde_json::Value>,
) {
    if let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(schema)
        && let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field)
    {
        property.enum_values = Some(values);
    }
}

pub fn router(state: HttpState) -> Router {
    let doc = openapi::route(&document_for(&state.judge));
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v2/runtimes", get(runtimes))
        .route("/api/v2/execute", post(execute))
        .route("/api/judge/submissions", post(submit))
        .route("/api/judge/submissions/{token}", get(status))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .merge(doc)
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operator",
    responses((status = 200, description = "the judge is up", content_type = "text/plain", body = String, example = "ok"))
)]
async fn health() -> &'static str {
    "ok"
}

/// The judge's metrics (its worker's counters), in Prometheus' text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operator",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String))
)]
async fn metrics(State(s): State<HttpState>) -> String {
    s.metrics.upkeep();
    s.metrics.render()
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
    let body = ErrorEnvelope {
        error: ErrorDetail {
            code: code.into(),
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

/// `POST /api/judge/submissions`' answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Ask `GET /api/judge/submissions/{token}` for the result.
    pub token: String,
}

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// Waiting for a judge, or being judged.
    Queued,
    /// Judged: `verdict` and `report` are there.
    Done,
}

/// `GET /api/judge/submissions/{token}`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionStatus {
    pub token: String,
    pub status: Phase,
    /// The report's overall verdict, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// The languages this judge has (Piston's runtimes).
#[utoipa::path(
    get,
    path = "/api/v2/runtimes",
    tag = "piston",
    responses((status = 200, description = "every language of this judge, its version and aliases", body = Vec<Runtime>))
)]
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

/// Run a program now, on this judge, once, on `stdin` (Piston's execute). The run's exit
/// is reported, not judged: a failed run is still 200.
#[utoipa::path(
    post,
    path = "/api/v2/execute",
    tag = "piston",
    request_body = ExecuteRequest,
    responses(
        (status = 200, description = "the compile stage (compiled languages) and the run", body = ExecuteResponse),
        (status = 400, description = "a body that does not parse, an unknown runtime, no files, limits out of bounds", body = PistonError),
        (status = 500, description = "the sandbox itself failed (not the program's fault)", body = PistonError),
    )
)]
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

/// Queue a submission: its own tests, or a program for a problem of the bank.
#[utoipa::path(
    post,
    path = "/api/judge/submissions",
    tag = "judge",
    request_body = SubmitBody,
    responses(
        (status = 201, description = "queued", body = Accepted),
        (status = 400, description = "`bad_request` (a body that does not parse, tests and problemId both or neither, limits out of bounds) or `unknown_language`", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such problem in the bank", body = ErrorEnvelope),
        (status = 503, description = "`unavailable`: the queue (Redis) is unreachable", body = ErrorEnvelope),
    )
)]
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
        Ok(token) => (StatusCode::CREATED, Json(Accepted { token })).into_response(),
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

/// A submission's status, and its report once judged.
#[utoipa::path(
    get,
    path = "/api/judge/submissions/{token}",
    tag = "judge",
    params(("token" = String, Path, pattern = "^[0-9a-fA-F]{1,64}$", description = "the token `POST /api/judge/submissions` answered")),
    responses(
        (status = 200, description = "queued, or done with the report", body = SubmissionStatus),
        (status = 400, description = "`bad_request`: a token is hex", body = ErrorEnvelope),
        (status = 404, description = "`not_found`: no such submission (or its result expired)", body = ErrorEnvelope),
        (status = 503, description = "`unavailable`: the queue (Redis) is unreachable", body = ErrorEnvelope),
    )
)]
async fn status(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    if token.is_empty() || token.len() > 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return api_error(StatusCode::BAD_REQUEST, "bad_request", "a token is hex");
    }
    match s.executor.status(&token).await {
        Ok(Status::Unknown) => api_error(StatusCode::NOT_FOUND, "not_found", "no such submission"),
        Ok(Status::Queued) => Json(SubmissionStatus {
            token,
            status: Phase::Queued,
            verdict: None,
            report: None,
        })
        .into_response(),
        Ok(Status::Done(report)) => Json(SubmissionStatus {
            token,
            status: Phase::Done,
            verdict: Some(report.verdict),
            report: Some(*report),
        })
        .into_response(),
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
