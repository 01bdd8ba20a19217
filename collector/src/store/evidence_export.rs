//! SQL of the audit evidence export: every section of a bundle is read here as a stream of rows
//! handed one at a time to a callback, so an export never holds a whole period in memory.
//!
//! A [`Scope`] is the period (UTC days, inclusive) and the optional selection of checks and host
//! names; filters are passed to SQLite as JSON arrays (`json_each`) so one statement serves every
//! selection. "Result" means a check's status on a host at the end of the period: the last
//! transition before the period's end (a transition is recorded on every status change, including
//! the first report of a check).

use std::collections::BTreeMap;

use rusqlite::{params, Connection, Row};

use super::hosts::EvidenceRow;
use super::kpi_snapshots::SnapshotRow;
use super::StoreError;
use crate::registers::incident::Incident;
use crate::registers::training::Completion;
use crate::risk::actions::Action;
use crate::risk::exceptions::Exception;

/// What an export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// First day, `YYYY-MM-DD` (UTC, inclusive).
    pub from_day: String,
    /// Last day, `YYYY-MM-DD` (UTC, inclusive).
    pub to_day: String,
    /// Start of `from_day`, Unix seconds.
    pub from_ts: i64,
    /// Start of the day after `to_day`, Unix seconds (exclusive end).
    pub end_ts: i64,
    /// Only these checks (`None`: every check).
    pub checks: Option<Vec<String>>,
    /// Only hosts with these host names (`None`: every host).
    pub hostnames: Option<Vec<String>>,
}

impl Scope {
    fn checks_json(&self) -> Option<String> {
        self.checks
            .as_ref()
            .map(|c| serde_json::json!(c).to_string())
    }
    fn hosts_json(&self) -> Option<String> {
        self.hostnames
            .as_ref()
            .map(|h| serde_json::json!(h).to_string())
    }
    /// The same scope restricted to `checks`.
    pub fn with_checks(&self, checks: Vec<String>) -> Scope {
        Scope {
            checks: Some(checks),
            ..self.clone()
        }
    }
}

/// A check's status on a host at the end of the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// Check id.
    pub check: String,
    /// Host id.
    pub host_id: i64,
    /// Host name as last reported.
    pub hostname: String,
    /// Status (`pass`, `fail`, `error`, `not_applicable`).
    pub status: String,
    /// When the host entered this status (Unix seconds; may be before the period).
    pub since: i64,
    /// The agent's summary when it entered this status.
    pub summary: String,
    /// SHA-256 of the evidence attached then.
    pub evidence: Vec<String>,
    /// The report that carried the change.
    pub report_id: String,
}

/// A status change inside the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRow {
    /// Check id.
    pub check: String,
    /// Host id.
    pub host_id: i64,
    /// Host name as last reported.
    pub hostname: String,
    /// Previous status (`None`: first report of this check on this host).
    pub from: Option<String>,
    /// New status.
    pub to: String,
    /// When (the report's collection time, Unix seconds).
    pub at: i64,
    /// The report that carried the change.
    pub report_id: String,
    /// The agent's summary.
    pub summary: String,
    /// SHA-256 of the evidence attached.
    pub evidence: Vec<String>,
}

/// One host and one day of the period on which it reported (or the host alone when it reported
/// on none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDay {
    /// Host id.
    pub host_id: i64,
    /// Host name as last reported.
    pub hostname: String,
    /// Enrolment time (Unix seconds).
    pub enrolled_at: i64,
    /// The day, `None` for a host without any report in the period.
    pub day: Option<String>,
    /// Reports received that day.
    pub reports: i64,
}

fn shas(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The last transition of (host, check) before the period's end; `t` and `h` are in scope.
const IS_END_STATE: &str = "NOT EXISTS (SELECT 1 FROM transitions u
        WHERE u.host_id = t.host_id AND u.check_name = t.check_name AND u.at < ?2
          AND (u.at > t.at OR (u.at = t.at AND u.id > t.id)))";

