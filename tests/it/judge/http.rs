//! The judge's HTTP API: Piston's documented request and response shapes, the queued
//! submissions API, and the Piston client backend against this judge's Piston routes.

use std::sync::Arc;
use std::time::Duration;

use arena::judge::http::{HttpState, serve};
use arena::judge::worker::{Worker, WorkerConfig};
use arena::services::judge::Verdict;
use arena::services::judge::client::{Executor, QueueBackend};
use arena::services::judge::piston_client::PistonBackend;
use arena::services::judge::queue::Status;
use arena::services::problems::{Bank, Language};
use arena::tools::http_client::{http_get, http_post};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{judge, program, submission, sum_tests};
use crate::harness::{eventually, redis};

/// A judge's HTTP API and a queue worker, in process, on a fresh Redis.
pub(super) async fn start() -> (
    String,
    CancellationToken,
    arena::tools::redis_server::RedisServer,
    tokio::sync::MutexGuard<'static, ()>,
) {
    let judge = judge().await;
    let turn = super::turn().await;
    let server = redis();
    let url = server.url();
    let conn = arena::redis::command_connection(
        &arena::redis::Endpoint::plain(url.as_str()),
        Duration::from_secs(2),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let metrics = arena::services::metrics::Metrics::new();
    let state = HttpState {
        judge: judge.clone(),
        metrics: metrics.clone(),
        executor: Arc::new(QueueBackend::new(conn)),
        bank: Arc::new(Bank::embedded().unwrap()),
    };
    tokio::spawn(serve(listener, state, stop.clone()));
    let cfg = WorkerConfig {
        judge_id: "http-test".into(),
        concurrency: 2,
        reclaim_idle_ms: 5_000,
        max_deliveries: 3,
        heartbeat_ms: 500,
        address: String::new(),
    };
    tokio::spawn(
        Worker::new(
            judge,
            cfg,
            &arena::redis::Endpoint::plain(url.as_str()),
            metrics,
        )
        .unwrap()
        .run(stop.clone()),
    );
    (addr, stop, server, turn)
}

#[tokio::test]
async fn judge_http_piston_execute_round_trips_the_documented_example() {
    let (addr, stop, _redis, _turn) = start().await;
    // Piston's README example, with the version left to the judge ("*"): Node 15.10.0
    // is not what this host has.
    let mut req = json!({
        "language": "js",
        "version": "15.10.0",
        "files": [{"name": "my_cool_code.js", "content": "console.log(process.argv.slice(2))"}],
        "stdin": "",
        "args": ["1", "2", "3"],
        "compile_timeout": 10000,
        "run_timeout": 3000,
        "compile_memory_limit": -1,
        "run_memory_limit": -1
    });
    let (status, body) = http_post(&addr, "/api/v2/execute", &req.to_string())
        .await
        .unwrap();
    assert_eq!(status, 400);
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err, json!({"message": "js-15.10.0 runtime is unknown"}));

    req["version"] = json!("*");
    let (status, body) = http_post(&addr, "/api/v2/execute", &req.to_string())
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let resp: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(resp["language"], "javascript");
    assert!(
        resp["version"]
            .as_str()
            .unwrap()
            .starts_with(char::is_numeric)
    );
    let run = &resp["run"];
    let keys: Vec<&str> = run
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{run}");
    for k in ["stdout", "stderr", "code", "signal", "output"] {
        assert!(run.get(k).is_some(), "{k} missing: {run}");
    }
    assert_eq!(run["code"], 0);
    assert_eq!(run["signal"], Value::Null);
    assert_eq!(run["stdout"], "[ '1', '2', '3' ]\n");
    assert!(
        resp.get("compile").is_none(),
        "no compile stage for JavaScript: {resp}"
    );

    // A compiled language has Piston's compile stage; a failed compile has no run.
    let c = json!({"language": "c", "version": "*", "files": [{"content": "int main( {"}]});
    let (_, body) = http_post(&addr, "/api/v2/execute", &c.to_string())
        .await
        .unwrap();
    let resp: Value = serde_json::from_str(&body).unwrap();
    assert_ne!(resp["compile"]["code"], 0, "{resp}");
    assert!(resp.get("run").is_none(), "{resp}");

    // A run killed for its time limit reads as Piston's SIGKILL.
    let slow = json!({"language": "python", "version": "*", "run_timeout": 300,
        "files": [{"content": "while True: pass"}]});
    let (_, body) = http_post(&addr, "/api/v2/execute", &slow.to_string())
        .await
        .unwrap();
    let resp: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(resp["run"]["signal"], "SIGKILL", "{resp}");
    assert_eq!(resp["run"]["code"], Value::Null, "{resp}");

    let (status, body) = http_get(&addr, "/api/v2/runtimes").await.unwrap();
    assert_eq!(status, 200);
    let rts: Vec<Value> = serde_json::from_str(&body).unwrap();
    let js = rts.iter().find(|r| r["language"] == "javascript").unwrap();
    assert!(js["aliases"].as_array().unwrap().contains(&json!("js")));
    assert!(rts.iter().any(|r| r["language"] == "cpp"));
    stop.cancel();
}

