//! patch_age check: how long security updates have been waiting on this host.
//!
//! Each pending security update gets an age: from its advisory's issue date when the package
//! manager gives one (dnf5's Issued column, dnf4's `updateinfo info`, zypper's `issue-date`),
//! otherwise from the first time the agent saw it pending (agent state `patch_age_first_seen`),
//! or, on apt, from the publication date of the package index listing it when that is earlier.
//! `fail` when one is older than the SLA, `warn` when one is within the margin of it, when the
//! package metadata is stale or of unknown age, when upgrades are held back or a reboot is
//! pending. Facts carry the list, the counts, the last upgrade run and the reboot state.
//!
//! Layout: [`gather`] asks the package manager (through the probe); [`apt`], [`release`],
//! [`dnf`], [`zypper`] and [`kernel`] parse; [`first_seen`] is the state document; this file
//! decides.

pub mod apt;
pub mod dnf;
pub mod first_seen;
pub mod gather;
pub mod kernel;
pub mod release;
pub mod repocache;
mod sla;
mod softwareupdate;
mod windows_update;
pub mod zypper;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::os_release::{parse_os_release, OsFamily};
use crate::{CheckResult, Context, Platform, Status};
use gather::{Gathered, Reboot};

/// Settings of the patch_age check (`[checks.patch_age]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatchAgeConfig {
    /// Days a security update may stay pending; older is `fail`.
    pub sla_days: u32,
    /// `warn` once a security update is this many days or fewer from the SLA (0: no warning band).
    pub warn_margin_days: u32,
    /// Package metadata (apt lists, repomd.xml) older than this many days makes the result at
    /// least `warn`: a stale index hides updates.
    pub max_metadata_age_days: u32,
    /// A pending reboot (new kernel or core libraries not running yet) makes the result at least `warn`.
    pub warn_on_reboot_required: bool,
    /// Upgrades the package manager holds back (apt "not upgraded") make the result at least
    /// `warn`: their security state cannot be seen.
    pub warn_on_held_back: bool,
    /// apt: labels, suites or codenames of Release files also counted as security archives, for
    /// derivatives that publish security fixes under other names (e.g. `["Raspbian"]` counts
    /// every update from the Raspbian archive as a security update). Matched exactly. Built in:
    /// label `Debian-Security`, any suite or codename ending in `-security`.
    pub security_suites: Vec<String>,
    /// macOS: ask Apple's servers (`softwareupdate --list`, 30–90 s, needs the network) instead of
    /// reading the catalogue Software Update cached at its last check (`--list --no-scan`). Default false.
    pub softwareupdate_scan: bool,
}

impl Default for PatchAgeConfig {
    fn default() -> Self {
        PatchAgeConfig {
            sla_days: 30,
            warn_margin_days: 7,
            max_metadata_age_days: 7,
            warn_on_reboot_required: true,
            warn_on_held_back: true,
            security_suites: Vec::new(),
            softwareupdate_scan: false,
        }
    }
}

impl PatchAgeConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=3650).contains(&self.sla_days) {
            return Err(format!(
                "checks.patch_age.sla_days: {} is out of range, allowed 1 to 3650 days",
                self.sla_days
            ));
        }
        if self.warn_margin_days >= self.sla_days {
            return Err(format!(
                "checks.patch_age.warn_margin_days: {} must be smaller than sla_days ({})",
                self.warn_margin_days, self.sla_days
            ));
        }
        if !(1..=365).contains(&self.max_metadata_age_days) {
            return Err(format!(
                "checks.patch_age.max_metadata_age_days: {} is out of range, allowed 1 to 365 days",
                self.max_metadata_age_days
            ));
        }
        if let Some(bad) = self
            .security_suites
            .iter()
            .find(|s| s.trim().is_empty() || s.trim() != s.as_str())
        {
            return Err(format!(
                "checks.patch_age.security_suites: {bad:?} is not a Release label, suite or codename (allowed: non-empty names without leading or trailing spaces, e.g. \"Raspbian\" or \"daedalus-security\")"
            ));
        }
        Ok(())
    }
}

/// The patch_age check.
pub struct PatchAge;

/// Where an update's "available since" date comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SinceSource {
    /// The advisory's issue date (dnf, zypper).
    Advisory,
    /// The first run of the agent that saw it pending.
    FirstSeen,
    /// The publication date (`Date:`) of the apt package index listing it, earlier than any
    /// sighting.
    IndexDate,
}

