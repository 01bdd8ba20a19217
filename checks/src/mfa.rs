//! mfa check — placeholder until implemented: it reports `error`, never `pass`.

use serde::Deserialize;

use crate::{CheckResult, Context, Status};

/// Settings of the mfa check (`[checks.mfa]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {}

impl MfaConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The mfa check.
pub struct Mfa;

impl crate::Check for Mfa {
    fn id(&self) -> &'static str {
        "mfa"
    }
    fn title(&self) -> &'static str {
        "mfa"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["6.3", "6.4", "6.5"]
    }
    fn run(&self, _ctx: &Context) -> CheckResult {
        CheckResult::new(self.id(), Status::Error, "not implemented yet")
    }
}
