//! What a bundle covers, decided before anything is written: the period, the CIS safeguards
//! selected by `--control`, the checks that evidence them, and the per-check tallies that the
//! index, the safeguard pages and the OSCAL findings share. Small: sized by the catalogue and the
//! checks, never by the period.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::cis::catalogue::{Catalogue, Safeguard};
use crate::store::evidence_export::Scope;

/// A usage error in the request (bad date, unknown control or host): exit code 2, HTTP 400.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A safeguard's conclusion from the results at the end of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Conclusion {
    /// Every in-scope host result of every mapped check passes.
    Satisfied,
    /// At least one in-scope host result does not pass.
    NotSatisfied,
    /// Mapped checks, but no in-scope result (no data, or all not applicable).
    NoData,
    /// No Vigie check evidences this safeguard.
    NotMeasured,
}

impl Conclusion {
    /// Label for people.
    pub fn label(self) -> &'static str {
        match self {
            Conclusion::Satisfied => "satisfied",
            Conclusion::NotSatisfied => "not satisfied",
            Conclusion::NoData => "no data",
            Conclusion::NotMeasured => "not measured by Vigie",
        }
    }
}

/// Tally of a set of host results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Results `pass`.
    pub pass: u64,
    /// Results other than `not_applicable` and `excepted` (a failure an exception in force at
    /// the period's end covers is out of scope, as in the CIS score).
    pub in_scope: u64,
}

/// Tally of the results of `checks` from per-check status counts.
pub fn tally<'a>(
    counts: &BTreeMap<String, BTreeMap<String, u64>>,
    checks: impl IntoIterator<Item = &'a String>,
) -> Tally {
    let mut t = Tally::default();
    for c in checks {
        for (status, n) in counts.get(c).into_iter().flatten() {
            if status == "pass" {
                t.pass += n;
            }
            if status != "not_applicable" && status != "excepted" {
                t.in_scope += n;
            }
        }
    }
    t
}

/// The conclusion for a safeguard evidenced by `checks` with tally `t`.
pub fn conclude(checks: &[String], t: Tally) -> Conclusion {
    if checks.is_empty() {
        Conclusion::NotMeasured
    } else if t.in_scope == 0 {
        Conclusion::NoData
    } else if t.pass == t.in_scope {
        Conclusion::Satisfied
    } else {
        Conclusion::NotSatisfied
    }
}

/// One selected safeguard with its checks and conclusion.
#[derive(Debug, Clone, Serialize)]
pub struct SafeguardPlan {
    /// The catalogue entry.
    pub safeguard: Safeguard,
    /// Checks evidencing it (sorted).
    pub checks: Vec<String>,
    /// Results at the end of the period over those checks.
    pub tally: Tally,
    /// The conclusion.
    pub conclusion: Conclusion,
}

/// Everything decided before writing.
#[derive(Debug, Clone)]
pub struct Plan {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// `--control` as given.
    pub control: Option<String>,
    /// The store scope.
    pub scope: Scope,
    /// Selected safeguards, catalogue order.
    pub safeguards: Vec<SafeguardPlan>,
    /// Checks with data in scope, sorted.
    pub checks: Vec<String>,
    /// Check → safeguards it evidences (selected ones).
    pub check_safeguards: BTreeMap<String, Vec<String>>,
    /// Check → status → hosts, at the end of the period.
    pub result_counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// Check → transitions in the period.
    pub transition_counts: BTreeMap<String, u64>,
}

/// Parse `YYYY-MM-DD` for option `name`.
pub fn parse_day(name: &str, s: &str) -> Result<NaiveDate, UsageError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| UsageError(format!("{name} {s:?}: expected a date YYYY-MM-DD")))
}

/// The store scope of a period and host selection (checks are set by [`select`]).
pub fn scope(
    from: NaiveDate,
    to: NaiveDate,
    hostnames: Option<Vec<String>>,
) -> Result<Scope, UsageError> {
    if from > to {
        return Err(UsageError(format!(
            "--from {from} is after --to {to}: the period is empty"
        )));
    }
    let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp());
    let (Some(from_ts), Some(end_ts)) = (start(from), to.succ_opt().and_then(start)) else {
        return Err(UsageError(format!("period {from}..{to} is out of range")));
    };
    Ok(Scope {
        from_day: from.format("%Y-%m-%d").to_string(),
        to_day: to.format("%Y-%m-%d").to_string(),
        from_ts,
        end_ts,
        checks: None,
        hostnames,
    })
}

