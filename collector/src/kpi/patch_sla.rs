//! Patch SLA: the share of reporting hosts with no security update pending longer than the SLA,
//! judged from each host's current `patch_age` status.

use serde::Serialize;

use crate::store::fleet::{FleetAggregate, HostCheck};
use crate::store::hosts::HostState;

/// The check this KPI reads.
pub const CHECK: &str = "patch_age";

/// Most hosts listed by name in one list (the counts stay exact).
pub const LIST_CAP: usize = 1000;

/// Hosts by how they stand against the SLA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PatchCounts {
    /// Reporting hosts whose `patch_age` is `pass` or `warn` (warn = within the margin, not over).
    pub compliant: i64,
    /// Reporting hosts whose `patch_age` is `fail`: an update pending longer than the SLA.
    pub non_compliant: i64,
    /// Reporting hosts whose `patch_age` is `error`: could not determine; counted in the
    /// denominator, never as compliant.
    pub error: i64,
    /// Reporting hosts where the check does not apply (unsupported OS family): left out.
    pub not_applicable: i64,
    /// Hosts with a `patch_age` result that are stale: left out, listed apart.
    pub stale: i64,
    /// Reporting hosts that never sent a `patch_age` result: left out, listed apart.
    pub no_result: i64,
    /// Reporting hosts whose `fail` is covered by an exception in force: out of the ratio for
    /// the exception's duration, listed apart (the exception is an accepted, dated deviation).
    pub excepted: i64,
}

impl PatchCounts {
    /// compliant / (compliant + non_compliant + error); `None` when that is 0 hosts.
    pub fn ratio(&self) -> Option<f64> {
        let denominator = self.compliant + self.non_compliant + self.error;
        (denominator > 0).then(|| self.compliant as f64 / denominator as f64)
    }

    /// The counts from the fleet aggregate (the same staleness rule), for the metrics refresh.
    pub fn from_aggregate(agg: &FleetAggregate) -> PatchCounts {
        let n = |status: &str| {
            agg.check_hosts
                .get(&(CHECK.to_string(), status.to_string()))
                .copied()
                .unwrap_or(0)
        };
        let with_result =
            n("pass") + n("warn") + n("fail") + n("error") + n("not_applicable") + n("excepted");
        let reporting = agg.hosts.get("reporting").copied().unwrap_or(0);
        PatchCounts {
            compliant: n("pass") + n("warn"),
            non_compliant: n("fail"),
            error: n("error"),
            not_applicable: n("not_applicable"),
            stale: n("stale"),
            no_result: (reporting - with_result).max(0),
            excepted: n("excepted"),
        }
    }
}

/// A host over the SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffendingHost {
    /// Host name.
    pub hostname: String,
    /// Age in days of its oldest pending security update (the check's fact; null if missing).
    pub oldest_pending_days: Option<i64>,
}

/// A host whose agent judges against another SLA than the collector's `kpi.sla_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlaMismatch {
    /// Host name.
    pub hostname: String,
    /// The `sla_days` the agent reported.
    pub agent_sla_days: i64,
}

/// The patch SLA KPI with its host lists (each capped at [`LIST_CAP`], sorted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchSla {
    /// Counts.
    #[serde(flatten)]
    pub counts: PatchCounts,
    /// compliant / (compliant + non_compliant + error).
    pub ratio: Option<f64>,
    /// The SLA in days (`kpi.sla_days`).
    pub sla_days: u32,
    /// Hosts over the SLA, oldest pending update first.
    pub offending: Vec<OffendingHost>,
    /// Hosts whose status is `error`.
    pub error_hosts: Vec<String>,
    /// Stale hosts.
    pub stale_hosts: Vec<String>,
    /// Reporting hosts without a `patch_age` result.
    pub no_result_hosts: Vec<String>,
    /// Hosts over the SLA under an exception in force.
    pub excepted_hosts: Vec<String>,
    /// Reporting hosts whose agent uses another SLA.
    pub sla_mismatch: Vec<SlaMismatch>,
}

fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() < LIST_CAP {
        list.push(item);
    }
}

