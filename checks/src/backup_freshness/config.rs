//! `[checks.backup_freshness]`: the backup sources this host declares, their RPO, or the explicit
//! statement that the host has no backup duty.

use serde::Deserialize;

/// Settings of the backup_freshness check (`[checks.backup_freshness]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Recovery point objective in hours for sources that set no `rpo_hours` of their own.
    pub default_rpo_hours: u32,
    /// Warn when a source's newest backup is older than this percentage of its RPO (1–99).
    /// Absent (the default): no warning band, a source is either within its RPO or failing.
    pub warn_at_percent: Option<u32>,
    /// An explicit statement that this host holds nothing to back up, and why
    /// (e.g. "stateless web frontend, rebuilt from ansible"). Makes the check `not_applicable`.
    /// Must not be combined with `sources`.
    pub no_backup_duty: Option<String>,
    /// Absolute path of the restic binary.
    pub restic_binary: String,
    /// Absolute path of the borg (1.x) binary.
    pub borg_binary: String,
    /// The backup sources of this host (`[[checks.backup_freshness.sources]]`).
    pub sources: Vec<BackupSource>,
}

impl Default for BackupConfig {
    fn default() -> BackupConfig {
        BackupConfig {
            default_rpo_hours: 24,
            warn_at_percent: None,
            no_backup_duty: None,
            restic_binary: "/usr/bin/restic".into(),
            borg_binary: "/usr/bin/borg".into(),
            sources: Vec::new(),
        }
    }
}

/// How a source's newest backup is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A restic repository: newest snapshot of this host (`restic snapshots --json`).
    Restic,
    /// A borg 1.x repository: newest complete archive of this host
    /// (`borg list --json --glob-archives <glob_archives>`).
    Borg,
    /// Files matching a glob: newest modification time of a non-empty match.
    Path,
    /// A file a backup job writes on success: RFC 3339 timestamp or JSON `{"finished_at", "status"}`.
    TimestampFile,
    /// macOS Time Machine: the newest backup of this Mac (`tmutil destinationinfo`, `tmutil latestbackup`).
    TimeMachine,
    /// Windows File History of one user: its configuration directory (`path`), whose catalog is
    /// rewritten at each backup cycle.
    FileHistory,
    /// Windows Server Backup: the newest successful backup (`Get-WBSummary`).
    WindowsServerBackup,
}

impl SourceKind {
    /// The config spelling (`restic`, `borg`, `path`, `timestamp_file`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Restic => "restic",
            SourceKind::Borg => "borg",
            SourceKind::Path => "path",
            SourceKind::TimestampFile => "timestamp_file",
            SourceKind::TimeMachine => "time_machine",
            SourceKind::FileHistory => "file_history",
            SourceKind::WindowsServerBackup => "windows_server_backup",
        }
    }
}

/// One backup source (`[[checks.backup_freshness.sources]]`). Which keys are required depends on
/// `kind`; keys that do not belong to the kind are refused by [`BackupConfig::validate`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSource {
    /// Unique name shown in the summary (`restic-offsite`).
    pub name: String,
    /// `restic`, `borg`, `path`, `timestamp_file` or `time_machine` (macOS).
    pub kind: SourceKind,
    /// RPO of this source in hours; default `default_rpo_hours`.
    #[serde(default)]
    pub rpo_hours: Option<u32>,
    /// restic, borg: the repository as the tool spells it (`sftp:backup@nas:/srv/restic/web-01`,
    /// `ssh://backup@nas/./web-01`, `/srv/borg/web-01`).
    #[serde(default)]
    pub repository: Option<String>,
    /// restic: absolute path of the file holding the repository password (passed as
    /// `--password-file`; the agent never reads it).
    #[serde(default)]
    pub password_file: Option<String>,
    /// restic: the snapshot hostname that counts as this host; default the host's hostname.
    #[serde(default)]
    pub host: Option<String>,
    /// path: absolute glob (`*` and `?` in any component) of the backup files, e.g.
    /// `/srv/backups/pg/*.sql.gz`.
    #[serde(default)]
    pub glob: Option<String>,
    /// timestamp_file: absolute path of the success marker the backup job writes.
    #[serde(default)]
    pub path: Option<String>,
    /// borg: shell-style glob (`*`, `?`, `[…]`) of the archive names that count as this host's
    /// backups, passed as `--glob-archives`; `{hostname}` stands for the host's short hostname.
    /// Default `"{hostname}-*"` (borg's usual `{hostname}-{now}` archive names); `"*"` counts every
    /// archive of the repository.
    #[serde(default)]
    pub glob_archives: Option<String>,
}

