//! Registers over HTTP: CSV imports (all rows or none, errors by line) and the KPIs they feed.

use serde_json::Value;
use vigie_e2e::*;

fn import(c: &Collector, token: &str, register: &str, csv: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/import/{register}", c.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn kpi(c: &Collector, token: &str, at: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}/api/v1/kpi?at={at}", c.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn count(c: &Collector, table: &str) -> i64 {
    c.db()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn csv_imports_feed_the_kpis_and_refuse_bad_rows_whole() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let roster = "person_id,name,email,department,active\n\
                  P1,Ana,ana@example.org,IT,true\n\
                  P2,Ben,ben@example.org,IT,true\n\
                  P3,\"Chu, Li\",chu@example.org,Finance,true\n\
                  P4,Dee,dee@example.org,Finance,false\n";
    // Auditors read, never write.
    assert_eq!(import(&c, AUDITOR_TOKEN, "roster", roster).0, 403);
    assert_eq!(count(&c, "people"), 0);
    let (status, v) = import(&c, ADMIN_TOKEN, "roster", roster);
    assert_eq!(status, 200, "{v}");

    // Completion for a person not on the roster (line 3): refused whole, nothing written.
    let unknown =
        "person_id,course,completed_at\nP1,Awareness,2026-10-01\nP9,Awareness,2026-10-02\n";
    let (status, v) = import(&c, ADMIN_TOKEN, "training", unknown);
    assert_eq!(status, 422, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 3") && msg.contains("P9"), "{msg}");
    assert_eq!(count(&c, "training_completions"), 0);

    // P1 and P2 trained within the 365 days before 2026-11-24, P3 in 2025-06 (too old), P4 is
    // inactive: coverage = 2 covered / 3 active = 0.666…
    let training = "person_id,course,completed_at\n\
                    P1,Awareness,2026-10-01\n\
                    P2,Awareness,2026-01-10\n\
                    P3,Awareness,2025-06-30\n\
                    P4,Awareness,2026-10-01\n";
    let (status, v) = import(&c, ADMIN_TOKEN, "training", training);
    assert_eq!(status, 200, "{v}");
    let (status, v) = kpi(&c, AUDITOR_TOKEN, "2026-11-24");
    assert_eq!(status, 200, "{v}");
    let coverage = v["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "training_coverage")
        .unwrap_or_else(|| panic!("no training_coverage in {v}"));
    assert!(
        (coverage["value"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{coverage}"
    );
    assert_eq!(coverage["status"], "not_met");

    // An incident file with a bad row on line 4 (detected before it occurred): nothing written.
    let bad =
        std::fs::read_to_string(repo().join("tests/fixtures/registers/incidents-bad-line-4.csv"))
            .unwrap();
    let (status, v) = import(&c, ADMIN_TOKEN, "incidents", &bad);
    assert_eq!(status, 422, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("request body") && msg.contains("line 4"),
        "{msg}"
    );
    assert_eq!(count(&c, "incidents"), 0);
    let good =
        std::fs::read_to_string(repo().join("tests/fixtures/registers/incidents-2026-03.csv"))
            .unwrap();
    let (status, v) = import(&c, ADMIN_TOKEN, "incidents", &good);
    assert_eq!(status, 200, "{v}");
    assert!(count(&c, "incidents") > 0);
    // Importing the same file again changes nothing.
    let (_, v) = import(&c, ADMIN_TOKEN, "incidents", &good);
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("0 added, 0 updated"),
        "{v}"
    );

    assert_eq!(import(&c, ADMIN_TOKEN, "payroll", roster).0, 404);
    assert_eq!(kpi(&c, AUDITOR_TOKEN, "2026-13-01").0, 400);
}
