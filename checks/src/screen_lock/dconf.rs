//! GNOME's screen-lock keys from the system dconf databases: the user profile, the keyfiles and the
//! locks under `/etc/dconf/db/<db>.d/`.

use std::collections::BTreeMap;

use super::{read_optional, Judged, Lock, ScreenLockConfig};
use crate::{Evidence, Probe, Status};

const PROFILE: &str = "/etc/dconf/profile/user";
const DB_DIR: &str = "/etc/dconf/db";
const IDLE: &str = "/org/gnome/desktop/session/idle-delay";
const ENABLED: &str = "/org/gnome/desktop/screensaver/lock-enabled";
const DELAY: &str = "/org/gnome/desktop/screensaver/lock-delay";
const KEYS: [&str; 3] = [IDLE, ENABLED, DELAY];
/// GNOME's schema defaults (gsettings-desktop-schemas).
const DEFAULT_IDLE: u64 = 300;
const DEFAULT_ENABLED: bool = true;
const DEFAULT_DELAY: u64 = 0;

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub value: String,
    /// `Some(file)` when a system keyfile sets it; `None` for the GNOME default.
    pub file: Option<String>,
    pub locked: bool,
}

/// The effective GNOME settings.
pub(crate) struct Gnome {
    pub settings: BTreeMap<&'static str, Setting>,
    pub profile: bool,
}

/// One system database: key → (value, file), and its locked keys.
#[derive(Default)]
struct Db {
    values: BTreeMap<String, (String, String)>,
    locks: Vec<String>,
}

pub(crate) fn effective(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Gnome, String> {
    let Some(profile) = read_optional(probe, PROFILE, evidence)? else {
        // Without a user profile dconf consults only the user's own database.
        return Ok(Gnome {
            settings: defaults(),
            profile: false,
        });
    };
    let names = parse_profile(&profile)?;
    let mut dbs = Vec::new();
    for name in &names {
        dbs.push(read_db(probe, name, evidence)?);
    }
    let mut settings = defaults();
    for key in KEYS {
        // The topmost database that locks the key makes the databases above it irrelevant.
        let lock = dbs.iter().position(|d| d.locks.iter().any(|l| l == key));
        let from = lock.unwrap_or(0);
        if let Some((value, file)) = dbs[from..].iter().find_map(|d| d.values.get(key)) {
            settings.insert(
                key,
                Setting {
                    value: value.clone(),
                    file: Some(file.clone()),
                    locked: lock.is_some(),
                },
            );
        } else if lock.is_some() {
            if let Some(s) = settings.get_mut(key) {
                s.locked = true;
            }
        }
    }
    Ok(Gnome {
        settings,
        profile: true,
    })
}

fn defaults() -> BTreeMap<&'static str, Setting> {
    let d = |v: String| Setting {
        value: v,
        file: None,
        locked: false,
    };
    BTreeMap::from([
        (IDLE, d(format!("uint32 {DEFAULT_IDLE}"))),
        (ENABLED, d(DEFAULT_ENABLED.to_string())),
        (DELAY, d(format!("uint32 {DEFAULT_DELAY}"))),
    ])
}

/// The `system-db:` names of a dconf profile, in priority order (first wins).
fn parse_profile(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some(("system-db", name)) => {
                let name = name.trim();
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    || name.contains("..")
                {
                    return Err(format!(
                        "{PROFILE} line {}: {name:?} is not a database name",
                        n + 1
                    ));
                }
                out.push(name.to_string());
            }
            Some(("user-db" | "service-db" | "file-db", _)) => {}
            _ => {
                return Err(format!(
                    "{PROFILE} line {}: unrecognised entry {line:?}",
                    n + 1
                ))
            }
        }
    }
    Ok(out)
}

fn read_db(probe: &dyn Probe, name: &str, evidence: &mut Vec<Evidence>) -> Result<Db, String> {
    let dir = format!("{DB_DIR}/{name}.d");
    let mut db = Db::default();
    let entries = match probe.read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(db),
        Err(e) => return Err(format!("could not list {dir}: {e}")),
    };
    // dconf compiles the keyfiles in name order, a later file overriding an earlier one.
    for entry in entries {
        let path = format!("{dir}/{entry}");
        if entry == "locks" {
            continue;
        }
        match probe.metadata(&path) {
            Ok(m) if m.is_dir => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("could not stat {path}: {e}")),
        }
        let Some(text) = read_optional(probe, &path, evidence)? else {
            continue;
        };
        for (key, value) in parse_keyfile(&text).map_err(|e| format!("{path}: {e}"))? {
            db.values.insert(key, (value, path.clone()));
        }
    }
    let locks = format!("{dir}/locks");
    match probe.read_dir(&locks) {
        Ok(files) => {
            for f in files {
                let path = format!("{locks}/{f}");
                if let Some(text) = read_optional(probe, &path, evidence)? {
                    db.locks.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .map(String::from),
                    );
                }
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(format!("could not list {locks}: {e}")),
    }
    Ok(db)
}

