//! When dnf and zypper last refreshed each repository, read from their rpm-md caches.
//!
//! What each file's mtime means (and so whether it dates a *successful* refresh):
//!
//! - `repodata/repomd.xml`: written when the metadata is downloaded. libzypp also touches it when a
//!   refresh finds the repository unchanged (`RepoManager::touchIndexFile`), so for zypper it is the
//!   last successful refresh.
//! - dnf's primary metadata file (`repodata/*primary*`): libdnf (dnf 4) and libdnf5 (dnf 5) touch
//!   it when an expired cache is found still in sync with the server ("the expired metadata still
//!   reflect the origin"), and dnf computes the repository's age from it. A repository that has not
//!   changed upstream for weeks therefore keeps an old repomd.xml on a host that checked it today:
//!   the newer of the two is the last successful refresh.
//! - `<cache>/<repoid>.solv` (dnf 4): libsolv's cache, rewritten when new metadata is loaded; used
//!   only when neither file above has an mtime (it is never newer than the last download).
//! - repomd.xml's `<revision>` / `<timestamp>`: when the *server* generated the metadata. The copy
//!   is at least that recent, so a recent value proves freshness; an old one proves nothing (a
//!   repository may publish rarely), and the age then stays unknown.
//!
//! Read and reported, not counted (they show a refresh was *attempted* or is *due*, not that one
//! succeeded): dnf 4's `last_makecache` (touched by `dnf makecache --timer` even when a repository
//! fails), the systemd stamp of `dnf-makecache.timer`, `expired_repos.json` and libdnf5's
//! `attrs/expired` markers.

use chrono::{DateTime, TimeZone, Utc};

use super::gather::{MetadataSource, RefreshSignal};
use crate::Probe;

/// dnf 4's marker of the last `dnf makecache --timer` run.
pub const DNF_LAST_MAKECACHE: &str = "/var/cache/dnf/last_makecache";
/// systemd's record of when `dnf-makecache.timer` last fired (`Persistent=true`).
pub const DNF_MAKECACHE_TIMER_STAMP: &str = "/var/lib/systemd/timers/stamp-dnf-makecache.timer";

/// Which package manager wrote a cache: decides which files date a refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    Dnf,
    Zypp,
}

/// One [`MetadataSource`] per repository cache directory `<base>/<repo>` holding
/// `repodata/repomd.xml`, dated by the newest file that proves a successful refresh.
pub fn repositories(probe: &dyn Probe, base: &str, kind: CacheKind) -> Vec<MetadataSource> {
    let Ok(repos) = probe.read_dir(base) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in repos {
        let repodata = format!("{base}/{r}/repodata");
        let repomd = format!("{repodata}/repomd.xml");
        let Ok(md) = probe.metadata(&repomd) else {
            continue;
        };
        let mut dated: Vec<(DateTime<Utc>, String)> = Vec::new();
        if let Some(t) = md.modified {
            dated.push((t, repomd.clone()));
        }
        if kind == CacheKind::Dnf {
            for name in probe.read_dir(&repodata).unwrap_or_default() {
                if !name.contains("primary") {
                    continue;
                }
                let path = format!("{repodata}/{name}");
                if let Some(t) = probe.metadata(&path).ok().and_then(|m| m.modified) {
                    dated.push((t, path));
                }
            }
            if dated.is_empty() {
                let solv = format!("{base}/{}.solv", repo_id(&r));
                if let Some(t) = probe.metadata(&solv).ok().and_then(|m| m.modified) {
                    dated.push((t, solv));
                }
            }
        }
        let published = probe
            .read_string(&repomd)
            .ok()
            .and_then(|t| repomd_published(&t));
        let newest = dated.into_iter().max_by_key(|(t, _)| *t);
        out.push(MetadataSource {
            path: repomd,
            modified: newest.as_ref().map(|(t, _)| *t),
            published,
            dated_by: newest.map(|(_, p)| p),
        });
    }
    out
}

/// dnf's signals that a refresh was attempted: `last_makecache` and the makecache timer's stamp.
pub fn dnf_attempts(probe: &dyn Probe) -> Vec<RefreshSignal> {
    [DNF_LAST_MAKECACHE, DNF_MAKECACHE_TIMER_STAMP]
        .into_iter()
        .map(|path| {
            let (modified, problem) = match probe.metadata(path) {
                Ok(m) if m.modified.is_some() => (m.modified, None),
                Ok(_) => (None, Some("no mtime".to_string())),
                Err(e) if e.is_not_found() => (None, Some("absent".to_string())),
                Err(e) => (None, Some(e.to_string())),
            };
            RefreshSignal {
                path: path.to_string(),
                modified,
                proves_success: false,
                problem,
            }
        })
        .collect()
}

/// The repository id of a dnf cache directory: `baseos-044cae74d71fe9ea` → `baseos` (dnf appends
/// a dash and 16 hex digits of the URL's hash).
fn repo_id(dir: &str) -> &str {
    match dir.rsplit_once('-') {
        Some((id, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => id,
        _ => dir,
    }
}

/// When the server generated this metadata: the latest `<timestamp>` of its files, or a numeric
/// `<revision>` (an epoch on Fedora, RHEL and openSUSE), whichever is later. Garbage gives `None`.
pub fn repomd_published(text: &str) -> Option<DateTime<Utc>> {
    let values = |tag: &str| -> Vec<i64> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        text.split(open.as_str())
            .skip(1)
            .filter_map(|rest| rest.split(close.as_str()).next())
            .filter_map(|v| v.trim().parse::<i64>().ok())
            .collect()
    };
    // Before 2001-09-09 an epoch has fewer than 10 digits: such a revision is a counter.
    values("timestamp")
        .into_iter()
        .chain(
            values("revision")
                .into_iter()
                .filter(|v| *v >= 1_000_000_000),
        )
        .max()
        .and_then(|v| Utc.timestamp_opt(v, 0).single())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head of a Rocky 9 BaseOS repomd.xml (createrepo_c output).
    const REPOMD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1763884800</revision>
  <data type="primary">
    <checksum type="sha256">5f0d6c1b2a3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c</checksum>
    <location href="repodata/5f0d6c1b-primary.xml.gz"/>
    <timestamp>1763884790</timestamp>
    <size>2718345</size>
  </data>
  <data type="updateinfo">
    <location href="repodata/7c8b9a0f-updateinfo.xml.gz"/>
    <timestamp>1763884795</timestamp>
  </data>
</repomd>
"#;

    #[test]
    fn published_is_the_latest_server_time() {
        // 1763884800 = 2025-11-23T08:00:00Z.
        assert_eq!(
            repomd_published(REPOMD),
            Some(Utc.with_ymd_and_hms(2025, 11, 23, 8, 0, 0).unwrap())
        );
        // A counter revision is not a date; the timestamps still are.
        let counter = REPOMD.replace("<revision>1763884800</revision>", "<revision>42</revision>");
        assert_eq!(
            repomd_published(&counter),
            Some(Utc.timestamp_opt(1763884795, 0).unwrap())
        );
        assert_eq!(repomd_published("not xml"), None);
    }

    #[test]
    fn repo_ids_lose_dnfs_hash_suffix() {
        assert_eq!(repo_id("baseos-044cae74d71fe9ea"), "baseos");
        assert_eq!(repo_id("epel-next-0123456789abcdef"), "epel-next");
        assert_eq!(repo_id("my-repo"), "my-repo");
    }
}
