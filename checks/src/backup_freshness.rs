//! backup_freshness check: is the newest good backup of every declared source younger than its RPO?
//!
//! Sources are declared in `[checks.backup_freshness]` (restic repository, borg repository, files
//! matching a glob, success-marker file). Each source is judged on its own — `pass` within the RPO,
//! optionally `warn` past `warn_at_percent` of it, `fail` older than the RPO or no backup at all,
//! `error` when the source cannot be read — and the check takes the worst, with **fail before
//! error**: a source known to be stale is a finding even when another source is unreadable.
//! A host without sources fails unless the config states `no_backup_duty` (then `not_applicable`).
//! The rules, commands and limits are in `docs/checks/backup_freshness.md`.

mod borg;
mod config;
mod glob;
mod marker;
mod restic;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use serde_json::{json, Map, Value};

pub use config::{BackupConfig, BackupSource, SourceKind};

use crate::probe::ProbeError;
use crate::{CheckResult, Context, Evidence, EvidenceKind, Probe, Status};

/// A newest backup dated this far in the future is clock skew, not a fresh backup.
const CLOCK_SKEW_TOLERANCE_SECONDS: i64 = 300;

/// The backup_freshness check.
pub struct BackupFreshness;

/// What reading one source found, before the RPO is applied.
struct Observation {
    /// The newest good backup, when one was found.
    newest: Option<DateTime<Utc>>,
    /// What `newest` is, for the summary: "newest snapshot", "newest file db.sql.gz", "last success".
    label: String,
    /// The source could not be read (`error`) or shows no good backup (`fail`), and why.
    problem: Option<(Status, String)>,
    facts: Map<String, Value>,
    evidence: Vec<Evidence>,
}

impl Observation {
    fn new(label: impl Into<String>) -> Observation {
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

/// The verdict on one source.
struct SourceVerdict {
    name: String,
    status: Status,
    /// Why, e.g. "newest snapshot 52 h old > RPO 24 h".
    reason: String,
    facts: Value,
    evidence: Vec<Evidence>,
}

impl crate::Check for BackupFreshness {
    fn id(&self) -> &'static str {
        "backup_freshness"
    }
    fn title(&self) -> &'static str {
        "Backups are recent enough (RPO)"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["11.1", "11.2", "11.3"]
    }

    fn run(&self, ctx: &Context) -> CheckResult {
        let id = self.id();
        let cfg = &ctx.config.backup_freshness;
        if let Some(reason) = &cfg.no_backup_duty {
            return CheckResult::new(
                id,
                Status::NotApplicable,
                format!("no backup duty declared: {}", reason.trim()),
            )
            .fact("no_backup_duty", reason.trim())
            .fact("sources_total", 0);
        }
        if cfg.sources.is_empty() {
            return CheckResult::new(
                id,
                Status::Fail,
                "no backup source configured and no no_backup_duty statement: this host is not backed up \
                 (declare [[checks.backup_freshness.sources]] or no_backup_duty)",
            )
            .fact("sources_total", 0)
            .fact("sources", Vec::<Value>::new());
        }
        let now = ctx.probe.now();
        let mut hostname: Option<Result<String, String>> = None;
        let verdicts: Vec<SourceVerdict> = cfg
            .sources
            .iter()
            .map(|src| {
                let obs = match src.kind {
                    SourceKind::Restic => {
                        let host = match &src.host {
                            Some(h) => Ok(h.clone()),
                            None => hostname
                                .get_or_insert_with(|| this_hostname(ctx.probe))
                                .clone(),
                        };
                        observe_restic(ctx.probe, cfg, src, host)
                    }
                    SourceKind::Borg => observe_borg(ctx.probe, cfg, src),
                    SourceKind::Path => observe_path(ctx.probe, src),
                    SourceKind::TimestampFile => observe_marker(ctx.probe, src),
                };
                judge(src, src.rpo_hours(cfg), cfg.warn_at_percent, now, obs)
            })
            .collect();
        summarize(id, verdicts)
    }
}

