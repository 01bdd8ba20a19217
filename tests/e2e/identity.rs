//! Identity MFA end to end: stub GitHub and Okta servers on loopback, the real `vigie-collector
//! serve` (whose scheduler syncs at start) and the real `vigie-collector identity sync/list`, all on
//! one SQLite file; the KPI, staleness and gauges checked against values computed by hand.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigie_e2e::*;

#[derive(Default)]
struct StubState {
    base: std::sync::OnceLock<String>,
    okta_broken: AtomicBool,
}
type S = Arc<StubState>;

type Q = Query<HashMap<String, String>>;

fn authorised(h: &HeaderMap, expected: &str) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected)
}

fn gh_accounts(s: &S, q: &HashMap<String, String>, path: &str, all: Vec<(u64, &str)>) -> Response {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * 3)
        .take(3)
        .map(|(id, login)| json!({"id": id, "login": login, "type": "User"}))
        .collect();
    let mut resp = Json(items).into_response();
    if page * 3 < all.len() {
        let base = s.base.get().unwrap();
        let link = format!(
            "<{base}{path}?page={}>; rel=\"next\", <{base}{path}?page=9>; rel=\"last\"",
            page + 1
        );
        resp.headers_mut().insert("link", link.parse().unwrap());
    }
    resp
}

async fn gh_members(State(s): State<S>, Query(q): Q, h: HeaderMap) -> Response {
    if !authorised(&h, "Bearer gh-e2e-token") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let list = match (
        q.get("filter").map(String::as_str),
        q.get("role").map(String::as_str),
    ) {
        (Some("2fa_disabled"), _) => vec![(2, "bo"), (5, "eli")],
        (_, Some("admin")) => vec![(1, "al"), (2, "bo")],
        _ => vec![
            (1, "al"),
            (2, "bo"),
            (3, "cy"),
            (4, "di"),
            (5, "eli"),
            (6, "fo"),
            (7, "gi"),
        ],
    };
    gh_accounts(&s, &q, "/orgs/acme/members", list)
}

async fn gh_outside(State(s): State<S>, Query(q): Q, h: HeaderMap) -> Response {
    if !authorised(&h, "Bearer gh-e2e-token") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let list = match q.get("filter").map(String::as_str) {
        Some("2fa_disabled") => vec![(21, "ext2")],
        _ => vec![(20, "ext1"), (21, "ext2")],
    };
    gh_accounts(&s, &q, "/orgs/acme/outside_collaborators", list)
}

async fn okta_users(State(s): State<S>, Query(q): Q, h: HeaderMap) -> Response {
    if !authorised(&h, "SSWS okta-e2e-token") {
        let body = json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let base = s.base.get().unwrap();
    let u = |id: &str, status: &str, login: &str| json!({"id": id, "status": status, "profile": {"login": login}});
    if q.get("after").map(String::as_str) == Some("c2") {
        if s.okta_broken.load(Ordering::SeqCst) {
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "[{\"id\": \"00u",
            )
                .into_response();
        }
        let mut r = Json(vec![
            u("00u3", "ACTIVE", "cid@example.com"),
            u("00u4", "SUSPENDED", "dan@example.com"),
        ])
        .into_response();
        r.headers_mut().append(
            "link",
            format!("<{base}/api/v1/users?after=c2>; rel=\"self\"")
                .parse()
                .unwrap(),
        );
        return r;
    }
    let mut r = Json(vec![
        u("00u1", "ACTIVE", "ana@example.com"),
        u("00u2", "ACTIVE", "ben@example.com"),
    ])
    .into_response();
    r.headers_mut().append(
        "link",
        format!("<{base}/api/v1/users>; rel=\"self\"")
            .parse()
            .unwrap(),
    );
    r.headers_mut().append(
        "link",
        format!("<{base}/api/v1/users?after=c2>; rel=\"next\"")
            .parse()
            .unwrap(),
    );
    r
}