/// Compute the KPI from every reported host's `patch_age` status and facts
/// (`oldest_pending_days`, `sla_days`).
pub fn patch_sla(hosts: &[HostCheck], sla_days: u32) -> PatchSla {
    let mut acc = Accumulator::new(sla_days);
    for h in hosts {
        acc.push(h);
    }
    acc.finish()
}

/// [`patch_sla`] fed one host at a time (in host-name order), so a caller never holds every
/// host at once.
#[derive(Debug, Clone)]
pub struct Accumulator {
    k: PatchSla,
    offending: Vec<OffendingHost>,
}

impl Accumulator {
    /// An empty computation against an SLA of `sla_days`.
    pub fn new(sla_days: u32) -> Accumulator {
        Accumulator {
            k: PatchSla {
                counts: PatchCounts::default(),
                ratio: None,
                sla_days,
                offending: Vec::new(),
                error_hosts: Vec::new(),
                stale_hosts: Vec::new(),
                no_result_hosts: Vec::new(),
                excepted_hosts: Vec::new(),
                sla_mismatch: Vec::new(),
            },
            offending: Vec::new(),
        }
    }

    /// Count one host.
    pub fn push(&mut self, h: &HostCheck) {
        let k = &mut self.k;
        let fact = |h: &HostCheck, name: &str| h.facts.get(name).and_then(|v| v.as_i64());
        let Some(status) = h.status.as_deref() else {
            if h.state == HostState::Reporting {
                k.counts.no_result += 1;
                push_capped(&mut k.no_result_hosts, h.hostname.clone());
            }
            return;
        };
        if h.state != HostState::Reporting {
            k.counts.stale += 1;
            push_capped(&mut k.stale_hosts, h.hostname.clone());
            return;
        }
        match status {
            "pass" | "warn" => k.counts.compliant += 1,
            "fail" => {
                k.counts.non_compliant += 1;
                self.offending.push(OffendingHost {
                    hostname: h.hostname.clone(),
                    oldest_pending_days: fact(h, "oldest_pending_days"),
                });
            }
            "not_applicable" => k.counts.not_applicable += 1,
            "excepted" => {
                k.counts.excepted += 1;
                push_capped(&mut k.excepted_hosts, h.hostname.clone());
            }
            // `error`, and any status this collector does not know, is not compliant.
            _ => {
                k.counts.error += 1;
                push_capped(&mut k.error_hosts, h.hostname.clone());
            }
        }
        if let Some(agent) = fact(h, "sla_days") {
            if agent != i64::from(k.sla_days) {
                push_capped(
                    &mut k.sla_mismatch,
                    SlaMismatch {
                        hostname: h.hostname.clone(),
                        agent_sla_days: agent,
                    },
                );
            }
        }
    }

