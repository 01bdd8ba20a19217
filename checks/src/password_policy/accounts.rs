//! Local accounts and their ageing: `/etc/passwd`, `/etc/shadow` and `/etc/login.defs`.

use std::collections::BTreeMap;

/// Why an account file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// One `/etc/passwd` entry (the fields this check needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// Field 2: `x` when the password lives in `/etc/shadow`, else a hash, a locked (`*`, `!`)
    /// value, or empty (no password needed).
    pub password: String,
    pub uid: u32,
    pub shell: String,
}

/// What `/etc/passwd` field 2 says about an account's password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswdPassword {
    /// `x`: the hash is in `/etc/shadow`.
    Shadowed,
    /// `*…` or `!…`: no password can match.
    Locked,
    /// Empty: pam_unix (with `nullok`) and login accept the account without a password.
    Empty,
    /// A hash stored in `/etc/passwd` itself (world-readable, no ageing fields).
    Hash,
}

impl PasswdEntry {
    /// Classify field 2.
    pub fn password_kind(&self) -> PasswdPassword {
        match self.password.as_str() {
            "x" => PasswdPassword::Shadowed,
            "" => PasswdPassword::Empty,
            p if p.starts_with('*') || p.starts_with('!') => PasswdPassword::Locked,
            _ => PasswdPassword::Hash,
        }
    }
}

/// One `/etc/shadow` entry (the fields this check needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    /// Field 2: the hash, or `!`/`*`-prefixed when locked, empty when no password is needed.
    pub hash: String,
    /// Field 5: maximum password age in days; `None` when empty (no maximum).
    pub max_days: Option<i64>,
}

impl ShadowEntry {
    /// The account has a usable password hash (not locked, not empty).
    pub fn has_password(&self) -> bool {
        !self.hash.is_empty() && !self.hash.starts_with('!') && !self.hash.starts_with('*')
    }
}

fn fields(text: &str, min: usize) -> Result<Vec<(usize, Vec<&str>)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        // NIS compat entries (`+`, `+@group`, `-user`) carry no local data.
        if line.starts_with('+') || line.starts_with('-') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < min {
            return Err(ParseError::Syntax {
                line: line_no,
                message: format!("{} fields, expected at least {min}", f.len()),
            });
        }
        out.push((line_no, f));
    }
    Ok(out)
}

/// Parse `/etc/passwd`.
pub fn parse_passwd(text: &str) -> Result<Vec<PasswdEntry>, ParseError> {
    fields(text, 7)?
        .into_iter()
        .map(|(line, f)| {
            let uid = f[2].parse().map_err(|_| ParseError::Syntax {
                line,
                message: format!("uid {:?} is not a number", f[2]),
            })?;
            Ok(PasswdEntry {
                name: f[0].to_string(),
                password: f[1].to_string(),
                uid,
                shell: f[6].to_string(),
            })
        })
        .collect()
}

/// Parse `/etc/shadow`.
pub fn parse_shadow(text: &str) -> Result<Vec<ShadowEntry>, ParseError> {
    fields(text, 5)?
        .into_iter()
        .map(|(line, f)| {
            let max_days = match f[4].trim() {
                "" => None,
                v => Some(v.parse().map_err(|_| ParseError::Syntax {
                    line,
                    message: format!("maximum age {v:?} is not a number"),
                })?),
            };
            Ok(ShadowEntry {
                name: f[0].to_string(),
                hash: f[1].to_string(),
                max_days,
            })
        })
        .collect()
}

/// Parse `/etc/login.defs` into `KEY → value` (first word after the key; later lines win, as
/// shadow-utils reads them).
pub fn parse_login_defs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        if let (Some(k), Some(v)) = (words.next(), words.next()) {
            out.insert(k.to_string(), v.trim_matches('"').to_string());
        }
    }
    out
}

