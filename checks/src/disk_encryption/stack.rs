//! Judging one volume: walk its storage stack down to the disks and decide whether every path to
//! the disk passes through encryption (dm-crypt or ZFS native encryption) or stays in RAM.
//!
//! A node is protected when it is a dm-crypt layer, or when it is built on lower devices that are
//! all protected. A logical volume spanning one LUKS PV and one clear PV is therefore *not*
//! encrypted. A loop device and a swap file are judged by the filesystem holding their file.

use std::collections::{BTreeMap, BTreeSet};

use super::mountinfo::Mount;
use super::sysfs::{DmKind, NodeKind, Sysfs};
use super::zfs::ZfsEncryption;

/// How far down a stack may go before it is treated as a loop in the graph.
const MAX_DEPTH: usize = 16;

/// What protects a volume's data at rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// Encrypted on every path to the disk; the methods found (`LUKS2`, `ZFS native (aes-256-gcm)`).
    Encrypted(BTreeSet<String>),
    /// Never reaches a disk (zram, tmpfs).
    Ram,
    /// Some path reaches a disk in the clear.
    Clear,
}

impl Protection {
    /// Whether the data is safe at rest (encrypted or RAM only).
    pub fn is_protected(&self) -> bool {
        !matches!(self, Protection::Clear)
    }

    /// The method for the report: `LUKS2`, `RAM`, or `None` when in the clear.
    pub fn method(&self) -> Option<String> {
        match self {
            Protection::Encrypted(m) => Some(m.iter().cloned().collect::<Vec<_>>().join(" + ")),
            Protection::Ram => Some("RAM".into()),
            Protection::Clear => None,
        }
    }

    fn all_of(parts: Vec<Protection>) -> Protection {
        let mut methods = BTreeSet::new();
        for p in parts {
            match p {
                Protection::Clear => return Protection::Clear,
                Protection::Ram => {}
                Protection::Encrypted(m) => methods.extend(m),
            }
        }
        if methods.is_empty() {
            Protection::Ram
        } else {
            Protection::Encrypted(methods)
        }
    }
}

/// The verdict on one volume: its stack from the top down and what protects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Device name of the top of the stack (`dm-1`), or the dataset for ZFS.
    pub device: String,
    /// Layers from the top down, depth first: `["dm-1 (LVM vg0-root)", "dm-0 (LUKS2 …)", "nvme0n1p3", "nvme0n1"]`.
    pub stack: Vec<String>,
    pub protection: Protection,
}

/// How a filesystem type relates to disks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsClass {
    /// On a block device: walk its stack.
    Block,
    /// A read-only image filesystem (squashfs, erofs, iso9660). Loop-mounted from a file on a
    /// judged mount (snaps, images) it is skipped, the file being judged with that mount; on a
    /// block device (an appliance partition, dm-verity) its stack is walked like any other.
    Image,
    /// A ZFS dataset: native encryption decides.
    Zfs,
    /// Kernel interfaces (proc, sysfs, cgroup …): nothing to judge, not listed.
    Virtual,
    /// Skipped with the reason given.
    Skipped(&'static str),
}

const VIRTUAL: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "debugfs",
    "tracefs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "autofs",
    "binfmt_misc",
    "efivarfs",
    "rpc_pipefs",
    "nsfs",
    "selinuxfs",
    "binder",
    "nfsd",
    "pipefs",
    "sockfs",
];
const RAM: &[&str] = &["tmpfs", "ramfs", "rootfs"];
const OVERLAY: &[&str] = &["overlay", "aufs"];
const NETWORK: &[&str] = &[
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "virtiofs",
    "afs",
    "lustre",
    "davfs",
    "ncpfs",
];
const IMAGE: &[&str] = &["squashfs", "erofs", "iso9660"];

/// Classify a mount by its filesystem type (and, for types without a device, its source).
pub fn fs_class(m: &Mount) -> FsClass {
    let t = m.fstype.as_str();
    if t == "zfs" {
        FsClass::Zfs
    } else if VIRTUAL.contains(&t) {
        FsClass::Virtual
    } else if RAM.contains(&t) {
        FsClass::Skipped("RAM-backed (nothing at rest)")
    } else if OVERLAY.contains(&t) {
        FsClass::Skipped("overlay: its layers live on other mounts, judged there")
    } else if NETWORK.contains(&t) {
        FsClass::Skipped("network or host-shared filesystem: judge the server that stores it")
    } else if t == "ecryptfs" {
        FsClass::Skipped("directory-level encryption (eCryptfs), not volume encryption")
    } else if t == "fuse" || t.starts_with("fuse.") {
        FsClass::Skipped("FUSE filesystem without a block device: judge where its data lives")
    } else if IMAGE.contains(&t) && (m.major != 0 || m.source.starts_with("/dev/")) {
        FsClass::Image
    } else if m.major == 0 && !m.source.starts_with("/dev/") {
        FsClass::Skipped("no block device behind it")
    } else {
        FsClass::Block
    }
}

