//! `vigie-agent`: run Vigie's compliance checks on this host and report them to a collector.
//!
//! Map: `main` parses the command line and maps outcomes to exit codes → `config` (agent.toml) →
//! `checks_run` (probe + state + the vigie-checks registry → a wire `Report`) → `table` (human
//! output). `enroll`, `client`, `spool` and `daemon` turn one run into a fleet member.

mod checks_run;
mod cli_docs;
mod client;
mod config;
mod daemon;
mod delta;
mod enroll;
mod files;
mod output;
mod spool;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{AgentConfig, DEFAULT_CONFIG};

/// `eprintln!` that never panics: a closed stderr loses the message, not the exit code.
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Exit code for usage and configuration errors (clap uses 2 as well).
const EXIT_USAGE: u8 = 2;
/// Exit code of `run --once` when reports stay spooled (sysexits' EX_TEMPFAIL).
const EXIT_TEMPFAIL: u8 = 75;

#[derive(Parser)]
#[command(
    name = "vigie-agent",
    version,
    about = "Vigie agent: checks patch age, disk encryption, MFA, backups and password policy on this host",
    long_about = "Vigie agent: checks patch age, disk encryption, MFA, backup freshness and password \
policy on this host, and reports the results to a Vigie collector.\n\n\
Exit codes: 0 every check passed or was not applicable; 1 a check reported fail, warn or error \
(error = could not be determined); 2 usage or configuration error; 3 runtime failure (e.g. \
collector refused the enrolment, or its answer was lost: run `enroll` again); 75 (`run --once`) \
reports stay spooled because the collector is unreachable or did not acknowledge them. Output to a \
closed pipe (`| head`) is dropped quietly and does not change the exit code."
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
    /// Enrol this host with the collector and store its node key (mode 0600) in the state directory.
    Enroll(EnrollArgs),
    /// Run as a daemon: check every interval, spool reports, deliver them in order.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct EnrollArgs {
    /// Collector base URL (overrides collector.url), e.g. https://vigie.example.org:8443
    #[arg(long, value_name = "URL")]
    collector: Option<String>,
    /// File holding the fleet's enrolment secret (first line).
    #[arg(long, value_name = "FILE", env = "VIGIE_ENROLL_SECRET_FILE")]
    secret_file: PathBuf,
    /// PEM file of the CA that signed the collector's certificate; it is copied into the state
    /// directory and from then on the only CA trusted for the collector.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Identify as this fixture host instead of this machine (tests).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// State directory (overrides agent.state_dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Deliver the spooled reports, run the checks once, deliver again, and exit: 0 when all were
    /// delivered, 75 (EX_TEMPFAIL) when some stay spooled. For cron and tests.
    #[arg(long)]
    once: bool,
    /// Seconds between runs (overrides agent.interval_seconds; values below 60 are for tests).
    #[arg(long, value_name = "SECONDS")]
    interval: Option<u64>,
    /// Collector base URL (overrides collector.url).
    #[arg(long, value_name = "URL")]
    collector: Option<String>,
    /// Check this fixture host instead of this machine (tests).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// State directory (overrides agent.state_dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
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
    if let Some(code) = cli_docs::intercept(<Cli as clap::CommandFactory>::command) {
        return code;
    }
    // Everything the agent writes (node key, spool, first-seen state kept by the checks) is
    // private: no group or other bits whatever umask the agent was started with. Files and
    // directories of its own also get explicit modes (see `files`); this covers the rest.
    // SAFETY: umask(2) cannot fail and touches no memory; no other thread runs yet.
    #[cfg(unix)]
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    init_logging(&cli.log);
    let (config_path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let cfg = match AgentConfig::load(&config_path, explicit) {
        Ok(c) => c,
        Err(e) => {
            complain!("vigie-agent: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut cfg = cfg;
    match cli.command {
        Command::Check(args) => cmd_check(&cfg, args),
        Command::Enroll(args) => {
            if let Some(url) = &args.collector {
                cfg.collector.url = Some(url.clone());
            }
            exit_on(cmd_enroll(&cfg, args))
        }
        Command::Run(args) => {
            if let Some(url) = &args.collector {
                cfg.collector.url = Some(url.clone());
            }
            if let Err(e) = cfg.validate() {
                complain!("vigie-agent: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
            match cmd_run(&cfg, args) {
                Ok(daemon::OnceOutcome::AllDelivered | daemon::OnceOutcome::Stopped) => {
                    ExitCode::SUCCESS
                }
                Ok(daemon::OnceOutcome::Pending(n)) => {
                    complain!(
                        "vigie-agent: {n} report(s) stay spooled until the collector acknowledges them"
                    );
                    ExitCode::from(EXIT_TEMPFAIL)
                }
                Err(e) => {
                    complain!("vigie-agent: {e:#}");
                    ExitCode::from(3)
                }
            }
        }
        Command::List => {
            let mut text = String::new();
            for c in vigie_checks::ALL {
                text.push_str(&format!(
                    "{:<18} {:<28} CIS {}\n",
                    c.id(),
                    c.title(),
                    c.safeguards().join(", ")
                ));
            }
            exit_on(output::print(&text))
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
            complain!(
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
            complain!("vigie-agent: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let text = match args.format {
        Format::Table => table::render(&report),
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => s + "\n",
            Err(e) => {
                complain!("vigie-agent: cannot encode report: {e}");
                return ExitCode::from(3);
            }
        },
    };
    // A reader that went away (`| head`) is not a failure: the exit code still tells the checks.
    if let Err(e) = output::print(&text) {
        complain!("vigie-agent: {e:#}");
        return ExitCode::from(3);
    }
    if report.results.iter().any(|r| r.status.needs_attention()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn exit_on(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            complain!("vigie-agent: {e:#}");
            ExitCode::from(3)
        }
    }
}

/// The single-threaded runtime the agent's network calls run on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn cmd_enroll(cfg: &AgentConfig, args: EnrollArgs) -> anyhow::Result<()> {
    let enrolled = enroll::enroll(
        cfg,
        enroll::EnrollRequest {
            state_dir: args
                .state_dir
                .clone()
                .unwrap_or_else(|| cfg.agent.state_dir.clone()),
            secret_file: &args.secret_file,
            ca: args.ca.as_deref(),
            root: args.root.as_deref(),
        },
    )?;
    output::print(&format!(
        "enrolled {} ({}); node key stored in {}\n",
        enrolled.hostname,
        enrolled.machine_id,
        enrolled.node_key_path.display()
    ))
}

fn cmd_run(cfg: &AgentConfig, args: RunArgs) -> anyhow::Result<daemon::OnceOutcome> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| cfg.agent.state_dir.clone());
    let interval = args.interval.unwrap_or(cfg.agent.interval_seconds).max(1);
    let jitter = if args.interval.is_some() {
        0
    } else {
        cfg.agent.jitter_seconds
    };
    let opts = daemon::RunOptions {
        target: checks_run::Target {
            root: args.root.as_deref(),
            state_dir: Some(&state_dir),
        },
        state_dir: state_dir.clone(),
        interval: std::time::Duration::from_secs(interval),
        jitter: std::time::Duration::from_secs(jitter),
        once: args.once,
    };
    runtime()?.block_on(daemon::run(cfg, opts))
}
