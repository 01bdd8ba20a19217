//! HTTP: routes, authentication, limits, and the mapping of outcomes to status codes. Handlers are
//! thin: parse, authorise, call ingest/store, answer. Every error body is
//! `{"error": {"code": "...", "message": "..."}}`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use vigie_checks::wire::HostIdentity;

use crate::auth::{self, NodeIdentity, NodeKeys, Role, Tokens};
use crate::config::CollectorConfig;
use crate::ingest::{self, Limits, Rejection};
use crate::metrics::Metrics;
use crate::store::hosts::{self, Staleness};
use crate::store::ingest::IngestOutcome;
use crate::store::{Store, StoreError};

mod evidence;
mod identity;
mod incidents;
mod registers;

/// Shared state of every handler.
pub struct AppState {
    pub store: Arc<Store>,
    pub keys: NodeKeys,
    pub tokens: Tokens,
    pub enroll_secret: Option<String>,
    /// Limits on failed enrolments per source address.
    pub enrolment_guard: auth::EnrolmentGuard,
    pub config: CollectorConfig,
    pub metrics: Arc<Metrics>,
    /// The last readiness verdict, reused for [`READY_CACHE`] so probes cannot crowd the writer.
    pub ready: std::sync::Mutex<Option<(std::time::Instant, Result<(), String>)>>,
    /// The identity gauges last rendered for `/metrics`, reused for `metrics.refresh_seconds` so a
    /// scrape never reads the store more often than that ([`identity::cached_gauges`]).
    pub identity_gauges: std::sync::Mutex<Option<(std::time::Instant, Vec<u8>)>>,
}

/// How long a readiness verdict is reused.
pub const READY_CACHE: std::time::Duration = std::time::Duration::from_secs(2);

impl AppState {
    /// Staleness rule at the current time.
    pub fn staleness(&self) -> Staleness {
        Staleness::from_config(&self.config.fleet, crate::store::now_unix())
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    fn unauthorized(message: &str) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "store error");
        match e {
            StoreError::Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the collector is shutting down; retry later",
            ),
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "store_error",
                other.to_string(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, Json(body)).into_response();
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of a body that came too slowly is not worth waiting for: close.
            r.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        r
    }
}

/// The router with every route.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/enroll", post(enroll))
        .route("/api/v1/reports", post(post_report))
        .route("/api/v1/reports/evidence", post(post_report_evidence))
        .route("/api/v1/hosts", get(list_hosts))
        .route("/api/v1/hosts/:id", get(host_detail))
        .route("/api/v1/hosts/:id/history", get(host_history))
        .route("/api/v1/hosts/:id/allow-reenroll", post(allow_reenroll))
        .route("/api/v1/import/:register", post(registers::import))
        .route("/api/v1/kpi", get(registers::kpi))
        .route(
            "/api/v1/incidents",
            get(incidents::list).post(incidents::create),
        )
        .route(
            "/api/v1/incidents/:id",
            get(incidents::show).patch(incidents::update),
        )
        .merge(crate::http_risk::routes())
        .route("/api/v1/evidence", get(evidence::get))
        .merge(identity::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint; see docs/api.md") })
        .with_state(state)
}

/// The credential of an `Authorization: Bearer <credential>` header; the scheme name is
/// case-insensitive (RFC 9110 section 11.1), so `bearer` and `BEARER` work too.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credential.trim())
        .filter(|c| !c.is_empty())
}

/// A request body that did not arrive within `server.body_read_timeout_seconds` (raised by the
/// connection layer, answered 408 by [`read_body`]).
#[derive(Debug)]
pub struct BodyTimeout(pub std::time::Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request body not received within {} s", self.0.as_secs())
    }
}

impl std::error::Error for BodyTimeout {}

/// Read the body, refusing it past `limit` bytes with a JSON 413, and one that arrives too slowly
/// with a 408.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(t) = c.downcast_ref::<BodyTimeout>() {
                return ApiError::new(StatusCode::REQUEST_TIMEOUT, "body_timeout", t.to_string());
            }
            if c.is::<http_body_util::LengthLimitError>() {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("request body exceeds {limit} bytes"),
                );
            }
            cause = c.source();
        }
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "body_unreadable",
            format!("cannot read the request body: {e}"),
        )
    })
}

