//! The single writer: a thread that owns the write connection and commits operations in batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation: runs inside a savepoint, says whether it succeeded, and returns how to answer
/// its caller once the batch's fate is known.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

/// Counters exposed as metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    pub batches: u64,
    pub operations: u64,
    pub failed_commits: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    operations: AtomicU64,
    failed_commits: AtomicU64,
}

pub(super) struct Writer {
    sender: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    pub(super) fn spawn(
        mut conn: Connection,
        max_batch: usize,
        fleet: Arc<super::fleet_cache::FleetCache>,
    ) -> Writer {
        let (sender, mut rx) = mpsc::channel::<Job>(max_batch * 4);
        // Note the hosts each batch changes, for the fleet copy (temporary triggers: nothing is
        // stored in the database file). Without them every sync reads everything.
        let tracked = match conn.execute_batch(super::fleet_cache::TRIGGERS_SQL) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "fleet change triggers unavailable; fleet figures re-read in full");
                false
            }
        };
        let counters = Arc::new(Counters::default());
        // The fleet copy may ask for an empty batch (see `FleetCache::foreign_commit`); a weak
        // sender, so it never keeps the writer alive at shutdown.
        let weak = sender.downgrade();
        if let Ok(mut p) = fleet.poke.lock() {
            *p = Some(Box::new(move || {
                if let Some(s) = weak.upgrade() {
                    let job: Job = Box::new(|_c: &Connection| {
                        let finish: Finish = Box::new(|_| {});
                        (true, finish)
                    });
                    let _ = s.try_send(job);
                }
            }));
        }
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("vigie-store-writer".into())
            .spawn(move || {
                let data_version = std::cell::Cell::new(
                    conn.pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0))
                        .ok(),
                );
                while let Some(first) = rx.blocking_recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let n = batch.len() as u64;
                    // The fleet copy learns of the batch's changes before any caller is
                    // answered, so a read after an acknowledged write sees it.
                    let note_changes = |conn: &Connection, committed: bool| {
                        if committed {
                            fleet.commits.fetch_add(1, Ordering::SeqCst);
                        }
                        // Another process committed to the file (this connection's
                        // `data_version` moves only then): the copy is re-read in full.
                        let version: Option<i64> = conn
                            .pragma_query_value(None, "data_version", |r| r.get(0))
                            .ok();
                        let foreign = version.is_none() || version != data_version.get();
                        data_version.set(version);
                        if tracked {
                            super::fleet_cache::drain(conn, &fleet.changes);
                        }
                        if foreign || !tracked {
                            if let Ok(mut c) = fleet.changes.lock() {
                                c.everything = true;
                            }
                        }
                    };
                    let outcome = run_batch(&mut conn, batch, &note_changes);
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    c.operations.fetch_add(n, Ordering::Relaxed);
                    if !outcome {
                        c.failed_commits.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // Channel closed: everything queued has been committed. Fold the WAL back.
                let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
            })
            .expect("spawn writer thread");
        Writer {
            sender: Some(sender),
            thread: Some(thread),
            counters,
        }
    }

    pub(super) async fn submit<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = op(conn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |commit: Result<(), String>| {
                let answer = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Commit(e)),
                };
                let _ = tx.send(answer);
            });
            (ok, finish)
        });
        let sender = self.sender.as_ref().ok_or(StoreError::Closed)?;
        sender.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    pub(super) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            operations: self.counters.operations.load(Ordering::Relaxed),
            failed_commits: self.counters.failed_commits.load(Ordering::Relaxed),
        }
    }

    pub(super) fn shutdown(mut self) {
        self.sender.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Apply a batch in one transaction, one savepoint per job, then run `after_commit` (whatever the
/// commit's fate) before answering the callers. Returns whether the commit succeeded.
fn run_batch(
    conn: &mut Connection,
    batch: Vec<Job>,
    after_commit: &dyn Fn(&Connection, bool),
) -> bool {
    let mut finishers = Vec::with_capacity(batch.len());
    let tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            for job in batch {
                // Cannot even begin: answer every caller with the error without running its op.
                let (_, finish) = job(&fail_conn());
                finish(Err(msg.clone()));
            }
            return false;
        }
    };
    let mut tx = tx;
    for job in batch {
        match tx.savepoint() {
            Ok(mut sp) => {
                // A panicking operation must not take the writer (and every later write) down:
                // its savepoint is rolled back and its caller's channel is dropped (it sees
                // `Closed`), the rest of the batch goes on.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&sp)));
                match outcome {
                    Ok((true, finish)) => match sp.commit() {
                        Ok(()) => finishers.push(finish),
                        Err(e) => finish(Err(format!("savepoint release failed: {e}"))),
                    },
                    Ok((false, finish)) => {
                        let _ = sp.rollback();
                        finishers.push(finish);
                    }
                    Err(_) => {
                        tracing::error!("a store operation panicked; it was rolled back");
                        let _ = sp.rollback();
                    }
                }
            }
            Err(e) => {
                let (_, finish) = job(&fail_conn());
                let msg = e.to_string();
                finish(Err(msg));
            }
        }
    }
    let result = tx.commit().map_err(|e| e.to_string());
    if let Err(e) = &result {
        tracing::error!(error = %e, "batch commit failed");
    }
    after_commit(conn, result.is_ok());
    let ok = result.is_ok();
    for f in finishers {
        f(result.clone());
    }
    ok
}

/// A connection on which every statement fails, so a job that cannot get a savepoint still
/// produces its answer (an error) through the normal path.
fn fail_conn() -> Connection {
    let c = Connection::open_in_memory().expect("in-memory sqlite");
    let _ = c.execute_batch("PRAGMA query_only = ON;");
    c
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, StoreError};

    #[tokio::test]
    async fn a_panicking_operation_fails_alone_and_the_writer_keeps_going() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&d.path().join("w.db"), 8).unwrap();
        let panicked = store
            .write(|_c| -> Result<(), StoreError> { panic!("bug in an operation") })
            .await;
        assert!(panicked.is_err());
        let n = store
            .write(|c| {
                c.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')", [])?;
                Ok(
                    c.query_row("SELECT count(*) FROM meta WHERE key = 'k'", [], |r| {
                        r.get::<_, i64>(0)
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 1);
        store.shutdown();
    }
}
