//! Exceptions' SQL: granting, revoking, listing, the set in force at an instant ([`InForce`], which
//! every view uses to turn a measured status into an effective one), and the reporting hosts'
//! results they cover. Rules live in `crate::risk::exceptions`.

use rusqlite::{params, Connection};

use super::hosts::Staleness;
use super::StoreError;
use crate::risk::exceptions::{
    apply_exceptions, EffectiveStatus, Exception, HostRef, NewException, ScopeKind,
};
use crate::risk::fleet::HostResult;

/// Columns read by `from_row`, in its order.
pub(crate) const COLUMNS: &str =
    "id, check_name, scope_kind, scope_value, host_patterns, reason, requester, \
    approver, starts_at, expires_at, revoked_at, revoked_by, created_at, updated_at";

/// A row of `COLUMNS`.
pub(crate) fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Exception> {
    let scope: String = r.get(2)?;
    let patterns: String = r.get(4)?;
    Ok(Exception {
        id: r.get(0)?,
        check: r.get(1)?,
        scope: ScopeKind::parse_field(&scope, "scope").map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unexpected scope_kind {scope:?} in the exceptions table").into(),
            )
        })?,
        scope_value: r.get(3)?,
        host_patterns: serde_json::from_str(&patterns).unwrap_or_default(),
        reason: r.get(5)?,
        requester: r.get(6)?,
        approver: r.get(7)?,
        starts_at: r.get(8)?,
        expires_at: r.get(9)?,
        revoked_at: r.get(10)?,
        revoked_by: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Every exception, ordered by id.
pub fn list(conn: &Connection) -> Result<Vec<Exception>, StoreError> {
    let mut q = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM exceptions ORDER BY id"))?;
    let rows = q.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The exceptions in force at `now` (started, not expired, not revoked).
pub fn active(conn: &Connection, now: i64) -> Result<Vec<Exception>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM exceptions
         WHERE starts_at <= ?1 AND expires_at > ?1 AND (revoked_at IS NULL OR revoked_at > ?1)
         ORDER BY id"
    ))?;
    let rows = q.query_map(params![now], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Grant an exception; returns its id.
pub fn insert(conn: &Connection, e: &NewException, now: i64) -> Result<i64, StoreError> {
    let patterns =
        serde_json::to_string(&e.host_patterns).map_err(|x| StoreError::Invalid(x.to_string()))?;
    conn.execute(
        "INSERT INTO exceptions(check_name, scope_kind, scope_value, host_patterns, reason,
             requester, approver, starts_at, expires_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            e.check,
            e.scope.as_str(),
            e.scope_value,
            patterns,
            e.reason,
            e.requester,
            e.approver,
            e.starts_at,
            e.expires_at,
            now
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Revoke exception `id` now; refuses one already revoked or expired.
pub fn revoke(conn: &Connection, id: i64, by: &str, now: i64) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE exceptions SET revoked_at = ?2, revoked_by = ?3, updated_at = ?2
         WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![id, now, by],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!(
            "exception {id} does not exist, is already revoked or has expired"
        )));
    }
    Ok(())
}

/// The exceptions in force at one instant: the one place every view (API host list and detail,
/// fleet and per-host metrics, KPIs, CIS, report, evidence bundle) asks what a result counts as.
/// The rule itself is [`apply_exceptions`]: a `fail` or `warn` covered by an exception in force is
/// `excepted`, with that exception's id; anything else keeps its measured status.
#[derive(Debug, Clone)]
pub struct InForce {
    at: i64,
    exceptions: Vec<Exception>,
}

impl InForce {
    /// The exceptions in force at `at`, read from the store.
    pub fn load(conn: &Connection, at: i64) -> Result<InForce, StoreError> {
        Ok(InForce {
            at,
            exceptions: active(conn, at)?,
        })
    }

    /// The exceptions of `all` in force at `at` (for a view over a past instant).
    pub fn from_list(all: &[Exception], at: i64) -> InForce {
        InForce {
            at,
            exceptions: all.iter().filter(|e| e.in_force(at)).cloned().collect(),
        }
    }

    /// No exception in force: every result keeps its measured status.
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// The checks some exception in force covers.
    pub fn checks(&self) -> Vec<String> {
        let mut c: Vec<String> = self.exceptions.iter().map(|e| e.check.clone()).collect();
        c.sort();
        c.dedup();
        c
    }

    /// What `status` of `check` on `hostname` counts as.
    pub fn effective(&self, hostname: &str, check: &str, status: &str) -> EffectiveStatus {
        apply_exceptions(
            status,
            HostRef { hostname },
            check,
            self.at,
            &self.exceptions,
        )
    }
}

/// The current results of reporting (not stale) hosts that an exception in force at `st.now`
/// covers, with their effective status (always `Excepted`).
pub fn excepted_results(
    conn: &Connection,
    st: &Staleness,
) -> Result<Vec<(HostResult, EffectiveStatus)>, StoreError> {
    let rule = InForce::load(conn, st.now)?;
    if rule.is_empty() {
        return Ok(Vec::new());
    }
    Ok(super::risks::fleet_results(conn, st, &rule.checks())?
        .into_iter()
        .filter_map(|r| {
            let eff = rule.effective(&r.hostname, &r.check, &r.status);
            matches!(eff, EffectiveStatus::Excepted(_)).then_some((r, eff))
        })
        .collect())
}
