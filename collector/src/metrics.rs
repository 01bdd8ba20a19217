//! Prometheus metrics. The collector's own counters are updated on the hot path (cheap atomic adds);
//! fleet aggregates are gauges refreshed from the store on a schedule, so a scrape never runs a
//! query, however large the fleet.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::store::hosts::Staleness;
use crate::store::{Store, StoreError};

/// Every metric the collector exposes.
pub struct Metrics {
    pub registry: Registry,
    pub ingest_reports: IntCounterVec,
    pub ingest_duration: HistogramVec,
    pub enrolments: IntCounterVec,
    /// Evidence sent with another excerpt than the one stored under its SHA-256.
    pub evidence_conflicts: prometheus::IntCounter,
    /// The store writer's counters, mirrored from its own atomics at each refresh.
    pub store_batches: IntCounter,
    pub store_operations: IntCounter,
    pub store_failed_commits: IntCounter,
    pub hosts: IntGaugeVec,
    pub check_hosts: IntGaugeVec,
    pub refresh_timestamp: IntGauge,
    /// How long the last refresh of the fleet aggregates took.
    pub refresh_duration: prometheus::Gauge,
    /// CIS Controls scores (`vigie_cis_*`).
    pub cis: crate::cis::gauges::CisGauges,
    /// `vigie_host_check_status{host,check,status}`: only with `[metrics] per_host = true`.
    pub per_host: Option<IntGaugeVec>,
    pub kpi: KpiGauges,
    /// Risk register, plan and exceptions (`vigie_risks`, `vigie_actions`, `vigie_exceptions` …).
    pub risk: crate::risk::gauges::RiskGauges,
    /// Hosts and check statuses per OS family (`vigie_hosts_by_os`, `vigie_check_hosts_by_os`).
    pub os: crate::os_gauges::OsGauges,
}

/// Outcome labels of `vigie_ingest_reports_total` (bounded).
pub const OUTCOMES: &[&str] = &[
    "accepted",
    "duplicate",
    "out_of_order",
    "resync",
    "rejected",
    "unauthorized",
    "error",
];