impl SinceSource {
    fn as_str(self) -> &'static str {
        match self {
            SinceSource::Advisory => "advisory",
            SinceSource::FirstSeen => "first_seen",
            SinceSource::IndexDate => "index_date",
        }
    }
}

/// A pending security update with its age worked out.
struct Aged {
    package: String,
    version: String,
    advisory: Option<String>,
    since: DateTime<Utc>,
    source: SinceSource,
    /// The index file whose date `since` is (source `IndexDate`).
    since_index: Option<String>,
    /// `age_days` is a lower bound: the update may have been available before `since` (an index
    /// date, or a first sighting on the day tracking started).
    lower_bound: bool,
    age_days: i64,
}

impl Aged {
    fn label(&self) -> String {
        let day = self.since.format("%Y-%m-%d");
        let how = match (self.source, &self.advisory) {
            (SinceSource::Advisory, Some(a)) if *a != self.package => format!("{a} issued {day}"),
            (SinceSource::Advisory, _) => format!("issued {day}"),
            (SinceSource::IndexDate, _) => format!("available since at least {day}, index date"),
            (SinceSource::FirstSeen, _) if self.lower_bound => {
                format!("first seen {day}, at least")
            }
            (SinceSource::FirstSeen, _) => format!("first seen {day}"),
        };
        format!(
            "{} {} ({}, {how})",
            self.package,
            self.version,
            days(self.age_days)
        )
    }

    fn to_json(&self) -> Value {
        json!({
            "package": self.package,
            "version": self.version,
            "advisory": self.advisory,
            "age_days": self.age_days,
            "since": self.since.to_rfc3339(),
            "since_source": self.source.as_str(),
            "since_index": self.since_index,
            "lower_bound": self.lower_bound,
        })
    }
}

/// `1 day`, `3 days`.
fn days(n: i64) -> String {
    format!("{n} {}", if n == 1 { "day" } else { "days" })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// At most five labels, then "and N more".
fn list(items: &[&Aged]) -> String {
    let mut s: Vec<String> = items.iter().take(5).map(|a| a.label()).collect();
    if items.len() > 5 {
        s.push(format!("and {} more", items.len() - 5));
    }
    s.join(", ")
}

impl crate::Check for PatchAge {
    fn id(&self) -> &'static str {
        "patch_age"
    }
    fn title(&self) -> &'static str {
        "Security updates applied within the SLA"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Correctifs de sécurité",
            en: "Security updates",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["7.3", "7.4", "7.7"]
    }

    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return softwareupdate::run(ctx),
            Platform::Windows => return windows_update::run(ctx),
        }
        let id = self.id();
        let cfg = &ctx.config.patch_age;
        let probe = ctx.probe;
        let (os_text, os_ev) = match probe
            .read_evidence("/etc/os-release")
            .or_else(|_| probe.read_evidence("/usr/lib/os-release"))
        {
            Ok(r) => r,
            Err(e) => {
                return crate::probe_error(
                    id,
                    "read /etc/os-release to pick the package manager",
                    &e,
                )
            }
        };
        let os = parse_os_release(&os_text);
        let mut evidence = vec![os_ev];
        let gathered = match os.family() {
            OsFamily::Debian => gather::apt(probe, &mut evidence, &cfg.security_suites),
            OsFamily::RedHat => gather::dnf(probe, &mut evidence),
            OsFamily::Suse => gather::zypper(probe, &mut evidence),
            OsFamily::Other => {
                let name = if os.pretty_name.is_empty() {
                    &os.id
                } else {
                    &os.pretty_name
                };
                return CheckResult::new(
                    id,
                    Status::NotApplicable,
                    format!(
                        "{name} (ID={}) is not a distribution patch_age knows: it reads apt (Debian, Ubuntu), dnf/yum (RHEL, Fedora, Rocky, Alma) and zypper (SUSE)",
                        os.id
                    ),
                )
                .fact("os", os.id.clone())
                .with_evidence(evidence);
            }
        };
        let g = match gathered {
            Ok(g) => g,
            Err(msg) => {
                return CheckResult::new(id, Status::Error, msg).with_evidence(evidence);
            }
        };
        let now = probe.now();

        // First-seen dates: read, update, prune, write back.
        let mut doc = match first_seen::load(ctx.state, now) {
            Ok(d) => d,
            Err(msg) => return CheckResult::new(id, Status::Error, msg).with_evidence(evidence),
        };
        let keys: Vec<String> = g
            .security
            .iter()
            .map(|u| first_seen::key(&u.package, &u.version))
            .collect();
        let sightings: Vec<_> = g
            .security
            .iter()
            .zip(&keys)
            .map(|(u, k)| (k.clone(), u.index_date.clone()))
            .collect();
        let save_error =
            first_seen::observe_and_save(&mut doc, &sightings, now, ctx.state, &mut evidence);

        let mut aged: Vec<Aged> = g
            .security
            .iter()
            .zip(&keys)
            .map(|(u, k)| {
                let seen = doc.first_seen.get(k).copied().unwrap_or(now);
                let index = doc.from_index.get(k);
                let (since, source) = match (u.issued, index) {
                    (Some(t), _) => (t, SinceSource::Advisory),
                    (None, Some(_)) => (seen, SinceSource::IndexDate),
                    (None, None) => (seen, SinceSource::FirstSeen),
                };
                Aged {
                    package: u.package.clone(),
                    version: u.version.clone(),
                    advisory: u.advisory.clone(),
                    since,
                    source,
                    since_index: index.filter(|_| source == SinceSource::IndexDate).cloned(),
                    lower_bound: match source {
                        SinceSource::Advisory => false,
                        SinceSource::IndexDate => true,
                        SinceSource::FirstSeen => seen == doc.created,
                    },
                    age_days: (now - since).num_days().max(0),
                }
            })
            .collect();
        aged.sort_by(|a, b| b.age_days.cmp(&a.age_days).then(a.package.cmp(&b.package)));
        decide(cfg, &g, &aged, now, save_error)
            .fact("first_seen_tracking_since", doc.created.to_rfc3339())
            .with_evidence(evidence)
    }
}

