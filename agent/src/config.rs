//! The agent's configuration file (`/etc/vigie/agent.toml` by default on Linux, per platform in
//! `docs/platforms.md`; an absent file means defaults).
//!
//! Typed, `deny_unknown_fields` everywhere, validated once at start: a bad file stops the agent with
//! the file, line and key before any check runs (exit code 2).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use vigie_checks::ChecksConfig;

/// Default location of the config file on the platform the agent was built for.
pub const DEFAULT_CONFIG: &str = vigie_checks::Platform::CURRENT.default_paths().config_file;

/// The whole agent.toml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    pub agent: AgentSection,
    pub collector: CollectorSection,
    pub spool: SpoolSection,
    pub checks: ChecksConfig,
}

/// `[agent]`: where state lives and how often to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// State directory: node key, first-seen dates, spool. Default `/var/lib/vigie` on Linux,
    /// `/Library/Application Support/Vigie/state` on macOS (`docs/platforms.md`).
    pub state_dir: PathBuf,
    /// Seconds between two runs of the checks in `run` mode. Default 3600.
    pub interval_seconds: u64,
    /// Up to this many seconds of random delay added to each interval, so a fleet does not report
    /// in lock-step. Default 300.
    pub jitter_seconds: u64,
    /// Reports are sent as deltas against what the collector acknowledged; one in full at least
    /// this many hours after the last full one re-anchors the collector's state. 1–168, default 24.
    pub full_report_hours: u64,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            state_dir: PathBuf::from(vigie_checks::Platform::CURRENT.default_paths().state_dir),
            interval_seconds: 3600,
            jitter_seconds: 300,
            full_report_hours: 24,
        }
    }
}

/// `[collector]`: where reports go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectorSection {
    /// Base URL, e.g. `https://vigie.example.org:8443`. Required for `enroll` and `run`.
    pub url: Option<String>,
    /// PEM file of the CA that signed the collector's certificate; when set, only this CA is trusted.
    pub ca_file: Option<PathBuf>,
    /// Seconds to wait for the collector before treating it as unreachable. Default 30.
    pub timeout_seconds: Option<u64>,
}

/// `[spool]`: reports kept on disk while the collector is unreachable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolSection {
    /// Most reports kept; the oldest are dropped beyond it. Default 500.
    pub max_reports: usize,
    /// Most bytes kept; the oldest are dropped beyond it. Default 50 MiB.
    pub max_bytes: u64,
    /// Most reports the collector refused kept in `spool/rejected/` for a person to read; the
    /// oldest are removed beyond it, 0 keeps none. Default 20.
    pub rejected_max_reports: usize,
    /// Refused reports older than this many days are removed from `spool/rejected/`. Default 30.
    pub rejected_max_age_days: u64,
}

impl Default for SpoolSection {
    fn default() -> Self {
        SpoolSection {
            max_reports: 500,
            max_bytes: 50 * 1024 * 1024,
            rejected_max_reports: 20,
            rejected_max_age_days: 30,
        }
    }
}

