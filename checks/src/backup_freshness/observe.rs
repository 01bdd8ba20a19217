//! Reading one backup source: run the tool or read the files through the probe, parse, and report
//! the newest good backup (or why there is none, or why it is unknown). The RPO is applied by the
//! caller.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::config::{BackupConfig, BackupSource};
use super::{borg, glob, location, marker, restic, rfc3339};
use crate::probe::ProbeError;
use crate::{Evidence, EvidenceKind, Probe, Status};

/// What reading one source found, before the RPO is applied.
pub(super) struct Observation {
    /// The newest good backup, when one was found.
    pub(super) newest: Option<DateTime<Utc>>,
    /// What `newest` is, for the summary: "newest snapshot", "newest file db.sql.gz", "last success".
    pub(super) label: String,
    /// The source could not be read (`error`) or shows no good backup (`fail`), and why.
    pub(super) problem: Option<(Status, String)>,
    pub(super) facts: Map<String, Value>,
    pub(super) evidence: Vec<Evidence>,
}

impl Observation {
    pub(super) fn new(label: impl Into<String>) -> Observation {
        Observation {
            newest: None,
            label: label.into(),
            problem: None,
            facts: Map::new(),
            evidence: Vec::new(),
        }
    }
    fn problem(mut self, status: Status, reason: impl Into<String>) -> Observation {
        self.problem = Some((status, reason.into()));
        self
    }
    /// Add a fact; absent values (`None`) are left out rather than written as `null`.
    fn fact(mut self, key: &str, value: impl Into<Value>) -> Observation {
        let value = value.into();
        if !value.is_null() {
            self.facts.insert(key.to_string(), value);
        }
        self
    }
}

