//! Measuring the collector's database from outside: file sizes (main file and WAL), a checkpoint so
//! the main file holds everything, and the bytes each table (with its indexes) occupies
//! (SQLite's `dbstat` table, compiled into the bundled SQLite).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags};

/// Sizes of the database at one moment.
#[derive(Debug, Clone, Default)]
pub struct DbSnapshot {
    /// `vigie.db` + `vigie.db-wal` before the checkpoint, in bytes.
    pub raw_bytes: u64,
    /// `vigie.db` after `wal_checkpoint(TRUNCATE)` (the WAL is then empty).
    pub checkpointed_bytes: u64,
    /// Bytes of pages per table, its indexes included.
    pub tables: BTreeMap<String, u64>,
    /// Rows per table.
    pub rows: BTreeMap<String, u64>,
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

/// Measure `db` (the collector must be idle: the checkpoint needs a moment without writers).
pub fn snapshot(db: &Path) -> anyhow::Result<DbSnapshot> {
    let raw_bytes = file_len(db) + file_len(&wal_path(db));
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .with_context(|| format!("cannot open {}", db.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .with_context(|| format!("{}: checkpoint failed", db.display()))?;
    if busy != 0 {
        eprintln!(
            "note: checkpoint of {} was busy; sizes include the WAL",
            db.display()
        );
    }
    let checkpointed_bytes = file_len(db) + file_len(&wal_path(db));
    let mut tables = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name
         GROUP BY m.tbl_name",
    )?;
    let it = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in it {
        let (name, bytes) = row?;
        tables.insert(name, bytes.max(0) as u64);
    }
    let mut rows = BTreeMap::new();
    for name in tables.keys() {
        // Names come from sqlite_master, not from outside input.
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| {
            r.get(0)
        })?;
        rows.insert(name.clone(), n.max(0) as u64);
    }
    Ok(DbSnapshot {
        raw_bytes,
        checkpointed_bytes,
        tables,
        rows,
    })
}

impl DbSnapshot {
    /// Bytes of `table` (0 if absent).
    pub fn table(&self, table: &str) -> u64 {
        self.tables.get(table).copied().unwrap_or(0)
    }

    /// Rows of `table` (0 if absent).
    pub fn row_count(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }
}
