//! Evaluating the KPIs from the store for a day, and the daily snapshots.
//!
//! Today is evaluated live. A past day re-evaluates the registers at that date (they are dated
//! records), but the fleet KPIs come from that day's snapshot: the fleet's past state is not kept
//! host by host, so without a snapshot the answer is "no snapshot", never today's state.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::{
    evaluate, fleet_kpi_names, judge, register_kpis, FleetInputs, Inputs, Kpi, KpiStatus, Source,
    Unit, When,
};
use crate::config::CollectorConfig;
use crate::store::hosts::Staleness;
use crate::store::kpi_snapshots::{self, SnapshotRow};
use crate::store::{fleet, registers, Store, StoreError};

/// What can go wrong evaluating KPIs.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The day asked for is not usable.
    #[error("{0}")]
    Day(String),
    /// A background task failed.
    #[error("KPI evaluation task failed: {0}")]
    Task(String),
}

/// The KPIs of one day.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// When they were evaluated for.
    #[serde(flatten)]
    pub when: When,
    /// Every KPI, fleet ones first.
    pub kpis: Vec<Kpi>,
}

/// The staleness rule of `cfg` at `now` (Unix seconds).
pub fn staleness(cfg: &CollectorConfig, now: i64) -> Staleness {
    Staleness::from_config(&cfg.fleet, now)
}

/// The registers as needed on `day`: every incident, the roster, the completions of the window.
pub fn load_registers(conn: &Connection, day: NaiveDate) -> Result<Inputs, StoreError> {
    Ok(Inputs {
        fleet: None,
        incidents: registers::list_incidents(conn)?,
        people: registers::list_people(conn)?,
        completions: registers::completions_between(conn, super::training::window_from(day), day)?,
    })
}

/// The fleet's current state.
pub fn load_fleet(conn: &Connection, st: &Staleness) -> Result<FleetInputs, StoreError> {
    let mut patch_hosts = fleet::host_checks(
        conn,
        st,
        super::patch_sla::CHECK,
        &["oldest_pending_days", "sla_days"],
    )?;
    // A `fail` covered by an exception in force counts as `excepted` (listed apart).
    let rule = crate::store::exceptions::InForce::load(conn, st.now)?;
    for h in &mut patch_hosts {
        if let Some(status) = h.status.as_deref().filter(|s| *s == "fail") {
            let eff = rule.effective(&h.hostname, super::patch_sla::CHECK, status);
            h.status = Some(eff.as_str().to_string());
        }
    }
    Ok(FleetInputs {
        aggregate: fleet::aggregate(conn, st)?,
        patch_hosts,
    })
}

/// Unit of a KPI by name.
fn unit_of(name: &str) -> Unit {
    match name {
        "mttd" | "mttr" => Unit::Seconds,
        _ => Unit::Ratio,
    }
}

/// A KPI read back from a snapshot row.
pub fn kpi_from_row(row: &SnapshotRow) -> Kpi {
    let unit = unit_of(&row.kpi);
    Kpi {
        name: row.kpi.clone(),
        unit,
        value: row.value,
        target: row.target,
        status: KpiStatus::parse(&row.status).unwrap_or_else(|| judge(row.value, row.target, unit)),
        source: Source::Snapshot,
        detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
    }
}

/// The rows that store `eval` as the snapshot of its day.
pub fn snapshot_rows(eval: &Evaluation, taken_at: i64) -> Vec<SnapshotRow> {
    let day = eval.when.day.format("%Y-%m-%d").to_string();
    eval.kpis
        .iter()
        .filter(|k| k.source == Source::Live)
        .map(|k| SnapshotRow {
            day: day.clone(),
            kpi: k.name.clone(),
            value: k.value,
            target: k.target,
            status: k.status.as_str().to_string(),
            detail: k.detail.to_string(),
            taken_at,
        })
        .collect()
}

