//! The governance manual's maturity indicators (section 03) and the fleet coverage per check.
//! Every KPI is a pure function over plain data (store rows, register records), documented with
//! its formula in docs/kpi.md; this module puts them side by side with their targets.
//!
//! - `patch_sla`, `training`, `response_times` (MTTD/MTTR), `notification` (72-hour duty),
//!   `coverage` — one KPI family each.
//! - `evaluation` — reads the store, evaluates at a date, takes and reads daily snapshots.
//! - `render` — the table the CLI prints.

pub mod coverage;
pub mod evaluation;
pub mod notification;
pub mod patch_sla;
pub mod render;
pub mod response_times;
pub mod training;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::KpiSection;
use crate::registers::incident::Incident;
use crate::registers::training::{Completion, Person};
use crate::store::fleet::{FleetAggregate, HostCheck};
use response_times::Period;

/// How a KPI stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiStatus {
    /// The target is reached.
    Met,
    /// The target is not reached.
    NotMet,
    /// Nothing to measure (no hosts, no incidents, no snapshot…).
    NoData,
    /// Measured, but no target is configured.
    NoTarget,
}

impl KpiStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            KpiStatus::Met => "met",
            KpiStatus::NotMet => "not_met",
            KpiStatus::NoData => "no_data",
            KpiStatus::NoTarget => "no_target",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<KpiStatus> {
        [
            KpiStatus::Met,
            KpiStatus::NotMet,
            KpiStatus::NoData,
            KpiStatus::NoTarget,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The unit of a KPI's value and target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// 0 to 1; higher is better.
    Ratio,
    /// Seconds; lower is better.
    Seconds,
}

/// Where a KPI's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Computed now from the store.
    Live,
    /// Read from the daily snapshot of the day asked for.
    Snapshot,
    /// A fleet KPI asked for a past day that has no snapshot.
    NoSnapshot,
}

/// One KPI: value, target, status and the detail behind them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpi {
    /// Stable name (`patch_sla`, `training_coverage`, `mttd`, `mttr`, `personal_data_72h`,
    /// `coverage.<check>`).
    pub name: String,
    /// Unit of value and target.
    pub unit: Unit,
    /// The value; `None` without data.
    pub value: Option<f64>,
    /// The target; `None` when none is configured.
    pub target: Option<f64>,
    /// Against the target.
    pub status: KpiStatus,
    /// Live, snapshot, or missing snapshot.
    pub source: Source,
    /// The computation's detail (counts, lists, per severity…).
    pub detail: serde_json::Value,
}

/// Judge `value` against `target`: a ratio must reach the target, a duration stay at or under it.
pub fn judge(value: Option<f64>, target: Option<f64>, unit: Unit) -> KpiStatus {
    match (value, target) {
        (None, _) => KpiStatus::NoData,
        (Some(_), None) => KpiStatus::NoTarget,
        (Some(v), Some(t)) => {
            let met = match unit {
                // A ratio computed as k/n may land a hair under an exact target: 1e-9 tolerance.
                Unit::Ratio => v + 1e-9 >= t,
                Unit::Seconds => v <= t,
            };
            if met {
                KpiStatus::Met
            } else {
                KpiStatus::NotMet
            }
        }
    }
}