async fn okta_factors(UrlPath(id): UrlPath<String>, h: HeaderMap) -> Response {
    if !authorised(&h, "SSWS okta-e2e-token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let f = |t: &str| json!({"factorType": t, "status": "ACTIVE"});
    Json(match id.as_str() {
        "00u1" => json!([f("push")]),
        "00u2" => json!([f("sms")]),
        _ => json!([]),
    })
    .into_response()
}

/// Start both stubs on one loopback port, in their own thread and runtime.
fn start_stubs() -> (S, String) {
    let state: S = Arc::new(StubState::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let st = state.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            st.base.set(base.clone()).unwrap();
            let app = Router::new()
                .route(
                    "/orgs/acme",
                    get(|| async {
                        Json(json!({"login": "acme", "two_factor_requirement_enabled": false}))
                    }),
                )
                .route("/orgs/acme/members", get(gh_members))
                .route("/orgs/acme/outside_collaborators", get(gh_outside))
                .route("/api/v1/users", get(okta_users))
                .route("/api/v1/users/:id/factors", get(okta_factors))
                .with_state(st);
            tx.send(base).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let base = rx.recv().unwrap();
    (state, base)
}

fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}

fn cli(c: &Collector, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gauge(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn source<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {v:#}"))
}

#[test]
fn sync_store_kpi_staleness_and_gauges_through_the_real_binaries() {
    let t = tempfile::tempdir().unwrap();
    let (stubs, base) = start_stubs();
    let dir = t.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    let gh = secret(t.path(), "gh.token", "gh-e2e-token\n");
    let okta = secret(t.path(), "okta.token", "okta-e2e-token");
    // Appended after [metrics] in the generated config.
    let extra = format!(
        "[identity]\nsync_interval_hours = 6\n\
         [[identity.source]]\nname = \"github\"\nkind = \"github\"\norg = \"acme\"\ntoken_file = \"{gh}\"\napi_url = \"{base}\"\n\
         [[identity.source]]\nname = \"okta\"\nkind = \"okta\"\nurl = \"{base}\"\ntoken_file = \"{okta}\"\n"
    );
    let c = Collector::start(&dir, 0, &extra);

    // The scheduler syncs both sources as `serve` starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let v = admin_get(&c, "/api/v1/identities");
        let done = v["sources"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|s| s["last_success_at"].is_i64()));
        if done {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled sync:\n{v:#}\n{}",
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // By hand: GitHub members al bo cy di eli fo gi, 2FA off for bo and eli, admins al and bo;
    // outside collaborators ext1, ext2 (2FA off).
    let g = source(&v, "github");
    assert_eq!(g["counts"]["active_members"], 7);
    assert_eq!(g["counts"]["without_mfa"], 2);
    assert_eq!(g["counts"]["admins_without_mfa"], 1);
    assert_eq!(g["counts"]["guests"], 2);
    assert_eq!(g["counts"]["guests_without_mfa"], 1);
    assert_eq!(g["enforced"], false);
    assert_eq!(g["stale"], false);
    // 5 of 7 members with 2FA: below the default 100 % target.
    assert_eq!(g["target_status"], "not_met");
    // Okta: ana push (pass), ben sms (warn), cid none (fail), dan suspended (not applicable).
    let o = source(&v, "okta");
    assert_eq!(o["counts"]["active_members"], 3);
    assert_eq!(o["counts"]["pass"], 1);
    assert_eq!(o["counts"]["weak_only"], 1);
    assert_eq!(o["counts"]["without_mfa"], 1);
    assert_eq!(o["counts"]["not_applicable"], 1);

    // The Okta tenant starts answering a truncated page: the CLI sync fails for it only.
    stubs.okta_broken.store(true, Ordering::SeqCst);
    let (code, out, err) = cli(&c, &["identity", "sync"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("github: ok, 9 accounts"), "{out}");
    assert!(
        out.contains("okta: FAILED (last good sync kept)") && out.contains("malformed"),
        "{out}"
    );
    let (code, out, _) = cli(&c, &["identity", "sync", "--source", "github"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = cli(&c, &["identity", "sync", "--source", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no identity source named \"nope\""), "{err}");

    // Okta is stale with its reason; its last good accounts stay, not zero, not all compliant.
    let v = admin_get(&c, "/api/v1/identities?source=okta");
    let o = source(&v, "okta");
    assert_eq!(o["stale"], true);
    assert_eq!(o["target_status"], "stale");
    assert!(o["last_error"].as_str().unwrap().contains("malformed"));
    assert_eq!(o["failures_total"], 1);
    assert_eq!(o["counts"]["without_mfa"], 1);
    assert_eq!(o["history"][0]["ok"], false);
    assert_eq!(o["history"][1]["ok"], true);
    assert_eq!(v["identities"].as_array().unwrap().len(), 4);

    let (code, out, err) = cli(
        &c,
        &["identity", "list", "--without-mfa", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let l: Value = serde_json::from_str(&out).unwrap();
    let mut names: Vec<&str> = l["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["login"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bo", "cid@example.com", "eli", "ext2"]);
    let (code, out, _) = cli(&c, &["identity", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("source okta (okta)") && out.contains("STALE"),
        "{out}"
    );

    // The identity gauges are on the collector's one scrape path, beside its own families.
    let text = http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("vigie_ingest_reports_total"), "{text}");
    // One exposition: `promtool check metrics` accepts the collector's and the identity families together.
    let promtool = Path::new("/usr/bin/promtool");
    if promtool.exists() {
        use std::io::Write as _;
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            std::env::var_os("VIGIE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
    }
    assert_eq!(
        gauge(&text, "vigie_identities{mfa=\"none\",source=\"github\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "vigie_identities{mfa=\"strong\",source=\"github\"}"),
        Some(5.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_mfa_coverage_ratio{source=\"okta\"}"),
        Some(1.0 / 3.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_source_up{source=\"okta\"}"),
        Some(0.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_source_up{source=\"github\"}"),
        Some(1.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_sync_failures_total{source=\"okta\"}"),
        Some(1.0)
    );
    assert!(
        gauge(
            &text,
            "vigie_identity_sync_timestamp_seconds{source=\"github\"}"
        )
        .unwrap()
            > 1.7e9
    );
    assert_eq!(
        gauge(
            &text,
            "vigie_identity_mfa_coverage_target_ratio{source=\"github\"}"
        ),
        Some(1.0)
    );
    // No per-identity label.
    assert!(!text.contains("\"bo\""), "{text}");

    // The tokens appear in no log line.
    let log = c.log_text();
    assert!(
        !log.contains("gh-e2e-token") && !log.contains("okta-e2e-token"),
        "{log}"
    );
    assert!(c.stop().success());
}