/// A dconf keyfile: `[org/gnome/desktop/session]` groups of `key=value` lines, as full key paths.
fn parse_keyfile(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut group: Option<&str> = None;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = Some(g.trim_matches('/'));
        } else if let Some((k, v)) = line.split_once('=') {
            let g = group.ok_or(format!("line {}: key outside a [group]", n + 1))?;
            out.push((format!("/{g}/{}", k.trim()), v.trim().to_string()));
        } else {
            return Err(format!("line {}: unrecognised {line:?}", n + 1));
        }
    }
    Ok(out)
}

/// `300` or `uint32 300`.
fn parse_u32(s: &Setting, key: &str) -> Result<u64, String> {
    let v = s.value.strip_prefix("uint32").unwrap_or(&s.value).trim();
    v.parse::<u32>().map(u64::from).map_err(|_| {
        format!(
            "{}: {key}={:?} is not an unsigned number",
            s.file.as_deref().unwrap_or("GNOME default"),
            s.value
        )
    })
}

impl Gnome {
    pub(crate) fn judge(&self, cfg: &ScreenLockConfig) -> Judged {
        match self.lock() {
            Err(e) => Judged {
                status: Status::Error,
                text: format!("GNOME: {e}"),
            },
            Ok(lock) => {
                let problems = lock.problems(cfg);
                let defaults: Vec<&str> = KEYS
                    .iter()
                    .filter(|k| self.settings[*k].file.is_none())
                    .map(|k| short(k))
                    .collect();
                let unlocked: Vec<&str> = KEYS
                    .iter()
                    .filter(|k| !self.settings[*k].locked)
                    .map(|k| short(k))
                    .collect();
                let mut notes = Vec::new();
                if !self.profile {
                    notes.push(format!("no {PROFILE}, so no system dconf database applies"));
                }
                if !defaults.is_empty() {
                    notes.push(format!(
                        "GNOME defaults, no system override, for {}",
                        defaults.join(", ")
                    ));
                }
                if !unlocked.is_empty() {
                    notes.push(format!(
                        "not locked, users can change: {}",
                        unlocked.join(", ")
                    ));
                }
                let notes = if notes.is_empty() {
                    "all set and locked in the system dconf databases".to_string()
                } else {
                    notes.join("; ")
                };
                if problems.is_empty() {
                    Judged {
                        status: Status::Pass,
                        text: format!("GNOME {} ({notes})", lock.describe()),
                    }
                } else {
                    Judged {
                        status: Status::Fail,
                        text: format!("GNOME: {} ({notes})", problems.join(", ")),
                    }
                }
            }
        }
    }

    fn lock(&self) -> Result<Lock, String> {
        let idle = parse_u32(&self.settings[IDLE], short(IDLE))?;
        let s = &self.settings[ENABLED];
        let enabled = match s.value.as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "{}: lock-enabled={other:?} is neither true nor false",
                    s.file.as_deref().unwrap_or("GNOME default")
                ))
            }
        };
        let grace = parse_u32(&self.settings[DELAY], short(DELAY))?;
        Ok(Lock {
            idle: (idle != 0).then_some(idle),
            enabled,
            grace,
        })
    }
}

fn short(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyfile_values_become_full_key_paths() {
        let kv = parse_keyfile(
            "# site policy\n[org/gnome/desktop/session]\nidle-delay=uint32 600\n\n[org/gnome/desktop/screensaver]\nlock-enabled=true\n",
        )
        .unwrap();
        assert_eq!(kv[0], (IDLE.to_string(), "uint32 600".to_string()));
        assert_eq!(kv[1], (ENABLED.to_string(), "true".to_string()));
        assert!(parse_keyfile("idle-delay=1\n").is_err());
        assert!(parse_keyfile("[a]\nnonsense\n").is_err());
    }

    #[test]
    fn profile_lists_system_databases_in_order() {
        assert_eq!(
            parse_profile("user-db:user\nsystem-db:local\nsystem-db:site\n").unwrap(),
            vec!["local", "site"]
        );
        assert!(parse_profile("system-db:../etc\n").is_err());
        assert!(parse_profile("bogus\n").is_err());
    }
}
