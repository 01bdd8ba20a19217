//! libpwquality settings (`/etc/security/pwquality.conf`, `pwquality.conf.d/*.conf`, module
//! arguments) and what they guarantee about a new password; the same `name = value` file format
//! is used by `/etc/security/pwhistory.conf`.
//!
//! Length rule (pwquality.conf(5), libpwquality): a password passes when its length plus the
//! credits it earns reaches `minlen`; each positive `Xcredit` earns up to that many points for
//! characters of its class, so the real minimum is `minlen` minus the positive credits. A negative
//! credit is a required count of that class instead. `minlen` below 6 is raised to 6.

/// Why a settings file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// Parse a `name = value` file (`#` comments; bare names are flags with an empty value).
pub fn parse_conf(text: &str) -> Result<Vec<(String, String)>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), v.trim()),
            None => {
                let mut words = line.split_whitespace();
                let name = words.next().unwrap_or_default();
                (name, words.next().unwrap_or_default())
            }
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError::Syntax {
                line: i + 1,
                message: format!("expected `name = value`, got {line:?}"),
            });
        }
        out.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

/// The settings that decide length and character classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pwquality {
    pub minlen: i64,
    pub dcredit: i64,
    pub ucredit: i64,
    pub lcredit: i64,
    pub ocredit: i64,
    pub minclass: i64,
    /// `enforcing = 0` only warns about a weak password.
    pub enforcing: bool,
}

impl Default for Pwquality {
    /// libpwquality ≥ 1.2 defaults.
    fn default() -> Self {
        Pwquality {
            minlen: 8,
            dcredit: 0,
            ucredit: 0,
            lcredit: 0,
            ocredit: 0,
            minclass: 0,
            enforcing: true,
        }
    }
}

/// libpwquality's floor for `minlen`.
pub const BASE_MIN_LENGTH: i64 = 6;

impl Pwquality {
    /// Apply one setting; unknown names and non-numeric values are ignored (libpwquality rejects
    /// the file, which leaves the defaults — never stricter than what we keep).
    pub fn set(&mut self, name: &str, value: &str) {
        let Ok(v) = value.trim().parse::<i64>() else {
            return;
        };
        match name {
            "minlen" => self.minlen = v.max(BASE_MIN_LENGTH),
            "dcredit" => self.dcredit = v,
            "ucredit" => self.ucredit = v,
            "lcredit" => self.lcredit = v,
            "ocredit" => self.ocredit = v,
            "minclass" => self.minclass = v.min(4),
            "enforcing" => self.enforcing = v != 0,
            _ => {}
        }
    }

    /// Apply PAM module arguments (`minlen=16`, `dcredit=-1` …).
    pub fn apply_args(&mut self, args: &[String]) {
        for a in args {
            if let Some((n, v)) = a.split_once('=') {
                self.set(&n.to_ascii_lowercase(), v);
            }
        }
    }

    /// Positive credits as `(name, value)`: each lets a password be that much shorter.
    pub fn positive_credits(&self) -> Vec<(&'static str, i64)> {
        [
            ("dcredit", self.dcredit),
            ("ucredit", self.ucredit),
            ("lcredit", self.lcredit),
            ("ocredit", self.ocredit),
        ]
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .collect()
    }

    /// The shortest password that can pass.
    pub fn effective_min_length(&self) -> i64 {
        let credit: i64 = self.positive_credits().iter().map(|(_, v)| v).sum();
        (self.minlen - credit).max(1)
    }

    /// Upper case is required (`ucredit ≤ -1`, or `minclass 4` = every class).
    pub fn requires_upper(&self) -> bool {
        self.ucredit <= -1 || self.minclass >= 4
    }
    /// A digit is required.
    pub fn requires_digit(&self) -> bool {
        self.dcredit <= -1 || self.minclass >= 4
    }
    /// A special (other) character is required.
    pub fn requires_special(&self) -> bool {
        self.ocredit <= -1 || self.minclass >= 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hardened drop-in as deployed by CIS-style baselines.
    const HARDENED: &str = "\
# /etc/security/pwquality.conf.d/50-plan.conf
minlen = 16
dcredit = -1
ucredit = -1
ocredit = -1
lcredit = -1
enforce_for_root
";

    #[test]
    fn parses_and_applies_hardened_dropin() {
        let kv = parse_conf(HARDENED).unwrap();
        assert_eq!(kv[0], ("minlen".into(), "16".into()));
        assert_eq!(kv[5], ("enforce_for_root".into(), "".into()));
        let mut p = Pwquality::default();
        for (n, v) in &kv {
            p.set(n, v);
        }
        assert_eq!(p.effective_min_length(), 16);
        assert!(p.requires_upper() && p.requires_digit() && p.requires_special());
    }

    #[test]
    fn positive_credits_shorten_the_minimum() {
        let mut p = Pwquality::default();
        p.apply_args(&[
            "minlen=16".into(),
            "dcredit=1".into(),
            "ucredit=2".into(),
            "retry=3".into(),
        ]);
        // 16 - (1 + 2) = 13 real characters can pass.
        assert_eq!(p.effective_min_length(), 13);
        assert!(!p.requires_upper());
    }

    #[test]
    fn defaults_floor_and_minclass() {
        let mut p = Pwquality::default();
        assert_eq!(p.effective_min_length(), 8);
        p.set("minlen", "4");
        assert_eq!(p.minlen, 6);
        p.set("minclass", "4");
        assert!(p.requires_special());
        p.set("minclass", "3");
        assert!(!p.requires_special());
        p.set("enforcing", "0");
        assert!(!p.enforcing);
    }

    #[test]
    fn rejects_garbage_line() {
        assert!(parse_conf("min len = 3\n").is_err());
        // pwhistory.conf shares the format.
        assert_eq!(
            parse_conf("# pwhistory\nremember = 5\n").unwrap(),
            vec![("remember".into(), "5".into())]
        );
    }
}
