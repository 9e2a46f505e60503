//! Log formats: `LOG_FORMAT=json` makes every line the process prints a JSON object that
//! names the instance, start-up failures included; text stays the default.

use std::time::Duration;

use serde_json::Value;

use crate::harness::redis;
use crate::harness::serve::{Output, Serve};

/// Every line of `out`, parsed; panics naming a line that is not a JSON object.
fn json_lines(out: &Output) -> Vec<Value> {
    let all: Vec<&String> = out.stdout.iter().chain(&out.stderr).collect();
    assert!(!all.is_empty(), "no output at all: {out:?}");
    all.iter()
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(v) if v.is_object() => v,
            _ => panic!("not a JSON object: {l}"),
        })
        .collect()
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_naming_the_instance() {
    let redis = redis();
    let url = redis.url();
    // Debug logs of every crate (hyper, redis-rs via `log`, socketioxide): all JSON.
    let serve = Serve::start(&[
        ("REDIS_URL", &url),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("INSTANCE_ID", "json-logs"),
    ])
    .await;
    for path in ["/ready", "/status", "/metrics"] {
        arena::tools::http_client::http_get(&serve.addr, path)
            .await
            .unwrap();
    }
    let out = serve.stop();
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines = json_lines(&out);
    for l in &lines {
        assert_eq!(l["instance"], "json-logs", "{l}");
        assert!(l["level"].is_string() && l["timestamp"].is_string(), "{l}");
    }
    let started = lines
        .iter()
        .find(|l| l["message"] == "arena instance started")
        .unwrap_or_else(|| panic!("no start line in {lines:?}"));
    // The event's fields sit at the top level.
    assert_eq!(started["redis"], url.as_str(), "{started}");
    assert!(lines.len() > 5, "debug logs expected: {lines:?}");

    // Without INSTANCE_ID the id is known once the port is bound: still on every line.
    let serve = Serve::start(&[("REDIS_URL", &url), ("LOG_FORMAT", "json")]).await;
    let port = serve.addr.rsplit(':').next().unwrap().to_string();
    let out = serve.stop();
    for l in json_lines(&out) {
        let id = l["instance"].as_str().unwrap_or_else(|| panic!("{l}"));
        assert!(id.ends_with(&format!(":{port}")), "{l}");
    }

    // A start-up failure is a JSON line too.
    let out = Serve::run_to_exit(
        &[
            ("REDIS_URL", "redis://127.0.0.1:1"),
            ("LOG_FORMAT", "json"),
            ("INSTANCE_ID", "json-logs"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    let lines = json_lines(&out);
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["instance"], "json-logs", "{last}");
    assert!(
        last["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("cannot reach Redis at redis://127.0.0.1:1")),
        "{last}"
    );
}

#[tokio::test]
async fn text_logs_stay_the_default() {
    let redis = redis();
    let serve = Serve::start(&[("REDIS_URL", &redis.url())]).await;
    let out = serve.stop();
    let start = out
        .stderr
        .iter()
        .find(|l| l.contains("arena instance started"))
        .unwrap_or_else(|| panic!("no start line: {out:?}"));
    assert!(serde_json::from_str::<Value>(start).is_err(), "{start}");
}
