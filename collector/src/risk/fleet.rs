//! Risks derived from the fleet. For each check with a scenario (shipped defaults for unencrypted
//! disks, missing MFA, stale backups, overdue patches, weak password policy, screens that do not
//! lock, hosts without an inbound-deny firewall and hosts without working anti-malware;
//! `[risk.scenarios]` overrides them), one risk follows the fleet:
//!
//! - likelihood from the share of evaluated hosts failing: any failing host → 1, at least
//!   `likelihood_shares[0]` (10 %) → 2, `[1]` (25 %) → 3, `[2]` (50 %) → 4;
//! - impact = the highest criticality among failing hosts (`[hosts]`: groups by hostname glob,
//!   else `default_criticality`);
//! - evaluated hosts: reporting (not stale) hosts whose status is `pass`, `warn`, `fail` or
//!   `excepted`; failing: `fail` only (a `warn` is not yet a failure; `error` is unknown, never
//!   counted either way); failures covered by an active exception are `excepted`, not failing;
//! - no failing host → the risk closes (keeping its last likelihood and impact and its history);
//!   failures again → it reopens.
//!
//! `reconcile` is pure: it returns only the risks that change, so the background loop writes (and
//! records history) only when something changed.
//!
//! The history of a fleet risk's assets (its failing hosts) records the change, not the lists: the
//! hosts that started and stopped failing, at most [`HISTORY_HOSTS_CAP`] names each, with their
//! counts and the list's size before and after ([`assets_change`]). A whole list per entry would
//! make every status change of one host cost a row as large as the fleet (~140 KB at 100,000
//! hosts); the current list is on the risk itself.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{HostsSection, RiskSection};
use super::exceptions::{apply_exceptions, Exception, HostRef};
use super::fleet_note::FleetNote;
use super::matrix::Matrix;
use super::register::{diff, FieldChange, Risk};
use super::{RiskStatus, Source, Treatment};

/// A shipped scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The check.
    pub check: String,
    /// Title of the risk.
    pub title: String,
    /// What could happen.
    pub scenario: String,
    /// Treatment.
    pub treatment: Treatment,
    /// Owner.
    pub owner: String,
}

const DEFAULTS: &[(&str, &str, &str)] = &[
    (
        "disk_encryption",
        "Data exposed by a lost or stolen unencrypted disk",
        "A laptop or disk without full-disk encryption is lost, stolen or discarded, and the data on it (customer data, credentials) is read.",
    ),
    (
        "mfa",
        "Account takeover through missing multi-factor authentication",
        "A phished or guessed password is enough to log in to a host without MFA and act as its user.",
    ),
    (
        "backup_freshness",
        "Data loss beyond the recovery point after an incident",
        "Ransomware or hardware failure hits a host whose last backup is older than the recovery point objective.",
    ),
    (
        "patch_age",
        "Compromise through an unpatched known vulnerability",
        "A host misses security updates beyond the patching deadline and a published vulnerability is exploited.",
    ),
    (
        "password_policy",
        "Password guessing against a weak password policy",
        "Short or never-rotated passwords and no lockout let an attacker guess a local account's password.",
    ),
    (
        "screen_lock",
        "Misuse of an unattended session that does not lock",
        "A session left unattended on a host whose screen does not lock in time is used by someone else (colleague, visitor, thief) to read data or act as its user.",
    ),
    (
        "firewall",
        "Intrusion through a network service exposed by a host without a firewall",
        "A host that does not deny inbound traffic by default exposes a forgotten or vulnerable service, which an attacker or a worm on the network reaches.",
    ),
    (
        "malware_protection",
        "Malware infection that goes undetected",
        "Ransomware or an information stealer reaches a host without a running anti-malware engine, or with stale signatures, and runs undetected.",
    ),
];