/// Read a body that may be compressed (`Content-Encoding: zstd` or `gzip`; none or `identity`
/// for plain): at most `limit` bytes as sent, and decompression stops at `limit` bytes of output,
/// so a compression bomb is a 413 after at most `limit + 1` bytes were produced. Any other
/// encoding (or several stacked) is 415 `unsupported_encoding`.
async fn read_encoded_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    #[derive(Clone, Copy)]
    enum Enc {
        Zstd,
        Gzip,
    }
    let enc = match headers.get(header::CONTENT_ENCODING) {
        None => None,
        Some(v) => match v.to_str().map(|s| s.trim().to_ascii_lowercase()) {
            Ok(s) if s.is_empty() || s == "identity" => None,
            Ok(s) if s == "zstd" => Some(Enc::Zstd),
            Ok(s) if s == "gzip" || s == "x-gzip" => Some(Enc::Gzip),
            Ok(s) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_encoding",
                    format!(
                        "Content-Encoding {:?} is not supported; send zstd, gzip or none",
                        s.chars().take(40).collect::<String>()
                    ),
                ))
            }
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_encoding",
                    "Content-Encoding is not ASCII; send zstd, gzip or none",
                ))
            }
        },
    };
    let raw = read_body(body, limit).await?;
    let Some(enc) = enc else {
        return Ok(raw);
    };
    blocking(move || {
        use std::io::Read as _;
        let name = match enc {
            Enc::Zstd => "zstd",
            Enc::Gzip => "gzip",
        };
        let reader: Box<dyn std::io::Read> = match enc {
            Enc::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(&raw[..]).map_err(
                |e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "body_unreadable",
                        format!("cannot start zstd decompression: {e}"),
                    )
                },
            )?),
            Enc::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        };
        // One byte past the limit tells "too large" from "exactly the limit".
        let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit + 1));
        reader
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "body_unreadable",
                    format!("the {name} body does not decompress: {e}"),
                )
            })?;
        if out.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("request body exceeds {limit} bytes once decompressed ({name})"),
            ));
        }
        Ok(Bytes::from(out))
    })
    .await
}