/// The archive-name filter of a borg source when `glob_archives` is not set.
pub const DEFAULT_GLOB_ARCHIVES: &str = "{hostname}-*";

impl BackupSource {
    /// This source's RPO in hours.
    pub fn rpo_hours(&self, cfg: &BackupConfig) -> u32 {
        self.rpo_hours.unwrap_or(cfg.default_rpo_hours)
    }

    /// borg: the archive-name glob as configured, `{hostname}` not yet replaced.
    pub fn glob_archives(&self) -> &str {
        self.glob_archives
            .as_deref()
            .unwrap_or(DEFAULT_GLOB_ARCHIVES)
    }
}

const KEY: &str = "checks.backup_freshness";

impl BackupConfig {
    /// Validate ranges and per-kind keys; errors name the key (`checks.backup_freshness.sources[2].glob`,
    /// indexes from 0).
    pub fn validate(&self) -> Result<(), String> {
        if self.default_rpo_hours == 0 {
            return Err(format!(
                "{KEY}.default_rpo_hours: must be at least 1 (hours)"
            ));
        }
        if let Some(p) = self.warn_at_percent {
            if !(1..=99).contains(&p) {
                return Err(format!(
                    "{KEY}.warn_at_percent: {p} is out of range; use 1–99 (percent of the RPO), or leave it out to disable warnings"
                ));
            }
        }
        for (key, bin) in [
            ("restic_binary", &self.restic_binary),
            ("borg_binary", &self.borg_binary),
        ] {
            if !is_absolute(bin) {
                return Err(format!("{KEY}.{key}: {bin:?} must be an absolute path"));
            }
        }
        if let Some(reason) = &self.no_backup_duty {
            if reason.trim().is_empty() {
                return Err(format!(
                    "{KEY}.no_backup_duty: give the reason this host needs no backup (it is shown in reports), or remove the key"
                ));
            }
            if !self.sources.is_empty() {
                return Err(format!(
                    "{KEY}.no_backup_duty: cannot be combined with sources ({} declared); remove one or the other",
                    self.sources.len()
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            validate_source(i, s)?;
            if !names.insert(s.name.as_str()) {
                return Err(format!(
                    "{KEY}.sources[{i}].name: {:?} is already used by an earlier source; names must be unique",
                    s.name
                ));
            }
        }
        Ok(())
    }
}

/// `/…` on Linux and macOS, `C:\…` (or `C:/…`) on Windows: the config does not know which platform
/// it will run on, so both are accepted.
pub(super) fn is_absolute(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/')
        || (b.len() > 2
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

fn validate_source(i: usize, s: &BackupSource) -> Result<(), String> {
    let at = format!("{KEY}.sources[{i}]");
    if s.name.trim().is_empty() {
        return Err(format!("{at}.name: must not be empty"));
    }
    if s.rpo_hours == Some(0) {
        return Err(format!("{at}.rpo_hours: must be at least 1 (hours)"));
    }
    let kind = s.kind.as_str();
    let (required, allowed): (&[&str], &[&str]) = match s.kind {
        SourceKind::Restic => (
            &["repository", "password_file"],
            &["repository", "password_file", "host"],
        ),
        SourceKind::Borg => (&["repository"], &["repository", "glob_archives"]),
        SourceKind::Path => (&["glob"], &["glob"]),
        SourceKind::TimestampFile => (&["path"], &["path"]),
        SourceKind::TimeMachine | SourceKind::WindowsServerBackup => (&[], &[]),
        SourceKind::FileHistory => (&["path"], &["path"]),
    };
    let keys: [(&str, &Option<String>); 6] = [
        ("repository", &s.repository),
        ("password_file", &s.password_file),
        ("host", &s.host),
        ("glob", &s.glob),
        ("path", &s.path),
        ("glob_archives", &s.glob_archives),
    ];
    for (key, value) in keys {
        match value {
            None if required.contains(&key) => {
                return Err(format!(
                    "{at}.{key}: required for kind \"{kind}\" (source {:?})",
                    s.name
                ))
            }
            Some(_) if !allowed.contains(&key) => {
                return Err(format!(
                "{at}.{key}: not used by kind \"{kind}\" (source {:?}); kind \"{kind}\" takes {}",
                s.name,
                allowed.join(", ")
            ))
            }
            Some(v) if v.trim().is_empty() => {
                return Err(format!("{at}.{key}: must not be empty"));
            }
            _ => {}
        }
    }
    for (key, value) in [
        ("password_file", &s.password_file),
        ("glob", &s.glob),
        ("path", &s.path),
    ] {
        if let Some(v) = value {
            if !is_absolute(v) {
                return Err(format!("{at}.{key}: {v:?} must be an absolute path"));
            }
        }
    }
    if let Some(g) = &s.glob {
        if g.contains("**") {
            return Err(format!(
                "{at}.glob: {g:?}: `**` (recursive) is not supported; use `*` and `?` per path component"
            ));
        }
        if g.ends_with('/') {
            return Err(format!(
                "{at}.glob: {g:?} must name files, not end with '/'"
            ));
        }
    }
    if let Some(g) = &s.glob_archives {
        // Borg archive names never contain '/', and we replace only `{hostname}`: any other brace
        // would be a placeholder borg might or might not expand, so the filter would be ambiguous.
        if g.contains('/') {
            return Err(format!(
                "{at}.glob_archives: {g:?} contains '/'; borg archive names never do, so it would match nothing"
            ));
        }
        if g.replace("{hostname}", "").contains(['{', '}']) {
            return Err(format!(
                "{at}.glob_archives: {g:?}: the only placeholder allowed is {{hostname}} (the host's short hostname)"
            ));
        }
        if g.chars().any(char::is_control) {
            return Err(format!(
                "{at}.glob_archives: {g:?} contains a control character"
            ));
        }
    }
    if let Some(p) = &s.path {
        if p.contains('*') || p.contains('?') {
            return Err(format!(
                "{at}.path: {p:?} contains a wildcard; a timestamp_file names one file (use kind \"path\" with `glob` for file sets)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BackupConfig, String> {
        let cfg: BackupConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.validate()?;
        Ok(cfg)
    }

    #[test]
    fn absolute_paths_of_every_platform_are_accepted() {
        for p in [
            "/etc/vigie/restic.pass",
            r"C:\ProgramData\Vigie\restic.pass",
            "d:/Backups/x",
        ] {
            assert!(is_absolute(p), "{p}");
        }
        for p in ["restic.pass", r"C:restic.pass", r"\\nas\share\x", "C:", ""] {
            assert!(!is_absolute(p), "{p}");
        }
    }

    #[test]
    fn defaults_are_24_hours_no_warn_no_sources() {
        let cfg = parse("").unwrap();
        assert_eq!(cfg.default_rpo_hours, 24);
        assert_eq!(cfg.warn_at_percent, None);
        assert!(cfg.sources.is_empty());
        assert_eq!(cfg.restic_binary, "/usr/bin/restic");
    }

    #[test]
    fn full_example_parses() {
        let cfg = parse(
            r#"
default_rpo_hours = 24
[[sources]]
name = "restic-offsite"
kind = "restic"
repository = "sftp:backup@nas:/srv/restic/web-01"
password_file = "/etc/vigie/restic.pass"
host = "web-01"
rpo_hours = 26
[[sources]]
name = "pg-dumps"
kind = "path"
glob = "/srv/backups/pg/*.sql.gz"
[[sources]]
name = "nightly-job"
kind = "timestamp_file"
path = "/var/lib/backup/last-success"
[[sources]]
name = "borg-local"
kind = "borg"
repository = "/srv/borg/web-01"
"#,
        )
        .unwrap();
        assert_eq!(cfg.sources.len(), 4);
        assert_eq!(cfg.sources[0].rpo_hours(&cfg), 26);
        assert_eq!(cfg.sources[1].rpo_hours(&cfg), 24);
        assert_eq!(cfg.sources[3].kind, SourceKind::Borg);
    }

    #[test]
    fn errors_name_the_key_with_its_index() {
        let err = parse(
            r#"
[[sources]]
name = "a"
kind = "timestamp_file"
path = "/var/lib/backup/last-success"
[[sources]]
name = "b"
kind = "restic"
repository = "/srv/restic"
password_file = "/etc/vigie/restic.pass"
[[sources]]
name = "pg-dumps"
kind = "path"
"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "checks.backup_freshness.sources[2].glob: required for kind \"path\" (source \"pg-dumps\")"
        );
        let err = parse("[[sources]]\nname = \"r\"\nkind = \"restic\"\nrepository = \"/r\"\n")
            .unwrap_err();
        assert!(
            err.starts_with("checks.backup_freshness.sources[0].password_file: required"),
            "{err}"
        );
        let err = parse(
            "[[sources]]\nname = \"b\"\nkind = \"borg\"\nrepository = \"/r\"\nglob = \"/x/*\"\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with("checks.backup_freshness.sources[0].glob: not used by kind \"borg\""),
            "{err}"
        );
    }

    #[test]
    fn glob_archives_defaults_and_is_checked() {
        let borg = |extra: &str| {
            parse(&format!(
                "[[sources]]\nname = \"p\"\nkind = \"path\"\nglob = \"/a/*\"\n[[sources]]\nname = \"b\"\nkind = \"borg\"\nrepository = \"/r\"\n{extra}"
            ))
        };
        let cfg = borg("").unwrap();
        assert_eq!(cfg.sources[1].glob_archives, None);
        assert_eq!(cfg.sources[1].glob_archives(), "{hostname}-*");
        let cfg = borg("glob_archives = \"*\"\n").unwrap();
        assert_eq!(cfg.sources[1].glob_archives(), "*");
        assert!(borg("glob_archives = \"{hostname}-system-*\"\n").is_ok());
        for (bad, why) in [
            ("\"\"", "must not be empty"),
            ("\"db/*\"", "contains '/'"),
            ("\"{fqdn}-*\"", "only placeholder"),
            ("\"{hostname-*\"", "only placeholder"),
        ] {
            let err = borg(&format!("glob_archives = {bad}\n")).unwrap_err();
            assert!(
                err.starts_with("checks.backup_freshness.sources[1].glob_archives: ")
                    && err.contains(why),
                "{bad}: {err}"
            );
        }
        let err = parse(
            "[[sources]]\nname = \"r\"\nkind = \"restic\"\nrepository = \"/r\"\npassword_file = \"/p\"\nglob_archives = \"*\"\n",
        )
        .unwrap_err();
        assert!(
            err.starts_with(
                "checks.backup_freshness.sources[0].glob_archives: not used by kind \"restic\""
            ),
            "{err}"
        );
    }

    #[test]
    fn refuses_bad_values() {
        let dup = "[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"/a/*\"\n[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"/b/*\"\n";
        assert!(parse(dup)
            .unwrap_err()
            .starts_with("checks.backup_freshness.sources[1].name:"));
        assert!(parse("default_rpo_hours = 0")
            .unwrap_err()
            .contains("default_rpo_hours"));
        assert!(parse("warn_at_percent = 100")
            .unwrap_err()
            .contains("warn_at_percent"));
        let zero = "[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"/a/*\"\nrpo_hours = 0\n";
        assert!(parse(zero)
            .unwrap_err()
            .starts_with("checks.backup_freshness.sources[0].rpo_hours"));
        let rel = "[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"backups/*\"\n";
        assert!(parse(rel).unwrap_err().contains("absolute"));
        let rec = "[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"/srv/**/x.gz\"\n";
        assert!(parse(rec).unwrap_err().contains("**"));
        let both = "no_backup_duty = \"stateless\"\n[[sources]]\nname = \"x\"\nkind = \"path\"\nglob = \"/a/*\"\n";
        assert!(parse(both)
            .unwrap_err()
            .starts_with("checks.backup_freshness.no_backup_duty"));
        assert!(parse("no_backup_duty = \"  \"").is_err());
        assert!(parse("restic_binary = \"restic\"").is_err());
        // Unknown keys and kinds are refused by serde.
        assert!(parse("[[sources]]\nname = \"x\"\nkind = \"tape\"\n").is_err());
        assert!(parse("default_rpo = 3").is_err());
    }
}
