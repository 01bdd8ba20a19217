//! The `time_machine` source kind (macOS): the newest backup Time Machine made of this Mac.
//!
//! `tmutil destinationinfo` says whether a destination is configured, `tmutil latestbackup` prints
//! the newest backup's path, whose basename is its local start time (`YYYY-MM-DD-HHMMSS`, with a
//! `.backup` suffix on APFS destinations). Both exit 0 when nothing is configured or the destination
//! cannot be mounted, so the text is judged, never the exit code: `No destinations configured` is
//! `fail`, `Unable to locate …` (no backup of this Mac on the destination) is `fail`, `Failed to mount`
//! is `error` (the newest backup cannot be known), and anything else not recognised is `error`.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::observe::Observation;
use crate::{Probe, Status};

const TMUTIL: &str = "/usr/bin/tmutil";

/// One `====`-separated block of `tmutil destinationinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Destination {
    pub name: String,
    pub kind: String,
    pub mount_point: Option<String>,
    pub url: Option<String>,
}

/// What `tmutil destinationinfo` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destinations {
    NoneConfigured,
    Configured(Vec<Destination>),
}

/// Parse `tmutil destinationinfo` (stdout and stderr together).
pub fn parse_destinationinfo(text: &str) -> Result<Destinations, String> {
    if text.contains("No destinations configured") {
        return Ok(Destinations::NoneConfigured);
    }
    let mut out: Vec<Destination> = Vec::new();
    let mut current: Option<Destination> = None;
    for line in text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
    {
        if line.starts_with("====") {
            out.extend(current.take());
            current = Some(Destination::default());
            continue;
        }
        let (key, value) = line
            .split_once(" : ")
            .map(|(k, v)| (k.trim(), v.trim().to_string()))
            .ok_or_else(|| format!("unrecognised line {line:?}"))?;
        let d = current.get_or_insert_with(Destination::default);
        match key {
            "Name" => d.name = value,
            "Kind" => d.kind = value,
            "Mount Point" => d.mount_point = Some(value),
            "URL" => d.url = Some(value),
            // ID, LastDestination and other informational keys.
            _ => {}
        }
    }
    out.extend(current);
    if out.is_empty() {
        return Err("no destination block and no `No destinations configured`".into());
    }
    if let Some(d) = out.iter().find(|d| d.name.is_empty() || d.kind.is_empty()) {
        return Err(format!("a destination lacks its Name or Kind: {d:?}"));
    }
    Ok(Destinations::Configured(out))
}

/// What `tmutil latestbackup` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Latest {
    /// The newest backup's path and its start time (local, as printed).
    Backup {
        path: String,
        started: NaiveDateTime,
    },
    /// `Unable to locate …`: the destination holds no backup of this Mac.
    NoBackup(String),
    /// `Failed to mount backup destination …`.
    MountFailed(String),
}

/// Parse `tmutil latestbackup` (stdout and stderr together).
pub fn parse_latestbackup(text: &str) -> Result<Latest, String> {
    let text = text.trim();
    if let Some(l) = text.lines().find(|l| l.contains("Failed to mount")) {
        return Ok(Latest::MountFailed(l.trim().to_string()));
    }
    if let Some(l) = text.lines().find(|l| l.contains("Unable to locate")) {
        return Ok(Latest::NoBackup(l.trim().to_string()));
    }
    let mut lines = text.lines();
    let (Some(path), None) = (lines.next(), lines.next()) else {
        return Err(format!("expected one backup path, got {text:?}"));
    };
    if !path.starts_with('/') {
        return Err(format!("not a backup path: {path:?}"));
    }
    let base = path.rsplit('/').next().unwrap_or_default();
    let stamp = base.strip_suffix(".backup").unwrap_or(base);
    let started = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d-%H%M%S")
        .map_err(|_| format!("backup name {base:?} is not YYYY-MM-DD-HHMMSS"))?;
    Ok(Latest::Backup {
        path: path.to_string(),
        started,
    })
}

fn both(out: &crate::probe::CommandOutput) -> String {
    format!("{}\n{}", out.stdout_text(), out.stderr_text())
}

