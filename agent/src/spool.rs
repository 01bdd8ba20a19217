//! The on-disk spool: reports waiting for the collector.
//!
//! One file per report, `<seq>.json` with a zero-padded sequence number so names sort in creation
//! order; each is written to a temporary file, fsync'd and renamed, and the directory fsync'd, so a
//! crash leaves either the whole report or nothing. The spool is bounded by count and bytes: beyond
//! either, the oldest reports are dropped and counted in `lost`, which the next report carries to
//! the collector. Reports the collector refused as invalid move to `rejected/` for a person to read.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// A bounded directory of pending reports.
pub struct Spool {
    dir: PathBuf,
    max_reports: usize,
    max_bytes: u64,
}

/// A spooled report.
pub struct Entry {
    pub path: PathBuf,
    pub body: Vec<u8>,
}

impl Spool {
    /// Open (creating) the spool in `dir`.
    pub fn open(dir: &Path, max_reports: usize, max_bytes: u64) -> anyhow::Result<Spool> {
        fs::create_dir_all(dir)
            .with_context(|| format!("spool directory {}: cannot create", dir.display()))?;
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_reports,
            max_bytes,
        })
    }

    fn entries(&self) -> anyhow::Result<Vec<(PathBuf, u64)>> {
        let mut v = Vec::new();
        for e in fs::read_dir(&self.dir)
            .with_context(|| format!("spool directory {}: cannot list", self.dir.display()))?
        {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') {
                v.push((e.path(), e.metadata()?.len()));
            }
        }
        v.sort();
        Ok(v)
    }

    /// Number of reports waiting.
    pub fn len(&self) -> anyhow::Result<usize> {
        Ok(self.entries()?.len())
    }

    /// Reports dropped by overflow and not yet announced to the collector.
    pub fn lost(&self) -> u64 {
        fs::read_to_string(self.dir.join("lost"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn write_atomic(&self, name: &str, body: &[u8]) -> anyhow::Result<PathBuf> {
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let dst = self.dir.join(name);
        let mut f =
            File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(body)?;
        f.sync_all()?;
        fs::rename(&tmp, &dst)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(dst)
    }

    /// Append a report; the lost counter is reset because `body` already announces it. Returns how
    /// many old reports were dropped to make room.
    pub fn push(&self, body: &[u8]) -> anyhow::Result<u64> {
        let entries = self.entries()?;
        // The highest numbered report + 1; a foreign file name never resets the sequence.
        let next = entries
            .iter()
            .filter_map(|(p, _)| p.file_stem()?.to_str()?.parse::<u64>().ok())
            .max()
            .map_or(1, |n| n + 1);
        self.write_atomic(&format!("{next:020}.json"), body)?;
        self.write_atomic("lost", b"0")?;
        // Enforce bounds, oldest first, never dropping the report just written.
        let mut entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|(_, n)| n).sum();
        let mut dropped = 0;
        while entries.len() > 1 && (entries.len() > self.max_reports || total > self.max_bytes) {
            let (p, n) = entries.remove(0);
            fs::remove_file(&p).with_context(|| format!("cannot drop {}", p.display()))?;
            total -= n;
            dropped += 1;
        }
        if dropped > 0 {
            self.write_atomic("lost", dropped.to_string().as_bytes())?;
            tracing::warn!(dropped, "spool full: oldest reports dropped");
        }
        Ok(dropped)
    }

    /// The oldest waiting report.
    pub fn oldest(&self) -> anyhow::Result<Option<Entry>> {
        let Some((path, _)) = self.entries()?.into_iter().next() else {
            return Ok(None);
        };
        let body = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Some(Entry { path, body }))
    }

    /// Forget a delivered report.
    pub fn remove(&self, e: &Entry) -> anyhow::Result<()> {
        fs::remove_file(&e.path).with_context(|| format!("cannot remove {}", e.path.display()))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Move a refused report aside (kept for inspection, never resent).
    pub fn reject(&self, e: &Entry) -> anyhow::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        fs::create_dir_all(&dir)?;
        let dst = dir.join(e.path.file_name().unwrap_or_default());
        fs::rename(&e.path, &dst)?;
        Ok(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_drops_oldest_on_overflow() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 3, 1 << 20).unwrap();
        for i in 1..=3 {
            assert_eq!(s.push(format!("r{i}").as_bytes()).unwrap(), 0);
        }
        assert_eq!(s.push(b"r4").unwrap(), 1);
        assert_eq!(s.lost(), 1);
        let first = s.oldest().unwrap().unwrap();
        assert_eq!(first.body, b"r2");
        s.remove(&first).unwrap();
        assert_eq!(s.oldest().unwrap().unwrap().body, b"r3");
        assert_eq!(s.len().unwrap(), 2);
        // The next push announces the loss in its body, so the counter resets.
        s.push(b"r5 (lost_reports=1)").unwrap();
        assert_eq!(s.lost(), 0);
    }

    #[test]
    fn byte_bound_drops_oldest_but_never_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 100, 10).unwrap();
        s.push(b"123456").unwrap();
        assert_eq!(s.push(b"abcdef").unwrap(), 1);
        assert_eq!(
            s.push(&[b'x'; 50]).unwrap(),
            1,
            "oversized newest report is kept alone"
        );
        assert_eq!(s.len().unwrap(), 1);
    }

    #[test]
    fn a_foreign_file_never_resets_the_sequence() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 10, 1 << 20).unwrap();
        s.push(b"r1").unwrap();
        std::fs::write(d.path().join("zz-notes.json"), b"x").unwrap();
        s.push(b"r2").unwrap();
        assert!(d.path().join(format!("{:020}.json", 2)).exists());
        assert_eq!(
            std::fs::read(d.path().join(format!("{:020}.json", 1))).unwrap(),
            b"r1"
        );
    }

    #[test]
    fn rejected_reports_move_aside() {
        let d = tempfile::tempdir().unwrap();
        let s = Spool::open(d.path(), 10, 1 << 20).unwrap();
        s.push(b"bad").unwrap();
        let e = s.oldest().unwrap().unwrap();
        let dst = s.reject(&e).unwrap();
        assert!(dst.starts_with(d.path().join("rejected")));
        assert!(s.oldest().unwrap().is_none());
    }
}
