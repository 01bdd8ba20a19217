//! `vigie-agent`: run Vigie's compliance checks on this host and report them to a collector.
//!
//! Map: `main` parses the command line and maps outcomes to exit codes → `config` (agent.toml) →
//! `checks_run` (probe + state + the vigie-checks registry → a wire `Report`) → `table` (human
//! output). `enroll`, `client`, `spool` and `daemon` turn one run into a fleet member.

mod checks_run;
mod config;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{AgentConfig, DEFAULT_CONFIG};

/// Exit code for usage and configuration errors (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "vigie-agent",
    version,
    about = "Vigie agent: checks patch age, disk encryption, MFA, backups and password policy on this host",
    long_about = "Vigie agent: checks patch age, disk encryption, MFA, backup freshness and password \
policy on this host, and reports the results to a Vigie collector.\n\n\
Exit codes: 0 every check passed or was not applicable; 1 a check reported fail, warn or error \
(error = could not be determined); 2 usage or configuration error; 3 runtime failure (e.g. \
collector refused the enrolment)."
)]
struct Cli {
    /// Agent configuration file. An absent file at the default path means defaults.
    #[arg(long, global = true, value_name = "FILE", env = "VIGIE_AGENT_CONFIG")]
    config: Option<PathBuf>,

    /// Log filter for messages on stderr (e.g. `info`, `debug`, `vigie_agent=debug`).
    #[arg(long, global = true, default_value = "warn", env = "VIGIE_LOG")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every check once and print the results.
    Check(CheckArgs),
    /// List the checks and the CIS Controls v8.1 safeguards they evidence.
    List,
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Output format: a table for people, or the JSON report as sent to the collector.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Run only this check (see `vigie-agent list`).
    #[arg(long, value_name = "CHECK")]
    only: Option<String>,
    /// Run against a fixture host directory instead of this machine (see tests/fixtures/hosts/README.md).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// State directory (overrides agent.state_dir). With --root and no --state-dir, the fixture's
    /// state/ is read and nothing is written.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let (config_path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let cfg = match AgentConfig::load(&config_path, explicit) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vigie-agent: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        Command::Check(args) => cmd_check(&cfg, args),
        Command::List => {
            for c in vigie_checks::ALL {
                println!(
                    "{:<18} {:<28} CIS {}",
                    c.id(),
                    c.title(),
                    c.safeguards().join(", ")
                );
            }
            ExitCode::SUCCESS
        }
    }
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn cmd_check(cfg: &AgentConfig, args: CheckArgs) -> ExitCode {
    if let Some(only) = &args.only {
        if vigie_checks::find(only).is_none() {
            let ids: Vec<_> = vigie_checks::ALL.iter().map(|c| c.id()).collect();
            eprintln!(
                "vigie-agent: unknown check {only:?}; known checks: {}",
                ids.join(", ")
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let target = checks_run::Target {
        root: args.root.as_deref(),
        state_dir: args.state_dir.as_deref(),
    };
    let report = match checks_run::run_once(cfg, &target, args.only.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vigie-agent: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match args.format {
        Format::Table => print!("{}", table::render(&report)),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("vigie-agent: cannot encode report: {e}");
                return ExitCode::from(3);
            }
        },
    }
    if report.results.iter().any(|r| r.status.needs_attention()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
