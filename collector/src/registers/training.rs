//! The training register: the roster of people (who should be trained) and their course
//! completions (who was, when).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// One person of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// Stable identifier (HR number, directory id).
    pub person_id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Department.
    pub department: String,
    /// Whether the person is currently in the organisation (only active people count).
    pub active: bool,
}

/// One course completed by one person on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completion {
    /// The person, as in the roster.
    pub person_id: String,
    /// Course name, as the training provider spells it.
    pub course: String,
    /// Day of completion (UTC).
    pub completed_on: NaiveDate,
}

/// Parse a completion day: `YYYY-MM-DD`, or an RFC 3339 time (its UTC day).
pub fn parse_day(field: &str, s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc).date_naive())
        .map_err(|_| format!("{field}: {s:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_dates_and_times() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(parse_day("completed_at", "2026-03-02"), Ok(d));
        // 00:30 at +02:00 is still the 1st in UTC.
        assert_eq!(
            parse_day("completed_at", "2026-03-02T00:30:00+02:00"),
            Ok(d.pred_opt().unwrap())
        );
        assert!(parse_day("completed_at", "02/03/2026")
            .unwrap_err()
            .starts_with("completed_at"));
    }
}
