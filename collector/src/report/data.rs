//! The monthly report's data: [`MonthlyReport`], assembled from what the store holds about one
//! calendar month, one function per section, in the manual's order. Language-neutral (codes and
//! numbers); the renderers translate.
//!
//! Where each number comes from:
//! - fleet KPIs (patch SLA, coverage per check) and CIS scores: the last daily snapshot of each
//!   month (the fleet's past state is not kept host by host, so a month without a snapshot shows
//!   "no data", never today's fleet);
//! - register KPIs (training, MTTD, MTTR, 72-hour duty) and the incidents: recomputed from the dated
//!   registers at each month's end, exactly as `vigie-collector kpi --at <last day>` does, so late
//!   entries count and the headline matches the trend's last point.

use std::collections::HashMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::governance::{self, ActionsSection, ExceptionsSection, RisksSection};
pub use super::model::*;
use crate::cis::catalogue::catalogue;
use crate::cis::snapshot as cis_snap;
use crate::config::{CollectorConfig, KpiSection};
use crate::kpi::notification::{notification_duty, notification_state, NotificationState};
use crate::kpi::response_times::{response_times, Period};
use crate::kpi::{register_kpis, Inputs, KpiStatus, When};
use crate::registers::incident::Incident;
use crate::risk::actions::Action;
use crate::risk::exceptions::Exception;
use crate::risk::register::{Risk, RiskChange};
use crate::store::kpi_snapshots::SnapshotRow;
use crate::store::report::{self as sql, FleetSize};
use crate::store::{registers, StoreError};

/// Months shown in a trend, the report's month included.
pub const TREND_MONTHS: u32 = 12;

/// What can go wrong building the report's data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// `--month` is not `YYYY-MM`.
    #[error("--month {0:?}: expected YYYY-MM, e.g. 2026-11")]
    BadMonth(String),
    /// `--month` has not started yet.
    #[error("--month {month}: this month has not started (today is {today} UTC)")]
    FutureMonth {
        /// The month asked for.
        month: String,
        /// Today.
        today: NaiveDate,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The live figures of the month in progress could not be computed.
    #[error("figures of the month in progress: {0}")]
    Live(#[from] crate::kpi::evaluation::KpiError),
}

/// Parse `YYYY-MM` to the month's first day.
pub fn parse_month(s: &str) -> Result<NaiveDate, DataError> {
    let bad = || DataError::BadMonth(s.to_string());
    let b = s.as_bytes();
    if b.len() != 7
        || b[4] != b'-'
        || !s[..4]
            .bytes()
            .chain(s[5..].bytes())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").map_err(|_| bad())
}

fn ymd(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn ym(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

fn last_day(first: NaiveDate) -> NaiveDate {
    first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first)
}

/// The report's data, in the order of the report.
#[derive(Debug, Clone, Serialize)]
pub struct MonthlyReport {
    /// `YYYY-MM`.
    pub month: String,
    /// Last day covered: the month's last day, or today for the month in progress.
    pub as_of: NaiveDate,
    /// False for the month in progress (a draft: its numbers will still move).
    pub complete: bool,
    /// From the month's first instant to the end of `as_of` (or now, for a draft).
    pub period: Period,
    /// Hosts enrolled and reporting.
    pub fleet: FleetOverview,
    /// The one-page summary's points of attention.
    pub summary: Vec<Highlight>,
    /// The manual's indicators with target, status and trend.
    pub indicators: Vec<Indicator>,
    /// Incidents of the month, response times, 72-hour duty.
    pub incidents: IncidentsSection,
    /// CIS score per control and change since last month.
    pub cis: CisSection,
    /// Top risks and what changed.
    pub risks: RisksSection,
    /// Improvement plan progress per priority.
    pub actions: ActionsSection,
    /// Exceptions active and expiring.
    pub exceptions: ExceptionsSection,
    /// Fleet coverage per check.
    pub coverage: Vec<CoverageRow>,
    /// MFA at the identity providers and code hosts (absent when no source is configured or
    /// stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identities: Option<super::identities::IdentitySection>,
}

/// Hosts enrolled by the end of the month, and those that reported during it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FleetOverview {
    /// Enrolled before the end of the period.
    pub enrolled: i64,
    /// With at least one report on a day of the month.
    pub reported: i64,
}

/// Everything read from the store for one report.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    /// Last snapshot per KPI and month over the trend's months.
    pub snapshots: Vec<SnapshotRow>,
    /// Fleet size over the month.
    pub fleet: FleetSize,
    /// The registers (every incident, the roster, completions of every window needed).
    pub registers: Inputs,
    /// The risk register.
    pub risks: Vec<Risk>,
    /// Risk history entries since the month's start.
    pub risk_history: Vec<(i64, RiskChange)>,
    /// The improvement plan.
    pub actions: Vec<Action>,
    /// Every exception.
    pub exceptions: Vec<Exception>,
    /// For the month in progress: what a snapshot taken now would store (KPIs and CIS scores),
    /// used instead of the month's stored snapshots and shown as provisional. Empty for a closed
    /// month.
    pub live: Vec<SnapshotRow>,
    /// The identity sources' syncs and accounts.
    pub identities: super::identities::IdentityInputs,
}

