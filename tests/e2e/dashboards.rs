//! The Grafana dashboards and Prometheus alert rules of `dashboards/`, against a real Prometheus
//! (Debian's `prometheus` package) scraping a real collector loaded with fixture hosts.
//!
//! What it asserts:
//! - `promtool check rules` and `promtool test rules` pass on `dashboards/prometheus/`;
//! - both dashboards take their datasource from a `${datasource}` variable of type prometheus;
//! - every panel query, with Grafana's variables substituted, parses and executes through
//!   `/api/v1/query`, and returns data when every metric it names is served by the collector;
//! - every `vigie_` metric a dashboard or a rule names is on the collector's `/metrics`, except the
//!   names of [`PENDING`], which come from branches not merged yet;
//! - Prometheus loads the rule file and evaluates every rule without error.
//!
//! Without `prometheus`/`promtool` the test is skipped, unless `VIGIE_REQUIRE_PROMTOOL` is set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_e2e::*;

#[path = "identity_stubs.rs"]
mod identity_stubs;

/// Metric names the dashboards or rules use that this branch's collector does not serve yet.
/// They come from branches written in parallel; queries over them must still parse and execute,
/// but may return nothing. Empty this list once those branches are merged: the test fails when a
/// listed name appears on `/metrics`, so the list cannot silently outlive its reason.
const PENDING: &[&str] = &[];

/// Fixture hosts loaded into the collector: (fixture, alias, machine id).
const HOSTS: &[(&str, &str, &str)] = &[
    (
        "laptop-lvm-on-luks",
        "laptop",
        "d0000000000000000000000000000001",
    ),
    (
        "microvm-plain-ext4",
        "vm",
        "d0000000000000000000000000000002",
    ),
    (
        "backup-restic-stale-other-host-fresh",
        "backup",
        "d0000000000000000000000000000003",
    ),
    (
        "debian12-stale-lists-old-updates",
        "stale-lists",
        "d0000000000000000000000000000004",
    ),
    (
        "debian12-patched",
        "patched",
        "d0000000000000000000000000000005",
    ),
];

/// Grafana's variables, as Grafana would expand them for a 1-hour dashboard range.
const VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "1m"),
    ("$__range", "1h"),
    // The job/instance variables (dashboards/README.md "Conventions"): the test Prometheus's job,
    // and "All" collectors (the variable's allValue).
    ("$job", "vigie"),
    ("$instance", ".+"),
];

fn dashboards_dir() -> PathBuf {
    repo().join("dashboards")
}

/// A Prometheus server on a loopback port, killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Start `prometheus` scraping `target` every second, with the Vigie rules loaded.
    fn start(exe: &Path, dir: &Path, target: &str) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let config = dir.join("prometheus.yml");
        let rules = dashboards_dir().join("prometheus/vigie-rules.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: vigie\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let log = dir.join("prometheus.log");
        let child = Command::new(exe)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until `/-/ready` answers 200.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log_text());
            }
            let ok = http()
                .get(format!("{}/-/ready", self.url))
                .send()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 30 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Instant query: `Ok(result array)` on success, `Err(message)` when it fails to parse or run.
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let r = http()
            .post(format!("{}/api/v1/query", self.url))
            .form(&[("query", promql)])
            .send()
            .map_err(|e| format!("request failed: {e}"))?;
        let status = r.status();
        let body: Value = r
            .json()
            .map_err(|e| format!("HTTP {status}, body not JSON: {e}"))?;
        if body["status"] != "success" {
            return Err(format!(
                "HTTP {status}: {} {}",
                body["errorType"], body["error"]
            ));
        }
        match &body["data"]["result"] {
            Value::Array(a) => Ok(a.clone()),
            // A scalar result (e.g. `time()`) is one value.
            Value::Null => Err(format!("no result in {body}")),
            other => Ok(vec![other.clone()]),
        }
    }

    /// Poll `promql` until it returns a non-empty result.
    fn wait_for(&self, promql: &str, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(self.query(promql), Ok(r) if !r.is_empty()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: `{promql}` still empty after 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// `vigie_` metric names in a PromQL expression (identifiers starting with `vigie_`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut names = BTreeSet::new();
    let mut from = 0;
    while let Some(offset) = expr[from..].find("vigie_") {
        let start = from + offset;
        let len = expr[start..]
            .find(|c: char| !ident(c))
            .unwrap_or(expr.len() - start);
        // `my_vigie_x` is not a vigie_ metric.
        if !expr[..start].chars().next_back().is_some_and(ident) {
            names.insert(expr[start..start + len].to_string());
        }
        from = start + len;
    }
    names
}

/// Sample names on a /metrics exposition (histograms give their `_bucket`, `_sum`, `_count`).
fn exposed_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// One panel query of a dashboard.
struct PanelQuery {
    dashboard: String,
    panel: String,
    ref_id: String,
    expr: String,
}

/// Every panel of a dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Load a dashboard, check its datasource wiring, and return its queries.
fn dashboard_queries(file: &str) -> Vec<PanelQuery> {
    let path = dashboards_dir().join("grafana").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let d: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
    let vars = d["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "{file}: no `datasource` variable of type datasource/prometheus in templating.list"
    );
    let mut out = Vec::new();
    for p in panels(&d) {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "{file}: panel {title:?} does not use the ${{datasource}} variable"
        );
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        assert!(!targets.is_empty(), "{file}: panel {title:?} has no query");
        for t in targets {
            let expr = t["expr"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "{file}: panel {title:?} query {} has no expr",
                t["refId"]
            );
            assert_eq!(
                t["datasource"]["uid"], "${datasource}",
                "{file}: panel {title:?} query {} does not use the ${{datasource}} variable",
                t["refId"]
            );
            out.push(PanelQuery {
                dashboard: file.to_string(),
                panel: title.clone(),
                ref_id: t["refId"].as_str().unwrap_or("?").to_string(),
                expr: expr.to_string(),
            });
        }
    }
    out
}