fn local(offset: FixedOffset, t: NaiveDateTime) -> Option<DateTime<Utc>> {
    offset
        .from_local_datetime(&t)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Observe Time Machine on the host behind `probe`.
pub(super) fn observe_time_machine(probe: &dyn Probe) -> Observation {
    let mut obs = Observation::new("newest backup");
    let fail = |mut obs: Observation, st: Status, why: String| {
        obs.problem = Some((st, why));
        obs
    };
    let argv = [TMUTIL, "destinationinfo"];
    // A destination URL may carry a password (`smb://user:secret@nas/share`): the evidence, like all
    // evidence, passes `crate::redact`, which cuts a URL's userinfo password.
    let (out, ev) = match probe.run_evidence(&argv) {
        Ok(r) => r,
        Err(e) => return fail(obs, Status::Error, format!("cannot run tmutil: {e}")),
    };
    obs.evidence.push(ev);
    let dests = match parse_destinationinfo(&both(&out)) {
        Ok(Destinations::NoneConfigured) => {
            return fail(
                obs,
                Status::Fail,
                "Time Machine has no destination configured: this Mac is not backed up".into(),
            )
        }
        Ok(Destinations::Configured(d)) => d,
        Err(e) => return fail(obs, Status::Error, format!("`tmutil destinationinfo`: {e}")),
    };
    obs.facts.insert(
        "destinations".into(),
        Value::from(
            dests
                .iter()
                .map(|d| format!("{} ({})", d.name, d.kind))
                .collect::<Vec<_>>(),
        ),
    );
    let argv = [TMUTIL, "latestbackup"];
    let (out, ev) = match probe.run_evidence(&argv) {
        Ok(r) => r,
        Err(e) => return fail(obs, Status::Error, format!("cannot run tmutil: {e}")),
    };
    obs.evidence.push(ev);
    match parse_latestbackup(&both(&out)) {
        Ok(Latest::Backup { path, started }) => {
            let Some(at) = local(probe.local_offset(), started) else {
                return fail(
                    obs,
                    Status::Error,
                    format!("{path}: local time {started} does not exist at this offset"),
                );
            };
            obs.facts.insert("latest_backup".into(), Value::from(path));
            obs.facts.insert(
                "finished_at".into(),
                Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            );
            obs.newest = Some(at);
            obs
        }
        Ok(Latest::NoBackup(line)) => fail(
            obs,
            Status::Fail,
            format!("no backup of this Mac on the Time Machine destination ({line})"),
        ),
        Ok(Latest::MountFailed(line)) => fail(
            obs,
            Status::Error,
            format!(
                "the Time Machine destination could not be mounted, newest backup unknown ({line})"
            ),
        ),
        Err(e) => fail(obs, Status::Error, format!("`tmutil latestbackup`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Evidence;

    #[test]
    fn destinationinfo_captures() {
        // Real capture (platforms reference A3).
        let nas = "====================================================\nName          : Tensho\nKind          : Network\nURL           : afp://Tensho;AUTH=SRP@Tensho%20AirPort%20Time%20Capsule._afpovertcp._tcp.local./Tensho\nMount Point   : /Volumes/Tensho\nID            : D397B0D6-2714-47D1-9860-4B7616EC61CC\n";
        let Destinations::Configured(d) = parse_destinationinfo(nas).unwrap() else {
            panic!()
        };
        assert_eq!(
            (d[0].name.as_str(), d[0].kind.as_str()),
            ("Tensho", "Network")
        );
        assert_eq!(d[0].mount_point.as_deref(), Some("/Volumes/Tensho"));
        assert_eq!(
            parse_destinationinfo("tmutil: No destinations configured.\n"),
            Ok(Destinations::NoneConfigured)
        );
        assert!(parse_destinationinfo("").is_err());
        assert!(parse_destinationinfo("Something else entirely\n").is_err());
    }

    #[test]
    fn latestbackup_paths_and_failures() {
        let hfs = parse_latestbackup("/Volumes/Tensho/Backups.backupdb/mac-01/2026-11-23-221503\n")
            .unwrap();
        assert_eq!(
            hfs,
            Latest::Backup {
                path: "/Volumes/Tensho/Backups.backupdb/mac-01/2026-11-23-221503".into(),
                started: NaiveDateTime::parse_from_str("2026-11-23 22:15:03", "%Y-%m-%d %H:%M:%S")
                    .unwrap()
            }
        );
        assert!(matches!(
            parse_latestbackup(
                "/Volumes/.timemachine/x/2026-11-23-221503.backup/2026-11-23-221503.backup\n"
            ),
            Ok(Latest::Backup { .. })
        ));
        assert!(matches!(
            parse_latestbackup("Failed to mount backup destination, error: Error Domain=TMBackupErrorDomain Code=18\n"),
            Ok(Latest::MountFailed(_))
        ));
        assert!(matches!(
            parse_latestbackup("Unable to locate machine directory for host.\n"),
            Ok(Latest::NoBackup(_))
        ));
        assert!(parse_latestbackup("").is_err());
        assert!(parse_latestbackup("/Volumes/T/Backups.backupdb/mac-01/Latest\n").is_err());
    }

    #[test]
    fn time_machine_source_takes_no_location_keys() {
        use crate::backup_freshness::BackupConfig;
        let ok: BackupConfig =
            toml::from_str("[[sources]]\nname = \"tm\"\nkind = \"time_machine\"\n").unwrap();
        ok.validate().unwrap();
        let bad: BackupConfig = toml::from_str(
            "[[sources]]\nname = \"tm\"\nkind = \"time_machine\"\npath = \"/Volumes/T\"\n",
        )
        .unwrap();
        let e = bad.validate().unwrap_err();
        assert!(e.contains("path"), "{e}");
    }

    #[test]
    fn destination_url_passwords_do_not_leave_the_host() {
        let argv = [TMUTIL, "destinationinfo"];
        let ev = Evidence::command(
            &argv,
            Some(0),
            b"Name          : NAS\nKind          : Network\nURL           : smb://backup:s3cret@nas.local/TimeMachine\n",
        );
        assert!(!ev.excerpt.contains("s3cret"), "{}", ev.excerpt);
        assert!(ev.excerpt.contains("smb://backup:"), "{}", ev.excerpt);
    }
}