fn kpi(
    name: &str,
    unit: Unit,
    value: Option<f64>,
    target: Option<f64>,
    detail: impl Serialize,
) -> Kpi {
    Kpi {
        name: name.to_string(),
        unit,
        value,
        target,
        status: judge(value, target, unit),
        source: Source::Live,
        detail: serde_json::to_value(detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The fleet's state, read once.
#[derive(Debug, Clone, Default)]
pub struct FleetInputs {
    /// Aggregate counts per check and status.
    pub aggregate: FleetAggregate,
    /// Every reported host's `patch_age` status with `oldest_pending_days` and `sla_days`.
    pub patch_hosts: Vec<HostCheck>,
}

/// Everything the KPIs are computed from.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The fleet, when evaluated live (`None`: the fleet KPIs come from a snapshot).
    pub fleet: Option<FleetInputs>,
    /// The incident register.
    pub incidents: Vec<Incident>,
    /// The roster.
    pub people: Vec<Person>,
    /// Training completions (at least those of the 365-day window).
    pub completions: Vec<Completion>,
}

/// Names of the KPIs computed from the fleet (the ones read from a snapshot for a past day).
pub fn fleet_kpi_names() -> Vec<String> {
    let mut names = vec!["patch_sla".to_string()];
    names.extend(coverage::CHECKS.iter().map(|c| format!("coverage.{c}")));
    names
}

/// The fleet KPIs: patch SLA and coverage per check.
pub fn fleet_kpis(fleet: &FleetInputs, cfg: &KpiSection) -> Vec<Kpi> {
    let sla = patch_sla::patch_sla(&fleet.patch_hosts, cfg.sla_days);
    fleet_kpis_from(&fleet.aggregate, sla, cfg)
}

/// The fleet KPIs from the aggregate and the patch SLA already computed.
pub fn fleet_kpis_from(
    aggregate: &FleetAggregate,
    sla: patch_sla::PatchSla,
    cfg: &KpiSection,
) -> Vec<Kpi> {
    let mut out = vec![kpi(
        "patch_sla",
        Unit::Ratio,
        sla.ratio,
        Some(cfg.patch_sla_target),
        &sla,
    )];
    for check in coverage::CHECKS.iter() {
        let c = coverage::check_coverage(aggregate, check);
        out.push(kpi(
            &format!("coverage.{check}"),
            Unit::Ratio,
            c.ratio,
            None,
            &c,
        ));
    }
    out
}

/// When KPIs are evaluated: a day, the instant standing for it, and the incidents' period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct When {
    /// The day (UTC) asked for.
    pub day: NaiveDate,
    /// `now` for today, the end of the day (next midnight UTC) for a past day.
    pub at: DateTime<Utc>,
    /// The calendar month of `day`, from its first day up to `at`.
    pub period: Period,
}

impl When {
    /// The evaluation for `day` seen at `now`; a day after `now`'s is refused.
    pub fn on(day: NaiveDate, now: DateTime<Utc>) -> Result<When, String> {
        let today = now.date_naive();
        if day > today {
            return Err(format!("{day} is in the future (today is {today} UTC)"));
        }
        let at = if day == today {
            now
        } else {
            day.succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .unwrap_or(now)
        };
        Ok(When {
            day,
            at,
            period: Period::month_of(day, at),
        })
    }
}

/// The register KPIs: training coverage on `when.day`, incidents over `when.period` seen at
/// `when.at`.
pub fn register_kpis(inputs: &Inputs, cfg: &KpiSection, when: &When) -> Vec<Kpi> {
    let (day, at, period) = (when.day, when.at, when.period);
    let tc = training::training_coverage(
        &inputs.people,
        &inputs.completions,
        &cfg.awareness_courses,
        day,
    );
    let rt = response_times::response_times(&inputs.incidents, period);
    let duty = notification::notification_duty(&inputs.incidents, period, at);
    let hours = |h: Option<f64>| h.map(|h| h * 3600.0);
    vec![
        kpi(
            "training_coverage",
            Unit::Ratio,
            tc.ratio,
            Some(cfg.training_target),
            &tc,
        ),
        kpi(
            "mttd",
            Unit::Seconds,
            rt.mttd.overall.mean_seconds,
            hours(cfg.mttd_target_hours),
            serde_json::json!({"period": rt.period, "resolved": rt.resolved,
                "overall": rt.mttd.overall, "by_severity": rt.mttd.by_severity}),
        ),
        kpi(
            "mttr",
            Unit::Seconds,
            rt.mttr.overall.mean_seconds,
            hours(cfg.mttr_target_hours),
            serde_json::json!({"period": rt.period, "resolved": rt.resolved,
                "overall": rt.mttr.overall, "by_severity": rt.mttr.by_severity}),
        ),
        kpi(
            "personal_data_72h",
            Unit::Ratio,
            duty.ratio,
            Some(1.0),
            &duty,
        ),
    ]
}

/// Every KPI: fleet ones first when the fleet is given, then the registers'.
pub fn evaluate(inputs: &Inputs, cfg: &KpiSection, when: &When) -> Vec<Kpi> {
    let mut out = Vec::new();
    if let Some(fleet) = &inputs.fleet {
        out.extend(fleet_kpis(fleet, cfg));
    }
    out.extend(register_kpis(inputs, cfg, when));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_today_past_and_future() {
        let now = DateTime::parse_from_rfc3339("2026-04-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let today = When::on(now.date_naive(), now).unwrap();
        assert_eq!(today.at, now);
        assert_eq!(today.period.start.to_rfc3339(), "2026-04-01T00:00:00+00:00");
        let tomorrow = now.date_naive().succ_opt().unwrap();
        assert!(When::on(tomorrow, now).unwrap_err().contains("future"));
    }

    #[test]
    fn judging_against_targets() {
        assert_eq!(judge(Some(1.0), Some(1.0), Unit::Ratio), KpiStatus::Met);
        assert_eq!(judge(Some(0.99), Some(1.0), Unit::Ratio), KpiStatus::NotMet);
        // 1/3 + 2/3 computed in floating point still meets a 1.0 target.
        assert_eq!(
            judge(Some(1.0 / 3.0 + 2.0 / 3.0), Some(1.0), Unit::Ratio),
            KpiStatus::Met
        );
        assert_eq!(
            judge(Some(3600.0), Some(3600.0), Unit::Seconds),
            KpiStatus::Met
        );
        assert_eq!(
            judge(Some(3601.0), Some(3600.0), Unit::Seconds),
            KpiStatus::NotMet
        );
        assert_eq!(judge(None, Some(1.0), Unit::Ratio), KpiStatus::NoData);
        assert_eq!(judge(Some(5.0), None, Unit::Seconds), KpiStatus::NoTarget);
    }

    /// With mttd_target_hours = 3: March's MTTD 11 400 s (3 h 10 min) > 10 800 s ⇒ not_met;
    /// mttr_target_hours = 14: MTTR 47 520 s (13.2 h) ≤ 50 400 s ⇒ met. Training with nobody
    /// in the roster ⇒ no_data; the 72-hour duty 0.25 < 1 ⇒ not_met.
    #[test]
    fn register_kpis_with_targets() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers/incidents-2026-03.csv");
        let incidents = crate::registers::csv_import::read_incidents(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        let inputs = Inputs {
            incidents,
            ..Inputs::default()
        };
        let cfg = KpiSection {
            mttd_target_hours: Some(3.0),
            mttr_target_hours: Some(14.0),
            ..KpiSection::default()
        };
        // The end of 31 March, seen on 5 April: at = 1 April 00:00, period = March.
        let now = DateTime::parse_from_rfc3339("2026-04-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let when = When::on(NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(), now).unwrap();
        assert_eq!(when.at.to_rfc3339(), "2026-04-01T00:00:00+00:00");
        assert_eq!(when.period.start.to_rfc3339(), "2026-03-01T00:00:00+00:00");
        let kpis = evaluate(&inputs, &cfg, &when);
        let get = |n: &str| kpis.iter().find(|k| k.name == n).unwrap();
        assert!(kpis.iter().all(|k| k.name != "patch_sla"), "no fleet given");
        assert_eq!(get("training_coverage").status, KpiStatus::NoData);
        assert_eq!(get("mttd").value, Some(11_400.0));
        assert_eq!(get("mttd").target, Some(10_800.0));
        assert_eq!(get("mttd").status, KpiStatus::NotMet);
        assert_eq!(get("mttr").status, KpiStatus::Met);
        assert_eq!(get("personal_data_72h").value, Some(0.25));
        assert_eq!(get("personal_data_72h").status, KpiStatus::NotMet);
    }
}