/// A metadata path as named in summaries: apt list files by their file name, other paths whole.
fn short_name(path: &str) -> String {
    match path.strip_prefix("/var/lib/apt/lists/") {
        Some(name) if !name.contains('/') && name != "partial" => name.to_string(),
        _ => path.to_string(),
    }
}

/// A metadata file as shown in facts: its name, age in days, and Release `Date:` (apt).
type FileAge = (String, Option<i64>, Option<DateTime<Utc>>);

/// How fresh the package metadata is: its age, the path that dates it, and the warning when it
/// is stale or cannot be dated.
struct Freshness {
    age_days: Option<i64>,
    source: Option<String>,
    problem: Option<String>,
}

/// dnf, zypper: every repository must have been refreshed recently; the oldest dates the metadata.
/// A repository is dated by its last successful refresh (see [`repocache`]), else — only when
/// that proves it fresh — by when the server published the copy it holds.
fn repo_freshness(
    g: &Gathered,
    meta_ages: &[FileAge],
    now: DateTime<Utc>,
    max_meta: i64,
) -> Freshness {
    let oldest = g
        .metadata
        .iter()
        .zip(meta_ages)
        .filter_map(|(m, (_, a, _))| {
            let by = match (&m.dated_by, m.modified) {
                (Some(by), Some(_)) => by.clone(),
                (_, None) => format!("{} <timestamp>", m.path),
                (None, Some(_)) => m.path.clone(),
            };
            a.map(|a| (a, by))
        })
        .max_by_key(|(a, _)| *a);
    let stale: Vec<String> = meta_ages
        .iter()
        .filter_map(|(n, a, p)| match (a, p) {
            (Some(d), _) if *d > max_meta => Some(format!("{n} {} old", days(*d))),
            (None, Some(p)) => Some(format!(
                "{n} of unknown age (no refresh time; the server published it {} ago)",
                days((now - *p).num_days().max(0))
            )),
            (None, None) => Some(format!("{n} of unknown age")),
            _ => None,
        })
        .collect();
    let problem = if g.metadata.is_empty() {
        Some(format!(
            "package metadata age unknown (no repomd.xml under {}): pending updates may be missing",
            g.metadata_where
        ))
    } else if !stale.is_empty() {
        let shown: Vec<&str> = stale.iter().take(3).map(String::as_str).collect();
        Some(format!(
            "stale package metadata (limit {max_meta} days, updates may be missing): {}{}",
            shown.join(", "),
            if stale.len() > 3 {
                format!(" and {} more", stale.len() - 3)
            } else {
                String::new()
            }
        ))
    } else {
        None
    };
    Freshness {
        age_days: oldest.as_ref().map(|(a, _)| *a),
        source: oldest.map(|(_, p)| p),
        problem,
    }
}

