//! Risk register, improvement plan and exceptions ("dérogations"): the domain types and rules,
//! as plain functions over plain data. SQL lives in `store::{risks, actions, exceptions, webhooks}`;
//! HTTP in `http_risk`. Arrows: `http_risk`/`cli`/`background` → `risk` → `store`.
//!
//! - `matrix` — likelihood × impact → level.
//! - `fleet` — risks derived from the fleet's check results (shipped scenarios, host criticality).
//! - `fleet_note` — the history sentence of a fleet risk, as a value (written and parsed back).
//! - `register` — manual risks: creation, patches, CSV import, field-by-field history.
//! - `actions` — P1/P2/P3 actions: due dates, overdue, the evidence-and-approver rule for closing.
//! - `exceptions` — scopes, states, one-year limit, and `apply_exceptions`.
//! - `feeds` — filters, CSV, Atom, ETag.
//! - `webhooks` — notifications, payloads, the outbox delivery loop with backoff.
//! - `background` — the scheduled recompute of fleet risks and notification scan.
//! - `gauges` — the `/metrics` series.
//! - `cli` — `risk`, `action` and `exception` subcommands.

pub mod actions;
pub mod background;
pub mod cli;
pub mod config;
pub mod exceptions;
pub mod feeds;
pub mod fleet;
pub mod fleet_note;
pub mod gauges;
pub mod identity_fleet;
pub mod matrix;
pub mod ops;
pub mod register;
pub mod webhooks;

use chrono::{NaiveDate, TimeZone, Utc};
use serde::{Serialize, Serializer};

/// Errors of the risk domain: bad input, named precisely.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    /// A field has a value outside its domain.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (or CSV column / query parameter).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
    /// Closing an action was refused.
    #[error("{0}")]
    CloseRefused(String),
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl RiskError {
    /// An `Invalid` error.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> RiskError {
        RiskError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The stored / wire name.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
            /// Parse a stored / wire name; the error names `field` and the accepted values.
            #[allow(dead_code)]
            pub fn parse_field(s: &str, field: &str) -> Result<$name, RiskError> {
                let t = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|v| v.as_str() == t).ok_or_else(|| {
                    RiskError::invalid(field, format!("{s:?} is not one of {}",
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")))
                })
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// A risk's level, from the matrix.
    Level { Low = "low", Medium = "medium", High = "high", Critical = "critical" }
);
string_enum!(
    /// How a risk is treated (governance manual §02).
    Treatment { Reduce = "reduce", Accept = "accept", Transfer = "transfer", Avoid = "avoid" }
);
string_enum!(
    /// Whether a risk is still in the register's working set.
    RiskStatus { Open = "open", Closed = "closed" }
);
string_enum!(
    /// Where a risk comes from.
    Source {
        /// Entered by a person (CLI, API, CSV import).
        Manual = "manual",
        /// Derived from the fleet's results for one check.
        Fleet = "fleet"
    }
);

/// Serialize Unix seconds as RFC 3339.
pub fn ser_ts<S: Serializer>(ts: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::store::hosts::rfc3339(*ts))
}

/// Serialize optional Unix seconds as RFC 3339 or null.
pub fn ser_opt_ts<S: Serializer>(ts: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ts {
        Some(t) => ser_ts(t, s),
        None => s.serialize_none(),
    }
}

/// The UTC date of Unix time `now`.
pub fn today(now: i64) -> NaiveDate {
    Utc.timestamp_opt(now, 0)
        .single()
        .map(|d| d.date_naive())
        .unwrap_or_default()
}

/// Unix time of midnight UTC starting `d`.
pub fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or(0)
}

/// The dates the register accepts: nothing it records predates Unix time, and a five-digit year
/// is a typo.
fn sane_date(d: NaiveDate, s: &str, field: &str) -> Result<NaiveDate, RiskError> {
    let (lo, hi) = (
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN),
        NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX),
    );
    if d < lo || d > hi {
        return Err(RiskError::invalid(
            field,
            format!("{s:?} is out of range (1970-01-01 to 9999-12-31)"),
        ));
    }
    Ok(d)
}

/// Parse `YYYY-MM-DD` between 1970 and 9999; the error names `field`.
pub fn parse_date(s: &str, field: &str) -> Result<NaiveDate, RiskError> {
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| RiskError::invalid(field, format!("{s:?} is not a date (YYYY-MM-DD)")))?;
    sane_date(d, s, field)
}

/// Parse an instant: RFC 3339, or `YYYY-MM-DD` (midnight UTC); the error names `field`.
pub fn parse_instant(s: &str, field: &str) -> Result<i64, RiskError> {
    let t = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        sane_date(d.with_timezone(&Utc).date_naive(), s, field)?;
        return Ok(d.timestamp());
    }
    parse_date(t, field)
        .map(midnight)
        .map_err(|_| RiskError::invalid(field, format!("{s:?} is not RFC 3339 or YYYY-MM-DD")))
}

/// Match `name` against a glob with `*` (any run) and `?` (one character), case-insensitively
/// (hostnames are case-insensitive).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_matches("db-*", "DB-01"));
        assert!(glob_matches("*", "x"));
        assert!(glob_matches("web-?", "web-1"));
        assert!(!glob_matches("web-?", "web-12"));
        assert!(!glob_matches("db-*", "web-db-1"));
        assert!(glob_matches("*-db-*", "web-db-1"));
    }

    #[test]
    fn instants_and_dates() {
        assert_eq!(parse_instant("1970-01-02", "x").unwrap(), 86_400);
        assert_eq!(parse_instant("1970-01-01T01:00:00Z", "x").unwrap(), 3600);
        for bad in ["1969-12-31", "1969-12-31T23:59:59Z", "+10000-01-01"] {
            let e = parse_instant(bad, "due").unwrap_err().to_string();
            assert!(e.starts_with("due:"), "{bad}: {e}");
        }
        assert!(parse_date("1969-07-20", "due")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        let e = parse_instant("tomorrow", "since").unwrap_err().to_string();
        assert!(e.starts_with("since:"), "{e}");
        assert_eq!(today(86_399).to_string(), "1970-01-01");
    }
}
