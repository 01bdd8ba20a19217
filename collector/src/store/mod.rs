//! The store: everything the collector keeps, in one SQLite file (WAL mode).
//!
//! All SQL lives under this module. One writer thread owns the only write connection and applies
//! batches of operations in one transaction each (one savepoint per operation, so one failing
//! operation does not sink its neighbours); callers are answered only after the commit. Readers use
//! their own connections from a small pool and never block the writer (WAL).
//!
//! - `migrations` — schema versions.
//! - `writer` — the batching writer.
//! - `ingest` — applying a report: dedup, current state, transitions, daily roll-up, evidence.
//! - `hosts` — enrolment and the read side of hosts, states and history.
//! - `cis` — per-check host tallies for CIS scoring; read-only opening for CLI reports.
//! - `registers` — incidents, roster and training completions.
//! - `kpi_snapshots` — the daily KPI snapshots (CIS scores included, `cis.*`).
//! - `risks`, `actions`, `exceptions`, `webhooks` — risk register, improvement plan, exceptions and
//!   the notification outbox.
//! - `report` — the monthly report's queries (last snapshot per month, fleet size).
//! - `synthetic` — a generated store for benchmarks.
//! - `evidence_export` — streamed reads of every section of an audit evidence bundle.

pub mod actions;
pub mod cis;
pub mod evidence_export;
pub mod exceptions;
pub mod feed_tokens;
pub mod fleet;
pub mod fleet_cache;
pub mod hosts;
pub mod identities;
pub mod ingest;
pub mod kpi_snapshots;
pub mod migrations;
pub mod registers;
pub mod report;
pub mod risks;
pub mod synthetic;
pub mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

pub use writer::WriterStats;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database {path}: {message}")]
    Open { path: String, message: String },
    #[error("the store is shutting down")]
    Closed,
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("{0}")]
    Invalid(String),
}

/// Handle to the database: the writer queue plus a pool of read connections.
pub struct Store {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    writer: writer::Writer,
    fleet: std::sync::Arc<fleet_cache::FleetCache>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) the database at `path`, migrate it, and start the writer.
    pub fn open(path: &Path, max_batch: usize) -> Result<Store, StoreError> {
        Store::open_with(path, max_batch, crate::config::Synchronous::Full)
    }

    /// Open with an explicit commit durability (see `storage.synchronous`).
    pub fn open_with(
        path: &Path,
        max_batch: usize,
        synchronous: crate::config::Synchronous,
    ) -> Result<Store, StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)
                .map_err(|e| open_err(format!("cannot create directory: {e}")))?;
        }
        create_private_file(path).map_err(|e| open_err(format!("cannot create: {e}")))?;
        let mut conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(|e| open_err(e.to_string()))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(format!("cannot switch to WAL mode (got {mode})")));
        }
        // FULL by default: an acknowledged report survives a power cut, not only a crash.
        conn.pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(|e| open_err(e.to_string()))?;
        // The writer's working set (hosts, current state, dedup index) should stay in memory, and
        // savepoint journals should not spill to temporary files.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(|e| open_err(e.to_string()))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(|e| open_err(e.to_string()))?;
        configure(&conn).map_err(|e| open_err(e.to_string()))?;
        migrations::migrate(&mut conn).map_err(open_err)?;
        let fleet = std::sync::Arc::new(fleet_cache::FleetCache::new(path));
        let writer = writer::Writer::spawn(conn, max_batch, fleet.clone());
        Ok(Store {
            path: path.to_path_buf(),
            readers: Mutex::new(Vec::new()),
            writer,
            fleet,
        })
    }

    /// Run `op` in the writer's next batch; resolves after the batch is committed.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.writer.submit(op).await
    }

    /// Run `op` on a read connection (blocking: call from `spawn_blocking` in async code).
    pub fn read<T>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.lock().ok().and_then(|mut p| p.pop());
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                configure(&c)?;
                c
            }
        };
        let result = op(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 8 {
                pool.push(conn);
            }
        }
        result
    }

    /// Counters of the writer (batches, operations).
    /// Bring the fleet copy up to date, then run `f` over it at `st.now` with the exceptions in
    /// force then (blocking).
    pub fn with_fleet<R>(
        &self,
        st: &hosts::Staleness,
        f: impl FnOnce(&fleet_cache::View) -> R,
    ) -> Result<R, StoreError> {
        let rule = self.read(|c| {
            self.fleet.sync(c)?;
            exceptions::InForce::load(c, st.now)
        })?;
        self.fleet.view(st, &rule, f)
    }

    /// The fleet KPIs at `st.now` from the fleet copy (see [`fleet_cache::FleetCache::fleet_kpis`]).
    pub fn fleet_kpis(
        &self,
        st: &hosts::Staleness,
        cfg: &crate::config::KpiSection,
    ) -> Result<Vec<crate::kpi::Kpi>, StoreError> {
        let active = self.read(|c| {
            self.fleet.sync(c)?;
            exceptions::active(c, st.now)
        })?;
        let key = active.iter().map(|e| (e.id, e.updated_at)).collect();
        let rule = exceptions::InForce::from_list(&active, st.now);
        self.fleet.fleet_kpis(st, &rule, key, cfg)
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.writer.stats()
    }

    /// Stop accepting writes, commit what is queued, and wait for the writer to finish.
    pub fn shutdown(self) {
        self.writer.shutdown();
    }
}

/// Create `dir` (and missing parents) mode 0700 whatever the umask: the data directory holds
/// evidence, the signing key and uploaded registers. An existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Create the database file mode 0600 (whatever the umask) if it does not exist yet; SQLite gives
/// its `-wal` and `-shm` files the database file's mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
