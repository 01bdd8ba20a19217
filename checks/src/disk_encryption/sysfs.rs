//! The kernel's block-device graph as sysfs shows it under `/sys/class/block`: which name has which
//! `major:minor`, what each device is (device-mapper target, md array, partition, loop, zram, disk)
//! and which devices lie under it.
//!
//! Everything is read through the [`Probe`], so fixture hosts describe the graph with plain files:
//! `dev` holds `MAJ:MIN`, `slaves/<name>` may be empty files (sysfs has symlinks there, only the
//! names matter) and a partition's parent comes from the `/sys/class/block/<part>` link target or,
//! failing that, from the `<disk>/<part>/` directory.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::{Evidence, EvidenceKind, Probe, ProbeError};

/// Where the block devices are listed.
pub const CLASS_BLOCK: &str = "/sys/class/block";

/// What a device-mapper device is, from the prefix of its `dm/uuid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmKind {
    /// dm-crypt providing confidentiality; the method (`LUKS2`, `plain dm-crypt` …).
    Crypt(&'static str),
    /// dm-crypt's integrity-only or verity targets: no confidentiality.
    IntegrityOnly(&'static str),
    /// An LVM logical volume.
    Lvm,
    /// A multipath map.
    Multipath,
    /// Anything else (no uuid, `part1-`, `CRYPT-<unknown>` …), shown with its uuid prefix.
    Other(String),
}

/// Classify a `dm/uuid` (`CRYPT-LUKS2-<uuid>-<name>`, `LVM-<vg><lv>`, `mpath-<wwid>` …).
///
/// Prefixes follow cryptsetup's and LVM's naming; `CRYPT-VERITY-`/`CRYPT-INTEGRITY-` are
/// deliberately not encryption.
pub fn classify_dm_uuid(uuid: &str) -> DmKind {
    const CRYPT: [(&str, &str); 5] = [
        ("CRYPT-LUKS1-", "LUKS1"),
        ("CRYPT-LUKS2-", "LUKS2"),
        ("CRYPT-PLAIN-", "plain dm-crypt"),
        ("CRYPT-BITLK-", "BitLocker"),
        ("CRYPT-TCRYPT-", "TrueCrypt/VeraCrypt"),
    ];
    let uuid = uuid.trim();
    if let Some((_, method)) = CRYPT.iter().find(|(p, _)| uuid.starts_with(p)) {
        return DmKind::Crypt(method);
    }
    if uuid.starts_with("CRYPT-VERITY-") {
        return DmKind::IntegrityOnly("dm-verity");
    }
    if uuid.starts_with("CRYPT-INTEGRITY-") {
        return DmKind::IntegrityOnly("dm-integrity");
    }
    if uuid.starts_with("LVM-") {
        return DmKind::Lvm;
    }
    if uuid.starts_with("mpath-") {
        return DmKind::Multipath;
    }
    let prefix = uuid.split('-').next().unwrap_or("");
    DmKind::Other(if prefix.is_empty() {
        "dm".into()
    } else {
        prefix.to_string()
    })
}

/// What one block device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// A device-mapper device with its `dm/name`.
    Dm { kind: DmKind, name: String },
    /// An md-raid array with its `md/level` (`raid1`), empty when unreadable.
    Md { level: String },
    /// A partition; its parent is the only lower device.
    Partition,
    /// A loop device backed by a file (`loop/backing_file`).
    Loop { backing_file: String },
    /// A compressed RAM disk.
    Zram,
    /// A disk or any other device; stacked drivers (bcache …) list their lower devices as slaves.
    Disk,
}

/// One block device and the devices directly under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub kind: NodeKind,
    /// The devices this one is built on (`slaves/*`, or the parent disk of a partition).
    pub lowers: Vec<String>,
}

impl Node {
    /// How the node appears in a volume's stack: `dm-0 (LUKS2 cryptroot)`, `md0 (raid1)`, `vda`.
    pub fn label(&self) -> String {
        match &self.kind {
            NodeKind::Dm { kind, name } => {
                let what = match kind {
                    DmKind::Crypt(m) => m.to_string(),
                    DmKind::IntegrityOnly(m) => m.to_string(),
                    DmKind::Lvm => "LVM".into(),
                    DmKind::Multipath => "multipath".into(),
                    DmKind::Other(p) => p.clone(),
                };
                let what = if name.is_empty() {
                    what
                } else {
                    format!("{what} {name}")
                };
                // Verity and integrity targets come from cryptsetup too: say plainly what they are not.
                if matches!(kind, DmKind::IntegrityOnly(_)) {
                    format!("{} ({what}: integrity only, not encryption)", self.name)
                } else {
                    format!("{} ({what})", self.name)
                }
            }
            NodeKind::Md { level } if !level.is_empty() => format!("{} ({level})", self.name),
            NodeKind::Md { .. } => format!("{} (md)", self.name),
            NodeKind::Loop { backing_file } => format!("{} (file {backing_file})", self.name),
            NodeKind::Zram => format!("{} (RAM)", self.name),
            NodeKind::Partition | NodeKind::Disk => self.name.clone(),
        }
    }
}

