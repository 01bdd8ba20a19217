//! The Windows source kinds: `file_history` (one user's File History) and `windows_server_backup`
//! (`Get-WBSummary`). The restic, borg, path and timestamp_file kinds work unchanged on Windows
//! paths (`C:\…`); these two read what Windows' own backup features record.
//!
//! - **File History** keeps its per-user state in a configuration directory
//!   (`%LOCALAPPDATA%\Microsoft\Windows\FileHistory\Configuration`, declared as the source's `path`):
//!   `Config1.xml` exists once File History is set up, and the catalog `Catalog1.edb` is rewritten at
//!   the end of each backup cycle, so its modification time is the newest backup. Both file names
//!   and the catalog's update at each cycle are *Unverified* (no capture; `docs/platforms.md`). No
//!   `Config1.xml` is `fail` (the declared backup does not exist), no catalog is `fail` (nothing
//!   completed), a catalog without a modification time is `error`.
//! - **Windows Server Backup**: one PowerShell invocation ([`WB_SUMMARY`]) prints
//!   `LastSuccessfulBackupTime`, `LastBackupTime` (UTC, invariant culture), `LastBackupResultHR` and
//!   `NumberOfVersions` (the properties the reference names, §B3), or `Installed = false` when the
//!   cmdlet is absent (client SKUs, feature not installed): a declared source whose feature is absent
//!   is `fail`, never a pass. A last attempt that failed is said beside the newest success.

use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::observe::Observation;
use crate::{Evidence, EvidenceKind, Probe, ProbeError, Status};

/// `Get-WBSummary`, or `Installed = false` without the WindowsServerBackup module.
pub const WB_SUMMARY: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "$inv = [Globalization.CultureInfo]::InvariantCulture; \
function T($d) { if ($d) { $d.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', $inv) } else { $null } }; \
if (-not (Get-Command Get-WBSummary -ErrorAction SilentlyContinue)) { \
ConvertTo-Json -InputObject ([pscustomobject]@{ Installed = $false }) } else { $s = Get-WBSummary; \
ConvertTo-Json -InputObject ([pscustomobject]@{ Installed = $true; \
LastSuccessfulBackupTime = (T $s.LastSuccessfulBackupTime); LastBackupTime = (T $s.LastBackupTime); \
LastBackupResultHR = $s.LastBackupResultHR; NumberOfVersions = $s.NumberOfVersions }) }",
];

/// What `Get-WBSummary` reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WbSummary {
    /// The cmdlet (the Windows Server Backup feature) is absent.
    NotInstalled,
    Installed {
        /// `None`: never succeeded (also when Windows reports year 1, DateTime.MinValue).
        last_success: Option<DateTime<Utc>>,
        last_attempt: Option<DateTime<Utc>>,
        /// HRESULT of the last attempt; 0 = success.
        last_result_hr: i64,
        versions: i64,
    },
}

fn time(o: &Map<String, Value>, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ")
                .map_err(|_| format!("{key} {s:?} is not yyyy-MM-ddTHH:mm:ssZ"))?
                .and_utc();
            // DateTime.MinValue (0001-01-01) is how "never" comes out.
            Ok((t.year() >= 1990).then_some(t))
        }
        Some(v) => Err(format!("{key} is {v}, not a time string")),
    }
}

/// Parse the [`WB_SUMMARY`] output.
pub fn parse_wb_summary(out: &str) -> Result<WbSummary, String> {
    let t = out.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("expected one JSON object")?;
    match o.get("Installed") {
        Some(Value::Bool(false)) => return Ok(WbSummary::NotInstalled),
        Some(Value::Bool(true)) => {}
        other => return Err(format!("Installed is {other:?}, not true/false")),
    }
    let int = |key: &str| {
        o.get(key)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("{key} missing or not an integer"))
    };
    Ok(WbSummary::Installed {
        last_success: time(o, "LastSuccessfulBackupTime")?,
        last_attempt: time(o, "LastBackupTime")?,
        last_result_hr: int("LastBackupResultHR")?,
        versions: int("NumberOfVersions")?,
    })
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn problem(mut obs: Observation, status: Status, why: String) -> Observation {
    obs.problem = Some((status, why));
    obs
}

/// HRESULTs print as Windows shows them: `0x80042306`.
fn hresult(hr: i64) -> String {
    format!("0x{:08X}", hr as u32)
}

