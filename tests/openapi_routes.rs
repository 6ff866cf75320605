//! `openapi.yaml` documents exactly the routes in `kpki::api::ROUTES`, in both directions, and
//! the router really serves that list (each route answers its method, every other method on a
//! documented path is cfssl's 405 with an `Allow` header). The YAML's `paths:` section is kept
//! regular on purpose (paths at 2 spaces, methods at 4) so a line scan reads it without a YAML
//! crate; anything irregular there fails the test instead of being skipped.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt;

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// (path, method) → the response status keys documented for that operation.
type Operations = BTreeMap<(String, String), BTreeSet<String>>;

/// Reads the `paths:` section: `  /path:` lines (indent 2), `    method:` lines (indent 4) and,
/// under a method, `      responses:` (indent 6) with `        'NNN':` keys (indent 8).
fn operations(yaml: &str) -> Result<Operations, String> {
    let mut ops = Operations::new();
    let mut in_paths = false;
    let mut seen_paths = false;
    let mut path: Option<String> = None;
    let mut op: Option<(String, String)> = None;
    let mut in_responses = false;
    for (i, line) in yaml.lines().enumerate() {
        let n = i + 1;
        if line.contains('\t') && in_paths {
            return Err(format!("line {n}: tab in the paths section"));
        }
        let trimmed = line.trim_end();
        if trimmed.trim_start().is_empty() || trimmed.trim_start().starts_with('#') {
            continue;
        }
        let indent = trimmed.len() - trimmed.trim_start().len();
        if indent == 0 {
            if trimmed == "paths:" {
                if seen_paths {
                    return Err(format!("line {n}: a second `paths:`"));
                }
                in_paths = true;
                seen_paths = true;
            } else {
                in_paths = false;
            }
            continue;
        }
        if !in_paths {
            continue;
        }
        let key = trimmed.trim_start();
        match indent {
            2 => {
                let p = key
                    .strip_suffix(':')
                    .map(|k| k.trim_matches(|c| c == '\'' || c == '"'))
                    .filter(|k| k.starts_with('/'))
                    .ok_or_else(|| format!("line {n}: expected `  /path:`, got {key:?}"))?;
                if ops.keys().any(|(q, _)| q == p) {
                    return Err(format!("line {n}: path {p} listed twice"));
                }
                if let Some(prev) = &path
                    && !ops.keys().any(|(q, _)| q == prev)
                {
                    return Err(format!("line {n}: path {prev} has no operations"));
                }
                path = Some(p.to_string());
                op = None;
            }
            4 => {
                let k = key.split(':').next().unwrap_or_default();
                in_responses = false;
                op = None;
                if METHODS.contains(&k) {
                    if key != format!("{k}:") {
                        return Err(format!("line {n}: expected `    {k}:` on its own line"));
                    }
                    let p = path
                        .clone()
                        .ok_or_else(|| format!("line {n}: method before path"))?;
                    let id = (p, k.to_string());
                    if ops.insert(id.clone(), BTreeSet::new()).is_some() {
                        return Err(format!("line {n}: {} {} listed twice", id.1, id.0));
                    }
                    op = Some(id);
                } else if key.starts_with("$ref") {
                    return Err(format!(
                        "line {n}: path items must be written out, not $ref"
                    ));
                }
            }
            6 => in_responses = op.is_some() && key == "responses:",
            8 if in_responses => {
                let status = key
                    .strip_suffix(':')
                    .map(|k| k.trim_matches(|c| c == '\'' || c == '"'))
                    .ok_or_else(|| format!("line {n}: expected `        'NNN':`, got {key:?}"))?;
                if let Some(id) = &op {
                    ops.get_mut(id)
                        .expect("operation recorded")
                        .insert(status.to_string());
                }
            }
            _ => {}
        }
    }
    if !seen_paths {
        return Err("no top-level `paths:` section".into());
    }
    if let Some(prev) = &path
        && !ops.keys().any(|(q, _)| q == prev)
    {
        return Err(format!("path {prev} has no operations"));
    }
    Ok(ops)
}

fn spec() -> Operations {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    operations(&text).unwrap_or_else(|e| panic!("openapi.yaml: {e}"))
}

fn routes() -> BTreeSet<(String, String)> {
    kpki::api::ROUTES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect()
}

#[test]
fn routes_are_listed_once() {
    let set = routes();
    assert_eq!(
        set.len(),
        kpki::api::ROUTES.len(),
        "kpki::api::ROUTES lists a route twice"
    );
    for (p, m) in &set {
        assert!(p.starts_with('/'), "ROUTES path {p:?}");
        assert!(
            METHODS.contains(&m.as_str()),
            "ROUTES method {m:?} must be lower-case"
        );
    }
}

