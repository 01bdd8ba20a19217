//! Files the agent writes in its state directory: private modes whatever the umask, atomic
//! replacement, and directory fsyncs so that a rename or a removal survives a power cut.
//!
//! Everything the agent keeps (node key, enrolment nonce, spooled reports, the lost-report counter)
//! may carry secrets or host details, so files are created 0600 and directories 0700 explicitly —
//! the mode is passed to `open(2)`/`mkdir(2)` and then set again, so a umask of 000 cannot widen it.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::Context as _;

/// Mode of every file the agent writes.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the agent creates.
pub const DIR_MODE: u32 = 0o700;

/// Create `dir` (and missing parents) mode 0700, and tighten it to 0700 if it already existed wider.
pub fn private_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder
        .create(dir)
        .with_context(|| format!("{what} {}: cannot create", dir.display()))?;
    tighten(dir, DIR_MODE).with_context(|| format!("{what} {}", dir.display()))
}

/// On Windows, which has no mode bits: replace the ACL of `path` with one that lets only SYSTEM and
/// Administrators in (a protected DACL, see `acl`); `max_mode` tells a directory from a file.
#[cfg(windows)]
pub fn tighten(path: &Path, max_mode: u32) -> anyhow::Result<()> {
    crate::acl::restrict(path, max_mode == DIR_MODE)
}

/// Elsewhere (neither Unix nor Windows) nothing is set.
#[cfg(not(any(unix, windows)))]
pub fn tighten(_path: &Path, _max_mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// Remove group and other permissions from `path` (keeping the owner's), when it has any.
#[cfg(unix)]
pub fn tighten(path: &Path, max_mode: u32) -> anyhow::Result<()> {
    let meta = fs::metadata(path)
        .with_context(|| format!("cannot read the mode of {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !max_mode != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & max_mode))
            .with_context(|| format!("cannot restrict the mode of {}", path.display()))?;
        tracing::info!(path = %path.display(), from = format!("{mode:o}"), to = format!("{:o}", mode & max_mode), "file mode tightened");
    }
    Ok(())
}

/// Tighten every file (0600) and directory (0700) in `dir` and below: state an older agent or an
/// operator left readable by others.
pub fn tighten_tree(dir: &Path) -> anyhow::Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let e = e.with_context(|| format!("cannot list {}", dir.display()))?;
        let kind = e
            .file_type()
            .with_context(|| format!("cannot stat {}", e.path().display()))?;
        if kind.is_dir() {
            tighten(&e.path(), DIR_MODE)?;
            tighten_tree(&e.path())?;
        } else if kind.is_file() {
            tighten(&e.path(), FILE_MODE)?;
        }
    }
    Ok(())
}

/// fsync a directory, making the creations, renames and removals inside it durable.
pub fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync directory {}", dir.display()))
}

/// `OpenOptions` that create a file 0600 on Unix (the mode is given to `open(2)`, so the umask can
/// only narrow it); elsewhere the file inherits its directory's ACL.
pub fn private_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    o.mode(FILE_MODE);
    o
}

/// Write `body` to `dst` atomically: a private temporary file in the same directory, fsync'd,
/// renamed over `dst`, then the directory fsync'd. A crash leaves the old or the new content.
pub fn write_private_atomic(dst: &Path, body: &[u8]) -> anyhow::Result<()> {
    let dir = dst
        .parent()
        .with_context(|| format!("{} has no parent directory", dst.display()))?;
    let name = dst
        .file_name()
        .with_context(|| format!("{} has no file name", dst.display()))?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // A temporary file left by a crash under an older agent may have been created wider.
    #[cfg(unix)]
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .with_context(|| format!("cannot restrict the mode of {}", tmp.display()))?;
    f.write_all(body)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    fs::rename(&tmp, dst)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), dst.display()))?;
    sync_dir(dir)
}

/// Remove `path` if it exists and fsync its directory.
pub fn remove_durably(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn created_private_and_tightened_when_wider() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("a/b");
        private_dir(&sub, "test dir").unwrap();
        assert_eq!(mode(&sub), 0o700);
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&sub, "test dir").unwrap();
        assert_eq!(mode(&sub), 0o700);

        let f = sub.join("f");
        write_private_atomic(&f, b"one").unwrap();
        assert_eq!(mode(&f), 0o600);
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        write_private_atomic(&f, b"two").unwrap();
        assert_eq!(mode(&f), 0o600);
        assert_eq!(fs::read(&f).unwrap(), b"two");
        // A stale, world-readable temporary file does not widen the result.
        fs::write(sub.join(".g.tmp"), b"old").unwrap();
        fs::set_permissions(sub.join(".g.tmp"), fs::Permissions::from_mode(0o666)).unwrap();
        write_private_atomic(&sub.join("g"), b"new").unwrap();
        assert_eq!(mode(&sub.join("g")), 0o600);
    }

    #[test]
    fn a_tree_is_tightened_to_the_bottom() {
        let d = tempfile::tempdir().unwrap();
        let deep = d.path().join("a/b");
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("f"), b"x").unwrap();
        fs::write(d.path().join("g"), b"x").unwrap();
        for (p, m) in [(d.path().join("a"), 0o755), (deep.clone(), 0o777)] {
            fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
        }
        fs::set_permissions(deep.join("f"), fs::Permissions::from_mode(0o666)).unwrap();
        fs::set_permissions(d.path().join("g"), fs::Permissions::from_mode(0o644)).unwrap();
        tighten_tree(d.path()).unwrap();
        assert_eq!(mode(&d.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(&deep.join("f")), 0o600);
        assert_eq!(mode(&d.path().join("g")), 0o600);
    }

    #[test]
    fn tighten_keeps_owner_bits() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
        tighten(&f, FILE_MODE).unwrap();
        assert_eq!(mode(&f), 0o400);
    }
}
