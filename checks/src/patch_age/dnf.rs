//! dnf (4 and 5) and yum: security advisories with their dates, the full list of pending
//! updates, and the rpm transaction log.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

/// Why dnf output could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnfParseError {
    #[error("line {line}: not an advisory line (`ID Severity/Sec. NEVRA` or dnf5 `ID security Severity NEVRA Issued`): {text:?}")]
    BadAdvisory { line: usize, text: String },
    #[error("line {line}: `{nevra}` is not a package name-[epoch:]version-release.arch")]
    BadNevra { line: usize, nevra: String },
    #[error("line {line}: `{date}` is not a date (YYYY-MM-DD HH:MM:SS)")]
    BadDate { line: usize, date: String },
    #[error("line {line}: not a `name.arch version repository` update line: {text:?}")]
    BadUpdate { line: usize, text: String },
}

/// A package name-epoch:version-release.arch, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nevra {
    pub name: String,
    /// `[epoch:]version-release`, as dnf prints it.
    pub evr: String,
    pub arch: String,
}

/// Split `openssl-libs-1:3.0.7-27.el9.x86_64` into name, `1:3.0.7-27.el9` and arch.
pub fn split_nevra(s: &str) -> Option<Nevra> {
    let (nevr, arch) = s.rsplit_once('.')?;
    let (nev, release) = nevr.rsplit_once('-')?;
    let (name, version) = nev.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() || arch.is_empty() {
        return None;
    }
    if !version.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(Nevra {
        name: name.to_string(),
        evr: format!("{version}-{release}"),
        arch: arch.to_string(),
    })
}

/// One line of `dnf updateinfo list --security`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAdvisoryLine {
    pub advisory: String,
    pub severity: String,
    pub package: Nevra,
    /// dnf5's Issued column (local time); dnf4 prints none.
    pub issued: Option<DateTime<Utc>>,
}

/// Parse `dnf -q -C updateinfo list --security` from dnf4/yum
/// (`RLSA-2025:0925  Moderate/Sec.  bzip2-libs-1.0.8-10.el9_5.x86_64`) or dnf5
/// (`FEDORA-2026-12f3f3d569 security Important openssl-libs-1:3.5.9-1.fc44.x86_64 2026-10-03 01:09:41`).
pub fn parse_updateinfo_list(
    text: &str,
    offset: FixedOffset,
) -> Result<Vec<SecurityAdvisoryLine>, DnfParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.is_empty()
            || line.starts_with("Last metadata expiration check")
            || line.starts_with("Updating Subscription Management")
            || (t[0] == "Name" && t.contains(&"Issued"))
        {
            continue;
        }
        let bad = || DnfParseError::BadAdvisory {
            line: n,
            text: line.to_string(),
        };
        let nevra_of = |s: &str| {
            split_nevra(s).ok_or_else(|| DnfParseError::BadNevra {
                line: n,
                nevra: s.to_string(),
            })
        };
        let entry = match t.as_slice() {
            [id, label, nevra] if label.ends_with("Sec.") => SecurityAdvisoryLine {
                advisory: id.to_string(),
                severity: label.split_once('/').map_or("", |(s, _)| s).to_string(),
                package: nevra_of(nevra)?,
                issued: None,
            },
            [id, "security", rest @ ..] if rest.len() == 3 || rest.len() == 4 => {
                let (severity, nevra, day, time) = match rest {
                    [nevra, day, time] => ("", *nevra, *day, *time),
                    [sev, nevra, day, time] => (*sev, *nevra, *day, *time),
                    _ => return Err(bad()),
                };
                let date = format!("{day} {time}");
                let issued = local_time(&date, offset).ok_or(DnfParseError::BadDate {
                    line: n,
                    date: date.clone(),
                })?;
                SecurityAdvisoryLine {
                    advisory: id.to_string(),
                    severity: severity.to_string(),
                    package: nevra_of(nevra)?,
                    issued: Some(issued),
                }
            }
            _ => return Err(bad()),
        };
        out.push(entry);
    }
    Ok(out)
}

