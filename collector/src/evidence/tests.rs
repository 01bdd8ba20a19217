//! Tests of the whole export over a small store whose expected content is worked out by hand, and
//! of verification against tampered bundles.
//!
//! The fixture, period 2026-03-01..=2026-03-03 (end = 2026-03-04T00:00Z):
//! - hosts: 1 `web1` (enrolled 02-01), 2 `db1` (enrolled 03-02 10:00), 3 `old` (enrolled 01-01);
//! - transitions: web1 patch_age pass (02-10) → fail (03-02 08:00, evidence aa…) → pass (03-04
//!   09:00, after the period, evidence cc…); web1 mfa pass (02-10); db1 patch_age fail (03-02
//!   11:00, evidence bb…); db1 mfa not_applicable (03-02 11:00); old patch_age pass (01-05,
//!   evidence dd…); web1 disk_encryption error (03-05, after the period);
//! - daily: web1 03-01 ×24, 03-03 ×20; db1 03-02 ×5, 03-03 ×24; old none;
//! - incidents: INC-1 detected 02-20 resolved 03-01 12:00 (in), INC-2 resolved 02-15 (out),
//!   INC-3 detected 03-02, open (in);
//! - people p1, p2 active, p3 inactive; completions p1 03-02 (in the period and the window),
//!   p2 2025-01-01 (before the 365-day window starting 2025-03-04);
//! - KPI snapshots patch_sla on 02-28 (out), 03-01 and 03-03 (in);
//! - exceptions: 1 patch_age on web1, 02-01 to 04-01 (in); 2 mfa fleet-wide, expired 02-15 (out);
//!   3 patch_age, revoked 02-20 (out);
//! - actions: 1 done 03-02 with evidence ee… approved by rssi, linked to risk 1 (in); 2 done 02-10
//!   (out); 3 open (out).

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use rusqlite::{params, Connection};
use sha2::Digest;

use super::bundle::{MANIFEST, PUBLIC_KEY, SIGNATURE};
use super::{export, ExportError, ExportRequest};

