//! The load generator core: `total` requests over a fixed number of workers (each one request at a
//! time on its own keep-alive connection), per-request latency, and errors by status.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How one request went.
pub struct Outcome {
    /// Time from sending the request to having read the whole answer.
    pub latency: Duration,
    /// HTTP status, or the transport error.
    pub status: Result<u16, String>,
    /// Whether this is the expected answer.
    pub ok: bool,
}

/// Results of one phase.
#[derive(Debug, Default)]
pub struct PhaseStats {
    /// Requests answered as expected.
    pub ok: usize,
    /// Wall time of the phase.
    pub elapsed: Duration,
    /// Latency of every request, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Unexpected answers by status (`409`, `transport: ...`).
    pub errors: BTreeMap<String, u64>,
}

impl PhaseStats {
    /// Requests per second (all requests, expected or not).
    pub fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency quantile in milliseconds (nearest rank).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let n = self.latencies_us.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies_us[rank - 1] as f64 / 1000.0
    }

    /// Unexpected answers in total.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// "none" or "409: 3, transport: ...: 1".
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "none".into();
        }
        self.errors
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Run `op(k)` for k in 0..total over `concurrency` workers; each worker takes the next k.
pub async fn run<F, Fut>(total: usize, concurrency: usize, op: F) -> PhaseStats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            let mut ok = 0;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= total {
                    break;
                }
                let o = op(k).await;
                lat.push(o.latency.as_micros() as u64);
                if o.ok {
                    ok += 1;
                } else {
                    let key = match o.status {
                        Ok(s) => s.to_string(),
                        Err(e) => format!("transport: {e}"),
                    };
                    *errors.entry(key).or_default() += 1;
                }
            }
            (lat, errors, ok)
        }));
    }
    let mut stats = PhaseStats::default();
    for w in workers {
        match w.await {
            Ok((lat, errors, ok)) => {
                stats.latencies_us.extend(lat);
                stats.ok += ok;
                for (k, v) in errors {
                    *stats.errors.entry(k).or_default() += v;
                }
            }
            Err(e) => {
                *stats
                    .errors
                    .entry(format!("worker panic: {e}"))
                    .or_default() += 1
            }
        }
    }
    stats.elapsed = started.elapsed();
    stats.latencies_us.sort_unstable();
    stats
}

/// Send `req`, read the whole answer, and judge it by `expect`.
pub async fn send(req: reqwest::RequestBuilder, expect: u16) -> Outcome {
    let t0 = Instant::now();
    let status = match req.send().await {
        Ok(resp) => {
            let s = resp.status().as_u16();
            match resp.bytes().await {
                Ok(_) => Ok(s),
                Err(e) => Err(short(&e)),
            }
        }
        Err(e) => Err(short(&e)),
    };
    Outcome {
        latency: t0.elapsed(),
        ok: status == Ok(expect),
        status,
    }
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    s.truncate(80);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let s = PhaseStats {
            latencies_us: (1..=100).map(|i| i * 1000).collect(),
            ..PhaseStats::default()
        };
        // 100 samples 1..100 ms: p50 = 50th = 50 ms, p99 = 99th = 99 ms, max = 100 ms.
        assert_eq!(s.quantile_ms(0.5), 50.0);
        assert_eq!(s.quantile_ms(0.99), 99.0);
        assert_eq!(s.quantile_ms(1.0), 100.0);
    }
}
