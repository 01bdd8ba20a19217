//! backup_freshness check — placeholder until implemented: it reports `error`, never `pass`.

use serde::Deserialize;

use crate::{CheckResult, Context, Status};

/// Settings of the backup_freshness check (`[checks.backup_freshness]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {}

impl BackupConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The backup_freshness check.
pub struct BackupFreshness;

impl crate::Check for BackupFreshness {
    fn id(&self) -> &'static str {
        "backup_freshness"
    }
    fn title(&self) -> &'static str {
        "backup_freshness"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["11.1", "11.2", "11.3"]
    }
    fn run(&self, _ctx: &Context) -> CheckResult {
        CheckResult::new(self.id(), Status::Error, "not implemented yet")
    }
}
