//! screen_lock on Windows: the machine inactivity limit, else each user's screen saver.
//!
//! One PowerShell invocation prints one JSON object: `InactivityTimeoutSecs` from
//! `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System` (the machine-wide "Interactive
//! logon: Machine inactivity limit": the session locks after that many idle seconds), and `Users`,
//! one entry per loaded user profile under `HKEY_USERS` (`S-1-5-21-…` SIDs; a service running as
//! SYSTEM has no useful HKCU) with `ScreenSaveActive`, `ScreenSaverIsSecure` and `ScreenSaveTimeOut`
//! from the user's policy copy (`Software\Policies\Microsoft\Windows\Control Panel\Desktop`) and
//! from the user's own `Control Panel\Desktop`.
//!
//! Precedence: a machine inactivity limit (non-zero) wins over every user setting; for a user, a
//! policy value wins over the user's own value, field by field. The source of the value in force is
//! named in the summary. A user passes when the screen saver is active, secure (asks for the
//! password on resume) and starts within `max_idle_seconds`. No machine limit and no loaded profile
//! is `warn` (nothing to judge). The value names are *Unverified* (`platforms-reference.md` §B5);
//! values other than `"0"`/`"1"` and decimal seconds are `error`. Windows' screen-saver grace period
//! is not read.

use serde_json::{Map, Value};

use crate::{CheckResult, Evidence, Probe, Status};

use super::{ScreenLockConfig, ID};

/// The one PowerShell invocation.
pub const SCRIPT: &str = "$m = Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System' -ErrorAction SilentlyContinue; $u = @(Get-ChildItem 'Registry::HKEY_USERS' | Where-Object { $_.PSChildName -match '^S-1-5-21-[0-9-]+$' } | ForEach-Object { $s = $_.PSChildName; $p = Get-ItemProperty \"Registry::HKEY_USERS\\$s\\Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop\" -ErrorAction SilentlyContinue; $d = Get-ItemProperty \"Registry::HKEY_USERS\\$s\\Control Panel\\Desktop\" -ErrorAction SilentlyContinue; [pscustomobject]@{ Sid = $s; PolicyScreenSaveActive = $p.ScreenSaveActive; PolicyScreenSaverIsSecure = $p.ScreenSaverIsSecure; PolicyScreenSaveTimeOut = $p.ScreenSaveTimeOut; ScreenSaveActive = $d.ScreenSaveActive; ScreenSaverIsSecure = $d.ScreenSaverIsSecure; ScreenSaveTimeOut = $d.ScreenSaveTimeOut } }); ConvertTo-Json -Depth 3 -InputObject ([pscustomobject]@{ InactivityTimeoutSecs = $m.InactivityTimeoutSecs; Users = $u })";

/// The argv of [`SCRIPT`].
pub const SCREEN_LOCK_POLICY: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    SCRIPT,
];

/// One value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    pub value: T,
    /// `user policy` or `user setting`.
    pub source: &'static str,
}

/// One loaded profile's effective screen-saver settings (`None`: set nowhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSaver {
    pub sid: String,
    pub active: Option<Sourced<bool>>,
    pub secure: Option<Sourced<bool>>,
    pub timeout: Option<Sourced<u64>>,
}

/// The whole answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    /// `InactivityTimeoutSecs`, when set.
    pub machine_inactivity: Option<u64>,
    pub users: Vec<UserSaver>,
}

/// A registry string `"0"`/`"1"` (REG_SZ) — or a DWORD 0/1 — as a flag.
fn flag(v: &Value, what: &str) -> Result<bool, String> {
    match v {
        Value::String(s) if s.trim() == "0" => Ok(false),
        Value::String(s) if s.trim() == "1" => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        other => Err(format!("{what} is {other}, not 0 or 1")),
    }
}