/// The scope's filters on `t` (transitions) and `h` (hosts); parameters ?3 (checks) and ?4 (hosts).
const FILTERS: &str = "(?3 IS NULL OR t.check_name IN (SELECT value FROM json_each(?3)))
    AND (?4 IS NULL OR h.hostname IN (SELECT value FROM json_each(?4)))";

/// Host names among `names` that no enrolled host has.
pub fn unknown_hostnames(conn: &Connection, names: &[String]) -> Result<Vec<String>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT value FROM json_each(?1)
         WHERE value NOT IN (SELECT hostname FROM hosts) ORDER BY value",
    )?;
    let rows = q.query_map(params![serde_json::json!(names).to_string()], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Check ids with at least one result or transition in scope, sorted.
pub fn checks_in_scope(conn: &Connection, scope: &Scope) -> Result<Vec<String>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT DISTINCT t.check_name FROM transitions t JOIN hosts h ON h.id = t.host_id
         WHERE t.at < ?2 AND {FILTERS} ORDER BY 1"
    ))?;
    let rows = q.query_map(
        params![
            scope.from_ts,
            scope.end_ts,
            scope.checks_json(),
            scope.hosts_json()
        ],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Per check: hosts by status at the end of the period.
pub fn result_counts(
    conn: &Connection,
    scope: &Scope,
) -> Result<BTreeMap<String, BTreeMap<String, u64>>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT t.check_name, t.to_status, count(*) FROM transitions t JOIN hosts h ON h.id = t.host_id
         WHERE t.at < ?2 AND {FILTERS} AND {IS_END_STATE}
         GROUP BY 1, 2"
    ))?;
    let mut rows = q.query(params![
        scope.from_ts,
        scope.end_ts,
        scope.checks_json(),
        scope.hosts_json()
    ])?;
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        out.entry(r.get(0)?)
            .or_default()
            .insert(r.get(1)?, r.get::<_, i64>(2)?.max(0) as u64);
    }
    Ok(out)
}

/// Per check: transitions inside the period.
pub fn transition_counts(
    conn: &Connection,
    scope: &Scope,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT t.check_name, count(*) FROM transitions t JOIN hosts h ON h.id = t.host_id
         WHERE t.at >= ?1 AND t.at < ?2 AND {FILTERS} GROUP BY 1"
    ))?;
    let mut rows = q.query(params![
        scope.from_ts,
        scope.end_ts,
        scope.checks_json(),
        scope.hosts_json()
    ])?;
    let mut out = BTreeMap::new();
    while let Some(r) = rows.next()? {
        out.insert(r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64);
    }
    Ok(out)
}

