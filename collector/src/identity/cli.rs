//! `vigie-collector identity sync [--source NAME]` and `identity list [--without-mfa]
//! [--source NAME] [--format table|json]`.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use super::sync::{summaries, sync_source, SyncFailure};
use crate::config::CollectorConfig;
use crate::store::{identities, Store};

/// `identity` subcommands.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Pull the configured sources now (all, or `--source NAME`) and store the result.
    Sync {
        /// Only this source (its `name` in `[[identity.source]]`).
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// The accounts of each source's last good sync, after a summary per source.
    List {
        /// Only active accounts without any second factor (status `fail`).
        #[arg(long)]
        without_mfa: bool,
        /// Only this source.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Output format of `identity list`.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Run an `identity` subcommand (exit 0 ok, 1 a sync or the store failed, 2 usage).
pub fn run(cfg: &CollectorConfig, cmd: IdentityCommand) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vigie-collector: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let store = match Store::open_with(
        &cfg.database_path(),
        cfg.storage.max_batch,
        cfg.storage.synchronous,
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vigie-collector: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match cmd {
        IdentityCommand::Sync { source } => rt.block_on(sync(cfg, &store, source.as_deref())),
        IdentityCommand::List {
            without_mfa,
            source,
            format,
        } => list(cfg, &store, source.as_deref(), without_mfa, format),
    };
    store.shutdown();
    code
}

async fn sync(cfg: &CollectorConfig, store: &Store, only: Option<&str>) -> ExitCode {
    let id = &cfg.identity;
    if id.source.is_empty() {
        eprintln!("vigie-collector: no [[identity.source]] in the configuration");
        return ExitCode::from(2);
    }
    if let Some(name) = only {
        if !id.source.iter().any(|s| s.name() == name) {
            let known: Vec<_> = id.source.iter().map(|s| s.name()).collect();
            eprintln!(
                "vigie-collector: no identity source named {name:?} (configured: {})",
                known.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let mut failed = false;
    for (i, s) in id.source.iter().enumerate() {
        if only.is_some_and(|n| n != s.name()) {
            continue;
        }
        match sync_source(
            store,
            id,
            &cfg.webhooks.targets,
            i,
            crate::store::now_unix(),
        )
        .await
        {
            Ok(r) => println!(
                "{}: ok, {} accounts, {} status changes",
                s.name(),
                r.accounts,
                r.transitions
            ),
            Err(SyncFailure::Source(e)) => {
                failed = true;
                println!("{}: FAILED (last good sync kept): {e}", s.name());
            }
            Err(e) => {
                eprintln!("vigie-collector: {}: {e}", s.name());
                return ExitCode::from(1);
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn list(
    cfg: &CollectorConfig,
    store: &Store,
    only: Option<&str>,
    without_mfa: bool,
    format: Format,
) -> ExitCode {
    let now = crate::store::now_unix();
    let r = store.read(|c| {
        let stored = identities::snapshot(c)?;
        let rows = identities::current(c, only, without_mfa)?;
        Ok((summaries(&stored, &cfg.identity, now), rows))
    });
    let (sums, rows) = match r {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vigie-collector: {e}");
            return ExitCode::from(1);
        }
    };
    let sums: Vec<_> = sums
        .into_iter()
        .filter(|s| only.is_none_or(|n| n == s.source))
        .collect();
    match format {
        Format::Json => {
            let v = serde_json::json!({ "sources": sums, "identities": rows });
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Table => {
            for s in &sums {
                let age = s
                    .age_seconds
                    .map(|a| format!("{} h ago", a / 3600))
                    .unwrap_or_else(|| "never".into());
                println!(
                    "source {} ({}): last good sync {age}{}; {} active members, {} without MFA ({} admins), {} weak only, {} unknown; {} guests/outside ({} without MFA)",
                    s.source,
                    s.kind,
                    if s.stale { ", STALE" } else { "" },
                    s.counts.active_members,
                    s.counts.without_mfa,
                    s.counts.admins_without_mfa,
                    s.counts.weak_only,
                    s.counts.unknown,
                    s.counts.guests,
                    s.counts.guests_without_mfa,
                );
                if let Some(e) = &s.last_error {
                    println!("  last attempt failed: {e}");
                }
            }
            println!(
                "{:<10} {:<36} {:<24} {:<20} {:<6} {:<10} {:<14}",
                "SOURCE", "LOGIN", "NAME", "KIND", "ADMIN", "MFA", "STATUS"
            );
            for r in &rows {
                println!(
                    "{:<10} {:<36} {:<24} {:<20} {:<6} {:<10} {:<14}",
                    r.source,
                    r.login,
                    r.display_name,
                    r.kind,
                    if r.admin { "yes" } else { "" },
                    r.mfa,
                    r.status
                );
            }
        }
    }
    ExitCode::SUCCESS
}