/// The role of the calling person or tool, or 401.
pub fn require_role(state: &AppState, headers: &HeaderMap, write: bool) -> Result<Role, ApiError> {
    let token = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("missing Authorization: Bearer <admin or auditor token>")
    })?;
    let role = state
        .tokens
        .role(token)
        .ok_or_else(|| ApiError::unauthorized("unknown API token"))?;
    if write && role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "auditor tokens may read and export, not write",
        ));
    }
    Ok(role)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    // A real write through the writer proves the database is writable; a recent verdict is
    // reused so that a tight probe loop cannot compete with ingest for the writer.
    let cached = state
        .ready
        .lock()
        .ok()
        .and_then(|c| c.clone())
        .filter(|(at, _)| at.elapsed() < READY_CACHE)
        .map(|(_, r)| r);
    let r = match cached {
        Some(r) => r,
        None => {
            let now = crate::store::now_unix();
            let r = state
                .store
                .write(move |c| {
                    c.execute(
                        "INSERT INTO meta(key, value) VALUES ('ready_probe', ?1)
                         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [now.to_string()],
                    )?;
                    Ok(())
                })
                .await
                .map_err(|e| e.to_string());
            if let Ok(mut c) = state.ready.lock() {
                *c = Some((std::time::Instant::now(), r.clone()));
            }
            r
        }
    };
    match r {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: database not writable: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut text = state.metrics.render();
    // The identity gauges (docs/identity.md) when identity sources are configured; a failure to
    // read them leaves them out (the collector's own families are still served) and is logged.
    if !state.config.identity.source.is_empty() {
        match identity::cached_gauges(&state).await {
            Ok(g) => text.extend_from_slice(&g),
            Err(e) => tracing::warn!(error = %e.message, "identity gauges left out of /metrics"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrollRequest {
    enroll_secret: String,
    host: HostIdentity,
    #[serde(default)]
    interval_seconds: Option<u64>,
    /// A random value the agent keeps until it has stored its node key, sent again when it
    /// retries an enrolment whose answer it lost.
    #[serde(default)]
    enrollment_nonce: Option<String>,
}

/// Longest accepted `enrollment_nonce` (a UUID is 36).
const MAX_NONCE_LEN: usize = 128;

async fn enroll(
    State(state): State<Arc<AppState>>,
    peer: Option<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Behind a proxy every agent shares its address; the limit then applies to the fleet at once.
    let ip = peer.map(|ConnectInfo(a)| a.ip());
    if let Some(ip) = ip {
        if let Err(wait) = state.enrolment_guard.admit(ip, Instant::now()) {
            state
                .metrics
                .enrolments
                .with_label_values(&["rate_limited"])
                .inc();
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_failed_enrolments",
                format!("too many failed enrolments from this address; retry in {secs} s"),
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return Ok(r);
        }
    }
    let bytes = read_body(body, 64 * 1024).await?;
    let req: EnrollRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("malformed enrolment request: {e}"),
        )
    })?;
    // Before anything logs a field of it (the wrong-secret line names the hostname).
    crate::host_identity::validate_enrolment(&req.host, req.interval_seconds)?;
    let Some(secret) = &state.enroll_secret else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "enrolment_disabled",
            "enrolment is disabled: no auth.enroll_secret is configured on the collector",
        ));
    };
    if !auth::secrets_equal(&req.enroll_secret, secret) {
        state
            .metrics
            .enrolments
            .with_label_values(&["refused"])
            .inc();
        // Counted per address and logged once per window (auth::log_enrolment_failures), not
        // once per guess.
        if let Some(ip) = ip {
            state.enrolment_guard.failed(ip, Instant::now());
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_enroll_secret",
            "wrong enrolment secret",
        ));
    }
    let nonce = match &req.enrollment_nonce {
        None => None,
        Some(n)
            if n.trim().is_empty()
                || n.len() > MAX_NONCE_LEN
                || n.chars().any(char::is_control) =>
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_nonce",
                format!(
                    "enrollment_nonce must be 1 to {MAX_NONCE_LEN} bytes without control characters"
                ),
            ));
        }
        Some(n) => Some(hosts::NonceClaim {
            hash: auth::hash_secret(n),
            retry_window_s: i64::try_from(state.config.auth.enroll_retry_window_seconds)
                .unwrap_or(i64::MAX),
        }),
    };
    let key = auth::new_node_key().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no_randomness",
            e.to_string(),
        )
    })?;
    let key_hash = auth::hash_secret(&key);
    // Taking over an enrolled machine-id needs more than the shared secret: that host's current
    // node key (the agent re-enrols itself) or an admin token.
    let authorised = bearer(&headers).is_some_and(|b| {
        state.tokens.role(b) == Some(Role::Admin)
            || state
                .keys
                .lookup(b)
                .is_some_and(|n| n.machine_id == req.host.machine_id)
    });
    let host = req.host.clone();
    let interval = req.interval_seconds;
    let h2 = key_hash.clone();
    let outcome = state
        .store
        .write(move |c| {
            hosts::enroll_with(
                c,
                &host,
                &h2,
                interval,
                authorised,
                nonce.as_ref(),
                crate::store::now_unix(),
            )
        })
        .await?;
    let (host_id, replaced_key_hash, repeated) = match outcome {
        hosts::Enrolment::Enrolled {
            host_id,
            replaced_key_hash,
            repeated,
        } => (host_id, replaced_key_hash, repeated),
        hosts::Enrolment::AlreadyEnrolled { host_id } => {
            state
                .metrics
                .enrolments
                .with_label_values(&["refused"])
                .inc();
            tracing::warn!(host_id, machine_id = %req.host.machine_id, hostname = %req.host.hostname,
                "re-enrolment refused: no current node key, admin token or repeat of the last enrolment");
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_enrolled",
                format!(
                    "machine {} is already enrolled (host {host_id}); re-enrol from the agent that holds its \
                     node key, or have an admin allow it: vigie-collector host allow-reenroll {host_id}",
                    req.host.machine_id
                ),
            ));
        }
    };
    // A repeat replaces a key its agent never received: to the agent it is its first enrolment.
    let rotated = replaced_key_hash.is_some() && !repeated;
    state.keys.rotate(
        key_hash,
        replaced_key_hash,
        NodeIdentity {
            host_id,
            machine_id: req.host.machine_id.clone(),
        },
    );
    let outcome = match (rotated, repeated) {
        (_, true) => "repeated",
        (true, _) => "rotated",
        _ => "enrolled",
    };
    state.metrics.enrolments.with_label_values(&[outcome]).inc();
    tracing::info!(host_id, hostname = %req.host.hostname, rotated, repeated, "host enrolled");
    Ok((
        if rotated {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        },
        Json(
            json!({"host_id": host_id, "node_key": key, "rotated": rotated, "repeated": repeated}),
        ),
    )
        .into_response())
}

