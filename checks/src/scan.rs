//! What the checks that read many configuration files (mfa, password_policy) share: why a scan
//! could not decide, and reading a file through the probe with its evidence recorded once.

use std::collections::BTreeSet;

use crate::mfa::pam;
use crate::probe::ProbeError;
use crate::{Context, Evidence};

/// Why the check could not decide (its result is then `error` with this message).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("could not read {0}")]
    Probe(ProbeError),
    #[error("could not parse {path}: {message}")]
    Parse { path: String, message: String },
    #[error("{0}")]
    Config(String),
}

impl From<pam::ResolveError<ScanError>> for ScanError {
    fn from(e: pam::ResolveError<ScanError>) -> Self {
        match e {
            pam::ResolveError::Load(e) => e,
            other => ScanError::Config(other.to_string()),
        }
    }
}

/// A parse error naming the file.
pub fn parse_err(path: &str, e: impl std::fmt::Display) -> ScanError {
    ScanError::Parse {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Read a file through the probe, recording its evidence once per path.
pub fn read_file(
    ctx: &Context,
    evidence: &mut Vec<Evidence>,
    seen: &mut BTreeSet<String>,
    path: &str,
) -> Result<String, ScanError> {
    let (text, ev) = ctx.probe.read_evidence(path).map_err(ScanError::Probe)?;
    if seen.insert(path.to_string()) {
        evidence.push(ev);
    }
    Ok(text)
}
