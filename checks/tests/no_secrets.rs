#![allow(clippy::disallowed_methods)] // the harness itself reads fixture directories
//! No secret read on a fixture host leaves the checks library: every check of the registry runs on
//! every fixture host in `tests/fixtures/hosts/` (with the host's `agent.toml`), and the results —
//! summaries, facts, evidence sources and excerpts — must contain
//! - no planted secret (every planted value in the `secrets-*` hosts contains `PLANTED`), and
//! - no password field of the host's `/etc/shadow`, `/etc/gshadow` or `/etc/passwd` beyond what a
//!   judgement needs (`x`, `*`, `!`, `!!`, empty).
//!
//! The same assertion over the real `vigie-agent` binary's JSON output, and end to end through the
//! collector, is in `tests/e2e/secrets.rs`.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use vigie_checks::fixture::FixtureProbe;
use vigie_checks::state::DirState;
use vigie_checks::{ChecksConfig, Context};

#[derive(Deserialize, Default)]
struct AgentFile {
    #[serde(default)]
    checks: ChecksConfig,
}

fn hosts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hosts")
}

/// The secret part of every password field in the host's account files.
fn account_secrets(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["etc/shadow", "etc/gshadow", "etc/passwd"] {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for line in text.lines() {
            let Some(field) = line.split(':').nth(1) else {
                continue;
            };
            let secret = field.trim_start_matches(['!', '*']);
            if !secret.is_empty() && field != "x" {
                out.push(secret.to_string());
            }
        }
    }
    out
}

#[test]
fn no_fixture_host_lets_a_secret_out_of_the_checks() {
    let mut dirs: Vec<_> = std::fs::read_dir(hosts_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("fixture.toml").exists())
        .collect();
    dirs.sort();
    let mut leaks = Vec::new();
    let mut hashes_checked = 0;
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let probe = FixtureProbe::load(dir).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cfg: AgentFile = match std::fs::read_to_string(dir.join("agent.toml")) {
            Ok(t) => toml::from_str(&t).unwrap_or_else(|e| panic!("{name}/agent.toml: {e}")),
            Err(_) => AgentFile::default(),
        };
        let state = DirState::read_only(&dir.join("state"));
        let ctx = Context {
            probe: &probe,
            config: &cfg.checks,
            state: &state,
        };
        let results = vigie_checks::run_all(&ctx, None);
        let out = serde_json::to_string(&results).unwrap();
        if let Some(at) = out.find("PLANTED") {
            let from = at.saturating_sub(80);
            leaks.push(format!(
                "{name}: planted secret in …{}…",
                &out[from..(at + 60).min(out.len())]
            ));
        }
        for secret in account_secrets(&dir.join("root")) {
            hashes_checked += 1;
            if out.contains(&secret) {
                leaks.push(format!(
                    "{name}: account password field {secret:?} in the results"
                ));
            }
        }
    }
    assert!(leaks.is_empty(), "\n{}", leaks.join("\n"));
    // Not vacuous: the fixtures hold hashes, and the planted hosts were read and redacted.
    assert!(
        hashes_checked >= 8,
        "only {hashes_checked} password fields checked"
    );
}

#[test]
fn planted_hosts_show_what_the_judgement_needs() {
    let run = |name: &str, check: &str| {
        let dir = hosts_dir().join(name);
        let probe = FixtureProbe::load(&dir).unwrap();
        let cfg: AgentFile = std::fs::read_to_string(dir.join("agent.toml"))
            .map(|t| toml::from_str(&t).unwrap())
            .unwrap_or_default();
        let state = DirState::read_only(&dir.join("state"));
        let ctx = Context {
            probe: &probe,
            config: &cfg.checks,
            state: &state,
        };
        serde_json::to_string(&vigie_checks::run_all(&ctx, Some(check))).unwrap()
    };
    let accounts = run("secrets-planted-accounts", "password_policy");
    for kept in [
        "root:$6$<redacted>:20415",
        "alice:$y$<redacted>:20416",
        "dave:<redacted>:20450",
        "bob:$y$<redacted>:1002",
        "carol::1003",
        "daemon:*:20415",
        "messagebus:!:20415",
    ] {
        assert!(accounts.contains(kept), "{kept} missing from {accounts}");
    }
    let mfa = run("secrets-planted-accounts", "mfa");
    assert!(mfa.contains("token=<redacted>"), "{mfa}");
    assert!(mfa.contains("api_key: <redacted>"), "{mfa}");
    let backup = run("secrets-planted-backup", "backup_freshness");
    for kept in [
        "rest:https://backup:<redacted>@backup.example.org:8000/db-01/",
        "\\\"upload_token\\\": \\\"<redacted>\\\"",
    ] {
        assert!(backup.contains(kept), "{kept} missing from {backup}");
    }
}
