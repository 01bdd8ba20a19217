//! Applying one validated report to the store: keep changes, not repetitions.
//!
//! A report costs one row in the dedup window (`recent_reports`, pruned after `dedup_days`), an
//! in-place update of the host and of its current state per check, and a counter bump in the daily
//! roll-up. Only a status change adds a `transitions` row, and only new evidence content adds an
//! `evidence` row. A fleet whose state does not change grows the database by its daily roll-up rows.

use rusqlite::{params, Connection, OptionalExtension};
use vigie_checks::wire::{canonical_result_sha256, WireEntry, WireEvidence, WireReport};

use super::StoreError;

/// What happened to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored; `transitions` status changes were recorded; `evidence_conflicts` evidence items came
    /// with another excerpt than the one stored under their SHA-256 (the stored one is kept).
    Accepted {
        transitions: usize,
        evidence_conflicts: usize,
    },
    /// This report id was already stored: nothing changed.
    Duplicate,
    /// Not newer than the newest report already stored for this host (collected at the same
    /// second or before): refused, nothing changed.
    OutOfOrder,
    /// A delta report's `unchanged` entry does not match what the store holds (another hash, no
    /// current result, or a `since` this host never sent or that was forgotten): refused, nothing
    /// changed; the agent must send the report in full.
    ResyncRequired,
}

/// What applying a (delta) report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: IngestOutcome,
    /// Evidence sent by SHA-256 only that the store does not hold (the agent uploads it).
    pub missing_evidence: Vec<String>,
    /// With [`IngestOutcome::ResyncRequired`]: the checks whose `unchanged` entry did not resolve.
    pub unresolved: Vec<String>,
}

impl Applied {
    fn just(outcome: IngestOutcome) -> Applied {
        Applied {
            outcome,
            missing_evidence: Vec::new(),
            unresolved: Vec::new(),
        }
    }
}

/// Apply the full `report` from `host_id`, received at `received_at` (Unix seconds). (The server
/// goes through [`apply_wire`]; tests build full reports.)
#[cfg(test)]
pub fn apply_report(
    conn: &Connection,
    host_id: i64,
    report: &vigie_checks::wire::Report,
    received_at: i64,
) -> Result<IngestOutcome, StoreError> {
    apply_wire(conn, host_id, &WireReport::from_full(report), received_at).map(|a| a.outcome)
}

