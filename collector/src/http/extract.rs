//! Extractors whose rejections are the documented JSON error body, and the layer that turns
//! every other non-JSON error answer (a wrong method, an unsupported media type) into one, so
//! that no client ever has to parse a plain-text error.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::ApiError;

/// `Query<T>` answering 400 `bad_query` (unknown parameter, unparsable value) with the JSON body.
pub struct ApiQuery<T>(pub T);

#[axum::async_trait]
impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(ApiQuery(q)),
            Err(e) => {
                // serde_urlencoded does not name the parameter whose value it could not parse:
                // quote the query (bounded) so the caller can see which one.
                let query: String = parts.uri.query().unwrap_or("").chars().take(200).collect();
                Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_query",
                    format!("{} (query: {query:?}); see docs/api.md", e.body_text()),
                ))
            }
        }
    }
}

/// `Path<T>` answering 400 `bad_path` (a non-numeric id) with the JSON body.
pub struct ApiPath<T>(pub T);

#[axum::async_trait]
impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(p)) => Ok(ApiPath(p)),
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_path",
                e.body_text(),
            )),
        }
    }
}

/// The stable code of an error status answered by axum itself rather than by a handler.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

/// Whether a response's body is already JSON.
fn is_json(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Turn an error answer on `/api/` or `/feeds/` that is not JSON into the documented body, keeping
/// its status and headers such as `Allow`. The probes (`/readyz` says why in plain text) and
/// `/metrics` keep their plain-text answers.
pub async fn json_errors(uri: axum::http::Uri, r: Response) -> Response {
    let status = r.status();
    let api = uri.path().starts_with("/api/") || uri.path().starts_with("/feeds/");
    if !api || !(status.is_client_error() || status.is_server_error()) || is_json(&r) {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    // The bodies axum writes for its own rejections are one short line.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                let allow = parts
                    .headers
                    .get(header::ALLOW)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                format!("method not allowed on {}; allowed: {allow}", uri.path())
            }
            s => s.canonical_reason().unwrap_or("error").to_string(),
        }
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut answer = ApiError::new(status, code_of(status), message).into_response();
    for (name, value) in parts.headers.iter() {
        answer.headers_mut().insert(name.clone(), value.clone());
    }
    answer
}
