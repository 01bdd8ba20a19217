//! Prometheus text for the identity sources, computed from the store at each scrape (a handful of
//! sources: cheap). Labels are bounded: `source` (configured names) and `mfa` (five values); no
//! per-identity label.

use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::sync::SourceSummary;

/// Render the gauges of `sums`.
pub fn render(sums: &[SourceSummary]) -> Result<Vec<u8>, prometheus::Error> {
    let reg = Registry::new();
    let identities = IntGaugeVec::new(
        Opts::new(
            "vigie_identities",
            "Active member accounts of the last good sync, by second-factor state (strong, weak_only, none, unknown)",
        ),
        &["source", "mfa"],
    )?;
    let guests = IntGaugeVec::new(
        Opts::new(
            "vigie_identity_guests",
            "Active guests and outside collaborators of the last good sync, all and without a second factor",
        ),
        &["source", "mfa"],
    )?;
    let admins = IntGaugeVec::new(
        Opts::new(
            "vigie_identity_admins_without_mfa",
            "Active admin accounts without any second factor",
        ),
        &["source"],
    )?;
    let coverage = GaugeVec::new(
        Opts::new(
            "vigie_identity_mfa_coverage_ratio",
            "Share of active members with a strong second factor (absent without data)",
        ),
        &["source"],
    )?;
    let target = GaugeVec::new(
        Opts::new(
            "vigie_identity_mfa_coverage_target_ratio",
            "Target of vigie_identity_mfa_coverage_ratio (identity.coverage_target)",
        ),
        &["source"],
    )?;
    let ts = IntGaugeVec::new(
        Opts::new(
            "vigie_identity_sync_timestamp_seconds",
            "Unix time of the source's last good sync (absent if never)",
        ),
        &["source"],
    )?;
    let failures = IntCounterVec::new(
        Opts::new(
            "vigie_identity_sync_failures_total",
            "Failed syncs of the source since it was first synced",
        ),
        &["source"],
    )?;
    let up = IntGaugeVec::new(
        Opts::new(
            "vigie_identity_source_up",
            "1 if the source's last sync succeeded and is recent, 0 if stale or failing",
        ),
        &["source"],
    )?;
    reg.register(Box::new(identities.clone()))?;
    reg.register(Box::new(guests.clone()))?;
    reg.register(Box::new(admins.clone()))?;
    reg.register(Box::new(coverage.clone()))?;
    reg.register(Box::new(target.clone()))?;
    reg.register(Box::new(ts.clone()))?;
    reg.register(Box::new(failures.clone()))?;
    reg.register(Box::new(up.clone()))?;
    for s in sums {
        let src = s.source.as_str();
        let c = &s.counts;
        for (mfa, n) in [
            ("strong", c.pass),
            ("weak_only", c.weak_only),
            ("none", c.without_mfa),
            ("unknown", c.unknown),
        ] {
            identities.with_label_values(&[src, mfa]).set(n);
        }
        guests.with_label_values(&[src, "all"]).set(c.guests);
        guests
            .with_label_values(&[src, "none"])
            .set(c.guests_without_mfa);
        admins.with_label_values(&[src]).set(c.admins_without_mfa);
        if let Some(r) = s.coverage {
            coverage.with_label_values(&[src]).set(r);
        }
        target.with_label_values(&[src]).set(s.target);
        if let Some(t) = s.last_success_at {
            ts.with_label_values(&[src]).set(t);
        }
        failures
            .with_label_values(&[src])
            .inc_by(s.failures_total.max(0) as u64);
        up.with_label_values(&[src]).set(i64::from(!s.stale));
    }
    let mut buf = Vec::new();
    TextEncoder::new().encode(&reg.gather(), &mut buf)?;
    Ok(buf)
}