/// Apply `report` (full or delta) from `host_id`, received at `received_at` (Unix seconds).
///
/// An `unchanged` entry resolves when the host's current result for that check hashes to its
/// `result_sha256` and its `since` is a report this host sent that the store still knows (in the
/// de-duplication window, or the host's last report); otherwise nothing is stored and the outcome
/// is [`IngestOutcome::ResyncRequired`]. A resolved entry is exactly what a full report with the
/// same result does: nothing. Evidence sent by SHA-256 only is used when the store holds it and
/// listed in `missing_evidence` otherwise.
pub fn apply_wire(
    conn: &Connection,
    host_id: i64,
    report: &WireReport,
    received_at: i64,
) -> Result<Applied, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO recent_reports(report_id, host_id, received_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![report.report_id, host_id, received_at])?;
    if inserted == 0 {
        return Ok(Applied::just(IngestOutcome::Duplicate));
    }
    let collected_at = report.collected_at.timestamp();
    let last: Option<Option<i64>> = conn
        .prepare_cached("SELECT last_report_at FROM hosts WHERE id = ?1")?
        .query_row(params![host_id], |r| r.get(0))
        .optional()?;
    let Some(last) = last else {
        return Err(StoreError::Invalid(format!(
            "host {host_id} does not exist"
        )));
    };
    // `<=`: a report is newer than the newest stored one, or it is a resend (past the dedup
    // window) or out of order; either way it must not be applied twice.
    if last.is_some_and(|l| collected_at <= l) {
        // The dedup row must not stay behind: the caller's savepoint is rolled back on error,
        // but this is a refusal, not an error, so undo it here.
        conn.prepare_cached("DELETE FROM recent_reports WHERE report_id = ?1")?
            .execute(params![report.report_id])?;
        return Ok(Applied::just(IngestOutcome::OutOfOrder));
    }

    // The host's current state in one query; rows identical to the report are not rewritten.
    let mut current: std::collections::HashMap<String, (String, String, String, String)> =
        std::collections::HashMap::new();
    {
        let mut q = conn.prepare_cached(
            "SELECT check_name, status, summary, facts, evidence FROM check_state WHERE host_id = ?1",
        )?;
        let rows = q.query_map(params![host_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
            ))
        })?;
        for row in rows {
            let (check, state) = row?;
            current.insert(check, state);
        }
    }

    // Every `unchanged` entry must resolve before anything is written.
    let mut unresolved = Vec::new();
    let mut known_since: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for entry in &report.results {
        let WireEntry::Unchanged(u) = entry else {
            continue;
        };
        let same = current.get(&u.check).is_some_and(|(s, summary, f, ev)| {
            canonical_result_sha256(&u.check, s, summary, f, ev) == u.result_sha256
        });
        let since_known = match known_since.get(u.since.as_str()) {
            Some(k) => *k,
            None => {
                let k = u.since != report.report_id
                    && (conn
                        .prepare_cached(
                            "SELECT 1 FROM recent_reports WHERE report_id = ?1 AND host_id = ?2
                             UNION ALL SELECT 1 FROM hosts WHERE id = ?2 AND last_report_id = ?1",
                        )?
                        .query_row(params![u.since, host_id], |_| Ok(()))
                        .optional()?
                        .is_some());
                known_since.insert(&u.since, k);
                k
            }
        };
        if !(same && since_known) {
            unresolved.push(u.check.clone());
        }
    }
    if !unresolved.is_empty() {
        conn.prepare_cached("DELETE FROM recent_reports WHERE report_id = ?1")?
            .execute(params![report.report_id])?;
        return Ok(Applied {
            outcome: IngestOutcome::ResyncRequired,
            missing_evidence: Vec::new(),
            unresolved,
        });
    }

    let mut transitions = 0;
    let mut evidence_conflicts = 0;
    let mut missing_evidence = Vec::new();
    for entry in &report.results {
        let WireEntry::Full(result) = entry else {
            continue; // resolved above: the stored result is this one
        };
        let evidence_shas: Vec<&str> = result.evidence.iter().map(|e| e.sha256()).collect();
        let evidence_json = serde_json::to_string(&evidence_shas).unwrap_or_else(|_| "[]".into());
        // Serialise in place: cloning the map into a Value cost ~2 % of the writer (profiled).
        let facts = serde_json::to_string(&result.facts).unwrap_or_else(|_| "{}".into());
        let status = result.status.as_str();
        let previous = current.get(&result.check);
        let changed = previous.is_none_or(|(s, ..)| s != status);
        if previous.is_some_and(|(s, summary, f, ev)| {
            s == status && *summary == result.summary && *f == facts && *ev == evidence_json
        }) {
            continue; // nothing new: the common case for a quiet fleet
        }
        if previous.is_none_or(|(.., ev)| *ev != evidence_json) {
            let mut ins = conn.prepare_cached(
                "INSERT OR IGNORE INTO evidence(sha256, kind, source, excerpt, last_used)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for ev in &result.evidence {
                let ev = match ev {
                    WireEvidence::Full(ev) => ev,
                    WireEvidence::Known(k) => {
                        // Sent by hash: referenced again when held, asked for when not.
                        let held = conn
                            .prepare_cached("UPDATE evidence SET last_used = ?2 WHERE sha256 = ?1")?
                            .execute(params![k.sha256, received_at])?;
                        if held == 0 && !missing_evidence.contains(&k.sha256) {
                            missing_evidence.push(k.sha256.clone());
                        }
                        continue;
                    }
                };
                let kind = ev.kind.as_str();
                if ins.execute(params![ev.sha256, kind, ev.source, ev.excerpt, received_at])? == 0 {
                    // Referenced again: the clean-up must not take it (see `dead_evidence`).
                    conn.prepare_cached("UPDATE evidence SET last_used = ?2 WHERE sha256 = ?1")?
                        .execute(params![ev.sha256, received_at])?;
                    // Stored once per SHA-256: the first excerpt stays. A different excerpt under
                    // the same hash means an agent is wrong or lying; say so loudly.
                    let same: bool = conn
                        .prepare_cached("SELECT excerpt = ?2 FROM evidence WHERE sha256 = ?1")?
                        .query_row(params![ev.sha256, ev.excerpt], |r| r.get(0))
                        .optional()?
                        .unwrap_or(true);
                    if !same {
                        evidence_conflicts += 1;
                        tracing::warn!(host_id, check = %result.check, sha256 = %ev.sha256,
                            source = %crate::escape::one_line(&ev.source),
                            "evidence conflict: this SHA-256 is stored with a different excerpt; the first one is kept");
                    }
                }
            }
        } else {
            // The same evidence as stored: nothing to write, but a hash the store lacks (lost,
            // or never received) is still asked for.
            for ev in &result.evidence {
                if let WireEvidence::Known(k) = ev {
                    let held = conn
                        .prepare_cached("SELECT 1 FROM evidence WHERE sha256 = ?1")?
                        .query_row(params![k.sha256], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if !held && !missing_evidence.contains(&k.sha256) {
                        missing_evidence.push(k.sha256.clone());
                    }
                }
            }
        }
        if changed {
            conn.prepare_cached(
                "INSERT INTO transitions(host_id, check_name, from_status, to_status, at, report_id, summary, evidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                host_id,
                result.check,
                previous.map(|(s, ..)| s.as_str()),
                status,
                collected_at,
                report.report_id,
                result.summary,
                evidence_json
            ])?;
            transitions += 1;
        }
        conn.prepare_cached(
            "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
             ON CONFLICT(host_id, check_name) DO UPDATE SET
                status = excluded.status, summary = excluded.summary, facts = excluded.facts,
                evidence = excluded.evidence, updated_at = excluded.updated_at,
                since = CASE WHEN check_state.status = excluded.status THEN check_state.since ELSE excluded.since END",
        )?
        .execute(params![
            host_id,
            result.check,
            status,
            result.summary,
            facts,
            evidence_json,
            collected_at
        ])?;
    }

    conn.prepare_cached(
        "UPDATE hosts SET hostname = ?2, os = ?3, os_version = ?4, kernel = ?5, arch = ?6,
            last_seen_at = ?7, last_report_at = ?8, last_report_id = ?9,
            interval_s = COALESCE(?10, interval_s), lost_reports = lost_reports + ?11
         WHERE id = ?1",
    )?
    .execute(params![
        host_id,
        report.host.hostname,
        report.host.os,
        report.host.os_version,
        report.host.kernel,
        report.host.arch,
        received_at,
        collected_at,
        report.report_id,
        report.interval_seconds.map(|s| s as i64),
        report.lost_reports as i64
    ])?;
    let day = chrono::DateTime::from_timestamp(received_at, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO daily(host_id, day, reports, first_seen, last_seen) VALUES (?1, ?2, 1, ?3, ?3)
         ON CONFLICT(host_id, day) DO UPDATE SET reports = reports + 1,
            first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)",
    )?
    .execute(params![host_id, day, received_at])?;
    Ok(Applied {
        outcome: IngestOutcome::Accepted {
            transitions,
            evidence_conflicts,
        },
        missing_evidence,
        unresolved: Vec::new(),
    })
}