fn substitute(expr: &str) -> String {
    let mut e = expr.to_string();
    for (var, value) in VARIABLES {
        e = e.replace(var, value);
    }
    e
}

fn promtool(exe: &Path, args: &[&str]) {
    let out = Command::new(exe)
        .args(args)
        .current_dir(dashboards_dir().join("prometheus"))
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool {}:\n{}",
        args.join(" "),
        describe(&out)
    );
}

fn scrape(c: &Collector) -> String {
    http()
        .get(format!("{}/metrics", c.url))
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn find_exe(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(
            "sum by (check) (vigie_check_hosts{status=\"fail\"}) / clamp_min(vigie_hosts, 1) + \
             rate(vigie_ingest_duration_seconds_bucket[1m]) + my_vigie_thing + vigie_a:b"
        ),
        [
            "vigie_a:b",
            "vigie_check_hosts",
            "vigie_hosts",
            "vigie_ingest_duration_seconds_bucket"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
}

#[test]
fn dashboards_and_rules_run_on_a_real_prometheus() {
    let (Some(prometheus), Some(promtool_exe)) = (find_exe("prometheus"), find_exe("promtool"))
    else {
        assert!(
            std::env::var_os("VIGIE_REQUIRE_PROMTOOL").is_none(),
            "prometheus and promtool are required (apt-get install prometheus)"
        );
        eprintln!(
            "prometheus not installed: skipping the dashboards test (apt-get install prometheus)"
        );
        return;
    };

    promtool(&promtool_exe, &["check", "rules", "vigie-rules.yml"]);
    promtool(&promtool_exe, &["test", "rules", "vigie-rules.test.yml"]);

    let queries: Vec<PanelQuery> = [
        "vigie-management.json",
        "vigie-fleet.json",
        "vigie-identity.json",
    ]
    .into_iter()
    .flat_map(dashboard_queries)
    .collect();

    // A collector with a few fixture hosts reporting.
    let t = tempfile::tempdir().unwrap();
    // per_host = true (a line of the [metrics] section) feeds the "hosts failing most" panel; the
    // identity dashboard reads a GitHub organisation and an Okta tenant (stubs on loopback).
    let (_stubs, base) = identity_stubs::start_stubs();
    let gh = identity_stubs::secret(t.path(), "gh.token", "gh-e2e-token");
    let okta = identity_stubs::secret(t.path(), "okta.token", "okta-e2e-token");
    let c = Collector::start(
        &t.path().join("c"),
        0,
        &format!(
            "per_host = true\n[actions.roles]\nrssi = [\"alice\"]\n[identity]\n\
             [[identity.source]]\nname = \"github\"\nkind = \"github\"\norg = \"acme\"\n\
             token_file = \"{gh}\"\napi_url = \"{base}\"\n\
             [[identity.source]]\nname = \"okta\"\nkind = \"okta\"\nurl = \"{base}\"\n\
             token_file = \"{okta}\"\n"
        ),
    );
    let hosts: Vec<Host> = HOSTS
        .iter()
        .map(|(fixture, alias, id)| Host::from_fixture(fixture, t.path(), alias, id))
        .collect();
    for h in &hosts {
        h.enroll(&c.url);
        let (code, stderr) = h.run_once(&c.url);
        assert_eq!(code, 0, "agent run for {}: {stderr}", h.root.display());
    }
    // The governance registers the management dashboard shows: a risk, a P1 action, an exception.
    let post = |path: &str, body: Value| {
        let r = http()
            .post(format!("{}{path}", c.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(
            r.status(),
            201,
            "POST {path}: {}",
            r.text().unwrap_or_default()
        );
    };
    post(
        "/api/v1/risks",
        serde_json::json!({"title": "Ransomware on the file server", "likelihood": 3, "impact": 4,
                           "treatment": "reduce", "owner": "rssi"}),
    );
    post(
        "/api/v1/actions",
        serde_json::json!({"title": "Offline backup copy", "priority": "p1", "owner": "it"}),
    );
    post(
        "/api/v1/exceptions",
        serde_json::json!({"check": "disk_encryption", "scope": "host", "scope_value": "vm",
                           "reason": "legacy appliance, replaced in Q1", "requester": "it",
                           "approver": "alice",
                           "expires_at": (chrono::Utc::now() + chrono::Duration::days(20)).to_rfc3339()}),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let want = format!("vigie_hosts{{state=\"reporting\"}} {}", hosts.len());
    // Both identity sources synced by `serve` at start (their last good sync is on /metrics).
    let synced = |text: &str| {
        ["github", "okta"].iter().all(|s| {
            text.lines().any(|l| {
                l.starts_with(&format!(
                    "vigie_identity_sync_timestamp_seconds{{source=\"{s}\"}}"
                ))
            })
        })
    };
    while !scrape(&c).lines().any(|l| l == want) || !synced(&scrape(&c)) {
        assert!(
            Instant::now() < deadline,
            "collector never showed {want}:\n{}",
            scrape(&c)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let pdir = t.path().join("prometheus");
    std::fs::create_dir_all(&pdir).unwrap();
    let mut prom = Prometheus::start(&prometheus, &pdir, &format!("127.0.0.1:{}", c.port()));
    prom.wait_ready();
    prom.wait_for("up{job=\"vigie\"} == 1", "collector target up");

    // A second round of reports while Prometheus scrapes, so rates and the latency histogram move.
    for h in &hosts {
        std::thread::sleep(Duration::from_millis(1100));
        h.set_clock(chrono::Utc::now());
        let (code, stderr) = h.run_once(&c.url);
        assert_eq!(
            code,
            0,
            "second agent run for {}: {stderr}",
            h.root.display()
        );
    }
    prom.wait_for(
        "increase(vigie_ingest_reports_total{outcome=\"accepted\"}[1m]) > 0",
        "second round of reports scraped",
    );
    // Several scrapes after the last report, so `rate(…[1m])` has samples on both sides of it.
    std::thread::sleep(Duration::from_secs(3));

    let exposed = exposed_names(&scrape(&c));
    let pending: BTreeSet<String> = PENDING.iter().map(|s| s.to_string()).collect();
    let mut problems = Vec::new();
    let mut referenced = BTreeSet::new();
    let (mut with_data, mut pending_only) = (0, 0);
    for q in &queries {
        let at = format!("{} / {:?} / {}", q.dashboard, q.panel, q.ref_id);
        let expr = substitute(&q.expr);
        if expr.contains('$') {
            problems.push(format!("{at}: unsubstituted variable in `{expr}`"));
            continue;
        }
        let names = metric_names(&expr);
        if names.is_empty() {
            problems.push(format!("{at}: names no vigie_ metric: `{expr}`"));
        }
        for n in &names {
            if !exposed.contains(n) && !pending.contains(n) {
                problems.push(format!(
                    "{at}: metric {n} is not on the collector's /metrics"
                ));
            }
        }
        referenced.extend(names.iter().cloned());
        let needs_pending = names.iter().any(|n| pending.contains(n));
        match prom.query(&expr) {
            Err(e) => problems.push(format!("{at}: `{expr}` failed: {e}")),
            Ok(r) if r.is_empty() && !needs_pending => {
                problems.push(format!("{at}: `{expr}` returned no data"))
            }
            Ok(r) => {
                if needs_pending {
                    pending_only += 1;
                } else {
                    with_data += 1;
                    eprintln!("{at}: {} series, first {}", r.len(), r[0]);
                }
            }
        }
    }

    // The alert rules, as loaded by Prometheus: evaluated at least once, without error.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rules = loop {
        let body: Value = http()
            .get(format!("{}/api/v1/rules", prom.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let rules: Vec<Value> = body["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .collect();
        let evaluated = !rules.is_empty()
            && rules.iter().all(|r| {
                !r["lastEvaluation"]
                    .as_str()
                    .unwrap_or("0001")
                    .starts_with("0001")
            });
        if evaluated {
            break rules;
        }
        assert!(
            Instant::now() < deadline,
            "rules not all evaluated after 20 s: {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    for r in &rules {
        let name = r["name"].as_str().unwrap_or("?");
        if r["health"] != "ok" {
            problems.push(format!(
                "rule {name}: health {} ({})",
                r["health"], r["lastError"]
            ));
        }
        for n in metric_names(r["query"].as_str().unwrap_or_default()) {
            if !exposed.contains(&n) && !pending.contains(&n) {
                problems.push(format!(
                    "rule {name}: metric {n} is not on the collector's /metrics"
                ));
            }
            referenced.insert(n);
        }
    }

    // The allow-list only holds names still missing, and still used.
    for n in &pending {
        if exposed.contains(n) {
            problems.push(format!(
                "{n} is now on /metrics: remove it from PENDING in tests/e2e/dashboards.rs"
            ));
        }
        if !referenced.contains(n) {
            problems.push(format!(
                "{n} is in PENDING but no dashboard or rule uses it: remove it"
            ));
        }
    }

    eprintln!(
        "{} panel queries: {with_data} returned data, {pending_only} over pending metrics ran; \
         {} rules evaluated; {} vigie_ metrics referenced",
        queries.len(),
        rules.len(),
        referenced.len()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
