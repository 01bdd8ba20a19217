//! Second factors that open the door themselves: modules that, by default or by an option, let a
//! login through without the factor when their server is unreachable or the user is not enrolled.
//!
//! Each case is described by the outcome the module returns in that situation, so the PAM
//! interpreter decides whether the stack around it actually lets the login through (a
//! `required pam_oath` turns an unknown user into a failure; `[default=ignore]` does not):
//!
//! - **pam_duo** `failmode = safe` (Duo's default) in `/etc/duo/pam_duo.conf` (or
//!   `/etc/security/pam_duo.conf`, or the module's `conf=`): when Duo's service cannot be reached
//!   the module returns success.
//! - **pam_radius_auth** `localifdown`: when every RADIUS server is down the module returns
//!   ignore, leaving the decision to the rest of the stack.
//! - **pam_oath** `usersfile=`: a user with no line in the file gets `PAM_USER_UNKNOWN`.
//!
//! `nullok`/`nouserok` (users without a secret or key pass) are judged as bypasses by the caller,
//! not here: they need no outage, only an unenrolled user.

use super::pam::{ModuleLine, Outcome};

/// Where pam_duo reads its configuration when the module line has no `conf=`: Duo's packages use
/// `/etc/duo`, builds from source with `--sysconfdir=/etc/security` the other.
pub const DUO_CONF_PATHS: [&str; 2] = ["/etc/duo/pam_duo.conf", "/etc/security/pam_duo.conf"];

/// Keys of `pam_duo.conf` that may appear in evidence; `ikey`, `skey`, `host` and proxy settings
/// (which may carry credentials) never leave the host.
const DUO_EVIDENCE_KEYS: &[&str] = &["failmode", "groups", "autopush", "prompts", "pushinfo"];

/// A second-factor module line that can let a login through without the factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailOpen {
    /// What the module returns in that situation.
    pub outcomes: Vec<Outcome>,
    /// The option and its effect, for the summary:
    /// `pam_duo failmode = safe (default, /etc/duo/pam_duo.conf) …`.
    pub why: String,
}

/// The `failmode` pam_duo reads from its configuration text: the last `failmode` of the `[duo]`
/// section, `None` when unset (Duo's default is `safe`).
pub fn duo_failmode(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        if section != "duo" {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "failmode" {
                found = Some(v.trim().to_string());
            }
        }
    }
    found
}

/// The configuration text reduced to what may leave the host: section headers and the keys in
/// [`DUO_EVIDENCE_KEYS`].
pub fn duo_conf_excerpt(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim();
            t.starts_with('[')
                || t.split_once('=')
                    .is_some_and(|(k, _)| DUO_EVIDENCE_KEYS.contains(&k.trim()))
        })
        .map(|l| format!("{}\n", l.trim()))
        .collect()
}

/// pam_duo's case, given the configuration file it reads and that file's `failmode`.
pub fn duo(conf: &str, failmode: Option<&str>) -> Option<FailOpen> {
    match failmode {
        Some("secure") => None,
        Some(other) => Some(FailOpen {
            outcomes: vec![Outcome::Failure, Outcome::Success],
            why: format!(
                "pam_duo failmode = {other} ({conf}) lets logins through without the second \
                 factor when Duo is unreachable (set failmode = secure)"
            ),
        }),
        None => Some(FailOpen {
            outcomes: vec![Outcome::Failure, Outcome::Success],
            why: format!(
                "pam_duo failmode = safe (the default; not set in {conf}) lets logins through \
                 without the second factor when Duo is unreachable (set failmode = secure)"
            ),
        }),
    }
}

/// The cases read from the module line itself (pam_radius_auth, pam_oath).
pub fn from_line(m: &ModuleLine) -> Option<FailOpen> {
    match m.name() {
        "pam_radius_auth" if m.has_arg("localifdown") => Some(FailOpen {
            outcomes: vec![Outcome::Failure, Outcome::Ignore],
            why: format!(
                "pam_radius_auth localifdown ({} {}) ignores the second factor when every \
                 RADIUS server is down",
                m.control.text, m.path
            ),
        }),
        "pam_oath" => {
            let file = m.arg_value("usersfile").unwrap_or("(no usersfile=)");
            Some(FailOpen {
                outcomes: vec![Outcome::Failure, Outcome::UserUnknown],
                why: format!(
                    "pam_oath usersfile={file}: a user missing from the file gets \
                     PAM_USER_UNKNOWN, which `{}` lets through without the second factor",
                    m.control.text
                ),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::pam::{parse_pam_file, PamLine};

    /// The head of duo_unix's shipped pam_duo.conf, keys filled in.
    const DUO_CONF: &str = "\
[duo]
; Duo integration key
ikey = DIWJ8X6AEYOR5OMC8OJK
; Duo secret key
skey = Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ecXFX9bRVzS
; Duo API hostname
host = api-3b8a0f1c.duosecurity.com
pushinfo = yes
";

    fn line(text: &str) -> ModuleLine {
        match parse_pam_file(text).unwrap().remove(0) {
            PamLine::Module(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duo_failmode_defaults_to_safe_and_secure_closes() {
        assert_eq!(duo_failmode(DUO_CONF), None);
        let w = duo("/etc/duo/pam_duo.conf", None).unwrap();
        assert!(w.why.contains("failmode = safe (the default"));
        assert!(w.outcomes.contains(&Outcome::Success));
        let secure = format!("{DUO_CONF}failmode = secure\n");
        assert_eq!(duo_failmode(&secure).as_deref(), Some("secure"));
        assert_eq!(duo("/etc/duo/pam_duo.conf", Some("secure")), None);
        // Only the [duo] section counts, and the last value wins.
        let other = "[other]\nfailmode = secure\n[duo]\nfailmode = secure\nfailmode = safe\n";
        assert_eq!(duo_failmode(other).as_deref(), Some("safe"));
    }

    #[test]
    fn duo_excerpt_keeps_no_secret() {
        let ex = duo_conf_excerpt(&format!("{DUO_CONF}failmode = safe\n"));
        assert_eq!(ex, "[duo]\npushinfo = yes\nfailmode = safe\n");
    }

    #[test]
    fn radius_and_oath_cases_come_from_the_line() {
        let r = from_line(&line(
            "auth required pam_radius_auth.so localifdown conf=/etc/pam_radius.conf\n",
        ))
        .unwrap();
        assert_eq!(r.outcomes, vec![Outcome::Failure, Outcome::Ignore]);
        assert!(r.why.starts_with("pam_radius_auth localifdown"));
        assert!(from_line(&line("auth required pam_radius_auth.so\n")).is_none());
        let o = from_line(&line(
            "auth [success=done default=ignore] pam_oath.so usersfile=/etc/users.oath window=20\n",
        ))
        .unwrap();
        assert!(o.why.contains("usersfile=/etc/users.oath"));
        assert!(o.why.contains("`[success=done default=ignore]`"));
        assert!(from_line(&line("auth required pam_u2f.so\n")).is_none());
    }
}
