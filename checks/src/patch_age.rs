//! patch_age check — placeholder until implemented: it reports `error`, never `pass`.

use serde::Deserialize;

use crate::{CheckResult, Context, Status};

/// Settings of the patch_age check (`[checks.patch_age]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PatchAgeConfig {}

impl PatchAgeConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The patch_age check.
pub struct PatchAge;

impl crate::Check for PatchAge {
    fn id(&self) -> &'static str {
        "patch_age"
    }
    fn title(&self) -> &'static str {
        "patch_age"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["7.3", "7.4", "7.7"]
    }
    fn run(&self, _ctx: &Context) -> CheckResult {
        CheckResult::new(self.id(), Status::Error, "not implemented yet")
    }
}
