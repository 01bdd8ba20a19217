//! firewall on Windows: is Windows Defender Firewall on, blocking inbound by default, in every
//! profile?
//!
//! One source: `Get-NetFirewallProfile -PolicyStore ActiveStore` (the policy in force, local settings
//! and Group Policy merged) reduced to the judged fields and printed by `ConvertTo-Json`. Windows
//! PowerShell 5.1 serialises the enums as integers (`Enabled`: GpoBoolean 0 False, 1 True,
//! 2 NotConfigured; `DefaultInboundAction`: 0 NotConfigured, 2 Allow, 4 Block); their names are read
//! too. A lone profile serialises as an object, several as an array: both are read. All three
//! profiles (Domain, Private, Public) must be listed; a profile turned off, or whose inbound default
//! is Allow, is `fail` naming it. An inbound default of NotConfigured leaves Windows' built-in
//! default, which blocks, and is said so. Anything else is `error`.

use serde_json::{Map, Value};

use crate::{CheckResult, Evidence, Probe, Status};

use super::ID;

/// The one PowerShell invocation.
pub const GET_NET_FIREWALL_PROFILE: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "Get-NetFirewallProfile -PolicyStore ActiveStore | Select-Object Name,Enabled,DefaultInboundAction,DefaultOutboundAction | ConvertTo-Json -Depth 2",
];

/// The profiles every host has.
pub const PROFILES: [&str; 3] = ["Domain", "Private", "Public"];

/// `DefaultInboundAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    NotConfigured,
    Allow,
    Block,
}

/// One profile as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallProfile {
    pub name: String,
    pub enabled: bool,
    pub inbound: Inbound,
}

fn enum_field<T: Copy>(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
    table: &[(i64, &str, T)],
) -> Result<T, String> {
    let found = match obj.get(key) {
        Some(Value::Number(n)) => n.as_i64().and_then(|c| table.iter().find(|t| t.0 == c)),
        Some(Value::String(s)) => table.iter().find(|t| t.1 == s),
        Some(Value::Bool(b)) => table
            .iter()
            .find(|t| t.1 == if *b { "True" } else { "False" }),
        None => return Err(format!("profile {at}: no {key}")),
        Some(_) => None,
    };
    found.map(|t| t.2).ok_or_else(|| {
        format!(
            "profile {at}: {key} is {}, which Vigie does not recognise",
            obj.get(key).map_or(String::new(), |v| v.to_string())
        )
    })
}

/// JSON that PowerShell printed: one object or an array of objects.
pub(crate) fn json_items(text: &str, what: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.is_empty() {
        return Err(format!("{what} printed nothing"));
    }
    match serde_json::from_str(trimmed).map_err(|e| format!("{what} did not print JSON: {e}"))? {
        Value::Array(a) => Ok(a),
        obj @ Value::Object(_) => Ok(vec![obj]),
        other => Err(format!(
            "{what}: expected an object or an array, got {other}"
        )),
    }
}

/// Parse what [`GET_NET_FIREWALL_PROFILE`] prints; every profile of [`PROFILES`] must be there.
pub fn parse_profiles(text: &str) -> Result<Vec<FirewallProfile>, String> {
    let mut out: Vec<FirewallProfile> = Vec::new();
    for (i, item) in json_items(text, "Get-NetFirewallProfile")?
        .iter()
        .enumerate()
    {
        let obj = item
            .as_object()
            .ok_or_else(|| format!("profile {} is not an object", i + 1))?;
        let name = match obj.get("Name") {
            Some(Value::String(s)) if PROFILES.contains(&s.as_str()) => s.clone(),
            other => {
                return Err(format!(
                    "profile {}: Name is {}, not Domain, Private or Public",
                    i + 1,
                    other.map_or("missing".into(), |v| v.to_string())
                ))
            }
        };
        if out.iter().any(|p| p.name == name) {
            return Err(format!("profile {name} is listed twice"));
        }
        let enabled = enum_field(
            obj,
            "Enabled",
            &name,
            &[(0, "False", Some(false)), (1, "True", Some(true)), (2, "NotConfigured", None)],
        )?
        .ok_or_else(|| {
            format!("profile {name}: Enabled is NotConfigured, which the active policy store should never report")
        })?;
        let inbound = enum_field(
            obj,
            "DefaultInboundAction",
            &name,
            &[
                (0, "NotConfigured", Inbound::NotConfigured),
                (2, "Allow", Inbound::Allow),
                (4, "Block", Inbound::Block),
            ],
        )?;
        out.push(FirewallProfile {
            name,
            enabled,
            inbound,
        });
    }
    let missing: Vec<&str> = PROFILES
        .iter()
        .copied()
        .filter(|p| !out.iter().any(|o| o.name == *p))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Get-NetFirewallProfile did not list the {} profile(s)",
            missing.join(", ")
        ));
    }
    out.sort_by_key(|p| PROFILES.iter().position(|n| *n == p.name));
    Ok(out)
}

