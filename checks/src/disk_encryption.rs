//! disk_encryption check — placeholder until implemented: it reports `error`, never `pass`.

use serde::Deserialize;

use crate::{CheckResult, Context, Status};

/// Settings of the disk_encryption check (`[checks.disk_encryption]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskEncryptionConfig {}

impl DiskEncryptionConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The disk_encryption check.
pub struct DiskEncryption;

impl crate::Check for DiskEncryption {
    fn id(&self) -> &'static str {
        "disk_encryption"
    }
    fn title(&self) -> &'static str {
        "disk_encryption"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["3.6", "3.11"]
    }
    fn run(&self, _ctx: &Context) -> CheckResult {
        CheckResult::new(self.id(), Status::Error, "not implemented yet")
    }
}