/// Apply the RPO to what was observed.
fn judge(
    src: &BackupSource,
    rpo_hours: u32,
    warn_at_percent: Option<u32>,
    now: DateTime<Utc>,
    obs: Observation,
) -> SourceVerdict {
    let rpo = Duration::hours(i64::from(rpo_hours));
    let age = obs.newest.map(|n| now - n);
    let (status, reason) = match (&obs.problem, obs.newest, age) {
        (Some((st, why)), _, _) => (*st, why.clone()),
        (None, Some(newest), Some(age)) => {
            let label = &obs.label;
            if age.num_seconds() < -CLOCK_SKEW_TOLERANCE_SECONDS {
                (
                    Status::Error,
                    format!(
                        "{label} is dated {} in the future ({}): clock skew between this host and the backup, freshness unknown",
                        fmt_age(-age),
                        rfc3339(newest)
                    ),
                )
            } else if age > rpo {
                (
                    Status::Fail,
                    format!("{label} {} old > RPO {rpo_hours} h", fmt_age(age)),
                )
            } else if let Some(pct) = warn_at_percent
                .filter(|p| age.num_seconds() * 100 > rpo.num_seconds() * i64::from(*p))
            {
                (
                    Status::Warn,
                    format!(
                        "{label} {} old, past {pct}% of RPO {rpo_hours} h",
                        fmt_age(age)
                    ),
                )
            } else {
                (
                    Status::Pass,
                    format!("{label} {} old (RPO {rpo_hours} h)", fmt_age(age)),
                )
            }
        }
        // An observer that found nothing must say why; never pass by omission.
        _ => (
            Status::Error,
            format!("{}: no backup time found", obs.label),
        ),
    };
    let mut facts = Map::new();
    facts.insert("name".into(), json!(src.name));
    facts.insert("kind".into(), json!(src.kind.as_str()));
    facts.insert("status".into(), json!(status.as_str()));
    facts.insert("rpo_hours".into(), json!(rpo_hours));
    if let (Some(newest), Some(age)) = (obs.newest, age) {
        facts.insert("newest".into(), json!(rfc3339(newest)));
        // Hours to two decimals: seconds / 3600, rounded at the hundredth.
        facts.insert(
            "age_hours".into(),
            json!((age.num_seconds() as f64 / 36.0).round() / 100.0),
        );
    }
    facts.insert("reason".into(), json!(reason));
    facts.extend(obs.facts);
    SourceVerdict {
        name: src.name.clone(),
        status,
        reason,
        facts: Value::Object(facts),
        evidence: obs.evidence,
    }
}

/// Combine the per-source verdicts: fail > error > warn > pass.
fn summarize(id: &str, verdicts: Vec<SourceVerdict>) -> CheckResult {
    let names_with = |st: Status| -> Vec<String> {
        verdicts
            .iter()
            .filter(|v| v.status == st)
            .map(|v| v.name.clone())
            .collect()
    };
    let (stale, unreadable, near) = (
        names_with(Status::Fail),
        names_with(Status::Error),
        names_with(Status::Warn),
    );
    let overall = if !stale.is_empty() {
        Status::Fail
    } else if !unreadable.is_empty() {
        Status::Error
    } else if !near.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    let passing = verdicts.iter().filter(|v| v.status == Status::Pass).count();
    let describe = |v: &SourceVerdict| format!("{}: {}", v.name, v.reason);
    let summary = if overall == Status::Pass && verdicts.len() > 1 {
        format!(
            "all {} backup sources within RPO — {}",
            verdicts.len(),
            verdicts.iter().map(describe).collect::<Vec<_>>().join("; ")
        )
    } else if overall == Status::Pass {
        verdicts.iter().map(describe).collect::<Vec<_>>().join("; ")
    } else {
        let mut problems: Vec<String> = Vec::new();
        for st in [Status::Fail, Status::Error, Status::Warn] {
            problems.extend(verdicts.iter().filter(|v| v.status == st).map(describe));
        }
        let mut s = problems.join("; ");
        if passing > 0 {
            let noun = if passing == 1 { "source" } else { "sources" };
            s.push_str(&format!(" ({passing} other {noun} within RPO)"));
        }
        s
    };
    let total = verdicts.len();
    let mut evidence = Vec::new();
    let mut sources = Vec::new();
    for v in verdicts {
        evidence.extend(v.evidence);
        sources.push(v.facts);
    }
    CheckResult::new(id, overall, summary)
        .fact("sources_total", total)
        .fact("stale", stale)
        .fact("unreadable", unreadable)
        .fact("near_rpo", near)
        .fact("sources", sources)
        .with_evidence(evidence)
}

// ---------------------------------------------------------------------------------------------
// restic and borg

