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
mod location;
mod marker;
mod observe;
mod restic;
mod timemachine;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

pub use config::{BackupConfig, BackupSource, SourceKind};

use observe::{
    observe_borg, observe_marker, observe_path, observe_restic, this_hostname, Observation,
};

use crate::{CheckResult, Context, Evidence, Platform, Status};

/// A newest backup dated this far in the future is clock skew, not a fresh backup.
const CLOCK_SKEW_TOLERANCE_SECONDS: i64 = 300;

/// The backup_freshness check.
pub struct BackupFreshness;

/// The verdict on one source.
struct SourceVerdict {
    name: String,
    /// Where its backups live: repository (credentials removed), glob or marker path.
    location: String,
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
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Fraîcheur des sauvegardes",
            en: "Backup freshness",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["11.1", "11.2", "11.3"]
    }

    fn run(&self, ctx: &Context) -> CheckResult {
        if let other @ Platform::Windows = ctx.probe.platform() {
            return crate::platform::unsupported(self.id(), other);
        }
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
                    SourceKind::Borg => observe_borg(ctx.probe, cfg, src, || {
                        hostname
                            .get_or_insert_with(|| this_hostname(ctx.probe))
                            .clone()
                    }),
                    SourceKind::Path => observe_path(ctx.probe, src),
                    SourceKind::TimestampFile => observe_marker(ctx.probe, src),
                    SourceKind::TimeMachine => timemachine::observe_time_machine(ctx.probe),
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
    let location = match src.kind {
        SourceKind::Restic | SourceKind::Borg => {
            location::redact_repository(src.repository.as_deref().unwrap_or_default())
        }
        SourceKind::Path => src.glob.clone().unwrap_or_default(),
        SourceKind::TimestampFile => src.path.clone().unwrap_or_default(),
        SourceKind::TimeMachine => "Time Machine".to_string(),
    };
    let (status, reason) = match (&obs.problem, obs.newest, age) {
        (Some((st, why)), _, _) => (*st, why.clone()),
        (None, Some(newest), Some(age)) => {
            // What was found and when, before how old it is.
            let label = format!("{} at {}", obs.label, rfc3339(newest));
            if age.num_seconds() < -CLOCK_SKEW_TOLERANCE_SECONDS {
                (
                    Status::Error,
                    format!(
                        "{label} is dated {} in the future: clock skew between this host and the backup, freshness unknown",
                        fmt_age(-age),
                    ),
                )
            } else if age > rpo {
                (
                    Status::Fail,
                    format!("{label}, {} old > RPO {rpo_hours} h", fmt_age(age)),
                )
            } else if let Some(pct) = warn_at_percent
                .filter(|p| age.num_seconds() * 100 > rpo.num_seconds() * i64::from(*p))
            {
                (
                    Status::Warn,
                    format!(
                        "{label}, {} old, past {pct}% of RPO {rpo_hours} h",
                        fmt_age(age)
                    ),
                )
            } else {
                (
                    Status::Pass,
                    format!("{label}, {} old (RPO {rpo_hours} h)", fmt_age(age)),
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
    facts.insert("location".into(), json!(location));
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
        location,
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
    let describe = |v: &SourceVerdict| format!("{} ({}): {}", v.name, v.location, v.reason);
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
            glob_archives: None,
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
            (
                Status::Fail,
                "last success at 2026-11-23T09:59:00Z, 24 h 1 min old > RPO 24 h"
            )
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
