//! The agent's command line as a sysadmin meets it: exit codes, formats, config errors, golden table.

use std::process::Command;

use vigie_e2e::*;

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-agent"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/hosts")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Compare with a golden file; `VIGIE_BLESS=1` rewrites it.
fn golden(name: &str, got: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var("VIGIE_BLESS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with VIGIE_BLESS=1", path.display()));
    assert_eq!(
        want,
        got,
        "golden {} differs (VIGIE_BLESS=1 to accept)",
        path.display()
    );
}

#[test]
fn exit_codes_follow_the_documented_contract() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let cfg = empty.path().to_str().unwrap();
    let pass = agent(&[
        "--config",
        cfg,
        "check",
        "--root",
        &fixture("debian12-baseline"),
        "--only",
        "inventory",
    ]);
    assert_eq!(pass.status.code(), Some(0), "{}", describe(&pass));
    let fail = agent(&[
        "--config",
        cfg,
        "check",
        "--root",
        &fixture("microvm-plain-ext4"),
        "--only",
        "disk_encryption",
    ]);
    assert_eq!(fail.status.code(), Some(1), "{}", describe(&fail));
    let na = agent(&[
        "--config",
        cfg,
        "check",
        "--root",
        &fixture("container-overlay"),
        "--only",
        "disk_encryption",
    ]);
    assert_eq!(
        na.status.code(),
        Some(0),
        "not_applicable is not a finding: {}",
        describe(&na)
    );
    let err = agent(&[
        "--config",
        cfg,
        "check",
        "--root",
        &fixture("mountinfo-garbage"),
        "--only",
        "disk_encryption",
    ]);
    assert_eq!(
        err.status.code(),
        Some(1),
        "error is never a pass: {}",
        describe(&err)
    );
    let unknown = agent(&["--config", cfg, "check", "--only", "telepathy"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known checks: inventory"));
    let usage = agent(&["check", "--format", "yaml"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("agent.toml");
    std::fs::write(
        &p,
        "[agent]\nstate_dir = \"/var/lib/vigie\"\n\n[checks.patch_age]\nsla_dayz = 30\n",
    )
    .unwrap();
    let out = agent(&["--config", p.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("agent.toml") && err.contains("line 5") && err.contains("sla_dayz"),
        "{err}"
    );
    let missing = agent(&["--config", "/nonexistent/agent.toml", "check"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/agent.toml"));
}

#[test]
fn json_output_is_a_wire_report() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let out = agent(&[
        "--config",
        empty.path().to_str().unwrap(),
        "check",
        "--format",
        "json",
        "--root",
        &fixture("laptop-lvm-on-luks"),
        "--only",
        "disk_encryption",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], 1);
    assert_eq!(v["results"][0]["check"], "disk_encryption");
    assert_eq!(v["results"][0]["status"], "pass");
    for ev in v["results"][0]["evidence"].as_array().unwrap() {
        assert_eq!(ev["sha256"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn table_output_matches_golden() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let out = agent(&[
        "--config",
        empty.path().to_str().unwrap(),
        "check",
        "--root",
        &fixture("debian12-baseline"),
    ]);
    // Every check but inventory lacks recordings on this fixture: they must say error, not pass.
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    golden(
        "agent-check-debian12-baseline.txt",
        &String::from_utf8_lossy(&out.stdout),
    );
}

#[test]
fn unwritable_state_dir_is_a_precise_error() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let state = file.join("state");
    let out = agent(&[
        "check",
        "--root",
        &fixture("debian12-baseline"),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not-a-dir/state"));
}

#[test]
fn help_documents_commands_and_exit_codes() {
    let out = agent(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["check", "enroll", "run", "Exit codes", "--config"] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}

/// `vigie-agent check --format json | head` used to panic (exit 101) once `head` went away.
#[test]
fn a_closed_stdout_ends_quietly_with_the_usual_exit_code() {
    let empty = tempfile::NamedTempFile::new().unwrap();
    let cfg = empty.path().to_str().unwrap();
    let baseline = fixture("debian12-baseline");
    let plain = fixture("microvm-plain-ext4");
    let cases: [(&[&str], i32); 5] = [
        (
            &[
                "check",
                "--format",
                "json",
                "--root",
                &baseline,
                "--only",
                "inventory",
            ],
            0,
        ),
        (&["check", "--format", "json", "--root", &plain], 1),
        (&["check", "--root", &plain, "--only", "disk_encryption"], 1),
        (&["list"], 0),
        (&["--help"], 0),
    ];
    for (args, want) in cases {
        // The reading end is closed before the agent writes a byte: every write gets EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(bin("vigie-agent"))
            .args(["--config", cfg])
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(want),
            "{args:?}: exit code as if printed\n{}",
            describe(&out)
        );
        assert!(
            out.stderr.is_empty(),
            "{args:?}: nothing said about the closed pipe\n{}",
            describe(&out)
        );
    }
}

#[test]
fn macos_fixture_table_matches_golden() {
    let host = fixture("macos-laptop-compliant");
    let config = format!("{host}/agent.toml");
    let out = agent(&["--config", &config, "check", "--root", &host]);
    // A compliant Mac: every check passes, screen_lock, firewall and malware_protection included,
    // so the exit code is 0.
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    golden(
        "agent-check-macos-laptop-compliant.txt",
        &String::from_utf8_lossy(&out.stdout),
    );
}