/// The months of the trend ending with `first` (first days, oldest first).
pub fn trend_months(first: NaiveDate) -> Vec<NaiveDate> {
    (0..TREND_MONTHS)
        .rev()
        .filter_map(|k| first.checked_sub_months(Months::new(k)))
        .collect()
}

/// The evaluation point of the month starting `first`, seen at `now`: its last day, or today.
fn when_of(first: NaiveDate, now: DateTime<Utc>) -> Option<When> {
    let day = last_day(first).min(now.date_naive());
    When::on(day, now).ok()
}

/// The exclusive bound on `enrolled_at` for the fleet of a report seen at `when`: the next
/// midnight for a past day; for today, the second after `now`. Enrolment times are whole seconds,
/// so a host enrolled in the draft's own second belongs to its fleet (`enrolled_at < now` left it
/// out).
fn enrolled_before(when: &crate::kpi::When, now: DateTime<Utc>) -> i64 {
    if when.day == now.date_naive() {
        now.timestamp() + 1
    } else {
        when.at.timestamp()
    }
}

/// Read what the report of the month starting `first` needs (blocking).
pub fn load(
    conn: &Connection,
    cfg: &CollectorConfig,
    first: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ReportInputs, DataError> {
    let today = now.date_naive();
    if first > today {
        return Err(DataError::FutureMonth {
            month: ym(first),
            today,
        });
    }
    let months = trend_months(first);
    let oldest = months.first().copied().unwrap_or(first);
    let as_of = last_day(first).min(today);
    let when = when_of(first, now).ok_or_else(|| DataError::BadMonth(ym(first)))?;
    Ok(ReportInputs {
        snapshots: sql::last_snapshot_per_month(conn, &ymd(oldest), &ymd(as_of))?,
        fleet: sql::fleet_size(conn, enrolled_before(&when, now), &ymd(first), &ymd(as_of))?,
        registers: Inputs {
            fleet: None,
            incidents: registers::list_incidents(conn)?,
            people: registers::list_people(conn)?,
            completions: registers::completions_between(
                conn,
                crate::kpi::training::window_from(last_day(oldest)),
                as_of,
            )?,
        },
        risks: crate::store::risks::list(conn)?,
        risk_history: sql::risk_history_since(conn, when.period.start.timestamp())?,
        actions: crate::store::actions::list(conn, as_of)?,
        exceptions: crate::store::exceptions::list(conn)?,
        live: if last_day(first) >= today {
            crate::kpi::evaluation::live_rows(conn, cfg, now)?
        } else {
            Vec::new()
        },
        identities: super::identities::load(conn, &cfg.identity, &months, now)?,
    })
}

/// Snapshot rows by (KPI, `YYYY-MM`), each with whether it was computed live at report time.
pub struct Snapshots<'a>(HashMap<(&'a str, String), (&'a SnapshotRow, bool)>);

impl<'a> Snapshots<'a> {
    /// The stored rows, then the live ones, which replace the stored rows of their month.
    fn new(rows: &'a [SnapshotRow], live: &'a [SnapshotRow]) -> Snapshots<'a> {
        let key = |r: &'a SnapshotRow| (r.kpi.as_str(), r.day.get(..7).unwrap_or("").to_string());
        let mut map: HashMap<_, _> = rows.iter().map(|r| (key(r), (r, false))).collect();
        map.extend(live.iter().map(|r| (key(r), (r, true))));
        Snapshots(map)
    }

    fn get(&self, kpi: &str, month: NaiveDate) -> Option<&'a SnapshotRow> {
        self.0.get(&(kpi, ym(month))).map(|(r, _)| *r)
    }

    fn is_live(&self, kpi: &str, month: NaiveDate) -> bool {
        self.0.get(&(kpi, ym(month))).is_some_and(|(_, live)| *live)
    }
}

