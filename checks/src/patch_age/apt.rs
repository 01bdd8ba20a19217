//! apt: the simulated `dist-upgrade`, the security classification of its candidates, and the
//! history logs that tell when the host was last upgraded.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Why apt output could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AptParseError {
    #[error("line {line}: unparseable `Inst` line: {text:?}")]
    BadInst { line: usize, text: String },
    #[error("no `N upgraded, N newly installed, …` summary line: the output is not apt-get's simulation")]
    NoSummary,
    #[error("summary announces {announced} packages to install but {listed} `Inst` lines were found (truncated output?)")]
    CountMismatch { announced: usize, listed: usize },
}

/// One package file a candidate version comes from: `Label:Version/Archive` in apt's `RelStr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptRelease {
    /// The Release file's `Label` (`Debian-Security`, `Ubuntu`, `UbuntuESMApps` …), empty if none.
    pub label: String,
    /// The Release file's `Version` (`12.15`, `24.04`), empty if none.
    pub version: String,
    /// The archive (the Release file's `Suite`): `oldstable-security`, `noble-updates` …
    pub archive: String,
}

/// One `Inst` line of `apt-get -s dist-upgrade`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptCandidate {
    pub package: String,
    /// Installed version; `None` for a package the upgrade newly installs (a new kernel ABI).
    pub installed: Option<String>,
    pub candidate: String,
    pub releases: Vec<AptRelease>,
}

impl AptCandidate {
    /// Security when any of its package files is a security archive: a version that is in both
    /// `-updates` and `-security` is a security fix.
    /// `extra`: suite names or labels also counted as security (`security_suites`).
    pub fn is_security(&self, extra: &[String]) -> bool {
        self.releases.iter().any(|r| r.is_security(extra))
    }
}

impl AptRelease {
    /// Whether this package file is a security archive, by [`is_security_archive`]
    /// (apt's archive is the Release file's `Suite:`).
    pub fn is_security(&self, extra: &[String]) -> bool {
        is_security_archive(&self.label, &self.archive, "", extra)
    }
}

/// The one rule that makes an archive a security archive, for apt's candidate origins and for
/// the Release files in `/var/lib/apt/lists` alike:
/// - `Label: Debian-Security` (Debian's security archive, whatever its suite is called);
/// - a suite (or codename) ending in `-security`: Debian's `bookworm-security`, Ubuntu's
///   `noble-security`, Ubuntu Pro/ESM's `noble-infra-security` and `noble-apps-security`;
/// - a label, suite or codename listed in `extra` (`[checks.patch_age] security_suites`, for
///   derivatives that ship security fixes under other names).
pub fn is_security_archive(label: &str, suite: &str, codename: &str, extra: &[String]) -> bool {
    label == "Debian-Security"
        || suite.ends_with("-security")
        || codename.ends_with("-security")
        || extra.iter().any(|e| {
            [label, suite, codename]
                .iter()
                .any(|v| !v.is_empty() && v == e)
        })
}

/// What the simulation says will happen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AptSimulation {
    pub candidates: Vec<AptCandidate>,
    /// The summary's "N not upgraded": held or uninstallable upgrades the simulation leaves out.
    pub not_upgraded: usize,
}

/// Parse the output of `apt-get -s -o Debug::NoLocking=1 dist-upgrade` (`LC_ALL=C`).
///
/// The summary line must be present and agree with the number of `Inst` lines, so a truncated
/// or foreign output is an error rather than "nothing pending".
pub fn parse_apt_simulation(text: &str) -> Result<AptSimulation, AptParseError> {
    let mut sim = AptSimulation::default();
    let mut announced = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("Inst ") {
            let cand = parse_inst(rest).ok_or_else(|| AptParseError::BadInst {
                line: i + 1,
                text: line.to_string(),
            })?;
            sim.candidates.push(cand);
        } else if let Some((installs, not_upgraded)) = parse_summary(line) {
            announced = Some(installs);
            sim.not_upgraded = not_upgraded;
        }
    }
    let announced = announced.ok_or(AptParseError::NoSummary)?;
    if announced != sim.candidates.len() {
        return Err(AptParseError::CountMismatch {
            announced,
            listed: sim.candidates.len(),
        });
    }
    Ok(sim)
}

