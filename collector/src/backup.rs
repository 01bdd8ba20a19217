//! `backup` and `restore`: the collector's whole data directory in one file, taken while `serve`
//! runs.
//!
//! What the data directory holds, and so what a backup carries:
//! - `vigie.db`: everything in the store — hosts and their node-key hashes (the enrolment state:
//!   an agent enrolled before the backup keeps reporting with its node key after a restore), the
//!   reports' state, the registers, risks, KPI snapshots, identities. Copied with SQLite's online
//!   backup API in one step: a consistent snapshot of the last committed transaction, taken under
//!   a read transaction that never blocks the writer (WAL mode), so ingest goes on meanwhile.
//! - `evidence-signing.key`: the Ed25519 key that signs evidence bundles; bundles exported before
//!   the backup still verify against the restored collector's public key.
//! - any other regular file under it (e.g. `reports/` when the monthly report timer writes there).
//!
//! Not in it: the database's `-wal`/`-shm` files (the snapshot already holds what they held),
//! temporary files, and the configuration outside the data directory (`collector.toml`, the
//! enrolment secret, the TLS key: back up `/etc/vigie` with the host's own configuration).
//!
//! The file is a ZIP archive, mode 0600: `manifest.json` first (format, collector version, schema
//! version, creation time, each file's path, size, mode and SHA-256), then the files. `restore`
//! checks every checksum, refuses anything the manifest does not list, writes only into an empty
//! (or missing) data directory, and leaves it empty when it fails.

use std::io::{Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::CollectorConfig;

/// `format` of a backup's manifest.
const FORMAT: &str = "vigie-collector-backup";
/// Version of the archive layout.
const LAYOUT: u32 = 1;
/// Name of the database in the data directory and in the archive.
const DB_FILE: &str = "vigie.db";
/// Name of the manifest in the archive.
const MANIFEST: &str = "manifest.json";

/// `vigie-collector backup`.
#[derive(Args)]
pub struct BackupArgs {
    /// Where to write the backup (a ZIP archive, mode 0600; replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `vigie-collector restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// A file written by `vigie-collector backup`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The data directory to restore into: must be empty or missing. Default: the configuration's
    /// storage.data_dir.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// One file of a backup.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Entry {
    /// Path relative to the data directory, `/`-separated.
    path: String,
    size: u64,
    /// Unix permission bits (octal text, e.g. "600").
    mode: String,
    sha256: String,
}

/// `manifest.json`.
#[derive(Serialize, Deserialize, Debug)]
struct Manifest {
    format: String,
    layout: u32,
    collector_version: String,
    /// `PRAGMA user_version` of the database copy.
    schema_version: u32,
    /// RFC 3339, UTC.
    created_at: String,
    files: Vec<Entry>,
}

/// A usage error (exit 2) as opposed to a failure (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn exit(r: anyhow::Result<String>) -> ExitCode {
    match r {
        Ok(msg) => {
            println!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigie-collector: {e:#}");
            ExitCode::from(if e.downcast_ref::<Usage>().is_some() {
                2
            } else {
                1
            })
        }
    }
}

/// Run `backup`.
pub fn backup(cfg: &CollectorConfig, args: BackupArgs) -> ExitCode {
    exit(write_backup(&cfg.storage.data_dir, &args.out))
}

/// Run `restore`.
pub fn restore(cfg: &CollectorConfig, args: RestoreArgs) -> ExitCode {
    let dir = args
        .data_dir
        .unwrap_or_else(|| cfg.storage.data_dir.clone());
    exit(restore_into(&args.file, &dir))
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(h.finalize()), size))
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o777
}
#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o600
}

