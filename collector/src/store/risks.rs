//! The risk register's SQL: risks, their field-by-field history, the fleet inputs of fleet-derived
//! risks, and the collector's instance id (for feed entry ids). Rules live in `crate::risk`.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::hosts::Staleness;
use super::StoreError;
use crate::risk::fleet::HostResult;
use crate::risk::register::{FieldChange, Risk, RiskChange};
use crate::risk::{Level, RiskStatus, Source, Treatment};

const COLUMNS: &str =
    "id, source, check_name, title, scenario, assets, likelihood, impact, level, \
    treatment, owner, status, next_review, created_at, updated_at";

fn bad(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unexpected {what} {v:?} in the risks table").into(),
    )
}

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Risk> {
    let s = |i: usize| r.get::<_, String>(i);
    let assets: Vec<String> = serde_json::from_str(&s(5)?).unwrap_or_default();
    let source = s(1)?;
    let level = s(8)?;
    let treatment = s(9)?;
    let status = s(11)?;
    let review = s(12)?;
    Ok(Risk {
        id: r.get(0)?,
        source: Source::parse_field(&source, "source").map_err(|_| bad("source", &source))?,
        check: r.get(2)?,
        title: s(3)?,
        scenario: s(4)?,
        assets,
        likelihood: r.get(6)?,
        impact: r.get(7)?,
        level: Level::parse_field(&level, "level").map_err(|_| bad("level", &level))?,
        treatment: Treatment::parse_field(&treatment, "treatment")
            .map_err(|_| bad("treatment", &treatment))?,
        owner: s(10)?,
        status: RiskStatus::parse_field(&status, "status").map_err(|_| bad("status", &status))?,
        next_review: chrono::NaiveDate::parse_from_str(&review, "%Y-%m-%d")
            .map_err(|_| bad("next_review", &review))?,
        review_overdue: false,
        actions: Vec::new(),
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

fn attach_actions(conn: &Connection, risks: &mut [Risk]) -> Result<(), StoreError> {
    let mut q =
        conn.prepare_cached("SELECT risk_id, action_id FROM action_risks ORDER BY action_id")?;
    let mut by: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for row in q.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (r, a) = row?;
        by.entry(r).or_default().push(a);
    }
    for r in risks {
        r.actions = by.remove(&r.id).unwrap_or_default();
    }
    Ok(())
}

/// Every risk, ordered by id, with linked actions (`review_overdue` is for the caller to set).
pub fn list(conn: &Connection) -> Result<Vec<Risk>, StoreError> {
    let mut q = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM risks ORDER BY id"))?;
    let mut out: Vec<Risk> = q.query_map([], from_row)?.collect::<Result<_, _>>()?;
    attach_actions(conn, &mut out)?;
    Ok(out)
}

/// One risk, or `None`.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Risk>, StoreError> {
    let r = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM risks WHERE id = ?1"),
            params![id],
            from_row,
        )
        .optional()?;
    let Some(r) = r else { return Ok(None) };
    let mut v = vec![r];
    attach_actions(conn, &mut v)?;
    Ok(v.pop())
}

fn record(
    conn: &Connection,
    id: i64,
    at: i64,
    actor: &str,
    changes: &BTreeMap<String, FieldChange>,
    note: &str,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(changes).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO risk_history(risk_id, at, actor, changes, note) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, at, actor, json, note],
    )?;
    Ok(())
}

/// Insert `r` (its id is ignored) with a `created` history entry; returns the new id.
pub fn insert(
    conn: &Connection,
    r: &Risk,
    actor: &str,
    note: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let changes = crate::risk::register::diff(None, r);
    insert_recording(conn, r, &changes, actor, note, now)
}