/// `pkg [old] (new Label:Ver/Archive, Label:Ver/Archive [arch]) []`
fn parse_inst(rest: &str) -> Option<AptCandidate> {
    let (package, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (installed, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let (old, r) = r.split_once(']')?;
            (Some(old.to_string()), r.trim_start())
        }
        None => (None, rest),
    };
    let inner = rest.strip_prefix('(')?;
    let close = inner.rfind(')')?;
    let inner = &inner[..close];
    let (candidate, mut rels) = inner.split_once(' ').unwrap_or((inner, ""));
    // The architecture closes the list: ` [amd64]`.
    if let Some(open) = rels.rfind(" [") {
        if rels.ends_with(']') {
            rels = &rels[..open];
        }
    }
    if package.is_empty() || candidate.is_empty() {
        return None;
    }
    let releases = rels
        .split(", ")
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let r = r.trim();
            let (label, ver_arch) = r.split_once(':').unwrap_or(("", r));
            let (version, archive) = ver_arch.split_once('/').unwrap_or(("", ver_arch));
            AptRelease {
                label: label.to_string(),
                version: version.to_string(),
                archive: archive.to_string(),
            }
        })
        .collect();
    Some(AptCandidate {
        package: package.to_string(),
        installed,
        candidate: candidate.to_string(),
        releases,
    })
}

/// `132 upgraded, 1 newly installed, 0 reinstalled, 0 downgraded, 0 to remove and 2 not upgraded.`
/// Returns (packages installed by the run, packages not upgraded).
fn parse_summary(line: &str) -> Option<(usize, usize)> {
    let line = line.trim().strip_suffix('.')?;
    let (head, not_upgraded) = line.rsplit_once(" and ")?;
    let not_upgraded = not_upgraded
        .strip_suffix(" not upgraded")?
        .trim()
        .parse()
        .ok()?;
    let mut installs = 0;
    let mut saw_upgraded = false;
    for part in head.split(", ") {
        let (n, what) = part.trim().split_once(' ')?;
        let n: usize = n.parse().ok()?;
        match what {
            "upgraded" => {
                saw_upgraded = true;
                installs += n;
            }
            "newly installed" | "reinstalled" | "downgraded" => installs += n,
            "to remove" => {}
            _ => return None,
        }
    }
    saw_upgraded.then_some((installs, not_upgraded))
}

/// One transaction of `/var/log/apt/history.log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptHistoryRun {
    pub commandline: String,
    pub end: DateTime<Utc>,
    pub failed: bool,
}

impl AptHistoryRun {
    /// A patch run upgrades the system as a whole: `upgrade`, `dist-upgrade`, `full-upgrade` or an
    /// unattended-upgrades run. An `install` that happens to upgrade one package is not one.
    pub fn is_patch_run(&self) -> bool {
        let words: Vec<&str> = self.commandline.split_whitespace().collect();
        words.iter().any(|w| {
            matches!(*w, "upgrade" | "dist-upgrade" | "full-upgrade")
                || w.ends_with("unattended-upgrade")
                || w.ends_with("unattended-upgrades")
        })
    }
}

/// Parse `/var/log/apt/history.log` (times are the host's local time, `offset`). Blocks without
/// an `End-Date` (a run still going, or killed) are skipped.
pub fn parse_apt_history(text: &str, offset: FixedOffset) -> Vec<AptHistoryRun> {
    let mut runs = Vec::new();
    let mut cmd = String::new();
    let mut failed = false;
    for line in text.lines() {
        if line.starts_with("Start-Date:") {
            cmd.clear();
            failed = false;
        } else if let Some(c) = line.strip_prefix("Commandline:") {
            cmd = c.trim().to_string();
        } else if line.starts_with("Error:") {
            failed = true;
        } else if let Some(d) = line.strip_prefix("End-Date:") {
            if let Some(end) = local_time(d.trim(), "%Y-%m-%d  %H:%M:%S", offset) {
                runs.push(AptHistoryRun {
                    commandline: cmd.clone(),
                    end,
                    failed,
                });
            }
        }
    }
    runs
}