#[test]
fn openapi_documents_exactly_the_routes() {
    let documented: BTreeSet<(String, String)> = spec().into_keys().collect();
    let served = routes();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "openapi.yaml and kpki::api::ROUTES differ\n  in ROUTES but not in openapi.yaml: \
         {undocumented:?}\n  in openapi.yaml but not in ROUTES: {unserved:?}"
    );
}

#[test]
fn every_operation_documents_its_responses() {
    for ((p, m), statuses) in spec() {
        let need: &[&str] = if m == "post" {
            &["200", "400", "403", "405", "413"]
        } else if p.contains('{') {
            &["200", "400", "403", "404", "405"]
        } else {
            &["200", "403", "405"]
        };
        for s in need {
            assert!(
                statuses.contains(*s),
                "{m} {p}: response {s} not documented"
            );
        }
        for s in &statuses {
            assert!(
                s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()),
                "{m} {p}: response key {s:?} (write every status explicitly)"
            );
        }
    }
}

#[test]
fn the_line_scan_reads_what_it_should() {
    let yaml = "openapi: 3.1.0\npaths:\n  /a:\n    get:\n      summary: x\n      responses:\n        \
                '200':\n          description: ok\n        '404':\n          $ref: x\n    \
                parameters: []\n  '/b/{id}':\n    post:\n      description: |\n        text:\n\n    \
                # note\n    delete:\ncomponents:\n  /c:\n    get:\n";
    let ops = operations(yaml).unwrap();
    let keys: Vec<_> = ops.keys().cloned().collect();
    assert_eq!(
        keys,
        [("/a", "get"), ("/b/{id}", "delete"), ("/b/{id}", "post")]
            .map(|(p, m)| (p.to_string(), m.to_string()))
    );
    assert_eq!(
        ops[&("/a".to_string(), "get".to_string())],
        BTreeSet::from(["200", "404"].map(String::from))
    );
    // Irregular forms are refused, not skipped.
    for bad in [
        "paths:\n  /a: {get: {}}\n",
        "paths:\n  a:\n    get:\n",
        "paths:\n  /a:\n    $ref: other.yaml\n",
        "paths:\n  /a:\n    get: {}\n",
        "paths:\n  /a:\n    get:\n  /a:\n    post:\n",
        "paths:\n  /a:\n  /b:\n    get:\n",
        "paths:\n  /a:\n\tget:\n",
        "openapi: 3.1.0\n",
    ] {
        assert!(operations(bad).is_err(), "accepted {bad:?}");
    }
}

fn app() -> axum::Router {
    let config = kpki::config::Config::from_json(br#"{"signing":{"default":{"expiry":"8760h"}}}"#)
        .expect("config");
    let state = std::sync::Arc::new(kpki::api::AppState::new(None, config, None));
    kpki::api::router(state, &[])
}

async fn call(method: &str, path: &str) -> (StatusCode, Option<String>, serde_json::Value) {
    let req = Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(path)
        .body(Body::from(if method == "post" { "{}" } else { "" }))
        .expect("request");
    let resp = app().oneshot(req).await.expect("router is infallible");
    let status = resp.status();
    let allow = resp
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, allow, json)
}

fn concrete(path: &str) -> String {
    path.replace("{serial}", "1").replace("{id}", "abcdef")
}

#[tokio::test]
async fn the_router_serves_every_route_and_only_those_methods() {
    let served = routes();
    for (p, m) in &served {
        let (status, _, json) = call(m, &concrete(p)).await;
        let code = json["errors"][0]["code"].as_u64();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && code != Some(404),
            "{m} {p} is in ROUTES but the router does not serve it ({status}, {json})"
        );
    }
    let paths: BTreeSet<&String> = served.iter().map(|(p, _)| p).collect();
    for p in paths {
        for m in ["get", "post", "put", "delete", "patch"] {
            if served.contains(&(p.clone(), m.to_string())) {
                continue;
            }
            let (status, allow, json) = call(m, &concrete(p)).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{m} {p}: {json}");
            assert_eq!(json["errors"][0]["code"], 405, "{m} {p}: {json}");
            let allow = allow.unwrap_or_else(|| panic!("{m} {p}: 405 without an Allow header"));
            for (q, n) in &served {
                if q == p {
                    assert!(
                        allow.to_lowercase().contains(n.as_str()),
                        "{m} {p}: Allow {allow:?} lacks {n}"
                    );
                }
            }
        }
    }
    let (status, _, json) = call("get", "/api/v1/no-such-endpoint").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["errors"][0]["code"], 404, "{json}");
}
