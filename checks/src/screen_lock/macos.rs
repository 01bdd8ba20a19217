//! screen_lock on macOS: does the screen saver start in time, and is the password asked promptly?
//!
//! - `sysadminctl -screenLock status` writes to **stderr** with a timestamp prefix
//!   (`2026-09-26 … sysadminctl[1:2] screenLock delay is immediate`, `… screenLock is off`,
//!   `screenLock delay is 300 seconds`, `screenLock delay is -1.000000 seconds` = off; real captures,
//!   `platforms-reference.md` §A5). Both streams are read; the last `screenLock` line decides.
//!   The setting is per user: run as root it may not reflect the console user (*Unverified*).
//! - The screen saver's idle time: each user's `~/Library/Preferences/ByHost/com.apple.screensaver.<UUID>.plist`
//!   key `idleTime` (seconds, 0 = never; an integer is required, *Unverified*). A user without the
//!   file keeps macOS's default, which is not read.
//! - Configuration profiles (`/Library/Managed Preferences/…`, `profiles -P`) are **not** read: the
//!   reference documents no format for them, so a parser could only be guessed.
//!
//! Verdict: lock off or a grace over `max_grace_seconds` is `fail`; a user whose screen saver never
//! starts or starts after `max_idle_seconds` is `fail` naming the user; no user with an idle time set
//! is `warn` (the default applies and is not read). Anything unrecognised is `error`.

use crate::{CheckResult, Evidence, Probe, Status};

use super::{ScreenLockConfig, ID};

pub const SYSADMINCTL: [&str; 3] = ["/usr/sbin/sysadminctl", "-screenLock", "status"];
const USERS: &str = "/Users";

/// What `sysadminctl -screenLock status` says: `None` off, `Some(seconds)` the delay.
pub fn parse_screen_lock(text: &str) -> Result<Option<f64>, String> {
    let line = text
        .lines()
        .filter_map(|l| l.find("screenLock ").map(|i| l[i..].trim()))
        .next_back()
        .ok_or_else(|| {
            format!(
                "`{}` printed no screenLock line: {:?}",
                SYSADMINCTL.join(" "),
                text.trim()
            )
        })?;
    let unknown = || {
        format!(
            "`{}` printed {line:?}, which Vigie does not recognise",
            SYSADMINCTL.join(" ")
        )
    };
    match line {
        "screenLock is off" => return Ok(None),
        "screenLock delay is immediate" => return Ok(Some(0.0)),
        _ => {}
    }
    let n = line
        .strip_prefix("screenLock delay is ")
        .and_then(|r| r.strip_suffix(" seconds"))
        .ok_or_else(unknown)?;
    let v: f64 = n
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(unknown)?;
    if v == -1.0 {
        Ok(None)
    } else if v < 0.0 {
        Err(unknown())
    } else {
        Ok(Some(v))
    }
}

/// The `idleTime` of each user with a ByHost screensaver plist: (user, file, seconds).
fn idle_times(
    probe: &dyn Probe,
    evidence: &mut Vec<Evidence>,
) -> Result<Vec<(String, String, i64)>, String> {
    let mut users = probe
        .read_dir(USERS)
        .map_err(|e| format!("could not list {USERS}: {e}"))?;
    users.sort();
    let mut out = Vec::new();
    for user in users
        .iter()
        .filter(|u| !u.starts_with('.') && u.as_str() != "Shared" && u.as_str() != "Guest")
    {
        let dir = format!("{USERS}/{user}/Library/Preferences/ByHost");
        let mut files = match probe.read_dir(&dir) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(format!("could not list {dir}: {e}")),
        };
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.starts_with("com.apple.screensaver.") && f.ends_with(".plist"))
        {
            let path = format!("{dir}/{f}");
            let bytes = probe
                .read(&path)
                .map_err(|e| format!("could not read {path}: {e}"))?;
            evidence.push(Evidence::file(&path, &bytes));
            let v = crate::apple_plist::parse(&bytes).map_err(|e| format!("{path}: {e}"))?;
            let d = crate::apple_plist::dict(&v, &path)?;
            if let Some(idle) = crate::apple_plist::opt_integer(d, "idleTime")
                .map_err(|e| format!("{path}: {e}"))?
            {
                if idle < 0 {
                    return Err(format!("{path}: idleTime {idle} is negative"));
                }
                out.push((user.clone(), path, idle));
            }
        }
    }
    Ok(out)
}

