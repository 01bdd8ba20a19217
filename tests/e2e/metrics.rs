//! `/metrics` on a live collector: valid exposition (checked by Debian's `promtool`) with the fleet
//! aggregates the reports imply.

use std::io::Write;
use std::process::{Command, Stdio};
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

#[test]
fn live_scrape_passes_promtool_and_counts_the_fleet() {
    let t = tempfile::tempdir().unwrap();
    // extra lines land in the [metrics] section of the generated config.
    let c = Collector::start(&t.path().join("c"), 0, "per_host = true\n");
    let laptop = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop",
        "55555555555555555555555555555555",
    );
    let vm = Host::from_fixture(
        "microvm-plain-ext4",
        t.path(),
        "vm",
        "66666666666666666666666666666666",
    );
    for h in [&laptop, &vm] {
        h.enroll(&c.url);
        assert_eq!(h.run_once(&c.url).0, 0);
    }
    // Fleet gauges refresh every second in this config; wait for a refresh that saw both reports.
    let deadline = Instant::now() + Duration::from_secs(15);
    let text = loop {
        let text = scrape(&c);
        if value(&text, "vigie_hosts{state=\"reporting\"}") == Some(2.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "fleet gauges never showed 2 reporting hosts:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // One encrypted laptop, one unencrypted VM.
    assert_eq!(
        value(
            &text,
            "vigie_check_hosts{check=\"disk_encryption\",status=\"pass\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "vigie_check_hosts{check=\"disk_encryption\",status=\"fail\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "vigie_ingest_reports_total{outcome=\"accepted\"}"),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "vigie_ingest_duration_seconds_count{outcome=\"accepted\"}"
        ),
        Some(2.0)
    );
    prometheus_conventions(&text);

    let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(promtool) = promtool else {
        assert!(
            std::env::var("VIGIE_REQUIRE_PROMTOOL").is_err(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("promtool not installed: skipping `promtool check metrics`");
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}",
        describe(&out)
    );
    // Clean, not only parseable: promtool's lint findings (e.g. a counter not named `_total`)
    // are printed even when it exits 0.
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics found problems:\n{}",
        describe(&out)
    );
}

/// The naming rules of the Prometheus docs, on the live scrape: counters end in `_total` and
/// nothing else does; the store writer's monotonic counts are counters, not gauges; build info
/// and the process metrics are there.
fn prometheus_conventions(text: &str) {
    let types: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for (name, kind) in &types {
        assert_eq!(
            name.ends_with("_total"),
            *kind == "counter",
            "{name} is a {kind}: counters, and only counters, are named _total"
        );
    }
    for name in [
        "vigie_store_batches_total",
        "vigie_store_operations_total",
        "vigie_store_failed_commits_total",
        "vigie_ingest_reports_total",
        "vigie_enrolments_total",
        "process_cpu_seconds_total",
    ] {
        assert!(
            types.contains(&(name, "counter")),
            "{name} is not exported as a counter"
        );
    }
    assert!(
        value(text, "vigie_store_batches_total").unwrap_or(0.0) >= 1.0,
        "the writer committed the enrolments and reports"
    );
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(types.contains(&(name, "gauge")), "{name} missing");
    }
    let info = text
        .lines()
        .find(|l| l.starts_with("vigie_build_info{"))
        .expect("vigie_build_info");
    assert!(
        info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && info.ends_with(" 1"),
        "{info}"
    );
}
