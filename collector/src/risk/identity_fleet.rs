//! The fleet-derived risk of the identity sources (issue 14): one risk, check `identity_mfa`,
//! raised when the MFA coverage of the active members at the identity providers and code hosts is
//! under `identity.coverage_target`, and closed when it is met — the identity counterpart of the
//! host scenarios of `fleet`.
//!
//! - Judged over the **current** sources only (`identity::sync::summaries`): a stale source's old
//!   numbers neither raise nor close the risk. The risk closes only when every source is current
//!   and each meets the target; it is raised (or updated) as soon as one current source is under.
//! - likelihood from the share of active members without a strong second factor (weak only, none,
//!   unknown), with the bands of `fleet::likelihood` (`[risk] likelihood_shares`);
//! - impact 4 when an admin account has no second factor at all, else 3 (an identity-provider or
//!   code-host account opens every application behind it);
//! - assets: the names of the sources under target (no account name: those are in the report).

use std::sync::Arc;

use super::config::RiskSection;
use super::fleet::{likelihood, FleetChange};
use super::matrix::Matrix;
use super::register::{diff, Risk};
use super::{RiskStatus, Source, Treatment};
use crate::config::CollectorConfig;
use crate::identity::sync::{summaries, SourceSummary};
use crate::store::{Store, StoreError};

/// The `check` of the identity risk.
pub const CHECK: &str = "identity_mfa";
/// Its shipped title (the report translates it while unedited).
pub const TITLE: &str = "Account takeover at the identity provider or code host without MFA";
const SCENARIO: &str = "A phished or guessed password is enough to sign in to the identity provider or the code host as an account without a strong second factor, and from there to every application and repository behind it.";

/// The change the identity sources call for, if any.
pub fn reconcile(
    existing: &[Risk],
    sums: &[SourceSummary],
    cfg: &RiskSection,
    matrix: &Matrix,
    now: i64,
) -> Option<FleetChange> {
    let current = existing
        .iter()
        .find(|r| r.source == Source::Fleet && r.check.as_deref() == Some(CHECK));
    let live: Vec<&SourceSummary> = sums
        .iter()
        .filter(|s| !s.stale && s.counts.active_members > 0)
        .collect();
    let under: Vec<&SourceSummary> = live
        .iter()
        .copied()
        .filter(|s| s.target_status == "not_met")
        .collect();
    let members: i64 = live.iter().map(|s| s.counts.active_members).sum();
    if under.is_empty() {
        // Close only when every source is current (and, none being under, each meets the target
        // or has no active member).
        let all_met = !sums.is_empty() && sums.iter().all(|s| !s.stale);
        let cur = current.filter(|c| c.status == RiskStatus::Open && all_met)?;
        let mut next = cur.clone();
        next.status = RiskStatus::Closed;
        next.assets.clear();
        let changes = diff(Some(cur), &next);
        return Some(FleetChange {
            risk: next,
            changes,
            note: format!(
                "identity MFA coverage meets the target at every source ({members} active members)"
            ),
        });
    }
    let without: i64 = live
        .iter()
        .map(|s| s.counts.active_members - s.counts.pass)
        .sum();
    let admins: i64 = live.iter().map(|s| s.counts.admins_without_mfa).sum();
    // Under target with every member passing cannot happen (target ≤ 1), but keep likelihood ≥ 1.
    let l = likelihood(
        without.max(1) as usize,
        members as usize,
        &cfg.likelihood_shares,
    )
    .unwrap_or(1);
    let impact = if admins > 0 { 4 } else { 3 };
    let level = matrix.level(l, impact).unwrap_or(super::Level::Low);
    let assets: Vec<String> = under.iter().map(|s| s.source.clone()).collect();
    let note = format!(
        "{without} of {members} active members without a strong second factor; under target: {}; admins without any second factor: {admins}",
        assets.join(", ")
    );
    match current {
        None => {
            let r = Risk {
                id: 0,
                source: Source::Fleet,
                check: Some(CHECK.into()),
                title: TITLE.into(),
                scenario: SCENARIO.into(),
                assets,
                likelihood: l,
                impact,
                level,
                treatment: Treatment::Reduce,
                owner: "rssi".into(),
                status: RiskStatus::Open,
                next_review: super::today(now) + chrono::Days::new(cfg.review_days.into()),
                review_overdue: false,
                actions: Vec::new(),
                created_at: now,
                updated_at: now,
            };
            let changes = diff(None, &r);
            Some(FleetChange {
                risk: r,
                changes,
                note,
            })
        }
        Some(cur) => {
            let mut next = cur.clone();
            next.likelihood = l;
            next.impact = impact;
            next.level = level;
            next.assets = assets;
            next.status = RiskStatus::Open;
            let changes = diff(Some(cur), &next);
            (!changes.is_empty()).then_some(FleetChange {
                risk: next,
                changes,
                note,
            })
        }
    }
}

