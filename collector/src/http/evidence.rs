//! `GET /api/v1/evidence?from=YYYY-MM-DD&to=YYYY-MM-DD[&control=ID][&host=NAME,NAME…]`: the audit
//! evidence bundle (zip) for admin and auditor tokens.
//!
//! The bundle is written on a blocking thread into an anonymous temporary file in the data
//! directory (deleted when closed), then streamed from that file with tokio's `ReaderStream`: the
//! memory used does not depend on the period. At most two exports run at once (429 otherwise).

use std::io::{BufWriter, Seek, SeekFrom};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{blocking, require_role, ApiError, AppState};
use crate::evidence::plan::parse_day;
use crate::evidence::{export, signing, ExportError, ExportRequest};

/// Exports running at once, at most.
static EXPORTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The query string.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    from: String,
    to: String,
    control: Option<String>,
    /// Comma-separated host names.
    host: Option<String>,
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// The handler.
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<EvidenceQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let req = ExportRequest {
        from: parse_day("from", &q.from).map_err(|e| bad_request(e.0))?,
        to: parse_day("to", &q.to).map_err(|e| bad_request(e.0))?,
        control: q.control.filter(|c| !c.trim().is_empty()),
        hostnames: q.host.map(|h| {
            h.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }),
        awareness_courses: state.config.kpi.awareness_courses.clone(),
        identity: state.config.identity.clone(),
    };
    let _permit = EXPORTS.try_acquire().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "export_busy",
            "two evidence exports are already running; retry when one has finished",
        )
    })?;
    let name = format!("vigie-evidence-{}_{}.zip", req.from, req.to);
    let s = state.clone();
    let (file, len) = blocking(move || {
        let internal =
            |m: String| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "export_failed", m);
        let dir = &s.config.storage.data_dir;
        let key = signing::load_or_generate(&signing::key_path(dir))
            .map_err(|e| internal(e.to_string()))?;
        let tmp = tempfile::tempfile_in(dir)
            .map_err(|e| internal(format!("temporary file in {}: {e}", dir.display())))?;
        let mut outcome = None;
        s.store.read(|conn| {
            outcome = Some(export(conn, &req, &key, BufWriter::new(tmp)));
            Ok(())
        })?;
        let written = match outcome {
            Some(Ok(w)) => w,
            Some(Err(ExportError::Usage(u))) => return Err(bad_request(u.0)),
            Some(Err(e)) => return Err(internal(e.to_string())),
            None => return Err(internal("the export did not run".into())),
        };
        let mut file = written
            .into_inner()
            .map_err(|e| internal(e.error().to_string()))?;
        let len = file
            .seek(SeekFrom::End(0))
            .and_then(|n| file.seek(SeekFrom::Start(0)).map(|_| n))
            .map_err(|e| internal(e.to_string()))?;
        Ok((file, len))
    })
    .await?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
