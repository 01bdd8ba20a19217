//! The notification outbox: one row per (target URL, event key), so a notification is queued once
//! per target however often the scan sees its condition; delivery attempts, backoff and outcome.

use rusqlite::{params, Connection};

use super::StoreError;

/// A queued delivery.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Row id.
    pub id: i64,
    /// Where to POST.
    pub target_url: String,
    /// The event name.
    pub event: String,
    /// The JSON body.
    pub payload: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// Queue `payload` for `target_url` unless `event_key` was already queued for it. True when queued.
pub fn enqueue(
    conn: &Connection,
    target_url: &str,
    kind: &str,
    event: &str,
    event_key: &str,
    payload: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        "INSERT OR IGNORE INTO webhook_outbox(target_url, kind, event, event_key, payload,
             next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![target_url, kind, event, event_key, payload, now],
    )?;
    Ok(n == 1)
}

/// Every (target URL, event key) ever queued, to skip known notifications without writing.
pub fn known_keys(
    conn: &Connection,
) -> Result<std::collections::HashSet<(String, String)>, StoreError> {
    let mut q = conn.prepare_cached("SELECT target_url, event_key FROM webhook_outbox")?;
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deliveries due at `now`, oldest first.
pub fn due(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Pending>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT id, target_url, event, payload, attempts FROM webhook_outbox
         WHERE delivered_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?1
         ORDER BY next_attempt_at, id LIMIT ?2",
    )?;
    let rows = q.query_map(params![now, limit], |r| {
        Ok(Pending {
            id: r.get(0)?,
            target_url: r.get(1)?,
            event: r.get(2)?,
            payload: r.get(3)?,
            attempts: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The outcome of one attempt.
#[derive(Debug, Clone)]
pub enum Attempt {
    /// 2xx.
    Delivered,
    /// Failed; retry at this time.
    Retry { error: String, at: i64 },
    /// Failed for the last time.
    Dead { error: String },
}

/// Record the outcome of an attempt on row `id`.
pub fn record(conn: &Connection, id: i64, outcome: &Attempt, now: i64) -> Result<(), StoreError> {
    match outcome {
        Attempt::Delivered => conn.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = ?2, last_error = NULL
             WHERE id = ?1",
            params![id, now],
        )?,
        Attempt::Retry { error, at } => conn.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1",
            params![id, error, at],
        )?,
        Attempt::Dead { error } => conn.execute(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?2, dead_at = ?3
             WHERE id = ?1",
            params![id, error, now],
        )?,
    };
    Ok(())
}

/// Outbox rows by state (`pending`, `delivered`, `dead`).
pub fn counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT CASE WHEN delivered_at IS NOT NULL THEN 'delivered'
                     WHEN dead_at IS NOT NULL THEN 'dead' ELSE 'pending' END AS s, count(*)
         FROM webhook_outbox GROUP BY s",
    )?;
    let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