impl Metrics {
    /// Register every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let ingest_reports = IntCounterVec::new(
            Opts::new(
                "vigie_ingest_reports_total",
                "Reports received, by outcome.",
            ),
            &["outcome"],
        )?;
        let ingest_duration = HistogramVec::new(
            HistogramOpts::new(
                "vigie_ingest_duration_seconds",
                "Time from receiving a report to answering it (validation and commit), by outcome.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["outcome"],
        )?;
        let enrolments = IntCounterVec::new(
            Opts::new("vigie_enrolments_total", "Enrolment requests, by outcome."),
            &["outcome"],
        )?;
        let store_batches = IntCounter::new(
            "vigie_store_batches_total",
            "Write transactions committed by the store writer.",
        )?;
        let store_operations = IntCounter::new(
            "vigie_store_operations_total",
            "Write operations (reports, enrolments) applied by the store writer.",
        )?;
        let store_failed_commits = IntCounter::new(
            "vigie_store_failed_commits_total",
            "Write transactions that failed to commit (their callers got an error).",
        )?;
        register_build_info(&registry)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let hosts = IntGaugeVec::new(
            Opts::new("vigie_hosts", "Enrolled hosts by reporting state."),
            &["state"],
        )?;
        let check_hosts = IntGaugeVec::new(
            Opts::new(
                "vigie_check_hosts",
                "Reporting (non-stale) hosts by check and current status.",
            ),
            &["check", "status"],
        )?;
        let refresh_timestamp = IntGauge::new(
            "vigie_fleet_metrics_refresh_timestamp_seconds",
            "Unix time of the last refresh of the fleet aggregates.",
        )?;
        let evidence_conflicts = prometheus::IntCounter::new(
            "vigie_evidence_conflicts_total",
            "Evidence items received with another excerpt than the one already stored under their SHA-256 (an agent is wrong or lying; the first excerpt is kept).",
        )?;
        registry.register(Box::new(evidence_conflicts.clone()))?;
        for c in [&ingest_reports, &enrolments] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(ingest_duration.clone()))?;
        registry.register(Box::new(store_batches.clone()))?;
        registry.register(Box::new(store_operations.clone()))?;
        registry.register(Box::new(store_failed_commits.clone()))?;
        registry.register(Box::new(hosts.clone()))?;
        registry.register(Box::new(check_hosts.clone()))?;
        registry.register(Box::new(refresh_timestamp.clone()))?;
        let refresh_duration = prometheus::Gauge::new(
            "vigie_fleet_metrics_refresh_duration_seconds",
            "Time the last refresh of the fleet aggregates (KPIs, CIS, risks) took.",
        )?;
        registry.register(Box::new(refresh_duration.clone()))?;
        let cis = crate::cis::gauges::CisGauges::register(&registry)?;
        let risk = crate::risk::gauges::RiskGauges::register(&registry)?;
        let os = crate::os_gauges::OsGauges::register(&registry)?;
        for o in OUTCOMES {
            ingest_reports.with_label_values(&[o]);
        }
        for o in ["enrolled", "rotated", "refused"] {
            enrolments.with_label_values(&[o]);
        }
        let kpi = KpiGauges::new(&registry)?;
        Ok(Metrics {
            os,
            kpi,
            registry,
            ingest_reports,
            ingest_duration,
            enrolments,
            evidence_conflicts,
            store_batches,
            store_operations,
            store_failed_commits,
            hosts,
            check_hosts,
            refresh_timestamp,
            refresh_duration,
            cis,
            per_host: None,
            risk,
        })
    }

    /// Export one series per host and check (`[metrics] per_host = true`). Cardinality grows
    /// with the fleet (hosts × checks), so it is off by default.
    pub fn enable_per_host(&mut self) -> Result<(), prometheus::Error> {
        let g = IntGaugeVec::new(
            Opts::new(
                "vigie_host_check_status",
                "Current status of each check on each host (1 for the current status; stale hosts show status=\"stale\", a fail or warn covered by an exception in force status=\"excepted\").",
            ),
            &["host", "check", "status"],
        )?;
        self.registry.register(Box::new(g.clone()))?;
        self.per_host = Some(g);
        Ok(())
    }

    /// The text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }

    /// Recompute the fleet aggregates from the store (blocking).
    pub fn refresh(&self, store: &Store, st: &Staleness) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        // From the in-memory fleet copy, brought up to date with what changed since the last refresh.
        let agg = store.with_fleet(st, |v| v.aggregate())?;
        for state in ["reporting", "stale", "never_reported"] {
            self.hosts
                .with_label_values(&[state])
                .set(agg.hosts.get(state).copied().unwrap_or(0));
        }
        self.check_hosts.reset();
        for check in vigie_checks::ALL {
            for status in vigie_checks::Status::ALL {
                let n = agg
                    .check_hosts
                    .get(&(check.id().to_string(), status.as_str().to_string()))
                    .copied()
                    .unwrap_or(0);
                self.check_hosts
                    .with_label_values(&[check.id(), status.as_str()])
                    .set(n);
            }
            let stale = agg
                .check_hosts
                .get(&(check.id().to_string(), "stale".to_string()))
                .copied()
                .unwrap_or(0);
            self.check_hosts
                .with_label_values(&[check.id(), "stale"])
                .set(stale);
            let excepted = agg
                .check_hosts
                .get(&(check.id().to_string(), "excepted".to_string()))
                .copied()
                .unwrap_or(0);
            self.check_hosts
                .with_label_values(&[check.id(), "excepted"])
                .set(excepted);
        }
        self.kpi.refresh(store, st, &agg)?;
        let ws = store.writer_stats();
        advance(&self.store_batches, ws.batches);
        advance(&self.store_operations, ws.operations);
        advance(&self.store_failed_commits, ws.failed_commits);
        if let Some(g) = &self.per_host {
            let rows = store.read(|c| crate::store::fleet::host_statuses(c, st))?;
            g.reset();
            for (host, check, status) in rows {
                g.with_label_values(&[&host, &check, &status]).set(1);
            }
        }
        self.cis.refresh(store, st)?;
        self.os.refresh(store, st)?;
        self.risk.refresh(store, st.now)?;
        self.refresh_timestamp.set(st.now);
        let elapsed = started.elapsed();
        self.refresh_duration.set(elapsed.as_secs_f64());
        tracing::debug!(
            elapsed_ms = elapsed.as_millis() as u64,
            "fleet metrics refreshed"
        );
        Ok(())
    }
}

/// Bring a counter up to `total` (a monotonic count kept elsewhere); never down.
fn advance(c: &IntCounter, total: u64) {
    let now = c.get();
    if total > now {
        c.inc_by(total - now);
    }
}

