//! `vigie-bench scale`: how the collector's costs grow with the fleet. For each size (default 1k,
//! 10k, 100k hosts) it builds a store with `vigie-collector report generate-store` (N hosts, a
//! year of daily roll-ups, snapshots and registers), serves it, and measures:
//!
//! - background CPU while idle (`/proc/PID/stat` utime + stime over `--idle-seconds`, default
//!   metrics refresh of 15 s);
//! - `GET /metrics`, `GET /api/v1/hosts` (one page of 100 hosts; a deep page by cursor is
//!   measured in docs/api.md), `GET /api/v1/kpi` (median of several);
//! - ingest of real-size reports (the agent's own reports on fixture hosts, see `bodies`) by
//!   `--ingest-hosts` hosts enrolled on top of the N: reports/s and p99 over 64 connections, and
//!   the database bytes per host per day when nothing changes (96 reports a day);
//! - the same rows written by a tight Rust loop straight into the same SQLite file with the same
//!   pragmas (the embedded store's physical limit), for the ingest ratio;
//! - a `GET /healthz` baseline from `wrk` (a C client that is not the bottleneck), when installed;
//! - cold `report monthly` and `evidence export` of the last complete month (fresh processes; the
//!   OS page cache is warm from the steps before).
//!
//! It prints one table with the 100k ÷ 1k growth per line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use chrono::{Datelike, NaiveDate, Utc};
use rusqlite::{params, Connection};
use tokio::sync::Mutex;

use crate::bodies::{RealHost, Template};
use crate::collector::{Collector, ADMIN_TOKEN, ENROLL_SECRET};
use crate::load::{self, Outcome};

#[derive(clap::Args)]
pub struct ScaleArgs {
    /// Fleet sizes (hosts in the generated store), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<u32>,
    /// Days of history in the generated stores.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Hosts enrolled over HTTP for the ingest measurement (on top of the generated ones).
    #[arg(long, default_value_t = 2000)]
    ingest_hosts: usize,
    /// Reports posted in the measured ingest phase.
    #[arg(long, default_value_t = 20_000)]
    reports: usize,
    /// Concurrent connections for ingest.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of idle CPU measurement.
    #[arg(long, default_value_t = 60)]
    idle_seconds: u64,
    /// The collector's `metrics.refresh_seconds` (its default: 15).
    #[arg(long, default_value_t = 15)]
    refresh_seconds: u64,
    /// The collector binary (default: $CARGO_TARGET_DIR/release/vigie-collector).
    #[arg(long, value_name = "PATH")]
    collector_bin: Option<PathBuf>,
    /// Where the stores are built (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Keep the stores (their paths are printed).
    #[arg(long)]
    keep_data: bool,
}

/// One line of the table: a value per size.
struct Line {
    name: &'static str,
    unit: &'static str,
    values: Vec<Option<f64>>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// GET `path` `n` times, one after the other; median milliseconds (and the first's).
async fn timed_gets(
    client: &reqwest::Client,
    c: &Collector,
    path: &str,
    n: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let resp = client
            .get(c.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}");
        }
        bytes = body.len();
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let first = times[0];
    Ok((first, median(times), bytes))
}

/// Run a collector command to completion; wall seconds.
fn run_timed(bin: &Path, config: &Path, args: &[&str]) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{} {}: {}: {}",
            bin.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(secs)
}