/// Login shells that refuse interactive logins. An empty shell field is not one of them: passwd(5)
/// says the account then gets `/bin/sh`.
pub fn is_nologin_shell(shell: &str) -> bool {
    let base = shell.rsplit('/').next().unwrap_or(shell);
    matches!(base, "nologin" | "false" | "sync" | "shutdown" | "halt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_passwd_and_shadow() {
        let passwd = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
";
        let shadow = "\
root:$y$j9T$Zx3hVYk0XUbHFPvZ2fqRo.$4mJyRc7w1Pq6sQpQy8aX0f2mH1lS9bD3eN5vT7uW2kA:20415:0:99999:7:::
daemon:*:20415:0:99999:7:::
sync:*:20415:0:99999:7:::
alice:$y$j9T$aQ1mP0kL9oN8bV7cX6zZ5.$wE4rT3yU2iO1pA0sD9fG8hJ7kL6zX5cV4bN3mQ2wE1r:20420:0:::::
";
        let p = parse_passwd(passwd).unwrap();
        assert_eq!(p[3].name, "alice");
        assert_eq!(p[3].uid, 1000);
        assert!(is_nologin_shell(&p[1].shell));
        assert!(is_nologin_shell(&p[2].shell));
        assert!(!is_nologin_shell(&p[0].shell));
        let s = parse_shadow(shadow).unwrap();
        assert_eq!(s[0].max_days, Some(99999));
        assert!(s[0].has_password());
        assert!(!s[1].has_password());
        assert_eq!(s[3].max_days, None);
    }

    #[test]
    fn empty_shell_means_bin_sh() {
        let p = parse_passwd("dave:x:1003:1003:Dave:/home/dave:\n").unwrap();
        assert_eq!(p[0].shell, "");
        assert!(!is_nologin_shell(&p[0].shell));
        assert!(is_nologin_shell("/usr/sbin/nologin"));
        assert!(is_nologin_shell("/bin/false"));
    }

    #[test]
    fn passwd_password_field() {
        let passwd = "\
root:x:0:0:root:/root:/bin/bash
bob:$y$j9T$Qm3vX8dL2kP5nR7tW1zA0.$hG6jK9mN2pQ5rS8tV1wY4zB7cE0fH3iL6oU9xA2dF5g:1001:1001:Bob:/home/bob:
carol::1002:1002:Carol:/home/carol:/bin/bash
svc:*:998:998::/srv:/bin/sh
old:!$6$salt$abc:997:997::/home/old:/bin/bash
";
        let kinds: Vec<PasswdPassword> = parse_passwd(passwd)
            .unwrap()
            .iter()
            .map(PasswdEntry::password_kind)
            .collect();
        assert_eq!(
            kinds,
            [
                PasswdPassword::Shadowed,
                PasswdPassword::Hash,
                PasswdPassword::Empty,
                PasswdPassword::Locked,
                PasswdPassword::Locked,
            ]
        );
    }

    #[test]
    fn locked_and_empty_hashes() {
        let s = parse_shadow("bob:!$y$j9T$x$y:20400:0:90:7:::\ncarol::20400:0:90:7:::\n").unwrap();
        assert!(!s[0].has_password());
        assert!(!s[1].has_password());
        assert!(s[1].hash.is_empty());
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let err = parse_shadow("root:x:1\n").unwrap_err();
        assert_eq!(err.to_string(), "line 1: 3 fields, expected at least 5");
        assert!(parse_shadow("root:x:1:0:often:7:::\n").is_err());
        assert!(parse_passwd("root:x:zero:0:root:/root:/bin/bash\n").is_err());
    }

    #[test]
    fn login_defs() {
        let text = "\
#
# PASS_MAX_DAYS\tMaximum number of days a password may be used.
PASS_MAX_DAYS\t99999
PASS_MIN_DAYS\t0
PASS_WARN_AGE\t7
ENCRYPT_METHOD SHA512
";
        let d = parse_login_defs(text);
        assert_eq!(d["PASS_MAX_DAYS"], "99999");
        assert_eq!(d["ENCRYPT_METHOD"], "SHA512");
    }
}
