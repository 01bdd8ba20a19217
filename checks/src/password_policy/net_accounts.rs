//! password_policy on Windows: the local account policy as `net accounts` prints it.
//!
//! `net accounts` labels are localized, so lines are read **by position** (the order is fixed:
//! forced logoff, minimum age, maximum age, minimum length, history, lockout threshold, lockout
//! duration, lockout window, computer role) and each value is the text after the line's last `:`.
//! Numbers are locale-independent; the non-numeric words are accepted only in their English form
//! (`Never`, `Unlimited`, `None`), so a localized word is `error`, never a guess.
//!
//! `net accounts` does not show complexity: when the plan requires character classes and everything
//! else meets it, the result is `warn` saying so, never `pass`. A domain controller's role (`PRIMARY`,
//! `BACKUP`) is reported; on domain members the domain policy (`net accounts /domain`) is what
//! applies to domain accounts and is not read here.

use serde_json::json;

use super::PasswordPolicyConfig;
use crate::{CheckResult, Context, Status};

/// `net accounts` (no arguments: the local policy), by absolute path as every probed command.
pub const NET_ACCOUNTS: [&str; 2] = [r"C:\Windows\System32\net.exe", "accounts"];

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

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "password_policy";
    let cfg: &PasswordPolicyConfig = &ctx.config.password_policy;
    let (out, ev) = match ctx.probe.run_evidence(&NET_ACCOUNTS) {
        Ok(r) => r,
        Err(e) => return crate::probe_error(id, "run `net accounts`", &e),
    };
    let policy = match (out.exit_code, parse_net_accounts(&out.stdout_text())) {
        (Some(0), Ok(p)) => p,
        (Some(0), Err(e)) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!("could not parse `net accounts`: {e}"),
            )
            .fact("platform", "windows")
            .with_evidence(vec![ev])
        }
        (code, _) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!(
                    "`net accounts` exited with {code:?}: {}",
                    out.stderr_text().trim()
                ),
            )
            .fact("platform", "windows")
            .with_evidence(vec![ev])
        }
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
    let classes_required = cfg.require_upper || cfg.require_digit || cfg.require_special;
    let (status, summary) = if !gaps.is_empty() {
        (
            Status::Fail,
            format!("local account policy falls short: {}", gaps.join("; ")),
        )
    } else if classes_required {
        (
            Status::Warn,
            format!(
                "local account policy meets the plan on length ({}), history ({}) and maximum age, but `net accounts` does not show whether complexity (character classes) is enforced",
                policy.min_length, policy.history
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "local account policy meets the plan: at least {} characters, history {}, maximum age {} days",
                policy.min_length,
                policy.history,
                policy.max_age_days.unwrap_or(0)
            ),
        )
    };
    let summary = if matches!(policy.role.as_str(), "PRIMARY" | "BACKUP") {
        format!("{summary} (domain controller: this is the domain's policy)")
    } else {
        summary
    };
    CheckResult::new(id, status, summary)
        .fact("platform", "windows")
        .fact("source", "net accounts")
        .fact("min_length", policy.min_length)
        .fact("history", policy.history)
        .fact("max_age_days", json!(policy.max_age_days))
        .fact("min_age_days", policy.min_age_days)
        .fact("lockout_threshold", json!(policy.lockout_threshold))
        .fact("computer_role", policy.role.clone())
        .fact("complexity_known", false)
        .with_evidence(vec![ev])
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
}
