//! The OpenAPI documents (issue 14 item 7), an instance's and a judge's (`arena judge
//! --port`): `GET /api/openapi.json` parses as an OpenAPI 3 document, every `$ref`
//! resolves, every route the router registers (found in the source, as `tests/layers.rs`
//! reads it) is in it with its method, and every operation in it is a route the process
//! answers (no 404/405, no 5xx). CI fuzzes both APIs from their documents
//! (`scripts/fuzz.sh`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use arena::tools::http_client::http_request;
use serde_json::Value;

use crate::harness::{Arena, eventually, free_port_pair_n, redis};

/// Folders whose `.route(...)` calls are not the instance's router: the judge is its own
/// process (Piston's API), the tools are clients.
const NOT_THE_INSTANCE: &[&str] = &["src/judge", "src/tools"];

/// The files whose `.route(...)` calls make the judge's router: its routes, and the
/// document's own route it merges in.
const THE_JUDGE: &[&str] = &["src/judge/http.rs", "src/base/openapi.rs"];

/// Every `.route("<path>", <method>(` in the files under `dir`, as (METHOD, path).
fn routes_in_source(dir: &Path, out: &mut BTreeSet<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
        let rel = rel.to_string_lossy().replace('\\', "/");
        if NOT_THE_INSTANCE.iter().any(|n| rel.starts_with(n)) {
            continue;
        }
        if path.is_dir() {
            routes_in_source(&path, out);
        } else if rel.ends_with(".rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests build routers of their own.
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            parse_routes(text, out);
        }
    }
}

/// The routes in `files` (paths from the crate's root).
fn routes_in_files(files: &[&str]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        parse_routes(
            text.split("#[cfg(test)]").next().unwrap_or_default(),
            &mut out,
        );
    }
    out
}

fn parse_routes(text: &str, out: &mut BTreeSet<(String, String)>) {
    let mut rest = text;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        let after = rest.trim_start();
        // A path held in a variable (the UI's tables) is checked through the pages below.
        let Some(lit) = after.strip_prefix('"') else {
            continue;
        };
        let Some(end) = lit.find('"') else { continue };
        let path = &lit[..end];
        let tail = lit[end + 1..]
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
        let method: String = tail
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        assert!(
            ["get", "post", "put", "delete", "patch"].contains(&method.as_str()),
            "route {path}: method not read from the source ({method})"
        );
        out.insert((method.to_uppercase(), path.to_string()));
    }
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `body` parses as an OpenAPI 3 document whose every `$ref` resolves; its JSON.
fn valid_document(body: &str) -> Value {
    // It parses as an OpenAPI document (utoipa's model: the fixed fields typed).
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not an OpenAPI document: {e}"));
    assert!(!parsed.paths.paths.is_empty());
    let doc: Value = serde_json::from_str(body).unwrap();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "openapi {version}");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    // Every $ref points at a schema the document has.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in body.split("\"$ref\":\"").skip(1) {
        let r = &r[..r.find('"').unwrap()];
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    assert!(schemas.contains_key("ErrorEnvelope"));
    doc
}

/// Every route of `in_source` is documented with its method.
fn assert_documented(in_source: &BTreeSet<(String, String)>, ops: &BTreeSet<(String, String)>) {
    let missing: Vec<_> = in_source.difference(ops).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
    );
}

/// Every documented operation is served at `addr` (a wrong path or method would be
/// 404/405), and none answers 5xx to a plain request (`{}` for a POST); `concrete` fills
/// in a path's parameters.
async fn assert_served(
    addr: &str,
    ops: &BTreeSet<(String, String)>,
    concrete: impl Fn(&str) -> String,
) {
    for (method, path) in ops {
        let concrete = concrete(path);
        let body = (method == "POST").then_some("{}");
        let (status, answer) = http_request(addr, method, &concrete, body, &[])
            .await
            .unwrap();
        assert!(
            status != 405 && (status != 404 || answer.contains("\"error\"")),
            "{method} {path}: {status} {answer}"
        );
        assert!(status < 500, "{method} {path}: {status} {answer}");
    }
}

