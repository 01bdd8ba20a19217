//! A fleet end to end: real collector process, real agents on fixture hosts, real SQLite file.

use std::time::{Duration, Instant};

use vigie_e2e::*;

const LUKS_UUID: &str = "CRYPT-LUKS2-5a9c3e1f7b2d4c86a0e4f1b3d5c7e9a2-nvme0n1p3_crypt";

/// Make the laptop fixture's root volume encrypted (true) or not (false) by rewriting the uuid of
/// its LUKS layer.
fn set_laptop_encrypted(h: &Host, encrypted: bool) {
    let uuid = if encrypted {
        LUKS_UUID
    } else {
        "LVM-notacryptlayer0000000000000000"
    };
    std::fs::write(
        h.root.join("root/sys/class/block/dm-0/dm/uuid"),
        format!("{uuid}\n"),
    )
    .unwrap();
}

fn host_by_name(c: &Collector, name: &str) -> serde_json::Value {
    let hosts = admin_get(c, "/api/v1/hosts");
    hosts["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hostname"] == name)
        .unwrap_or_else(|| panic!("host {name} not listed: {hosts}"))
        .clone()
}

fn check_status(c: &Collector, host_id: i64, check: &str) -> String {
    let d = admin_get(c, &format!("/api/v1/hosts/{host_id}"));
    d["current"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["check"] == check)
        .unwrap_or_else(|| panic!("no {check} on host {host_id}: {d}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn disk_transitions(c: &Collector, host_id: i64) -> Vec<(Option<String>, String)> {
    let h = admin_get(
        c,
        &format!("/api/v1/hosts/{host_id}/history?check=disk_encryption"),
    );
    h["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["from"].as_str().map(str::to_string),
                t["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reports_stored(c: &Collector) -> i64 {
    c.db()
        .query_row("SELECT count(*) FROM recent_reports", [], |r| r.get(0))
        .unwrap()
}

fn daily_reports(c: &Collector) -> i64 {
    c.db()
        .query_row("SELECT COALESCE(sum(reports), 0) FROM daily", [], |r| {
            r.get(0)
        })
        .unwrap()
}

#[test]
fn two_agents_report_and_a_change_becomes_a_transition() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("collector"), 0, "");
    let laptop = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-01",
        "11111111111111111111111111111111",
    );
    let vm = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm-01",
        "22222222222222222222222222222222",
    );
    for h in [&laptop, &vm] {
        h.enroll(&c.url);
        let (code, err) = h.run_once(&c.url);
        assert_eq!(code, 0, "run --once: {err}");
        assert_eq!(h.spooled(), 0);
    }
    let laptop_id = host_by_name(&c, "laptop-01")["id"].as_i64().unwrap();
    let vm_id = host_by_name(&c, "vm-01")["id"].as_i64().unwrap();
    assert_eq!(
        admin_get(&c, "/api/v1/hosts")["hosts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(host_by_name(&c, "vm-01")["state"], "reporting");
    assert_eq!(check_status(&c, laptop_id, "disk_encryption"), "pass");
    assert_eq!(check_status(&c, vm_id, "disk_encryption"), "fail");

    // The laptop loses its encryption layer: the next report records pass → fail.
    set_laptop_encrypted(&laptop, false);
    // At least a second after the first report: one in the same second is `out_of_order`.
    laptop.set_clock(chrono::Utc::now() + chrono::Duration::seconds(1));
    let (code, err) = laptop.run_once(&c.url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(check_status(&c, laptop_id, "disk_encryption"), "fail");
    assert_eq!(
        disk_transitions(&c, laptop_id),
        vec![
            (None, "pass".to_string()),
            (Some("pass".to_string()), "fail".to_string())
        ]
    );
    // The VM did not change: one transition only (its first status).
    assert_eq!(disk_transitions(&c, vm_id).len(), 1);
    // Auditors read the same API.
    let r = http()
        .get(format!("{}/api/v1/hosts/{laptop_id}", c.url))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Clean shutdown on SIGTERM.
    assert!(c.stop().success());
}

#[test]
fn reports_made_while_the_collector_is_down_arrive_once_and_in_order() {
    let t = tempfile::tempdir().unwrap();
    let cdir = t.path().join("collector");
    let c = Collector::start(&cdir, 0, "");
    let port = c.port();
    let url = c.url.clone();
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-02",
        "33333333333333333333333333333333",
    );
    h.enroll(&url);
    assert!(c.stop().success(), "SIGTERM stops the collector cleanly");

    // Three reports while the collector is down: encrypted, not encrypted, encrypted again.
    let start = chrono::Utc::now() - chrono::Duration::seconds(10);
    for (i, enc) in [true, false, true].into_iter().enumerate() {
        set_laptop_encrypted(&h, enc);
        h.set_clock(start + chrono::Duration::seconds(i as i64));
        let (code, err) = h.run_once(&url);
        assert_eq!(
            code, 75,
            "collector down: report stays spooled (EX_TEMPFAIL): {err}"
        );
    }
    assert_eq!(h.spooled(), 3);

    let c = Collector::start(&cdir, port, "");
    h.set_clock(start + chrono::Duration::seconds(3));
    let (code, err) = h.run_once(&url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(h.spooled(), 0);
    assert_eq!(delivered_ids(&err).len(), 4, "{err}");
    // Exactly once: 4 reports stored, 4 counted in the daily roll-up.
    assert_eq!(reports_stored(&c), 4);
    assert_eq!(daily_reports(&c), 4);
    // In order: the transitions replay pass → fail → pass.
    let id = host_by_name(&c, "laptop-02")["id"].as_i64().unwrap();
    assert_eq!(
        disk_transitions(&c, id),
        vec![
            (None, "pass".to_string()),
            (Some("pass".to_string()), "fail".to_string()),
            (Some("fail".to_string()), "pass".to_string()),
        ]
    );
}

#[test]
fn kill_9_mid_burst_loses_no_acknowledged_report_and_duplicates_none() {
    const BURST: usize = 150;
    let t = tempfile::tempdir().unwrap();
    let cdir = t.path().join("collector");
    let c = Collector::start(&cdir, 0, "");
    let (port, url) = (c.port(), c.url.clone());
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-03",
        "44444444444444444444444444444444",
    );
    h.enroll(&url);
    c.stop();
    // Each report is collected a second after the previous one: the collector refuses a report
    // not newer than the host's newest (`out_of_order`), as a real clock never repeats itself.
    let start = chrono::Utc::now() - chrono::Duration::seconds(BURST as i64 + 60);
    let tick = |i: usize| start + chrono::Duration::seconds(i as i64);
    for i in 0..BURST {
        h.set_clock(tick(i));
        let (code, err) = h.run_once(&url);
        assert_eq!(code, 75, "{err}");
    }
    assert_eq!(h.spooled(), BURST);

    // Deliver the burst and kill the collector once some reports are in.
    let c = Collector::start(&cdir, port, "");
    h.set_clock(tick(BURST));
    let agent = std::process::Command::new(bin("vigie-agent"))
        .args([
            "--config",
            h.config.to_str().unwrap(),
            "--log",
            "info",
            "run",
            "--once",
        ])
        .args([
            "--root",
            h.root.to_str().unwrap(),
            "--state-dir",
            h.state.to_str().unwrap(),
        ])
        .args(["--collector", &url])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reports_stored(&c) < 10 {
        assert!(Instant::now() < deadline, "no report arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
    c.kill9();
    let out = agent.wait_with_output().unwrap();
    let first = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(75),
        "the kill interrupted delivery: {first}"
    );
    let acked = delivered_ids(&first);
    assert!(
        !acked.is_empty() && acked.len() < BURST + 1,
        "{} acknowledged",
        acked.len()
    );

    // Every report the collector acknowledged before dying is in the database.
    let c = Collector::start(&cdir, port, "");
    {
        let db = c.db();
        for id in &acked {
            let n: i64 = db
                .query_row(
                    "SELECT count(*) FROM recent_reports WHERE report_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(n, 1, "acknowledged report {id} missing after kill -9");
        }
    }
    // The agent resends the rest; nothing is stored twice.
    h.set_clock(tick(BURST + 1));
    let (code, second) = h.run_once(&url);
    assert_eq!(code, 0, "{second}");
    assert_eq!(h.spooled(), 0);
    let total = BURST as i64 + 2; // the burst, the report made by the interrupted run, and the last one
    assert_eq!(reports_stored(&c), total);
    assert_eq!(daily_reports(&c), total, "each report counted exactly once");
    // Everything was acknowledged across the two runs (a report whose answer was lost in the kill
    // is resent and answered "already received", so the sum may exceed the total by that one).
    let resent = delivered_ids(&second);
    assert!(acked.len() + resent.len() >= total as usize);
}

#[test]
fn the_daemon_reports_every_interval_and_stops_on_sigterm() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("collector"), 0, "");
    let h = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm-daemon",
        "88888888888888888888888888888888",
    );
    h.enroll(&c.url);
    // The fixture's clock is frozen; move it a second every 300 ms so that reports made at least a
    // second apart carry distinct, increasing times (the collector refuses one not newer than the
    // host's newest).
    let stop_clock = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clock = {
        let (stop, root) = (stop_clock.clone(), h.root.clone());
        let base = chrono::Utc::now() - chrono::Duration::seconds(60);
        std::thread::spawn(move || {
            let h = Host {
                root,
                state: Default::default(),
                config: Default::default(),
                machine_id: String::new(),
            };
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                h.set_clock(base + chrono::Duration::seconds(n));
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    let mut daemon = std::process::Command::new(bin("vigie-agent"))
        .args([
            "--config",
            h.config.to_str().unwrap(),
            "--log",
            "info",
            "run",
            "--interval",
            "1",
        ])
        .args([
            "--root",
            h.root.to_str().unwrap(),
            "--state-dir",
            h.state.to_str().unwrap(),
        ])
        .args(["--collector", &c.url])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reports_stored(&c) < 3 {
        assert!(
            Instant::now() < deadline,
            "the daemon did not report three times"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().unwrap();
    stop_clock.store(true, std::sync::atomic::Ordering::Relaxed);
    clock.join().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    // The host announced its interval, so the collector judges staleness against it.
    let interval: i64 = c
        .db()
        .query_row(
            "SELECT interval_s FROM hosts WHERE machine_id = ?1",
            [&h.machine_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(interval, 1);
}