/// Safeguards selected by `control` (`None`: all): a control number (`"7"`) or a safeguard id
/// (`"7.3"`).
pub fn select<'c>(
    catalogue: &'c Catalogue,
    control: Option<&str>,
) -> Result<Vec<&'c Safeguard>, UsageError> {
    let Some(c) = control.map(str::trim) else {
        return Ok(catalogue.safeguards.iter().collect());
    };
    if let Some(s) = catalogue.safeguard(c) {
        return Ok(vec![s]);
    }
    if let Some(ctl) = c.parse::<u8>().ok().and_then(|n| catalogue.control(n)) {
        return Ok(catalogue
            .safeguards
            .iter()
            .filter(|s| s.control() == ctl.id)
            .collect());
    }
    Err(UsageError(format!(
        "--control {c:?}: not a CIS control (1 to 18) or safeguard id (such as 4.1); \
         see `vigie-collector cis catalogue`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rows: &[(&str, &str, u64)]) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut m: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for (c, s, n) in rows {
            m.entry(c.to_string())
                .or_default()
                .insert(s.to_string(), *n);
        }
        m
    }

    #[test]
    fn conclusions_from_tallies() {
        let c = counts(&[
            ("a", "pass", 3),
            ("a", "fail", 1),
            ("a", "not_applicable", 2),
            ("b", "pass", 5),
            ("n", "not_applicable", 4),
        ]);
        let checks = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // a + b: pass 3 + 5 = 8; in scope (3 + 1) + 5 = 9 → not satisfied.
        let ab = checks(&["a", "b"]);
        let t = tally(&c, &ab);
        assert_eq!(
            t,
            Tally {
                pass: 8,
                in_scope: 9
            }
        );
        assert_eq!(conclude(&ab, t), Conclusion::NotSatisfied);
        // b alone: 5 of 5.
        let b = checks(&["b"]);
        assert_eq!(conclude(&b, tally(&c, &b)), Conclusion::Satisfied);
        // n: only not_applicable → in scope 0 → no data; unknown check likewise.
        let n = checks(&["n", "zz"]);
        assert_eq!(conclude(&n, tally(&c, &n)), Conclusion::NoData);
        assert_eq!(conclude(&[], Tally::default()), Conclusion::NotMeasured);
        // e: 2 pass and 1 failure an exception covers → in scope 2, satisfied (on main the
        // excepted failure counted in scope: 2 of 3, not satisfied).
        let e = counts(&[("e", "pass", 2), ("e", "excepted", 1)]);
        let ce = checks(&["e"]);
        assert_eq!(
            tally(&e, &ce),
            Tally {
                pass: 2,
                in_scope: 2
            }
        );
        assert_eq!(conclude(&ce, tally(&e, &ce)), Conclusion::Satisfied);
    }

    #[test]
    fn periods_and_controls() {
        let d = |s| parse_day("--from", s).unwrap();
        let s = scope(d("2026-03-01"), d("2026-03-31"), None).unwrap();
        // 2026-03-01T00:00Z = 1772323200; end = 2026-04-01T00:00Z = 1772323200 + 31 × 86400.
        assert_eq!(s.from_ts, 1_772_323_200);
        assert_eq!(s.end_ts, 1_772_323_200 + 31 * 86_400);
        assert!(scope(d("2026-03-02"), d("2026-03-01"), None).is_err());
        assert!(parse_day("--to", "03/01/2026")
            .unwrap_err()
            .to_string()
            .contains("--to"));
        let cat = crate::cis::catalogue::catalogue();
        assert_eq!(select(cat, None).unwrap().len(), 153);
        assert_eq!(select(cat, Some("7.3")).unwrap()[0].id, "7.3");
        // Control 7 has 7 safeguards (7.1 … 7.7) in CIS v8.1.
        assert_eq!(select(cat, Some("7")).unwrap().len(), 7);
        assert!(select(cat, Some("19")).is_err());
        assert!(select(cat, Some("7.99")).is_err());
    }
}
