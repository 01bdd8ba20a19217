//! The API's conventions through the real router on an ephemeral port: every error is the JSON
//! body (extractor rejections, wrong methods and unknown routes included) and lists page with
//! `limit`, `cursor` and `next`.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::auth::{NodeKeys, Tokens};
use crate::config::CollectorConfig;
use crate::http::AppState;
use crate::metrics::Metrics;
use crate::store::Store;

const ADMIN: &str = "admin-token-0123456789abcdef0123456789";
const SECRET: &str = "enrol-secret-0123456789";

/// The collector's router on a temporary database, with an enrolment secret and one host group.
pub(crate) async fn spawn_app() -> (String, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
    let mut config = CollectorConfig::default();
    config.hosts.groups.push(crate::risk::config::HostGroup {
        name: "web".into(),
        hostnames: vec!["web-*".into()],
        criticality: None,
    });
    let state = Arc::new(AppState {
        store,
        keys: NodeKeys::load(Vec::new()),
        tokens: Tokens::new(&[ADMIN.into()], &[]),
        enroll_secret: Some(SECRET.into()),
        enrolment_guard: crate::auth::EnrolmentGuard::new(&Default::default()),
        config,
        metrics: Arc::new(Metrics::new().unwrap()),
        ready: Default::default(),
        identity_gauges: Default::default(),
    });
    let app = crate::http::router(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), d)
}

