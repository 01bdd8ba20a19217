//! Validating a report before it reaches the store: parse, schema version, sizes, check names,
//! timestamps and the host's identity. Every refusal carries a precise reason.

use chrono::{DateTime, Utc};
use vigie_checks::wire::{Report, SCHEMA_VERSION};

use crate::auth::NodeIdentity;

/// Most results in one report.
pub const MAX_RESULTS: usize = 64;
/// Most evidence items per result.
pub const MAX_EVIDENCE: usize = 32;
/// Longest summary, in bytes.
pub const MAX_SUMMARY: usize = 2048;
/// Longest host identity field (hostname, os, kernel …), in bytes.
pub const MAX_HOST_FIELD: usize = 255;
/// Longest reporting interval an agent may announce (7 days).
pub const MAX_INTERVAL_S: u64 = 7 * 86_400;
/// Most lost reports one report may announce.
pub const MAX_LOST: u64 = 1_000_000;
/// Longest evidence excerpt, in bytes.
pub const MAX_EXCERPT: usize = 8192;

/// Why a report was refused (mapped to 4xx by the HTTP layer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("unsupported schema version {got}; this collector accepts {SCHEMA_VERSION}")]
    Schema { got: u32 },
    #[error("{0}")]
    Invalid(String),
    #[error("unknown check {0:?}")]
    UnknownCheck(String),
    #[error("collected_at {at} is {ahead_s} s in the future (tolerated clock skew: {max_s} s)")]
    FarFuture {
        at: String,
        ahead_s: i64,
        max_s: i64,
    },
    #[error("collected_at {at} is older than {max_days} days")]
    TooOld { at: String, max_days: i64 },
    #[error("report is for machine {got:?} but this node key belongs to {want:?}")]
    WrongHost { got: String, want: String },
}

impl Rejection {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed_json",
            Rejection::Schema { .. } => "unsupported_schema",
            Rejection::Invalid(_) => "invalid_report",
            Rejection::UnknownCheck(_) => "unknown_check",
            Rejection::FarFuture { .. } => "far_future",
            Rejection::TooOld { .. } => "too_old",
            Rejection::WrongHost { .. } => "wrong_host",
        }
    }
}

/// Time bounds for `collected_at`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub now: DateTime<Utc>,
    pub max_skew_s: i64,
    pub max_age_days: i64,
}

