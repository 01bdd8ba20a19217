//! GitHub organisation stub and tests.

use super::*;

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
