//! The 72-hour duty: a personal-data breach is notified to the supervisory authority within
//! 72 hours of its detection (GDPR art. 33). Each personal-data incident of the register is in one
//! state at an instant; the KPI is the share of due notifications made on time.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::response_times::Period;
use crate::registers::incident::Incident;

/// Hours from detection to the notification deadline.
pub const DEADLINE_HOURS: i64 = 72;

/// Where a personal-data incident stands on its notification at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Notified at or before detected + 72 h.
    OnTime,
    /// Notified after the deadline.
    Late,
    /// Not notified, and the deadline has passed.
    Overdue,
    /// Not notified, deadline still ahead.
    NotYetDue,
    /// Detection time unknown: the deadline cannot be computed.
    MissingTimestamps,
}

impl NotificationState {
    /// Every state, in display order.
    pub const ALL: [NotificationState; 5] = [
        NotificationState::OnTime,
        NotificationState::Late,
        NotificationState::Overdue,
        NotificationState::NotYetDue,
        NotificationState::MissingTimestamps,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::OnTime => "on_time",
            NotificationState::Late => "late",
            NotificationState::Overdue => "overdue",
            NotificationState::NotYetDue => "not_yet_due",
            NotificationState::MissingTimestamps => "missing_timestamps",
        }
    }
}

/// The state of `i` at `at` (a notification after `at` is not yet made); `None` when the incident
/// involves no personal data.
pub fn notification_state(i: &Incident, at: DateTime<Utc>) -> Option<NotificationState> {
    if !i.personal_data {
        return None;
    }
    let Some(detected) = i.detected_at else {
        return Some(NotificationState::MissingTimestamps);
    };
    let deadline = detected + Duration::hours(DEADLINE_HOURS);
    Some(match i.notified_at.filter(|n| *n <= at) {
        Some(n) if n <= deadline => NotificationState::OnTime,
        Some(_) => NotificationState::Late,
        None if at > deadline => NotificationState::Overdue,
        None => NotificationState::NotYetDue,
    })
}

/// One personal-data incident and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DutyItem {
    /// Incident id.
    pub id: String,
    /// Its state.
    pub state: NotificationState,
    /// detected_at + 72 h, when known.
    pub deadline: Option<DateTime<Utc>>,
}

/// The 72-hour duty over a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationDuty {
    /// Incidents per state.
    pub counts: BTreeMap<NotificationState, usize>,
    /// on_time / (on_time + late + overdue); `None` when nothing was due.
    pub ratio: Option<f64>,
    /// The incidents counted, by id.
    pub incidents: Vec<DutyItem>,
}

