//! Vigie's host checks: everything that decides whether a host complies, and the wire types.
//!
//! Crate map (arrows point at what a module uses):
//! - [`probe`] / [`fixture`] — the only door to the host (real machine or fixture directory).
//! - [`platform`] — Linux / macOS / Windows: each check picks its per-platform module at run time
//!   from `Probe::platform()` (e.g. `disk_encryption/filevault.rs` beside the Linux logic).
//! - [`state`] — the agent's state directory (first-seen dates of updates).
//! - one file per check (`patch_age`, `disk_encryption`, `mfa`, `backup_freshness`,
//!   `password_policy`, `screen_lock`, `firewall`, `malware_protection`, `inventory`) → parsers
//!   (`apt`, `dnf`, `pam`, `sshd`, …) → `probe`. Each check also carries what the collector shows
//!   of it: its report labels ([`Check::label`]), coverage role and CIS safeguards.
//!   Parsers are pure functions from text to typed values and know nothing of checks.
//! - [`redact`] — the one door out: every evidence excerpt and source, fact and summary is
//!   redacted there before it leaves the crate ([`result::Evidence`] cannot be built around it).
//! - [`scan`] — reading files with evidence recorded once, and the scan error, shared by the
//!   checks that read many configuration files (mfa, password_policy).
//! - [`config`] — the typed, validated configuration of every check.
//! - [`catalogue`] — check id → CIS Controls v8.1 safeguards, and [`ALL`], the one registry.
//! - [`wire`] — the report an agent sends (schema v1).

pub mod apple_plist;
pub mod catalogue;
#[cfg(feature = "cli-docs")]
pub mod cli_docs;
pub mod config;
pub mod fixture;
pub mod os_release;
pub mod platform;
pub mod probe;
pub mod redact;
pub mod result;
pub mod scan;
pub mod state;
pub mod wire;

pub mod backup_freshness;
pub mod disk_encryption;
pub mod firewall;
pub mod inventory;
pub mod malware_protection;
pub mod mfa;
pub mod password_policy;
pub mod patch_age;
pub mod screen_lock;

pub use config::ChecksConfig;
pub use platform::Platform;
pub use probe::{Probe, ProbeError};
pub use result::{CheckResult, Evidence, EvidenceKind, Status};
pub use state::StateStore;

/// What a check gets to work with.
pub struct Context<'a> {
    pub probe: &'a dyn Probe,
    pub config: &'a ChecksConfig,
    pub state: &'a dyn StateStore,
}

/// A check's name as reports show it, in French and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    pub fr: &'static str,
    pub en: &'static str,
}

/// One compliance check. Implementations live one per file and are listed in [`ALL`]; everything
/// the collector shows about a check (coverage KPI, report labels, CIS safeguards) comes from here,
/// so adding a check is adding a file and a registry line.
pub trait Check: Sync {
    /// Stable snake_case identifier, equal to the file name (`patch_age`).
    fn id(&self) -> &'static str;
    /// A short human title.
    fn title(&self) -> &'static str;
    /// The check's name in the monthly report (coverage table, fleet risk titles), FR and EN.
    fn label(&self) -> Label;
    /// Whether the fleet has a coverage KPI for it (`coverage.<id>`: hosts passing / applicable),
    /// shown in the monthly report's per-check table. Every compliance check does; `inventory`,
    /// which only describes hosts, does not.
    fn coverage(&self) -> bool {
        true
    }
    /// The CIS Controls v8.1 safeguards this check evidences.
    fn safeguards(&self) -> &'static [&'static str];
    /// The platforms this check has logic for; on the others it answers `error` (not implemented).
    fn platforms(&self) -> &'static [Platform] {
        &[Platform::Linux, Platform::Macos]
    }
    /// Run against the host behind `ctx.probe`. Never returns `pass` for something it could not
    /// determine: such cases are `error` with the reason.
    fn run(&self, ctx: &Context) -> CheckResult;
}

/// Every check, in report order. Adding a check is adding a file and a line here.
pub static ALL: &[&dyn Check] = &[
    &inventory::Inventory,
    &patch_age::PatchAge,
    &disk_encryption::DiskEncryption,
    &mfa::Mfa,
    &backup_freshness::BackupFreshness,
    &password_policy::PasswordPolicy,
    &screen_lock::ScreenLock,
    &firewall::Firewall,
    &malware_protection::MalwareProtection,
];

/// The check with this id.
pub fn find(id: &str) -> Option<&'static dyn Check> {
    ALL.iter().copied().find(|c| c.id() == id)
}

/// Run one check, turning a panic into an `error` result so one bad parser cannot take the agent
/// down or hide the other results. The result's summary and facts are redacted
/// ([`CheckResult::redact`]); its evidence was redacted when it was built.
pub fn run_check(check: &dyn Check, ctx: &Context) -> CheckResult {
    let mut result = run_check_unredacted(check, ctx);
    result.redact();
    result
}

fn run_check_unredacted(check: &dyn Check, ctx: &Context) -> CheckResult {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check.run(ctx))) {
        Ok(mut r) => {
            r.check = check.id().to_string();
            r
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            CheckResult::new(
                check.id(),
                Status::Error,
                format!("check crashed ({msg}); please report this as a bug"),
            )
        }
    }
}

/// Run every check (or only `only`) in registry order.
pub fn run_all(ctx: &Context, only: Option<&str>) -> Vec<CheckResult> {
    ALL.iter()
        .filter(|c| only.is_none_or(|o| c.id() == o))
        .map(|c| run_check(*c, ctx))
        .collect()
}

/// A `CheckResult` of status `error` explaining a probe failure (file unreadable, command missing …).
pub fn probe_error(check: &str, what: &str, err: &ProbeError) -> CheckResult {
    CheckResult::new(check, Status::Error, format!("could not {what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_ids_are_unique_snake_case_and_match_files() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ALL {
            let id = c.id();
            assert!(seen.insert(id), "duplicate check id {id}");
            assert!(
                id.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{id} is not snake_case"
            );
            let file = format!("{}/src/{id}.rs", env!("CARGO_MANIFEST_DIR"));
            assert!(std::path::Path::new(&file).exists(), "{file} missing");
            assert!(!c.safeguards().is_empty(), "{id} evidences no safeguard");
            let l = c.label();
            assert!(
                !l.fr.trim().is_empty() && !l.en.trim().is_empty() && l.fr.len() <= 60,
                "{id}: report labels must be short and present in both languages"
            );
            for s in c.safeguards() {
                assert!(
                    catalogue::safeguard(s).is_some(),
                    "{id}: safeguard {s} is not in the catalogue"
                );
            }
        }
    }
}
