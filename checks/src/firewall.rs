//! firewall check: is inbound traffic denied by default by a host firewall?
//!
//! Linux: the kernel's rule set decides, read as root from `nft -j list ruleset` (nftables, and the
//! iptables-nft, ufw and firewalld rules that live in it) and from `iptables-save` /
//! `ip6tables-save` when the legacy iptables backend holds rules. Inbound is denied for a family
//! when an input-hook filter chain has policy `drop`, or ends with an unconditional `drop`/`reject`
//! rule (the iptables `INPUT` chain likewise); IPv4 and IPv6 (unless disabled) must both be denied.
//! The front ends (ufw, firewalld) are reported with their configured default; more than one of them
//! active is a `warn` (they overwrite each other's rules). A container is `not_applicable` (the
//! host's firewall filters its traffic). Not root is `error`.
//!
//! macOS: the application firewall (`socketfilterfw`) and pf when enabled (`firewall/macos.rs`).
//! Windows: every Windows Defender Firewall profile on with inbound blocked by default
//! (`Get-NetFirewallProfile`, `firewall/windows.rs`).

mod iptables;
pub mod macos;
mod nft;
pub mod windows;

use serde::Deserialize;

use crate::{CheckResult, Context, Evidence, Platform, Probe, Status};

const NFT: [&str; 2] = ["/usr/sbin/nft", "/sbin/nft"];
const IPTABLES_SAVE: [&str; 2] = ["/usr/sbin/iptables-save", "/sbin/iptables-save"];
const IP6TABLES_SAVE: [&str; 2] = ["/usr/sbin/ip6tables-save", "/sbin/ip6tables-save"];
const UFW_CONF: &str = "/etc/ufw/ufw.conf";
const UFW_DEFAULT: &str = "/etc/default/ufw";
const FIREWALL_CMD: &str = "/usr/bin/firewall-cmd";
const DISABLE_IPV6: &str = "/proc/sys/net/ipv6/conf/all/disable_ipv6";
/// Files a container runtime leaves (podman, docker, systemd-nspawn).
const CONTAINER_MARKERS: [&str; 3] = [
    "/run/.containerenv",
    "/.dockerenv",
    "/run/systemd/container",
];

/// Settings of the firewall check (`[checks.firewall]`): none yet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FirewallConfig {}

/// The firewall check.
pub struct Firewall;

impl crate::Check for Firewall {
    fn id(&self) -> &'static str {
        "firewall"
    }
    fn title(&self) -> &'static str {
        "Host firewall denies inbound by default"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Pare-feu",
            en: "Host firewall",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["4.4", "4.5"]
    }
    fn platforms(&self) -> &'static [Platform] {
        &Platform::ALL
    }
    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => run_linux(ctx.probe),
            Platform::Macos => macos::run(ctx.probe),
            Platform::Windows => windows::run(ctx.probe),
        }
    }
}

const ID: &str = "firewall";

/// What one rule source says about a family's input path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Where the deny comes from (`nftables inet filter/input policy drop`), when it denies.
    pub deny: Option<String>,
}

/// Inbound verdicts for IPv4 and IPv6 from one rule source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Families {
    pub v4: Option<String>,
    pub v6: Option<String>,
    /// Input chains seen (for the summary when nothing denies).
    pub chains: Vec<String>,
}

fn first<'a>(probe: &dyn Probe, paths: &[&'a str]) -> Option<&'a str> {
    paths.iter().copied().find(|p| probe.exists(p))
}

