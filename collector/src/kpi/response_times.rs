//! Incident response times from the register: MTTD (occurred → detected) and MTTR (detected →
//! resolved) over the incidents resolved in a period, mean and nearest-rank p50/p90, overall and
//! per severity; and the incidents open at an instant.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::registers::incident::{Incident, Severity};

/// A half-open span of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// First instant included.
    pub start: DateTime<Utc>,
    /// First instant excluded.
    pub end: DateTime<Utc>,
}

impl Period {
    /// From the first day (UTC) of `day`'s calendar month up to `end`.
    pub fn month_of(day: NaiveDate, end: DateTime<Utc>) -> Period {
        let first = NaiveDate::from_ymd_opt(day.year(), day.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or(end);
        Period { start: first, end }
    }

    /// The `days` days before `at`.
    pub fn last_days(at: DateTime<Utc>, days: i64) -> Period {
        Period {
            start: at - Duration::days(days),
            end: at,
        }
    }

    /// Whether `t` falls in the period.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// Nearest-rank percentile of ascending `sorted`: the value at rank ⌈p/100 × n⌉ (1-based), so
/// always one of the observed values; `None` when empty. Integer arithmetic, no rounding drift.
pub fn nearest_rank(sorted: &[i64], percent: u32) -> Option<i64> {
    let n = sorted.len() as u64;
    if n == 0 {
        return None;
    }
    let rank = (u64::from(percent) * n).div_ceil(100).clamp(1, n);
    sorted.get(rank as usize - 1).copied()
}

/// Statistics of one duration over a set of incidents.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DurationStats {
    /// Incidents with both timestamps.
    pub count: usize,
    /// Incidents in scope lacking a needed timestamp (not silently dropped).
    pub missing_timestamps: usize,
    /// Arithmetic mean, seconds.
    pub mean_seconds: Option<f64>,
    /// Nearest-rank median, seconds.
    pub p50_seconds: Option<i64>,
    /// Nearest-rank 90th percentile, seconds.
    pub p90_seconds: Option<i64>,
}

impl DurationStats {
    fn from_samples(mut samples: Vec<i64>, missing_timestamps: usize) -> DurationStats {
        samples.sort_unstable();
        let count = samples.len();
        DurationStats {
            count,
            missing_timestamps,
            mean_seconds: (count > 0)
                .then(|| samples.iter().map(|&s| s as f64).sum::<f64>() / count as f64),
            p50_seconds: nearest_rank(&samples, 50),
            p90_seconds: nearest_rank(&samples, 90),
        }
    }
}

/// One measure (MTTD or MTTR) overall and per severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measure {
    /// Over every incident in scope.
    pub overall: DurationStats,
    /// Per severity (every severity present, empty ones with count 0).
    pub by_severity: BTreeMap<Severity, DurationStats>,
}

/// MTTD and MTTR over the incidents resolved in a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseTimes {
    /// The period.
    pub period: Period,
    /// Incidents resolved in the period.
    pub resolved: usize,
    /// Detection: detected_at − occurred_at.
    pub mttd: Measure,
    /// Resolution: resolved_at − detected_at.
    pub mttr: Measure,
}

fn measure(scope: &[&Incident], duration: impl Fn(&Incident) -> Option<i64>) -> Measure {
    let collect = |sev: Option<Severity>| {
        let mut samples = Vec::new();
        let mut missing = 0;
        for i in scope.iter().filter(|i| sev.is_none_or(|s| i.severity == s)) {
            match duration(i) {
                Some(d) => samples.push(d),
                None => missing += 1,
            }
        }
        DurationStats::from_samples(samples, missing)
    };
    Measure {
        overall: collect(None),
        by_severity: Severity::ALL
            .into_iter()
            .map(|s| (s, collect(Some(s))))
            .collect(),
    }
}

fn seconds_between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_seconds())
}

