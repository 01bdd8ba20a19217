//! Parser for `/proc/self/mountinfo` (proc(5)): one line per mount of the reading process's mount
//! namespace, with the `major:minor` of the filesystem's device, its type and its source.

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Field 3: the device number of the filesystem (`0:N` for filesystems without a block device).
    pub major: u32,
    /// Minor half of field 3.
    pub minor: u32,
    /// Field 4: the directory of the filesystem that forms the root of this mount (`/` unless bind).
    pub root: String,
    /// Field 5: where it is mounted, octal escapes (`\040`) decoded.
    pub mount_point: String,
    /// Filesystem type after the ` - ` separator (`ext4`, `zfs`, `fuse.sshfs` …).
    pub fstype: String,
    /// Mount source after the type (`/dev/mapper/vg0-root`, `rpool/ROOT/debian`, `server:/export`).
    pub source: String,
}

/// Why a mountinfo text could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountinfoError {
    #[error("line {line}: {reason}: {text:?}")]
    Malformed {
        line: usize,
        reason: &'static str,
        text: String,
    },
    #[error("no mounts listed")]
    Empty,
}

/// Parse the whole of `/proc/self/mountinfo`.
///
/// Format: `36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
/// — a variable number of optional fields ends at the lone `-`.
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, MountinfoError> {
    let mut mounts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason| MountinfoError::Malformed {
            line: i + 1,
            reason,
            text: line.chars().take(120).collect(),
        };
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 10 {
            return Err(bad("fewer than 10 fields"));
        }
        if fields[0].parse::<u64>().is_err() || fields[1].parse::<u64>().is_err() {
            return Err(bad("mount ids are not numbers"));
        }
        let (major, minor) = fields[2]
            .split_once(':')
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .ok_or_else(|| bad("field 3 is not major:minor"))?;
        let sep = fields[6..]
            .iter()
            .position(|f| *f == "-")
            .map(|p| p + 6)
            .ok_or_else(|| bad("no ' - ' separator"))?;
        if fields.len() < sep + 3 {
            return Err(bad("no filesystem type and source after ' - '"));
        }
        if !fields[4].starts_with('/') {
            return Err(bad("mount point is not absolute"));
        }
        mounts.push(Mount {
            major,
            minor,
            root: unescape(fields[3]),
            mount_point: unescape(fields[4]),
            fstype: unescape(fields[sep + 1]),
            source: unescape(fields[sep + 2]),
        });
    }
    if mounts.is_empty() {
        return Err(MountinfoError::Empty);
    }
    Ok(mounts)
}

/// Decode the kernel's `\ooo` octal escapes (space, tab, newline and backslash are escaped).
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let oct = bytes.get(i + 1..i + 4);
        if bytes[i] == b'\\' {
            if let Some(&[a, b, c]) = oct {
                if [a, b, c]
                    .iter()
                    .all(|d| (b'0'..=b'3').contains(&a) && (b'0'..=b'7').contains(d))
                {
                    out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The first lines of this Debian 12 microVM's /proc/self/mountinfo (checks-reference §2.1 host).
    const MICROVM: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
";

    #[test]
    fn parses_a_real_microvm_mountinfo() {
        let m = parse_mountinfo(MICROVM).unwrap();
        assert_eq!(m.len(), 5);
        assert_eq!(
            m[3],
            Mount {
                major: 254,
                minor: 0,
                root: "/".into(),
                mount_point: "/".into(),
                fstype: "ext4".into(),
                source: "/dev/vda".into(),
            }
        );
        assert_eq!(
            (m[0].major, m[0].minor, m[0].fstype.as_str()),
            (0, 21, "proc")
        );
    }

    #[test]
    fn handles_optional_fields_escapes_and_zfs() {
        // proc(5) example with an optional field, a mount point with a space, a ZFS dataset.
        let text =
            "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    90 29 259:5 / /media/usb\\040stick rw,nosuid shared:45 - vfat /dev/sda1 rw\n\
                    41 1 0:45 / /srv/data rw,noatime shared:20 - zfs tank/data rw,xattr,posixacl\n";
        let m = parse_mountinfo(text).unwrap();
        assert_eq!(m[0].root, "/mnt1");
        assert_eq!(m[0].source, "/dev/root");
        assert_eq!(m[1].mount_point, "/media/usb stick");
        assert_eq!(
            (m[2].major, m[2].fstype.as_str(), m[2].source.as_str()),
            (0, "zfs", "tank/data")
        );
    }

    #[test]
    fn rejects_garbage_naming_the_line() {
        let err = parse_mountinfo("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\nhello world\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
        assert!(matches!(
            parse_mountinfo("27 1 x:y / / rw - ext4 /dev/vda rw\n"),
            Err(MountinfoError::Malformed {
                reason: "field 3 is not major:minor",
                ..
            })
        ));
        assert!(matches!(
            parse_mountinfo("27 1 8:1 / / rw shared:1 master:2 ext4 /dev/vda rw\n"),
            Err(MountinfoError::Malformed {
                reason: "no ' - ' separator",
                ..
            })
        ));
        assert_eq!(parse_mountinfo("\n"), Err(MountinfoError::Empty));
    }

    #[test]
    fn unescape_decodes_only_valid_octal() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), "a b\tc\\d");
        assert_eq!(unescape("trailing\\04"), "trailing\\04");
        assert_eq!(unescape("\\999"), "\\999");
    }
}