/// Decides volumes against the host's block devices, mounts and ZFS datasets.
pub struct Judge<'a> {
    pub sysfs: &'a Sysfs<'a>,
    /// The visible mounts, for finding the filesystem that holds a file.
    pub mounts: &'a [Mount],
    /// ZFS dataset states, read only when a ZFS filesystem is mounted.
    pub zfs: Option<&'a BTreeMap<String, ZfsEncryption>>,
}

impl Judge<'_> {
    /// Judge a mounted filesystem.
    pub fn mount(&self, m: &Mount) -> Result<Verdict, String> {
        self.mount_at(m, 0)
    }

    /// Judge a file (swap file, loop image) by the filesystem that holds it; also returns that
    /// filesystem's mount point.
    pub fn file(&self, path: &str) -> Result<(Verdict, String), String> {
        self.file_at(path, 0)
    }

    /// Judge a block device by name.
    pub fn device(&self, name: &str) -> Result<Verdict, String> {
        self.device_at(name, 0)
    }

    fn mount_at(&self, m: &Mount, depth: usize) -> Result<Verdict, String> {
        match fs_class(m) {
            FsClass::Zfs => {
                let zfs = self.zfs.ok_or("ZFS dataset states were not read")?;
                let ds = zfs.get(&m.source).ok_or_else(|| {
                    format!(
                        "ZFS dataset {} (mounted on {}) is not in the `zfs get` output",
                        m.source, m.mount_point
                    )
                })?;
                let protection = if ds.is_encrypted() {
                    Protection::Encrypted(BTreeSet::from([format!(
                        "ZFS native ({})",
                        ds.encryption
                    )]))
                } else {
                    Protection::Clear
                };
                Ok(Verdict {
                    device: m.source.clone(),
                    stack: vec![format!(
                        "{} (ZFS dataset, encryption={})",
                        m.source, ds.encryption
                    )],
                    protection,
                })
            }
            FsClass::Skipped(_) if RAM.contains(&m.fstype.as_str()) => Ok(Verdict {
                device: m.source.clone(),
                stack: vec![format!("{} (RAM)", m.fstype)],
                protection: Protection::Ram,
            }),
            FsClass::Block | FsClass::Image => {
                let name = self.mount_device(m)?;
                self.device_at(&name, depth)
            }
            FsClass::Virtual | FsClass::Skipped(_) => Err(format!(
                "{} is {} ({}), which has no local block device",
                m.mount_point, m.fstype, m.source
            )),
        }
    }

    /// For a read-only image loop-mounted from a file that lies on a judged mount (a snap, an
    /// ISO): the backing file and the mount point holding it. `None` when the image sits on a
    /// block device — or its loop file on a mount that is not judged — so it must be judged itself.
    pub fn image_file(&self, m: &Mount) -> Option<(String, String)> {
        if fs_class(m) != FsClass::Image {
            return None;
        }
        let name = self.mount_device(m).ok()?;
        let NodeKind::Loop { backing_file } = self.sysfs.node(&name).ok()?.kind else {
            return None;
        };
        let holder = self.holder(&backing_file)?;
        matches!(fs_class(holder), FsClass::Block | FsClass::Zfs)
            .then(|| (backing_file.clone(), holder.mount_point.clone()))
    }

    /// The mount holding `path`: the one with the longest mount point above it.
    fn holder(&self, path: &str) -> Option<&Mount> {
        self.mounts
            .iter()
            .filter(|m| is_under(path, &m.mount_point))
            .max_by_key(|m| m.mount_point.len())
    }

    /// The device name behind a block-backed mount: by its device number, or by its `/dev`
    /// source when the number is anonymous (btrfs shows `0:N`).
    pub fn mount_device(&self, m: &Mount) -> Result<String, String> {
        if m.major != 0 {
            return self
                .sysfs
                .by_devno(m.major, m.minor)
                .map(str::to_string)
                .ok_or_else(|| {
                    format!(
                        "{} on {}: no device numbered {}:{} in /sys/class/block",
                        m.mount_point, m.source, m.major, m.minor
                    )
                });
        }
        self.sysfs
            .resolve_dev_path(&m.source)
            .map_err(|e| format!("{} on {}: {e}", m.mount_point, m.source))
    }

    fn file_at(&self, path: &str, depth: usize) -> Result<(Verdict, String), String> {
        let holder = self
            .holder(path)
            .ok_or_else(|| format!("no mounted filesystem holds {path}"))?;
        let v = self
            .mount_at(holder, depth + 1)
            .map_err(|e| format!("{path}: {e}"))?;
        Ok((v, holder.mount_point.clone()))
    }

    fn device_at(&self, name: &str, depth: usize) -> Result<Verdict, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "the stack under {name} is deeper than {MAX_DEPTH} layers (a cycle?)"
            ));
        }
        let node = self.sysfs.node(name)?;
        let mut stack = vec![node.label()];
        let own = match &node.kind {
            NodeKind::Dm {
                kind: DmKind::Crypt(method),
                ..
            } => Some(Protection::Encrypted(BTreeSet::from([method.to_string()]))),
            NodeKind::Zram => Some(Protection::Ram),
            NodeKind::Loop { backing_file } => {
                let (v, on) = self.file_at(backing_file, depth)?;
                stack[0] = format!("{} on {on}", stack[0]);
                stack.extend(v.stack);
                Some(v.protection)
            }
            _ => None,
        };
        let mut lower = Vec::new();
        for l in &node.lowers {
            let v = self.device_at(l, depth + 1)?;
            stack.extend(v.stack);
            lower.push(v.protection);
        }
        let protection = match own {
            Some(p) => p,
            None if lower.is_empty() => Protection::Clear,
            None => Protection::all_of(lower),
        };
        Ok(Verdict {
            device: name.to_string(),
            stack,
            protection,
        })
    }
}

