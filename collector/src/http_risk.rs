//! HTTP for the risk register, improvement plan and exceptions: JSON, CSV and Atom feeds with
//! ETag / If-None-Match and filters (admin or auditor token), and the admin writes. Thin: parse,
//! authorise, call `risk::ops` / `risk::feeds`, answer. Schemas: docs/api.md and docs/risk.md.

use std::sync::Arc;

use crate::http::extract::{ApiPath, ApiQuery};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::Connection;
use serde::Deserialize;
use serde_json::json;

use crate::http::{paging, require_role, ApiError, AppState};
use crate::risk::actions::{ActionInput, CloseRequest};
use crate::risk::exceptions::ExceptionRequest;
use crate::risk::feeds::{self, FeedQuery};
use crate::risk::register::RiskInput;
use crate::risk::{ops, RiskError};
use crate::store::StoreError;

/// The register's routes, merged into `http::router`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/risks", get(risks_json).post(risk_create))
        .route("/api/v1/risks.csv", get(risks_csv))
        .route("/api/v1/risks/import", post(risks_import))
        .route("/api/v1/risks/:id", get(risk_detail).patch(risk_update))
        .route("/feeds/risks.atom", get(risks_atom))
        .route("/api/v1/actions", get(actions_json).post(action_create))
        .route("/api/v1/actions.csv", get(actions_csv))
        .route("/api/v1/actions/:id", axum::routing::patch(action_update))
        .route("/api/v1/actions/:id/close", post(action_close))
        .route(
            "/api/v1/exceptions",
            get(exceptions_json).post(exception_create),
        )
        .route("/api/v1/exceptions.csv", get(exceptions_csv))
        .route("/api/v1/exceptions/:id/revoke", post(exception_revoke))
}

fn risk_error(e: RiskError) -> ApiError {
    match e {
        RiskError::Invalid { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string())
        }
        RiskError::CloseRefused(m) => ApiError::new(StatusCode::CONFLICT, "close_refused", m),
        RiskError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, "not_found", m),
        RiskError::Store(s) => store_error(s),
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
        other => ApiError::from(other),
    }
}

/// Feed tokens are for the feeds only: anywhere else a `token` parameter is refused.
fn no_feed_token(q: &FeedQuery) -> Result<(), ApiError> {
    if q.token.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "token: only /feeds/ accept a feed token; send Authorization: Bearer <token> here",
        ));
    }
    Ok(())
}

/// The CSV and Atom exports are whole documents: `limit` and `cursor` are for the JSON lists.
fn not_paged(q: &FeedQuery) -> Result<(), ApiError> {
    if q.limit.is_some() || q.cursor.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "limit, cursor: the CSV and Atom exports are not paged; use the JSON list to page",
        ));
    }
    Ok(())
}

fn bad_query(e: RiskError) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_filter", e.to_string())
}

/// Run a read-side op on a read connection.
async fn read<T: Send + 'static>(
    state: &Arc<AppState>,
    op: impl FnOnce(&Connection) -> Result<T, RiskError> + Send + 'static,
) -> Result<T, ApiError> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = None;
        let r = s.store.read(|c| {
            out = Some(op(c));
            Ok(())
        });
        match (r, out) {
            (Err(e), _) => Err(store_error(e)),
            (Ok(()), Some(v)) => v.map_err(risk_error),
            (Ok(()), None) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "no result",
            )),
        }
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

/// Run a write op in the writer's next batch. Store failures roll the op back (its savepoint);
/// domain refusals happen before any write.
async fn write<T: Send + 'static>(
    state: &Arc<AppState>,
    op: impl FnOnce(&Connection) -> Result<T, RiskError> + Send + 'static,
) -> Result<T, ApiError> {
    let r = state
        .store
        .write(move |c| match op(c) {
            Ok(v) => Ok(Ok(v)),
            Err(RiskError::Store(e)) => Err(e),
            Err(other) => Ok(Err(other)),
        })
        .await
        .map_err(store_error)?;
    r.map_err(risk_error)
}

fn json_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed request: {e}"),
        )
    })
}

async fn body_bytes(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, 4 * 1024 * 1024)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "request body exceeds 4 MiB",
            )
        })
}

fn actor(headers: &HeaderMap) -> String {
    headers
        .get("x-vigie-actor")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "api".to_string())
}

