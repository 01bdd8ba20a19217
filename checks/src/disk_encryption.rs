//! disk_encryption check: is every persistent volume of the host — `/`, `/home`, `/var`, every
//! other mounted disk filesystem and every swap area — encrypted at rest?
//!
//! The mounts come from `/proc/self/mountinfo`, swap from `/proc/swaps`; each volume's storage
//! stack is walked down through sysfs (device-mapper, LVM, md-raid, partitions, loop files) and is
//! encrypted when every path to a disk crosses a dm-crypt layer (LUKS1/2, plain, BitLocker,
//! TrueCrypt — not verity or integrity), or when ZFS native encryption is on for the dataset.
//! RAM-backed volumes (tmpfs, zram) need none. `fail` names every volume in the clear; a volume
//! that cannot be resolved is `error`, never `pass`; a host whose `/` is not on a local block
//! device or ZFS (a container, a diskless host) is `not_applicable`.

mod bitlocker;
mod filevault;
mod mountinfo;
mod stack;
mod swaps;
mod sysfs;
mod zfs;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{CheckResult, Context, Evidence, Platform, Probe, ProbeError, Status};
use mountinfo::{parse_mountinfo, Mount};
use stack::{fs_class, FsClass, Judge, Verdict};
use swaps::{parse_swaps, SwapKind};
use sysfs::Sysfs;
use zfs::{parse_zfs_get, ZfsEncryption};

const MOUNTINFO: &str = "/proc/self/mountinfo";
const SWAPS: &str = "/proc/swaps";
/// Where `zfs` lives: `/usr/sbin` on Debian, Ubuntu and RHEL builds, `/sbin` on older layouts.
const ZFS_PROGRAMS: [&str; 2] = ["/usr/sbin/zfs", "/sbin/zfs"];
const ZFS_ARGS: [&str; 7] = [
    "get",
    "-H",
    "-o",
    "name,property,value",
    "-t",
    "filesystem",
    "encryption,keystatus",
];
/// How many volumes a summary names before it abbreviates.
const SUMMARY_NAMES: usize = 8;

/// Settings of the disk_encryption check (`[checks.disk_encryption]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskEncryptionConfig {
    /// Mount points that are not judged: exact mount points, or `<dir>/*` for every mount below
    /// `<dir>`. Default: the boot partitions (`/boot`, `/boot/efi`, `/efi`), which the firmware and
    /// bootloader must read in the clear; set `[]` to require them encrypted too. `/` cannot be
    /// ignored.
    pub ignore_mounts: Vec<String>,
    /// Whether swap areas must be encrypted (or RAM-backed, like zram). Default `true`: swap holds
    /// copies of any memory, keys and passwords included. With `false`, unencrypted swap is still
    /// listed in the facts and the summary but does not fail the check.
    pub require_swap_encryption: bool,
    /// macOS only: whether volumes on external disks (`diskutil list external`) are judged.
    /// `ignore` (default) names them in the summary without judging them; `judge` fails the check
    /// for an external APFS volume without encryption or an HFS+ partition. On Linux removable media
    /// are mounts like any other (see `ignore_mounts`).
    pub removable_media: RemovableMedia,
}

/// `checks.disk_encryption.removable_media`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovableMedia {
    #[default]
    Ignore,
    Judge,
}

impl Default for DiskEncryptionConfig {
    fn default() -> Self {
        DiskEncryptionConfig {
            ignore_mounts: vec!["/boot".into(), "/boot/efi".into(), "/efi".into()],
            require_swap_encryption: true,
            removable_media: RemovableMedia::Ignore,
        }
    }
}

impl DiskEncryptionConfig {
    /// Validate the mount patterns; errors name the key.
    pub fn validate(&self) -> Result<(), String> {
        for m in &self.ignore_mounts {
            let dir = m.strip_suffix("/*").unwrap_or(m);
            let bad = if !m.starts_with('/') {
                Some("is not an absolute mount point")
            } else if dir.contains('*') {
                Some("may only use `*` as a final `/*` (every mount below a directory)")
            } else if dir.is_empty() || dir == "/" {
                Some("would ignore the root filesystem, which this check exists to judge")
            } else if dir.split('/').any(|c| c == "..") {
                Some("must not contain `..`")
            } else {
                None
            };
            if let Some(why) = bad {
                return Err(format!(
                    "checks.disk_encryption.ignore_mounts: {m:?} {why}; give mount points such as \"/boot\" or \"/media/*\""
                ));
            }
        }
        Ok(())
    }

    fn ignores(&self, mount_point: &str) -> bool {
        self.ignore_mounts
            .iter()
            .any(|pat| match pat.strip_suffix("/*") {
                Some(dir) => mount_point
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/')),
                None => pat == mount_point,
            })
    }
}

