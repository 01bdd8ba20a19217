//! screen_lock check: does the display lock, asking for a password, within the allowed idle time?
//!
//! Linux: the installed desktops are found by their binaries and session files. GNOME is judged
//! from the system dconf databases the user profile (`/etc/dconf/profile/user`) lists: their
//! keyfiles and locks under `/etc/dconf/db/<db>.d/` (`org/gnome/desktop/session idle-delay`,
//! `org/gnome/desktop/screensaver lock-enabled` and `lock-delay`); a key no database sets keeps the
//! GNOME default (300 s, lock on, 0 s grace), which counts only because GNOME is known to be the
//! desktop, and the summary says so. KDE Plasma is judged from `/etc/xdg/kscreenlockerrc`
//! (`[Daemon] Autolock`, `Timeout` in minutes, `LockGrace` in seconds; defaults true, 5, 5). Per-user
//! values (the binary `~/.config/dconf/user`, `~/.config/kscreenlockerrc`) are not read: a key set in
//! a system database but not locked is reported as overridable. A host with no graphical session
//! installed is `not_applicable`; a desktop other than GNOME and KDE is `error`.
//!
//! macOS: `sysadminctl -screenLock status` and each user's screen-saver idle time
//! (`screen_lock/macos.rs`). Windows: the machine inactivity limit, else each loaded profile's
//! screen-saver policy or setting (`screen_lock/windows.rs`).

mod dconf;
mod kde;
pub mod macos;
pub mod windows;

use serde::Deserialize;

use crate::{CheckResult, Context, Evidence, Platform, Probe, ProbeError, Status};

/// Session files that declare a desktop (X11 and Wayland).
const SESSION_DIRS: [&str; 2] = ["/usr/share/xsessions", "/usr/share/wayland-sessions"];
const GNOME_BINARIES: [&str; 3] = ["/usr/bin/gnome-shell", "/usr/sbin/gdm3", "/usr/sbin/gdm"];
const KDE_BINARIES: [&str; 3] = [
    "/usr/bin/plasmashell",
    "/usr/bin/startplasma-x11",
    "/usr/bin/startplasma-wayland",
];
/// Display managers: a graphical login exists even if no session file is recognised.
const OTHER_GRAPHICAL: [&str; 3] = ["/usr/bin/sddm", "/usr/sbin/lightdm", "/usr/bin/lightdm"];

/// Settings of the screen_lock check (`[checks.screen_lock]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreenLockConfig {
    /// Longest idle time before the screen locks, in seconds. Default 900 (15 min).
    pub max_idle_seconds: u32,
    /// Longest grace period between the screen blanking and the password being required, in
    /// seconds. Default 60.
    pub max_grace_seconds: u32,
}

impl Default for ScreenLockConfig {
    fn default() -> Self {
        ScreenLockConfig {
            max_idle_seconds: 900,
            max_grace_seconds: 60,
        }
    }
}

impl ScreenLockConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(60..=86_400).contains(&self.max_idle_seconds) {
            return Err(format!(
                "checks.screen_lock.max_idle_seconds: {} is outside 60..=86400",
                self.max_idle_seconds
            ));
        }
        if self.max_grace_seconds > 3600 {
            return Err(format!(
                "checks.screen_lock.max_grace_seconds: {} is above 3600",
                self.max_grace_seconds
            ));
        }
        Ok(())
    }
}

/// The screen_lock check.
pub struct ScreenLock;

impl crate::Check for ScreenLock {
    fn id(&self) -> &'static str {
        "screen_lock"
    }
    fn title(&self) -> &'static str {
        "Idle screen lock"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Verrouillage de l'écran",
            en: "Screen lock",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["4.3"]
    }
    fn platforms(&self) -> &'static [Platform] {
        &Platform::ALL
    }
    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => run_linux(ctx),
            Platform::Macos => macos::run(ctx.probe, &ctx.config.screen_lock),
            Platform::Windows => windows::run(ctx.probe, &ctx.config.screen_lock),
        }
    }
}

const ID: &str = "screen_lock";

/// One desktop's verdict.
pub(crate) struct Judged {
    pub status: Status,
    pub text: String,
}

/// The effective settings of one desktop, in seconds.
pub(crate) struct Lock {
    /// `None`: never locks on idle.
    pub idle: Option<u64>,
    pub enabled: bool,
    pub grace: u64,
}

impl Lock {
    fn problems(&self, cfg: &ScreenLockConfig) -> Vec<String> {
        let mut p = Vec::new();
        if !self.enabled {
            p.push("locking is disabled".to_string());
        }
        match self.idle {
            None => p.push("the screen never blanks on idle".into()),
            Some(s) if s > u64::from(cfg.max_idle_seconds) => p.push(format!(
                "idle time {s} s exceeds {} s",
                cfg.max_idle_seconds
            )),
            Some(_) => {}
        }
        if self.grace > u64::from(cfg.max_grace_seconds) {
            p.push(format!(
                "grace period {} s exceeds {} s",
                self.grace, cfg.max_grace_seconds
            ));
        }
        p
    }

