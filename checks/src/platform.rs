//! The platform a probe looks at (Linux, macOS, Windows), and what differs per platform at the edges.
//!
//! Checks choose their per-platform module at run time from [`crate::Probe::platform`], never with
//! `#[cfg(target_os)]`: every platform's logic compiles everywhere and is tested on Linux through fixture
//! hosts (`os = "macos"` in `fixture.toml`). `#[cfg]` is only for what truly differs by build target: the
//! platform of the machine the agent itself runs on ([`Platform::CURRENT`]) and its default paths
//! ([`DefaultPaths`]; one table in `docs/platforms.md`).

use serde::{Deserialize, Serialize};

use crate::{CheckResult, Status};

/// An operating-system family, as far as the checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Linux,
    Macos,
    Windows,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 3] = [Platform::Linux, Platform::Macos, Platform::Windows];

    /// The platform this binary was built for (what [`crate::probe::HostProbe`] reports).
    #[cfg(target_os = "macos")]
    pub const CURRENT: Platform = Platform::Macos;
    /// The platform this binary was built for (what [`crate::probe::HostProbe`] reports).
    #[cfg(target_os = "windows")]
    pub const CURRENT: Platform = Platform::Windows;
    /// The platform this binary was built for (what [`crate::probe::HostProbe`] reports). Other Unix
    /// targets are judged with the Linux logic, which reports what it cannot find as `error`.
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    pub const CURRENT: Platform = Platform::Linux;

    /// The name used in `fixture.toml`, facts and metric labels (`linux`, `macos`, `windows`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::Macos => "macos",
            Platform::Windows => "windows",
        }
    }

    /// Parse a name written by [`Platform::as_str`].
    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The agent's default locations on this platform.
    pub const fn default_paths(self) -> DefaultPaths {
        match self {
            Platform::Linux => DefaultPaths {
                config_file: "/etc/vigie/agent.toml",
                state_dir: "/var/lib/vigie",
            },
            Platform::Macos => DefaultPaths {
                config_file: "/Library/Application Support/Vigie/agent.toml",
                state_dir: "/Library/Application Support/Vigie/state",
            },
            Platform::Windows => DefaultPaths {
                config_file: r"C:\ProgramData\Vigie\agent.toml",
                state_dir: r"C:\ProgramData\Vigie\state",
            },
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Windows PowerShell 5.1, by absolute path: the probe runs only absolute programs (no `PATH` lookup a
/// writable directory could hijack). `%SystemRoot%` other than `C:\Windows` is not supported yet.
pub const POWERSHELL: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

/// Where the agent keeps its files by default (the spool is `<state_dir>/spool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultPaths {
    /// The agent configuration file.
    pub config_file: &'static str,
    /// The state directory: node key, first-seen dates, spool.
    pub state_dir: &'static str,
}

/// The result of a check that has no logic for `platform` yet: `error`, never a silent pass or
/// `not_applicable`, so the gap shows in the fleet view.
pub fn unsupported(check: &str, platform: Platform) -> CheckResult {
    CheckResult::new(
        check,
        Status::Error,
        format!("{check} is not implemented for {platform} hosts yet"),
    )
    .fact("platform", platform.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_differ_per_platform() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!(Platform::parse("darwin"), None);
        assert_eq!(
            Platform::Macos.default_paths().state_dir,
            "/Library/Application Support/Vigie/state"
        );
        assert_eq!(Platform::Linux.default_paths().state_dir, "/var/lib/vigie");
        // This test suite runs on Linux; a macOS build would report macOS.
        #[cfg(target_os = "linux")]
        assert_eq!(Platform::CURRENT, Platform::Linux);
        let r = unsupported("mfa", Platform::Windows);
        assert_eq!(r.status, Status::Error);
        assert!(r.summary.contains("windows"), "{}", r.summary);
    }
}
