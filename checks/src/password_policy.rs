//! password_policy check: local passwords meet the security assurance plan — at least
//! `min_length` characters with upper case, digit and special character required, a maximum age
//! of `max_age_days` for every interactive account, and no reuse of the last `remember` passwords.
//!
//! Rotation is read per account from `/etc/shadow` (field 5) — `PASS_MAX_DAYS` in
//! `/etc/login.defs` only applies to accounts created later, so both are checked. Length, classes
//! and history come from the PAM `password` stack (`common-password` on Debian/SUSE,
//! `system-auth` + `password-auth` on RHEL), evaluated with the interpreter in
//! [`crate::mfa::pam`]: a module only counts when the stack cannot succeed while it rejects the
//! password (so a `pam_pwhistory` after a `sufficient pam_unix` does not count).

mod accounts;
mod pwpolicy;
mod pwquality;

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::mfa::pam::{self, ModuleLine, Node, PamLine, PamType};
use crate::scan::{parse_err, read_file, ScanError};
use crate::{CheckResult, Context, Evidence, Platform, Status};
use accounts::PasswdPassword;
use pwquality::Pwquality;

const PASSWD: &str = "/etc/passwd";
const SHADOW: &str = "/etc/shadow";
const LOGIN_DEFS: &str = "/etc/login.defs";
const PWQUALITY_CONF: &str = "/etc/security/pwquality.conf";
const PWQUALITY_DIR: &str = "/etc/security/pwquality.conf.d";
const PWHISTORY_CONF: &str = "/etc/security/pwhistory.conf";
/// PAM files holding the system password stack, by family; `passwd` is the last resort.
const PASSWORD_STACKS: &[&[&str]] = &[
    &["/etc/pam.d/common-password"],
    &["/etc/pam.d/system-auth", "/etc/pam.d/password-auth"],
    &["/etc/pam.d/passwd"],
];
/// pam_unix's built-in minimum length (pam_unix(8)).
const PAM_UNIX_MINLEN: i64 = 6;
/// pam_pwhistory's default `remember` (pam_pwhistory(8)).
const PWHISTORY_DEFAULT_REMEMBER: i64 = 10;

/// Settings of the password_policy check (`[checks.password_policy]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicyConfig {
    /// Shortest password the PAM password stack may accept, in characters.
    pub min_length: u32,
    /// Longest a password may be used, in days (each interactive account and `PASS_MAX_DAYS`).
    pub max_age_days: u32,
    /// How many previous passwords may not be reused (0 = no history required).
    pub remember: u32,
    /// Require at least one upper-case letter.
    pub require_upper: bool,
    /// Require at least one digit.
    pub require_digit: bool,
    /// Require at least one special (non-alphanumeric) character.
    pub require_special: bool,
}

impl Default for PasswordPolicyConfig {
    fn default() -> Self {
        PasswordPolicyConfig {
            min_length: 16,
            max_age_days: 90,
            remember: 3,
            require_upper: true,
            require_digit: true,
            require_special: true,
        }
    }
}

impl PasswordPolicyConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(6..=256).contains(&self.min_length) {
            return Err(format!(
                "checks.password_policy.min_length: {} is out of range; allowed 6 to 256 \
                 (pam_pwquality cannot enforce less than 6)",
                self.min_length
            ));
        }
        if !(1..=99_999).contains(&self.max_age_days) {
            return Err(format!(
                "checks.password_policy.max_age_days: {} is out of range; allowed 1 to 99999",
                self.max_age_days
            ));
        }
        if self.remember > 400 {
            return Err(format!(
                "checks.password_policy.remember: {} is out of range; allowed 0 to 400 \
                 (pam_pwhistory's maximum)",
                self.remember
            ));
        }
        Ok(())
    }
}

/// The password_policy check.
pub struct PasswordPolicy;

impl crate::Check for PasswordPolicy {
    fn id(&self) -> &'static str {
        "password_policy"
    }
    fn title(&self) -> &'static str {
        "Password length, complexity, rotation and history"
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["5.2", "4.1"]
    }
    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return pwpolicy::run(ctx),
            other => return crate::platform::unsupported(self.id(), other),
        }
        let mut scan = Scan {
            ctx,
            cfg: &ctx.config.password_policy,
            evidence: Vec::new(),
            read_paths: BTreeSet::new(),
        };
        match scan.run() {
            Ok(r) => r.with_evidence(scan.evidence),
            Err(e) => CheckResult::new(self.id(), Status::Error, e.to_string())
                .with_evidence(scan.evidence),
        }
    }
}

