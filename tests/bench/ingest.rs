//! `vigie-bench`: the collector's ingest benchmark.
//!
//! `vigie-bench ingest --hosts N --reports M` starts a real `vigie-collector serve` on loopback
//! (plain HTTP, temporary data directory), measures a baseline (`GET /healthz`, M requests), enrols
//! N simulated hosts, sends one warm-up report per host, then M reports round-robin over the hosts
//! with a fixed number of concurrent connections. It prints throughput (and its ratio to the
//! baseline), latency percentiles, errors by status, the writer's batching, CPU per report, and how
//! the database grows when nothing changes, extrapolated to bytes per host per day at one report
//! every 15 minutes.
//!
//! Build the collector first: `cargo build --release -p vigie-collector`.

mod bodies;
mod collector;
mod dbsize;
mod fleet;
mod load;
mod scale;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use tokio::sync::Mutex;

use crate::collector::{Collector, Scrape, ENROLL_SECRET};
use crate::dbsize::DbSnapshot;
use crate::fleet::SimHost;
use crate::load::{Outcome, PhaseStats};

/// Reports per host per day at the agent's default interval (15 minutes).
const REPORTS_PER_DAY: f64 = 96.0;
/// The collector's default `storage.dedup_days`.
const DEDUP_DAYS: f64 = 2.0;
/// Seconds between the collector's metric refreshes during the benchmark.
const METRICS_REFRESH_S: u64 = 1;

#[derive(Parser)]
#[command(name = "vigie-bench", about = "Load benchmarks of the Vigie collector")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enrol simulated hosts and post reports to a real collector; print throughput, latency and
    /// database growth.
    Ingest(IngestArgs),
    /// Build 1k/10k/100k-host stores and print how each cost grows with the fleet (one table).
    Scale(scale::ScaleArgs),
}