/// `wrk` against `/healthz`: requests per second, or `None` without wrk.
fn wrk_healthz(c: &Collector, connections: usize) -> Option<f64> {
    let out = Command::new("wrk")
        .args(["-t", "2", "-c", &connections.to_string(), "-d", "5s"])
        .arg(c.url("/healthz"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
}

struct Sim {
    client: reqwest::Client,
    url: String,
    templates: Vec<Template>,
    hosts: Vec<Mutex<RealHost>>,
}

impl Sim {
    async fn enroll(&self, url: &str, k: usize) -> Outcome {
        let mut h = self.hosts[k].lock().await;
        let t0 = Instant::now();
        let r = self
            .client
            .post(url)
            .json(&h.enroll_body(ENROLL_SECRET))
            .send()
            .await;
        let (status, ok) = match r {
            Ok(r) => {
                let s = r.status().as_u16();
                match r.json::<serde_json::Value>().await {
                    Ok(v) => match v.get("node_key").and_then(|k| k.as_str()) {
                        Some(key) if s == 201 => {
                            h.node_key = key.to_string();
                            (Ok(s), true)
                        }
                        _ => (Ok(s), false),
                    },
                    Err(e) => (Err(e.to_string()), false),
                }
            }
            Err(e) => (Err(e.to_string()), false),
        };
        Outcome {
            latency: t0.elapsed(),
            status,
            ok,
        }
    }

    /// Report `k` (host `k % hosts`); 1 % of them flip one result.
    async fn post(&self, k: usize, flips: bool) -> Outcome {
        let mut h = self.hosts[k % self.hosts.len()].lock().await;
        let flip = (flips && k % 100 == 7).then_some(k / 100);
        let body = h.next_body(&self.templates, flip);
        let req = self
            .client
            .post(&self.url)
            .bearer_auth(&h.node_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        load::send(req, 202).await
    }
}

/// The statements the collector's ingest runs for a report that changes nothing, written by a
/// tight loop into `db` (collector stopped): `reports` reports over the hosts enrolled for the
/// ingest phase, `batch` per transaction, with the collector's pragmas. Reports per second.
fn raw_sqlite(db: &Path, reports: usize, batch: usize) -> anyhow::Result<f64> {
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let hosts: Vec<(i64, i64)> = conn
        .prepare("SELECT id, last_report_at FROM hosts WHERE hostname LIKE 'real-%' ORDER BY id")?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0)))
        })?
        .collect::<Result<_, _>>()?;
    if hosts.is_empty() {
        bail!("no ingest hosts in {}", db.display());
    }
    let mut last: Vec<i64> = hosts.iter().map(|h| h.1).collect();
    let t0 = Instant::now();
    let mut k = 0;
    while k < reports {
        let tx = conn.transaction()?;
        for _ in 0..batch.min(reports - k) {
            let i = k % hosts.len();
            let host = hosts[i].0;
            let now = chrono::Utc::now().timestamp();
            last[i] += 1;
            let id = uuid::Uuid::new_v4().to_string();
            tx.prepare_cached(
                "INSERT OR IGNORE INTO recent_reports(report_id, host_id, received_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, host, now])?;
            let _: Option<i64> = tx
                .prepare_cached("SELECT last_report_at FROM hosts WHERE id = ?1")?
                .query_row(params![host], |r| r.get(0))?;
            {
                let mut q = tx.prepare_cached(
                    "SELECT check_name, status, summary, facts, evidence FROM check_state WHERE host_id = ?1",
                )?;
                let mut rows = q.query(params![host])?;
                while let Some(r) = rows.next()? {
                    let _: (String, String, String, String, String) =
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                }
            }
            tx.prepare_cached(
                "UPDATE hosts SET hostname = ?2, os = ?3, os_version = ?4, kernel = ?5, arch = ?6,
                    last_seen_at = ?7, last_report_at = ?8, last_report_id = ?9,
                    interval_s = COALESCE(?10, interval_s), lost_reports = lost_reports + ?11
                 WHERE id = ?1",
            )?
            .execute(params![
                host,
                format!("real-{i:06}.example.org"),
                "debian",
                "12",
                "6.1.0-27-amd64",
                "x86_64",
                now,
                last[i],
                id,
                900,
                0
            ])?;
            let day = chrono::DateTime::from_timestamp(now, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            tx.prepare_cached(
                "INSERT INTO daily(host_id, day, reports, first_seen, last_seen) VALUES (?1, ?2, 1, ?3, ?3)
                 ON CONFLICT(host_id, day) DO UPDATE SET reports = reports + 1,
                    first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)",
            )?
            .execute(params![host, day, now])?;
            k += 1;
        }
        tx.commit()?;
    }
    Ok(reports as f64 / t0.elapsed().as_secs_f64().max(1e-9))
}