/// The disk_encryption check.
pub struct DiskEncryption;

impl crate::Check for DiskEncryption {
    fn id(&self) -> &'static str {
        "disk_encryption"
    }
    fn title(&self) -> &'static str {
        "Disk encryption at rest"
    }
    fn label(&self) -> crate::Label {
        crate::Label {
            fr: "Chiffrement des disques",
            en: "Disk encryption",
        }
    }
    fn safeguards(&self) -> &'static [&'static str] {
        &["3.6", "3.11"]
    }

    fn run(&self, ctx: &Context) -> CheckResult {
        match ctx.probe.platform() {
            Platform::Linux => {}
            Platform::Macos => return filevault::run(ctx),
            Platform::Windows => return bitlocker::run(ctx),
        }
        let id = self.id();
        let cfg = &ctx.config.disk_encryption;
        let (text, mountinfo_ev) = match ctx.probe.read_evidence(MOUNTINFO) {
            Ok(r) => r,
            Err(e) => return crate::probe_error(id, &format!("read {MOUNTINFO}"), &e),
        };
        let all = match parse_mountinfo(&text) {
            Ok(m) => m,
            Err(e) => {
                return CheckResult::new(
                    id,
                    Status::Error,
                    format!("could not parse {MOUNTINFO}: {e}"),
                )
                .with_evidence(vec![mountinfo_ev])
            }
        };
        let mounts = visible_mounts(all);
        let mut evidence = vec![mountinfo_ev];
        let Some(root) = mounts.iter().find(|m| m.mount_point == "/") else {
            return CheckResult::new(
                id,
                Status::Error,
                format!("{MOUNTINFO} lists no mount for /"),
            )
            .with_evidence(evidence);
        };
        let sysfs = match Sysfs::scan(ctx.probe) {
            Ok(s) => s,
            Err(e) => {
                return CheckResult::new(
                    id,
                    Status::Error,
                    format!("could not index block devices: {e}"),
                )
                .with_evidence(evidence)
            }
        };
        if let Some(reason) = not_applicable(root, &sysfs) {
            return CheckResult::new(id, Status::NotApplicable, reason)
                .fact("root_fstype", root.fstype.clone())
                .fact("root_source", root.source.clone())
                .fact("block_devices", sysfs.len())
                .with_evidence(evidence);
        }

        let mut report = Report::default();
        let zfs_mounted: Vec<&Mount> = mounts
            .iter()
            .filter(|m| fs_class(m) == FsClass::Zfs && !cfg.ignores(&m.mount_point))
            .collect();
        let zfs_state = if zfs_mounted.is_empty() {
            None
        } else {
            match read_zfs(ctx.probe) {
                Ok((state, ev)) => {
                    evidence.push(ev);
                    Some(state)
                }
                Err(e) => {
                    let datasets: Vec<&str> =
                        zfs_mounted.iter().map(|m| m.source.as_str()).collect();
                    report
                        .undetermined
                        .push(format!("ZFS datasets {}: {e}", datasets.join(", ")));
                    None
                }
            }
        };
        let judge = Judge {
            sysfs: &sysfs,
            mounts: &mounts,
            zfs: zfs_state.as_ref(),
        };

        for m in &mounts {
            let class = fs_class(m);
            if class == FsClass::Virtual {
                report.virtual_mounts += 1;
                continue;
            }
            let skip = if cfg.ignores(&m.mount_point) {
                Some("ignored by checks.disk_encryption.ignore_mounts".to_string())
            } else if let FsClass::Skipped(reason) = class {
                Some(reason.to_string())
            } else {
                // Only a judged holder covers the image: one on an ignored mount is judged itself.
                judge
                    .image_file(m)
                    .filter(|(_, on)| !cfg.ignores(on))
                    .map(|(file, on)| {
                        format!(
                            "read-only image loop-mounted from {file}, a file on {on} (judged there)"
                        )
                    })
            };
            if let Some(reason) = skip {
                report
                    .skipped
                    .push(json!({"mount": m.mount_point, "fstype": m.fstype, "reason": reason}));
                continue;
            }
            if class == FsClass::Zfs && zfs_state.is_none() {
                continue; // already counted as undetermined above
            }
            match judge.mount(m) {
                Ok(v) => report.volume(m, v),
                Err(e) => report.undetermined.push(e),
            }
        }

        match ctx.probe.read_evidence(SWAPS) {
            Ok((text, ev)) => {
                evidence.push(ev);
                match parse_swaps(&text) {
                    Ok(swaps) => {
                        for s in swaps {
                            let judged = match s.kind {
                                SwapKind::Partition => sysfs
                                    .resolve_dev_path(&s.filename)
                                    .and_then(|name| judge.device(&name))
                                    .map(|v| (v, None)),
                                SwapKind::File => {
                                    judge.file(&s.filename).map(|(v, on)| (v, Some(on)))
                                }
                            };
                            match judged {
                                Ok((v, on)) => report.swap(
                                    &s.filename,
                                    &s.kind,
                                    v,
                                    on,
                                    cfg.require_swap_encryption,
                                ),
                                Err(e) => report
                                    .undetermined
                                    .push(format!("swap {}: {e}", s.filename)),
                            }
                        }
                    }
                    Err(e) => report
                        .undetermined
                        .push(format!("could not parse {SWAPS}: {e}")),
                }
            }
            // Kernels built without swap support have no /proc/swaps: no swap.
            Err(ProbeError::NotFound { .. }) => {}
            Err(e) => report.undetermined.push(format!("could not read {e}")),
        }

        evidence.extend(sysfs.evidence());
        report
            .finish(id, cfg.require_swap_encryption)
            .with_evidence(evidence)
    }
}