/// The scenarios in force: the defaults merged with `[risk.scenarios]`, enabled ones only.
pub fn scenarios(cfg: &RiskSection) -> Vec<Scenario> {
    let mut out = Vec::new();
    let mut checks: Vec<&str> = DEFAULTS.iter().map(|d| d.0).collect();
    for k in cfg.scenarios.keys() {
        if !checks.contains(&k.as_str()) {
            checks.push(k);
        }
    }
    for check in checks {
        let default = DEFAULTS.iter().find(|d| d.0 == check);
        let over = cfg.scenarios.get(check);
        if over.is_some_and(|o| !o.enabled) {
            continue;
        }
        let pick = |o: Option<&Option<String>>, d: Option<&str>, fallback: String| {
            o.and_then(|v| v.clone())
                .or(d.map(String::from))
                .unwrap_or(fallback)
        };
        let title = pick(
            over.map(|o| &o.title),
            default.map(|d| d.1),
            format!("Fleet failures of {check}"),
        );
        let scenario = pick(
            over.map(|o| &o.scenario),
            default.map(|d| d.2),
            String::new(),
        );
        let treatment = over
            .and_then(|o| o.treatment.as_deref())
            .and_then(|t| Treatment::parse_field(t, "treatment").ok())
            .unwrap_or(Treatment::Reduce);
        let owner = pick(over.map(|o| &o.owner), None, "rssi".into());
        out.push(Scenario {
            check: check.to_string(),
            title,
            scenario,
            treatment,
            owner,
        });
    }
    out
}

/// Criticality (1..4) of `hostname`: the highest of its groups', else the default.
pub fn criticality(hostname: &str, hosts: &HostsSection) -> u8 {
    hosts
        .groups
        .iter()
        .filter(|g| g.hostnames.iter().any(|p| super::glob_matches(p, hostname)))
        .filter_map(|g| g.criticality)
        .max()
        .unwrap_or(hosts.default_criticality)
}

/// Likelihood from `failing` of `evaluated` hosts, or `None` when nothing fails.
pub fn likelihood(failing: usize, evaluated: usize, shares: &[f64; 3]) -> Option<u8> {
    if failing == 0 || evaluated == 0 {
        return None;
    }
    let share = failing as f64 / evaluated as f64;
    Some(1 + shares.iter().filter(|s| share >= **s).count() as u8)
}

/// One current result on a reporting host.
#[derive(Debug, Clone)]
pub struct HostResult {
    /// Hostname.
    pub hostname: String,
    /// Check.
    pub check: String,
    /// Reported status.
    pub status: String,
}

/// The fleet's state for one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Hosts with a pass/warn/fail/excepted result.
    pub evaluated: usize,
    /// Hosts failing (after exceptions).
    pub failing: usize,
    /// Failing hostnames, sorted (the risk's assets).
    pub failing_hosts: Vec<String>,
    /// Likelihood, `None` when clean.
    pub likelihood: Option<u8>,
    /// Impact: highest criticality among failing hosts (0 when clean).
    pub impact: u8,
}

/// Assess `check` over `results` (current results of reporting hosts).
pub fn assess(
    check: &str,
    results: &[HostResult],
    exceptions: &[Exception],
    cfg: &RiskSection,
    hosts: &HostsSection,
    now: i64,
) -> Assessment {
    let mut evaluated = 0;
    let mut failing_hosts = Vec::new();
    for r in results.iter().filter(|r| r.check == check) {
        let eff = apply_exceptions(
            &r.status,
            HostRef {
                hostname: &r.hostname,
            },
            check,
            now,
            exceptions,
        );
        match eff.as_str() {
            "fail" => {
                evaluated += 1;
                failing_hosts.push(r.hostname.clone());
            }
            "pass" | "warn" | "excepted" => evaluated += 1,
            _ => {}
        }
    }
    failing_hosts.sort();
    let impact = failing_hosts
        .iter()
        .map(|h| criticality(h, hosts))
        .max()
        .unwrap_or(0);
    Assessment {
        evaluated,
        failing: failing_hosts.len(),
        likelihood: likelihood(failing_hosts.len(), evaluated, &cfg.likelihood_shares),
        failing_hosts,
        impact,
    }
}

/// Most hostnames recorded per side (added, removed) of an assets change in the history.
pub const HISTORY_HOSTS_CAP: usize = 20;

