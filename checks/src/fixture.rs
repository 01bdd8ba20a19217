//! Fixture hosts: a directory that stands in for a machine.
//!
//! Layout of `<dir>/` (documented for users in `tests/fixtures/hosts/README.md`):
//! - `root/` — files at their host paths (`root/etc/pam.d/sshd`, `root/sys/class/block/sda/dev` …).
//! - `fixture.toml` — the fixed clock, the UTC offset, whether the agent is root, declared
//!   modification times, symlinks, the recorded commands and the system facts:
//!
//! ```toml
//! now = "2026-11-24T10:00:00Z"
//! utc_offset = "+01:00"          # optional, default +00:00
//! root = true                    # optional, default true
//! os = "macos"                   # optional: linux (default), macos or windows
//! [mtimes]
//! "/var/backups/db.dump" = "2026-11-24T02:00:00Z"
//! [symlinks]
//! "/dev/mapper/root" = "../dm-0"
//! [[command]]
//! argv = ["/usr/bin/apt-get", "-s", "dist-upgrade"]
//! exit = 0                       # optional, default 0; absent with `signal = true`
//! stdout_file = "commands/apt-get-s.out"   # or `stdout = "…"`, relative to the fixture dir
//! stderr = ""
//! [[command]]
//! argv = ["/usr/sbin/zfs", "list"]
//! not_installed = true           # the program does not exist on this host
//! [system]
//! hostname = "web-01" # … every SystemFacts field
//! ```
//!
//! A command with no recording is a loud [`ProbeError::NoRecording`], never an empty success.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::platform::Platform;
use crate::probe::{CommandOutput, FileInfo, Probe, ProbeError, SystemFacts};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureFile {
    now: DateTime<Utc>,
    #[serde(default)]
    utc_offset: Option<String>,
    #[serde(default = "yes")]
    root: bool,
    #[serde(default = "linux")]
    os: Platform,
    #[serde(default)]
    mtimes: BTreeMap<String, DateTime<Utc>>,
    #[serde(default)]
    symlinks: BTreeMap<String, String>,
    #[serde(default, rename = "command")]
    commands: Vec<RecordedCommand>,
    #[serde(default)]
    system: Option<SystemFacts>,
}

fn yes() -> bool {
    true
}

fn linux() -> Platform {
    Platform::Linux
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordedCommand {
    argv: Vec<String>,
    #[serde(default)]
    exit: Option<i32>,
    #[serde(default)]
    signal: bool,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stdout_file: Option<String>,
    #[serde(default)]
    stderr: String,
    #[serde(default)]
    not_installed: bool,
    #[serde(default)]
    timeout: bool,
}

/// A probe that answers from a fixture directory.
#[derive(Debug)]
pub struct FixtureProbe {
    dir: PathBuf,
    file: FixtureFile,
    offset: FixedOffset,
}

impl FixtureProbe {
    /// Load the fixture host at `dir` (reads and validates `dir/fixture.toml`).
    pub fn load(dir: &Path) -> Result<FixtureProbe, ProbeError> {
        let manifest = dir.join("fixture.toml");
        let text = std::fs::read_to_string(&manifest)
            .map_err(|e| ProbeError::Fixture(format!("cannot read {}: {e}", manifest.display())))?;
        let file: FixtureFile = toml::from_str(&text)
            .map_err(|e| ProbeError::Fixture(format!("{}: {e}", manifest.display())))?;
        let offset = match &file.utc_offset {
            None => FixedOffset::east_opt(0).expect("zero offset"),
            Some(s) => parse_offset(s).ok_or_else(|| {
                ProbeError::Fixture(format!(
                    "{}: utc_offset {s:?} is not of the form +HH:MM",
                    manifest.display()
                ))
            })?,
        };
        for cmd in &file.commands {
            if cmd.argv.is_empty() {
                return Err(ProbeError::Fixture(format!(
                    "{}: a [[command]] has an empty argv",
                    manifest.display()
                )));
            }
        }
        Ok(FixtureProbe {
            dir: dir.to_path_buf(),
            file,
            offset,
        })
    }

    /// The fixture directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Map a host path into `root/`, refusing paths that climb out of it. A Windows path
    /// (`C:\ProgramData\ssh\sshd_config`, either separator) lives under `root/C/…`, whatever the
    /// platform the fixture is read on.
    fn host_path(&self, path: &str) -> Result<PathBuf, ProbeError> {
        if let Some((drive, rest)) = windows_drive_path(path) {
            let mut out = self.dir.join("root").join(drive.to_string());
            for part in rest
                .split(['\\', '/'])
                .filter(|c| !c.is_empty() && *c != ".")
            {
                if part == ".." || part.contains(':') {
                    return Err(ProbeError::Fixture(format!(
                        "path {path:?} must not contain '..' or a second drive"
                    )));
                }
                out.push(part);
            }
            return Ok(out);
        }
        let p = Path::new(path);
        if !p.is_absolute() {
            return Err(ProbeError::Fixture(format!(
                "path {path:?} is not absolute"
            )));
        }
        let mut out = self.dir.join("root");
        for comp in p.components() {
            match comp {
                Component::RootDir => {}
                Component::Normal(c) => out.push(c),
                Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(ProbeError::Fixture(format!(
                        "path {path:?} must not contain '..'"
                    )))
                }
            }
        }
        Ok(out)
    }
}

