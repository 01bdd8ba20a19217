//! KDE Plasma's screen locker from the system-wide `/etc/xdg/kscreenlockerrc`.

use super::{read_optional, Judged, Lock, ScreenLockConfig};
use crate::{Evidence, Probe, Status};

const RC: &str = "/etc/xdg/kscreenlockerrc";
/// kscreenlocker's defaults (kscreenlockersettings.kcfg): autolock on, 5 minutes, 5 seconds grace.
const DEFAULT_TIMEOUT_MIN: u64 = 5;
const DEFAULT_GRACE_S: u64 = 5;

/// The effective KDE settings and whether the file sets them.
pub(crate) struct Kde {
    pub autolock: Option<String>,
    pub timeout: Option<String>,
    pub grace: Option<String>,
    pub file: bool,
    /// `[Daemon][$i]` or per-key `[$i]`: users cannot override.
    pub immutable: bool,
}

pub(crate) fn effective(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Kde, String> {
    let mut kde = Kde {
        autolock: None,
        timeout: None,
        grace: None,
        file: false,
        immutable: false,
    };
    let Some(text) = read_optional(probe, RC, evidence)? else {
        return Ok(kde);
    };
    kde.file = true;
    let mut in_daemon = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            in_daemon = line.starts_with("[Daemon]");
            if line == "[Daemon][$i]" {
                kde.immutable = true;
            }
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("{RC} line {}: unrecognised {line:?}", n + 1));
        };
        if !in_daemon {
            continue;
        }
        let (k, imm) = match k.trim().strip_suffix("[$i]") {
            Some(k) => (k.trim(), true),
            None => (k.trim(), false),
        };
        let v = Some(v.trim().to_string());
        match k {
            "Autolock" => kde.autolock = v,
            "Timeout" => kde.timeout = v,
            "LockGrace" => kde.grace = v,
            _ => continue,
        }
        kde.immutable |= imm;
    }
    Ok(kde)
}

impl Kde {
    fn lock(&self) -> Result<Lock, String> {
        let num = |v: &Option<String>, key: &str, default: u64| match v {
            None => Ok(default),
            Some(s) => s
                .parse::<u32>()
                .map(u64::from)
                .map_err(|_| format!("{RC}: [Daemon] {key}={s:?} is not an unsigned number")),
        };
        let enabled = match self.autolock.as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(format!(
                    "{RC}: [Daemon] Autolock={other:?} is neither true nor false"
                ))
            }
        };
        let minutes = num(&self.timeout, "Timeout", DEFAULT_TIMEOUT_MIN)?;
        Ok(Lock {
            idle: (minutes != 0).then_some(minutes * 60),
            enabled,
            grace: num(&self.grace, "LockGrace", DEFAULT_GRACE_S)?,
        })
    }

    pub(crate) fn judge(&self, cfg: &ScreenLockConfig) -> Judged {
        let lock = match self.lock() {
            Ok(l) => l,
            Err(e) => {
                return Judged {
                    status: Status::Error,
                    text: format!("KDE Plasma: {e}"),
                }
            }
        };
        let mut unset = Vec::new();
        for (v, k) in [
            (&self.autolock, "Autolock"),
            (&self.timeout, "Timeout"),
            (&self.grace, "LockGrace"),
        ] {
            if v.is_none() {
                unset.push(k);
            }
        }
        let mut notes = Vec::new();
        if !self.file {
            notes.push(format!("no {RC}: KDE defaults"));
        } else if !unset.is_empty() {
            notes.push(format!("KDE defaults for {}", unset.join(", ")));
        }
        notes.push(if self.immutable {
            "immutable ([$i])".to_string()
        } else {
            "not immutable, users can change it".to_string()
        });
        let notes = notes.join("; ");
        let problems = lock.problems(cfg);
        if problems.is_empty() {
            Judged {
                status: Status::Pass,
                text: format!("KDE Plasma {} ({notes})", lock.describe()),
            }
        } else {
            Judged {
                status: Status::Fail,
                text: format!("KDE Plasma: {} ({notes})", problems.join(", ")),
            }
        }
    }
}