/// The mounts a process can see: when a mount point is mounted over, only the last one counts.
fn visible_mounts(all: Vec<Mount>) -> Vec<Mount> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out: Vec<Mount> = all
        .into_iter()
        .rev()
        .filter(|m| seen.insert(m.mount_point.clone()))
        .collect();
    out.reverse();
    out
}

/// Why the host has nothing to judge: `/` is not on a local block device or ZFS dataset (a
/// container's overlay, a diskless host's network root), or no block device is visible at all.
fn not_applicable(root: &Mount, sysfs: &Sysfs) -> Option<String> {
    match fs_class(root) {
        FsClass::Zfs => None,
        FsClass::Block | FsClass::Image if !sysfs.is_empty() => None,
        FsClass::Block | FsClass::Image => Some(format!(
            "no block device is visible in /sys/class/block although / is {} on {}: a container; judge disk encryption on the host that stores its data",
            root.fstype, root.source
        )),
        FsClass::Virtual | FsClass::Skipped(_) => Some(format!(
            "/ is {} ({}), not a local disk filesystem, and {} block device(s) are visible: a container or diskless host; judge disk encryption on the host that stores its data",
            root.fstype,
            root.source,
            sysfs.len()
        )),
    }
}

/// Run `zfs get` (trying both usual paths) and parse it.
fn read_zfs(probe: &dyn Probe) -> Result<(BTreeMap<String, ZfsEncryption>, Evidence), String> {
    for program in ZFS_PROGRAMS {
        let mut argv = vec![program];
        argv.extend(ZFS_ARGS);
        match probe.run_evidence(&argv) {
            Ok((out, ev)) => {
                if out.exit_code != Some(0) {
                    return Err(format!(
                        "`{}` failed (exit {}): {}",
                        argv.join(" "),
                        out.exit_code.map_or("signal".into(), |c| c.to_string()),
                        out.stderr_text()
                    ));
                }
                return parse_zfs_get(&out.stdout_text())
                    .map(|state| (state, ev))
                    .map_err(|e| format!("could not parse `{}`: {e}", argv.join(" ")));
            }
            Err(ProbeError::CommandNotFound { .. }) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!(
        "ZFS is mounted but no zfs command was found (looked for {})",
        ZFS_PROGRAMS.join(" and ")
    ))
}

/// What the check found, gathered while walking mounts and swaps.
#[derive(Default)]
struct Report {
    volumes: Vec<Value>,
    swaps: Vec<Value>,
    skipped: Vec<Value>,
    virtual_mounts: usize,
    /// Names of volumes in the clear that fail the check.
    unencrypted: Vec<String>,
    /// Names of protected volumes, with their method, for the passing summary.
    protected: Vec<String>,
    /// Unencrypted swap allowed by `require_swap_encryption = false`.
    tolerated: Vec<String>,
    undetermined: Vec<String>,
}

impl Report {
    fn volume(&mut self, m: &Mount, v: Verdict) {
        let label = if fs_class(m) == FsClass::Zfs {
            format!("{} on {} (ZFS)", m.mount_point, m.source)
        } else if m.source == format!("/dev/{}", v.device) {
            format!("{} on {}", m.mount_point, m.source)
        } else {
            format!("{} on {} ({})", m.mount_point, m.source, v.device)
        };
        let method = v.protection.method();
        match &method {
            Some(how) => self.protected.push(format!("{} ({how})", m.mount_point)),
            None => self.unencrypted.push(label),
        }
        let mut fact = json!({
            "mount": m.mount_point,
            "fstype": m.fstype,
            "source": m.source,
            "device": v.device,
            "stack": v.stack,
            "encrypted": v.protection.is_protected(),
        });
        if let Some(how) = method {
            fact["method"] = how.into();
        }
        self.volumes.push(fact);
    }

    fn swap(
        &mut self,
        filename: &str,
        kind: &SwapKind,
        v: Verdict,
        on: Option<String>,
        required: bool,
    ) {
        let label = match &on {
            Some(mount) => format!("swap file {filename} (on {mount})"),
            None if filename == format!("/dev/{}", v.device) => format!("swap {filename}"),
            None => format!("swap {filename} ({})", v.device),
        };
        let method = v.protection.method();
        match &method {
            Some(how) => self.protected.push(format!("swap {filename} ({how})")),
            None if required => self.unencrypted.push(label),
            None => self.tolerated.push(label),
        }
        let mut fact = json!({
            "swap": filename,
            "type": match kind { SwapKind::Partition => "partition", SwapKind::File => "file" },
            "device": v.device,
            "stack": v.stack,
            "encrypted": v.protection.is_protected(),
        });
        if let Some(how) = method {
            fact["method"] = how.into();
        }
        if let Some(mount) = on {
            fact["on_mount"] = mount.into();
        }
        self.swaps.push(fact);
    }

    fn finish(self, id: &str, swap_required: bool) -> CheckResult {
        let (status, mut summary) = if !self.unencrypted.is_empty() {
            (
                Status::Fail,
                format!("unencrypted: {}", names(&self.unencrypted)),
            )
        } else if !self.undetermined.is_empty() {
            (
                Status::Error,
                format!(
                    "could not determine encryption: {}",
                    self.undetermined.join("; ")
                ),
            )
        } else {
            (
                Status::Pass,
                format!(
                    "all {} volume(s) encrypted or in RAM: {}",
                    self.protected.len(),
                    names(&self.protected)
                ),
            )
        };
        if status == Status::Fail && !self.undetermined.is_empty() {
            summary.push_str(&format!(
                "; could not determine: {}",
                self.undetermined.join("; ")
            ));
        }
        if !self.tolerated.is_empty() {
            summary.push_str(&format!(
                "; unencrypted swap allowed by require_swap_encryption = false: {}",
                names(&self.tolerated)
            ));
        }
        if status == Status::Pass && self.swaps.is_empty() {
            summary.push_str("; no swap");
        }
        CheckResult::new(id, status, summary)
            .fact("volumes", self.volumes)
            .fact("swaps", self.swaps)
            .fact("skipped", self.skipped)
            .fact("virtual_mounts", self.virtual_mounts)
            .fact("unencrypted", self.unencrypted)
            .fact("undetermined", self.undetermined)
            .fact("swap_encryption_required", swap_required)
    }
}

/// `a, b, c` — or the first few and how many more.
fn names(list: &[String]) -> String {
    if list.len() <= SUMMARY_NAMES {
        list.join(", ")
    } else {
        format!(
            "{} and {} more",
            list[..SUMMARY_NAMES].join(", "),
            list.len() - SUMMARY_NAMES
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_ignore_boot_and_require_swap() {
        let c = DiskEncryptionConfig::default();
        assert!(c.require_swap_encryption);
        assert!(c.ignores("/boot") && c.ignores("/boot/efi") && c.ignores("/efi"));
        assert!(!c.ignores("/") && !c.ignores("/bootstrap"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn ignore_patterns_match_below_a_directory() {
        let c = DiskEncryptionConfig {
            ignore_mounts: vec!["/media/*".into()],
            require_swap_encryption: true,
            ..Default::default()
        };
        assert!(c.ignores("/media/usb"));
        assert!(c.ignores("/media/usb/inner"));
        assert!(!c.ignores("/media"));
        assert!(!c.ignores("/mediaX/usb"));
    }

    #[test]
    fn validate_names_the_key_and_refuses_root() {
        for bad in ["boot", "/", "/*", "/a*b", "/srv/../"] {
            let c = DiskEncryptionConfig {
                ignore_mounts: vec![bad.into()],
                require_swap_encryption: true,
                ..Default::default()
            };
            let err = c.validate().unwrap_err();
            assert!(
                err.starts_with("checks.disk_encryption.ignore_mounts:"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn overmounted_points_keep_the_last_mount() {
        let m = |mp: &str, fs: &str| Mount {
            major: 0,
            minor: 1,
            root: "/".into(),
            mount_point: mp.into(),
            fstype: fs.into(),
            source: "x".into(),
        };
        let v = visible_mounts(vec![m("/", "ext4"), m("/tmp", "ext4"), m("/tmp", "tmpfs")]);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].fstype, "tmpfs");
    }

    #[test]
    fn summary_names_are_abbreviated() {
        let list: Vec<String> = (0..10).map(|i| format!("/v{i}")).collect();
        assert!(names(&list).ends_with("/v7 and 2 more"));
    }
}