/// `C:\dir\file` (or `C:/dir/file`) → (`C`, `\dir\file`); `None` for any other path.
fn windows_drive_path(path: &str) -> Option<(char, &str)> {
    let mut chars = path.chars();
    let drive = chars.next().filter(char::is_ascii_alphabetic)?;
    let rest = path.get(2..)?;
    (path.as_bytes().get(1) == Some(&b':') && rest.starts_with(['\\', '/']))
        .then(|| (drive.to_ascii_uppercase(), rest))
}

/// One spelling of a Windows path: upper-case drive, `\` separators, no empty or `.` parts.
fn windows_canonical(path: &str) -> Option<String> {
    let (drive, rest) = windows_drive_path(path)?;
    let parts: Vec<&str> = rest
        .split(['\\', '/'])
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Some(format!("{drive}:\\{}", parts.join("\\")))
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * secs)
}

fn io_err(path: &str, e: std::io::Error) -> ProbeError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ProbeError::NotFound {
            path: path.to_string(),
        },
        std::io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied {
            path: path.to_string(),
        },
        _ => ProbeError::Io {
            path: path.to_string(),
            message: e.to_string(),
        },
    }
}

impl Probe for FixtureProbe {
    fn read(&self, path: &str) -> Result<Vec<u8>, ProbeError> {
        let real = self.host_path(path)?;
        // A file named `<name>.unreadable` marks `<name>` as present but unreadable (git cannot
        // keep mode 000 files usefully, and tests run as root).
        if let Some(name) = real.file_name() {
            let marker = real.with_file_name(format!("{}.unreadable", name.to_string_lossy()));
            if marker.exists() {
                return Err(ProbeError::PermissionDenied {
                    path: path.to_string(),
                });
            }
        }
        std::fs::read(&real).map_err(|e| io_err(path, e))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, ProbeError> {
        let real = self.host_path(path)?;
        if let Some(name) = real.file_name() {
            let marker = real.with_file_name(format!("{}.unreadable", name.to_string_lossy()));
            if marker.exists() {
                return Err(ProbeError::PermissionDenied {
                    path: path.to_string(),
                });
            }
        }
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&real).map_err(|e| io_err(path, e))? {
            let entry = entry.map_err(|e| io_err(path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".unreadable") || name == ".keep" {
                continue;
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    fn metadata(&self, path: &str) -> Result<FileInfo, ProbeError> {
        let real = self.host_path(path)?;
        let md = std::fs::metadata(&real).map_err(|e| io_err(path, e))?;
        Ok(FileInfo {
            is_dir: md.is_dir(),
            size: md.len(),
            // Checkout times are meaningless: only declared mtimes exist on a fixture host.
            modified: self.file.mtimes.get(path).copied().or_else(|| {
                // A Windows path is declared in one spelling (`C:\dir\file`) and may be asked
                // for in another (`C:/dir/file`, a lower-case drive).
                let want = windows_canonical(path)?;
                self.file
                    .mtimes
                    .iter()
                    .find(|(k, _)| windows_canonical(k).as_deref() == Some(want.as_str()))
                    .map(|(_, t)| *t)
            }),
            mode: crate::probe::permission_bits(&md.permissions()),
        })
    }

    fn read_link(&self, path: &str) -> Result<String, ProbeError> {
        if let Some(target) = self.file.symlinks.get(path) {
            return Ok(target.clone());
        }
        let real = self.host_path(path)?;
        std::fs::read_link(&real)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| io_err(path, e))
    }

    fn run(&self, argv: &[&str]) -> Result<CommandOutput, ProbeError> {
        let joined = argv.join(" ");
        let rec = self
            .file
            .commands
            .iter()
            .find(|c| c.argv.iter().map(String::as_str).eq(argv.iter().copied()))
            .ok_or_else(|| ProbeError::NoRecording {
                argv: joined.clone(),
            })?;
        if rec.not_installed {
            return Err(ProbeError::CommandNotFound {
                program: argv[0].to_string(),
            });
        }
        if rec.timeout {
            return Err(ProbeError::Timeout {
                argv: joined,
                seconds: crate::probe::COMMAND_TIMEOUT.as_secs(),
            });
        }
        let stdout = match (&rec.stdout, &rec.stdout_file) {
            (Some(s), None) => s.clone().into_bytes(),
            (None, Some(f)) => std::fs::read(self.dir.join(f))
                .map_err(|e| ProbeError::Fixture(format!("stdout_file {f} for `{joined}`: {e}")))?,
            (None, None) => Vec::new(),
            (Some(_), Some(_)) => {
                return Err(ProbeError::Fixture(format!(
                    "`{joined}` has both stdout and stdout_file"
                )))
            }
        };
        Ok(CommandOutput {
            exit_code: if rec.signal {
                None
            } else {
                Some(rec.exit.unwrap_or(0))
            },
            stdout,
            stderr: rec.stderr.clone().into_bytes(),
        })
    }

    fn now(&self) -> DateTime<Utc> {
        self.file.now
    }

    fn local_offset(&self) -> FixedOffset {
        self.offset
    }

    fn system(&self) -> Result<SystemFacts, ProbeError> {
        self.file.system.clone().ok_or_else(|| {
            ProbeError::Fixture("fixture.toml has no [system] table (inventory facts)".into())
        })
    }

    fn is_root(&self) -> bool {
        self.file.root
    }

    fn describe(&self) -> String {
        format!("fixture {}", self.dir.display())
    }

    fn platform(&self) -> Platform {
        self.file.os
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, content: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    #[test]
    fn fixture_answers_files_commands_and_clock() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "fixture.toml",
            r#"
now = "2026-11-24T10:00:00Z"
utc_offset = "+01:00"
[mtimes]
"/etc/hostname" = "2026-01-01T00:00:00Z"
[[command]]
argv = ["/usr/bin/echo", "hi"]
stdout = "hi\n"
exit = 3
[[command]]
argv = ["/usr/sbin/zfs"]
not_installed = true
"#,
        );
        write(d.path(), "root/etc/hostname", "web-01\n");
        write(d.path(), "root/etc/shadow.unreadable", "");
        write(d.path(), "root/etc/shadow", "x");
        let p = FixtureProbe::load(d.path()).unwrap();
        assert_eq!(p.read_string("/etc/hostname").unwrap(), "web-01\n");
        assert_eq!(p.now().to_rfc3339(), "2026-11-24T10:00:00+00:00");
        assert_eq!(p.local_offset().local_minus_utc(), 3600);
        assert_eq!(
            p.metadata("/etc/hostname")
                .unwrap()
                .modified
                .unwrap()
                .to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert!(matches!(
            p.read("/etc/shadow"),
            Err(ProbeError::PermissionDenied { .. })
        ));
        assert_eq!(p.read_dir("/etc").unwrap(), vec!["hostname", "shadow"]);
        let out = p.run(&["/usr/bin/echo", "hi"]).unwrap();
        assert_eq!(
            (out.exit_code, out.stdout_text().as_str()),
            (Some(3), "hi\n")
        );
        assert!(matches!(
            p.run(&["/usr/bin/echo", "other"]),
            Err(ProbeError::NoRecording { .. })
        ));
        assert!(p.run(&["/usr/sbin/zfs"]).unwrap_err().is_not_found());
        assert!(p.read("/etc/../etc/hostname").is_err());
        assert!(p.system().is_err());
        assert_eq!(
            p.platform(),
            Platform::Linux,
            "a fixture host is Linux by default"
        );
    }

    #[test]
    fn windows_paths_live_under_their_drive_letter() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "fixture.toml",
            "now = \"2026-11-24T10:00:00Z\"\nos = \"windows\"\n",
        );
        write(d.path(), "root/C/ProgramData/ssh/sshd_config", "Port 22\n");
        let p = FixtureProbe::load(d.path()).unwrap();
        for path in [
            r"C:\ProgramData\ssh\sshd_config",
            r"c:\ProgramData\ssh\.\sshd_config",
            "C:/ProgramData/ssh/sshd_config",
        ] {
            assert_eq!(p.read_string(path).unwrap(), "Port 22\n", "{path}");
        }
        assert_eq!(
            p.read_dir(r"C:\ProgramData\ssh").unwrap(),
            vec!["sshd_config"]
        );
        assert!(p.read(r"C:\ProgramData\..\..\fixture.toml").is_err());
        assert_eq!(
            windows_canonical("c:/ProgramData//ssh/./sshd_config").as_deref(),
            Some(r"C:\ProgramData\ssh\sshd_config")
        );
        assert!(p.read(r"C:\ProgramData\D:\x").is_err());
        assert!(p
            .read(r"D:\ProgramData\ssh\sshd_config")
            .unwrap_err()
            .is_not_found());
    }

    #[test]
    fn fixture_declares_its_platform_and_refuses_unknown_ones() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "fixture.toml",
            "now = \"2026-11-24T10:00:00Z\"\nos = \"macos\"\n",
        );
        assert_eq!(
            FixtureProbe::load(d.path()).unwrap().platform(),
            Platform::Macos
        );
        write(
            d.path(),
            "fixture.toml",
            "now = \"2026-11-24T10:00:00Z\"\nos = \"darwin\"\n",
        );
        let err = FixtureProbe::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("darwin"), "{err}");
    }

    #[test]
    fn fixture_rejects_unknown_keys() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "fixture.toml",
            "now = \"2026-11-24T10:00:00Z\"\nnoww = 1\n",
        );
        let err = FixtureProbe::load(d.path()).unwrap_err().to_string();
        assert!(err.contains("noww"), "{err}");
    }
}
