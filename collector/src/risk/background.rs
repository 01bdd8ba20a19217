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
    let checks: Vec<String> = fleet::scenarios(&cfg.risk)
        .into_iter()
        .map(|s| s.check)
        .collect();
    let s = store.clone();
    let (existing, results, exceptions) = tokio::task::spawn_blocking(move || {
        let (existing, exceptions) = s.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::exceptions::active(c, st.now)?,
            ))
        })?;
        // The hosts' results from the in-memory fleet copy (no scan of the whole fleet).
        let results = s.with_fleet(&st, |v| v.fleet_results(&checks))?;
        Ok::<_, StoreError>((existing, results, exceptions))
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
    // The fleet history grows only here, so it is pruned here, in the same transaction.
    let keep_from = now - i64::from(cfg.storage.fleet_risk_history_days) * 86_400;
    let pruned = store
        .write(move |c| {
            for FleetChange {
                risk,
                changes,
                note,
            } in &changes
            {
                if risk.id == 0 {
                    crate::store::risks::insert_recording(
                        c,
                        risk,
                        changes,
                        FLEET_ACTOR,
                        note,
                        now,
                    )?;
                } else {
                    crate::store::risks::update(c, risk, changes, FLEET_ACTOR, note, now)?;
                }
            }
            crate::store::risks::prune_fleet_history(c, FLEET_ACTOR, keep_from)
        })
        .await?;
    tracing::info!(changed = n, history_pruned = pruned, "fleet risks updated");
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
    let (risks, actions, exceptions, incidents) = tokio::task::spawn_blocking(move || {
        s.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::actions::list(c, today)?,
                crate::store::exceptions::list(c)?,
                crate::store::registers::list_incidents(c)?,
            ))
        })
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let notes =
        super::webhooks::due_notifications(&risks, &actions, &exceptions, &incidents, today, now);
    super::webhooks::enqueue(store, &cfg.webhooks, notes, now).await
}

/// One scheduled pass: fleet risks, then notifications. Errors are logged, never fatal.
pub async fn tick(store: &Arc<Store>, cfg: &CollectorConfig, st: Staleness) {
    if let Err(e) = recompute_fleet_risks(store, cfg, st).await {
        tracing::warn!(error = %e, "fleet risk recompute failed");
    }
    if let Err(e) = super::identity_fleet::recompute(store, cfg, st.now).await {
        tracing::warn!(error = %e, "identity risk recompute failed");
    }
    match scan_notifications(store, cfg, st.now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(queued = n, "notifications queued"),
        Err(e) => tracing::warn!(error = %e, "notification scan failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn recompute_writes_only_on_change_and_closes_when_clean() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        // Two reporting hosts; one fails patch_age.
        store
            .write(|c| {
                for (i, (host, status)) in [("a", "fail"), ("b", "pass")].iter().enumerate() {
                    c.execute(
                        "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at, last_seen_at, interval_s)
                         VALUES (?1, ?2, ?3, 0, 1000, 3600)",
                        rusqlite::params![format!("m{i}"), host, vec![i as u8]],
                    )?;
                    c.execute(
                        "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since, updated_at)
                         VALUES (?1, 'patch_age', ?2, '', '{}', '[]', 0, 0)",
                        rusqlite::params![i as i64 + 1, status],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let cfg = CollectorConfig::default();
        let st = Staleness {
            now: 2000,
            after_intervals: 3,
            default_interval: 3600,
        };
        // 1 of 2 = 50 % → likelihood 4; impact default criticality 2 → 8 → high.
        assert_eq!(recompute_fleet_risks(&store, &cfg, st).await.unwrap(), 1);
        assert_eq!(recompute_fleet_risks(&store, &cfg, st).await.unwrap(), 0);
        let risks = store.read(crate::store::risks::list).unwrap();
        assert_eq!(risks.len(), 1);
        assert_eq!(
            (risks[0].likelihood, risks[0].impact, risks[0].level),
            (4, 2, super::super::Level::High)
        );
        store
            .write(|c| {
                c.execute("UPDATE check_state SET status = 'pass'", [])?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(recompute_fleet_risks(&store, &cfg, st).await.unwrap(), 1);
        let id = risks[0].id;
        let h = store.read(|c| crate::store::risks::history(c, id)).unwrap();
        // Created, then closed: two history entries, the second by the fleet with the status change.
        assert_eq!(h.len(), 2);
        // Both record the failing hosts as a change, not as lists.
        assert_eq!(
            h[0].changes["assets"].to,
            serde_json::json!({"count": 1, "added": ["a"], "added_count": 1})
        );
        assert_eq!(
            h[1].changes["assets"].from,
            serde_json::json!({"count": 1, "removed": ["a"], "removed_count": 1})
        );
        assert_eq!(h[1].actor, FLEET_ACTOR);
        assert_eq!(h[1].changes["status"].to, serde_json::json!("closed"));
    }

    #[tokio::test]
    async fn fleet_history_is_pruned_after_its_retention_and_peoples_entries_kept() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        let day = 86_400;
        store
            .write(|c| {
                c.execute(
                    "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at, last_seen_at, interval_s)
                     VALUES ('m', 'a', x'01', 0, 1000, 3600)",
                    [],
                )?;
                c.execute(
                    "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since, updated_at)
                     VALUES (1, 'mfa', 'fail', '', '{}', '[]', 0, 0)",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let mut cfg = CollectorConfig::default();
        cfg.storage.fleet_risk_history_days = 31;
        let at = |now| Staleness {
            now,
            after_intervals: 3,
            default_interval: 3600,
        };
        // Day 0: the risk is created by the fleet; day 1: a person reviews it.
        assert_eq!(
            recompute_fleet_risks(&store, &cfg, at(2000)).await.unwrap(),
            1
        );
        store
            .write(move |c| {
                c.execute(
                    "INSERT INTO risk_history(risk_id, at, actor, changes, note)
                     VALUES (1, ?1, 'alice', '{}', 'reviewed')",
                    [2000 + day],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        // Day 20: a change within the retention prunes nothing.
        store
            .write(move |c| {
                c.execute("UPDATE hosts SET last_seen_at = ?1", [2000 + 20 * day])?;
                c.execute("UPDATE check_state SET status = 'pass'", [])?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            recompute_fleet_risks(&store, &cfg, at(2000 + 20 * day))
                .await
                .unwrap(),
            1
        );
        let actors = |h: Vec<crate::risk::register::RiskChange>| -> Vec<(i64, String)> {
            h.into_iter()
                .map(|e| ((e.at - 2000) / day, e.actor))
                .collect()
        };
        let h = store.read(|c| crate::store::risks::history(c, 1)).unwrap();
        assert_eq!(
            actors(h),
            [
                (0, FLEET_ACTOR.to_string()),
                (1, "alice".into()),
                (20, FLEET_ACTOR.into())
            ]
        );
        // Day 40: the next change prunes the fleet's entries older than 31 days (day 0 only).
        store
            .write(move |c| {
                c.execute("UPDATE hosts SET last_seen_at = ?1", [2000 + 40 * day])?;
                c.execute("UPDATE check_state SET status = 'fail'", [])?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(
            recompute_fleet_risks(&store, &cfg, at(2000 + 40 * day))
                .await
                .unwrap(),
            1
        );
        let h = store.read(|c| crate::store::risks::history(c, 1)).unwrap();
        assert_eq!(
            actors(h),
            [
                (1, "alice".to_string()),
                (20, FLEET_ACTOR.into()),
                (40, FLEET_ACTOR.into())
            ]
        );
    }
}
