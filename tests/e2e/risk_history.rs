//! A fleet-derived risk's history through its readers, end to end: real agents report failing
//! disks to a real collector, whose scheduled recompute creates and then changes the
//! `disk_encryption` fleet risk; the API (`GET /api/v1/risks/{id}`), the CLI (`risk show`) and the
//! monthly report read the history back. Each entry records the change of the failing hosts (who
//! arrived, who left, the counts), never the whole lists.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vigie_e2e::*;

fn fleet_risk(c: &Collector, failing: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let risks = admin_get(c, "/api/v1/risks?source=fleet");
        if let Some(r) = risks["risks"].as_array().and_then(|a| {
            a.iter().find(|r| {
                r["check"] == "disk_encryption"
                    && r["assets"].as_array().map(Vec::len) == Some(failing as usize)
            })
        }) {
            return r.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no disk_encryption fleet risk with {failing} failing host(s): {risks}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn fleet_risk_history_records_changes_and_its_readers_show_them() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    // Two hosts whose disks are not encrypted; the second reports after the risk exists.
    let first = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm-a",
        "b0000000000000000000000000000001",
    );
    let second = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm-b",
        "b0000000000000000000000000000002",
    );
    first.enroll(&c.url);
    assert_eq!(first.run_once(&c.url).0, 0);
    let risk = fleet_risk(&c, 1);
    let id = risk["id"].as_i64().unwrap();
    second.enroll(&c.url);
    assert_eq!(second.run_once(&c.url).0, 0);
    fleet_risk(&c, 2);

    // API: creation (from null, vm-a added), then vm-b added to a list of one.
    let body = admin_get(&c, &format!("/api/v1/risks/{id}"));
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{body}");
    assert_eq!(history[0]["actor"], "vigie (fleet)");
    assert_eq!(
        history[0]["changes"]["assets"],
        json!({"from": null, "to": {"count": 1, "added": ["vm-a"], "added_count": 1}})
    );
    assert_eq!(
        history[1]["changes"]["assets"],
        json!({
            "from": {"count": 1, "removed": [], "removed_count": 0},
            "to": {"count": 2, "added": ["vm-b"], "added_count": 1},
        })
    );
    // The risk itself keeps the current list.
    assert_eq!(body["risk"]["assets"], json!(["vm-a", "vm-b"]));

    // CLI: `risk show` prints the same history.
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(["risk", "show", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["history"], body["history"]);

    // Monthly report (this month's draft): the change reads as counts and names.
    std::thread::sleep(Duration::from_millis(1100)); // a draft is judged at the current second
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let dir = t.path().join("report");
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(["report", "monthly", "--month", &month, "--out"])
        .arg(&dir)
        .args(["--format", "md", "--lang", "en"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let md = std::fs::read_to_string(dir.join(format!("vigie-report-{month}.en.md"))).unwrap();
    assert!(
        md.lines()
            .any(|l| l.contains(&format!("R-{id} ")) && l.contains("assets: 1 → 2 (+1: vm-b)")),
        "{md}"
    );
}
