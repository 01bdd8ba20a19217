//! Identity MFA end to end: stub GitHub and Okta servers on loopback, the real `vigie-collector
//! serve` (whose scheduler syncs at start) and the real `vigie-collector identity sync/list`, all on
//! one SQLite file; the KPI, staleness and gauges checked against values computed by hand.

use std::io::Read as _;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_e2e::*;

#[path = "identity_stubs.rs"]
mod identity_stubs;
use identity_stubs::*;

fn cli(c: &Collector, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn gauge(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn source<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .unwrap_or_else(|| panic!("no source {name} in {v:#}"))
}

#[test]
fn sync_store_kpi_staleness_and_gauges_through_the_real_binaries() {
    let t = tempfile::tempdir().unwrap();
    let (stubs, base) = start_stubs();
    let dir = t.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    let gh = secret(t.path(), "gh.token", "gh-e2e-token\n");
    let okta = secret(t.path(), "okta.token", "okta-e2e-token");
    // Appended after [metrics] in the generated config.
    let extra = format!(
        "[identity]\nsync_interval_hours = 6\n\
         [[identity.source]]\nname = \"github\"\nkind = \"github\"\norg = \"acme\"\ntoken_file = \"{gh}\"\napi_url = \"{base}\"\n\
         [[identity.source]]\nname = \"okta\"\nkind = \"okta\"\nurl = \"{base}\"\ntoken_file = \"{okta}\"\n"
    );
    let c = Collector::start(&dir, 0, &extra);

    // The scheduler syncs both sources as `serve` starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    let v = loop {
        let v = admin_get(&c, "/api/v1/identities");
        let done = v["sources"]
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|s| s["last_success_at"].is_i64()));
        if done {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no scheduled sync:\n{v:#}\n{}",
            c.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // By hand: GitHub members al bo cy di eli fo gi, 2FA off for bo and eli, admins al and bo;
    // outside collaborators ext1, ext2 (2FA off).
    let g = source(&v, "github");
    assert_eq!(g["counts"]["active_members"], 7);
    assert_eq!(g["counts"]["without_mfa"], 2);
    assert_eq!(g["counts"]["admins_without_mfa"], 1);
    assert_eq!(g["counts"]["guests"], 2);
    assert_eq!(g["counts"]["guests_without_mfa"], 1);
    assert_eq!(g["enforced"], false);
    assert_eq!(g["stale"], false);
    // 5 of 7 members with 2FA: below the default 100 % target.
    assert_eq!(g["target_status"], "not_met");
    // Okta: ana push (pass), ben sms (warn), cid none (fail), dan suspended (not applicable).
    let o = source(&v, "okta");
    assert_eq!(o["counts"]["active_members"], 3);
    assert_eq!(o["counts"]["pass"], 1);
    assert_eq!(o["counts"]["weak_only"], 1);
    assert_eq!(o["counts"]["without_mfa"], 1);
    assert_eq!(o["counts"]["not_applicable"], 1);

    // The Okta tenant starts answering a truncated page: the CLI sync fails for it only.
    stubs.okta_broken.store(true, Ordering::SeqCst);
    let (code, out, err) = cli(&c, &["identity", "sync"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("github: ok, 9 accounts"), "{out}");
    assert!(
        out.contains("okta: FAILED (last good sync kept)") && out.contains("malformed"),
        "{out}"
    );
    let (code, out, _) = cli(&c, &["identity", "sync", "--source", "github"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = cli(&c, &["identity", "sync", "--source", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no identity source named \"nope\""), "{err}");

    // Okta is stale with its reason; its last good accounts stay, not zero, not all compliant.
    let v = admin_get(&c, "/api/v1/identities?source=okta");
    let o = source(&v, "okta");
    assert_eq!(o["stale"], true);
    assert_eq!(o["target_status"], "stale");
    assert!(o["last_error"].as_str().unwrap().contains("malformed"));
    assert_eq!(o["failures_total"], 1);
    assert_eq!(o["counts"]["without_mfa"], 1);
    assert_eq!(o["history"][0]["ok"], false);
    assert_eq!(o["history"][1]["ok"], true);
    assert_eq!(v["identities"].as_array().unwrap().len(), 4);

    let (code, out, err) = cli(
        &c,
        &["identity", "list", "--without-mfa", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let l: Value = serde_json::from_str(&out).unwrap();
    let mut names: Vec<&str> = l["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["login"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bo", "cid@example.com", "eli", "ext2"]);
    let (code, out, _) = cli(&c, &["identity", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("source okta (okta)") && out.contains("STALE"),
        "{out}"
    );

    // The identity gauges are on the collector's one scrape path, beside its own families.
    let text = http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(text.contains("vigie_ingest_reports_total"), "{text}");
    // One exposition: `promtool check metrics` accepts the collector's and the identity families together.
    let promtool = Path::new("/usr/bin/promtool");
    if promtool.exists() {
        use std::io::Write as _;
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
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
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        assert!(
            std::env::var_os("VIGIE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
    }
    assert_eq!(
        gauge(&text, "vigie_identities{mfa=\"none\",source=\"github\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        gauge(&text, "vigie_identities{mfa=\"strong\",source=\"github\"}"),
        Some(5.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_mfa_coverage_ratio{source=\"okta\"}"),
        Some(1.0 / 3.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_source_up{source=\"okta\"}"),
        Some(0.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_source_up{source=\"github\"}"),
        Some(1.0)
    );
    assert_eq!(
        gauge(&text, "vigie_identity_sync_failures_total{source=\"okta\"}"),
        Some(1.0)
    );
    assert!(
        gauge(
            &text,
            "vigie_identity_sync_timestamp_seconds{source=\"github\"}"
        )
        .unwrap()
            > 1.7e9
    );
    assert_eq!(
        gauge(
            &text,
            "vigie_identity_mfa_coverage_target_ratio{source=\"github\"}"
        ),
        Some(1.0)
    );
    // No per-identity label.
    assert!(!text.contains("\"bo\""), "{text}");

    // Okta reads admin roles: ana (SUPER_ADMIN) is an admin with a strong factor.
    assert_eq!(
        gauge(&text, "vigie_identity_admins_without_mfa{source=\"okta\"}"),
        Some(0.0)
    );
    assert_eq!(
        gauge(
            &text,
            "vigie_identity_admins_without_mfa{source=\"github\"}"
        ),
        Some(1.0)
    );
    alerts_fire_on_the_identity_scrape(t.path(), &text);
    report_evidence_and_cis(&c, t.path());

    // The tokens appear in no log line.
    let log = c.log_text();
    assert!(
        !log.contains("gh-e2e-token") && !log.contains("okta-e2e-token"),
        "{log}"
    );
    assert!(c.stop().success());
}

/// The identity alert rules on this real scrape (`promtool test rules`): the scraped identity
/// samples held constant for 2 hours. By hand: github has 1 admin without a second factor (bo)
/// → VigieIdentityAdminWithoutMfa fires for github after its 10 min, never for okta (ana has a
/// factor); okta's last sync failed (source_up 0) → VigieIdentitySourceStale fires for okta after
/// 1 h, never for github.
fn alerts_fire_on_the_identity_scrape(dir: &Path, text: &str) {
    let promtool = Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        assert!(
            std::env::var_os("VIGIE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
        return;
    }
    let mut series = String::new();
    for line in text.lines().filter(|l| l.starts_with("vigie_identity")) {
        let (name_labels, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match name_labels.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}').to_string()),
            None => (name_labels, String::new()),
        };
        let labels = [
            labels.as_str(),
            "job=\"vigie\"",
            "instance=\"collector:8443\"",
        ]
        .iter()
        .filter(|l| !l.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
        let values = match value.parse::<f64>() {
            Ok(v) if v.is_finite() => format!("{value}x120"),
            _ => vec![value; 121].join(" "),
        };
        series.push_str(&format!(
            "      - series: '{name}{{{labels}}}'\n        values: '{values}'\n"
        ));
    }
    assert!(
        series.contains("vigie_identity_admins_without_mfa"),
        "{text}"
    );
    let rules = repo().join("dashboards/prometheus/vigie-rules.yml");
    let runbook = "https://example.invalid/vigie/dashboards/README.md#";
    let yaml = format!(
        r#"# Generated by tests/e2e/identity.rs from a real scrape of vigie-collector.
rule_files:
  - {rules}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series}    alert_rule_test:
      - eval_time: 9m
        alertname: VigieIdentityAdminWithoutMfa
      - eval_time: 11m
        alertname: VigieIdentityAdminWithoutMfa
        exp_alerts:
          - exp_labels: {{severity: critical, job: vigie, instance: "collector:8443", source: github}}
            exp_annotations:
              runbook_url: {runbook}vigieidentityadminwithoutmfa
              summary: Admin account without a second factor
              description: "1 admin account(s) at identity source github can sign in with a password alone. `vigie-collector identity list --without-mfa --source github` names them."
      - eval_time: 59m
        alertname: VigieIdentitySourceStale
      - eval_time: 61m
        alertname: VigieIdentitySourceStale
        exp_alerts:
          - exp_labels: {{severity: warning, job: vigie, instance: "collector:8443", source: okta}}
            exp_annotations:
              runbook_url: {runbook}vigieidentitysourcestale
              summary: Identity source not synced
              description: "Identity source okta has had no good sync recently: its MFA coverage is the last known one. `GET /api/v1/identities?source=okta` shows the last error."
"#,
        rules = rules.display()
    );
    let file = dir.join("identity-rules.scrape.test.yml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules on the identity scrape:\n{}\n{yaml}",
        describe(&out)
    );
}

/// The same store through the monthly report (this month, a draft), the CIS score and the
/// evidence bundle, with the numbers worked out by hand from the stubs:
/// github current: 7 members, 5 strong (al cy di fo gi), bo and eli without, admins al (strong)
/// and bo (none), outside collaborators ext1, ext2 (none); okta stale (its last sync failed), last
/// good: ana strong (admin), ben SMS only, cid none.
fn report_evidence_and_cis(c: &Collector, dir: &Path) {
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let out_dir = dir.join("report");
    let (code, out, err) = cli(
        c,
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            out_dir.to_str().unwrap(),
            "--format",
            "json,md",
            "--lang",
            "en",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join(format!("vigie-report-{month}.json"))).unwrap(),
    )
    .unwrap();
    let s = &r["identities"];
    let src = |n: &str| {
        s["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == n)
            .unwrap_or_else(|| panic!("no {n} in {s:#}"))
            .clone()
    };
    let g = src("github");
    let counts = |v: &Value| {
        let c = &v["counts"];
        [
            "members",
            "strong",
            "weak_only",
            "without_mfa",
            "admins",
            "admins_without_mfa",
            "guests",
            "guests_without_mfa",
        ]
        .map(|k| c[k].as_i64().unwrap())
    };
    assert_eq!(counts(&g), [7, 5, 0, 2, 2, 1, 2, 1], "{g:#}");
    assert_eq!(g["status"], "not_met");
    assert_eq!(g["stale"], Value::Null);
    assert!((g["counts"]["coverage"].as_f64().unwrap() - 5.0 / 7.0).abs() < 1e-12);
    let o = src("okta");
    assert_eq!(counts(&o), [3, 1, 1, 1, 1, 0, 0, 0], "{o:#}");
    assert_eq!(
        o["status"], "stale",
        "a stale source is shown, never judged"
    );
    assert_eq!(o["stale"]["kind"], "last_sync_failed");
    assert!(o["stale"]["error"].as_str().unwrap().contains("malformed"));
    // Overall (5 + 1) / (7 + 3) = 0.6, not judged while okta is stale.
    assert_eq!(s["overall"]["coverage"], 0.6);
    assert_eq!(s["status"], "stale");
    let trend = s["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 12);
    assert_eq!(trend[11]["value"], 0.6);
    assert_eq!(
        trend[10]["value"],
        Value::Null,
        "no sync last month: no data, not 0"
    );
    let accounts: Vec<(String, String)> = s["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["login"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("bo", "fail"),
        ("eli", "fail"),
        ("ext2", "fail"),
        ("cid@example.com", "fail"),
        ("ben@example.com", "warn"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(accounts, want);
    let md = std::fs::read_to_string(out_dir.join(format!("vigie-report-{month}.en.md"))).unwrap();
    assert!(
        md.contains("Multi-factor authentication of identities")
            && md.contains("| github | bo |")
            && md.contains("stale data: not judged"),
        "{md}"
    );

    // CIS: no host reports, so 6.3 and 6.5 are the identities alone. Members: github 5 passing
    // of 7, okta's 3 in scope but stale, none passing → 5/10. Admins: al of al, bo, ana → 1/3.
    let (code, out, err) = cli(c, &["cis", "score", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let cis: Value = serde_json::from_str(&out).unwrap();
    let sg = |id: &str| {
        cis["safeguards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(sg("6.3")["basis"], "measured");
    assert_eq!(sg("6.3")["implementation"], 0.5);
    assert!((sg("6.5")["implementation"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);

    // The evidence bundle: identities.csv holds each account of each source's last good sync with
    // its deciding fields, okta marked stale; `evidence verify` accepts it.
    let zip_path = dir.join("evidence.zip");
    let (code, out, err) = cli(
        c,
        &[
            "evidence",
            "export",
            "--from",
            &today,
            "--to",
            &today,
            "--out",
            zip_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli(c, &["evidence", "verify", zip_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let mut csv = String::new();
    zip.by_name("identities.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    // github: 7 members + 2 outside collaborators; okta: 4 users.
    assert_eq!(rows.len(), 13, "{csv}");
    let bo = rows.iter().find(|l| l.contains(",bo,")).unwrap();
    assert!(
        bo.starts_with("github,github,") && bo.contains(",true,fail,"),
        "{bo}"
    );
    let cid = rows.iter().find(|l| l.contains("cid@example.com")).unwrap();
    assert!(
        cid.starts_with("okta,okta,")
            && cid.contains("last sync failed")
            && cid.contains("malformed"),
        "{cid}"
    );
    assert!(cid.contains("activeFactorTypes"), "{cid}");
}
