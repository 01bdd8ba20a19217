//! One sync of one source: pull through its connector, judge each account, store the result, or
//! store only the failure (the last good sync stays and is reported stale).

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::client::Client;
use super::config::{IdentitySection, SourceConfig};
use super::{judge, Connector, Pulled, SyncError};
use crate::risk::config::WebhookTarget;
use crate::risk::webhooks::{self, Notification};
use crate::store::identities::{self, Counts, IdentityRow, SourceRow};
use crate::store::{Store, StoreError};

/// Why `sync_source` failed: the provider (recorded as a failed sync) or the store.
#[derive(Debug, thiserror::Error)]
pub enum SyncFailure {
    #[error("{0}")]
    Source(#[from] SyncError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What a good sync stored.
#[derive(Debug, Clone, Serialize)]
pub struct Synced {
    pub accounts: usize,
    pub transitions: usize,
}

async fn pull(
    cfg: &IdentitySection,
    index: usize,
    src: &SourceConfig,
) -> Result<Pulled, SyncError> {
    let client = Client::new(
        Duration::from_secs(cfg.timeout_seconds),
        Duration::from_secs(cfg.max_retry_after_seconds),
    )?;
    let key = format!("identity.source[{index}]");
    match src {
        SourceConfig::Entra(c) => {
            super::entra::Entra::new(&key, c.clone(), client)?
                .pull()
                .await
        }
        SourceConfig::Okta(c) => {
            super::okta::Okta::new(&key, c.clone(), client)?
                .pull()
                .await
        }
        SourceConfig::Github(c) => {
            super::github::Github::new(&key, c.clone(), client)?
                .pull()
                .await
        }
        SourceConfig::Google(c) => {
            super::google::Google::new(&key, c.clone(), client)?
                .pull()
                .await
        }
    }
}

/// The webhook event raised when an admin account loses its strong second factor: seen without
/// any (first seen so, or after having one: → `fail`), or left with weak factors only after having
/// a strong one (`pass` → `warn`).
pub const ADMIN_EVENT: &str = "identity_admin_without_mfa";

/// Whether a transition `from` → `to` of an admin is a loss of MFA ([`ADMIN_EVENT`]).
pub fn admin_loses_mfa(from: Option<&str>, to: &str) -> bool {
    to == "fail" || (from == Some("pass") && to == "warn")
}

/// Queue [`ADMIN_EVENT`] for each webhook target that wants it, for each admin of `rows` whose
/// transition is a loss of MFA (in the sync's own transaction).
fn queue_admin_alerts(
    conn: &rusqlite::Connection,
    targets: &[WebhookTarget],
    source: &str,
    rows: &[IdentityRow],
    transitions: &[identities::Transition],
    at: i64,
) -> Result<(), StoreError> {
    for t in transitions
        .iter()
        .filter(|t| admin_loses_mfa(t.from.as_deref(), &t.to))
    {
        let Some(r) = rows
            .iter()
            .find(|r| r.account_id == t.account_id && r.admin)
        else {
            continue;
        };
        let n = Notification {
            event: ADMIN_EVENT,
            key: format!("{ADMIN_EVENT}:{source}:{}:{at}", r.account_id),
            title: if t.to == "fail" {
                format!("Admin account {} at {source} has no second factor", r.login)
            } else {
                format!(
                    "Admin account {} at {source} has only weak second factors",
                    r.login
                )
            },
            text: format!(
                "{} ({}) holds an admin role at {source} and can sign in {} (was {}).",
                r.login,
                r.display_name,
                if t.to == "fail" {
                    "without a second factor"
                } else {
                    "with only an SMS, voice, e-mail or security-question factor"
                },
                t.from.as_deref().unwrap_or("not seen before")
            ),
            data: json!({"source": source, "account_id": r.account_id, "login": r.login,
                         "from": t.from, "to": t.to,
                         "evidence": serde_json::from_str::<Value>(&r.evidence).ok()}),
        };
        for target in targets.iter().filter(|tg| webhooks::wants(tg, ADMIN_EVENT)) {
            let body = webhooks::payload(target.kind, &n, at).to_string();
            crate::store::webhooks::enqueue(
                conn,
                &target.url,
                target.kind.as_str(),
                n.event,
                &n.key,
                &body,
                at,
            )?;
        }
    }
    Ok(())
}

/// Sync source number `index` of `cfg` at time `at` (Unix seconds) into `store`; admins newly
/// without a second factor are queued for the webhook `targets`.
pub async fn sync_source(
    store: &Store,
    cfg: &IdentitySection,
    targets: &[WebhookTarget],
    index: usize,
    at: i64,
) -> Result<Synced, SyncFailure> {
    let src = &cfg.source[index];
    let name = src.name().to_string();
    let kind = src.kind();
    match pull(cfg, index, src).await {
        Ok(pulled) => {
            let rows: Vec<IdentityRow> = pulled
                .records
                .iter()
                .map(|r| IdentityRow {
                    source: name.clone(),
                    account_id: r.account_id.clone(),
                    login: r.login.clone(),
                    display_name: r.display_name.clone(),
                    kind: r.kind.as_str().into(),
                    enabled: r.enabled,
                    admin: r.admin,
                    mfa: r.mfa.as_str().into(),
                    enforced: r.enforced,
                    status: judge(r, &cfg.service_accounts).as_str().into(),
                    evidence: r.evidence.to_string(),
                    first_seen: at,
                    last_seen: at,
                    without_mfa_since: None,
                    status_since: at,
                })
                .collect();
            let accounts = rows.len();
            let n = name.clone();
            let targets = targets.to_vec();
            let transitions = store
                .write(move |c| {
                    let t = identities::apply_sync(c, &n, kind, at, pulled.enforced, &rows)?;
                    queue_admin_alerts(c, &targets, &n, &rows, &t, at)?;
                    Ok(t.len())
                })
                .await?;
            tracing::info!(source = %name, accounts, transitions, "identity sync done");
            Ok(Synced {
                accounts,
                transitions,
            })
        }
        Err(e) => {
            let msg = e.to_string();
            tracing::warn!(source = %name, error = %msg, "identity sync failed; the last good sync is kept");
            let n = name.clone();
            store
                .write(move |c| identities::record_failure(c, &n, kind, at, &msg))
                .await?;
            Err(SyncFailure::Source(e))
        }
    }
}

/// The state of one source for the KPI: its last good sync's counts, their age, and whether they
/// are stale (never synced, last attempt failed, or older than `stale_after_hours`).
#[derive(Debug, Clone, Serialize)]
pub struct SourceSummary {
    pub source: String,
    pub kind: String,
    pub configured: bool,
    pub last_success_at: Option<i64>,
    pub age_seconds: Option<i64>,
    pub stale: bool,
    pub last_error: Option<String>,
    pub failures_total: i64,
    pub enforced: Option<bool>,
    pub counts: Counts,
    /// Share of active members with a strong second factor (`pass / active_members`), `None`
    /// without data.
    pub coverage: Option<f64>,
    /// `identity.coverage_target`.
    pub target: f64,
    /// `met`, `not_met`, or `no_data`; a stale source is `stale` whatever its last numbers.
    pub target_status: &'static str,
}

/// Summaries of the configured sources and of any other source still in the store, from
/// `stored` (`store::identities::snapshot`) at time `now`.
pub fn summaries(
    stored: &[(SourceRow, Counts)],
    cfg: &IdentitySection,
    now: i64,
) -> Vec<SourceSummary> {
    let mut names: Vec<(String, String, bool)> = cfg
        .source
        .iter()
        .map(|s| (s.name().to_string(), s.kind().to_string(), true))
        .collect();
    for (s, _) in stored {
        if !names.iter().any(|n| n.0 == s.source) {
            names.push((s.source.clone(), s.kind.clone(), false));
        }
    }
    names
        .into_iter()
        .map(|(name, kind, configured)| {
            let found = stored.iter().find(|(s, _)| s.source == name);
            let row = found.map(|f| &f.0);
            let counts = found.map(|f| f.1.clone()).unwrap_or_default();
            let last_success_at = row.and_then(|r| r.last_success_at);
            let age = last_success_at.map(|t| (now - t).max(0));
            // Never synced, last attempt failed, or too old: stale.
            let stale = match (row, age) {
                (Some(r), Some(a)) => {
                    r.last_error.is_some() || a > cfg.stale_after_hours as i64 * 3600
                }
                _ => true,
            };
            let coverage = (counts.active_members > 0)
                .then(|| counts.pass as f64 / counts.active_members as f64);
            let target_status = match coverage {
                _ if stale => "stale",
                None => "no_data",
                Some(c) if c + 1e-9 >= cfg.coverage_target => "met",
                Some(_) => "not_met",
            };
            SourceSummary {
                source: name,
                kind,
                configured,
                last_success_at,
                age_seconds: age,
                stale,
                last_error: row.and_then(|r| r.last_error.clone()),
                failures_total: row.map(|r| r.failures_total).unwrap_or(0),
                enforced: row.and_then(|r| r.enforced),
                counts,
                coverage,
                target: cfg.coverage_target,
                target_status,
            }
        })
        .collect()
}
