//! The incident register over HTTP: admins write, auditors read.
//!
//! `POST /api/v1/incidents` (201, 409 when the id exists), `PATCH /api/v1/incidents/{id}` (absent
//! fields kept, `null` clears a time), `GET /api/v1/incidents`, `GET /api/v1/incidents/{id}`.
//! Rule violations are 422 `invalid_incident` with the field named.

use std::sync::Arc;

use crate::http::extract::{ApiPath, ApiQuery};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{blocking, read_body, require_role, ApiError, AppState};
use crate::registers::incident::{validate_id, Incident, IncidentPatch};
use crate::store::registers::{self as reg, PatchOutcome};

/// Largest accepted incident body (descriptions can be long, not megabytes).
const MAX_BODY: usize = 256 * 1024;

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Not UTF-8 is not JSON: a malformed request (400), not a rule the incident breaks (422).
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid UTF-8 (first invalid byte at offset {})",
                e.valid_up_to()
            ),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_incident",
            format!("incident: {e}"),
        )
    })
}

fn invalid(message: String) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_incident",
        message,
    )
}

/// `POST /api/v1/incidents`
#[utoipa::path(
    post,
    path = "/api/v1/incidents",
    tag = "incidents",
    request_body(content = serde_json::Value, content_type = "application/json"),
    responses((status = 201, description = "added", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let incident: Incident = parse::<Incident>(&bytes)?.normalized();
    incident.validate().map_err(invalid)?;
    let now = crate::store::now_unix();
    let i = incident.clone();
    let created = state
        .store
        .write(move |c| reg::create_incident(c, &i, now))
        .await?;
    if !created {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "incident_exists",
            format!(
                "incident {} already exists; change it with PATCH /api/v1/incidents/{}",
                incident.id, incident.id
            ),
        ));
    }
    tracing::info!(id = %incident.id, "incident added");
    Ok((StatusCode::CREATED, Json(incident)).into_response())
}

/// `PATCH /api/v1/incidents/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    request_body(content = serde_json::Value, content_type = "application/json"),
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "changed", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let bytes = read_body(body, MAX_BODY).await?;
    let patch: IncidentPatch = parse(&bytes)?;
    let now = crate::store::now_unix();
    let key = id.clone();
    let outcome = state
        .store
        .write(move |c| reg::patch_incident(c, &key, &patch, now))
        .await?;
    match outcome {
        PatchOutcome::Updated(i) => {
            tracing::info!(id = %i.id, "incident updated");
            Ok(Json(i).into_response())
        }
        PatchOutcome::Unchanged(i) => Ok(Json(i).into_response()),
        PatchOutcome::NotFound => Err(ApiError::not_found(&format!("no incident {id:?}"))),
        PatchOutcome::Invalid(e) => Err(invalid(format!("incident {id}: {e}"))),
    }
}

/// `GET /api/v1/incidents`
#[utoipa::path(
    get,
    path = "/api/v1/incidents",
    tag = "incidents",
    params(super::paging::PageQuery),
    responses((status = 200, description = "one page of incidents", body = crate::openapi::IncidentList), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<super::paging::PageQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let limit = super::paging::limit(q.limit)?;
    let s = state.clone();
    let incidents = blocking(move || Ok(s.store.read(reg::list_incidents)?)).await?;
    let (incidents, next) =
        super::paging::page_of(incidents, |i| i.id.clone(), q.cursor.as_deref(), limit)?;
    Ok(Json(json!({ "incidents": incidents, "next": next })).into_response())
}

/// `GET /api/v1/incidents/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/incidents/{id}",
    tag = "incidents",
    params(("id" = String, Path, description = "incident id")),
    responses((status = 200, description = "the incident", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    if validate_id(&id).is_err() {
        return Err(ApiError::not_found(&format!("no incident {id:?}")));
    }
    let s = state.clone();
    let key = id.clone();
    let incident = blocking(move || Ok(s.store.read(|c| reg::get_incident(c, &key))?)).await?;
    match incident {
        Some(i) => Ok(Json(i).into_response()),
        None => Err(ApiError::not_found(&format!("no incident {id:?}"))),
    }
}