/// Seconds as a REG_SZ of digits or a DWORD.
fn seconds(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::String(s)
            if !s.trim().is_empty() && s.trim().chars().all(|c| c.is_ascii_digit()) =>
        {
            s.trim()
                .parse()
                .map_err(|_| format!("{what} is {s:?}, out of range"))
        }
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        other => Err(format!("{what} is {other}, not a number of seconds")),
    }
}

fn pick<T>(
    o: &Map<String, Value>,
    key: &str,
    sid: &str,
    conv: fn(&Value, &str) -> Result<T, String>,
) -> Result<Option<Sourced<T>>, String> {
    for (k, source) in [
        (format!("Policy{key}"), "user policy"),
        (key.to_string(), "user setting"),
    ] {
        match o.get(&k) {
            None | Some(Value::Null) => continue,
            Some(v) => {
                return Ok(Some(Sourced {
                    value: conv(v, &format!("{sid} {source} {key}"))?,
                    source,
                }))
            }
        }
    }
    Ok(None)
}

/// Parse what [`SCREEN_LOCK_POLICY`] prints.
pub fn parse(text: &str) -> Result<Policies, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(trimmed)
        .map_err(|e| format!("the screen-lock registry query did not print JSON: {e}"))?;
    let o = v
        .as_object()
        .filter(|o| o.contains_key("Users"))
        .ok_or("the screen-lock registry query printed no object with a Users key")?;
    let machine_inactivity = match o.get("InactivityTimeoutSecs") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            return Err(format!(
                "InactivityTimeoutSecs is {other}, not a number of seconds"
            ))
        }
    };
    let items = match o.get("Users") {
        Some(Value::Null) | None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(obj @ Value::Object(_)) => vec![obj.clone()],
        Some(other) => return Err(format!("Users is {other}, not a list of profiles")),
    };
    let mut users = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let u = item
            .as_object()
            .ok_or_else(|| format!("user profile {} is not an object", i + 1))?;
        let sid = match u.get("Sid") {
            Some(Value::String(s)) if s.starts_with("S-1-5-21-") => s.clone(),
            _ => return Err(format!("user profile {}: no S-1-5-21 Sid", i + 1)),
        };
        users.push(UserSaver {
            active: pick(u, "ScreenSaveActive", &sid, flag)?,
            secure: pick(u, "ScreenSaverIsSecure", &sid, flag)?,
            timeout: pick(u, "ScreenSaveTimeOut", &sid, seconds)?,
            sid,
        });
    }
    Ok(Policies {
        machine_inactivity,
        users,
    })
}

/// A user's problems under `cfg` (empty: compliant), and the sources used.
fn judge_user(u: &UserSaver, cfg: &ScreenLockConfig) -> (Vec<String>, Vec<&'static str>) {
    let mut p = Vec::new();
    let mut sources = Vec::new();
    match &u.active {
        Some(s) if s.value => sources.push(s.source),
        Some(s) => p.push(format!("screen saver off ({})", s.source)),
        None => p.push("screen saver not configured".into()),
    }
    match &u.secure {
        Some(s) if s.value => sources.push(s.source),
        Some(s) => p.push(format!("no password on resume ({})", s.source)),
        None => p.push("password on resume not configured".into()),
    }
    match &u.timeout {
        Some(s) if s.value == 0 => p.push(format!("screen saver timeout 0 ({})", s.source)),
        Some(s) if s.value > u64::from(cfg.max_idle_seconds) => p.push(format!(
            "screen saver starts after {} s, limit {} s ({})",
            s.value, cfg.max_idle_seconds, s.source
        )),
        Some(s) => sources.push(s.source),
        None => p.push("screen saver timeout not configured".into()),
    }
    sources.sort_unstable();
    sources.dedup();
    (p, sources)
}

