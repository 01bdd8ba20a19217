//! mfa on Windows: the remote interactive ways in — Remote Desktop and OpenSSH Server — and whether
//! a second factor is enforced on them.
//!
//! One PowerShell invocation ([`WINDOWS_LOGON`]) prints, as JSON, the registry values that decide
//! RDP (`fDenyTSConnections`, the RDP-Tcp listener's `UserAuthentication` = Network Level
//! Authentication, each overridden by its Group Policy copy under
//! `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services` when set), the smart-card-required
//! logon policy (`scforceoption`), the Windows Hello for Business policy (`PassportForWork\Enabled`),
//! the registered credential providers, Duo's fail mode, and the `sshd` service. The OpenSSH Server's
//! `C:\ProgramData\ssh\sshd_config` is judged by the same sshd interpreter as on Linux, without PAM
//! (Windows' sshd has none), so only FIDO keys with `verify-required` count as a second factor there.
//!
//! What is decided locally and what is not:
//! - RDP with the smart-card-required policy: a second factor (card and PIN) on every interactive
//!   logon, RDP included → enforced.
//! - RDP with a known second-factor credential provider registered (Duo): the provider is in the
//!   logon path, but who must use it (Duo's bypass and enrolment policy) lives in Duo's cloud, so
//!   this is `warn`, never `pass`; a provider configured to fail open says so.
//! - Windows Hello for Business is a credential, not an enforcement: passwords still work. It is
//!   reported as a fact and never counted.
//! - A factor enforced in front of the host (an RD Gateway with an MFA extension, a VPN) cannot be
//!   seen from the host; RDP without a local factor fails, as SSH does on Linux.
//!
//! Every value the parser does not recognise is `error`. Registry value names and the Duo provider's
//! CLSID are general knowledge (*Unverified* by a capture; `docs/platforms.md`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::sshd::{self, SshdConfig, SshdLine};
use super::{PathReport, Scan, ScanError};
use crate::scan::{parse_err, read_file};
use crate::{CheckResult, Context, Status};

/// Where Windows' OpenSSH Server reads its configuration (`%ProgramData%\ssh\sshd_config`).
pub const SSHD_CONFIG: &str = r"C:\ProgramData\ssh\sshd_config";

/// The one invocation: registry values, credential providers and the sshd service, as JSON.
pub const WINDOWS_LOGON: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "function V($k, $n) { $p = Get-ItemProperty -LiteralPath $k -ErrorAction SilentlyContinue; \
if ($p) { $p.$n } else { $null } }; \
$ts = 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server'; \
$rdp = $ts + '\\WinStations\\RDP-Tcp'; \
$pol = 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\Terminal Services'; \
$cp = @(Get-ChildItem -LiteralPath 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Authentication\\Credential Providers' \
| ForEach-Object { [pscustomobject]@{ Clsid = $_.PSChildName; Name = $_.GetValue('') } }); \
$s = Get-Service -Name sshd -ErrorAction SilentlyContinue; \
$sshd = if ($s) { [pscustomobject]@{ Status = [string]$s.Status; StartType = [string]$s.StartType } } else { $null }; \
ConvertTo-Json -Depth 3 -InputObject ([pscustomobject]@{ \
fDenyTSConnections = (V $ts 'fDenyTSConnections'); \
PolicyDenyTSConnections = (V $pol 'fDenyTSConnections'); \
UserAuthentication = (V $rdp 'UserAuthentication'); \
PolicyUserAuthentication = (V $pol 'UserAuthentication'); \
PortNumber = (V $rdp 'PortNumber'); \
ScForceOption = (V 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System' 'scforceoption'); \
WhfbPolicy = (V 'HKLM:\\SOFTWARE\\Policies\\Microsoft\\PassportForWork' 'Enabled'); \
DuoFailOpen = (V 'HKLM:\\SOFTWARE\\Duo Security\\DuoCredProv' 'FailOpen'); \
CredentialProviders = $cp; Sshd = $sshd })",
];

