//! mfa check: every interactive way into the host — SSH and sudo — must demand a second factor.
//!
//! - **SSH**: the effective sshd configuration is read from `/etc/ssh/sshd_config` (else the vendor
//!   `/usr/etc/ssh/sshd_config`; with neither, sshd's compiled-in defaults, said in the summary)
//!   with its `Include`s expanded; every `Match` block that changes authentication is evaluated on its
//!   own and merged with every other such block (criteria are not evaluated, so any set of
//!   blocks may match one connection). Each accepted `AuthenticationMethods` list must contain a step that needs a second
//!   factor: `keyboard-interactive` (or `password`) through `UsePAM yes` and a PAM `sshd` auth stack
//!   that cannot succeed without a second-factor module, or — when allowed — `publickey` restricted
//!   to FIDO (`sk-`) keys with `PubkeyAuthOptions verify-required`.
//! - **sudo**: the PAM `sudo` auth stack must require a second-factor module, and no sudoers rule
//!   may skip authentication (`NOPASSWD:`, `Defaults !authenticate`). On Debian/Ubuntu `sudo -i`
//!   authenticates through its own PAM service `sudo-i`; when `/etc/pam.d/sudo-i` exists it is a
//!   way in of its own, named `sudo -i`.
//!
//! PAM stacks (service files from `/etc/pam.d`, `/usr/lib/pam.d` or `/usr/etc/pam.d`, as libpam
//! looks them up) are evaluated by the interpreter in [`pam`]: "can the stack succeed while every
//! second-factor module fails?" A stack that enforces its factor is run once more per fail-open
//! factor ([`failopen`]: pam_duo `failmode = safe`, pam_radius_auth `localifdown`, pam_oath unknown
//! users); if that lets it succeed, the way in is `warn`. `sshd -T` is deliberately not run (see
//! `docs/checks/mfa.md`).

mod failopen;
mod macos;
pub mod pam;
pub mod sshd;
mod sudoers;

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::json;

use crate::scan::{parse_err, read_file, ScanError};
use crate::{CheckResult, Context, Evidence, Platform, Status};
use pam::{ModuleLine, Node, PamLine, PamType};
use sshd::{SshdConfig, SshdLine};
use sudoers::SudoersItem;

/// Where sshd reads its configuration: the administrator's file, else (openSUSE, and distributions
/// following the hermetic-/usr layout) the vendor default, which sshd reads only when the first is
/// absent.
const SSHD_CONFIGS: [&str; 2] = ["/etc/ssh/sshd_config", "/usr/etc/ssh/sshd_config"];
const SSHD_BINARY: &str = "/usr/sbin/sshd";
const SUDO_BINARY: &str = "/usr/bin/sudo";
const SUDOERS: &str = "/etc/sudoers";
/// Debian/Ubuntu's sudo authenticates `sudo -i` (login shell) through this PAM service instead of
/// `sudo`.
const PAM_SUDO_I: &str = "sudo-i";

/// Settings of the mfa check (`[checks.mfa]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// PAM modules (name without path or `.so`) that count as a second factor.
    pub second_factor_modules: Vec<String>,
    /// Count SSH `publickey` as multi-factor when sshd accepts only FIDO (`sk-`) key algorithms and
    /// sets `PubkeyAuthOptions verify-required` (key possession plus PIN or biometric).
    pub accept_sk_verify_required: bool,
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            second_factor_modules: [
                "pam_google_authenticator",
                "pam_u2f",
                "pam_duo",
                "pam_oath",
                "pam_yubico",
            ]
            .map(String::from)
            .to_vec(),
            accept_sk_verify_required: true,
        }
    }
}

impl MfaConfig {
    /// Validate ranges; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.second_factor_modules.is_empty() {
            return Err(
                "checks.mfa.second_factor_modules: must name at least one PAM module \
                 (e.g. \"pam_google_authenticator\")"
                    .into(),
            );
        }
        for m in &self.second_factor_modules {
            let ok = m.starts_with("pam_")
                && m.len() > 4
                && m.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(format!(
                    "checks.mfa.second_factor_modules: {m:?} is not a PAM module name; \
                     use the bare name such as \"pam_u2f\" (no directory, no .so)"
                ));
            }
        }
        Ok(())
    }
}

/// The mfa check.
pub struct Mfa;

impl crate::Check for Mfa {
    fn id(&self) -> &'static str {
        "mfa"
    }
    fn title(&self) -> &'static str {
        "Multi-factor authentication on SSH and sudo"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Authentification multifacteur",
            en: "Multi-factor authentication",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["6.3", "6.4", "6.5"]
    }
    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return macos::run(ctx),
            other => return crate::platform::unsupported(self.id(), other),
        }
        let mut scan = Scan {
            ctx,
            cfg: &ctx.config.mfa,
            evidence: Vec::new(),
            read_paths: BTreeSet::new(),
            verdicts: BTreeMap::new(),
            ssh_combinations: 0,
            notes: Vec::new(),
            sshd_config: None,
        };
        match scan.run() {
            Ok(r) => r.with_evidence(scan.evidence),
            Err(e) => CheckResult::new(self.id(), Status::Error, e.to_string())
                .with_evidence(scan.evidence),
        }
    }
}

impl From<sshd::ResolveError<ScanError>> for ScanError {
    fn from(e: sshd::ResolveError<ScanError>) -> Self {
        match e {
            sshd::ResolveError::Load(e) => e,
            other => ScanError::Config(other.to_string()),
        }
    }
}

