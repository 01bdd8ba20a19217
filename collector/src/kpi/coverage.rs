//! Fleet coverage per check: how many hosts pass each compliance check of the registry (patches,
//! encryption, MFA, backups, password policy, screen lock, firewall, anti-malware …), from the fleet
//! aggregate.

use serde::Serialize;

use crate::store::fleet::FleetAggregate;

/// The checks with a coverage KPI, in display order: the registry's (`vigie_checks::ALL`) checks
/// whose `Check::coverage()` is true, so a new check gets its KPI without code here.
pub static CHECKS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    vigie_checks::ALL
        .iter()
        .filter(|c| c.coverage())
        .map(|c| c.id())
        .collect()
});

/// Hosts per status of one check.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckCoverage {
    /// The check.
    pub check: String,
    /// Reporting hosts passing.
    pub pass: i64,
    /// Reporting hosts failing.
    pub fail: i64,
    /// Reporting hosts warning.
    pub warn: i64,
    /// Reporting hosts where the check could not decide.
    pub error: i64,
    /// Reporting hosts where the check does not apply.
    pub not_applicable: i64,
    /// Stale hosts (any status).
    pub stale: i64,
    /// Reporting hosts whose `fail`/`warn` an exception in force covers: out of the ratio while
    /// it is in force, listed apart.
    pub excepted: i64,
    /// pass / (pass + fail + warn + error); `None` without applicable reporting hosts.
    pub ratio: Option<f64>,
}

/// The coverage of `check` from the aggregate.
pub fn check_coverage(agg: &FleetAggregate, check: &str) -> CheckCoverage {
    let n = |status: &str| {
        agg.check_hosts
            .get(&(check.to_string(), status.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let (pass, fail, warn, error) = (n("pass"), n("fail"), n("warn"), n("error"));
    let applicable = pass + fail + warn + error;
    CheckCoverage {
        check: check.to_string(),
        pass,
        fail,
        warn,
        error,
        not_applicable: n("not_applicable"),
        stale: n("stale"),
        excepted: n("excepted"),
        ratio: (applicable > 0).then(|| pass as f64 / applicable as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_checks_are_the_registry_minus_inventory_in_report_order() {
        assert_eq!(
            *CHECKS,
            vec![
                "patch_age",
                "disk_encryption",
                "mfa",
                "backup_freshness",
                "password_policy",
                "screen_lock",
                "firewall",
                "malware_protection",
            ]
        );
    }

    /// mfa: 7 pass, 1 fail, 1 warn, 1 error, 2 not_applicable, 3 stale.
    /// applicable = 7 + 1 + 1 + 1 = 10 ⇒ ratio 7 / 10 = 0.7 (n/a and stale left out).
    #[test]
    fn ratio_over_applicable_reporting_hosts() {
        let mut agg = FleetAggregate::default();
        for (s, n) in [
            ("pass", 7),
            ("fail", 1),
            ("warn", 1),
            ("error", 1),
            ("not_applicable", 2),
            ("stale", 3),
        ] {
            agg.check_hosts.insert(("mfa".into(), s.into()), n);
        }
        let c = check_coverage(&agg, "mfa");
        assert_eq!(c.ratio, Some(0.7));
        assert_eq!((c.not_applicable, c.stale), (2, 3));
        assert_eq!(check_coverage(&agg, "disk_encryption").ratio, None);
    }
}