fn status_of(row: &SnapshotRow) -> KpiStatus {
    KpiStatus::parse(&row.status).unwrap_or(KpiStatus::NoData)
}

/// Assemble the report of the month starting `first`, seen at `now` (pure).
pub fn assemble(
    inputs: &ReportInputs,
    cfg: &KpiSection,
    first: NaiveDate,
    now: DateTime<Utc>,
) -> Result<MonthlyReport, DataError> {
    let when = when_of(first, now).ok_or_else(|| DataError::BadMonth(ym(first)))?;
    let snaps = Snapshots::new(&inputs.snapshots, &inputs.live);
    let mut indicators = indicators(inputs, &snaps, cfg, first, now);
    let incidents = incidents(&inputs.registers.incidents, &when);
    let mut cis = cis(&snaps, first);
    // A snapshot taken before `[kpi] cis_target` was set has no target: judge it against the
    // configured one, so the score is always shown with the target the reader is held to.
    if let Some(i) = indicators.iter_mut().find(|i| i.name == cis_snap::OVERALL) {
        if i.target.is_none() {
            i.target = cfg.cis_target.map(|t| t * 100.0);
            if i.target.is_some() {
                i.status = crate::kpi::judge(i.value, i.target, crate::kpi::Unit::Ratio);
            }
        }
        cis.target = i.target;
        cis.status = i.status;
    }
    let period = Period {
        start: when.period.start,
        end: when.at,
    };
    let identities = super::identities::assemble(&inputs.identities, when.at);
    let mut summary = summary(&indicators, &incidents, &cis);
    summary.extend(governance_highlights(inputs, period));
    summary.extend(identities.iter().flat_map(super::identities::highlights));
    // Most urgent first; the order of gathering breaks ties (stable sort).
    summary.sort_by_key(Highlight::urgency);
    Ok(MonthlyReport {
        month: ym(first),
        as_of: when.day,
        complete: last_day(first) < now.date_naive(),
        period,
        fleet: FleetOverview {
            enrolled: inputs.fleet.enrolled,
            reported: inputs.fleet.reported,
        },
        summary,
        indicators,
        incidents,
        cis,
        risks: governance::risks(&inputs.risks, &inputs.risk_history, period),
        actions: governance::actions(&inputs.actions, period),
        exceptions: governance::exceptions(&inputs.exceptions, period),
        coverage: coverage(&snaps, first),
        identities,
    })
}