#[derive(clap::Args)]
struct IngestArgs {
    /// Simulated hosts to enrol.
    #[arg(long, default_value_t = 2000)]
    hosts: usize,
    /// Reports to post in the measured phase (round-robin over the hosts).
    #[arg(long, default_value_t = 50_000)]
    reports: usize,
    /// Concurrent connections (workers, each with one request in flight).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// The collector binary. Default: $CARGO_TARGET_DIR/release/vigie-collector, else
    /// target/release/vigie-collector.
    #[arg(long, value_name = "PATH")]
    collector_bin: Option<PathBuf>,
    /// Percentage of measured reports that flip one check's status (a real change).
    #[arg(long, default_value_t = 1.0)]
    flip_percent: f64,
    /// Keep the temporary data directory (its path is printed).
    #[arg(long)]
    keep_data: bool,
    /// The collector's `storage.synchronous`: `full` (default, durable across power loss) or
    /// `normal` (durable across a collector crash).
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    synchronous: String,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vigie-bench: cannot start runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let run = match cli.command {
        Command::Ingest(args) => rt.block_on(ingest(args)),
        Command::Scale(args) => rt.block_on(scale::scale(args)),
    };
    match run {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-bench: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn default_collector_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("release").join("vigie-collector")
}

/// Shared by the report-posting workers.
struct Fleet {
    client: reqwest::Client,
    url: String,
    hosts: Vec<Mutex<SimHost>>,
    flip_per_10k: u64,
    flips: AtomicU64,
    body_bytes: AtomicU64,
}

/// A deterministic 64-bit mix of `k` (splitmix64), to pick which reports flip a status.
fn mix(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Fleet {
    /// Post report number `k` (host `k % hosts`); `flips` allows a status change.
    async fn post(&self, k: usize, flips: bool) -> Outcome {
        let mut host = self.hosts[k % self.hosts.len()].lock().await;
        let r = mix(k as u64);
        if flips && r % 10_000 < self.flip_per_10k {
            host.flip(((r >> 32) as usize) % vigie_checks::ALL.len());
            self.flips.fetch_add(1, Ordering::Relaxed);
        }
        let report = host.next_report();
        let body = match serde_json::to_vec(&report) {
            Ok(b) => b,
            Err(e) => {
                return Outcome {
                    latency: Duration::ZERO,
                    status: Err(format!("cannot serialise report: {e}")),
                    ok: false,
                }
            }
        };
        self.body_bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let req = self
            .client
            .post(&self.url)
            .bearer_auth(&host.node_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        // The host stays locked until its report is answered: its reports arrive in order.
        load::send(req, 202).await
    }
}

async fn enroll_one(client: &reqwest::Client, url: &str, host: &Mutex<SimHost>) -> Outcome {
    let mut host = host.lock().await;
    let t0 = std::time::Instant::now();
    let resp = client
        .post(url)
        .json(&host.enroll_body(ENROLL_SECRET))
        .send()
        .await;
    let (status, ok) = match resp {
        Ok(r) => {
            let s = r.status().as_u16();
            match r.json::<serde_json::Value>().await {
                Ok(v) => match v.get("node_key").and_then(|k| k.as_str()) {
                    Some(key) if s == 201 => {
                        host.node_key = key.to_string();
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

async fn scrape(client: &reqwest::Client, c: &Collector) -> anyhow::Result<Scrape> {
    let text = client
        .get(c.url("/metrics"))
        .send()
        .await
        .context("GET /metrics")?
        .text()
        .await
        .context("GET /metrics: body")?;
    Ok(Scrape::parse(&text))
}

async fn db_snapshot(c: &Collector) -> anyhow::Result<DbSnapshot> {
    let db = c.db_path();
    tokio::task::spawn_blocking(move || dbsize::snapshot(&db))
        .await
        .context("db snapshot task")?
}

fn print_phase(name: &str, s: &PhaseStats) {
    println!(
        "{name:<9} {:>8} req in {:>6.2} s = {:>8.0} req/s | latency p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>7.2} ms | errors: {}",
        s.latencies_us.len(),
        s.elapsed.as_secs_f64(),
        s.rate(),
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
        s.quantile_ms(1.0),
        s.errors_text()
    );
}

async fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    if args.hosts == 0 || args.reports == 0 || args.concurrency == 0 {
        bail!("--hosts, --reports and --concurrency must be at least 1");
    }
    if !(0.0..=100.0).contains(&args.flip_percent) {
        bail!("--flip-percent must be between 0 and 100");
    }
    if args.hosts < args.concurrency {
        eprintln!(
            "note: --hosts {} < --concurrency {}: workers wait on each other's hosts (reports of one host are sent in order)",
            args.hosts, args.concurrency
        );
    }
    let bin = args
        .collector_bin
        .clone()
        .unwrap_or_else(default_collector_bin);
    let dir = tempfile::Builder::new()
        .prefix("vigie-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let collector = Collector::start(&bin, dir.path(), METRICS_REFRESH_S, &args.synchronous)?;
    println!(
        "vigie-bench ingest: collector {} on {} | {} hosts, {} reports, {} connections, {} cores, {}% of reports flip a status",
        bin.display(),
        collector.addr,
        args.hosts,
        args.reports,
        args.concurrency,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        args.flip_percent
    );
    println!("load average at the start: {}", loadavg());
    println!(
        "note: the wire format allows one result per check id; there are {} checks today, so each report has {} results",
        vigie_checks::ALL.len(),
        vigie_checks::ALL.len()
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")?;

    // Baseline: the same generator, the same concurrency and count, on the cheapest endpoint.
    let url = collector.url("/healthz");
    let c = client.clone();
    let baseline = load::run(args.reports, args.concurrency, move |_| {
        load::send(c.get(&url), 200)
    })
    .await;
    print_phase("healthz", &baseline);

    let hosts: Vec<Mutex<SimHost>> = (0..args.hosts)
        .map(|i| Mutex::new(SimHost::new(i)))
        .collect();
    let fleet = Arc::new(Fleet {
        client: client.clone(),
        url: collector.url("/api/v1/reports"),
        hosts,
        flip_per_10k: (args.flip_percent * 100.0).round() as u64,
        flips: AtomicU64::new(0),
        body_bytes: AtomicU64::new(0),
    });
    let (f, url) = (fleet.clone(), collector.url("/api/v1/enroll"));
    let enrolled = load::run(args.hosts, args.concurrency, move |k| {
        let (f, url) = (f.clone(), url.clone());
        async move { enroll_one(&f.client, &url, &f.hosts[k]).await }
    })
    .await;
    print_phase("enrol", &enrolled);
    if enrolled.ok != args.hosts {
        bail!("only {} of {} hosts enrolled", enrolled.ok, args.hosts);
    }

    // Warm-up: one report per host creates its current state, evidence and daily row.
    let f = fleet.clone();
    let warm = load::run(args.hosts, args.concurrency, move |k| {
        let f = f.clone();
        async move { f.post(k, false).await }
    })
    .await;
    print_phase("warm-up", &warm);
    tokio::time::sleep(Duration::from_millis(METRICS_REFRESH_S * 1000 + 500)).await;
    let before = db_snapshot(&collector).await?;
    let m0 = scrape(&client, &collector).await?;
    let cpu0 = collector.cpu_seconds();
    let io0 = collector.io_written();
    let threads0 = collector.thread_cpu();
    let self0 = collector::proc_cpu_seconds("/proc/self/stat");
    fleet.body_bytes.store(0, Ordering::Relaxed);

    // Measured phase: statuses mostly unchanged.
    let f = fleet.clone();
    let offset = args.hosts;
    let measured = load::run(args.reports, args.concurrency, move |k| {
        let f = f.clone();
        async move { f.post(offset + k, true).await }
    })
    .await;
    let cpu1 = collector.cpu_seconds();
    let io1 = collector.io_written();
    let threads1 = collector.thread_cpu();
    let self1 = collector::proc_cpu_seconds("/proc/self/stat");
    print_phase("ingest", &measured);
    tokio::time::sleep(Duration::from_millis(METRICS_REFRESH_S * 1000 + 500)).await;
    let m1 = scrape(&client, &collector).await?;
    let after = db_snapshot(&collector).await?;

    let n = args.reports as f64;
    let flips = fleet.flips.load(Ordering::Relaxed);
    println!();
    println!("== ingest");
    println!(
        "throughput: {:.0} reports/s = {:.2} x the /healthz baseline ({:.0} req/s)",
        measured.rate(),
        measured.rate() / baseline.rate().max(1e-9),
        baseline.rate()
    );
    println!(
        "latency (client): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms | server-side histogram: p50 <= {}, p99 <= {}",
        measured.quantile_ms(0.5),
        measured.quantile_ms(0.99),
        measured.quantile_ms(1.0),
        fmt_bucket(m1.quantile_since(&m0, 0.5)),
        fmt_bucket(m1.quantile_since(&m0, 0.99)),
    );
    println!(
        "errors: {} ({}) | accepted: {} | status flips sent: {flips}",
        measured.error_count(),
        measured.errors_text(),
        measured.ok
    );
    println!(
        "report body: {:.0} bytes on average",
        fleet.body_bytes.load(Ordering::Relaxed) as f64 / n
    );
    let batches = m1.batches - m0.batches;
    let ops = m1.operations - m0.operations;
    println!(
        "writer: {batches:.0} batches for {ops:.0} operations = {:.1} reports per commit, {:.0} commits/s",
        ops / batches.max(1.0),
        batches / measured.elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "CPU: collector {:.2} s = {:.0} us per report | load generator {:.2} s (same {} cores)",
        cpu1 - cpu0,
        (cpu1 - cpu0) / n * 1e6,
        self1 - self0,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let wall = measured.elapsed.as_secs_f64().max(1e-9);
    let busy: Vec<String> = threads1
        .iter()
        .map(|(name, t)| {
            let d = t - threads0.get(name).copied().unwrap_or(0.0);
            format!("{name} {d:.2} s ({:.0}% of wall)", d / wall * 100.0)
        })
        .collect();
    println!("collector threads (CPU in the phase): {}", busy.join(", "));
    println!(
        "storage writes: {:.1} MB = {:.1} KB per report ({:.0} write syscalls per commit)",
        (io1.0 - io0.0) as f64 / 1e6,
        (io1.0 - io0.0) as f64 / n / 1e3,
        (io1.1 - io0.1) as f64 / batches.max(1.0)
    );

    println!(
        "load average at the end (other processes share the cores): {}",
        loadavg()
    );

    print_db(&before, &after, args.reports, args.hosts, flips);
    let complaints = collector
        .complaints
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    if !complaints.is_empty() {
        println!("\ncollector warnings ({}):", complaints.len());
        for l in complaints.iter().take(10) {
            println!("  {l}");
        }
    }
    collector.stop()?;
    if args.keep_data {
        let kept = dir.keep();
        println!("data kept in {}", kept.display());
    }
    Ok(())
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn fmt_bucket(b: Option<f64>) -> String {
    match b {
        Some(s) if s.is_finite() => format!("{:.1} ms", s * 1000.0),
        Some(_) => "+Inf".into(),
        None => "n/a".into(),
    }
}

fn print_db(before: &DbSnapshot, after: &DbSnapshot, reports: usize, hosts: usize, flips: u64) {
    let n = reports as f64;
    let d = |t: &str| after.table(t) as i64 - before.table(t) as i64;
    let growth = after.checkpointed_bytes as i64 - before.checkpointed_bytes as i64;
    let raw_growth = after.raw_bytes as i64 - before.raw_bytes as i64;
    println!();
    println!("== database (one report per host every 15 min = 96 per host per day)");
    println!(
        "after warm-up: {} bytes (db+wal {}) | after {} more reports: {} bytes (db+wal {})",
        before.checkpointed_bytes,
        before.raw_bytes,
        reports,
        after.checkpointed_bytes,
        after.raw_bytes
    );
    println!(
        "growth: {growth} bytes = {:.1} bytes per report (db+wal before checkpoint: {raw_growth})",
        growth as f64 / n
    );
    println!(
        "{:<16} {:>12} {:>12} {:>12}",
        "table", "bytes", "delta", "rows delta"
    );
    for (t, b) in &after.tables {
        println!(
            "{t:<16} {b:>12} {:>12} {:>12}",
            d(t),
            after.row_count(t) as i64 - before.row_count(t) as i64
        );
    }
    let dedup_row =
        after.table("recent_reports") as f64 / after.row_count("recent_reports").max(1) as f64;
    let daily_row = after.table("daily") as f64 / after.row_count("daily").max(1) as f64;
    let per_report_unchanged = (growth - d("transitions") - d("evidence")) as f64 / n;
    println!(
        "nothing changes: {:.0} bytes per report -> {:.0} bytes per host per day ({} reports/day)",
        per_report_unchanged,
        per_report_unchanged * REPORTS_PER_DAY,
        REPORTS_PER_DAY
    );
    println!(
        "  of which bounded: the dedup window (recent_reports, {:.0} bytes per report id, pruned after \
         storage.dedup_days = {DEDUP_DAYS}) plateaus at {:.0} bytes per host",
        dedup_row,
        dedup_row * REPORTS_PER_DAY * DEDUP_DAYS
    );
    println!(
        "  kept forever: one daily roll-up row per host per day = {:.0} bytes per host per day ({} hosts: {:.1} MB per year)",
        daily_row,
        hosts,
        daily_row * hosts as f64 * 365.0 / 1e6
    );
    if flips > 0 {
        println!(
            "changes: {flips} status flips added {} bytes to transitions = {:.0} bytes per change",
            d("transitions"),
            d("transitions") as f64 / flips as f64
        );
    }
}
