//! The scheduled syncs inside `serve`: every `identity.sync_interval_hours`, each source in turn.

use std::sync::Arc;
use std::time::Duration;

use super::config::IdentitySection;
use super::sync::sync_source;
use crate::store::Store;

/// Run every source now, then every `sync_interval_hours`, until the task is aborted. Nothing to do
/// without sources.
pub fn spawn(
    store: Arc<Store>,
    cfg: IdentitySection,
    targets: Vec<crate::risk::config::WebhookTarget>,
) -> Option<tokio::task::JoinHandle<()>> {
    if cfg.source.is_empty() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.sync_interval_hours * 3600));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for i in 0..cfg.source.len() {
                // Failures are recorded in the store and logged by `sync_source`.
                let _ = sync_source(&store, &cfg, &targets, i, crate::store::now_unix()).await;
            }
        }
    }))
}

/// The scheduler's task and store, for [`stop`].
pub type Running = Option<(tokio::task::JoinHandle<()>, Arc<Store>)>;

/// Open a store handle and start the scheduler on `rt` (nothing without sources).
pub fn open_and_spawn(
    rt: &tokio::runtime::Runtime,
    cfg: &crate::config::CollectorConfig,
) -> Result<Running, crate::store::StoreError> {
    if cfg.identity.source.is_empty() {
        return Ok(None);
    }
    let store = Arc::new(Store::open_with(
        &cfg.database_path(),
        cfg.storage.max_batch,
        cfg.storage.synchronous,
    )?);
    let _guard = rt.enter();
    Ok(spawn(
        store.clone(),
        cfg.identity.clone(),
        cfg.webhooks.targets.clone(),
    )
    .map(|h| (h, store)))
}

/// Abort the scheduler and close its store handle.
pub fn stop(rt: &tokio::runtime::Runtime, running: Running) {
    if let Some((h, store)) = running {
        h.abort();
        let _ = rt.block_on(h);
        if let Ok(store) = Arc::try_unwrap(store) {
            store.shutdown();
        }
    }
}