/// A feed answer with its ETag; `304` when the client's copy is current.
fn feed(headers: &HeaderMap, content_type: &'static str, body: Vec<u8>) -> Response {
    let tag = feeds::etag(&body);
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let common = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, "private, no-cache".to_string()),
    ];
    if feeds::not_modified(inm, &tag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

#[utoipa::path(
    get,
    path = "/api/v1/risks",
    tag = "risks",
    params(FeedQuery),
    responses((status = 200, description = "one page of risks, most recently changed first", body = crate::openapi::RiskList), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risks_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    let now = crate::store::now_unix();
    let risks = read(&state, move |c| ops::list_risks(c, now)).await?;
    let risks = feeds::filter_risks(risks, &q).map_err(bad_query)?;
    let limit = paging::limit(q.limit)?;
    let (risks, next) = paging::page_of(risks, |r| r.id.to_string(), q.cursor.as_deref(), limit)?;
    Ok(feed(
        &headers,
        "application/json",
        to_json(&json!({"risks": risks, "next": next})),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/risks.csv",
    tag = "risks",
    params(FeedQuery),
    responses((status = 200, description = "every matching risk as CSV", body = String, content_type = "text/csv"), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risks_csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    not_paged(&q)?;
    let now = crate::store::now_unix();
    let risks = read(&state, move |c| ops::list_risks(c, now)).await?;
    let risks = feeds::filter_risks(risks, &q).map_err(bad_query)?;
    Ok(feed(
        &headers,
        "text/csv; charset=utf-8; header=present",
        feeds::risks_csv(&risks),
    ))
}

#[utoipa::path(
    get,
    path = "/feeds/risks.atom",
    tag = "risks",
    params(FeedQuery),
    responses((status = 200, description = "Atom 1.0", body = String, content_type = "application/atom+xml"), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risks_atom(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: Uri,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    // A feed reader that cannot send headers carries a read-only feed token in the URL instead.
    match q.token.clone() {
        Some(token) => {
            let hash = crate::auth::hash_secret(&token);
            let valid = read(&state, move |c| {
                Ok(crate::store::feed_tokens::valid(c, &hash)?)
            })
            .await?;
            if !valid {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "unknown or revoked feed token",
                ));
            }
        }
        None => {
            require_role(&state, &headers, false)?;
        }
    }
    not_paged(&q)?;
    let now = crate::store::now_unix();
    let (risks, instance) = read(&state, move |c| {
        Ok((
            ops::list_risks(c, now)?,
            crate::store::risks::instance_id(c)?,
        ))
    })
    .await?;
    let risks = feeds::filter_risks(risks, &q).map_err(bad_query)?;
    // The feed's self link repeats its filters, never the token: the body is cached and shared.
    let kept: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("token"))
        .collect();
    let href = if kept.is_empty() {
        uri.path().to_string()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let base = state.config.server.public_base();
    Ok(feed(
        &headers,
        "application/atom+xml; charset=utf-8",
        feeds::risks_atom(&risks, &instance, base, &href),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/risks/{id}",
    tag = "risks",
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "the risk and its history", body = crate::openapi::RiskDetail), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risk_detail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let now = crate::store::now_unix();
    let (risk, history) = read(&state, move |c| ops::get_risk(c, id, now)).await?;
    Ok(feed(
        &headers,
        "application/json",
        to_json(&json!({"risk": risk, "history": history})),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/risks",
    tag = "risks",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "added", body = crate::openapi::RiskOne), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risk_create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let input: RiskInput = json_body(&body_bytes(body).await?)?;
    let (who, s) = (actor(&headers), state.clone());
    let now = crate::store::now_unix();
    let id = write(&state, move |c| {
        ops::create_risk(c, &input, &s.config, &who, now)
    })
    .await?;
    let (risk, _) = read(&state, move |c| ops::get_risk(c, id, now)).await?;
    Ok((StatusCode::CREATED, Json(json!({"risk": risk}))).into_response())
}

#[utoipa::path(
    patch,
    path = "/api/v1/risks/{id}",
    tag = "risks",
    request_body(content = serde_json::Value, content_type = "application/json"),
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "changed", body = crate::openapi::RiskOne), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risk_update(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let input: RiskInput = json_body(&body_bytes(body).await?)?;
    let (who, s) = (actor(&headers), state.clone());
    let now = crate::store::now_unix();
    let risk = write(&state, move |c| {
        ops::update_risk(c, id, &input, &s.config, &who, now)
    })
    .await?;
    Ok(Json(json!({"risk": risk})).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/risks/import",
    tag = "risks",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "imported", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn risks_import(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let bytes = body_bytes(body).await?;
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "not_utf8", "the CSV must be UTF-8"))?;
    let (who, s) = (actor(&headers), state.clone());
    let now = crate::store::now_unix();
    let ids = write(&state, move |c| {
        ops::import_risks(c, &text, &s.config, &who, now)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"imported": ids.len(), "ids": ids})),
    )
        .into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/actions",
    tag = "actions",
    params(FeedQuery),
    responses((status = 200, description = "one page of actions", body = crate::openapi::ActionList), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn actions_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    let now = crate::store::now_unix();
    let actions = read(&state, move |c| ops::list_actions(c, now)).await?;
    let actions = feeds::filter_actions(actions, &q).map_err(bad_query)?;
    let limit = paging::limit(q.limit)?;
    let (actions, next) =
        paging::page_of(actions, |r| r.id.to_string(), q.cursor.as_deref(), limit)?;
    Ok(feed(
        &headers,
        "application/json",
        to_json(&json!({"actions": actions, "next": next})),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/actions.csv",
    tag = "actions",
    params(FeedQuery),
    responses((status = 200, description = "every matching action as CSV", body = String, content_type = "text/csv"), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn actions_csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    not_paged(&q)?;
    let now = crate::store::now_unix();
    let actions = read(&state, move |c| ops::list_actions(c, now)).await?;
    let actions = feeds::filter_actions(actions, &q).map_err(bad_query)?;
    Ok(feed(
        &headers,
        "text/csv; charset=utf-8; header=present",
        feeds::actions_csv(&actions),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/actions",
    tag = "actions",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "added", body = crate::openapi::ActionOne), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn action_create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let input: ActionInput = json_body(&body_bytes(body).await?)?;
    let now = crate::store::now_unix();
    let id = write(&state, move |c| ops::create_action(c, &input, now)).await?;
    let action = read(&state, move |c| {
        crate::store::actions::get(c, id, crate::risk::today(now)).map_err(RiskError::from)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({"action": action}))).into_response())
}

#[utoipa::path(
    patch,
    path = "/api/v1/actions/{id}",
    tag = "actions",
    request_body(content = serde_json::Value, content_type = "application/json"),
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "changed", body = crate::openapi::ActionOne), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn action_update(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let input: ActionInput = json_body(&body_bytes(body).await?)?;
    let now = crate::store::now_unix();
    let action = write(&state, move |c| ops::update_action(c, id, &input, now)).await?;
    Ok(Json(json!({"action": action})).into_response())
}

/// Body of `POST /api/v1/actions/:id/close`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    #[serde(default)]
    evidence_sha256: Option<String>,
    #[serde(default)]
    evidence_file_name: Option<String>,
    #[serde(default)]
    evidence_url: Option<String>,
    #[serde(default)]
    approver: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/actions/{id}/close",
    tag = "actions",
    request_body(content = serde_json::Value, content_type = "application/json"),
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "closed", body = crate::openapi::ActionOne), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn action_close(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let b: CloseBody = json_body(&body_bytes(body).await?)?;
    let req = CloseRequest {
        evidence_sha256: b.evidence_sha256,
        evidence_file_name: b.evidence_file_name,
        evidence_url: b.evidence_url,
        approver: b.approver,
    };
    let s = state.clone();
    let now = crate::store::now_unix();
    let action = write(&state, move |c| {
        ops::close_action(c, id, &req, &s.config, now)
    })
    .await?;
    Ok(Json(json!({"action": action})).into_response())
}

#[utoipa::path(
    get,
    path = "/api/v1/exceptions",
    tag = "exceptions",
    params(FeedQuery),
    responses((status = 200, description = "one page of exceptions", body = crate::openapi::ExceptionList), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn exceptions_json(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    let now = crate::store::now_unix();
    let list = read(&state, ops::list_exceptions).await?;
    let list = feeds::filter_exceptions(list, &q, now).map_err(bad_query)?;
    let limit = paging::limit(q.limit)?;
    let (list, next) = paging::page_of(list, |e| e.id.to_string(), q.cursor.as_deref(), limit)?;
    let views = feeds::exception_views(&list, now);
    Ok(feed(
        &headers,
        "application/json",
        to_json(&json!({"exceptions": views, "next": next})),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/exceptions.csv",
    tag = "exceptions",
    params(FeedQuery),
    responses((status = 200, description = "every matching exception as CSV", body = String, content_type = "text/csv"), (status = 304, description = "not modified (If-None-Match)"), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn exceptions_csv(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    no_feed_token(&q)?;
    not_paged(&q)?;
    let now = crate::store::now_unix();
    let list = read(&state, ops::list_exceptions).await?;
    let list = feeds::filter_exceptions(list, &q, now).map_err(bad_query)?;
    Ok(feed(
        &headers,
        "text/csv; charset=utf-8; header=present",
        feeds::exceptions_csv(&list, now),
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/exceptions",
    tag = "exceptions",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "granted", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn exception_create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let req: ExceptionRequest = json_body(&body_bytes(body).await?)?;
    let s = state.clone();
    let now = crate::store::now_unix();
    let id = write(&state, move |c| {
        ops::grant_exception(c, &req, &s.config, now)
    })
    .await?;
    let list = read(&state, ops::list_exceptions).await?;
    let e = list.into_iter().find(|e| e.id == id);
    let view = e.as_ref().map(|e| feeds::ExceptionView {
        exception: e,
        state: e.state(now),
    });
    Ok((StatusCode::CREATED, Json(json!({"exception": view}))).into_response())
}

/// Body of `POST /api/v1/exceptions/:id/revoke`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    by: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/exceptions/{id}/revoke",
    tag = "exceptions",
    request_body(content = serde_json::Value, content_type = "application/json"),
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "revoked", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn exception_revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let b: RevokeBody = json_body(&body_bytes(body).await?)?;
    let now = crate::store::now_unix();
    write(&state, move |c| ops::revoke_exception(c, id, &b.by, now)).await?;
    Ok(Json(json!({"revoked": id})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{NodeKeys, Tokens};
    use crate::config::CollectorConfig;
    use crate::metrics::Metrics;
    use crate::store::Store;

    const ADMIN: &str = "admin-token-0123456789abcdef0123456789";
    const AUDITOR: &str = "auditor-token-0123456789abcdef01234567";

    /// The collector's router on a temporary database and an ephemeral port.
    async fn spawn_app() -> (String, tempfile::TempDir) {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        let mut config = CollectorConfig::default();
        config
            .actions
            .roles
            .insert("rssi".into(), vec!["alice".into()]);
        let state = Arc::new(AppState {
            store,
            keys: NodeKeys::load(Vec::new()),
            tokens: Tokens::new(&[ADMIN.into()], &[AUDITOR.into()]),
            enroll_secret: None,
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

    #[tokio::test]
    async fn feeds_etag_filters_and_refused_close() {
        let (base, _d) = spawn_app().await;
        let c = reqwest::Client::new();
        let post = |path: &str, token: &str, body: serde_json::Value| {
            c.post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        // Auditors read, never write.
        let r = post("/api/v1/risks", AUDITOR, json!({})).await.unwrap();
        assert_eq!(r.status(), 403);
        for (title, l, i, owner) in [
            ("Lost laptop, unencrypted", 3, 4, "alice"),
            ("Phishing", 1, 2, "bob"),
        ] {
            let r = post(
                "/api/v1/risks",
                ADMIN,
                json!({"title": title, "likelihood": l, "impact": i, "treatment": "reduce", "owner": owner}),
            )
            .await
            .unwrap();
            assert_eq!(r.status(), 201);
        }
        let get = |path: String, etag: Option<String>| {
            let mut rq = c.get(format!("{base}{path}")).bearer_auth(AUDITOR);
            if let Some(t) = etag {
                rq = rq.header("If-None-Match", t);
            }
            rq.send()
        };
        let r = get("/api/v1/risks".into(), None).await.unwrap();
        assert_eq!(r.status(), 200);
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        // Nothing changed: 304 with no body.
        let r = get("/api/v1/risks".into(), Some(tag.clone()))
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        assert!(r.bytes().await.unwrap().is_empty());
        // Filter: 3 × 4 = 12 → critical; 1 × 2 = 2 → low.
        let r = get("/api/v1/risks?level=critical".into(), None)
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["risks"].as_array().unwrap().len(), 1);
        assert_eq!(v["risks"][0]["owner"], "alice");
        let r = get("/api/v1/risks?level=severe".into(), None)
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        // CSV and Atom are served with their types.
        let r = get("/api/v1/risks.csv?owner=bob".into(), None)
            .await
            .unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        let text = r.text().await.unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        let r = get("/feeds/risks.atom".into(), None).await.unwrap();
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml"));
        // A change moves the ETag.
        let r = c
            .patch(format!("{base}/api/v1/risks/2"))
            .bearer_auth(ADMIN)
            .json(&json!({"likelihood": 4}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = get("/api/v1/risks".into(), Some(tag)).await.unwrap();
        assert_eq!(r.status(), 200);
        // Actions: close refused without evidence, with a message naming what is missing.
        let r = post(
            "/api/v1/actions",
            ADMIN,
            json!({"title": "Encrypt laptops", "priority": "p1", "owner": "ops", "risks": [1]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
        let r = post(
            "/api/v1/actions/1/close",
            ADMIN,
            json!({"approver": "alice"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 409);
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(
            v["error"]["message"].as_str().unwrap().contains("evidence"),
            "{v}"
        );
        let r = post(
            "/api/v1/actions/1/close",
            ADMIN,
            json!({"approver": "alice", "evidence_url": "https://audit.example/1"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let r = get("/api/v1/actions?status=done".into(), None)
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["actions"][0]["approver"], "alice");
        // Exceptions: more than a year is refused.
        let r = post(
            "/api/v1/exceptions",
            ADMIN,
            json!({"check": "mfa", "scope": "fleet", "reason": "r", "requester": "bob",
                   "approver": "alice", "starts_at": "2030-01-01", "expires_at": "2031-01-02"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 422);
        let r = get("/api/v1/exceptions.csv".into(), None).await.unwrap();
        assert_eq!(r.status(), 200);
    }
}