/// Observe Windows Server Backup on the host behind `probe`.
pub(super) fn observe_wb(probe: &dyn Probe) -> Observation {
    let mut obs = Observation::new("last successful backup");
    let (out, ev) = match probe.run_evidence(&WB_SUMMARY) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                obs,
                Status::Error,
                format!("cannot run PowerShell (Get-WBSummary): {e}"),
            )
        }
    };
    obs.evidence.push(ev);
    if out.exit_code != Some(0) {
        return problem(
            obs,
            Status::Error,
            format!(
                "PowerShell (Get-WBSummary) exited with {:?}: {}",
                out.exit_code,
                out.stderr_text().trim()
            ),
        );
    }
    match parse_wb_summary(&out.stdout_text()) {
        Err(e) => problem(obs, Status::Error, format!("Get-WBSummary: {e}")),
        Ok(WbSummary::NotInstalled) => problem(
            obs,
            Status::Fail,
            "Windows Server Backup is not installed (no Get-WBSummary): this source makes no backup"
                .into(),
        ),
        Ok(WbSummary::Installed {
            last_success,
            last_attempt,
            last_result_hr,
            versions,
        }) => {
            obs.facts
                .insert("number_of_versions".into(), Value::from(versions));
            obs.facts.insert(
                "last_backup_result_hr".into(),
                Value::from(hresult(last_result_hr)),
            );
            if let Some(a) = last_attempt {
                obs.facts
                    .insert("last_backup_time".into(), Value::from(rfc3339(a)));
            }
            let Some(success) = last_success else {
                return problem(
                    obs,
                    Status::Fail,
                    format!(
                        "Windows Server Backup has no successful backup ({versions} version(s); last \
                         result {})",
                        hresult(last_result_hr)
                    ),
                );
            };
            if last_result_hr != 0 {
                if let Some(a) = last_attempt.filter(|a| *a > success) {
                    obs.label = format!(
                        "last successful backup (the attempt at {} failed with {})",
                        rfc3339(a),
                        hresult(last_result_hr)
                    );
                }
            }
            obs.newest = Some(success);
            obs
        }
    }
}

/// `Config1.xml` in a File History configuration directory.
const FH_CONFIG: &str = "Config1.xml";
/// The catalog File History rewrites at the end of each backup cycle.
const FH_CATALOG: &str = "Catalog1.edb";

fn join(dir: &str, name: &str) -> String {
    let sep = if dir.contains('\\') { '\\' } else { '/' };
    format!("{}{sep}{name}", dir.trim_end_matches(['\\', '/']))
}

/// Observe one user's File History through its configuration directory `dir`.
pub(super) fn observe_file_history(probe: &dyn Probe, dir: &str) -> Observation {
    let obs = Observation::new("File History catalog updated");
    let mut obs = obs;
    obs.facts.insert("path".into(), Value::from(dir));
    let names = match probe.read_dir(dir) {
        Ok(n) => n,
        Err(ProbeError::NotFound { .. }) => {
            return problem(
                obs,
                Status::Fail,
                format!("File History is not set up for this user: {dir} does not exist"),
            )
        }
        Err(e) => return problem(obs, Status::Error, format!("cannot list {dir}: {e}")),
    };
    let mut listing = String::new();
    for n in &names {
        listing.push_str(n);
        listing.push('\n');
    }
    obs.evidence.push(Evidence::new(
        EvidenceKind::Directory,
        dir,
        listing.as_bytes(),
    ));
    if !names.iter().any(|n| n.eq_ignore_ascii_case(FH_CONFIG)) {
        return problem(
            obs,
            Status::Fail,
            format!("File History is not set up for this user: no {FH_CONFIG} in {dir}"),
        );
    }
    let Some(catalog) = names.iter().find(|n| n.eq_ignore_ascii_case(FH_CATALOG)) else {
        return problem(
            obs,
            Status::Fail,
            format!("File History is set up but no backup cycle has completed: no {FH_CATALOG} in {dir}"),
        );
    };
    let path = join(dir, catalog);
    match probe.metadata(&path) {
        Ok(info) => match info.modified {
            Some(m) => {
                obs.facts
                    .insert("catalog_modified".into(), Value::from(rfc3339(m)));
                obs.newest = Some(m);
                obs
            }
            None => problem(
                obs,
                Status::Error,
                format!("{path} has no modification time"),
            ),
        },
        Err(e) => problem(obs, Status::Error, format!("cannot read {path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_installed_or_not() {
        assert_eq!(
            parse_wb_summary("{\r\n    \"Installed\":  false\r\n}\r\n").unwrap(),
            WbSummary::NotInstalled
        );
        let s = parse_wb_summary(
            r#"{"Installed": true, "LastSuccessfulBackupTime": "2026-11-24T01:00:12Z",
                "LastBackupTime": "2026-11-24T01:00:12Z", "LastBackupResultHR": 0, "NumberOfVersions": 14}"#,
        )
        .unwrap();
        let WbSummary::Installed {
            last_success,
            versions,
            ..
        } = s
        else {
            panic!("{s:?}")
        };
        assert_eq!(rfc3339(last_success.unwrap()), "2026-11-24T01:00:12Z");
        assert_eq!(versions, 14);
        // DateTime.MinValue is "never".
        let s = parse_wb_summary(
            r#"{"Installed": true, "LastSuccessfulBackupTime": "0001-01-01T00:00:00Z",
                "LastBackupTime": null, "LastBackupResultHR": 0, "NumberOfVersions": 0}"#,
        )
        .unwrap();
        assert!(matches!(
            s,
            WbSummary::Installed {
                last_success: None,
                ..
            }
        ));
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "Get-WBSummary : The term is not recognized",
            r#"{"Installed": "yes"}"#,
            r#"{"Installed": true, "LastSuccessfulBackupTime": "24/11/2026 01:00:12", "LastBackupResultHR": 0, "NumberOfVersions": 1}"#,
            r#"{"Installed": true, "LastSuccessfulBackupTime": "/Date(1795482012000)/", "LastBackupResultHR": 0, "NumberOfVersions": 1}"#,
            r#"{"Installed": true, "LastSuccessfulBackupTime": null, "NumberOfVersions": 1}"#,
        ] {
            assert!(parse_wb_summary(bad).is_err(), "{bad}");
        }
        assert_eq!(hresult(-2147212538), "0x80042306");
    }
}
