//! The probe: the only door from a check to the host.
//!
//! Checks read files, list directories, run fixed commands (absolute program path and argv, never a
//! shell), read the clock and the system facts through a [`Probe`]. Two implementations exist: the
//! real host ([`HostProbe`]) and a fixture host ([`crate::fixture::FixtureProbe`]) that answers from a
//! directory of files and recorded command outputs with a fixed clock. Nothing else in this crate
//! touches `std::fs` or `std::process` (enforced by `checks/clippy.toml`), so every check runs the same
//! code against a fixture as on a machine.
#![allow(clippy::disallowed_methods)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Local, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::result::Evidence;

/// Why the probe could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path}: permission denied (run the agent as root)")]
    PermissionDenied { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{program}: command not installed")]
    CommandNotFound { program: String },
    #[error("fixture host has no recording for command `{argv}`: add it to fixture.toml")]
    NoRecording { argv: String },
    #[error("`{argv}` did not finish within {seconds} s and was killed")]
    Timeout { argv: String, seconds: u64 },
    #[error("`{argv}` could not be started: {message}")]
    Spawn { argv: String, message: String },
    #[error("fixture host: {0}")]
    Fixture(String),
}

impl ProbeError {
    /// True when the thing asked for simply does not exist (file absent, program not installed),
    /// as opposed to existing but being unreadable.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ProbeError::NotFound { .. } | ProbeError::CommandNotFound { .. }
        )
    }

    fn from_io(path: &str, err: std::io::Error) -> ProbeError {
        match err.kind() {
            std::io::ErrorKind::NotFound => ProbeError::NotFound {
                path: path.to_string(),
            },
            std::io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied {
                path: path.to_string(),
            },
            _ => ProbeError::Io {
                path: path.to_string(),
                message: err.to_string(),
            },
        }
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// Exit code; `None` when the process was killed by a signal.
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Stderr as text (lossy), trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Metadata of a file or directory (symlinks followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub is_dir: bool,
    pub size: u64,
    /// Last modification time; `None` on a fixture host that does not declare one.
    pub modified: Option<DateTime<Utc>>,
    /// Unix permission bits.
    pub mode: u32,
}

/// Host facts that come from system APIs rather than files (the inventory check).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemFacts {
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub cpu_model: String,
    pub cpu_count: usize,
    pub memory_bytes: u64,
    pub uptime_seconds: u64,
    #[serde(default)]
    pub disks: Vec<DiskFacts>,
}

/// One disk as sysinfo sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskFacts {
    pub name: String,
    pub mount_point: String,
    pub file_system: String,
    pub total_bytes: u64,
    pub removable: bool,
}

/// The only way checks see the host.
pub trait Probe: Send + Sync {
    /// Read a whole file at its host path.
    fn read(&self, path: &str) -> Result<Vec<u8>, ProbeError>;
    /// Names of the entries of a directory, sorted.
    fn read_dir(&self, path: &str) -> Result<Vec<String>, ProbeError>;
    /// Metadata of a path, symlinks followed.
    fn metadata(&self, path: &str) -> Result<FileInfo, ProbeError>;
    /// Target of a symbolic link.
    fn read_link(&self, path: &str) -> Result<String, ProbeError>;
    /// Run a program (absolute path) with fixed arguments, no shell, `LC_ALL=C`, stdin closed.
    fn run(&self, argv: &[&str]) -> Result<CommandOutput, ProbeError>;
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
    /// The host's local UTC offset (for tools that print local times without a zone, like borg).
    fn local_offset(&self) -> FixedOffset;
    /// Facts from system APIs (hostname, CPU, memory, disks, uptime).
    fn system(&self) -> Result<SystemFacts, ProbeError>;
    /// Whether the agent runs with root privileges (some files are only readable by root).
    fn is_root(&self) -> bool;
    /// A short description for logs: `host` or `fixture <dir>`.
    fn describe(&self) -> String;
    /// The operating-system family of the host, from which each check picks its per-platform logic.
    /// The default is Linux, the platform of every probe that predates the others; [`HostProbe`] reports
    /// the build target and a fixture host what its `fixture.toml` declares.
    fn platform(&self) -> Platform {
        Platform::Linux
    }