impl AgentConfig {
    /// Load `path`; when `explicit` is false an absent file yields the defaults.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<AgentConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(AgentConfig::default());
            }
            Err(e) => anyhow::bail!("config file {}: cannot read: {e}", path.display()),
        };
        let cfg: AgentConfig = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "config file {}: {}",
                path.display(),
                e.to_string().trim_end()
            )
        })?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Range and consistency checks that types cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.agent.interval_seconds < 60 {
            return Err(format!(
                "agent.interval_seconds = {} is below the minimum of 60",
                self.agent.interval_seconds
            ));
        }
        if self.agent.jitter_seconds > self.agent.interval_seconds {
            return Err("agent.jitter_seconds must not exceed agent.interval_seconds".into());
        }
        if !(1..=168).contains(&self.agent.full_report_hours) {
            return Err(format!(
                "agent.full_report_hours = {} must be between 1 and 168",
                self.agent.full_report_hours
            ));
        }
        if !self.agent.state_dir.is_absolute() {
            return Err(format!(
                "agent.state_dir = {:?} must be an absolute path",
                self.agent.state_dir
            ));
        }
        if let Some(url) = &self.collector.url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "collector.url = {url:?} must start with https:// (or http:// for a collector started with --insecure-http)"
                ));
            }
        }
        if self.collector.timeout_seconds == Some(0) {
            return Err("collector.timeout_seconds must be at least 1".into());
        }
        if self.spool.max_reports == 0 {
            return Err("spool.max_reports must be at least 1".into());
        }
        if self.spool.max_bytes < 64 * 1024 {
            return Err("spool.max_bytes must be at least 65536".into());
        }
        if !(1..=3650).contains(&self.spool.rejected_max_age_days) {
            return Err(format!(
                "spool.rejected_max_age_days = {} must be between 1 and 3650",
                self.spool.rejected_max_age_days
            ));
        }
        self.checks.validate()
    }

    /// The spool's bounds.
    pub fn spool_limits(&self) -> crate::spool::SpoolLimits {
        crate::spool::SpoolLimits {
            max_reports: self.spool.max_reports,
            max_bytes: self.spool.max_bytes,
            rejected_max_reports: self.spool.rejected_max_reports,
            rejected_max_age: Duration::from_secs(self.spool.rejected_max_age_days * 86400),
        }
    }

    /// How long after the last full report the next one goes in full.
    pub fn full_report_every(&self) -> chrono::Duration {
        chrono::Duration::hours(self.agent.full_report_hours as i64)
    }

    /// Collector timeout.
    pub fn collector_timeout(&self) -> Duration {
        Duration::from_secs(self.collector.timeout_seconds.unwrap_or(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> anyhow::Result<AgentConfig> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("agent.toml");
        std::fs::write(&p, s).unwrap();
        AgentConfig::load(&p, true)
    }

    #[test]
    fn absent_file_is_defaults_unless_explicit() {
        let cfg = AgentConfig::load(Path::new("/nonexistent/agent.toml"), false).unwrap();
        assert_eq!(cfg.agent.interval_seconds, 3600);
        let err = AgentConfig::load(Path::new("/nonexistent/agent.toml"), true).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/agent.toml"));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = load_str("[agent]\nstate_dir = \"/var/lib/vigie\"\nintervall_seconds = 60\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agent.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("intervall_seconds"), "{err}");
    }

    #[test]
    fn ranges_are_validated() {
        let err = load_str("[agent]\ninterval_seconds = 5\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("agent.interval_seconds"), "{err}");
        let err = load_str("[collector]\nurl = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("collector.url"), "{err}");
        for bad in [0, 169] {
            let err = load_str(&format!("[agent]\nfull_report_hours = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("agent.full_report_hours") && err.contains("between 1 and 168"),
                "{err}"
            );
        }
        assert_eq!(
            load_str("[agent]\nfull_report_hours = 6\n")
                .unwrap()
                .full_report_every(),
            chrono::Duration::hours(6)
        );
        assert_eq!(
            AgentConfig::default().full_report_every(),
            chrono::Duration::hours(24)
        );
        let err = load_str("[spool]\nrejected_max_age_days = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spool.rejected_max_age_days"), "{err}");
        let cfg =
            load_str("[spool]\nrejected_max_reports = 0\nrejected_max_age_days = 7\n").unwrap();
        let l = cfg.spool_limits();
        assert_eq!(l.rejected_max_reports, 0);
        assert_eq!(l.rejected_max_age, Duration::from_secs(7 * 86400));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The documented example in deploy/config/ stays valid.
    #[test]
    fn shipped_example_config_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/agent.toml");
        let cfg = AgentConfig::load(&p, true).expect("example loads");
        assert_eq!(cfg.checks.patch_age.sla_days, 30);
    }
}
