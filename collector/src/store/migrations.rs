//! Versioned, forward-only schema migrations. `PRAGMA user_version` holds the applied version;
//! each step runs in its own transaction. Never edit a released step: add a new one.
//!
//! A step is SQL ([`MIGRATIONS`]); a step that needs code (re-redacting stored text with the
//! checks crate's redaction module) adds a Rust function in [`RUST_STEPS`], run after its version's
//! SQL in the same transaction.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};
use vigie_checks::{redact, EvidenceKind};

/// Migration steps; index + 1 is the version a step brings the database to.
pub static MIGRATIONS: &[&str] = &[
    // v1: hosts, current state, transitions, daily roll-up, dedup window, evidence.
    r#"
    CREATE TABLE hosts (
        id              INTEGER PRIMARY KEY,
        machine_id      TEXT NOT NULL UNIQUE,
        hostname        TEXT NOT NULL,
        os              TEXT NOT NULL DEFAULT '',
        os_version      TEXT NOT NULL DEFAULT '',
        kernel          TEXT NOT NULL DEFAULT '',
        arch            TEXT NOT NULL DEFAULT '',
        node_key_hash   BLOB NOT NULL UNIQUE,
        enrolled_at     INTEGER NOT NULL,
        key_rotated_at  INTEGER,
        interval_s      INTEGER,
        last_seen_at    INTEGER,
        last_report_at  INTEGER,
        last_report_id  TEXT,
        lost_reports    INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE check_state (
        host_id     INTEGER NOT NULL REFERENCES hosts(id),
        check_name  TEXT NOT NULL,
        status      TEXT NOT NULL,
        summary     TEXT NOT NULL,
        facts       TEXT NOT NULL,
        evidence    TEXT NOT NULL,
        since       INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (host_id, check_name)
    ) WITHOUT ROWID;
    CREATE INDEX check_state_by_check ON check_state(check_name, status);
    CREATE TABLE transitions (
        id           INTEGER PRIMARY KEY,
        host_id      INTEGER NOT NULL REFERENCES hosts(id),
        check_name   TEXT NOT NULL,
        from_status  TEXT,
        to_status    TEXT NOT NULL,
        at           INTEGER NOT NULL,
        report_id    TEXT NOT NULL,
        summary      TEXT NOT NULL,
        evidence     TEXT NOT NULL
    );
    CREATE INDEX transitions_by_host ON transitions(host_id, check_name, at);
    CREATE INDEX transitions_by_time ON transitions(at);
    CREATE TABLE daily (
        host_id     INTEGER NOT NULL REFERENCES hosts(id),
        day         TEXT NOT NULL,
        reports     INTEGER NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        PRIMARY KEY (host_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE recent_reports (
        report_id    TEXT PRIMARY KEY,
        host_id      INTEGER NOT NULL,
        received_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX recent_reports_by_time ON recent_reports(received_at);
    CREATE TABLE evidence (
        sha256   TEXT PRIMARY KEY,
        kind     TEXT NOT NULL,
        source   TEXT NOT NULL,
        excerpt  TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    "#,
    // v2: incident and training registers, daily KPI snapshots.
    r#"
    CREATE TABLE incidents (
        id             TEXT PRIMARY KEY,
        title          TEXT NOT NULL,
        type           TEXT NOT NULL,
        severity       TEXT NOT NULL,
        team           TEXT NOT NULL DEFAULT '',
        description    TEXT NOT NULL DEFAULT '',
        actions        TEXT NOT NULL DEFAULT '',
        occurred_at    INTEGER,
        detected_at    INTEGER,
        contained_at   INTEGER,
        resolved_at    INTEGER,
        personal_data  INTEGER NOT NULL DEFAULT 0,
        notified_at    INTEGER,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX incidents_by_resolution ON incidents(resolved_at);
    CREATE TABLE people (
        person_id   TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        email       TEXT NOT NULL,
        department  TEXT NOT NULL,
        active      INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE training_completions (
        person_id     TEXT NOT NULL REFERENCES people(person_id),
        course        TEXT NOT NULL,
        completed_on  TEXT NOT NULL,
        imported_at   INTEGER NOT NULL,
        PRIMARY KEY (person_id, course, completed_on)
    ) WITHOUT ROWID;
    CREATE INDEX training_by_day ON training_completions(completed_on);
    CREATE TABLE kpi_snapshots (
        day       TEXT NOT NULL,
        kpi       TEXT NOT NULL,
        value     REAL,
        target    REAL,
        status    TEXT NOT NULL,
        detail    TEXT NOT NULL,
        taken_at  INTEGER NOT NULL,
        PRIMARY KEY (day, kpi)
    ) WITHOUT ROWID;
    "#,
    // v3: risk register, improvement plan, exceptions, webhook outbox.
    r#"
    CREATE TABLE risks (
        id           INTEGER PRIMARY KEY,
        source       TEXT NOT NULL CHECK (source IN ('manual', 'fleet')),
        check_name   TEXT,
        title        TEXT NOT NULL,
        scenario     TEXT NOT NULL DEFAULT '',
        assets       TEXT NOT NULL DEFAULT '[]',
        likelihood   INTEGER NOT NULL CHECK (likelihood BETWEEN 1 AND 4),
        impact       INTEGER NOT NULL CHECK (impact BETWEEN 1 AND 4),
        level        TEXT NOT NULL,
        treatment    TEXT NOT NULL,
        owner        TEXT NOT NULL,
        status       TEXT NOT NULL,
        next_review  TEXT NOT NULL,
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX risks_fleet_check ON risks(check_name) WHERE source = 'fleet';
    CREATE TABLE risk_history (
        id        INTEGER PRIMARY KEY,
        risk_id   INTEGER NOT NULL REFERENCES risks(id),
        at        INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        changes   TEXT NOT NULL,
        note      TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX risk_history_by_risk ON risk_history(risk_id, at);
    CREATE TABLE actions (
        id                  INTEGER PRIMARY KEY,
        title               TEXT NOT NULL,
        priority            TEXT NOT NULL CHECK (priority IN ('p1', 'p2', 'p3')),
        due                 TEXT NOT NULL,
        owner               TEXT NOT NULL,
        budget              REAL,
        status              TEXT NOT NULL,
        evidence_sha256     TEXT,
        evidence_file_name  TEXT,
        evidence_url        TEXT,
        approver            TEXT,
        closed_at           INTEGER,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL
    );
    CREATE TABLE action_risks (
        action_id  INTEGER NOT NULL REFERENCES actions(id),
        risk_id    INTEGER NOT NULL REFERENCES risks(id),
        PRIMARY KEY (action_id, risk_id)
    ) WITHOUT ROWID;
    CREATE INDEX action_risks_by_risk ON action_risks(risk_id);
    CREATE TABLE exceptions (
        id             INTEGER PRIMARY KEY,
        check_name     TEXT NOT NULL,
        scope_kind     TEXT NOT NULL CHECK (scope_kind IN ('host', 'group', 'fleet')),
        scope_value    TEXT NOT NULL,
        host_patterns  TEXT NOT NULL,
        reason         TEXT NOT NULL,
        requester      TEXT NOT NULL,
        approver       TEXT NOT NULL,
        starts_at      INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL CHECK (expires_at > starts_at),
        revoked_at     INTEGER,
        revoked_by     TEXT,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    );
    CREATE INDEX exceptions_by_expiry ON exceptions(expires_at);
    CREATE TABLE webhook_outbox (
        id               INTEGER PRIMARY KEY,
        target_url       TEXT NOT NULL,
        kind             TEXT NOT NULL,
        event            TEXT NOT NULL,
        event_key        TEXT NOT NULL,
        payload          TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  INTEGER NOT NULL,
        last_error       TEXT,
        delivered_at     INTEGER,
        dead_at          INTEGER,
        created_at       INTEGER NOT NULL,
        UNIQUE (target_url, event_key)
    );
    CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE delivered_at IS NULL AND dead_at IS NULL;
    INSERT OR IGNORE INTO meta(key, value) VALUES ('instance_id', lower(hex(randomblob(16))));
    "#,
    // v4: per-check time index for the evidence export's period queries.
    r#"
    CREATE INDEX transitions_by_check ON transitions(check_name, at);
    "#,
    // v5: an admin may allow one re-enrolment of a host whose agent lost its node key.
    r#"
    ALTER TABLE hosts ADD COLUMN reenroll_until INTEGER;
    "#,
    // v6: when evidence was last referenced, so clean-up can find dead rows on a read snapshot
    // and delete them in small batches without re-scanning history inside the writer.
    r#"
    ALTER TABLE evidence ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
    "#,
    // v7: secrets stored by agents from before redaction are re-redacted (Rust step
    // `redact_stored_secrets` in RUST_STEPS).
    "",
    // v8 (enrolment): the SHA-256 of the nonce of the enrolment that set a host's key, and when,
    // so an agent that lost the answer can repeat that enrolment within the retry window.
    r#"
    ALTER TABLE hosts ADD COLUMN enroll_nonce_hash BLOB;
    ALTER TABLE hosts ADD COLUMN enroll_nonce_at INTEGER;
    "#,
    // v9: fleet risk history as changes: each entry of a fleet-derived risk that holds the whole old
    // and new list of failing hosts (`assets`: {"from": [...], "to": [...]}) becomes the bounded
    // form written since (risk::fleet::assets_change): `from` = {"count", "removed" (first 20 by
    // name), "removed_count"} (null at creation), `to` = {"count", "added", "added_count"}.
    // Self-contained (JSON1 only); entries of manual risks are left as they are.
    r#"
    CREATE TEMP TABLE fleet_assets_change AS
    SELECT h.id,
           json_type(h.changes, '$.assets.from') = 'array' AS had_from,
           coalesce(json_extract(h.changes, '$.assets.from'), '[]') AS old,
           json_extract(h.changes, '$.assets.to') AS new
    FROM risk_history h JOIN risks r ON r.id = h.risk_id
    WHERE r.source = 'fleet' AND json_valid(h.changes)
      AND json_type(h.changes, '$.assets.to') = 'array'
      AND json_type(h.changes, '$.assets.from') IN ('array', 'null');
    UPDATE risk_history SET changes = (
        SELECT json_set(risk_history.changes, '$.assets', json_object(
            'from', CASE WHEN c.had_from THEN json_object(
                'count', json_array_length(c.old),
                'removed', json((SELECT json_group_array(value) FROM (
                    SELECT value FROM (SELECT value FROM json_each(c.old)
                                       EXCEPT SELECT value FROM json_each(c.new))
                    ORDER BY value LIMIT 20))),
                'removed_count', (SELECT count(*) FROM (SELECT value FROM json_each(c.old)
                                                       EXCEPT SELECT value FROM json_each(c.new))))
              ELSE json('null') END,
            'to', json_object(
                'count', json_array_length(c.new),
                'added', json((SELECT json_group_array(value) FROM (
                    SELECT value FROM (SELECT value FROM json_each(c.new)
                                       EXCEPT SELECT value FROM json_each(c.old))
                    ORDER BY value LIMIT 20))),
                'added_count', (SELECT count(*) FROM (SELECT value FROM json_each(c.new)
                                                     EXCEPT SELECT value FROM json_each(c.old))))))
        FROM fleet_assets_change c WHERE c.id = risk_history.id)
    WHERE id IN (SELECT id FROM fleet_assets_change);
    DROP TABLE fleet_assets_change;
    "#,
    // v10 (identity): MFA of the identities at identity providers and code hosts (`store::identities`).
    // Self-contained: touches no earlier table.
    r#"
    CREATE TABLE identity_sources (
        source           TEXT PRIMARY KEY,
        kind             TEXT NOT NULL,
        last_attempt_at  INTEGER NOT NULL,
        last_success_at  INTEGER,
        last_sync_id     INTEGER,
        last_error       TEXT,
        failures_total   INTEGER NOT NULL DEFAULT 0,
        enforced         INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE identity_syncs (
        id           INTEGER PRIMARY KEY,
        source       TEXT NOT NULL,
        at           INTEGER NOT NULL,
        ok           INTEGER NOT NULL,
        error        TEXT,
        total        INTEGER NOT NULL DEFAULT 0,
        pass         INTEGER NOT NULL DEFAULT 0,
        warn         INTEGER NOT NULL DEFAULT 0,
        fail         INTEGER NOT NULL DEFAULT 0,
        unknown      INTEGER NOT NULL DEFAULT 0,
        not_applicable INTEGER NOT NULL DEFAULT 0,
        guests       INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX identity_syncs_by_source ON identity_syncs(source, at);
    CREATE TABLE identities (
        source           TEXT NOT NULL,
        account_id       TEXT NOT NULL,
        login            TEXT NOT NULL,
        display_name     TEXT NOT NULL,
        kind             TEXT NOT NULL,
        enabled          INTEGER NOT NULL,
        admin            INTEGER NOT NULL,
        mfa              TEXT NOT NULL,
        enforced         INTEGER,
        status           TEXT NOT NULL,
        evidence         TEXT NOT NULL,
        first_seen       INTEGER NOT NULL,
        last_seen        INTEGER NOT NULL,
        last_sync_id     INTEGER NOT NULL,
        without_mfa_since INTEGER,
        status_since     INTEGER NOT NULL,
        PRIMARY KEY (source, account_id)
    ) WITHOUT ROWID;
    CREATE TABLE identity_transitions (
        id           INTEGER PRIMARY KEY,
        source       TEXT NOT NULL,
        account_id   TEXT NOT NULL,
        from_status  TEXT,
        to_status    TEXT NOT NULL,
        at           INTEGER NOT NULL,
        evidence     TEXT NOT NULL
    );
    CREATE INDEX identity_transitions_by_account ON identity_transitions(source, account_id, at);
    "#,
    // v11 (api): keyset pagination of the host list, in hostname order (`store::hosts::list_hosts_page`);
    // read-only feed tokens.
    r#"
    CREATE INDEX hosts_by_hostname ON hosts(hostname, id);
    CREATE INDEX hosts_by_os ON hosts(os, hostname, id);
    -- Read-only feed tokens (`store::feed_tokens`): only their SHA-256 is kept.
    CREATE TABLE feed_tokens (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        token_hash  BLOB NOT NULL UNIQUE,
        created_at  INTEGER NOT NULL,
        revoked_at  INTEGER
    );
    "#,
    // v12 (scale): which hosts reported in which month, kept by
    // triggers on the daily roll-up, so the monthly report counts a month's reporting hosts with
    // one range scan instead of one probe of the roll-up per enrolled host. Backfilled from
    // `daily` (one scan of the roll-up, once).
    r#"
    CREATE TABLE host_months (
        month    TEXT NOT NULL,
        host_id  INTEGER NOT NULL,
        PRIMARY KEY (month, host_id)
    ) WITHOUT ROWID;
    INSERT INTO host_months(month, host_id) SELECT DISTINCT substr(day, 1, 7), host_id FROM daily;
    CREATE TRIGGER daily_host_month AFTER INSERT ON daily
    BEGIN
        INSERT INTO host_months(month, host_id)
        SELECT substr(NEW.day, 1, 7), NEW.host_id
        WHERE NOT EXISTS (SELECT 1 FROM host_months
                          WHERE month = substr(NEW.day, 1, 7) AND host_id = NEW.host_id);
    END;
    CREATE TRIGGER daily_host_month_gone AFTER DELETE ON daily
    BEGIN
        DELETE FROM host_months
        WHERE month = substr(OLD.day, 1, 7) AND host_id = OLD.host_id
          AND NOT EXISTS (SELECT 1 FROM daily
                          WHERE host_id = OLD.host_id
                            AND day >= substr(OLD.day, 1, 7) || '-01'
                            AND day <= substr(OLD.day, 1, 7) || '-31');
    END;
    "#,
];

/// What a Rust step changed: named row counts, logged and returned by [`migrate_reporting`].
pub type StepCounts = Vec<(&'static str, usize)>;

/// A migration step written in Rust; runs inside the version's transaction after its SQL.
type RustStep = fn(&Transaction) -> Result<StepCounts, String>;

/// Rust steps by the version they belong to.
static RUST_STEPS: &[(u32, RustStep)] = &[(7, redact_stored_secrets)];

/// The version a fully migrated database has.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Apply every step above the database's version. Refuses a database newer than this build.
pub fn migrate(conn: &mut Connection) -> Result<u32, String> {
    migrate_reporting(conn).map(|(v, _)| v)
}

/// [`migrate`], also returning what each Rust step changed (version, counts).
pub fn migrate_reporting(conn: &mut Connection) -> Result<(u32, Vec<(u32, StepCounts)>), String> {
    let mut reports = Vec::new();
    let current: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| format!("cannot read schema version: {e}"))?;
    if current > latest() {
        return Err(format!(
            "database schema version {current} is newer than this collector understands ({}); \
             upgrade vigie-collector",
            latest()
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as u32 + 1;
        let tx = conn
            .transaction()
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        tx.execute_batch(sql)
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        let step = RUST_STEPS.iter().find(|(v, _)| *v == version);
        let counts = match step {
            Some((_, run)) => Some(run(&tx).map_err(|e| format!("migration to v{version}: {e}"))?),
            None => None,
        };
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        tx.commit()
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        match counts {
            Some(counts) => {
                let touched: usize = counts.iter().map(|(_, n)| n).sum();
                tracing::info!(version, touched, counts = ?counts, "schema migrated");
                if touched > 0 {
                    // Rewritten rows must not survive in the WAL or in free pages of the file.
                    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                        .map_err(|e| format!("migration to v{version}: checkpoint: {e}"))?;
                }
                reports.push((version, counts));
            }
            None => tracing::info!(version, "schema migrated"),
        }
    }
    Ok((latest(), reports))
}

/// v7: evidence, summaries and facts stored before agents redacted at the source are redacted
/// with the agent's own module ([`vigie_checks::redact`]).
///
/// An excerpt that changes is stored under the SHA-256 of its redacted text, as a current agent
/// would send it (for excerpts cut at the 2 KiB limit the agent's hash covers the whole redacted
/// file, which the collector never had: the re-keyed row then differs from the next report's, and
/// the old row is cleaned up once no state or transition refers to it). References in
/// `check_state` and `transitions` follow the new key; when the redacted excerpt is already stored
/// under that key, the rows merge. Deleted and rewritten text is zeroed (`secure_delete`) and the
/// WAL is truncated after the step.
fn redact_stored_secrets(tx: &Transaction) -> Result<StepCounts, String> {
    let e = |e: rusqlite::Error| e.to_string();
    let secure_delete: i64 = tx
        .pragma_query_value(None, "secure_delete", |r| r.get(0))
        .map_err(e)?;
    tx.pragma_update(None, "secure_delete", "ON").map_err(e)?;
    let mut rekeyed: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let (mut excerpts, mut sources, mut merged) = (0, 0, 0);
    // In batches by key, so a large table is never held in memory; a re-keyed row met again
    // further on is already redacted and left alone (redaction is idempotent).
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String, String, i64)> = tx
            .prepare_cached(
                "SELECT sha256, kind, source, excerpt, last_used FROM evidence
                 WHERE sha256 > ?1 ORDER BY sha256 LIMIT 512",
            )
            .map_err(e)?
            .query_map(params![after], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(e)?
            .collect::<Result<_, _>>()
            .map_err(e)?;
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (sha, kind, source, excerpt, last_used) in rows {
            let kind = match kind.as_str() {
                "file" => EvidenceKind::File,
                "command" => EvidenceKind::Command,
                "directory" => EvidenceKind::Directory,
                _ => EvidenceKind::System,
            };
            let new_excerpt = redact::content(kind, &source, &excerpt);
            let new_source = redact::text(&source);
            if new_excerpt == excerpt && new_source == source {
                continue;
            }
            if new_source != source {
                sources += 1;
            }
            let new_sha = if new_excerpt == excerpt {
                sha.clone()
            } else {
                excerpts += 1;
                hex::encode(Sha256::digest(new_excerpt.as_bytes()))
            };
            let existing: Option<i64> = (new_sha != sha)
                .then(|| {
                    tx.query_row(
                        "SELECT last_used FROM evidence WHERE sha256 = ?1",
                        params![new_sha],
                        |r| r.get(0),
                    )
                    .optional()
                })
                .transpose()
                .map_err(e)?
                .flatten();
            if let Some(used) = existing {
                merged += 1;
                tx.execute("DELETE FROM evidence WHERE sha256 = ?1", params![sha])
                    .map_err(e)?;
                tx.execute(
                    "UPDATE evidence SET last_used = ?2 WHERE sha256 = ?1",
                    params![new_sha, used.max(last_used)],
                )
                .map_err(e)?;
            } else {
                tx.execute(
                    "UPDATE evidence SET sha256 = ?2, source = ?3, excerpt = ?4 WHERE sha256 = ?1",
                    params![sha, new_sha, new_source, new_excerpt],
                )
                .map_err(e)?;
            }
            if new_sha != sha {
                rekeyed.insert(sha, new_sha);
            }
        }
    }
    let rekey = |json: &str| -> Option<String> {
        let shas: Vec<String> = serde_json::from_str(json).ok()?;
        if !shas.iter().any(|s| rekeyed.contains_key(s)) {
            return None;
        }
        let mapped: Vec<&str> = shas
            .iter()
            .map(|s| rekeyed.get(s).unwrap_or(s).as_str())
            .collect();
        serde_json::to_string(&mapped).ok()
    };
    // Current state: summary, facts and evidence references.
    let (mut summaries, mut facts, mut references) = (0, 0, 0);
    {
        let mut scan = tx
            .prepare("SELECT host_id, check_name, summary, facts, evidence FROM check_state")
            .map_err(e)?;
        let mut rows = scan.query([]).map_err(e)?;
        let mut update = tx
            .prepare(
                "UPDATE check_state SET summary = ?3, facts = ?4, evidence = ?5
                 WHERE host_id = ?1 AND check_name = ?2",
            )
            .map_err(e)?;
        while let Some(row) = rows.next().map_err(e)? {
            let (host, check, summary, fact_json, evidence): (i64, String, String, String, String) = (
                row.get(0).map_err(e)?,
                row.get(1).map_err(e)?,
                row.get(2).map_err(e)?,
                row.get(3).map_err(e)?,
                row.get(4).map_err(e)?,
            );
            let new_summary = redact::text(&summary);
            let new_facts = serde_json::from_str::<serde_json::Value>(&fact_json)
                .ok()
                .and_then(|mut v| {
                    redact::json(&mut v);
                    serde_json::to_string(&v).ok()
                })
                .filter(|f| *f != fact_json);
            let new_evidence = rekey(&evidence);
            if new_summary == summary && new_facts.is_none() && new_evidence.is_none() {
                continue;
            }
            summaries += usize::from(new_summary != summary);
            facts += usize::from(new_facts.is_some());
            references += usize::from(new_evidence.is_some());
            update
                .execute(params![
                    host,
                    check,
                    new_summary,
                    new_facts.unwrap_or(fact_json),
                    new_evidence.unwrap_or(evidence)
                ])
                .map_err(e)?;
        }
    }
    // History: summary and evidence references of every transition.
    {
        let mut scan = tx
            .prepare("SELECT id, summary, evidence FROM transitions")
            .map_err(e)?;
        let mut rows = scan.query([]).map_err(e)?;
        let mut update = tx
            .prepare("UPDATE transitions SET summary = ?2, evidence = ?3 WHERE id = ?1")
            .map_err(e)?;
        while let Some(row) = rows.next().map_err(e)? {
            let (id, summary, evidence): (i64, String, String) = (
                row.get(0).map_err(e)?,
                row.get(1).map_err(e)?,
                row.get(2).map_err(e)?,
            );
            let new_summary = redact::text(&summary);
            let new_evidence = rekey(&evidence);
            if new_summary == summary && new_evidence.is_none() {
                continue;
            }
            summaries += usize::from(new_summary != summary);
            references += usize::from(new_evidence.is_some());
            update
                .execute(params![id, new_summary, new_evidence.unwrap_or(evidence)])
                .map_err(e)?;
        }
    }
    // Cells and pages freed above were zeroed as they were freed; later deletes need not be.
    tx.pragma_update(None, "secure_delete", secure_delete)
        .map_err(e)?;
    Ok(vec![
        ("evidence_excerpts", excerpts),
        ("evidence_sources", sources),
        ("evidence_merged", merged),
        ("summaries", summaries),
        ("facts", facts),
        ("evidence_references", references),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(c: &Connection) -> u32 {
        c.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    /// From an empty file and from every earlier version, migration reaches the latest version and
    /// keeps the rows written at the earlier version.
    #[test]
    fn migrates_from_every_earlier_version() {
        for start in 0..=latest() {
            let d = tempfile::tempdir().unwrap();
            let path = d.path().join("v.db");
            let c = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS.iter().enumerate().take(start as usize) {
                c.execute_batch(sql).unwrap();
                c.pragma_update(None, "user_version", i as u32 + 1).unwrap();
            }
            if start >= 1 {
                c.execute(
                    "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at) VALUES ('m', 'h', x'00', 1)",
                    [],
                )
                .unwrap();
            }
            drop(c);
            let mut c = Connection::open(&path).unwrap();
            assert_eq!(migrate(&mut c).unwrap(), latest());
            assert_eq!(version(&c), latest(), "from v{start}");
            if start >= 1 {
                let n: i64 = c
                    .query_row("SELECT count(*) FROM hosts", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 1, "rows kept from v{start}");
            }
            // Idempotent.
            assert_eq!(migrate(&mut c).unwrap(), latest());
        }
    }

    /// The fleet-history step converts whole host lists into bounded changes, leaves manual risks'
    /// entries and other fields alone, and the result reads back through the store.
    #[test]
    fn fleet_risk_history_becomes_bounded_changes() {
        let step = MIGRATIONS
            .iter()
            .position(|m| m.contains("fleet_assets_change"))
            .unwrap();
        let c = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..step] {
            c.execute_batch(sql).unwrap();
        }
        for (id, source, check) in [(1, "fleet", Some("mfa")), (2, "manual", None)] {
            c.execute(
                "INSERT INTO risks(id, source, check_name, title, likelihood, impact, level, treatment,
                     owner, status, next_review, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 't', 1, 1, 'low', 'reduce', 'o', 'open', '2027-01-01', 1, 1)",
                rusqlite::params![id, source, check],
            )
            .unwrap();
        }
        let hosts =
            |r: std::ops::Range<u32>| -> Vec<String> { r.map(|i| format!("h{i:03}")).collect() };
        let entry = |from: serde_json::Value, to: &[String]| {
            serde_json::json!({
                "assets": {"from": from, "to": to},
                "likelihood": {"from": 1, "to": 2},
            })
            .to_string()
        };
        let rows = [
            (1, entry(serde_json::Value::Null, &hosts(0..30))),
            (1, entry(serde_json::json!(hosts(0..30)), &hosts(5..31))),
            (1, entry(serde_json::json!(hosts(5..31)), &[])),
            (2, entry(serde_json::json!(["a"]), &["b".to_string()])),
        ];
        for (i, (risk, changes)) in rows.iter().enumerate() {
            c.execute(
                "INSERT INTO risk_history(risk_id, at, actor, changes) VALUES (?1, ?2, 'x', ?3)",
                rusqlite::params![risk, i as i64, changes],
            )
            .unwrap();
        }
        c.execute_batch(MIGRATIONS[step]).unwrap();
        let got: Vec<serde_json::Value> = c
            .prepare("SELECT changes FROM risk_history ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|t| serde_json::from_str(&t.unwrap()).unwrap())
            .collect();
        // Worked out by hand: creation of 30 hosts (first 20 listed); h000..h004 leave and h030
        // arrives; the 26 remaining leave.
        assert_eq!(got[0]["assets"]["from"], serde_json::Value::Null);
        assert_eq!(
            got[0]["assets"]["to"],
            serde_json::json!({"count": 30, "added": hosts(0..20), "added_count": 30})
        );
        assert_eq!(
            got[1]["assets"],
            serde_json::json!({
                "from": {"count": 30, "removed": hosts(0..5), "removed_count": 5},
                "to": {"count": 26, "added": ["h030"], "added_count": 1},
            })
        );
        assert_eq!(
            got[2]["assets"],
            serde_json::json!({
                "from": {"count": 26, "removed": hosts(5..25), "removed_count": 26},
                "to": {"count": 0, "added": [], "added_count": 0},
            })
        );
        for g in &got[..3] {
            assert_eq!(g["likelihood"], serde_json::json!({"from": 1, "to": 2}));
        }
        // The manual risk's entry is untouched.
        assert_eq!(
            got[3],
            serde_json::from_str::<serde_json::Value>(&rows[3].1).unwrap()
        );
        // Same form as the code writes today.
        assert_eq!(
            serde_json::to_value(crate::risk::fleet::assets_change(
                Some(&hosts(0..30)),
                &hosts(5..31)
            ))
            .unwrap(),
            got[1]["assets"]
        );
    }

    /// A database at v6 written by agents from before redaction: v7 leaves no secret in it, not
    /// even in the file's free pages, and reports how many rows it touched.
    #[test]
    fn v7_re_redacts_stored_secrets_and_counts_them() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("v6.db");
        let c = Connection::open(&path).unwrap();
        for (i, sql) in MIGRATIONS.iter().enumerate().take(6) {
            c.execute_batch(sql).unwrap();
            c.pragma_update(None, "user_version", i as u32 + 1).unwrap();
        }
        let shadow = "root:$6$PLANTEDsalt$PLANTEDhashPLANTEDhashPLANTED:20415:0:90:7:::\ndaemon:*:20415:0:99999:7:::\n";
        let redacted_shadow = "root:$6$<redacted>:20415:0:90:7:::\ndaemon:*:20415:0:99999:7:::\n";
        let redacted_sha = hex::encode(Sha256::digest(redacted_shadow.as_bytes()));
        let restic_src =
            "/usr/bin/restic -r rest:https://u:PLANTED-URL@nas/db/ --no-lock snapshots --json";
        let raw_a = "a".repeat(64);
        let raw_b = "b".repeat(64);
        let clean = "c".repeat(64);
        c.execute_batch(&format!(
            "INSERT INTO hosts(id, machine_id, hostname, node_key_hash, enrolled_at) VALUES (1, 'm1', 'old', x'01', 1), (2, 'm2', 'new', x'02', 1);
             INSERT INTO evidence(sha256, kind, source, excerpt, last_used) VALUES
               ('{raw_a}', 'file', '/etc/shadow', '{shadow}', 10),
               ('{redacted_sha}', 'file', '/etc/shadow', '{redacted_shadow}', 20),
               ('{raw_b}', 'command', '{restic_src}', 'exit: 1\nFatal: rest:https://u:PLANTED-URL@nas/db/ unreachable', 10),
               ('{clean}', 'file', '/etc/ssh/sshd_config', 'PasswordAuthentication no\n', 10);
             INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since, updated_at) VALUES
               (1, 'password_policy', 'fail', '1 gap(s)', '{{}}', '[\"{raw_a}\"]', 1, 1),
               (2, 'password_policy', 'fail', '1 gap(s)', '{{}}', '[\"{redacted_sha}\"]', 1, 1),
               (1, 'backup_freshness', 'error', 'restic: rest:https://u:PLANTED-URL@nas/db/ unreachable',
                '{{\"repository\":\"rest:https://u:PLANTED-URL@nas/db/\",\"n\":3}}', '[\"{raw_b}\"]', 1, 1),
               (1, 'mfa', 'pass', 'ok', '{{}}', '[\"{clean}\"]', 1, 1);
             INSERT INTO transitions(host_id, check_name, from_status, to_status, at, report_id, summary, evidence) VALUES
               (1, 'password_policy', NULL, 'fail', 1, 'r1', '1 gap(s)', '[\"{raw_a}\"]'),
               (1, 'backup_freshness', NULL, 'error', 1, 'r1', 'restic: rest:https://u:PLANTED-URL@nas/db/ unreachable', '[\"{raw_b}\"]');"
        )).unwrap();
        drop(c);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.windows(7).any(|w| w == b"PLANTED"),
            "the v6 file holds the secrets"
        );

        let mut c = Connection::open(&path).unwrap();
        let (v, reports) = migrate_reporting(&mut c).unwrap();
        assert_eq!(v, latest());
        let counts = &reports.iter().find(|(v, _)| *v == 7).unwrap().1;
        assert_eq!(
            counts,
            &vec![
                ("evidence_excerpts", 2), // the shadow file and restic's output
                ("evidence_sources", 1),  // restic's argv
                ("evidence_merged", 1),   // host 1's shadow is now host 2's redacted row
                ("summaries", 2),         // backup_freshness: current state and transition
                ("facts", 1),             // its repository fact
                ("evidence_references", 4),
            ]
        );
        // Every reference points at a stored, redacted row whose key is the hash of its excerpt.
        let refs: Vec<String> = c
            .prepare("SELECT value FROM check_state, json_each(check_state.evidence) UNION ALL SELECT value FROM transitions, json_each(transitions.evidence)")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(refs.len(), 6);
        for sha in &refs {
            let excerpt: String = c
                .query_row(
                    "SELECT excerpt FROM evidence WHERE sha256 = ?1",
                    [sha],
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("reference {sha} dangles: {e}"));
            if sha != &clean {
                assert_eq!(sha, &hex::encode(Sha256::digest(excerpt.as_bytes())));
            }
        }
        let n: i64 = c
            .query_row("SELECT count(*) FROM evidence", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3, "the two shadow rows merged");
        let last_used: i64 = c
            .query_row(
                "SELECT last_used FROM evidence WHERE sha256 = ?1",
                [&redacted_sha],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(last_used, 20);
        let facts: String = c
            .query_row("SELECT facts FROM check_state WHERE host_id = 1 AND check_name = 'backup_freshness'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            facts,
            r#"{"n":3,"repository":"rest:https://u:<redacted>@nas/db/"}"#
        );
        drop(c);
        for entry in std::fs::read_dir(d.path()).unwrap() {
            let p = entry.unwrap().path();
            let bytes = std::fs::read(&p).unwrap();
            assert!(
                !bytes.windows(7).any(|w| w == b"PLANTED"),
                "{} still holds a secret",
                p.display()
            );
        }
        // Idempotent: a second run of the step finds nothing.
        // (The step itself, not a re-run from v6: later versions' SQL is not re-runnable.)
        let mut c = Connection::open(&path).unwrap();
        let tx = c.transaction().unwrap();
        let counts = redact_stored_secrets(&tx).unwrap();
        tx.commit().unwrap();
        assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    }

    #[test]
    fn refuses_a_newer_database() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", latest() + 1).unwrap();
        assert!(migrate(&mut c).unwrap_err().contains("newer"));
    }
}