/// Store evidence items an agent uploads after a report answered `missing_evidence`: only items
/// whose SHA-256 one of the host's current results references and that the store does not hold.
/// Returns how many were stored.
pub fn store_missing_evidence(
    conn: &Connection,
    host_id: i64,
    items: &[vigie_checks::Evidence],
    received_at: i64,
) -> Result<usize, StoreError> {
    let mut stored = 0;
    for ev in items {
        let referenced = conn
            .prepare_cached(
                "SELECT 1 FROM check_state, json_each(check_state.evidence)
                 WHERE check_state.host_id = ?1 AND json_each.value = ?2 LIMIT 1",
            )?
            .query_row(params![host_id, ev.sha256], |_| Ok(()))
            .optional()?
            .is_some();
        if !referenced {
            continue;
        }
        stored += conn
            .prepare_cached(
                "INSERT OR IGNORE INTO evidence(sha256, kind, source, excerpt, last_used)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                ev.sha256,
                ev.kind.as_str(),
                ev.source,
                ev.excerpt,
                received_at
            ])?;
    }
    Ok(stored)
}

/// Forget at most `limit` report ids older than the dedup window; returns how many. Called in a
/// loop of small write batches so the writer never holds a long transaction.
pub fn prune_report_ids(
    conn: &Connection,
    older_than: i64,
    limit: i64,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM recent_reports WHERE report_id IN (
            SELECT report_id FROM recent_reports WHERE received_at < ?1 LIMIT ?2)",
        params![older_than, limit],
    )?)
}

