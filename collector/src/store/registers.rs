//! SQL of the registers: incidents, the roster of people and their training completions.
//!
//! Imports are upserts keyed by the register's own ids, and report what they changed; a caller runs
//! a whole file in one `Store::write` operation, so a failing row rolls the whole file back.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::StoreError;
use crate::registers::incident::{Incident, IncidentPatch};
use crate::registers::training::{Completion, Person};
use crate::registers::ImportSummary;

const INCIDENT_COLUMNS: &str = "id, title, type, severity, team, description, actions, \
    occurred_at, detected_at, contained_at, resolved_at, personal_data, notified_at";

fn ts(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

fn time(r: &Row, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    Ok(r.get::<_, Option<i64>>(i)?
        .and_then(|s| DateTime::from_timestamp(s, 0)))
}

fn vocabulary<T: std::str::FromStr<Err = String>>(r: &Row, i: usize) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    s.parse().map_err(|e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn incident_from_row(r: &Row) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: r.get(0)?,
        title: r.get(1)?,
        kind: vocabulary(r, 2)?,
        severity: vocabulary(r, 3)?,
        team: r.get(4)?,
        description: r.get(5)?,
        actions: r.get(6)?,
        occurred_at: time(r, 7)?,
        detected_at: time(r, 8)?,
        contained_at: time(r, 9)?,
        resolved_at: time(r, 10)?,
        personal_data: r.get(11)?,
        notified_at: time(r, 12)?,
    })
}

/// One incident, or `None`.
pub fn get_incident(conn: &Connection, id: &str) -> Result<Option<Incident>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"),
            params![id],
            incident_from_row,
        )
        .optional()?)
}

/// Every incident, most recently detected (or occurred) first.
pub fn list_incidents(conn: &Connection) -> Result<Vec<Incident>, StoreError> {
    let mut st = conn.prepare(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents
         ORDER BY COALESCE(detected_at, occurred_at) DESC NULLS LAST, id"
    ))?;
    let rows = st.query_map([], incident_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn write_incident(
    conn: &Connection,
    i: &Incident,
    now: i64,
    insert: bool,
) -> Result<(), StoreError> {
    let sql = if insert {
        "INSERT INTO incidents(id, title, type, severity, team, description, actions, occurred_at,
            detected_at, contained_at, resolved_at, personal_data, notified_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)"
    } else {
        "UPDATE incidents SET title = ?2, type = ?3, severity = ?4, team = ?5, description = ?6,
            actions = ?7, occurred_at = ?8, detected_at = ?9, contained_at = ?10,
            resolved_at = ?11, personal_data = ?12, notified_at = ?13, updated_at = ?14
         WHERE id = ?1"
    };
    conn.prepare_cached(sql)?.execute(params![
        i.id,
        i.title,
        i.kind.as_str(),
        i.severity.as_str(),
        i.team,
        i.description,
        i.actions,
        ts(i.occurred_at),
        ts(i.detected_at),
        ts(i.contained_at),
        ts(i.resolved_at),
        i.personal_data,
        ts(i.notified_at),
        now
    ])?;
    Ok(())
}

/// Add a new incident; `false` (and nothing written) when the id is taken.
pub fn create_incident(conn: &Connection, i: &Incident, now: i64) -> Result<bool, StoreError> {
    if get_incident(conn, &i.id)?.is_some() {
        return Ok(false);
    }
    write_incident(conn, i, now, true)?;
    Ok(true)
}

/// What a partial update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Applied; the incident as stored now.
    Updated(Incident),
    /// The values were already so; nothing written.
    Unchanged(Incident),
    /// No incident with that id.
    NotFound,
    /// The patched record breaks a rule; nothing written.
    Invalid(String),
}

/// Apply `patch` to incident `id`, validating the result.
pub fn patch_incident(
    conn: &Connection,
    id: &str,
    patch: &IncidentPatch,
    now: i64,
) -> Result<PatchOutcome, StoreError> {
    let Some(old) = get_incident(conn, id)? else {
        return Ok(PatchOutcome::NotFound);
    };
    let new = patch.apply(&old);
    if let Err(e) = new.validate() {
        return Ok(PatchOutcome::Invalid(e));
    }
    if new == old {
        return Ok(PatchOutcome::Unchanged(new));
    }
    write_incident(conn, &new, now, false)?;
    Ok(PatchOutcome::Updated(new))
}