fn ts(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The fixture store (a migrated in-memory database).
pub(crate) fn fixture() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    crate::store::migrations::migrate(&mut c).unwrap();
    for (id, name, enrolled) in [
        (1, "web1", "2026-02-01T00:00:00Z"),
        (2, "db1", "2026-03-02T10:00:00Z"),
        (3, "old", "2026-01-01T00:00:00Z"),
    ] {
        c.execute(
            "INSERT INTO hosts(id, machine_id, hostname, node_key_hash, enrolled_at, last_seen_at)
             VALUES (?1, ?2, ?2, ?3, ?4, ?4)",
            params![id, name, vec![id as u8], ts(enrolled)],
        )
        .unwrap();
    }
    let t = [
        (1, "patch_age", None, "pass", "2026-02-10T00:00:00Z", "[]"),
        (
            1,
            "patch_age",
            Some("pass"),
            "fail",
            "2026-03-02T08:00:00Z",
            "[\"aa\"]",
        ),
        (
            1,
            "patch_age",
            Some("fail"),
            "pass",
            "2026-03-04T09:00:00Z",
            "[\"cc\"]",
        ),
        (1, "mfa", None, "pass", "2026-02-10T00:00:00Z", "[]"),
        (
            2,
            "patch_age",
            None,
            "fail",
            "2026-03-02T11:00:00Z",
            "[\"bb\"]",
        ),
        (
            2,
            "mfa",
            None,
            "not_applicable",
            "2026-03-02T11:00:00Z",
            "[]",
        ),
        (
            3,
            "patch_age",
            None,
            "pass",
            "2026-01-05T00:00:00Z",
            "[\"dd\"]",
        ),
        (
            1,
            "disk_encryption",
            None,
            "error",
            "2026-03-05T00:00:00Z",
            "[]",
        ),
    ];
    for (i, (h, check, from, to, at, ev)) in t.iter().enumerate() {
        c.execute(
            "INSERT INTO transitions(host_id, check_name, from_status, to_status, at, report_id,
                                     summary, evidence)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                h,
                check,
                from,
                to,
                ts(at),
                format!("r{i}"),
                format!("{check} is {to}"),
                ev
            ],
        )
        .unwrap();
    }
    for (sha, excerpt) in [
        ("aa", "Inst openssl [3.0.1] (3.0.2 Debian-Security)"),
        ("bb", "Inst libc6 <2.36>"),
        ("cc", "nothing pending"),
        ("dd", "all up to date"),
    ] {
        c.execute(
            "INSERT INTO evidence(sha256, kind, source, excerpt) VALUES (?1, 'command', 'apt-get -s upgrade', ?2)",
            params![sha, excerpt],
        )
        .unwrap();
    }
    for (h, d, n) in [
        (1, "2026-03-01", 24),
        (1, "2026-03-03", 20),
        (2, "2026-03-02", 5),
        (2, "2026-03-03", 24),
        (1, "2026-02-28", 24),
    ] {
        c.execute(
            "INSERT INTO daily(host_id, day, reports, first_seen, last_seen) VALUES (?1, ?2, ?3, 0, 0)",
            params![h, d, n],
        )
        .unwrap();
    }
    for (id, detected, resolved) in [
        (
            "INC-1",
            "2026-02-20T00:00:00Z",
            Some("2026-03-01T12:00:00Z"),
        ),
        (
            "INC-2",
            "2026-02-01T00:00:00Z",
            Some("2026-02-15T00:00:00Z"),
        ),
        ("INC-3", "2026-03-02T00:00:00Z", None),
    ] {
        c.execute(
            "INSERT INTO incidents(id, title, type, severity, detected_at, resolved_at, created_at,
                                   updated_at)
             VALUES (?1, ?1, 'phishing', 'major', ?2, ?3, 0, 0)",
            params![id, ts(detected), resolved.map(ts)],
        )
        .unwrap();
    }
    for (p, active) in [("p1", true), ("p2", true), ("p3", false)] {
        c.execute(
            "INSERT INTO people(person_id, name, email, department, active, updated_at)
             VALUES (?1, ?1, ?1, 'IT', ?2, 0)",
            params![p, active],
        )
        .unwrap();
    }
    for (p, d) in [("p1", "2026-03-02"), ("p2", "2025-01-01")] {
        c.execute(
            "INSERT INTO training_completions(person_id, course, completed_on, imported_at)
             VALUES (?1, 'Cyber 101', ?2, 0)",
            params![p, d],
        )
        .unwrap();
    }
    for (d, v) in [
        ("2026-02-28", 1.0),
        ("2026-03-01", 0.9),
        ("2026-03-03", 0.8),
    ] {
        c.execute(
            "INSERT INTO kpi_snapshots(day, kpi, value, target, status, detail, taken_at)
             VALUES (?1, 'patch_sla', ?2, 1.0, 'not_met', '{}', 0)",
            params![d, v],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO risks(id, source, title, likelihood, impact, level, treatment, owner, status,
                           next_review, created_at, updated_at)
         VALUES (1, 'manual', 'Unpatched servers', 3, 3, 'high', 'reduce', 'dsi', 'open',
                 '2026-06-01', 0, 0)",
        [],
    )
    .unwrap();
    for (id, check, scope, value, starts, expires, revoked) in [
        (
            1,
            "patch_age",
            "host",
            "web1",
            "2026-02-01T00:00:00Z",
            "2026-04-01T00:00:00Z",
            None,
        ),
        (
            2,
            "mfa",
            "fleet",
            "",
            "2026-01-01T00:00:00Z",
            "2026-02-15T00:00:00Z",
            None,
        ),
        (
            3,
            "patch_age",
            "fleet",
            "",
            "2026-02-01T00:00:00Z",
            "2026-05-01T00:00:00Z",
            Some("2026-02-20T00:00:00Z"),
        ),
    ] {
        c.execute(
            "INSERT INTO exceptions(id, check_name, scope_kind, scope_value, host_patterns, reason,
                                    requester, approver, starts_at, expires_at, revoked_at,
                                    revoked_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, '[]', 'legacy app', 'ops', 'rssi', ?5, ?6, ?7,
                     CASE WHEN ?7 IS NULL THEN NULL ELSE 'rssi' END, 0, 0)",
            params![
                id,
                check,
                scope,
                value,
                ts(starts),
                ts(expires),
                revoked.map(ts)
            ],
        )
        .unwrap();
    }
    for (id, status, closed, sha) in [
        (1, "done", Some("2026-03-02T15:00:00Z"), Some("ee")),
        (2, "done", Some("2026-02-10T00:00:00Z"), Some("ff")),
        (3, "open", None, None),
    ] {
        c.execute(
            "INSERT INTO actions(id, title, priority, due, owner, status, evidence_sha256,
                                 evidence_file_name, approver, closed_at, created_at, updated_at)
             VALUES (?1, 'Patch web1', 'p1', '2026-03-15', 'ops', ?2, ?3, 'report.pdf',
                     CASE WHEN ?4 IS NULL THEN NULL ELSE 'rssi' END, ?4, 0, 0)",
            params![id, status, sha, closed.map(ts)],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO action_risks(action_id, risk_id) VALUES (1, 1)",
        [],
    )
    .unwrap();
    c
}