/// Credential providers that put a second factor into the Windows logon (CLSID, name).
pub const SECOND_FACTOR_PROVIDERS: &[(&str, &str)] = &[(
    "{44E2ED41-48C7-4712-A3C3-250C5E6D5D84}",
    "Duo Authentication for Windows Logon",
)];

/// The OpenSSH Server service as `Get-Service` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdService {
    /// `Running`, `Stopped`, …
    pub status: String,
    /// `Automatic`, `Manual`, `Disabled` (or `Boot`/`System`).
    pub start_type: String,
}

/// What [`WINDOWS_LOGON`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsLogon {
    /// Remote Desktop accepts connections (effective `fDenyTSConnections` is 0).
    pub rdp_enabled: bool,
    /// Whether the policy copy decided `rdp_enabled`.
    pub rdp_by_policy: bool,
    /// Network Level Authentication required (effective `UserAuthentication` is 1).
    pub nla: bool,
    /// Whether the policy copy decided `nla`.
    pub nla_by_policy: bool,
    /// The RDP listener's TCP port, when the value exists.
    pub rdp_port: Option<i64>,
    /// "Interactive logon: Require Windows Hello for Business or smart card" (`scforceoption` 1).
    pub smart_card_required: bool,
    /// The Windows Hello for Business policy (`None` when not configured).
    pub whfb_policy: Option<bool>,
    /// Registered credential providers (CLSID, name).
    pub credential_providers: Vec<(String, String)>,
    /// Duo's `FailOpen` (`None` when Duo's key or value is absent).
    pub duo_fail_open: Option<bool>,
    /// `None` when the sshd service is not installed.
    pub sshd: Option<SshdService>,
}

/// A registry DWORD that must be 0 or 1 when present.
fn flag(o: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => Err(format!("{key} is {v}, not 0 or 1")),
        },
    }
}

fn text(o: &Map<String, Value>, key: &str) -> Result<String, String> {
    match o.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(v) => Err(format!("{key} is {v}, not a string")),
    }
}

/// Parse the [`WINDOWS_LOGON`] output.
pub fn parse_windows_logon(out: &str) -> Result<WindowsLogon, String> {
    let t = out.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("expected one JSON object")?;
    let deny = flag(o, "fDenyTSConnections")?
        .ok_or("fDenyTSConnections is missing (Terminal Server key unreadable?)")?;
    let deny_policy = flag(o, "PolicyDenyTSConnections")?;
    let nla_local = flag(o, "UserAuthentication")?;
    let nla_policy = flag(o, "PolicyUserAuthentication")?;
    let nla = match (nla_policy, nla_local) {
        (Some(p), _) => p,
        (None, Some(l)) => l,
        (None, None) => {
            return Err(
                "UserAuthentication (RDP-Tcp) is missing: Network Level Authentication \
                        unknown"
                    .into(),
            )
        }
    };
    let rdp_port = match o.get("PortNumber") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|p| (1..=65535).contains(p))
                .ok_or_else(|| format!("PortNumber is {v}, not a TCP port"))?,
        ),
    };
    let sc = match o.get("ScForceOption") {
        None | Some(Value::Null) => false,
        Some(v) => match v.as_i64() {
            Some(0) => false,
            Some(1) => true,
            _ => return Err(format!("ScForceOption is {v}, not 0 or 1")),
        },
    };
    let whfb_policy = flag(o, "WhfbPolicy")?;
    let duo_fail_open = flag(o, "DuoFailOpen")?;
    let providers = match o.get("CredentialProviders") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        Some(v) => return Err(format!("CredentialProviders is {v}, not a list")),
    };
    let mut credential_providers = Vec::new();
    for p in &providers {
        let po = p
            .as_object()
            .ok_or_else(|| format!("a credential provider is {p}, not an object"))?;
        let clsid = text(po, "Clsid")?;
        let is_guid = clsid.len() == 38
            && clsid.starts_with('{')
            && clsid.ends_with('}')
            && clsid[1..37]
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == '-');
        if !is_guid {
            return Err(format!("credential provider CLSID {clsid:?} is not a GUID"));
        }
        credential_providers.push((clsid.to_ascii_uppercase(), text(po, "Name")?));
    }
    let sshd = match o.get("Sshd") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => {
            let status = text(s, "Status")?;
            let start_type = text(s, "StartType")?;
            const STATUSES: [&str; 7] = [
                "Stopped",
                "StartPending",
                "StopPending",
                "Running",
                "ContinuePending",
                "PausePending",
                "Paused",
            ];
            const START_TYPES: [&str; 5] = ["Boot", "System", "Automatic", "Manual", "Disabled"];
            if !STATUSES.contains(&status.as_str()) {
                return Err(format!("sshd service status {status:?} is not understood"));
            }
            if !START_TYPES.contains(&start_type.as_str()) {
                return Err(format!(
                    "sshd service start type {start_type:?} is not understood"
                ));
            }
            Some(SshdService { status, start_type })
        }
        Some(v) => return Err(format!("Sshd is {v}, not an object")),
    };
    Ok(WindowsLogon {
        rdp_enabled: !deny_policy.unwrap_or(deny),
        rdp_by_policy: deny_policy.is_some(),
        nla,
        nla_by_policy: nla_policy.is_some(),
        rdp_port,
        smart_card_required: sc,
        whfb_policy,
        credential_providers,
        duo_fail_open,
        sshd,
    })
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
        Err(e) => CheckResult::new("mfa", Status::Error, e.to_string())
            .fact("platform", "windows")
            .with_evidence(scan.evidence),
    }
}

