//! The OpenAPI document (issue 14 item 7): `GET /api/openapi.json` parses as an OpenAPI 3
//! document, every route the router registers (found in the source, as `tests/layers.rs`
//! reads it) is in it with its method, and every operation in it is a route the instance
//! answers (no 404/405). CI fuzzes the API from the document (`scripts/fuzz.sh`).

use std::collections::BTreeSet;
use std::path::Path;

use arena::tools::http_client::http_request;
use serde_json::Value;

use crate::harness::{Arena, redis};

/// Folders whose `.route(...)` calls are not the instance's router: the judge is its own
/// process (Piston's API), the tools are clients.
const NOT_THE_INSTANCE: &[&str] = &["src/judge", "src/tools"];

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

#[tokio::test]
async fn openapi_document_is_valid_and_has_every_route() {
    let redis = redis();
    let arena = Arena::spawn(&redis.url(), 1).await;
    let (status, body) = arena[0].get("/api/openapi.json").await;
    assert_eq!(status, 200, "{body}");
    // It parses as an OpenAPI document (utoipa's model: the fixed fields typed).
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not an OpenAPI document: {e}"));
    assert!(!parsed.paths.paths.is_empty());
    let doc: Value = serde_json::from_str(&body).unwrap();
    let version = doc["openapi"].as_str().unwrap();
    assert!(version.starts_with("3."), "openapi {version}");
    // Every $ref points at a schema the document has.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in body.split("\"$ref\":\"").skip(1) {
        let r = &r[..r.find('"').unwrap()];
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    assert!(schemas.contains_key("ErrorEnvelope"));

    let ops = documented(&doc);
    let mut in_source = BTreeSet::new();
    routes_in_source(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut in_source,
    );
    assert!(in_source.len() > 15, "too few routes read: {in_source:?}");
    let missing: Vec<_> = in_source.difference(&ops).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the document: {missing:?}"
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

    // Every documented operation is served (a wrong path or method would be 404/405).
    let addr = arena[0].addr.to_string();
    for (method, path) in &ops {
        let concrete = path.replace("{id}", "1").replace("{sid}", "nosuchsocket");
        let body = (method == "POST").then_some("{}");
        let (status, answer) = http_request(&addr, method, &concrete, body, &[])
            .await
            .unwrap();
        assert!(
            status != 405 && (status != 404 || answer.contains("\"error\"")),
            "{method} {path}: {status} {answer}"
        );
        assert!(status < 500, "{method} {path}: {status} {answer}");
    }
}