pub(super) fn request() -> ExportRequest {
    ExportRequest {
        from: day("2026-03-01"),
        to: day("2026-03-03"),
        control: None,
        hostnames: None,
        awareness_courses: vec![],
        identity: Default::default(),
    }
}

pub(super) fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub(super) fn bundle(conn: &Connection, req: &ExportRequest) -> Vec<u8> {
    export(conn, req, &key(), Cursor::new(Vec::new()))
        .unwrap()
        .into_inner()
}

fn entries(zip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..a.len() {
        let mut f = a.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().to_string(), b);
    }
    out
}

fn text(e: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    String::from_utf8(e.get(name).unwrap_or_else(|| panic!("no {name}")).clone()).unwrap()
}

/// A new zip with `entries` in the given order.
pub(super) fn rezip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

pub(super) fn ordered(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut b = Vec::new();
            f.read_to_end(&mut b).unwrap();
            (f.name().to_string(), b)
        })
        .collect()
}

#[test]
fn re_export_is_byte_identical_and_entries_are_sorted() {
    let c = fixture();
    let a = bundle(&c, &request());
    let b = bundle(&c, &request());
    assert_eq!(
        sha2::Sha256::digest(&a),
        sha2::Sha256::digest(&b),
        "same data, same bytes"
    );
    let names: Vec<String> = ordered(&a).into_iter().map(|(n, _)| n).collect();
    let (content, trust) = names.split_at(names.len() - 2);
    assert_eq!(trust, [MANIFEST, SIGNATURE]);
    let mut sorted = content.to_vec();
    sorted.sort();
    assert_eq!(content, sorted.as_slice(), "content entries in path order");
    // Every entry carries the --to date as its modification time.
    let mut z = zip::ZipArchive::new(Cursor::new(&a)).unwrap();
    let t = z.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!((t.year(), t.month(), t.day(), t.hour()), (2026, 3, 3, 0));
}