    /// Read a file as UTF-8 text (lossy).
    fn read_string(&self, path: &str) -> Result<String, ProbeError> {
        self.read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }
    /// Whether a path exists (errors other than "not found" count as existing).
    fn exists(&self, path: &str) -> bool {
        !matches!(self.metadata(path), Err(ProbeError::NotFound { .. }))
    }
    /// Read a file and return its text with the evidence describing the read.
    fn read_evidence(&self, path: &str) -> Result<(String, Evidence), ProbeError> {
        let bytes = self.read(path)?;
        let ev = Evidence::file(path, &bytes);
        Ok((String::from_utf8_lossy(&bytes).into_owned(), ev))
    }
    /// Run a command and return its output with the evidence describing the run.
    fn run_evidence(&self, argv: &[&str]) -> Result<(CommandOutput, Evidence), ProbeError> {
        let out = self.run(argv)?;
        let ev = Evidence::command(argv, out.exit_code, &out.stdout);
        Ok((out, ev))
    }
    /// Run a command that must succeed and return its standard output; the run's evidence is
    /// pushed either way once the command ran. `Err` is a one-line reason naming `what`:
    /// "could not run {what}: …" or "{what} failed (exit N): {stderr}".
    fn run_ok(
        &self,
        argv: &[&str],
        what: &str,
        evidence: &mut Vec<Evidence>,
    ) -> Result<String, String> {
        let (out, ev) = self
            .run_evidence(argv)
            .map_err(|e| format!("could not run {what}: {e}"))?;
        evidence.push(ev);
        if out.exit_code != Some(0) {
            return Err(format!(
                "{what} failed (exit {}): {}",
                out.exit_code.map_or("signal".into(), |c| c.to_string()),
                out.stderr_text().trim()
            ));
        }
        Ok(out.stdout_text())
    }
}

/// How long a command may run before it is killed. Package managers can be slow on a cold cache.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// The real machine the agent runs on.
#[derive(Debug, Default)]
pub struct HostProbe {
    _private: (),
}

impl HostProbe {
    /// A probe of this machine.
    pub fn new() -> HostProbe {
        HostProbe { _private: () }
    }
}

impl Probe for HostProbe {
    fn read(&self, path: &str) -> Result<Vec<u8>, ProbeError> {
        std::fs::read(path).map_err(|e| ProbeError::from_io(path, e))
    }

    fn read_dir(&self, path: &str) -> Result<Vec<String>, ProbeError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| ProbeError::from_io(path, e))? {
            let entry = entry.map_err(|e| ProbeError::from_io(path, e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn metadata(&self, path: &str) -> Result<FileInfo, ProbeError> {
        let md = std::fs::metadata(path).map_err(|e| ProbeError::from_io(path, e))?;
        Ok(FileInfo {
            is_dir: md.is_dir(),
            size: md.len(),
            modified: md.modified().ok().map(DateTime::<Utc>::from),
            mode: permission_bits(&md.permissions()),
        })
    }

    fn read_link(&self, path: &str) -> Result<String, ProbeError> {
        std::fs::read_link(path)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| ProbeError::from_io(path, e))
    }

    fn run(&self, argv: &[&str]) -> Result<CommandOutput, ProbeError> {
        run_command(argv, COMMAND_TIMEOUT)
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn local_offset(&self) -> FixedOffset {
        *Local::now().offset()
    }

    fn system(&self) -> Result<SystemFacts, ProbeError> {
        use sysinfo::{CpuRefreshKind, Disks, MemoryRefreshKind, RefreshKind, System};
        let sys = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing())
                .with_memory(MemoryRefreshKind::nothing().with_ram()),
        );
        let disks = Disks::new_with_refreshed_list()
            .list()
            .iter()
            .map(|d| DiskFacts {
                name: d.name().to_string_lossy().into_owned(),
                mount_point: d.mount_point().to_string_lossy().into_owned(),
                file_system: d.file_system().to_string_lossy().into_owned(),
                total_bytes: d.total_space(),
                removable: d.is_removable(),
            })
            .collect();
        Ok(SystemFacts {
            hostname: System::host_name().unwrap_or_default(),
            os_name: System::name().unwrap_or_default(),
            os_version: System::os_version().unwrap_or_default(),
            kernel: System::kernel_version().unwrap_or_default(),
            arch: System::cpu_arch(),
            cpu_model: sys
                .cpus()
                .first()
                .map(|c| c.brand().trim().to_string())
                .unwrap_or_default(),
            cpu_count: sys.cpus().len(),
            memory_bytes: sys.total_memory(),
            uptime_seconds: System::uptime(),
            disks,
        })
    }

    fn is_root(&self) -> bool {
        effective_uid_is_root()
    }

    fn platform(&self) -> Platform {
        Platform::CURRENT
    }

    fn describe(&self) -> String {
        "host".to_string()
    }
}

