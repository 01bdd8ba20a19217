//! `/etc/os-release`: which distribution family a host belongs to.

use std::collections::BTreeMap;

/// The distribution families Vigie knows how to patch-check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsFamily {
    Debian,
    RedHat,
    Suse,
    Other,
}

/// The fields of os-release that Vigie uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OsRelease {
    pub id: String,
    pub id_like: Vec<String>,
    pub version_id: String,
    pub version_codename: String,
    pub pretty_name: String,
}

impl OsRelease {
    /// The family from `ID` and `ID_LIKE`.
    pub fn family(&self) -> OsFamily {
        let ids = std::iter::once(self.id.as_str()).chain(self.id_like.iter().map(String::as_str));
        for id in ids {
            match id {
                "debian" | "ubuntu" => return OsFamily::Debian,
                "rhel" | "fedora" | "centos" | "rocky" | "almalinux" | "ol" | "amzn" => {
                    return OsFamily::RedHat
                }
                "suse" | "opensuse" | "sles" | "opensuse-leap" | "opensuse-tumbleweed" => {
                    return OsFamily::Suse
                }
                _ => {}
            }
        }
        OsFamily::Other
    }
}

/// Parse os-release text (shell-style `KEY=value`, values optionally quoted).
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            map.insert(k.trim().to_string(), v.replace("\\\"", "\""));
        }
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    OsRelease {
        id: get("ID"),
        id_like: get("ID_LIKE").split_whitespace().map(str::to_string).collect(),
        version_id: get("VERSION_ID"),
        version_codename: get("VERSION_CODENAME"),
        pretty_name: get("PRETTY_NAME"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_and_rocky() {
        let deb = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        );
        assert_eq!(deb.family(), OsFamily::Debian);
        assert_eq!(deb.version_id, "12");
        assert_eq!(deb.version_codename, "bookworm");
        let rocky = parse_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.4\"\n");
        assert_eq!(rocky.family(), OsFamily::RedHat);
        let mint = parse_os_release("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n");
        assert_eq!(mint.family(), OsFamily::Debian);
        assert_eq!(parse_os_release("ID=alpine\n").family(), OsFamily::Other);
    }
}
