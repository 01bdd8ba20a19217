//! The Prometheus alert rules against what the collector really exports.
//!
//! - `alerts_fire_on_a_real_scrape`: a real collector with fixture hosts reporting is brought into
//!   the states the alerts watch (an overdue P1 action, a host gone stale, a backup outside its
//!   RPO); its `/metrics` is scraped and written, sample for sample, as `promtool` input series,
//!   with `up` 1 while the scrape worked and 0 after the collector was stopped and a real scrape
//!   failed. `promtool test rules` then checks the alerts worked out by hand below. A rule that
//!   selects a label value the collector never exports (e.g. `priority="P1"` against `p1`) cannot
//!   fire here.
//! - `rules_and_dashboards_select_only_exported_label_values`: every label matcher of every rule
//!   and every dashboard query is compared with the label values of a real scrape (plus the
//!   documented sets of the families that appear only with data).
//!
//! Without `promtool` the tests are skipped, unless `VIGIE_REQUIRE_PROMTOOL` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use vigie_e2e::*;

/// Metric families whose label values appear on `/metrics` only once there is data, with their
/// documented value sets (README "Metrics", docs/cis.md, the metric's help text).
const DOCUMENTED: &[(&str, &str, &[&str])] = &[
    (
        "vigie_cis_control_score_ratio",
        "control",
        &[
            "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
            "17", "18",
        ],
    ),
    ("vigie_cis_ig_score_ratio", "ig", &["1", "2", "3"]),
    // Only with identity sources configured (docs/identity.md).
    (
        "vigie_identities",
        "mfa",
        &["strong", "weak_only", "none", "unknown"],
    ),
    ("vigie_identity_guests", "mfa", &["all", "none"]),
    (
        "vigie_ingest_duration_seconds_bucket",
        "outcome",
        &[
            "accepted",
            "duplicate",
            "out_of_order",
            "rejected",
            "unauthorized",
            "error",
        ],
    ),
    (
        "vigie_ingest_duration_seconds_count",
        "outcome",
        &[
            "accepted",
            "duplicate",
            "out_of_order",
            "rejected",
            "unauthorized",
            "error",
        ],
    ),
    (
        "vigie_ingest_duration_seconds_sum",
        "outcome",
        &[
            "accepted",
            "duplicate",
            "out_of_order",
            "rejected",
            "unauthorized",
            "error",
        ],
    ),
];

/// Labels Prometheus adds or the configuration chooses, not the collector.
const TARGET_LABELS: &[&str] = &["job", "instance", "__name__"];

/// The job name the rules expect (dashboards/README.md's scrape configuration).
const JOB: &str = "vigie";
/// The instance label given to the scraped series.
const INSTANCE: &str = "collector:8443";

fn find_exe(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

fn promtool_or_skip() -> Option<PathBuf> {
    let exe = find_exe("promtool");
    if exe.is_none() {
        assert!(
            std::env::var_os("VIGIE_REQUIRE_PROMTOOL").is_none(),
            "promtool is required (apt-get install prometheus)"
        );
        eprintln!("promtool not installed: skipping (apt-get install prometheus)");
    }
    exe
}

fn rules_file() -> PathBuf {
    repo().join("dashboards/prometheus/vigie-rules.yml")
}

/// One sample line of an exposition: name, labels in order, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: String,
}

/// Parse a quoted label value starting after the opening quote; returns (value, rest).
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            '"' => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// One label matcher: (label, operator, value).
type Matcher = (String, String, String);

/// Matchers inside `{…}` (text after the brace), and the rest after `}`.
fn matchers(mut s: &str) -> Option<(Vec<Matcher>, &str)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches([' ', ',', '\n']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((out, rest));
        }
        let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        let label = s[..end].to_string();
        s = s[end..].trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| s.starts_with(op))?;
        s = s[op.len()..].trim_start().strip_prefix('"')?;
        let (value, rest) = quoted(s)?;
        out.push((label, op.to_string(), value));
        s = rest;
    }
}

