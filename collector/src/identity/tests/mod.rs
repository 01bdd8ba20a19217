//! Each connector against a stub of its provider on loopback (axum), emulating the documented
//! behaviour (platforms-reference.md C4): ≥ 3 pages, 429 + `Retry-After` mid-sync, token expiry
//! mid-sync, permission and token errors, a malformed page, disabled/suspended/guest accounts and
//! a status that flips between two syncs. Results go through the real store (a SQLite file).
//! One file per provider; the stub plumbing shared by all is here.

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
    /// Okta: ana (an admin) keeps only her SMS factor (pass → warn).
    ana_weak: bool,
    /// Okta: refuse the roles calls (403, the token may not read admin roles).
    forbid_roles: bool,
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

mod entra;
mod github;
mod google;
mod okta;
