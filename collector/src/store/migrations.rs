//! Versioned, forward-only schema migrations. `PRAGMA user_version` holds the applied version;
//! each step runs in its own transaction. Never edit a released step: add a new one.

use rusqlite::Connection;

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
    // identity: MFA of the identities at identity providers and code hosts (`store::identities`).
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
];

/// The version a fully migrated database has.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

/// Apply every step above the database's version. Refuses a database newer than this build.
pub fn migrate(conn: &mut Connection) -> Result<u32, String> {
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
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        tx.commit()
            .map_err(|e| format!("migration to v{version}: {e}"))?;
        tracing::info!(version, "schema migrated");
    }
    Ok(latest())
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

    #[test]
    fn refuses_a_newer_database() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", latest() + 1).unwrap();
        assert!(migrate(&mut c).unwrap_err().contains("newer"));
    }
}
