//! patch_age on Windows: security updates the Windows Update Agent says are pending, and their age.
//!
//! Three PowerShell invocations, each printing JSON (never localized text):
//! - **pending**: an offline search of the WUA cache (`IUpdateSearcher.Online = $false`, criteria
//!   `IsInstalled=0 and Type='Software' and IsHidden=0`), bounded by the probe's command timeout.
//!   Security updates are those with an `MsrcSeverity` (`Critical`, `Important`, `Moderate`, `Low`);
//!   any other value is `error`. Each is aged from `LastDeploymentChangeTime` when present, else from
//!   the first agent run that saw it (the same first-seen state document as on Linux and macOS).
//! - **history**: the newest successful installation in `IUpdateSearcher.QueryHistory`
//!   (Operation 1, ResultCode 2), not `Get-HotFix`, which misses most updates.
//! - **host state**: each documented reboot-pending signal (reported as separate reasons) and the
//!   update source policy (WSUS, Windows Update for Business, or Windows Update) as facts.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};

use super::first_seen;
use super::sla;
use super::PatchAgeConfig;
use crate::{CheckResult, Context, Evidence, Probe, Status};

const PS: [&str; 4] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
];

/// Pending software updates from the WUA cache, one object each (always an array, `[]` for none).
pub const PENDING_SCRIPT: &str = "$s = New-Object -ComObject Microsoft.Update.Session; \
$q = $s.CreateUpdateSearcher(); $q.Online = $false; \
$r = $q.Search(\"IsInstalled=0 and Type='Software' and IsHidden=0\"); \
ConvertTo-Json -Depth 3 -InputObject @($r.Updates | ForEach-Object { [pscustomobject]@{ \
Title = $_.Title; UpdateID = $_.Identity.UpdateID; RevisionNumber = $_.Identity.RevisionNumber; \
MsrcSeverity = $_.MsrcSeverity; \
LastDeploymentChangeTime = $(if ($_.LastDeploymentChangeTime) { $_.LastDeploymentChangeTime.ToString('yyyy-MM-dd', [Globalization.CultureInfo]::InvariantCulture) } else { $null }) } })";

/// The newest successful installation in the update history (`[]` when there is none).
pub const HISTORY_SCRIPT: &str = "$q = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); \
$n = $q.GetTotalHistoryCount(); \
ConvertTo-Json -Depth 3 -InputObject @($(if ($n -gt 0) { $q.QueryHistory(0, $n) }) | \
Where-Object { $_.Operation -eq 1 -and $_.ResultCode -eq 2 } | Sort-Object Date -Descending | Select-Object -First 1 | \
ForEach-Object { [pscustomobject]@{ Title = $_.Title; Date = $_.Date.ToString('yyyy-MM-ddTHH:mm:ss', [Globalization.CultureInfo]::InvariantCulture) } })";

/// Reboot-pending signals and the update-source policy, one object.
pub const HOST_SCRIPT: &str = "$cbs = 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing'; \
$au = 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update'; \
$sm = Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Session Manager' -ErrorAction SilentlyContinue; \
$pol = Get-ItemProperty 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate' -ErrorAction SilentlyContinue; \
$polau = Get-ItemProperty 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU' -ErrorAction SilentlyContinue; \
ConvertTo-Json -InputObject ([pscustomobject]@{ \
CbsRebootPending = (Test-Path \"$cbs\\RebootPending\"); CbsRebootInProgress = (Test-Path \"$cbs\\RebootInProgress\"); \
WuRebootRequired = (Test-Path \"$au\\RebootRequired\"); WuPostRebootReporting = (Test-Path \"$au\\PostRebootReporting\"); \
PendingFileRenameOperations = $(if ($sm.PendingFileRenameOperations) { @($sm.PendingFileRenameOperations).Count } else { 0 }); \
ActiveComputerName = (Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ActiveComputerName').ComputerName; \
ComputerName = (Get-ItemProperty 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\ComputerName\\ComputerName').ComputerName; \
WUServer = $pol.WUServer; UseWUServer = $polau.UseWUServer; DeferQualityUpdates = $pol.DeferQualityUpdates })";

fn argv(script: &'static str) -> [&'static str; 5] {
    [PS[0], PS[1], PS[2], PS[3], script]
}

/// One pending update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WuUpdate {
    pub title: String,
    pub update_id: String,
    pub revision: i64,
    /// `Critical`, `Important`, `Moderate`, `Low`; `None` for a non-security update.
    pub severity: Option<String>,
    /// `LastDeploymentChangeTime`: published or last revised.
    pub deployed: Option<NaiveDate>,
}

const SEVERITIES: [&str; 4] = ["Critical", "Important", "Moderate", "Low"];