/// Files of the data directory that are not the database nor transient, relative paths.
fn other_files(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        let dir = root.join(rel);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read {}", dir.display()))?;
        names.sort_by_key(|e| e.file_name());
        for e in names {
            let name = e.file_name();
            let Some(text) = name.to_str() else {
                tracing::warn!(dir = %dir.display(), "backup skips a file whose name is not UTF-8");
                continue;
            };
            let top = rel.as_os_str().is_empty();
            // The database and its journals: the snapshot replaces them. Temporary files
            // (tempfile's `.tmp…`) are in-flight uploads or exports.
            if top
                && (text == DB_FILE
                    || text == format!("{DB_FILE}-wal")
                    || text == format!("{DB_FILE}-shm")
                    || text == format!("{DB_FILE}-journal"))
                || text.starts_with(".tmp")
            {
                continue;
            }
            let kind = e.file_type()?;
            let path = rel.join(&name);
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                out.push(path);
            } else {
                tracing::warn!(path = %root.join(&path).display(), "backup skips what is neither a file nor a directory");
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(data_dir, Path::new(""), &mut out)?;
    Ok(out)
}

fn archive_name(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copy the live database at `src` into a new file `dst` with the online backup API.
fn snapshot_db(src: &Path, dst: &Path) -> anyhow::Result<u32> {
    use rusqlite::{backup::Backup, Connection, OpenFlags};
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", src.display()))?;
    from.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut to =
        Connection::open(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    {
        let b = Backup::new(&from, &mut to).context("cannot start the SQLite backup")?;
        // All pages in one step: one read transaction, so one consistent snapshot however busy
        // the writer is (a step-by-step copy restarts whenever another connection commits).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            use rusqlite::backup::StepResult;
            match b
                .step(-1)
                .with_context(|| format!("SQLite backup of {} failed", src.display()))?
            {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => bail!(
                    "SQLite backup of {} did not finish within 60 s ({other:?})",
                    src.display()
                ),
            }
        }
    }
    // A self-contained file: the copy keeps the source's WAL flag; `serve` turns WAL on again.
    let mode: String = to.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        bail!("the database copy stayed in {mode} mode");
    }
    let check: String = to.pragma_query_value(None, "quick_check", |r| r.get(0))?;
    if check != "ok" {
        bail!("the database copy fails SQLite's quick_check: {check}");
    }
    let version: u32 = to.pragma_query_value(None, "user_version", |r| r.get(0))?;
    Ok(version)
}

fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn write_backup(data_dir: &Path, out: &Path) -> anyhow::Result<String> {
    let db = data_dir.join(DB_FILE);
    if !db.is_file() {
        return Err(Usage(format!(
            "no database at {}: nothing to back up (check storage.data_dir in --config)",
            db.display()
        ))
        .into());
    }
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !out_dir.is_dir() {
        return Err(Usage(format!(
            "--out {}: directory {} does not exist",
            out.display(),
            out_dir.display()
        ))
        .into());
    }
    // A backup inside the data directory would be carried by every later backup.
    if let (Ok(o), Ok(d)) = (out_dir.canonicalize(), data_dir.canonicalize()) {
        if o.starts_with(&d) {
            return Err(Usage(format!(
                "--out {} is inside the data directory {}: write backups elsewhere",
                out.display(),
                data_dir.display()
            ))
            .into());
        }
    }
    // The database copy goes to a private scratch directory beside the output (same file
    // system, and never world-readable).
    let scratch = tempfile::Builder::new()
        .prefix(".vigie-backup-")
        .tempdir_in(&out_dir)
        .with_context(|| format!("cannot create a scratch directory in {}", out_dir.display()))?;
    let db_copy = scratch.path().join(DB_FILE);
    let schema_version = snapshot_db(&db, &db_copy)?;

    let mut files: Vec<(Entry, PathBuf)> = Vec::new();
    let (sha, size) = sha256_file(&db_copy)?;
    files.push((
        Entry {
            path: DB_FILE.into(),
            size,
            mode: "600".into(),
            sha256: sha,
        },
        db_copy.clone(),
    ));
    for rel in other_files(data_dir)? {
        let full = data_dir.join(&rel);
        let meta = std::fs::metadata(&full).with_context(|| full.display().to_string())?;
        let (sha, size) =
            sha256_file(&full).with_context(|| format!("cannot read {}", full.display()))?;
        files.push((
            Entry {
                path: archive_name(&rel),
                size,
                mode: format!("{:o}", mode_of(&meta)),
                sha256: sha,
            },
            full,
        ));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        layout: LAYOUT,
        collector_version: env!("CARGO_PKG_VERSION").into(),
        schema_version,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        files: files.iter().map(|(e, _)| e.clone()).collect(),
    };

    let tmp_out = scratch.path().join("backup.zip");
    let file =
        private_file(&tmp_out).with_context(|| format!("cannot create {}", tmp_out.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600)
        .large_file(true);
    zip.start_file(MANIFEST, opts)?;
    zip.write_all(&serde_json::to_vec_pretty(&manifest)?)?;
    for (entry, src) in &files {
        zip.start_file(entry.path.as_str(), opts)?;
        let mut f =
            std::fs::File::open(src).with_context(|| format!("cannot read {}", src.display()))?;
        let n = std::io::copy(&mut f, &mut zip)?;
        if n != entry.size {
            bail!(
                "{} changed while it was backed up ({} bytes, then {n})",
                src.display(),
                entry.size
            );
        }
    }
    let w = zip.finish()?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp_out, out)
        .with_context(|| format!("cannot move the backup to {}", out.display()))?;
    if let Ok(d) = std::fs::File::open(&out_dir) {
        let _ = d.sync_all();
    }
    tracing::info!(
        out = %out.display(),
        files = files.len(),
        schema_version,
        "backup written"
    );
    Ok(format!(
        "backup written to {} ({} files, schema version {schema_version})",
        out.display(),
        files.len()
    ))
}

/// A path from the manifest, safe to join under the data directory.
fn safe_relative(p: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(p);
    let ok = !p.is_empty()
        && !p.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        bail!("the manifest names an unsafe path {p:?}");
    }
    Ok(path.to_path_buf())
}