/// The history entry for a fleet risk's assets going from `old` (`None` at creation) to `new`:
///
/// - `from`: `null` at creation, else `{"count": N, "removed": [..], "removed_count": R}` — the
///   hosts that stopped failing, the first [`HISTORY_HOSTS_CAP`] by name;
/// - `to`: `{"count": M, "added": [..], "added_count": A}` — the hosts that started failing.
///
/// The size is bounded by the cap, whatever the fleet's size.
pub fn assets_change(old: Option<&[String]>, new: &[String]) -> FieldChange {
    let before: BTreeSet<&str> = old.unwrap_or_default().iter().map(String::as_str).collect();
    let after: BTreeSet<&str> = new.iter().map(String::as_str).collect();
    let side = |count: usize, names: Vec<&&str>, key: &str| {
        let total = names.len();
        let listed: Vec<&str> = names.into_iter().take(HISTORY_HOSTS_CAP).copied().collect();
        serde_json::json!({"count": count, key: listed, format!("{key}_count"): total})
    };
    FieldChange {
        from: match old {
            None => serde_json::Value::Null,
            Some(_) => side(before.len(), before.difference(&after).collect(), "removed"),
        },
        to: side(after.len(), after.difference(&before).collect(), "added"),
    }
}

/// `diff(old, new)` with the assets entry, if any, in the bounded form of [`assets_change`].
fn fleet_diff(old: Option<&Risk>, new: &Risk) -> BTreeMap<String, FieldChange> {
    let mut changes = diff(old, new);
    if let Some(c) = changes.get_mut("assets") {
        *c = assets_change(old.map(|o| o.assets.as_slice()), &new.assets);
    }
    changes
}

/// A fleet risk to create or update, with what changed.
#[derive(Debug, Clone)]
pub struct FleetChange {
    /// The risk as it should be (id 0 when new).
    pub risk: Risk,
    /// Changed fields (all of them for a new risk).
    pub changes: BTreeMap<String, FieldChange>,
    /// A sentence for the history.
    pub note: String,
}

