//! `vigie-collector`: stores agents' reports in SQLite and serves the fleet's compliance state.
//!
//! Map (arrows = "uses"): `server` → `http` → `ingest` (validation) → `store` (all SQL; one batching
//! writer). `metrics` reads the store on a schedule. `cis` scores the fleet against CIS Controls
//! v8.1 (for `metrics` and the `cis` commands). `auth` owns node keys and API tokens. Nothing
//! reads `http`.
//! `registers` holds the incident and training records; `kpi` computes the governance KPIs from
//! the store; `admin` is the CLI edge of both (`incident`, `import`, `kpi`).
//! `report` writes the monthly report (HTML, Markdown, JSON) from the store, read-only.
//! `evidence` writes and verifies signed audit evidence bundles from the store (`evidence`).

mod admin;
mod auth;
mod backup;
mod cis;
mod cli_docs;
mod config;
mod escape;
mod evidence;
mod feed_token_cli;
mod host_cli;
mod host_identity;
mod http;
mod http_risk;
mod identity;
mod ingest;
mod kpi;
mod metrics;
mod openapi;
mod os_gauges;
mod registers;
mod report;
mod risk;
mod server;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::CollectorConfig;

#[derive(Parser)]
#[command(
    name = "vigie-collector",
    version,
    about = "Vigie collector: stores compliance reports from agents and serves the fleet's state",
    long_about = "Vigie collector: stores compliance reports from Vigie agents in SQLite, computes \
the fleet's state, and serves it over a JSON API and Prometheus metrics.\n\n\
Exit codes: 0 success; 1 runtime failure; 2 usage or configuration error."
)]
struct Cli {
    /// Collector configuration file (TOML). Without it, defaults: ./vigie-data, 127.0.0.1:8443.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "VIGIE_COLLECTOR_CONFIG"
    )]
    config: Option<PathBuf>,
    /// Log filter (e.g. `info`, `debug`, `vigie_collector=debug`).
    #[arg(long, global = true, default_value = "info", env = "VIGIE_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (HTTP API, ingest, metrics) until SIGTERM.
    Serve,
    /// Validate the configuration and exit.
    CheckConfig,
    /// CIS Controls v8.1: the fleet's score and the safeguard catalogue.
    Cis {
        #[command(subcommand)]
        command: cis::cli::CisCommand,
    },
    /// The incident register: add, update, list, show.
    #[command(subcommand)]
    Incident(admin::IncidentCommand),
    /// Enrolled hosts: allow a re-enrolment (an agent that lost its node key).
    #[command(subcommand)]
    Host(admin::HostCommand),
    /// Import a register from CSV: incidents, roster, training.
    #[command(subcommand)]
    Import(admin::ImportCommand),
    /// Print the governance KPIs (today, or --at a past day); --snapshot stores today's.
    Kpi(admin::KpiArgs),
    /// Risk register: add, update, list, show, import (CSV).
    Risk {
        #[command(subcommand)]
        command: risk::cli::RiskCommand,
    },
    /// Improvement plan: add, update, close (evidence + approver), list.
    Action {
        #[command(subcommand)]
        command: risk::cli::ActionCommand,
    },
    /// Exceptions ("dérogations"): add, list, revoke.
    Exception {
        #[command(subcommand)]
        command: risk::cli::ExceptionCommand,
    },
    /// Reports: `report monthly --month YYYY-MM --out DIR` (HTML, Markdown, JSON).
    Report {
        #[command(subcommand)]
        command: report::ReportCommand,
    },
    /// Audit evidence: export a signed bundle for a period, verify one, print the public key.
    Evidence {
        #[command(subcommand)]
        command: evidence::cli::EvidenceCommand,
    },
    /// Identities at identity providers and code hosts: `identity sync`, `identity list`.
    #[command(subcommand)]
    Identity(identity::cli::IdentityCommand),
    /// Read-only feed tokens for feed readers (`?token=` on /feeds/): create, list, revoke.
    #[command(subcommand)]
    FeedToken(feed_token_cli::FeedTokenCommand),
    /// Back up the data directory (database, signing key) into one file while `serve` runs.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data directory.
    Restore(backup::RestoreArgs),
}

