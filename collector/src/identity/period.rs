//! The identity sources as they stood at the end of a period (report, evidence bundle, CIS): each
//! source's last attempt and last good sync before that instant, its accounts as they were at that
//! sync (replayed from the stored transitions), and whether the numbers were current then.
//!
//! The rule is the live one (`sync::summaries`) moved to the period's end: a source whose last
//! attempt before the end failed, whose last good sync is older than `identity.stale_after_hours`
//! then, or that had no good sync at all, is stale — shown, never counted as a pass.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::config::IdentitySection;
use crate::store::identities::{self as sql, IdentityRow, SyncRow};
use crate::store::StoreError;

/// One source at the end of a period.
#[derive(Debug, Clone, Default)]
pub struct SourceAt {
    /// Source name.
    pub source: String,
    /// `entra`, `okta`, `github`, `google`.
    pub kind: String,
    /// The last attempt before the end.
    pub last_attempt: Option<SyncRow>,
    /// The last good sync before the end, with the accounts as they stood then.
    pub last_good: Option<(i64, Vec<IdentityRow>)>,
}

/// Why a source's numbers are not current at the end of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StaleReason {
    /// No good sync before the end.
    NeverSynced,
    /// The last attempt before the end failed.
    LastSyncFailed {
        /// When.
        at: DateTime<Utc>,
        /// The error recorded.
        error: String,
    },
    /// The last good sync is older than `identity.stale_after_hours` at the end.
    TooOld {
        /// Its age then, in hours.
        age_hours: i64,
    },
}

impl std::fmt::Display for StaleReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaleReason::NeverSynced => f.write_str("never synced"),
            StaleReason::LastSyncFailed { at, error } => {
                write!(f, "last sync failed at {}: {error}", at.to_rfc3339())
            }
            StaleReason::TooOld { age_hours } => {
                write!(f, "last good sync is {age_hours} hours old")
            }
        }
    }
}

/// Unix seconds to UTC time.
pub fn utc(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

impl SourceAt {
    /// Why the source is not current at `end` (Unix seconds), or `None` when it is.
    pub fn stale(&self, end: i64, stale_after_hours: u64) -> Option<StaleReason> {
        match (&self.last_attempt, &self.last_good) {
            (_, None) => Some(StaleReason::NeverSynced),
            (Some(a), _) if !a.ok => Some(StaleReason::LastSyncFailed {
                at: utc(a.at),
                error: a.error.clone().unwrap_or_default(),
            }),
            (_, Some((t, _))) if end - t > stale_after_hours as i64 * 3600 => {
                Some(StaleReason::TooOld {
                    age_hours: (end - t) / 3600,
                })
            }
            _ => None,
        }
    }
}

/// The configured sources, then any other stored source, by name: `(name, kind)`.
pub fn source_names(
    conn: &Connection,
    cfg: &IdentitySection,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut names: Vec<(String, String)> = cfg
        .source
        .iter()
        .map(|s| (s.name().to_string(), s.kind().to_string()))
        .collect();
    for s in sql::sources(conn)? {
        if !names.iter().any(|n| n.0 == s.source) {
            names.push((s.source, s.kind));
        }
    }
    Ok(names)
}

/// Every source (configured or stored) as it stood just before `end` (Unix seconds).
pub fn sources_at(
    conn: &Connection,
    cfg: &IdentitySection,
    end: i64,
) -> Result<Vec<SourceAt>, StoreError> {
    source_names(conn, cfg)?
        .into_iter()
        .map(|(source, kind)| {
            let (last_attempt, good_at) = sql::last_before(conn, &source, end)?;
            let last_good = match good_at {
                Some(t) => Some((t, sql::state_at(conn, &source, t)?)),
                None => None,
            };
            Ok(SourceAt {
                source,
                kind,
                last_attempt,
                last_good,
            })
        })
        .collect()
}
