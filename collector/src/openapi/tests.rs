//! The document against the code: the checked-in copy is current, what is served is the same,
//! and every route the router registers is in it with its methods (and nothing else is).

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// `docs/openapi.json` is the generated document; `VIGIE_BLESS=1 cargo test -p vigie-collector
/// openapi` rewrites it (review the diff before committing).
#[test]
fn checked_in_document_is_current() {
    let path = repo_file("docs/openapi.json");
    let want = document();
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "{} differs from the document generated from the code; run \
         `VIGIE_BLESS=1 cargo test -p vigie-collector openapi` and review the diff",
        path.display()
    );
    let v: serde_json::Value = serde_json::from_str(&want).unwrap();
    assert!(
        v["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        v["openapi"]
    );
}

/// (METHOD, /path/{param}) of every operation in the document.
fn documented() -> BTreeSet<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&document()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in v["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// (METHOD, path) of every `.route("…", get(…).post(…))` in the files that build the router,
/// with axum's `:param` written as OpenAPI's `{param}`.
fn registered() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for file in [
        "collector/src/http.rs",
        "collector/src/http_risk.rs",
        "collector/src/http/identity.rs",
    ] {
        let text = std::fs::read_to_string(repo_file(file)).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            // The call's text up to its closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let call = &rest[..end];
            let path = call.split('"').nth(1).unwrap();
            let path: String = path
                .split('/')
                .map(|seg| match seg.strip_prefix(':') {
                    Some(p) => format!("{{{p}}}"),
                    None => seg.to_string(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let after = &call[call.find(',').unwrap()..];
            for method in ["get", "post", "patch", "put", "delete"] {
                if after.contains(&format!("{method}("))
                    || after.contains(&format!("routing::{method}("))
                {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out
}

#[test]
fn every_registered_route_is_documented_and_nothing_else() {
    let reg = registered();
    let doc = documented();
    assert!(reg.len() > 30, "the route scan found too little: {reg:?}");
    let missing: Vec<_> = reg.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&reg).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}; documented but not routed: {extra:?}"
    );
}

/// Each documented operation reaches a handler of the live router: never the fallback's 404 nor
/// a 405 (so the scan above cannot agree with the document about a route that does not exist).
#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let (base, _d) = crate::http::api_tests::spawn_app().await;
    let c = reqwest::Client::new();
    for (method, path) in documented() {
        let url = format!(
            "{base}{}",
            path.replace("{id}", "1").replace("{register}", "incidents")
        );
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = c.request(m, &url).send().await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_ne!(status, 405, "{method} {url}: {body}");
        assert!(
            !(status == 404 && body.contains("no such endpoint")),
            "{method} {url}: {body}"
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let (base, _d) = crate::http::api_tests::spawn_app().await;
    let r = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.text().await.unwrap(), document());
}