/// Evaluate every KPI for `day` as seen at `now` (blocking: call from `spawn_blocking`).
pub fn evaluate_on(
    store: &Store,
    cfg: &CollectorConfig,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Evaluation, KpiError> {
    let when = When::on(day, now).map_err(KpiError::Day)?;
    let inputs = store.read(|c| load_registers(c, day))?;
    if day == now.date_naive() {
        // The fleet KPIs from the in-memory fleet copy (memoised until something they depend on
        // changes): exactly what `load_fleet` and `evaluate` give, without reading every host.
        let st = staleness(cfg, now.timestamp());
        let mut kpis = store.fleet_kpis(&st, &cfg.kpi)?;
        kpis.extend(register_kpis(&inputs, &cfg.kpi, &when));
        return Ok(Evaluation { when, kpis });
    }
    let day_s = day.format("%Y-%m-%d").to_string();
    let rows = store.read(|c| kpi_snapshots::load(c, &day_s))?;
    let mut kpis = Vec::new();
    for name in fleet_kpi_names() {
        kpis.push(match rows.iter().find(|r| r.kpi == name) {
            Some(r) => kpi_from_row(r),
            None => Kpi {
                unit: unit_of(&name),
                target: (name == "patch_sla").then_some(cfg.kpi.patch_sla_target),
                name,
                value: None,
                status: KpiStatus::NoData,
                source: Source::NoSnapshot,
                detail: serde_json::json!({"note": format!("no snapshot for {day_s}")}),
            },
        });
    }
    kpis.extend(register_kpis(&inputs, &cfg.kpi, &when));
    Ok(Evaluation { when, kpis })
}

/// Evaluate today's KPIs and store them as today's snapshot (replacing an earlier one of today).
pub async fn take_snapshot(
    store: Arc<Store>,
    cfg: CollectorConfig,
    now: DateTime<Utc>,
) -> Result<Evaluation, KpiError> {
    let s = store.clone();
    let cfg_cis = cfg.clone();
    let eval = tokio::task::spawn_blocking(move || evaluate_on(&s, &cfg, now.date_naive(), now))
        .await
        .map_err(|e| KpiError::Task(e.to_string()))??;
    let mut rows = snapshot_rows(&eval, now.timestamp());
    let s = store.clone();
    let c = cfg_cis.clone();
    rows.extend(
        tokio::task::spawn_blocking(move || cis_rows(&s, &c, now))
            .await
            .map_err(|e| KpiError::Task(e.to_string()))??,
    );
    store.write(move |c| kpi_snapshots::save(c, &rows)).await?;
    Ok(eval)
}

/// Today's CIS scores as snapshot rows (see `cis::snapshot`). An unreadable self-assessment is
/// logged and the CIS rows skipped, so the KPI snapshot is still taken.
fn cis_rows(
    store: &Store,
    cfg: &CollectorConfig,
    now: DateTime<Utc>,
) -> Result<Vec<SnapshotRow>, KpiError> {
    let assessment = match crate::cis::load_configured(&cfg.cis, crate::cis::today()) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "CIS scores left out of today's snapshot");
            return Ok(Vec::new());
        }
    };
    let st = staleness(cfg, now.timestamp());
    let hosts = store.with_fleet(&st, |v| v.check_tallies())?;
    let (evidence, tallies) =
        store.read(|c| crate::cis::identity::combine(c, &cfg.identity, now.timestamp(), hosts))?;
    let cat = crate::cis::catalogue::catalogue();
    let card = crate::cis::score::score(cat, &evidence, &tallies, &assessment);
    let day = now.date_naive().format("%Y-%m-%d").to_string();
    Ok(crate::cis::snapshot::snapshot_rows(
        cat,
        &card,
        cfg.cis.implementation_group,
        cfg.kpi.cis_target.map(|t| t * 100.0),
        &day,
        now.timestamp(),
    ))
}

