//! firewall on macOS: the application firewall, and pf when it is enabled.
//!
//! `socketfilterfw --getglobalstate` answers `Firewall is enabled. (State = 1)` or `Firewall is
//! disabled. (State = 0)`; State 2 ("block all incoming connections") counts as on. Stealth mode
//! (`--getstealthmode`) is reported as a fact, not judged. `pfctl -s info` tells whether pf is
//! enabled; when it is, `pfctl -s rules` is read and pf denies inbound by default when the last
//! unconditional inbound rule (`block [drop|return] [in] [log] [quick] all`, `pass [in] … all`), or
//! the first `quick` one, is a `block`. The application firewall on, or pf denying, is `pass` with
//! the source named; neither is `fail`. None of these outputs was captured on a Mac (they are
//! *Unverified*): any other text is `error`.

use crate::{CheckResult, Evidence, Probe, Status};

use super::ID;

pub const SOCKETFILTERFW: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw";
pub const PFCTL: &str = "/sbin/pfctl";

/// `socketfilterfw --getglobalstate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalState {
    Off,
    On,
    BlockAll,
}

/// Parse `socketfilterfw --getglobalstate`.
pub fn parse_global_state(text: &str) -> Result<GlobalState, String> {
    let t = text.trim();
    match t {
        "Firewall is disabled. (State = 0)" => Ok(GlobalState::Off),
        "Firewall is enabled. (State = 1)" => Ok(GlobalState::On),
        "Firewall is enabled. (State = 2)"
        | "Firewall is blocking all non-essential incoming connections. (State = 2)" => {
            Ok(GlobalState::BlockAll)
        }
        _ => Err(format!(
            "`{SOCKETFILTERFW} --getglobalstate` printed {t:?}, which Vigie does not recognise"
        )),
    }
}

/// Parse `socketfilterfw --getstealthmode`: `true` when on.
pub fn parse_stealth(text: &str) -> Result<bool, String> {
    let t = text.trim();
    match t {
        "Stealth mode enabled" | "Firewall stealth mode is on" => Ok(true),
        "Stealth mode disabled" | "Firewall stealth mode is off" => Ok(false),
        _ => Err(format!(
            "`{SOCKETFILTERFW} --getstealthmode` printed {t:?}, which Vigie does not recognise"
        )),
    }
}

/// Parse `pfctl -s info`: `true` when pf is enabled.
pub fn parse_pf_info(text: &str) -> Result<bool, String> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.starts_with("Status: Enabled") {
        Ok(true)
    } else if first.starts_with("Status: Disabled") {
        Ok(false)
    } else {
        Err(format!(
            "`{PFCTL} -s info` printed {first:?} first, not a `Status: Enabled|Disabled` line"
        ))
    }
}

/// The rule that decides inbound traffic with no other match, from `pfctl -s rules`: `Some(rule)`
/// when it blocks.
pub fn pf_default_deny(rules: &str) -> Option<String> {
    let mut decision: Option<(bool, String)> = None;
    for line in rules.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let block = match words[0] {
            "block" => true,
            "pass" => false,
            _ => continue,
        };
        let mut rest = &words[1..];
        let mut quick = false;
        if block && matches!(rest.first(), Some(&"drop") | Some(&"return")) {
            rest = &rest[1..];
        }
        // Direction: none (both) or `in`; `out` rules never decide inbound.
        match rest.first() {
            Some(&"out") => continue,
            Some(&"in") => rest = &rest[1..],
            _ => {}
        }
        while let Some(w) = rest.first() {
            match *w {
                "log" => rest = &rest[1..],
                "quick" => {
                    quick = true;
                    rest = &rest[1..]
                }
                _ => break,
            }
        }
        // Unconditional: `all`, then for pass rules only the state options pfctl prints.
        let unconditional = rest.first() == Some(&"all")
            && rest[1..].iter().all(|w| {
                [
                    "flags", "S/SA", "keep", "state", "no", "modulate", "synproxy",
                ]
                .contains(w)
            });
        if !unconditional {
            continue;
        }
        decision = Some((block, line.to_string()));
        if quick {
            break;
        }
    }
    match decision {
        Some((true, rule)) => Some(rule),
        _ => None,
    }
}

fn run_text(
    probe: &dyn Probe,
    argv: &[&str],
    evidence: &mut Vec<Evidence>,
) -> Result<String, String> {
    let (out, ev) = probe
        .run_evidence(argv)
        .map_err(|e| format!("could not run `{}`: {e}", argv.join(" ")))?;
    evidence.push(ev);
    if out.exit_code != Some(0) {
        return Err(format!(
            "`{}` failed (exit {}): {}",
            argv.join(" "),
            out.exit_code.map_or("signal".into(), |c| c.to_string()),
            out.stderr_text()
        ));
    }
    Ok(out.stdout_text())
}