/// The manual's indicators, in its order: patch rate, training, MTTD, MTTR, CIS score; then the
/// 72-hour duty of its section 05.
pub fn indicators(
    inputs: &ReportInputs,
    snaps: &Snapshots<'_>,
    cfg: &KpiSection,
    first: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<Indicator> {
    let months = trend_months(first);
    let complete = last_day(first) < now.date_naive();
    // Register KPIs at each month's end.
    let register: Vec<(NaiveDate, Vec<crate::kpi::Kpi>)> = months
        .iter()
        .filter_map(|m| {
            when_of(*m, now).map(|w| (w.day, register_kpis(&inputs.registers, cfg, &w)))
        })
        .collect();
    let from_snapshots = |name: &str, unit: IndicatorUnit| {
        let trend: Vec<TrendPoint> = months
            .iter()
            .map(|m| match snaps.get(name, *m) {
                Some(r) => TrendPoint {
                    month: ym(*m),
                    value: r.value,
                    status: status_of(r),
                },
                None => TrendPoint {
                    month: ym(*m),
                    value: None,
                    status: KpiStatus::NoData,
                },
            })
            .collect();
        let row = snaps.get(name, first);
        let live = snaps.is_live(name, first);
        Indicator {
            name: name.to_string(),
            unit,
            value: row.and_then(|r| r.value),
            target: row.and_then(|r| r.target),
            status: row.map_or(KpiStatus::NoData, status_of),
            previous: trend.iter().rev().nth(1).and_then(|p| p.value),
            basis: match row {
                None => Basis::NoSnapshot,
                Some(r) if live => Basis::Live { day: r.day.clone() },
                Some(r) => Basis::Snapshot { day: r.day.clone() },
            },
            provisional: !complete,
            trend,
        }
    };
    let from_registers = |name: &str, unit: IndicatorUnit| {
        let trend: Vec<TrendPoint> = months
            .iter()
            .zip(&register)
            .map(|(m, (_, kpis))| {
                let k = kpis.iter().find(|k| k.name == name);
                TrendPoint {
                    month: ym(*m),
                    value: k.and_then(|k| k.value),
                    status: k.map_or(KpiStatus::NoData, |k| k.status),
                }
            })
            .collect();
        let (day, kpis) = register.last().cloned().unwrap_or((first, Vec::new()));
        let k = kpis.into_iter().find(|k| k.name == name);
        Indicator {
            name: name.to_string(),
            unit,
            value: k.as_ref().and_then(|k| k.value),
            target: k.as_ref().and_then(|k| k.target),
            status: k.as_ref().map_or(KpiStatus::NoData, |k| k.status),
            previous: trend.iter().rev().nth(1).and_then(|p| p.value),
            basis: Basis::Registers { day: ymd(day) },
            provisional: !complete,
            trend,
        }
    };
    vec![
        from_snapshots("patch_sla", IndicatorUnit::Ratio),
        // The roster has no effective dates (only who is active today): a past month's coverage
        // is what that month's last snapshot recorded, never today's roster replayed backwards.
        from_snapshots("training_coverage", IndicatorUnit::Ratio),
        from_registers("mttd", IndicatorUnit::Seconds),
        from_registers("mttr", IndicatorUnit::Seconds),
        from_snapshots(cis_snap::OVERALL, IndicatorUnit::Score),
        from_registers("personal_data_72h", IndicatorUnit::Ratio),
    ]
}

/// Incidents detected, resolved or open in the month, with response times and the 72-hour duty.
pub fn incidents(all: &[Incident], when: &When) -> IncidentsSection {
    let (period, at) = (when.period, when.at);
    let in_month = |t: Option<DateTime<Utc>>| t.is_some_and(|t| period.contains(t));
    let open = |i: &Incident| {
        i.detected_at.or(i.occurred_at).is_none_or(|t| t < at)
            && i.resolved_at.is_none_or(|r| r >= at)
    };
    let mut rows: Vec<(&Incident, IncidentRow)> = all
        .iter()
        .filter(|i| in_month(i.detected_at) || in_month(i.resolved_at) || open(i))
        .map(|i| {
            let resolved_at = i.resolved_at.filter(|r| *r < at);
            (
                i,
                IncidentRow {
                    id: i.id.clone(),
                    title: i.title.clone(),
                    kind: i.kind,
                    severity: i.severity,
                    detected_at: i.detected_at,
                    resolved_at,
                    detection_seconds: i
                        .occurred_at
                        .zip(i.detected_at)
                        .map(|(o, d)| (d - o).num_seconds()),
                    resolution_seconds: i
                        .detected_at
                        .zip(resolved_at)
                        .map(|(d, r)| (r - d).num_seconds()),
                    notification: notification_state(i, at),
                },
            )
        })
        .collect();
    rows.sort_by(|(a, _), (b, _)| {
        (a.detected_at.or(a.occurred_at), &a.id).cmp(&(b.detected_at.or(b.occurred_at), &b.id))
    });
    let rt = response_times(all, period);
    IncidentsSection {
        detected: all.iter().filter(|i| in_month(i.detected_at)).count(),
        resolved: rt.resolved,
        open_at_end: all.iter().filter(|i| open(i)).count(),
        incidents: rows.into_iter().map(|(_, r)| r).collect(),
        mttd: rt.mttd,
        mttr: rt.mttr,
        duty: notification_duty(all, period, at),
    }
}

fn change(score: Option<f64>, previous: Option<f64>) -> ScoreChange {
    ScoreChange {
        score,
        previous,
        change: score.zip(previous).map(|(s, p)| s - p),
    }
}

/// CIS scores of this month's and last month's last snapshots.
pub fn cis(snaps: &Snapshots<'_>, first: NaiveDate) -> CisSection {
    let prev_month = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    let pair = |name: &str| {
        (
            snaps.get(name, first),
            snaps.get(name, prev_month).filter(|_| prev_month != first),
        )
    };
    let value = |r: Option<&SnapshotRow>| r.and_then(|r| r.value);
    let (now_o, prev_o) = pair(cis_snap::OVERALL);
    let mut ig = None;
    let controls = catalogue()
        .controls
        .iter()
        .map(|c| {
            let (cur, prev) = pair(&cis_snap::control_name(c.id));
            let detail: serde_json::Value = cur
                .and_then(|r| serde_json::from_str(&r.detail).ok())
                .unwrap_or_default();
            ig = ig.or(detail["ig"].as_u64().map(|g| g as u8));
            let n = |k: &str| detail["summary"][k].as_u64().unwrap_or(0);
            ControlScore {
                control: c.id,
                title: c.title.clone(),
                score: change(value(cur), value(prev)),
                assessed: n("assessed"),
                total: n("total"),
            }
        })
        .collect();
    CisSection {
        target: None,
        status: KpiStatus::NoData,
        day: now_o.map(|r| r.day.clone()),
        previous_day: prev_o.map(|r| r.day.clone()),
        ig,
        overall: change(value(now_o), value(prev_o)),
        groups: (1..=3)
            .map(|g| {
                let (c, p) = pair(&cis_snap::ig_name(g));
                change(value(c), value(p))
            })
            .collect(),
        controls,
    }
}

/// Coverage per check from the month's last snapshot, with last month's ratio.
pub fn coverage(snaps: &Snapshots<'_>, first: NaiveDate) -> Vec<CoverageRow> {
    let prev_month = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    crate::kpi::coverage::CHECKS
        .iter()
        .map(|check| {
            let name = format!("coverage.{check}");
            let row = snaps.get(&name, first);
            let d: serde_json::Value = row
                .and_then(|r| serde_json::from_str(&r.detail).ok())
                .unwrap_or_default();
            let n = |k: &str| d[k].as_i64().unwrap_or(0);
            CoverageRow {
                check: check.to_string(),
                pass: n("pass"),
                fail: n("fail"),
                warn: n("warn"),
                error: n("error"),
                not_applicable: n("not_applicable"),
                stale: n("stale"),
                excepted: n("excepted"),
                ratio: row.and_then(|r| r.value),
                previous: snaps
                    .get(&name, prev_month)
                    .filter(|_| prev_month != first)
                    .and_then(|r| r.value),
            }
        })
        .collect()
}

/// The summary's points of attention: indicators not met or without data, overdue notifications,
/// open incidents, a falling CIS score.
pub fn summary(
    indicators: &[Indicator],
    incidents: &IncidentsSection,
    cis: &CisSection,
) -> Vec<Highlight> {
    let mut out = Vec::new();
    for i in indicators {
        match i.status {
            KpiStatus::NotMet => out.push(Highlight::NotMet {
                indicator: i.name.clone(),
            }),
            KpiStatus::NoData => out.push(Highlight::NoData {
                indicator: i.name.clone(),
            }),
            _ => {}
        }
    }
    let overdue = incidents
        .duty
        .counts
        .get(&NotificationState::Overdue)
        .copied()
        .unwrap_or(0);
    if overdue > 0 {
        out.push(Highlight::NotificationsOverdue { count: overdue });
    }
    if incidents.open_at_end > 0 {
        let worst = incidents
            .incidents
            .iter()
            .filter(|i| i.resolved_at.is_none())
            .map(|i| i.severity)
            .max()
            .unwrap_or(crate::registers::incident::Severity::Low);
        out.push(Highlight::IncidentsOpen {
            count: incidents.open_at_end,
            worst,
        });
    }
    if let Some(c) = cis.overall.change.filter(|c| *c < -0.05) {
        out.push(Highlight::CisDown { points: -c });
    }
    out
}

/// Points of attention from the governance registers: high/critical risks, overdue P1 actions,
/// expiring exceptions.
fn governance_highlights(inputs: &ReportInputs, period: Period) -> Vec<Highlight> {
    let mut out = Vec::new();
    let r = governance::risks(&inputs.risks, &inputs.risk_history, period);
    let high: usize = r
        .open_by_level
        .iter()
        .filter(|(l, _)| **l >= crate::risk::Level::High)
        .map(|(_, n)| n)
        .sum();
    if high > 0 {
        out.push(Highlight::HighRisks { count: high });
    }
    let a = governance::actions(&inputs.actions, period);
    let p1 = a
        .by_priority
        .iter()
        .find(|p| p.priority == crate::risk::actions::Priority::P1)
        .map_or(0, |p| p.overdue);
    if p1 > 0 {
        out.push(Highlight::P1Overdue { count: p1 });
    }
    let e = governance::exceptions(&inputs.exceptions, period);
    if e.expiring > 0 {
        out.push(Highlight::ExceptionsExpiring { count: e.expiring });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_strictly() {
        assert_eq!(
            parse_month("2026-11").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        for bad in [
            "2026-13",
            "2026-1",
            "26-11",
            "2026/11",
            "2026-11-01",
            "",
            "abcd-ef",
        ] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }

    /// A month with no snapshot at all (every fleet indicator "no data") and one crisis
    /// incident still open: the open incident is the first point of attention, the "no data"
    /// lines come last (they were listed first before points were ordered by urgency).
    #[test]
    fn an_open_crisis_comes_before_missing_data() {
        use crate::registers::incident::{IncidentType, Severity};
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut inputs = ReportInputs::default();
        inputs.registers.incidents.push(Incident {
            id: "INC-9".into(),
            title: "Ransomware".into(),
            kind: IncidentType::Ransomware,
            severity: Severity::Crisis,
            team: "soc".into(),
            description: String::new(),
            actions: String::new(),
            occurred_at: Some(at("2026-03-10T08:00:00Z")),
            detected_at: Some(at("2026-03-10T09:00:00Z")),
            contained_at: None,
            resolved_at: None,
            personal_data: false,
            notified_at: None,
        });
        let first = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let r = assemble(
            &inputs,
            &KpiSection::default(),
            first,
            at("2026-04-05T12:00:00Z"),
        )
        .unwrap();
        assert!(
            matches!(
                r.summary[0],
                Highlight::IncidentsOpen {
                    count: 1,
                    worst: Severity::Crisis
                }
            ),
            "{:?}",
            r.summary
        );
        assert!(matches!(r.summary.last(), Some(Highlight::NoData { .. })));
        assert!(r
            .summary
            .iter()
            .any(|h| matches!(h, Highlight::NoData { indicator } if indicator == "patch_sla")));
    }

    #[test]
    fn trend_months_end_with_the_month() {
        let m = trend_months(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(m.len(), 12);
        assert_eq!(ym(m[0]), "2025-04");
        assert_eq!(ym(m[11]), "2026-03");
        assert_eq!(
            last_day(m[11]),
            NaiveDate::from_ymd_opt(2026, 3, 31).unwrap()
        );
    }
}

#[cfg(test)]
mod enrolled_bound_tests {
    use super::*;
    use chrono::TimeZone;
    use rusqlite::params;

    fn store_with_hosts(enrolled: &[i64]) -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut c).unwrap();
        for (i, at) in enrolled.iter().enumerate() {
            c.execute(
                "INSERT INTO hosts(id, machine_id, hostname, node_key_hash, enrolled_at)
                 VALUES (?1, ?2, ?2, ?3, ?4)",
                params![i as i64 + 1, format!("m{i}"), vec![i as u8], at],
            )
            .unwrap();
        }
        c
    }

    /// A draft (today): a host enrolled in the draft's own second is in the fleet, one enrolled a
    /// second later is not. A complete month: the bound is the next midnight, excluded.
    #[test]
    fn a_host_enrolled_in_the_drafts_own_second_is_in_the_fleet() {
        let now = Utc.with_ymd_and_hms(2026, 3, 17, 10, 20, 30).unwrap()
            + chrono::Duration::milliseconds(400);
        let second = now.timestamp();
        let c = store_with_hosts(&[second - 5, second, second + 1]);
        let when = when_of(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(), now).unwrap();
        let s =
            sql::fleet_size(&c, enrolled_before(&when, now), "2026-03-01", "2026-03-17").unwrap();
        assert_eq!(
            s.enrolled, 2,
            "hosts enrolled at now-5 s and in now's second"
        );

        let midnight = Utc
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .unwrap()
            .timestamp();
        let c = store_with_hosts(&[midnight - 1, midnight]);
        let when = when_of(NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(), now).unwrap();
        let s =
            sql::fleet_size(&c, enrolled_before(&when, now), "2026-02-01", "2026-02-28").unwrap();
        assert_eq!(s.enrolled, 1, "February's fleet ends before 1 March 00:00");
    }
}
