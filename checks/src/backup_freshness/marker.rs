//! Parser for success markers written by backup jobs (`kind = "timestamp_file"`).
//!
//! Contract: on success only, the job writes (atomically) either one RFC 3339 timestamp with a zone
//! (`date -Is`, `date --rfc-3339=seconds`) or a JSON object
//! `{"finished_at": "<RFC 3339>", "status": "ok", "verified_at": "<RFC 3339>"}` where `status`
//! and `verified_at` are optional. The content is trusted, not the file's mtime.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// Why a marker could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("{0:?} is not an RFC 3339 timestamp with a zone (e.g. 2026-11-24T02:10:03+01:00)")]
    Timestamp(String),
    #[error("not a marker JSON object {{\"finished_at\": …, \"status\": …}}: {0}")]
    Json(String),
}

/// What the marker says about the last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub finished_at: DateTime<FixedOffset>,
    /// `status` from the JSON form; `None` for a bare timestamp (written on success only).
    pub status: Option<String>,
    /// `verified_at` from the JSON form, when the job records a verification.
    pub verified_at: Option<DateTime<FixedOffset>>,
}

impl Marker {
    /// True unless the marker records a status other than `ok`.
    pub fn is_success(&self) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("ok"))
    }
}

#[derive(Deserialize)]
struct RawMarker {
    finished_at: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    verified_at: Option<String>,
}

fn parse_time(s: &str) -> Result<DateTime<FixedOffset>, ParseError> {
    DateTime::parse_from_rfc3339(s.trim()).map_err(|_| ParseError::Timestamp(s.trim().to_string()))
}

/// Parse a marker file's content.
pub fn parse_marker(text: &str) -> Result<Marker, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    if text.starts_with('{') {
        let raw: RawMarker =
            serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
        return Ok(Marker {
            finished_at: parse_time(&raw.finished_at)?,
            status: raw.status,
            verified_at: raw.verified_at.as_deref().map(parse_time).transpose()?,
        });
    }
    let first = text.lines().next().unwrap_or_default();
    Ok(Marker {
        finished_at: parse_time(first)?,
        status: None,
        verified_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_timestamps_from_date() {
        // `date -Is` and `date --rfc-3339=seconds` on Debian 12.
        let m = parse_marker("2026-11-24T02:10:03+01:00\n").unwrap();
        assert_eq!(m.finished_at.naive_utc().to_string(), "2026-11-24 01:10:03");
        assert!(m.is_success());
        let m = parse_marker("2026-11-24 02:10:03+01:00\n").unwrap();
        assert_eq!(m.finished_at.naive_utc().to_string(), "2026-11-24 01:10:03");
        let m = parse_marker("2026-11-24T01:10:03.250Z").unwrap();
        assert_eq!(
            m.finished_at.naive_utc().to_string(),
            "2026-11-24 01:10:03.250"
        );
    }

    #[test]
    fn json_form_with_status() {
        let m = parse_marker(
            r#"{"finished_at": "2026-11-24T02:10:03+01:00", "status": "ok", "tool": "pg_dump", "verified_at": "2026-11-24T02:30:00+01:00"}"#,
        )
        .unwrap();
        assert!(m.is_success());
        assert!(m.verified_at.is_some());
        let m =
            parse_marker(r#"{"finished_at": "2026-11-24T02:10:03Z", "status": "failed"}"#).unwrap();
        assert!(!m.is_success());
        assert_eq!(m.status.as_deref(), Some("failed"));
    }

    #[test]
    fn refuses_what_it_cannot_date() {
        assert_eq!(parse_marker(" \n"), Err(ParseError::Empty));
        // No zone: which hour is it? Refused rather than guessed.
        assert!(matches!(
            parse_marker("2026-11-24T02:10:03"),
            Err(ParseError::Timestamp(_))
        ));
        assert!(matches!(
            parse_marker("1764000000"),
            Err(ParseError::Timestamp(_))
        ));
        assert!(matches!(
            parse_marker(r#"{"status": "ok"}"#),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_marker(r#"{"finished_at": "last night"}"#),
            Err(ParseError::Timestamp(_))
        ));
    }
}