/// Enrol a host through the API; its id.
async fn enrol(base: &str, hostname: &str, os: &str) -> i64 {
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/enroll"))
        .json(
            &json!({"enroll_secret": SECRET, "host": {"hostname": hostname,
            "machine_id": format!("mid-{hostname}"), "os": os, "os_version": "1",
            "kernel": "k", "arch": "x86_64"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["host_id"]
        .as_i64()
        .unwrap()
}

/// Send, and check the answer is `status` with the JSON error body of `code`; its message.
async fn expect_error(rq: reqwest::RequestBuilder, status: u16, code: &str) -> String {
    let r = rq.send().await.unwrap();
    let url = r.url().to_string();
    assert_eq!(r.status().as_u16(), status, "{url}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        ct.starts_with("application/json"),
        "{url}: content-type {ct}"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], code, "{url}: {v}");
    let message = v["error"]["message"].as_str().unwrap().to_string();
    assert!(!message.is_empty(), "{url}: {v}");
    message
}

/// GET with the admin token: 200 and its JSON.
async fn get_json(base: &str, path: String) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.json::<Value>().await.unwrap()
}

#[tokio::test]
async fn extractor_rejections_are_the_json_error_body() {
    let (base, _d) = spawn_app().await;
    let c = reqwest::Client::new();
    let get = |path: &str| c.get(format!("{base}{path}")).bearer_auth(ADMIN);
    // A value that does not parse, an unknown parameter, a non-numeric id.
    let m = expect_error(get("/api/v1/hosts?limit=abc"), 400, "bad_query").await;
    assert!(m.contains("limit"), "{m}");
    let m = expect_error(get("/api/v1/hosts?colour=red"), 400, "bad_query").await;
    assert!(m.contains("colour"), "{m}");
    expect_error(get("/api/v1/risks?colour=red"), 400, "bad_query").await;
    expect_error(get("/api/v1/hosts/abc"), 400, "bad_path").await;
    expect_error(get("/api/v1/hosts/abc/history"), 400, "bad_path").await;
    expect_error(get("/api/v1/risks/x1"), 400, "bad_path").await;
    expect_error(get("/api/v1/hosts/1/history?limit=ten"), 400, "bad_query").await;
    // A method the route does not have: 405 with Allow, JSON body.
    let r = c
        .delete(format!("{base}/api/v1/hosts"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    expect_error(
        c.delete(format!("{base}/api/v1/hosts")),
        405,
        "method_not_allowed",
    )
    .await;
    expect_error(
        c.put(format!("{base}/api/v1/risks/1")),
        405,
        "method_not_allowed",
    )
    .await;
    // Unknown routes, under the API and elsewhere.
    expect_error(get("/api/v1/nope"), 404, "not_found").await;
    expect_error(get("/nope"), 404, "not_found").await;
    // Paging parameters out of range or not handed out by the collector.
    expect_error(get("/api/v1/hosts?limit=0"), 400, "bad_query").await;
    expect_error(get("/api/v1/hosts?limit=1001"), 400, "bad_query").await;
    expect_error(get("/api/v1/hosts?cursor=abc"), 400, "bad_cursor").await;
    expect_error(get("/api/v1/risks?cursor=abc"), 400, "bad_cursor").await;
    expect_error(get("/api/v1/hosts/1/history?cursor=abc"), 400, "bad_cursor").await;
    expect_error(get("/api/v1/risks.csv?limit=5"), 400, "bad_query").await;
    // A feed token in the query string is for the feeds only.
    let m = expect_error(get("/api/v1/risks?token=vft1_00"), 400, "bad_query").await;
    assert!(m.starts_with("token: "), "{m}");
    expect_error(get("/api/v1/actions.csv?token=vft1_00"), 400, "bad_query").await;
    // Filters with a value the endpoint does not know name the parameter.
    let m = expect_error(get("/api/v1/hosts?state=never"), 400, "bad_filter").await;
    assert!(m.starts_with("state: "), "{m}");
    let m = expect_error(get("/api/v1/hosts?group=db"), 400, "bad_filter").await;
    assert!(m.starts_with("group: "), "{m}");
    // The probes keep their plain-text answers.
    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn hosts_page_with_cursor_and_filters() {
    let (base, _d) = spawn_app().await;
    let get = |path: String| get_json(&base, path);
    for (name, os) in [
        ("web-03", "debian"),
        ("db-01", "rhel"),
        ("web-01", "debian"),
        ("web-02", "windows"),
        ("app-01", "debian"),
    ] {
        enrol(&base, name, os).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap().to_string())
            .collect()
    };
    // Two per page: three pages in hostname order, the last one without `next`.
    let mut all = Vec::new();
    let mut path = "/api/v1/hosts?limit=2".to_string();
    let mut pages = 0;
    loop {
        let v = get(path.clone()).await;
        pages += 1;
        all.extend(names(&v));
        match v["next"].as_str() {
            Some(n) => path = format!("/api/v1/hosts?limit=2&cursor={n}"),
            None => {
                assert!(v["next"].is_null());
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all, ["app-01", "db-01", "web-01", "web-02", "web-03"]);
    // The default page holds them all; none reported yet.
    let v = get("/api/v1/hosts".into()).await;
    assert_eq!(names(&v).len(), 5);
    assert_eq!(v["hosts"][0]["state"], "never_reported");
    assert!(v["next"].is_null());
    // Filters.
    let v = get("/api/v1/hosts?os=debian&group=web".into()).await;
    assert_eq!(names(&v), ["web-01", "web-03"]);
    let v = get("/api/v1/hosts?state=reporting".into()).await;
    assert!(names(&v).is_empty());
    let v = get("/api/v1/hosts?state=never_reported&os=rhel,windows".into()).await;
    assert_eq!(names(&v), ["db-01", "web-02"]);
}

#[tokio::test]
async fn registers_page_with_cursor() {
    let (base, _d) = spawn_app().await;
    let c = reqwest::Client::new();
    for i in 0..5 {
        let r = c
            .post(format!("{base}/api/v1/risks"))
            .bearer_auth(ADMIN)
            .json(
                &json!({"title": format!("risk {i}"), "likelihood": 2, "impact": 2,
                "treatment": "reduce", "owner": "alice"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/risks?limit=2&owner=alice".to_string();
    loop {
        let v: Value = c
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let ids: Vec<i64> = v["risks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match v["next"].as_str() {
            Some(n) => path = format!("/api/v1/risks?limit=2&owner=alice&cursor={n}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, [1, 2, 3, 4, 5], "each risk once");
    // Incidents: a list without filters pages too.
    let v: Value = c
        .get(format!("{base}/api/v1/incidents?limit=1"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["incidents"], json!([]));
    assert!(v["next"].is_null());
}
