//! inventory check: who this host is (hostname, machine-id, OS, kernel, hardware, disks, uptime).
//!
//! Always `pass` when the facts could be gathered: the inventory evidences CIS 1.1 and 2.1 by
//! existing, not by meeting a threshold. Missing identity (no machine-id) is an `error`.

mod macos;
mod windows;

use crate::os_release::parse_os_release;
use crate::wire::HostIdentity;
use crate::{CheckResult, Context, Evidence, EvidenceKind, Platform, Probe, Status};

/// The inventory check.
pub struct Inventory;

/// Identify the host behind `probe` for the report header.
///
/// Hostname and architecture come from system facts, the rest from files; a fact that cannot be read
/// is left empty rather than invented.
pub fn host_identity(probe: &dyn Probe) -> HostIdentity {
    match probe.platform() {
        Platform::Linux => {}
        Platform::Macos => return macos::host_identity(probe),
        Platform::Windows => return windows::host_identity(probe),
    }
    let sys = probe.system().ok();
    let os = probe
        .read_string("/etc/os-release")
        .or_else(|_| probe.read_string("/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default();
    let hostname = sys
        .as_ref()
        .map(|s| s.hostname.clone())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            probe
                .read_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default();
    HostIdentity {
        hostname,
        machine_id: probe
            .read_string("/etc/machine-id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        os: os.id,
        os_version: os.version_id,
        kernel: probe
            .read_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        arch: sys.map(|s| s.arch).unwrap_or_default(),
    }
}

impl crate::Check for Inventory {
    fn id(&self) -> &'static str {
        "inventory"
    }
    fn title(&self) -> &'static str {
        "Host inventory"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Inventaire des postes",
            en: "Host inventory",
        }
    }
    fn coverage(&self) -> bool {
        false
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["1.1", "2.1"]
    }

    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return macos::run(ctx),
            Platform::Windows => return windows::run(ctx),
        }
        let id = self.id();
        let sys = match ctx.probe.system() {
            Ok(s) => s,
            Err(e) => return crate::probe_error(id, "read system facts", &e),
        };
        let ident = host_identity(ctx.probe);
        if ident.machine_id.is_empty() {
            return CheckResult::new(
                id,
                Status::Error,
                "no machine-id (/etc/machine-id missing or empty): the host cannot be identified",
            );
        }
        let mut evidence = Vec::new();
        for path in ["/etc/os-release", "/etc/machine-id"] {
            if let Ok((_, ev)) = ctx.probe.read_evidence(path) {
                evidence.push(ev);
            }
        }
        let sys_json = serde_json::to_value(&sys).unwrap_or_default();
        evidence.push(Evidence::new(
            EvidenceKind::System,
            "sysinfo",
            sys_json.to_string().as_bytes(),
        ));
        let os = ctx
            .probe
            .read_string("/etc/os-release")
            .map(|t| parse_os_release(&t))
            .unwrap_or_default();
        let os_label = if os.pretty_name.is_empty() {
            format!("{} {}", sys.os_name, sys.os_version)
        } else {
            os.pretty_name.clone()
        };
        let gib = sys.memory_bytes as f64 / (1u64 << 30) as f64;
        let summary = format!(
            "{} — {}, kernel {}, {} × {}, {:.1} GiB RAM, {} disk(s)",
            ident.hostname,
            os_label.trim(),
            ident.kernel,
            sys.cpu_count,
            if sys.cpu_model.is_empty() {
                "CPU"
            } else {
                &sys.cpu_model
            },
            gib,
            sys.disks.len()
        );
        CheckResult::new(id, Status::Pass, summary)
            .fact("hostname", ident.hostname.clone())
            .fact("machine_id", ident.machine_id.clone())
            .fact("os", ident.os.clone())
            .fact("os_version", ident.os_version.clone())
            .fact("os_pretty_name", os.pretty_name)
            .fact("kernel", ident.kernel.clone())
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
}