/// One object or an array of objects (ConvertTo-Json writes a lone element as an object).
fn objects(text: &str, what: &str) -> Result<Vec<Map<String, Value>>, String> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.is_empty() {
        return Err(format!("{what}: PowerShell printed nothing"));
    }
    let v: Value = serde_json::from_str(t).map_err(|e| format!("{what}: not JSON: {e}"))?;
    let items = match v {
        Value::Array(a) => a,
        o @ Value::Object(_) => vec![o],
        other => {
            return Err(format!(
                "{what}: expected an object or an array, got {other}"
            ))
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => Ok(o),
            other => Err(format!("{what}: item {} is not an object: {other}", i + 1)),
        })
        .collect()
}

fn string(o: &Map<String, Value>, key: &str, what: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Err(format!("{what}: no {key}")),
        Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!("{what}: {key} is {other}, not a string")),
    }
}

/// Parse the [`PENDING_SCRIPT`] output.
pub fn parse_pending(text: &str) -> Result<Vec<WuUpdate>, String> {
    let mut out = Vec::new();
    for (i, o) in objects(text, "pending updates")?.iter().enumerate() {
        let at = format!("pending update {}", i + 1);
        let title = string(o, "Title", &at)?.ok_or_else(|| format!("{at}: empty Title"))?;
        let at = format!("pending update {title:?}");
        let update_id =
            string(o, "UpdateID", &at)?.ok_or_else(|| format!("{at}: empty UpdateID"))?;
        let revision = o
            .get("RevisionNumber")
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("{at}: RevisionNumber missing or not an integer"))?;
        let severity = string(o, "MsrcSeverity", &at)?;
        if let Some(s) = &severity {
            if !SEVERITIES.contains(&s.as_str()) {
                return Err(format!("{at}: unknown MsrcSeverity {s:?}"));
            }
        }
        let deployed = match string(o, "LastDeploymentChangeTime", &at)? {
            None => None,
            Some(d) => Some(
                NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map_err(|e| format!("{at}: LastDeploymentChangeTime {d:?}: {e}"))?,
            ),
        };
        out.push(WuUpdate {
            title,
            update_id,
            revision,
            severity,
            deployed,
        });
    }
    Ok(out)
}

/// The newest successful installation: title and time (WUA history times are UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastInstall {
    pub title: String,
    pub date: DateTime<Utc>,
}

/// Parse the [`HISTORY_SCRIPT`] output (`[]`: nothing ever installed through Windows Update).
pub fn parse_history(text: &str) -> Result<Option<LastInstall>, String> {
    let items = objects(text, "update history")?;
    let Some(o) = items.first() else {
        return Ok(None);
    };
    let title = string(o, "Title", "update history")?.unwrap_or_default();
    let date = string(o, "Date", "update history")?
        .ok_or_else(|| "update history: empty Date".to_string())?;
    let date = NaiveDateTime::parse_from_str(&date, "%Y-%m-%dT%H:%M:%S")
        .map_err(|e| format!("update history: Date {date:?}: {e}"))?
        .and_utc();
    Ok(Some(LastInstall { title, date }))
}

/// Reboot signals and the update source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostState {
    /// Each signal that is set, as a short reason.
    pub reboot_reasons: Vec<&'static str>,
    /// `wsus`, `windows_update_for_business` or `windows_update`.
    pub source: &'static str,
    /// The WSUS server, when one is configured.
    pub wsus_server: Option<String>,
}

fn flag(o: &Map<String, Value>, key: &str) -> Result<bool, String> {
    match o.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("host state: {key} is {other}, not true/false")),
        None => Err(format!("host state: no {key}")),
    }
}

/// Parse the [`HOST_SCRIPT`] output.
pub fn parse_host_state(text: &str) -> Result<HostState, String> {
    let items = objects(text, "host state")?;
    let [o] = items.as_slice() else {
        return Err(format!("host state: {} objects, expected one", items.len()));
    };
    let mut reasons = Vec::new();
    for (key, reason) in [
        ("CbsRebootPending", "component servicing reboot pending"),
        (
            "CbsRebootInProgress",
            "component servicing reboot in progress",
        ),
        ("WuRebootRequired", "Windows Update reboot required"),
        (
            "WuPostRebootReporting",
            "Windows Update post-reboot reporting",
        ),
    ] {
        if flag(o, key)? {
            reasons.push(reason);
        }
    }
    match o.get("PendingFileRenameOperations").and_then(Value::as_i64) {
        Some(0) => {}
        Some(_) => reasons.push("file rename operations pending (often another installer)"),
        None => return Err("host state: PendingFileRenameOperations not a count".to_string()),
    }
    let active = string(o, "ActiveComputerName", "host state")?;
    let configured = string(o, "ComputerName", "host state")?;
    if active.is_none() || configured.is_none() {
        return Err("host state: computer name missing".to_string());
    }
    if active != configured {
        reasons.push("computer rename pending");
    }
    let wsus = string(o, "WUServer", "host state")?;
    let use_wsus = match o.get("UseWUServer") {
        None | Some(Value::Null) => false,
        Some(v) => v.as_i64() == Some(1),
    };
    let wufb = !matches!(o.get("DeferQualityUpdates"), None | Some(Value::Null));
    let (source, wsus_server) = match wsus {
        Some(server) if use_wsus => ("wsus", Some(server)),
        _ if wufb => ("windows_update_for_business", None),
        _ => ("windows_update", None),
    };
    Ok(HostState {
        reboot_reasons: reasons,
        source,
        wsus_server,
    })
}

