//! A synthetic store for benchmarks (`vigie-collector report generate-store`, hidden): N hosts with
//! five checks each, a daily roll-up row per host and day, a daily KPI and CIS snapshot, and small
//! registers (incidents, roster and training, risks, actions, exceptions). Generated in SQL with
//! recursive CTEs, deterministically (same arguments, same rows), in one transaction.

use std::path::Path;

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::StoreError;

/// Create the database at `db` (which must not exist) with `hosts` hosts and `days` days of
/// history ending on `end`.
pub fn generate(db: &Path, hosts: u32, days: u32, end: NaiveDate) -> Result<(), StoreError> {
    if db.exists() {
        return Err(StoreError::Open {
            path: db.display().to_string(),
            message: "already exists; generate-store only creates a new database".into(),
        });
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::create_private_dir(dir).map_err(|e| StoreError::Open {
            path: dir.display().to_string(),
            message: format!("cannot create directory: {e}"),
        })?;
    }
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    super::migrations::migrate(&mut conn).map_err(StoreError::Invalid)?;
    let first = end
        .checked_sub_days(chrono::Days::new(u64::from(days.max(1)) - 1))
        .unwrap_or(end);
    let start = first.format("%Y-%m-%d").to_string();
    let end_ts = end
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |d| d.and_utc().timestamp());
    let start_ts = end_ts - i64::from(days) * 86_400;
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TEMP TABLE n(i INTEGER PRIMARY KEY);
         CREATE TEMP TABLE d(j INTEGER PRIMARY KEY, day TEXT NOT NULL);",
    )?;
    tx.execute(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?1)
         INSERT INTO n SELECT i FROM s",
        params![hosts.max(1)],
    )?;
    tx.execute(
        "WITH RECURSIVE s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j + 1 < ?1)
         INSERT INTO d SELECT j, date(?2, '+' || j || ' days') FROM s",
        params![days.max(1), start],
    )?;
    // Hosts: all enrolled before the history starts, last seen an hour before its end.
    tx.execute(
        "INSERT INTO hosts(id, machine_id, hostname, os, os_version, kernel, arch, node_key_hash,
                           enrolled_at, interval_s, last_seen_at, last_report_at)
         SELECT i, 'bench-' || i, printf('host-%06d', i), 'debian', '12', '6.1', 'x86_64',
                CAST(printf('key-%012d', i) AS BLOB), ?1, 3600, ?2, ?2
         FROM n WHERE i <= ?3",
        params![start_ts - 86_400, end_ts - 3600, hosts],
    )?;
    for (k, check) in crate::kpi::coverage::CHECKS.iter().enumerate() {
        tx.execute(
            "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since,
                                     updated_at)
             SELECT i, ?1,
                    CASE (i * 7 + ?2) % 20 WHEN 0 THEN 'fail' WHEN 1 THEN 'warn'
                                           WHEN 2 THEN 'not_applicable' ELSE 'pass' END,
                    '', '{}', '[]', ?3, ?3
             FROM n WHERE i <= ?4",
            params![check, k as i64, end_ts - 3600, hosts],
        )?;
    }
    tx.execute(
        "INSERT INTO daily(host_id, day, reports, first_seen, last_seen)
         SELECT n.i, d.day, 24, ?1 + d.j * 86400, ?1 + d.j * 86400 + 82800
         FROM n CROSS JOIN d WHERE n.i <= ?2 ORDER BY n.i, d.j",
        params![start_ts, hosts],
    )?;
    // Daily snapshots: a ratio drifting with the day, CIS scores likewise.
    let mut names: Vec<(String, &str)> = vec![("patch_sla".into(), "ratio")];
    names.extend(
        crate::kpi::coverage::CHECKS
            .iter()
            .map(|c| (format!("coverage.{c}"), "coverage")),
    );
    names.push(("cis.overall".into(), "score"));
    names.extend((1..=3).map(|g| (format!("cis.ig.{g}"), "score")));
    names.extend((1..=18).map(|c| (format!("cis.control.{c}"), "score")));
    for (k, (name, kind)) in names.iter().enumerate() {
        let value = match *kind {
            "score" => "40.0 + ((d.j + ?2 * 13) % 50)",
            _ => "0.80 + ((d.j + ?2 * 7) % 20) / 100.0",
        };
        let detail = match *kind {
            "coverage" => format!(
                "json_object('pass', CAST(?3 * ({value}) AS INTEGER), 'fail',
                             ?3 - CAST(?3 * ({value}) AS INTEGER), 'warn', 0, 'error', 0,
                             'not_applicable', 0, 'stale', 0)"
            ),
            "score" => "json_object('ig', 3, 'summary', json_object('assessed', 5, 'total', 10))"
                .to_string(),
            _ => "'{}'".to_string(),
        };
        let (target, status) = match *kind {
            "ratio" => ("1.0", "'not_met'"),
            _ => ("NULL", "'no_target'"),
        };
        tx.execute(
            &format!(
                "INSERT INTO kpi_snapshots(day, kpi, value, target, status, detail, taken_at)
                 SELECT d.day, ?1, {value}, {target}, {status}, {detail}, ?4 + d.j * 86400
                 FROM d"
            ),
            params![name, k as i64, hosts, start_ts],
        )?;
    }
    // Registers: two incidents a week, a roster of 200 with most trained, a few risks, actions
    // and exceptions.
    tx.execute(
        "INSERT INTO incidents(id, title, type, severity, occurred_at, detected_at, resolved_at,
                               personal_data, notified_at, created_at, updated_at)
         SELECT printf('INC-%05d', j), 'Incident ' || j, 'phishing',
                CASE j % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'minor' WHEN 2 THEN 'major' ELSE 'crisis' END,
                ?1 + j * 86400, ?1 + j * 86400 + 3600 * (1 + j % 5),
                ?1 + j * 86400 + 3600 * (6 + j % 30), j % 5 = 0,
                CASE WHEN j % 5 = 0 THEN ?1 + j * 86400 + 3600 * (10 + j % 80) END, ?1, ?1
         FROM d WHERE j % 7 IN (1, 4)",
        params![start_ts],
    )?;
    tx.execute(
        "INSERT INTO people(person_id, name, email, department, active, updated_at)
         SELECT printf('P%04d', i), 'Person ' || i, 'p' || i || '@example.org', 'ops', 1, ?1
         FROM n WHERE i <= 200",
        params![start_ts],
    )?;
    tx.execute(
        "INSERT INTO training_completions(person_id, course, completed_on, imported_at)
         SELECT printf('P%04d', n.i), 'Sensibilisation', d.day, ?1
         FROM n JOIN d ON d.j = (n.i * 11) % ?2 WHERE n.i <= 200 AND n.i % 10 <> 0",
        params![start_ts, days.max(1)],
    )?;
    tx.execute(
        "INSERT INTO risks(id, source, title, likelihood, impact, level, treatment, owner, status,
                           next_review, created_at, updated_at)
         SELECT i, 'manual', 'Risk ' || i, 1 + i % 4, 1 + (i * 3) % 4,
                CASE WHEN (1 + i % 4) * (1 + (i * 3) % 4) >= 12 THEN 'critical'
                     WHEN (1 + i % 4) * (1 + (i * 3) % 4) >= 8 THEN 'high'
                     WHEN (1 + i % 4) * (1 + (i * 3) % 4) >= 4 THEN 'medium' ELSE 'low' END,
                'reduce', 'rssi', 'open', date(?2, '+90 days'), ?1, ?1
         FROM n WHERE i <= 30",
        params![start_ts, start],
    )?;
    tx.execute(
        "INSERT INTO actions(id, title, priority, due, owner, status, closed_at, created_at,
                             updated_at)
         SELECT i, 'Action ' || i, 'p' || (1 + i % 3), date(?2, '+' || (i * 9) || ' days'), 'ops',
                CASE WHEN i % 2 = 0 THEN 'done' ELSE 'open' END,
                CASE WHEN i % 2 = 0 THEN ?1 + i * 9 * 86400 END, ?1, ?1
         FROM n WHERE i <= 40",
        params![start_ts, start],
    )?;
    tx.execute(
        "INSERT INTO exceptions(id, check_name, scope_kind, scope_value, host_patterns, reason,
                                requester, approver, starts_at, expires_at, created_at, updated_at)
         SELECT i, 'mfa', 'host', printf('host-%06d', i), json_array(printf('host-%06d', i)),
                'legacy', 'ops', 'rssi', ?1 + i * 86400 * 20, ?1 + i * 86400 * 20 + 86400 * 120,
                ?1 + i * 86400 * 20, ?1 + i * 86400 * 20
         FROM n WHERE i <= 15",
        params![start_ts],
    )?;
    tx.execute_batch("DROP TABLE n; DROP TABLE d;")?;
    tx.commit()?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")?;
    Ok(())
}