fn run_cmd(
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

fn run_linux(probe: &dyn Probe) -> CheckResult {
    if let Some(m) = CONTAINER_MARKERS.iter().find(|m| probe.exists(m)) {
        return CheckResult::new(
            ID,
            Status::NotApplicable,
            format!("a container ({m} exists): inbound traffic is filtered by the host's firewall; judge it there"),
        );
    }
    if !probe.is_root() {
        return CheckResult::new(
            ID,
            Status::Error,
            "the firewall rule set can only be read as root (nft and iptables-save need CAP_NET_ADMIN): run the agent as root",
        );
    }
    let mut evidence = Vec::new();
    let mut sources: Vec<Families> = Vec::new();
    let mut tools = Vec::new();

    if let Some(nft) = first(probe, &NFT) {
        tools.push("nft");
        let text = match run_cmd(probe, &[nft, "-j", "list", "ruleset"], &mut evidence) {
            Ok(t) => t,
            Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
        };
        match nft::judge(&text) {
            Ok(f) => sources.push(f),
            Err(e) => {
                return CheckResult::new(
                    ID,
                    Status::Error,
                    format!("could not parse `{nft} -j list ruleset`: {e}"),
                )
                .with_evidence(evidence)
            }
        }
    }
    let mut legacy = false;
    if let Some(save) = first(probe, &IPTABLES_SAVE) {
        tools.push("iptables-save");
        let text = match run_cmd(probe, &[save], &mut evidence) {
            Ok(t) => t,
            Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
        };
        // With the nf_tables backend iptables-save shows rules nft already listed.
        if iptables::is_legacy(&text) {
            legacy = true;
            let v4 = match iptables::judge(&text, "iptables") {
                Ok(v) => v,
                Err(e) => {
                    return CheckResult::new(
                        ID,
                        Status::Error,
                        format!("could not parse `{save}`: {e}"),
                    )
                    .with_evidence(evidence)
                }
            };
            let mut fam = Families {
                v4: v4.deny,
                v6: None,
                chains: vec!["iptables filter/INPUT".into()],
            };
            if let Some(save6) = first(probe, &IP6TABLES_SAVE) {
                let text6 = match run_cmd(probe, &[save6], &mut evidence) {
                    Ok(t) => t,
                    Err(e) => {
                        return CheckResult::new(ID, Status::Error, e).with_evidence(evidence)
                    }
                };
                match iptables::judge(&text6, "ip6tables") {
                    Ok(v) => fam.v6 = v.deny,
                    Err(e) => {
                        return CheckResult::new(
                            ID,
                            Status::Error,
                            format!("could not parse `{save6}`: {e}"),
                        )
                        .with_evidence(evidence)
                    }
                }
                fam.chains.push("ip6tables filter/INPUT".into());
            }
            sources.push(fam);
        }
    }
    if tools.is_empty() {
        return CheckResult::new(
            ID,
            Status::Fail,
            "no packet-filter tool is installed (neither nft nor iptables-save): this host runs no managed firewall",
        );
    }

    // IPv6 needs judging unless the kernel has it disabled (or not built in).
    let ipv6 = match probe.read_string(DISABLE_IPV6) {
        Ok(t) => t.trim() != "1",
        Err(e) if e.is_not_found() => false,
        Err(e) => {
            return crate::probe_error(ID, &format!("read {DISABLE_IPV6}"), &e)
                .with_evidence(evidence)
        }
    };

    // Front ends: what they are configured to do.
    let mut managers: Vec<String> = Vec::new();
    match ufw(probe, &mut evidence) {
        Ok(Some(m)) => managers.push(m),
        Ok(None) => {}
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    }
    match firewalld(probe, &mut evidence) {
        Ok(Some(m)) => managers.push(m),
        Ok(None) => {}
        Err(e) => return CheckResult::new(ID, Status::Error, e).with_evidence(evidence),
    }

    let v4 = sources.iter().find_map(|s| s.v4.clone());
    let v6 = sources.iter().find_map(|s| s.v6.clone());
    let chains: Vec<String> = sources.iter().flat_map(|s| s.chains.clone()).collect();
    let mut missing = Vec::new();
    if v4.is_none() {
        missing.push("IPv4");
    }
    if ipv6 && v6.is_none() {
        missing.push("IPv6");
    }
    let managers_note = if managers.is_empty() {
        String::new()
    } else {
        format!("; managers: {}", managers.join(", "))
    };
    let mut result = if missing.is_empty() {
        let mut srcs = vec![v4.clone().unwrap_or_default()];
        if let Some(v6) = v6.clone().filter(|v| ipv6 && Some(v) != v4.as_ref()) {
            srcs.push(v6);
        }
        let src = srcs.join("; ");
        if managers.len() > 1 {
            CheckResult::new(
                ID,
                Status::Warn,
                format!("inbound is denied by default ({src}), but more than one firewall manager is active{managers_note}: they overwrite each other's rules, keep one"),
            )
        } else {
            CheckResult::new(
                ID,
                Status::Pass,
                format!("inbound is denied by default: {src}{managers_note}"),
            )
        }
    } else {
        let seen = if chains.is_empty() {
            "no input filter chain is loaded".to_string()
        } else {
            format!("input chains seen: {}", chains.join(", "))
        };
        let denied = match (&v4, v6.as_ref().filter(|_| ipv6)) {
            (Some(d), None) => format!("; IPv4 is denied by {d}"),
            (None, Some(d)) => format!("; IPv6 is denied by {d}"),
            _ => String::new(),
        };
        CheckResult::new(
            ID,
            Status::Fail,
            format!(
                "{} inbound traffic is not denied by default: {seen}{denied}{managers_note}",
                missing.join(" and ")
            ),
        )
    };
    result = result
        .fact("tools", tools)
        .fact("iptables_legacy", legacy)
        .fact("ipv6_enabled", ipv6)
        .fact("managers", managers)
        .fact("ipv4_deny", v4)
        .fact("ipv6_deny", v6);
    result.with_evidence(evidence)
}

/// ufw: `Some("ufw (enabled, default input DROP)")` when enabled, `None` when not installed or off.
fn ufw(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Option<String>, String> {
    let (conf, ev) = match probe.read_evidence(UFW_CONF) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(format!("could not read {UFW_CONF}: {e}")),
    };
    evidence.push(ev);
    let enabled = shell_var(&conf, "ENABLED");
    match enabled.as_deref() {
        Some("yes") => {}
        Some("no") | None => return Ok(None),
        Some(other) => {
            return Err(format!(
                "{UFW_CONF}: ENABLED={other:?} is neither yes nor no"
            ))
        }
    }
    let policy = match probe.read_evidence(UFW_DEFAULT) {
        Ok((t, ev)) => {
            evidence.push(ev);
            shell_var(&t, "DEFAULT_INPUT_POLICY").unwrap_or_else(|| "unset".into())
        }
        Err(e) if e.is_not_found() => "unset".into(),
        Err(e) => return Err(format!("could not read {UFW_DEFAULT}: {e}")),
    };
    Ok(Some(format!(
        "ufw (enabled, default input policy {policy})"
    )))
}

/// `KEY=value` or `KEY="value"` in a shell-style file, last one wins.
fn shell_var(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
        .next_back()
}

/// firewalld: `Some("firewalld (running, zone public, target default)")` when running.
fn firewalld(probe: &dyn Probe, evidence: &mut Vec<Evidence>) -> Result<Option<String>, String> {
    if !probe.exists(FIREWALL_CMD) {
        return Ok(None);
    }
    let argv = [FIREWALL_CMD, "--state"];
    let (out, ev) = probe
        .run_evidence(&argv)
        .map_err(|e| format!("could not run `{}`: {e}", argv.join(" ")))?;
    evidence.push(ev);
    // firewall-cmd --state prints "running" (exit 0) or "not running" (exit 252).
    match (out.exit_code, out.stdout_text().trim()) {
        (Some(0), "running") => {}
        (Some(252), "not running") => return Ok(None),
        (code, text) => {
            let code = code.map_or("signal".into(), |c| c.to_string());
            return Err(format!(
                "`{FIREWALL_CMD} --state` answered {text:?} (exit {code}), which Vigie does not recognise"
            ));
        }
    }
    let zone = run_cmd(probe, &[FIREWALL_CMD, "--get-default-zone"], evidence)?;
    let zone = zone.trim();
    if zone.is_empty()
        || !zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    {
        return Err(format!(
            "`{FIREWALL_CMD} --get-default-zone` printed {zone:?}, not a zone name"
        ));
    }
    let zone_arg = format!("--zone={zone}");
    let target = run_cmd(
        probe,
        &[FIREWALL_CMD, "--permanent", &zone_arg, "--get-target"],
        evidence,
    )?;
    Ok(Some(format!(
        "firewalld (running, default zone {zone}, target {})",
        target.trim()
    )))
}
