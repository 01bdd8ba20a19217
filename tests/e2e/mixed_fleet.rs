//! A mixed fleet end to end: a Linux, a macOS and a Windows fixture host enrolled with a real
//! collector; the patch-SLA KPI, the CIS tallies, the per-OS fleet gauges (`os` label) and the
//! monthly report count all three.

use std::process::Command;
use std::time::{Duration, Instant};

use vigie_e2e::*;

fn scrape(c: &Collector) -> String {
    http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn status_of(c: &Collector, host: &serde_json::Value, check: &str) -> String {
    let id = host["id"].as_i64().unwrap();
    let d = admin_get(c, &format!("/api/v1/hosts/{id}"));
    d["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == check)
        .unwrap_or_else(|| panic!("no {check} on host {id}: {d}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn linux_macos_and_windows_hosts_count_in_kpis_cis_report_and_per_os_gauges() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let linux = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-01",
        "77777777777777777777777777777777",
    );
    let mac = Host::from_fixture(
        "macos-laptop-compliant",
        t.path(),
        "mbp-ana",
        "unused-on-macos",
    );
    // Windows identifies itself by MachineGuid (from the recorded registry), not /etc/machine-id.
    let win = Host::from_fixture(
        "windows-fleet-workstation",
        t.path(),
        "ws-fin-01",
        "unused-on-windows",
    );
    for h in [&linux, &mac, &win] {
        h.enroll(&c.url);
        let (code, err) = h.run_once(&c.url);
        assert_eq!(code, 0, "run --once: {err}");
    }
    // The draft report counts hosts with `enrolled_at < now` in whole seconds, so a host enrolled in
    // the second the report is written is left out; the report below waits for the next second.
    let enrolled_by = chrono::Utc::now().timestamp();

    // The collector stores what each agent reported as its OS: an os-release ID, `macos`, `windows`.
    let hosts = admin_get(&c, "/api/v1/hosts");
    let hosts = hosts["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    let mac_host = hosts
        .iter()
        .find(|h| h["os"] == "macos")
        .unwrap_or_else(|| panic!("no macOS host: {hosts:?}"));
    let win_host = hosts
        .iter()
        .find(|h| h["os"] == "windows")
        .unwrap_or_else(|| panic!("no Windows host: {hosts:?}"));
    let linux_host = hosts
        .iter()
        .find(|h| h["os"] != "macos" && h["os"] != "windows")
        .unwrap();
    // FileVault on the Mac, LUKS on the laptop, BitLocker on the workstation: all three pass.
    assert_eq!(status_of(&c, mac_host, "disk_encryption"), "pass");
    assert_eq!(status_of(&c, linux_host, "disk_encryption"), "pass");
    assert_eq!(status_of(&c, win_host, "disk_encryption"), "pass");
    // The workstation's fixture: smart card required and FIDO-only SSH (mfa pass), a policy meeting
    // its plan (pass), no backup duty (not_applicable).
    assert_eq!(status_of(&c, win_host, "mfa"), "pass");
    assert_eq!(status_of(&c, win_host, "password_policy"), "pass");
    assert_eq!(
        status_of(&c, win_host, "backup_freshness"),
        "not_applicable"
    );

    // Per-OS gauges: one host of each family; disk_encryption pass once per family, three times
    // fleet-wide.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape(&c);
        if value(&text, "vigie_hosts{state=\"reporting\"}") == Some(3.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no refresh with 3 hosts:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for os in ["linux", "macos", "windows"] {
        assert_eq!(
            value(
                &text,
                &format!("vigie_hosts_by_os{{os=\"{os}\",state=\"reporting\"}}")
            ),
            Some(1.0),
            "{os}:\n{text}"
        );
        assert_eq!(
            value(
                &text,
                &format!(
                    "vigie_check_hosts_by_os{{check=\"disk_encryption\",os=\"{os}\",status=\"pass\"}}"
                )
            ),
            Some(1.0),
            "{os}:\n{text}"
        );
    }
    assert_eq!(
        value(
            &text,
            "vigie_check_hosts_by_os{check=\"mfa\",os=\"windows\",status=\"pass\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "vigie_check_hosts{check=\"disk_encryption\",status=\"pass\"}"
        ),
        Some(3.0)
    );
    let os_values: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with("vigie_hosts_by_os{") || l.starts_with("vigie_check_hosts_by_os{")
        })
        .filter_map(|l| l.split("os=\"").nth(1))
        .filter_map(|r| r.split('"').next())
        .collect();
    assert!(
        os_values
            .iter()
            .all(|o| ["linux", "macos", "windows"].contains(o)),
        "unbounded os label: {os_values:?}"
    );

    // Patch-SLA KPI: all three hosts reported patch_age, all three are in its denominator.
    let patch = [
        status_of(&c, linux_host, "patch_age"),
        status_of(&c, mac_host, "patch_age"),
        status_of(&c, win_host, "patch_age"),
    ];
    let kpi = admin_get(&c, "/api/v1/kpi");
    let sla = kpi["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "patch_sla")
        .unwrap_or_else(|| panic!("no patch_sla KPI: {kpi}"))
        .clone();
    let counts = &sla["detail"];
    let n = |k: &str| counts[k].as_i64().unwrap_or_else(|| panic!("{k}: {sla}"));
    let want_compliant = patch
        .iter()
        .filter(|s| *s == "pass" || *s == "warn")
        .count() as i64;
    let want_fail = patch.iter().filter(|s| *s == "fail").count() as i64;
    let want_error = patch.iter().filter(|s| *s == "error").count() as i64;
    assert_eq!(
        (
            n("compliant"),
            n("non_compliant"),
            n("error"),
            n("no_result")
        ),
        (want_compliant, want_fail, want_error, 0),
        "patch_age statuses {patch:?}: {sla}"
    );
    assert_eq!(want_compliant + want_fail + want_error, 3, "{patch:?}");
    let mfa = [
        status_of(&c, linux_host, "mfa"),
        status_of(&c, mac_host, "mfa"),
        status_of(&c, win_host, "mfa"),
    ];
    let config = c.dir.join("collector.toml");
    assert!(c.stop().success());

    // CIS: safeguard 3.6 (encrypt end-user devices) is measured by disk_encryption on all three hosts.
    let out = Command::new(bin("vigie-collector"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "cis",
            "score",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let score: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let safeguard = score["safeguards"]
        .as_array()
        .unwrap_or_else(|| panic!("no safeguards: {score}"))
        .iter()
        .find(|s| s["id"] == "3.6")
        .unwrap_or_else(|| panic!("no 3.6: {score}"))
        .clone();
    let share = safeguard["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "disk_encryption")
        .unwrap()
        .clone();
    assert_eq!(
        (share["passing"].as_u64(), share["in_scope"].as_u64()),
        (Some(3), Some(3)),
        "{safeguard}"
    );

    // The monthly report of this month: three hosts enrolled and reporting; disk_encryption passes
    // on all three.
    while chrono::Utc::now().timestamp() <= enrolled_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let out_dir = t.path().join("report");
    let out = Command::new(bin("vigie-collector"))
        .args(["--config", config.to_str().unwrap()])
        .args([
            "report", "monthly", "--month", &month, "--format", "json", "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let path = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap_or_else(|| panic!("no JSON report in {}", out_dir.display()));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        (
            report["fleet"]["enrolled"].as_u64(),
            report["fleet"]["reported"].as_u64()
        ),
        (Some(3), Some(3)),
        "{}",
        report["fleet"]
    );
    let coverage = |check: &str| {
        report["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == check)
            .unwrap_or_else(|| panic!("no {check} coverage: {}", report["coverage"]))
            .clone()
    };
    let disk = coverage("disk_encryption");
    assert_eq!(
        (
            disk["pass"].as_u64(),
            disk["fail"].as_u64(),
            disk["error"].as_u64()
        ),
        (Some(3), Some(0), Some(0)),
        "{disk}"
    );
    // mfa: the report counts what the hosts' current results say (the workstation's pass among them).
    let m = coverage("mfa");
    let count = |st: &str| mfa.iter().filter(|s| *s == st).count() as u64;
    assert_eq!(
        (m["pass"].as_u64(), m["fail"].as_u64(), m["error"].as_u64()),
        (
            Some(count("pass")),
            Some(count("fail")),
            Some(count("error"))
        ),
        "mfa statuses {mfa:?}: {m}"
    );
    assert!(count("pass") >= 1, "{mfa:?}");
}
