//! Okta stub and tests.

use super::*;

fn okta_users() -> Vec<Value> {
    let u = |id: &str, status: &str, login: &str| json!({"id": id, "status": status, "profile": {"login": login, "firstName": login.split('@').next().unwrap(), "lastName": "X"}});
    vec![
        u("00u1", "ACTIVE", "ana@example.com"),
        u("00u2", "ACTIVE", "ben@example.com"),
        u("00u3", "ACTIVE", "cid@example.com"),
        u("00u4", "SUSPENDED", "dan@example.com"),
        u("00u5", "DEPROVISIONED", "eve@example.com"),
        u("00u6", "ACTIVE", "fay@example.com"),
        u("00u7", "ACTIVE", "gus@example.com"),
    ]
}

fn okta_factors(id: &str) -> Value {
    let f = |t: &str, status: &str| json!({"id": format!("f-{t}"), "factorType": t, "provider": "OKTA", "status": status});
    match id {
        "00u1" => json!([f("push", "ACTIVE"), f("sms", "ACTIVE")]),
        "00u2" => json!([
            f("sms", "ACTIVE"),
            f("token:software:totp", "PENDING_ACTIVATION")
        ]),
        "00u3" => json!([]),
        "00u6" => json!([f("question", "ACTIVE"), f("email", "ACTIVE")]),
        "00u7" => json!([f("webauthn", "ACTIVE")]),
        _ => json!([]),
    }
}