/// apt: the metadata is as old as the last successful `apt-get update`, dated by the newest
/// signal that proves success. Release files are not judged one by one: apt dates each by its
/// server's Last-Modified, so a suite published rarely keeps an old mtime on a host updated today.
fn apt_freshness(g: &Gathered, now: DateTime<Utc>, max_meta: i64) -> Freshness {
    let age_of = |t: DateTime<Utc>| (now - t).num_days().max(0);
    let best = g
        .refresh
        .iter()
        .filter(|r| r.proves_success)
        .filter_map(|r| r.modified.map(|t| (t, r)))
        .max_by_key(|(t, _)| *t);
    let Some((at, by)) = best else {
        return Freshness {
            age_days: None,
            source: None,
            problem: Some(format!(
                "package metadata age unknown (no update-success stamp and no dated Release file in {}): pending updates may be missing",
                g.metadata_where
            )),
        };
    };
    let age = age_of(at);
    let problem = (age > max_meta).then(|| {
        // A newer run that left no proof of success: say so, it is what to look at.
        let attempt = g
            .refresh
            .iter()
            .filter(|r| !r.proves_success && r.path.ends_with("/lists/partial"))
            .filter_map(|r| r.modified.map(|t| (age_of(t), r)))
            .find(|(a, _)| *a < age)
            .map(|(a, r)| {
                format!(
                    "; {} changed {} ago: an apt-get update ran since, and failed or found every suite unchanged",
                    r.path,
                    days(a)
                )
            })
            .unwrap_or_default();
        format!(
            "stale package metadata (limit {max_meta} days, updates may be missing): last successful apt-get update {} ago ({}, per {}){attempt}",
            days(age),
            at.format("%Y-%m-%d"),
            short_name(&by.path)
        )
    });
    Freshness {
        age_days: Some(age),
        source: Some(by.path.clone()),
        problem,
    }
}

