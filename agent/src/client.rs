//! Talking to the collector: enrolment and report delivery, with outcomes the daemon can act on.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use vigie_checks::wire::HostIdentity;

/// Error codes with which the collector refuses a report for good (see docs/api.md).
const FINAL_CODES: &[&str] = &[
    "malformed_json",
    "unsupported_schema",
    "invalid_report",
    "unknown_check",
    "far_future",
    "too_old",
    "wrong_host",
    "body_too_large",
];

/// What became of one delivery attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The collector acknowledged it: 202 `{"status": "accepted", "report_id": <this id>}`, with
    /// the evidence SHA-256s it lacks (`missing_evidence`, delta reports only).
    Accepted { missing_evidence: Vec<String> },
    /// The collector could not resolve the delta report's `unchanged` entries (409
    /// `resync_required`): nothing was stored, send the same report in full.
    Resync(String),
    /// The collector already had it (409 `duplicate_report`, a resend after a lost answer): done.
    AlreadyReceived,
    /// The collector holds a newer report from this host and will never store this one (409
    /// `out_of_order`).
    Superseded(String),
    /// Try again later: network error, timeout, 5xx, 429, or an answer that is not the collector's
    /// acknowledgement of this report (a proxy's page, a redirect, a 2xx from something else).
    Retry(String),
    /// The node key is unknown or rotated: keep the report, re-enrol.
    Unauthorized(String),
    /// The collector refused this report as invalid: never resend it.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

/// Why an enrolment did not yield a node key.
#[derive(Debug)]
pub enum EnrollError {
    /// The request never reached the collector (connection or TLS handshake failed).
    Unreachable(String),
    /// No answer, or one that was cut off or unreadable, or a 5xx: the collector may have
    /// enrolled the host, so a retry must reuse the same enrolment nonce.
    NoAnswer(String),
    /// The collector's own refusal (a 4xx with its JSON error): nothing was enrolled.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
}

impl std::fmt::Display for EnrollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnrollError::Unreachable(m) | EnrollError::NoAnswer(m) => write!(f, "{m}"),
            EnrollError::Refused {
                status,
                code,
                message,
            } => write!(
                f,
                "collector refused the enrolment ({status} {code}): {message}"
            ),
        }
    }
}

