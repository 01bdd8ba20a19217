//! The scheduled part of the risk register, run from the server's background loop (never on the
//! ingest path): recompute fleet-derived risks from the current check states, writing — and
//! recording history — only when something changed; then queue the notifications the register's
//! state calls for.

use std::sync::Arc;

use super::fleet::{self, FleetChange};
use super::matrix::Matrix;
use crate::config::CollectorConfig;
use crate::store::hosts::Staleness;
use crate::store::{Store, StoreError};

/// The history's actor for fleet-driven changes.
pub const FLEET_ACTOR: &str = "vigie (fleet)";

/// Recompute fleet risks at `st.now`; returns how many risks were created or changed.
pub async fn recompute_fleet_risks(
    store: &Arc<Store>,
    cfg: &CollectorConfig,
    st: Staleness,
) -> Result<usize, StoreError> {
    let checks: Vec<String> = fleet::scenarios(&cfg.risk).into_iter().map(|s| s.check).collect();
    let s = store.clone();
    let (existing, results, exceptions) = tokio::task::spawn_blocking(move || {
        s.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::risks::fleet_results(c, &st, &checks)?,
                crate::store::exceptions::active(c, st.now)?,
            ))
        })
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let changes = fleet::reconcile(
        &existing,
        &results,
        &exceptions,
        &cfg.risk,
        &cfg.hosts,
        &Matrix::from_config(&cfg.risk.matrix),
        st.now,
    );
    if changes.is_empty() {
        return Ok(0);
    }
    let n = changes.len();
    let now = st.now;
    store
        .write(move |c| {
            for FleetChange {
                risk,
                changes,
                note,
            } in &changes
            {
                if risk.id == 0 {
                    crate::store::risks::insert(c, risk, FLEET_ACTOR, note, now)?;
                } else {
                    crate::store::risks::update(c, risk, changes, FLEET_ACTOR, note, now)?;
                }
            }
            Ok(())
        })
        .await?;
    tracing::info!(changed = n, "fleet risks updated");
    Ok(n)
}

/// Queue due notifications (new high/critical risks, overdue P1 actions, expiring exceptions).
pub async fn scan_notifications(
    store: &Arc<Store>,
    cfg: &CollectorConfig,
    now: i64,
) -> Result<usize, StoreError> {
    if cfg.webhooks.targets.is_empty() {
        return Ok(0);
    }
    let today = super::today(now);
    let s = store.clone();
    let (risks, actions, exceptions) = tokio::task::spawn_blocking(move || {
        s.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::actions::list(c, today)?,
                crate::store::exceptions::list(c)?,
            ))
        })
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let notes = super::webhooks::due_notifications(&risks, &actions, &exceptions, today, now);
    super::webhooks::enqueue(store, &cfg.webhooks, notes, now).await
}

/// One scheduled pass: fleet risks, then notifications. Errors are logged, never fatal.
pub async fn tick(store: &Arc<Store>, cfg: &CollectorConfig, st: Staleness) {
    if let Err(e) = recompute_fleet_risks(store, cfg, st).await {
        tracing::warn!(error = %e, "fleet risk recompute failed");
    }
    match scan_notifications(store, cfg, st.now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(queued = n, "notifications queued"),
        Err(e) => tracing::warn!(error = %e, "notification scan failed"),
    }
}