pub(super) fn run(probe: &dyn Probe) -> CheckResult {
    if !probe.is_root() {
        return CheckResult::new(
            ID,
            Status::Error,
            "pf's state and rules can only be read as root (pfctl): run the agent as root",
        );
    }
    let mut evidence = Vec::new();
    let judged = (|| -> Result<(GlobalState, bool, bool, Option<String>), String> {
        let state = parse_global_state(&run_text(
            probe,
            &[SOCKETFILTERFW, "--getglobalstate"],
            &mut evidence,
        )?)?;
        let stealth = parse_stealth(&run_text(
            probe,
            &[SOCKETFILTERFW, "--getstealthmode"],
            &mut evidence,
        )?)?;
        let pf_on = parse_pf_info(&run_text(probe, &[PFCTL, "-s", "info"], &mut evidence)?)?;
        let pf_deny = if pf_on {
            pf_default_deny(&run_text(probe, &[PFCTL, "-s", "rules"], &mut evidence)?)
        } else {
            None
        };
        Ok((state, stealth, pf_on, pf_deny))
    })();
    let (state, stealth, pf_on, pf_deny) = match judged {
        Ok(j) => j,
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    };
    let stealth_text = if stealth {
        "stealth mode on"
    } else {
        "stealth mode off"
    };
    let pf_text = match (pf_on, &pf_deny) {
        (false, _) => "pf disabled".to_string(),
        (true, Some(rule)) => format!("pf enabled, inbound denied by `{rule}`"),
        (true, None) => "pf enabled without an inbound default-deny rule".to_string(),
    };
    let mut sources = Vec::new();
    let (status, summary) = match state {
        GlobalState::On | GlobalState::BlockAll => {
            sources.push("application_firewall");
            if pf_deny.is_some() {
                sources.push("pf");
            }
            let how = if state == GlobalState::BlockAll {
                "on, blocking all incoming connections"
            } else {
                "on"
            };
            (
                Status::Pass,
                format!("the macOS application firewall is {how} ({stealth_text}; {pf_text})"),
            )
        }
        GlobalState::Off if pf_deny.is_some() => {
            sources.push("pf");
            (
                Status::Pass,
                format!("the macOS application firewall is off but {pf_text} ({stealth_text})"),
            )
        }
        GlobalState::Off => (
            Status::Fail,
            format!("the macOS application firewall is off and {pf_text}: nothing denies inbound connections ({stealth_text})"),
        ),
    };
    CheckResult::new(ID, status, summary)
        .fact("platform", "macos")
        .fact("sources", sources)
        .fact("stealth_mode", stealth)
        .fact("pf_enabled", pf_on)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_state_and_stealth_strings() {
        assert_eq!(
            parse_global_state("Firewall is enabled. (State = 1)\n").unwrap(),
            GlobalState::On
        );
        assert_eq!(
            parse_global_state("Firewall is disabled. (State = 0)").unwrap(),
            GlobalState::Off
        );
        assert!(parse_global_state("Firewall is enabled. (State = 3)").is_err());
        assert!(parse_stealth("Firewall stealth mode is on").unwrap());
        assert!(!parse_stealth("Stealth mode disabled").unwrap());
        assert!(parse_stealth("stealth: maybe").is_err());
    }

    #[test]
    fn pf_info_needs_a_status_line() {
        assert!(
            parse_pf_info("Status: Enabled for 0 days 00:12:34           Debug: Urgent\n").unwrap()
        );
        assert!(
            !parse_pf_info("\nStatus: Disabled                              Debug: Urgent")
                .unwrap()
        );
        assert!(parse_pf_info("pfctl: /dev/pf: Permission denied").is_err());
    }

    #[test]
    fn pf_last_unconditional_inbound_rule_decides_unless_quick() {
        assert_eq!(
            pf_default_deny("scrub-anchor \"com.apple/*\" all fragment reassemble\nblock drop in all\npass out all flags S/SA keep state\npass in proto tcp from any to any port = 22 flags S/SA keep state\n"),
            Some("block drop in all".into())
        );
        assert_eq!(
            pf_default_deny("block drop in all\npass in all flags S/SA keep state\n"),
            None
        );
        assert_eq!(
            pf_default_deny("block drop in quick all\npass in all flags S/SA keep state\n"),
            Some("block drop in quick all".into())
        );
        assert_eq!(pf_default_deny("anchor \"com.apple/*\" all\n"), None);
        assert_eq!(pf_default_deny("block drop out all\n"), None);
    }
}