/// The block devices of the host, indexed by device number.
pub struct Sysfs<'a> {
    probe: &'a dyn Probe,
    by_devno: BTreeMap<(u32, u32), String>,
    /// `name MAJ:MIN` lines, the evidence of the index.
    listing: String,
    evidence: RefCell<Vec<Evidence>>,
}

fn is_not_found(e: &ProbeError) -> bool {
    matches!(e, ProbeError::NotFound { .. })
}

impl<'a> Sysfs<'a> {
    /// Read every `/sys/class/block/*/dev`. A missing `/sys/class/block` is an empty graph (a
    /// container without sysfs); an unreadable one, or an unreadable or garbled `dev`, is an error.
    pub fn scan(probe: &'a dyn Probe) -> Result<Sysfs<'a>, String> {
        let names = match probe.read_dir(CLASS_BLOCK) {
            Ok(n) => n,
            Err(e) if is_not_found(&e) => Vec::new(),
            Err(e) => return Err(format!("cannot list {CLASS_BLOCK}: {e}")),
        };
        let mut by_devno = BTreeMap::new();
        let mut listing = String::new();
        for name in names {
            let path = format!("{CLASS_BLOCK}/{name}/dev");
            let text = probe
                .read_string(&path)
                .map_err(|e| format!("cannot read {e}"))?;
            let devno = text
                .trim()
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
                .ok_or_else(|| format!("{path} holds {:?}, not MAJ:MIN", text.trim()))?;
            listing.push_str(&format!("{name} {}:{}\n", devno.0, devno.1));
            by_devno.insert(devno, name);
        }
        Ok(Sysfs {
            probe,
            by_devno,
            listing,
            evidence: RefCell::new(Vec::new()),
        })
    }

    /// How many block devices are visible.
    pub fn len(&self) -> usize {
        self.by_devno.len()
    }

    /// Whether no block device is visible.
    pub fn is_empty(&self) -> bool {
        self.by_devno.is_empty()
    }

    /// The device with this number.
    pub fn by_devno(&self, major: u32, minor: u32) -> Option<&str> {
        self.by_devno.get(&(major, minor)).map(String::as_str)
    }

    fn has(&self, name: &str) -> bool {
        self.by_devno.values().any(|n| n == name)
    }

    /// Evidence: the device index plus every identity file a verdict rested on.
    pub fn evidence(&self) -> Vec<Evidence> {
        let mut ev = vec![Evidence::new(
            EvidenceKind::Directory,
            format!("{CLASS_BLOCK}/*/dev"),
            self.listing.as_bytes(),
        )];
        ev.extend(self.evidence.borrow().iter().cloned());
        ev
    }

    fn read_recorded(&self, path: &str) -> Result<String, ProbeError> {
        let (text, ev) = self.probe.read_evidence(path)?;
        let mut evs = self.evidence.borrow_mut();
        if !evs.iter().any(|e| e.source == ev.source) {
            evs.push(ev);
        }
        Ok(text.trim_end_matches('\n').to_string())
    }

    /// Resolve a `/dev/…` path (`/dev/vda1`, `/dev/mapper/vg0-root`, `/dev/vg0/swap`,
    /// `/dev/disk/by-uuid/…`) to a device name.
    pub fn resolve_dev_path(&self, path: &str) -> Result<String, String> {
        let rest = path
            .strip_prefix("/dev/")
            .ok_or_else(|| format!("{path} is not a /dev path"))?;
        if !rest.contains('/') && self.has(rest) {
            return Ok(rest.to_string());
        }
        if let Ok(target) = self.probe.read_link(path) {
            let base = target.rsplit('/').next().unwrap_or("");
            if self.has(base) {
                return Ok(base.to_string());
            }
        }
        if let Some(dm_name) = rest.strip_prefix("mapper/") {
            for name in self.by_devno.values().filter(|n| n.starts_with("dm-")) {
                let p = format!("{CLASS_BLOCK}/{name}/dm/name");
                if self
                    .probe
                    .read_string(&p)
                    .is_ok_and(|n| n.trim() == dm_name)
                {
                    return Ok(name.clone());
                }
            }
        }
        Err(format!("{path} matches no device in {CLASS_BLOCK}"))
    }

    /// Read what `name` is and what lies directly under it.
    pub fn node(&self, name: &str) -> Result<Node, String> {
        let base = format!("{CLASS_BLOCK}/{name}");
        if !self.has(name) {
            return Err(format!("{base} does not exist"));
        }
        let mut lowers = match self.probe.read_dir(&format!("{base}/slaves")) {
            Ok(l) => l,
            Err(e) if is_not_found(&e) => Vec::new(),
            Err(e) => return Err(format!("cannot list {e}")),
        };
        let kind = if self.probe.metadata(&format!("{base}/partition")).is_ok() {
            lowers.push(self.partition_parent(name)?);
            NodeKind::Partition
        } else if name.starts_with("dm-") {
            let uuid = self
                .read_recorded(&format!("{base}/dm/uuid"))
                .map_err(|e| format!("cannot read the device-mapper identity {e}"))?;
            let dm_name = self
                .read_recorded(&format!("{base}/dm/name"))
                .unwrap_or_default();
            NodeKind::Dm {
                kind: classify_dm_uuid(&uuid),
                name: dm_name,
            }
        } else if name.starts_with("md") {
            let level = self
                .probe
                .read_string(&format!("{base}/md/level"))
                .map(|l| l.trim().to_string())
                .unwrap_or_default();
            NodeKind::Md { level }
        } else if name.starts_with("loop") {
            let backing_file = self
                .read_recorded(&format!("{base}/loop/backing_file"))
                .map_err(|e| format!("cannot tell which file backs {name}: {e}"))?;
            NodeKind::Loop { backing_file }
        } else if name.starts_with("zram") {
            NodeKind::Zram
        } else {
            NodeKind::Disk
        };
        for l in &lowers {
            if !self.has(l) {
                return Err(format!("{name} lies on {l}, which is not in {CLASS_BLOCK}"));
            }
        }
        Ok(Node {
            name: name.to_string(),
            kind,
            lowers,
        })
    }

    /// The disk a partition belongs to: the directory above it in the link target of
    /// `/sys/class/block/<part>` (`../../devices/…/nvme0n1/nvme0n1p3`), else the disk whose
    /// directory holds `<part>/partition`.
    fn partition_parent(&self, part: &str) -> Result<String, String> {
        if let Ok(target) = self.probe.read_link(&format!("{CLASS_BLOCK}/{part}")) {
            let comps: Vec<&str> = target.trim_end_matches('/').rsplit('/').take(2).collect();
            if let [last, parent] = comps[..] {
                if last == part && self.has(parent) {
                    return Ok(parent.to_string());
                }
            }
        }
        self.by_devno
            .values()
            .find(|disk| {
                *disk != part
                    && self
                        .probe
                        .metadata(&format!("{CLASS_BLOCK}/{disk}/{part}/partition"))
                        .is_ok()
            })
            .cloned()
            .ok_or_else(|| format!("cannot find the disk that partition {part} belongs to"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dm_uuids_are_classified_by_prefix() {
        // Real uuid shapes: cryptsetup writes CRYPT-<TYPE>-<uuid without dashes>-<name>.
        assert_eq!(
            classify_dm_uuid("CRYPT-LUKS2-3f6a1c0e9b7d4e21a8c5f0d2b4e6a8c1-luks-3f6a1c0e-9b7d-4e21-a8c5-f0d2b4e6a8c1\n"),
            DmKind::Crypt("LUKS2")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-LUKS1-9a1b2c3d4e5f60718293a4b5c6d7e8f9-sda5_crypt"),
            DmKind::Crypt("LUKS1")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-PLAIN-cryptswap"),
            DmKind::Crypt("plain dm-crypt")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-BITLK-c0ffee-win"),
            DmKind::Crypt("BitLocker")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-TCRYPT-vc1"),
            DmKind::Crypt("TrueCrypt/VeraCrypt")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-VERITY-6e0d1b5a3c7f4e2d9b8a1c0f5e3d7b9a-root-verity"),
            DmKind::IntegrityOnly("dm-verity")
        );
        assert_eq!(
            classify_dm_uuid("CRYPT-INTEGRITY-7d2f-data_dif"),
            DmKind::IntegrityOnly("dm-integrity")
        );
        assert_eq!(
            classify_dm_uuid("LVM-Xb3kP0aQ1cR2dS3eT4fU5gV6hW7iX8jYk9Lm0Nn1Oo2Pp3Qq4Rr5Ss6Tt7Uu8Vv"),
            DmKind::Lvm
        );
        assert_eq!(
            classify_dm_uuid("mpath-3600508b400105e210000900000490000"),
            DmKind::Multipath
        );
        assert_eq!(classify_dm_uuid(""), DmKind::Other("dm".into()));
        assert_eq!(
            classify_dm_uuid("part1-mpath-3600"),
            DmKind::Other("part1".into())
        );
        // A look-alike that is not a cryptsetup prefix must not count as encryption.
        assert_eq!(
            classify_dm_uuid("CRYPTO-LUKS2-x"),
            DmKind::Other("CRYPTO".into())
        );
    }

    #[test]
    fn labels_name_the_layer() {
        let n = |name: &str, kind| Node {
            name: name.into(),
            kind,
            lowers: vec![],
        };
        assert_eq!(
            n(
                "dm-1",
                NodeKind::Dm {
                    kind: DmKind::Lvm,
                    name: "vg0-root".into()
                }
            )
            .label(),
            "dm-1 (LVM vg0-root)"
        );
        assert_eq!(
            n(
                "md0",
                NodeKind::Md {
                    level: "raid1".into()
                }
            )
            .label(),
            "md0 (raid1)"
        );
        assert_eq!(n("zram0", NodeKind::Zram).label(), "zram0 (RAM)");
        assert_eq!(n("vda", NodeKind::Disk).label(), "vda");
    }
}
