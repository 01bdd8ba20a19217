//! patch_age on macOS: Apple updates pending in Software Update's catalogue, aged by first sighting.
//!
//! - Pending: `softwareupdate --list --no-scan` (the cached catalogue; `--list` alone scans Apple's
//!   servers, 30–90 s, with `[checks.patch_age] softwareupdate_scan = true`). The probe's command
//!   timeout bounds either; a timeout is `error`. Lines not recognised are `error`, never "nothing
//!   pending".
//! - Apple publishes no advisory date in that output, so each update's age runs from the first agent
//!   run that saw it (the same first-seen state document as on Linux).
//! - What counts as a missing patch: minor macOS updates, Rapid/Background Security Responses (`(a)`
//!   builds), Safari and other Apple items; **not** a major macOS upgrade (a `Version` whose major
//!   number is above the running one, from `sw_vers -productVersion`), which is listed as a fact only.
//! - Catalogue age: `LastSuccessfulDate` in `/Library/Preferences/com.apple.SoftwareUpdate.plist`,
//!   whose automatic-update keys are reported as facts. Last Apple install: newest `softwareupdated`
//!   entry of `/Library/Receipts/InstallHistory.plist`, leaving out XProtect/MRT/Gatekeeper
//!   configuration data (silent background content that would make the host look freshly patched).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::first_seen;
use super::sla;
use super::PatchAgeConfig;
use crate::apple_plist;
use crate::{CheckResult, Context, Evidence, Probe, Status};

const SOFTWAREUPDATE: &str = "/usr/sbin/softwareupdate";
const SW_VERS: [&str; 2] = ["/usr/bin/sw_vers", "-productVersion"];
const PREFS: &str = "/Library/Preferences/com.apple.SoftwareUpdate.plist";
const INSTALL_HISTORY: &str = "/Library/Receipts/InstallHistory.plist";
/// Preference keys reported as the automatic-update policy.
const POLICY_KEYS: [&str; 5] = [
    "AutomaticCheckEnabled",
    "AutomaticDownload",
    "AutomaticallyInstallMacOSUpdates",
    "CriticalUpdateInstall",
    "ConfigDataInstall",
];

/// One item of `softwareupdate --list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleUpdate {
    pub label: String,
    pub title: String,
    pub version: String,
    pub recommended: bool,
    pub restart: bool,
}

impl AppleUpdate {
    /// A Rapid (or Background) Security Response: an `(a)`-style suffix on the title or version.
    pub fn is_security_response(&self) -> bool {
        let rsr = |s: &str| {
            s.contains("(a)")
                || s.contains("(b)")
                || s.contains("(c)")
                || s.contains("Security Response")
        };
        rsr(&self.title) || rsr(&self.version) || rsr(&self.label)
    }

    /// A macOS release (title starting with `macOS`).
    pub fn is_macos(&self) -> bool {
        self.title.starts_with("macOS ")
    }

    /// A major macOS upgrade relative to the running major version.
    pub fn is_major_upgrade(&self, running_major: u32) -> bool {
        self.is_macos()
            && !self.is_security_response()
            && major(&self.version).is_some_and(|m| m > running_major)
    }
}

/// The major number of a version (`27` of `27.0.1`).
fn major(version: &str) -> Option<u32> {
    version
        .trim()
        .split(['.', ' '])
        .next()
        .and_then(|m| m.parse().ok())
}

