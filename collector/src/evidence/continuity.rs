//! Reporting continuity: per host, the days of the period on which it was expected to report
//! (from its enrolment day, or the period's start if later, to the period's end) and the days on
//! which reports were received. Pure: fed one store row at a time, it yields one host at a time.

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use crate::store::evidence_export::HostDay;

/// One host's continuity over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostContinuity {
    /// Host id.
    pub host_id: i64,
    /// Host name as last reported.
    pub hostname: String,
    /// First day the host was expected to report: max(enrolment day, period start).
    pub expected_from: NaiveDate,
    /// Days with at least one report, and how many, in day order.
    pub days: Vec<(NaiveDate, i64)>,
}

impl HostContinuity {
    /// Days from `expected_from` to `to` inclusive.
    pub fn expected_days(&self, to: NaiveDate) -> i64 {
        ((to - self.expected_from).num_days() + 1).max(0)
    }

    /// Reports received over the period.
    pub fn reports(&self) -> i64 {
        self.days.iter().map(|(_, n)| n).sum()
    }

    /// Every expected day with its report count (0 for a day without reports), in order.
    pub fn each_day(&self, to: NaiveDate) -> impl Iterator<Item = (NaiveDate, i64)> + '_ {
        let mut received = self.days.iter().peekable();
        self.expected_from
            .iter_days()
            .take_while(move |d| *d <= to)
            .map(move |d| {
                while received.peek().is_some_and(|(r, _)| *r < d) {
                    received.next();
                }
                match received.peek() {
                    Some((r, n)) if *r == d => (d, *n),
                    _ => (d, 0),
                }
            })
    }

    /// Runs of consecutive expected days without any report, as (first, last) day.
    pub fn gaps(&self, to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
        let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
        for (d, n) in self.each_day(to) {
            if n > 0 {
                continue;
            }
            match out.last_mut() {
                Some((_, last)) if last.succ_opt() == Some(d) => *last = d,
                _ => out.push((d, d)),
            }
        }
        out
    }
}

/// A stored `YYYY-MM-DD` day, read without chrono's format parser (once per host and day of an
/// export: millions of rows at 100,000 hosts).
fn parse_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    }
    NaiveDate::from_ymd_opt(digits(0..4)? as i32, digits(5..7)?, digits(8..10)?)
}

/// Groups `HostDay` rows (ordered by host) into one `HostContinuity` per host.
pub struct Grouper {
    from: NaiveDate,
    current: Option<HostContinuity>,
}

impl Grouper {
    /// A grouper for a period starting on `from`.
    pub fn new(from: NaiveDate) -> Grouper {
        Grouper {
            from,
            current: None,
        }
    }

    /// Feed one row; returns the previous host once a new one starts.
    pub fn push(&mut self, row: HostDay) -> Option<HostContinuity> {
        let done = match &self.current {
            Some(c) if c.host_id == row.host_id => None,
            _ => {
                let enrolled = DateTime::from_timestamp(row.enrolled_at, 0)
                    .map(|t| t.date_naive())
                    .unwrap_or(self.from);
                self.current.replace(HostContinuity {
                    host_id: row.host_id,
                    hostname: row.hostname.clone(),
                    expected_from: enrolled.max(self.from),
                    days: Vec::new(),
                })
            }
        };
        if let (Some(c), Some(day)) = (self.current.as_mut(), row.day.as_deref()) {
            if let Some(d) = parse_day(day) {
                c.days.push((d, row.reports));
            }
        }
        done
    }

    /// The last host.
    pub fn finish(self) -> Option<HostContinuity> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn row(host_id: i64, enrolled: &str, day: Option<&str>, reports: i64) -> HostDay {
        HostDay {
            host_id,
            hostname: format!("h{host_id}"),
            enrolled_at: d(enrolled)
                .and_hms_opt(12, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp(),
            day: day.map(str::to_string),
            reports,
        }
    }

    #[test]
    fn groups_hosts_and_finds_gaps() {
        // Period 2026-03-01..=2026-03-07. Host 1 enrolled before it, reported on the 1st, 2nd, 5th:
        // expected 7 days, gaps 3–4 and 6–7. Host 2 enrolled on the 6th, never reported: expected
        // 2 days (6th, 7th), one gap. Host 3 reported every day but one.
        let from = d("2026-03-01");
        let to = d("2026-03-07");
        let mut g = Grouper::new(from);
        let mut hosts = Vec::new();
        let rows = [
            row(1, "2026-01-01", Some("2026-03-01"), 24),
            row(1, "2026-01-01", Some("2026-03-02"), 24),
            row(1, "2026-01-01", Some("2026-03-05"), 3),
            row(2, "2026-03-06", None, 0),
        ];
        for r in rows {
            hosts.extend(g.push(r));
        }
        hosts.extend(g.finish());
        assert_eq!(hosts.len(), 2);
        let h1 = &hosts[0];
        assert_eq!(h1.expected_days(to), 7);
        assert_eq!(h1.reports(), 24 + 24 + 3);
        assert_eq!(
            h1.gaps(to),
            vec![
                (d("2026-03-03"), d("2026-03-04")),
                (d("2026-03-06"), d("2026-03-07"))
            ]
        );
        let per_day: Vec<i64> = h1.each_day(to).map(|(_, n)| n).collect();
        assert_eq!(per_day, vec![24, 24, 0, 0, 3, 0, 0]);
        let h2 = &hosts[1];
        assert_eq!(h2.expected_from, d("2026-03-06"));
        assert_eq!(h2.expected_days(to), 2);
        assert_eq!(h2.gaps(to), vec![(d("2026-03-06"), d("2026-03-07"))]);
    }
}
