//! The OpenAPI 3.1 document of the collector's HTTP API, generated from the handlers'
//! `#[utoipa::path]` annotations and the types they answer with, so it cannot drift from the
//! routes. Served at `/api/v1/openapi.json` (no authentication: it holds no data) and checked in
//! as `docs/openapi.json` (a test compares them; `VIGIE_BLESS=1` rewrites the file).
//!
//! The register items (risks, actions, exceptions, incidents, identities, KPIs) are described as
//! JSON objects; their fields are in docs/api.md.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::store::hosts::{
    CheckState, EvidenceRow, HostDetail, HostState, HostSummary, Transition,
};

/// Every error answer: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The error's stable code and a message saying what and what to do.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// `POST /api/v1/enroll` answer.
#[derive(Serialize, ToSchema)]
pub struct Enrolled {
    pub host_id: i64,
    /// `vnk1_` and 64 hex digits: the agent's credential for `POST /api/v1/reports`.
    pub node_key: String,
    pub rotated: bool,
    pub repeated: bool,
}

/// `POST /api/v1/reports` answer.
#[derive(Serialize, ToSchema)]
pub struct ReportAccepted {
    pub report_id: String,
    /// Always `accepted`.
    pub status: String,
    pub transitions: u64,
    /// Schema 2 reports only: SHA-256 of evidence sent by hash that the collector lacks; upload
    /// them with `POST /api/v1/reports/evidence`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_evidence: Option<Vec<String>>,
}

/// `POST /api/v1/reports/evidence` answer.
#[derive(Serialize, ToSchema)]
pub struct EvidenceStored {
    /// Items stored (referenced by one of the host's current results).
    pub stored: u64,
    /// Items not referenced by any current result of the host, dropped.
    pub ignored: u64,
}

/// `POST /api/v1/hosts/{id}/allow-reenroll` answer.
#[derive(Serialize, ToSchema)]
pub struct ReenrollAllowed {
    pub host_id: i64,
    pub reenroll_until: String,
}

/// One page of hosts.
#[derive(Serialize, ToSchema)]
pub struct HostList {
    pub hosts: Vec<HostSummary>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// One page of a host's status transitions.
#[derive(Serialize, ToSchema)]
pub struct HostHistory {
    pub host_id: i64,
    pub transitions: Vec<Transition>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// One page of risks (fields in docs/api.md, "Risk").
#[derive(Serialize, ToSchema)]
pub struct RiskList {
    pub risks: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// A risk and its history.
#[derive(Serialize, ToSchema)]
pub struct RiskDetail {
    pub risk: serde_json::Map<String, serde_json::Value>,
    pub history: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// A risk after a write.
#[derive(Serialize, ToSchema)]
pub struct RiskOne {
    pub risk: serde_json::Map<String, serde_json::Value>,
}

/// One page of actions (fields in docs/api.md, "Action").
#[derive(Serialize, ToSchema)]
pub struct ActionList {
    pub actions: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// An action after a write.
#[derive(Serialize, ToSchema)]
pub struct ActionOne {
    pub action: serde_json::Map<String, serde_json::Value>,
}

/// One page of exceptions (fields in docs/api.md, "Exception").
#[derive(Serialize, ToSchema)]
pub struct ExceptionList {
    pub exceptions: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// One page of incidents (fields in docs/kpi.md).
#[derive(Serialize, ToSchema)]
pub struct IncidentList {
    pub incidents: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// Identity sources and one page of accounts (docs/identity.md).
#[derive(Serialize, ToSchema)]
pub struct IdentityList {
    pub sources: Vec<serde_json::Map<String, serde_json::Value>>,
    pub identities: Vec<serde_json::Map<String, serde_json::Value>>,
    /// The cursor of the next page; null on the last one.
    pub next: Option<String>,
}

/// The `bearer` scheme: admin or auditor token, or an agent's node key (docs/api.md).
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigie collector API",
        version = "1",
        description = "The collector's HTTP API; prose, rules and error codes in docs/api.md."
    ),
    paths(
        crate::http::healthz,
        crate::http::readyz,
        crate::http::metrics,
        crate::http::enroll,
        crate::http::post_report,
        crate::http::post_report_evidence,
        crate::http::list_hosts,
        crate::http::host_detail,
        crate::http::host_history,
        crate::http::allow_reenroll,
        crate::http::registers::import,
        crate::http::registers::kpi,
        crate::http::incidents::list,
        crate::http::incidents::create,
        crate::http::incidents::show,
        crate::http::incidents::update,
        crate::http::evidence::get,
        crate::http::identity::list,
        crate::http::identity::metrics,
        crate::http_risk::risks_json,
        crate::http_risk::risk_create,
        crate::http_risk::risks_csv,
        crate::http_risk::risks_import,
        crate::http_risk::risk_detail,
        crate::http_risk::risk_update,
        crate::http_risk::risks_atom,
        crate::http_risk::actions_json,
        crate::http_risk::action_create,
        crate::http_risk::actions_csv,
        crate::http_risk::action_update,
        crate::http_risk::action_close,
        crate::http_risk::exceptions_json,
        crate::http_risk::exception_create,
        crate::http_risk::exceptions_csv,
        crate::http_risk::exception_revoke,
        crate::http::feed_tokens::list,
        crate::http::feed_tokens::create,
        crate::http::feed_tokens::revoke,
        serve,
    ),
    components(schemas(
        ErrorBody,
        ErrorDetail,
        Enrolled,
        ReportAccepted,
        ReenrollAllowed,
        HostList,
        HostHistory,
        HostSummary,
        HostDetail,
        HostState,
        CheckState,
        EvidenceRow,
        Transition,
        RiskList,
        RiskDetail,
        RiskOne,
        ActionList,
        ActionOne,
        ExceptionList,
        IncidentList,
        IdentityList,
        crate::http::feed_tokens::NewFeedToken,
        crate::http::feed_tokens::CreatedFeedToken,
        crate::http::feed_tokens::FeedTokenList,
        crate::store::feed_tokens::FeedToken,
    )),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// The document as served and checked in: pretty JSON and a final newline.
pub fn document() -> String {
    let mut s = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = serde_json::Value)),
    security(())
)]
pub(crate) async fn serve() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOC.get_or_init(document).clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