fn judge(scan: &mut Scan) -> Result<CheckResult, ScanError> {
    let (out, ev) = scan
        .ctx
        .probe
        .run_evidence(&WINDOWS_LOGON)
        .map_err(ScanError::Probe)?;
    scan.evidence.push(ev);
    if out.exit_code != Some(0) {
        return Err(ScanError::Config(format!(
            "PowerShell (logon settings) exited with {:?}: {}",
            out.exit_code,
            out.stderr_text().trim()
        )));
    }
    let logon = parse_windows_logon(&out.stdout_text())
        .map_err(|e| ScanError::Config(format!("PowerShell (logon settings): {e}")))?;
    let second_factor_providers: Vec<&str> = SECOND_FACTOR_PROVIDERS
        .iter()
        .filter(|(clsid, _)| {
            logon
                .credential_providers
                .iter()
                .any(|(c, _)| c.eq_ignore_ascii_case(clsid))
        })
        .map(|(_, name)| *name)
        .collect();

    let mut paths: Vec<PathReport> = Vec::new();
    let mut not_applicable: Vec<String> = Vec::new();
    // Things that cannot be decided on the host: never a pass.
    let mut undecided: Vec<String> = Vec::new();
    if logon.rdp_enabled {
        let mut reasons = Vec::new();
        if !logon.nla {
            reasons.push(format!(
                "rdp: Network Level Authentication off{} (the logon screen is offered before \
                 the user authenticates)",
                if logon.nla_by_policy {
                    " by policy"
                } else {
                    ""
                }
            ));
        }
        let detail = if logon.smart_card_required {
            "smart card required for interactive logon".to_string()
        } else if !second_factor_providers.is_empty() {
            let names = second_factor_providers.join(", ");
            undecided.push(format!(
                "rdp: {names} registered; who must use it (bypass and enrolment policy) is \
                 decided by the provider's service and cannot be read on the host"
            ));
            if logon.duo_fail_open == Some(true) {
                undecided.push(
                    "rdp: Duo FailOpen = 1 (logons proceed without Duo when its service is \
                     unreachable)"
                        .into(),
                );
            }
            names
        } else {
            let mut r = "rdp: password alone is accepted (no smart-card-required policy, no \
                         second-factor credential provider registered)"
                .to_string();
            if logon.whfb_policy == Some(true) {
                r.push_str(
                    "; Windows Hello for Business is enabled by policy but does not stop \
                     password logons",
                );
            }
            reasons.push(r);
            "password".to_string()
        };
        paths.push(PathReport {
            name: "rdp".into(),
            detail: format!("{detail}; NLA {}", if logon.nla { "on" } else { "off" }),
            reasons,
            fail_open: Vec::new(),
        });
    } else {
        not_applicable.push(format!(
            "rdp (Remote Desktop off{})",
            if logon.rdp_by_policy {
                " by policy"
            } else {
                ""
            }
        ));
    }
    match &logon.sshd {
        None => not_applicable.push("ssh (OpenSSH Server not installed)".into()),
        Some(s) if s.start_type == "Disabled" => {
            not_applicable.push("ssh (OpenSSH Server service disabled)".into())
        }
        Some(_) => paths.extend(ssh_paths(scan)?),
    }

    let lacking: Vec<String> = paths.iter().flat_map(|p| p.reasons.clone()).collect();
    let na_note: String = not_applicable
        .iter()
        .map(|n| format!("; {n}: not applicable"))
        .collect();
    let (status, summary) = if !lacking.is_empty() {
        let mut s = lacking.join("; ");
        for u in &undecided {
            s.push_str(&format!("; {u}"));
        }
        (Status::Fail, s + &na_note)
    } else if paths.is_empty() {
        (
            Status::NotApplicable,
            format!(
                "no remote interactive way in: {} (console logon is not judged)",
                not_applicable.join(", ")
            ),
        )
    } else {
        let ok: Vec<String> = paths
            .iter()
            .map(|p| format!("{} ({})", p.name, p.detail))
            .collect();
        if undecided.is_empty() {
            (
                Status::Pass,
                format!("second factor required on every way in: {}", ok.join(", ")) + &na_note,
            )
        } else {
            (
                Status::Warn,
                format!("{}; ways in: {}", undecided.join("; "), ok.join(", ")) + &na_note,
            )
        }
    };
    let summary = std::iter::once(summary)
        .chain(scan.notes.iter().cloned())
        .collect::<Vec<_>>()
        .join("; ");
    let paths_json: Vec<_> = paths
        .iter()
        .map(|p| json!({"path": p.name, "mfa": p.reasons.is_empty(), "detail": p.detail, "reasons": p.reasons}))
        .collect();
    let providers_json: Vec<_> = logon
        .credential_providers
        .iter()
        .map(|(c, n)| json!({"clsid": c, "name": n}))
        .collect();
    Ok(CheckResult::new("mfa", status, summary)
        .fact("platform", "windows")
        .fact("rdp_enabled", logon.rdp_enabled)
        .fact("rdp_nla", logon.nla)
        .fact("rdp_port", logon.rdp_port)
        .fact("smart_card_required", logon.smart_card_required)
        .fact("whfb_policy", logon.whfb_policy)
        .fact("second_factor_providers", second_factor_providers)
        .fact("credential_providers", providers_json)
        .fact(
            "sshd_service",
            logon
                .sshd
                .as_ref()
                .map(|s| json!({"status": s.status, "start_type": s.start_type})),
        )
        .fact("sshd_config", scan.sshd_config)
        .fact("paths", paths_json)
        .fact("lacking", lacking.clone())
        .fact("lacking_count", lacking.len())
        .fact("undecided", undecided)
        .fact("not_applicable", not_applicable)
        .fact("ssh_match_combinations", scan.ssh_combinations))
}