/// Every row a snapshot taken at `now` would store (KPIs and CIS scores), computed on `conn`
/// without storing anything: the monthly report of the month in progress uses it, so its figures
/// are today's (marked provisional) rather than those of a snapshot taken before the day's reports
/// arrived. An unreadable self-assessment leaves the CIS rows out, as in the daily snapshot.
pub fn live_rows(
    conn: &Connection,
    cfg: &CollectorConfig,
    now: DateTime<Utc>,
) -> Result<Vec<SnapshotRow>, KpiError> {
    let day = now.date_naive();
    let when = When::on(day, now).map_err(KpiError::Day)?;
    let st = staleness(cfg, now.timestamp());
    let mut inputs = load_registers(conn, day)?;
    inputs.fleet = Some(load_fleet(conn, &st)?);
    let eval = Evaluation {
        when,
        kpis: evaluate(&inputs, &cfg.kpi, &when),
    };
    let mut rows = snapshot_rows(&eval, now.timestamp());
    match crate::cis::load_configured(&cfg.cis, day) {
        Ok(assessment) => {
            let hosts = crate::store::cis::check_tallies(conn, &st)?;
            let (evidence, tallies) =
                crate::cis::identity::combine(conn, &cfg.identity, now.timestamp(), hosts)?;
            let cat = crate::cis::catalogue::catalogue();
            let card = crate::cis::score::score(cat, &evidence, &tallies, &assessment);
            rows.extend(crate::cis::snapshot::snapshot_rows(
                cat,
                &card,
                cfg.cis.implementation_group,
                cfg.kpi.cis_target.map(|t| t * 100.0),
                &day.format("%Y-%m-%d").to_string(),
                now.timestamp(),
            ));
        }
        Err(e) => tracing::warn!(error = %e, "CIS scores left out of the live figures"),
    }
    Ok(rows)
}

/// How often a deferred daily snapshot looks for the day's first report.
pub const DEFERRED_POLL: std::time::Duration = std::time::Duration::from_secs(60);

/// Hour (UTC) from which the daily snapshot is taken even if no host has reported that day: a
/// silent fleet is a fact of the day too (every host stale).
pub const SNAPSHOT_ANYWAY_HOUR: u32 = 23;

/// Take today's snapshot unless one exists (the server's once-a-day job). Returns whether one
/// was taken. When no host has reported yet today (the collector just started, or the day just
/// began), the snapshot would record a fleet without data: it is deferred to a background task
/// that takes it as soon as the day's first report has arrived (or at 23:00 UTC).
pub async fn snapshot_if_missing(
    store: Arc<Store>,
    cfg: CollectorConfig,
    now: DateTime<Utc>,
) -> Result<bool, KpiError> {
    snapshot_or_defer(store, cfg, now, DEFERRED_POLL).await
}

/// Whether the snapshot of `at`'s day is due now: none stored yet, and a host reported that day
/// (or it is late enough to take it anyway). `None` when one is already stored.
async fn due(store: &Arc<Store>, at: DateTime<Utc>) -> Result<Option<bool>, KpiError> {
    use chrono::Timelike as _;
    let day = at.date_naive();
    let day_s = day.format("%Y-%m-%d").to_string();
    let start = day
        .and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp());
    let s = store.clone();
    let (exists, reported) = tokio::task::spawn_blocking(move || {
        s.read(|c| {
            Ok((
                kpi_snapshots::exists(c, &day_s)?,
                fleet::hosts_reported_since(c, start)?,
            ))
        })
    })
    .await
    .map_err(|e| KpiError::Task(e.to_string()))??;
    if exists {
        return Ok(None);
    }
    Ok(Some(reported > 0 || at.hour() >= SNAPSHOT_ANYWAY_HOUR))
}

