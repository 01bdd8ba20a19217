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

/// Columns read by [`incident_from_row`], in its order.
pub(crate) const INCIDENT_COLUMNS: &str = "id, title, type, severity, team, description, actions, \
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

/// An incident from a row of [`INCIDENT_COLUMNS`].
pub(crate) fn incident_from_row(r: &Row) -> rusqlite::Result<Incident> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registers::csv_import::{read_incidents, read_roster, read_training, ImportError};
    use crate::store::Store;

    fn fixture(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/registers")
            .join(name)
    }

    fn incidents(name: &str) -> Vec<Incident> {
        read_incidents(&fixture(name))
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect()
    }

    fn count(store: &Store, table: &str) -> i64 {
        store
            .read(|c| Ok(c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?))
            .unwrap()
    }

    fn open() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("vigie.db"), 64).unwrap();
        (d, s)
    }

    /// 14 rows, then the same 14 again, then a file with INC-001 as is, INC-013 resolved and
    /// notified (changed), INC-015 new: 1 added, 1 updated, 1 unchanged; 15 incidents in all.
    #[tokio::test]
    async fn incident_import_is_idempotent_and_says_what_changed() {
        let (_d, store) = open();
        let march = incidents("incidents-2026-03.csv");
        let m = march.clone();
        let first = store
            .write(move |c| upsert_incidents(c, &m, 1))
            .await
            .unwrap();
        assert_eq!(first.to_string(), "14 added, 0 updated, 0 unchanged");
        let again = store
            .write(move |c| upsert_incidents(c, &march, 2))
            .await
            .unwrap();
        assert_eq!(again.to_string(), "0 added, 0 updated, 14 unchanged");
        let update = incidents("incidents-update.csv");
        let third = store
            .write(move |c| upsert_incidents(c, &update, 3))
            .await
            .unwrap();
        assert_eq!(third.to_string(), "1 added, 1 updated, 1 unchanged");
        assert_eq!(count(&store, "incidents"), 15);
        let i = store
            .read(|c| get_incident(c, "INC-2026-013"))
            .unwrap()
            .unwrap();
        assert_eq!(
            i.resolved_at.map(|t| t.to_rfc3339()),
            Some("2026-04-02T10:00:00+00:00".into())
        );
        // Stored and read back exactly (every field, times at whole seconds in UTC).
        let stored = store.read(list_incidents).unwrap();
        let inc7 = stored.iter().find(|i| i.id == "INC-2026-007").unwrap();
        assert_eq!(*inc7, incidents("incidents-2026-03.csv")[6]);
    }

    /// Line 4 of `incidents-bad-line-4.csv` is detected an hour before it occurred: the error
    /// names the file and line 4, and the file's good rows (lines 2, 3, 5) are not written.
    #[tokio::test]
    async fn a_bad_row_names_its_line_and_nothing_is_written() {
        let (_d, store) = open();
        let path = fixture("incidents-bad-line-4.csv");
        let e = read_incidents(&path).unwrap_err();
        let ImportError::Line { line, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(*line, 4);
        let msg = e.to_string();
        assert!(msg.contains("incidents-bad-line-4.csv line 4:"), "{msg}");
        assert!(
            msg.contains("detected_at (2026-03-04T09:00:00Z) is before occurred_at"),
            "{msg}"
        );
        assert!(msg.ends_with("nothing was imported"), "{msg}");
        assert_eq!(count(&store, "incidents"), 0);

        // A quoted field over two lines: the bad record starts on text line 5, spreadsheet row 4.
        let msg = read_incidents(&fixture("incidents-bad-multiline.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 5 (spreadsheet row 4): detected_at"),
            "{msg}"
        );

        let msg = read_incidents(&fixture("incidents-bad-header.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("line 1: header must be exactly `id,title,type,severity,occurred_at"),
            "{msg}"
        );
        assert!(
            msg.contains("found `id,title,type,severity,occurred,"),
            "{msg}"
        );
    }

    /// The import runs in one store operation: a failure after some rows were written rolls them
    /// all back (the writer's savepoint).
    #[tokio::test]
    async fn a_failure_mid_import_rolls_the_whole_file_back() {
        let (_d, store) = open();
        let march = incidents("incidents-2026-03.csv");
        let r = store
            .write(move |c| {
                upsert_incidents(c, &march, 1)?;
                Err::<(), _>(StoreError::Invalid(
                    "simulated failure after 14 rows".into(),
                ))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(count(&store, "incidents"), 0);
    }

    /// Roster: 10 added, then 10 unchanged. Training: 8 added, then 8 unchanged. A training
    /// file naming P042 (not in the roster) on its line 3 is refused whole: P001's row on line 2
    /// is not written either.
    #[tokio::test]
    async fn roster_and_training_imports() {
        let (_d, store) = open();
        let people: Vec<Person> = read_roster(&fixture("roster.csv"))
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        let p = people.clone();
        let s = store.write(move |c| upsert_people(c, &p, 1)).await.unwrap();
        assert_eq!(s.rows.to_string(), "10 added, 0 updated, 0 unchanged");
        let mut changed = people.clone();
        changed[0].department = "Direction".into();
        changed.truncate(3);
        let s = store
            .write(move |c| upsert_people(c, &changed, 2))
            .await
            .unwrap();
        assert_eq!(s.rows.to_string(), "0 added, 1 updated, 2 unchanged");
        assert_eq!(s.not_in_file, 7);

        let training: Vec<Completion> = read_training(&fixture("training.csv"))
            .unwrap()
            .into_iter()
            .map(|l| l.row)
            .collect();
        let t = training.clone();
        let r = store
            .write(move |c| insert_completions(c, &t, 1))
            .await
            .unwrap();
        assert_eq!(
            r,
            CompletionsOutcome::Imported(ImportSummary {
                added: 8,
                updated: 0,
                unchanged: 0
            })
        );
        let r = store
            .write(move |c| insert_completions(c, &training, 2))
            .await
            .unwrap();
        assert_eq!(
            r.clone(),
            CompletionsOutcome::Imported(ImportSummary {
                added: 0,
                updated: 0,
                unchanged: 8
            })
        );

        let lined = read_training(&fixture("training-unknown-person.csv")).unwrap();
        let rows: Vec<Completion> = lined.iter().map(|l| l.row.clone()).collect();
        let r = store
            .write(move |c| insert_completions(c, &rows, 3))
            .await
            .unwrap();
        assert_eq!(r, CompletionsOutcome::UnknownPerson { index: 1 });
        assert_eq!(lined[1].line, 3);
        assert_eq!(count(&store, "training_completions"), 8);
    }
}
