//! `vigie-collector evidence …`: export a bundle, verify one, print the signing public key.
//!
//! Exit codes: 0 success (verify: the bundle is valid); 1 failure (verify: the bundle is invalid,
//! with the list of what is wrong); 2 usage error (bad dates, unknown control or host, unreadable
//! arguments).

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::plan::{parse_day, UsageError};
use super::verify::{self, KeySource};
use super::{signing, ExportError, ExportRequest};
use crate::config::CollectorConfig;

/// Format of a printed public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyFormat {
    /// PEM SubjectPublicKeyInfo (for `openssl pkeyutl -verify`).
    Pem,
    /// 64 hex characters (the raw 32-byte key).
    Hex,
}

/// `evidence` subcommands.
#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Write a signed audit evidence bundle (zip) for a period.
    Export {
        /// First day, YYYY-MM-DD (UTC, inclusive).
        #[arg(long, value_name = "DATE")]
        from: String,
        /// Last day, YYYY-MM-DD (UTC, inclusive).
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Only this CIS control (e.g. 7) or safeguard (e.g. 7.3).
        #[arg(long, value_name = "ID")]
        control: Option<String>,
        /// Only hosts with this name (repeatable).
        #[arg(long = "host", value_name = "NAME", conflicts_with = "hosts_file")]
        hosts: Vec<String>,
        /// Only the hosts named in this file (one per line; blank lines and # comments skipped).
        #[arg(long, value_name = "FILE")]
        hosts_file: Option<PathBuf>,
        /// The bundle to write (replaced atomically if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle's files against its manifest and the manifest's signature.
    Verify {
        /// The bundle (zip).
        file: PathBuf,
        /// The trusted public key (PEM or hex, in a file). Default: this collector's key, when
        /// its data directory has one; else only the key inside the bundle (integrity, not origin).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Print the public key that signs bundles (the key is generated on first use).
    PublicKey {
        /// Output format.
        #[arg(long, value_enum, default_value_t = KeyFormat::Pem)]
        format: KeyFormat,
    },
}

/// Run an `evidence` subcommand.
pub fn run(cfg: &CollectorConfig, cmd: EvidenceCommand) -> ExitCode {
    let result = match cmd {
        EvidenceCommand::Export {
            from,
            to,
            control,
            hosts,
            hosts_file,
            out,
        } => export(cfg, &from, &to, control, hosts, hosts_file, &out),
        EvidenceCommand::Verify { file, public_key } => {
            return verify(cfg, &file, public_key.as_deref())
        }
        EvidenceCommand::PublicKey { format } => public_key(cfg, format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-collector: {e:#}");
            let usage = e.downcast_ref::<UsageError>().is_some()
                || matches!(e.downcast_ref::<ExportError>(), Some(ExportError::Usage(_)));
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

/// Host names from a file: one per line, blank lines and `#` comments skipped.
pub fn read_hosts_file(path: &Path) -> Result<Vec<String>, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--hosts-file {}: {e}", path.display())))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(UsageError(format!(
            "--hosts-file {}: no host name in the file",
            path.display()
        )));
    }
    Ok(names)
}

fn export(
    cfg: &CollectorConfig,
    from: &str,
    to: &str,
    control: Option<String>,
    hosts: Vec<String>,
    hosts_file: Option<PathBuf>,
    out: &Path,
) -> anyhow::Result<()> {
    let hostnames = match hosts_file {
        Some(f) => Some(read_hosts_file(&f)?),
        None if hosts.is_empty() => None,
        None => Some(hosts),
    };
    let req = ExportRequest {
        from: parse_day("--from", from)?,
        to: parse_day("--to", to)?,
        control,
        hostnames,
        awareness_courses: cfg.kpi.awareness_courses.clone(),
        identity: cfg.identity.clone(),
    };
    let conn = crate::store::cis::open_read_only(&cfg.database_path())?;
    let key = signing::load_or_generate(&signing::key_path(&cfg.storage.data_dir))?;
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("--out {}: cannot write here: {e}", out.display()))?;
    let file = super::export(&conn, &req, &key, BufWriter::new(tmp))?;
    let tmp = file
        .into_inner()
        .map_err(|e| anyhow::anyhow!("--out {}: {}", out.display(), e.error()))?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .map_err(|e| anyhow::anyhow!("--out {}: {}", out.display(), e.error))?;
    Ok(())
}

fn public_key(cfg: &CollectorConfig, format: KeyFormat) -> anyhow::Result<()> {
    let key = signing::load_or_generate(&signing::key_path(&cfg.storage.data_dir))?;
    let vk = key.verifying_key();
    match format {
        KeyFormat::Pem => print!("{}", signing::public_pem(&vk)),
        KeyFormat::Hex => println!("{}", signing::public_hex(&vk)),
    }
    Ok(())
}

fn verify(cfg: &CollectorConfig, file: &Path, public_key: Option<&Path>) -> ExitCode {
    let usage = |m: String| {
        eprintln!("vigie-collector: {m}");
        ExitCode::from(2)
    };
    let trusted = match public_key {
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| signing::parse_public(&t).map_err(|e| e.to_string()))
        {
            Ok(k) => Some((k, format!("--public-key {}", p.display()))),
            Err(e) => return usage(format!("--public-key {}: {e}", p.display())),
        },
        None => {
            let own = signing::key_path(&cfg.storage.data_dir);
            match own.exists().then(|| signing::load(&own)) {
                Some(Ok(k)) => Some((
                    k.verifying_key(),
                    format!("this collector's key ({})", own.display()),
                )),
                Some(Err(e)) => return usage(e.to_string()),
                None => None,
            }
        }
    };
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => return usage(format!("{}: {e}", file.display())),
    };
    let verdict = match verify::verify(std::io::BufReader::new(f), trusted.as_ref().map(|t| &t.0)) {
        Ok(v) => v,
        Err(e) => {
            println!("{}: INVALID: {e}", file.display());
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut line = |s: String| {
        let _ = writeln!(out, "{s}");
    };
    for p in &verdict.altered {
        line(format!("altered: {p}"));
    }
    for p in &verdict.added {
        line(format!("added: {p}"));
    }
    for p in &verdict.removed {
        line(format!("removed: {p}"));
    }
    for p in &verdict.problems {
        line(format!("problem: {p}"));
    }
    if verdict.is_valid() {
        let by = match (verdict.signed_by, &trusted) {
            (Some(KeySource::Trusted), Some((_, what))) => format!("signed by {what}"),
            _ => "signed by the key inside the bundle only: this proves the files are intact, \
                  not who produced them (pass --public-key with the collector's key)"
                .to_string(),
        };
        line(format!(
            "{}: valid: {} files match the manifest; {by}",
            file.display(),
            verdict.checked
        ));
        ExitCode::SUCCESS
    } else {
        line(format!("{}: INVALID", file.display()));
        ExitCode::from(1)
    }
}
