//! Exceptions' SQL: granting, revoking, listing, the active set at an instant, and their
//! application to the fleet aggregate (the `excepted` bucket). Rules live in
//! `crate::risk::exceptions`.

use rusqlite::{params, Connection};

use super::fleet::FleetAggregate;
use super::hosts::Staleness;
use super::StoreError;
use crate::risk::exceptions::{apply_exceptions, Exception, HostRef, NewException, ScopeKind};

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

/// Move `fail`/`warn` counts covered by an active exception into the `excepted` bucket of `agg`
/// (stale hosts stay `stale`, as in the aggregate itself).
pub fn apply_to_aggregate(
    conn: &Connection,
    st: &Staleness,
    agg: &mut FleetAggregate,
) -> Result<(), StoreError> {
    let exceptions = active(conn, st.now)?;
    if exceptions.is_empty() {
        return Ok(());
    }
    let results = super::risks::fleet_results(
        conn,
        st,
        &exceptions
            .iter()
            .map(|e| e.check.clone())
            .collect::<Vec<_>>(),
    )?;
    for r in results {
        let eff = apply_exceptions(
            &r.status,
            HostRef {
                hostname: &r.hostname,
            },
            &r.check,
            st.now,
            &exceptions,
        );
        if eff.as_str() == "excepted" {
            if let Some(n) = agg
                .check_hosts
                .get_mut(&(r.check.clone(), r.status.clone()))
            {
                *n -= 1;
            }
            *agg.check_hosts
                .entry((r.check.clone(), "excepted".to_string()))
                .or_default() += 1;
        }
    }
    agg.check_hosts.retain(|_, n| *n > 0);
    Ok(())
}
