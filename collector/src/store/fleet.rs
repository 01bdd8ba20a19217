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
    let state_sql = format!(
        "CASE WHEN h.last_seen_at IS NULL THEN 'never_reported'
              WHEN {} THEN 'stale' ELSE 'reporting' END",
        Staleness::STALE_SQL
    );
    let args = st.params();
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
    // Move `fail`/`warn` counts covered by an exception in force into the `excepted` bucket
    // (stale hosts stay `stale`, as above).
    for (r, _) in super::exceptions::excepted_results(conn, st)? {
        if let Some(n) = agg
            .check_hosts
            .get_mut(&(r.check.clone(), r.status.clone()))
        {
            *n -= 1;
        }
        *agg.check_hosts
            .entry((r.check, "excepted".to_string()))
            .or_default() += 1;
    }
    agg.check_hosts.retain(|_, n| *n > 0);
    Ok(agg)
}

/// Hosts whose last report arrived at or after `since` (Unix seconds).
pub fn hosts_reported_since(conn: &Connection, since: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM hosts WHERE last_report_at >= ?1",
        [since],
        |r| r.get(0),
    )?)
}

/// (hostname, check, status) for every host's current state; stale hosts report `stale`, and a
/// `fail`/`warn` covered by an exception in force reports `excepted` (the same rule as the fleet
/// aggregate). Hostnames are not unique: duplicates are disambiguated with `#<host id>`.
pub fn host_statuses(
    conn: &Connection,
    st: &Staleness,
) -> Result<Vec<(String, String, String)>, StoreError> {
    let rule = super::exceptions::InForce::load(conn, st.now)?;
    let mut q = conn.prepare_cached(&format!(
        "SELECT h.hostname || CASE WHEN (SELECT count(*) FROM hosts o WHERE o.hostname = h.hostname) > 1
                                   THEN '#' || h.id ELSE '' END,
                cs.check_name,
                CASE WHEN {} THEN 'stale' ELSE cs.status END,
                h.hostname
         FROM check_state cs JOIN hosts h ON h.id = cs.host_id ORDER BY 1, 2",
        Staleness::STALE_SQL
    ))?;
    let rows = q.query_map(st.params(), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (label, check, status, hostname) = row?;
        let status = if status == "stale" || rule.is_empty() {
            status
        } else {
            rule.effective(&hostname, &check, &status)
                .as_str()
                .to_string()
        };
        out.push((label, check, status));
    }
    Ok(out)
}

/// The fleet split by the `os` hosts report (`macos`, `windows`, an os-release ID such as `debian`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OsBreakdown {
    /// (os, state) → hosts; states as in [`FleetAggregate::hosts`].
    pub hosts: Vec<(String, String, i64)>,
    /// (os, check, status) → hosts; stale hosts under `stale`. Exceptions are not applied here.
    pub check_hosts: Vec<(String, String, String, i64)>,
}

/// Hosts and check statuses per reported `os`, in two grouped queries: the reference the fleet
/// copy's [`super::fleet_cache::View::os_breakdown`] is tested against (the gauges use the copy).
#[cfg(test)]
pub fn os_breakdown(conn: &Connection, st: &Staleness) -> Result<OsBreakdown, StoreError> {
    let state_sql = format!(
        "CASE WHEN h.last_seen_at IS NULL THEN 'never_reported'
              WHEN {} THEN 'stale' ELSE 'reporting' END",
        Staleness::STALE_SQL
    );
    let mut out = OsBreakdown::default();
    let mut q = conn.prepare_cached(&format!(
        "SELECT h.os, {state_sql} AS state, count(*) FROM hosts h GROUP BY h.os, state"
    ))?;
    for row in q.query_map(st.params(), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
        out.hosts.push(row?);
    }
    let mut q = conn.prepare_cached(&format!(
        "SELECT h.os, cs.check_name,
                CASE WHEN ({state_sql}) = 'stale' THEN 'stale' ELSE cs.status END AS st,
                count(*)
         FROM check_state cs JOIN hosts h ON h.id = cs.host_id
         GROUP BY h.os, cs.check_name, st"
    ))?;
    for row in q.query_map(st.params(), |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })? {
        out.check_hosts.push(row?);
    }
    Ok(out)
}

/// One host's current result for one check, with a few of its facts (for KPIs that list hosts).
#[derive(Debug, Clone, PartialEq)]
pub struct HostCheck {
    /// Host name as last reported.
    pub hostname: String,
    /// Reporting or stale (hosts that never reported are left out).
    pub state: super::hosts::HostState,
    /// Current status of the check; `None` when the host never sent this check.
    pub status: Option<String>,
    /// The requested facts (JSON null when absent).
    pub facts: serde_json::Map<String, serde_json::Value>,
}

/// Every host that has reported, with its current `check` status and the `facts` named (snake_case
/// fact names only), ordered by hostname.
pub fn host_checks(
    conn: &Connection,
    st: &Staleness,
    check: &str,
    facts: &[&str],
) -> Result<Vec<HostCheck>, StoreError> {
    if let Some(bad) = facts
        .iter()
        .find(|f| f.is_empty() || !f.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        return Err(StoreError::Invalid(format!("invalid fact name {bad:?}")));
    }
    let object = facts
        .iter()
        .map(|f| format!("'{f}', json_extract(cs.facts, '$.{f}')"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut q = conn.prepare(&format!(
        "SELECT h.hostname, h.last_seen_at, h.interval_s, cs.status, json_object({object})
         FROM hosts h LEFT JOIN check_state cs ON cs.host_id = h.id AND cs.check_name = ?1
         WHERE h.last_seen_at IS NOT NULL ORDER BY h.hostname, h.id"
    ))?;
    let rows = q.query_map(rusqlite::params![check], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (hostname, seen, interval, status, facts) = row?;
        let facts = match serde_json::from_str(&facts) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        out.push(HostCheck {
            hostname,
            state: st.state(seen, interval),
            status,
            facts,
        });
    }
    Ok(out)
}