fn restore_into(file: &Path, dir: &Path) -> anyhow::Result<String> {
    // The target first: a non-empty data directory is never written to.
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if let Some(first) = entries.next() {
                let first = first.map(|e| e.file_name().to_string_lossy().into_owned());
                return Err(Usage(format!(
                    "{} is not empty ({}): restore writes only into an empty or missing data \
                     directory; move its contents away or choose another --data-dir",
                    dir.display(),
                    match first {
                        Ok(name) => format!("it holds {name:?}"),
                        Err(e) => e.to_string(),
                    }
                ))
                .into());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::store::create_private_dir(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(Usage(format!("{} is not a directory", dir.display())).into());
        }
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
    }
    let f = std::fs::File::open(file)
        .map_err(|e| anyhow::Error::new(Usage(format!("cannot open {}: {e}", file.display()))))?;
    // Unpacked into a private directory inside the target, moved into place once every file
    // checked out: on any failure the target is left empty.
    let staging = tempfile::Builder::new()
        .prefix(".vigie-restore-")
        .tempdir_in(dir)
        .with_context(|| format!("cannot create a staging directory in {}", dir.display()))?;
    let manifest = unpack(f, staging.path())
        .with_context(|| format!("{} is not a usable Vigie backup", file.display()))?;
    let mut tops: Vec<String> = Vec::new();
    for e in &manifest.files {
        let top = e.path.split('/').next().unwrap_or_default().to_string();
        if !tops.contains(&top) {
            tops.push(top);
        }
    }
    for top in &tops {
        std::fs::rename(staging.path().join(top), dir.join(top))
            .with_context(|| format!("cannot move {top} into {}", dir.display()))?;
    }
    tracing::info!(
        file = %file.display(),
        data_dir = %dir.display(),
        files = manifest.files.len(),
        created_at = %manifest.created_at,
        "backup restored"
    );
    Ok(format!(
        "restored {} files from the backup of {} (collector {}, schema version {}) into {}",
        manifest.files.len(),
        manifest.created_at,
        manifest.collector_version,
        manifest.schema_version,
        dir.display()
    ))
}