pub(super) fn run(probe: &dyn Probe, cfg: &ScreenLockConfig) -> CheckResult {
    if !probe.is_root() {
        return CheckResult::new(
            ID,
            Status::Error,
            "every user's screen saver settings can only be read as root: run the agent as root",
        );
    }
    let mut evidence = Vec::new();
    let judged = (|| -> Result<CheckResult, String> {
        let (out, ev) = probe
            .run_evidence(&SYSADMINCTL)
            .map_err(|e| format!("could not run `{}`: {e}", SYSADMINCTL.join(" ")))?;
        // The evidence records stdout; the answer is on stderr, so it is added as a second record.
        evidence.push(ev);
        evidence.push(Evidence::command(
            &[SYSADMINCTL[0], SYSADMINCTL[1], SYSADMINCTL[2], "(stderr)"],
            out.exit_code,
            &out.stderr,
        ));
        if out.exit_code != Some(0) {
            return Err(format!(
                "`{}` failed (exit {}): {}",
                SYSADMINCTL.join(" "),
                out.exit_code.map_or("signal".into(), |c| c.to_string()),
                out.stderr_text()
            ));
        }
        let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
        let delay = parse_screen_lock(&text)?;
        let idle = idle_times(probe, &mut evidence)?;
        let mut problems = Vec::new();
        let lock_text = match delay {
            None => {
                problems.push("the screen lock is off (sysadminctl)".to_string());
                "lock off".to_string()
            }
            Some(d) => {
                if d > f64::from(cfg.max_grace_seconds) {
                    problems.push(format!(
                        "the password is asked {d} s after the screen saver starts (limit {} s)",
                        cfg.max_grace_seconds
                    ));
                }
                if d == 0.0 {
                    "password asked immediately".to_string()
                } else {
                    format!("password asked after {d} s")
                }
            }
        };
        let mut ok_users = Vec::new();
        for (user, _, secs) in &idle {
            if *secs == 0 {
                problems.push(format!("{user}'s screen saver never starts (idleTime 0)"));
            } else if *secs > i64::from(cfg.max_idle_seconds) {
                problems.push(format!(
                    "{user}'s screen saver starts after {secs} s (limit {} s)",
                    cfg.max_idle_seconds
                ));
            } else {
                ok_users.push(format!("{user} {secs} s"));
            }
        }
        let (status, summary) = if !problems.is_empty() {
            (
                Status::Fail,
                format!("macOS screen lock: {}", problems.join("; ")),
            )
        } else if idle.is_empty() {
            (
                Status::Warn,
                format!("macOS screen lock on ({lock_text}), but no user has a screen saver idle time set: macOS's default applies and Vigie does not read it; configuration profiles are not read"),
            )
        } else {
            (
                Status::Pass,
                format!(
                    "macOS screen lock on ({lock_text}); screen saver idle time: {}",
                    ok_users.join(", ")
                ),
            )
        };
        Ok(CheckResult::new(ID, status, summary)
            .fact(
                "source",
                "sysadminctl -screenLock, ByHost com.apple.screensaver idleTime",
            )
            .fact("users_with_idle_time", idle.len() as u64))
    })();
    match judged {
        Ok(r) => r,
        Err(e) => CheckResult::new(ID, Status::Error, e),
    }
    .fact("platform", "macos")
    .fact("max_idle_seconds", u64::from(cfg.max_idle_seconds))
    .fact("max_grace_seconds", u64::from(cfg.max_grace_seconds))
    .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysadminctl_reference_captures() {
        assert_eq!(
            parse_screen_lock("2026-09-26 sysadminctl[1:2] screenLock delay is immediate\n")
                .unwrap(),
            Some(0.0)
        );
        assert_eq!(
            parse_screen_lock("2026-09-26 sysadminctl[1:2] screenLock is off").unwrap(),
            None
        );
        assert_eq!(
            parse_screen_lock("screenLock delay is 300 seconds").unwrap(),
            Some(300.0)
        );
        assert_eq!(
            parse_screen_lock("screenLock delay is -1.000000 seconds").unwrap(),
            None
        );
        assert_eq!(
            parse_screen_lock("screenLock delay is -1 seconds").unwrap(),
            None
        );
        assert!(parse_screen_lock("screenLock delay is soon").is_err());
        assert!(parse_screen_lock("screenLock delay is -5 seconds").is_err());
        assert!(parse_screen_lock("sysadminctl: unknown option").is_err());
    }
}
