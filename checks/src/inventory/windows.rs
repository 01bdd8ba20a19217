//! inventory on Windows: edition, release, build and UBR from the registry, the host's identity
//! (`MachineGuid`, as `/etc/machine-id` is on Linux), domain membership, plus the sysinfo facts every
//! platform has.
//!
//! One PowerShell invocation prints the values as JSON. The registry value names
//! (`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`: `ProductName`, `EditionID`, `DisplayVersion`,
//! `CurrentBuildNumber`, `UBR`; `HKLM\SOFTWARE\Microsoft\Cryptography\MachineGuid`) and
//! `Win32_ComputerSystem`'s `PartOfDomain`/`Domain` are general knowledge, *Unverified* by a capture:
//! a missing `MachineGuid` or build number is `error`, never an invented value.

use serde_json::{Map, Value};

use crate::wire::HostIdentity;
use crate::{CheckResult, Context, Evidence, EvidenceKind, Probe, Status};

/// The one invocation (registry and CIM; no admin rights needed).
pub const WINDOWS_VERSION: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "$v = Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion'; \
$g = Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Cryptography'; \
$cs = Get-CimInstance Win32_ComputerSystem; \
ConvertTo-Json -InputObject ([pscustomobject]@{ ProductName = $v.ProductName; EditionID = $v.EditionID; \
DisplayVersion = $v.DisplayVersion; CurrentBuildNumber = $v.CurrentBuildNumber; UBR = $v.UBR; \
MachineGuid = $g.MachineGuid; PartOfDomain = $cs.PartOfDomain; Domain = $cs.Domain })",
];

/// What the registry and CIM say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WindowsVersion {
    pub product_name: String,
    pub edition: String,
    /// `24H2`; empty on releases before 20H2.
    pub display_version: String,
    pub build: String,
    pub ubr: i64,
    pub machine_guid: String,
    /// `Some(domain)` when joined to a domain; `None` in a workgroup.
    pub domain: Option<String>,
}

fn text(o: &Map<String, Value>, key: &str) -> Result<String, String> {
    match o.get(key) {
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(Value::Null) | None => Ok(String::new()),
        Some(other) => Err(format!("{key} is {other}, not a string")),
    }
}

/// Parse the [`WINDOWS_VERSION`] output.
pub fn parse_windows_version(out: &str) -> Result<WindowsVersion, String> {
    let t = out.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("expected one object")?;
    let build = text(o, "CurrentBuildNumber")?;
    if build.is_empty() || !build.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "CurrentBuildNumber {build:?} is not a build number"
        ));
    }
    let machine_guid = text(o, "MachineGuid")?;
    if machine_guid.len() != 36 {
        return Err(format!("MachineGuid {machine_guid:?} is not a GUID"));
    }
    let ubr = o
        .get("UBR")
        .and_then(Value::as_i64)
        .ok_or("UBR missing or not an integer")?;
    let domain = match o.get("PartOfDomain") {
        Some(Value::Bool(true)) => Some(text(o, "Domain")?),
        Some(Value::Bool(false)) => None,
        other => return Err(format!("PartOfDomain is {other:?}, not true/false")),
    };
    Ok(WindowsVersion {
        product_name: text(o, "ProductName")?,
        edition: text(o, "EditionID")?,
        display_version: text(o, "DisplayVersion")?,
        build,
        ubr,
        machine_guid: machine_guid.to_ascii_lowercase(),
        domain,
    })
}

fn windows_version(probe: &dyn Probe) -> Result<(WindowsVersion, Evidence), String> {
    let (out, ev) = probe
        .run_evidence(&WINDOWS_VERSION)
        .map_err(|e| format!("could not run PowerShell (Windows version): {e}"))?;
    if out.exit_code != Some(0) {
        return Err(format!(
            "PowerShell (Windows version) exited with {:?}: {}",
            out.exit_code,
            out.stderr_text().trim()
        ));
    }
    parse_windows_version(&out.stdout_text())
        .map(|v| (v, ev))
        .map_err(|e| format!("Windows version: {e}"))
}

/// Domain membership alone from [`WINDOWS_VERSION`] (`Some(domain)` when joined), for checks whose
/// verdict depends on it (password_policy); it does not need the identity fields to be sound.
pub(crate) fn domain_membership(probe: &dyn Probe) -> Result<(Option<String>, Evidence), String> {
    let (out, ev) = probe
        .run_evidence(&WINDOWS_VERSION)
        .map_err(|e| format!("could not run PowerShell (Windows version): {e}"))?;
    if out.exit_code != Some(0) {
        return Err(format!(
            "PowerShell (Windows version) exited with {:?}: {}",
            out.exit_code,
            out.stderr_text().trim()
        ));
    }
    parse_domain(&out.stdout_text()).map(|d| (d, ev))
}

/// `PartOfDomain`/`Domain` of the [`WINDOWS_VERSION`] output.
pub fn parse_domain(out: &str) -> Result<Option<String>, String> {
    let t = out.trim_start_matches('\u{feff}').trim();
    let v: Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("expected one object")?;
    match o.get("PartOfDomain") {
        Some(Value::Bool(true)) => {
            let d = text(o, "Domain")?;
            if d.is_empty() {
                return Err("PartOfDomain is true but Domain is empty".into());
            }
            Ok(Some(d))
        }
        Some(Value::Bool(false)) => Ok(None),
        other => Err(format!("PartOfDomain is {other:?}, not true/false")),
    }
}