/// What a PAM service's auth stack amounts to.
#[derive(Debug, Clone)]
struct StackVerdict {
    /// Second-factor modules present in the stack.
    factors: Vec<String>,
    /// Why the stack does not enforce them; empty = enforced.
    issues: Vec<String>,
    /// How an enforced stack still lets a login through when a factor's server is unreachable
    /// or a user is not enrolled (see [`failopen`]).
    fail_open: Vec<String>,
}

/// One way in and what it lacks.
struct PathReport {
    name: String,
    detail: String,
    reasons: Vec<String>,
    /// Fail-open second factors on this way in (a `warn` when nothing fails), without the way's
    /// name.
    fail_open: Vec<String>,
}

/// Each fail-open finding once, prefixed with every way in it concerns, in order:
/// `ssh, sudo -i: pam_duo failmode = safe …`.
fn name_ways_in(paths: &[PathReport]) -> Vec<String> {
    let mut order: Vec<&str> = Vec::new();
    let mut ways: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in paths {
        for w in &p.fail_open {
            let list = ways.entry(w.as_str()).or_default();
            if list.is_empty() {
                order.push(w);
            }
            if !list.contains(&p.name.as_str()) {
                list.push(&p.name);
            }
        }
    }
    order
        .into_iter()
        .map(|w| format!("{}: {w}", ways[w].join(", ")))
        .collect()
}

struct Scan<'a> {
    ctx: &'a Context<'a>,
    cfg: &'a MfaConfig,
    evidence: Vec<Evidence>,
    read_paths: BTreeSet<String>,
    verdicts: BTreeMap<String, StackVerdict>,
    /// How many combinations of two or more `Match` blocks were judged.
    ssh_combinations: usize,
    /// Said in every summary (e.g. sshd judged on its compiled-in defaults).
    notes: Vec<String>,
    /// The sshd configuration file read, if any.
    sshd_config: Option<&'static str>,
}

