//! The monthly report on a fixture store built through the store's own functions: golden Markdown
//! (fr, en) and JSON under `tests/golden/report/` (`VIGIE_BLESS=1` rewrites them), numbers worked
//! out by hand, idempotence, and the failure exit codes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use vigie_checks::wire::{HostIdentity, Report};
use vigie_checks::{CheckResult, Status};

use super::*;
use crate::registers::incident::{Incident, IncidentType, Severity};
use crate::registers::training::{Completion, Person};
use crate::risk::actions::{Evidence, Priority};
use crate::risk::exceptions::{NewException, ScopeKind};
use crate::risk::register::{FieldChange, Risk};
use crate::risk::{Level, RiskStatus, Source, Treatment};
use crate::store::kpi_snapshots::SnapshotRow;
use crate::store::{self, Store};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ts(s: &str) -> i64 {
    t(s).timestamp()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Seen on 5 April 2026: March is complete.
const NOW: &str = "2026-04-05T12:00:00Z";

fn host_report(name: &str, at: DateTime<Utc>) -> (HostIdentity, Report) {
    let id = HostIdentity {
        hostname: name.into(),
        machine_id: format!("m-{name}"),
        os: "debian".into(),
        os_version: "12".into(),
        kernel: "6.1".into(),
        arch: "x86_64".into(),
    };
    let report = Report {
        schema: 1,
        report_id: format!("r-{name}-{}", at.timestamp()),
        agent_version: "0.1.0".into(),
        collected_at: at,
        host: id.clone(),
        results: vec![
            CheckResult::new("mfa", Status::Pass, "…"),
            CheckResult::new("patch_age", Status::Pass, "…"),
        ],
        interval_seconds: Some(3600),
        lost_reports: 0,
    };
    (id, report)
}

fn snap(
    day: &str,
    kpi: &str,
    value: Option<f64>,
    target: Option<f64>,
    status: &str,
    detail: &str,
) -> SnapshotRow {
    SnapshotRow {
        day: day.into(),
        kpi: kpi.into(),
        value,
        target,
        status: status.into(),
        detail: detail.into(),
        taken_at: ts(&format!("{day}T23:00:00Z")),
    }
}

#[allow(clippy::too_many_arguments)]
fn incident(
    id: &str,
    severity: Severity,
    occurred: Option<&str>,
    detected: &str,
    resolved: Option<&str>,
    personal: bool,
    notified: Option<&str>,
) -> Incident {
    Incident {
        id: id.into(),
        title: format!("Incident {id}"),
        kind: IncidentType::Phishing,
        severity,
        team: "soc".into(),
        description: String::new(),
        actions: String::new(),
        occurred_at: occurred.map(t),
        detected_at: Some(t(detected)),
        contained_at: None,
        resolved_at: resolved.map(t),
        personal_data: personal,
        notified_at: notified.map(t),
    }
}

fn risk(
    title: &str,
    likelihood: u8,
    impact: u8,
    level: Level,
    status: RiskStatus,
    created: &str,
) -> Risk {
    Risk {
        id: 0,
        source: Source::Manual,
        check: None,
        title: title.into(),
        scenario: String::new(),
        assets: vec![],
        likelihood,
        impact,
        level,
        treatment: Treatment::Reduce,
        owner: "rssi".into(),
        status,
        next_review: day("2026-06-30"),
        review_overdue: false,
        actions: vec![],
        created_at: ts(created),
        updated_at: ts(created),
    }
}

/// The fixture store (see each block for what it holds); returns the database path.
async fn fixture(dir: &Path) -> PathBuf {
    let db = dir.join("vigie.db");
    let store = Store::open(&db, 64).unwrap();
    // Hosts: four report on 20 March; old-01 reported only in February → enrolled 5, reported in
    // March 4.
    for (name, at) in [
        ("web-01", "2026-03-20T10:00:00Z"),
        ("web-02", "2026-03-20T10:00:00Z"),
        ("db-01", "2026-03-20T10:00:00Z"),
        ("app-01", "2026-03-20T10:00:00Z"),
        ("old-01", "2026-02-10T10:00:00Z"),
    ] {
        let (id, report) = host_report(name, t(at));
        let key = name.as_bytes().to_vec();
        let at = t(at).timestamp();
        store
            .write(move |c| {
                let e = store::hosts::enroll(c, &id, &key, Some(3600), true, at)?;
                store::ingest::apply_report(c, e.host_id(), &report, at)
            })
            .await
            .unwrap();
    }
    // KPI snapshots on each month's last day, April 2025 to March 2026 (k = 0..11):
    // patch_sla = 0.70 + 0.02 k (March 0.92, February 0.90), target 1.0, not met; no snapshot in
    // July 2025 (a gap). A mid-March snapshot (0.10) is not the month's last and is ignored.
    let mut rows = Vec::new();
    for k in 0..12u32 {
        let first = NaiveDate::from_ymd_opt(2025, 4, 1)
            .unwrap()
            .checked_add_months(chrono::Months::new(k))
            .unwrap();
        if k == 3 {
            continue;
        }
        let last = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap()
            .pred_opt()
            .unwrap();
        let d = last.format("%Y-%m-%d").to_string();
        let v = 0.70 + 0.02 * f64::from(k);
        rows.push(snap(&d, "patch_sla", Some(v), Some(1.0), "not_met", "{}"));
    }
    rows.push(snap(
        "2026-03-15",
        "patch_sla",
        Some(0.10),
        Some(1.0),
        "not_met",
        "{}",
    ));
    // Coverage of mfa: February 2 of 4 (0.5), March 3 of 4 (0.75).
    rows.push(snap(
        "2026-02-28",
        "coverage.mfa",
        Some(0.5),
        None,
        "no_target",
        r#"{"pass":2,"fail":2,"warn":0,"error":0,"not_applicable":0,"stale":0}"#,
    ));
    rows.push(snap(
        "2026-03-31",
        "coverage.mfa",
        Some(0.75),
        None,
        "no_target",
        r#"{"pass":3,"fail":1,"warn":0,"error":0,"not_applicable":1,"stale":0}"#,
    ));
    // Training coverage as the daily snapshots recorded it: February 0.25, March 0.5 (target
    // 1.0); no earlier snapshot, so earlier trend points have no data (never today's roster
    // replayed backwards).
    rows.push(snap(
        "2026-02-28",
        "training_coverage",
        Some(0.25),
        Some(1.0),
        "not_met",
        "{}",
    ));
    rows.push(snap(
        "2026-03-31",
        "training_coverage",
        Some(0.5),
        Some(1.0),
        "not_met",
        "{}",
    ));
    // CIS: overall 50.0 → 55.5 (+5.5); control 7 at IG1 60.0 → 70.0 (+10.0), 2 of 4 assessed;
    // IG1 55.5 in March only (no change shown). March's overall row has no target: the configured
    // `kpi.cis_target` 0.6 applies (55.5 % < 60 % → not met).
    let cis = |d: &str, k: &str, v: f64, a: u64, tot: u64, ig: u8| {
        snap(
            d,
            k,
            Some(v),
            None,
            "no_target",
            &format!(r#"{{"ig":{ig},"summary":{{"assessed":{a},"total":{tot}}}}}"#),
        )
    };
    rows.push(cis("2026-02-28", "cis.overall", 50.0, 10, 153, 3));
    rows.push(cis("2026-03-31", "cis.overall", 55.5, 12, 153, 3));
    rows.push(cis("2026-02-28", "cis.control.7", 60.0, 2, 4, 1));
    rows.push(cis("2026-03-31", "cis.control.7", 70.0, 2, 4, 1));
    rows.push(cis("2026-03-31", "cis.ig.1", 55.5, 8, 56, 1));
    // Incidents:
    // - INC-1 minor: occurred 08:00, detected 10:00 (2 h), resolved 14:00 (4 h), 2 March;
    // - INC-2 major, personal data: occurred 10 March 00:00, detected 06:00 (6 h), resolved
    //   11 March 06:00 (24 h), notified 12 March 06:00 (48 h after detection: on time);
    // - INC-3 crisis, personal data: occurred 28 March 11:00, detected 12:00 (1 h), open, not
    //   notified: deadline 31 March 12:00 passed by 1 April 00:00 → overdue;
    // - INC-4 low: January, resolved in January → not in March.
    // March: detected 3, resolved 2 (INC-1, INC-2), open at the end 1 (INC-3).
    // MTTD = (2 h + 6 h) / 2 = 4 h = 14 400 s > 3 h target → not met;
    // MTTR = (4 h + 24 h) / 2 = 14 h = 50 400 s ≤ 24 h target → met;
    // 72-hour duty = on time 1 / (on time 1 + overdue 1) = 0.5 → not met.
    let incidents = vec![
        incident(
            "INC-1",
            Severity::Minor,
            Some("2026-03-02T08:00:00Z"),
            "2026-03-02T10:00:00Z",
            Some("2026-03-02T14:00:00Z"),
            false,
            None,
        ),
        incident(
            "INC-2",
            Severity::Major,
            Some("2026-03-10T00:00:00Z"),
            "2026-03-10T06:00:00Z",
            Some("2026-03-11T06:00:00Z"),
            true,
            Some("2026-03-12T06:00:00Z"),
        ),
        incident(
            "INC-3",
            Severity::Crisis,
            Some("2026-03-28T11:00:00Z"),
            "2026-03-28T12:00:00Z",
            None,
            true,
            None,
        ),
        incident(
            "INC-4",
            Severity::Low,
            Some("2026-01-05T08:00:00Z"),
            "2026-01-05T09:00:00Z",
            Some("2026-01-05T10:00:00Z"),
            false,
            None,
        ),
    ];
    // Roster P1–P4 active, P5 inactive; completions P1 (June 2025), P2 (March 2026) in the window
    // 1 April 2025 – 31 March 2026; P3's (December 2024) is too old → 2 / 4 = 0.5, not met.
    let people: Vec<Person> = (1..=5)
        .map(|i| Person {
            person_id: format!("P{i}"),
            name: format!("Person {i}"),
            email: format!("p{i}@example.org"),
            department: "ops".into(),
            active: i != 5,
        })
        .collect();
    let completions = [
        ("P1", "2025-06-01"),
        ("P2", "2026-03-15"),
        ("P3", "2024-12-01"),
    ]
    .map(|(p, d)| Completion {
        person_id: p.into(),
        course: "Sensibilisation".into(),
        completed_on: day(d),
    })
    .to_vec();
    store
        .write(move |c| {
            store::kpi_snapshots::save(c, &rows)?;
            for i in &incidents {
                store::registers::create_incident(c, i, 0)?;
            }
            store::registers::upsert_people(c, &people, 0)?;
            store::registers::insert_completions(c, &completions, 0)?;
            Ok(())
        })
        .await
        .unwrap();
    // Risks:
    // - R1 created 10 January at likelihood 2 × impact 4 = 8 (high), raised on 15 March to
    //   3 × 4 = 12 (critical): top risk, "high" at the start of March, one change in March;
    // - R2 created 5 March, 2 × 2 = 4 (medium): new in March;
    // - R3 closed: not listed; R4 created 2 April: after the period, not listed.
    // Open at the end of March: critical 1, medium 1.
    store
        .write(|c| {
            let r1 = risk(
                "Rançongiciel sur le serveur de fichiers",
                2,
                4,
                Level::High,
                RiskStatus::Open,
                "2026-01-10T09:00:00Z",
            );
            let id = store::risks::insert(c, &r1, "alice", "", r1.created_at)?;
            let raised = Risk {
                id,
                likelihood: 3,
                level: Level::Critical,
                ..r1.clone()
            };
            let changes = BTreeMap::from([
                (
                    "likelihood".to_string(),
                    FieldChange {
                        from: 2.into(),
                        to: 3.into(),
                    },
                ),
                (
                    "level".to_string(),
                    FieldChange {
                        from: "high".into(),
                        to: "critical".into(),
                    },
                ),
            ]);
            store::risks::update(
                c,
                &raised,
                &changes,
                "alice",
                "deux nouvelles campagnes d'hameçonnage",
                ts("2026-03-15T09:00:00Z"),
            )?;
            let r2 = risk(
                "Perte de portable non chiffré",
                2,
                2,
                Level::Medium,
                RiskStatus::Open,
                "2026-03-05T09:00:00Z",
            );
            store::risks::insert(c, &r2, "bob", "", r2.created_at)?;
            let r3 = risk(
                "Ancien risque",
                1,
                1,
                Level::Low,
                RiskStatus::Closed,
                "2025-10-01T09:00:00Z",
            );
            store::risks::insert(c, &r3, "bob", "", r3.created_at)?;
            let r4 = risk(
                "Risque d'avril",
                4,
                4,
                Level::Critical,
                RiskStatus::Open,
                "2026-04-02T09:00:00Z",
            );
            store::risks::insert(c, &r4, "bob", "", r4.created_at)?;
            // R5: a fleet risk under its shipped (English) title, opened by the reconciliation
            // on 12 March with its (English, stored) note: the French report says both in French.
            let r5 = Risk {
                source: Source::Fleet,
                check: Some("backup_freshness".into()),
                owner: "rssi".into(),
                ..risk(
                    "Data loss beyond the recovery point after an incident",
                    1,
                    4,
                    Level::High,
                    RiskStatus::Open,
                    "2026-03-12T09:00:00Z",
                )
            };
            let note = crate::risk::fleet_note::FleetNote::Failing {
                failing: 1,
                evaluated: 3,
                check: "backup_freshness".into(),
                host: Some("db-01".into()),
                criticality: 4,
            }
            .to_string();
            store::risks::insert(c, &r5, "vigie", &note, r5.created_at)?;
            Ok(())
        })
        .await
        .unwrap();
    // Actions (created 1 March):
    // - A1 P1 due 20 March, open → overdue;
    // - A2 P1 due 25 March, closed 24 March → done in March;
    // - A3 P2 due 30 May, open → open;
    // - A4 P3 due 31 December, closed 3 April (after the period) → open at the end of March.
    // P1: planned 2, done 1 (in March 1), overdue 1, progress 50 %; P2: 1 open; P3: 1 open.
    // Exceptions:
    // - E1 mfa on web-02, 1 January → 20 April: 19 days left on 1 April → expiring;
    // - E2 disk_encryption on the fleet, granted 10 March → 31 December → active, granted in March;
    // - E3 patch_age on db-01, 1 December → 15 March → expired in March.
    store
        .write(|c| {
            let created = ts("2026-03-01T08:00:00Z");
            let action = |title: &str, priority, due: &str| store::actions::NewAction {
                title: title.into(),
                priority,
                due: day(due),
                owner: "ops".into(),
                budget: None,
                risks: vec![],
            };
            store::actions::insert(
                c,
                &action("Activer la MFA sur le VPN", Priority::P1, "2026-03-20"),
                created,
            )?;
            let a2 = store::actions::insert(
                c,
                &action(
                    "Corriger le serveur de fichiers",
                    Priority::P1,
                    "2026-03-25",
                ),
                created,
            )?;
            store::actions::insert(
                c,
                &action("Chiffrer les portables", Priority::P2, "2026-05-30"),
                created,
            )?;
            let a4 = store::actions::insert(
                c,
                &action("Test d'intrusion annuel", Priority::P3, "2026-12-31"),
                created,
            )?;
            let ev = Evidence {
                sha256: None,
                file_name: None,
                url: Some("https://tickets.example/1".into()),
            };
            store::actions::close(c, a2, &ev, "alice", ts("2026-03-24T16:00:00Z"))?;
            store::actions::close(c, a4, &ev, "alice", ts("2026-04-03T16:00:00Z"))?;
            let exc = |check: &str, scope, value: &str, starts: &str, expires: &str| NewException {
                check: check.into(),
                scope,
                scope_value: value.into(),
                host_patterns: if value.is_empty() {
                    vec!["*".into()]
                } else {
                    vec![value.into()]
                },
                reason: format!("dérogation {check}"),
                requester: "ops".into(),
                approver: "alice".into(),
                starts_at: ts(starts),
                expires_at: ts(expires),
            };
            let e1 = exc(
                "mfa",
                ScopeKind::Host,
                "web-02",
                "2026-01-01T00:00:00Z",
                "2026-04-20T00:00:00Z",
            );
            store::exceptions::insert(c, &e1, e1.starts_at)?;
            let e2 = exc(
                "disk_encryption",
                ScopeKind::Fleet,
                "",
                "2026-03-10T00:00:00Z",
                "2026-12-31T00:00:00Z",
            );
            store::exceptions::insert(c, &e2, e2.starts_at)?;
            let e3 = exc(
                "patch_age",
                ScopeKind::Host,
                "db-01",
                "2025-12-01T00:00:00Z",
                "2026-03-15T00:00:00Z",
            );
            store::exceptions::insert(c, &e3, e3.starts_at)?;
            Ok(())
        })
        .await
        .unwrap();
    identity_fixture(&store).await;
    store.shutdown();
    db
}

/// One account of an identity sync: `(id, login, display name, kind, admin, status)`.
fn id_row(
    source: &str,
    (id, login, name, kind, admin, status): (&str, &str, &str, &str, bool, &str),
) -> store::identities::IdentityRow {
    store::identities::IdentityRow {
        source: source.into(),
        account_id: id.into(),
        login: login.into(),
        display_name: name.into(),
        kind: kind.into(),
        enabled: status != "not_applicable",
        admin,
        mfa: match status {
            "pass" => "strong",
            "warn" => "weak_only",
            "fail" => "none",
            _ => "unknown",
        }
        .into(),
        enforced: None,
        status: status.into(),
        evidence: "{}".into(),
        first_seen: 0,
        last_seen: 0,
        without_mfa_since: None,
        status_since: 0,
    }
}

/// Identity syncs (through the store's own `apply_sync` / `record_failure`):
/// - `entra`, 27 February 06:00: alice (admin) pass, bob fail, carol weak only, dave pass, the guest
///   gina fail → February: 2 strong of 4 members = 50 %.
/// - `entra`, 31 March 18:00: alice (admin) **fail**, bob pass, carol weak only, dave pass, erin
///   (new) pass, gina fail, frank disabled → March: 3 of 5 = 60 %, 1 admin of 1 without MFA.
/// - `entra`, 2 April: alice pass again — after the period: March must still show her without.
/// - `github`, 10 March 12:00: octo pass, dev fail, an outside collaborator pass → 1 of 2 = 50 %;
///   30 March 12:00: failed (401) → stale at the end of March, shown but not judged.
///
/// Overall March: (3 + 1) / (5 + 2) = 4/7 ≈ 57.1 %, stale (github); January: no sync → no data.
async fn identity_fixture(store: &Store) {
    store
        .write(|c| {
            use store::identities::{apply_sync, record_failure};
            let e = |rows: &[(&str, &str, &str, &str, bool, &str)]| {
                rows.iter().map(|r| id_row("entra", *r)).collect::<Vec<_>>()
            };
            apply_sync(
                c,
                "entra",
                "entra",
                ts("2026-02-27T06:00:00Z"),
                None,
                &e(&[
                    (
                        "a1",
                        "alice@exemple.fr",
                        "Alice Martin",
                        "member",
                        true,
                        "pass",
                    ),
                    (
                        "a2",
                        "bob@exemple.fr",
                        "Bob Durand",
                        "member",
                        false,
                        "fail",
                    ),
                    (
                        "a3",
                        "carol@exemple.fr",
                        "Carole Petit",
                        "member",
                        false,
                        "warn",
                    ),
                    (
                        "a4",
                        "dave@exemple.fr",
                        "David Roux",
                        "member",
                        false,
                        "pass",
                    ),
                    (
                        "g1",
                        "gina@partenaire.fr",
                        "Gina Invitée",
                        "guest",
                        false,
                        "fail",
                    ),
                ]),
            )?;
            let march = [
                (
                    "a1",
                    "alice@exemple.fr",
                    "Alice Martin",
                    "member",
                    true,
                    "fail",
                ),
                (
                    "a2",
                    "bob@exemple.fr",
                    "Bob Durand",
                    "member",
                    false,
                    "pass",
                ),
                (
                    "a3",
                    "carol@exemple.fr",
                    "Carole Petit",
                    "member",
                    false,
                    "warn",
                ),
                (
                    "a4",
                    "dave@exemple.fr",
                    "David Roux",
                    "member",
                    false,
                    "pass",
                ),
                (
                    "a5",
                    "erin@exemple.fr",
                    "Erine Blanc",
                    "member",
                    false,
                    "pass",
                ),
                (
                    "g1",
                    "gina@partenaire.fr",
                    "Gina Invitée",
                    "guest",
                    false,
                    "fail",
                ),
                (
                    "a6",
                    "frank@exemple.fr",
                    "Franck Noir",
                    "member",
                    false,
                    "not_applicable",
                ),
            ];
            apply_sync(
                c,
                "entra",
                "entra",
                ts("2026-03-31T18:00:00Z"),
                None,
                &e(&march),
            )?;
            let mut april = march;
            april[0].5 = "pass";
            apply_sync(
                c,
                "entra",
                "entra",
                ts("2026-04-02T06:00:00Z"),
                None,
                &e(&april),
            )?;
            let g = |rows: &[(&str, &str, &str, &str, bool, &str)]| {
                rows.iter()
                    .map(|r| id_row("github", *r))
                    .collect::<Vec<_>>()
            };
            apply_sync(
                c,
                "github",
                "github",
                ts("2026-03-10T12:00:00Z"),
                Some(true),
                &g(&[
                    ("1", "octo", "Octave Lenoir", "member", false, "pass"),
                    ("2", "dev", "", "member", false, "fail"),
                    ("3", "extern", "", "outside_collaborator", false, "pass"),
                ]),
            )?;
            record_failure(
                c,
                "github",
                "github",
                ts("2026-03-30T12:00:00Z"),
                "https://api.github.com/orgs/exemple: HTTP 401: Bad credentials",
            )?;
            Ok(())
        })
        .await
        .unwrap();
}

fn config(db: &Path) -> CollectorConfig {
    let mut cfg = CollectorConfig::default();
    cfg.storage.data_dir = db.parent().unwrap().to_path_buf();
    cfg.kpi.mttd_target_hours = Some(3.0);
    cfg.kpi.mttr_target_hours = Some(24.0);
    cfg.kpi.cis_target = Some(0.6);
    cfg
}

fn golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/golden/report")
        .join(name);
    if std::env::var_os("VIGIE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with VIGIE_BLESS=1 to create it",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{} differs from the output at line {}:\nwant: {:?}\n got: {:?}\n(VIGIE_BLESS=1 rewrites it; review the diff)",
            path.display(),
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[tokio::test]
async fn monthly_report_numbers_and_goldens() {
    let d = tempfile::tempdir().unwrap();
    let db = fixture(d.path()).await;
    let cfg = config(&db);
    let r = build(&db, &cfg, "2026-03", t(NOW)).unwrap();
    assert!(r.complete);
    assert_eq!(r.period.end, t("2026-04-01T00:00:00Z"));
    assert_eq!((r.fleet.enrolled, r.fleet.reported), (5, 4));
    let ind = |n: &str| r.indicators.iter().find(|i| i.name == n).unwrap();
    // patch_sla from the 31 March snapshot (not the 15 March one), previous = February's 0.90.
    let p = ind("patch_sla");
    assert!((p.value.unwrap() - 0.92).abs() < 1e-9);
    assert!((p.previous.unwrap() - 0.90).abs() < 1e-9);
    assert_eq!(p.trend.len(), 12);
    assert_eq!(p.trend[0].month, "2025-04");
    assert_eq!(p.trend[3].value, None, "no snapshot in July 2025");
    assert_eq!(ind("training_coverage").value, Some(0.5));
    assert_eq!(ind("mttd").value, Some(14_400.0));
    assert_eq!(ind("mttd").status, crate::kpi::KpiStatus::NotMet);
    assert_eq!(ind("mttr").value, Some(50_400.0));
    assert_eq!(ind("mttr").status, crate::kpi::KpiStatus::Met);
    assert_eq!(ind("personal_data_72h").value, Some(0.5));
    assert_eq!(ind("cis.overall").value, Some(55.5));
    assert_eq!(ind("cis.overall").target, Some(60.0));
    assert_eq!(ind("cis.overall").status, crate::kpi::KpiStatus::NotMet);
    assert_eq!(
        (r.cis.target, r.cis.status),
        (Some(60.0), ind("cis.overall").status)
    );
    // March is closed: nothing is provisional.
    assert!(r.indicators.iter().all(|i| !i.provisional));
    // Training: March and February from their snapshots, earlier months without data.
    let tr = ind("training_coverage");
    assert_eq!(tr.previous, Some(0.25));
    assert_eq!(tr.trend[9].value, None, "no snapshot in January");
    // Points of attention, most urgent first: the overdue notification, the open crisis
    // incident (INC-3) and the high/critical risks before the indicators under target.
    let urgency: Vec<_> = r.summary.iter().map(|h| h.urgency()).collect();
    assert!(urgency.windows(2).all(|w| w[0] <= w[1]), "{:?}", r.summary);
    let pos = |f: &dyn Fn(&crate::report::model::Highlight) -> bool| {
        r.summary.iter().position(f).unwrap()
    };
    use crate::report::model::Highlight as H;
    assert!(
        pos(&|h| matches!(h, H::IncidentsOpen { .. })) < pos(&|h| matches!(h, H::NotMet { .. }))
    );
    assert_eq!(
        (
            r.incidents.detected,
            r.incidents.resolved,
            r.incidents.open_at_end
        ),
        (3, 2, 1)
    );
    let ids: Vec<_> = r
        .incidents
        .incidents
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(ids, ["INC-1", "INC-2", "INC-3"]);
    assert_eq!(r.cis.overall.change, Some(5.5));
    let c7 = &r.cis.controls[6];
    assert_eq!(
        (c7.score.change, c7.assessed, c7.total, r.cis.ig),
        (Some(10.0), 2, 4, Some(1))
    );
    let mfa = r.coverage.iter().find(|c| c.check == "mfa").unwrap();
    assert_eq!(
        (mfa.pass, mfa.fail, mfa.ratio, mfa.previous),
        (3, 1, Some(0.75), Some(0.5))
    );
    // Risks: R1 critical (high at the start), R5 high (new, fleet), R2 new; changes in March:
    // R2's and R5's creations and R1's raise.
    assert_eq!(r.risks.top.len(), 3);
    assert_eq!(
        r.risks.top[1].title_check.as_deref(),
        Some("backup_freshness")
    );
    assert_eq!(
        (r.risks.top[0].level, r.risks.top[0].level_before),
        (Level::Critical, Some(Level::High))
    );
    assert_eq!(r.risks.top[2].level_before, None);
    assert_eq!(r.risks.open_by_level[&Level::Critical], 1);
    assert_eq!(
        r.risks.changes.len(),
        3,
        "R2's and R5's creations and R1's raise"
    );
    let p1 = &r.actions.by_priority[0];
    assert_eq!(
        (
            p1.planned,
            p1.done,
            p1.done_in_month,
            p1.overdue,
            p1.progress
        ),
        (2, 1, 1, 1, Some(0.5))
    );
    assert_eq!(
        r.actions.by_priority[2].open, 1,
        "A4 closed after the period"
    );
    let e = &r.exceptions;
    assert_eq!(
        (e.active, e.expiring, e.granted_in_month, e.expired_in_month),
        (1, 1, 1, 1)
    );

    golden("monthly-2026-03.fr.md", &render(&r, Format::Md, Lang::Fr));
    golden("monthly-2026-03.en.md", &render(&r, Format::Md, Lang::En));
    golden("monthly-2026-03.json", &render(&r, Format::Json, Lang::Fr));
    let html = render(&r, Format::Html, Lang::Fr);
    assert!(html.contains("<svg") && html.contains("@media print"));
    // Every generated sentence of the French report is French: no English-only word in the text
    // of the HTML page or the Markdown (the fixture's own data is French too).
    let md = render(&r, Format::Md, Lang::Fr);
    for (what, text) in [("html", visible_text(&html)), ("md", md.clone())] {
        let found = english_words(&text);
        assert!(
            found.is_empty(),
            "English in the French {what}: {found:?}\n{text}"
        );
    }
    // The fleet risk's note names its most critical failing host.
    assert!(
        md.contains("poste en échec le plus critique : db-01 (criticité 4)"),
        "{md}"
    );
    assert!(md.contains("niveau : élevé → critique"), "{md}");
    for bad in ["http://", "https://", "src=", "<script", "@import", "url("] {
        // The evidence URL of an action is not shown in the report.
        assert!(!html.contains(bad), "HTML contains {bad}");
    }
}

/// The identity section is March's (replayed, not today's), judges no stale source, and shows
/// a month without a sync as no data — never 0 %.
#[tokio::test]
async fn identity_section_is_that_months_and_never_flattering() {
    use super::identities::{StaleReason, TargetStatus};
    use crate::report::model::Highlight as H;
    let d = tempfile::tempdir().unwrap();
    let db = fixture(d.path()).await;
    let r = build(&db, &config(&db), "2026-03", t(NOW)).unwrap();
    let s = r
        .identities
        .as_ref()
        .expect("the identity section is in the report");
    let src = |n: &str| s.sources.iter().find(|x| x.source == n).unwrap();
    let entra = src("entra");
    assert_eq!(entra.last_success_at, Some(t("2026-03-31T18:00:00Z")));
    assert_eq!(entra.stale, None);
    let c = &entra.counts;
    assert_eq!(
        (
            c.members,
            c.strong,
            c.weak_only,
            c.without_mfa,
            c.admins,
            c.admins_without_mfa
        ),
        (5, 3, 1, 1, 1, 1),
        "alice lost MFA in March and regained it on 2 April: March shows her without"
    );
    assert_eq!((c.guests, c.guests_without_mfa), (1, 1));
    assert_eq!(c.coverage, Some(0.6));
    assert_eq!(entra.status, TargetStatus::NotMet);
    // github: 50 % from 10 March, then a failed sync: shown, not judged.
    let gh = src("github");
    assert_eq!(gh.counts.coverage, Some(0.5));
    assert_eq!(gh.status, TargetStatus::Stale);
    assert!(
        matches!(&gh.stale, Some(StaleReason::LastSyncFailed { error, .. }) if error.contains("401")),
        "{:?}",
        gh.stale
    );
    assert_eq!(s.overall.coverage, Some(4.0 / 7.0));
    assert_eq!(
        s.status,
        TargetStatus::Stale,
        "one stale source: the whole is not judged"
    );
    // Trend: February entra only 2/4; March 4/7; January (no sync) no data, not 0.
    let point = |m: &str| s.trend.iter().find(|p| p.month == m).unwrap();
    assert_eq!(point("2026-02").value, Some(0.5));
    assert_eq!(point("2026-03").value, Some(4.0 / 7.0));
    assert_eq!(point("2026-01").value, None);
    assert_eq!(point("2026-01").status, crate::kpi::KpiStatus::NoData);
    assert_eq!(s.trend.len(), 12);
    // Accounts without a strong second factor: the admin first, then the others without, then
    // weak-only.
    let names: Vec<(&str, &str)> = s
        .accounts
        .iter()
        .map(|a| (a.login.as_str(), a.status.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("alice@exemple.fr", "fail"),
            ("gina@partenaire.fr", "fail"),
            ("dev", "fail"),
            ("carol@exemple.fr", "warn")
        ]
    );
    assert!(r
        .summary
        .iter()
        .any(|h| matches!(h, H::AdminsWithoutMfa { count: 1 })));
    assert!(r
        .summary
        .iter()
        .any(|h| matches!(h, H::IdentityStale { sources } if sources == &["github"])));
    assert!(
        !r.summary
            .iter()
            .any(|h| matches!(h, H::IdentityNotMet { .. })),
        "a stale whole is not judged"
    );
    // The rendered section names the accounts and says why github is not current.
    for lang in [Lang::Fr, Lang::En] {
        let md = render(&r, Format::Md, lang);
        assert!(
            md.contains("Alice Martin") && md.contains("alice@exemple.fr"),
            "{md}"
        );
        assert!(md.contains("HTTP 401: Bad credentials"), "{md}");
    }
    let md = render(&r, Format::Md, Lang::En);
    assert!(md.contains("stale data: not judged"), "{md}");
    assert!(
        !md.contains(
            "| github | 2026-03-10 12:00 UTC | 2 | 1 | 0 | 1 | 0 | 50.0% | 0 | 0 | 1 (0) | not met"
        ),
        "{md}"
    );
    // A month with no sync anywhere (January): sources never synced by then, no data, no 0 %.
    let jan = build(&db, &config(&db), "2026-01", t(NOW)).unwrap();
    let s = jan.identities.unwrap();
    assert_eq!(s.status, TargetStatus::NoData);
    assert!(s
        .sources
        .iter()
        .all(|x| x.stale == Some(StaleReason::NeverSynced)
            && x.status == TargetStatus::NoData
            && x.counts.coverage.is_none()));
    assert!(s.accounts.is_empty());
}

/// Words that are English and not French: a French report containing one has let an English
/// sentence through.
const ENGLISH_ONLY: &[&str] = &[
    "the",
    "of",
    "and",
    "with",
    "fail",
    "fails",
    "failing",
    "host",
    "hosts",
    "evaluated",
    "level",
    "likelihood",
    "high",
    "medium",
    "low",
    "critical",
    "new",
    "open",
    "closed",
    "fleet",
    "clean",
    "most",
    "data",
    "account",
    "takeover",
    "through",
    "missing",
    "loss",
    "beyond",
    "after",
    "snapshot",
    "provisional",
    "computed",
    "live",
    "target",
    "overall",
    "month",
    "no",
    "not",
    "met",
    "owner",
    "status",
    "review",
    "next",
    "treatment",
    "reduce",
    "assets",
    "whole",
    "expiring",
    "scope",
    "criticality",
    "failures",
    "group",
    "changed",
    "what",
    "when",
    "who",
];

fn english_words(text: &str) -> Vec<String> {
    let mut found: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| ENGLISH_ONLY.contains(&w.as_str()))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The text a reader sees in an HTML page: no style sheet, no tags.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("<style") {
        out.push_str(&rest[..i]);
        rest = rest[i..]
            .find("</style>")
            .map_or("", |j| &rest[i + j + "</style>".len()..]);
    }
    out.push_str(rest);
    let mut text = String::new();
    let mut in_tag = false;
    for c in out.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// Training coverage with a roster that changed mid-year, through the real daily snapshot:
/// - January: P1–P4 active, P1 and P2 trained on 10 January → 2 / 4 = 0.5, snapshot on 31 January;
/// - July: P1 and P2 have left (inactive), P5–P8 joined; P5 trained on 10 July; active P3–P8 = 6,
///   covered P5 → 1 / 6, snapshot on 31 July.
///
/// The July report's January point is 0.5, what was known then. Replaying today's roster
/// backwards would give 0 / 6 = 0 (P1 and P2 are no longer active, P3–P8 had no completion).
#[tokio::test]
async fn training_trend_comes_from_what_was_known_each_month() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("vigie.db");
    let store = std::sync::Arc::new(Store::open(&db, 64).unwrap());
    let cfg = config(&db);
    let person = |i: u32, active: bool| Person {
        person_id: format!("P{i}"),
        name: format!("Person {i}"),
        email: format!("p{i}@example.org"),
        department: "ops".into(),
        active,
    };
    let trained = |ids: &[&str], on: &str| -> Vec<Completion> {
        ids.iter()
            .map(|p| Completion {
                person_id: p.to_string(),
                course: "Sensibilisation".into(),
                completed_on: day(on),
            })
            .collect()
    };
    let january: Vec<Person> = (1..=4).map(|i| person(i, true)).collect();
    let done = trained(&["P1", "P2"], "2026-01-10");
    store
        .write(move |c| {
            store::registers::upsert_people(c, &january, 0)?;
            store::registers::insert_completions(c, &done, 0)?;
            Ok(())
        })
        .await
        .unwrap();
    crate::kpi::evaluation::take_snapshot(store.clone(), cfg.clone(), t("2026-01-31T23:00:00Z"))
        .await
        .unwrap();
    let july: Vec<Person> = (1..=8).map(|i| person(i, i > 2)).collect();
    let done = trained(&["P5"], "2026-07-10");
    store
        .write(move |c| {
            store::registers::upsert_people(c, &july, 0)?;
            store::registers::insert_completions(c, &done, 0)?;
            Ok(())
        })
        .await
        .unwrap();
    crate::kpi::evaluation::take_snapshot(store.clone(), cfg.clone(), t("2026-07-31T23:00:00Z"))
        .await
        .unwrap();
    drop(store);
    let r = build(&db, &cfg, "2026-07", t("2026-08-05T12:00:00Z")).unwrap();
    let tr = r
        .indicators
        .iter()
        .find(|i| i.name == "training_coverage")
        .unwrap();
    let point = |m: &str| tr.trend.iter().find(|p| p.month == m).unwrap().value;
    assert_eq!(point("2026-01"), Some(0.5));
    assert_eq!(
        point("2026-04"),
        None,
        "no snapshot in April: no data, not a replay"
    );
    assert_eq!(point("2026-07"), Some(1.0 / 6.0));
    assert_eq!(tr.value, Some(1.0 / 6.0));
}

/// Day one: the collector's first snapshot was taken at start-up, before any agent reported
/// (every KPI without data). The report of the month in progress computes today's figures live
/// and marks them provisional instead of saying "no data".
#[tokio::test]
async fn the_month_in_progress_is_computed_live_and_provisional() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("vigie.db");
    let store = std::sync::Arc::new(Store::open(&db, 64).unwrap());
    let cfg = config(&db);
    // Start-up snapshot at 08:00 on 3 December: no host yet.
    crate::kpi::evaluation::take_snapshot(store.clone(), cfg.clone(), t("2026-12-03T08:00:00Z"))
        .await
        .unwrap();
    // Two hosts report at 09:00 (patch_age pass on both → patch_sla 2 / 2 = 1).
    for name in ["web-01", "web-02"] {
        let (id, report) = host_report(name, t("2026-12-03T09:00:00Z"));
        let key = name.as_bytes().to_vec();
        let at = ts("2026-12-03T09:00:00Z");
        store
            .write(move |c| {
                let e = store::hosts::enroll(c, &id, &key, Some(3600), true, at)?;
                store::ingest::apply_report(c, e.host_id(), &report, at)
            })
            .await
            .unwrap();
    }
    drop(store);
    let r = build(&db, &cfg, "2026-12", t("2026-12-03T10:00:00Z")).unwrap();
    assert!(!r.complete);
    let p = r.indicators.iter().find(|i| i.name == "patch_sla").unwrap();
    assert_eq!(p.value, Some(1.0));
    assert!(p.provisional);
    assert_eq!(
        p.basis,
        crate::report::model::Basis::Live {
            day: "2026-12-03".into()
        }
    );
    let mfa = r.coverage.iter().find(|c| c.check == "mfa").unwrap();
    assert_eq!((mfa.pass, mfa.ratio), (2, Some(1.0)));
    let md = render(&r, Format::Md, Lang::Fr);
    assert!(md.contains("100,0\u{a0}% (provisoire)"), "{md}");
    assert!(md.contains("calculé en direct au 3 décembre 2026"), "{md}");
    let html = render(&r, Format::Html, Lang::Fr);
    for text in [md, visible_text(&html)] {
        assert_eq!(english_words(&text), Vec::<String>::new(), "{text}");
    }
}

#[tokio::test]
async fn files_are_idempotent_and_named_with_the_month() {
    let d = tempfile::tempdir().unwrap();
    let db = fixture(d.path()).await;
    let cfg = config(&db);
    let out = d.path().join("out");
    let args = MonthlyArgs {
        month: "2026-03".into(),
        out: out.clone(),
        format: vec![Format::Json, Format::Html, Format::Md, Format::Html],
        lang: Lang::En,
        verbose: false,
        print: false,
    };
    let first = monthly(&cfg, &args, t(NOW)).unwrap();
    let names: Vec<_> = first
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "vigie-report-2026-03.en.html",
            "vigie-report-2026-03.en.md",
            "vigie-report-2026-03.json"
        ]
    );
    let read = |p: &PathBuf| std::fs::read(p).unwrap();
    let before: Vec<_> = first.iter().map(read).collect();
    // A day later: same month, same bytes.
    let second = monthly(&cfg, &args, t("2026-04-06T09:00:00Z")).unwrap();
    assert_eq!(second.iter().map(read).collect::<Vec<_>>(), before);
    // No temporary file left behind.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 3);
}

#[tokio::test]
async fn failures_have_messages_and_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let db = fixture(d.path()).await;
    let cfg = config(&db);
    let args = |month: &str, out: PathBuf| MonthlyArgs {
        month: month.into(),
        out,
        format: vec![Format::Md],
        lang: Lang::Fr,
        verbose: false,
        print: false,
    };
    let e = monthly(&cfg, &args("2026-13", d.path().join("o")), t(NOW)).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("YYYY-MM"), "{e}");
    let e = monthly(&cfg, &args("2026-05", d.path().join("o")), t(NOW)).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("has not started"), "{e}");
    // Missing database.
    let mut missing = cfg.clone();
    missing.storage.data_dir = d.path().join("nowhere");
    let e = monthly(&missing, &args("2026-03", d.path().join("o")), t(NOW)).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("no database here"), "{e}");
    // Output directory that is a file.
    let file = d.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let e = monthly(&cfg, &args("2026-03", file.clone()), t(NOW)).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains(&file.display().to_string()), "{e}");
}
