//! Validating a report before it reaches the store: UTF-8, parse, schema version, sizes, check
//! names, timestamps and the host's identity, and the one spelling of its id. Every refusal carries
//! a precise reason that never repeats a refused value raw (values are quoted with `{:?}`, which
//! escapes control characters), so refusals are safe to log and to answer.

use chrono::{DateTime, Utc};
use vigie_checks::wire::{
    check_line, Report, WireEntry, WireEvidence, WireReport, MAX_IDENTITY_FIELD, SCHEMA_DELTA,
    SCHEMA_VERSION,
};

use crate::auth::NodeIdentity;

/// Most results in one report.
pub const MAX_RESULTS: usize = 64;
/// Most evidence items per result.
pub const MAX_EVIDENCE: usize = 32;
/// Longest summary, in bytes.
pub const MAX_SUMMARY: usize = 2048;
/// Longest host identity field (hostname, os, kernel …), in bytes.
pub const MAX_HOST_FIELD: usize = MAX_IDENTITY_FIELD;
/// Longest evidence source (a path or an argv), in bytes: Linux's PATH_MAX.
pub const MAX_SOURCE: usize = 4096;
/// Furthest in the future `collected_at` may ever be, whatever `fleet.max_clock_skew_seconds` says.
pub const MAX_SKEW_CAP_S: i64 = 86_400;
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
    #[error("unsupported schema version {got}; this collector accepts {SCHEMA_VERSION} and {SCHEMA_DELTA}")]
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

