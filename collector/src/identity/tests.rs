//! Each connector against a stub of its provider on loopback (axum), emulating the documented
//! behaviour (platforms-reference.md C4): ≥ 3 pages, 429 + `Retry-After` mid-sync, token expiry
//! mid-sync, permission and token errors, a malformed page, disabled/suspended/guest accounts and
//! a status that flips between two syncs. Results go through the real store (a SQLite file).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

use super::config::{EntraConfig, GithubConfig, IdentitySection, OktaConfig, SourceConfig};
use super::sync::{summaries, sync_source, SyncFailure};
use crate::store::identities::{self, IdentityRow};
use crate::store::Store;

/// What a stub does, and what it saw.
#[derive(Default)]
struct Stub {
    base: String,
    /// Requests seen, `METHOD path?query`.
    log: Vec<String>,
    /// Answer 429 (Retry-After: 1) to the first request of this page index (0-based), once.
    throttle_page: Option<usize>,
    throttled: bool,
    /// Answer truncated JSON for this page index.
    malformed_page: Option<usize>,
    /// Entra: refuse the registration report (no AuditLog.Read.All).
    forbid: bool,
    /// Entra: the first token expires after this many uses.
    expire_first_token_after: Option<usize>,
    tokens: Vec<String>,
    token_uses: usize,
    /// Entra: flip bob to MFA-capable.
    bob_capable: bool,
    /// Okta: answer one factors call with `X-Rate-Limit-Remaining: 0`.
    exhaust_once: bool,
    /// Entra: every `@odata.nextLink` points back to the first page.
    loop_links: bool,
}

type Shared = Arc<Mutex<Stub>>;

async fn start(router: Router<Shared>, stub: Stub) -> (Shared, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shared = Arc::new(Mutex::new(Stub {
        base: base.clone(),
        ..stub
    }));
    let app = router.with_state(shared.clone());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (shared, base)
}

fn log(s: &Shared, what: String) {
    s.lock().unwrap().log.push(what);
}