/// Stream the results at the end of the period, by check, host name, host id.
pub fn for_each_result<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(ResultRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT t.check_name, t.host_id, h.hostname, t.to_status, t.at, t.summary, t.evidence,
                    t.report_id
             FROM transitions t JOIN hosts h ON h.id = t.host_id
             WHERE t.at < ?2 AND {FILTERS} AND {IS_END_STATE}
             ORDER BY t.check_name, h.hostname, t.host_id"
        ))
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![
            scope.from_ts,
            scope.end_ts,
            scope.checks_json(),
            scope.hosts_json()
        ])
        .map_err(StoreError::from)?;
    let map = |r: &Row| -> rusqlite::Result<ResultRow> {
        Ok(ResultRow {
            check: r.get(0)?,
            host_id: r.get(1)?,
            hostname: r.get(2)?,
            status: r.get(3)?,
            since: r.get(4)?,
            summary: r.get(5)?,
            evidence: shas(&r.get::<_, String>(6)?),
            report_id: r.get(7)?,
        })
    };
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        f(map(r).map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// Stream the transitions inside the period, by check, host name, host id, time.
pub fn for_each_transition<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(TransitionRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT t.check_name, t.host_id, h.hostname, t.from_status, t.to_status, t.at,
                    t.report_id, t.summary, t.evidence
             FROM transitions t JOIN hosts h ON h.id = t.host_id
             WHERE t.at >= ?1 AND t.at < ?2 AND {FILTERS}
             ORDER BY t.check_name, h.hostname, t.host_id, t.at, t.id"
        ))
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![
            scope.from_ts,
            scope.end_ts,
            scope.checks_json(),
            scope.hosts_json()
        ])
        .map_err(StoreError::from)?;
    let map = |r: &Row| -> rusqlite::Result<TransitionRow> {
        Ok(TransitionRow {
            check: r.get(0)?,
            host_id: r.get(1)?,
            hostname: r.get(2)?,
            from: r.get(3)?,
            to: r.get(4)?,
            at: r.get(5)?,
            report_id: r.get(6)?,
            summary: r.get(7)?,
            evidence: shas(&r.get::<_, String>(8)?),
        })
    };
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        f(map(r).map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// Stream the evidence referenced by the scope's results and transitions, by SHA-256.
pub fn for_each_evidence<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(EvidenceRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT e.sha256, e.kind, e.source, e.excerpt FROM evidence e
             WHERE e.sha256 IN (
                SELECT j.value FROM transitions t JOIN hosts h ON h.id = t.host_id,
                       json_each(t.evidence) j
                WHERE t.at < ?2 AND {FILTERS} AND (t.at >= ?1 OR {IS_END_STATE}))
             ORDER BY e.sha256"
        ))
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![
            scope.from_ts,
            scope.end_ts,
            scope.checks_json(),
            scope.hosts_json()
        ])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        let row = (|| {
            Ok::<_, rusqlite::Error>(EvidenceRow {
                sha256: r.get(0)?,
                kind: r.get(1)?,
                source: r.get(2)?,
                excerpt: r.get(3)?,
            })
        })()
        .map_err(StoreError::from)?;
        f(row)?;
    }
    Ok(())
}

/// Stream the selected hosts with the days of the period on which they reported, by host name,
/// host id, day. Checks are not a filter here: continuity is about hosts.
///
/// The hosts are read in order (a sort of the hosts only), then each host's days with one range
/// probe of the roll-up's primary key: the same rows as a join sorted as a whole, without sorting
/// hosts × days (3 million rows for a month at 100,000 hosts) in a temporary file.
pub fn for_each_host_day<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(HostDay) -> Result<(), E>,
) -> Result<(), E> {
    let mut hosts_q = conn
        .prepare_cached(
            "SELECT h.id, h.hostname, h.enrolled_at FROM hosts h
             WHERE h.enrolled_at < ?1
               AND (?2 IS NULL OR h.hostname IN (SELECT value FROM json_each(?2)))
             ORDER BY h.hostname, h.id",
        )
        .map_err(StoreError::from)?;
    let mut days_q = conn
        .prepare_cached(
            "SELECT day, reports FROM daily
             WHERE host_id = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
        )
        .map_err(StoreError::from)?;
    let mut hosts = hosts_q
        .query(params![scope.end_ts, scope.hosts_json()])
        .map_err(StoreError::from)?;
    while let Some(h) = hosts.next().map_err(StoreError::from)? {
        let (host_id, hostname, enrolled_at): (i64, String, i64) =
            (|| Ok::<_, rusqlite::Error>((h.get(0)?, h.get(1)?, h.get(2)?)))()
                .map_err(StoreError::from)?;
        let mut days = days_q
            .query(params![host_id, scope.from_day, scope.to_day])
            .map_err(StoreError::from)?;
        let mut any = false;
        while let Some(d) = days.next().map_err(StoreError::from)? {
            any = true;
            let (day, reports): (String, i64) =
                (|| Ok::<_, rusqlite::Error>((d.get(0)?, d.get(1)?)))()
                    .map_err(StoreError::from)?;
            f(HostDay {
                host_id,
                hostname: hostname.clone(),
                enrolled_at,
                day: Some(day),
                reports,
            })?;
        }
        if !any {
            f(HostDay {
                host_id,
                hostname,
                enrolled_at,
                day: None,
                reports: 0,
            })?;
        }
    }
    Ok(())
}

