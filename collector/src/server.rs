//! Serving: bind, TLS or (explicitly) plain HTTP, background refreshers, graceful shutdown.
//! `connection` owns the accept loop and bounds every connection in time and number.
//!
//! On SIGTERM or SIGINT the listener stops accepting, in-flight requests finish (their reports are
//! committed before they are answered), the writer drains its queue and the WAL is checkpointed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::auth::{EnrolmentGuard, NodeKeys, Tokens};
use crate::config::{CollectorConfig, Prepared};
use crate::http::{router, AppState};
use crate::metrics::Metrics;
use crate::store::Store;

mod connection;

use connection::ConnLimits;

/// Run the collector until a termination signal. `ready` is the configuration's run-time half,
/// checked by [`CollectorConfig::prepare`] before anything starts.
pub async fn serve(cfg: CollectorConfig, ready: Prepared) -> anyhow::Result<()> {
    let db = cfg.database_path();
    let store = Arc::new(
        Store::open_with(&db, cfg.storage.max_batch, cfg.storage.synchronous)
            .with_context(|| "cannot open the store")?,
    );
    tracing::info!(path = %db.display(), "store open");
    let keys = NodeKeys::load(store.read(crate::store::hosts::all_keys)?);
    if ready.enroll_secret.is_none() {
        tracing::warn!("no auth.enroll_secret configured: enrolment is disabled");
    }
    let mut metrics = Metrics::new()?;
    if cfg.metrics.per_host {
        metrics.enable_per_host()?;
    }
    let metrics = Arc::new(metrics);
    metrics.cis.configure(&cfg.cis)?;
    metrics.cis.configure_identity(&cfg.identity);
    metrics.kpi.configure(cfg.kpi.clone());
    let state = Arc::new(AppState {
        store: store.clone(),
        keys,
        tokens: Tokens::new(&cfg.auth.admin_tokens, &cfg.auth.auditor_tokens),
        enroll_secret: ready.enroll_secret,
        enrolment_guard: EnrolmentGuard::new(&cfg.auth),
        config: cfg.clone(),
        metrics: metrics.clone(),
        ready: Default::default(),
        identity_gauges: Default::default(),
    });

    let listener = std::net::TcpListener::bind(cfg.server.listen)
        .with_context(|| format!("cannot listen on {}", cfg.server.listen))?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let app = router(state.clone());
    let limits = ConnLimits::from_config(&cfg.server);

    let background = spawn_background(state.clone());
    let failures = spawn_enrolment_failure_log(state.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let shutdown = tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested: finishing in-flight requests");
        let _ = stop.send(true);
    });

    let tls = match ready.tls {
        None => {
            tracing::warn!(
                %addr,
                "SERVING PLAIN HTTP (server.insecure_http = true): node keys and reports travel unencrypted; \
                 use this only on loopback or behind a TLS-terminating proxy"
            );
            tracing::info!(%addr, scheme = "http", "listening");
            None
        }
        Some(tls) => {
            tracing::info!(%addr, scheme = "https", "listening");
            Some(tokio_rustls::TlsAcceptor::from(tls))
        }
    };
    connection::run(listener, tls, app, limits, stopped).await;
    shutdown.abort();
    failures.abort();
    background.abort();
    let _ = background.await;
    drop(state);
    match Arc::try_unwrap(store) {
        Ok(store) => {
            store.shutdown();
            tracing::info!("store closed cleanly");
        }
        Err(_) => {
            tracing::warn!("store still referenced at shutdown; queued writes were committed")
        }
    }
    Ok(())
}

/// One log line per window summing up failed enrolments per source address.
fn spawn_enrolment_failure_log(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let secs = state.config.auth.enroll_failure_summary_seconds;
        let mut tick = tokio::time::interval(Duration::from_secs(secs));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Some(window) = state.enrolment_guard.take_window(std::time::Instant::now()) {
                crate::auth::log_enrolment_failures(&window, secs);
            }
        }
    })
}

/// Metrics refresh, dedup-window pruning and the daily KPI snapshot.
fn spawn_background(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = Duration::from_secs(state.config.metrics.refresh_seconds);
        let mut tick = tokio::time::interval(every);
        let mut last_prune = 0i64;
        let mut snapshot_day = None;
        let _webhooks =
            crate::risk::webhooks::spawn(state.store.clone(), state.config.webhooks.clone());
        loop {
            tick.tick().await;
            crate::risk::background::tick(&state.store, &state.config, state.staleness()).await;
            let s = state.clone();
            let st = state.staleness();
            let r = tokio::task::spawn_blocking(move || s.metrics.refresh(&s.store, &st)).await;
            if let Ok(Err(e)) = r {
                tracing::warn!(error = %e, "metrics refresh failed");
            }
            let now = crate::store::now_unix();
            if now - last_prune >= 3600 {
                last_prune = now;
                match prune(&state, now).await {
                    Ok((ids, ev)) => tracing::info!(report_ids = ids, evidence = ev, "pruned"),
                    Err(e) => tracing::warn!(error = %e, "prune failed"),
                }
            }
            let today = chrono::Utc::now();
            if snapshot_day != Some(today.date_naive()) {
                let (store, cfg) = (state.store.clone(), state.config.clone());
                match crate::kpi::evaluation::snapshot_if_missing(store, cfg, today).await {
                    Ok(taken) => {
                        snapshot_day = Some(today.date_naive());
                        if taken {
                            tracing::info!(day = %today.date_naive(), "KPI snapshot stored");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "KPI snapshot failed"),
                }
            }
        }
    })
}

/// Forget old report ids and dead evidence in small write batches, so ingest never waits behind
/// a long clean-up; the scan for dead evidence runs on a read connection.
async fn prune(
    state: &Arc<AppState>,
    now: i64,
) -> Result<(usize, usize), crate::store::StoreError> {
    const BATCH: i64 = 2_000;
    let keep = i64::from(state.config.storage.dedup_days) * 86_400;
    let mut ids = 0;
    loop {
        let n = state
            .store
            .write(move |c| crate::store::ingest::prune_report_ids(c, now - keep, BATCH))
            .await?;
        ids += n;
        if (n as i64) < BATCH {
            break;
        }
    }
    let s = state.clone();
    let dead = tokio::task::spawn_blocking(move || {
        s.store
            .read(|c| crate::store::ingest::dead_evidence(c, now))
    })
    .await
    .map_err(|e| crate::store::StoreError::Invalid(e.to_string()))??;
    let mut evidence = 0;
    for chunk in dead.chunks(BATCH as usize) {
        let chunk = chunk.to_vec();
        evidence += state
            .store
            .write(move |c| crate::store::ingest::delete_evidence(c, &chunk, now))
            .await?;
    }
    Ok((ids, evidence))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
