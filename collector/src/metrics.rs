//! Prometheus metrics. The collector's own counters are updated on the hot path (cheap atomic adds);
//! fleet aggregates are gauges refreshed from the store on a schedule, so a scrape never runs a
//! query, however large the fleet.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::store::hosts::Staleness;
use crate::store::{Store, StoreError};

/// Every metric the collector exposes.
pub struct Metrics {
    pub registry: Registry,
    pub ingest_reports: IntCounterVec,
    pub ingest_duration: HistogramVec,
    pub enrolments: IntCounterVec,
    pub store_batches: IntGauge,
    pub store_operations: IntGauge,
    pub store_failed_commits: IntGauge,
    pub hosts: IntGaugeVec,
    pub check_hosts: IntGaugeVec,
    pub refresh_timestamp: IntGauge,
    /// CIS Controls scores (`vigie_cis_*`).
    pub cis: crate::cis::gauges::CisGauges,
    /// Risk register, plan and exceptions (`vigie_risks`, `vigie_actions`, `vigie_exceptions` …).
    pub risk: crate::risk::gauges::RiskGauges,
}

/// Outcome labels of `vigie_ingest_reports_total` (bounded).
pub const OUTCOMES: &[&str] = &[
    "accepted",
    "duplicate",
    "out_of_order",
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
        let store_batches = IntGauge::new(
            "vigie_store_batches",
            "Write transactions committed by the store writer since start.",
        )?;
        let store_operations = IntGauge::new(
            "vigie_store_operations",
            "Write operations (reports, enrolments) applied by the store writer since start.",
        )?;
        let store_failed_commits = IntGauge::new(
            "vigie_store_failed_commits",
            "Write transactions that failed to commit since start (their callers got an error).",
        )?;
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
        let cis = crate::cis::gauges::CisGauges::register(&registry)?;
        let risk = crate::risk::gauges::RiskGauges::register(&registry)?;
        for o in OUTCOMES {
            ingest_reports.with_label_values(&[o]);
        }
        for o in ["enrolled", "rotated", "refused"] {
            enrolments.with_label_values(&[o]);
        }
        Ok(Metrics {
            registry,
            ingest_reports,
            ingest_duration,
            enrolments,
            store_batches,
            store_operations,
            store_failed_commits,
            hosts,
            check_hosts,
            refresh_timestamp,
            cis,
            risk,
        })
    }

    /// The text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        buf
    }

    /// Recompute the fleet aggregates from the store (blocking).
    pub fn refresh(&self, store: &Store, st: &Staleness) -> Result<(), StoreError> {
        let agg = store.read(|c| crate::store::fleet::aggregate(c, st))?;
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
        let ws = store.writer_stats();
        self.store_batches.set(ws.batches as i64);
        self.store_operations.set(ws.operations as i64);
        self.store_failed_commits.set(ws.failed_commits as i64);
        self.refresh_timestamp.set(st.now);
        self.cis.refresh(store, st)?;
        self.risk.refresh(store, st.now)?;
        Ok(())
    }
}
