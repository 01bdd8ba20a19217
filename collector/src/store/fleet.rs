//! Fleet-wide aggregates for metrics and KPIs.

use std::collections::HashMap;

use rusqlite::Connection;

use super::hosts::Staleness;
use super::StoreError;

/// Counts over the whole fleet.
#[derive(Debug, Default, Clone)]
pub struct FleetAggregate {
    /// Hosts by state (`reporting`, `stale`, `never_reported`).
    pub hosts: HashMap<String, i64>,
    /// (check, status) → hosts; hosts that are stale count under status `stale`, and `fail`/`warn`
    /// results covered by an active exception under `excepted`.
    pub check_hosts: HashMap<(String, String), i64>,
}

/// Compute the aggregate in two grouped queries.
pub fn aggregate(conn: &Connection, st: &Staleness) -> Result<FleetAggregate, StoreError> {
    let mut agg = FleetAggregate::default();
    // A host is stale when now - last_seen > interval * factor; the same rule as Staleness::state.
    let state_sql = "CASE WHEN h.last_seen_at IS NULL THEN 'never_reported'
                     WHEN ?1 - h.last_seen_at > COALESCE(h.interval_s, ?2) * ?3 THEN 'stale'
                     ELSE 'reporting' END";
    let args = rusqlite::params![
        st.now,
        st.default_interval as i64,
        st.after_intervals as i64
    ];
    let mut q = conn.prepare_cached(&format!(
        "SELECT {state_sql} AS state, count(*) FROM hosts h GROUP BY state"
    ))?;
    for row in q.query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
        let (s, n) = row?;
        agg.hosts.insert(s, n);
    }
    let mut q = conn.prepare_cached(&format!(
        "SELECT cs.check_name,
                CASE WHEN ({state_sql}) = 'stale' THEN 'stale' ELSE cs.status END AS st,
                count(*)
         FROM check_state cs JOIN hosts h ON h.id = cs.host_id
         GROUP BY cs.check_name, st"
    ))?;
    for row in q.query_map(args, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (c, s, n) = row?;
        agg.check_hosts.insert((c, s), n);
    }
    super::exceptions::apply_to_aggregate(conn, st, &mut agg)?;
    Ok(agg)
}