/// The database file's size after a checkpoint, and the bytes of the tables that grow with
/// changes rather than reports (`transitions`, `evidence`, with their indexes). `dbstat` is asked
/// one b-tree at a time, so a 100k-host store is not read whole.
fn db_size(db: &Path) -> anyhow::Result<(i64, i64)> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let file = std::fs::metadata(db)?.len() as i64;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE tbl_name IN ('transitions', 'evidence')")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut changes = 0i64;
    for n in names {
        changes += conn.query_row(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?1",
            [n],
            |r| r.get::<_, i64>(0),
        )?;
    }
    Ok((file, changes))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The last complete month before today: (YYYY-MM, first day, last day).
fn last_month() -> (String, NaiveDate, NaiveDate) {
    let today = Utc::now().date_naive();
    let first_this = today.with_day(1).unwrap_or(today);
    let last = first_this.pred_opt().unwrap_or(first_this);
    let first = last.with_day(1).unwrap_or(last);
    (first.format("%Y-%m").to_string(), first, last)
}

/// Measure one fleet size; the values in the order of [`LINES`].
async fn one_size(
    args: &ScaleArgs,
    bin: &Path,
    templates: &[Template],
    hosts: u32,
) -> anyhow::Result<Vec<Option<f64>>> {
    let base = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix(&format!("vigie-scale-{hosts}-"))
        .tempdir_in(&base)
        .with_context(|| format!("cannot create a directory in {}", base.display()))?;
    let data = dir.path().join("data");
    let db = data.join("vigie.db");
    let yesterday = Utc::now().date_naive().pred_opt().unwrap_or_default();
    println!("\n== {hosts} hosts (load average {})", loadavg());
    // The configuration the collector will use (written by Collector::start too, same content).
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ninsecure_http = true\n\n[storage]\ndata_dir = {:?}\n\n\
             [auth]\nenroll_secret = {ENROLL_SECRET:?}\nadmin_tokens = [{ADMIN_TOKEN:?}]\n",
            data.display().to_string()
        ),
    )?;
    let t0 = Instant::now();
    run_timed(
        bin,
        &config,
        &[
            "report",
            "generate-store",
            "--db",
            &db.display().to_string(),
            "--hosts",
            &hosts.to_string(),
            "--days",
            &args.days.to_string(),
            "--end",
            &yesterday.format("%Y-%m-%d").to_string(),
        ],
    )?;
    println!(
        "generated: {} hosts x {} days in {:.1} s, {:.1} MB",
        hosts,
        args.days,
        t0.elapsed().as_secs_f64(),
        std::fs::metadata(&db).map_or(0, |m| m.len()) as f64 / 1e6
    );

    let c = Collector::start(bin, dir.path(), args.refresh_seconds, "full")?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(300))
        .build()?;
    // Let the start-up work (first refresh, hourly prune, snapshot check) pass.
    tokio::time::sleep(Duration::from_secs(args.refresh_seconds.min(10) + 5)).await;
    let cpu0 = c.cpu_seconds();
    let t_idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.idle_seconds)).await;
    let idle = (c.cpu_seconds() - cpu0) / t_idle.elapsed().as_secs_f64() * 100.0;
    println!("idle: {idle:.2} % of a core over {} s", args.idle_seconds);
    let (_, metrics_ms, metrics_b) = timed_gets(&client, &c, "/metrics", 10).await?;
    let (_, hosts_ms, hosts_b) = timed_gets(&client, &c, "/api/v1/hosts?limit=100", 10).await?;
    let (kpi_first, kpi_ms, _) = timed_gets(&client, &c, "/api/v1/kpi", 20).await?;
    println!(
        "/metrics {metrics_ms:.1} ms ({metrics_b} bytes) | /api/v1/hosts {hosts_ms:.1} ms ({hosts_b} bytes) | /api/v1/kpi {kpi_ms:.2} ms (first {kpi_first:.1} ms)"
    );
    let healthz = wrk_healthz(&c, args.concurrency);

    // Ingest of real-size reports.
    let sim = Arc::new(Sim {
        client: client.clone(),
        url: c.url("/api/v1/reports"),
        templates: templates.to_vec(),
        hosts: (0..args.ingest_hosts)
            .map(|i| Mutex::new(RealHost::new(i, templates)))
            .collect(),
    });
    let (s, url) = (sim.clone(), c.url("/api/v1/enroll"));
    let enrolled = load::run(args.ingest_hosts, args.concurrency, move |k| {
        let (s, url) = (s.clone(), url.clone());
        async move { s.enroll(&url, k).await }
    })
    .await;
    if enrolled.ok != args.ingest_hosts {
        bail!(
            "only {} of {} hosts enrolled: {}",
            enrolled.ok,
            args.ingest_hosts,
            enrolled.errors_text()
        );
    }
    let s = sim.clone();
    let warm = load::run(args.ingest_hosts, args.concurrency, move |k| {
        let s = s.clone();
        async move { s.post(k, false).await }
    })
    .await;
    if warm.error_count() > 0 {
        bail!("warm-up errors: {}", warm.errors_text());
    }
    let before = db_size(&db)?;
    let s = sim.clone();
    let offset = args.ingest_hosts;
    // The writer's counters on /metrics are refreshed every `refresh_seconds`: wait for a
    // refresh on each side of the phase, or a short phase reads no batch at all.
    tokio::time::sleep(Duration::from_secs(args.refresh_seconds + 1)).await;
    let m0 = crate::scrape(&client, &c).await?;
    let measured = load::run(args.reports, args.concurrency, move |k| {
        let s = s.clone();
        async move { s.post(offset + k, true).await }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(args.refresh_seconds + 1)).await;
    let m1 = crate::scrape(&client, &c).await?;
    let after = db_size(&db)?;
    let per_commit = (m1.operations - m0.operations) / (m1.batches - m0.batches).max(1.0);
    // Growth of the file less what status changes and new evidence added.
    let unchanged = ((after.0 - before.0) - (after.1 - before.1)) as f64 / args.reports as f64;
    println!(
        "ingest: {:.0} reports/s, p50 {:.1} ms, p99 {:.1} ms, errors {} | {:.1} reports per commit | {:.0} bytes per unchanged report",
        measured.rate(),
        measured.quantile_ms(0.5),
        measured.quantile_ms(0.99),
        measured.errors_text(),
        per_commit,
        unchanged
    );
    c.stop()?;

    let raw = raw_sqlite(&db, args.reports, per_commit.round().max(1.0) as usize)?;
    println!("raw SQLite, same statements and pragmas: {raw:.0} reports/s");

    let (month, first, last) = last_month();
    let report_dir = dir.path().join("report");
    let report_s = run_timed(
        bin,
        &config,
        &[
            "report",
            "monthly",
            "--month",
            &month,
            "--out",
            &report_dir.display().to_string(),
            "--format",
            "html,md,json",
        ],
    )?;
    let zip = dir.path().join("export.zip");
    let export_s = run_timed(
        bin,
        &config,
        &[
            "evidence",
            "export",
            "--from",
            &first.format("%Y-%m-%d").to_string(),
            "--to",
            &last.format("%Y-%m-%d").to_string(),
            "--out",
            &zip.display().to_string(),
        ],
    )?;
    println!(
        "report monthly {month}: {report_s:.2} s | evidence export {month}: {export_s:.2} s ({:.1} MB)",
        std::fs::metadata(&zip).map_or(0, |m| m.len()) as f64 / 1e6
    );
    if args.keep_data {
        println!("data kept in {}", dir.keep().display());
    }
    Ok(vec![
        Some(measured.rate()),
        Some(measured.quantile_ms(0.99)),
        Some(raw),
        Some(measured.rate() / raw),
        healthz,
        Some(unchanged * 96.0),
        Some(idle),
        Some(metrics_ms),
        Some(hosts_ms),
        Some(kpi_ms),
        Some(report_s),
        Some(export_s),
    ])
}

