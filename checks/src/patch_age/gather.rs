//! What each package manager says about this host, read through the probe: pending updates,
//! metadata freshness, last upgrade run and reboot state. Parsing lives in the parser modules;
//! this module decides which files and commands to ask, and turns failures into messages.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::release::{self, IndexDate, ReleaseHeaders};
use super::repocache::{self, CacheKind};
use super::{apt, dnf, kernel, zypper};
use crate::probe::{CommandOutput, Probe, ProbeError};
use crate::{Evidence, EvidenceKind};

/// The simulated upgrade (no root needed, no lock taken, LC_ALL=C set by the probe).
pub const APT_SIMULATE: [&str; 5] = [
    "/usr/bin/apt-get",
    "-s",
    "-o",
    "Debug::NoLocking=1",
    "dist-upgrade",
];
const APT_LISTS: &str = "/var/lib/apt/lists";
/// Touched by `APT::Update::Post-Invoke-Success` hooks (Ubuntu's update-notifier-common ships one):
/// proof of a successful `apt-get update` where such a hook is installed.
const APT_UPDATE_SUCCESS_STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";
/// Changes on every `apt-get update` that downloads anything, failed runs included.
const APT_LISTS_PARTIAL: &str = "/var/lib/apt/lists/partial";
/// Rebuilt by any apt command that finds it out of date (dpkg status changed, lists changed),
/// including this check's own `apt-get -s` as root.
const APT_PKGCACHE: &str = "/var/cache/apt/pkgcache.bin";
const APT_HISTORY: &str = "/var/log/apt/history.log";
const UNATTENDED_LOG: &str = "/var/log/unattended-upgrades/unattended-upgrades.log";
const REBOOT_REQUIRED: &str = "/var/run/reboot-required";
const REBOOT_REQUIRED_PKGS: &str = "/var/run/reboot-required.pkgs";
const DNF_CACHES: [&str; 2] = ["/var/cache/dnf", "/var/cache/libdnf5"];
const DNF_RPM_LOG: &str = "/var/log/dnf.rpm.log";
const NEEDS_RESTARTING: [&str; 2] = ["/usr/bin/needs-restarting", "-r"];
const ZYPPER_LIST: [&str; 5] = [
    "/usr/bin/zypper",
    "--non-interactive",
    "--no-refresh",
    "--xmlout",
    "list-patches",
];
const ZYPP_CACHE: &str = "/var/cache/zypp/raw";
const ZYPP_HISTORY: &str = "/var/log/zypp/history";
const ZYPP_REBOOT_NEEDED: &str = "/var/run/reboot-needed";

/// A pending security update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpdate {
    pub package: String,
    pub version: String,
    /// The advisory that announced it (dnf, zypper).
    pub advisory: Option<String>,
    /// The advisory's issue date, when the package manager gives one.
    pub issued: Option<DateTime<Utc>>,
    /// apt: the earliest publication date of a package index listing this version.
    pub index_date: Option<IndexDate>,
}

/// One repository's metadata and when it was last refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSource {
    pub path: String,
    pub modified: Option<DateTime<Utc>>,
    /// apt: the Release file's `Date:`; dnf, zypper: when the server generated the repomd.xml.
    pub published: Option<DateTime<Utc>>,
    /// dnf, zypper: the file whose mtime gave `modified` (repomd.xml, the primary file dnf touches
    /// on an in-sync check, or the solv cache), when it is not `path` itself.
    pub dated_by: Option<String>,
}

/// A file or directory whose mtime tells when apt's package lists were last refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSignal {
    pub path: String,
    pub modified: Option<DateTime<Utc>>,
    /// Only written by a successful refresh: counts for the metadata age. Otherwise it is
    /// reported, not counted.
    pub proves_success: bool,
    /// Why it has no date: `absent`, `no mtime`, or the probe error.
    pub problem: Option<String>,
}

/// Whether the host must reboot to run what is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reboot {
    Required(String),
    NotRequired(String),
    /// The kernel is not the host's to patch (container, microVM booted by its host).
    NotApplicable(String),
    Unknown(String),
}

/// The last successful upgrade run and where it was found (or why none was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    pub at: Option<DateTime<Utc>>,
    pub source: String,
}

