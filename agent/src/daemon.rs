//! `vigie-agent run`: run the checks every interval (with jitter), spool each report, and deliver
//! the spool in order, backing off exponentially while the collector is unreachable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::checks_run::{self, Target};
use crate::client::{Client, Delivery};
use crate::config::AgentConfig;
use crate::delta::DeltaState;
use crate::files;
use crate::spool::Spool;

/// First retry delay after a failed delivery; doubled on each failure up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Files the agent keeps in its state directory.
pub struct StatePaths {
    pub node_key: PathBuf,
    pub ca: PathBuf,
    pub spool: PathBuf,
    /// The nonce of an enrolment attempt whose answer has not been stored yet.
    pub enroll_nonce: PathBuf,
}

impl StatePaths {
    pub fn new(state_dir: &Path) -> StatePaths {
        StatePaths {
            node_key: state_dir.join("node_key"),
            ca: state_dir.join("collector-ca.pem"),
            spool: state_dir.join("spool"),
            enroll_nonce: state_dir.join("enroll_nonce"),
        }
    }
}

/// How the daemon was asked to run.
pub struct RunOptions<'a> {
    pub target: Target<'a>,
    pub state_dir: PathBuf,
    pub interval: Duration,
    pub jitter: Duration,
    /// Run the checks once, try to deliver the spool once, and exit.
    pub once: bool,
}

/// Outcome of a `--once` run: whether everything was delivered.
pub enum OnceOutcome {
    AllDelivered,
    Pending(usize),
    /// The daemon was asked to stop (SIGTERM/SIGINT); unsent reports stay spooled for next start.
    Stopped,
}

/// The request to stop that a service manager sends: SIGTERM from systemd/launchd; on Windows the
/// console's shutdown event (the service control handler is not written yet, `docs/platforms.md`).
struct Termination {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
    #[cfg(windows)]
    signal: tokio::signal::windows::CtrlShutdown,
}

impl Termination {
    #[cfg(unix)]
    const NAME: &'static str = "SIGTERM";
    #[cfg(windows)]
    const NAME: &'static str = "CTRL_SHUTDOWN_EVENT";

    fn listen() -> std::io::Result<Termination> {
        #[cfg(unix)]
        let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        #[cfg(windows)]
        let signal = tokio::signal::windows::ctrl_shutdown()?;
        Ok(Termination { signal })
    }

    async fn recv(&mut self) -> Option<()> {
        self.signal.recv().await
    }
}

fn random_below(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    Duration::from_millis(u64::from_le_bytes(b) % (max.as_millis() as u64 + 1))
}

/// Read the node key written by `enroll`.
pub fn read_node_key(paths: &StatePaths) -> anyhow::Result<String> {
    let key = std::fs::read_to_string(&paths.node_key).with_context(|| {
        format!(
            "no node key at {}: run `vigie-agent enroll` first",
            paths.node_key.display()
        )
    })?;
    Ok(key.trim().to_string())
}

/// The collector client from config and state (the CA pinned at enrolment wins over none).
pub fn client_for(cfg: &AgentConfig, paths: &StatePaths) -> anyhow::Result<Client> {
    let url = cfg
        .collector
        .url
        .as_deref()
        .context("collector.url is not set in the agent config")?;
    let ca = cfg
        .collector
        .ca_file
        .clone()
        .or_else(|| paths.ca.exists().then(|| paths.ca.clone()));
    Client::new(url, ca.as_deref(), cfg.collector_timeout())
}

