//! disk_encryption on macOS: is FileVault on for the Data-role APFS volume?
//!
//! Two sources, both required: `fdesetup status` (FileVault's own word, with conversion progress) and
//! `diskutil apfs list -plist` (the Data-role volume's `FileVault` and `Encryption` flags). The System
//! volume is sealed and unencrypted by design, so it is never judged; only the Data volume holds user
//! data. "Encrypted at rest" without FileVault (T2 and Apple-silicon hardware encryption) is `fail`:
//! recovery or target-disk mode mounts it without a password. Conversion in either direction is
//! `warn` with the percentage. Any `fdesetup` text not recognised is `error`, never on or off.
//! External and removable volumes are not judged (only the boot container's Data volume is).

use serde_json::json;

use crate::apple_plist;
use crate::{CheckResult, Context, Evidence, Status};

const FDESETUP: [&str; 2] = ["/usr/bin/fdesetup", "status"];
const DISKUTIL: [&str; 4] = ["/usr/sbin/diskutil", "apfs", "list", "-plist"];
/// Asked only when several containers have a Data volume: which container holds the booted system.
const DISKUTIL_INFO_ROOT: [&str; 4] = ["/usr/sbin/diskutil", "info", "-plist", "/"];

/// `APFSContainerReference` of `diskutil info -plist /`: the container the system booted from.
pub fn parse_boot_container(bytes: &[u8]) -> Result<String, String> {
    let v = apple_plist::parse(bytes)?;
    let d = apple_plist::dict(&v, "the top level")?;
    Ok(apple_plist::string(d, "APFSContainerReference")?.to_string())
}

/// What `fdesetup status` says.
#[derive(Debug, Clone, PartialEq)]
pub enum FdeStatus {
    On,
    Off,
    /// `FileVault is Off, but will be enabled after the next restart.`
    OffUntilRestart,
    /// A conversion is running (`Encryption in progress` / `Decryption in progress`).
    Converting {
        encrypting: bool,
        percent: Option<f64>,
    },
}

/// Parse `fdesetup status` stdout. Unknown lines are an error carrying the text.
pub fn parse_fdesetup_status(text: &str) -> Result<FdeStatus, String> {
    let mut state = None;
    let mut converting = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if line == "FileVault is On." {
            state = Some(FdeStatus::On);
        } else if line == "FileVault is Off." {
            state = Some(FdeStatus::Off);
        } else if line == "FileVault is Off, but will be enabled after the next restart." {
            state = Some(FdeStatus::OffUntilRestart);
        } else if lower.starts_with("encryption in progress")
            || lower.starts_with("decryption in progress")
        {
            converting = Some(FdeStatus::Converting {
                encrypting: lower.starts_with("encryption"),
                percent: last_percent(line),
            });
        } else {
            return Err(format!("unrecognised fdesetup output line {line:?}"));
        }
    }
    converting
        .or(state)
        .ok_or_else(|| "fdesetup printed nothing".to_string())
}

/// The last number on a line (`Percent completed = 34.5`, `10.0%`).
fn last_percent(line: &str) -> Option<f64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|t| !t.is_empty() && t.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|t| t.parse::<f64>().ok())
        .rfind(|p| (0.0..=100.0).contains(p))
}

/// One APFS volume of `diskutil apfs list -plist`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApfsVolume {
    /// The APFS container holding the volume (`disk3`).
    pub container: String,
    pub device: String,
    pub name: String,
    pub roles: Vec<String>,
    pub filevault: bool,
    pub encrypted: bool,
}

