//! Property: for any sequence of host states, the store after N delta reports (schema 2, encoded
//! the way the agent encodes them, parsed by the collector's own validation) is identical to the
//! store after the same N full reports (schema 1).
//!
//! Every row of every table is compared, every column included: both runs receive the reports at
//! the same times, so no id or timestamp written by ingest may legitimately differ
//! (`transitions.id`, `recent_reports.received_at`, `evidence.last_used`, `check_state.updated_at`,
//! `hosts.last_seen_at` are compared like the rest). The one row left out is `meta.instance_id`,
//! which the migrations draw at random when a database is created, not ingest.

use proptest::prelude::*;
use rusqlite::Connection;
use vigie_checks::wire::{Acked, HostIdentity, Report};
use vigie_checks::{CheckResult, Evidence, Status};

use super::{apply_report, apply_wire, IngestOutcome};
use crate::auth::NodeIdentity;
use crate::ingest::{validate, Limits};

const CHECKS: [&str; 4] = ["mfa", "disk_encryption", "firewall", "patch_age"];

/// One check's state: status, summary, a fact, and which of the evidence pool it shows.
#[derive(Debug, Clone)]
struct CheckState {
    status: usize,
    summary: usize,
    fact: u8,
    evidence: Vec<usize>,
}

/// A host state: each check present or not.
type HostState = Vec<Option<CheckState>>;

fn check_state() -> impl Strategy<Value = CheckState> {
    (
        0..Status::ALL.len(),
        0..3usize,
        0..3u8,
        proptest::collection::vec(0..5usize, 0..4),
    )
        .prop_map(|(status, summary, fact, mut evidence)| {
            evidence.dedup();
            CheckState {
                status,
                summary,
                fact,
                evidence,
            }
        })
}

fn host_state() -> impl Strategy<Value = HostState> {
    proptest::collection::vec(
        proptest::option::weighted(0.85, check_state()),
        CHECKS.len(),
    )
    .prop_filter("a report holds at least one result", |s| {
        s.iter().any(Option::is_some)
    })
}

/// The evidence pool: five files, the fourth and fifth sharing a path with other contents.
fn evidence(i: usize) -> Evidence {
    let (path, content) = [
        ("/etc/ssh/sshd_config", "PasswordAuthentication no"),
        ("/proc/self/mountinfo", "/ on /dev/vda"),
        ("/etc/nftables.conf", "policy drop"),
        ("/etc/ssh/sshd_config", "PasswordAuthentication yes"),
        ("/var/log/apt/history.log", "Start-Date: 2026-11-20"),
    ][i];
    Evidence::file(path, content.as_bytes())
}

fn report(n: usize, state: &HostState) -> Report {
    let results = state
        .iter()
        .zip(CHECKS)
        .filter_map(|(s, check)| {
            let s = s.as_ref()?;
            Some(
                CheckResult::new(
                    check,
                    Status::ALL[s.status],
                    ["all good", "one finding", "two findings"][s.summary],
                )
                .fact("n", s.fact)
                .with_evidence(s.evidence.iter().map(|&i| evidence(i)).collect()),
            )
        })
        .collect::<Vec<_>>();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
        + chrono::Duration::hours(5 * n as i64);
    Report {
        schema: 1,
        report_id: uuid::Uuid::from_u128(0x1000 + n as u128)
            .hyphenated()
            .to_string(),
        agent_version: "0.1.0".into(),
        collected_at: at,
        host: HostIdentity {
            hostname: "h".into(),
            machine_id: "m".into(),
            os: "debian".into(),
            os_version: "12".into(),
            kernel: "6.1".into(),
            arch: "x86_64".into(),
        },
        results,
        interval_seconds: Some(3600),
        lost_reports: 0,
    }
}

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

/// Every row of every table, as text, sorted per table.
fn dump(c: &Connection) -> Vec<(String, Vec<String>)> {
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables
        .into_iter()
        .map(|t| {
            let filter = if t == "meta" {
                " WHERE key <> 'instance_id'"
            } else {
                ""
            };
            let mut q = c
                .prepare(&format!("SELECT * FROM \"{t}\"{filter}"))
                .unwrap();
            let n = q.column_count();
            let mut rows: Vec<String> = q
                .query_map([], |r| {
                    let mut row = Vec::new();
                    for i in 0..n {
                        let v: rusqlite::types::Value = r.get(i)?;
                        row.push(format!("{v:?}"));
                    }
                    Ok(row.join(" | "))
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            rows.sort();
            (t, rows)
        })
        .collect()
}

fn received(r: &Report) -> i64 {
    r.collected_at.timestamp() + 7
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn n_delta_reports_leave_the_store_as_n_full_reports_do(
        states in proptest::collection::vec(host_state(), 1..10),
        full_every_h in prop_oneof![Just(6i64), Just(24), Just(168)],
    ) {
        let full = db();
        let delta = db();
        let node = NodeIdentity { host_id: 1, machine_id: "m".into() };
        let mut acked = Acked::default();
        let mut sent_deltas = 0;
        // A report that repeats one of the previous report's results, outside a re-anchor, must
        // go as a delta (an `unchanged` entry); random sequences need not contain one.
        let mut expect_delta = false;
        let mut prev: Option<Vec<String>> = None;
        for (n, state) in states.iter().enumerate() {
            let r = report(n, state);
            let out = apply_report(&full, 1, &r, received(&r)).unwrap();
            prop_assert!(matches!(out, IngestOutcome::Accepted { .. }), "{out:?}");

            let limits = Limits {
                now: r.collected_at,
                max_skew_s: 300,
                max_age_days: 30,
            };
            let whole = acked.needs_full(r.collected_at, chrono::Duration::hours(full_every_h));
            let cur: Vec<String> = r.results.iter().map(|x| x.canonical_sha256()).collect();
            if !whole && prev.as_ref().is_some_and(|p| cur.iter().any(|c| p.contains(c))) {
                expect_delta = true;
            }
            prev = Some(cur);
            let wire = acked.encode(&r, whole);
            if !wire.is_full() {
                sent_deltas += 1;
            }
            // Through the collector's own parsing and validation.
            let body = serde_json::to_vec(&wire).unwrap();
            let parsed = validate(&body, &node, &limits).unwrap();
            let applied = apply_wire(&delta, 1, &parsed, received(&r)).unwrap();
            prop_assert!(
                matches!(applied.outcome, IngestOutcome::Accepted { .. }),
                "report {n}: {:?} (unresolved {:?})", applied.outcome, applied.unresolved
            );
            prop_assert!(applied.missing_evidence.is_empty(), "{:?}", applied.missing_evidence);
            acked.acknowledge(&r, &wire);
        }
        prop_assert_eq!(dump(&full), dump(&delta));
        if expect_delta {
            prop_assert!(sent_deltas > 0);
        }
    }
}