/// Deliver spooled reports oldest first until the spool is empty or the collector cannot take more.
/// Returns `Ok(None)` when empty, `Ok(Some(reason))` when delivery must wait. Nothing is logged for
/// a postponement: the caller logs it once per attempt (backoff step), whatever the spool holds.
///
/// Each report is encoded when it is sent, as a delta (schema 2) against what the collector
/// acknowledged (`delta`), or in full every `full_every` and whenever the collector answers
/// `resync_required`. Evidence the collector says it lacks is uploaded before the next report.
pub async fn flush(
    spool: &Spool,
    client: &Client,
    node_key: &str,
    delta: &mut DeltaState,
    full_every: chrono::Duration,
) -> anyhow::Result<Option<String>> {
    if let Some(reason) = upload_pending(client, node_key, delta).await? {
        return Ok(Some(reason));
    }
    let mut force_full = false;
    // A collector that predates schema 2 and compressed bodies refuses them as
    // `malformed_json` / `unsupported_schema`: the spooled schema 1 body then goes as it is.
    let mut legacy = false;
    while let Some(entry) = spool.oldest()? {
        let report_id = entry.report_id.as_str();
        // A body this agent cannot read back goes as it was spooled: the collector judges it.
        let report: Option<vigie_checks::wire::Report> = if legacy {
            None
        } else {
            serde_json::from_slice(&entry.body).ok()
        };
        let sent = report.as_ref().map(|r| {
            let full = force_full || delta.acked.needs_full(r.collected_at, full_every);
            delta.acked.encode(r, full)
        });
        let body = match &sent {
            Some(w) => serde_json::to_vec(w)?,
            None => entry.body.clone(),
        };
        let full = sent.as_ref().is_none_or(|w| w.is_full());
        match client.deliver(node_key, report_id, body, legacy).await {
            Delivery::Accepted { missing_evidence } => {
                if let (Some(r), Some(w)) = (&report, &sent) {
                    // The acknowledged state first: a crash before the spool forgets the report
                    // resends it, and the collector answers `duplicate_report`.
                    delta.acknowledge(r, w, &missing_evidence);
                    delta.save()?;
                }
                spool.acknowledged(&entry)?;
                force_full = false;
                tracing::info!(report_id = %report_id, lost = entry.lost_carried, full, missing_evidence = missing_evidence.len(), "report delivered");
                if let Some(reason) = upload_pending(client, node_key, delta).await? {
                    return Ok(Some(reason));
                }
            }
            Delivery::AlreadyReceived => {
                if let (Some(r), Some(w)) = (&report, &sent) {
                    delta.acknowledge(r, w, &[]);
                    delta.save()?;
                }
                spool.acknowledged(&entry)?;
                force_full = false;
                tracing::info!(report_id = %report_id, "report was already delivered");
            }
            Delivery::Resync(message) => {
                if full {
                    return Ok(Some(format!(
                        "collector asked for a full report after receiving one: {message}"
                    )));
                }
                tracing::warn!(report_id = %report_id, message = %message, "collector cannot resolve the delta; sending the report in full");
                delta.reset();
                delta.save()?;
                force_full = true;
            }
            Delivery::Superseded(message) => {
                spool.superseded(&entry)?;
                tracing::warn!(report_id = %report_id, message = %message, "collector holds a newer report from this host; this one is dropped");
            }
            Delivery::Retry(reason) => return Ok(Some(reason)),
            Delivery::Unauthorized(msg) => {
                return Ok(Some(format!(
                    "collector refused the node key ({msg}); run `vigie-agent enroll` again"
                )));
            }
            Delivery::Refused { code, message, .. }
                if sent.is_some()
                    && matches!(code.as_str(), "malformed_json" | "unsupported_schema") =>
            {
                tracing::warn!(report_id = %report_id, code = %code, message = %message, "collector does not take schema 2 or compressed reports; sending schema 1, uncompressed");
                legacy = true;
            }
            Delivery::Refused {
                status, message, ..
            } => {
                let kept = spool.reject(&entry)?;
                let kept =
                    kept.map_or_else(|| "(not kept)".to_string(), |p| p.display().to_string());
                tracing::error!(status, report_id = %report_id, message = %message, kept = %kept, "collector refused a report; it will not be resent");
            }
        }
    }
    Ok(None)
}

/// Most bytes of evidence JSON in one upload (about): a quarter of the collector's default
/// `server.max_body_bytes` (1 MiB), which also bounds the body once decompressed.
const UPLOAD_CHUNK_BYTES: usize = 256 * 1024;

/// Upload the evidence the collector asked for, in chunks; `Some(reason)` when it must wait. Items
/// the collector refuses with its own error are dropped (logged): they would block every report.
async fn upload_pending(
    client: &Client,
    node_key: &str,
    delta: &mut DeltaState,
) -> anyhow::Result<Option<String>> {
    while !delta.pending_evidence.is_empty() {
        let mut bytes = 0;
        let n = delta
            .pending_evidence
            .iter()
            .take_while(|e| {
                bytes += e.excerpt.len() + e.source.len() + 128;
                bytes <= UPLOAD_CHUNK_BYTES
            })
            .count()
            .max(1);
        match client
            .upload_evidence(node_key, &delta.pending_evidence[..n])
            .await
        {
            Ok(()) => tracing::info!(items = n, "missing evidence uploaded"),
            Err((true, reason)) => {
                tracing::error!(items = n, reason = %reason, "collector refused the missing evidence; it is not sent again")
            }
            Err((false, reason)) => return Ok(Some(reason)),
        }
        delta.pending_evidence.drain(..n);
        delta.save()?;
    }
    Ok(None)
}