#[tokio::test]
async fn openapi_document_is_valid_and_has_every_route() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let (status, body) = arena[0].get("/api/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    let doc = valid_document(&body);

    let ops = documented(&doc);
    let mut in_source = BTreeSet::new();
    routes_in_source(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut in_source,
    );
    assert!(in_source.len() > 15, "too few routes read: {in_source:?}");
    assert_documented(&in_source, &ops);
    // The judge's routes are the judge's document's, not this one's.
    assert!(
        !ops.iter().any(|(_, p)| p.starts_with("/api/v2/")),
        "{ops:?}"
    );
    for page in [
        "/",
        "/zone",
        "/admin",
        "/main.js",
        "/admin.js",
        "/style.css",
    ] {
        assert!(ops.contains(&("GET".into(), page.into())), "page {page}");
    }

    assert_served(&arena[0].addr.to_string(), &ops, |path| {
        path.replace("{id}", "1").replace("{sid}", "nosuchsocket")
    })
    .await;
}

/// The judge's own document, from a real `arena judge --port`.
#[tokio::test]
async fn openapi_judge_document_is_valid_and_has_every_route() {
    let redis = redis();
    let port = free_port_pair_n(1);
    let _judge = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("judge")
        .env("REDIS_URL", redis.url())
        .env("JUDGE_ID", "openapi-judge")
        .env("JUDGE_PORT", port.to_string())
        .env("JUDGE_WORK_DIR", crate::judge::setup().work_dir)
        .env("RUST_LOG", "arena=warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let body = eventually(
        Duration::from_secs(60),
        "the judge's /api/openapi.json",
        || {
            let addr = addr.clone();
            async move {
                match http_request(&addr, "GET", "/api/openapi.json", None, &[]).await {
                    Ok((200, body)) => Some(body),
                    _ => None,
                }
            }
        },
    )
    .await;
    let doc = valid_document(&body);
    assert_eq!(doc["info"]["title"], "arena judge");
    for schema in [
        "ExecuteRequest",
        "ExecuteResponse",
        "Runtime",
        "PistonError",
        "Submission",
        "ProblemRequest",
        "Report",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema}"
        );
    }

    // A body's language is one this judge has; a problem's, one the bank is judged in.
    let enum_of = |schema: &str| -> Vec<String> {
        let values = &doc["components"]["schemas"][schema]["properties"]["language"]["enum"];
        serde_json::from_value(values.clone()).unwrap_or_else(|e| panic!("{schema}: {e} {values}"))
    };
    let any = enum_of("ExecuteRequest");
    assert!(
        any.contains(&"python".to_string()) && any.contains(&"py".to_string()),
        "{any:?}"
    );
    assert_eq!(enum_of("Submission"), any);
    let bank = enum_of("ProblemRequest");
    assert!(bank.contains(&"python".to_string()), "{bank:?}");
    assert!(!bank.contains(&"rust".to_string()), "{bank:?}");
    let versions = &doc["components"]["schemas"]["ExecuteRequest"]["properties"]["version"]["enum"];
    assert_eq!(versions[0], "*", "{versions}");

    let ops = documented(&doc);
    let in_source = routes_in_files(THE_JUDGE);
    assert!(in_source.len() >= 7, "too few routes read: {in_source:?}");
    assert_documented(&in_source, &ops);
    // And nothing but the judge's: an instance's routes are not served here.
    assert_eq!(in_source, ops, "documented but not in the judge's router");

    assert_served(&addr, &ops, |path| path.replace("{token}", "0")).await;

    // What the fuzzer found: an argument the kernel cannot pass is the request's fault
    // (400 in each API's error shape), not the sandbox's (it was a 500).
    let (status, answer) = http_request(
        &addr,
        "POST",
        "/api/v2/execute",
        Some(r#"{"language": "python", "files": [{"content": "print(1)"}], "args": ["a\u0000b"]}"#),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("NUL"), "{answer}");
    let (status, answer) = http_request(
        &addr,
        "POST",
        "/api/judge/submissions",
        Some(r#"{"language": "python", "source": "print(1)", "tests": [{"stdin": ""}], "args": ["\u0000"]}"#),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("\"bad_request\""), "{answer}");
}