/// This host's name: system facts, else `/etc/hostname`.
fn this_hostname(probe: &dyn Probe) -> Result<String, String> {
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

/// Why a command's failure leaves the source unknown, naming the tool and its last stderr line
/// (restic's JSON `exit_error` message when it prints one).
fn command_failure(tool: &str, code: Option<i32>, stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no error message");
    let message = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| line.to_string());
    let message: String = message.chars().take(240).collect();
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

fn observe_restic(
    probe: &dyn Probe,
    cfg: &BackupConfig,
    src: &BackupSource,
    host: Result<String, String>,
) -> Observation {
    let obs = Observation::new("newest snapshot");
    let repo = src.repository.as_deref().unwrap_or_default();
    let pw = src.password_file.as_deref().unwrap_or_default();
    let obs = obs.fact("repository", repo);
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

fn observe_borg(probe: &dyn Probe, cfg: &BackupConfig, src: &BackupSource) -> Observation {
    let repo = src.repository.as_deref().unwrap_or_default();
    let obs = Observation::new("newest archive").fact("repository", repo);
    let argv = [
        cfg.borg_binary.as_str(),
        "list",
        "--json",
        "--last",
        "1",
        "--bypass-lock",
        repo,
    ];
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
    let mut obs = obs
        .fact("encryption_mode", listing.encryption_mode.clone())
        .fact("utc_offset", offset.to_string());
    let Some(newest) = listing.archives.iter().max_by_key(|a| a.start) else {
        return obs.problem(Status::Fail, "no archive in the repository");
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

// ---------------------------------------------------------------------------------------------
// files

fn observe_path(probe: &dyn Probe, src: &BackupSource) -> Observation {
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

fn observe_marker(probe: &dyn Probe, src: &BackupSource) -> Observation {
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

// ---------------------------------------------------------------------------------------------
// formatting

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// "52 h", "24 h 5 min", "40 min" (rounded down to the minute).
fn fmt_age(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(fmt_age(Duration::minutes(52 * 60)), "52 h");
        assert_eq!(
            fmt_age(Duration::seconds(24 * 3600 + 5 * 60 + 59)),
            "24 h 5 min"
        );
        assert_eq!(fmt_age(Duration::seconds(2399)), "39 min");
    }

    #[test]
    fn hosts_match_on_their_short_name() {
        assert!(same_host("web-01", "WEB-01.example.org"));
        assert!(!same_host("web-01", "web-02"));
        assert!(!same_host("web-0", "web-01"));
    }

    #[test]
    fn command_failures_quote_the_last_stderr_line_or_restic_json_message() {
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

    fn src(kind: SourceKind) -> BackupSource {
        BackupSource {
            name: "s".into(),
            kind,
            rpo_hours: None,
            repository: None,
            password_file: None,
            host: None,
            glob: None,
            path: None,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn judge_applies_rpo_warn_band_and_clock_skew() {
        let now = at("2026-11-24T10:00:00Z");
        let seen = |newest: &str| {
            let mut o = Observation::new("last success");
            o.newest = Some(at(newest));
            o
        };
        let s = src(SourceKind::TimestampFile);
        // Exactly the RPO is still within it.
        let v = judge(&s, 24, None, now, seen("2026-11-23T10:00:00Z"));
        assert_eq!(v.status, Status::Pass);
        let v = judge(&s, 24, None, now, seen("2026-11-23T09:59:00Z"));
        assert_eq!(
            (v.status, v.reason.as_str()),
            (Status::Fail, "last success 24 h 1 min old > RPO 24 h")
        );
        // 20 h of 24 h is 83 %: past an 80 % band, not past a 90 % one.
        let v = judge(&s, 24, Some(80), now, seen("2026-11-23T14:00:00Z"));
        assert_eq!(v.status, Status::Warn);
        let v = judge(&s, 24, Some(90), now, seen("2026-11-23T14:00:00Z"));
        assert_eq!(v.status, Status::Pass);
        // Four minutes ahead is tolerated, an hour ahead is not.
        assert_eq!(
            judge(&s, 24, None, now, seen("2026-11-24T10:04:00Z")).status,
            Status::Pass
        );
        let v = judge(&s, 24, None, now, seen("2026-11-24T11:00:00Z"));
        assert_eq!(v.status, Status::Error);
        assert!(v.reason.contains("clock skew"), "{}", v.reason);
        // An observation with neither time nor problem is never a pass.
        let v = judge(&s, 24, None, now, Observation::new("newest file"));
        assert_eq!(v.status, Status::Error);
    }
}