#[test]
fn content_matches_the_hand_worked_fixture() {
    let c = fixture();
    let e = entries(&bundle(&c, &request()));
    let data: serde_json::Value = serde_json::from_slice(&e["data.json"]).unwrap();
    // Results at the end: patch_age web1 fail (03-02 08:00), db1 fail, old pass; mfa web1 pass,
    // db1 not_applicable; disk_encryption's only transition is after the period: none.
    let results: Vec<(String, String, String)> = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["check"].as_str().unwrap().into(),
                r["hostname"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("mfa", "db1", "not_applicable"),
        ("mfa", "web1", "pass"),
        ("patch_age", "db1", "fail"),
        ("patch_age", "old", "pass"),
        ("patch_age", "web1", "fail"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(results, want);
    assert_eq!(data["results"][4]["since"], "2026-03-02T08:00:00Z");
    // Transitions inside the period: web1 pass→fail, db1 →fail (patch_age), db1 →n/a (mfa) = 3.
    assert_eq!(data["transitions"].as_array().unwrap().len(), 3);
    // Evidence: aa (in-period transition), bb (idem), dd (old's end state); not cc (after).
    let shas: Vec<&str> = data["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(shas, ["aa", "bb", "dd"]);
    assert!(text(&e, "evidence.html").contains("Inst openssl [3.0.1]"));
    // Safeguard 7.3 (patch_age): 1 pass of 3 in scope → not satisfied; 6.3 (mfa): 1 of 1 (db1 is
    // not applicable) → satisfied; 3.6 (disk_encryption): no result → no data.
    let sg = |id: &str| {
        data["safeguards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (sg("7.3")["pass"].as_u64(), sg("7.3")["in_scope"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(sg("7.3")["conclusion"], "not-satisfied");
    assert_eq!(sg("6.3")["conclusion"], "satisfied");
    assert_eq!(sg("3.6")["conclusion"], "no-data");
    assert_eq!(sg("3.1")["conclusion"], "not-measured");
    // Continuity: db1 expected from its enrolment day 03-02: 2 days, both reported, 29 reports;
    // old: 3 expected days, none reported; web1: gap on 03-02 (02-28 is outside the period).
    let cont = data["continuity"].as_array().unwrap();
    let host = |n: &str| cont.iter().find(|h| h["hostname"] == n).unwrap().clone();
    assert_eq!(host("db1")["expected_days"], 2);
    assert_eq!(host("db1")["reports"], 29);
    assert_eq!(host("old")["days_with_reports"], 0);
    assert_eq!(
        host("old")["gaps"],
        serde_json::json!([["2026-03-01", "2026-03-03"]])
    );
    assert_eq!(
        host("web1")["gaps"],
        serde_json::json!([["2026-03-02", "2026-03-02"]])
    );
    assert_eq!(host("web1")["reports"], 44);
    // continuity.csv: 3 (web1) + 2 (db1) + 3 (old) = 8 day rows after the header.
    assert_eq!(text(&e, "continuity.csv").lines().count(), 1 + 8);
    // Incidents INC-1 (resolved inside) and INC-3 (open); not INC-2.
    let inc: Vec<&str> = data["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(inc, ["INC-1", "INC-3"]);
    // Training on 03-03: p1 covered, p2's completion is too old, p3 inactive → 1 of 2 = 0.5.
    assert_eq!(data["training_coverage"]["covered"], 1);
    assert_eq!(data["training_coverage"]["active"], 2);
    assert_eq!(data["training_coverage"]["ratio"], 0.5);
    assert_eq!(data["training_completions"].as_array().unwrap().len(), 1);
    // KPI history: 03-01 and 03-03 only.
    assert_eq!(data["kpi_history"].as_array().unwrap().len(), 2);
    // Exceptions in force during the period: only 1 (2 expired before, 3 revoked before).
    let ex = data["exceptions"].as_array().unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(
        (ex[0]["id"].as_i64(), ex[0]["approver"].as_str()),
        (Some(1), Some("rssi"))
    );
    // Actions closed during the period: only 1, with its evidence hash, approver and risk.
    let ac = data["closed_actions"].as_array().unwrap();
    assert_eq!(ac.len(), 1);
    assert_eq!(ac[0]["evidence"]["sha256"], "ee");
    assert_eq!(ac[0]["approver"], "rssi");
    assert_eq!(ac[0]["risks"], serde_json::json!([1]));
    assert!(text(&e, "actions.html").contains("<code>ee</code>"));
    assert!(text(&e, "exceptions.html").contains("legacy app"));
    // Pages exist for every linked check and safeguard.
    for f in [
        "checks/patch_age.html",
        "results/patch_age.html",
        "transitions/mfa.html",
        "transitions/disk_encryption.html",
        "safeguards/07.03.html",
        "safeguards/18.05.html",
        PUBLIC_KEY,
    ] {
        assert!(e.contains_key(f), "{f}");
    }
    assert!(text(&e, "results/patch_age.html").contains("evidence.html#aa"));
}

#[test]
fn control_and_host_filters() {
    let c = fixture();
    let mut req = request();
    req.control = Some("6".into());
    req.hostnames = Some(vec!["web1".into()]);
    let e = entries(&bundle(&c, &req));
    let data: serde_json::Value = serde_json::from_slice(&e["data.json"]).unwrap();
    // Control 6 → mfa only (6.3, 6.4, 6.5); host web1 → one result, mfa pass.
    assert_eq!(data["results"].as_array().unwrap().len(), 1);
    assert_eq!(data["results"][0]["check"], "mfa");
    assert_eq!(data["safeguards"].as_array().unwrap().len(), 8);
    assert!(!e.contains_key("checks/patch_age.html"));
    // Continuity follows the host selection; exceptions follow the checks (mfa's expired).
    assert_eq!(data["continuity"].as_array().unwrap().len(), 1);
    assert_eq!(data["exceptions"].as_array().unwrap().len(), 0);

    req.hostnames = Some(vec!["nope".into()]);
    let err = export(&c, &req, &key(), Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(err, ExportError::Usage(_)), "{err}");
    assert!(err.to_string().contains("no host named nope"));
}

#[test]
fn oscal_document_is_valid_against_nist_schema() {
    let c = fixture();
    let e = entries(&bundle(&c, &request()));
    let doc: serde_json::Value =
        serde_json::from_slice(&e["oscal/assessment-results.json"]).unwrap();
    let schema_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/oscal/oscal_assessment-results_schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // 5 observations (one per result); findings for 7.3, 7.4, 7.7 (patch_age, not satisfied) and
    // 6.3, 6.4, 6.5 (mfa, satisfied) = 6.
    let r = &doc["assessment-results"]["results"][0];
    assert_eq!(r["observations"].as_array().unwrap().len(), 5);
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 6);
    let f73 = findings
        .iter()
        .find(|f| f["target"]["target-id"] == "cis-7.3")
        .unwrap();
    assert_eq!(f73["target"]["status"]["state"], "not-satisfied");
    // 7.3's related observations: the 3 in-scope patch_age results.
    assert_eq!(f73["related-observations"].as_array().unwrap().len(), 3);
    // A schema check that catches something: a non-v4/v5 UUID is refused.
    let mut bad = doc.clone();
    bad["assessment-results"]["uuid"] = "not-a-uuid".into();
    assert!(!validator.is_valid(&bad));
}