/// This host's name: system facts, else `/etc/hostname`.
pub(super) fn this_hostname(probe: &dyn Probe) -> Result<String, String> {
    if let Ok(sys) = probe.system() {
        if !sys.hostname.trim().is_empty() {
            return Ok(sys.hostname.trim().to_string());
        }
    }
    match probe.read_string("/etc/hostname") {
        Ok(h) if !h.trim().is_empty() => Ok(h.trim().to_string()),
        Ok(_) => Err("/etc/hostname is empty".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Hostnames are compared case-insensitively on their first label, so `web-01` and
/// `web-01.example.org` are the same host (restic records whatever `os.Hostname()` returned).
fn same_host(a: &str, b: &str) -> bool {
    let short = |h: &str| h.split('.').next().unwrap_or_default().to_ascii_lowercase();
    short(a) == short(b)
}

/// Why a command's failure leaves the source unknown, naming the tool and quoting the stderr line
/// that names the cause (see [`location::cause_line`]).
fn command_failure(tool: &str, code: Option<i32>, stderr: &str) -> String {
    let message = location::cause_line(stderr);
    match code {
        Some(c) => format!("{tool} exited with status {c}: {message}"),
        None => format!("{tool} was killed by a signal: {message}"),
    }
}

fn run_failure(tool: &str, program: &str, e: &ProbeError) -> String {
    match e {
        ProbeError::CommandNotFound { .. } => {
            format!("{tool} is not installed at {program} (set {tool}_binary)")
        }
        other => format!("could not run {tool}: {other}"),
    }
}

pub(super) fn observe_restic(
    probe: &dyn Probe,
    cfg: &BackupConfig,
    src: &BackupSource,
    host: Result<String, String>,
) -> Observation {
    let obs = Observation::new("newest snapshot");
    let repo = src.repository.as_deref().unwrap_or_default();
    let pw = src.password_file.as_deref().unwrap_or_default();
    let obs = obs.fact("repository", location::redact_repository(repo));
    match probe.metadata(pw) {
        Ok(info) if !info.is_dir => {}
        Ok(_) => {
            return obs.problem(Status::Error, format!("password file {pw} is a directory"));
        }
        Err(ProbeError::NotFound { .. }) => {
            return obs.problem(
                Status::Error,
                format!("password file {pw} does not exist: the repository cannot be opened"),
            );
        }
        Err(e) => return obs.problem(Status::Error, format!("password file: {e}")),
    }
    let host = match host {
        Ok(h) => h,
        Err(e) => {
            return obs.problem(
                Status::Error,
                format!("cannot tell this host's name ({e}); set host on the source"),
            )
        }
    };
    let obs = obs.fact("host", host.as_str());
    let argv = [
        cfg.restic_binary.as_str(),
        "-r",
        repo,
        "--password-file",
        pw,
        "--no-lock",
        "snapshots",
        "--json",
    ];
    let (out, ev) = match probe.run_evidence(&argv) {
        Ok(r) => r,
        Err(e) => return obs.problem(Status::Error, run_failure("restic", &cfg.restic_binary, &e)),
    };
    let mut obs = obs;
    obs.evidence.push(ev);
    if out.exit_code != Some(0) {
        let why = command_failure("restic", out.exit_code, &out.stderr_text());
        return obs.problem(Status::Error, why);
    }
    let snaps = match restic::parse_snapshots(&out.stdout_text()) {
        Ok(s) => s,
        Err(e) => return obs.problem(Status::Error, format!("restic output unreadable: {e}")),
    };
    let mine: Vec<&restic::Snapshot> = snaps
        .iter()
        .filter(|s| same_host(&s.hostname, &host))
        .collect();
    let mut others: Vec<&str> = snaps
        .iter()
        .filter(|s| !same_host(&s.hostname, &host))
        .map(|s| s.hostname.as_str())
        .collect();
    others.sort_unstable();
    others.dedup();
    let mut obs = obs
        .fact("snapshots_total", snaps.len())
        .fact("snapshots_this_host", mine.len())
        .fact("other_hosts", others.clone());
    let Some(newest) = mine.iter().max_by_key(|s| s.time) else {
        let why = if snaps.is_empty() {
            "no snapshot in the repository".to_string()
        } else {
            format!(
                "no snapshot of host {host} among {} snapshot(s) (hosts: {})",
                snaps.len(),
                others.join(", ")
            )
        };
        return obs.problem(Status::Fail, why);
    };
    obs.newest = Some(newest.time.with_timezone(&Utc));
    obs.fact(
        "newest_snapshot_id",
        newest.id.chars().take(8).collect::<String>(),
    )
    .fact("newest_snapshot_paths", newest.paths.clone())
    .fact("newest_snapshot_tags", newest.tags.clone())
}

/// The host's short hostname (first label), as borg's `{hostname}` placeholder spells it.
fn short_hostname(h: &str) -> &str {
    h.split('.').next().unwrap_or(h)
}

/// `host` is this host's name, resolved lazily by the caller; only asked for when the source's
/// `glob_archives` contains `{hostname}`.
pub(super) fn observe_borg(
    probe: &dyn Probe,
    cfg: &BackupConfig,
    src: &BackupSource,
    host: impl FnOnce() -> Result<String, String>,
) -> Observation {
    let repo = src.repository.as_deref().unwrap_or_default();
    let obs =
        Observation::new("newest archive").fact("repository", location::redact_repository(repo));
    let configured = src.glob_archives();
    let pattern = if configured.contains("{hostname}") {
        match host() {
            Ok(h) => configured.replace("{hostname}", short_hostname(&h)),
            Err(e) => {
                return obs.problem(
                    Status::Error,
                    format!(
                        "cannot tell this host's name ({e}) for glob_archives {configured:?}; set glob_archives without {{hostname}}"
                    ),
                )
            }
        }
    } else {
        configured.to_string()
    };
    let obs = obs.fact("glob_archives", pattern.as_str());
    // No `--last`: the listing comes from the repository manifest (names and start times only), and
    // any number of checkpoints left by interrupted runs must not hide the last complete archive.
    // `*` matches every archive: no filter is passed at all.
    let mut argv = vec![cfg.borg_binary.as_str(), "list", "--json", "--bypass-lock"];
    if pattern != "*" {
        argv.extend(["--glob-archives", pattern.as_str()]);
    }
    argv.push(repo);
    let (out, ev) = match probe.run_evidence(&argv) {
        Ok(r) => r,
        Err(e) => return obs.problem(Status::Error, run_failure("borg", &cfg.borg_binary, &e)),
    };
    let mut obs = obs;
    obs.evidence.push(ev);
    if out.exit_code != Some(0) {
        let why = command_failure("borg", out.exit_code, &out.stderr_text());
        return obs.problem(Status::Error, why);
    }
    let listing = match borg::parse_borg_list(&out.stdout_text()) {
        Ok(l) => l,
        Err(e) => return obs.problem(Status::Error, format!("borg output unreadable: {e}")),
    };
    let offset = probe.local_offset();
    let (checkpoints, complete): (Vec<&borg::Archive>, Vec<&borg::Archive>) = listing
        .archives
        .iter()
        .partition(|a| borg::is_checkpoint(&a.name));
    let mut obs = obs
        .fact("encryption_mode", listing.encryption_mode.clone())
        .fact("utc_offset", offset.to_string())
        .fact("archives_matched", listing.archives.len())
        .fact("checkpoints_ignored", checkpoints.len());
    let Some(newest) = complete.iter().max_by_key(|a| a.start) else {
        let filter = if pattern == "*" {
            String::new()
        } else {
            format!(" matching {pattern}")
        };
        let why = if checkpoints.is_empty() {
            format!("no archive{filter} in the repository")
        } else {
            format!(
                "no complete archive{filter} in the repository, only {} checkpoint(s) of interrupted runs",
                checkpoints.len()
            )
        };
        return obs.problem(Status::Fail, why);
    };
    // A fixed offset maps every local time to exactly one instant.
    let Some(start) = offset.from_local_datetime(&newest.start).single() else {
        return obs.problem(Status::Error, "archive start time cannot be placed in UTC");
    };
    obs.newest = Some(start.with_timezone(&Utc));
    obs.label = format!("newest archive {}", newest.name);
    obs.fact("newest_archive", newest.name.as_str()).fact(
        "newest_start_local",
        newest.start.format("%Y-%m-%dT%H:%M:%S").to_string(),
    )
}

pub(super) fn observe_path(probe: &dyn Probe, src: &BackupSource) -> Observation {
    let pattern = src.glob.as_deref().unwrap_or_default();
    let obs = Observation::new("newest file").fact("glob", pattern);
    let exp = match glob::expand(probe, pattern) {
        Ok(e) => e,
        Err(e) => {
            return obs.problem(Status::Error, format!("cannot list {pattern}: {e}"));
        }
    };
    let mut obs = obs;
    for l in &exp.listings {
        // The listing as read, each match annotated with size and mtime: what the verdict rests on.
        let mut text = String::new();
        for name in &l.names {
            text.push_str(name);
            let path = format!("{}/{name}", l.dir.trim_end_matches('/'));
            if let Some(m) = exp.matches.iter().find(|m| m.path == path) {
                text.push_str(&format!(
                    "\t{} bytes\tmodified {}",
                    m.info.size,
                    m.info.modified.map_or("unknown".into(), rfc3339)
                ));
            }
            text.push('\n');
        }
        obs.evidence.push(Evidence::new(
            EvidenceKind::Directory,
            &l.dir,
            text.as_bytes(),
        ));
    }
    // A zero-byte dump is a failed dump (pg_dump into a broken pipe), never a backup.
    let (good, empty): (Vec<&glob::Match>, Vec<&glob::Match>) = exp
        .matches
        .iter()
        .partition(|m| m.info.is_dir || m.info.size > 0);
    let mut obs = obs
        .fact("files_matched", exp.matches.len())
        .fact("empty_files_ignored", empty.len());
    if let Some(m) = good.iter().find(|m| m.info.modified.is_none()) {
        return obs.problem(
            Status::Error,
            format!("{}: no modification time available", m.path),
        );
    }
    let Some(newest) = good.iter().max_by_key(|m| m.info.modified) else {
        let mut why = format!("no backup found matching {pattern}");
        if !exp.missing_dirs.is_empty() {
            why.push_str(&format!(
                " ({} does not exist)",
                exp.missing_dirs.join(", ")
            ));
        } else if !empty.is_empty() {
            why.push_str(&format!(" (only {} empty file(s))", empty.len()));
        }
        return obs.problem(Status::Fail, why);
    };
    obs.newest = newest.info.modified;
    let file_name = newest.path.rsplit('/').next().unwrap_or(&newest.path);
    obs.label = format!("newest file {file_name}");
    obs.fact("newest_file", newest.path.as_str())
        .fact("newest_file_bytes", newest.info.size)
}

pub(super) fn observe_marker(probe: &dyn Probe, src: &BackupSource) -> Observation {
    let path = src.path.as_deref().unwrap_or_default();
    let obs = Observation::new("last success").fact("path", path);
    let (text, ev) = match probe.read_evidence(path) {
        Ok(r) => r,
        Err(ProbeError::NotFound { .. }) => {
            // The contract: the job writes the marker on success only.
            return obs.problem(
                Status::Fail,
                format!("no success marker at {path}: the job never recorded a successful run"),
            );
        }
        Err(e) => return obs.problem(Status::Error, format!("cannot read marker: {e}")),
    };
    let mut obs = obs;
    obs.evidence.push(ev);
    let m = match marker::parse_marker(&text) {
        Ok(m) => m,
        Err(e) => return obs.problem(Status::Error, format!("{path}: {e}")),
    };
    let finished = m.finished_at.with_timezone(&Utc);
    let mut obs = obs
        .fact("recorded_status", m.status.clone())
        .fact("finished_at", rfc3339(finished))
        .fact(
            "verified_at",
            m.verified_at.map(|v| rfc3339(v.with_timezone(&Utc))),
        );
    if !m.is_success() {
        return obs.problem(
            Status::Fail,
            format!(
                "last run recorded status {:?} (finished {}): no successful backup on record",
                m.status.unwrap_or_default(),
                rfc3339(finished)
            ),
        );
    }
    obs.newest = Some(finished);
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borg_hostname_is_the_first_label() {
        assert_eq!(short_hostname("web-01.example.org"), "web-01");
        assert_eq!(short_hostname("web-01"), "web-01");
    }

    #[test]
    fn hosts_match_on_their_short_name() {
        assert!(same_host("web-01", "WEB-01.example.org"));
        assert!(!same_host("web-01", "web-02"));
        assert!(!same_host("web-0", "web-01"));
    }

    #[test]
    fn command_failures_quote_the_cause_or_restic_json_message() {
        assert_eq!(
            command_failure(
                "restic",
                Some(12),
                "{\"message_type\":\"exit_error\",\"code\":12,\"message\":\"Fatal: wrong password or no key found\"}"
            ),
            "restic exited with status 12: Fatal: wrong password or no key found"
        );
        assert_eq!(
            command_failure("borg", Some(2), "Repository /srv/borg does not exist.\n"),
            "borg exited with status 2: Repository /srv/borg does not exist."
        );
        assert_eq!(
            command_failure("borg", None, ""),
            "borg was killed by a signal: no error message"
        );
    }
}
