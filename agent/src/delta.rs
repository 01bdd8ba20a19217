//! What the collector acknowledged, so reports can be sent as deltas (wire schema 2,
//! docs/wire-format.md).
//!
//! The spool keeps every report in full; the delta is computed when a report is sent, against the
//! results the collector acknowledged so far. So a delta never refers to a result the collector
//! did not store, and reports that waited in the spool while the collector was down are encoded,
//! one after the other, against what the collector holds when they finally go.
//!
//! The state lives in `<spool>/acked` (0600, written atomically, under the spool's lock). It
//! is a cache: when it is missing or unreadable the next report goes in full.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use vigie_checks::wire::{Acked, Report, WireReport};
use vigie_checks::Evidence;

use crate::files;

/// The acknowledged results and the evidence the collector asked for and has not received yet.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeltaState {
    #[serde(default)]
    pub acked: Acked,
    /// Evidence a report's answer listed as `missing_evidence`, to upload before anything else.
    #[serde(default)]
    pub pending_evidence: Vec<Evidence>,
    #[serde(skip)]
    path: PathBuf,
}

impl DeltaState {
    /// The state file inside the spool directory.
    pub fn path_in(spool_dir: &Path) -> PathBuf {
        spool_dir.join("acked")
    }

    /// Load the state of `spool_dir` (call after the spool is open: its lock covers this file).
    pub fn load(spool_dir: &Path) -> DeltaState {
        let path = Self::path_in(spool_dir);
        let loaded = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<DeltaState>(&bytes) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "delta state unreadable; the next report is sent in full");
                    DeltaState::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DeltaState::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "delta state unreadable; the next report is sent in full");
                DeltaState::default()
            }
        };
        DeltaState { path, ..loaded }
    }

    /// Write the state (0600, atomically).
    pub fn save(&self) -> anyhow::Result<()> {
        let body = serde_json::to_vec(self).context("cannot serialise the delta state")?;
        files::write_private_atomic(&self.path, &body)
    }

    /// The collector stored `report`, sent as `sent`, and lacks `missing` evidence.
    pub fn acknowledge(&mut self, report: &Report, sent: &WireReport, missing: &[String]) {
        self.acked.acknowledge(report, sent);
        for e in report.results.iter().flat_map(|r| &r.evidence) {
            if missing.contains(&e.sha256)
                && !self.pending_evidence.iter().any(|p| p.sha256 == e.sha256)
            {
                self.pending_evidence.push(e.clone());
            }
        }
    }

    /// Forget everything acknowledged: the next report goes in full.
    pub fn reset(&mut self) {
        self.acked = Acked::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_state_file_is_private_and_a_damaged_one_means_a_full_report() {
        let d = tempfile::tempdir().unwrap();
        let mut s = DeltaState::load(d.path());
        assert!(s.acked.last_full_at.is_none());
        s.acked.last_full_at = Some("2026-11-24T10:00:00Z".parse().unwrap());
        s.save().unwrap();
        let p = DeltaState::path_in(d.path());
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            DeltaState::load(d.path()).acked.last_full_at,
            s.acked.last_full_at
        );
        std::fs::write(&p, b"{not json").unwrap();
        let s = DeltaState::load(d.path());
        assert!(s.acked.last_full_at.is_none() && s.acked.checks.is_empty());
    }
}