/// The throttling/malformed behaviour of page `page`, if any.
fn page_trouble(s: &Shared, page: usize) -> Option<Response> {
    let mut st = s.lock().unwrap();
    if st.throttle_page == Some(page) && !st.throttled {
        st.throttled = true;
        return Some((StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response());
    }
    if st.malformed_page == Some(page) {
        return Some(
            (
                StatusCode::OK,
                [("content-type", "application/json")],
                "{\"value\": [{\"id\": \"u",
            )
                .into_response(),
        );
    }
    None
}

/// Write `value` to `dir/<value's length>/name` (one file per value, so a test's second source
/// with a wrong secret does not overwrite the first one's).
fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> std::path::PathBuf {
    let dir = dir.join(value.len().to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn section(sources: Vec<SourceConfig>) -> IdentitySection {
    IdentitySection {
        service_accounts: vec!["svc-backup@example.com".into()],
        source: sources,
        ..IdentitySection::default()
    }
}

fn by_login(rows: &[IdentityRow]) -> HashMap<String, IdentityRow> {
    rows.iter().map(|r| (r.login.clone(), r.clone())).collect()
}

fn current(store: &Store, source: &str) -> HashMap<String, IdentityRow> {
    by_login(
        &store
            .read(|c| identities::current(c, Some(source), false))
            .unwrap(),
    )
}

// ---------------------------------------------------------------- Entra

fn entra_users() -> Vec<Value> {
    vec![
        json!({"id": "u1", "userPrincipalName": "alice@example.com", "displayName": "Alice", "accountEnabled": true, "userType": "Member"}),
        json!({"id": "u2", "userPrincipalName": "bob@example.com", "displayName": "Bob", "accountEnabled": true, "userType": "Member"}),
        json!({"id": "u3", "userPrincipalName": "carol@example.com", "displayName": "Carol", "accountEnabled": true, "userType": "Member"}),
        json!({"id": "u4", "userPrincipalName": "dave_partner.com#EXT#@example.com", "displayName": "Dave", "accountEnabled": true, "userType": "Guest"}),
        json!({"id": "u5", "userPrincipalName": "erin@example.com", "displayName": "Erin", "accountEnabled": false, "userType": "Member"}),
        json!({"id": "u6", "userPrincipalName": "frank@example.com", "displayName": "Frank", "accountEnabled": true, "userType": "Member"}),
        json!({"id": "u7", "userPrincipalName": "svc-backup@example.com", "displayName": "Backup", "accountEnabled": true, "userType": "Member"}),
    ]
}

fn entra_details(bob_capable: bool) -> Vec<Value> {
    vec![
        json!({"id": "u1", "isAdmin": true, "isMfaRegistered": true, "isMfaCapable": true, "methodsRegistered": ["microsoftAuthenticatorPush", "softwareOneTimePasscode"], "userType": "member"}),
        // String booleans, as in one of Microsoft's own samples.
        json!({"id": "u2", "isAdmin": true, "isMfaRegistered": if bob_capable { "true" } else { "false" }, "isMfaCapable": if bob_capable { "true" } else { "false" }, "methodsRegistered": if bob_capable { json!(["fido2"]) } else { json!([]) }}),
        json!({"id": "u3", "isAdmin": false, "isMfaRegistered": true, "isMfaCapable": true, "methodsRegistered": ["mobilePhone"]}),
        json!({"id": "u4", "isAdmin": false, "isMfaRegistered": false, "isMfaCapable": false, "methodsRegistered": [], "userType": "guest"}),
        json!({"id": "u5", "isAdmin": false, "isMfaRegistered": false, "isMfaCapable": false, "methodsRegistered": []}),
        // u6 has no registration row: unknown.
        json!({"id": "u7", "isAdmin": false, "isMfaRegistered": false, "isMfaCapable": false, "methodsRegistered": []}),
    ]
}

fn check_bearer(s: &Shared, h: &HeaderMap) -> Option<Response> {
    let mut st = s.lock().unwrap();
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or("");
    let expired = st.tokens.first().map(String::as_str) == Some(token)
        && st
            .expire_first_token_after
            .is_some_and(|n| st.token_uses >= n);
    if !st.tokens.iter().any(|t| t == token) || expired {
        let body = json!({"error": {"code": "InvalidAuthenticationToken", "message": "Lifetime validation failed, the token is expired."}});
        return Some((StatusCode::UNAUTHORIZED, Json(body)).into_response());
    }
    if st.tokens.first().map(String::as_str) == Some(token) {
        st.token_uses += 1;
    }
    None
}

async fn entra_token(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    log(&s, format!("POST token {tenant}"));
    if f.get("client_secret").map(String::as_str) != Some("entra-secret")
        || f.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let mut st = s.lock().unwrap();
    let t = format!("tok-{}", st.tokens.len() + 1);
    st.tokens.push(t.clone());
    Json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": t})).into_response()
}

/// `value` pages of 3 items with an absolute `@odata.nextLink` except on the last.
fn graph_page(s: &Shared, path: &str, q: &HashMap<String, String>, items: Vec<Value>) -> Response {
    let page: usize = q
        .get("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if let Some(r) = page_trouble(s, page) {
        return r;
    }
    let chunk: Vec<Value> = items.iter().skip(page * 3).take(3).cloned().collect();
    let mut body = json!({"@odata.context": "stub", "value": chunk});
    if (page + 1) * 3 < items.len() {
        let base = s.lock().unwrap().base.clone();
        let next = if s.lock().unwrap().loop_links {
            0
        } else {
            page + 1
        };
        body["@odata.nextLink"] = json!(format!("{base}{path}?$skiptoken={next}"));
    }
    Json(body).into_response()
}

async fn entra_users_h(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    log(&s, format!("GET users {q:?}"));
    if let Some(r) = check_bearer(&s, &h) {
        return r;
    }
    graph_page(&s, "/v1.0/users", &q, entra_users())
}

async fn entra_details_h(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    log(&s, format!("GET details {q:?}"));
    if let Some(r) = check_bearer(&s, &h) {
        return r;
    }
    let (forbid, bob) = {
        let st = s.lock().unwrap();
        (st.forbid, st.bob_capable)
    };
    if forbid {
        let body = json!({"error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation."}});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    // The details page index counts after the users' pages so trouble can target it.
    graph_page(
        &s,
        "/v1.0/reports/authenticationMethods/userRegistrationDetails",
        &q,
        entra_details(bob),
    )
}

async fn entra_stub(stub: Stub) -> (Shared, String) {
    let r = Router::new()
        .route("/:tenant/oauth2/v2.0/token", post(entra_token))
        .route("/v1.0/users", get(entra_users_h))
        .route(
            "/v1.0/reports/authenticationMethods/userRegistrationDetails",
            get(entra_details_h),
        );
    start(r, stub).await
}

fn entra_source(dir: &std::path::Path, base: &str, secret: &str) -> SourceConfig {
    SourceConfig::Entra(EntraConfig {
        name: "entra".into(),
        tenant_id: "contoso".into(),
        client_id: "app".into(),
        client_secret_file: secret_file(dir, "entra.secret", secret),
        graph_url: base.into(),
        login_url: base.into(),
    })
}

#[tokio::test]
async fn entra_pages_throttling_token_expiry_and_judgement() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = entra_stub(Stub {
        throttle_page: Some(1),
        expire_first_token_after: Some(2),
        ..Stub::default()
    })
    .await;
    let cfg = section(vec![entra_source(d.path(), &base, "entra-secret")]);
    let hooks = [crate::risk::config::WebhookTarget {
        kind: crate::risk::config::WebhookKind::Generic,
        url: "http://127.0.0.1:9/hook".into(),
        events: vec!["identity_admin_without_mfa".into()],
    }];
    let r = sync_source(&store, &cfg, &hooks, 0, 1_000).await.unwrap();
    assert_eq!(r.accounts, 7);
    // Bob is an admin without a second factor: one notification queued (Alice, an admin with MFA,
    // and Dave, a guest without, raise none).
    let queued = |store: &Store| {
        store
            .read(|c| crate::store::webhooks::due(c, i64::MAX, 100))
            .unwrap()
    };
    let q = queued(&store);
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0].event, "identity_admin_without_mfa");
    let body: Value = serde_json::from_str(&q[0].payload).unwrap();
    assert_eq!(body["data"]["login"], "bob@example.com");
    assert_eq!(body["data"]["source"], "entra");

    let log = stub.lock().unwrap().log.clone();
    // 3 user pages + 2 detail pages, one 429 answered again, one 401 answered again, 2 tokens.
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST token")).count(),
        2,
        "{log:#?}"
    );
    assert_eq!(stub.lock().unwrap().tokens.len(), 2);
    let users_calls = log.iter().filter(|l| l.starts_with("GET users")).count();
    assert_eq!(
        users_calls,
        3 + 1 /* 429 */ + 1, /* expired token */
        "{log:#?}"
    );

    let rows = current(&store, "entra");
    let st = |l: &str| rows[l].status.clone();
    assert_eq!(st("alice@example.com"), "pass");
    assert_eq!(st("bob@example.com"), "fail");
    assert!(rows["bob@example.com"].admin);
    assert_eq!(st("carol@example.com"), "warn");
    assert_eq!(rows["dave_partner.com#EXT#@example.com"].kind, "guest");
    assert_eq!(st("dave_partner.com#EXT#@example.com"), "fail");
    assert_eq!(st("erin@example.com"), "not_applicable");
    assert_eq!(st("frank@example.com"), "unknown");
    assert_eq!(st("svc-backup@example.com"), "not_applicable");
    let ev: Value = serde_json::from_str(&rows["bob@example.com"].evidence).unwrap();
    assert_eq!(ev["isMfaCapable"], json!(false));
    assert_eq!(rows["bob@example.com"].without_mfa_since, Some(1_000));

    let sums = summaries(&store.read(identities::snapshot).unwrap(), &cfg, 1_100);
    let c = &sums[0].counts;
    // Members judged: alice pass, bob fail, carol warn, frank unknown.
    assert_eq!(
        (
            c.active_members,
            c.pass,
            c.without_mfa,
            c.weak_only,
            c.unknown
        ),
        (4, 1, 1, 1, 1)
    );
    assert_eq!(
        (
            c.admins_without_mfa,
            c.guests,
            c.guests_without_mfa,
            c.not_applicable
        ),
        (1, 1, 1, 2)
    );
    assert_eq!(sums[0].coverage, Some(0.25));
    assert!(!sums[0].stale);
    assert_eq!(sums[0].target_status, "not_met");

    // Bob registers a FIDO2 key: a transition fail → pass at the next sync.
    stub.lock().unwrap().bob_capable = true;
    sync_source(&store, &cfg, &hooks, 0, 2_000).await.unwrap();
    assert_eq!(queued(&store).len(), 1, "regaining MFA raises nothing");
    let rows = current(&store, "entra");
    assert_eq!(rows["bob@example.com"].status, "pass");
    assert_eq!(rows["bob@example.com"].without_mfa_since, None);
    assert_eq!(rows["bob@example.com"].first_seen, 1_000);
    assert_eq!(rows["bob@example.com"].last_seen, 2_000);
    let t = store
        .read(|c| identities::transitions(c, "entra", "u2"))
        .unwrap();
    assert_eq!(
        t,
        vec![
            (None, "fail".to_string(), 1_000),
            (Some("fail".to_string()), "pass".to_string(), 2_000)
        ]
    );
    // Bob loses his key again: a second notification (a new event key).
    stub.lock().unwrap().bob_capable = false;
    sync_source(&store, &cfg, &hooks, 0, 3_000).await.unwrap();
    assert_eq!(queued(&store).len(), 2);
    // A sync that changes nothing queues nothing more.
    sync_source(&store, &cfg, &hooks, 0, 4_000).await.unwrap();
    assert_eq!(queued(&store).len(), 2);

    // Alice did not change: one transition only (her first sighting).
    assert_eq!(
        store
            .read(|c| identities::transitions(c, "entra", "u1"))
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn entra_failures_keep_the_last_good_sync_and_mark_it_stale() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = entra_stub(Stub::default()).await;
    let cfg = section(vec![entra_source(d.path(), &base, "entra-secret")]);
    sync_source(&store, &cfg, &[], 0, 1_000).await.unwrap();
    let before = current(&store, "entra");

    // A malformed (truncated) page.
    stub.lock().unwrap().malformed_page = Some(1);
    stub.lock().unwrap().bob_capable = true;
    let e = sync_source(&store, &cfg, &[], 0, 2_000).await.unwrap_err();
    assert!(
        matches!(e, SyncFailure::Source(super::SyncError::Malformed { .. })),
        "{e}"
    );
    assert_eq!(
        current(&store, "entra"),
        before,
        "a failed sync changes nothing"
    );

    // Missing AuditLog.Read.All: 403 with Graph's error body.
    stub.lock().unwrap().malformed_page = None;
    stub.lock().unwrap().forbid = true;
    let e = sync_source(&store, &cfg, &[], 0, 3_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 403") && e.contains("Authorization_RequestDenied"),
        "{e}"
    );
    assert_eq!(current(&store, "entra"), before);

    let sums = summaries(&store.read(identities::snapshot).unwrap(), &cfg, 3_000);
    assert!(sums[0].stale);
    assert_eq!(sums[0].last_success_at, Some(1_000));
    assert_eq!(sums[0].target_status, "stale");
    assert_eq!(sums[0].age_seconds, Some(2_000));
    assert_eq!(sums[0].failures_total, 2);
    assert!(sums[0].last_error.as_deref().unwrap().contains("403"));
    // The KPI still counts the last good sync, not zero and not everyone compliant.
    assert_eq!(sums[0].counts.without_mfa, 1);

    // A wrong client secret: the token endpoint's error, and the secret is in no message.
    let bad = section(vec![entra_source(d.path(), &base, "wrong-secret-value")]);
    let e = sync_source(&store, &bad, &[], 0, 4_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 401") && e.contains("AADSTS7000215"), "{e}");
    assert!(!e.contains("wrong-secret-value"), "{e}");
    let stored = store.read(identities::sources).unwrap();
    assert!(!stored[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("wrong-secret-value"));

    // A server whose next link loops back: a sync error, not an endless sync.
    stub.lock().unwrap().forbid = false;
    stub.lock().unwrap().loop_links = true;
    let e = sync_source(&store, &cfg, &[], 0, 4_500)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("already read"), "{e}");
    stub.lock().unwrap().loop_links = false;

    // Back to normal: the next good sync clears the staleness.
    sync_source(&store, &cfg, &[], 0, 5_000).await.unwrap();
    let sums = summaries(&store.read(identities::snapshot).unwrap(), &cfg, 5_000);
    assert!(!sums[0].stale && sums[0].last_error.is_none());
    let hist = store.read(|c| identities::syncs(c, "entra", 10)).unwrap();
    assert_eq!(
        hist.iter().map(|h| h.ok).collect::<Vec<_>>(),
        [true, false, false, false, false, true]
    );
}

#[tokio::test]
async fn a_world_readable_secret_is_refused_before_any_request() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = entra_stub(Stub::default()).await;
    let src = entra_source(d.path(), &base, "entra-secret");
    std::fs::set_permissions(
        d.path().join("12").join("entra.secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let cfg = section(vec![src]);
    let e = sync_source(&store, &cfg, &[], 0, 1_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("identity.source[0].client_secret_file"), "{e}");
    assert!(stub.lock().unwrap().log.is_empty());
}

// ---------------------------------------------------------------- Okta

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

async fn okta_factors_h(State(s): State<Shared>, Path(id): Path<String>, h: HeaderMap) -> Response {
    log(&s, format!("GET factors {id}"));
    if let Some(r) = okta_auth(&h) {
        return r;
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
        .route("/api/v1/users/:id/factors", get(okta_factors_h));
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

// ---------------------------------------------------------------- GitHub

fn gh_list(query: &HashMap<String, String>, what: &str) -> Vec<Value> {
    let a = |id: u64, login: &str| json!({"id": id, "login": login, "type": "User", "site_admin": false});
    let filter = query.get("filter").map(String::as_str);
    let role = query.get("role").map(String::as_str);
    match (what, filter, role) {
        ("members", Some("2fa_disabled"), _) => vec![a(2, "bo"), a(5, "eli")],
        ("members", None, Some("admin")) => vec![a(1, "al"), a(2, "bo")],
        ("members", None, _) => (1..=7)
            .map(|i| {
                a(
                    i,
                    ["al", "bo", "cy", "di", "eli", "fo", "gi"][i as usize - 1],
                )
            })
            .collect(),
        ("outside", Some("2fa_disabled"), _) => vec![a(21, "ext2")],
        ("outside", None, _) => vec![a(20, "ext1"), a(21, "ext2")],
        _ => vec![],
    }
}

async fn gh_handler(s: Shared, what: &str, q: HashMap<String, String>, h: HeaderMap) -> Response {
    log(
        &s,
        format!(
            "GET {what} {:?} {:?} page={:?}",
            q.get("filter"),
            q.get("role"),
            q.get("page")
        ),
    );
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gh-token") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}))).into_response();
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    if what == "members" && !q.contains_key("filter") && !q.contains_key("role") {
        if let Some(r) = page_trouble(&s, page) {
            return r;
        }
    }
    let all = gh_list(&q, what);
    let per = 3;
    let last = all.len().div_ceil(per).max(1);
    let items: Vec<Value> = all.into_iter().skip((page - 1) * per).take(per).collect();
    let mut resp = Json(items).into_response();
    if page < last {
        let base = s.lock().unwrap().base.clone();
        let mut extra = String::new();
        if let Some(f) = q.get("filter") {
            extra.push_str(&format!("&filter={f}"));
        }
        if let Some(r) = q.get("role") {
            extra.push_str(&format!("&role={r}"));
        }
        let path = if what == "members" {
            "members"
        } else {
            "outside_collaborators"
        };
        let link = format!(
            "<{base}/orgs/acme/{path}?per_page=3{extra}&page={}>; rel=\"next\", <{base}/orgs/acme/{path}?per_page=3{extra}&page={last}>; rel=\"last\"",
            page + 1
        );
        resp.headers_mut().insert("link", link.parse().unwrap());
    }
    resp
}

async fn gh_stub(stub: Stub) -> (Shared, String) {
    let r = Router::new()
        .route(
            "/orgs/acme",
            get(|State(s): State<Shared>| async move {
                log(&s, "GET org".into());
                if s.lock().unwrap().forbid {
                    // What a member's (not an owner's) token sees.
                    return Json(json!({"login": "acme", "id": 9}));
                }
                Json(json!({"login": "acme", "id": 9, "two_factor_requirement_enabled": false}))
            }),
        )
        .route(
            "/orgs/acme/members",
            get(
                |State(s): State<Shared>,
                 Query(q): Query<HashMap<String, String>>,
                 h: HeaderMap| async move { gh_handler(s, "members", q, h).await },
            ),
        )
        .route(
            "/orgs/acme/outside_collaborators",
            get(
                |State(s): State<Shared>,
                 Query(q): Query<HashMap<String, String>>,
                 h: HeaderMap| async move { gh_handler(s, "outside", q, h).await },
            ),
        );
    start(r, stub).await
}

fn gh_source(dir: &std::path::Path, base: &str, token: &str) -> SourceConfig {
    SourceConfig::Github(GithubConfig {
        name: "github".into(),
        org: "acme".into(),
        token_file: secret_file(dir, "gh.token", token),
        api_url: base.into(),
    })
}

#[tokio::test]
async fn github_members_outside_collaborators_and_errors() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = gh_stub(Stub {
        throttle_page: Some(2),
        ..Stub::default()
    })
    .await;
    let cfg = section(vec![gh_source(d.path(), &base, "gh-token")]);
    let r = sync_source(&store, &cfg, &[], 0, 1_000).await.unwrap();
    assert_eq!(r.accounts, 9);
    let log = stub.lock().unwrap().log.clone();
    let member_pages = log
        .iter()
        .filter(|l| l.starts_with("GET members None None"))
        .count();
    assert_eq!(
        member_pages,
        3 + 1,
        "3 pages of members, the second throttled once: {log:#?}"
    );

    let rows = current(&store, "github");
    assert_eq!(rows["al"].status, "pass");
    assert!(rows["al"].admin);
    assert_eq!(rows["bo"].status, "fail");
    assert!(rows["bo"].admin);
    assert_eq!(rows["eli"].status, "fail");
    assert_eq!(rows["ext1"].kind, "outside_collaborator");
    assert_eq!(rows["ext2"].status, "fail");
    assert_eq!(rows["al"].enforced, Some(false));
    let sums = summaries(&store.read(identities::snapshot).unwrap(), &cfg, 1_000);
    let c = &sums[0].counts;
    assert_eq!(
        (
            c.active_members,
            c.without_mfa,
            c.admins_without_mfa,
            c.guests,
            c.guests_without_mfa
        ),
        (7, 2, 1, 2, 1)
    );
    assert_eq!(sums[0].enforced, Some(false));

    let bad = section(vec![gh_source(d.path(), &base, "revoked")]);
    let e = sync_source(&store, &bad, &[], 0, 2_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 401") && e.contains("Bad credentials"),
        "{e}"
    );
    stub.lock().unwrap().malformed_page = Some(3);
    let e = sync_source(&store, &cfg, &[], 0, 3_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("malformed"), "{e}");
    assert_eq!(current(&store, "github"), rows);
    // A token that is not an owner's cannot see the 2FA setting: fail, do not guess.
    stub.lock().unwrap().malformed_page = None;
    stub.lock().unwrap().forbid = true;
    let e = sync_source(&store, &cfg, &[], 0, 4_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("insufficient permission") && e.contains("owner"),
        "{e}"
    );
    assert_eq!(current(&store, "github"), rows);
}

// ---------------------------------------------------------------- Google Workspace

const SA_KEY: &str = include_str!("testdata/google-sa-test-key.pem");
const SA_PUB: &str = include_str!("testdata/google-sa-test-key.pub.pem");

#[derive(serde::Deserialize)]
struct SeenClaims {
    iss: String,
    sub: String,
    scope: String,
}

async fn google_token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    log(&s, "POST token".into());
    let base = s.lock().unwrap().base.clone();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[format!("{base}/token")]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(SA_PUB.as_bytes()).unwrap();
    let assertion = f.get("assertion").cloned().unwrap_or_default();
    let ok = f.get("grant_type").map(String::as_str)
        == Some("urn:ietf:params:oauth:grant-type:jwt-bearer");
    match jsonwebtoken::decode::<SeenClaims>(&assertion, &key, &v) {
        Ok(t)
            if ok
                && t.claims.iss == "vigie@project.iam.gserviceaccount.com"
                && t.claims.sub == "admin@example.com"
                && t.claims.scope == super::google::SCOPE =>
        {
            let mut st = s.lock().unwrap();
            let tok = format!("ya29.{}", st.tokens.len() + 1);
            st.tokens.push(tok.clone());
            Json(json!({"access_token": tok, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
        )
            .into_response(),
    }
}

fn google_users() -> Vec<Value> {
    vec![
        json!({"kind": "admin#directory#user", "id": "g1", "primaryEmail": "ann@example.com", "name": {"fullName": "Ann A"}, "isAdmin": true, "isDelegatedAdmin": false, "suspended": false, "archived": false, "isEnrolledIn2Sv": true, "isEnforcedIn2Sv": false}),
        json!({"kind": "admin#directory#user", "id": "g2", "primaryEmail": "bea@example.com", "isAdmin": true, "suspended": false, "archived": false, "isEnrolledIn2Sv": false, "isEnforcedIn2Sv": false}),
        json!({"kind": "admin#directory#user", "id": "g3", "primaryEmail": "cal@example.com", "isAdmin": false, "suspended": true, "archived": false, "isEnrolledIn2Sv": false}),
        json!({"kind": "admin#directory#user", "id": "g4", "primaryEmail": "dot@example.com", "isAdmin": false, "suspended": false, "archived": true, "isEnrolledIn2Sv": false}),
        // Google omits empty fields: no 2SV keys at all → unknown.
        json!({"kind": "admin#directory#user", "id": "g5", "primaryEmail": "eda@example.com", "isAdmin": false, "suspended": false}),
        json!({"kind": "admin#directory#user", "id": "g6", "primaryEmail": "fil@example.com", "isAdmin": false, "suspended": false, "archived": false, "isEnrolledIn2Sv": true, "isEnforcedIn2Sv": true}),
        json!({"kind": "admin#directory#user", "id": "g7", "primaryEmail": "gil@example.com", "isAdmin": false, "isDelegatedAdmin": true, "suspended": false, "archived": false, "isEnrolledIn2Sv": false}),
    ]
}

async fn google_users_h(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    log(&s, format!("GET users pageToken={:?}", q.get("pageToken")));
    let token = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let (known, forbid) = {
        let st = s.lock().unwrap();
        (st.tokens.contains(&token), st.forbid)
    };
    if !known {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}))).into_response();
    }
    if forbid {
        return (StatusCode::FORBIDDEN, Json(json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "Request had insufficient authentication scopes."}}))).into_response();
    }
    if q.get("customer").map(String::as_str) != Some("my_customer") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let page: usize = q
        .get("pageToken")
        .and_then(|t| t.strip_prefix("pt"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if let Some(r) = page_trouble(&s, page) {
        return r;
    }
    let users: Vec<Value> = google_users().into_iter().skip(page * 3).take(3).collect();
    let mut body = json!({"kind": "admin#directory#users", "etag": "\"e\"", "users": users});
    if (page + 1) * 3 < google_users().len() {
        body["nextPageToken"] = json!(format!("pt{}", page + 1));
    }
    Json(body).into_response()
}

async fn google_stub(stub: Stub) -> (Shared, String) {
    let r = Router::new()
        .route("/token", post(google_token))
        .route("/admin/directory/v1/users", get(google_users_h));
    start(r, stub).await
}

fn google_source(dir: &std::path::Path, base: &str, private_key: &str) -> SourceConfig {
    let key = json!({
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "k1",
        "private_key": private_key,
        "client_email": "vigie@project.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": format!("{base}/token"),
    });
    SourceConfig::Google(super::config::GoogleConfig {
        name: "google".into(),
        service_account_file: secret_file(dir, "sa.json", &key.to_string()),
        admin_email: "admin@example.com".into(),
        customer: "my_customer".into(),
        directory_url: base.into(),
    })
}

#[tokio::test]
async fn google_jwt_assertion_page_tokens_and_2sv() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(&d.path().join("v.db"), 16).unwrap();
    let (stub, base) = google_stub(Stub {
        throttle_page: Some(1),
        ..Stub::default()
    })
    .await;
    let cfg = section(vec![google_source(d.path(), &base, SA_KEY)]);
    let r = sync_source(&store, &cfg, &[], 0, 1_000).await.unwrap();
    assert_eq!(r.accounts, 7);
    let log = stub.lock().unwrap().log.clone();
    assert_eq!(
        log,
        [
            "POST token",
            "GET users pageToken=None",
            "GET users pageToken=Some(\"pt1\")",
            "GET users pageToken=Some(\"pt1\")",
            "GET users pageToken=Some(\"pt2\")"
        ],
        "one signed assertion accepted, 3 pages, the second throttled once"
    );
    let rows = current(&store, "google");
    let st = |l: &str| rows[l].status.clone();
    assert_eq!(st("ann@example.com"), "pass");
    assert_eq!(st("bea@example.com"), "fail");
    assert_eq!(st("cal@example.com"), "not_applicable");
    assert_eq!(st("dot@example.com"), "not_applicable");
    assert_eq!(st("eda@example.com"), "unknown");
    assert_eq!(st("gil@example.com"), "fail");
    assert!(
        rows["gil@example.com"].admin,
        "a delegated admin is an admin"
    );
    assert_eq!(rows["fil@example.com"].enforced, Some(true));
    assert_eq!(rows["ann@example.com"].display_name, "Ann A");
    let sums = summaries(&store.read(identities::snapshot).unwrap(), &cfg, 1_000);
    let c = &sums[0].counts;
    assert_eq!(
        (
            c.active_members,
            c.pass,
            c.without_mfa,
            c.admins_without_mfa,
            c.unknown
        ),
        (5, 2, 2, 2, 1)
    );

    // The scope error, then a truncated page: the sync fails, the last good one stays.
    stub.lock().unwrap().forbid = true;
    let e = sync_source(&store, &cfg, &[], 0, 2_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 403") && e.contains("insufficient authentication scopes"),
        "{e}"
    );
    stub.lock().unwrap().forbid = false;
    stub.lock().unwrap().malformed_page = Some(2);
    let e = sync_source(&store, &cfg, &[], 0, 3_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("malformed"), "{e}");
    assert_eq!(current(&store, "google"), rows);

    // A key signed by another private key is refused by the token endpoint.
    let other = include_str!("testdata/unrelated-test-key.pem");
    let bad = section(vec![google_source(&d.path().join("bad"), &base, other)]);
    let e = sync_source(&store, &bad, &[], 0, 4_000)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 400") && e.contains("Invalid JWT Signature"),
        "{e}"
    );
    assert!(!e.contains("PRIVATE KEY"), "{e}");
}

#[test]
fn a_broken_service_account_key_is_named_without_its_content() {
    let d = tempfile::tempdir().unwrap();
    let src = google_source(d.path(), "http://127.0.0.1:9", "not a key");
    let SourceConfig::Google(g) = src else {
        unreachable!()
    };
    let client = super::client::Client::new(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let e = super::google::Google::new("identity.source[2]", g.clone(), client.clone())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("identity.source[2].service_account_file") && e.contains("private_key"),
        "{e}"
    );
    std::fs::write(
        &g.service_account_file,
        "{\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nsecretbits",
    )
    .unwrap();
    let e = super::google::Google::new("identity.source[2]", g, client)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a service-account JSON key"), "{e}");
    assert!(!e.contains("secretbits"), "{e}");
}