pub(super) fn run(probe: &dyn Probe, cfg: &ScreenLockConfig) -> CheckResult {
    let mut evidence: Vec<Evidence> = Vec::new();
    let out = match probe.run_ok(
        &SCREEN_LOCK_POLICY,
        "the screen-lock registry query",
        &mut evidence,
    ) {
        Ok(out) => out,
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    };
    let pol = match parse(&out) {
        Ok(p) => p,
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    };
    let max = u64::from(cfg.max_idle_seconds);
    let (status, summary, source) = match pol.machine_inactivity.filter(|s| *s > 0) {
        Some(s) if s <= max => (
            Status::Pass,
            format!("the machine inactivity limit locks every session after {s} s (limit {max} s; machine policy InactivityTimeoutSecs, which wins over user settings)"),
            "machine policy",
        ),
        Some(s) => (
            Status::Fail,
            format!("the machine inactivity limit locks sessions only after {s} s (limit {max} s; machine policy InactivityTimeoutSecs, which wins over user settings)"),
            "machine policy",
        ),
        None if pol.users.is_empty() => (
            Status::Warn,
            "no machine inactivity limit (InactivityTimeoutSecs) and no user profile is loaded: no screen-lock setting to judge".to_string(),
            "none",
        ),
        None => {
            let mut bad = Vec::new();
            let mut good = Vec::new();
            let mut all_sources = Vec::new();
            for u in &pol.users {
                let (p, s) = judge_user(u, cfg);
                all_sources.extend(s.iter().copied());
                if p.is_empty() {
                    let t = u.timeout.as_ref().map_or(0, |t| t.value);
                    good.push(format!("{} after {t} s ({})", u.sid, s.join(", ")));
                } else {
                    bad.push(format!("{}: {}", u.sid, p.join(", ")));
                }
            }
            all_sources.sort_unstable();
            all_sources.dedup();
            let source = if all_sources == ["user policy"] {
                "user policy"
            } else if all_sources == ["user setting"] {
                "user setting"
            } else {
                "user policy and user setting"
            };
            if bad.is_empty() {
                (
                    Status::Pass,
                    format!("no machine inactivity limit; every loaded profile's password-protected screen saver starts in time: {}", good.join("; ")),
                    source,
                )
            } else {
                (
                    Status::Fail,
                    format!("no machine inactivity limit, and a loaded profile does not lock in time: {}", bad.join("; ")),
                    source,
                )
            }
        }
    };
    CheckResult::new(ID, status, summary)
        .fact("platform", "windows")
        .fact("source", source)
        .fact("profiles", pol.users.len() as u64)
        .fact("max_idle_seconds", max)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_copy_wins_over_user_setting_field_by_field() {
        let p = parse(r#"{"InactivityTimeoutSecs":null,"Users":{"Sid":"S-1-5-21-1-2-3-1001","PolicyScreenSaveActive":"1","PolicyScreenSaverIsSecure":null,"PolicyScreenSaveTimeOut":"600","ScreenSaveActive":"0","ScreenSaverIsSecure":"1","ScreenSaveTimeOut":"3600"}}"#).unwrap();
        let u = &p.users[0];
        assert_eq!(
            u.active,
            Some(Sourced {
                value: true,
                source: "user policy"
            })
        );
        assert_eq!(
            u.secure,
            Some(Sourced {
                value: true,
                source: "user setting"
            })
        );
        assert_eq!(u.timeout.as_ref().unwrap().value, 600);
        let (problems, _) = judge_user(u, &ScreenLockConfig::default());
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn unknown_values_are_errors() {
        let doc = |v: &str| {
            format!(
                r#"{{"InactivityTimeoutSecs":null,"Users":[{{"Sid":"S-1-5-21-1-2-3-1001","ScreenSaveActive":{v}}}]}}"#
            )
        };
        assert!(parse(&doc("\"1\"")).is_ok());
        assert!(parse(&doc("\"yes\"")).unwrap_err().contains("not 0 or 1"));
        assert!(parse(r#"{"InactivityTimeoutSecs":"900","Users":[]}"#).is_err());
        assert!(parse(r#"{"InactivityTimeoutSecs":900}"#).is_err());
        assert!(parse(r#"{"Users":[{"Sid":"S-1-5-18"}]}"#).is_err());
    }
}