/// The samples of a Prometheus text exposition.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).expect("sample name");
        let name = line[..name_end].to_string();
        let (labels, rest) = if line[name_end..].starts_with('{') {
            let (m, rest) = matchers(&line[name_end + 1..]).expect("labels");
            (m.into_iter().map(|(l, _, v)| (l, v)).collect(), rest)
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest.split_whitespace().next().expect("value").to_string();
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// Label values per (sample name, label), from a scrape and the documented sets.
fn exported_values(samples: &[Sample]) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut m: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in samples {
        for (l, v) in &s.labels {
            m.entry((s.name.clone(), l.clone()))
                .or_default()
                .insert(v.clone());
        }
    }
    for (name, label, values) in DOCUMENTED {
        m.entry((name.to_string(), label.to_string()))
            .or_default()
            .extend(values.iter().map(|v| v.to_string()));
    }
    m
}

/// Every selector `metric{matchers}` of a PromQL expression: (metric, label, op, value).
fn selectors(expr: &str) -> Vec<(String, String, String, String)> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(off) = expr[from..].find('{') {
        let brace = from + off;
        from = brace + 1;
        // `${var}` is a Grafana variable, not a selector.
        if expr[..brace].ends_with('$') {
            continue;
        }
        let before = expr[..brace].trim_end();
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| ident(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let metric = before[start..].to_string();
        let Some((m, _)) = matchers(&expr[brace + 1..]) else {
            continue;
        };
        for (label, op, value) in m {
            out.push((metric.clone(), label, op, value));
        }
    }
    out
}

/// Matchers that select a value the collector never exports, as sentences.
fn unexported(
    origin: &str,
    expr: &str,
    exported: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (metric, label, op, value) in selectors(expr) {
        if TARGET_LABELS.contains(&label.as_str()) || value.contains('$') {
            continue;
        }
        let values: Vec<&str> = if op.ends_with('~') {
            // Only plain alternations are checked (`fail|warn`); a real regex is left alone.
            if !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_|.-".contains(c))
                || value.contains(".*")
            {
                continue;
            }
            value.split('|').collect()
        } else {
            vec![value.as_str()]
        };
        let known = exported.get(&(metric.clone(), label.clone()));
        for v in values {
            if !known.is_some_and(|k| k.contains(v)) {
                problems.push(format!(
                    "{origin}: `{metric}{{{label}{op}\"{value}\"}}` selects {label}=\"{v}\", which \
                     the collector never exports (exported: {:?})",
                    known.map(|k| k.iter().collect::<Vec<_>>()).unwrap_or_default()
                ));
            }
        }
    }
    problems
}

/// The `expr:` of every rule of a rules file (single-line or folded).
fn rule_exprs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut alert = String::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("- alert:").or(t.strip_prefix("- record:")) {
            alert = name.trim().to_string();
        }
        if let Some(e) = t.strip_prefix("expr:") {
            let e = e.trim();
            let expr = if e.starts_with(['|', '>']) {
                let indent = line.len() - t.len();
                lines[i + 1..]
                    .iter()
                    .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                e.to_string()
            };
            out.push((alert.clone(), expr));
        }
    }
    out
}

/// Every `"expr"` string of a dashboard (panels, nested rows, targets).
fn dashboard_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => dashboard_exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| dashboard_exprs(x, out)),
        _ => {}
    }
}

fn scrape(c: &Collector) -> Result<String, String> {
    let r = http()
        .get(format!("{}/metrics", c.url))
        .send()
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("HTTP {}", r.status()));
    }
    r.text().map_err(|e| e.to_string())
}

