//! password_policy check — placeholder until implemented: it reports `error`, never `pass`.

use serde::Deserialize;

use crate::{CheckResult, Context, Status};

/// Settings of the password_policy check (`[checks.password_policy]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyConfig {}

impl PasswordPolicyConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The password_policy check.
pub struct PasswordPolicy;

impl crate::Check for PasswordPolicy {
    fn id(&self) -> &'static str {
        "password_policy"
    }
    fn title(&self) -> &'static str {
        "password_policy"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["5.2", "4.1"]
    }
    fn run(&self, _ctx: &Context) -> CheckResult {
        CheckResult::new(self.id(), Status::Error, "not implemented yet")
    }
}
