//! password_policy on macOS: the global account policies of `pwpolicy -getaccountpolicies`.
//!
//! The output is one line of prose (`Getting global account policies`) then an XML property list of
//! policy categories, each an array of `{policyContent, policyIdentifier, policyParameters}`. A rule
//! counts only in a form recognised here: minimum length from `minimumLength` or a `.{N,}` pattern
//! (the strictest wins), character classes from `(.*[A-Z].*){N,}`-style patterns (or `.*[A-Z].*`),
//! history from `policyAttributePasswordHistoryDepth`, maximum age from
//! `policyAttributeExpiresEveryNDays`. Any other rule is listed as not understood: it cannot make the
//! host compliant, and when a requirement is unmet while such a rule exists the result is `error`
//! (it might express the requirement), not `fail`.

use serde_json::json;

use super::PasswordPolicyConfig;
use crate::apple_plist;
use crate::{CheckResult, Context, Status};

const PWPOLICY: [&str; 2] = ["/usr/bin/pwpolicy", "-getaccountpolicies"];

/// What the global account policies enforce, as far as recognised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPolicy {
    pub min_length: Option<i64>,
    pub upper: bool,
    pub lower: bool,
    pub digit: bool,
    pub special: bool,
    pub history: Option<i64>,
    pub max_age_days: Option<i64>,
    /// `policyContent` strings this parser does not understand.
    pub unrecognised: Vec<String>,
}

/// Parse `pwpolicy -getaccountpolicies` stdout.
pub fn parse_pwpolicy(text: &str) -> Result<AccountPolicy, String> {
    let start = text
        .find("<?xml")
        .or_else(|| text.find("<plist"))
        .ok_or("no property list in the output")?;
    let v = apple_plist::parse(&text.as_bytes()[start..])?;
    let top = apple_plist::dict(&v, "the top level")?;
    let mut p = AccountPolicy::default();
    for (category, rules) in top {
        let rules = rules
            .as_array()
            .ok_or_else(|| format!("category {category} is not an array"))?;
        for (i, rule) in rules.iter().enumerate() {
            let rule = apple_plist::dict(rule, &format!("{category}[{i}]"))?;
            let content = apple_plist::string(rule, "policyContent")
                .map_err(|e| format!("{category}[{i}]: {e}"))?;
            let params = match rule.get("policyParameters") {
                None => None,
                Some(v) => Some(apple_plist::dict(
                    v,
                    &format!("{category}[{i}].policyParameters"),
                )?),
            };
            let param = |k: &str| -> Result<Option<i64>, String> {
                match params {
                    Some(d) => apple_plist::opt_integer(d, k)
                        .map_err(|e| format!("{category}[{i}].policyParameters: {e}")),
                    None => Ok(None),
                }
            };
            let mut understood = false;
            if let Some(n) = param("minimumLength")?.or_else(|| length_pattern(content)) {
                p.min_length = Some(p.min_length.map_or(n, |m| m.max(n)));
                understood = true;
            }
            for (class, flag) in [
                ("A-Z", &mut p.upper),
                ("a-z", &mut p.lower),
                ("0-9", &mut p.digit),
                ("^a-zA-Z0-9", &mut p.special),
            ] {
                if class_pattern(content, class) {
                    *flag = true;
                    understood = true;
                }
            }
            if content.contains("policyAttributePasswordHistory") {
                if let Some(n) = param("policyAttributePasswordHistoryDepth")? {
                    p.history = Some(p.history.map_or(n, |m| m.max(n)));
                    understood = true;
                }
            }
            if content.contains("policyAttributeExpiresEveryNDays") {
                if let Some(n) = param("policyAttributeExpiresEveryNDays")? {
                    p.max_age_days = Some(p.max_age_days.map_or(n, |m| m.min(n)));
                    understood = true;
                }
            }
            // Lockout rules (policyCategoryAuthentication) are not part of the plan's password rules.
            if !understood
                && matches!(
                    category.as_str(),
                    "policyCategoryPasswordContent" | "policyCategoryPasswordChange"
                )
            {
                p.unrecognised.push(content.to_string());
            }
        }
    }
    Ok(p)
}

/// `policyAttributePassword matches '.{N,}+'` (or `'^.{N,}$'`): the N.
fn length_pattern(content: &str) -> Option<i64> {
    let re = matched_regex(content)?;
    let body = re
        .strip_prefix('^')
        .unwrap_or(re)
        .trim_end_matches('$')
        .trim_end_matches('+');
    let n = body.strip_prefix(".{")?.strip_suffix(",}")?;
    n.parse().ok()
}

/// `(.*[A-Z].*){1,}+`, `.*[A-Z].*` or `^(?=.*[A-Z]).*$`: requires one character of `class`.
fn class_pattern(content: &str, class: &str) -> bool {
    let Some(re) = matched_regex(content) else {
        return false;
    };
    let inner = format!(".*[{class}].*");
    let quantified = re
        .strip_prefix(&format!("({inner}){{"))
        .and_then(|r| r.strip_suffix(",}+").or_else(|| r.strip_suffix(",}")))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n >= 1);
    quantified || re == inner || re == format!("^{inner}$")
}

