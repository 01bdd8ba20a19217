//! `check-config` and `serve` agree (issue 9, item 7): every configuration `serve` refuses makes
//! `check-config` fail, both with exit code 2 and a message naming the key, so systemd's
//! `RestartPreventExitStatus=2` stops instead of restart-looping. And commands other than `serve`
//! never create a database where there is none.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vigie_e2e::*;

fn collector(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("vigie-collector"));
    cmd.current_dir(dir)
        .env_remove("VIGIE_COLLECTOR_CONFIG")
        .args(args);
    cmd
}

/// `serve` with this config; it must exit by itself (a refused configuration), within 20 s.
fn serve(dir: &Path, cfg: &Path) -> Output {
    let mut child = collector(dir, &["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("serve accepted {}: {}", cfg.display(), describe(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn every_configuration_serve_refuses_fails_check_config_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let pem_junk = d.join("junk.pem");
    std::fs::write(&pem_junk, "not a PEM file\n").unwrap();
    let short_secret = d.join("short-secret");
    std::fs::write(&short_secret, "too-short\n").unwrap();
    let blank_secret = d.join("blank-secret");
    std::fs::write(&blank_secret, "                    \nsecond line\n").unwrap();
    let token = "a-token-of-at-least-32-characters-0123456789";
    let missing = d.join("missing.pem");
    let data = d.join("data");
    // (case, [server] and [auth] keys, what the message must name)
    let cases = [
        (
            "neither TLS nor plain HTTP",
            String::new(),
            "server.insecure_http",
        ),
        (
            "missing certificate",
            format!(
                "[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                missing.display(),
                pem_junk.display()
            ),
            "server.tls_cert",
        ),
        (
            "certificate file without a certificate",
            format!(
                "[server]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                pem_junk.display(),
                pem_junk.display()
            ),
            "server.tls_cert",
        ),
        (
            "admin token that is also an auditor token",
            format!(
                "[server]\ninsecure_http = true\n[auth]\nadmin_tokens = [\"{token}\"]\n\
                 auditor_tokens = [\"{token}\"]\n"
            ),
            "auth.admin_tokens[0]",
        ),
        (
            "blank enrolment secret",
            "[server]\ninsecure_http = true\n[auth]\nenroll_secret = \"                    \"\n"
                .to_string(),
            "auth.enroll_secret",
        ),
        (
            "short enrolment secret",
            "[server]\ninsecure_http = true\n[auth]\nenroll_secret = \"0123456789abcde\"\n"
                .to_string(),
            "auth.enroll_secret",
        ),
        (
            "short enrolment secret file",
            format!(
                "[server]\ninsecure_http = true\n[auth]\nenroll_secret_file = \"{}\"\n",
                short_secret.display()
            ),
            "auth.enroll_secret_file",
        ),
        (
            "blank enrolment secret file",
            format!(
                "[server]\ninsecure_http = true\n[auth]\nenroll_secret_file = \"{}\"\n",
                blank_secret.display()
            ),
            "auth.enroll_secret_file",
        ),
        (
            "missing enrolment secret file",
            format!(
                "[server]\ninsecure_http = true\n[auth]\nenroll_secret_file = \"{}\"\n",
                missing.display()
            ),
            "auth.enroll_secret_file",
        ),
        (
            "zero header timeout",
            "[server]\ninsecure_http = true\nheader_read_timeout_seconds = 0\n".to_string(),
            "server.header_read_timeout_seconds",
        ),
    ];
    for (i, (case, keys, names)) in cases.iter().enumerate() {
        let cfg = d.join(format!("case-{i}.toml"));
        std::fs::write(
            &cfg,
            format!("{keys}\n[storage]\ndata_dir = \"{}\"\n", data.display()),
        )
        .unwrap();
        let out = collector(d, &["--config", cfg.to_str().unwrap(), "check-config"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "check-config, {case}: {}",
            describe(&out)
        );
        assert!(stderr.contains(names), "check-config, {case}: {stderr}");
        let out = serve(d, &cfg);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "serve, {case}: {}",
            describe(&out)
        );
        assert!(stderr.contains(names), "serve, {case}: {stderr}");
        assert!(!data.exists(), "serve, {case}: created the data directory");
    }

    // The same files with their mistakes fixed are valid.
    let secret = d.join("secret");
    std::fs::write(&secret, "0123456789abcdef\n").unwrap();
    let cfg = d.join("valid.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ninsecure_http = true\n[auth]\nenroll_secret_file = \"{}\"\n\
             admin_tokens = [\"{token}\"]\n[storage]\ndata_dir = \"{}\"\n",
            secret.display(),
            data.display()
        ),
    )
    .unwrap();
    let out = collector(d, &["--config", cfg.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// Without `--config` in an empty directory, commands that read or write the store say there is
/// no database and exit 1, and leave no `./vigie-data` behind: only `serve` creates it.
#[test]
fn commands_other_than_serve_never_create_the_database() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    let month = "2026-01";
    let commands: &[&[&str]] = &[
        &["kpi"],
        &["incident", "list"],
        &["host", "allow-reenroll", "1"],
        &["evidence", "public-key"],
        &["cis", "score"],
        &["risk", "list"],
        &["report", "monthly", "--month", month, "--out", "report-out"],
        &[
            "evidence",
            "export",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
            "--out",
            "bundle.zip",
        ],
    ];
    for args in commands {
        let out = collector(d, args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert!(stderr.contains("no database"), "{args:?}: {stderr}");
        assert!(
            !d.join("vigie-data").exists(),
            "{args:?} created ./vigie-data"
        );
    }
    let files: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert!(files.is_empty(), "left behind: {files:?}");
    // Commands that need no store still work there.
    let out = collector(d, &["cis", "catalogue"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}
