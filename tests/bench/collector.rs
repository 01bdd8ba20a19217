//! The collector under test: a real `vigie-collector serve` child process on a temporary data
//! directory with a generated configuration, its address read from its log, its CPU time read from
//! `/proc`, its `/metrics` scraped, and a graceful stop (SIGTERM).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// The enrolment secret written into the generated configuration.
pub const ENROLL_SECRET: &str = "bench-enroll-secret-0123456789";
/// The admin token written into the generated configuration.
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef0123456789";

/// A running collector.
pub struct Collector {
    child: Child,
    /// Its listen address (loopback, ephemeral port).
    pub addr: SocketAddr,
    /// Its data directory (holds `vigie.db`).
    pub data_dir: PathBuf,
    /// WARN/ERROR lines it logged (kept for the summary).
    pub complaints: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    /// Write the configuration under `dir` and start `bin serve`; wait for its `listening` line.
    pub fn start(
        bin: &Path,
        dir: &Path,
        metrics_refresh_s: u64,
        synchronous: &str,
    ) -> anyhow::Result<Collector> {
        if !bin.is_file() {
            bail!(
                "collector binary {} not found: build it first with `cargo build --release -p vigie-collector` \
                 or pass --collector-bin PATH",
                bin.display()
            );
        }
        let data_dir = dir.join("data");
        let config = dir.join("collector.toml");
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ninsecure_http = true\n\n\
             [storage]\ndata_dir = {data:?}\nsynchronous = {synchronous:?}\n\n\
             [auth]\nenroll_secret = {ENROLL_SECRET:?}\nadmin_tokens = [{ADMIN_TOKEN:?}]\n\n\
             [metrics]\nrefresh_seconds = {metrics_refresh_s}\n",
            data = data_dir.display().to_string(),
        );
        std::fs::write(&config, toml)
            .with_context(|| format!("cannot write {}", config.display()))?;
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(&config)
            // Only the server module's info (the `listening` line) and warnings: one log line per
            // enrolment would otherwise be measured too.
            .arg("--log")
            .arg("warn,vigie_collector::server=info")
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stderr = child.stderr.take().context("collector stderr not piped")?;
        let complaints = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let c2 = complaints.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent && line.contains("listening") {
                    if let Some(addr) = parse_addr(&line) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
                if line.contains("WARN") || line.contains("ERROR") {
                    if let Ok(mut v) = c2.lock() {
                        if v.len() < 50 {
                            v.push(line);
                        }
                    }
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => {
                    return Ok(Collector {
                        child,
                        addr,
                        data_dir,
                        complaints,
                    })
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Some(st) = child.try_wait()? {
                        bail!(
                            "collector exited ({st}) before listening: {:?}",
                            complaints.lock().map(|v| v.clone()).unwrap_or_default()
                        );
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    bail!("collector did not log a `listening ... addr=127.0.0.1:PORT` line within 30 s");
                }
            }
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Path of the SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("vigie.db")
    }

    /// User + system CPU seconds the collector has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    /// CPU seconds per thread name (`vigie-store-wri`, `tokio-runtime-w`, ...), summed over the
    /// threads that share a name.
    pub fn thread_cpu(&self) -> std::collections::BTreeMap<String, f64> {
        let mut out = std::collections::BTreeMap::new();
        let dir = format!("/proc/{}/task", self.child.id());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return out;
        };
        for e in entries.flatten() {
            let stat = e.path().join("stat");
            let text = std::fs::read_to_string(&stat).unwrap_or_default();
            let name = match (text.find('('), text.rfind(')')) {
                (Some(a), Some(b)) if a < b => text[a + 1..b].to_string(),
                _ => continue,
            };
            *out.entry(name).or_insert(0.0) += proc_cpu_seconds(&stat.display().to_string());
        }
        out
    }

    /// Bytes the collector caused to be written to storage so far, and its write syscalls
    /// (`/proc/PID/io`: write_bytes, syscw; zeros if unreadable).
    pub fn io_written(&self) -> (u64, u64) {
        let text =
            std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        (field("write_bytes:"), field("syscw:"))
    }

    /// SIGTERM, then wait up to 30 s (SIGKILL after that).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait()? {
                if !st.success() {
                    bail!("collector exited with {st} after SIGTERM");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        bail!("collector did not stop within 30 s of SIGTERM; killed")
    }
}

/// `addr=127.0.0.1:PORT` in a log line.
fn parse_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("addr=")? + 5..];
    let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
    rest[..end].trim_matches('"').parse().ok()
}

/// utime + stime of a `/proc/.../stat` file, in seconds (0 if unreadable).
pub fn proc_cpu_seconds(stat_path: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat_path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(after) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return 0.0;
    };
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The counters of a `/metrics` scrape the benchmark looks at.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// `vigie_store_batches_total`.
    pub batches: f64,
    /// `vigie_store_operations_total`.
    pub operations: f64,
    /// Cumulative buckets (upper bound s, count) of `vigie_ingest_duration_seconds{outcome="accepted"}`.
    pub accepted_buckets: Vec<(f64, f64)>,
}

impl Scrape {
    /// Parse the text exposition.
    pub fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            if name == "vigie_store_batches_total" {
                s.batches = v;
            } else if name == "vigie_store_operations_total" {
                s.operations = v;
            } else if name.starts_with("vigie_ingest_duration_seconds_bucket")
                && name.contains("outcome=\"accepted\"")
            {
                let le = name
                    .split("le=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .map(|x| {
                        if x == "+Inf" {
                            f64::INFINITY
                        } else {
                            x.parse().unwrap_or(f64::NAN)
                        }
                    });
                if let Some(le) = le {
                    s.accepted_buckets.push((le, v));
                }
            }
        }
        s.accepted_buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        s
    }

    /// Server-side quantile `q` of accepted reports between `before` and `self`, as the upper bound
    /// of the histogram bucket it falls in (seconds).
    pub fn quantile_since(&self, before: &Scrape, q: f64) -> Option<f64> {
        let counts: Vec<(f64, f64)> = self
            .accepted_buckets
            .iter()
            .map(|(le, n)| {
                let old = before
                    .accepted_buckets
                    .iter()
                    .find(|(l, _)| l == le)
                    .map_or(0.0, |(_, o)| *o);
                (*le, n - old)
            })
            .collect();
        let total = counts.last()?.1;
        if total <= 0.0 {
            return None;
        }
        counts
            .iter()
            .find(|(_, n)| *n >= q * total)
            .map(|(le, _)| *le)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_listen_address_and_metrics() {
        let line = "2026-11-24T10:00:00Z  INFO vigie_collector::server: listening addr=127.0.0.1:41234 scheme=\"http\"";
        assert_eq!(parse_addr(line), Some("127.0.0.1:41234".parse().unwrap()));
        let text = "# HELP x\nvigie_store_batches_total 12\nvigie_store_operations_total 600\n\
            vigie_ingest_duration_seconds_bucket{outcome=\"accepted\",le=\"0.005\"} 90\n\
            vigie_ingest_duration_seconds_bucket{outcome=\"accepted\",le=\"0.01\"} 99\n\
            vigie_ingest_duration_seconds_bucket{outcome=\"accepted\",le=\"+Inf\"} 100\n";
        let s = Scrape::parse(text);
        assert_eq!((s.batches, s.operations), (12.0, 600.0));
        // 100 accepted: the 50th falls in the first bucket (90 ≤ 0.005 s), the 99th in the second.
        let zero = Scrape::default();
        assert_eq!(s.quantile_since(&zero, 0.5), Some(0.005));
        assert_eq!(s.quantile_since(&zero, 0.99), Some(0.01));
    }
}