/// [`snapshot_if_missing`], looking for the first report every `poll` while deferred.
pub async fn snapshot_or_defer(
    store: Arc<Store>,
    cfg: CollectorConfig,
    now: DateTime<Utc>,
    poll: std::time::Duration,
) -> Result<bool, KpiError> {
    match due(&store, now).await? {
        None => return Ok(false),
        Some(true) => {
            take_snapshot(store, cfg, now).await?;
            return Ok(true);
        }
        Some(false) => {}
    }
    let day = now.date_naive();
    tracing::info!(%day, "KPI snapshot deferred until the first report of the day");
    let started = std::time::Instant::now();
    // A weak reference: a deferred snapshot must not keep the store open past the server's
    // shutdown (which closes it cleanly only when it holds the last reference).
    let weak = Arc::downgrade(&store);
    drop(store);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(poll).await;
            let Some(store) = weak.upgrade() else {
                return;
            };
            let at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            if at.date_naive() != day {
                // The next day's job takes over; this day keeps no snapshot.
                tracing::warn!(%day, "no KPI snapshot for the day: no host reported");
                return;
            }
            match due(&store, at).await {
                Ok(None) => return,
                Ok(Some(false)) => continue,
                Ok(Some(true)) => {
                    match take_snapshot(store.clone(), cfg.clone(), at).await {
                        Ok(_) => tracing::info!(%day, "KPI snapshot stored"),
                        Err(e) => tracing::warn!(error = %e, "KPI snapshot failed"),
                    }
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "KPI snapshot check failed"),
            }
        }
    });
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{hosts, ingest};
    use vigie_checks::wire::{HostIdentity, Report};
    use vigie_checks::{CheckResult, Status};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Enrol `name` and store one report with `results`, received at `at`.
    async fn host(store: &Store, name: &str, at: DateTime<Utc>, results: Vec<CheckResult>) {
        let id = HostIdentity {
            hostname: name.into(),
            machine_id: format!("m-{name}"),
            os: "debian".into(),
            os_version: "12".into(),
            kernel: "6.1".into(),
            arch: "x86_64".into(),
        };
        let report = Report {
            schema: 1,
            report_id: format!("r-{name}"),
            agent_version: "0.1.0".into(),
            collected_at: at,
            host: id.clone(),
            results,
            interval_seconds: Some(3600),
            lost_reports: 0,
        };
        let key = name.as_bytes().to_vec();
        let ts = at.timestamp();
        store
            .write(move |c| {
                let e = hosts::enroll(c, &id, &key, Some(3600), true, ts)?;
                ingest::apply_report(c, e.host_id(), &report, ts)
            })
            .await
            .unwrap();
    }

    fn patch(status: Status, oldest: Option<i64>) -> CheckResult {
        CheckResult::new("patch_age", status, "…")
            .fact("oldest_pending_days", oldest)
            .fact("sla_days", 30)
    }

    /// A fleet in the store, seen at 2026-04-05T12:00Z (interval 1 h, stale after 3 h):
    /// - web-01 pass, web-02 warn (27 days), db-01 fail (41 days), app-01 error,
    ///   bsd-01 not_applicable, all reported at 11:00 → reporting;
    /// - old-01 fail (90 days), reported at 06:00 (6 h ago > 3 h) → stale.
    ///
    /// patch_sla = (pass + warn) / (pass + warn + fail + error) = 2 / 4 = 0.5, target 1.0 ⇒ not_met.
    /// coverage.mfa: web-01 pass, web-02 fail ⇒ 1 / 2 = 0.5.
    /// Snapshot taken then read back for the day; a past day without snapshot says so.
    #[tokio::test]
    async fn fleet_kpis_from_the_store_and_snapshots() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("vigie.db"), 64).unwrap());
        let fresh = t("2026-04-05T11:00:00Z");
        let mfa = |s| CheckResult::new("mfa", s, "…");
        host(
            &store,
            "web-01",
            fresh,
            vec![patch(Status::Pass, None), mfa(Status::Pass)],
        )
        .await;
        host(
            &store,
            "web-02",
            fresh,
            vec![patch(Status::Warn, Some(27)), mfa(Status::Fail)],
        )
        .await;
        host(&store, "db-01", fresh, vec![patch(Status::Fail, Some(41))]).await;
        host(&store, "app-01", fresh, vec![patch(Status::Error, None)]).await;
        host(
            &store,
            "bsd-01",
            fresh,
            vec![patch(Status::NotApplicable, None)],
        )
        .await;
        host(
            &store,
            "old-01",
            t("2026-04-05T06:00:00Z"),
            vec![patch(Status::Fail, Some(90))],
        )
        .await;

        let cfg = CollectorConfig::default();
        let now = t("2026-04-05T12:00:00Z");
        let eval = take_snapshot(store.clone(), cfg.clone(), now)
            .await
            .unwrap();
        let get = |e: &Evaluation, n: &str| e.kpis.iter().find(|k| k.name == n).unwrap().clone();
        let sla = get(&eval, "patch_sla");
        assert_eq!(sla.value, Some(0.5));
        assert_eq!(sla.status, KpiStatus::NotMet);
        assert_eq!(sla.detail["offending"][0]["hostname"], "db-01");
        assert_eq!(sla.detail["offending"][0]["oldest_pending_days"], 41);
        assert_eq!(sla.detail["stale_hosts"][0], "old-01");
        assert_eq!(sla.detail["excepted"], 0);
        assert_eq!(get(&eval, "coverage.mfa").value, Some(0.5));
        // No incidents, nobody in the roster.
        assert_eq!(get(&eval, "mttd").status, KpiStatus::NoData);
        // The CIS scores are stored in the same snapshot: one row each for the overall score,
        // the 3 implementation groups and the 18 controls = 22.
        let cis = store
            .read(|c| kpi_snapshots::load(c, "2026-04-05"))
            .unwrap()
            .into_iter()
            .filter(|r| r.kpi.starts_with("cis."))
            .count();
        assert_eq!(cis, 22, "cis.overall, 3 IGs, 18 controls");

        // The same day, later, read back from a fresh evaluation of a *past* view: the next day
        // asks for 2026-04-05 and gets the snapshot for the fleet KPIs.
        let tomorrow = t("2026-04-06T09:00:00Z");
        let past = evaluate_on(&store, &cfg, now.date_naive(), tomorrow).unwrap();
        let snap = get(&past, "patch_sla");
        assert_eq!(snap.source, Source::Snapshot);
        assert_eq!(snap.value, Some(0.5));
        assert_eq!(snap.status, KpiStatus::NotMet);
        assert_eq!(get(&past, "mttr").source, Source::Live);
        // 2026-04-04 has no snapshot: the fleet KPIs say so rather than show today's state.
        let before = evaluate_on(
            &store,
            &cfg,
            t("2026-04-04T00:00:00Z").date_naive(),
            tomorrow,
        )
        .unwrap();
        let missing = get(&before, "patch_sla");
        assert_eq!(missing.source, Source::NoSnapshot);
        assert_eq!(missing.value, None);
        assert_eq!(missing.status, KpiStatus::NoData);
        assert!(super::super::render::kpi_table(&before).contains("no snapshot"));
        // Once a day: a snapshot exists for the 5th, so none is taken again.
        assert!(!snapshot_if_missing(store.clone(), cfg.clone(), now)
            .await
            .unwrap());
        // The 6th at 09:00: nobody has reported yet that day → deferred, nothing stored yet.
        assert!(!snapshot_if_missing(store.clone(), cfg, tomorrow)
            .await
            .unwrap());
        assert!(!store
            .read(|c| kpi_snapshots::exists(c, "2026-04-06"))
            .unwrap());
    }

    /// Day one: the collector starts at 08:00 before any agent has reported. On main the daily
    /// snapshot was taken right then and recorded a fleet without data for the whole day. Now it
    /// waits: nothing is stored until web-01 reports (patch_age pass), then the snapshot records
    /// patch_sla = 1 / 1 = 1.
    #[tokio::test]
    async fn the_first_snapshot_waits_for_the_first_report_of_the_day() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("vigie.db"), 64).unwrap());
        let cfg = CollectorConfig::default();
        let start = t("2026-12-03T08:00:00Z");
        let poll = std::time::Duration::from_millis(20);
        assert!(!snapshot_or_defer(store.clone(), cfg.clone(), start, poll)
            .await
            .unwrap());
        tokio::time::sleep(poll * 5).await;
        assert!(!store
            .read(|c| kpi_snapshots::exists(c, "2026-12-03"))
            .unwrap());
        host(&store, "web-01", start, vec![patch(Status::Pass, None)]).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let rows = loop {
            let rows = store
                .read(|c| kpi_snapshots::load(c, "2026-12-03"))
                .unwrap();
            if !rows.is_empty() {
                break rows;
            }
            assert!(std::time::Instant::now() < deadline, "no snapshot taken");
            tokio::time::sleep(poll).await;
        };
        let sla = rows.iter().find(|r| r.kpi == "patch_sla").unwrap();
        assert_eq!(sla.value, Some(1.0));
        // Taken once: a later call finds it.
        assert!(
            !snapshot_or_defer(store.clone(), cfg, t("2026-12-03T10:00:00Z"), poll)
                .await
                .unwrap()
        );
    }
}