/// What one PAM password stack enforces.
struct StackPolicy {
    min_length: i64,
    upper: bool,
    digit: bool,
    special: bool,
    remember: i64,
}

struct Scan<'a> {
    ctx: &'a Context<'a>,
    cfg: &'a PasswordPolicyConfig,
    evidence: Vec<Evidence>,
    read_paths: BTreeSet<String>,
}

impl Scan<'_> {
    /// Read a file, recording evidence once per path.
    fn read(&mut self, path: &str) -> Result<String, ScanError> {
        read_file(self.ctx, &mut self.evidence, &mut self.read_paths, path)
    }

    /// Read a file that may legitimately be absent.
    fn read_optional(&mut self, path: &str) -> Result<Option<String>, ScanError> {
        match self.read(path) {
            Ok(t) => Ok(Some(t)),
            Err(ScanError::Probe(e)) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn run(&mut self) -> Result<CheckResult, ScanError> {
        let cfg = self.cfg;
        let max_age = i64::from(cfg.max_age_days);
        let mut gaps = Vec::new();

        // Rotation: login.defs for new accounts, shadow for existing ones.
        let passwd =
            accounts::parse_passwd(&self.read(PASSWD)?).map_err(|e| parse_err(PASSWD, e))?;
        let shadow =
            accounts::parse_shadow(&self.read(SHADOW)?).map_err(|e| parse_err(SHADOW, e))?;
        let defs = self
            .read_optional(LOGIN_DEFS)?
            .map(|t| accounts::parse_login_defs(&t))
            .unwrap_or_default();
        let pass_max_days = match defs.get("PASS_MAX_DAYS") {
            None => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                parse_err(LOGIN_DEFS, format!("PASS_MAX_DAYS {v:?} is not a number"))
            })?),
        };
        match pass_max_days {
            None => {
                gaps.push("PASS_MAX_DAYS not set (no maximum age for new accounts)".to_string())
            }
            Some(d) if d < 0 || d > max_age => gaps.push(format!("PASS_MAX_DAYS {d} > {max_age}")),
            Some(_) => {}
        }
        let mut interactive = Vec::new();
        let mut over_age = Vec::new();
        for p in passwd
            .iter()
            .filter(|p| !accounts::is_nologin_shell(&p.shell))
        {
            let Some(s) = shadow.iter().find(|s| s.name == p.name) else {
                // No shadow entry: pam_unix and login use /etc/passwd field 2 itself.
                match p.password_kind() {
                    PasswdPassword::Empty => {
                        gaps.push(format!(
                            "{}: empty password in /etc/passwd (no password needed)",
                            p.name
                        ));
                        interactive.push(p.name.clone());
                    }
                    PasswdPassword::Hash => {
                        gaps.push(format!(
                            "{}: password hash in /etc/passwd (no shadow entry, no maximum age)",
                            p.name
                        ));
                        interactive.push(p.name.clone());
                        over_age.push(p.name.clone());
                    }
                    // `x` without a shadow line matches no password; `*`/`!` are locked.
                    PasswdPassword::Shadowed | PasswdPassword::Locked => {}
                }
                continue;
            };
            if s.hash.is_empty() {
                gaps.push(format!("{}: empty password (no password needed)", p.name));
                interactive.push(p.name.clone());
                continue;
            }
            if !s.has_password() {
                continue;
            }
            interactive.push(p.name.clone());
            match s.max_days {
                Some(d) if (0..=max_age).contains(&d) => {}
                Some(d) if d >= 0 => {
                    gaps.push(format!("{}: max age {d} days > {max_age}", p.name));
                    over_age.push(p.name.clone());
                }
                _ => {
                    gaps.push(format!("{}: no maximum password age", p.name));
                    over_age.push(p.name.clone());
                }
            }
        }

        // Length, classes, history: the PAM password stack(s).
        let files: Vec<&str> = PASSWORD_STACKS
            .iter()
            .map(|family| {
                family
                    .iter()
                    .copied()
                    .filter(|f| self.ctx.probe.exists(f))
                    .collect::<Vec<_>>()
            })
            .find(|found| !found.is_empty())
            .unwrap_or_default();
        let mut policies = Vec::new();
        if files.is_empty() {
            gaps.push(
                "no PAM password stack (/etc/pam.d/common-password, system-auth, password-auth, passwd)"
                    .to_string(),
            );
        }
        for file in &files {
            let ctx = self.ctx;
            let (evidence, seen) = (&mut self.evidence, &mut self.read_paths);
            let mut load = |path: &str| -> Result<Vec<PamLine>, ScanError> {
                let (text, ev) = ctx.probe.read_evidence(path).map_err(ScanError::Probe)?;
                if seen.insert(path.to_string()) {
                    evidence.push(ev);
                }
                pam::parse_pam_file(&text).map_err(|e| parse_err(path, e))
            };
            let stack = pam::resolve_stack(file, PamType::Password, &mut load)?;
            policies.push(self.judge_stack(file, &stack, &mut gaps)?);
        }
        let mut seen_gaps = BTreeSet::new();
        gaps.retain(|g| seen_gaps.insert(g.clone()));

        let min_length = policies.iter().map(|p| p.min_length).min();
        let upper = !policies.is_empty() && policies.iter().all(|p| p.upper);
        let digit = !policies.is_empty() && policies.iter().all(|p| p.digit);
        let special = !policies.is_empty() && policies.iter().all(|p| p.special);
        let remember = policies.iter().map(|p| p.remember).min().unwrap_or(0);
        let (status, summary) = if gaps.is_empty() {
            (
                Status::Pass,
                format!(
                    "passwords of at least {} characters with the required classes, history of {}, \
                     max age within {} days on {} interactive account(s)",
                    min_length.unwrap_or_default(),
                    remember,
                    max_age,
                    interactive.len()
                ),
            )
        } else {
            (
                Status::Fail,
                format!("{} gap(s): {}", gaps.len(), gaps.join("; ")),
            )
        };
        Ok(CheckResult::new("password_policy", status, summary)
            .fact("pass_max_days", pass_max_days)
            .fact("interactive_accounts", interactive)
            .fact("accounts_over_max_age", over_age)
            .fact("min_length", min_length)
            .fact("upper_required", upper)
            .fact("digit_required", digit)
            .fact("special_required", special)
            .fact("remember", remember)
            .fact("pam_password_stacks", files)
            .fact("gaps", gaps))
    }

    /// What one password stack enforces; gaps are appended.
    fn judge_stack(
        &mut self,
        file: &str,
        stack: &[Node],
        gaps: &mut Vec<String>,
    ) -> Result<StackPolicy, ScanError> {
        let cfg = self.cfg;
        let required_len = i64::from(cfg.min_length);
        let rules = Node::modules(stack);
        let first = |name: &str| {
            rules
                .iter()
                .find(|r| r.module.name() == name)
                .map(|r| &r.module)
        };
        let takes_effect = |name: &str, gaps: &mut Vec<String>, label: &str| -> bool {
            let is = |m: &ModuleLine| m.name() == name;
            match pam::success_without(stack, &is) {
                None => true,
                Some(steps) => {
                    let why = pam::explain_success_without(&steps, name, &|n| n == name);
                    gaps.push(format!("{label} does not take effect in {file}: {why}"));
                    false
                }
            }
        };

        let pwq = match first("pam_pwquality") {
            Some(m) if takes_effect("pam_pwquality", gaps, "pam_pwquality") => {
                let mut q = self.pwquality_files()?;
                q.apply_args(&m.args);
                Some(q)
            }
            _ => None,
        };
        let policy_len;
        let (upper, digit, special);
        match pwq {
            Some(q) => {
                if !q.enforcing {
                    gaps.push(format!(
                        "pam_pwquality enforcing=0 in {file} (weak passwords are only warned about)"
                    ));
                }
                policy_len = q.effective_min_length();
                let credits = q.positive_credits();
                if policy_len < required_len {
                    if credits.is_empty() {
                        gaps.push(format!("minlen {} < {required_len}", q.minlen));
                    } else {
                        let list: Vec<String> =
                            credits.iter().map(|(n, v)| format!("{n}={v}")).collect();
                        gaps.push(format!(
                            "minlen {} with {} accepts {policy_len} characters < {required_len}",
                            q.minlen,
                            list.join(",")
                        ));
                    }
                }
                let classes = format!("minclass={}", q.minclass);
                if cfg.require_upper && !q.requires_upper() {
                    gaps.push(format!(
                        "upper case not required (ucredit={}, {classes})",
                        q.ucredit
                    ));
                }
                if cfg.require_digit && !q.requires_digit() {
                    gaps.push(format!(
                        "digit not required (dcredit={}, {classes})",
                        q.dcredit
                    ));
                }
                if cfg.require_special && !q.requires_special() {
                    gaps.push(format!(
                        "special character not required (ocredit={}, {classes})",
                        q.ocredit
                    ));
                }
                (upper, digit, special) =
                    (q.requires_upper(), q.requires_digit(), q.requires_special());
            }
            None => {
                policy_len = first("pam_unix")
                    .and_then(|m| m.arg_value("minlen"))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(PAM_UNIX_MINLEN);
                if policy_len < required_len {
                    gaps.push(format!(
                        "minlen {policy_len} < {required_len} (pam_unix; no effective pam_pwquality in {file})"
                    ));
                }
                for (wanted, class) in [
                    (cfg.require_upper, "upper case"),
                    (cfg.require_digit, "digit"),
                    (cfg.require_special, "special character"),
                ] {
                    if wanted {
                        gaps.push(format!("{class} not required (no effective pam_pwquality)"));
                    }
                }
                (upper, digit, special) = (false, false, false);
            }
        }

        // History: pam_pwhistory (args, then pwhistory.conf, then its default) or pam_unix remember=.
        let mut candidates = Vec::new();
        if let Some(m) = first("pam_pwhistory") {
            let n = match m.arg_value("remember") {
                Some(v) => v.parse().unwrap_or(0),
                None => self
                    .pwhistory_conf_remember()?
                    .unwrap_or(PWHISTORY_DEFAULT_REMEMBER),
            };
            candidates.push(("pam_pwhistory", n));
        }
        if let Some(n) = first("pam_unix").and_then(|m| m.arg_value("remember")) {
            candidates.push(("pam_unix", n.parse().unwrap_or(0)));
        }
        let mut remember = 0;
        for (name, n) in &candidates {
            if takes_effect(name, gaps, &format!("{name} remember={n}")) {
                remember = remember.max(*n);
            }
        }
        let required_remember = i64::from(cfg.remember);
        if required_remember > 0 {
            if candidates.is_empty() {
                gaps.push(format!(
                    "no password history (remember {required_remember} required)"
                ));
            } else if remember < required_remember && remember > 0 {
                gaps.push(format!(
                    "password history remember={remember} < {required_remember}"
                ));
            } else if remember == 0 && candidates.iter().all(|(_, n)| *n == 0) {
                gaps.push(format!(
                    "password history disabled (remember=0; {required_remember} required)"
                ));
            }
        }
        Ok(StackPolicy {
            min_length: policy_len,
            upper,
            digit,
            special,
            remember,
        })
    }

    /// libpwquality's file settings: `pwquality.conf.d/*.conf` in ASCII order, then
    /// `pwquality.conf` (later values override earlier ones).
    fn pwquality_files(&mut self) -> Result<Pwquality, ScanError> {
        let mut q = Pwquality::default();
        let mut files = match self.ctx.probe.read_dir(PWQUALITY_DIR) {
            Ok(names) => names
                .into_iter()
                .filter(|n| n.ends_with(".conf"))
                .map(|n| format!("{PWQUALITY_DIR}/{n}"))
                .collect(),
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(ScanError::Probe(e)),
        };
        files.push(PWQUALITY_CONF.to_string());
        for f in files {
            if let Some(text) = self.read_optional(&f)? {
                for (n, v) in pwquality::parse_conf(&text).map_err(|e| parse_err(&f, e))? {
                    q.set(&n, &v);
                }
            }
        }
        Ok(q)
    }

    /// `remember` from `/etc/security/pwhistory.conf` (libpam ≥ 1.5), if set.
    fn pwhistory_conf_remember(&mut self) -> Result<Option<i64>, ScanError> {
        let Some(text) = self.read_optional(PWHISTORY_CONF)? else {
            return Ok(None);
        };
        let kv = pwquality::parse_conf(&text).map_err(|e| parse_err(PWHISTORY_CONF, e))?;
        Ok(kv
            .iter()
            .rev()
            .find(|(n, _)| n == "remember")
            .and_then(|(_, v)| v.parse().ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_key() {
        assert!(PasswordPolicyConfig::default().validate().is_ok());
        let bad = PasswordPolicyConfig {
            min_length: 4,
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("checks.password_policy.min_length"));
        let bad = PasswordPolicyConfig {
            max_age_days: 0,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("max_age_days"));
        let bad = PasswordPolicyConfig {
            remember: 1000,
            ..Default::default()
        };
        assert!(bad.validate().unwrap_err().contains("remember"));
    }
}
