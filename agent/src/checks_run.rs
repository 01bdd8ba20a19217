//! One run of the checks: pick the probe (this host or a fixture), the state directory, run the
//! registry and wrap the results in a wire report.

use std::path::Path;

use anyhow::Context as _;
use vigie_checks::fixture::FixtureProbe;
use vigie_checks::probe::HostProbe;
use vigie_checks::state::DirState;
use vigie_checks::wire::{Report, SCHEMA_VERSION};
use vigie_checks::{Context, Probe};

use crate::config::AgentConfig;

/// Where the checks look.
pub struct Target<'a> {
    /// A fixture host directory, or `None` for this machine.
    pub root: Option<&'a Path>,
    /// An explicit state directory (overrides the config).
    pub state_dir: Option<&'a Path>,
}

/// Build the probe for `target`.
pub fn probe_for(target: &Target) -> anyhow::Result<Box<dyn Probe>> {
    Ok(match target.root {
        Some(dir) => {
            Box::new(FixtureProbe::load(dir).with_context(|| format!("--root {}", dir.display()))?)
        }
        None => Box::new(HostProbe::new()),
    })
}

/// The state store for `target`: the fixture's `state/` is read-only unless a state dir is given.
pub fn state_for(cfg: &AgentConfig, target: &Target) -> anyhow::Result<DirState> {
    let state = match (target.state_dir, target.root) {
        (Some(dir), _) => DirState::new(dir),
        (None, Some(root)) => DirState::read_only(&root.join("state")),
        (None, None) => DirState::new(&cfg.agent.state_dir),
    };
    state.ensure_writable().map_err(anyhow::Error::msg)?;
    Ok(state)
}

/// Run the checks once and build the report.
pub fn run_once(cfg: &AgentConfig, target: &Target, only: Option<&str>) -> anyhow::Result<Report> {
    let probe = probe_for(target)?;
    let state = state_for(cfg, target)?;
    Ok(run_with(cfg, probe.as_ref(), &state, only))
}

/// Run the checks with an existing probe and state.
pub fn run_with(
    cfg: &AgentConfig,
    probe: &dyn Probe,
    state: &dyn vigie_checks::StateStore,
    only: Option<&str>,
) -> Report {
    let started = std::time::Instant::now();
    let ctx = Context {
        probe,
        config: &cfg.checks,
        state,
    };
    let results = vigie_checks::run_all(&ctx, only);
    tracing::info!(
        target_host = %probe.describe(),
        checks = results.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "checks finished"
    );
    Report {
        schema: SCHEMA_VERSION,
        report_id: uuid::Uuid::new_v4().to_string(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        collected_at: probe.now(),
        host: vigie_checks::inventory::host_identity(probe),
        results,
        interval_seconds: None,
        lost_reports: 0,
    }
}
