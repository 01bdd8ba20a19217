//! Secrets never leave the host (docs/redaction.md), checked on the real binaries:
//! - `vigie-agent check --format json` on every fixture host prints no planted secret and no
//!   account password field;
//! - an agent on the planted hosts reports to a real collector (both started under umask 000),
//!   and no planted secret is in the agent's spool (rejected reports included), the collector's
//!   files (SQLite database and WAL), the host and history API, `/metrics`, the risk feeds, the
//!   monthly report or the evidence bundle; the state and data directories and files are private.

use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigie_e2e::*;

/// Every planted value in `tests/fixtures/hosts/secrets-*` contains this.
const PLANTED: &str = "PLANTED";

fn hosts_dir() -> PathBuf {
    repo().join("tests/fixtures/hosts")
}

/// The secret part of every password field in a fixture's account files.
fn account_secrets(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["etc/shadow", "etc/gshadow", "etc/passwd"] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for line in text.lines() {
            if let Some(field) = line.split(':').nth(1) {
                let secret = field.trim_start_matches(['!', '*']);
                if !secret.is_empty() && field != "x" {
                    out.push(secret.to_string());
                }
            }
        }
    }
    out
}

/// Where in `text` a planted secret appears, for the failure message.
fn leak(text: &str) -> Option<String> {
    let at = text.find(PLANTED)?;
    let mut from = at.saturating_sub(60);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (at + 60).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    Some(format!("…{}…", &text[from..to]))
}

#[test]
fn agent_json_of_every_fixture_host_holds_no_secret() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(hosts_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("fixture.toml").exists())
        .collect();
    dirs.sort();
    let mut leaks = Vec::new();
    let mut redacted_seen = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let mut cmd = Command::new(bin("vigie-agent"));
        if dir.join("agent.toml").exists() {
            cmd.arg("--config").arg(dir.join("agent.toml"));
        }
        let out = cmd
            .args(["check", "--format", "json", "--root"])
            .arg(dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.trim_start().starts_with('{'),
            "{name}: no JSON report: {}",
            describe(&out)
        );
        let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        if let Some(at) = leak(&all) {
            leaks.push(format!("{name}: planted secret in {at}"));
        }
        for secret in account_secrets(&dir.join("root")) {
            if all.contains(&secret) {
                leaks.push(format!("{name}: password field {secret:?} printed"));
            }
        }
        redacted_seen += stdout.matches("<redacted>").count();
    }
    assert!(leaks.is_empty(), "\n{}", leaks.join("\n"));
    assert!(redacted_seen >= 10, "only {redacted_seen} redactions seen");
}