/// Parse `softwareupdate --list` (stdout and stderr together: which stream carries
/// `No new software available.` is unverified).
pub fn parse_list(text: &str) -> Result<Vec<AppleUpdate>, String> {
    let mut out: Vec<AppleUpdate> = Vec::new();
    let mut pending_label: Option<String> = None;
    let mut nothing = false;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty()
            || line == "Software Update Tool"
            || line == "Finding available software"
            || line == "Software Update found the following new or updated software:"
        {
            continue;
        }
        if line == "No new software available." {
            nothing = true;
            continue;
        }
        if let Some(label) = line.strip_prefix("* Label:") {
            if let Some(prev) = pending_label.replace(label.trim().to_string()) {
                return Err(format!("line {}: label {prev:?} has no Title line", n + 1));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("Title:") {
            let label = pending_label
                .take()
                .ok_or_else(|| format!("line {}: Title without a preceding Label", n + 1))?;
            out.push(parse_title(&label, rest).map_err(|e| format!("line {}: {e}", n + 1))?);
            continue;
        }
        return Err(format!("line {}: unrecognised line {line:?}", n + 1));
    }
    if let Some(l) = pending_label {
        return Err(format!("label {l:?} has no Title line"));
    }
    if out.is_empty() && !nothing {
        return Err("neither updates nor `No new software available.`".into());
    }
    Ok(out)
}

/// `Title: macOS Tahoe 26.6.2, Version: 26.6.2, Size: 2824636KiB, Recommended: YES, Action: restart,`
fn parse_title(label: &str, rest: &str) -> Result<AppleUpdate, String> {
    let mut fields = rest.split(", ").map(str::trim);
    let title = fields.next().unwrap_or_default().trim().to_string();
    let mut u = AppleUpdate {
        label: label.to_string(),
        title,
        version: String::new(),
        recommended: false,
        restart: false,
    };
    for f in fields {
        let f = f.trim_end_matches(',').trim();
        if f.is_empty() {
            continue;
        }
        let (k, v) = f
            .split_once(": ")
            .ok_or_else(|| format!("field {f:?} is not `Key: value`"))?;
        match k {
            "Version" => u.version = v.trim().to_string(),
            "Recommended" => u.recommended = v.trim() == "YES",
            "Action" => u.restart = v.trim() == "restart",
            "Size" => {}
            other => return Err(format!("unknown field {other:?}")),
        }
    }
    if u.title.is_empty() || u.version.is_empty() {
        return Err(format!("update {label:?} lacks a Title or Version"));
    }
    Ok(u)
}

/// One `softwareupdated` install of InstallHistory.plist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleInstall {
    pub name: String,
    pub version: String,
    pub date: DateTime<Utc>,
}

/// Apple updates from InstallHistory.plist: `processName` `softwareupdated`, configuration-data
/// items (XProtect, MRT, Gatekeeper …) left out. Sorted oldest first.
pub fn parse_install_history(bytes: &[u8]) -> Result<Vec<AppleInstall>, String> {
    let v = apple_plist::parse(bytes)?;
    let items = v.as_array().ok_or("the top level is not an array")?;
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let d = apple_plist::dict(item, &format!("item {i}"))?;
        let Ok(process) = apple_plist::string(d, "processName") else {
            continue;
        };
        if process != "softwareupdated" {
            continue;
        }
        let name = apple_plist::string(d, "displayName")
            .map_err(|e| format!("item {i}: {e}"))?
            .to_string();
        if is_config_data(&name) {
            continue;
        }
        let date = match d.get("date") {
            Some(plist::Value::Date(t)) => DateTime::<Utc>::from(std::time::SystemTime::from(*t)),
            _ => {
                return Err(format!(
                    "item {i} ({name}): key date is missing or not a date"
                ))
            }
        };
        let version = apple_plist::string(d, "displayVersion")
            .unwrap_or_default()
            .to_string();
        out.push(AppleInstall {
            name,
            version,
            date,
        });
    }
    out.sort_by_key(|a| a.date);
    Ok(out)
}

/// Background configuration data Apple pushes silently: not a patch of the OS.
fn is_config_data(name: &str) -> bool {
    name.contains("ConfigData")
        || name.starts_with("XProtect")
        || name.starts_with("MRT")
        || name.starts_with("Gatekeeper")
}

fn days(n: i64) -> String {
    format!("{n} {}", if n == 1 { "day" } else { "days" })
}

