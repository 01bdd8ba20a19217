//! Stub GitHub organisation and Okta tenant on one loopback port, for the end-to-end tests that
//! need identity sources (`identity.rs`, `dashboards.rs`): GitHub members al bo cy di eli fo gi
//! (2FA off for bo and eli; admins al and bo) and outside collaborators ext1, ext2 (2FA off);
//! Okta ana (push; SUPER_ADMIN), ben (SMS), cid (none), dan (suspended), over two pages.
#![allow(dead_code)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// What the stubs share: their base URL, and whether Okta answers a truncated page.
#[derive(Default)]
pub struct StubState {
    pub base: std::sync::OnceLock<String>,
    pub okta_broken: AtomicBool,
}
/// The shared stub state.
pub type S = Arc<StubState>;

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

async fn okta_roles(UrlPath(id): UrlPath<String>, h: HeaderMap) -> Response {
    if !authorised(&h, "SSWS okta-e2e-token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(match id.as_str() {
        "00u1" => json!([{"id": "ra1", "type": "SUPER_ADMIN", "status": "ACTIVE", "assignmentType": "USER"}]),
        _ => json!([]),
    })
    .into_response()
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
pub fn start_stubs() -> (S, String) {
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
                .route("/api/v1/users/:id/roles", get(okta_roles))
                .with_state(st);
            tx.send(base).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let base = rx.recv().unwrap();
    (state, base)
}

/// Write a credential file readable by its owner only; returns its path.
pub fn secret(dir: &Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p.display().to_string()
}
