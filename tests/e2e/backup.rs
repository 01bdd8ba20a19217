//! `vigie-collector backup` while `serve` ingests, then `restore` into a fresh data directory and a
//! new collector on it: every report acknowledged before the backup started is there, the evidence
//! signing key is the same (a bundle exported before the backup verifies against the restored
//! collector's public key), and node keys still work (an agent enrolled before the backup reports).

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigie_e2e::*;

#[allow(dead_code)]
#[path = "../bench/fleet.rs"]
mod fleet;

fn collector_cmd(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

fn enroll_sim(url: &str, index: usize) -> fleet::SimHost {
    let mut h = fleet::SimHost::new(index);
    let r = http()
        .post(format!("{url}/api/v1/enroll"))
        .json(&h.enroll_body(ENROLL_SECRET))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "enrol simulated host {index}");
    let v: serde_json::Value = r.json().unwrap();
    h.node_key = v["node_key"].as_str().unwrap().to_string();
    h
}

/// POST the host's next report; its id when the collector acknowledged it (202).
fn post(url: &str, h: &mut fleet::SimHost) -> Option<String> {
    let report = h.next_report();
    let r = http()
        .post(format!("{url}/api/v1/reports"))
        .bearer_auth(&h.node_key)
        .json(&report)
        .send()
        .ok()?;
    (r.status() == 202).then(|| report.report_id.clone())
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_backup_taken_under_ingest_restores_reports_signing_key_and_node_keys() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("old"), 0, "");
    let config = c.dir.join("collector.toml");

    // A real agent, enrolled and reporting before the backup.
    let agent = Host::from_fixture(
        "debian12-baseline",
        t.path(),
        "web-01",
        "4c4d1f3a0b2e4e5f9a8b7c6d5e4f3a2b",
    );
    agent.enroll(&c.url);
    let (code, err) = agent.run_once(&c.url);
    assert_eq!(code, 0, "run --once: {err}");
    let agent_first = delivered_ids(&err);
    assert_eq!(agent_first.len(), 1, "{err}");

    // An evidence bundle exported (and so signed) before the backup.
    let today = chrono::Utc::now().date_naive().to_string();
    let bundle = t.path().join("bundle.zip");
    let out = collector_cmd(
        &config,
        &[
            "evidence",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--out",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));

    // Ingest load: a thread posting reports for four hosts as fast as they are acknowledged,
    // recording when each acknowledgement arrived.
    let url = c.url.clone();
    let mut sims: Vec<_> = (0..4).map(|i| enroll_sim(&url, i)).collect();
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let n = sims.len();
                if let Some(id) = post(&url, &mut sims[k % n]) {
                    acked.lock().unwrap().push((id, Instant::now()));
                }
                k += 1;
            }
            sims
        })
    };
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "ingest stalled: {}",
                c.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(40);

    let backup = t.path().join("vigie-backup.zip");
    let started = Instant::now();
    let out = collector_cmd(&config, &["backup", "--out", backup.to_str().unwrap()]);
    let finished = Instant::now();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("backup written to"),
        "{}",
        describe(&out)
    );
    // Ingest went on after the backup: it ran under load, not after it.
    let at_end = acked.lock().unwrap().len();
    wait_for(at_end + 20);
    stop.store(true, Ordering::Relaxed);
    let mut sims = load.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    let before: Vec<&String> = acked
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(id, _)| id)
        .collect();
    let during = acked
        .iter()
        .filter(|(_, at)| *at >= started && *at <= finished)
        .count();
    eprintln!(
        "backup took {:?}; {} reports acknowledged before it, {during} during it, {} in all",
        finished - started,
        before.len(),
        acked.len()
    );
    assert_eq!(mode(&backup), 0o600);
    let old_key = std::fs::read(c.dir.join("data/evidence-signing.key")).unwrap();
    assert!(c.stop().success());

    // Restore refuses a data directory that is not empty (exit 2, says why), and leaves it alone.
    let busy = t.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let out = collector_cmd(
        &config,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            busy.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{} is not empty", busy.display())) && err.contains("notes.txt"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // Restore into a fresh directory, then serve from it.
    let new_dir = t.path().join("new");
    let out = collector_cmd(
        &config,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--data-dir",
            new_dir.join("data").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(mode(&new_dir.join("data")), 0o700);
    assert_eq!(mode(&new_dir.join("data/vigie.db")), 0o600);
    assert_eq!(
        std::fs::read(new_dir.join("data/evidence-signing.key")).unwrap(),
        old_key
    );
    let c2 = Collector::start(&new_dir, 0, "");

    // Every report acknowledged before the backup started is in the restored store; nothing that
    // was never acknowledged is.
    let db = c2.db();
    let stored: std::collections::HashSet<String> = db
        .prepare("SELECT report_id FROM recent_reports")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let missing: Vec<_> = before.iter().filter(|id| !stored.contains(**id)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not restored: {missing:?}"
    );
    assert!(stored.contains(&agent_first[0]));
    let known: std::collections::HashSet<&String> =
        acked.iter().map(|(id, _)| id).chain(&agent_first).collect();
    assert!(stored.iter().all(|id| known.contains(id)));
    assert!(
        stored.len() > before.len(),
        "the snapshot is older than it should be"
    );

    // Same signing key: the bundle exported before the backup verifies with the new public key.
    let out = collector_cmd(&c2.dir.join("collector.toml"), &["evidence", "public-key"]);
    assert!(out.status.success(), "{}", describe(&out));
    let pem = t.path().join("restored.pem");
    std::fs::write(&pem, &out.stdout).unwrap();
    let out = Command::new(bin("vigie-collector"))
        .args(["evidence", "verify", "--public-key"])
        .arg(&pem)
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));

    // Node keys still work: the real agent reports with the key it got before the backup, and so
    // does every simulated host.
    agent.set_clock(chrono::Utc::now() + chrono::Duration::seconds(5));
    let (code, err) = agent.run_once(&c2.url);
    assert_eq!(code, 0, "run --once against the restored collector: {err}");
    assert_eq!(delivered_ids(&err).len(), 1, "{err}");
    for h in &mut sims {
        assert!(post(&c2.url, h).is_some(), "host {} refused", h.index);
    }
    assert!(c2.stop().success());
}
