//! password_policy on Windows: the local account policy as `net accounts` prints it.
//!
//! `net accounts` labels are localized, so lines are read **by position** (the order is fixed:
//! forced logoff, minimum age, maximum age, minimum length, history, lockout threshold, lockout
//! duration, lockout window, computer role) and each value is the text after the line's last `:`.
//! Numbers are locale-independent; the non-numeric words are accepted only in their English form
//! (`Never`, `Unlimited`, `None`), so a localized word is `error`, never a guess.
//!
//! `net accounts` does not show complexity: it comes from `secedit /export` ([`super::secedit`]).
//! Windows' complexity rule (three of four character categories) cannot promise any one class, so a
//! plan that requires upper-case, digits or special characters falls short even with it on (as
//! pam_pwquality's `minclass=3` does on Linux); when secedit cannot run (not elevated), complexity is
//! unknown and the result is at best `warn`, never `pass`.
//!
//! Domain membership comes from `Win32_ComputerSystem` (the inventory's invocation). On a domain
//! member (role `WORKSTATION`/`SERVER`) the domain's policy is what applies to domain accounts: it is
//! read at a domain controller with `net accounts /domain`, judged, and said; an unreachable domain
//! controller is `error`, never a fallback to the local policy. The domain's complexity setting and
//! fine-grained password policies (PSOs) are not visible from a member. On a domain controller
//! (`PRIMARY`, `BACKUP`) the local policy is the domain's.

use serde_json::json;

use super::secedit::{self, SystemAccess, SECEDIT_EXPORT};
use super::PasswordPolicyConfig;
use crate::{CheckResult, Context, Evidence, Status};

/// `net accounts` (no arguments: the local policy), by absolute path as every probed command.
pub const NET_ACCOUNTS: [&str; 2] = [r"C:\Windows\System32\net.exe", "accounts"];
/// The domain's policy, asked of a domain controller.
pub const NET_ACCOUNTS_DOMAIN: [&str; 3] = [r"C:\Windows\System32\net.exe", "accounts", "/domain"];

/// The local policy `net accounts` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetAccounts {
    pub min_age_days: i64,
    /// `None`: `Unlimited`.
    pub max_age_days: Option<i64>,
    pub min_length: i64,
    pub history: i64,
    /// `None`: `Never` (no lockout).
    pub lockout_threshold: Option<i64>,
    /// `WORKSTATION`, `SERVER`, `PRIMARY`, `BACKUP`.
    pub role: String,
}

fn value(line: &str) -> Result<&str, String> {
    line.rsplit_once(':')
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("no value in line {line:?}"))
}

fn number(line: &str, words: &[&str]) -> Result<Option<i64>, String> {
    let v = value(line)?;
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Some(n));
    }
    if words.contains(&v) {
        return Ok(None);
    }
    Err(format!(
        "value {v:?} in line {line:?} is neither a number nor {words:?}"
    ))
}

/// Parse `net accounts` stdout by line position.
pub fn parse_net_accounts(text: &str) -> Result<NetAccounts, String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.len() < 9 {
        return Err(format!(
            "{} line(s), expected at least 9 policy lines",
            lines.len()
        ));
    }
    let need = |line: &str, words: &[&str], what: &str| -> Result<i64, String> {
        number(line, words)?.ok_or_else(|| format!("{what}: {:?} is not a number", value(line)))
    };
    let min_age_days = need(lines[1], &[], "minimum password age")?;
    let max_age_days = number(lines[2], &["Unlimited"])?;
    let min_length = need(lines[3], &[], "minimum password length")?;
    let history = number(lines[4], &["None"])?.unwrap_or(0);
    let lockout_threshold = number(lines[5], &["Never"])?;
    let role = value(lines[8])?.to_string();
    if !["WORKSTATION", "SERVER", "PRIMARY", "BACKUP"].contains(&role.as_str()) {
        return Err(format!("unknown computer role {role:?} (line 9)"));
    }
    // The first line's value is a word or a number of minutes; only its presence is checked.
    value(lines[0])?;
    for (i, l) in [(7usize, lines[6]), (8, lines[7])] {
        number(l, &["Never", "None", "Unlimited"]).map_err(|e| format!("line {i}: {e}"))?;
    }
    Ok(NetAccounts {
        min_age_days,
        max_age_days,
        min_length,
        history,
        lockout_threshold,
        role,
    })
}

/// Parse `net accounts /domain`: one line saying which domain controller answers (localized, not
/// read), then the same lines as [`parse_net_accounts`]. *Unverified* (no capture): exactly that one
/// extra line is accepted.
pub fn parse_net_accounts_domain(text: &str) -> Result<NetAccounts, String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != 11 {
        return Err(format!(
            "{} line(s), expected 11 (the domain controller line, 9 policy lines, the completion line)",
            lines.len()
        ));
    }
    parse_net_accounts(&lines[1..].join("\n"))
}

