//! Register imports and the KPIs over HTTP.
//!
//! `POST /api/v1/import/{incidents|roster|training}` takes the same CSV as
//! `vigie-collector import` (admin token; all rows or none, errors name the line) and answers what
//! changed. `GET /api/v1/kpi?at=YYYY-MM-DD` returns the governance KPIs as `vigie-collector kpi
//! --format json` prints them (admin or auditor token).

use std::io::Write as _;
use std::sync::Arc;

use crate::http::extract::{ApiPath, ApiQuery};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{blocking, read_body, require_role, ApiError, AppState};
use crate::registers::csv_import;
use crate::store::registers::{self as reg, CompletionsOutcome};

/// Largest accepted CSV body.
const MAX_CSV: usize = 16 * 1024 * 1024;

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv", message)
}

/// `POST /api/v1/import/{register}`.
#[utoipa::path(
    post,
    path = "/api/v1/import/{register}",
    tag = "registers",
    request_body(content = String, content_type = "text/csv"),
    params(("register" = String, Path, description = "incidents, roster or training")),
    responses((status = 200, description = "imported", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn import(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(register): ApiPath<String>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    if !matches!(register.as_str(), "incidents" | "roster" | "training") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no register {register:?}: use incidents, roster or training"),
        ));
    }
    let bytes = read_body(body, MAX_CSV).await?;
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "not_utf8",
            format!(
                "the CSV must be UTF-8; the first invalid byte is at offset {}",
                e.valid_up_to()
            ),
        ));
    }
    // The CSV readers work on files (line numbers, BOM, CRLF): spool the body to a private
    // temporary file in the data directory and name it "request body" in messages.
    let dir = state.config.storage.data_dir.clone();
    let file = blocking(move || {
        let mut f = tempfile::NamedTempFile::new_in(&dir)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "io", e.to_string()))?;
        f.write_all(&bytes)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "io", e.to_string()))?;
        Ok(f)
    })
    .await?;
    let path = file.path().to_path_buf();
    let shown = path.display().to_string();
    let clean =
        move |e: csv_import::ImportError| invalid(e.to_string().replace(&shown, "request body"));
    let now = crate::store::now_unix();
    let summary = match register.as_str() {
        "incidents" => {
            let rows = csv_import::read_incidents(&path).map_err(&clean)?;
            let incidents: Vec<_> = rows.into_iter().map(|l| l.row).collect();
            let sum = state
                .store
                .write(move |c| reg::upsert_incidents(c, &incidents, now))
                .await?;
            sum.to_string()
        }
        "roster" => {
            let rows = csv_import::read_roster(&path).map_err(&clean)?;
            let people: Vec<_> = rows.into_iter().map(|l| l.row).collect();
            let sum = state
                .store
                .write(move |c| reg::upsert_people(c, &people, now))
                .await?;
            format!(
                "{}; {} people in the register are not in this file",
                sum.rows, sum.not_in_file
            )
        }
        _ => {
            let lined = csv_import::read_training(&path).map_err(&clean)?;
            let rows: Vec<_> = lined.iter().map(|l| l.row.clone()).collect();
            let outcome = state
                .store
                .write(move |c| reg::insert_completions(c, &rows, now))
                .await?;
            match outcome {
                CompletionsOutcome::Imported(sum) => sum.to_string(),
                CompletionsOutcome::UnknownPerson { index } => {
                    let l = &lined[index];
                    return Err(invalid(format!(
                        "request body, line {}: unknown person_id {:?}: import the roster first; nothing was written",
                        l.line, l.row.person_id
                    )));
                }
            }
        }
    };
    drop(file);
    tracing::info!(register = %register, summary = %summary, "register imported over the API");
    Ok((
        StatusCode::OK,
        Json(json!({"register": register, "summary": summary})),
    )
        .into_response())
}

/// Query of `GET /api/v1/kpi`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    /// Day to evaluate (default today).
    at: Option<String>,
}

/// `GET /api/v1/kpi`.
#[utoipa::path(
    get,
    path = "/api/v1/kpi",
    tag = "registers",
    params(KpiQuery),
    responses((status = 200, description = "the governance KPIs of the day", body = serde_json::Value), (status = "default", description = "the JSON error body (docs/api.md)", body = crate::openapi::ErrorBody)),
    security(("bearer" = []))
)]
pub(crate) async fn kpi(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let now = chrono::Utc::now();
    let day = match &q.at {
        None => now.date_naive(),
        Some(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("at={s:?}: expected a day as YYYY-MM-DD"),
            )
        })?,
    };
    let s = state.clone();
    let eval = blocking(move || {
        crate::kpi::evaluation::evaluate_on(&s.store, &s.config, day, now).map_err(|e| match e {
            crate::kpi::evaluation::KpiError::Day(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", m)
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "kpi_error",
                other.to_string(),
            ),
        })
    })
    .await?;
    Ok(Json(eval).into_response())
}