/// Run checks and spool the report, announcing the losses the spool has not announced yet.
async fn produce(cfg: &AgentConfig, opts: &RunOptions<'_>, spool: &Spool) -> anyhow::Result<()> {
    let cfg2 = cfg.clone();
    let root = opts.target.root.map(Path::to_path_buf);
    let state_dir = opts.state_dir.clone();
    let interval = opts.interval.as_secs();
    let mut report = tokio::task::spawn_blocking(move || {
        let target = Target {
            root: root.as_deref(),
            state_dir: Some(&state_dir),
        };
        checks_run::run_once(&cfg2, &target, None)
    })
    .await
    .context("check run panicked")??;
    report.interval_seconds = Some(interval);
    let pushed = spool.push(|lost| {
        report.lost_reports = lost;
        Ok(serde_json::to_vec(&report)?)
    })?;
    tracing::info!(report_id = %report.report_id, results = report.results.len(), lost = pushed.carried, "report spooled");
    Ok(())
}

/// The daemon (or a single pass with `once`).
pub async fn run(cfg: &AgentConfig, opts: RunOptions<'_>) -> anyhow::Result<OnceOutcome> {
    let paths = StatePaths::new(&opts.state_dir);
    files::private_dir(&opts.state_dir, "state directory")?;
    files::tighten_tree(&opts.state_dir)?;
    let node_key = read_node_key(&paths)?;
    let client = client_for(cfg, &paths)?;
    let spool = Spool::open(&paths.spool, cfg.spool_limits())?;
    let mut delta = DeltaState::load(&paths.spool);
    let full_every = cfg.full_report_every();
    tracing::info!(
        spooled = spool.len()?,
        pending_lost = spool.pending_lost()?,
        "spool opened"
    );

    if opts.once {
        // The backlog goes first: a collector that is back must not cost the spool a report
        // dropped to make room for this run's.
        let mut postponed = flush(&spool, &client, &node_key, &mut delta, full_every).await?;
        produce(cfg, &opts, &spool).await?;
        if postponed.is_none() {
            postponed = flush(&spool, &client, &node_key, &mut delta, full_every).await?;
        }
        if let Some(reason) = postponed {
            tracing::warn!(reason = %reason, spooled = spool.len()?, "delivery postponed; reports stay spooled");
        }
        let left = spool.len()?;
        return Ok(if left == 0 {
            OnceOutcome::AllDelivered
        } else {
            OnceOutcome::Pending(left)
        });
    }

    let mut next_run = Instant::now() + random_below(opts.jitter.min(Duration::from_secs(5)));
    let mut backoff = MIN_BACKOFF;
    let mut next_flush = Instant::now();
    let mut term = Termination::listen()?;
    tracing::info!(interval_s = opts.interval.as_secs(), "agent running");
    loop {
        let now = Instant::now();
        if now >= next_run {
            if let Err(e) = produce(cfg, &opts, &spool).await {
                tracing::error!(error = %format!("{e:#}"), "check run failed");
            }
            next_run = Instant::now() + opts.interval + random_below(opts.jitter);
            next_flush = Instant::now();
        }
        if Instant::now() >= next_flush {
            match flush(&spool, &client, &node_key, &mut delta, full_every).await {
                Ok(None) => {
                    backoff = MIN_BACKOFF;
                    next_flush = next_run;
                }
                Ok(Some(reason)) => {
                    let wait = backoff + random_below(backoff / 4);
                    tracing::warn!(reason = %reason, retry_in_s = wait.as_secs(), spooled = spool.len().unwrap_or(0), "delivery postponed");
                    next_flush = Instant::now() + wait;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "spool error");
                    next_flush = Instant::now() + MAX_BACKOFF;
                }
            }
        }
        let wake = next_run.min(next_flush);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = term.recv() => { tracing::info!(signal = Termination::NAME, "stopping"); break; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted: stopping"); break; }
        }
    }
    let left = spool.len()?;
    if left > 0 {
        tracing::info!(spooled = left, "reports stay spooled until the next start");
    }
    Ok(OnceOutcome::Stopped)
}