/// Every regular file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else if let Ok(bytes) = std::fs::read(&p) {
            out.push((p, bytes));
        }
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn get(c: &Collector, path: &str) -> (u16, String) {
    let r = http()
        .get(format!("{}{path}", c.url))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn planted_secrets_reach_no_spool_store_api_feed_report_or_bundle() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start_with_umask(&t.path().join("collector"), "000");
    let hosts = [
        Host::from_fixture(
            "secrets-planted-accounts",
            t.path(),
            "acct-01",
            "5ec2e75ec2e75ec2e75ec2e75ec2e701",
        ),
        Host::from_fixture(
            "secrets-planted-backup",
            t.path(),
            "backup-01",
            "5ec2e75ec2e75ec2e75ec2e75ec2e702",
        ),
    ];
    for h in &hosts {
        h.enroll(&c.url);
        let (code, err) = h.run_once(&c.url);
        assert_eq!(code, 0, "everything delivered: {err}");
        assert_eq!(delivered_ids(&err).len(), 1, "{err}");
    }
    // A report the collector refuses (collected two months ago) lands in spool/rejected/.
    let old = &hosts[1];
    old.set_clock(chrono::Utc::now() - chrono::Duration::days(60));
    let (_, err) = old.run_once(&c.url);
    let rejected = files_under(&old.state.join("spool/rejected"));
    assert!(!rejected.is_empty(), "no rejected report: {err}");

    let mut leaks = Vec::new();
    let mut scan = |what: &str, text: &str| {
        if let Some(at) = leak(text) {
            leaks.push(format!("{what}: {at}"));
        }
    };
    // The agents' spool and state, rejected reports included.
    for h in &hosts {
        for (p, bytes) in files_under(&h.state) {
            scan(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
        }
    }
    assert!(
        String::from_utf8_lossy(&rejected[0].1).contains("<redacted>"),
        "the rejected report is the redacted one"
    );

    // The API an auditor reads.
    let (status, list) = get(&c, "/api/v1/hosts");
    assert_eq!(status, 200, "{list}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let ids: Vec<i64> = list["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    let mut api_text = String::new();
    for id in ids {
        for path in [
            format!("/api/v1/hosts/{id}"),
            format!("/api/v1/hosts/{id}/history?limit=100"),
            format!("/api/v1/hosts/{id}/history?check=password_policy"),
            format!("/api/v1/hosts/{id}/history?check=backup_freshness"),
        ] {
            let (status, body) = get(&c, &path);
            assert_eq!(status, 200, "{path}: {body}");
            scan(&path, &body);
            api_text.push_str(&body);
        }
    }
    // The API shows the redacted evidence, so the check above looked at the right thing.
    for kept in [
        "root:$6$<redacted>:",
        "bob:$y$<redacted>:",
        "rest:https://backup:<redacted>@backup.example.org:8000/db-01/",
    ] {
        assert!(api_text.contains(kept), "{kept} not in the host API");
    }

    // Metrics and the risk feeds (the collector derives fleet risks from failing checks).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let metrics = http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    scan("/metrics", &metrics);
    for path in [
        "/api/v1/risks",
        "/api/v1/risks.csv",
        "/feeds/risks.atom",
        "/api/v1/actions",
        "/api/v1/exceptions",
    ] {
        let (status, body) = get(&c, path);
        assert_eq!(status, 200, "{path}: {body}");
        scan(path, &body);
    }

    // The monthly report, every format.
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let report_dir = t.path().join("report");
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args([
            "report",
            "monthly",
            "--month",
            &month,
            "--format",
            "html,md,json",
            "--out",
        ])
        .arg(&report_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "report: {}", describe(&out));
    let report_files = files_under(&report_dir);
    assert!(report_files.len() >= 3, "{report_files:?}");
    for (p, bytes) in &report_files {
        scan(&p.display().to_string(), &String::from_utf8_lossy(bytes));
    }

    // The evidence bundle, unzipped.
    let today = chrono::Utc::now().date_naive();
    let r = http()
        .get(format!("{}/api/v1/evidence?from={today}&to={today}", c.url))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut bundle_text = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        let text = String::from_utf8_lossy(&content);
        scan(&format!("bundle {name}"), &text);
        bundle_text.push_str(&text);
    }
    assert!(
        bundle_text.contains("$6$<redacted>"),
        "the bundle carries the redacted shadow excerpt"
    );

    // The collector's files: database, WAL, signing key.
    let data = c.dir.join("data");
    let data_files = files_under(&data);
    assert!(
        data_files.iter().any(|(p, _)| p.ends_with("vigie.db")),
        "{data_files:?}"
    );
    for (p, bytes) in &data_files {
        scan(&p.display().to_string(), &String::from_utf8_lossy(bytes));
    }
    assert!(leaks.is_empty(), "\n{}", leaks.join("\n"));

    // Private whatever the umask (the collector ran under umask 000).
    assert_eq!(mode(&data), 0o700, "data directory");
    for (p, _) in &data_files {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
    c.stop();
}

#[test]
fn agent_state_directory_is_private_under_umask_000() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("var/lib/vigie");
    let fixture = hosts_dir().join("ubuntu-first-seen-45d");
    let out = Command::new("/bin/sh")
        .args(["-c", "umask 000 && exec \"$0\" \"$@\""])
        .arg(bin("vigie-agent"))
        .args(["check", "--format", "json", "--only", "patch_age", "--root"])
        .arg(&fixture)
        .arg("--state-dir")
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"patch_age\""),
        "{}",
        describe(&out)
    );
    assert_eq!(mode(&state), 0o700, "state directory");
    let files = files_under(&state);
    assert!(
        !files.is_empty(),
        "patch_age keeps first-seen dates in the state directory"
    );
    for (p, _) in &files {
        assert_eq!(mode(p), 0o600, "{}", p.display());
    }
}
