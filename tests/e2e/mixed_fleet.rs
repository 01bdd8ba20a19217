//! A mixed fleet end to end: a Linux and a macOS fixture host enrolled with a real collector; the
//! patch-SLA KPI, the CIS tallies and the per-OS fleet gauges count both.

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
fn linux_and_macos_hosts_count_in_kpis_cis_and_per_os_gauges() {
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
    for h in [&linux, &mac] {
        h.enroll(&c.url);
        let (code, err) = h.run_once(&c.url);
        assert_eq!(code, 0, "run --once: {err}");
    }

    // The collector stores what each agent reported as its OS: an os-release ID and `macos`.
    let hosts = admin_get(&c, "/api/v1/hosts");
    let hosts = hosts["hosts"].as_array().unwrap().clone();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    let mac_host = hosts
        .iter()
        .find(|h| h["os"] == "macos")
        .unwrap_or_else(|| panic!("no macOS host: {hosts:?}"));
    let linux_host = hosts.iter().find(|h| h["os"] != "macos").unwrap();
    // FileVault on the Mac, LUKS on the laptop: both pass.
    assert_eq!(status_of(&c, mac_host, "disk_encryption"), "pass");
    assert_eq!(status_of(&c, linux_host, "disk_encryption"), "pass");

    // Per-OS gauges: one host of each family; disk_encryption pass once per family, and twice fleet-wide.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape(&c);
        if value(&text, "vigie_hosts{state=\"reporting\"}") == Some(2.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no refresh with 2 hosts:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for os in ["linux", "macos"] {
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
            "vigie_hosts_by_os{os=\"windows\",state=\"reporting\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "vigie_check_hosts{check=\"disk_encryption\",status=\"pass\"}"
        ),
        Some(2.0)
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

    // Patch-SLA KPI: both hosts reported patch_age, both are in its denominator.
    let patch = [
        status_of(&c, linux_host, "patch_age"),
        status_of(&c, mac_host, "patch_age"),
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
    assert_eq!(want_compliant + want_fail + want_error, 2, "{patch:?}");
    let config = c.dir.join("collector.toml");
    assert!(c.stop().success());

    // CIS: safeguard 3.6 (encrypt end-user devices) is measured by disk_encryption on both hosts.
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
        (Some(2), Some(2)),
        "{safeguard}"
    );
}