/// A collector with fixture hosts, an overdue P1 action, a stale host and a backup outside RPO.
fn collector_in_alerting_state(t: &Path) -> Collector {
    let c = Collector::start(&t.join("c"), 0, "per_host = true\n");
    let backup = Host::from_fixture(
        "backup-restic-stale-other-host-fresh",
        t,
        "backup",
        "a0000000000000000000000000000001",
    );
    let patched = Host::from_fixture(
        "debian12-patched",
        t,
        "patched",
        "a0000000000000000000000000000002",
    );
    for h in [&backup, &patched] {
        h.enroll(&c.url);
        let (code, stderr) = h.run_once(&c.url);
        assert_eq!(code, 0, "agent run for {}: {stderr}", h.root.display());
    }
    let r = http()
        .post(format!("{}/api/v1/actions", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &serde_json::json!({"title": "Offline backup copy", "priority": "p1", "owner": "it",
                                   "due": chrono::Utc::now().date_naive().to_string()}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap_or_default());
    // Time passes (the collector has no clock to move): the action was created a month ago and
    // was due ten days ago; `patched` last reported ten days ago. Done in the real database file.
    let db = rusqlite::Connection::open(c.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute_batch(
        "UPDATE actions SET due = date('now', '-10 days'), created_at = created_at - 30 * 86400;
         UPDATE hosts SET last_seen_at = last_seen_at - 10 * 86400,
                          last_report_at = last_report_at - 10 * 86400
         WHERE hostname = 'patched';",
    )
    .unwrap();
    drop(db);
    let want = [
        "vigie_actions{priority=\"p1\",state=\"overdue\"} 1",
        "vigie_hosts{state=\"stale\"} 1",
        "vigie_hosts{state=\"reporting\"} 1",
        "vigie_check_hosts{check=\"backup_freshness\",status=\"fail\"} 1",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = scrape(&c).unwrap();
        if want.iter().all(|w| text.lines().any(|l| l == *w)) {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "collector never showed {want:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One promtool series line per sample, constant over `minutes`.
fn series_yaml(samples: &[Sample], minutes: u32) -> String {
    let mut out = String::new();
    for s in samples {
        let mut labels: Vec<String> = s
            .labels
            .iter()
            .map(|(l, v)| format!("{l}={}", serde_json::Value::String(v.clone())))
            .collect();
        labels.push(format!("job=\"{JOB}\""));
        labels.push(format!("instance=\"{INSTANCE}\""));
        let series = format!("{}{{{}}}", s.name, labels.join(", ")).replace('\'', "''");
        // promtool's `AxN` expansion takes numbers only: NaN (a ratio with no data) is repeated.
        let values = match s.value.parse::<f64>() {
            Ok(v) if v.is_finite() => format!("{}x{minutes}", s.value),
            _ => vec![s.value.trim_start_matches('+'); minutes as usize + 1].join(" "),
        };
        out.push_str(&format!(
            "      - series: '{series}'\n        values: '{values}'\n"
        ));
    }
    out
}

#[test]
fn alerts_fire_on_a_real_scrape() {
    let Some(promtool) = promtool_or_skip() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let c = collector_in_alerting_state(t.path());
    let text = scrape(&c).unwrap();
    let samples = parse_exposition(&text);
    // The collector goes down: a real scrape fails, so `up` turns 0.
    let url = format!("{}/metrics", c.url);
    let status = c.stop();
    assert!(status.success(), "collector exit: {status}");
    let failed = http().get(&url).send().is_err();
    assert!(failed, "a scrape of a stopped collector must fail");

    // The scrape's values for 3 hours; `up` 1 for the first 2 hours (the scrape above worked),
    // then 0 (the one after the stop failed). Alerts are evaluated at 2 h (collector up, every
    // `for:` of the fleet alerts elapsed) and at 2 h 6 min (collector down for 6 minutes).
    let mut yaml = format!(
        "# Generated by tests/e2e/alerts.rs from a real scrape of vigie-collector.\n\
         rule_files:\n  - {}\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
        rules_file().display()
    );
    yaml.push_str(&series_yaml(&samples, 180));
    yaml.push_str(&format!(
        "      - series: 'up{{job=\"{JOB}\", instance=\"{INSTANCE}\"}}'\n        values: '1x120 0x60'\n"
    ));
    let labels =
        |severity: &str| format!("{{severity: {severity}, job: {JOB}, instance: \"{INSTANCE}\"}}");
    let runbook = |alert: &str| {
        format!(
            "https://example.invalid/vigie/dashboards/README.md#{}",
            alert.to_lowercase()
        )
    };
    // (alert, eval time, expected: severity, summary, description), worked out from the state
    // built above: one overdue P1 action, one stale host (`patched`), one reporting host whose
    // backup is 52 h old against a 24 h RPO (`backup`).
    type Expected<'a> = Option<(&'a str, &'a str, &'a str)>;
    let cases: Vec<(&str, &str, Expected)> = vec![
        (
            "VigieP1ActionOverdue",
            "2h",
            Some((
                "critical",
                "P1 improvement-plan action overdue",
                "1 priority-1 action(s) of the improvement plan are past their due date (P1 actions \
                 are due within a month).",
            )),
        ),
        (
            "VigieHostStale",
            "2h",
            Some((
                "warning",
                "Hosts stopped reporting",
                "1 enrolled host(s) have missed several report intervals; their results no longer \
                 count. `GET /api/v1/hosts` lists them with state `stale`.",
            )),
        ),
        (
            "VigieBackupOutsideRpo",
            "2h",
            Some((
                "critical",
                "Backups outside RPO",
                "1 reporting host(s) have no backup within their recovery point objective \
                 (backup_freshness fail).",
            )),
        ),
        // A healthy collector: no ingest error, no failed commit, refreshed (its timestamp is
        // far in promtool's future, which starts at 0), up.
        ("VigieCollectorIngestErrors", "2h", None),
        ("VigieStoreCommitFailures", "2h", None),
        ("VigieFleetMetricsRefreshStalled", "2h", None),
        ("VigieCollectorDown", "2h", None),
        ("VigieCollectorDown", "2h4m", None),
        (
            "VigieCollectorDown",
            "2h6m",
            Some((
                "critical",
                "Vigie collector unreachable",
                "Prometheus has not scraped the Vigie collector (job vigie) for 5 minutes: agents \
                 keep their reports in their spool, and the dashboards and the other Vigie alerts \
                 show nothing new.",
            )),
        ),
    ];
    yaml.push_str("    alert_rule_test:\n");
    for (alert, at, expected) in &cases {
        yaml.push_str(&format!(
            "      - eval_time: {at}\n        alertname: {alert}\n"
        ));
        if let Some((severity, summary, description)) = expected {
            yaml.push_str(&format!(
                "        exp_alerts:\n          - exp_labels: {}\n            exp_annotations:\n\
                 \x20             runbook_url: {}\n\
                 \x20             summary: {}\n\
                 \x20             description: {}\n",
                labels(severity),
                runbook(alert),
                serde_json::Value::String(summary.to_string()),
                serde_json::Value::String(description.to_string()),
            ));
        }
    }
    let file = t.path().join("vigie-rules.scrape.test.yml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new(&promtool)
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules on the real scrape ({} series):\n{}\n--- scrape ---\n{text}",
        samples.len(),
        describe(&out)
    );
}

#[test]
fn label_matchers_are_parsed() {
    let s = selectors(
        "sum by (job) (vigie_actions{priority=\"P1\", state=~\"overdue|open\"}) / \
         rate(vigie_x_total{outcome!=\"error\"}[5m]) + up{job=\"vigie\"} + ${datasource}",
    );
    let got: Vec<String> = s
        .iter()
        .map(|(m, l, o, v)| format!("{m} {l}{o}{v}"))
        .collect();
    assert_eq!(
        got,
        [
            "vigie_actions priority=P1",
            "vigie_actions state=~overdue|open",
            "vigie_x_total outcome!=error",
            "up job=vigie",
        ]
    );
    // The checker catches the defect this test was written for.
    let samples = parse_exposition(
        "# TYPE vigie_actions gauge\nvigie_actions{priority=\"p1\",state=\"overdue\"} 1\n\
         vigie_actions{priority=\"p1\",state=\"open\"} 0\n",
    );
    let exported = exported_values(&samples);
    let p = unexported(
        "rule",
        "sum by (job, instance) (vigie_actions{priority=\"P1\", state=\"overdue\"}) > 0",
        &exported,
    );
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("priority=\"P1\""), "{p:?}");
    assert!(unexported(
        "rule",
        "vigie_actions{priority=\"p1\", state=~\"overdue|open\"}",
        &exported
    )
    .is_empty());
    assert_eq!(
        unexported("rule", "vigie_actions{state=~\"overdue|late\"}", &exported).len(),
        1
    );
}

#[test]
fn rules_and_dashboards_select_only_exported_label_values() {
    let t = tempfile::tempdir().unwrap();
    let c = collector_in_alerting_state(t.path());
    let samples = parse_exposition(&scrape(&c).unwrap());
    let exported = exported_values(&samples);
    let mut problems = Vec::new();
    let rules = std::fs::read_to_string(rules_file()).unwrap();
    let exprs = rule_exprs(&rules);
    assert!(exprs.len() >= 8, "rules not found: {exprs:?}");
    for (alert, expr) in &exprs {
        problems.extend(unexported(&format!("rule {alert}"), expr, &exported));
    }
    let grafana = repo().join("dashboards/grafana");
    let mut checked = exprs.len();
    for entry in std::fs::read_dir(&grafana).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let d: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut exprs = Vec::new();
            dashboard_exprs(&d, &mut exprs);
            checked += exprs.len();
            for e in exprs {
                problems.extend(unexported(&path.display().to_string(), &e, &exported));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {checked} expressions select label values the collector never exports:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
