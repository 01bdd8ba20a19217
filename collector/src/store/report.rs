//! SQL of the monthly report: the last KPI snapshot of each month, and the fleet's size over a
//! month. Every query aggregates in SQLite (grouped or indexed lookups), so the report's cost does
//! not grow with the number of hosts in Rust.

use rusqlite::{params, Connection};

use super::kpi_snapshots::SnapshotRow;
use super::StoreError;

/// For every KPI, the snapshot row of the last snapshot day of each calendar month with a snapshot
/// on days `from..=to` (`YYYY-MM-DD`), ordered by KPI then day.
pub fn last_snapshot_per_month(
    conn: &Connection,
    from: &str,
    to: &str,
) -> Result<Vec<SnapshotRow>, StoreError> {
    // The primary key (day, kpi) serves both the range scan and the join back.
    let mut st = conn.prepare_cached(
        "SELECT k.day, k.kpi, k.value, k.target, k.status, k.detail, k.taken_at
         FROM kpi_snapshots k
         JOIN (SELECT kpi, max(day) AS day FROM kpi_snapshots
               WHERE day >= ?1 AND day <= ?2
               GROUP BY kpi, substr(day, 1, 7)) last
           ON last.kpi = k.kpi AND last.day = k.day
         ORDER BY k.kpi, k.day",
    )?;
    let rows = st.query_map(params![from, to], |r| {
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

/// The fleet's size over a month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetSize {
    /// Hosts enrolled before the end of the month.
    pub enrolled: i64,
    /// Of those, hosts with at least one report received on a day of the month (daily roll-up).
    pub reported: i64,
}

/// Hosts enrolled before `end` (Unix seconds, excluded), and those with a daily roll-up row on a
/// day in `from..=to` (`YYYY-MM-DD`). Within one calendar month (the report's case) the reporting
/// hosts come from `host_months` (one range scan; roll-up rows are dated by reception, so none
/// lies after today); a range over several months probes each host's roll-up.
pub fn fleet_size(
    conn: &Connection,
    end: i64,
    from: &str,
    to: &str,
) -> Result<FleetSize, StoreError> {
    let month = from.get(..7).filter(|m| {
        from.ends_with("-01") && to.get(..7) == Some(*m) && from.len() == 10 && to.len() == 10
    });
    let (enrolled, reported) = match month {
        Some(month) => conn.query_row(
            "SELECT (SELECT count(*) FROM hosts WHERE enrolled_at < ?1),
                    (SELECT count(*) FROM host_months m JOIN hosts h ON h.id = m.host_id
                     WHERE m.month = ?2 AND h.enrolled_at < ?1)",
            params![end, month],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
        None => conn.query_row(
            "SELECT count(*),
                    coalesce(sum(EXISTS (SELECT 1 FROM daily d
                                         WHERE d.host_id = h.id AND d.day >= ?2 AND d.day <= ?3)), 0)
             FROM hosts h WHERE h.enrolled_at < ?1",
            params![end, from, to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?,
    };
    Ok(FleetSize { enrolled, reported })
}

/// Every risk history entry at or after `since` (Unix seconds), as (risk id, entry), oldest first.
pub fn risk_history_since(
    conn: &Connection,
    since: i64,
) -> Result<Vec<(i64, crate::risk::register::RiskChange)>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT risk_id, at, actor, changes, note FROM risk_history WHERE at >= ?1
         ORDER BY at, id",
    )?;
    let rows = st.query_map(params![since], |r| {
        let changes: String = r.get(3)?;
        Ok((
            r.get(0)?,
            crate::risk::register::RiskChange {
                at: r.get(1)?,
                actor: r.get(2)?,
                changes: serde_json::from_str(&changes).unwrap_or_default(),
                note: r.get(4)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{kpi_snapshots, migrations};

    fn row(day: &str, kpi: &str, value: f64) -> SnapshotRow {
        SnapshotRow {
            day: day.into(),
            kpi: kpi.into(),
            value: Some(value),
            target: None,
            status: "no_target".into(),
            detail: "{}".into(),
            taken_at: 0,
        }
    }

    /// Snapshots on 10 and 28 Feb, 31 Mar, 2 Apr: the last of each month in range is kept
    /// (28 Feb, 31 Mar); 2 Apr is out of the range asked (up to 31 Mar).
    #[test]
    fn keeps_the_last_snapshot_of_each_month() {
        let mut c = Connection::open_in_memory().unwrap();
        migrations::migrate(&mut c).unwrap();
        let rows = [
            row("2026-02-10", "patch_sla", 0.1),
            row("2026-02-28", "patch_sla", 0.2),
            row("2026-03-31", "patch_sla", 0.3),
            row("2026-04-02", "patch_sla", 0.4),
            row("2026-03-15", "cis.overall", 50.0),
        ];
        kpi_snapshots::save(&c, &rows).unwrap();
        let got = last_snapshot_per_month(&c, "2026-01-01", "2026-03-31").unwrap();
        let days: Vec<_> = got
            .iter()
            .map(|r| (r.kpi.as_str(), r.day.as_str()))
            .collect();
        assert_eq!(
            days,
            [
                ("cis.overall", "2026-03-15"),
                ("patch_sla", "2026-02-28"),
                ("patch_sla", "2026-03-31")
            ]
        );
    }

    /// Hosts 1 (enrolled at 10, reported on 3 Mar), 2 (enrolled at 20, reported only in Feb),
    /// 3 (enrolled at 1000 ≥ end 500: not counted) → enrolled 2, reported in March 1.
    #[test]
    fn fleet_size_counts_enrolled_and_reporting_hosts() {
        let mut c = Connection::open_in_memory().unwrap();
        migrations::migrate(&mut c).unwrap();
        for (id, enrolled) in [(1, 10), (2, 20), (3, 1000)] {
            c.execute(
                "INSERT INTO hosts(id, machine_id, hostname, node_key_hash, enrolled_at)
                 VALUES (?1, ?2, ?2, ?3, ?4)",
                params![id, format!("m{id}"), vec![id as u8], enrolled],
            )
            .unwrap();
        }
        for (h, day) in [(1, "2026-03-03"), (2, "2026-02-27"), (3, "2026-03-05")] {
            c.execute(
                "INSERT INTO daily(host_id, day, reports, first_seen, last_seen) VALUES (?1, ?2, 1, 0, 0)",
                params![h, day],
            )
            .unwrap();
        }
        let s = fleet_size(&c, 500, "2026-03-01", "2026-03-31").unwrap();
        assert_eq!(
            s,
            FleetSize {
                enrolled: 2,
                reported: 1
            }
        );
        // The same through the probe of every host's roll-up (a range over two months: Feb 27
        // counts host 2 too), and the month table follows deletions of roll-up rows.
        let s = fleet_size(&c, 500, "2026-02-01", "2026-03-31").unwrap();
        assert_eq!(s.reported, 2);
        c.execute("DELETE FROM daily WHERE host_id = 1", [])
            .unwrap();
        let s = fleet_size(&c, 500, "2026-03-01", "2026-03-31").unwrap();
        assert_eq!(s.reported, 0);
        let months: i64 = c
            .query_row("SELECT count(*) FROM host_months", [], |r| r.get(0))
            .unwrap();
        assert_eq!(months, 2, "hosts 2 (Feb) and 3 (Mar) remain");
    }
}