async fn post_report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let result = ingest_report(&state, &headers, body).await;
    let outcome = match &result {
        Ok((_, o)) => *o,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => "unauthorized",
        Err(e) if e.status.is_client_error() => "rejected",
        Err(_) => "error",
    };
    state
        .metrics
        .ingest_reports
        .with_label_values(&[outcome])
        .inc();
    state
        .metrics
        .ingest_duration
        .with_label_values(&[outcome])
        .observe(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        // Parse errors quote what they could not parse (an unknown field's name, raw).
        tracing::info!(code = e.code, message = %crate::escape::one_line(&e.message), "report refused");
    }
    result.map(|(r, _)| r)
}

async fn ingest_report(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Response, &'static str), ApiError> {
    let key = bearer(headers)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <node key>"))?;
    let node = state
        .keys
        .lookup(key)
        .ok_or_else(|| ApiError::unauthorized("unknown or rotated node key; re-enrol the agent"))?;
    let bytes = read_encoded_body(headers, body, state.config.server.max_body_bytes).await?;
    let limits = Limits {
        now: chrono::Utc::now(),
        max_skew_s: state.config.fleet.max_clock_skew_seconds,
        max_age_days: state.config.fleet.max_report_age_days,
    };
    let report = ingest::validate(&bytes, &node, &limits).map_err(|r| {
        let status = match r {
            Rejection::Malformed(_) => StatusCode::BAD_REQUEST,
            Rejection::WrongHost { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, r.code(), r.to_string())
    })?;
    let report_id = report.report_id.clone();
    let host_id = node.host_id;
    let received = crate::store::now_unix();
    let delta = report.schema == vigie_checks::wire::SCHEMA_DELTA;
    let applied = state
        .store
        .write(move |c| crate::store::ingest::apply_wire(c, host_id, &report, received))
        .await?;
    match applied.outcome {
        IngestOutcome::Accepted {
            transitions,
            evidence_conflicts,
        } => {
            if evidence_conflicts > 0 {
                state
                    .metrics
                    .evidence_conflicts
                    .inc_by(evidence_conflicts as u64);
            }
            let mut answer =
                json!({"report_id": report_id, "status": "accepted", "transitions": transitions});
            // Schema 1 answers stay as they were; a delta report learns which evidence to upload.
            if delta {
                answer["missing_evidence"] = json!(applied.missing_evidence);
            }
            Ok((
            (
                StatusCode::ACCEPTED,
                Json(answer),
            )
                .into_response(),
            "accepted",
            ))
        }
        IngestOutcome::ResyncRequired => {
            let shown: Vec<&str> = applied.unresolved.iter().map(String::as_str).take(8).collect();
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "resync_required",
                format!(
                    "report {report_id}: the unchanged entries for {} do not match what this collector holds; send the report in full",
                    shown.join(", ")
                ),
            ))
            .or_else(|e| Ok((e.into_response(), "resync")))
        }
        IngestOutcome::Duplicate => Err(ApiError::new(
            StatusCode::CONFLICT,
            "duplicate_report",
            format!("report {report_id} was already received; nothing changed"),
        ))
        .or_else(|e| Ok((e.into_response(), "duplicate"))),
        IngestOutcome::OutOfOrder => Err(ApiError::new(
            StatusCode::CONFLICT,
            "out_of_order",
            format!("report {report_id} is older than the newest report already received from this host; nothing changed"),
        ))
        .or_else(|e| Ok((e.into_response(), "out_of_order"))),
    }
}