/// Everything the package manager told us.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub manager: &'static str,
    pub security: Vec<PendingUpdate>,
    pub other: usize,
    /// Upgrades the package manager will not install (apt holds, "not upgraded").
    pub held_back: usize,
    /// Where repository metadata was looked for (named when none is found).
    pub metadata_where: String,
    pub metadata: Vec<MetadataSource>,
    /// apt: the evidence of the last successful `apt-get update` (the metadata age is the newest
    /// of those that prove success). dnf: the makecache attempts, reported only; the age is the
    /// oldest repository's last refresh (see [`repocache`]). Empty for zypper.
    pub refresh: Vec<RefreshSignal>,
    /// apt: Release files whose `Date:` could not be read; their updates keep first-seen dates.
    pub index_problems: Vec<String>,
    pub last_run: LastRun,
    pub reboot: Reboot,
}

fn read_optional(
    probe: &dyn Probe,
    path: &str,
    evidence: &mut Vec<Evidence>,
) -> Result<Option<String>, ProbeError> {
    match probe.read_evidence(path) {
        Ok((text, ev)) => {
            evidence.push(ev);
            Ok(Some(text))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn run(
    probe: &dyn Probe,
    argv: &[&str],
    ok_exits: &[i32],
    evidence: &mut Vec<Evidence>,
) -> Result<CommandOutput, String> {
    finish(argv, probe.run(argv), ok_exits, evidence)
}

/// Turn a command's outcome into its output, or a message naming the command and its failure.
fn finish(
    argv: &[&str],
    result: Result<CommandOutput, ProbeError>,
    ok_exits: &[i32],
    evidence: &mut Vec<Evidence>,
) -> Result<CommandOutput, String> {
    let out = result.map_err(|e| format!("could not run `{}`: {e}", argv.join(" ")))?;
    evidence.push(Evidence::command(argv, out.exit_code, &out.stdout));
    match out.exit_code {
        Some(c) if ok_exits.contains(&c) => Ok(out),
        code => Err(format!(
            "`{}` failed (exit {}){}",
            argv.join(" "),
            code.map_or("by signal".to_string(), |c| c.to_string()),
            match out.stderr_text() {
                s if s.is_empty() => String::new(),
                s => format!(": {}", s.lines().last().unwrap_or_default()),
            }
        )),
    }
}

fn metadata_evidence(dir: &str, sources: &[MetadataSource]) -> Evidence {
    let listing: String = sources
        .iter()
        .map(|s| {
            let mut line = format!(
                "{}  {}",
                s.modified
                    .map_or("mtime unknown".into(), |t| t.to_rfc3339()),
                s.path
            );
            if let Some(by) = s.dated_by.as_ref().filter(|b| **b != s.path) {
                line.push_str(&format!("  (dated by {by})"));
            }
            if let Some(p) = s
                .published
                .filter(|_| s.dated_by.is_some() || s.modified.is_none())
            {
                line.push_str(&format!("  published {}", p.to_rfc3339()));
            }
            line.push('\n');
            line
        })
        .collect();
    Evidence::new(EvidenceKind::Directory, dir, listing.as_bytes())
}

/// apt: `apt-get -s dist-upgrade`, `/var/lib/apt/lists/*_InRelease` mtimes and header paragraphs
/// (which suites are security archives, their `Date:`), the mtimes that tell when `apt-get update` last
/// ran (update-success stamp, `lists/partial`, `pkgcache.bin`), apt history and unattended-upgrades logs,
/// `/var/run/reboot-required`.
///
/// `security_suites`: labels, suites or codenames also counted as security archives. When no
/// Release file and no candidate origin is a security archive, security updates cannot be told
/// apart from the others: that is an error, not "no security update pending".
pub fn apt(
    probe: &dyn Probe,
    evidence: &mut Vec<Evidence>,
    security_suites: &[String],
) -> Result<Gathered, String> {
    let names = probe.read_dir(APT_LISTS).map_err(|e| {
        if e.is_not_found() {
            format!("no package index: {APT_LISTS} does not exist (apt-get update never ran), so pending updates cannot be determined")
        } else {
            format!("could not list {APT_LISTS}: {e}")
        }
    })?;
    let mut metadata = Vec::new();
    for name in &names {
        let release_only = name
            .strip_suffix("_Release")
            .is_some_and(|p| !names.contains(&format!("{p}_InRelease")));
        if name.ends_with("_InRelease") || release_only {
            let path = format!("{APT_LISTS}/{name}");
            let md = probe
                .metadata(&path)
                .map_err(|e| format!("could not stat {path}: {e}"))?;
            metadata.push(MetadataSource {
                path,
                modified: md.modified,
                published: None,
                dated_by: None,
            });
        }
    }
    if metadata.is_empty() {
        return Err(format!("no package index in {APT_LISTS} (no *_InRelease or *_Release file: apt-get update never ran?), so pending updates cannot be determined"));
    }
    evidence.push(metadata_evidence(APT_LISTS, &metadata));
    let refresh = apt_refresh_signals(probe, &metadata, evidence);

    let out = run(probe, &APT_SIMULATE, &[0], evidence)?;
    let sim = apt::parse_apt_simulation(&out.stdout_text()).map_err(|e| {
        format!(
            "could not understand the output of `{}`: {e}",
            APT_SIMULATE.join(" ")
        )
    })?;
    let mut index_problems = Vec::new();
    let indexes = release_headers(probe, &mut metadata, &mut index_problems, evidence);
    let (sec, other): (Vec<_>, Vec<_>) = sim.candidates.iter().partition(|c| {
        c.releases
            .iter()
            .any(|o| release::origin_is_security(o, &indexes, security_suites))
    });
    if sec.is_empty() && !indexes.iter().any(|(_, h)| h.is_security(security_suites)) {
        return Err(no_security_archive(
            &indexes,
            &index_problems,
            sim.candidates.len(),
            security_suites,
        ));
    }
    let security = sec
        .iter()
        .map(|c| PendingUpdate {
            package: c.package.clone(),
            version: c.candidate.clone(),
            advisory: None,
            issued: None,
            index_date: release::candidate_index_date(&c.releases, &indexes),
        })
        .collect();

    let offset = probe.local_offset();
    let mut found: Vec<(DateTime<Utc>, &str)> = Vec::new();
    let mut notes = Vec::new();
    match read_optional(probe, APT_HISTORY, evidence) {
        Ok(Some(text)) => found.extend(
            apt::parse_apt_history(&text, offset)
                .iter()
                .filter(|r| r.is_patch_run() && !r.failed)
                .map(|r| (r.end, APT_HISTORY)),
        ),
        Ok(None) => notes.push(format!("{APT_HISTORY} absent")),
        Err(e) => notes.push(e.to_string()),
    }
    match read_optional(probe, UNATTENDED_LOG, evidence) {
        Ok(Some(text)) => found.extend(
            apt::parse_unattended_log(&text, offset)
                .into_iter()
                .map(|t| (t, UNATTENDED_LOG)),
        ),
        Ok(None) => {}
        Err(e) => notes.push(e.to_string()),
    }
    let last_run = match found.iter().max() {
        Some((t, src)) => LastRun {
            at: Some(*t),
            source: src.to_string(),
        },
        None => LastRun {
            at: None,
            source: if notes.is_empty() {
                format!("no successful upgrade run in {APT_HISTORY} or {UNATTENDED_LOG} (rotated logs are not read)")
            } else {
                format!("no successful upgrade run found ({})", notes.join("; "))
            },
        },
    };

    let reboot = match read_optional(probe, REBOOT_REQUIRED, evidence) {
        Ok(Some(_)) => {
            let pkgs = read_optional(probe, REBOOT_REQUIRED_PKGS, evidence)
                .ok()
                .flatten()
                .map(|t| {
                    let set: BTreeSet<&str> =
                        t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                    set.into_iter().collect::<Vec<_>>().join(", ")
                })
                .filter(|s| !s.is_empty());
            Reboot::Required(match pkgs {
                Some(p) => format!("{REBOOT_REQUIRED} present, for {p}"),
                None => format!("{REBOOT_REQUIRED} present"),
            })
        }
        Ok(None) => kernel_reboot(probe, evidence),
        Err(e) => Reboot::Unknown(e.to_string()),
    };

    Ok(Gathered {
        manager: "apt",
        security,
        other: other.len(),
        held_back: sim.not_upgraded,
        metadata_where: APT_LISTS.to_string(),
        metadata,
        refresh,
        index_problems,
        last_run,
        reboot,
    })
}

/// The error when no configured apt source is a security archive: names the suites found, the
/// Release files that could not be read, and the two ways out.
fn no_security_archive(
    indexes: &[(String, ReleaseHeaders)],
    problems: &[String],
    pending: usize,
    security_suites: &[String],
) -> String {
    let mut found: Vec<String> = indexes.iter().map(|(f, h)| h.describe(f)).collect();
    found.sort();
    found.dedup();
    let mut listed = if found.is_empty() {
        "no readable Release file".to_string()
    } else if found.len() > 8 {
        format!(
            "suites found: {} and {} more",
            found[..8].join(", "),
            found.len() - 8
        )
    } else {
        format!("suites found: {}", found.join(", "))
    };
    if !problems.is_empty() {
        listed.push_str(&format!("; unreadable: {}", problems.join("; ")));
    }
    let extra = if security_suites.is_empty() {
        String::new()
    } else {
        format!(" (now {:?}, none of which matches)", security_suites)
    };
    format!(
        "no security archive among the configured apt sources ({listed}): security updates cannot be told apart from other updates ({} pending); add the distribution's security suite to the apt sources (Debian: <codename>-security from security.debian.org, Ubuntu: <codename>-security) or configure [checks.patch_age] security_suites{extra} with the label, suite or codename that carries security updates",
        plural_updates(pending)
    )
}

fn plural_updates(n: usize) -> String {
    format!("{n} {}", if n == 1 { "update" } else { "updates" })
}

/// The mtime of a path as a refresh signal; a missing path or mtime is noted, not an error.
fn stat_signal(probe: &dyn Probe, path: &str, proves_success: bool) -> RefreshSignal {
    let (modified, problem) = match probe.metadata(path) {
        Ok(md) if md.modified.is_some() => (md.modified, None),
        Ok(_) => (None, Some("no mtime".to_string())),
        Err(e) if e.is_not_found() => (None, Some("absent".to_string())),
        Err(e) => (None, Some(e.to_string())),
    };
    RefreshSignal {
        path: path.to_string(),
        modified,
        proves_success,
        problem,
    }
}

/// When did `apt-get update` last succeed? Counted: the update-success stamp and the newest
/// Release file (a file is only replaced by a successful download; its mtime is the server's
/// Last-Modified, at or before the download). Reported only: `lists/partial` (failed runs touch
/// it too) and `pkgcache.bin` (rebuilt after any dpkg change, by `apt-get -s` too).
fn apt_refresh_signals(
    probe: &dyn Probe,
    metadata: &[MetadataSource],
    evidence: &mut Vec<Evidence>,
) -> Vec<RefreshSignal> {
    let mut signals = vec![stat_signal(probe, APT_UPDATE_SUCCESS_STAMP, true)];
    signals.push(
        match metadata
            .iter()
            .filter(|m| m.modified.is_some())
            .max_by_key(|m| m.modified)
        {
            Some(m) => RefreshSignal {
                path: m.path.clone(),
                modified: m.modified,
                proves_success: true,
                problem: None,
            },
            None => RefreshSignal {
                path: format!("{APT_LISTS}/*_InRelease"),
                modified: None,
                proves_success: true,
                problem: Some("no Release file has an mtime".to_string()),
            },
        },
    );
    signals.push(stat_signal(probe, APT_LISTS_PARTIAL, false));
    signals.push(stat_signal(probe, APT_PKGCACHE, false));
    let listing: String = signals
        .iter()
        .map(|s| {
            let state = match (&s.modified, &s.problem) {
                (Some(t), _) => t.to_rfc3339(),
                (None, Some(p)) => p.clone(),
                (None, None) => "mtime unknown".to_string(),
            };
            format!("{state}  {}\n", s.path)
        })
        .collect();
    evidence.push(Evidence::new(
        EvidenceKind::File,
        format!("{APT_UPDATE_SUCCESS_STAMP} {APT_LISTS_PARTIAL} {APT_PKGCACHE} (mtimes)"),
        listing.as_bytes(),
    ));
    signals
}

/// Read the header paragraph of each apt Release file in `metadata`, noting its `Date:` there.
/// A file that cannot be read or parsed is a problem noted, not an error: the updates it would
/// date keep their first-seen dates, as before index dates were used.
fn release_headers(
    probe: &dyn Probe,
    metadata: &mut [MetadataSource],
    problems: &mut Vec<String>,
    evidence: &mut Vec<Evidence>,
) -> Vec<(String, ReleaseHeaders)> {
    let mut indexes = Vec::new();
    for m in metadata.iter_mut() {
        let name = m.path.rsplit('/').next().unwrap_or(&m.path).to_string();
        match probe.read_evidence(&m.path) {
            Ok((text, ev)) => {
                evidence.push(ev);
                match release::parse_release_headers(&text) {
                    Ok(h) => {
                        m.published = h.date;
                        indexes.push((name, h));
                    }
                    Err(e) => problems.push(format!("{}: {e}", m.path)),
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    indexes
}

/// dnf (4 or 5; yum when dnf is not installed): `updateinfo list --security`, `updateinfo info
/// --security` for dnf4's dates, `check-update`, repomd.xml mtimes, `/var/log/dnf.rpm.log`,
/// `needs-restarting -r`.
pub fn dnf(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Gathered, String> {
    let offset = probe.local_offset();
    let mut program = "/usr/bin/dnf";
    let list_args = ["-q", "-C", "updateinfo", "list", "--security"];
    let argv = |p: &'static str, args: &[&'static str]| {
        let mut v = vec![p];
        v.extend_from_slice(args);
        v
    };
    let list_out = match probe.run(&argv(program, &list_args)) {
        Err(e) if e.is_not_found() => {
            program = "/usr/bin/yum";
            run(probe, &argv(program, &list_args), &[0], evidence)?
        }
        result => finish(&argv(program, &list_args), result, &[0], evidence)?,
    };
    let list_argv = argv(program, &list_args).join(" ");
    let advisories = dnf::parse_updateinfo_list(&list_out.stdout_text(), offset)
        .map_err(|e| format!("could not understand the output of `{list_argv}`: {e}"))?;

    let mut dates: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    if advisories.iter().any(|a| a.issued.is_none()) {
        let info_args = ["-q", "-C", "updateinfo", "info", "--security"];
        let info_argv = argv(program, &info_args);
        let out = run(probe, &info_argv, &[0], evidence)?;
        dates = dnf::parse_updateinfo_info(&out.stdout_text(), offset).map_err(|e| {
            format!(
                "could not understand the output of `{}`: {e}",
                info_argv.join(" ")
            )
        })?;
    }
    // One package may be fixed by several advisories: keep the oldest date, it is the one the
    // host has been exposed to longest.
    let mut by_pkg: BTreeMap<(String, String), PendingUpdate> = BTreeMap::new();
    let mut security_names = BTreeSet::new();
    for a in &advisories {
        security_names.insert(format!("{}.{}", a.package.name, a.package.arch));
        let issued = a.issued.or_else(|| dates.get(&a.advisory).copied());
        let entry = by_pkg
            .entry((a.package.name.clone(), a.package.evr.clone()))
            .or_insert_with(|| PendingUpdate {
                package: a.package.name.clone(),
                version: a.package.evr.clone(),
                advisory: Some(a.advisory.clone()),
                issued,
                index_date: None,
            });
        if let Some(t) = issued {
            if entry.issued.is_none_or(|e| t < e) {
                entry.issued = Some(t);
                entry.advisory = Some(a.advisory.clone());
            }
        }
    }

    let cu_argv = argv(program, &["-q", "-C", "check-update"]);
    let out = run(probe, &cu_argv, &[0, 100], evidence)?;
    let all = dnf::parse_check_update(&out.stdout_text()).map_err(|e| {
        format!(
            "could not understand the output of `{}`: {e}",
            cu_argv.join(" ")
        )
    })?;
    let other = all
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|n| !security_names.contains(*n))
        .count();

    let mut metadata = Vec::new();
    for base in DNF_CACHES {
        metadata.extend(repocache::repositories(probe, base, CacheKind::Dnf));
    }
    let refresh = repocache::dnf_attempts(probe);
    if !metadata.is_empty() {
        evidence.push(metadata_evidence(&DNF_CACHES.join(" "), &metadata));
    }

    let last_run = match read_optional(probe, DNF_RPM_LOG, evidence) {
        Ok(Some(text)) => match dnf::parse_rpm_log_last_upgrade(&text) {
            Some(t) => LastRun {
                at: Some(t),
                source: DNF_RPM_LOG.to_string(),
            },
            None => LastRun {
                at: None,
                source: format!("no package upgrade in {DNF_RPM_LOG} (rotated logs are not read)"),
            },
        },
        Ok(None) => LastRun {
            at: None,
            source: format!("{DNF_RPM_LOG} absent (dnf5 does not write it)"),
        },
        Err(e) => LastRun {
            at: None,
            source: e.to_string(),
        },
    };

    let reboot = match probe.run_evidence(&NEEDS_RESTARTING) {
        Ok((out, ev)) => {
            evidence.push(ev);
            match kernel::parse_needs_restarting(out.exit_code, &out.stdout_text()) {
                kernel::NeedsRestarting::Required => {
                    Reboot::Required("needs-restarting -r: reboot is required".into())
                }
                kernel::NeedsRestarting::NotRequired => Reboot::NotRequired(
                    "needs-restarting -r: reboot should not be necessary".into(),
                ),
                kernel::NeedsRestarting::Unclear => kernel_reboot(probe, evidence),
            }
        }
        Err(e) if e.is_not_found() => kernel_reboot(probe, evidence),
        Err(e) => Reboot::Unknown(e.to_string()),
    };

    Ok(Gathered {
        manager: if program.ends_with("yum") {
            "yum"
        } else {
            "dnf"
        },
        security: by_pkg.into_values().collect(),
        other,
        held_back: 0,
        metadata_where: DNF_CACHES.join(" and "),
        metadata,
        refresh,
        index_problems: Vec::new(),
        last_run,
        reboot,
    })
}

/// zypper: `--xmlout list-patches` (security category, issue dates), repomd.xml mtimes, the zypp
/// history, `/var/run/reboot-needed`.
pub fn zypper(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Gathered, String> {
    // 100: updates needed, 101: security updates needed, 102/103: reboot / zypper restart needed.
    let out = run(probe, &ZYPPER_LIST, &[0, 100, 101, 102, 103], evidence)?;
    let patches = zypper::parse_list_patches(&out.stdout_text()).map_err(|e| {
        format!(
            "could not understand the output of `{}`: {e}",
            ZYPPER_LIST.join(" ")
        )
    })?;
    let needed: Vec<_> = patches.iter().filter(|p| p.status == "needed").collect();
    let security = needed
        .iter()
        .filter(|p| p.category == "security")
        .map(|p| PendingUpdate {
            package: p.name.clone(),
            version: p.edition.clone(),
            advisory: Some(p.name.clone()),
            issued: p.issued,
            index_date: None,
        })
        .collect();
    let other = needed.iter().filter(|p| p.category != "security").count();
    let metadata = repocache::repositories(probe, ZYPP_CACHE, CacheKind::Zypp);
    if !metadata.is_empty() {
        evidence.push(metadata_evidence(ZYPP_CACHE, &metadata));
    }
    let last_run = match read_optional(probe, ZYPP_HISTORY, evidence) {
        Ok(Some(text)) => LastRun {
            at: zypper::parse_zypp_history_last_patch(&text, probe.local_offset()),
            source: ZYPP_HISTORY.to_string(),
        },
        Ok(None) => LastRun {
            at: None,
            source: format!("{ZYPP_HISTORY} absent"),
        },
        Err(e) => LastRun {
            at: None,
            source: e.to_string(),
        },
    };
    let reboot = match read_optional(probe, ZYPP_REBOOT_NEEDED, evidence) {
        Ok(Some(_)) => Reboot::Required(format!("{ZYPP_REBOOT_NEEDED} present")),
        Ok(None) => kernel_reboot(probe, evidence),
        Err(e) => Reboot::Unknown(e.to_string()),
    };
    Ok(Gathered {
        manager: "zypper",
        security,
        other,
        held_back: 0,
        metadata_where: ZYPP_CACHE.to_string(),
        metadata,
        refresh: Vec::new(),
        index_problems: Vec::new(),
        last_run,
        reboot,
    })
}

/// Compare the running kernel with the newest `/boot/vmlinuz-*`.
fn kernel_reboot(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Reboot {
    let running = match probe.read_evidence("/proc/sys/kernel/osrelease") {
        Ok((t, ev)) => {
            evidence.push(ev);
            t.trim().to_string()
        }
        Err(e) => return Reboot::Unknown(format!("running kernel unknown: {e}")),
    };
    let entries = match probe.read_dir("/boot") {
        Ok(e) => e,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Reboot::Unknown(format!("could not list /boot: {e}")),
    };
    let Some(newest) = kernel::newest_boot_kernel(&entries) else {
        return Reboot::NotApplicable(format!(
            "kernel state not applicable: no /boot/vmlinuz-* (container or VM booted by its host), running {running}"
        ));
    };
    evidence.push(Evidence::new(
        EvidenceKind::Directory,
        "/boot",
        entries.join("\n").as_bytes(),
    ));
    if kernel::compare_versions(&newest, &running) == std::cmp::Ordering::Greater {
        Reboot::Required(format!(
            "running kernel {running} is older than the installed {newest}"
        ))
    } else {
        Reboot::NotRequired(format!("running kernel {running} is the newest installed"))
    }
}
