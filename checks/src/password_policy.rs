//! password_policy check: local passwords meet the security assurance plan — at least
//! `min_length` characters with upper case, digit and special character required, a maximum age
//! of `max_age_days` for every interactive account, and no reuse of the last `remember` passwords.
//!
//! Rotation is read per account from `/etc/shadow` (field 5) — `PASS_MAX_DAYS` in
//! `/etc/login.defs` only applies to accounts created later, so both are checked. A host where no
//! account with a login shell has a usable password (all locked or absent, none empty) is
//! `not_applicable`. Length, classes and history come from the PAM `password` stack `passwd` uses
//! (its service file followed through its includes), plus the family's other shared stacks
//! (`common-password`; `system-auth` + `password-auth`), each gap naming its stack; they are
//! evaluated with the interpreter in [`crate::mfa::pam`]: a module only counts when the stack
//! cannot succeed while it rejects the password (so a `pam_pwhistory` after a `sufficient
//! pam_unix` does not count).

mod accounts;
mod dscl;
mod net_accounts;
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
/// shadow's vendor defaults (libeconf builds: openSUSE Tumbleweed), read when `/etc/login.defs`
/// is absent; drop-ins in `<dir>.d/*.defs` of both directories apply on top.
const LOGIN_DEFS_VENDOR: &str = "/usr/etc/login.defs";
const PWQUALITY_CONF: &str = "/etc/security/pwquality.conf";
const PWQUALITY_DIR: &str = "/etc/security/pwquality.conf.d";
const PWHISTORY_CONF: &str = "/etc/security/pwhistory.conf";
/// The PAM service of `passwd(1)`: its password stack is the one that sets local passwords.
const PASSWD_SERVICE: &str = "passwd";
/// The shared password stacks, by family (Debian/Ubuntu/SUSE, RHEL/Fedora); judged besides the
/// `passwd` stack when it does not already include them, and instead of it when there is no
/// `passwd` service file.
const PASSWORD_STACKS: &[&[&str]] = &[&["common-password"], &["system-auth", "password-auth"]];
/// Stands for the stack's name in a gap message until gaps of several stacks are merged.
const STACK: &str = "{stack}";
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
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Politique de mots de passe",
            en: "Password policy",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["5.2", "4.1"]
    }
    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return pwpolicy::run(ctx),
            Platform::Windows => return net_accounts::run(ctx),
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
        let defs = self.login_defs()?;
        let pass_max_days = match defs.get("PASS_MAX_DAYS") {
            None => None,
            Some((v, file)) => Some(
                v.parse::<i64>()
                    .map_err(|_| parse_err(file, format!("PASS_MAX_DAYS {v:?} is not a number")))?,
            ),
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

        // Nobody can log in with a password: the password rules have nothing to apply to. An
        // empty password on a login shell counts as a usable (password-less) login, never as this.
        if interactive.is_empty() {
            let shells = passwd
                .iter()
                .filter(|p| !accounts::is_nologin_shell(&p.shell))
                .count();
            return Ok(CheckResult::new(
                "password_policy",
                Status::NotApplicable,
                format!(
                    "no account can log in with a password: the {shells} account(s) with a login \
                     shell have a locked or no password (`!`, `*`, `!!`, `x` without a shadow \
                     entry) and none has an empty one; {} account(s) in {PASSWD}",
                    passwd.len()
                ),
            )
            .fact("interactive_accounts", interactive)
            .fact("login_shell_accounts", shells)
            .fact("pass_max_days", pass_max_days));
        }

        // Length, classes, history: the PAM password stack(s).
        let stacks = self.password_stacks()?;
        let mut policies = Vec::new();
        let mut stack_gaps: Vec<(String, String)> = Vec::new();
        if stacks.is_empty() {
            gaps.push(format!(
                "no PAM password stack ({PASSWD_SERVICE}, common-password, system-auth or \
                 password-auth in {})",
                pam::PAM_DIRS.join(", ")
            ));
        }
        for s in &stacks {
            let mut found = Vec::new();
            policies.push(self.judge_stack(&s.nodes, &mut found)?);
            stack_gaps.extend(found.into_iter().map(|g| (g, s.name.clone())));
        }
        gaps.extend(merge_stack_gaps(stack_gaps));
        let mut seen_gaps = BTreeSet::new();
        gaps.retain(|g| seen_gaps.insert(g.clone()));
        let files: Vec<&str> = stacks.iter().map(|s| s.file.as_str()).collect();
        let passwd_stack = stacks.iter().find(|s| s.of_passwd).map(|s| s.name.clone());

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
            .fact("passwd_stack", passwd_stack)
            .fact("gaps", gaps))
    }

    /// login.defs settings with the file each came from: `/etc/login.defs`, else the vendor
    /// `/usr/etc/login.defs`; then the `*.defs` drop-ins of `/usr/etc/login.defs.d` and
    /// `/etc/login.defs.d` in name order (a name in `/etc` hides the vendor's), later values
    /// winning — libeconf's order, which shadow uses where it is built with it.
    fn login_defs(
        &mut self,
    ) -> Result<std::collections::BTreeMap<String, (String, String)>, ScanError> {
        let mut out = std::collections::BTreeMap::new();
        let mut apply = |text: &str, file: &str| {
            for (k, v) in accounts::parse_login_defs(text) {
                out.insert(k, (v, file.to_string()));
            }
        };
        match self.read_optional(LOGIN_DEFS)? {
            Some(t) => apply(&t, LOGIN_DEFS),
            None => {
                if let Some(t) = self.read_optional(LOGIN_DEFS_VENDOR)? {
                    apply(&t, LOGIN_DEFS_VENDOR);
                }
            }
        }
        let mut drop_ins: std::collections::BTreeMap<String, String> = Default::default();
        for dir in ["/usr/etc/login.defs.d", "/etc/login.defs.d"] {
            let names = match self.ctx.probe.read_dir(dir) {
                Ok(n) => n,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(ScanError::Probe(e)),
            };
            for n in names.into_iter().filter(|n| n.ends_with(".defs")) {
                drop_ins.insert(n.clone(), format!("{dir}/{n}"));
            }
        }
        for file in drop_ins.into_values() {
            if let Some(t) = self.read_optional(&file)? {
                apply(&t, &file);
            }
        }
        Ok(out)
    }

    /// The password stacks to judge: the one `passwd` uses (its service file followed through
    /// its includes, in libpam's directories), then every shared family stack it does not already
    /// include; without a `passwd` service file, the first family found.
    fn password_stacks(&mut self) -> Result<Vec<PasswordStack>, ScanError> {
        let probe = self.ctx.probe;
        let locate = |t: &str| pam::locate(t, &|p| probe.exists(p));
        let mut out = Vec::new();
        let mut covered = BTreeSet::new();
        if let Some(file) = locate(PASSWD_SERVICE) {
            let nodes = self.resolve(&file)?;
            covered.extend(stack_files(&nodes));
            // Named after the file whose pam_unix sets the password (`system-auth` through
            // RHEL's substack, `common-password` through Debian's @include).
            let name = Node::modules(&nodes)
                .into_iter()
                .find(|r| r.module.name() == "pam_unix")
                .map_or(file.as_str(), |r| r.file.as_str())
                .rsplit('/')
                .next()
                .unwrap_or(PASSWD_SERVICE)
                .to_string();
            out.push(PasswordStack {
                name,
                file,
                nodes,
                of_passwd: true,
            });
        }
        let has_passwd = !out.is_empty();
        for family in PASSWORD_STACKS {
            let found: Vec<String> = family.iter().filter_map(|f| locate(f)).collect();
            if found.is_empty() {
                continue;
            }
            for file in found {
                if covered.contains(&file) {
                    continue;
                }
                let nodes = self.resolve(&file)?;
                covered.extend(stack_files(&nodes));
                out.push(PasswordStack {
                    name: file.rsplit('/').next().unwrap_or(&file).to_string(),
                    file,
                    nodes,
                    of_passwd: false,
                });
            }
            if !has_passwd {
                break; // no passwd service: the first family found is the system's
            }
        }
        Ok(out)
    }

    /// Resolve the password stack of a PAM file, includes looked up in libpam's directories.
    fn resolve(&mut self, file: &str) -> Result<Vec<Node>, ScanError> {
        let ctx = self.ctx;
        let (evidence, seen) = (&mut self.evidence, &mut self.read_paths);
        let mut load = |path: &str| -> Result<Vec<PamLine>, ScanError> {
            let text = read_file(ctx, evidence, seen, path)?;
            pam::parse_pam_file(&text).map_err(|e| parse_err(path, e))
        };
        let locate = |target: &str| {
            pam::locate(target, &|p| ctx.probe.exists(p)).unwrap_or_else(|| pam::pam_path(target))
        };
        Ok(pam::resolve_stack_in(
            file,
            PamType::Password,
            &mut load,
            &locate,
        )?)
    }

    /// What one password stack enforces; gaps are appended, with [`STACK`] where the stack's name
    /// goes (at the end when absent).
    fn judge_stack(
        &mut self,
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
                    gaps.push(format!("{label} does not take effect in {STACK}: {why}"));
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
                        "pam_pwquality enforcing=0 in {STACK} (weak passwords are only warned about)"
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
                        "minlen {policy_len} < {required_len} (pam_unix; no effective pam_pwquality in {STACK})"
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

/// One PAM password stack to judge.
struct PasswordStack {
    /// How gaps name it: `common-password`, `system-auth`, `password-auth`.
    name: String,
    /// The service or shared file it starts from.
    file: String,
    nodes: Vec<Node>,
    /// Whether this is the stack `passwd` uses.
    of_passwd: bool,
}

/// Every file a resolved stack took lines from, substacks included.
fn stack_files(nodes: &[Node]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for n in nodes {
        match n {
            Node::Module(r) => {
                out.insert(r.file.clone());
            }
            Node::Substack { file, nodes, .. } => {
                out.insert(file.clone());
                out.extend(stack_files(nodes));
            }
        }
    }
    out
}

/// Name the stacks in their gaps: a gap found in several stacks is said once, naming each
/// (`no password history (remember 3 required) in system-auth, password-auth`); one found in a
/// single stack names that one.
fn merge_stack_gaps(gaps: Vec<(String, String)>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (gap, stack) in gaps {
        let template = if gap.contains(STACK) {
            gap
        } else {
            format!("{gap} in {STACK}")
        };
        let list = names.entry(template.clone()).or_default();
        if list.is_empty() {
            order.push(template);
        }
        if !list.contains(&stack) {
            list.push(stack);
        }
    }
    order
        .into_iter()
        .map(|t| {
            let list = names[&t].join(", ");
            t.replace(STACK, &list)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_name_the_stacks_that_lack_them() {
        let merged = merge_stack_gaps(vec![
            (
                "no password history (remember 3 required)".into(),
                "system-auth".into(),
            ),
            ("minlen 8 < 16".into(), "system-auth".into()),
            (
                "no password history (remember 3 required)".into(),
                "password-auth".into(),
            ),
            (
                format!(
                    "pam_pwquality enforcing=0 in {STACK} (weak passwords are only warned about)"
                ),
                "password-auth".into(),
            ),
        ]);
        assert_eq!(
            merged,
            vec![
                "no password history (remember 3 required) in system-auth, password-auth",
                "minlen 8 < 16 in system-auth",
                "pam_pwquality enforcing=0 in password-auth (weak passwords are only warned about)",
            ]
        );
    }

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