fn okta_auth(h: &HeaderMap) -> Option<Response> {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("SSWS okta-token") {
        let body = json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided", "errorLink": "E0000011", "errorId": "oae1", "errorCauses": []});
        return Some((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    }
    None
}

async fn okta_users_h(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    log(&s, format!("GET users after={:?}", q.get("after")));
    if let Some(r) = okta_auth(&h) {
        return r;
    }
    let page: usize = q
        .get("after")
        .and_then(|a| a.strip_prefix("cur"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if let Some(r) = page_trouble(&s, page) {
        return r;
    }
    let base = s.lock().unwrap().base.clone();
    let users: Vec<Value> = okta_users().into_iter().skip(page * 3).take(3).collect();
    let this = format!("<{base}/api/v1/users?limit=3>; rel=\"self\"");
    let next = format!(
        "<{base}/api/v1/users?after=cur{}&limit=3>; rel=\"next\"",
        page + 1
    );
    let mut resp = Json(users).into_response();
    let hs = resp.headers_mut();
    match page {
        // Several Link headers.
        0 => {
            hs.append("link", this.parse().unwrap());
            hs.append("link", next.parse().unwrap());
        }
        // One header, comma-separated, next first.
        1 => {
            hs.append("link", format!("{next}, {this}").parse().unwrap());
        }
        // The last: only self.
        _ => {
            hs.append("link", this.parse().unwrap());
        }
    }
    resp
}

/// Role assignments: ana a direct SUPER_ADMIN, cid an ORG_ADMIN through a group, gus an
/// INACTIVE one (not an admin), the others none.
fn okta_roles(id: &str) -> Value {
    let r = |t: &str, status: &str, via: &str| json!({"id": format!("ra-{t}"), "label": t, "type": t, "status": status, "assignmentType": via, "created": "2024-01-01T00:00:00.000Z"});
    match id {
        "00u1" => json!([r("SUPER_ADMIN", "ACTIVE", "USER")]),
        "00u3" => json!([r("ORG_ADMIN", "ACTIVE", "GROUP")]),
        "00u7" => json!([r("APP_ADMIN", "INACTIVE", "USER")]),
        _ => json!([]),
    }
}

async fn okta_roles_h(State(s): State<Shared>, Path(id): Path<String>, h: HeaderMap) -> Response {
    log(&s, format!("GET roles {id}"));
    if let Some(r) = okta_auth(&h) {
        return r;
    }
    if s.lock().unwrap().forbid_roles {
        let body = json!({"errorCode": "E0000006", "errorSummary": "You do not have permission to perform the requested action", "errorLink": "E0000006", "errorId": "oae2", "errorCauses": []});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    Json(okta_roles(&id)).into_response()
}

async fn okta_factors_h(State(s): State<Shared>, Path(id): Path<String>, h: HeaderMap) -> Response {
    log(&s, format!("GET factors {id}"));
    if let Some(r) = okta_auth(&h) {
        return r;
    }
    if id == "00u1" && s.lock().unwrap().ana_weak {
        return Json(
            json!([{"id": "f-sms", "factorType": "sms", "provider": "OKTA", "status": "ACTIVE"}]),
        )
        .into_response();
    }
    let exhaust = {
        let mut st = s.lock().unwrap();
        std::mem::take(&mut st.exhaust_once)
    };
    let mut resp = Json(okta_factors(&id)).into_response();
    if exhaust {
        let reset = chrono::Utc::now().timestamp() + 1;
        let hs = resp.headers_mut();
        hs.insert("x-rate-limit-limit", "600".parse().unwrap());
        hs.insert("x-rate-limit-remaining", "0".parse().unwrap());
        hs.insert("x-rate-limit-reset", reset.to_string().parse().unwrap());
    }
    resp
}

async fn okta_stub(stub: Stub) -> (Shared, String) {
    let r = Router::new()
        .route("/api/v1/users", get(okta_users_h))
        .route("/api/v1/users/:id/factors", get(okta_factors_h))
        .route("/api/v1/users/:id/roles", get(okta_roles_h));
    start(r, stub).await
}

fn okta_source(dir: &std::path::Path, base: &str, token: &str) -> SourceConfig {
    SourceConfig::Okta(OktaConfig {
        name: "okta".into(),
        url: base.into(),
        token_file: secret_file(dir, "okta.token", token),
    })
}

#[tokio::test]
async fn okta_link_headers_factors_rate_limits_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = okta_stub(Stub {
        throttle_page: Some(2),
        exhaust_once: true,
        ..Stub::default()
    })
    .await;
    let cfg = section(vec![okta_source(d.path(), &base, "okta-token")]);
    let t0 = std::time::Instant::now();
    let r = sync_source(&store, &cfg, &[], 0, 1_000).await.unwrap();
    assert_eq!(r.accounts, 7);
    // One Retry-After: 1 and one exhausted budget (reset in ≤ 1 s) were waited out.
    assert!(t0.elapsed() >= std::time::Duration::from_millis(1000));

    let log = stub.lock().unwrap().log.clone();
    let pages: Vec<_> = log.iter().filter(|l| l.starts_with("GET users")).collect();
    assert_eq!(
        pages,
        [
            "GET users after=None",
            "GET users after=Some(\"cur1\")",
            "GET users after=Some(\"cur2\")",
            "GET users after=Some(\"cur2\")"
        ],
        "3 pages, the third asked twice (429), then stop: only rel=self remains"
    );
    // Factors are read for active users only.
    assert!(!log
        .iter()
        .any(|l| l == "GET factors 00u4" || l == "GET factors 00u5"));
    assert_eq!(
        log.iter().filter(|l| l.starts_with("GET factors")).count(),
        5
    );

    let rows = current(&store, "okta");
    let st = |l: &str| rows[l].status.as_str().to_string();
    assert_eq!(st("ana@example.com"), "pass");
    assert_eq!(
        st("ben@example.com"),
        "warn",
        "the pending TOTP does not count"
    );
    assert_eq!(st("cid@example.com"), "fail");
    assert_eq!(st("dan@example.com"), "not_applicable");
    assert_eq!(st("eve@example.com"), "not_applicable");
    assert_eq!(st("fay@example.com"), "warn", "question + email are weak");
    assert_eq!(st("gus@example.com"), "pass");
    assert_eq!(rows["ana@example.com"].display_name, "ana X");
    // Admins: ana (direct role), cid (through a group); gus's role is inactive.
    let admins: Vec<&str> = rows
        .values()
        .filter(|r| r.admin)
        .map(|r| r.login.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(admins, ["ana@example.com", "cid@example.com"]);
    let ev: Value = serde_json::from_str(&rows["cid@example.com"].evidence).unwrap();
    assert_eq!(ev["roleTypes"], json!(["ORG_ADMIN"]));
    assert_eq!(
        log.iter().filter(|l| l.starts_with("GET roles")).count(),
        5,
        "roles read for active users only"
    );

    // A bad token: Okta's E0000011, the previous sync kept.
    let bad = section(vec![okta_source(d.path(), &base, "stale-token")]);
    let e = sync_source(&store, &bad, &[], 0, 2_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 401") && e.contains("E0000011: Invalid token provided"),
        "{e}"
    );
    assert!(!e.contains("stale-token"));
    assert_eq!(current(&store, "okta"), rows);

    // A truncated page.
    stub.lock().unwrap().malformed_page = Some(1);
    let e = sync_source(&store, &cfg, &[], 0, 3_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("malformed"), "{e}");
    assert_eq!(current(&store, "okta"), rows);
}

/// A local HTTP receiver recording each body it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let g = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, got)
}

/// Admins losing MFA reach a real receiver through the webhook outbox: cid (admin through a
/// group, no factor) on the first sync; ana (admin) going from push + SMS to SMS only (pass →
/// warn) on the second; nothing for a sync that changes nothing. A token that may not read roles
/// fails the sync (no admin silently dropped).
#[tokio::test]
async fn okta_admin_losing_mfa_is_delivered_to_a_real_receiver() {
    let d = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
    let (stub, base) = okta_stub(Stub::default()).await;
    let (url, got) = receiver().await;
    let hooks = crate::risk::config::WebhooksSection {
        targets: vec![crate::risk::config::WebhookTarget {
            kind: crate::risk::config::WebhookKind::Generic,
            url,
            events: vec![],
        }],
        ..Default::default()
    };
    let cfg = section(vec![okta_source(d.path(), &base, "okta-token")]);
    let client = reqwest::Client::new();
    let deliver = |now| crate::risk::webhooks::deliver_due(&store, &client, &hooks, now);

    sync_source(&store, &cfg, &hooks.targets, 0, 1_000)
        .await
        .unwrap();
    assert_eq!(deliver(1_001).await.unwrap(), (1, 0));
    {
        let g = got.lock().unwrap();
        assert_eq!(g.len(), 1, "{g:?}");
        assert_eq!(g[0]["event"], "identity_admin_without_mfa");
        assert_eq!(g[0]["data"]["login"], "cid@example.com");
        assert_eq!(g[0]["data"]["to"], "fail");
        assert_eq!(g[0]["data"]["from"], Value::Null);
    }
    // Nothing changes: nothing sent.
    sync_source(&store, &cfg, &hooks.targets, 0, 2_000)
        .await
        .unwrap();
    assert_eq!(deliver(2_001).await.unwrap(), (0, 0));
    // ana keeps only her SMS factor.
    stub.lock().unwrap().ana_weak = true;
    sync_source(&store, &cfg, &hooks.targets, 0, 3_000)
        .await
        .unwrap();
    assert_eq!(deliver(3_001).await.unwrap(), (1, 0));
    {
        let g = got.lock().unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1]["data"]["login"], "ana@example.com");
        assert_eq!(
            (&g[1]["data"]["from"], &g[1]["data"]["to"]),
            (&json!("pass"), &json!("warn"))
        );
        assert_eq!(
            g[1]["data"]["evidence"]["activeFactorTypes"],
            json!(["sms"])
        );
        assert!(
            g[1]["title"].as_str().unwrap().contains("only weak"),
            "{:?}",
            g[1]
        );
    }
    // A token that may not read admin roles: the sync fails, the last good one is kept.
    let before = current(&store, "okta");
    stub.lock().unwrap().forbid_roles = true;
    let e = sync_source(&store, &cfg, &hooks.targets, 0, 4_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("403") || e.contains("permission"), "{e}");
    assert_eq!(current(&store, "okta"), before);
}