impl Scan<'_> {
    fn run(&mut self) -> Result<CheckResult, ScanError> {
        let mut paths = Vec::new();
        let mut not_installed = Vec::new();
        match self.ssh_paths()? {
            Some(p) => paths.extend(p),
            None => not_installed.push("sshd"),
        }
        match self.sudo_paths()? {
            Some(p) => paths.extend(p),
            None => not_installed.push("sudo"),
        }
        let lacking: Vec<String> = paths.iter().flat_map(|p| p.reasons.clone()).collect();
        let fail_open = name_ways_in(&paths);
        let paths_json: Vec<_> = paths
            .iter()
            .map(|p| json!({"path": p.name, "mfa": p.reasons.is_empty(), "detail": p.detail, "reasons": p.reasons, "fail_open": p.fail_open}))
            .collect();
        let factors: serde_json::Map<String, serde_json::Value> = self
            .verdicts
            .iter()
            .map(|(svc, v)| (svc.clone(), json!(v.factors)))
            .collect();
        let (status, summary) = if paths.is_empty() {
            (
                Status::NotApplicable,
                "no interactive way in: sshd and sudo are not installed".to_string(),
            )
        } else if !lacking.is_empty() {
            let mut s = lacking.join("; ");
            if !fail_open.is_empty() {
                s.push_str(&format!("; fail-open: {}", fail_open.join("; ")));
            }
            (Status::Fail, s)
        } else {
            let ok: Vec<String> = paths
                .iter()
                .map(|p| format!("{} ({})", p.name, p.detail))
                .collect();
            let mut s = if fail_open.is_empty() {
                format!("second factor required on every way in: {}", ok.join(", "))
            } else {
                format!(
                    "{}; otherwise a second factor is required on every way in: {}",
                    fail_open.join("; "),
                    ok.join(", ")
                )
            };
            for n in &not_installed {
                s.push_str(&format!("; {n} not installed"));
            }
            let status = if fail_open.is_empty() {
                Status::Pass
            } else {
                Status::Warn
            };
            (status, s)
        };
        let summary = std::iter::once(summary)
            .chain(self.notes.iter().cloned())
            .collect::<Vec<_>>()
            .join("; ");
        Ok(CheckResult::new("mfa", status, summary)
            .fact("paths", paths_json)
            .fact("lacking", lacking.clone())
            .fact("lacking_count", lacking.len())
            .fact("fail_open", fail_open)
            .fact("sshd_config", self.sshd_config)
            .fact("not_installed", not_installed)
            .fact("pam_second_factors", factors)
            .fact("ssh_match_combinations", self.ssh_combinations))
    }

    fn is_factor(&self, name: &str) -> bool {
        self.cfg.second_factor_modules.iter().any(|m| m == name)
    }

    /// The verdict on a PAM service's auth stack (cached per service).
    fn pam_verdict(&mut self, service: &str) -> Result<StackVerdict, ScanError> {
        if let Some(v) = self.verdicts.get(service) {
            return Ok(v.clone());
        }
        // libpam falls back to the `other` service when a service has no file in any directory.
        let entry = self
            .pam_file(service)
            .or_else(|| self.pam_file("other"))
            .unwrap_or_else(|| pam::pam_path(service));
        let ctx = self.ctx;
        let (evidence, seen) = (&mut self.evidence, &mut self.read_paths);
        let mut load = |path: &str| -> Result<Vec<PamLine>, ScanError> {
            let text = read_file(ctx, evidence, seen, path)?;
            pam::parse_pam_file(&text).map_err(|e| parse_err(path, e))
        };
        let locate = |target: &str| {
            pam::locate(target, &|p| ctx.probe.exists(p)).unwrap_or_else(|| pam::pam_path(target))
        };
        let stack = pam::resolve_stack_in(&entry, PamType::Auth, &mut load, &locate)?;
        let mut verdict = self.judge_stack(&entry, &stack);
        if verdict.issues.is_empty() && !verdict.factors.is_empty() {
            verdict.fail_open = self.fail_open(&stack)?;
        }
        self.verdicts.insert(service.to_string(), verdict.clone());
        Ok(verdict)
    }

    /// The file libpam reads for a service or include target (`/etc/pam.d`, then `/usr/lib/pam.d`,
    /// then `/usr/etc/pam.d`).
    fn pam_file(&self, target: &str) -> Option<String> {
        pam::locate(target, &|p| self.ctx.probe.exists(p))
    }

    /// For a stack that enforces its second factor: each fail-open factor module that, alone
    /// returning its fail-open outcome while every other factor fails, lets the stack succeed.
    fn fail_open(&mut self, stack: &[Node]) -> Result<Vec<String>, ScanError> {
        let mut cases: Vec<(&pam::Rule, failopen::FailOpen)> = Vec::new();
        for r in Node::modules(stack) {
            if !self.is_factor(r.module.name()) {
                continue;
            }
            let case = if r.module.name() == "pam_duo" {
                self.duo_case(&r.module)?
            } else {
                failopen::from_line(&r.module)
            };
            if let Some(c) = case {
                cases.push((r, c));
            }
        }
        let mut out = Vec::new();
        for (rule, case) in &cases {
            let forced = |m: &ModuleLine| {
                if std::ptr::eq(m, &rule.module) {
                    Some(case.outcomes.clone())
                } else {
                    self.is_factor(m.name())
                        .then(|| vec![pam::Outcome::Failure])
                }
            };
            if pam::success_with(stack, &forced).is_some() && !out.contains(&case.why) {
                out.push(case.why.clone());
            }
        }
        Ok(out)
    }

    /// pam_duo's fail-open case from the configuration it reads (`conf=`, else the first of
    /// [`failopen::DUO_CONF_PATHS`] that exists). Without any configuration pam_duo refuses every
    /// login, so there is nothing to open. Only the non-secret keys go into the evidence.
    fn duo_case(&mut self, m: &ModuleLine) -> Result<Option<failopen::FailOpen>, ScanError> {
        let probe = self.ctx.probe;
        let conf = match m.arg_value("conf") {
            Some(c) => Some(c.to_string()),
            None => failopen::DUO_CONF_PATHS
                .iter()
                .find(|p| probe.exists(p))
                .map(|p| p.to_string()),
        };
        let Some(conf) = conf else {
            return Ok(None);
        };
        let text = match probe.read_string(&conf) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(ScanError::Probe(e)),
        };
        if self.read_paths.insert(conf.clone()) {
            self.evidence.push(Evidence::file(
                &conf,
                failopen::duo_conf_excerpt(&text).as_bytes(),
            ));
        }
        Ok(failopen::duo(
            &conf,
            failopen::duo_failmode(&text).as_deref(),
        ))
    }

    fn judge_stack(&self, entry: &str, stack: &[Node]) -> StackVerdict {
        let factor_rules: Vec<&pam::Rule> = Node::modules(stack)
            .into_iter()
            .filter(|r| self.is_factor(r.module.name()))
            .collect();
        let mut factors: Vec<String> = factor_rules
            .iter()
            .map(|r| r.module.name().to_string())
            .collect();
        factors.dedup();
        let mut issues = Vec::new();
        if factors.is_empty() {
            issues.push(format!("no second-factor module in the {entry} auth stack"));
            return StackVerdict {
                factors,
                issues,
                fail_open: Vec::new(),
            };
        }
        let forced = |m: &ModuleLine| self.is_factor(m.name());
        if let Some(steps) = pam::success_without(stack, &forced) {
            issues.push(pam::explain_success_without(&steps, &factors[0], &|n| {
                self.is_factor(n)
            }));
        }
        for r in &factor_rules {
            for arg in ["nullok", "nouserok"] {
                if r.module.has_arg(arg) {
                    let issue = format!("{} {arg}", r.module.name());
                    if !issues.contains(&issue) {
                        issues.push(issue);
                    }
                }
            }
        }
        StackVerdict {
            factors,
            issues,
            fail_open: Vec::new(),
        }
    }

    /// SSH ways in (global context, each authentication-changing `Match` block, and each set of
    /// two or more of them that fails for a reason none of its smaller sets shows); `None` when
    /// sshd is not installed.
    fn ssh_paths(&mut self) -> Result<Option<Vec<PathReport>>, ScanError> {
        let probe = self.ctx.probe;
        let config = SSHD_CONFIGS.into_iter().find(|p| probe.exists(p));
        if config.is_none() && !probe.exists(SSHD_BINARY) {
            return Ok(None);
        }
        self.sshd_config = config;
        // Without a config file sshd runs on its compiled-in defaults: judged, and said.
        let cfg = match config {
            Some(path) => self.load_sshd_config(path)?,
            None => {
                self.notes.push(format!(
                    "{SSHD_BINARY} has no configuration file ({} absent): SSH judged on \
                     OpenSSH's compiled-in defaults",
                    SSHD_CONFIGS.join(", ")
                ));
                SshdConfig::default()
            }
        };
        let auth_blocks: Vec<usize> = (0..cfg.matches.len())
            .filter(|&i| AUTH_KEYWORDS.iter().any(|k| cfg.block_sets(i, k)))
            .collect();
        if auth_blocks.len() > MAX_AUTH_MATCH_BLOCKS {
            return Err(ScanError::Config(format!(
                "too many Match blocks change authentication to evaluate every combination: \
                 {} blocks in the sshd configuration, at most {MAX_AUTH_MATCH_BLOCKS}",
                auth_blocks.len()
            )));
        }
        let use_pam = flag(&cfg, &[], "usepam", false);
        let mut out = vec![self.ssh_context(&cfg, "ssh", &[], use_pam)?];
        // Match criteria are not evaluated, so any set of blocks may match one connection. Bit
        // `j` of a mask stands for `auth_blocks[j]`; smaller sets are judged first.
        let mut masks: Vec<u32> = (1..1u32 << auth_blocks.len()).collect();
        masks.sort_by_key(|m| (m.count_ones(), std::cmp::Reverse(m.reverse_bits())));
        let mut shown: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
        for mask in masks {
            let blocks: Vec<usize> = (0..auth_blocks.len())
                .filter(|j| mask & (1 << j) != 0)
                .map(|j| auth_blocks[j])
                .collect();
            let name = format!(
                "ssh {}",
                blocks
                    .iter()
                    .map(|&i| format!("Match {}", cfg.matches[i].criteria))
                    .collect::<Vec<_>>()
                    .join(" + ")
            );
            let mut path = self.ssh_context(&cfg, &name, &blocks, use_pam)?;
            let prefix = format!("{name}: ");
            let own: BTreeSet<String> = path
                .reasons
                .iter()
                .map(|r| r.strip_prefix(&prefix).unwrap_or(r).to_string())
                .collect();
            if blocks.len() == 1 {
                out.push(path);
            } else {
                self.ssh_combinations += 1;
                // Report a combination only for what none of its smaller combinations shows.
                let mut earlier = BTreeSet::new();
                let mut sub = (mask - 1) & mask;
                while sub != 0 {
                    earlier.extend(shown.get(&sub).into_iter().flatten().cloned());
                    sub = (sub - 1) & mask;
                }
                path.reasons
                    .retain(|r| !earlier.contains(r.strip_prefix(&prefix).unwrap_or(r)));
                if !path.reasons.is_empty() {
                    out.push(path);
                }
            }
            shown.insert(mask, own);
        }
        Ok(Some(out))
    }

    fn load_sshd_config(&mut self, path: &str) -> Result<SshdConfig, ScanError> {
        let ctx = self.ctx;
        let (evidence, seen) = (&mut self.evidence, &mut self.read_paths);
        let mut load = |path: &str| -> Result<Vec<SshdLine>, ScanError> {
            let text = read_file(ctx, evidence, seen, path)?;
            sshd::parse_sshd_config(&text).map_err(|e| parse_err(path, e))
        };
        let mut expand = |pattern: &str| -> Result<Vec<String>, ScanError> {
            let Some((dir, base)) = pattern.rsplit_once('/') else {
                return Ok(Vec::new());
            };
            if !base.contains(['*', '?']) {
                return Ok(if ctx.probe.exists(pattern) {
                    vec![pattern.to_string()]
                } else {
                    Vec::new()
                });
            }
            match ctx.probe.read_dir(dir) {
                Ok(names) => Ok(names
                    .into_iter()
                    .filter(|n| sshd::glob_match(base, n))
                    .map(|n| format!("{dir}/{n}"))
                    .collect()),
                Err(e) if e.is_not_found() => Ok(Vec::new()),
                Err(e) => Err(ScanError::Probe(e)),
            }
        };
        Ok(sshd::resolve_config(path, &mut load, &mut expand)?)
    }

    fn ssh_context(
        &mut self,
        cfg: &SshdConfig,
        name: &str,
        block: &[usize],
        use_pam: bool,
    ) -> Result<PathReport, ScanError> {
        let enabled: BTreeMap<&str, bool> = [
            ("publickey", flag(cfg, block, "pubkeyauthentication", true)),
            ("password", flag(cfg, block, "passwordauthentication", true)),
            (
                "keyboard-interactive",
                flag(cfg, block, "kbdinteractiveauthentication", true),
            ),
            (
                "hostbased",
                flag(cfg, block, "hostbasedauthentication", false),
            ),
            (
                "gssapi-with-mic",
                flag(cfg, block, "gssapiauthentication", false),
            ),
        ]
        .into();
        let am = lookup(cfg, block, "authenticationmethods")
            .map(|d| d.args.clone())
            .unwrap_or_else(|| vec!["any".to_string()]);
        let explicit = !(am.len() == 1 && am[0] == "any");
        let lists: Vec<String> = if explicit {
            am.clone()
        } else {
            enabled
                .iter()
                .filter(|(_, on)| **on)
                .map(|(m, _)| m.to_string())
                .collect()
        };
        let sk_mfa = self.cfg.accept_sk_verify_required && sk_verify_required(cfg, block);
        let mut reasons = Vec::new();
        let mut usable = Vec::new();
        let mut fail_open = Vec::new();
        let mut uses_pam = false;
        for list in &lists {
            let methods: Vec<&str> = list
                .split(',')
                .map(|m| m.split(':').next().unwrap_or(m))
                .collect();
            if methods
                .iter()
                .any(|m| !enabled.get(m).copied().unwrap_or(false))
            {
                continue; // a disabled method: sshd never completes this list
            }
            usable.push(list.clone());
            let via_pam = methods
                .iter()
                .any(|m| *m == "keyboard-interactive" || *m == "password");
            uses_pam |= via_pam && use_pam;
            let pam = if via_pam && use_pam {
                Some(self.pam_verdict("sshd")?)
            } else {
                None
            };
            let second_factor = methods.iter().any(|m| match *m {
                "publickey" => sk_mfa,
                "keyboard-interactive" | "password" => {
                    pam.as_ref().is_some_and(|v| v.issues.is_empty())
                }
                _ => false,
            });
            if second_factor {
                // Fail-open only matters when the PAM factor is this list's only second factor.
                let via_sk = sk_mfa && methods.contains(&"publickey");
                if let Some(v) = pam.as_ref().filter(|_| !via_sk) {
                    for w in &v.fail_open {
                        if !fail_open.contains(w) {
                            fail_open.push(w.clone());
                        }
                    }
                }
                continue;
            }
            let pam_issues = pam
                .as_ref()
                .filter(|v| !v.factors.is_empty())
                .map(|v| v.issues.clone())
                .unwrap_or_default();
            let new: Vec<String> = if !pam_issues.is_empty() {
                pam_issues.iter().map(|i| format!("{name}: {i}")).collect()
            } else if explicit {
                let why = if via_pam && !use_pam {
                    "no second factor: UsePAM no"
                } else {
                    "no second factor"
                };
                vec![format!("{name}: AuthenticationMethods {list} ({why})")]
            } else {
                vec![format!(
                    "{name}: {list} alone is accepted (AuthenticationMethods any)"
                )]
            };
            for r in new {
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
        }
        let mut detail = format!("AuthenticationMethods {}", am.join(" "));
        if let Some(v) = self.verdicts.get("sshd").filter(|_| uses_pam) {
            if !v.factors.is_empty() {
                detail.push_str(&format!(" + {}", v.factors.join(",")));
            }
        }
        if sk_mfa {
            detail.push_str(" + sk- keys with verify-required");
        }
        if usable.is_empty() {
            detail.push_str(" (no usable method)");
        }
        Ok(PathReport {
            name: name.to_string(),
            detail,
            reasons,
            fail_open,
        })
    }

    /// The sudo ways in — `sudo`, and `sudo -i` when its own PAM service `sudo-i` exists
    /// (Debian/Ubuntu); `None` when sudo is not installed.
    fn sudo_paths(&mut self) -> Result<Option<Vec<PathReport>>, ScanError> {
        let probe = self.ctx.probe;
        let has_sudo_i = self.pam_file(PAM_SUDO_I).is_some();
        if !(probe.exists(SUDO_BINARY)
            || probe.exists(SUDOERS)
            || self.pam_file("sudo").is_some()
            || has_sudo_i)
        {
            return Ok(None);
        }
        let mut out = vec![self.sudo_service_path("sudo", "sudo")?];
        if probe.exists(SUDOERS) {
            let mut items = Vec::new();
            self.read_sudoers(SUDOERS, 0, &mut items)?;
            for (file, item) in items {
                match item {
                    SudoersItem::NoPasswd { who, line } => out[0]
                        .reasons
                        .push(format!("sudo: NOPASSWD for {who} ({file}:{line})")),
                    SudoersItem::NoAuthenticate { scope, line } => out[0].reasons.push(format!(
                        "sudo: Defaults{scope} !authenticate ({file}:{line})"
                    )),
                    _ => {}
                }
            }
        }
        if has_sudo_i {
            out.push(self.sudo_service_path("sudo -i", PAM_SUDO_I)?);
        }
        Ok(Some(out))
    }

    /// One sudo way in judged on its PAM service's auth stack.
    fn sudo_service_path(&mut self, name: &str, service: &str) -> Result<PathReport, ScanError> {
        let verdict = self.pam_verdict(service)?;
        Ok(PathReport {
            name: name.into(),
            detail: if verdict.factors.is_empty() {
                "no second-factor module".into()
            } else {
                verdict.factors.join(",")
            },
            reasons: verdict
                .issues
                .iter()
                .map(|i| format!("{name}: {i}"))
                .collect(),
            fail_open: verdict.fail_open.clone(),
        })
    }

    fn read_sudoers(
        &mut self,
        path: &str,
        depth: usize,
        out: &mut Vec<(String, SudoersItem)>,
    ) -> Result<(), ScanError> {
        if depth > 16 {
            return Err(ScanError::Config(format!(
                "{path}: sudoers includes nest deeper than 16 levels (a loop?)"
            )));
        }
        let text = read_file(self.ctx, &mut self.evidence, &mut self.read_paths, path)?;
        let items = sudoers::parse_sudoers(&text).map_err(|e| parse_err(path, e))?;
        let dir = path.rsplit_once('/').map_or("/etc", |(d, _)| d).to_string();
        let abs = |p: &str| {
            if p.starts_with('/') {
                p.to_string()
            } else {
                format!("{dir}/{p}")
            }
        };
        for item in items {
            match &item {
                SudoersItem::Include { path: inc, .. } => {
                    let inc = abs(inc);
                    if self.ctx.probe.exists(&inc) {
                        self.read_sudoers(&inc, depth + 1, out)?;
                    }
                }
                SudoersItem::IncludeDir { path: d, .. } => {
                    let d = abs(d);
                    let names = match self.ctx.probe.read_dir(&d) {
                        Ok(n) => n,
                        Err(e) if e.is_not_found() => Vec::new(),
                        Err(e) => return Err(ScanError::Probe(e)),
                    };
                    for n in names.iter().filter(|n| sudoers::includedir_reads(n)) {
                        self.read_sudoers(&format!("{d}/{n}"), depth + 1, out)?;
                    }
                }
                _ => out.push((path.to_string(), item)),
            }
        }
        Ok(())
    }
}