/// Insert or update every incident by id (rows are expected valid).
pub fn upsert_incidents(
    conn: &Connection,
    incidents: &[Incident],
    now: i64,
) -> Result<ImportSummary, StoreError> {
    let mut sum = ImportSummary::default();
    for i in incidents {
        match get_incident(conn, &i.id)? {
            None => {
                write_incident(conn, i, now, true)?;
                sum.added += 1;
            }
            Some(old) if old == *i => sum.unchanged += 1,
            Some(_) => {
                write_incident(conn, i, now, false)?;
                sum.updated += 1;
            }
        }
    }
    Ok(sum)
}

/// What a roster import did; people already stored but absent from the file are left as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RosterSummary {
    /// Rows added, updated, unchanged.
    pub rows: ImportSummary,
    /// People in the store that the file does not mention.
    pub not_in_file: usize,
}

/// Insert or update every person by `person_id`.
pub fn upsert_people(
    conn: &Connection,
    people: &[Person],
    now: i64,
) -> Result<RosterSummary, StoreError> {
    let mut sum = RosterSummary::default();
    for p in people {
        let old: Option<(String, String, String, bool)> = conn
            .prepare_cached(
                "SELECT name, email, department, active FROM people WHERE person_id = ?1",
            )?
            .query_row(params![p.person_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let same = old.as_ref().is_some_and(|(n, e, d, a)| {
            *n == p.name && *e == p.email && *d == p.department && *a == p.active
        });
        if same {
            sum.rows.unchanged += 1;
            continue;
        }
        conn.prepare_cached(
            "INSERT INTO people(person_id, name, email, department, active, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(person_id) DO UPDATE SET name = excluded.name, email = excluded.email,
                department = excluded.department, active = excluded.active,
                updated_at = excluded.updated_at",
        )?
        .execute(params![
            p.person_id,
            p.name,
            p.email,
            p.department,
            p.active,
            now
        ])?;
        if old.is_some() {
            sum.rows.updated += 1;
        } else {
            sum.rows.added += 1;
        }
    }
    let total: i64 = conn.query_row("SELECT count(*) FROM people", [], |r| r.get(0))?;
    sum.not_in_file = (total as usize).saturating_sub(people.len());
    Ok(sum)
}

/// What a training import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionsOutcome {
    /// Imported (a completion is a fact: it is added or already there, never updated).
    Imported(ImportSummary),
    /// `rows[index]` names a person the roster does not know; nothing written.
    UnknownPerson { index: usize },
}

/// Add completions; refuses the whole set if any names an unknown person.
pub fn insert_completions(
    conn: &Connection,
    rows: &[Completion],
    now: i64,
) -> Result<CompletionsOutcome, StoreError> {
    let mut known = conn.prepare_cached("SELECT 1 FROM people WHERE person_id = ?1")?;
    for (index, c) in rows.iter().enumerate() {
        if known
            .query_row(params![c.person_id], |_| Ok(()))
            .optional()?
            .is_none()
        {
            return Ok(CompletionsOutcome::UnknownPerson { index });
        }
    }
    let mut sum = ImportSummary::default();
    let mut ins = conn.prepare_cached(
        "INSERT OR IGNORE INTO training_completions(person_id, course, completed_on, imported_at)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    for c in rows {
        let day = c.completed_on.format("%Y-%m-%d").to_string();
        if ins.execute(params![c.person_id, c.course, day, now])? == 1 {
            sum.added += 1;
        } else {
            sum.unchanged += 1;
        }
    }
    Ok(CompletionsOutcome::Imported(sum))
}

/// Every person of the roster.
pub fn list_people(conn: &Connection) -> Result<Vec<Person>, StoreError> {
    let mut st = conn.prepare(
        "SELECT person_id, name, email, department, active FROM people ORDER BY person_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Person {
            person_id: r.get(0)?,
            name: r.get(1)?,
            email: r.get(2)?,
            department: r.get(3)?,
            active: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Completions on days `from..=to`.
pub fn completions_between(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Completion>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT person_id, course, completed_on FROM training_completions
         WHERE completed_on >= ?1 AND completed_on <= ?2",
    )?;
    let rows = st.query_map(
        params![
            from.format("%Y-%m-%d").to_string(),
            to.format("%Y-%m-%d").to_string()
        ],
        |r| {
            let day: String = r.get(2)?;
            let completed_on = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, e.into())
            })?;
            Ok(Completion {
                person_id: r.get(0)?,
                course: r.get(1)?,
                completed_on,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