/// Body of `POST /api/v1/reports/evidence`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceUpload {
    evidence: Vec<vigie_checks::Evidence>,
}

/// Most evidence items in one upload (all the results of a report, each with its most).
const MAX_EVIDENCE_UPLOAD: usize = ingest::MAX_RESULTS * ingest::MAX_EVIDENCE;

/// The evidence a delta report's answer listed as `missing_evidence`, uploaded in full.
async fn post_report_evidence(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let key = bearer(&headers)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <node key>"))?;
    let node = state
        .keys
        .lookup(key)
        .ok_or_else(|| ApiError::unauthorized("unknown or rotated node key; re-enrol the agent"))?;
    let bytes = read_encoded_body(&headers, body, state.config.server.max_body_bytes).await?;
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!(
                "the body is not valid UTF-8 (first invalid byte at offset {})",
                e.valid_up_to()
            ),
        ));
    }
    let upload: EvidenceUpload = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_evidence",
            e.to_string(),
        )
    })?;
    if upload.evidence.len() > MAX_EVIDENCE_UPLOAD {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_evidence",
            format!(
                "{} evidence items; at most {MAX_EVIDENCE_UPLOAD}",
                upload.evidence.len()
            ),
        ));
    }
    for (j, e) in upload.evidence.iter().enumerate() {
        ingest::check_evidence(e, &format!("evidence[{j}]")).map_err(|r| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_evidence",
                r.to_string(),
            )
        })?;
    }
    let received = crate::store::now_unix();
    let host_id = node.host_id;
    let sent = upload.evidence.len();
    let stored = state
        .store
        .write(move |c| {
            crate::store::ingest::store_missing_evidence(c, host_id, &upload.evidence, received)
        })
        .await?;
    Ok(Json(json!({"stored": stored, "ignored": sent - stored})).into_response())
}

async fn list_hosts(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let st = state.staleness();
    let s = state.clone();
    let hosts = blocking(move || Ok(s.store.read(|c| hosts::list_hosts(c, &st))?)).await?;
    Ok(Json(json!({"hosts": hosts})).into_response())
}

async fn host_detail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    let st = state.staleness();
    let s = state.clone();
    let detail = blocking(move || Ok(s.store.read(|c| hosts::host_detail(c, id, &st))?)).await?;
    match detail {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(ApiError::not_found(&format!("no host with id {id}"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    check: Option<String>,
    limit: Option<i64>,
}

async fn host_history(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, false)?;
    if let Some(c) = &q.check {
        if vigie_checks::find(c).is_none() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unknown_check",
                format!("unknown check {c:?}"),
            ));
        }
    }
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let s = state.clone();
    let rows = blocking(move || {
        s.store
            .read(|c| {
                if !hosts::host_exists(c, id)? {
                    return Ok(None);
                }
                hosts::history(c, id, q.check.as_deref(), limit).map(Some)
            })
            .map_err(ApiError::from)
    })
    .await?;
    match rows {
        Some(r) => Ok(Json(json!({"host_id": id, "transitions": r})).into_response()),
        None => Err(ApiError::not_found(&format!("no host with id {id}"))),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AllowReenroll {
    /// Hours the permission lasts (default 24, at most 168).
    #[serde(default)]
    hours: Option<i64>,
}

async fn allow_reenroll(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Body,
) -> Result<Response, ApiError> {
    require_role(&state, &headers, true)?;
    let bytes = read_body(body, 4096).await?;
    let req: AllowReenroll = if bytes.is_empty() {
        AllowReenroll::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?
    };
    let hours = req.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "hours must be between 1 and 168",
        ));
    }
    let until = crate::store::now_unix() + hours * 3600;
    let found = state
        .store
        .write(move |c| hosts::allow_reenroll(c, id, until))
        .await?;
    if !found {
        return Err(ApiError::not_found(&format!("no host with id {id}")));
    }
    tracing::info!(host_id = id, hours, "re-enrolment allowed");
    Ok(Json(json!({"host_id": id, "reenroll_until": hosts::rfc3339(until)})).into_response())
}