/// Parse `diskutil apfs list -plist` into its volumes (every container).
pub fn parse_apfs_list(bytes: &[u8]) -> Result<Vec<ApfsVolume>, String> {
    let top = apple_plist::parse(bytes)?;
    let top = apple_plist::dict(&top, "the top level")?;
    let mut out = Vec::new();
    for (ci, c) in apple_plist::array(top, "Containers")?.iter().enumerate() {
        let c = apple_plist::dict(c, &format!("Containers[{ci}]"))?;
        let container = apple_plist::string(c, "ContainerReference")
            .map_err(|e| format!("Containers[{ci}]: {e}"))?
            .to_string();
        for (vi, v) in apple_plist::array(c, "Volumes")?.iter().enumerate() {
            let at = format!("Containers[{ci}].Volumes[{vi}]");
            let v = apple_plist::dict(v, &at)?;
            let field = |e: String| format!("{at}: {e}");
            let roles = apple_plist::array(v, "Roles")
                .map_err(field)?
                .iter()
                .map(|r| r.as_string().unwrap_or_default().to_string())
                .collect();
            out.push(ApfsVolume {
                container: container.clone(),
                device: apple_plist::string(v, "DeviceIdentifier")
                    .map_err(field)?
                    .to_string(),
                name: apple_plist::string(v, "Name").map_err(field)?.to_string(),
                roles,
                filevault: apple_plist::boolean(v, "FileVault").map_err(field)?,
                encrypted: apple_plist::boolean(v, "Encryption").map_err(field)?,
            });
        }
    }
    Ok(out)
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "disk_encryption";
    let mut evidence: Vec<Evidence> = Vec::new();
    let fde = match ctx.probe.run_evidence(&FDESETUP) {
        Ok((out, ev)) => {
            evidence.push(ev);
            if out.exit_code != Some(0) {
                return CheckResult::new(
                    id,
                    Status::Error,
                    format!(
                        "`fdesetup status` exited with {:?}: {}",
                        out.exit_code,
                        out.stderr_text()
                    ),
                )
                .with_evidence(evidence);
            }
            match parse_fdesetup_status(&out.stdout_text()) {
                Ok(s) => s,
                Err(e) => {
                    return CheckResult::new(
                        id,
                        Status::Error,
                        format!("FileVault state unknown: {e}"),
                    )
                    .with_evidence(evidence)
                }
            }
        }
        Err(e) => return crate::probe_error(id, "run `fdesetup status`", &e),
    };
    let volumes = match ctx.probe.run_evidence(&DISKUTIL) {
        Ok((out, ev)) => {
            evidence.push(ev);
            if out.exit_code != Some(0) {
                return CheckResult::new(
                    id,
                    Status::Error,
                    format!(
                        "`diskutil apfs list -plist` exited with {:?}: {}",
                        out.exit_code,
                        out.stderr_text()
                    ),
                )
                .with_evidence(evidence);
            }
            match parse_apfs_list(&out.stdout) {
                Ok(v) => v,
                Err(e) => {
                    return CheckResult::new(
                        id,
                        Status::Error,
                        format!("could not parse `diskutil apfs list -plist`: {e}"),
                    )
                    .with_evidence(evidence)
                }
            }
        }
        Err(e) => {
            return crate::probe_error(id, "run `diskutil apfs list -plist`", &e)
                .with_evidence(evidence)
        }
    };
    let data: Vec<&ApfsVolume> = volumes
        .iter()
        .filter(|v| v.roles.iter().any(|r| r == "Data"))
        .collect();
    let volume = match data.as_slice() {
        [one] => *one,
        [] => {
            return CheckResult::new(
                id,
                Status::Error,
                "no APFS volume with the Data role: cannot tell which volume holds user data",
            )
            .with_evidence(evidence)
        }
        many => {
            // A second macOS install (often on an external disk) has a Data volume of its own: judge
            // the one in the booted system's container.
            let names: Vec<&str> = many.iter().map(|v| v.device.as_str()).collect();
            let boot = match ctx.probe.run_evidence(&DISKUTIL_INFO_ROOT) {
                Ok((out, ev)) => {
                    evidence.push(ev);
                    parse_boot_container(&out.stdout)
                }
                Err(e) => Err(e.to_string()),
            };
            let in_boot: Vec<&ApfsVolume> = match &boot {
                Ok(c) => many.iter().copied().filter(|v| &v.container == c).collect(),
                Err(_) => Vec::new(),
            };
            match (boot, in_boot.as_slice()) {
                (Ok(_), [one]) => *one,
                (boot, _) => {
                    let why = match boot {
                        Ok(c) => format!("the boot container {c} holds {} of them", in_boot.len()),
                        Err(e) => format!("`diskutil info -plist /`: {e}"),
                    };
                    return CheckResult::new(
                        id,
                        Status::Error,
                        format!(
                            "several APFS volumes have the Data role ({}) and the booted one cannot be told: {why}",
                            names.join(", ")
                        ),
                    )
                    .with_evidence(evidence);
                }
            }
        }
    };
    let others: Vec<String> = data
        .iter()
        .filter(|v| v.device != volume.device)
        .map(|v| v.device.clone())
        .collect();
    let name = format!("{} ({})", volume.name, volume.device);
    let (status, summary, state) = match &fde {
        FdeStatus::On if volume.filevault => (
            Status::Pass,
            format!("FileVault is on for the Data volume {name}"),
            "on",
        ),
        FdeStatus::On => (
            Status::Error,
            format!("fdesetup says FileVault is on but diskutil shows it off for the Data volume {name}"),
            "inconsistent",
        ),
        FdeStatus::Converting { encrypting, percent } => {
            let pct = percent.map_or("unknown percentage".to_string(), |p| format!("{p}%"));
            let verb = if *encrypting { "encryption" } else { "decryption" };
            (
                Status::Warn,
                format!("FileVault {verb} in progress on the Data volume {name}: {pct}"),
                if *encrypting { "encrypting" } else { "decrypting" },
            )
        }
        FdeStatus::Off | FdeStatus::OffUntilRestart => {
            let pending = if fde == FdeStatus::OffUntilRestart {
                " (it will be enabled after the next restart)"
            } else {
                ""
            };
            let why = if volume.encrypted {
                "encrypted at rest by the hardware only, which recovery mode mounts without a password"
            } else {
                "not encrypted"
            };
            (
                Status::Fail,
                format!("FileVault is off{pending}: the Data volume {name} is {why}"),
                if fde == FdeStatus::OffUntilRestart {
                    "off_until_restart"
                } else {
                    "off"
                },
            )
        }
    };
    let summary = if others.is_empty() {
        summary
    } else {
        format!(
            "{summary}; Data volumes of other containers not judged: {}",
            others.join(", ")
        )
    };
    let percent = match fde {
        FdeStatus::Converting { percent, .. } => json!(percent),
        _ => json!(null),
    };
    CheckResult::new(id, status, summary)
        .fact("platform", "macos")
        .fact("filevault", state)
        .fact("data_volume", volume.device.clone())
        .fact("data_volume_filevault", volume.filevault)
        .fact("data_volume_encrypted_at_rest", volume.encrypted)
        .fact("conversion_percent", percent)
        .fact("other_data_volumes", others)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fdesetup_known_strings_and_unknown_ones() {
        assert_eq!(
            parse_fdesetup_status("FileVault is On.\n"),
            Ok(FdeStatus::On)
        );
        assert_eq!(
            parse_fdesetup_status("FileVault is Off.\n"),
            Ok(FdeStatus::Off)
        );
        assert_eq!(
            parse_fdesetup_status(
                "FileVault is Off, but will be enabled after the next restart.\n"
            ),
            Ok(FdeStatus::OffUntilRestart)
        );
        assert_eq!(
            parse_fdesetup_status(
                "FileVault is On.\nEncryption in progress: Percent completed = 34.5\n"
            ),
            Ok(FdeStatus::Converting {
                encrypting: true,
                percent: Some(34.5)
            })
        );
        assert_eq!(
            parse_fdesetup_status("FileVault is Off.\nDecryption in progress: 62%\n"),
            Ok(FdeStatus::Converting {
                encrypting: false,
                percent: Some(62.0)
            })
        );
        // Never on or off for text we do not know.
        assert!(parse_fdesetup_status("FileVault is Sleeping.\n").is_err());
        assert!(parse_fdesetup_status("FileVault is On.\nPaused\n").is_err());
        assert!(parse_fdesetup_status("").is_err());
    }
}
