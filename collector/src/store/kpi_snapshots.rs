//! SQL of the daily KPI snapshots: one row per (day, KPI), so the monthly report and the trend of a
//! KPI over the year can be read back without recomputing from a fleet that has since changed.

use rusqlite::{params, Connection};
use serde::Serialize;

use super::StoreError;

/// One stored KPI value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotRow {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// KPI name (`patch_sla`, `mttd`, …).
    pub kpi: String,
    /// The value (ratio or seconds), `None` without data.
    pub value: Option<f64>,
    /// The target then in force.
    pub target: Option<f64>,
    /// `met`, `not_met`, `no_data` or `no_target`.
    pub status: String,
    /// The KPI's detail, JSON.
    pub detail: String,
    /// When it was taken (Unix seconds).
    pub taken_at: i64,
}

/// Store `rows`, replacing any row of the same day and KPI (a second snapshot the same day wins).
pub fn save(conn: &Connection, rows: &[SnapshotRow]) -> Result<(), StoreError> {
    let mut st = conn.prepare_cached(
        "INSERT INTO kpi_snapshots(day, kpi, value, target, status, detail, taken_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(day, kpi) DO UPDATE SET value = excluded.value, target = excluded.target,
            status = excluded.status, detail = excluded.detail, taken_at = excluded.taken_at",
    )?;
    for r in rows {
        st.execute(params![
            r.day, r.kpi, r.value, r.target, r.status, r.detail, r.taken_at
        ])?;
    }
    Ok(())
}

/// Every KPI stored for `day`, by name.
pub fn load(conn: &Connection, day: &str) -> Result<Vec<SnapshotRow>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT day, kpi, value, target, status, detail, taken_at FROM kpi_snapshots
         WHERE day = ?1 ORDER BY kpi",
    )?;
    let rows = st.query_map(params![day], |r| {
        Ok(SnapshotRow {
            day: r.get(0)?,
            kpi: r.get(1)?,
            value: r.get(2)?,
            target: r.get(3)?,
            status: r.get(4)?,
            detail: r.get(5)?,
            taken_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether a snapshot exists for `day`.
pub fn exists(conn: &Connection, day: &str) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM kpi_snapshots WHERE day = ?1",
        params![day],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}