pub(super) fn host_identity(probe: &dyn Probe) -> HostIdentity {
    let sys = probe.system().ok();
    let v = windows_version(probe).map(|(v, _)| v).unwrap_or_default();
    HostIdentity {
        hostname: sys.as_ref().map(|s| s.hostname.clone()).unwrap_or_default(),
        machine_id: v.machine_guid,
        os: "windows".into(),
        os_version: if v.build.is_empty() {
            String::new()
        } else {
            format!("10.0.{}.{}", v.build, v.ubr)
        },
        kernel: sys.as_ref().map(|s| s.kernel.clone()).unwrap_or_default(),
        arch: sys.map(|s| s.arch).unwrap_or_default(),
    }
}

pub(super) fn run(ctx: &Context) -> CheckResult {
    let id = "inventory";
    let sys = match ctx.probe.system() {
        Ok(s) => s,
        Err(e) => return crate::probe_error(id, "read system facts", &e),
    };
    let (v, ev) = match windows_version(ctx.probe) {
        Ok(r) => r,
        Err(e) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!("the Windows host cannot be identified: {e}"),
            )
            .fact("platform", "windows")
        }
    };
    let sys_json = serde_json::to_value(&sys).unwrap_or_default();
    let evidence = vec![
        ev,
        Evidence::new(
            EvidenceKind::System,
            "sysinfo",
            sys_json.to_string().as_bytes(),
        ),
    ];
    let gib = sys.memory_bytes as f64 / (1u64 << 30) as f64;
    let release = if v.display_version.is_empty() {
        String::new()
    } else {
        format!(" {}", v.display_version)
    };
    let membership = match &v.domain {
        Some(d) => format!("member of domain {d}"),
        None => "workgroup".to_string(),
    };
    let summary = format!(
        "{} — {}{} (build {}.{}), {membership}, {} × {}, {:.1} GiB RAM, {} disk(s)",
        sys.hostname,
        v.product_name,
        release,
        v.build,
        v.ubr,
        sys.cpu_count,
        sys.cpu_model,
        gib,
        sys.disks.len()
    );
    CheckResult::new(id, Status::Pass, summary)
        .fact("platform", "windows")
        .fact("hostname", sys.hostname.clone())
        .fact("machine_id", v.machine_guid.clone())
        .fact("os", "windows")
        .fact("os_version", format!("10.0.{}.{}", v.build, v.ubr))
        .fact("os_build", v.build.clone())
        .fact("os_ubr", v.ubr)
        .fact("os_edition", v.edition.clone())
        .fact("os_display_version", v.display_version.clone())
        .fact("os_pretty_name", format!("{}{release}", v.product_name))
        .fact("domain_joined", v.domain.is_some())
        .fact("domain", serde_json::json!(v.domain))
        .fact("kernel", sys.kernel.clone())
        .fact("arch", sys.arch.clone())
        .fact("cpu_model", sys.cpu_model.clone())
        .fact("cpu_count", sys.cpu_count)
        .fact("memory_bytes", sys.memory_bytes)
        .fact("uptime_seconds", sys.uptime_seconds)
        .fact(
            "disks",
            serde_json::to_value(&sys.disks).unwrap_or_default(),
        )
        .with_evidence(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
    "ProductName":  "Windows 10 Pro",
    "EditionID":  "Professional",
    "DisplayVersion":  "24H2",
    "CurrentBuildNumber":  "26100",
    "UBR":  2314,
    "MachineGuid":  "5F1D3C2A-8B7E-4C6D-9A0B-1E2F3A4B5C6D",
    "PartOfDomain":  true,
    "Domain":  "corp.example.com"
}"#;

    #[test]
    fn reads_version_identity_and_domain() {
        let v = parse_windows_version(SAMPLE).unwrap();
        assert_eq!(v.build, "26100");
        assert_eq!(v.ubr, 2314);
        assert_eq!(v.machine_guid, "5f1d3c2a-8b7e-4c6d-9a0b-1e2f3a4b5c6d");
        assert_eq!(v.domain.as_deref(), Some("corp.example.com"));
        let wg = parse_windows_version(&SAMPLE.replace("true", "false")).unwrap();
        assert_eq!(wg.domain, None);
        assert_eq!(
            parse_domain(SAMPLE).unwrap().as_deref(),
            Some("corp.example.com")
        );
        assert_eq!(
            parse_domain(&SAMPLE.replace("true", "false")).unwrap(),
            None
        );
        assert!(parse_domain(&SAMPLE.replace("true", "\"True\"")).is_err());
    }

    #[test]
    fn no_guid_or_build_is_an_error() {
        assert!(
            parse_windows_version(&SAMPLE.replace("5F1D3C2A-8B7E-4C6D-9A0B-1E2F3A4B5C6D", ""))
                .is_err()
        );
        assert!(parse_windows_version(&SAMPLE.replace("\"26100\"", "null")).is_err());
        assert!(parse_windows_version(&SAMPLE.replace("2314", "\"2314\"")).is_err());
        assert!(parse_windows_version("Get-ItemProperty : Access denied").is_err());
    }
}