/// The duty at `at`: personal-data incidents detected in `period` are counted in their state;
/// `overdue` and `missing_timestamps` incidents are counted whenever they were detected (up to
/// `at`), because they stay to be dealt with until someone does.
pub fn notification_duty(
    incidents: &[Incident],
    period: Period,
    at: DateTime<Utc>,
) -> NotificationDuty {
    let mut counts: BTreeMap<NotificationState, usize> =
        NotificationState::ALL.into_iter().map(|s| (s, 0)).collect();
    let mut items = Vec::new();
    for i in incidents {
        let Some(state) = notification_state(i, at) else {
            continue;
        };
        let in_scope = match (state, i.detected_at) {
            (NotificationState::Overdue, _) => true,
            // No detection time: in scope once it had occurred (or if that is unknown too).
            (NotificationState::MissingTimestamps, _) => i.occurred_at.is_none_or(|o| o <= at),
            (_, Some(d)) => period.contains(d),
            (_, None) => false,
        };
        if !in_scope {
            continue;
        }
        *counts.entry(state).or_default() += 1;
        items.push(DutyItem {
            id: i.id.clone(),
            state,
            deadline: i.detected_at.map(|d| d + Duration::hours(DEADLINE_HOURS)),
        });
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    let n = |s| counts.get(&s).copied().unwrap_or(0);
    let due =
        n(NotificationState::OnTime) + n(NotificationState::Late) + n(NotificationState::Overdue);
    NotificationDuty {
        ratio: (due > 0).then(|| n(NotificationState::OnTime) as f64 / due as f64),
        counts,
        incidents: items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::csv_import::read_incidents;
    use NotificationState::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn march() -> Vec<Incident> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers/incidents-2026-03.csv");
        read_incidents(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect()
    }

    /// Personal-data incidents of `incidents-2026-03.csv`, at the end of March
    /// (at = 2026-04-01T00:00Z, period = March):
    /// - 003 detected 03-06 13:00, notified 03-08 09:00 = 44 h       → on_time
    /// - 006 detected 03-12 10:00, notified 03-16 10:00 = 96 h       → late
    /// - 009 detected 03-20 08:00, not notified, deadline 03-23 08:00 → overdue
    /// - 012 detected 02-27 10:00 (February), not notified           → overdue (kept: still owed)
    /// - 013 detected 03-30 10:00, deadline 04-02 10:00 > at         → not_yet_due
    /// - 014 detected 03-31 22:00, notified 04-01 01:00, after `at`  → not_yet_due
    /// - 011 no detected_at                                          → missing_timestamps
    ///
    /// ratio = on_time / (on_time + late + overdue) = 1 / (1 + 1 + 2) = 0.25.
    #[test]
    fn end_of_march_by_hand() {
        let at = t("2026-04-01T00:00:00Z");
        let period = Period {
            start: t("2026-03-01T00:00:00Z"),
            end: at,
        };
        let d = notification_duty(&march(), period, at);
        let c = |s| d.counts[&s];
        assert_eq!(
            (
                c(OnTime),
                c(Late),
                c(Overdue),
                c(NotYetDue),
                c(MissingTimestamps)
            ),
            (1, 1, 2, 2, 1)
        );
        assert_eq!(d.ratio, Some(0.25));
        let overdue: Vec<&str> = d
            .incidents
            .iter()
            .filter(|i| i.state == Overdue)
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(overdue, vec!["INC-2026-009", "INC-2026-012"]);
    }

    /// Five days later (at = 2026-04-05T00:00Z, period = April 1–5):
    /// - 003 (on_time), 006 (late), 014 (now on_time: notified 04-01 01:00, 3 h after detection)
    ///   were detected in March → out of April's period
    /// - 013 deadline 04-02 10:00 passed, not notified → overdue
    /// - 009, 012 still overdue; 011 still missing_timestamps
    ///
    /// ratio = 0 / (0 + 0 + 3) = 0.
    #[test]
    fn detection_in_period_and_later_notification() {
        let at = t("2026-04-05T00:00:00Z");
        let april = Period {
            start: t("2026-04-01T00:00:00Z"),
            end: at,
        };
        let d = notification_duty(&march(), april, at);
        let c = |s| d.counts[&s];
        assert_eq!((c(OnTime), c(Late), c(Overdue), c(NotYetDue)), (0, 0, 3, 0));
        assert_eq!(d.ratio, Some(0.0));
        // Over March, seen from April 5, 014 is on time: 2 on_time (003, 014), 1 late (006),
        // 3 overdue (009, 012, 013) ⇒ 2 / 6.
        let march_period = Period {
            start: t("2026-03-01T00:00:00Z"),
            end: t("2026-04-01T00:00:00Z"),
        };
        let m = notification_duty(&march(), march_period, at);
        assert_eq!(m.counts[&OnTime], 2);
        assert_eq!(m.ratio, Some(2.0 / 6.0));
        assert_eq!(c(MissingTimestamps), 1);
    }

    #[test]
    fn the_deadline_itself_is_on_time() {
        let mut i = march().remove(2); // INC-2026-003, detected 03-06 13:00.
        assert_eq!(i.id, "INC-2026-003");
        i.notified_at = Some(t("2026-03-09T13:00:00Z"));
        assert_eq!(
            notification_state(&i, t("2026-04-01T00:00:00Z")),
            Some(OnTime)
        );
        i.notified_at = Some(t("2026-03-09T13:00:01Z"));
        assert_eq!(
            notification_state(&i, t("2026-04-01T00:00:00Z")),
            Some(Late)
        );
        i.personal_data = false;
        assert_eq!(notification_state(&i, t("2026-04-01T00:00:00Z")), None);
    }
}