/// The verdict, summary and facts from what was gathered.
fn decide(
    cfg: &PatchAgeConfig,
    g: &Gathered,
    aged: &[Aged],
    now: DateTime<Utc>,
    save_error: Option<String>,
) -> CheckResult {
    let sla = i64::from(cfg.sla_days);
    let margin = i64::from(cfg.warn_margin_days);
    let over: Vec<&Aged> = aged.iter().filter(|a| a.age_days > sla).collect();
    let near: Vec<&Aged> = aged
        .iter()
        .filter(|a| margin > 0 && a.age_days <= sla && a.age_days >= sla - margin)
        .collect();
    let oldest = aged.first().map(|a| a.age_days);

    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut notes = Vec::new();

    if !over.is_empty() {
        fails.push(format!(
            "{} pending beyond the {sla}-day SLA: {}",
            plural(over.len(), "security update", "security updates"),
            list(&over)
        ));
    }
    if !near.is_empty() {
        warns.push(format!(
            "{} within {margin} days of the {sla}-day SLA: {}",
            plural(near.len(), "security update", "security updates"),
            list(&near)
        ));
    }
    let head = match oldest {
        None => "no security update pending".to_string(),
        Some(d) if over.is_empty() && near.is_empty() => format!(
            "{} pending, oldest {} (SLA {sla} days): {}",
            plural(aged.len(), "security update", "security updates"),
            days(d),
            list(&aged.iter().collect::<Vec<_>>())
        ),
        Some(d) => format!(
            "{} pending, oldest {}",
            plural(aged.len(), "security update", "security updates"),
            days(d)
        ),
    };
    notes.push(format!(
        "{} other {}",
        g.other,
        if g.other == 1 { "update" } else { "updates" }
    ));

    if g.held_back > 0 {
        let msg = format!(
            "{} held back by {} (their security state is not examined)",
            plural(g.held_back, "upgrade", "upgrades"),
            g.manager
        );
        if cfg.warn_on_held_back {
            warns.push(msg);
        } else {
            notes.push(msg);
        }
    }

    // Metadata freshness: a stale index makes "nothing pending" meaningless.
    let max_meta = i64::from(cfg.max_metadata_age_days);
    let age_of = |t: DateTime<Utc>| (now - t).num_days().max(0);
    let is_apt = g.manager == "apt";
    let meta_ages: Vec<FileAge> = g
        .metadata
        .iter()
        .map(|m| {
            // rpm-md: a copy the server published recently is at least that recent.
            let published_age = m
                .published
                .map(age_of)
                .filter(|a| !is_apt && *a <= max_meta);
            (
                short_name(&m.path),
                m.modified.map(age_of).or(published_age),
                m.published,
            )
        })
        .collect();
    let freshness = if is_apt {
        apt_freshness(g, now, max_meta)
    } else {
        repo_freshness(g, &meta_ages, now, max_meta)
    };
    match &freshness.problem {
        Some(p) => warns.push(p.clone()),
        None => {
            if let (Some(a), Some(src)) = (freshness.age_days, &freshness.source) {
                notes.push(format!(
                    "package metadata {} old (per {})",
                    days(a),
                    short_name(src)
                ));
            }
        }
    }

    let days_since_run = g.last_run.at.map(|t| (now - t).num_days().max(0));
    notes.push(match (g.last_run.at, days_since_run) {
        (Some(t), Some(d)) => format!(
            "last upgrade run {} ago ({})",
            days(d),
            t.format("%Y-%m-%d")
        ),
        _ => g.last_run.source.clone(),
    });

    let (reboot_required, reboot_state, reboot_reason) = match &g.reboot {
        Reboot::Required(r) => (Value::Bool(true), "required", r.clone()),
        Reboot::NotRequired(r) => (Value::Bool(false), "not_required", r.clone()),
        Reboot::NotApplicable(r) => (Value::Null, "not_applicable", r.clone()),
        Reboot::Unknown(r) => (Value::Null, "unknown", r.clone()),
    };
    match &g.reboot {
        Reboot::Required(r) if cfg.warn_on_reboot_required => {
            warns.push(format!("reboot required: {r}"))
        }
        Reboot::Required(r) => notes.push(format!("reboot required: {r}")),
        Reboot::NotRequired(_) => notes.push("no reboot required".into()),
        Reboot::NotApplicable(r) => notes.push(r.clone()),
        Reboot::Unknown(r) => notes.push(format!("reboot state unknown: {r}")),
    }

    let status = if !fails.is_empty() {
        Status::Fail
    } else if !warns.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    let mut parts = fails;
    parts.extend(warns);
    parts.insert(0, head);
    parts.extend(notes);
    let (status, summary) =
        first_seen::unless_unsaved(status, parts.join("; "), save_error.as_ref());

    CheckResult::new("patch_age", status, summary)
        .fact("package_manager", g.manager)
        .fact("pending_security", aged.len())
        .fact("pending_other", g.other)
        .fact("held_back", g.held_back)
        .fact(
            "oldest_pending_days",
            oldest.map_or(Value::Null, Value::from),
        )
        .fact("over_sla", over.len())
        .fact("near_sla", near.len())
        .fact("sla_days", cfg.sla_days)
        .fact("warn_margin_days", cfg.warn_margin_days)
        .fact(
            "security_updates",
            Value::Array(aged.iter().map(Aged::to_json).collect()),
        )
        .fact(
            "metadata_age_days",
            freshness.age_days.map_or(Value::Null, Value::from),
        )
        .fact(
            "metadata_age_source",
            freshness.source.clone().map_or(Value::Null, Value::from),
        )
        .fact("metadata_stale", freshness.problem.is_some())
        .fact(
            "metadata_sources",
            Value::Array(
                meta_ages
                    .iter()
                    .map(|(n, a, p)| {
                        json!({"source": n, "age_days": a, "published": p.map(|t| t.to_rfc3339())})
                    })
                    .collect(),
            ),
        )
        .fact(
            "metadata_refresh_signals",
            Value::Array(
                g.refresh
                    .iter()
                    .map(|r| {
                        json!({
                            "source": r.path,
                            "modified": r.modified.map(|t| t.to_rfc3339()),
                            "age_days": r.modified.map(age_of),
                            "proves_success": r.proves_success,
                            "problem": r.problem,
                        })
                    })
                    .collect(),
            ),
        )
        .fact("index_date_problems", g.index_problems.clone())
        .fact(
            "last_patch_run",
            g.last_run.at.map_or(Value::Null, |t| t.to_rfc3339().into()),
        )
        .fact(
            "days_since_last_patch_run",
            days_since_run.map_or(Value::Null, Value::from),
        )
        .fact("last_patch_run_source", g.last_run.source.clone())
        .fact("reboot_required", reboot_required)
        .fact("reboot_state", reboot_state)
        .fact("reboot_reason", reboot_reason)
        .fact("first_seen_saved", save_error.is_none())
}

#[cfg(test)]
mod tests;