/// Times at which `/var/log/unattended-upgrades/unattended-upgrades.log` says
/// `All upgrades installed` (local time, `offset`).
pub fn parse_unattended_log(text: &str, offset: FixedOffset) -> Vec<DateTime<Utc>> {
    text.lines()
        .filter(|l| l.contains(" INFO All upgrades installed"))
        .filter_map(|l| l.get(..19))
        .filter_map(|ts| local_time(ts, "%Y-%m-%d %H:%M:%S", offset))
        .collect()
}

fn local_time(s: &str, fmt: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s, fmt).ok()?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIM: &str = "\
NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  bash libgcrypt20 liblzma-dev
3 upgraded, 0 newly installed, 0 to remove and 1 not upgraded.
Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
Inst libgcrypt20 [1.10.1-3] (1.10.1-3+deb12u1 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst liblzma-dev [5.4.1-1] (5.4.1-1+deb12u2 Debian-Security:12/oldstable-security [amd64]) []
Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])
";

    #[test]
    fn parses_debian_simulation_and_classifies_security() {
        let sim = parse_apt_simulation(SIM).unwrap();
        assert_eq!(sim.not_upgraded, 1);
        let sec: Vec<_> = sim
            .candidates
            .iter()
            .map(|c| (c.package.as_str(), c.candidate.as_str(), c.is_security(&[])))
            .collect();
        assert_eq!(
            sec,
            vec![
                ("bash", "5.2.15-2+b13", false),
                ("libgcrypt20", "1.10.1-3+deb12u1", true),
                ("liblzma-dev", "5.4.1-1+deb12u2", true),
            ]
        );
        assert_eq!(sim.candidates[1].installed.as_deref(), Some("1.10.1-3"));
        assert_eq!(
            sim.candidates[1].releases,
            vec![
                AptRelease {
                    label: "Debian".into(),
                    version: "12.15".into(),
                    archive: "oldstable".into()
                },
                AptRelease {
                    label: "Debian-Security".into(),
                    version: "12".into(),
                    archive: "oldstable-security".into()
                },
            ]
        );
    }

    #[test]
    fn ubuntu_security_esm_new_installs_and_labels_with_spaces() {
        let text = "\
Inst libsoup-3.0-0 [3.4.4-5ubuntu0.5] (3.4.4-5ubuntu0.6 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64]) []
Inst libegl-mesa0 [25.2.8-0ubuntu0.24.04.2] (25.2.8-0ubuntu0.24.04.4 Ubuntu:24.04/noble-updates [amd64]) []
Inst python3-jinja2 [3.1.2-1ubuntu1.1] (3.1.2-1ubuntu1.2+esm1 UbuntuESMApps:24.04/noble-apps-security [all])
Inst linux-image-6.8.0-86-generic (6.8.0-86.87 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Inst docker-ce [5:27.3.1-1~ubuntu.24.04~noble] (5:27.4.0-1~ubuntu.24.04~noble Docker CE:noble/noble [amd64])
4 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
";
        let sim = parse_apt_simulation(text).unwrap();
        let sec: Vec<bool> = sim.candidates.iter().map(|c| c.is_security(&[])).collect();
        assert_eq!(sec, vec![true, false, true, true, false]);
        assert_eq!(sim.candidates[3].installed, None);
        assert_eq!(sim.candidates[4].candidate, "5:27.4.0-1~ubuntu.24.04~noble");
        assert_eq!(sim.candidates[4].releases[0].label, "Docker CE");
    }

    #[test]
    fn security_archive_classification() {
        let none: &[String] = &[];
        // Debian: by label (its suite is `oldstable-security`, its codename `bookworm-security`).
        assert!(is_security_archive(
            "Debian-Security",
            "oldstable-security",
            "bookworm-security",
            none
        ));
        assert!(is_security_archive("Debian-Security", "", "", none));
        // Ubuntu and Ubuntu Pro/ESM pockets, by suite.
        assert!(is_security_archive(
            "Ubuntu",
            "noble-security",
            "noble",
            none
        ));
        assert!(is_security_archive(
            "UbuntuESM",
            "noble-infra-security",
            "noble",
            none
        ));
        assert!(is_security_archive(
            "UbuntuESMApps",
            "noble-apps-security",
            "noble",
            none
        ));
        // A suite known only by its codename.
        assert!(is_security_archive("", "", "daedalus-security", none));
        // Ordinary suites and third-party repositories are not.
        for (label, suite, codename) in [
            ("Debian", "oldstable", "bookworm"),
            ("Debian", "oldstable-updates", "bookworm-updates"),
            (
                "Debian Backports",
                "oldstable-backports",
                "bookworm-backports",
            ),
            ("Ubuntu", "noble-updates", "noble"),
            ("Raspbian", "stable", "bookworm"),
            ("Docker CE", "noble", "noble"),
            ("", "", ""),
        ] {
            assert!(
                !is_security_archive(label, suite, codename, none),
                "{label} {suite}"
            );
        }
        // security_suites adds names, matched exactly against label, suite or codename.
        let extra = vec!["Raspbian-Security".to_string(), "kali-rolling".to_string()];
        assert!(is_security_archive(
            "Raspbian-Security",
            "stable",
            "bookworm",
            &extra
        ));
        assert!(is_security_archive(
            "Kali",
            "kali-rolling",
            "kali-rolling",
            &extra
        ));
        assert!(!is_security_archive(
            "Raspbian", "stable", "bookworm", &extra
        ));
        assert!(!is_security_archive("", "", "", &["".to_string()]));
        // Candidates use the same rule on apt's `Label:Version/Archive`.
        let r = AptRelease {
            label: "Kali".into(),
            version: "2026.3".into(),
            archive: "kali-rolling".into(),
        };
        assert!(!r.is_security(none));
        assert!(r.is_security(&extra));
    }

    #[test]
    fn nothing_pending_is_an_empty_list_not_an_error() {
        let sim = parse_apt_simulation(
            "Reading package lists...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n",
        )
        .unwrap();
        assert!(sim.candidates.is_empty());
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert_eq!(
            parse_apt_simulation("E: Could not open lock file\n<html>"),
            Err(AptParseError::NoSummary)
        );
        assert!(matches!(
            parse_apt_simulation(
                "Inst ???\n1 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
            ),
            Err(AptParseError::BadInst { line: 1, .. })
        ));
        assert_eq!(
            parse_apt_simulation("2 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\nInst bash [1] (2 Debian:12/stable [amd64])\n"),
            Err(AptParseError::CountMismatch { announced: 2, listed: 1 })
        );
    }

    #[test]
    fn history_keeps_patch_runs_and_failures() {
        let text = "\
Start-Date: 2026-05-09  07:28:46
Commandline: apt-get install -y tzdata
Upgrade: tzdata:amd64 (2025b-0+deb12u1, 2025b-0+deb12u2)
End-Date: 2026-05-09  07:28:50

Start-Date: 2026-10-01  06:10:02
Commandline: /usr/bin/unattended-upgrade
Upgrade: libssl3:amd64 (3.0.15-1~deb12u1, 3.0.17-1~deb12u2)
End-Date: 2026-10-01  06:10:40

Start-Date: 2026-11-02  09:00:00
Commandline: apt-get dist-upgrade -y
Error: Sub-process /usr/bin/dpkg returned an error code (1)
End-Date: 2026-11-02  09:01:00
";
        let runs = parse_apt_history(text, FixedOffset::east_opt(3600).unwrap());
        assert_eq!(runs.len(), 3);
        assert!(!runs[0].is_patch_run());
        assert!(runs[1].is_patch_run() && !runs[1].failed);
        assert_eq!(runs[1].end.to_rfc3339(), "2026-10-01T05:10:40+00:00");
        assert!(runs[2].is_patch_run() && runs[2].failed);
    }

    #[test]
    fn unattended_log_success_lines() {
        let text = "\
2026-11-20 06:25:11,593 INFO Allowed origins are: o=Debian,a=bookworm, o=Debian,a=bookworm-security
2026-11-20 06:26:26,542 INFO Packages that will be upgraded: libssl3 openssl
2026-11-20 06:26:43,967 INFO All upgrades installed
2026-11-21 06:26:43,967 ERROR Installing the upgrades failed!
";
        let t = parse_unattended_log(text, FixedOffset::east_opt(0).unwrap());
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].to_rfc3339(), "2026-11-20T06:26:43+00:00");
    }
}