fn unpack(f: std::fs::File, into: &Path) -> anyhow::Result<Manifest> {
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(f)).context("not a ZIP archive")?;
    let manifest: Manifest = {
        let mut m = zip
            .by_name(MANIFEST)
            .context("no manifest.json in the archive")?;
        let mut text = Vec::new();
        (&mut m).take(1 << 20).read_to_end(&mut text)?;
        serde_json::from_slice(&text).context("manifest.json")?
    };
    if manifest.format != FORMAT {
        bail!(
            "manifest.json: format is {:?}, expected {FORMAT:?}",
            manifest.format
        );
    }
    if manifest.layout != LAYOUT {
        bail!(
            "manifest.json: layout {} is not the layout {LAYOUT} this collector reads",
            manifest.layout
        );
    }
    let latest = crate::store::migrations::latest();
    if manifest.schema_version > latest {
        bail!(
            "the backup's database is at schema version {}, newer than this collector's {latest}: \
             restore it with vigie-collector {} or later",
            manifest.schema_version,
            manifest.collector_version
        );
    }
    if !manifest.files.iter().any(|e| e.path == DB_FILE) {
        bail!("manifest.json lists no {DB_FILE}");
    }
    // Every archive member is in the manifest, once; every manifest entry is in the archive.
    let mut listed: Vec<&str> = manifest.files.iter().map(|e| e.path.as_str()).collect();
    listed.sort_unstable();
    if listed.windows(2).any(|w| w[0] == w[1]) {
        bail!("manifest.json lists a file twice");
    }
    for i in 0..zip.len() {
        let name = zip.by_index(i)?.name().to_string();
        if name != MANIFEST && listed.binary_search(&name.as_str()).is_err() {
            bail!("the archive holds {name:?}, which manifest.json does not list");
        }
    }
    for e in &manifest.files {
        let rel = safe_relative(&e.path)?;
        let mode = u32::from_str_radix(&e.mode, 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .with_context(|| format!("manifest.json: {}: bad mode {:?}", e.path, e.mode))?;
        let dest = into.join(&rel);
        if let Some(parent) = dest.parent() {
            crate::store::create_private_dir(parent)?;
        }
        let mut member = zip
            .by_name(&e.path)
            .with_context(|| format!("{} is in manifest.json but not in the archive", e.path))?;
        let mut out = private_file(&dest).with_context(|| dest.display().to_string())?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut size = 0u64;
        loop {
            let n = member
                .read(&mut buf)
                .with_context(|| format!("{}: cannot read from the archive", e.path))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > e.size {
                bail!(
                    "{}: longer than the {} bytes manifest.json says",
                    e.path,
                    e.size
                );
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        let sha = hex::encode(h.finalize());
        if size != e.size || sha != e.sha256 {
            bail!(
                "{}: checksum mismatch (SHA-256 {sha}, {size} bytes; manifest.json says {}, {} bytes)",
                e.path,
                e.sha256,
                e.size
            );
        }
        out.sync_all()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // Never wider than the owner's: the data directory is private.
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
    }
    let db = into.join(DB_FILE);
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("{DB_FILE}: cannot open"))?;
    let check: String = conn.pragma_query_value(None, "quick_check", |r| r.get(0))?;
    if check != "ok" {
        bail!("{DB_FILE} fails SQLite's quick_check: {check}");
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_store(dir: &Path) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(dir.join(DB_FILE)).unwrap();
        let _: String = c
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .unwrap();
        c.execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        c
    }

    #[test]
    fn backup_then_restore_gives_the_same_files_and_rows() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let c = live_store(&data);
        std::fs::write(data.join("evidence-signing.key"), "ab\n").unwrap();
        std::fs::create_dir(data.join("reports")).unwrap();
        std::fs::write(data.join("reports/2026-11.html"), "<p>r</p>").unwrap();
        std::fs::write(data.join(".tmpXYZ"), "in flight").unwrap();
        let out = d.path().join("b.zip");
        write_backup(&data, &out).unwrap();
        // Rows committed after the backup are not in it.
        c.execute("INSERT INTO t VALUES (3)", []).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let m = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(m, 0o600);
        }
        let target = d.path().join("restored");
        restore_into(&out, &target).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["evidence-signing.key", "reports", "vigie.db"]);
        assert_eq!(
            std::fs::read(target.join("reports/2026-11.html")).unwrap(),
            b"<p>r</p>"
        );
        let r = rusqlite::Connection::open(target.join(DB_FILE)).unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn restore_refuses_a_non_empty_directory_and_a_tampered_archive() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let _c = live_store(&data);
        let out = d.path().join("b.zip");
        write_backup(&data, &out).unwrap();

        let e = write_backup(&data, &data.join("b.zip")).unwrap_err();
        assert!(e.downcast_ref::<Usage>().is_some(), "{e:#}");
        assert!(
            format!("{e:#}").contains("inside the data directory"),
            "{e:#}"
        );
        let e = restore_into(&out, &data).unwrap_err();
        assert!(e.downcast_ref::<Usage>().is_some(), "{e:#}");
        assert!(format!("{e:#}").contains("is not empty"), "{e:#}");

        // Rewrite the archive: the manifest changed by `edit`, the database, `extra` members.
        let rewrite = |name: &str, edit: &dyn Fn(&mut Manifest), extra: &[&str]| {
            let mut zin = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
            let mut m: Manifest = serde_json::from_reader(zin.by_name(MANIFEST).unwrap()).unwrap();
            edit(&mut m);
            let mut db = Vec::new();
            zin.by_name(DB_FILE).unwrap().read_to_end(&mut db).unwrap();
            let bad = d.path().join(name);
            let mut w = zip::ZipWriter::new(std::fs::File::create(&bad).unwrap());
            let o = zip::write::SimpleFileOptions::default();
            w.start_file(MANIFEST, o).unwrap();
            w.write_all(&serde_json::to_vec(&m).unwrap()).unwrap();
            w.start_file(DB_FILE, o).unwrap();
            w.write_all(&db).unwrap();
            for x in extra {
                w.start_file(*x, o).unwrap();
            }
            w.finish().unwrap();
            bad
        };
        let cases = [
            (
                rewrite("sum.zip", &|m| m.files[0].sha256 = "00".repeat(32), &[]),
                "checksum mismatch",
            ),
            (
                rewrite("extra.zip", &|_| {}, &["../escape"]),
                "does not list",
            ),
            (
                rewrite(
                    "unsafe.zip",
                    &|m| {
                        m.files.push(Entry {
                            path: "../escape".into(),
                            size: 0,
                            mode: "600".into(),
                            sha256: hex::encode(Sha256::digest(b"")),
                        })
                    },
                    &["../escape"],
                ),
                "unsafe path",
            ),
        ];
        for (i, (bad, want)) in cases.iter().enumerate() {
            let target = d.path().join(format!("t{i}"));
            let e = restore_into(bad, &target).unwrap_err();
            assert!(e.downcast_ref::<Usage>().is_none(), "{e:#}");
            assert!(format!("{e:#}").contains(want), "{want}: {e:#}");
            assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "{want}");
            assert!(!d.path().join("escape").exists());
        }
        let target = d.path().join("ok");
        restore_into(&out, &target).unwrap();
        assert!(target.join(DB_FILE).is_file());
    }
}