/// sshd keywords that change how a user authenticates; a `Match` block setting one of them is a
/// way in of its own, alone and combined with every other such block.
const AUTH_KEYWORDS: &[&str] = &[
    "authenticationmethods",
    "kbdinteractiveauthentication",
    "passwordauthentication",
    "pubkeyauthentication",
    "hostbasedauthentication",
    "gssapiauthentication",
    "pubkeyauthoptions",
    "pubkeyacceptedalgorithms",
];

/// At most this many authentication-changing `Match` blocks are combined (2^10 - 1 = 1023 sets).
const MAX_AUTH_MATCH_BLOCKS: usize = 10;

/// The directive in effect for a connection matching exactly `blocks` (empty = global context).
fn lookup<'c>(cfg: &'c SshdConfig, blocks: &[usize], kw: &str) -> Option<&'c sshd::Directive> {
    cfg.in_blocks(blocks, kw)
}

/// A yes/no keyword's effective value.
fn flag(cfg: &SshdConfig, block: &[usize], kw: &str, default: bool) -> bool {
    lookup(cfg, block, kw)
        .and_then(|d| d.args.first())
        .map_or(default, |v| v.eq_ignore_ascii_case("yes"))
}

/// Public keys are a full second factor only as FIDO keys that verify the user (PIN/biometric).
fn sk_verify_required(cfg: &SshdConfig, block: &[usize]) -> bool {
    let verify = lookup(cfg, block, "pubkeyauthoptions").is_some_and(|d| {
        d.args
            .iter()
            .any(|a| a.eq_ignore_ascii_case("verify-required"))
    });
    let sk_only = lookup(cfg, block, "pubkeyacceptedalgorithms")
        .and_then(|d| d.args.first())
        .is_some_and(|list| {
            !list.starts_with(['+', '-', '^']) && list.split(',').all(|alg| alg.starts_with("sk-"))
        });
    verify && sk_only
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::ProbeError;
    use crate::probe::{CommandOutput, FileInfo, Probe, SystemFacts};
    use crate::Check;

    /// A host made of a few files held in memory (directories are implied by the paths).
    struct MemProbe(BTreeMap<String, String>);

    impl Probe for MemProbe {
        fn read(&self, path: &str) -> Result<Vec<u8>, ProbeError> {
            self.0
                .get(path)
                .map(|t| t.as_bytes().to_vec())
                .ok_or_else(|| ProbeError::NotFound { path: path.into() })
        }
        fn read_dir(&self, path: &str) -> Result<Vec<String>, ProbeError> {
            let prefix = format!("{path}/");
            let names: BTreeSet<String> = self
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .map(|rest| rest.split('/').next().unwrap_or(rest).to_string())
                .collect();
            if names.is_empty() {
                return Err(ProbeError::NotFound { path: path.into() });
            }
            Ok(names.into_iter().collect())
        }
        fn metadata(&self, path: &str) -> Result<FileInfo, ProbeError> {
            let is_dir = !self.0.contains_key(path);
            if is_dir {
                self.read_dir(path)?;
            }
            Ok(FileInfo {
                is_dir,
                size: 0,
                modified: None,
                mode: 0o644,
            })
        }
        fn read_link(&self, path: &str) -> Result<String, ProbeError> {
            Err(ProbeError::NotFound { path: path.into() })
        }
        fn run(&self, argv: &[&str]) -> Result<CommandOutput, ProbeError> {
            Err(ProbeError::NoRecording {
                argv: argv.join(" "),
            })
        }
        fn now(&self) -> chrono::DateTime<chrono::Utc> {
            chrono::DateTime::UNIX_EPOCH
        }
        fn local_offset(&self) -> chrono::FixedOffset {
            chrono::FixedOffset::east_opt(0).unwrap()
        }
        fn system(&self) -> Result<SystemFacts, ProbeError> {
            Ok(SystemFacts::default())
        }
        fn is_root(&self) -> bool {
            true
        }
        fn describe(&self) -> String {
            "memory".into()
        }
    }

    /// Run the check on a host with sshd (UsePAM yes, a stock PAM `sshd` stack without a second
    /// factor) whose /etc/ssh/sshd_config is `sshd_config`; sudo is not installed.
    fn run_sshd(sshd_config: &str) -> CheckResult {
        let probe = MemProbe(BTreeMap::from([
            ("/etc/ssh/sshd_config".to_string(), sshd_config.to_string()),
            (
                "/etc/pam.d/sshd".to_string(),
                "auth [success=1 default=ignore] pam_unix.so nullok\n\
                 auth requisite pam_deny.so\nauth required pam_permit.so\n"
                    .to_string(),
            ),
        ]));
        let config = crate::ChecksConfig::default();
        let state = crate::state::MemoryState::default();
        let ctx = Context {
            probe: &probe,
            config: &config,
            state: &state,
        };
        Mfa.run(&ctx)
    }

    /// FIDO keys with verify-required: MFA without PAM.
    const FIDO_GLOBAL: &str = "UsePAM yes\nKbdInteractiveAuthentication no\n\
        AuthenticationMethods publickey\n\
        PubkeyAcceptedAlgorithms sk-ssh-ed25519@openssh.com\n\
        PubkeyAuthOptions verify-required\nPasswordAuthentication no\n";

    #[test]
    fn two_harmless_blocks_combine_into_password_only() {
        let r = run_sshd(&format!(
            "{FIDO_GLOBAL}Match User deploy\n  AuthenticationMethods password\n\
             Match Address 10.0.0.0/8\n  PasswordAuthentication yes\n"
        ));
        assert_eq!(r.status, Status::Fail, "{}", r.summary);
        assert_eq!(
            r.facts["lacking"],
            json!(["ssh Match User deploy + Match Address 10.0.0.0/8: \
                 AuthenticationMethods password (no second factor)"])
        );
        assert_eq!(r.facts["ssh_match_combinations"], json!(1));
    }

    #[test]
    fn a_combination_repeating_a_smaller_ones_reason_is_not_reported_again() {
        // deploy alone drops the factor; deploy + sftponly inherits deploy's (earlier) value.
        let r = run_sshd(&format!(
            "{FIDO_GLOBAL}Match User deploy\n  PubkeyAuthOptions none\n\
             Match Group sftponly\n  PubkeyAuthOptions verify-required\n  ForceCommand internal-sftp\n\
             Match Address 192.0.2.0/24\n  X11Forwarding no\n"
        ));
        assert_eq!(
            r.facts["lacking"],
            json!(["ssh Match User deploy: AuthenticationMethods publickey (no second factor)"])
        );
        // The X11Forwarding block changes no authentication: 2 blocks, 1 combination.
        assert_eq!(r.facts["ssh_match_combinations"], json!(1));
        let paths = r.facts["paths"].as_array().unwrap();
        assert_eq!(paths.len(), 3, "{paths:?}");
    }

    #[test]
    fn merge_follows_file_order_and_new_reasons_are_reported() {
        // a alone: passwords on, but AuthenticationMethods publickey with sk- keys: MFA.
        // b alone: AuthenticationMethods password with passwords off: no usable list.
        // a + b: a's AuthenticationMethods publickey comes first and wins: still MFA.
        let r = run_sshd(&format!(
            "{FIDO_GLOBAL}Match User a\n  PasswordAuthentication yes\n  AuthenticationMethods publickey\n\
             Match User b\n  AuthenticationMethods password\n"
        ));
        assert_eq!(r.status, Status::Pass, "{}", r.summary);
        // Blocks swapped, and a also accepts any key: b's `password` now comes first, a turns
        // passwords on. a alone fails for its keys; the pair fails for another reason, reported.
        let r = run_sshd(&format!(
            "{FIDO_GLOBAL}Match User b\n  AuthenticationMethods password\n\
             Match User a\n  PasswordAuthentication yes\n  AuthenticationMethods publickey\n  PubkeyAuthOptions none\n"
        ));
        assert_eq!(
            r.facts["lacking"],
            json!([
                "ssh Match User a: AuthenticationMethods publickey (no second factor)",
                "ssh Match User b + Match User a: AuthenticationMethods password (no second factor)"
            ])
        );
    }

    #[test]
    fn too_many_authentication_blocks_is_an_error() {
        let mut cfg = FIDO_GLOBAL.to_string();
        for i in 0..=MAX_AUTH_MATCH_BLOCKS {
            cfg.push_str(&format!("Match User u{i}\n  PasswordAuthentication no\n"));
        }
        let r = run_sshd(&cfg);
        assert_eq!(r.status, Status::Error);
        assert!(
            r.summary.starts_with(
                "too many Match blocks change authentication to evaluate every combination: 11"
            ),
            "{}",
            r.summary
        );
        // Exactly the limit is evaluated: 2^10 - 1 - 10 combinations of two or more blocks.
        let mut cfg = FIDO_GLOBAL.to_string();
        for i in 0..MAX_AUTH_MATCH_BLOCKS {
            cfg.push_str(&format!("Match User u{i}\n  PasswordAuthentication no\n"));
        }
        let r = run_sshd(&cfg);
        assert_eq!(r.status, Status::Pass, "{}", r.summary);
        assert_eq!(r.facts["ssh_match_combinations"], json!(1013));
    }

    #[test]
    fn config_validation_names_the_key() {
        assert!(MfaConfig::default().validate().is_ok());
        let bad = MfaConfig {
            second_factor_modules: vec!["/lib/security/pam_u2f.so".into()],
            ..MfaConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .starts_with("checks.mfa.second_factor_modules"));
        let empty = MfaConfig {
            second_factor_modules: vec![],
            ..MfaConfig::default()
        };
        assert!(empty.validate().is_err());
    }

    #[test]
    fn bypass_explanations() {
        let step = |module: &str, control: &str, action, outcome| pam::Step {
            module: module.into(),
            file: "/etc/pam.d/sshd".into(),
            line: 2,
            control: control.into(),
            outcome,
            action,
        };
        let s = vec![step(
            "pam_unix",
            "sufficient",
            Some(pam::Action::Done),
            pam::Outcome::Success,
        )];
        assert_eq!(
            pam::explain_success_without(&s, "pam_google_authenticator", &|n| {
                n == "pam_google_authenticator"
            }),
            "sufficient pam_unix succeeds before pam_google_authenticator (/etc/pam.d/sshd:2)"
        );
        let s = vec![step(
            "pam_google_authenticator",
            "optional",
            Some(pam::Action::Ignore),
            pam::Outcome::Failure,
        )];
        assert_eq!(
            pam::explain_success_without(&s, "pam_google_authenticator", &|n| {
                n == "pam_google_authenticator"
            }),
            "optional pam_google_authenticator does not block on failure (/etc/pam.d/sshd:2)"
        );
    }

    fn run_files(files: &[(&str, &str)]) -> CheckResult {
        let probe = MemProbe(
            files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        );
        let config = crate::ChecksConfig::default();
        let state = crate::state::MemoryState::default();
        let ctx = Context {
            probe: &probe,
            config: &config,
            state: &state,
        };
        Mfa.run(&ctx)
    }

    #[test]
    fn sshd_without_any_configuration_file_is_said() {
        let r = run_files(&[
            ("/usr/sbin/sshd", ""),
            ("/etc/pam.d/other", "auth required pam_deny.so\n"),
        ]);
        assert_eq!(r.status, Status::Fail, "{}", r.summary);
        assert!(
            r.summary.contains(
                "/usr/sbin/sshd has no configuration file (/etc/ssh/sshd_config, \
                 /usr/etc/ssh/sshd_config absent): SSH judged on OpenSSH's compiled-in defaults"
            ),
            "{}",
            r.summary
        );
        assert_eq!(r.facts["sshd_config"], json!(null));
    }

    /// sudo's PAM service with `auth_lines` after Debian's pam_unix/deny/permit head.
    fn run_sudo(auth_lines: &str, extra: &[(&str, &str)]) -> CheckResult {
        let stack = format!(
            "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
             auth required pam_permit.so\n{auth_lines}"
        );
        let mut files = vec![("/usr/bin/sudo", ""), ("/etc/pam.d/sudo", stack.as_str())];
        files.extend_from_slice(extra);
        run_files(&files)
    }

    #[test]
    fn fail_open_is_judged_by_the_stack_around_the_module() {
        // pam_oath `required`: an unknown user is a failure like any other.
        let r = run_sudo("auth required pam_oath.so usersfile=/etc/users.oath\n", &[]);
        assert_eq!(r.status, Status::Pass, "{}", r.summary);
        // user_unknown=ignore: a user missing from the file passes on the password.
        let r = run_sudo(
            "auth [success=ok user_unknown=ignore default=die] pam_oath.so usersfile=/etc/users.oath\n",
            &[],
        );
        assert_eq!(r.status, Status::Warn, "{}", r.summary);
        assert!(r
            .summary
            .starts_with("sudo: pam_oath usersfile=/etc/users.oath"));
        // pam_duo without failmode fails open, unless another factor is still required.
        let duo = [("/etc/duo/pam_duo.conf", "[duo]\nikey = x\nskey = secret\n")];
        let r = run_sudo("auth required pam_duo.so\n", &duo);
        assert_eq!(r.status, Status::Warn, "{}", r.summary);
        assert!(r.summary.contains("pam_duo failmode = safe (the default"));
        assert!(
            r.evidence.iter().all(|e| !e.excerpt.contains("secret")),
            "the Duo secret key left the host"
        );
        let r = run_sudo("auth required pam_duo.so\nauth required pam_u2f.so\n", &duo);
        assert_eq!(r.status, Status::Pass, "{}", r.summary);
        // A radius factor with localifdown behind a `required` line: down = ignore = no block.
        let mut config = crate::ChecksConfig::default();
        config
            .mfa
            .second_factor_modules
            .push("pam_radius_auth".into());
        let stack = "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
                     auth required pam_permit.so\nauth required pam_radius_auth.so localifdown\n";
        let probe = MemProbe(BTreeMap::from([
            ("/usr/bin/sudo".to_string(), String::new()),
            ("/etc/pam.d/sudo".to_string(), stack.to_string()),
        ]));
        let state = crate::state::MemoryState::default();
        let ctx = Context {
            probe: &probe,
            config: &config,
            state: &state,
        };
        let r = Mfa.run(&ctx);
        assert_eq!(r.status, Status::Warn, "{}", r.summary);
        assert!(r.summary.contains("pam_radius_auth localifdown"));
    }

    #[test]
    fn pam_services_are_found_in_the_vendor_directories() {
        // /etc/pam.d/sudo absent: libpam reads /usr/lib/pam.d/sudo, and its include from /etc.
        let r = run_files(&[
            ("/usr/bin/sudo", ""),
            ("/usr/lib/pam.d/sudo", "auth include common-auth\n"),
            (
                "/etc/pam.d/common-auth",
                "auth required pam_unix.so\nauth required pam_u2f.so\n",
            ),
            ("/usr/lib/pam.d/common-auth", "auth required pam_unix.so\n"),
        ]);
        assert_eq!(r.status, Status::Pass, "{}", r.summary);
        assert!(r.summary.contains("sudo (pam_u2f)"), "{}", r.summary);
    }

    #[test]
    fn a_fail_open_finding_names_every_way_in_once() {
        let common = "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
                      auth required pam_permit.so\nauth required pam_duo.so\n";
        let r = run_files(&[
            ("/usr/bin/sudo", ""),
            ("/etc/pam.d/common-auth", common),
            ("/etc/pam.d/sudo", "@include common-auth\n"),
            ("/etc/pam.d/sudo-i", "@include common-auth\n"),
            ("/etc/security/pam_duo.conf", "[duo]\nfailmode = safe\n"),
        ]);
        assert_eq!(r.status, Status::Warn, "{}", r.summary);
        assert_eq!(
            r.facts["fail_open"],
            json!([
                "sudo, sudo -i: pam_duo failmode = safe (/etc/security/pam_duo.conf) lets \
                    logins through without the second factor when Duo is unreachable (set \
                    failmode = secure)"
            ])
        );
        assert_eq!(
            r.facts["paths"][1]["fail_open"].as_array().unwrap().len(),
            1
        );
    }
}