/// `vigie_build_info{version,commit,rustc} 1`: the running build, for dashboards and alerts that
/// compare versions across collectors. `commit` is `VIGIE_BUILD_COMMIT` at build time (set by
/// scripts/package.sh) and `rustc` the compiler's version (build.rs); empty when unknown.
fn register_build_info(registry: &Registry) -> Result<(), prometheus::Error> {
    let g = IntGaugeVec::new(
        Opts::new(
            "vigie_build_info",
            "The collector's build: version, commit and compiler; always 1.",
        ),
        &["version", "commit", "rustc"],
    )?;
    g.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        option_env!("VIGIE_BUILD_COMMIT").unwrap_or(""),
        option_env!("VIGIE_BUILD_RUSTC").unwrap_or(""),
    ])
    .set(1);
    registry.register(Box::new(g))
}

/// The governance KPIs as gauges, refreshed with the fleet aggregates (never per scrape). A KPI
/// without data is NaN; the targets come from `[kpi]` (see `KpiGauges::configure`).
pub struct KpiGauges {
    config: std::sync::RwLock<crate::config::KpiSection>,
    patch_sla: prometheus::Gauge,
    patch_sla_target: prometheus::Gauge,
    training: prometheus::Gauge,
    training_target: prometheus::Gauge,
    mttd: prometheus::Gauge,
    mttr: prometheus::Gauge,
    mttd_quantile: prometheus::GaugeVec,
    mttr_quantile: prometheus::GaugeVec,
    incidents_open: IntGaugeVec,
    notifications: IntGaugeVec,
}

/// Days over which the MTTD/MTTR gauges and the notification states are computed.
pub const KPI_WINDOW_DAYS: i64 = 30;

impl KpiGauges {
    fn new(registry: &Registry) -> Result<KpiGauges, prometheus::Error> {
        use prometheus::{Gauge, GaugeVec};
        let g = |name: &str, help: &str| Gauge::new(name, help);
        let k = KpiGauges {
            config: Default::default(),
            patch_sla: g(
                "vigie_kpi_patch_sla_ratio",
                "Share of reporting hosts with no security update pending beyond the SLA \
                 (patch_age pass or warn over pass, warn, fail, error).",
            )?,
            patch_sla_target: g(
                "vigie_kpi_patch_sla_target_ratio",
                "Target of vigie_kpi_patch_sla_ratio (kpi.patch_sla_target).",
            )?,
            training: g(
                "vigie_kpi_training_coverage_ratio",
                "Share of active people with a security-awareness completion in the last 365 days.",
            )?,
            training_target: g(
                "vigie_kpi_training_coverage_target_ratio",
                "Target of vigie_kpi_training_coverage_ratio (kpi.training_target).",
            )?,
            mttd: g(
                "vigie_kpi_mttd_seconds",
                "Mean time to detect (occurred to detected) of incidents resolved in the last 30 days; NaN without data.",
            )?,
            mttr: g(
                "vigie_kpi_mttr_seconds",
                "Mean time to resolve (detected to resolved) of incidents resolved in the last 30 days; NaN without data.",
            )?,
            mttd_quantile: GaugeVec::new(
                Opts::new(
                    "vigie_kpi_mttd_percentile_seconds",
                    "Nearest-rank quantiles of time to detect, incidents resolved in the last 30 days.",
                ),
                &["percentile"],
            )?,
            mttr_quantile: GaugeVec::new(
                Opts::new(
                    "vigie_kpi_mttr_percentile_seconds",
                    "Nearest-rank quantiles of time to resolve, incidents resolved in the last 30 days.",
                ),
                &["percentile"],
            )?,
            incidents_open: IntGaugeVec::new(
                Opts::new("vigie_incidents_open", "Unresolved incidents in the register, by severity."),
                &["severity"],
            )?,
            notifications: IntGaugeVec::new(
                Opts::new(
                    "vigie_personal_data_notifications",
                    "Personal-data incidents by 72-hour notification state (detected in the last 30 days; \
                     overdue and missing_timestamps whenever detected).",
                ),
                &["state"],
            )?,
        };
        for c in [
            &k.patch_sla,
            &k.patch_sla_target,
            &k.training,
            &k.training_target,
            &k.mttd,
            &k.mttr,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(k.mttd_quantile.clone()))?;
        registry.register(Box::new(k.mttr_quantile.clone()))?;
        registry.register(Box::new(k.incidents_open.clone()))?;
        registry.register(Box::new(k.notifications.clone()))?;
        Ok(k)
    }

    /// Use these targets and course list from now on.
    pub fn configure(&self, cfg: crate::config::KpiSection) {
        if let Ok(mut c) = self.config.write() {
            *c = cfg;
        }
    }