/// The OpenSSH Server's ways in, judged without PAM; without a configuration file sshd runs on its
/// compiled-in defaults (judged, and said).
fn ssh_paths(scan: &mut Scan) -> Result<Vec<PathReport>, ScanError> {
    let cfg = if scan.ctx.probe.exists(SSHD_CONFIG) {
        scan.sshd_config = Some(SSHD_CONFIG);
        load_sshd_config(scan)?
    } else {
        scan.notes.push(format!(
            "the sshd service has no {SSHD_CONFIG}: SSH judged on OpenSSH's compiled-in defaults"
        ));
        SshdConfig::default()
    };
    scan.judge_sshd(&cfg, false)
}

fn load_sshd_config(scan: &mut Scan) -> Result<SshdConfig, ScanError> {
    let ctx = scan.ctx;
    let (evidence, seen) = (&mut scan.evidence, &mut scan.read_paths);
    let mut load = |path: &str| -> Result<Vec<SshdLine>, ScanError> {
        let text = read_file(ctx, evidence, seen, path)?;
        sshd::parse_sshd_config(&text).map_err(|e| parse_err(path, e))
    };
    // Windows' sshd resolves Include against %ProgramData%\ssh with its own path rules; rather
    // than guess them, an Include is refused (error), never skipped.
    let mut expand = |pattern: &str| -> Result<Vec<String>, ScanError> {
        Err(ScanError::Config(format!(
            "{SSHD_CONFIG}: Include ({pattern}) is not supported on Windows yet"
        )))
    };
    Ok(sshd::resolve_config(SSHD_CONFIG, &mut load, &mut expand)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"{"fDenyTSConnections": 0, "PolicyDenyTSConnections": null,
        "UserAuthentication": 1, "PolicyUserAuthentication": null, "PortNumber": 3389,
        "ScForceOption": 0, "WhfbPolicy": null, "DuoFailOpen": null,
        "CredentialProviders": [{"Clsid": "{60b78e88-ead8-445c-9cfd-0b87f74ea6cd}", "Name": "PasswordProvider"}],
        "Sshd": null}"#;

    fn with(key: &str, value: Value) -> String {
        let mut v: Value = serde_json::from_str(BASE).unwrap();
        v[key] = value;
        v.to_string()
    }

    #[test]
    fn policy_copies_override_the_local_values() {
        let l = parse_windows_logon(BASE).unwrap();
        assert!(l.rdp_enabled && l.nla && !l.rdp_by_policy);
        assert_eq!(l.rdp_port, Some(3389));
        assert_eq!(
            l.credential_providers,
            vec![(
                "{60B78E88-EAD8-445C-9CFD-0B87F74EA6CD}".to_string(),
                "PasswordProvider".to_string()
            )]
        );
        let l = parse_windows_logon(&with("PolicyDenyTSConnections", json!(1))).unwrap();
        assert!(!l.rdp_enabled && l.rdp_by_policy);
        let l = parse_windows_logon(&with("PolicyUserAuthentication", json!(0))).unwrap();
        assert!(!l.nla && l.nla_by_policy);
    }

    #[test]
    fn a_lone_provider_serialised_as_an_object_is_read() {
        let l = parse_windows_logon(&with(
            "CredentialProviders",
            json!({"Clsid": "{44E2ED41-48C7-4712-A3C3-250C5E6D5D84}", "Name": "DuoCredProv"}),
        ))
        .unwrap();
        assert_eq!(l.credential_providers.len(), 1);
    }

    #[test]
    fn anything_unrecognised_is_refused() {
        for (key, value) in [
            ("fDenyTSConnections", json!(null)),
            ("fDenyTSConnections", json!("0")),
            ("UserAuthentication", json!(2)),
            ("ScForceOption", json!(true)),
            ("PortNumber", json!(0)),
            (
                "CredentialProviders",
                json!([{"Clsid": "PasswordProvider"}]),
            ),
            ("Sshd", json!({"Status": 4, "StartType": 2})),
            (
                "Sshd",
                json!({"Status": "Running", "StartType": "AutomaticDelayed"}),
            ),
        ] {
            assert!(
                parse_windows_logon(&with(key, value.clone())).is_err(),
                "{key} = {value}"
            );
        }
        assert!(parse_windows_logon("Get-ItemProperty : Access is denied").is_err());
        assert!(parse_windows_logon("[]").is_err());
    }
}
