//! Microsoft Entra ID (Graph) stub and tests.

use super::*;

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
        matches!(
            e,
            SyncFailure::Source(crate::identity::SyncError::Malformed { .. })
        ),
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
