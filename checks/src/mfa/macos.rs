//! mfa on macOS: Remote Login (sshd) and sudo, with the same interpreters as on Linux.
//!
//! macOS keeps sshd and PAM at the Linux paths (`/etc/ssh/sshd_config` with `Include
//! /etc/ssh/sshd_config.d/*`, `/etc/pam.d/sshd`, `/etc/pam.d/sudo`, `/etc/sudoers`), so the sshd and
//! sudo ways in are judged by the Linux code. Two differences:
//! - **Remote Login** (`systemsetup -getremotelogin`) decides whether SSH is a way in at all: when it
//!   is off the ssh path is not applicable and sudo is judged alone. Output other than
//!   `Remote Login: On` / `Remote Login: Off` is `error`.
//! - **OpenPAM includes**: Apple's `/etc/pam.d/sudo` (macOS 14+) starts with `auth include sudo_local`
//!   while only `sudo_local.template` ships, and sudo works on a stock Mac, so a missing included
//!   file adds no rule (Linux-PAM would fail the stack instead). Such files are listed in the facts.
//!   `pam_tid` (Touch ID) is not a second factor: `sufficient pam_tid.so` replaces the password.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{name_ways_in, pam, PamType, Scan, ScanError};
use crate::scan::{parse_err, read_file};
use crate::{CheckResult, Context, Status};

const SYSTEMSETUP: [&str; 2] = ["/usr/sbin/systemsetup", "-getremotelogin"];

/// Parse `systemsetup -getremotelogin`: `Some(true)` for On, `Some(false)` for Off, `None` otherwise.
pub fn parse_remote_login(text: &str) -> Option<bool> {
    match text.trim() {
        "Remote Login: On" => Some(true),
        "Remote Login: Off" => Some(false),
        _ => None,
    }
}

pub(super) fn run(ctx: &Context) -> CheckResult {
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
    match judge(&mut scan) {
        Ok(r) => r.with_evidence(scan.evidence),
        Err(e) => {
            CheckResult::new("mfa", Status::Error, e.to_string()).with_evidence(scan.evidence)
        }
    }
}

fn judge(scan: &mut Scan) -> Result<CheckResult, ScanError> {
    let (out, ev) = scan
        .ctx
        .probe
        .run_evidence(&SYSTEMSETUP)
        .map_err(ScanError::Probe)?;
    scan.evidence.push(ev);
    let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
    let remote_login = parse_remote_login(&out.stdout_text()).ok_or_else(|| {
        ScanError::Config(format!(
            "Remote Login state unknown: `systemsetup -getremotelogin` printed {:?} (exit {:?})",
            text.trim(),
            out.exit_code
        ))
    })?;
    let mut missing_includes = Vec::new();
    let mut services = vec!["sudo"];
    if remote_login {
        services.push("sshd");
    }
    for svc in services {
        openpam_verdict(scan, svc, &mut missing_includes)?;
    }
    let mut paths = Vec::new();
    let mut not_applicable = Vec::new();
    if remote_login {
        match scan.ssh_paths()? {
            Some(p) => paths.extend(p),
            None => {
                return Err(ScanError::Config(
                    "Remote Login is on but neither /etc/ssh/sshd_config nor /usr/sbin/sshd exists"
                        .into(),
                ))
            }
        }
    } else {
        not_applicable.push("ssh (Remote Login off)");
    }
    match scan.sudo_paths()? {
        Some(p) => paths.extend(p),
        None => not_applicable.push("sudo (not installed)"),
    }
    let lacking: Vec<String> = paths.iter().flat_map(|p| p.reasons.clone()).collect();
    let fail_open = name_ways_in(&paths);
    let paths_json: Vec<_> = paths
        .iter()
        .map(|p| json!({"path": p.name, "mfa": p.reasons.is_empty(), "detail": p.detail, "reasons": p.reasons, "fail_open": p.fail_open}))
        .collect();
    let factors: serde_json::Map<String, serde_json::Value> = scan
        .verdicts
        .iter()
        .map(|(svc, v)| (svc.clone(), json!(v.factors)))
        .collect();
    let not_applicable_note = not_applicable
        .iter()
        .map(|n| format!("; {n}: not applicable"))
        .collect::<String>();
    // The same verdicts as on Linux: a lacking way in fails, a fail-open factor warns.
    let (status, summary) = if paths.is_empty() {
        (
            Status::NotApplicable,
            format!("no interactive way in: {}", not_applicable.join(", ")),
        )
    } else if !lacking.is_empty() {
        let mut s = lacking.join("; ");
        if !fail_open.is_empty() {
            s.push_str(&format!("; fail-open: {}", fail_open.join("; ")));
        }
        (Status::Fail, s + &not_applicable_note)
    } else {
        let ok: Vec<String> = paths
            .iter()
            .map(|p| format!("{} ({})", p.name, p.detail))
            .collect();
        let s = if fail_open.is_empty() {
            format!("second factor required on every way in: {}", ok.join(", "))
        } else {
            format!(
                "{}; otherwise a second factor is required on every way in: {}",
                fail_open.join("; "),
                ok.join(", ")
            )
        };
        let status = if fail_open.is_empty() {
            Status::Pass
        } else {
            Status::Warn
        };
        (status, s + &not_applicable_note)
    };
    let summary = std::iter::once(summary)
        .chain(scan.notes.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ");
    Ok(CheckResult::new("mfa", status, summary)
        .fact("platform", "macos")
        .fact("remote_login", remote_login)
        .fact("paths", paths_json)
        .fact("lacking", lacking.clone())
        .fact("lacking_count", lacking.len())
        .fact("fail_open", fail_open)
        .fact("sshd_config", scan.sshd_config)
        .fact("not_applicable", not_applicable)
        .fact("pam_second_factors", factors)
        .fact("pam_missing_includes", missing_includes)
        .fact("ssh_match_combinations", scan.ssh_combinations))
}

/// Judge a PAM service's auth stack the OpenPAM way (a missing included file adds nothing) and cache
/// it where the shared sshd and sudo judges look it up.
fn openpam_verdict(
    scan: &mut Scan,
    service: &str,
    missing: &mut Vec<String>,
) -> Result<(), ScanError> {
    let entry = pam::pam_path(service);
    let ctx = scan.ctx;
    let (evidence, seen) = (&mut scan.evidence, &mut scan.read_paths);
    let mut load = |path: &str| -> Result<Vec<pam::PamLine>, ScanError> {
        match read_file(ctx, evidence, seen, path) {
            Ok(text) => pam::parse_pam_file(&text).map_err(|e| parse_err(path, e)),
            Err(ScanError::Probe(e)) if e.is_not_found() && path != entry => {
                if !missing.iter().any(|m| m == path) {
                    missing.push(path.to_string());
                }
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    };
    let stack = pam::resolve_stack(&entry, PamType::Auth, &mut load)?;
    let mut verdict = scan.judge_stack(&entry, &stack);
    if verdict.issues.is_empty() && !verdict.factors.is_empty() {
        verdict.fail_open = scan.fail_open(&stack)?;
    }
    scan.verdicts.insert(service.to_string(), verdict);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_login_strict() {
        assert_eq!(parse_remote_login("Remote Login: On\n"), Some(true));
        assert_eq!(parse_remote_login("Remote Login: Off\n"), Some(false));
        assert_eq!(
            parse_remote_login("You need administrator access to run this tool... exiting!\n"),
            None
        );
        assert_eq!(parse_remote_login(""), None);
    }
}
