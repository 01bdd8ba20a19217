//! inventory on macOS: `sw_vers` for the release, `system_profiler -json SPHardwareDataType` for the
//! model, serial number and hardware UUID (the host's identity, as `/etc/machine-id` is on Linux),
//! plus the sysinfo facts every platform has.
//!
//! `sw_vers` output is a real capture (platforms reference A6); the system_profiler key names
//! (`machine_model`, `machine_name`, `serial_number`, `platform_UUID`, `chip_type`/`cpu_type`) are
//! unverified, so a missing serial number or UUID is `error`, never an invented value.

use crate::wire::HostIdentity;
use crate::{CheckResult, Context, Evidence, EvidenceKind, Probe, Status};

const SW_VERS: [&str; 1] = ["/usr/bin/sw_vers"];
const PROFILER: [&str; 3] = ["/usr/sbin/system_profiler", "-json", "SPHardwareDataType"];

/// `sw_vers` fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwVers {
    pub product_name: String,
    pub product_version: String,
    pub build_version: String,
}

/// Parse `sw_vers` (`Key:<TAB><TAB>value` lines; unknown keys such as `ProductVersionExtra` are kept out).
pub fn parse_sw_vers(text: &str) -> Result<SwVers, String> {
    let mut v = SwVers::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, val) = line
            .split_once(':')
            .ok_or_else(|| format!("unrecognised sw_vers line {line:?}"))?;
        let val = val.trim().to_string();
        match k.trim() {
            "ProductName" => v.product_name = val,
            "ProductVersion" => v.product_version = val,
            "BuildVersion" => v.build_version = val,
            _ => {}
        }
    }
    if v.product_name.is_empty() || v.product_version.is_empty() || v.build_version.is_empty() {
        return Err(format!(
            "sw_vers lacks ProductName, ProductVersion or BuildVersion: {text:?}"
        ));
    }
    Ok(v)
}

/// The hardware overview of `system_profiler -json SPHardwareDataType`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hardware {
    pub model: String,
    pub model_name: String,
    pub serial_number: String,
    pub hardware_uuid: String,
    pub chip: String,
}

/// Parse `system_profiler -json SPHardwareDataType`.
pub fn parse_hardware(text: &str) -> Result<Hardware, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let item = v
        .get("SPHardwareDataType")
        .and_then(|a| a.as_array())
        .and_then(|a| a.first())
        .ok_or("no SPHardwareDataType[0]")?;
    let s = |k: &str| {
        item.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let hw = Hardware {
        model: s("machine_model"),
        model_name: s("machine_name"),
        serial_number: s("serial_number"),
        hardware_uuid: s("platform_UUID"),
        chip: if s("chip_type").is_empty() {
            s("cpu_type")
        } else {
            s("chip_type")
        },
    };
    if hw.serial_number.is_empty() || hw.hardware_uuid.is_empty() {
        return Err("SPHardwareDataType[0] lacks serial_number or platform_UUID".into());
    }
    Ok(hw)
}

fn sw_vers(probe: &dyn Probe) -> Result<(SwVers, Evidence), String> {
    let (out, ev) = probe
        .run_evidence(&SW_VERS)
        .map_err(|e| format!("could not run sw_vers: {e}"))?;
    Ok((parse_sw_vers(&out.stdout_text())?, ev))
}

fn hardware(probe: &dyn Probe) -> Result<(Hardware, Evidence), String> {
    let (out, ev) = probe
        .run_evidence(&PROFILER)
        .map_err(|e| format!("could not run system_profiler: {e}"))?;
    if out.exit_code != Some(0) {
        return Err(format!("system_profiler exited with {:?}", out.exit_code));
    }
    Ok((
        parse_hardware(&out.stdout_text()).map_err(|e| format!("system_profiler: {e}"))?,
        ev,
    ))
}

/// Identify a Mac: hostname and architecture from system facts, the release from `sw_vers`, the
/// hardware UUID as machine id. What cannot be read is left empty.
pub(super) fn host_identity(probe: &dyn Probe) -> HostIdentity {
    let sys = probe.system().ok();
    let vers = sw_vers(probe).map(|(v, _)| v).unwrap_or_default();
    HostIdentity {
        hostname: sys.as_ref().map(|s| s.hostname.clone()).unwrap_or_default(),
        machine_id: hardware(probe)
            .map(|(h, _)| h.hardware_uuid)
            .unwrap_or_default(),
        os: "macos".into(),
        os_version: vers.product_version,
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
    let mut evidence = Vec::new();
    let (vers, hw) = match (sw_vers(ctx.probe), hardware(ctx.probe)) {
        (Ok((v, e1)), Ok((h, e2))) => {
            evidence.extend([e1, e2]);
            (v, h)
        }
        (Err(e), _) | (_, Err(e)) => {
            return CheckResult::new(
                id,
                Status::Error,
                format!("the Mac cannot be identified: {e}"),
            )
        }
    };
    let sys_json = serde_json::to_value(&sys).unwrap_or_default();
    evidence.push(Evidence::new(
        EvidenceKind::System,
        "sysinfo",
        sys_json.to_string().as_bytes(),
    ));
    let gib = sys.memory_bytes as f64 / (1u64 << 30) as f64;
    let summary = format!(
        "{} — {} {} ({}), {} {}, {} × {}, {:.1} GiB RAM, {} disk(s)",
        sys.hostname,
        vers.product_name,
        vers.product_version,
        vers.build_version,
        hw.model_name,
        hw.model,
        sys.cpu_count,
        if hw.chip.is_empty() {
            &sys.cpu_model
        } else {
            &hw.chip
        },
        gib,
        sys.disks.len()
    );
    CheckResult::new(id, Status::Pass, summary)
        .fact("platform", "macos")
        .fact("hostname", sys.hostname.clone())
        .fact("machine_id", hw.hardware_uuid.clone())
        .fact("os", "macos")
        .fact("os_version", vers.product_version.clone())
        .fact("os_build", vers.build_version.clone())
        .fact(
            "os_pretty_name",
            format!("{} {}", vers.product_name, vers.product_version),
        )
        .fact("kernel", sys.kernel.clone())
        .fact("arch", sys.arch.clone())
        .fact("model", hw.model.clone())
        .fact("model_name", hw.model_name.clone())
        .fact("serial_number", hw.serial_number.clone())
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

    #[test]
    fn sw_vers_real_capture_and_strictness() {
        // Real capture (platforms reference A6): two TABs after each key.
        let v = parse_sw_vers(
            "ProductName:\t\tmacOS\nProductVersion:\t\t15.7.7\nBuildVersion:\t\t24G720\n",
        )
        .unwrap();
        assert_eq!(
            (
                v.product_name.as_str(),
                v.product_version.as_str(),
                v.build_version.as_str()
            ),
            ("macOS", "15.7.7", "24G720")
        );
        assert!(parse_sw_vers("ProductName:\t\tmacOS\n").is_err());
        assert!(
            parse_hardware("{\"SPHardwareDataType\":[{\"machine_model\":\"Mac14,2\"}]}").is_err()
        );
    }
}