/// Advisory id → date from `dnf -q -C updateinfo info --security` (dnf4/yum). dnf4 prints the
/// advisory's `Updated:` date (not its first issue): an `Issued:` line wins when present.
pub fn parse_updateinfo_info(
    text: &str,
    offset: FixedOffset,
) -> Result<BTreeMap<String, DateTime<Utc>>, DnfParseError> {
    let mut out: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut issued_seen = false;
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "Update ID" => {
                current = Some(value.to_string());
                issued_seen = false;
            }
            k @ ("Issued" | "Updated") => {
                let Some(id) = &current else { continue };
                if k == "Updated" && issued_seen {
                    continue;
                }
                let date = local_time(value, offset).ok_or(DnfParseError::BadDate {
                    line: i + 1,
                    date: value.to_string(),
                })?;
                issued_seen |= k == "Issued";
                out.insert(id.clone(), date);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Packages (`name.arch`) with an update in `dnf -q -C check-update` (exit 100 when any).
/// The `Obsoleting Packages` section is not counted; names too long for their column wrap onto
/// the next line and are joined back.
pub fn parse_check_update(text: &str) -> Result<Vec<String>, DnfParseError> {
    let mut out = Vec::new();
    let mut pending_name: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with("Obsoleting Packages") {
            break;
        }
        if t.is_empty()
            || line.starts_with("Last metadata expiration check")
            || line.starts_with("Updating Subscription Management")
            || line.starts_with("Security:")
        {
            continue;
        }
        let bad = || DnfParseError::BadUpdate {
            line: i + 1,
            text: line.to_string(),
        };
        match (pending_name.take(), t.as_slice()) {
            (None, [name]) if name.contains('.') => pending_name = Some(name.to_string()),
            (Some(name), [_ver, _repo]) => out.push(name),
            (None, [name, _ver, _repo]) if name.contains('.') => out.push(name.to_string()),
            _ => return Err(bad()),
        }
    }
    if let Some(name) = pending_name {
        return Err(DnfParseError::BadUpdate {
            line: text.lines().count(),
            text: name,
        });
    }
    Ok(out)
}

/// Time of the last package upgrade in `/var/log/dnf.rpm.log` (dnf4:
/// `2026-10-20T08:14:05+0000 SUBDEBUG Upgrade: openssl-libs-1:3.0.7-27.el9.x86_64`).
pub fn parse_rpm_log_last_upgrade(text: &str) -> Option<DateTime<Utc>> {
    text.lines()
        .filter(|l| l.contains(" Upgrade: ") || l.contains(" Upgraded: "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|ts| DateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S%z").ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
}

fn local_time(s: &str, offset: FixedOffset) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> FixedOffset {
        FixedOffset::east_opt(0).unwrap()
    }

    #[test]
    fn nevra_with_and_without_epoch() {
        let n = split_nevra("dhcp-client-12:4.4.2-11.b1.fc34.x86_64").unwrap();
        assert_eq!(
            (n.name.as_str(), n.evr.as_str(), n.arch.as_str()),
            ("dhcp-client", "12:4.4.2-11.b1.fc34", "x86_64")
        );
        let n = split_nevra("binutils-gold-2.35.2-67.el9_7.1.x86_64").unwrap();
        assert_eq!(
            (n.name.as_str(), n.evr.as_str()),
            ("binutils-gold", "2.35.2-67.el9_7.1")
        );
        assert!(split_nevra("garbage").is_none());
    }

    #[test]
    fn dnf4_list() {
        let text = "\
Last metadata expiration check: 2:06:38 ago on Sun 25 Jul 2021 03:44:47 AM UTC.
RLSA-2025:23343 Moderate/Sec.  binutils-2.35.2-67.el9_7.1.x86_64
RLSA-2025:0925  Moderate/Sec.  bzip2-libs-1.0.8-10.el9_5.x86_64
FEDORA-2021-08cdb4dc34 Important/Sec. dhcp-client-12:4.4.2-11.b1.fc34.x86_64
";
        let l = parse_updateinfo_list(text, utc()).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].advisory, "RLSA-2025:0925");
        assert_eq!(l[1].severity, "Moderate");
        assert_eq!(l[1].package.name, "bzip2-libs");
        assert_eq!(l[2].package.evr, "12:4.4.2-11.b1.fc34");
        assert!(l.iter().all(|a| a.issued.is_none()));
    }

    #[test]
    fn dnf5_list_with_issued_column() {
        let text = "\
Name                   Type     Severity                             Package              Issued
FEDORA-2026-044e56d9ff security Moderate            tar-2:1.35-9.fc44.x86_64 2026-09-09 04:47:08
FEDORA-2026-12f3f3d569 security Important openssl-libs-1:3.5.9-1.fc44.x86_64 2026-10-03 01:09:41
";
        let l = parse_updateinfo_list(text, FixedOffset::east_opt(7200).unwrap()).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].package.name, "tar");
        assert_eq!(l[0].package.evr, "2:1.35-9.fc44");
        assert_eq!(
            l[1].issued.unwrap().to_rfc3339(),
            "2026-10-02T23:09:41+00:00"
        );
    }

    #[test]
    fn garbage_list_is_an_error() {
        assert!(matches!(
            parse_updateinfo_list(
                "Error: Cache-only enabled but no cache for 'baseos'\n",
                utc()
            ),
            Err(DnfParseError::BadAdvisory { line: 1, .. })
        ));
        assert!(matches!(
            parse_updateinfo_list("RLSA-1 Important/Sec. notanevra\n", utc()),
            Err(DnfParseError::BadNevra { .. })
        ));
    }

    #[test]
    fn dnf4_info_dates() {
        let text = "\
===============================================================================
  Moderate: systemd security update
===============================================================================
  Update ID: RHSA-2025:22660
       Type: security
    Updated: 2025-12-03 10:38:39
       Bugs: 2369242 - CVE-2025-4598 systemd-coredump: race condition
       CVEs: CVE-2025-4598
Description: The systemd packages contain systemd: a system and service manager.
   Severity: Moderate
===============================================================================
  Important: openssl security update
===============================================================================
  Update ID: RLSA-2026:1001
       Type: security
     Issued: 2026-09-01 00:00:00
    Updated: 2026-09-20 12:00:00
";
        let m = parse_updateinfo_info(text, utc()).unwrap();
        assert_eq!(
            m["RHSA-2025:22660"].to_rfc3339(),
            "2025-12-03T10:38:39+00:00"
        );
        assert_eq!(
            m["RLSA-2026:1001"].to_rfc3339(),
            "2026-09-01T00:00:00+00:00"
        );
    }

    #[test]
    fn check_update_with_wrapped_names_and_obsoletes() {
        let text = "\
Last metadata expiration check: 0:12:40 ago on Mon 23 Nov 2026 09:47:20 AM UTC.
\n\
NetworkManager.x86_64                1:1.46.0-19.el9_4          baseos
python3-very-long-package-name-for-wrapping.noarch
                                     1.2.3-4.el9                appstream
openssl-libs.x86_64                  1:3.0.7-28.el9_4           baseos
Obsoleting Packages
grub2-tools.x86_64                   1:2.06-80.el9              baseos
    grub2-tools.x86_64               1:2.06-77.el9              @baseos
";
        let l = parse_check_update(text).unwrap();
        assert_eq!(
            l,
            vec![
                "NetworkManager.x86_64",
                "python3-very-long-package-name-for-wrapping.noarch",
                "openssl-libs.x86_64"
            ]
        );
        assert!(
            parse_check_update("Error: Failed to download metadata for repo 'baseos'\n").is_err()
        );
    }

    #[test]
    fn rpm_log_last_upgrade() {
        let text = "\
2026-10-20T08:14:05+0000 SUBDEBUG Upgrade: openssl-libs-1:3.0.7-27.el9.x86_64
2026-10-20T08:14:06+0000 SUBDEBUG Upgraded: openssl-libs-1:3.0.7-24.el9.x86_64
2026-11-01T09:00:00+0000 SUBDEBUG Installed: tmux-3.2a-5.el9.x86_64
";
        assert_eq!(
            parse_rpm_log_last_upgrade(text).unwrap().to_rfc3339(),
            "2026-10-20T08:14:06+00:00"
        );
        assert_eq!(parse_rpm_log_last_upgrade("nothing\n"), None);
    }
}
