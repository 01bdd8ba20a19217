//! Google Workspace (Admin SDK Directory, service-account JWT) stub and tests.

use super::*;

const SA_KEY: &str = include_str!("../testdata/google-sa-test-key.pem");
const SA_PUB: &str = include_str!("../testdata/google-sa-test-key.pub.pem");

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
                && t.claims.scope == crate::identity::google::SCOPE =>
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
    SourceConfig::Google(crate::identity::config::GoogleConfig {
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
    let other = include_str!("../testdata/unrelated-test-key.pem");
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
    let client = crate::identity::client::Client::new(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let e = crate::identity::google::Google::new("identity.source[2]", g.clone(), client.clone())
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
    let e = crate::identity::google::Google::new("identity.source[2]", g, client)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a service-account JSON key"), "{e}");
    assert!(!e.contains("secretbits"), "{e}");
}
