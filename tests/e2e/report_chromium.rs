//! The monthly report's HTML in a real browser: Debian's headless Chromium loads the file, renders
//! the summary, takes an A4-sized screenshot, and the page makes no request of its own.
//!
//! Skipped (with a message) when `/usr/bin/chromium` is missing, unless `VIGIE_REQUIRE_CHROMIUM`
//! is set (CI sets it, so a missing browser fails there instead of passing silently).
//!
//! "No request leaves the file", three ways: the HTML has no `src`/`href`/`url(` pointing at an
//! `http(s)://` or `//` address; Chromium runs with every host name resolving to nothing and a proxy
//! on a closed port, so nothing could leave anyway; and its network log (`--v=1`, one
//! `NotifyBeforeURLRequest` line per request) for the report holds exactly the same non-file
//! requests as for `about:blank` — the browser's own start-up calls, none from the page.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Datelike, Months, NaiveDate, Utc};
use vigie_e2e::bin;

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium_missing() -> bool {
    if Path::new(CHROMIUM).exists() {
        return false;
    }
    if std::env::var_os("VIGIE_REQUIRE_CHROMIUM").is_some() {
        panic!(
            "{CHROMIUM} is missing and VIGIE_REQUIRE_CHROMIUM is set: apt-get install -y chromium"
        );
    }
    eprintln!("skipping: {CHROMIUM} is not installed (apt-get install -y chromium)");
    true
}

/// Run Chromium headless on `url` with `extra` arguments, network cut off and logged; returns
/// (stdout, the non-file URLs it requested).
fn chromium(profile: &Path, url: &str, extra: &[String]) -> (String, Vec<String>) {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-default-apps",
        "--no-pings",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        // The discard port: nothing listens there, so any proxied request fails at once.
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=1",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url);
    let out = cmd.output().expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "chromium {url} failed: {}\n{}",
        out.status,
        stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    let mut requests: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.split("NotifyBeforeURLRequest: ").nth(1))
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .map(|u| u.split('?').next().unwrap_or(u).to_string())
        .collect();
    requests.sort();
    requests.dedup();
    (String::from_utf8_lossy(&out.stdout).into_owned(), requests)
}

/// Every value of `src=`, `href=` and `url(` in `html`.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["src=", "href=", "url("] {
        let mut rest = html;
        while let Some(i) = rest.find(key) {
            rest = &rest[i + key.len()..];
            let v: String = rest
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ')' | ' ' | '>'))
                .collect();
            out.push(v);
        }
    }
    out
}

/// The last complete month and its last day.
fn last_month() -> (String, NaiveDate) {
    let today = Utc::now().date_naive();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let prev = first.checked_sub_months(Months::new(1)).unwrap();
    (prev.format("%Y-%m").to_string(), first.pred_opt().unwrap())
}

fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .unwrap()
        .join("report-screenshots")
}

#[test]
fn report_renders_in_chromium_without_requests() {
    if chromium_missing() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let (month, end) = last_month();
    let data = d.path().join("data");
    let gen = Command::new(bin("vigie-collector"))
        .args([
            "report",
            "generate-store",
            "--hosts",
            "200",
            "--days",
            "400",
        ])
        .arg("--db")
        .arg(data.join("vigie.db"))
        .arg(format!("--end={end}"))
        .output()
        .unwrap();
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
    let cfg = d.path().join("collector.toml");
    std::fs::write(
        &cfg,
        format!("[storage]\ndata_dir = \"{}\"\n", data.display()),
    )
    .unwrap();
    let out_dir = d.path().join("out");
    let run = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(&cfg)
        .args(["report", "monthly", "--month", &month, "--format", "html"])
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty(), "nothing on stdout without --verbose");
    let html_path = out_dir.join(format!("vigie-report-{month}.fr.html"));
    let html = std::fs::read_to_string(&html_path).unwrap();
    for r in references(&html) {
        assert!(
            !(r.starts_with("http:") || r.starts_with("https:") || r.starts_with("//")),
            "the report references {r}"
        );
    }
    let url = format!("file://{}", html_path.display());

    // The rendered page has the summary heading and the charts.
    let (dom, page_requests) = chromium(&d.path().join("p1"), &url, &["--dump-dom".into()]);
    assert!(
        dom.contains("Synthèse pour la direction"),
        "DOM: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("<svg"), "charts drawn");
    let (_, baseline) = chromium(&d.path().join("p0"), "about:blank", &["--dump-dom".into()]);
    assert_eq!(
        page_requests, baseline,
        "the report page caused requests beyond the browser's own start-up calls"
    );

    // A4 at 150 dpi is 1240 × 1754.
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &d.path().join("p2"),
        &url,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1240,1754".into(),
        ],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.len() > 10_000, "screenshot is {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    eprintln!("screenshot: {}", png.display());
}

#[test]
fn report_cli_exit_codes() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("collector.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = \"{}\"\n",
            d.path().join("data").display()
        ),
    )
    .unwrap();
    let run = |month: &str| {
        Command::new(bin("vigie-collector"))
            .arg("--config")
            .arg(&cfg)
            .args(["report", "monthly", "--month", month, "--out"])
            .arg(d.path().join("out"))
            .output()
            .unwrap()
    };
    let bad = run("2026-13");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected YYYY-MM"));
    let missing = run("2026-01");
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no database here"));
    assert!(missing.stdout.is_empty());
}
