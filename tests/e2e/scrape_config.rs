//! deploy/prometheus/prometheus.yml, the Prometheus configuration example (TLS scrape of the
//! collector, Vigie's alert rules), passes `promtool check config` with the repository's rules in
//! place of the packaged path; a broken copy does not (the check can fail).

use std::path::{Path, PathBuf};
use std::process::Command;

use vigie_e2e::*;

fn promtool() -> Option<PathBuf> {
    let p = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if p.is_none() {
        assert!(
            std::env::var("VIGIE_REQUIRE_PROMTOOL").is_err(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("promtool not installed: skipping");
    }
    p
}

fn check(promtool: &Path, text: &str, dir: &Path, name: &str) -> std::process::Output {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    Command::new(promtool)
        .args(["check", "config"])
        .arg(&f)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn the_scrape_config_example_passes_promtool_check_config() {
    let example = repo().join("deploy/prometheus/prometheus.yml");
    let text = std::fs::read_to_string(&example).unwrap();
    // What the example must say: TLS with a pinned CA, the job the rules select, the retention.
    for needle in [
        "scheme: https",
        "ca_file: /etc/prometheus/vigie-ca.crt",
        "insecure_skip_verify: false",
        "job_name: vigie",
        "--storage.tsdb.retention.time=400d",
        "/usr/share/vigie/prometheus/vigie-rules.yml",
    ] {
        assert!(
            text.contains(needle),
            "{} lacks {needle:?}",
            example.display()
        );
    }
    let Some(promtool) = promtool() else { return };
    let t = tempfile::tempdir().unwrap();
    // The packaged rules path, pointed at the repository's copy (the same file, see package-test).
    let rules = repo().join("dashboards/prometheus/vigie-rules.yml");
    let local = text.replace(
        "/usr/share/vigie/prometheus/vigie-rules.yml",
        rules.to_str().unwrap(),
    );
    let out = check(&promtool, &local, t.path(), "prometheus.yml");
    assert!(out.status.success(), "{}", describe(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("rules found"), "{said}");

    // The check is real: a misspelt TLS key is refused.
    let broken = local.replace("insecure_skip_verify:", "insecure_skip_verfy:");
    let out = check(&promtool, &broken, t.path(), "broken.yml");
    assert!(!out.status.success(), "promtool accepted a misspelt key");
}