    fn describe(&self) -> String {
        format!(
            "locks after {} s idle, grace {} s",
            self.idle.map_or("never".into(), |s| s.to_string()),
            self.grace
        )
    }
}

fn run_linux(ctx: &Context) -> CheckResult {
    let probe = ctx.probe;
    let cfg = &ctx.config.screen_lock;
    let mut evidence = Vec::new();
    let sessions = match session_files(probe) {
        Ok(s) => s,
        Err(e) => return CheckResult::new(ID, Status::Error, e),
    };
    let has = |bins: &[&str], prefixes: &[&str]| {
        bins.iter().any(|b| probe.exists(b))
            || sessions
                .iter()
                .any(|s| prefixes.iter().any(|p| s.starts_with(p)))
    };
    let gnome = has(&GNOME_BINARIES, &["gnome", "ubuntu"]);
    let kde = has(&KDE_BINARIES, &["plasma"]);
    let other_dm = OTHER_GRAPHICAL.iter().find(|b| probe.exists(b));
    let others: Vec<&String> = sessions
        .iter()
        .filter(|s| {
            !["gnome", "ubuntu", "plasma"]
                .iter()
                .any(|p| s.starts_with(p))
        })
        .collect();

    if !gnome && !kde {
        if let Some(s) = others.first() {
            return CheckResult::new(
                ID,
                Status::Error,
                format!("a desktop session Vigie cannot judge is installed ({s}): only GNOME and KDE Plasma screen locks are read"),
            )
            .fact("sessions", sessions.clone());
        }
        if let Some(dm) = other_dm {
            return CheckResult::new(
                ID,
                Status::Error,
                format!("a display manager is installed ({dm}) but no GNOME or KDE Plasma session: Vigie cannot judge its screen lock"),
            );
        }
        return CheckResult::new(
            ID,
            Status::NotApplicable,
            "no graphical session is installed (no GNOME, KDE Plasma, GDM, SDDM or LightDM binaries, no session files): nothing to lock",
        );
    }

    let mut judged = Vec::new();
    let mut desktops = Vec::new();
    if gnome {
        desktops.push("gnome");
        match dconf::effective(probe, &mut evidence) {
            Ok(g) => judged.push(g.judge(cfg)),
            Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
        }
    }
    if kde {
        desktops.push("kde");
        match kde::effective(probe, &mut evidence) {
            Ok(k) => judged.push(k.judge(cfg)),
            Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
        }
    }
    if !others.is_empty() {
        judged.push(Judged {
            status: Status::Warn,
            text: format!(
                "other sessions installed and not judged: {}",
                others
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    // The worst desktop decides: a user can pick any installed session.
    let status = judged
        .iter()
        .map(|j| j.status)
        .max_by_key(|s| match s {
            Status::Pass | Status::NotApplicable => 0,
            Status::Warn => 1,
            Status::Fail => 2,
            Status::Error => 3,
        })
        .unwrap_or(Status::Error);
    let text: Vec<&str> = judged.iter().map(|j| j.text.as_str()).collect();
    CheckResult::new(ID, status, text.join("; "))
        .fact("desktops", desktops)
        .fact("max_idle_seconds", u64::from(cfg.max_idle_seconds))
        .fact("max_grace_seconds", u64::from(cfg.max_grace_seconds))
        .with_evidence(evidence)
}

/// The `.desktop` session names (without extension) in the session directories.
fn session_files(probe: &dyn Probe) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for dir in SESSION_DIRS {
        match probe.read_dir(dir) {
            Ok(names) => out.extend(
                names
                    .into_iter()
                    .filter_map(|n| n.strip_suffix(".desktop").map(String::from)),
            ),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(format!("could not list {dir}: {e}")),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Read an optional file: `None` when absent, its text (evidence recorded) when present.
pub(crate) fn read_optional(
    probe: &dyn Probe,
    path: &str,
    evidence: &mut Vec<Evidence>,
) -> Result<Option<String>, String> {
    match probe.read_evidence(path) {
        Ok((t, ev)) => {
            evidence.push(ev);
            Ok(Some(t))
        }
        Err(ProbeError::NotFound { .. }) => Ok(None),
        Err(e) => Err(format!("could not read {path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_and_zero_idle_never_locks() {
        let cfg = ScreenLockConfig::default();
        let at_limit = Lock {
            idle: Some(900),
            enabled: true,
            grace: 60,
        };
        assert!(at_limit.problems(&cfg).is_empty());
        let over = Lock {
            idle: Some(901),
            enabled: true,
            grace: 61,
        };
        assert_eq!(over.problems(&cfg).len(), 2);
        let never = Lock {
            idle: None,
            enabled: true,
            grace: 0,
        };
        assert!(never.problems(&cfg)[0].contains("never"));
        let bad = ScreenLockConfig {
            max_idle_seconds: 10,
            ..ScreenLockConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("max_idle_seconds"));
    }
}