/// Recompute the identity risk at `now` from the store; true when it was created or changed.
pub async fn recompute(
    store: &Arc<Store>,
    cfg: &CollectorConfig,
    now: i64,
) -> Result<bool, StoreError> {
    let s = store.clone();
    let (existing, stored) = tokio::task::spawn_blocking(move || {
        s.read(|c| {
            Ok((
                crate::store::risks::list(c)?,
                crate::store::identities::snapshot(c)?,
            ))
        })
    })
    .await
    .map_err(|e| StoreError::Invalid(e.to_string()))??;
    let sums = summaries(&stored, &cfg.identity, now);
    let Some(FleetChange {
        risk,
        changes,
        note,
    }) = reconcile(
        &existing,
        &sums,
        &cfg.risk,
        &Matrix::from_config(&cfg.risk.matrix),
        now,
    )
    else {
        return Ok(false);
    };
    let actor = super::background::FLEET_ACTOR;
    store
        .write(move |c| {
            if risk.id == 0 {
                crate::store::risks::insert_recording(c, &risk, &changes, actor, &note, now)
                    .map(|_| ())
            } else {
                crate::store::risks::update(c, &risk, &changes, actor, &note, now).map(|_| ())
            }
        })
        .await?;
    tracing::info!(check = CHECK, "identity risk updated");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::config::{OktaConfig, SourceConfig};
    use crate::risk::Level;
    use crate::store::identities::{apply_sync, record_failure, IdentityRow};

    /// `n` members of `source`: the first `pass` pass, the rest fail; the last `admins` are admins.
    fn rows(n: usize, pass: usize, admins: usize) -> Vec<IdentityRow> {
        crate::store::identities::test_rows("u", n, pass, admins)
    }

    fn config() -> CollectorConfig {
        let mut cfg = CollectorConfig::default();
        cfg.identity.source = vec![SourceConfig::Okta(OktaConfig {
            name: "okta".into(),
            url: "https://example.okta.com".into(),
            token_file: "/nonexistent".into(),
        })];
        cfg
    }

    async fn sync(store: &Arc<Store>, at: i64, rows: Vec<IdentityRow>) {
        store
            .write(move |c| apply_sync(c, "okta", "okta", at, None, &rows).map(|_| ()))
            .await
            .unwrap();
    }

    async fn risk(store: &Arc<Store>) -> Option<Risk> {
        store
            .read(crate::store::risks::list)
            .unwrap()
            .into_iter()
            .find(|r| r.check.as_deref() == Some(CHECK))
    }

    /// Raised under target, updated when an admin loses MFA, untouched while the source is stale,
    /// closed when the target is met.
    #[tokio::test]
    async fn raised_under_target_closed_when_met_and_not_moved_by_a_stale_source() {
        let d = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&d.path().join("v.db"), 16).unwrap());
        let cfg = config();
        // Never synced: no risk (nothing is known, the report and CIS say so).
        assert!(!recompute(&store, &cfg, 1000).await.unwrap());
        // 4 members, 3 pass, no admin.
        sync(&store, 1000, rows(4, 3, 0)).await;
        assert!(recompute(&store, &cfg, 1100).await.unwrap());
        let r = risk(&store).await.unwrap();
        // 1 of 4 without = 25 % → likelihood 3; no admin without → impact 3; 9 → high.
        assert_eq!(
            (r.status, r.likelihood, r.impact, r.level),
            (RiskStatus::Open, 3, 3, Level::High)
        );
        assert_eq!(r.assets, ["okta"]);
        // The report says its shipped title in the reader's language.
        let check = crate::report::governance::shipped_title_check(&r);
        assert_eq!(check.as_deref(), Some(CHECK));
        assert_eq!(
            crate::report::i18n::fleet_risk_title(crate::report::i18n::Lang::En, CHECK),
            TITLE
        );
        // Nothing changed: nothing written.
        assert!(!recompute(&store, &cfg, 1200).await.unwrap());
        // The failing account is an admin now: impact 4 → 12 → critical.
        sync(&store, 2000, rows(4, 3, 1)).await;
        assert!(recompute(&store, &cfg, 2100).await.unwrap());
        let r = risk(&store).await.unwrap();
        assert_eq!((r.impact, r.level), (4, Level::Critical));
        // Everyone passes, but the last sync failed afterwards: stale → the risk stays open.
        sync(&store, 3000, rows(4, 4, 1)).await;
        store
            .write(|c| record_failure(c, "okta", "okta", 3500, "HTTP 401"))
            .await
            .unwrap();
        assert!(!recompute(&store, &cfg, 3600).await.unwrap());
        assert_eq!(risk(&store).await.unwrap().status, RiskStatus::Open);
        // A good sync with everyone passing: closed.
        sync(&store, 4000, rows(4, 4, 1)).await;
        assert!(recompute(&store, &cfg, 4100).await.unwrap());
        let r = risk(&store).await.unwrap();
        assert_eq!(r.status, RiskStatus::Closed);
        assert!(r.assets.is_empty());
        // Below target again: reopened.
        sync(&store, 5000, rows(4, 2, 0)).await;
        assert!(recompute(&store, &cfg, 5100).await.unwrap());
        let r = risk(&store).await.unwrap();
        // 2 of 4 = 50 % → 4 × 3 = 12 → critical.
        assert_eq!((r.status, r.likelihood), (RiskStatus::Open, 4));
    }
}