/// What is known of the complexity rule that applies.
enum Complexity {
    Known(bool),
    Unknown(String),
}

fn error(summary: String, evidence: Vec<Evidence>) -> CheckResult {
    CheckResult::new("password_policy", Status::Error, summary)
        .fact("platform", "windows")
        .with_evidence(evidence)
}

/// Run a `net accounts` form and parse it; the error is the check's summary.
fn net_accounts(
    ctx: &Context,
    argv: &[&str],
    parse: fn(&str) -> Result<NetAccounts, String>,
    evidence: &mut Vec<Evidence>,
) -> Result<NetAccounts, String> {
    let shown = argv[1..].join(" ");
    let (out, ev) = ctx
        .probe
        .run_evidence(argv)
        .map_err(|e| format!("could not run `net {shown}`: {e}"))?;
    evidence.push(ev);
    match (out.exit_code, parse(&out.stdout_text())) {
        (Some(0), Ok(p)) => Ok(p),
        (Some(0), Err(e)) => Err(format!("could not parse `net {shown}`: {e}")),
        (code, _) => Err(format!(
            "`net {shown}` exited with {code:?}: {}",
            format!("{} {}", out.stdout_text().trim(), out.stderr_text().trim()).trim()
        )),
    }
}

/// `secedit /export`'s `[System Access]`: `Ok(None)` with the reason when secedit refused (not
/// elevated), `Err` when it printed something that is not an export.
fn secedit_export(
    ctx: &Context,
    evidence: &mut Vec<Evidence>,
) -> Result<Result<SystemAccess, String>, String> {
    let out = ctx
        .probe
        .run(&SECEDIT_EXPORT)
        .map_err(|e| format!("could not run PowerShell (secedit /export): {e}"))?;
    let text = out.stdout_text();
    // Only the password section leaves the host.
    evidence.push(Evidence::command(
        &SECEDIT_EXPORT,
        out.exit_code,
        secedit::system_access_section(&text).as_bytes(),
    ));
    if out.exit_code != Some(0) {
        return Ok(Err(format!(
            "`secedit /export` exited with {:?} (it needs administrator rights)",
            out.exit_code
        )));
    }
    secedit::parse_secedit(&text)
        .map(Ok)
        .map_err(|e| format!("could not parse the `secedit /export` output: {e}"))
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "password_policy";
    let cfg: &PasswordPolicyConfig = &ctx.config.password_policy;
    let mut evidence = Vec::new();
    let local = match net_accounts(ctx, &NET_ACCOUNTS, parse_net_accounts, &mut evidence) {
        Ok(p) => p,
        Err(e) => return error(e, evidence),
    };
    let domain = match crate::inventory::windows::domain_membership(ctx.probe) {
        Ok((d, ev)) => {
            evidence.push(ev);
            d
        }
        Err(e) => {
            return error(
                format!("could not tell whether the host is in a domain: {e}"),
                evidence,
            )
        }
    };
    let exported = match secedit_export(ctx, &mut evidence) {
        Ok(r) => r,
        Err(e) => return error(e, evidence),
    };
    if let Ok(sa) = &exported {
        // Both read the same account policy; a disagreement means one of them was misread.
        if sa.min_length != local.min_length || sa.history != local.history {
            return error(
                format!(
                    "`net accounts` and `secedit /export` disagree (minimum length {} vs {}, \
                    history {} vs {})",
                    local.min_length, sa.min_length, local.history, sa.history
                ),
                evidence,
            );
        }
    }
    let dc = matches!(local.role.as_str(), "PRIMARY" | "BACKUP");
    let member_of = domain.as_deref().filter(|_| !dc);
    let (policy, scope, source, complexity) = match member_of {
        Some(d) => {
            let p = match net_accounts(
                ctx,
                &NET_ACCOUNTS_DOMAIN,
                parse_net_accounts_domain,
                &mut evidence,
            ) {
                Ok(p) => p,
                Err(e) => {
                    return error(
                        format!(
                            "member of domain {d}: the domain's policy applies to domain accounts \
                            but could not be read at a domain controller: {e}"
                        ),
                        evidence,
                    )
                }
            };
            (
                p,
                format!("domain {d} policy"),
                "net accounts /domain",
                Complexity::Unknown(format!(
                    "the domain's complexity setting cannot be read from a member (secedit shows \
                    the local policy{})",
                    match &exported {
                        Ok(sa) => format!(": PasswordComplexity {}", u8::from(sa.complexity)),
                        Err(_) => String::new(),
                    }
                )),
            )
        }
        None => (
            local.clone(),
            "local account policy".to_string(),
            "net accounts",
            match &exported {
                Ok(sa) => Complexity::Known(sa.complexity),
                Err(why) => Complexity::Unknown(why.clone()),
            },
        ),
    };
    let mut gaps = Vec::new();
    if policy.min_length < i64::from(cfg.min_length) {
        gaps.push(format!(
            "minimum length {} (want {})",
            policy.min_length, cfg.min_length
        ));
    }
    if cfg.remember > 0 && policy.history < i64::from(cfg.remember) {
        gaps.push(format!(
            "history of {} passwords (want {})",
            policy.history, cfg.remember
        ));
    }
    match policy.max_age_days {
        Some(d) if d <= i64::from(cfg.max_age_days) => {}
        other => gaps.push(format!(
            "maximum age {} (want {} days or less)",
            other.map_or("unlimited".into(), |d| format!("{d} days")),
            cfg.max_age_days
        )),
    }
    let classes: Vec<&str> = [
        (cfg.require_upper, "upper-case"),
        (cfg.require_digit, "digit"),
        (cfg.require_special, "special"),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| n)
    .collect();
    let mut unknown = None;
    if !classes.is_empty() {
        match &complexity {
            Complexity::Known(false) => gaps.push(format!(
                "password complexity off (PasswordComplexity 0; want {} characters)",
                classes.join(", ")
            )),
            Complexity::Known(true) => gaps.push(format!(
                "PasswordComplexity 1 asks for three of four character categories, which does not \
                require {} characters",
                classes.join(", ")
            )),
            Complexity::Unknown(why) => unknown = Some(why.clone()),
        }
    }
    let (status, summary) = if !gaps.is_empty() {
        (
            Status::Fail,
            format!("{scope} falls short: {}", gaps.join("; ")),
        )
    } else if let Some(why) = &unknown {
        (
            Status::Warn,
            format!(
                "{scope} meets the plan on length ({}), history ({}) and maximum age, but \
                whether complexity (character classes) is enforced is unknown: {why}",
                policy.min_length, policy.history
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "{scope} meets the plan: at least {} characters, history {}, maximum age {} days",
                policy.min_length,
                policy.history,
                policy.max_age_days.unwrap_or(0)
            ),
        )
    };
    let summary = if dc {
        format!("{summary} (domain controller: this is the domain's policy)")
    } else if let Some(d) = member_of {
        format!(
            "{summary} (member of domain {d}: the domain's policy applies to domain accounts, read \
            with `net accounts /domain`; fine-grained password policies are not visible here)"
        )
    } else {
        summary
    };
    let complexity_fact = match &complexity {
        Complexity::Known(c) => json!(c),
        Complexity::Unknown(_) => json!(null),
    };
    CheckResult::new(id, status, summary)
        .fact("platform", "windows")
        .fact("source", source)
        .fact("domain", json!(domain))
        .fact("min_length", policy.min_length)
        .fact("history", policy.history)
        .fact("max_age_days", json!(policy.max_age_days))
        .fact("min_age_days", policy.min_age_days)
        .fact("lockout_threshold", json!(policy.lockout_threshold))
        .fact("computer_role", local.role.clone())
        .fact("complexity", complexity_fact)
        .fact(
            "complexity_known",
            matches!(complexity, Complexity::Known(_)),
        )
        .fact(
            "local_complexity",
            json!(exported.as_ref().ok().map(|sa| sa.complexity)),
        )
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's English capture (platforms-reference §B4).
    const CAPTURE: &str = "Force user logoff how long after time expires?:       Never
Minimum password age (days):                          1
Maximum password age (days):                          Unlimited
Minimum password length:                              8
Length of password history maintained:                24
Lockout threshold:                                    5
Lockout duration (minutes):                           30
Lockout observation window (minutes):                 30
Computer role:                                        SERVER
The command completed successfully.
";

    #[test]
    fn reads_the_capture_by_position() {
        let p = parse_net_accounts(CAPTURE).unwrap();
        assert_eq!(p.min_age_days, 1);
        assert_eq!(p.max_age_days, None);
        assert_eq!(p.min_length, 8);
        assert_eq!(p.history, 24);
        assert_eq!(p.lockout_threshold, Some(5));
        assert_eq!(p.role, "SERVER");
    }

    #[test]
    fn localized_words_and_short_output_are_errors() {
        assert!(parse_net_accounts(&CAPTURE.replace("Unlimited", "Unbegrenzt")).is_err());
        assert!(parse_net_accounts(&CAPTURE.replace("SERVER", "SERVEUR")).is_err());
        assert!(parse_net_accounts("System error 5 has occurred.\n").is_err());
        // Labels are not read: a translated label with the same values parses alike.
        let de = CAPTURE.replace("Minimum password length:", "Minimale Kennwortlänge:");
        assert_eq!(parse_net_accounts(&de).unwrap().min_length, 8);
    }

    #[test]
    fn the_domain_form_has_one_line_more() {
        let domain = format!(
            "The request will be processed at a domain controller for domain corp.example.com.\n\n{CAPTURE}"
        );
        assert_eq!(parse_net_accounts_domain(&domain).unwrap().min_length, 8);
        assert!(parse_net_accounts_domain(CAPTURE).is_err());
        assert!(parse_net_accounts_domain("System error 1355 has occurred.\n").is_err());
    }
}
