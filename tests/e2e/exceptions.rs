//! One exception, every view: a host fails disk_encryption, an exception is granted through the
//! real API, and the API (host list and detail), the per-host and fleet metrics, the KPIs, the CIS
//! score, the monthly report and the evidence bundle all say the same thing — measured `fail`,
//! effective `excepted`, with the exception's id where a row shows one host.

use std::io::Read as _;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vigie_e2e::*;

fn collector_cmd(c: &Collector, args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn scrape(c: &Collector) -> String {
    http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

#[test]
fn an_excepted_host_is_excepted_in_every_view() {
    let t = tempfile::tempdir().unwrap();
    // alice holds the approving role (`rssi`).
    let c = Collector::start(
        &t.path().join("collector"),
        0,
        "per_host = true\n[actions.roles]\nrssi = [\"alice\"]\n",
    );
    // vm-01 fails disk_encryption (ext4 straight on /dev/vda); laptop-01 passes (LVM on LUKS).
    let vm = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm-01",
        "22222222222222222222222222222222",
    );
    let laptop = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-01",
        "11111111111111111111111111111111",
    );
    for h in [&vm, &laptop] {
        h.enroll(&c.url);
        let (code, err) = h.run_once(&c.url);
        assert_eq!(code, 0, "run --once: {err}");
    }
    let r = http()
        .post(format!("{}/api/v1/exceptions", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"check": "disk_encryption", "scope": "host", "scope_value": "vm-01",
                      "reason": "appliance replaced next quarter", "requester": "it",
                      "approver": "alice",
                      "expires_at": (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339()}))
        .send()
        .unwrap();
    let code = r.status();
    let granted: Value = r.json().unwrap();
    assert_eq!(code, 201, "{granted}");
    let exception_id = granted["exception"]["id"].as_i64().expect("exception id");

    // Fleet metric: the refresh (every second) moves vm-01 from fail to excepted.
    let fleet_line = "vigie_check_hosts{check=\"disk_encryption\",status=\"excepted\"} 1";
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let m = scrape(&c);
        if m.lines().any(|l| l == fleet_line) {
            break m;
        }
        assert!(Instant::now() < deadline, "never saw {fleet_line}:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        metrics
            .lines()
            .any(|l| l == "vigie_check_hosts{check=\"disk_encryption\",status=\"fail\"} 0"),
        "{metrics}"
    );
    // Per-host metric: excepted, and no fail series for that host and check.
    let per_host = |status: &str| {
        metrics.lines().any(|l| {
            l.starts_with("vigie_host_check_status{")
                && l.contains("check=\"disk_encryption\"")
                && l.contains("host=\"vm-01\"")
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(per_host("excepted") && !per_host("fail"), "{metrics}");

    // API host list: measured counts and effective counts.
    let list = admin_get(&c, "/api/v1/hosts");
    let host = list["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == "vm-01")
        .unwrap()
        .clone();
    // vm-01 fails disk_encryption (and possibly other checks): exactly that failure moves from
    // `fail` to `excepted` in the effective counts.
    let n = |k: &str, s: &str| host[k][s].as_i64().unwrap_or(0);
    assert!(n("checks", "fail") >= 1, "{host}");
    assert_eq!(
        (
            n("effective_checks", "fail"),
            n("effective_checks", "excepted")
        ),
        (n("checks", "fail") - 1, 1),
        "{host}"
    );
    // API host detail: both statuses and the exception's id.
    let detail = admin_get(&c, &format!("/api/v1/hosts/{}", host["id"]));
    let disk = detail["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == "disk_encryption")
        .unwrap()
        .clone();
    assert_eq!(
        (
            disk["status"].as_str(),
            disk["effective_status"].as_str(),
            disk["exception_id"].as_i64()
        ),
        (Some("fail"), Some("excepted"), Some(exception_id)),
        "{disk}"
    );

    // KPIs: the coverage of disk_encryption leaves vm-01 out of the ratio, listed as excepted.
    let kpi = admin_get(&c, "/api/v1/kpi");
    let cov = kpi["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "coverage.disk_encryption")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &cov["detail"]["excepted"],
            &cov["detail"]["fail"],
            &cov["value"]
        ),
        (&json!(1), &json!(0), &json!(1.0)),
        "{cov}"
    );

    // CIS: safeguard 3.6 (disk_encryption) counts laptop-01 only: 1 in scope, 1 passing.
    let out = collector_cmd(&c, &["cis", "score", "--format", "json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let cis: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s36 = cis["safeguards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "3.6")
        .unwrap()
        .clone();
    let share = &s36["checks"][0];
    assert_eq!(
        (&share["in_scope"], &share["passing"]),
        (&json!(1), &json!(1)),
        "{s36}"
    );

    // Monthly report of the month in progress (live figures): the same coverage.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out_dir = t.path().join("report");
    let out = collector_cmd(
        &c,
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--format",
            "json",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let report: Value = serde_json::from_slice(
        &std::fs::read(out_dir.join(format!("vigie-report-{month}.json"))).unwrap(),
    )
    .unwrap();
    let row = report["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "disk_encryption")
        .unwrap()
        .clone();
    assert_eq!(
        (&row["excepted"], &row["fail"], &row["pass"]),
        (&json!(1), &json!(0), &json!(1)),
        "{row}"
    );

    // Evidence bundle of today: the result at the end of the period, measured and effective.
    let today = chrono::Utc::now().date_naive().to_string();
    let zip = t.path().join("bundle.zip");
    let out = collector_cmd(
        &c,
        &[
            "evidence",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--out",
            zip.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_name("data.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    let result = data["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "disk_encryption" && r["hostname"] == "vm-01")
        .unwrap()
        .clone();
    assert_eq!(
        (
            result["status"].as_str(),
            result["effective_status"].as_str(),
            result["exception_id"].as_i64()
        ),
        (Some("fail"), Some("excepted"), Some(exception_id)),
        "{result}"
    );

    // The bundle's per-check counts and the safeguard conclusion follow the same rule: 3.6 counts
    // laptop-01 only, as the CIS score does.
    let check = data["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "disk_encryption")
        .unwrap()
        .clone();
    assert_eq!(check["results_by_status"]["excepted"], 1, "{check}");
    assert!(check["results_by_status"].get("fail").is_none(), "{check}");
    let sg = data["safeguards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "3.6")
        .unwrap()
        .clone();
    assert_eq!(
        (&sg["pass"], &sg["in_scope"], &sg["conclusion"]),
        (&json!(1), &json!(1), &json!("satisfied")),
        "{sg}"
    );

    // The exceptions feed lists the one in force.
    let feed = admin_get(&c, "/api/v1/exceptions");
    assert_eq!(feed["exceptions"][0]["id"], exception_id);
    assert_eq!(feed["exceptions"][0]["state"], "active");
    c.stop();
}