/// Evidence no longer referenced by any current state or transition and not referenced since
/// `before` (read connection: this scan of the history never runs inside the writer).
pub fn dead_evidence(conn: &Connection, before: i64) -> Result<Vec<String>, StoreError> {
    let mut q = conn.prepare(
        "SELECT sha256 FROM evidence WHERE last_used < ?1 AND sha256 NOT IN (
            SELECT value FROM check_state, json_each(check_state.evidence)
            UNION SELECT value FROM transitions, json_each(transitions.evidence))",
    )?;
    let rows = q.query_map(params![before], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Delete the given dead evidence rows, unless one was referenced again since `before` (a report
/// that arrived after the scan). Returns how many were deleted.
pub fn delete_evidence(
    conn: &Connection,
    shas: &[String],
    before: i64,
) -> Result<usize, StoreError> {
    let mut del =
        conn.prepare_cached("DELETE FROM evidence WHERE sha256 = ?1 AND last_used < ?2")?;
    let mut n = 0;
    for sha in shas {
        n += del.execute(params![sha, before])?;
    }
    Ok(n)
}

#[cfg(test)]
#[path = "ingest_prop.rs"]
mod prop;

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_checks::wire::{HostIdentity, Report};
    use vigie_checks::{CheckResult, Evidence, Status};

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c.execute(
            "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at) VALUES ('m', 'h', x'01', 0)",
            [],
        )
        .unwrap();
        c
    }

    fn report(id: &str, at: &str, status: Status, excerpt: &str) -> Report {
        let r = CheckResult::new("mfa", status, "ssh: password only").with_evidence(vec![
            Evidence::file("/etc/ssh/sshd_config", excerpt.as_bytes()),
        ]);
        Report {
            schema: 1,
            report_id: id.into(),
            agent_version: "0".into(),
            collected_at: at.parse().unwrap(),
            host: HostIdentity {
                hostname: "h".into(),
                machine_id: "m".into(),
                os: "debian".into(),
                os_version: "12".into(),
                kernel: "6.1".into(),
                arch: "x86_64".into(),
            },
            results: vec![r],
            interval_seconds: Some(900),
            lost_reports: 0,
        }
    }

    fn count(c: &Connection, table: &str) -> i64 {
        c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// A second host sends the first host's evidence hash with another excerpt: counted as a
    /// conflict, and the stored excerpt is kept.
    #[test]
    fn a_different_excerpt_under_a_stored_hash_is_a_conflict() {
        let c = db();
        c.execute(
            "INSERT INTO hosts(machine_id, hostname, node_key_hash, enrolled_at) VALUES ('m2', 'h2', x'02', 0)",
            [],
        )
        .unwrap();
        apply_report(
            &c,
            1,
            &report("r1", "2026-11-24T10:00:00Z", Status::Fail, "true"),
            100,
        )
        .unwrap();
        let mut forged = report("r2", "2026-11-24T10:00:00Z", Status::Fail, "true");
        forged.host.machine_id = "m2".into();
        forged.results[0].evidence[0].excerpt = "forged".into();
        let out = apply_report(&c, 2, &forged, 100).unwrap();
        assert_eq!(
            out,
            IngestOutcome::Accepted {
                transitions: 1,
                evidence_conflicts: 1
            }
        );
        let kept: String = c
            .query_row("SELECT excerpt FROM evidence", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "true");
    }

    /// Past the de-duplication window the id is forgotten; a resend is still refused because it is
    /// not newer than what the host already reported (same second counts as not newer).
    #[test]
    fn a_resend_after_the_dedup_window_is_out_of_order() {
        let c = db();
        let r1 = report("r1", "2026-11-24T10:00:00Z", Status::Fail, "a");
        assert!(matches!(
            apply_report(&c, 1, &r1, 100).unwrap(),
            IngestOutcome::Accepted { .. }
        ));
        assert_eq!(prune_report_ids(&c, 1_000, 10).unwrap(), 1);
        assert_eq!(
            apply_report(&c, 1, &r1, 2_000).unwrap(),
            IngestOutcome::OutOfOrder
        );
        // Another id collected within the same second is refused the same way.
        let same_second = report("r9", "2026-11-24T10:00:00.900Z", Status::Pass, "b");
        assert_eq!(
            apply_report(&c, 1, &same_second, 2_000).unwrap(),
            IngestOutcome::OutOfOrder
        );
        assert_eq!(
            count(&c, "recent_reports"),
            0,
            "a refusal leaves no dedup row"
        );
        let reports: i64 = c
            .query_row("SELECT sum(reports) FROM daily", [], |r| r.get(0))
            .unwrap();
        assert_eq!((reports, count(&c, "transitions")), (1, 1));
    }

    #[test]
    fn keeps_changes_not_repetitions() {
        let c = db();
        let t0 = "2026-11-24T10:00:00Z";
        let out = apply_report(&c, 1, &report("r1", t0, Status::Fail, "a"), 100).unwrap();
        assert_eq!(
            out,
            IngestOutcome::Accepted {
                transitions: 1,
                evidence_conflicts: 0
            }
        );
        // Same content again: no transition, no new evidence, state row untouched.
        let out = apply_report(
            &c,
            1,
            &report("r2", "2026-11-24T10:15:00Z", Status::Fail, "a"),
            200,
        )
        .unwrap();
        assert_eq!(
            out,
            IngestOutcome::Accepted {
                transitions: 0,
                evidence_conflicts: 0
            }
        );
        let updated: i64 = c
            .query_row("SELECT updated_at FROM check_state", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            updated,
            chrono::DateTime::parse_from_rfc3339(t0)
                .unwrap()
                .timestamp()
        );
        assert_eq!((count(&c, "transitions"), count(&c, "evidence")), (1, 1));
        // Resend of r2: duplicate. An older report: out of order. Neither changes anything.
        assert_eq!(
            apply_report(
                &c,
                1,
                &report("r2", "2026-11-24T10:15:00Z", Status::Fail, "a"),
                300
            )
            .unwrap(),
            IngestOutcome::Duplicate
        );
        assert_eq!(
            apply_report(
                &c,
                1,
                &report("r0", "2026-11-24T09:00:00Z", Status::Pass, "a"),
                300
            )
            .unwrap(),
            IngestOutcome::OutOfOrder
        );
        assert_eq!(count(&c, "recent_reports"), 2);
        // A status change: one transition, new evidence stored once.
        let out = apply_report(
            &c,
            1,
            &report("r3", "2026-11-24T10:30:00Z", Status::Pass, "b"),
            400,
        )
        .unwrap();
        assert_eq!(
            out,
            IngestOutcome::Accepted {
                transitions: 1,
                evidence_conflicts: 0
            }
        );
        assert_eq!((count(&c, "transitions"), count(&c, "evidence")), (2, 2));
        // Daily roll-up: three accepted reports on one day.
        let n: i64 = c
            .query_row("SELECT reports FROM daily", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
        // Old report ids go, in batches; evidence referenced by a transition survives.
        assert_eq!(prune_report_ids(&c, 250, 1).unwrap(), 1);
        assert_eq!(prune_report_ids(&c, 250, 10).unwrap(), 1);
        assert_eq!(prune_report_ids(&c, 250, 10).unwrap(), 0);
        assert!(dead_evidence(&c, 1_000).unwrap().is_empty());
        // Forget the transitions' references: evidence "a" is dead (the current state holds "b");
        // but a report referencing it again after the scan keeps it.
        c.execute("UPDATE transitions SET evidence = '[]'", [])
            .unwrap();
        let dead = dead_evidence(&c, 1_000).unwrap();
        assert_eq!(dead.len(), 1);
        c.execute(
            "UPDATE evidence SET last_used = 2000 WHERE sha256 = ?1",
            [&dead[0]],
        )
        .unwrap();
        assert_eq!(delete_evidence(&c, &dead, 1_000).unwrap(), 0);
        c.execute(
            "UPDATE evidence SET last_used = 0 WHERE sha256 = ?1",
            [&dead[0]],
        )
        .unwrap();
        assert_eq!(delete_evidence(&c, &dead, 1_000).unwrap(), 1);
        assert_eq!(count(&c, "evidence"), 1);
    }

    fn id(n: u128) -> String {
        uuid::Uuid::from_u128(n).hyphenated().to_string()
    }

    /// An `unchanged` entry resolves only against the stored current result and a `since` this
    /// host sent; otherwise nothing is stored and the agent is told to send the report in full.
    #[test]
    fn an_unresolvable_unchanged_entry_asks_for_a_full_report() {
        let c = db();
        let r1 = report(&id(1), "2026-11-24T10:00:00Z", Status::Fail, "a");
        apply_report(&c, 1, &r1, 100).unwrap();
        let mut acked = vigie_checks::wire::Acked::default();
        acked.acknowledge(&r1, &WireReport::from_full(&r1));
        let r2 = report(&id(2), "2026-11-24T11:00:00Z", Status::Fail, "a");
        let good = acked.encode(&r2, false);
        assert!(matches!(good.results[0], WireEntry::Unchanged(_)));

        let mut wrong_hash = good.clone();
        let WireEntry::Unchanged(u) = &mut wrong_hash.results[0] else {
            unreachable!()
        };
        u.result_sha256 = "0".repeat(64);
        let mut unknown_since = good.clone();
        let WireEntry::Unchanged(u) = &mut unknown_since.results[0] else {
            unreachable!()
        };
        u.since = id(99);
        for bad in [wrong_hash, unknown_since] {
            let a = apply_wire(&c, 1, &bad, 200).unwrap();
            assert_eq!(a.outcome, IngestOutcome::ResyncRequired);
            assert_eq!(a.unresolved, vec!["mfa".to_string()]);
            assert_eq!(count(&c, "recent_reports"), 1, "nothing stored");
            let last: String = c
                .query_row("SELECT last_report_id FROM hosts", [], |r| r.get(0))
                .unwrap();
            assert_eq!(last, id(1));
        }
        // Another host's report id does not resolve either.
        c.execute(
            "INSERT INTO recent_reports(report_id, host_id, received_at) VALUES (?1, 2, 100)",
            [id(50)],
        )
        .unwrap();
        let mut other_host = good.clone();
        let WireEntry::Unchanged(u) = &mut other_host.results[0] else {
            unreachable!()
        };
        u.since = id(50);
        assert_eq!(
            apply_wire(&c, 1, &other_host, 200).unwrap().outcome,
            IngestOutcome::ResyncRequired
        );
        let a = apply_wire(&c, 1, &good, 200).unwrap();
        assert_eq!(
            a.outcome,
            IngestOutcome::Accepted {
                transitions: 0,
                evidence_conflicts: 0
            }
        );
        let last: String = c
            .query_row("SELECT last_report_id FROM hosts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last, id(2));
    }

    /// Evidence sent by hash that the store lacks is listed in the answer; the upload stores it
    /// only when one of the host's current results references it.
    #[test]
    fn evidence_sent_by_hash_that_the_store_lacks_is_asked_for_then_stored() {
        let c = db();
        let r1 = report(&id(1), "2026-11-24T10:00:00Z", Status::Fail, "a");
        apply_report(&c, 1, &r1, 100).unwrap();
        let mut acked = vigie_checks::wire::Acked::default();
        acked.acknowledge(&r1, &WireReport::from_full(&r1));
        c.execute("DELETE FROM evidence", []).unwrap();
        // Same evidence, another status: sent in full with the evidence by hash.
        let r2 = report(&id(2), "2026-11-24T11:00:00Z", Status::Pass, "a");
        let wire = acked.encode(&r2, false);
        let WireEntry::Full(r) = &wire.results[0] else {
            panic!("a changed result goes in full")
        };
        assert!(matches!(r.evidence[0], WireEvidence::Known(_)));
        let a = apply_wire(&c, 1, &wire, 200).unwrap();
        let sha = r1.results[0].evidence[0].sha256.clone();
        assert_eq!(a.missing_evidence, vec![sha.clone()]);
        assert_eq!(count(&c, "evidence"), 0);
        let stranger = Evidence::file("/etc/shadow", b"root:x");
        assert_eq!(
            store_missing_evidence(&c, 1, std::slice::from_ref(&stranger), 300).unwrap(),
            0,
            "evidence no current result references is not stored"
        );
        let n = store_missing_evidence(&c, 1, &r1.results[0].evidence, 300).unwrap();
        assert_eq!(n, 1);
        let excerpt: String = c
            .query_row(
                "SELECT excerpt FROM evidence WHERE sha256 = ?1",
                [&sha],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(excerpt, "a");
    }
}