    /// Recompute from the store (blocking), reusing the fleet aggregate just read.
    pub fn refresh(
        &self,
        store: &Store,
        st: &Staleness,
        agg: &crate::store::fleet::FleetAggregate,
    ) -> Result<(), StoreError> {
        use crate::kpi::{notification, patch_sla, response_times, training};
        let cfg = self.config.read().map(|c| c.clone()).unwrap_or_default();
        let now = chrono::DateTime::from_timestamp(st.now, 0).unwrap_or_else(chrono::Utc::now);
        let inputs = store.read(|c| crate::kpi::evaluation::load_registers(c, now.date_naive()))?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);

        self.patch_sla
            .set(nan(patch_sla::PatchCounts::from_aggregate(agg).ratio()));
        self.patch_sla_target.set(cfg.patch_sla_target);
        let tc = training::training_coverage(
            &inputs.people,
            &inputs.completions,
            &cfg.awareness_courses,
            now.date_naive(),
        );
        self.training.set(nan(tc.ratio));
        self.training_target.set(cfg.training_target);

        let period = response_times::Period::last_days(now, KPI_WINDOW_DAYS);
        let rt = response_times::response_times(&inputs.incidents, period);
        self.mttd.set(nan(rt.mttd.overall.mean_seconds));
        self.mttr.set(nan(rt.mttr.overall.mean_seconds));
        for (gauge, stats) in [
            (&self.mttd_quantile, &rt.mttd.overall),
            (&self.mttr_quantile, &rt.mttr.overall),
        ] {
            let q = |v: Option<i64>| v.map_or(f64::NAN, |s| s as f64);
            gauge.with_label_values(&["50"]).set(q(stats.p50_seconds));
            gauge.with_label_values(&["90"]).set(q(stats.p90_seconds));
        }
        for (sev, n) in response_times::open_by_severity(&inputs.incidents, now) {
            self.incidents_open
                .with_label_values(&[sev.as_str()])
                .set(n);
        }
        let duty = notification::notification_duty(&inputs.incidents, period, now);
        for (state, n) in duty.counts {
            self.notifications
                .with_label_values(&[state.as_str()])
                .set(n as i64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod kpi_gauge_tests {
    use super::*;

    /// The March register, refreshed at 2026-04-01T00:00Z: the last 30 days are 03-02 00:00 to
    /// 04-01 00:00, which holds the same 11 resolved incidents as the calendar month (INC-001
    /// was resolved 03-02 13:00), so MTTD = 11 400 s, MTTR = 47 520 s, p90 = 36 000 s and
    /// 86 400 s (see kpi::response_times). Open: 013 (minor) and 014 (major). 72-hour duty:
    /// on_time 1, late 1, overdue 2, not_yet_due 2, missing 1 (see kpi::notification).
    /// No host, nobody in the roster: both ratios NaN, targets 1.
    #[tokio::test]
    async fn kpi_gauges_from_the_march_register() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("vigie.db"), 64).unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers/incidents-2026-03.csv");
        let incidents: Vec<_> = crate::registers::csv_import::read_incidents(&path)
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        store
            .write(move |c| crate::store::registers::upsert_incidents(c, &incidents, 1))
            .await
            .unwrap();
        let m = Metrics::new().unwrap();
        m.kpi.configure(crate::config::KpiSection::default());
        let st = Staleness {
            now: 1_775_001_600, // 2026-04-01T00:00:00Z
            after_intervals: 3,
            default_interval: 3600,
        };
        assert_eq!(
            chrono::DateTime::from_timestamp(st.now, 0)
                .unwrap()
                .to_rfc3339(),
            "2026-04-01T00:00:00+00:00"
        );
        m.refresh(&store, &st).unwrap();
        let text = String::from_utf8(m.render()).unwrap();
        for line in [
            "vigie_kpi_mttd_seconds 11400",
            "vigie_kpi_mttr_seconds 47520",
            "vigie_kpi_mttd_percentile_seconds{percentile=\"90\"} 36000",
            "vigie_kpi_mttr_percentile_seconds{percentile=\"90\"} 86400",
            "vigie_incidents_open{severity=\"minor\"} 1",
            "vigie_incidents_open{severity=\"major\"} 1",
            "vigie_incidents_open{severity=\"crisis\"} 0",
            "vigie_personal_data_notifications{state=\"on_time\"} 1",
            "vigie_personal_data_notifications{state=\"overdue\"} 2",
            "vigie_personal_data_notifications{state=\"not_yet_due\"} 2",
            "vigie_personal_data_notifications{state=\"missing_timestamps\"} 1",
            "vigie_kpi_patch_sla_ratio NaN",
            "vigie_kpi_patch_sla_target_ratio 1",
            "vigie_kpi_training_coverage_target_ratio 1",
            "# HELP vigie_kpi_training_coverage_ratio Share of active people",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }
}
