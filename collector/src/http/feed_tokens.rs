//! `GET/POST /api/v1/feed-tokens`, `POST /api/v1/feed-tokens/{id}/revoke` (admin): read-only
//! tokens for feed readers, accepted in the query string of `/feeds/` only (`?token=`). The
//! token is answered once, at creation; the store keeps its SHA-256 (`store::feed_tokens`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiPath;
use super::{blocking, read_body, require_role, ApiError, AppState};
use crate::store::feed_tokens;

/// `POST /api/v1/feed-tokens` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeedToken {
    /// What the token is for (e.g. the reader): one line, 1 to 256 bytes.
    pub name: String,
}

/// `POST /api/v1/feed-tokens` answer: the only time the token is shown.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedFeedToken {
    pub id: i64,
    pub name: String,
    /// `vft1_` and 64 hex digits; use it as `?token=` on `/feeds/risks.atom`.
    pub token: String,
}

/// Every feed token (never the token itself).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct FeedTokenList {
    pub feed_tokens: Vec<feed_tokens::FeedToken>,
}

#[utoipa::path(
    get,
    path = "/api/v1/feed-tokens",
    tag = "feeds",
    responses((status = 200, description = "every feed token", body = FeedTokenList), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let s = state.clone();
    let list = blocking(move || Ok(s.store.read(feed_tokens::list)?)).await?;
    Ok(Json(json!({ "feed_tokens": list })).into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/feed-tokens",
    tag = "feeds",
    request_body = NewFeedToken,
    responses((status = 201, description = "created; the token is shown this once", body = CreatedFeedToken), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let bytes = read_body(body, 4096).await?;
    let req: NewFeedToken = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed request: {e}"),
        )
    })?;
    let name = req.name.trim().to_string();
    if name.is_empty()
        || name.len() > 256
        || name.chars().any(vigie_checks::wire::is_forbidden_char)
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "name: one line of 1 to 256 bytes without control characters",
        ));
    }
    let token = crate::auth::new_feed_token().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_randomness",
            e.to_string(),
        )
    })?;
    let hash = crate::auth::hash_secret(&token);
    let n = name.clone();
    let id = state
        .store
        .write(move |c| feed_tokens::create(c, &n, &hash, crate::store::now_unix()))
        .await?;
    tracing::info!(feed_token_id = id, name = %crate::escape::one_line(&name), "feed token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedFeedToken { id, name, token }),
    )
        .into_response())
}

#[utoipa::path(
    post,
    path = "/api/v1/feed-tokens/{id}/revoke",
    tag = "feeds",
    params(("id" = i64, Path, description = "row id")),
    responses((status = 200, description = "revoked (at once)", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let found = state
        .store
        .write(move |c| feed_tokens::revoke(c, id, crate::store::now_unix()))
        .await?;
    if !found {
        return Err(ApiError::not_found(&format!("no feed token with id {id}")));
    }
    tracing::info!(feed_token_id = id, "feed token revoked");
    Ok(Json(json!({ "revoked": id })).into_response())
}