/// A pending patch with its first-seen age.
struct Aged<'a> {
    update: &'a AppleUpdate,
    since: DateTime<Utc>,
    lower_bound: bool,
    age_days: i64,
}

impl Aged<'_> {
    fn label(&self) -> String {
        format!(
            "{} ({}, first seen {}{})",
            self.update.label,
            days(self.age_days),
            self.since.format("%Y-%m-%d"),
            if self.lower_bound { ", at least" } else { "" }
        )
    }
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "patch_age";
    let cfg: &PatchAgeConfig = &ctx.config.patch_age;
    let probe = ctx.probe;
    let now = probe.now();
    let mut evidence = Vec::new();

    let running = match run_text(probe, &SW_VERS, &mut evidence) {
        Ok(t) => t.trim().to_string(),
        Err(e) => return CheckResult::new(id, Status::Error, e).with_evidence(evidence),
    };
    let Some(running_major) = major(&running) else {
        return CheckResult::new(
            id,
            Status::Error,
            format!("`sw_vers -productVersion` printed {running:?}, not a macOS version"),
        )
        .with_evidence(evidence);
    };
    let argv: &[&str] = if cfg.softwareupdate_scan {
        &[SOFTWAREUPDATE, "--list"]
    } else {
        &[SOFTWAREUPDATE, "--list", "--no-scan"]
    };
    let updates = match probe.run(argv) {
        Ok(out) => {
            let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
            evidence.push(Evidence::command(argv, out.exit_code, text.as_bytes()));
            match parse_list(&text) {
                Ok(u) if out.exit_code == Some(0) => u,
                Ok(_) => {
                    return CheckResult::new(
                        id,
                        Status::Error,
                        format!("`{}` exited with {:?}", argv.join(" "), out.exit_code),
                    )
                    .with_evidence(evidence)
                }
                Err(e) => {
                    return CheckResult::new(
                        id,
                        Status::Error,
                        format!("could not parse `{}`: {e}", argv.join(" ")),
                    )
                    .with_evidence(evidence)
                }
            }
        }
        Err(e) => {
            return crate::probe_error(id, &format!("run `{}`", argv.join(" ")), &e)
                .with_evidence(evidence)
        }
    };
    let (majors, patches): (Vec<&AppleUpdate>, Vec<&AppleUpdate>) = updates
        .iter()
        .partition(|u| u.is_major_upgrade(running_major));

    // First-seen dates: the same state document as on Linux, keyed by label and version.
    let mut doc = match first_seen::load(ctx.state, now) {
        Ok(d) => d,
        Err(msg) => return CheckResult::new(id, Status::Error, msg).with_evidence(evidence),
    };
    let key =
        |u: &AppleUpdate| first_seen::key(&u.label.replace(' ', "_"), &u.version.replace(' ', "_"));
    let sightings: Vec<_> = patches.iter().map(|u| (key(u), None)).collect();
    let save_error =
        first_seen::observe_and_save(&mut doc, &sightings, now, ctx.state, &mut evidence);
    let mut aged: Vec<Aged> = patches
        .iter()
        .map(|u| {
            let since = doc.first_seen.get(&key(u)).copied().unwrap_or(now);
            Aged {
                update: u,
                since,
                lower_bound: since == doc.created,
                age_days: (now - since).num_days().max(0),
            }
        })
        .collect();
    aged.sort_by(|a, b| {
        b.age_days
            .cmp(&a.age_days)
            .then(a.update.label.cmp(&b.update.label))
    });

    // Preferences: catalogue age and the automatic-update policy (facts).
    let mut policy = serde_json::Map::new();
    let mut catalogue_checked: Option<DateTime<Utc>> = None;
    let mut notes: Vec<String> = Vec::new();
    match probe.read(PREFS) {
        Ok(bytes) => {
            evidence.push(Evidence::file(PREFS, &bytes));
            let parsed =
                apple_plist::parse(&bytes).and_then(|v| apple_plist::dict(&v, PREFS).cloned());
            match parsed {
                Ok(d) => {
                    for k in POLICY_KEYS {
                        match apple_plist::opt_flag(&d, k) {
                            Ok(v) => {
                                policy.insert(k.to_string(), json!(v));
                            }
                            Err(e) => notes.push(format!("{PREFS}: {e}")),
                        }
                    }
                    if let Some(plist::Value::Date(t)) = d.get("LastSuccessfulDate") {
                        catalogue_checked =
                            Some(DateTime::<Utc>::from(std::time::SystemTime::from(*t)));
                    }
                }
                Err(e) => notes.push(format!("{PREFS}: {e}")),
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => notes.push(format!("{PREFS}: {e}")),
    }
    let catalogue_age = catalogue_checked.map(|t| (now - t).num_days().max(0));
    let catalogue_stale = catalogue_age.is_none_or(|d| d > i64::from(cfg.max_metadata_age_days));

    // Last Apple update installed.
    let last_install = match probe.read(INSTALL_HISTORY) {
        Ok(bytes) => {
            evidence.push(Evidence::file(INSTALL_HISTORY, &bytes));
            match parse_install_history(&bytes) {
                Ok(v) => v.last().cloned(),
                Err(e) => {
                    notes.push(format!("{INSTALL_HISTORY}: {e}"));
                    None
                }
            }
        }
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            notes.push(format!("{INSTALL_HISTORY}: {e}"));
            None
        }
    };

    let sla = i64::from(cfg.sla_days);
    let margin = i64::from(cfg.warn_margin_days);
    let restart_to_install = patches.iter().any(|u| u.restart);
    let labelled: Vec<(String, i64)> = aged.iter().map(|a| (a.label(), a.age_days)).collect();
    let verdict = sla::judge(&labelled, sla, margin, "Apple update");
    let mut parts = vec![verdict.sentence];
    let mut status = verdict.status;
    if !majors.is_empty() {
        let names: Vec<&str> = majors.iter().map(|u| u.title.as_str()).collect();
        parts.push(format!(
            "major upgrade available ({}), not counted as a missing patch",
            names.join(", ")
        ));
    }
    match catalogue_age {
        Some(d) if catalogue_stale => parts.push(format!(
            "update catalogue last checked {} ago (more than {} days)",
            days(d),
            cfg.max_metadata_age_days
        )),
        Some(d) => parts.push(format!("update catalogue checked {} ago", days(d))),
        None => parts.push(format!(
            "update catalogue age unknown (no LastSuccessfulDate in {PREFS})"
        )),
    }
    if catalogue_stale && status == Status::Pass {
        status = Status::Warn;
    }
    match &last_install {
        Some(i) => parts.push(format!(
            "last Apple update installed {} ago ({} {}, {})",
            days((now - i.date).num_days().max(0)),
            i.name,
            i.version,
            i.date.format("%Y-%m-%d")
        )),
        None => parts.push("no Apple update in the install history".to_string()),
    }
    for n in &notes {
        parts.push(n.clone());
    }
    let (status, summary) =
        first_seen::unless_unsaved(status, parts.join("; "), save_error.as_ref());
    let pending_json: Vec<Value> = aged
        .iter()
        .map(|a| {
            json!({
                "label": a.update.label,
                "title": a.update.title,
                "version": a.update.version,
                "security_response": a.update.is_security_response(),
                "restart": a.update.restart,
                "age_days": a.age_days,
                "since": a.since.to_rfc3339(),
                "since_source": "first_seen",
                "lower_bound": a.lower_bound,
            })
        })
        .collect();
    // Fact names follow the Linux check's, so KPIs and reports read both alike.
    CheckResult::new(id, status, summary)
        .fact("platform", "macos")
        .fact("package_manager", "softwareupdate")
        .fact("os_version", running)
        .fact("pending_security", aged.len())
        .fact("pending_other", 0)
        .fact(
            "oldest_pending_days",
            json!(aged.first().map(|a| a.age_days)),
        )
        .fact("over_sla", verdict.over)
        .fact("near_sla", verdict.near)
        .fact("sla_days", cfg.sla_days)
        .fact("warn_margin_days", cfg.warn_margin_days)
        .fact("security_updates", pending_json)
        .fact(
            "major_upgrades",
            majors.iter().map(|u| u.title.clone()).collect::<Vec<_>>(),
        )
        .fact("restart_required_to_install", restart_to_install)
        .fact("metadata_age_days", json!(catalogue_age))
        .fact("metadata_age_source", PREFS)
        .fact("metadata_stale", catalogue_stale)
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
        .fact("auto_update_policy", Value::Object(policy))
        .with_evidence(evidence)
}