/// Parse and validate `body` from `node`.
pub fn validate(body: &[u8], node: &NodeIdentity, limits: &Limits) -> Result<Report, Rejection> {
    // The schema version is checked before the full shape, so an agent from the future gets
    // "unsupported schema" rather than a confusing field error.
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<u32>,
    }
    let head: Head =
        serde_json::from_slice(body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    match head.schema {
        Some(SCHEMA_VERSION) => {}
        Some(got) => return Err(Rejection::Schema { got }),
        None => return Err(Rejection::Invalid("missing field `schema`".into())),
    }
    let report: Report =
        serde_json::from_slice(body).map_err(|e| Rejection::Invalid(e.to_string()))?;
    if uuid::Uuid::parse_str(&report.report_id).is_err() {
        return Err(Rejection::Invalid(format!(
            "report_id {:?} is not a UUID",
            report.report_id
        )));
    }
    if report.host.machine_id != node.machine_id {
        return Err(Rejection::WrongHost {
            got: report.host.machine_id.clone(),
            want: node.machine_id.clone(),
        });
    }
    let ahead = (report.collected_at - limits.now).num_seconds();
    if ahead > limits.max_skew_s {
        return Err(Rejection::FarFuture {
            at: report.collected_at.to_rfc3339(),
            ahead_s: ahead,
            max_s: limits.max_skew_s,
        });
    }
    if (limits.now - report.collected_at).num_days() > limits.max_age_days {
        return Err(Rejection::TooOld {
            at: report.collected_at.to_rfc3339(),
            max_days: limits.max_age_days,
        });
    }
    for (field, value) in [
        ("host.hostname", &report.host.hostname),
        ("host.os", &report.host.os),
        ("host.os_version", &report.host.os_version),
        ("host.kernel", &report.host.kernel),
        ("host.arch", &report.host.arch),
        ("agent_version", &report.agent_version),
    ] {
        if value.len() > MAX_HOST_FIELD || value.chars().any(char::is_control) {
            return Err(Rejection::Invalid(format!(
                "{field} must be at most {MAX_HOST_FIELD} bytes without control characters"
            )));
        }
    }
    if let Some(i) = report.interval_seconds {
        if !(1..=MAX_INTERVAL_S).contains(&i) {
            return Err(Rejection::Invalid(format!(
                "interval_seconds = {i} must be between 1 and {MAX_INTERVAL_S}"
            )));
        }
    }
    if report.lost_reports > MAX_LOST {
        return Err(Rejection::Invalid(format!(
            "lost_reports = {} is beyond {MAX_LOST}",
            report.lost_reports
        )));
    }
    if report.results.is_empty() {
        return Err(Rejection::Invalid("report has no results".into()));
    }
    if report.results.len() > MAX_RESULTS {
        return Err(Rejection::Invalid(format!(
            "{} results; at most {MAX_RESULTS} allowed",
            report.results.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in report.results.iter().enumerate() {
        if vigie_checks::find(&r.check).is_none() {
            return Err(Rejection::UnknownCheck(r.check.clone()));
        }
        if !seen.insert(r.check.as_str()) {
            return Err(Rejection::Invalid(format!(
                "results[{i}]: check {:?} appears twice",
                r.check
            )));
        }
        if r.summary.len() > MAX_SUMMARY {
            return Err(Rejection::Invalid(format!(
                "results[{i}].summary is {} bytes; at most {MAX_SUMMARY}",
                r.summary.len()
            )));
        }
        if r.evidence.len() > MAX_EVIDENCE {
            return Err(Rejection::Invalid(format!(
                "results[{i}] has {} evidence items; at most {MAX_EVIDENCE}",
                r.evidence.len()
            )));
        }
        for (j, e) in r.evidence.iter().enumerate() {
            if e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Rejection::Invalid(format!(
                    "results[{i}].evidence[{j}].sha256 is not 64 hex digits"
                )));
            }
            if e.excerpt.len() > MAX_EXCERPT {
                return Err(Rejection::Invalid(format!(
                    "results[{i}].evidence[{j}].excerpt is {} bytes; at most {MAX_EXCERPT}",
                    e.excerpt.len()
                )));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeIdentity {
        NodeIdentity {
            host_id: 1,
            machine_id: "m1".into(),
        }
    }
    fn limits() -> Limits {
        Limits {
            now: "2026-11-24T10:00:00Z".parse().unwrap(),
            max_skew_s: 300,
            max_age_days: 30,
        }
    }
    fn body(collected: &str, check: &str, machine: &str, schema: u32) -> String {
        format!(
            r#"{{"schema":{schema},"report_id":"5f0c8a2e-0d7e-4c1e-9a57-1f2a3b4c5d6e","agent_version":"0.1.0",
            "collected_at":"{collected}","host":{{"hostname":"h","machine_id":"{machine}","os":"debian",
            "os_version":"12","kernel":"6.1","arch":"x86_64"}},
            "results":[{{"check":"{check}","status":"pass","summary":"ok","facts":{{}},"evidence":[]}}]}}"#
        )
    }

    #[test]
    fn accepts_a_good_report_within_skew() {
        let r = validate(
            body("2026-11-24T10:04:00Z", "mfa", "m1", 1).as_bytes(),
            &node(),
            &limits(),
        )
        .unwrap();
        assert_eq!(r.results.len(), 1);
    }

    #[test]
    fn refuses_each_bad_input_with_its_code() {
        let l = limits();
        let cases = [
            (b"{not json".to_vec(), "malformed_json"),
            (
                body("2026-11-24T10:00:00Z", "mfa", "m1", 2).into_bytes(),
                "unsupported_schema",
            ),
            (
                body("2026-11-24T10:00:00Z", "telepathy", "m1", 1).into_bytes(),
                "unknown_check",
            ),
            (
                body("2026-11-24T10:05:01Z", "mfa", "m1", 1).into_bytes(),
                "far_future",
            ),
            (
                body("2026-10-01T10:00:00Z", "mfa", "m1", 1).into_bytes(),
                "too_old",
            ),
            (
                body("2026-11-24T10:00:00Z", "mfa", "other", 1).into_bytes(),
                "wrong_host",
            ),
            (
                body("2026-11-24T10:00:00Z", "mfa", "m1", 1)
                    .replace(
                        "\"agent_version\":\"0.1.0\"",
                        "\"interval_seconds\":9999999999,\"agent_version\":\"0.1.0\"",
                    )
                    .into_bytes(),
                "invalid_report",
            ),
            (
                body("2026-11-24T10:00:00Z", "mfa", "m1", 1)
                    .replace(
                        "\"hostname\":\"h\"",
                        &format!("\"hostname\":\"{}\"", "h".repeat(300)),
                    )
                    .into_bytes(),
                "invalid_report",
            ),
        ];
        for (b, code) in cases {
            let err = validate(&b, &node(), &l).unwrap_err();
            assert_eq!(err.code(), code, "{err}");
        }
    }
}
