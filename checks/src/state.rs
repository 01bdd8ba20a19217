//! The agent's state directory, as the checks see it: small named documents that survive runs
//! (today: when each pending update was first seen).
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Persistent key → document storage for checks.
pub trait StateStore: Send + Sync {
    /// The document stored under `key`, if any.
    fn load(&self, key: &str) -> Result<Option<String>, String>;
    /// Replace the document under `key` (atomically: a crash leaves the old or the new one).
    fn save(&self, key: &str, value: &str) -> Result<(), String>;
}

/// State kept as files in a directory: `<dir>/<key>.json`.
///
/// `read_dir` and `write_dir` differ when the agent runs against a fixture host without an explicit
/// state directory: the fixture's recorded state is read, and nothing is written back into it.
#[derive(Debug, Clone)]
pub struct DirState {
    read_dir: PathBuf,
    write_dir: Option<PathBuf>,
}

impl DirState {
    /// State read from and written to `dir`.
    pub fn new(dir: &Path) -> DirState {
        DirState {
            read_dir: dir.to_path_buf(),
            write_dir: Some(dir.to_path_buf()),
        }
    }

    /// State read from `dir`, with writes discarded.
    pub fn read_only(dir: &Path) -> DirState {
        DirState {
            read_dir: dir.to_path_buf(),
            write_dir: None,
        }
    }

    /// Fail early when the state directory cannot be created or written.
    pub fn ensure_writable(&self) -> Result<(), String> {
        let Some(dir) = &self.write_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("state directory {}: cannot create: {e}", dir.display()))?;
        let probe = dir.join(".write-test");
        std::fs::write(&probe, b"")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| format!("state directory {}: not writable: {e}", dir.display()))
    }

    fn file(dir: &Path, key: &str) -> PathBuf {
        dir.join(format!("{key}.json"))
    }
}

impl StateStore for DirState {
    fn load(&self, key: &str) -> Result<Option<String>, String> {
        let path = DirState::file(&self.read_dir, key);
        match std::fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("state file {}: {e}", path.display())),
        }
    }

    fn save(&self, key: &str, value: &str) -> Result<(), String> {
        let Some(dir) = &self.write_dir else {
            return Ok(());
        };
        let path = DirState::file(dir, key);
        let tmp = dir.join(format!(".{key}.json.tmp"));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(value.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| format!("state file {}: cannot write: {e}", path.display()))
    }
}

/// In-memory state, for tests and one-shot runs.
#[derive(Debug, Default)]
pub struct MemoryState {
    docs: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl StateStore for MemoryState {
    fn load(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.docs.lock().map_err(|e| e.to_string())?.get(key).cloned())
    }
    fn save(&self, key: &str, value: &str) -> Result<(), String> {
        self.docs
            .lock()
            .map_err(|e| e.to_string())?
            .insert(key.to_string(), value.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_state_round_trips_and_read_only_discards_writes() {
        let d = tempfile::tempdir().unwrap();
        let s = DirState::new(d.path());
        s.ensure_writable().unwrap();
        assert_eq!(s.load("k").unwrap(), None);
        s.save("k", "{\"a\":1}").unwrap();
        assert_eq!(s.load("k").unwrap().as_deref(), Some("{\"a\":1}"));
        let ro = DirState::read_only(d.path());
        ro.save("k", "other").unwrap();
        assert_eq!(ro.load("k").unwrap().as_deref(), Some("{\"a\":1}"));
    }

    #[test]
    fn unwritable_state_dir_is_a_precise_error() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("plainfile");
        std::fs::write(&file, "").unwrap();
        let s = DirState::new(&file.join("sub"));
        let err = s.ensure_writable().unwrap_err();
        assert!(err.contains("plainfile/sub"), "{err}");
    }
}