/// Run a command that must exit 0, recording its evidence; stdout on success.
fn run_text(
    probe: &dyn Probe,
    argv: &[&str],
    evidence: &mut Vec<Evidence>,
) -> Result<String, String> {
    let (out, ev) = probe
        .run_evidence(argv)
        .map_err(|e| format!("could not run `{}`: {e}", argv.join(" ")))?;
    evidence.push(ev);
    if out.exit_code != Some(0) {
        return Err(format!(
            "`{}` exited with {:?}: {}",
            argv.join(" "),
            out.exit_code,
            out.stderr_text()
        ));
    }
    Ok(out.stdout_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_captures_from_the_reference() {
        // Verbatim fixture of a bats test (platforms reference A2).
        let one = "Software Update Tool\n\nSoftware Update found the following new or updated software:\n* Label: macOS Tahoe 26.6.2-25G83\n\tTitle: macOS Tahoe 26.6.2, Version: 26.6.2, Size: 2824636KiB, Recommended: YES, Action: restart,\n";
        let u = parse_list(one).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].title, "macOS Tahoe 26.6.2");
        assert_eq!(u[0].version, "26.6.2");
        assert!(u[0].restart && u[0].recommended);
        assert!(!u[0].is_major_upgrade(26));
        // Captured live, with trailing spaces and a Safari item without Action.
        let two = "Finding available software\nSoftware Update found the following new or updated software:\n* Label: macOS 27-26A428\n\tTitle: macOS 27, Version: 27, Size: 11728377KiB, Recommended: YES, Action: restart, \n* Label: Safari27.0TahoeAuto-27.0\n\tTitle: Safari, Version: 27.0, Size: 190512KiB, Recommended: YES, \n";
        let u = parse_list(two).unwrap();
        assert!(
            u[0].is_major_upgrade(26),
            "macOS 27 on 26 is a major upgrade"
        );
        assert!(
            !u[1].is_major_upgrade(26),
            "Safari 27.0 is not a macOS upgrade"
        );
        assert!(!u[1].restart);
        assert_eq!(
            parse_list("Software Update Tool\n\nNo new software available.\n").unwrap(),
            vec![]
        );
        let rsr = parse_list("* Label: macOS Tahoe 26.7.1 (a)-25H300a\n\tTitle: macOS Tahoe 26.7.1 (a), Version: 26.7.1 (a), Size: 90112KiB, Recommended: YES, Action: restart,\n").unwrap();
        assert!(rsr[0].is_security_response());
        assert!(!rsr[0].is_major_upgrade(26));
    }

    #[test]
    fn list_is_strict() {
        assert!(
            parse_list("").is_err(),
            "empty output is not `nothing pending`"
        );
        assert!(parse_list(
            "Software Update Tool\n\nCan't connect to the Apple Software Update server.\n"
        )
        .is_err());
        assert!(parse_list("* Label: X-1\n").is_err());
        assert!(parse_list("* Label: X-1\n\tTitle: X, Version: 1, Colour: red,\n").is_err());
    }
}