#[tokio::test]
async fn judge_http_submissions_go_through_the_queue() {
    let (addr, stop, _redis, _turn) = start().await;
    let body = json!({
        "language": "python",
        "source": program("python/ac.py"),
        "tests": [{"stdin": "1 2\n", "expected": "3"}, {"stdin": "2 2\n", "expected": "5"}],
        "limits": {"cpuMs": 1000}
    });
    let (status, resp) = http_post(&addr, "/api/judge/submissions", &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 201, "{resp}");
    let token = serde_json::from_str::<Value>(&resp).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let done: Value = eventually(Duration::from_secs(30), "the submission's verdict", || {
        let (addr, token) = (addr.clone(), token.clone());
        async move {
            let (_, body) = http_get(&addr, &format!("/api/judge/submissions/{token}"))
                .await
                .ok()?;
            let v: Value = serde_json::from_str(&body).ok()?;
            (v["status"] == "done").then_some(v)
        }
    })
    .await;
    assert_eq!(done["verdict"], "WA", "{done}");
    assert_eq!(done["report"]["tests"][0]["verdict"], "AC");
    assert_eq!(done["report"]["tests"][1]["verdict"], "WA");

    // The judge's metrics, each with its # HELP.
    let (_, text) = http_get(&addr, "/metrics").await.unwrap();
    for want in [
        "arena_judge_jobs_total{language=\"python\",verdict=\"WA\"} 1",
        "arena_judge_duration_seconds_bucket{language=\"python\",phase=\"run\"",
        "# HELP arena_judge_jobs_total",
        "# HELP arena_queue_depth",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    let (status, _) = http_get(&addr, "/api/judge/submissions/00ff")
        .await
        .unwrap();
    assert_eq!(status, 404);
    let bad = json!({"language": "cobol", "source": "x", "tests": [{"stdin": ""}]});
    let (status, resp) = http_post(&addr, "/api/judge/submissions", &bad.to_string())
        .await
        .unwrap();
    assert_eq!(status, 400, "{resp}");
    stop.cancel();
}

/// Wait for a submission's final status over HTTP.
async fn verdict_of(addr: &str, token: &str) -> Value {
    eventually(Duration::from_secs(60), "the submission's verdict", || {
        let (addr, token) = (addr.to_string(), token.to_string());
        async move {
            let (_, body) = http_get(&addr, &format!("/api/judge/submissions/{token}"))
                .await
                .ok()?;
            let v: Value = serde_json::from_str(&body).ok()?;
            (v["status"] == "done").then_some(v)
        }
    })
    .await
}

/// A program for a problem of the bank is judged on the problem's tests (examples, then
/// hidden), under its limits; an unknown problem is 404, `tests` and `problemId`
/// together or neither are 400, all with the JSON error envelope.
#[tokio::test]
async fn judge_http_submissions_by_problem_id_use_the_bank() {
    let (addr, stop, _redis, _turn) = start().await;
    let bank = Bank::embedded().unwrap();
    let problem = bank.get("a-plus-b").unwrap();
    let of = problem.all_tests().len();
    let post = |body: Value| {
        let addr = addr.clone();
        async move {
            let (status, resp) = http_post(&addr, "/api/judge/submissions", &body.to_string())
                .await
                .unwrap();
            (status, serde_json::from_str::<Value>(&resp).unwrap())
        }
    };

    let reference = &problem.reference[&Language::Python];
    let (status, resp) = post(json!({
        "problemId": "a-plus-b", "language": "python", "source": reference
    }))
    .await;
    assert_eq!(status, 201, "{resp}");
    let done = verdict_of(&addr, resp["token"].as_str().unwrap()).await;
    assert_eq!(done["verdict"], "AC", "{done}");
    let tests = done["report"]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), of, "every test of the problem: {done}");

    // A wrong solution of the bank fails on the problem's tests.
    let wrong = &problem.wrong[0];
    let (status, resp) = post(json!({
        "problemId": "a-plus-b", "language": wrong.language.key(), "source": wrong.source
    }))
    .await;
    assert_eq!(status, 201, "{resp}");
    let done = verdict_of(&addr, resp["token"].as_str().unwrap()).await;
    assert_ne!(done["verdict"], "AC", "{} passed: {done}", wrong.why);

    let (status, resp) = post(json!({
        "problemId": "no-such-problem", "language": "c", "source": "int main(){}"
    }))
    .await;
    assert_eq!(status, 404, "{resp}");
    assert_eq!(resp["error"]["code"], "not_found", "{resp}");
    assert!(
        resp["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no-such-problem"),
        "{resp}"
    );

    for body in [
        json!({"problemId": "a-plus-b", "tests": [{"stdin": ""}], "language": "c", "source": ""}),
        json!({"language": "c", "source": "int main(){}"}),
        json!({"problemId": "a-plus-b", "language": "c", "source": "", "limits": {"cpuMs": 20000}}),
    ] {
        let (status, resp) = post(body.clone()).await;
        assert_eq!(status, 400, "{body} -> {resp}");
        assert_eq!(resp["error"]["code"], "bad_request", "{resp}");
    }
    let (status, resp) = post(json!({
        "problemId": "a-plus-b", "language": "cobol", "source": ""
    }))
    .await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(resp["error"]["code"], "unknown_language", "{resp}");
    stop.cancel();
}

/// The battle side's Piston backend, pointed at this judge's Piston-compatible routes.
#[tokio::test]
async fn judge_http_piston_backend_judges_through_piston_routes() {
    let (addr, stop, _redis, _turn) = start().await;
    let piston = PistonBackend::new(&format!("http://{addr}")).unwrap();
    assert_eq!(piston.backend(), "piston");
    for (lang, file, want) in [
        ("c", "c/ac.c", Verdict::AC),
        ("python", "python/wa.py", Verdict::WA),
        ("cpp", "cpp/ce.cpp", Verdict::CE),
        ("javascript", "javascript/re.js", Verdict::RE),
    ] {
        let token = piston
            .submit(&submission(lang, program(file), sum_tests()))
            .await
            .unwrap();
        let report = eventually(
            Duration::from_secs(60),
            "the Piston backend's verdict",
            || {
                let (piston, token) = (piston.clone(), token.clone());
                async move {
                    match piston.status(&token).await.ok()? {
                        Status::Done(r) => Some(r),
                        _ => None,
                    }
                }
            },
        )
        .await;
        assert_eq!(report.verdict, want, "{lang} {file}: {report:#?}");
    }
    stop.cancel();
}
