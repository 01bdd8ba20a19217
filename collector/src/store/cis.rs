//! Per-check host tallies for CIS scoring: how many hosts are in scope for each check and how many
//! of those pass, judged on each host's current state and the staleness rule.

use std::collections::HashMap;

use rusqlite::Connection;
use serde::Serialize;

use super::hosts::Staleness;
use super::StoreError;

/// Hosts counted for one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckTally {
    /// Reporting (non-stale) hosts whose current status is `pass`.
    pub passing: u64,
    /// Hosts with a current status other than `not_applicable`, stale ones included (a stale host
    /// counts as not passing whatever its last status).
    pub in_scope: u64,
    /// Of `in_scope`, the stale hosts.
    pub stale: u64,
    /// Reporting hosts whose `fail`/`warn` is covered by an active exception: out of scope while
    /// the exception is in force (neither passing nor failing), and counted here.
    pub excepted: u64,
}

/// Tally every check present in `check_state`. Hosts that never reported have no rows and are not
/// counted; a stale host whose last status was `not_applicable` stays out of scope.
pub fn check_tallies(
    conn: &Connection,
    st: &Staleness,
) -> Result<HashMap<String, CheckTally>, StoreError> {
    let mut q = conn.prepare_cached(&format!(
        "SELECT check_name,
                sum(CASE WHEN status = 'pass' AND NOT stale THEN 1 ELSE 0 END),
                sum(CASE WHEN status <> 'not_applicable' THEN 1 ELSE 0 END),
                sum(CASE WHEN status <> 'not_applicable' AND stale THEN 1 ELSE 0 END)
         FROM (SELECT cs.check_name, cs.status,
                      {} AS stale
               FROM check_state cs JOIN hosts h ON h.id = cs.host_id
               WHERE h.last_seen_at IS NOT NULL)
         GROUP BY check_name",
        Staleness::STALE_SQL
    ))?;
    let rows = q.query_map(st.params(), |r| {
        Ok((
            r.get::<_, String>(0)?,
            CheckTally {
                passing: r.get::<_, i64>(1)?.max(0) as u64,
                in_scope: r.get::<_, i64>(2)?.max(0) as u64,
                stale: r.get::<_, i64>(3)?.max(0) as u64,
                excepted: 0,
            },
        ))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (check, tally) = row?;
        out.insert(check, tally);
    }
    // Exceptions in force take the failures they cover out of scope.
    for (r, _) in super::exceptions::excepted_results(conn, st)? {
        if let Some(t) = out.get_mut(&r.check) {
            t.in_scope = t.in_scope.saturating_sub(1);
            t.excepted += 1;
        }
    }
    Ok(out)
}

/// Open the database at `path` read-only, without migrating or starting a writer (for CLI reports
/// next to a running collector). Refuses a missing file or a schema this build does not know.
pub fn open_read_only(path: &std::path::Path) -> Result<Connection, StoreError> {
    let open_err = |message: String| StoreError::Open {
        path: path.display().to_string(),
        message,
    };
    if !path.exists() {
        return Err(open_err(
            "no database here: run `vigie-collector serve` first, or check storage.data_dir".into(),
        ));
    }
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_err(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| open_err(e.to_string()))?;
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| open_err(e.to_string()))?;
    if version == 0 || version > super::migrations::latest() {
        return Err(open_err(format!(
            "schema version {version} is not one this collector reads (1..={}); \
             start `vigie-collector serve` once to migrate it",
            super::migrations::latest()
        )));
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_count_stale_as_failing_and_skip_not_applicable() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut conn).unwrap();
        let now = 1_000_000;
        // (id, last_seen, interval): 1–3 reporting; 4 last seen 4 h ago with a 1 h interval and
        // stale after 3 intervals → stale; 5 never reported.
        let hosts = [
            (1, Some(now - 100)),
            (2, Some(now - 100)),
            (3, Some(now - 100)),
            (4, Some(now - 4 * 3600)),
            (5, None),
        ];
        for (id, seen) in hosts {
            conn.execute(
                "INSERT INTO hosts(id, machine_id, hostname, node_key_hash, enrolled_at,
                                   interval_s, last_seen_at)
                 VALUES (?1, ?2, ?2, ?3, 0, 3600, ?4)",
                rusqlite::params![id, format!("m{id}"), vec![id as u8], seen],
            )
            .unwrap();
        }
        let rows = [
            (1, "patch_age", "pass"),
            (2, "patch_age", "pass"),
            (3, "patch_age", "fail"),
            (4, "patch_age", "pass"),
            (5, "patch_age", "pass"),
            (1, "mfa", "pass"),
            (2, "mfa", "not_applicable"),
            (3, "mfa", "error"),
            (4, "mfa", "not_applicable"),
        ];
        for (h, c, s) in rows {
            conn.execute(
                "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence,
                                         since, updated_at)
                 VALUES (?1, ?2, ?3, '', '{}', '[]', 0, 0)",
                rusqlite::params![h, c, s],
            )
            .unwrap();
        }
        let st = Staleness {
            now,
            after_intervals: 3,
            default_interval: 3600,
        };
        let t = check_tallies(&conn, &st).unwrap();
        // patch_age: hosts 1, 2 pass; 3 fails; 4 is stale (its `pass` does not count); 5 never
        // reported (ignored) → passing 2, in scope 4, stale 1.
        assert_eq!(
            t["patch_age"],
            CheckTally {
                passing: 2,
                in_scope: 4,
                stale: 1,
                excepted: 0,
            }
        );
        // mfa: 1 passes, 3 errors, 2 and 4 not applicable → passing 1, in scope 2.
        assert_eq!(
            t["mfa"],
            CheckTally {
                passing: 1,
                in_scope: 2,
                stale: 0,
                excepted: 0,
            }
        );
    }

    #[test]
    fn open_read_only_refuses_a_missing_file() {
        let d = tempfile::tempdir().unwrap();
        let e = open_read_only(&d.path().join("vigie.db")).unwrap_err();
        assert!(e.to_string().contains("no database here"), "{e}");
    }
}
