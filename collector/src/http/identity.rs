//! `GET /api/v1/identities[?source=NAME][&without_mfa=true][&account=ID]` (admin and auditor
//! tokens): per source the KPI "active accounts without a second factor" of the last good sync,
//! its age, staleness and sync history, then the accounts (with `account`, only that account of
//! `source`, with its status transitions). `GET /metrics/identity`: the identity gauges in
//! Prometheus text (unauthenticated, like `/metrics`).

use std::sync::Arc;

use crate::http::extract::ApiQuery;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{blocking, require_role, ApiError, AppState};
use crate::identity::sync::summaries;
use crate::store::identities;

/// Sync attempts listed per source.
const HISTORY: i64 = 30;

/// The identity routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/identities", get(list))
        .route("/metrics/identity", get(metrics))
}

/// The query string.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    source: Option<String>,
    #[serde(default)]
    without_mfa: bool,
    account: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
}

#[utoipa::path(
    get,
    path = "/api/v1/identities",
    tag = "identities",
    params(ListQuery),
    responses((status = 200, description = "sources and one page of accounts", body = crate::openapi::IdentityList), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let limit = super::paging::limit(q.limit)?;
    if q.account.is_some() && q.source.is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "account needs source",
        ));
    }
    let body = blocking(move || {
        let now = crate::store::now_unix();
        state
            .store
            .read(|c| {
                let mut sources = Vec::new();
                let stored = identities::snapshot(c)?;
                for s in summaries(&stored, &state.config.identity, now) {
                    if q.source.as_deref().is_some_and(|n| n != s.source) {
                        continue;
                    }
                    let history = identities::syncs(c, &s.source, HISTORY)?;
                    let mut v = serde_json::to_value(&s).unwrap_or_default();
                    v["history"] = serde_json::to_value(history).unwrap_or_default();
                    sources.push(v);
                }
                let rows = identities::current(c, q.source.as_deref(), q.without_mfa)?;
                let mut out = Vec::new();
                for r in rows {
                    if q.account.as_deref().is_some_and(|a| a != r.account_id) {
                        continue;
                    }
                    let mut v = serde_json::to_value(&r).unwrap_or_default();
                    v["evidence"] =
                        serde_json::from_str(&r.evidence).unwrap_or(serde_json::Value::Null);
                    if q.account.is_some() {
                        let t = identities::transitions(c, &r.source, &r.account_id)?;
                        v["transitions"] = t
                            .into_iter()
                            .map(|(from, to, at)| json!({"from": from, "to": to, "at": at}))
                            .collect();
                    }
                    out.push(v);
                }
                Ok((sources, out))
            })
            .map_err(internal)
    })
    .await?;
    let (sources, rows) = body;
    // An account is one (source, account id): the cursor is that pair.
    let key = |v: &serde_json::Value| {
        format!(
            "{}\n{}",
            v["source"].as_str().unwrap_or(""),
            v["account_id"].as_str().unwrap_or("")
        )
    };
    let (rows, next) = super::paging::page_of(rows, key, q.cursor.as_deref(), limit)?;
    let body = json!({ "sources": sources, "identities": rows, "next": next });
    Ok(Json(body).into_response())
}

/// The identity gauges for `/metrics`: rendered from the store at most once per
/// `metrics.refresh_seconds`, like the fleet aggregates, so scrapes never crowd the store.
pub async fn cached_gauges(state: &Arc<AppState>) -> Result<Vec<u8>, ApiError> {
    let max_age = std::time::Duration::from_secs(state.config.metrics.refresh_seconds);
    if let Ok(c) = state.identity_gauges.lock() {
        if let Some((_, g)) = c.as_ref().filter(|(at, _)| at.elapsed() < max_age) {
            return Ok(g.clone());
        }
    }
    let s = state.clone();
    let text = blocking(move || {
        let now = crate::store::now_unix();
        let stored = s.store.read(identities::snapshot).map_err(internal)?;
        let sums = summaries(&stored, &s.config.identity, now);
        crate::identity::gauges::render(&sums).map_err(internal)
    })
    .await?;
    let bytes = text;
    if let Ok(mut c) = state.identity_gauges.lock() {
        *c = Some((std::time::Instant::now(), bytes.clone()));
    }
    Ok(bytes)
}

#[utoipa::path(
    get,
    path = "/metrics/identity",
    tag = "probes",
    responses((status = 200, description = "the identity gauges in Prometheus text", body = String, content_type = "text/plain"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(())
)]
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let text = blocking(move || {
        let now = crate::store::now_unix();
        let stored = state.store.read(identities::snapshot).map_err(internal)?;
        let sums = summaries(&stored, &state.config.identity, now);
        crate::identity::gauges::render(&sums).map_err(internal)
    })
    .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
