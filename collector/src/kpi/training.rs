//! Training coverage: the share of active people with a security-awareness completion in the
//! 365 days up to a date.

use std::collections::HashSet;

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::registers::training::{Completion, Person};

/// Most uncovered people listed by id (the counts stay exact).
pub const LIST_CAP: usize = 1000;

/// The training coverage KPI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingCoverage {
    /// Active people in the roster.
    pub active: usize,
    /// Active people with a counted completion in the window.
    pub covered: usize,
    /// covered / active; `None` without active people.
    pub ratio: Option<f64>,
    /// First day of the window (`on` − 364 days).
    pub window_from: NaiveDate,
    /// Last day of the window (`on`).
    pub window_to: NaiveDate,
    /// Courses that count (empty = every course).
    pub courses: Vec<String>,
    /// Active people without a counted completion, by id.
    pub uncovered: Vec<String>,
}

/// First day of the 365-day window ending on `on` (inclusive): a completion exactly 365 days old
/// no longer counts.
pub fn window_from(on: NaiveDate) -> NaiveDate {
    on.checked_sub_days(Days::new(364))
        .unwrap_or(NaiveDate::MIN)
}

/// Whether `course` counts as security awareness (`courses` empty: every course counts). Names
/// compare trimmed and case-insensitively (Unicode: "CYBERSÉCURITÉ" = "cybersécurité").
pub fn counts(course: &str, courses: &[String]) -> bool {
    let course = course.trim().to_lowercase();
    courses.is_empty() || courses.iter().any(|c| c.trim().to_lowercase() == course)
}

/// Coverage on day `on`: active people with a completion of a counted course on a day in
/// `window_from(on)..=on`, over active people.
pub fn training_coverage(
    people: &[Person],
    completions: &[Completion],
    courses: &[String],
    on: NaiveDate,
) -> TrainingCoverage {
    let from = window_from(on);
    let trained: HashSet<&str> = completions
        .iter()
        .filter(|c| c.completed_on >= from && c.completed_on <= on && counts(&c.course, courses))
        .map(|c| c.person_id.as_str())
        .collect();
    let mut active = 0;
    let mut covered = 0;
    let mut uncovered = Vec::new();
    for p in people.iter().filter(|p| p.active) {
        active += 1;
        if trained.contains(p.person_id.as_str()) {
            covered += 1;
        } else if uncovered.len() < LIST_CAP {
            uncovered.push(p.person_id.clone());
        }
    }
    uncovered.sort();
    TrainingCoverage {
        active,
        covered,
        ratio: (active > 0).then(|| covered as f64 / active as f64),
        window_from: from,
        window_to: on,
        courses: courses.to_vec(),
        uncovered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::csv_import::{read_roster, read_training};

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers")
            .join(name)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// `roster.csv`: 10 people, P009 and P010 inactive ⇒ 8 active (P001–P008).
    /// `training.csv`, counted course "Sensibilisation cybersécurité", on 2026-03-31
    /// (window 2025-04-01 ..= 2026-03-31):
    /// - P001 2026-01-15, P002 2025-06-30, P003 2025-04-01 (first day of the window) → covered
    /// - P004 2025-03-31 (365 days before: out)                                         → not
    /// - P005 only "Excel avancé" 2026-02-01 (not an awareness course)                  → not
    /// - P006 2026-04-02 (after the date)                                               → not
    /// - P007 "sensibilisation CYBERSÉCURITÉ " 2026-03-31 (case and spaces ignored; on
    ///   the date itself)                                                               → covered
    /// - P008 nothing                                                                   → not
    /// - P009 2026-01-10 but inactive                                                   → not counted
    ///
    /// covered = 4 (P001, P002, P003, P007); ratio = 4 / 8 = 0.5.
    #[test]
    fn roster_fixture_by_hand() {
        let people: Vec<Person> = read_roster(&fixture("roster.csv"))
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        let completions: Vec<Completion> = read_training(&fixture("training.csv"))
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        let courses = vec!["Sensibilisation cybersécurité".to_string()];
        let k = training_coverage(&people, &completions, &courses, day("2026-03-31"));
        assert_eq!(k.window_from, day("2025-04-01"));
        assert_eq!((k.active, k.covered), (8, 4));
        assert_eq!(k.ratio, Some(0.5));
        assert_eq!(k.uncovered, vec!["P004", "P005", "P006", "P008"]);
        // Every course counting adds P005 (Excel avancé): 5 / 8 = 0.625.
        let all = training_coverage(&people, &completions, &[], day("2026-03-31"));
        assert_eq!(all.ratio, Some(0.625));
        // On 2026-04-02, P006 counts and P003 (2025-04-01) is out: still 4 / 8 in the awareness
        // course (P001, P002, P006, P007).
        let later = training_coverage(&people, &completions, &courses, day("2026-04-02"));
        assert_eq!(later.covered, 4);
        assert!(later.uncovered.contains(&"P003".to_string()));
    }

    #[test]
    fn nobody_active_is_no_data() {
        assert_eq!(
            training_coverage(&[], &[], &[], day("2026-01-01")).ratio,
            None
        );
    }
}
