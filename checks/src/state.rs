//! The agent's state directory, as the checks see it: small named documents that survive runs
//! (today: when each pending update was first seen). On Unix the directory is created mode 0700 and
//! its documents 0600, whatever the umask; on Windows, which has no modes, they inherit the ACL of the
//! state directory (`C:\ProgramData\Vigie\state`, see `docs/platforms.md`).
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// Create `dir` (and missing parents) mode 0700 whatever the umask (`DirBuilder`'s mode is only
/// ever narrowed by the umask). An existing directory keeps its mode: it may be shared.
#[cfg(unix)]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Create `dir` (and missing parents). Windows has no modes: the directory inherits its parent's ACL
/// (under `%ProgramData%`, only SYSTEM and Administrators may write).
#[cfg(not(unix))]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).create(dir)
}

/// Create (or truncate) a file mode 0600 whatever the umask.
#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Create (or truncate) a file; on Windows it inherits the state directory's ACL.
#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

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
        create_private_dir(dir)
            .map_err(|e| format!("state directory {}: cannot create: {e}", dir.display()))?;
        let probe = dir.join(".write-test");
        create_private_file(&probe)
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
            create_private_dir(dir)?;
            let mut f = create_private_file(&tmp)?;
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
        Ok(self
            .docs
            .lock()
            .map_err(|e| e.to_string())?
            .get(key)
            .cloned())
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

    #[cfg(unix)]
    #[test]
    fn state_dir_and_documents_are_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("a/state");
        let s = DirState::new(&dir);
        s.ensure_writable().unwrap();
        s.save("k", "{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("k.json")), 0o600);
        // (Whatever the umask: tests/e2e/secrets.rs runs the agent under umask 000.)
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
