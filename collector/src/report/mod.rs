//! `vigie-collector report monthly`: the monthly security report the manual's section 03 asks for
//! (indicators against targets and their 12-month trends, incidents, CIS score per control, risks,
//! improvement plan, exceptions, fleet coverage), written as HTML, Markdown and JSON for cron.
//!
//! Map (arrows = "uses"): `data` (reads `store::report` and the registers, builds the language-
//! neutral [`data::MonthlyReport`] of `model` and `governance` sections) → `doc` (lays it out in one language with `i18n`) → `markdown`,
//! `html` (+ `svg`). JSON is `data` serialised. This module is the CLI edge: arguments, reading the
//! store read-only, writing files atomically, exit codes.

pub mod data;
pub mod doc;
pub mod doc_governance;
pub mod doc_identities;
pub mod governance;
pub mod html;
pub mod i18n;
pub mod identities;
pub mod markdown;
pub mod model;
pub mod svg;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::CollectorConfig;
use data::{DataError, MonthlyReport};
use i18n::Lang;

/// Output format of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Format {
    /// One self-contained HTML page (prints on A4).
    Html,
    /// Markdown.
    Md,
    /// JSON: the data behind the report, language-neutral.
    Json,
}

/// `vigie-collector report …`
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Write the monthly report of --month into --out (files named with the month).
    Monthly(MonthlyArgs),
    /// Benchmark support: fill a new database with a synthetic fleet and a year of history.
    #[command(hide = true)]
    GenerateStore(GenerateArgs),
}

/// `report monthly` arguments.
#[derive(Debug, Args)]
pub struct MonthlyArgs {
    /// The month, YYYY-MM (the month in progress gives a draft).
    #[arg(long, value_name = "YYYY-MM")]
    pub month: String,
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Formats to write (repeat or comma-separate).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "html")]
    pub format: Vec<Format>,
    /// Language of the HTML and Markdown files.
    #[arg(long, value_enum, default_value = "fr")]
    pub lang: Lang,
    /// Print the path of each file written.
    #[arg(long, short)]
    pub verbose: bool,
    /// Also print each report's content to stdout.
    #[arg(long)]
    pub print: bool,
}

/// `report generate-store` arguments.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The database to create (must not exist).
    #[arg(long)]
    pub db: PathBuf,
    /// Hosts to enrol.
    #[arg(long, default_value_t = 100_000)]
    pub hosts: u32,
    /// Days of daily roll-ups and KPI snapshots, ending on --end.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Last day of history (YYYY-MM-DD).
    #[arg(long, default_value = "2026-10-31")]
    pub end: String,
}

/// What can go wrong writing the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Bad arguments (exit 2).
    #[error(transparent)]
    Usage(DataError),
    /// The store could not be read (exit 1).
    #[error("cannot read the store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The live figures of the month in progress could not be computed (exit 1).
    #[error("cannot compute the figures of the month in progress: {0}")]
    Live(crate::kpi::evaluation::KpiError),
    /// A file could not be written (exit 1).
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file or directory.
        path: String,
        /// Why.
        message: String,
    },
}

impl ReportError {
    /// The process exit code: 2 for usage, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl From<DataError> for ReportError {
    fn from(e: DataError) -> ReportError {
        match e {
            DataError::Store(s) => ReportError::Store(s),
            DataError::Live(e) => ReportError::Live(e),
            other => ReportError::Usage(other),
        }
    }
}

/// The file name of the report of `month` in `format` (JSON has no language).
pub fn file_name(month: &str, format: Format, lang: Lang) -> String {
    match format {
        Format::Html => format!("vigie-report-{month}.{}.html", lang.code()),
        Format::Md => format!("vigie-report-{month}.{}.md", lang.code()),
        Format::Json => format!("vigie-report-{month}.json"),
    }
}

/// Render `report` in `format` and `lang`.
pub fn render(report: &MonthlyReport, format: Format, lang: Lang) -> String {
    match format {
        Format::Html => html::render(&doc::document(report, lang)),
        Format::Md => markdown::render(&doc::document(report, lang)),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
    }
}

/// Build the report of `month` from the database at `db`, seen at `now`.
pub fn build(
    db: &Path,
    cfg: &CollectorConfig,
    month: &str,
    now: DateTime<Utc>,
) -> Result<MonthlyReport, ReportError> {
    let first = data::parse_month(month)?;
    let conn = crate::store::cis::open_read_only(db)?;
    let inputs = data::load(&conn, cfg, first, now)?;
    Ok(data::assemble(&inputs, &cfg.kpi, first, now)?)
}

/// Write `content` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees half a report. An identical existing file is left untouched.
pub fn write_atomically(path: &Path, content: &[u8]) -> Result<(), ReportError> {
    let err = |p: &Path, e: std::io::Error| ReportError::Write {
        path: p.display().to_string(),
        message: e.to_string(),
    };
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("report");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(path, e)
    })
}

/// Run `report monthly`: build once, write each format; the paths written, in order.
pub fn monthly(
    cfg: &CollectorConfig,
    args: &MonthlyArgs,
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>, ReportError> {
    let report = build(&cfg.database_path(), cfg, &args.month, now)?;
    std::fs::create_dir_all(&args.out).map_err(|e| ReportError::Write {
        path: args.out.display().to_string(),
        message: e.to_string(),
    })?;
    let mut formats = args.format.clone();
    formats.sort();
    formats.dedup();
    let mut written = Vec::new();
    for f in formats {
        let content = render(&report, f, args.lang);
        let path = args.out.join(file_name(&report.month, f, args.lang));
        write_atomically(&path, content.as_bytes())?;
        if args.print {
            print!("{content}");
        }
        written.push(path);
    }
    Ok(written)
}

/// The CLI edge of `report`: exit 0 when done; 2 for a bad month; 1 when the store cannot be read
/// or a file cannot be written. Messages go to stderr; stdout stays empty unless asked.
pub fn run(cfg: &CollectorConfig, cmd: ReportCommand) -> std::process::ExitCode {
    use std::process::ExitCode;
    match cmd {
        ReportCommand::Monthly(args) => match monthly(cfg, &args, Utc::now()) {
            Ok(paths) => {
                if args.verbose {
                    for p in paths {
                        println!("wrote {}", p.display());
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vigie-collector: report monthly: {e}");
                ExitCode::from(e.exit_code())
            }
        },
        ReportCommand::GenerateStore(a) => {
            let end = match chrono::NaiveDate::parse_from_str(&a.end, "%Y-%m-%d") {
                Ok(d) => d,
                Err(_) => {
                    eprintln!("vigie-collector: --end {:?}: expected YYYY-MM-DD", a.end);
                    return ExitCode::from(2);
                }
            };
            match crate::store::synthetic::generate(&a.db, a.hosts, a.days, end) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vigie-collector: report generate-store: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