/// The one spelling of a report id: a UUID in any of its spellings (upper case, braces,
/// `urn:uuid:`, without hyphens) becomes lower-case hyphenated, so de-duplication is by identity,
/// not by string. `None` when `id` is not a UUID.
pub fn canonical_report_id(id: &str) -> Option<String> {
    uuid::Uuid::parse_str(id)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// True for 64 hexadecimal digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check one evidence item (sent in full) of `results[i].evidence[j]`.
pub fn check_evidence(e: &vigie_checks::Evidence, at: &str) -> Result<(), Rejection> {
    if !is_sha256_hex(&e.sha256) {
        return Err(Rejection::Invalid(format!(
            "{at}.sha256 is not 64 hex digits"
        )));
    }
    if e.source.is_empty() || e.source.len() > MAX_SOURCE {
        return Err(Rejection::Invalid(format!(
            "{at}.source is {} bytes; 1 to {MAX_SOURCE} allowed",
            e.source.len()
        )));
    }
    if e.excerpt.len() > MAX_EXCERPT {
        return Err(Rejection::Invalid(format!(
            "{at}.excerpt is {} bytes; at most {MAX_EXCERPT}",
            e.excerpt.len()
        )));
    }
    Ok(())
}

/// Parse and validate `body` from `node`: a full report (schema 1) or a delta report (schema 2),
/// both returned as a [`WireReport`] (a schema 1 report holds no `unchanged` entry and no evidence
/// reference). The returned report's `report_id` and `unchanged` entries' `since` are canonical
/// ([`canonical_report_id`]), and their `result_sha256` lower case.
pub fn validate(
    body: &[u8],
    node: &NodeIdentity,
    limits: &Limits,
) -> Result<WireReport, Rejection> {
    // JSON is UTF-8 (RFC 8259 §8.1): a body that is not is malformed, wherever the bad byte is
    // (serde_json skips the contents of strings it ignores without checking them).
    if let Err(e) = std::str::from_utf8(body) {
        return Err(Rejection::Malformed(format!(
            "the body is not valid UTF-8 (first invalid byte at offset {})",
            e.valid_up_to()
        )));
    }
    // The schema version is checked before the full shape, so an agent from the future gets
    // "unsupported schema" rather than a confusing field error.
    #[derive(serde::Deserialize)]
    struct Head {
        schema: Option<u32>,
    }
    let head: Head =
        serde_json::from_slice(body).map_err(|e| Rejection::Malformed(e.to_string()))?;
    let mut report: WireReport = match head.schema {
        Some(SCHEMA_VERSION) => {
            let full: Report =
                serde_json::from_slice(body).map_err(|e| Rejection::Invalid(e.to_string()))?;
            WireReport::from_full(&full)
        }
        Some(SCHEMA_DELTA) => {
            serde_json::from_slice(body).map_err(|e| Rejection::Invalid(e.to_string()))?
        }
        Some(got) => return Err(Rejection::Schema { got }),
        None => return Err(Rejection::Invalid("missing field `schema`".into())),
    };
    report.report_id = canonical_report_id(&report.report_id).ok_or_else(|| {
        // Quoted (escaped) and cut: the refusal is logged.
        let shown: String = report.report_id.chars().take(64).collect();
        Rejection::Invalid(format!("report_id {shown:?} is not a UUID"))
    })?;
    // Identity first: nothing below may log or echo a field that is not clean.
    report
        .host
        .validate("host")
        .map_err(|e| Rejection::Invalid(e.to_string()))?;
    check_line(
        "agent_version",
        &report.agent_version,
        MAX_HOST_FIELD,
        false,
    )
    .map_err(|e| Rejection::Invalid(e.to_string()))?;
    if report.host.machine_id != node.machine_id {
        return Err(Rejection::WrongHost {
            got: report.host.machine_id.clone(),
            want: node.machine_id.clone(),
        });
    }
    let ahead = (report.collected_at - limits.now).num_seconds();
    let max_skew_s = limits.max_skew_s.min(MAX_SKEW_CAP_S);
    if ahead > max_skew_s {
        return Err(Rejection::FarFuture {
            at: report.collected_at.to_rfc3339(),
            ahead_s: ahead,
            max_s: max_skew_s,
        });
    }
    if report.collected_at.timestamp() < 0 {
        return Err(Rejection::Invalid(format!(
            "collected_at {} is before 1970",
            report.collected_at.to_rfc3339()
        )));
    }
    if (limits.now - report.collected_at).num_days() > limits.max_age_days {
        return Err(Rejection::TooOld {
            at: report.collected_at.to_rfc3339(),
            max_days: limits.max_age_days,
        });
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
    for (i, entry) in report.results.iter_mut().enumerate() {
        let check = entry.check().to_string();
        if vigie_checks::find(&check).is_none() {
            return Err(Rejection::UnknownCheck(check));
        }
        if !seen.insert(check.clone()) {
            return Err(Rejection::Invalid(format!(
                "results[{i}]: check {check:?} appears twice"
            )));
        }
        let r = match entry {
            WireEntry::Unchanged(u) => {
                u.since = canonical_report_id(&u.since).ok_or_else(|| {
                    let shown: String = u.since.chars().take(64).collect();
                    Rejection::Invalid(format!("results[{i}].since {shown:?} is not a UUID"))
                })?;
                if !is_sha256_hex(&u.result_sha256) {
                    return Err(Rejection::Invalid(format!(
                        "results[{i}].result_sha256 is not 64 hex digits"
                    )));
                }
                u.result_sha256.make_ascii_lowercase();
                continue;
            }
            WireEntry::Full(r) => r,
        };
        // One line, bounded: summaries are shown in tables, logs and reports.
        check_line(
            &format!("results[{i}].summary"),
            &r.summary,
            MAX_SUMMARY,
            true,
        )
        .map_err(|e| Rejection::Invalid(e.to_string()))?;
        if r.evidence.len() > MAX_EVIDENCE {
            return Err(Rejection::Invalid(format!(
                "results[{i}] has {} evidence items; at most {MAX_EVIDENCE}",
                r.evidence.len()
            )));
        }
        for (j, e) in r.evidence.iter().enumerate() {
            let at = format!("results[{i}].evidence[{j}]");
            match e {
                WireEvidence::Full(e) => check_evidence(e, &at)?,
                WireEvidence::Known(k) => {
                    if !is_sha256_hex(&k.sha256) {
                        return Err(Rejection::Invalid(format!(
                            "{at}.sha256 is not 64 hex digits"
                        )));
                    }
                }
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
                body("2026-11-24T10:00:00Z", "mfa", "m1", 3).into_bytes(),
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

    #[test]
    fn the_report_id_is_stored_in_one_spelling() {
        let want = "5f0c8a2e-0d7e-4c1e-9a57-1f2a3b4c5d6e";
        for spelling in [
            want,
            "5F0C8A2E-0D7E-4C1E-9A57-1F2A3B4C5D6E",
            "{5f0c8a2e-0d7e-4c1e-9a57-1f2a3b4c5d6e}",
            "urn:uuid:5f0c8a2e-0d7e-4c1e-9a57-1f2a3b4c5d6e",
            "5f0c8a2e0d7e4c1e9a571f2a3b4c5d6e",
        ] {
            let b = body("2026-11-24T10:00:00Z", "mfa", "m1", 1).replace(want, spelling);
            let r = validate(b.as_bytes(), &node(), &limits()).unwrap();
            assert_eq!(r.report_id, want, "{spelling}");
        }
        let b = body("2026-11-24T10:00:00Z", "mfa", "m1", 1).replace(want, "5f0c8a2e-0d7e");
        let e = validate(b.as_bytes(), &node(), &limits()).unwrap_err();
        assert_eq!(e.code(), "invalid_report");
    }

    #[test]
    fn hostile_fields_are_refused_before_anything_else_sees_them() {
        let good = body("2026-11-24T10:00:00Z", "mfa", "m1", 1);
        let refused = |b: String| validate(b.as_bytes(), &node(), &limits()).unwrap_err();
        // (replace this, with that, expected code, words of the message)
        let cases = [
            (
                r#""hostname":"h""#,
                r#""hostname":"h\nFAKE level=ERROR""#,
                "invalid_report",
                "host.hostname contains U+000A",
            ),
            (
                r#""hostname":"h""#,
                r#""hostname":"\u001b[31mh""#,
                "invalid_report",
                "host.hostname contains U+001B",
            ),
            (
                r#""hostname":"h""#,
                r#""hostname":"h\u202egpj""#,
                "invalid_report",
                "host.hostname contains U+202E",
            ),
            (
                r#""hostname":"h""#,
                r#""hostname":"""#,
                "invalid_report",
                "host.hostname must not be empty",
            ),
            (
                r#""os":"debian""#,
                r#""os":"deb\u0007ian""#,
                "invalid_report",
                "host.os contains U+0007",
            ),
            (
                r#""agent_version":"0.1.0""#,
                r#""agent_version":"0.1\r""#,
                "invalid_report",
                "agent_version contains U+000D",
            ),
            // The machine-id is checked before it is compared with the node key's.
            (
                r#""machine_id":"m1""#,
                r#""machine_id":"m1\u001b""#,
                "invalid_report",
                "host.machine_id contains U+001B",
            ),
            (
                r#""summary":"ok""#,
                r#""summary":"ok\nsecond line""#,
                "invalid_report",
                "results[0].summary contains U+000A",
            ),
            (
                r#""summary":"ok""#,
                r#""summary":"ok","score":1"#,
                "invalid_report",
                "unknown field `score`",
            ),
            (
                r#""evidence":[]"#,
                r#""evidence":[{"kind":"file","source":"/x","excerpt":"","sha256":"00","extra":1}]"#,
                "invalid_report",
                "unknown field `extra`",
            ),
            (
                r#""collected_at":"2026-11-24T10:00:00Z""#,
                r#""collected_at":"1969-12-31T23:59:59Z""#,
                "invalid_report",
                "is before 1970",
            ),
            (
                r#""collected_at":"2026-11-24T10:00:00Z""#,
                r#""collected_at":"2026-11-24T10:00:00Z","extra":true"#,
                "invalid_report",
                "unknown field `extra`",
            ),
        ];
        for (from, to, code, words) in cases {
            let b = good.replace(from, to);
            assert_ne!(b, good, "{to}: the case did not apply");
            let e = refused(b);
            assert_eq!(e.code(), code, "{to}: {e}");
            assert!(e.to_string().contains(words), "{to}: {e}");
        }
        let long_source = "/".repeat(MAX_SOURCE + 1);
        let b = good.replace(
            r#""evidence":[]"#,
            &format!(r#""evidence":[{{"kind":"file","source":"{long_source}","excerpt":"","sha256":"{}"}}]"#, "0".repeat(64)),
        );
        assert!(refused(b)
            .to_string()
            .contains("evidence[0].source is 4097 bytes"));
        // Invalid UTF-8 anywhere, even inside a string the first pass skips, is malformed.
        let mut b = good.clone().into_bytes();
        let at = good.find("debian").unwrap();
        b[at] = 0xff;
        let e = validate(&b, &node(), &limits()).unwrap_err();
        assert_eq!(e.code(), "malformed_json", "{e}");
        assert!(e.to_string().contains(&format!("offset {at}")), "{e}");
    }

    #[test]
    fn the_future_is_capped_at_a_day_whatever_the_configured_skew() {
        let l = Limits {
            max_skew_s: 10 * 86_400,
            ..limits()
        };
        let b = body("2026-11-25T10:00:01Z", "mfa", "m1", 1);
        assert_eq!(
            validate(b.as_bytes(), &node(), &l).unwrap_err().code(),
            "far_future"
        );
        let b = body("2026-11-25T09:59:00Z", "mfa", "m1", 1);
        validate(b.as_bytes(), &node(), &l).unwrap();
    }
}