/// The quoted regex of `policyAttributePassword matches '<regex>'`.
fn matched_regex(content: &str) -> Option<&str> {
    let rest = content
        .trim()
        .strip_prefix("policyAttributePassword matches ")?;
    rest.strip_prefix('\'')?.strip_suffix('\'')
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "password_policy";
    let cfg: &PasswordPolicyConfig = &ctx.config.password_policy;
    let (out, ev) = match ctx.probe.run_evidence(&PWPOLICY) {
        Ok(r) => r,
        Err(e) => return crate::probe_error(id, "run `pwpolicy -getaccountpolicies`", &e),
    };
    let policy = match (out.exit_code, parse_pwpolicy(&out.stdout_text())) {
        (Some(0), Ok(p)) => p,
        (Some(0), Err(e)) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!("could not parse `pwpolicy -getaccountpolicies`: {e}"),
            )
            .with_evidence(vec![ev])
        }
        (code, _) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!(
                    "`pwpolicy -getaccountpolicies` exited with {code:?}: {}",
                    out.stderr_text()
                ),
            )
            .with_evidence(vec![ev])
        }
    };
    let mut gaps = Vec::new();
    let min = policy.min_length.unwrap_or(0);
    if min < i64::from(cfg.min_length) {
        gaps.push(format!(
            "minimum length {} (want {})",
            policy
                .min_length
                .map_or("not set".into(), |n| n.to_string()),
            cfg.min_length
        ));
    }
    for (required, have, what) in [
        (cfg.require_upper, policy.upper, "an upper-case letter"),
        (cfg.require_digit, policy.digit, "a digit"),
        (cfg.require_special, policy.special, "a special character"),
    ] {
        if required && !have {
            gaps.push(format!("{what} is not required"));
        }
    }
    if cfg.remember > 0 && policy.history.unwrap_or(0) < i64::from(cfg.remember) {
        gaps.push(format!(
            "history of {} passwords (want {})",
            policy.history.unwrap_or(0),
            cfg.remember
        ));
    }
    match policy.max_age_days {
        Some(d) if d <= i64::from(cfg.max_age_days) => {}
        other => gaps.push(format!(
            "maximum age {} (want {} days or less)",
            other.map_or("not set".into(), |d| format!("{d} days")),
            cfg.max_age_days
        )),
    }
    let status = if gaps.is_empty() {
        Status::Pass
    } else if policy.unrecognised.is_empty() {
        Status::Fail
    } else {
        Status::Error
    };
    let summary = match status {
        Status::Pass => format!(
            "global account policy meets the plan: at least {min} characters, upper case, digit and special character, history {}, maximum age {} days",
            policy.history.unwrap_or(0),
            policy.max_age_days.unwrap_or(0)
        ),
        Status::Fail => format!("global account policy falls short: {}", gaps.join("; ")),
        _ => format!(
            "cannot tell whether the global account policy meets the plan: {}; rules not understood: {}",
            gaps.join("; "),
            policy.unrecognised.join(" | ")
        ),
    };
    CheckResult::new(id, status, summary)
        .fact("platform", "macos")
        .fact("min_length", json!(policy.min_length))
        .fact("requires_upper", policy.upper)
        .fact("requires_digit", policy.digit)
        .fact("requires_special", policy.special)
        .fact("history", json!(policy.history))
        .fact("max_age_days", json!(policy.max_age_days))
        .fact("unrecognised_rules", json!(policy.unrecognised))
        .with_evidence(vec![ev])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OS default on an unmanaged Mac, verbatim (platforms reference A4).
    const DEFAULT: &str = "Getting global account policies\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\n\t<key>policyCategoryPasswordContent</key>\n\t<array>\n\t\t<dict>\n\t\t\t<key>policyContent</key>\n\t\t\t<string>policyAttributePassword matches '.{4,}+'</string>\n\t\t</dict>\n\t</array>\n</dict>\n</plist>\n";

    #[test]
    fn default_policy_is_four_characters() {
        let p = parse_pwpolicy(DEFAULT).unwrap();
        assert_eq!(p.min_length, Some(4));
        assert!(!p.upper && !p.digit && !p.special);
        assert!(p.unrecognised.is_empty());
    }

    #[test]
    fn patterns_recognised_and_others_not() {
        assert_eq!(
            length_pattern("policyAttributePassword matches '^.{12,}$'"),
            Some(12)
        );
        assert!(class_pattern(
            "policyAttributePassword matches '(.*[A-Z].*){1,}+'",
            "A-Z"
        ));
        assert!(class_pattern(
            "policyAttributePassword matches '.*[0-9].*'",
            "0-9"
        ));
        assert!(!class_pattern(
            "policyAttributePassword matches '(.*[A-Z].*){0,}+'",
            "A-Z"
        ));
        // A lookahead "3 of 4 classes" regex is not understood: it never counts as a class.
        let lookahead = "policyAttributePassword matches '^(?=.*[A-Z])(?=.*[0-9]).{8,}$'";
        assert!(!class_pattern(lookahead, "A-Z"));
        assert_eq!(length_pattern(lookahead), None);
        assert!(parse_pwpolicy("Getting global account policies\n").is_err());
    }
}