fn run_json(
    probe: &dyn Probe,
    script: &'static str,
    what: &str,
    evidence: &mut Vec<Evidence>,
) -> Result<String, String> {
    probe.run_ok(&argv(script), &format!("PowerShell ({what})"), evidence)
}

struct Aged<'a> {
    update: &'a WuUpdate,
    since: DateTime<Utc>,
    source: &'static str,
    lower_bound: bool,
    age_days: i64,
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "patch_age";
    let cfg: &PatchAgeConfig = &ctx.config.patch_age;
    let probe = ctx.probe;
    let now = probe.now();
    let mut evidence = Vec::new();
    let error = |msg: String, evidence: Vec<Evidence>| {
        CheckResult::new(id, Status::Error, msg)
            .fact("platform", "windows")
            .with_evidence(evidence)
    };

    let pending = match run_json(probe, PENDING_SCRIPT, "pending updates", &mut evidence)
        .and_then(|t| parse_pending(&t))
    {
        Ok(p) => p,
        Err(e) => return error(format!("Windows Update state unknown: {e}"), evidence),
    };
    let last_install = match run_json(probe, HISTORY_SCRIPT, "update history", &mut evidence)
        .and_then(|t| parse_history(&t))
    {
        Ok(h) => h,
        Err(e) => return error(format!("Windows Update history unknown: {e}"), evidence),
    };
    let host = match run_json(probe, HOST_SCRIPT, "reboot signals", &mut evidence)
        .and_then(|t| parse_host_state(&t))
    {
        Ok(h) => h,
        Err(e) => return error(format!("reboot signals unknown: {e}"), evidence),
    };
    let (security, other): (Vec<&WuUpdate>, Vec<&WuUpdate>) =
        pending.iter().partition(|u| u.severity.is_some());

    // First-seen dates for updates without a deployment date.
    let mut doc = match first_seen::load(ctx.state, now) {
        Ok(d) => d,
        Err(msg) => return error(msg, evidence),
    };
    let key = |u: &WuUpdate| first_seen::key(&u.update_id, &u.revision.to_string());
    let sightings: Vec<_> = security.iter().map(|u| (key(u), None)).collect();
    let save_error =
        first_seen::observe_and_save(&mut doc, &sightings, now, ctx.state, &mut evidence);
    let mut aged: Vec<Aged> = security
        .iter()
        .map(|u| {
            let (since, source, lower_bound) = match u.deployed {
                Some(d) => (
                    d.and_time(chrono::NaiveTime::MIN).and_utc(),
                    "deployment",
                    false,
                ),
                None => {
                    let s = doc.first_seen.get(&key(u)).copied().unwrap_or(now);
                    (s, "first_seen", s == doc.created)
                }
            };
            Aged {
                update: u,
                since,
                source,
                lower_bound,
                age_days: (now - since).num_days().max(0),
            }
        })
        .collect();
    aged.sort_by(|a, b| {
        b.age_days
            .cmp(&a.age_days)
            .then(a.update.title.cmp(&b.update.title))
    });

    let sla = i64::from(cfg.sla_days);
    let margin = i64::from(cfg.warn_margin_days);
    let labelled: Vec<(String, i64)> = aged
        .iter()
        .map(|a| {
            (
                format!("{} ({} days)", a.update.title, a.age_days),
                a.age_days,
            )
        })
        .collect();
    let verdict = sla::judge(&labelled, sla, margin, "security update");
    let mut parts = vec![verdict.sentence];
    let mut status = verdict.status;
    if !other.is_empty() {
        parts.push(format!(
            "{} other update(s) pending (no MsrcSeverity)",
            other.len()
        ));
    }
    if !host.reboot_reasons.is_empty() {
        parts.push(format!(
            "reboot pending: {}",
            host.reboot_reasons.join(", ")
        ));
        if cfg.warn_on_reboot_required && status == Status::Pass {
            status = Status::Warn;
        }
    }
    match &last_install {
        Some(i) => parts.push(format!(
            "last update installed {} days ago ({}, {})",
            (now - i.date).num_days().max(0),
            i.title,
            i.date.format("%Y-%m-%d")
        )),
        None => parts.push("no successful installation in the Windows Update history".to_string()),
    }
    let (status, summary) =
        first_seen::unless_unsaved(status, parts.join("; "), save_error.as_ref());
    let pending_json: Vec<Value> = aged
        .iter()
        .map(|a| {
            json!({
                "title": a.update.title,
                "update_id": a.update.update_id,
                "revision": a.update.revision,
                "severity": a.update.severity,
                "age_days": a.age_days,
                "since": a.since.to_rfc3339(),
                "since_source": a.source,
                "lower_bound": a.lower_bound,
            })
        })
        .collect();
    CheckResult::new(id, status, summary)
        .fact("platform", "windows")
        .fact("package_manager", "windows_update")
        .fact("update_source", host.source)
        .fact("wsus_server", json!(host.wsus_server))
        .fact("pending_security", aged.len())
        .fact("pending_other", other.len())
        .fact(
            "oldest_pending_days",
            json!(aged.first().map(|a| a.age_days)),
        )
        .fact("over_sla", verdict.over)
        .fact("near_sla", verdict.near)
        .fact("sla_days", cfg.sla_days)
        .fact("warn_margin_days", cfg.warn_margin_days)
        .fact("security_updates", pending_json)
        .fact("reboot_required", !host.reboot_reasons.is_empty())
        .fact("reboot_reasons", host.reboot_reasons.clone())
        .fact(
            "last_patch_run",
            json!(last_install.as_ref().map(|i| i.date.to_rfc3339())),
        )
        .fact(
            "days_since_last_patch_run",
            json!(last_install
                .as_ref()
                .map(|i| (now - i.date).num_days().max(0))),
        )
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{
    "Title":  "2026-11 Cumulative Update for Windows 11 Version 24H2 for x64-based Systems (KB5046617)",
    "UpdateID":  "0b9a4e2c-5a7b-4a61-9b7e-6d3b2f1c8e11",
    "RevisionNumber":  200,
    "MsrcSeverity":  "Critical",
    "LastDeploymentChangeTime":  "2026-11-11"
}"#;

    #[test]
    fn pending_object_or_array_and_severities() {
        let one = parse_pending(ONE).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].severity.as_deref(), Some("Critical"));
        assert_eq!(one[0].deployed, NaiveDate::from_ymd_opt(2026, 11, 11));
        assert_eq!(parse_pending("[]").unwrap(), Vec::new());
        let non_security = ONE
            .replace("\"Critical\"", "\"\"")
            .replace("\"2026-11-11\"", "null");
        let v = parse_pending(&format!("[{ONE},{non_security}]")).unwrap();
        assert_eq!(v[1].severity, None);
        assert_eq!(v[1].deployed, None);
    }

    #[test]
    fn strict_pending_parser() {
        for bad in [
            "",
            "WARNING: something",
            "42",
            &ONE.replace("\"Critical\"", "\"Kritisch\""),
            &ONE.replace("\"2026-11-11\"", "\"11.11.2026\""),
            &ONE.replace("200", "\"200\""),
        ] {
            assert!(parse_pending(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_state_reasons_are_separate() {
        let base = r#"{"CbsRebootPending": false, "CbsRebootInProgress": false, "WuRebootRequired": false,
            "WuPostRebootReporting": false, "PendingFileRenameOperations": 0, "ActiveComputerName": "PC1",
            "ComputerName": "PC1", "WUServer": null, "UseWUServer": null, "DeferQualityUpdates": null}"#;
        let h = parse_host_state(base).unwrap();
        assert!(h.reboot_reasons.is_empty());
        assert_eq!(h.source, "windows_update");
        let h = parse_host_state(
            &base
                .replace(
                    "\"PendingFileRenameOperations\": 0",
                    "\"PendingFileRenameOperations\": 4",
                )
                .replace("\"ComputerName\": \"PC1\"", "\"ComputerName\": \"PC2\""),
        )
        .unwrap();
        assert_eq!(h.reboot_reasons.len(), 2, "{:?}", h.reboot_reasons);
        let h = parse_host_state(
            &base
                .replace(
                    "\"WUServer\": null",
                    "\"WUServer\": \"http://wsus.corp:8530\"",
                )
                .replace("\"UseWUServer\": null", "\"UseWUServer\": 1"),
        )
        .unwrap();
        assert_eq!(h.source, "wsus");
        assert!(parse_host_state(&base.replace("false", "\"False\"")).is_err());
    }

    #[test]
    fn history_newest_success() {
        assert_eq!(parse_history("[]").unwrap(), None);
        let h = parse_history(r#"{"Title": "KB5046617", "Date": "2026-11-13T03:12:40"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(h.date.to_rfc3339(), "2026-11-13T03:12:40+00:00");
        assert!(parse_history(r#"{"Title": "x", "Date": "13.11.2026 03:12"}"#).is_err());
    }
}