fn main() -> ExitCode {
    if let Some(code) = cli_docs::intercept(<Cli as clap::CommandFactory>::command) {
        return code;
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cfg = match CollectorConfig::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vigie-collector: {e:#}");
            return ExitCode::from(2);
        }
    };
    if cli.command.must_find_the_store() {
        let db = cfg.database_path();
        if !db.exists() {
            // Only `serve` creates the database: a command run in the wrong directory or without
            // --config must not leave an empty ./vigie-data behind and report on nothing.
            eprintln!(
                "vigie-collector: no database at {}: only `vigie-collector serve` creates it; \
                 pass the collector's --config (storage.data_dir) or start the collector first",
                db.display()
            );
            return ExitCode::from(1);
        }
    }
    match cli.command {
        Command::Incident(c) => admin::incident(&cfg, c),
        Command::Host(c) => admin::host(&cfg, c),
        Command::Import(c) => admin::import(&cfg, c),
        Command::Kpi(a) => admin::kpi(&cfg, a),
        Command::Evidence { command } => evidence::cli::run(&cfg, command),
        Command::Identity(c) => identity::cli::run(&cfg, c),
        Command::FeedToken(c) => feed_token_cli::run(&cfg, c),
        Command::Backup(a) => backup::backup(&cfg, a),
        Command::Restore(a) => backup::restore(&cfg, a),
        Command::CheckConfig => match preflight(&cfg) {
            Ok(_) => {
                println!("configuration is valid");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vigie-collector: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Cis { command } => match cis::cli::run(&cfg, command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vigie-collector: {e:#}");
                let usage = e
                    .downcast_ref::<cis::assessment::AssessmentError>()
                    .is_some();
                ExitCode::from(if usage { 2 } else { 1 })
            }
        },
        Command::Risk { command } => risk_exit(risk::cli::run_risk(&cfg, command)),
        Command::Action { command } => risk_exit(risk::cli::run_action(&cfg, command)),
        Command::Exception { command } => risk_exit(risk::cli::run_exception(&cfg, command)),
        Command::Report { command } => report::run(&cfg, command),
        Command::Serve => {
            let prepared = match preflight(&cfg) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("vigie-collector: {e:#}");
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("vigie-collector: cannot start runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            // Identity syncs run beside the server on their own store handle, opened (and
            // migrated) before the server opens its own.
            let identity = match identity::schedule::open_and_spawn(&rt, &cfg) {
                Ok(h) => h,
                Err(e) => {
                    eprintln!("vigie-collector: {e}");
                    return ExitCode::from(1);
                }
            };
            let served = rt.block_on(server::serve(cfg, prepared));
            identity::schedule::stop(&rt, identity);
            match served {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vigie-collector: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

impl Command {
    /// Commands that would open the store through a path that creates it when missing (the
    /// others refuse a missing database themselves, or need none). Only `serve` creates it.
    fn must_find_the_store(&self) -> bool {
        matches!(
            self,
            Command::Incident(_)
                | Command::Host(_)
                | Command::FeedToken(_)
                | Command::Import(_)
                | Command::Kpi(_)
                | Command::Evidence {
                    command: evidence::cli::EvidenceCommand::PublicKey { .. }
                }
        )
    }
}

/// Everything `serve` checks before it starts — the file, then TLS, the enrolment secret file and
/// the CIS self-assessment — shared with `check-config`, so that a configuration called valid
/// starts, and one that does not start is refused with exit code 2.
fn preflight(cfg: &CollectorConfig) -> anyhow::Result<config::Prepared> {
    let prepared = cfg.prepare()?;
    cis::load_configured(&cfg.cis, cis::today()).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(prepared)
}

fn risk_exit(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-collector: {e:#}");
            ExitCode::from(risk::cli::exit_code(&e))
        }
    }
}