/// Whether two report ids name the same UUID (case, braces, `urn:uuid:` and hyphens aside).
pub fn same_report_id(sent: &str, answered: &str) -> bool {
    match (uuid::Uuid::parse_str(sent), uuid::Uuid::parse_str(answered)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The start of an answer body, safe for one log field: control and bidi-override characters
/// escaped, so an answer cannot forge log lines or reorder a terminal's text.
fn excerpt(body: &str) -> String {
    let mut out = String::new();
    for c in body.chars().take(160) {
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An HTTP client for one collector.
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base_url`, trusting only `ca_file` when given.
    pub fn new(
        base_url: &str,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("vigie-agent/", env!("CARGO_PKG_VERSION")))
            // A redirect is never the collector's answer: following it would resend the node key
            // and the report somewhere else, and a 3xx must keep the report spooled.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("CA file {}: cannot read", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("CA file {}: not a PEM certificate", ca.display()))?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
        }
        Ok(Client {
            base: base_url.trim_end_matches('/').to_string(),
            http: b.build().context("cannot build HTTP client")?,
        })
    }

    /// Enrol and return the node key. `nonce` (a UUID the agent persisted before sending) lets the
    /// collector answer a repeated request after a lost answer instead of refusing it.
    pub async fn enroll(
        &self,
        secret: &str,
        host: &HostIdentity,
        interval: u64,
        current_key: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<String, EnrollError> {
        let url = format!("{}/api/v1/enroll", self.base);
        let mut body = serde_json::json!({"enroll_secret": secret, "host": host, "interval_seconds": interval});
        if let Some(n) = nonce {
            body["enrollment_nonce"] = serde_json::Value::from(n);
        }
        let mut req = self.http.post(&url).json(&body);
        // Re-enrolling an enrolled machine needs its current node key (or an admin's permission).
        if let Some(k) = current_key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                EnrollError::Unreachable(format!("cannot reach the collector at {url}: {e:#}"))
            } else {
                EnrollError::NoAnswer(format!("no answer from the collector at {url}: {e:#}"))
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| {
            EnrollError::NoAnswer(format!(
                "the collector's answer ({status}) was cut off: {e}"
            ))
        })?;
        let v = serde_json::from_str::<serde_json::Value>(&text).ok();
        if (200..300).contains(&status) {
            return v
                .as_ref()
                .and_then(|v| v["node_key"].as_str())
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .ok_or_else(|| {
                    EnrollError::NoAnswer(format!(
                        "the collector's enrolment answer ({status}) holds no node key: {}",
                        excerpt(&text)
                    ))
                });
        }
        let code = v
            .as_ref()
            .and_then(|v| v["error"]["code"].as_str())
            .map(str::to_string);
        match code {
            Some(code) if (400..500).contains(&status) => Err(EnrollError::Refused {
                status,
                code,
                message: excerpt(&error_message(&text)),
            }),
            _ => Err(EnrollError::NoAnswer(format!(
                "unexpected enrolment answer {status} from {url}: {}",
                excerpt(&error_message(&text))
            ))),
        }
    }

    /// Deliver one report body whose id is `report_id`: compressed with zstd, or as it is when
    /// `plain` (for a collector that predates compressed bodies).
    pub async fn deliver(
        &self,
        node_key: &str,
        report_id: &str,
        body: Vec<u8>,
        plain: bool,
    ) -> Delivery {
        let url = format!("{}/api/v1/reports", self.base);
        let mut req = self
            .http
            .post(&url)
            .bearer_auth(node_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if plain {
            req = req.body(body);
        } else {
            match compress(&body) {
                Ok(b) => {
                    req = req
                        .header(reqwest::header::CONTENT_ENCODING, ENCODING)
                        .body(b)
                }
                Err(e) => return Delivery::Retry(format!("cannot compress the report: {e}")),
            }
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Delivery::Retry(format!("cannot reach {url}: {e}")),
        };
        let status = resp.status().as_u16();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) => {
                return Delivery::Retry(format!("answer {status} from {url} was cut off: {e}"))
            }
        };
        judge_delivery(status, &text, report_id)
    }
}

/// The `Content-Encoding` of what [`compress`] makes.
pub const ENCODING: &str = "gzip";

/// gzip at flate2's default level: a delta report is mostly hashes, a full one mostly text; gzip
/// and zstd give within a few percent of each other on both (docs/benchmarks.md), and gzip's
/// pure-Rust encoder builds for every target the agent supports.
pub fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3 + 64),
        flate2::Compression::default(),
    );
    e.write_all(body)?;
    e.finish()
}

impl Client {
    /// Upload evidence the collector listed as `missing_evidence` (`POST
    /// /api/v1/reports/evidence`). `Err((final, reason))`: `final` when the collector refused the
    /// items with its own JSON error (sending them again would not help), otherwise try later.
    pub async fn upload_evidence(
        &self,
        node_key: &str,
        items: &[vigie_checks::Evidence],
    ) -> Result<(), (bool, String)> {
        let url = format!("{}/api/v1/reports/evidence", self.base);
        let body = serde_json::to_vec(&serde_json::json!({ "evidence": items }))
            .map_err(|e| (true, e.to_string()))?;
        let body =
            compress(&body).map_err(|e| (false, format!("cannot compress evidence: {e}")))?;
        let resp = self
            .http
            .post(&url)
            .bearer_auth(node_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, ENCODING)
            .body(body)
            .send()
            .await
            .map_err(|e| (false, format!("cannot reach {url}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v = serde_json::from_str::<serde_json::Value>(&text).ok();
        if status == 200 && v.as_ref().is_some_and(|v| v["stored"].is_u64()) {
            return Ok(());
        }
        let own_refusal = (400..500).contains(&status)
            && ![401, 403, 408, 429].contains(&status)
            && v.as_ref().is_some_and(|v| v["error"]["code"].is_string());
        Err((
            own_refusal,
            format!(
                "evidence upload answered {status}: {}",
                excerpt(&error_message(&text))
            ),
        ))
    }
}

/// Map the collector's answer to a delivery outcome. Only the collector's own acknowledgement of
/// this very report lets it leave the spool.
pub fn judge_delivery(status: u16, text: &str, report_id: &str) -> Delivery {
    let v = serde_json::from_str::<serde_json::Value>(text).ok();
    let code = v
        .as_ref()
        .and_then(|v| v["error"]["code"].as_str())
        .map(str::to_string);
    // The 409 bodies name the report in their message only; when a `report_id` field is present
    // (top level or in `error`) it must be this report's.
    let names_this_report = || {
        let v = v.as_ref();
        [
            v.and_then(|v| v["report_id"].as_str()),
            v.and_then(|v| v["error"]["report_id"].as_str()),
        ]
        .into_iter()
        .flatten()
        .all(|id| same_report_id(report_id, id))
    };
    let not_ours = |what: &str| {
        Delivery::Retry(format!(
            "answer {status} is not a Vigie collector's acknowledgement of report {report_id} \
             ({what}; check collector.url and any proxy): {}",
            excerpt(text)
        ))
    };
    match status {
        202 => {
            let Some(v) = v.as_ref() else {
                return not_ours("body is not JSON");
            };
            if v["status"].as_str() != Some("accepted") {
                return not_ours("no \"status\": \"accepted\"");
            }
            match v["report_id"].as_str() {
                Some(id) if same_report_id(report_id, id) => Delivery::Accepted {
                    missing_evidence: v["missing_evidence"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|h| h.as_str())
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
                Some(_) => not_ours("it names another report_id"),
                None => not_ours("it names no report_id"),
            }
        }
        409 if code.as_deref() == Some("duplicate_report") && names_this_report() => {
            Delivery::AlreadyReceived
        }
        409 if code.as_deref() == Some("resync_required") && names_this_report() => {
            Delivery::Resync(excerpt(&error_message(text)))
        }
        409 if code.as_deref() == Some("out_of_order") && names_this_report() => {
            Delivery::Superseded(excerpt(&error_message(text)))
        }
        401 | 403 if code.as_deref().is_some_and(|c| c != "wrong_host") => {
            Delivery::Unauthorized(excerpt(&error_message(text)))
        }
        // A refusal is final only when the collector itself judged this report invalid (a
        // known error code): a proxy's 404/407/413 or a wrong URL must not drain the spool.
        400..=499 if code.as_deref().is_some_and(|c| FINAL_CODES.contains(&c)) => {
            Delivery::Refused {
                status,
                code: code.unwrap_or_default(),
                message: excerpt(&error_message(text)),
            }
        }
        429 | 500..=599 => Delivery::Retry(format!(
            "collector answered {status}: {}",
            excerpt(&error_message(text))
        )),
        _ => not_ours("unexpected status"),
    }
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "9d3c2b7e-3f5e-4f8e-9a52-4c1b1f0e7a10";

    #[test]
    fn only_the_collectors_acknowledgement_of_this_report_counts() {
        let ok = format!(r#"{{"report_id": "{ID}", "status": "accepted", "transitions": 0}}"#);
        let accepted = Delivery::Accepted {
            missing_evidence: vec![],
        };
        assert_eq!(judge_delivery(202, &ok, ID), accepted);
        let missing =
            format!(r#"{{"report_id": "{ID}", "status": "accepted", "missing_evidence": ["ab"]}}"#);
        assert_eq!(
            judge_delivery(202, &missing, ID),
            Delivery::Accepted {
                missing_evidence: vec!["ab".into()]
            }
        );
        // The same UUID spelt another way is the same report.
        let upper = format!(
            r#"{{"report_id": "{{{}}}", "status": "accepted"}}"#,
            ID.to_uppercase()
        );
        assert_eq!(judge_delivery(202, &upper, ID), accepted);
        let simple = format!(
            r#"{{"report_id": "{}", "status": "accepted"}}"#,
            ID.replace('-', "")
        );
        assert_eq!(judge_delivery(202, &simple, ID), accepted);
        let urn = format!(r#"{{"report_id": "urn:uuid:{ID}", "status": "accepted"}}"#);
        assert_eq!(judge_delivery(202, &urn, ID), accepted);
        for (status, body) in [
            (200, "<html>ok</html>".to_string()),
            (200, ok.clone()),
            (202, "{}".into()),
            (202, "accepted".into()),
            (
                202,
                r#"{"report_id": "00000000-0000-4000-8000-000000000000", "status": "accepted"}"#
                    .into(),
            ),
            (202, format!(r#"{{"report_id": "{ID}", "status": "queued"}}"#)),
            (204, String::new()),
            (301, String::new()),
            (302, "<a href=/login>".into()),
            (404, "<html>not found</html>".into()),
            (409, "conflict".into()),
            (
                409,
                r#"{"error": {"code": "duplicate_report", "report_id": "00000000-0000-4000-8000-000000000000"}}"#
                    .into(),
            ),
        ] {
            assert!(
                matches!(judge_delivery(status, &body, ID), Delivery::Retry(_)),
                "{status} {body} must keep the report spooled"
            );
        }
    }

    #[test]
    fn the_collectors_409s_end_a_reports_journey() {
        let dup = r#"{"error": {"code": "duplicate_report", "message": "already received"}}"#;
        assert_eq!(judge_delivery(409, dup, ID), Delivery::AlreadyReceived);
        let dup_named =
            format!(r#"{{"error": {{"code": "duplicate_report", "report_id": "{ID}"}}}}"#);
        assert_eq!(
            judge_delivery(409, &dup_named, ID),
            Delivery::AlreadyReceived
        );
        let old = r#"{"error": {"code": "out_of_order", "message": "older"}}"#;
        assert_eq!(
            judge_delivery(409, old, ID),
            Delivery::Superseded("older".into())
        );
        let resync = r#"{"error": {"code": "resync_required", "message": "send it in full"}}"#;
        assert_eq!(
            judge_delivery(409, resync, ID),
            Delivery::Resync("send it in full".into())
        );
        let bad = r#"{"error": {"code": "invalid_report", "message": "bad"}}"#;
        assert!(matches!(
            judge_delivery(422, bad, ID),
            Delivery::Refused { status: 422, .. }
        ));
        let key = r#"{"error": {"code": "unauthorized", "message": "re-enrol"}}"#;
        assert!(matches!(
            judge_delivery(401, key, ID),
            Delivery::Unauthorized(_)
        ));
    }

    #[test]
    fn logged_excerpts_cannot_forge_lines_or_terminal_codes() {
        let e = excerpt("a\nb\x1b[31mc\u{202e}d");
        assert!(
            !e.contains('\n') && !e.contains('\x1b') && !e.contains('\u{202e}'),
            "{e}"
        );
        assert_eq!(excerpt(&"x".repeat(1000)).len(), 160);
    }
}
