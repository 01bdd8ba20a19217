//! Fleet gauges per operating-system family: `vigie_hosts_by_os{os,state}` and
//! `vigie_check_hosts_by_os{os,check,status}`, refreshed with the other fleet aggregates.
//!
//! The `os` label is bounded: the platform family of the `os` a host reports — `macos`, `windows`, or
//! `linux` for anything else. Only the Linux agent reports an os-release ID, and it reports an empty
//! `os` when the host has no os-release file; the macOS and Windows agents always name themselves.
//! The per-OS check tallies
//! count statuses as reported (stale hosts under `stale`); exceptions are applied only in
//! `vigie_check_hosts`.

use std::collections::BTreeMap;

use prometheus::{IntGaugeVec, Opts, Registry};
use vigie_checks::Platform;

use crate::store::hosts::Staleness;
use crate::store::{Store, StoreError};

/// Every value the `os` label takes.
pub const OS_LABELS: [&str; 3] = ["linux", "macos", "windows"];

/// The `os` label of a host that reported `os` (`macos`, `windows`, `debian`, `rhel` …).
pub fn os_label(os: &str) -> &'static str {
    match os.trim() {
        "macos" => Platform::Macos.as_str(),
        "windows" => Platform::Windows.as_str(),
        _ => Platform::Linux.as_str(),
    }
}

/// The per-OS fleet gauges.
pub struct OsGauges {
    hosts: IntGaugeVec,
    check_hosts: IntGaugeVec,
}

impl OsGauges {
    /// Create and register the gauges.
    pub fn register(registry: &Registry) -> Result<OsGauges, prometheus::Error> {
        let hosts = IntGaugeVec::new(
            Opts::new(
                "vigie_hosts_by_os",
                "Enrolled hosts by operating-system family and reporting state.",
            ),
            &["os", "state"],
        )?;
        let check_hosts = IntGaugeVec::new(
            Opts::new(
                "vigie_check_hosts_by_os",
                "Hosts by operating-system family, check and current status (stale hosts under `stale`; exceptions not applied).",
            ),
            &["os", "check", "status"],
        )?;
        registry.register(Box::new(hosts.clone()))?;
        registry.register(Box::new(check_hosts.clone()))?;
        Ok(OsGauges { hosts, check_hosts })
    }

    /// Recompute from the store.
    pub fn refresh(&self, store: &Store, st: &Staleness) -> Result<(), StoreError> {
        let b = store.with_fleet(st, |v| v.os_breakdown())?;
        let mut hosts: BTreeMap<(&str, String), i64> = BTreeMap::new();
        for (os, state, n) in &b.hosts {
            *hosts.entry((os_label(os), state.clone())).or_default() += n;
        }
        let mut checks: BTreeMap<(&str, String, String), i64> = BTreeMap::new();
        for (os, check, status, n) in &b.check_hosts {
            *checks
                .entry((os_label(os), check.clone(), status.clone()))
                .or_default() += n;
        }
        self.hosts.reset();
        for os in OS_LABELS {
            for state in ["reporting", "stale", "never_reported"] {
                let n = hosts.get(&(os, state.to_string())).copied().unwrap_or(0);
                self.hosts.with_label_values(&[os, state]).set(n);
            }
        }
        // Only the (os, check, status) series that have hosts, plus every known check and status
        // of the families present, so a series drops to 0 rather than vanishing.
        self.check_hosts.reset();
        let present: Vec<&str> = OS_LABELS
            .into_iter()
            .filter(|os| hosts.keys().any(|(o, _)| o == os))
            .collect();
        for os in present {
            for check in vigie_checks::ALL {
                for status in vigie_checks::Status::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .chain(["stale"])
                {
                    let n = checks
                        .get(&(os, check.id().to_string(), status.to_string()))
                        .copied()
                        .unwrap_or(0);
                    self.check_hosts
                        .with_label_values(&[os, check.id(), status])
                        .set(n);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_label_is_bounded() {
        assert_eq!(os_label("debian"), "linux");
        assert_eq!(os_label("rhel"), "linux");
        assert_eq!(os_label("macos"), "macos");
        assert_eq!(os_label("windows"), "windows");
        assert_eq!(os_label(""), "linux", "a Linux host without os-release");
        for os in ["debian", "macos", "windows", "", "anything\"else"] {
            assert!(OS_LABELS.contains(&os_label(os)));
        }
    }
}