/// Compare the fleet's state with the stored fleet risks; only changed or new risks come back.
/// A clean check with no stored risk creates nothing.
#[allow(clippy::too_many_arguments)]
pub fn reconcile(
    existing: &[Risk],
    results: &[HostResult],
    exceptions: &[Exception],
    cfg: &RiskSection,
    hosts: &HostsSection,
    matrix: &Matrix,
    now: i64,
) -> Vec<FleetChange> {
    let mut out = Vec::new();
    for sc in scenarios(cfg) {
        let a = assess(&sc.check, results, exceptions, cfg, hosts, now);
        let current = existing
            .iter()
            .find(|r| r.source == Source::Fleet && r.check.as_deref() == Some(sc.check.as_str()));
        let Some(l) = a.likelihood else {
            // Clean: close the risk if it is open.
            if let Some(cur) = current.filter(|c| c.status == RiskStatus::Open) {
                let mut next = cur.clone();
                next.status = RiskStatus::Closed;
                next.assets.clear();
                let changes = fleet_diff(Some(cur), &next);
                out.push(FleetChange {
                    risk: next,
                    changes,
                    note: FleetNote::Clean {
                        check: sc.check.clone(),
                        evaluated: a.evaluated,
                    }
                    .to_string(),
                });
            }
            continue;
        };
        let impact = a.impact.clamp(1, 4);
        let level = matrix.level(l, impact).unwrap_or(super::Level::Low);
        // Name the failing host with the highest criticality (the first by name on a tie).
        let most_critical = a
            .failing_hosts
            .iter()
            .map(|h| (criticality(h, hosts), h))
            .max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(x.1)));
        let note = FleetNote::Failing {
            failing: a.failing,
            evaluated: a.evaluated,
            check: sc.check.clone(),
            host: most_critical.map(|(_, h)| h.clone()),
            criticality: impact,
        }
        .to_string();
        match current {
            None => {
                let r = Risk {
                    id: 0,
                    source: Source::Fleet,
                    check: Some(sc.check.clone()),
                    title: sc.title.clone(),
                    scenario: sc.scenario.clone(),
                    assets: a.failing_hosts.clone(),
                    likelihood: l,
                    impact,
                    level,
                    treatment: sc.treatment,
                    owner: sc.owner.clone(),
                    status: RiskStatus::Open,
                    next_review: super::today(now) + chrono::Days::new(cfg.review_days.into()),
                    review_overdue: false,
                    actions: Vec::new(),
                    created_at: now,
                    updated_at: now,
                };
                let changes = fleet_diff(None, &r);
                out.push(FleetChange {
                    risk: r,
                    changes,
                    note,
                });
            }
            Some(cur) => {
                // Title, scenario, treatment and owner are the register's to edit once created.
                let mut next = cur.clone();
                next.likelihood = l;
                next.impact = impact;
                next.level = level;
                next.assets = a.failing_hosts.clone();
                next.status = RiskStatus::Open;
                let changes = fleet_diff(Some(cur), &next);
                if !changes.is_empty() {
                    out.push(FleetChange {
                        risk: next,
                        changes,
                        note,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::config::HostGroup;
    use crate::risk::Level;

    fn res(host: &str, check: &str, status: &str) -> HostResult {
        HostResult {
            hostname: host.into(),
            check: check.into(),
            status: status.into(),
        }
    }

    fn hosts() -> HostsSection {
        HostsSection {
            default_criticality: 2,
            groups: vec![
                HostGroup {
                    name: "databases".into(),
                    hostnames: vec!["db-*".into()],
                    criticality: Some(4),
                },
                HostGroup {
                    name: "kiosks".into(),
                    hostnames: vec!["kiosk-*".into()],
                    criticality: Some(1),
                },
            ],
        }
    }

    #[test]
    fn likelihood_bands_by_hand() {
        let s = [0.10, 0.25, 0.50];
        assert_eq!(likelihood(0, 10, &s), None);
        // 1/20 = 5 % → below 10 % → 1.
        assert_eq!(likelihood(1, 20, &s), Some(1));
        // 2/20 = 10 % → reaches the first share → 2.
        assert_eq!(likelihood(2, 20, &s), Some(2));
        // 3/10 = 30 % → ≥ 25 % → 3.
        assert_eq!(likelihood(3, 10, &s), Some(3));
        // 5/10 = 50 % → 4.
        assert_eq!(likelihood(5, 10, &s), Some(4));
    }

    #[test]
    fn fleet_risk_from_failing_share_and_most_critical_host() {
        let cfg = RiskSection::default();
        // disk_encryption over 8 hosts: web-1..web-5 pass, kiosk-1 fails (criticality 1),
        // web-6 fails (default 2), db-1 fails but is excepted, db-2 reports error (not evaluated).
        let mut results: Vec<HostResult> = (1..=5)
            .map(|i| res(&format!("web-{i}"), "disk_encryption", "pass"))
            .collect();
        results.push(res("kiosk-1", "disk_encryption", "fail"));
        results.push(res("web-6", "disk_encryption", "fail"));
        results.push(res("db-1", "disk_encryption", "fail"));
        results.push(res("db-2", "disk_encryption", "error"));
        let exc = vec![crate::risk::exceptions::tests::ex(
            1,
            "disk_encryption",
            &["db-1"],
            0,
            1_000_000,
        )];
        let a = assess("disk_encryption", &results, &exc, &cfg, &hosts(), 10);
        // Evaluated: 5 pass + 2 fail + 1 excepted = 8 (the error is not evaluated).
        // Failing: kiosk-1, web-6 → 2/8 = 25 % → ≥ 25 % → likelihood 3.
        // Impact: max(criticality kiosk-1 = 1, web-6 = 2) = 2 (db-1 is excepted, so its 4 does not count).
        assert_eq!(a.evaluated, 8);
        assert_eq!(
            a.failing_hosts,
            vec!["kiosk-1".to_string(), "web-6".to_string()]
        );
        assert_eq!(a.likelihood, Some(3));
        assert_eq!(a.impact, 2);

        let ch = reconcile(&[], &results, &exc, &cfg, &hosts(), &Matrix::default(), 10);
        // Only disk_encryption has failures: one new risk, 3 × 2 = 6 → medium.
        assert_eq!(ch.len(), 1);
        let mut r = ch[0].risk.clone();
        assert_eq!((r.likelihood, r.impact, r.level), (3, 2, Level::Medium));
        assert_eq!(r.status, RiskStatus::Open);
        // The note names the most critical failing host (web-6, criticality 2), not a number.
        assert_eq!(
            ch[0].note,
            "2 of 8 evaluated hosts fail disk_encryption; most critical failing host: web-6 (criticality 2)"
        );
        r.id = 42;

        // Nothing changed → nothing to write.
        assert!(reconcile(
            &[r.clone()],
            &results,
            &exc,
            &cfg,
            &hosts(),
            &Matrix::default(),
            20
        )
        .is_empty());

        // The exception expires (now ≥ 1_000_000): db-1 fails again; 3/8 = 37.5 % → 3; impact 4
        // (db-1) → 3 × 4 = 12 → critical.
        let ch = reconcile(
            &[r.clone()],
            &results,
            &exc,
            &cfg,
            &hosts(),
            &Matrix::default(),
            1_000_000,
        );
        assert_eq!(ch.len(), 1);
        assert_eq!((ch[0].risk.impact, ch[0].risk.level), (4, Level::Critical));
        assert!(ch[0].changes.contains_key("impact") && !ch[0].changes.contains_key("likelihood"));

        // The fleet is clean → the risk closes, keeping likelihood and impact.
        let clean: Vec<HostResult> = (1..=8)
            .map(|i| res(&format!("web-{i}"), "disk_encryption", "pass"))
            .collect();
        let ch = reconcile(
            &[r.clone()],
            &clean,
            &[],
            &cfg,
            &hosts(),
            &Matrix::default(),
            30,
        );
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].risk.status, RiskStatus::Closed);
        assert_eq!(ch[0].risk.id, 42);
        assert_eq!(ch[0].risk.likelihood, 3);
        assert!(ch[0].changes.contains_key("status"));
    }

    #[test]
    fn assets_history_records_the_change_bounded() {
        let hosts = |r: std::ops::Range<usize>| -> Vec<String> {
            r.map(|i| format!("host-{i:06}.example.org")).collect()
        };
        // Creation: from null; every host added, the first 20 by name listed.
        let c = assets_change(None, &hosts(0..30));
        assert_eq!(c.from, serde_json::Value::Null);
        assert_eq!(c.to["count"], 30);
        assert_eq!(c.to["added_count"], 30);
        assert_eq!(c.to["added"].as_array().unwrap().len(), 20);
        assert_eq!(c.to["added"][0], "host-000000.example.org");
        assert_eq!(c.to["added"][19], "host-000019.example.org");
        // One host starts failing in a fleet of 100,000 failing hosts: one name, whatever the size.
        let old = hosts(0..100_000);
        let mut new = old.clone();
        new.push("host-100000.example.org".into());
        let c = assets_change(Some(&old), &new);
        assert_eq!(
            c.from,
            serde_json::json!({"count": 100_000, "removed": [], "removed_count": 0})
        );
        assert_eq!(
            c.to,
            serde_json::json!({"count": 100_001, "added": ["host-100000.example.org"], "added_count": 1})
        );
        // Worst case: 100,000 hosts replaced by 100,000 others: still 20 names per side.
        let c = assets_change(Some(&old), &hosts(100_000..200_000));
        assert_eq!(c.from["removed_count"], 100_000);
        assert_eq!(c.to["added_count"], 100_000);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.len() < 2048, "{} bytes: {json}", json.len());
        // Closing: every host removed.
        let c = assets_change(Some(&hosts(0..3)), &[]);
        assert_eq!(c.from["removed"], serde_json::json!(hosts(0..3)));
        assert_eq!(
            c.to,
            serde_json::json!({"count": 0, "added": [], "added_count": 0})
        );
    }

    #[test]
    fn reconcile_records_assets_as_a_change() {
        let cfg = RiskSection::default();
        let failing = |n: usize| -> Vec<HostResult> {
            (0..n)
                .map(|i| res(&format!("web-{i:04}"), "disk_encryption", "fail"))
                .collect()
        };
        let ch = reconcile(
            &[],
            &failing(500),
            &[],
            &cfg,
            &hosts(),
            &Matrix::default(),
            10,
        );
        let created = &ch[0];
        // A new risk keeps the full list on the risk, a bounded entry in the history.
        assert_eq!(created.risk.assets.len(), 500);
        assert_eq!(created.changes["assets"].from, serde_json::Value::Null);
        assert_eq!(created.changes["assets"].to["added_count"], 500);
        let mut r = created.risk.clone();
        r.id = 1;
        let mut more = failing(500);
        more.push(res("web-9999", "disk_encryption", "fail"));
        let ch = reconcile(
            &[r.clone()],
            &more,
            &[],
            &cfg,
            &hosts(),
            &Matrix::default(),
            20,
        );
        assert_eq!(
            ch[0].changes["assets"].to,
            serde_json::json!({"count": 501, "added": ["web-9999"], "added_count": 1})
        );
        assert_eq!(ch[0].risk.assets.len(), 501);
        // Clean: closes, every host removed.
        let ch = reconcile(&[r], &[], &[], &cfg, &hosts(), &Matrix::default(), 30);
        assert_eq!(ch[0].changes["assets"].from["removed_count"], 500);
        assert_eq!(ch[0].changes["assets"].to["count"], 0);
    }

    #[test]
    fn scenarios_merge_overrides() {
        let mut cfg = RiskSection::default();
        assert_eq!(scenarios(&cfg).len(), 8);
        cfg.scenarios.insert(
            "mfa".into(),
            crate::risk::config::ScenarioSection {
                enabled: false,
                ..Default::default()
            },
        );
        cfg.scenarios.insert(
            "patch_age".into(),
            crate::risk::config::ScenarioSection {
                owner: Some("ops".into()),
                ..Default::default()
            },
        );
        let s = scenarios(&cfg);
        assert_eq!(s.len(), 7);
        assert_eq!(
            s.iter().find(|s| s.check == "patch_age").unwrap().owner,
            "ops"
        );
        assert_eq!(criticality("DB-7", &hosts()), 4);
    }

    #[test]
    fn workstation_checks_have_shipped_scenarios_and_open_risks() {
        // Every shipped scenario names a check of the registry (a typo would never match a result).
        for (check, title, scenario) in DEFAULTS {
            assert!(
                vigie_checks::find(check).is_some(),
                "{check}: not a registered check"
            );
            assert!(!title.is_empty() && !scenario.is_empty(), "{check}");
        }
        let cfg = RiskSection::default();
        // db-1 (criticality 4) fails screen_lock; kiosk-1 (1) fails firewall; web-1 (2) fails
        // malware_protection; every other result passes.
        let mut results = Vec::new();
        for check in ["screen_lock", "firewall", "malware_protection"] {
            for h in ["db-1", "kiosk-1", "web-1", "web-2"] {
                results.push(res(h, check, "pass"));
            }
        }
        let fail = |results: &mut Vec<HostResult>, h: &str, c: &str| {
            results
                .iter_mut()
                .find(|r| r.hostname == h && r.check == c)
                .unwrap()
                .status = "fail".into();
        };
        fail(&mut results, "db-1", "screen_lock");
        fail(&mut results, "kiosk-1", "firewall");
        fail(&mut results, "web-1", "malware_protection");
        let ch = reconcile(&[], &results, &[], &cfg, &hosts(), &Matrix::default(), 10);
        let got: Vec<(&str, &str, u8, u8, &[String])> = ch
            .iter()
            .map(|c| {
                (
                    c.risk.check.as_deref().unwrap(),
                    c.risk.title.as_str(),
                    c.risk.likelihood,
                    c.risk.impact,
                    c.risk.assets.as_slice(),
                )
            })
            .collect();
        // 1 of 4 hosts = 25 % → likelihood 3; impact = the failing host's criticality.
        assert_eq!(
            got,
            vec![
                (
                    "screen_lock",
                    "Misuse of an unattended session that does not lock",
                    3,
                    4,
                    &["db-1".to_string()][..]
                ),
                (
                    "firewall",
                    "Intrusion through a network service exposed by a host without a firewall",
                    3,
                    1,
                    &["kiosk-1".to_string()][..]
                ),
                (
                    "malware_protection",
                    "Malware infection that goes undetected",
                    3,
                    2,
                    &["web-1".to_string()][..]
                ),
            ]
        );
    }
}
