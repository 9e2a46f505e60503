//! `arena bench judge` against a judge's HTTP API and queue worker (in process, real
//! sandbox): every part of the report is there and every job came back AC. It asserts
//! what the bench reports, never how fast.

use arena::tools::bench::judge::JudgeArgs;
use arena::tools::bench::{BenchArgs, Common, Scenario};

use crate::harness::redis;

fn args(url: String, breaker: Option<String>) -> BenchArgs {
    BenchArgs {
        scenario: Scenario::Judge(JudgeArgs {
            common: Common {
                url: vec![url],
                allow_remote: false,
                json: true,
                plot: None,
                token_secret: None,
            },
            languages: vec!["python".into(), "c".into()],
            jobs: 2,
            breaker_redis_url: breaker,
            tls: Default::default(),
        }),
    }
}

#[tokio::test]
async fn judge_bench_reports_latency_overhead_and_the_open_breaker() {
    let (addr, stop, fleet_redis, _turn) = super::http::start().await;
    // The breaker is measured on a Redis no judge uses; the fleet's own is refused.
    let spare = redis();
    let outcome = arena::tools::bench::run(args(
        format!("http://{addr}"),
        Some(spare.url().to_string()),
    ))
    .await
    .unwrap();
    let r = &outcome.report;
    assert!(outcome.ok, "{r}");
    assert_eq!(r["not_ac"], 0, "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "python and c at 1 and 2 jobs in flight: {r}");
    for row in rows {
        assert_eq!(row["jobs"], 2, "{row}");
        assert!(row["p99_ms"].as_f64().unwrap() >= row["p50_ms"].as_f64().unwrap());
        assert!(row["jobs_per_s"].as_f64().unwrap() > 0.0, "{row}");
    }
    assert!(r["overhead"]["bare_exec_p50_ms"].as_f64().is_some(), "{r}");
    assert!(
        r["overhead"]["sandboxed_wall_p50_ms"].as_f64().is_some(),
        "{r}"
    );
    assert_eq!(r["breaker_open"]["calls"], 200, "{r}");

    let err = arena::tools::bench::run(args(
        format!("http://{addr}"),
        Some(fleet_redis.url().to_string()),
    ))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("has judges"), "{err}");
    stop.cancel();
}