/// Stream the incidents open at some point of the period (detected, or occurred, before its end
/// and not resolved before its start), by detection time then id.
pub fn for_each_incident<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(Incident) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT {} FROM incidents
             WHERE COALESCE(detected_at, occurred_at, created_at) < ?2
               AND (resolved_at IS NULL OR resolved_at >= ?1)
             ORDER BY COALESCE(detected_at, occurred_at, created_at), id",
            super::registers::INCIDENT_COLUMNS
        ))
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![scope.from_ts, scope.end_ts])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        f(super::registers::incident_from_row(r).map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// Stream the training completions dated inside the period, by day, person, course.
pub fn for_each_completion<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(Completion) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(
            "SELECT person_id, course, completed_on FROM training_completions
             WHERE completed_on >= ?1 AND completed_on <= ?2
             ORDER BY completed_on, person_id, course",
        )
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![scope.from_day, scope.to_day])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        let day: String = r.get(2).map_err(StoreError::from)?;
        let completed_on = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
            StoreError::Invalid(format!(
                "training_completions: completed_on {day:?} is not a date: {e}"
            ))
        })?;
        f(Completion {
            person_id: r.get(0).map_err(StoreError::from)?,
            course: r.get(1).map_err(StoreError::from)?,
            completed_on,
        })?;
    }
    Ok(())
}

/// Stream the KPI snapshots of the period, by day then KPI.
pub fn for_each_kpi_snapshot<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(SnapshotRow) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(
            "SELECT day, kpi, value, target, status, detail, taken_at FROM kpi_snapshots
             WHERE day >= ?1 AND day <= ?2 ORDER BY day, kpi",
        )
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![scope.from_day, scope.to_day])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        let row = (|| {
            Ok::<_, rusqlite::Error>(SnapshotRow {
                day: r.get(0)?,
                kpi: r.get(1)?,
                value: r.get(2)?,
                target: r.get(3)?,
                status: r.get(4)?,
                detail: r.get(5)?,
                taken_at: r.get(6)?,
            })
        })()
        .map_err(StoreError::from)?;
        f(row)?;
    }
    Ok(())
}

/// Stream the exceptions in force at some point of the period (started before its end, expiring
/// after its start, not revoked before its start), for the scope's checks, by id.
pub fn for_each_exception<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(Exception) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT {} FROM exceptions
             WHERE starts_at < ?2 AND expires_at > ?1 AND (revoked_at IS NULL OR revoked_at > ?1)
               AND (?3 IS NULL OR check_name IN (SELECT value FROM json_each(?3)))
             ORDER BY id",
            super::exceptions::COLUMNS
        ))
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![scope.from_ts, scope.end_ts, scope.checks_json()])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        f(super::exceptions::from_row(r).map_err(StoreError::from)?)?;
    }
    Ok(())
}

/// Stream the improvement-plan actions closed (done) inside the period, with their linked risks,
/// by closing time then id.
pub fn for_each_closed_action<E: From<StoreError>>(
    conn: &Connection,
    scope: &Scope,
    mut f: impl FnMut(Action) -> Result<(), E>,
) -> Result<(), E> {
    let mut q = conn
        .prepare_cached(&format!(
            "SELECT {} FROM actions
             WHERE status = 'done' AND closed_at >= ?1 AND closed_at < ?2
             ORDER BY closed_at, id",
            super::actions::COLUMNS
        ))
        .map_err(StoreError::from)?;
    let mut links = conn
        .prepare_cached("SELECT risk_id FROM action_risks WHERE action_id = ?1 ORDER BY risk_id")
        .map_err(StoreError::from)?;
    let mut rows = q
        .query(params![scope.from_ts, scope.end_ts])
        .map_err(StoreError::from)?;
    while let Some(r) = rows.next().map_err(StoreError::from)? {
        let mut a = super::actions::from_row(r).map_err(StoreError::from)?;
        a.risks = links
            .query_map(params![a.id], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<_, _>>())
            .map_err(StoreError::from)?;
        a.state = crate::risk::actions::ActionState::Done;
        f(a)?;
    }
    Ok(())
}