/// The table's lines, in the order [`one_size`] returns them.
const LINES: [(&str, &str); 12] = [
    ("ingest, real-size reports (64 conn.)", "reports/s"),
    ("ingest p99 (64 conn.)", "ms"),
    ("raw SQLite, same rows and pragmas", "reports/s"),
    ("ingest / raw SQLite", "ratio"),
    ("/healthz (wrk, 64 conn.)", "req/s"),
    ("DB bytes per host per day (96 unchanged reports)", "bytes"),
    ("background CPU, idle", "% of a core"),
    ("GET /metrics (median)", "ms"),
    ("GET /api/v1/hosts, one page of 100 (median)", "ms"),
    ("GET /api/v1/kpi (median)", "ms"),
    ("report monthly, cold process", "s"),
    ("evidence export, one month", "s"),
];

pub async fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    if args.sizes.is_empty() || args.ingest_hosts == 0 || args.reports == 0 {
        bail!("--sizes, --ingest-hosts and --reports must not be empty or 0");
    }
    let bin = args
        .collector_bin
        .clone()
        .unwrap_or_else(crate::default_collector_bin);
    let templates = crate::bodies::load()?;
    println!(
        "vigie-bench scale: collector {} | sizes {:?} x {} days | {} cores | load average {}",
        bin.display(),
        args.sizes,
        args.days,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "report bodies (the agent's own reports on fixture hosts): {}",
        templates
            .iter()
            .map(|t| format!("{} {} B", t.name, t.bytes))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut lines: Vec<Line> = LINES
        .iter()
        .map(|(name, unit)| Line {
            name,
            unit,
            values: Vec::new(),
        })
        .collect();
    for &n in &args.sizes {
        let values = match one_size(&args, &bin, &templates, n).await {
            Ok(v) => v,
            Err(e) => {
                println!("{n} hosts: FAILED: {e:#}");
                vec![None; LINES.len()]
            }
        };
        for (l, v) in lines.iter_mut().zip(values) {
            l.values.push(v);
        }
    }
    println!("\n== scale (load average at the end {})", loadavg());
    let mut header = format!("| {:<50} | {:<11} |", "measure", "unit");
    for n in &args.sizes {
        header.push_str(&format!(" {:>10} |", n));
    }
    header.push_str(" last ÷ first |");
    println!("{header}");
    println!(
        "|{}|{}|{}---:|",
        "-".repeat(52),
        "-".repeat(13),
        "---:|".repeat(args.sizes.len())
    );
    for l in &lines {
        let mut row = format!("| {:<50} | {:<11} |", l.name, l.unit);
        for v in &l.values {
            row.push_str(&match v {
                Some(x) if x.abs() >= 100.0 => format!(" {:>10.0} |", x),
                Some(x) => format!(" {:>10.2} |", x),
                None => format!(" {:>10} |", "n/a"),
            });
        }
        let ratio = match (l.values.first(), l.values.last()) {
            (Some(Some(a)), Some(Some(b))) if *a != 0.0 => format!("{:.2}", b / a),
            _ => "n/a".into(),
        };
        row.push_str(&format!(" {ratio:>12} |"));
        println!("{row}");
    }
    println!(
        "| {:<50} | {:<11} | see \"Bytes on the wire\" (tests/bench/wire.rs) |",
        "bytes on the wire per unchanged / changed report", "bytes"
    );
    Ok(())
}
