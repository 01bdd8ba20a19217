//! The configuration of every check: typed, with defaults, validated once before anything runs.
//!
//! It is the `[checks]` table of the agent's TOML file; each check owns its own section struct.

use serde::Deserialize;

/// Settings of all checks (`[checks.<id>]` sections of agent.toml).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChecksConfig {
    pub patch_age: crate::patch_age::PatchAgeConfig,
    pub disk_encryption: crate::disk_encryption::DiskEncryptionConfig,
    pub mfa: crate::mfa::MfaConfig,
    pub backup_freshness: crate::backup_freshness::BackupConfig,
    pub password_policy: crate::password_policy::PasswordPolicyConfig,
    pub screen_lock: crate::screen_lock::ScreenLockConfig,
    pub firewall: crate::firewall::FirewallConfig,
    pub malware_protection: crate::malware_protection::MalwareConfig,
}

impl ChecksConfig {
    /// Check values that types alone cannot (ranges, consistency). Errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        self.patch_age.validate()?;
        self.disk_encryption.validate()?;
        self.mfa.validate()?;
        self.backup_freshness.validate()?;
        self.password_policy.validate()?;
        self.screen_lock.validate()?;
        self.malware_protection.validate()?;
        Ok(())
    }
}