/// Whether `path` is `dir` or below it, component-wise.
fn is_under(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(fstype: &str, major: u32, source: &str) -> Mount {
        Mount {
            major,
            minor: 1,
            root: "/".into(),
            mount_point: "/x".into(),
            fstype: fstype.into(),
            source: source.into(),
        }
    }

    #[test]
    fn filesystems_are_classified() {
        assert_eq!(fs_class(&mount("ext4", 254, "/dev/vda")), FsClass::Block);
        assert_eq!(
            fs_class(&mount("btrfs", 0, "/dev/mapper/luks-1")),
            FsClass::Block
        );
        assert_eq!(
            fs_class(&mount("zfs", 0, "rpool/ROOT/debian")),
            FsClass::Zfs
        );
        assert_eq!(fs_class(&mount("cgroup2", 0, "cgroup2")), FsClass::Virtual);
        assert!(
            matches!(fs_class(&mount("tmpfs", 0, "tmpfs")), FsClass::Skipped(r) if r.starts_with("RAM"))
        );
        assert!(
            matches!(fs_class(&mount("fuse.sshfs", 0, "me@host:")), FsClass::Skipped(r) if r.starts_with("FUSE"))
        );
        assert!(
            matches!(fs_class(&mount("nfs4", 0, "nas:/export")), FsClass::Skipped(r) if r.starts_with("network"))
        );
        // Read-only images are not exempt by type: where they come from decides.
        assert_eq!(
            fs_class(&mount("squashfs", 7, "/dev/loop0")),
            FsClass::Image
        );
        assert_eq!(fs_class(&mount("erofs", 8, "/dev/sda4")), FsClass::Image);
        assert!(matches!(
            fs_class(&mount("squashfs", 0, "squashfuse")),
            FsClass::Skipped(_)
        ));
        assert!(matches!(
            fs_class(&mount("somethingfs", 0, "none")),
            FsClass::Skipped(_)
        ));
        // fuseblk (ntfs-3g) sits on a real block device.
        assert_eq!(fs_class(&mount("fuseblk", 8, "/dev/sdb1")), FsClass::Block);
    }

    #[test]
    fn protection_needs_every_lower_path() {
        let luks = || Protection::Encrypted(BTreeSet::from(["LUKS2".to_string()]));
        assert_eq!(Protection::all_of(vec![luks(), luks()]), luks());
        assert_eq!(
            Protection::all_of(vec![luks(), Protection::Clear]),
            Protection::Clear
        );
        assert_eq!(Protection::all_of(vec![Protection::Ram]), Protection::Ram);
        assert_eq!(
            Protection::all_of(vec![luks(), Protection::Ram])
                .method()
                .unwrap(),
            "LUKS2"
        );
        assert_eq!(Protection::Clear.method(), None);
    }

    #[test]
    fn paths_are_matched_by_component() {
        assert!(is_under("/swapfile", "/"));
        assert!(is_under("/var/swap", "/var"));
        assert!(!is_under("/variable/swap", "/var"));
        assert!(is_under("/var", "/var"));
    }
}
