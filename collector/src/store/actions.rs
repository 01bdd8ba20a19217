//! The improvement plan's SQL: actions, their links to risks, and closing with evidence. The
//! rules (due dates, the evidence-and-approver check) live in `crate::risk::actions`.

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::risk::actions::{Action, ActionState, ActionStatus, Evidence, Priority};

/// A new action, validated.
#[derive(Debug, Clone)]
pub struct NewAction {
    /// What.
    pub title: String,
    /// Priority.
    pub priority: Priority,
    /// Due date.
    pub due: chrono::NaiveDate,
    /// Who.
    pub owner: String,
    /// Budget.
    pub budget: Option<f64>,
    /// Linked risks.
    pub risks: Vec<i64>,
}

/// Columns read by `from_row`, in its order.
pub(crate) const COLUMNS: &str =
    "id, title, priority, due, owner, budget, status, evidence_sha256, \
    evidence_file_name, evidence_url, approver, closed_at, created_at, updated_at";

fn bad(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unexpected {what} {v:?} in the actions table").into(),
    )
}

/// A row of `COLUMNS`.
pub(crate) fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Action> {
    let priority: String = r.get(2)?;
    let due: String = r.get(3)?;
    let status: String = r.get(6)?;
    let sha: Option<String> = r.get(7)?;
    let file: Option<String> = r.get(8)?;
    let url: Option<String> = r.get(9)?;
    let status =
        ActionStatus::parse_field(&status, "status").map_err(|_| bad("status", &status))?;
    let due = chrono::NaiveDate::parse_from_str(&due, "%Y-%m-%d").map_err(|_| bad("due", &due))?;
    Ok(Action {
        id: r.get(0)?,
        title: r.get(1)?,
        priority: Priority::parse_field(&priority, "priority")
            .map_err(|_| bad("priority", &priority))?,
        due,
        owner: r.get(4)?,
        budget: r.get(5)?,
        status,
        state: ActionState::Open,
        risks: Vec::new(),
        evidence: (sha.is_some() || url.is_some()).then_some(Evidence {
            sha256: sha,
            file_name: file,
            url,
        }),
        approver: r.get(10)?,
        closed_at: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

/// Every action with its linked risks and its state on `today`.
pub fn list(conn: &Connection, today: chrono::NaiveDate) -> Result<Vec<Action>, StoreError> {
    let mut q = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM actions ORDER BY id"))?;
    let mut out: Vec<Action> = q.query_map([], from_row)?.collect::<Result<_, _>>()?;
    let mut links =
        conn.prepare_cached("SELECT action_id, risk_id FROM action_risks ORDER BY risk_id")?;
    let mut by: std::collections::HashMap<i64, Vec<i64>> = Default::default();
    for row in links.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (a, r) = row?;
        by.entry(a).or_default().push(r);
    }
    for a in &mut out {
        a.risks = by.remove(&a.id).unwrap_or_default();
        a.state = crate::risk::actions::state(a.status, a.due, today);
    }
    Ok(out)
}

/// One action, or `None`.
pub fn get(
    conn: &Connection,
    id: i64,
    today: chrono::NaiveDate,
) -> Result<Option<Action>, StoreError> {
    let a = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM actions WHERE id = ?1"),
            params![id],
            from_row,
        )
        .optional()?;
    let Some(mut a) = a else { return Ok(None) };
    let mut q = conn
        .prepare_cached("SELECT risk_id FROM action_risks WHERE action_id = ?1 ORDER BY risk_id")?;
    a.risks = q
        .query_map(params![id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    a.state = crate::risk::actions::state(a.status, a.due, today);
    Ok(Some(a))
}

fn check_risks(conn: &Connection, risks: &[i64]) -> Result<(), StoreError> {
    for r in risks {
        let found = conn
            .query_row("SELECT 1 FROM risks WHERE id = ?1", params![r], |_| Ok(()))
            .optional()?;
        if found.is_none() {
            return Err(StoreError::Invalid(format!("risks: no risk with id {r}")));
        }
    }
    Ok(())
}

/// Insert an action and its risk links; returns its id.
pub fn insert(conn: &Connection, a: &NewAction, now: i64) -> Result<i64, StoreError> {
    check_risks(conn, &a.risks)?;
    conn.execute(
        "INSERT INTO actions(title, priority, due, owner, budget, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?6)",
        params![
            a.title,
            a.priority.as_str(),
            a.due.to_string(),
            a.owner,
            a.budget,
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    link(conn, id, &a.risks, now)?;
    Ok(id)
}

/// Link `risks` to action `id` (existing links kept); touches the risks' `updated_at`.
pub fn link(conn: &Connection, id: i64, risks: &[i64], now: i64) -> Result<(), StoreError> {
    check_risks(conn, risks)?;
    for r in risks {
        conn.execute(
            "INSERT OR IGNORE INTO action_risks(action_id, risk_id) VALUES (?1, ?2)",
            params![id, r],
        )?;
        conn.execute(
            "UPDATE risks SET updated_at = ?2 WHERE id = ?1",
            params![r, now],
        )?;
    }
    Ok(())
}

/// Write the editable fields of `a` (title, priority, due, owner, budget, status).
pub fn update(conn: &Connection, a: &Action, now: i64) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE actions SET title = ?2, priority = ?3, due = ?4, owner = ?5, budget = ?6,
             status = ?7, updated_at = ?8 WHERE id = ?1",
        params![
            a.id,
            a.title,
            a.priority.as_str(),
            a.due.to_string(),
            a.owner,
            a.budget,
            a.status.as_str(),
            now
        ],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!("no action with id {}", a.id)));
    }
    Ok(())
}

/// Mark action `id` done with its evidence and approver (validated by the caller).
pub fn close(
    conn: &Connection,
    id: i64,
    ev: &Evidence,
    approver: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE actions SET status = 'done', evidence_sha256 = ?2, evidence_file_name = ?3,
             evidence_url = ?4, approver = ?5, closed_at = ?6, updated_at = ?6
         WHERE id = ?1 AND status NOT IN ('done', 'cancelled')",
        params![id, ev.sha256, ev.file_name, ev.url, approver, now],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!(
            "action {id} does not exist or is already closed"
        )));
    }
    Ok(())
}