/// Unix permission bits of a file; on Windows, which has ACLs instead, 0o444 or 0o644 from the read-only flag.
#[cfg(unix)]
pub fn permission_bits(p: &std::fs::Permissions) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    p.mode() & 0o7777
}

/// Unix permission bits of a file; on Windows, which has ACLs instead, 0o444 or 0o644 from the read-only flag.
#[cfg(not(unix))]
pub fn permission_bits(p: &std::fs::Permissions) -> u32 {
    if p.readonly() {
        0o444
    } else {
        0o644
    }
}

#[cfg(unix)]
fn effective_uid_is_root() -> bool {
    // SAFETY: geteuid(2) takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn effective_uid_is_root() -> bool {
    // Windows has no uid 0; elevation is judged by the checks that need it (issue 12).
    false
}

/// Run `argv` with a deadline, `LC_ALL=C`, stdin closed; stdout and stderr are drained on threads so a
/// chatty command cannot block on a full pipe.
pub fn run_command(argv: &[&str], timeout: Duration) -> Result<CommandOutput, ProbeError> {
    let joined = argv.join(" ");
    let program = argv.first().ok_or_else(|| ProbeError::Spawn {
        argv: joined.clone(),
        message: "empty argv".into(),
    })?;
    if !Path::new(program).is_absolute() {
        return Err(ProbeError::Spawn {
            argv: joined,
            message: "program path must be absolute".into(),
        });
    }
    if !Path::new(program).exists() {
        return Err(ProbeError::CommandNotFound {
            program: program.to_string(),
        });
    }
    let mut child = Command::new(program)
        .args(&argv[1..])
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env_remove("LANGUAGE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProbeError::Spawn {
            argv: joined.clone(),
            message: e.to_string(),
        })?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_thread = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_thread = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProbeError::Timeout {
                    argv: joined,
                    seconds: timeout.as_secs(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(ProbeError::Spawn {
                    argv: joined,
                    message: e.to_string(),
                })
            }
        }
    };
    Ok(CommandOutput {
        exit_code: status.code(),
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_command_captures_output_and_exit_code() {
        let out = run_command(
            &["/bin/sh", "-c", "echo hi; echo oops >&2; exit 3"],
            COMMAND_TIMEOUT,
        )
        .unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout_text(), "hi\n");
        assert_eq!(out.stderr_text(), "oops");
    }

    #[test]
    fn run_command_refuses_relative_and_missing_programs_and_kills_on_timeout() {
        assert!(matches!(
            run_command(&["sh", "-c", "true"], COMMAND_TIMEOUT),
            Err(ProbeError::Spawn { .. })
        ));
        assert!(matches!(
            run_command(&["/nonexistent/tool"], COMMAND_TIMEOUT),
            Err(ProbeError::CommandNotFound { .. })
        ));
        assert!(matches!(
            run_command(&["/bin/sleep", "5"], Duration::from_millis(100)),
            Err(ProbeError::Timeout { .. })
        ));
    }

    #[test]
    fn host_probe_maps_io_errors() {
        let p = HostProbe::new();
        assert!(p.read("/nonexistent/file").unwrap_err().is_not_found());
        assert!(!p.exists("/nonexistent/file"));
        assert!(p.exists("/"));
    }
}