    /// The KPI over the hosts pushed.
    pub fn finish(self) -> PatchSla {
        let Accumulator {
            mut k,
            mut offending,
        } = self;
        offending.sort_by(|a, b| {
            b.oldest_pending_days
                .cmp(&a.oldest_pending_days)
                .then_with(|| a.hostname.cmp(&b.hostname))
        });
        offending.truncate(LIST_CAP);
        k.offending = offending;
        k.ratio = k.counts.ratio();
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(name: &str, state: HostState, status: Option<&str>, oldest: Option<i64>) -> HostCheck {
        let mut facts = serde_json::Map::new();
        facts.insert("oldest_pending_days".into(), json!(oldest));
        facts.insert("sla_days".into(), json!(30));
        HostCheck {
            hostname: name.into(),
            state,
            status: status.map(str::to_string),
            facts,
        }
    }

    /// A fleet of 12 reported hosts:
    /// - reporting pass: web-01, web-02, web-03, db-01           → 4 compliant
    /// - reporting warn: web-04 (27 days, in the margin), app-01 → 2 compliant  (6 in all)
    /// - reporting fail: db-02 (41 days), app-02 (33 days)       → 2 non-compliant
    /// - reporting error: app-03                                 → 1 error
    /// - reporting not_applicable: bsd-01                        → left out
    /// - stale fail: old-01                                      → left out, listed stale
    /// - reporting, no patch_age result: win-01                  → left out, listed
    ///
    /// ratio = 6 / (6 + 2 + 1) = 6 / 9 = 0.666…
    #[test]
    fn twelve_hosts_by_hand() {
        use HostState::*;
        let hosts = vec![
            host("web-01", Reporting, Some("pass"), None),
            host("web-02", Reporting, Some("pass"), Some(3)),
            host("web-03", Reporting, Some("pass"), None),
            host("db-01", Reporting, Some("pass"), None),
            host("web-04", Reporting, Some("warn"), Some(27)),
            host("app-01", Reporting, Some("warn"), None),
            host("db-02", Reporting, Some("fail"), Some(41)),
            host("app-02", Reporting, Some("fail"), Some(33)),
            host("app-03", Reporting, Some("error"), None),
            host("bsd-01", Reporting, Some("not_applicable"), None),
            host("old-01", Stale, Some("fail"), Some(90)),
            host("win-01", Reporting, None, None),
        ];
        let k = patch_sla(&hosts, 30);
        assert_eq!(
            k.counts,
            PatchCounts {
                compliant: 6,
                non_compliant: 2,
                error: 1,
                not_applicable: 1,
                stale: 1,
                no_result: 1,
                excepted: 0,
            }
        );
        assert!((k.ratio.unwrap() - 6.0 / 9.0).abs() < 1e-12);
        // Oldest pending update first: db-02 (41) before app-02 (33).
        assert_eq!(
            k.offending,
            vec![
                OffendingHost {
                    hostname: "db-02".into(),
                    oldest_pending_days: Some(41)
                },
                OffendingHost {
                    hostname: "app-02".into(),
                    oldest_pending_days: Some(33)
                },
            ]
        );
        assert_eq!(k.error_hosts, vec!["app-03"]);
        assert_eq!(k.stale_hosts, vec!["old-01"]);
        assert_eq!(k.no_result_hosts, vec!["win-01"]);
        assert!(k.sla_mismatch.is_empty());
        // Against a 14-day policy every reporting host with a result is a mismatch (9 + bsd-01).
        assert_eq!(patch_sla(&hosts, 14).sla_mismatch.len(), 10);
    }

    /// app-02's failure is excused by an exception in force (the store marks it `excepted`):
    /// ratio = 6 / (6 + 1 + 1) = 0.75, app-02 listed as excepted, not as offending.
    #[test]
    fn an_excepted_failure_leaves_the_ratio_and_is_listed() {
        use HostState::*;
        let mut hosts: Vec<HostCheck> = ["web-01", "web-02", "web-03", "db-01", "web-04", "app-01"]
            .into_iter()
            .map(|n| host(n, Reporting, Some("pass"), None))
            .collect();
        hosts.push(host("db-02", Reporting, Some("fail"), Some(41)));
        hosts.push(host("app-02", Reporting, Some("excepted"), Some(33)));
        hosts.push(host("app-03", Reporting, Some("error"), None));
        let k = patch_sla(&hosts, 30);
        assert_eq!((k.counts.excepted, k.counts.non_compliant), (1, 1));
        assert!((k.ratio.unwrap() - 0.75).abs() < 1e-12);
        assert_eq!(k.excepted_hosts, vec!["app-02"]);
        assert_eq!(k.offending.len(), 1);
    }

    #[test]
    fn no_hosts_is_no_data() {
        assert_eq!(patch_sla(&[], 30).ratio, None);
    }

    #[test]
    fn counts_from_the_aggregate_match() {
        let mut agg = FleetAggregate::default();
        // 10 reporting hosts; 4 pass + 2 warn + 2 fail + 1 error = 9 with a result ⇒ 1 without.
        // 3 stale hosts are not among the reporting ones. ratio = (4 + 2) / 9.
        agg.hosts.insert("reporting".into(), 10);
        for (s, n) in [
            ("pass", 4),
            ("warn", 2),
            ("fail", 2),
            ("error", 1),
            ("stale", 3),
        ] {
            agg.check_hosts.insert((CHECK.into(), s.into()), n);
        }
        let c = PatchCounts::from_aggregate(&agg);
        assert_eq!(
            (c.compliant, c.non_compliant, c.error, c.stale),
            (6, 2, 1, 3)
        );
        assert_eq!(c.no_result, 1);
        assert_eq!(c.ratio(), Some(6.0 / 9.0));
    }
}