/// Insert `r` (its id is ignored) with `changes` as its creation entry (a fleet risk records its
/// hosts in the bounded form of `risk::fleet::assets_change`); returns the new id.
pub fn insert_recording(
    conn: &Connection,
    r: &Risk,
    changes: &BTreeMap<String, FieldChange>,
    actor: &str,
    note: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let assets =
        serde_json::to_string(&r.assets).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.execute(
        "INSERT INTO risks(source, check_name, title, scenario, assets, likelihood, impact, level,
             treatment, owner, status, next_review, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            r.source.as_str(),
            r.check,
            r.title,
            r.scenario,
            assets,
            r.likelihood,
            r.impact,
            r.level.as_str(),
            r.treatment.as_str(),
            r.owner,
            r.status.as_str(),
            r.next_review.to_string(),
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    record(conn, id, now, actor, changes, note)?;
    Ok(id)
}

/// Write `r` over its row and record `changes`; nothing happens when `changes` is empty.
pub fn update(
    conn: &Connection,
    r: &Risk,
    changes: &BTreeMap<String, FieldChange>,
    actor: &str,
    note: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if changes.is_empty() {
        return Ok(false);
    }
    let assets =
        serde_json::to_string(&r.assets).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let n = conn.execute(
        "UPDATE risks SET title = ?2, scenario = ?3, assets = ?4, likelihood = ?5, impact = ?6,
             level = ?7, treatment = ?8, owner = ?9, status = ?10, next_review = ?11, updated_at = ?12
         WHERE id = ?1",
        params![
            r.id,
            r.title,
            r.scenario,
            assets,
            r.likelihood,
            r.impact,
            r.level.as_str(),
            r.treatment.as_str(),
            r.owner,
            r.status.as_str(),
            r.next_review.to_string(),
            now
        ],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!("no risk with id {}", r.id)));
    }
    record(conn, r.id, now, actor, changes, note)?;
    Ok(true)
}

/// A risk's history, oldest first.
pub fn history(conn: &Connection, id: i64) -> Result<Vec<RiskChange>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT at, actor, changes, note FROM risk_history WHERE risk_id = ?1 ORDER BY at, id",
    )?;
    let rows = q.query_map(params![id], |r| {
        let changes: String = r.get(2)?;
        Ok(RiskChange {
            at: r.get(0)?,
            actor: r.get(1)?,
            changes: serde_json::from_str(&changes).unwrap_or_default(),
            note: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Delete the history entries written by `actor` (the fleet recompute) on fleet-derived risks
/// before `before` (Unix seconds); returns how many. People's entries are never pruned.
pub fn prune_fleet_history(
    conn: &Connection,
    actor: &str,
    before: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM risk_history
         WHERE risk_id IN (SELECT id FROM risks WHERE source = 'fleet') AND at < ?1 AND actor = ?2",
        params![before, actor],
    )?)
}

/// Current results of the given checks on reporting (not stale, reported) hosts.
pub fn fleet_results(
    conn: &Connection,
    st: &Staleness,
    checks: &[String],
) -> Result<Vec<HostResult>, StoreError> {
    // Filter the checks in SQL: the background loop calls this every refresh, and loading every
    // host's every check to keep a few would scale with hosts × checks.
    let mut q = conn.prepare_cached(&format!(
        "SELECT h.hostname, cs.check_name, cs.status
         FROM check_state cs JOIN hosts h ON h.id = cs.host_id
         WHERE h.last_seen_at IS NOT NULL AND NOT {}
           AND cs.check_name IN (SELECT value FROM json_each(?4))",
        Staleness::STALE_SQL
    ))?;
    let [now, default_interval, after] = st.params();
    let checks_json = serde_json::to_string(checks).unwrap_or_else(|_| "[]".into());
    let rows = q.query_map(params![now, default_interval, after, checks_json], |r| {
        Ok(HostResult {
            hostname: r.get(0)?,
            check: r.get(1)?,
            status: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The collector's random instance id (created by the migration), for stable feed ids.
pub fn instance_id(conn: &Connection) -> Result<String, StoreError> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'instance_id'",
            [],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or_else(|| "unknown".to_string()))
}

/// Open the database read-write for CLI administration (migrating it if needed).
pub fn open_for_admin(path: &std::path::Path) -> Result<Connection, StoreError> {
    let open_err = |message: String| StoreError::Open {
        path: path.display().to_string(),
        message,
    };
    if !path.exists() {
        return Err(open_err(
            "no database here: run `vigie-collector serve` first, or check storage.data_dir".into(),
        ));
    }
    let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| open_err(e.to_string()))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| open_err(e.to_string()))?;
    super::migrations::migrate(&mut conn).map_err(open_err)?;
    Ok(conn)
}