/// MTTD and MTTR over the incidents whose `resolved_at` falls in `period`.
pub fn response_times(incidents: &[Incident], period: Period) -> ResponseTimes {
    let scope: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.resolved_at.is_some_and(|r| period.contains(r)))
        .collect();
    ResponseTimes {
        period,
        resolved: scope.len(),
        mttd: measure(&scope, |i| seconds_between(i.occurred_at, i.detected_at)),
        mttr: measure(&scope, |i| seconds_between(i.detected_at, i.resolved_at)),
    }
}

/// Incidents open at `at`, per severity (every severity present): recorded as started (detected,
/// else occurred; unknown start counts) by `at` and not resolved by `at`.
pub fn open_by_severity(incidents: &[Incident], at: DateTime<Utc>) -> BTreeMap<Severity, i64> {
    let mut open: BTreeMap<Severity, i64> = Severity::ALL.into_iter().map(|s| (s, 0)).collect();
    for i in incidents {
        let started = i.detected_at.or(i.occurred_at).is_none_or(|t| t <= at);
        let resolved = i.resolved_at.is_some_and(|r| r <= at);
        if started && !resolved {
            *open.entry(i.severity).or_default() += 1;
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::csv_import::read_incidents;

    const H: i64 = 3600;

    fn march() -> Vec<Incident> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers/incidents-2026-03.csv");
        read_incidents(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect()
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// March 2026, seen from its last day's end.
    fn march_period() -> Period {
        let last = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        Period::month_of(last, t("2026-04-01T00:00:00Z"))
    }

    #[test]
    fn nearest_rank_by_hand() {
        // n = 10: p50 → rank ⌈5⌉ = 5, p90 → rank ⌈9⌉ = 9; n = 9: p90 → ⌈8.1⌉ = 9.
        let ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&ten[..9], 90), Some(9));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[], 50), None);
        // p0 is the minimum (rank clamped to 1), p100 the maximum.
        assert_eq!(nearest_rank(&ten, 0), Some(1));
        assert_eq!(nearest_rank(&ten, 100), Some(10));
    }

    /// `incidents-2026-03.csv`, March 2026 (UTC). Resolved in March: INC-001 … INC-011 (11).
    /// Out: 012 resolved in February, 013 still open, 014 resolved on 1 April.
    ///
    /// TTD in hours (occurred → detected): 001 1, 002 2, 003 3, 004 0.5, 005 5, 006 10,
    /// 007 4 (times at +01:00, same offsets), 009 2, 010 1; 008 (no occurred_at) and 011 (no
    /// detected_at) missing ⇒ n = 9, missing 2.
    /// sum = 1+2+3+0.5+5+10+4+2+1 = 28.5 h; mean = 28.5 / 9 h = 102 600 s / 9 = 11 400 s.
    /// sorted: 0.5 1 1 2 2 3 4 5 10; p50 rank ⌈4.5⌉ = 5 → 2 h; p90 rank ⌈8.1⌉ = 9 → 10 h.
    ///
    /// TTR in hours (detected → resolved): 001 4, 002 6, 003 12, 004 1, 005 24, 006 48, 007 2,
    /// 008 3, 009 8, 010 24; 011 (no detected_at) missing ⇒ n = 10, missing 1.
    /// sum = 4+6+12+1+24+48+2+3+8+24 = 132 h; mean = 13.2 h = 47 520 s.
    /// sorted: 1 2 3 4 6 8 12 24 24 48; p50 rank 5 → 6 h; p90 rank 9 → 24 h.
    #[test]
    fn a_month_of_incidents_by_hand() {
        let incidents = march();
        let period = march_period();
        assert_eq!(period.start, t("2026-03-01T00:00:00Z"));
        let r = response_times(&incidents, period);
        assert_eq!(r.resolved, 11);

        let d = &r.mttd.overall;
        assert_eq!((d.count, d.missing_timestamps), (9, 2));
        assert_eq!(d.mean_seconds, Some(11_400.0));
        assert_eq!(d.p50_seconds, Some(2 * H));
        assert_eq!(d.p90_seconds, Some(10 * H));

        let m = &r.mttr.overall;
        assert_eq!((m.count, m.missing_timestamps), (10, 1));
        assert_eq!(m.mean_seconds, Some(47_520.0));
        assert_eq!(m.p50_seconds, Some(6 * H));
        assert_eq!(m.p90_seconds, Some(24 * H));
    }

    /// Per severity, same month:
    /// - low: 004 (TTD 0.5 h, TTR 1 h), 010 (1 h, 24 h): MTTD 0.75 h = 2 700 s; MTTR 12.5 h =
    ///   45 000 s; TTR p90 rank ⌈1.8⌉ = 2 → 24 h.
    /// - minor: 001 (1, 4), 002 (2, 6), 007 (4, 2), 008 (–, 3), 011 (–, –): MTTD 7/3 h = 8 400 s,
    ///   missing 2; MTTR (4+6+2+3)/4 = 3.75 h = 13 500 s, missing 1; TTR p50 of 2 3 4 6 rank 2 →
    ///   3 h.
    /// - major: 003 (3, 12), 005 (5, 24), 009 (2, 8): MTTD 10/3 h = 12 000 s; MTTR 44/3 h =
    ///   52 800 s; TTR p90 rank ⌈2.7⌉ = 3 → 24 h.
    /// - crisis: 006 (10, 48): MTTD 36 000 s; MTTR 172 800 s.
    #[test]
    fn per_severity_by_hand() {
        let r = response_times(&march(), march_period());
        let d = &r.mttd.by_severity;
        let m = &r.mttr.by_severity;
        assert_eq!(d[&Severity::Low].mean_seconds, Some(2_700.0));
        assert_eq!(m[&Severity::Low].mean_seconds, Some(45_000.0));
        assert_eq!(m[&Severity::Low].p90_seconds, Some(24 * H));
        assert_eq!(d[&Severity::Minor].mean_seconds, Some(8_400.0));
        assert_eq!(d[&Severity::Minor].missing_timestamps, 2);
        assert_eq!(m[&Severity::Minor].mean_seconds, Some(13_500.0));
        assert_eq!(m[&Severity::Minor].missing_timestamps, 1);
        assert_eq!(m[&Severity::Minor].p50_seconds, Some(3 * H));
        assert_eq!(d[&Severity::Major].mean_seconds, Some(12_000.0));
        assert_eq!(m[&Severity::Major].mean_seconds, Some(52_800.0));
        assert_eq!(m[&Severity::Major].p90_seconds, Some(24 * H));
        assert_eq!(d[&Severity::Crisis].mean_seconds, Some(36_000.0));
        assert_eq!(m[&Severity::Crisis].mean_seconds, Some(172_800.0));
        // The per-severity counts add up to the overall ones: 2 + 3 + 3 + 1 = 9 (TTD).
        let n: usize = d.values().map(|s| s.count).sum();
        assert_eq!(n, r.mttd.overall.count);
    }

    #[test]
    fn no_incident_resolved_is_no_data() {
        let jan = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let r = response_times(&march(), Period::month_of(jan, t("2026-02-01T00:00:00Z")));
        assert_eq!(r.resolved, 0);
        assert_eq!(r.mttd.overall.mean_seconds, None);
        assert_eq!(r.mttr.overall.p90_seconds, None);
    }

    /// At 2026-04-01T00:00Z: 013 (minor, unresolved) and 014 (major, resolved 02:00 that day) are
    /// open; at 2026-04-05 only 013.
    #[test]
    fn open_incidents_at_an_instant() {
        let incidents = march();
        let open = open_by_severity(&incidents, t("2026-04-01T00:00:00Z"));
        assert_eq!(open[&Severity::Minor], 1);
        assert_eq!(open[&Severity::Major], 1);
        assert_eq!(open.values().sum::<i64>(), 2);
        let open = open_by_severity(&incidents, t("2026-04-05T00:00:00Z"));
        assert_eq!(open.values().sum::<i64>(), 1);
        // Before any of them started, none is open (INC-2026-012 was detected 27 February).
        let open = open_by_severity(&incidents, t("2026-02-01T00:00:00Z"));
        assert_eq!(open.values().sum::<i64>(), 0);
    }
}
