#![allow(clippy::disallowed_methods)] // the harness itself reads fixture directories
//! Runs every fixture host in `tests/fixtures/hosts/` and compares each check's result with the
//! host's `expected.toml`:
//!
//! ```toml
//! [patch_age]
//! status = "fail"
//! summary_contains = ["openssl", "45 days"]   # every string must appear in the summary
//! [patch_age.facts]                           # optional: facts that must have exactly these values
//! pending_security = 3
//! ```
//!
//! Only the checks named in `expected.toml` are run. The fixture's `agent.toml` (optional) supplies
//! the `[checks.*]` configuration; its `state/` directory the agent state (copied to a temporary
//! directory so runs never write into the fixture).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigie_checks::fixture::FixtureProbe;
use vigie_checks::state::DirState;
use vigie_checks::{ChecksConfig, Context, Status};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    status: String,
    #[serde(default)]
    summary_contains: Vec<String>,
    #[serde(default)]
    facts: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
struct AgentFile {
    #[serde(default)]
    checks: ChecksConfig,
}

fn hosts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn every_fixture_host_meets_its_expectations() {
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(hosts_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("fixture.toml").exists())
        .collect();
    dirs.sort();
    let only = std::env::var("VIGIE_FIXTURE").ok();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let probe = FixtureProbe::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cfg: AgentFile = match std::fs::read_to_string(dir.join("agent.toml")) {
            Ok(t) => toml::from_str(&t).unwrap_or_else(|e| panic!("{name}/agent.toml: {e}")),
            Err(_) => AgentFile::default(),
        };
        cfg.checks
            .validate()
            .unwrap_or_else(|e| panic!("{name}/agent.toml: {e}"));
        let expected_text = std::fs::read_to_string(dir.join("expected.toml"))
            .unwrap_or_else(|e| panic!("{name}/expected.toml: {e}"));
        let expected: BTreeMap<String, Expectation> =
            toml::from_str(&expected_text).unwrap_or_else(|e| panic!("{name}/expected.toml: {e}"));
        assert!(!expected.is_empty(), "{name}: expected.toml names no check");
        let tmp = tempfile::tempdir().unwrap();
        if dir.join("state").is_dir() {
            copy_dir(&dir.join("state"), tmp.path());
        }
        let state = DirState::new(tmp.path());
        let ctx = Context {
            probe: &probe,
            config: &cfg.checks,
            state: &state,
        };
        for (check_id, want) in &expected {
            let check = vigie_checks::find(check_id)
                .unwrap_or_else(|| panic!("{name}: unknown check {check_id}"));
            let got = vigie_checks::run_check(check, &ctx);
            ran += 1;
            let want_status = Status::parse(&want.status)
                .unwrap_or_else(|| panic!("{name}: bad status {}", want.status));
            let mut problems = Vec::new();
            if got.status != want_status {
                problems.push(format!("status: want {want_status}, got {}", got.status));
            }
            for s in &want.summary_contains {
                if !got.summary.contains(s.as_str()) {
                    problems.push(format!("summary lacks {s:?}"));
                }
            }
            for (k, v) in &want.facts {
                let w = toml_to_json(v);
                match got.facts.get(k) {
                    Some(g) if *g == w => {}
                    other => problems.push(format!("fact {k}: want {w}, got {other:?}")),
                }
            }
            for ev in &got.evidence {
                if ev.sha256.len() != 64 {
                    problems.push(format!("evidence {} has no sha256", ev.source));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{name}/{check_id}: {}\n    summary: {}\n    facts: {}",
                    problems.join("; "),
                    got.summary,
                    serde_json::Value::Object(got.facts.clone())
                ));
            }
        }
    }
    assert!(ran > 0 || only.is_some(), "no fixture host ran");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every check has at least one passing and one failing fixture host (inventory: pass only).
#[test]
fn every_check_has_pass_and_fail_fixtures() {
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(hosts_dir()).unwrap() {
        let p = e.unwrap().path();
        let Ok(t) = std::fs::read_to_string(p.join("expected.toml")) else {
            continue;
        };
        let exp: BTreeMap<String, Expectation> = toml::from_str(&t).unwrap();
        for (k, v) in exp {
            seen.entry(k).or_default().push(v.status);
        }
    }
    for c in vigie_checks::ALL {
        let statuses = seen.get(c.id()).cloned().unwrap_or_default();
        assert!(
            statuses.iter().any(|s| s == "pass"),
            "{} has no passing fixture host",
            c.id()
        );
        if c.id() != "inventory" {
            assert!(
                statuses.iter().any(|s| s == "fail"),
                "{} has no failing fixture host",
                c.id()
            );
        }
    }
}

/// Every check has a passing and a failing fixture host on each platform that has logic for it
/// (`os` in fixture.toml, default linux); inventory: pass only.
#[test]
fn every_check_has_pass_and_fail_fixtures_per_platform() {
    let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in std::fs::read_dir(hosts_dir()).unwrap() {
        let p = e.unwrap().path();
        let (Ok(f), Ok(t)) = (
            std::fs::read_to_string(p.join("fixture.toml")),
            std::fs::read_to_string(p.join("expected.toml")),
        ) else {
            continue;
        };
        // Only the `os` key matters here; the rest is validated by the probe.
        let os = toml::from_str::<toml::Table>(&f)
            .ok()
            .and_then(|t| t.get("os").and_then(|v| v.as_str()).map(String::from))
            .unwrap_or_else(|| "linux".into());
        let exp: BTreeMap<String, Expectation> = toml::from_str(&t).unwrap();
        for (k, v) in exp {
            seen.entry((os.clone(), k)).or_default().push(v.status);
        }
    }
    for os in ["linux", "macos", "windows"] {
        for c in vigie_checks::ALL {
            if !c.platforms().iter().any(|p| p.as_str() == os) {
                continue;
            }
            let statuses = seen
                .get(&(os.to_string(), c.id().to_string()))
                .cloned()
                .unwrap_or_default();
            assert!(
                statuses.iter().any(|s| s == "pass"),
                "{} has no passing {os} fixture host",
                c.id()
            );
            if c.id() != "inventory" {
                assert!(
                    statuses.iter().any(|s| s == "fail"),
                    "{} has no failing {os} fixture host",
                    c.id()
                );
            }
        }
    }
}