pub(super) fn run(probe: &dyn Probe) -> CheckResult {
    let mut evidence: Vec<Evidence> = Vec::new();
    let argv = GET_NET_FIREWALL_PROFILE;
    let out = match probe.run_ok(&argv, "Get-NetFirewallProfile", &mut evidence) {
        Ok(out) => out,
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    };
    let profiles = match parse_profiles(&out) {
        Ok(p) => p,
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    };
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for p in &profiles {
        if !p.enabled {
            problems.push(format!("the {} profile is turned off", p.name));
        } else if p.inbound == Inbound::Allow {
            problems.push(format!("the {} profile allows inbound by default", p.name));
        } else if p.inbound == Inbound::NotConfigured {
            notes.push(p.name.as_str());
        }
    }
    let off: Vec<&str> = profiles
        .iter()
        .filter(|p| !p.enabled)
        .map(|p| p.name.as_str())
        .collect();
    let note = if notes.is_empty() {
        String::new()
    } else {
        format!(
            " (inbound action NotConfigured in {}: Windows' built-in default, block, applies)",
            notes.join(", ")
        )
    };
    let (status, summary) = if problems.is_empty() {
        (
            Status::Pass,
            format!("Windows Defender Firewall is on and blocks inbound by default in the Domain, Private and Public profiles{note}"),
        )
    } else {
        (
            Status::Fail,
            format!("Windows Defender Firewall: {}{note}", problems.join("; ")),
        )
    };
    CheckResult::new(ID, status, summary)
        .fact("platform", "windows")
        .fact("source", "Get-NetFirewallProfile -PolicyStore ActiveStore")
        .fact("profiles_off", off)
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, enabled: &str, inbound: &str) -> String {
        format!(
            r#"{{"Name":"{name}","Enabled":{enabled},"DefaultInboundAction":{inbound},"DefaultOutboundAction":2}}"#
        )
    }

    #[test]
    fn array_of_three_integer_enums_and_names() {
        let text = format!(
            "[{},{},{}]",
            profile("Public", "1", "4"),
            profile("Domain", "1", "0"),
            profile("Private", "0", "\"Block\"")
        );
        let p = parse_profiles(&text).unwrap();
        assert_eq!(
            p.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            PROFILES
        );
        assert_eq!(p[0].inbound, Inbound::NotConfigured);
        assert!(!p[1].enabled);
        assert_eq!(p[1].inbound, Inbound::Block);
    }

    #[test]
    fn a_lone_object_is_read_but_missing_profiles_are_an_error() {
        let e = parse_profiles(&profile("Domain", "1", "4")).unwrap_err();
        assert!(e.contains("Private, Public"), "{e}");
    }

    #[test]
    fn unknown_codes_duplicates_and_not_configured_enabled_are_errors() {
        let bad = format!(
            "[{},{},{}]",
            profile("Domain", "1", "3"),
            profile("Private", "1", "4"),
            profile("Public", "1", "4")
        );
        assert!(parse_profiles(&bad)
            .unwrap_err()
            .contains("DefaultInboundAction is 3"));
        let twice = format!(
            "[{},{},{}]",
            profile("Domain", "1", "4"),
            profile("Domain", "1", "4"),
            profile("Public", "1", "4")
        );
        assert!(parse_profiles(&twice).unwrap_err().contains("twice"));
        let nc = format!(
            "[{},{},{}]",
            profile("Domain", "2", "4"),
            profile("Private", "1", "4"),
            profile("Public", "1", "4")
        );
        assert!(parse_profiles(&nc).unwrap_err().contains("NotConfigured"));
        assert!(parse_profiles("Get-NetFirewallProfile : Access denied").is_err());
        assert!(parse_profiles("").unwrap_err().contains("printed nothing"));
    }
}
