//! Administration commands that work on the store directly, beside a running server or not
//! (SQLite locking and the busy timeout arbitrate): `incident`, `import`, `kpi`.
//!
//! This is the CLI edge: arguments become register records (`registers`), the store applies them
//! (`store::registers`), errors become `anyhow` messages and exit codes (0 done, 1 refused or
//! failed).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::CollectorConfig;
use crate::kpi::{evaluation, render};
use crate::registers::csv_import::{self, ImportError};
use crate::registers::incident::{parse_bool, parse_time, Incident, IncidentPatch};
use crate::store::registers::{self as reg, CompletionsOutcome, PatchOutcome};
use crate::store::Store;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text table.
    Table,
    /// JSON.
    Json,
}

/// `vigie-collector host …`
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Allow one re-enrolment of a host whose agent lost its node key (reinstall, wiped state).
    /// Without it, re-enrolling an enrolled machine needs that host's current node key.
    AllowReenroll {
        /// Host id (see `GET /api/v1/hosts`).
        id: i64,
        /// Hours the permission lasts (1 to 168).
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// List the hosts (filters as `GET /api/v1/hosts`), in hostname order.
    List(crate::host_cli::ListArgs),
    /// Show one host and the current state of each of its checks.
    Show {
        /// Host id (see `host list`).
        id: i64,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// `vigie-collector host`
pub fn host(cfg: &CollectorConfig, cmd: HostCommand) -> ExitCode {
    let (id, hours) = match cmd {
        HostCommand::AllowReenroll { id, hours } => (id, hours),
        HostCommand::List(a) => return crate::host_cli::list(cfg, &a),
        HostCommand::Show { id, format } => return crate::host_cli::show(cfg, id, format),
    };
    if !(1..=168).contains(&hours) {
        eprintln!("vigie-collector: --hours must be between 1 and 168");
        return ExitCode::from(2);
    }
    with_store(cfg, |store| async move {
        let until = crate::store::now_unix() + hours * 3600;
        let found = store
            .write(move |c| crate::store::hosts::allow_reenroll(c, id, until))
            .await?;
        if !found {
            bail!("no host with id {id}");
        }
        println!(
            "host {id} may re-enrol until {}",
            crate::store::hosts::rfc3339(until)
        );
        Ok(())
    })
}

/// `vigie-collector incident …`
#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Add an incident to the register.
    Add(Box<IncidentAdd>),
    /// Change fields of an incident (an empty time, e.g. --resolved-at "", clears it).
    Update(Box<IncidentUpdate>),
    /// List incidents, most recently detected first.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Show one incident.
    Show {
        /// Incident id.
        id: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

/// The fields of a new incident. Times are RFC 3339 (2026-03-02T14:05:00+01:00).
#[derive(Debug, Args)]
pub struct IncidentAdd {
    /// Identifier, e.g. INC-2026-001.
    #[arg(long)]
    id: String,
    /// Short title.
    #[arg(long)]
    title: String,
    /// ransomware, phishing, ceo_fraud, outage, flood, fire, energy, telecom or other.
    #[arg(long = "type")]
    kind: String,
    /// low, minor, major or crisis.
    #[arg(long)]
    severity: String,
    /// Team in charge.
    #[arg(long, default_value = "")]
    team: String,
    /// Detailed description.
    #[arg(long, default_value = "")]
    description: String,
    /// Actions taken.
    #[arg(long, default_value = "")]
    actions: String,
    /// When it started.
    #[arg(long)]
    occurred_at: Option<String>,
    /// When it was detected.
    #[arg(long)]
    detected_at: Option<String>,
    /// When it was contained.
    #[arg(long)]
    contained_at: Option<String>,
    /// When it was resolved.
    #[arg(long)]
    resolved_at: Option<String>,
    /// Whether personal data is involved (true or false).
    #[arg(long, default_value = "false")]
    personal_data: String,
    /// When the supervisory authority was notified.
    #[arg(long)]
    notified_at: Option<String>,
}

/// The fields to change; absent flags keep their value.
#[derive(Debug, Args)]
pub struct IncidentUpdate {
    /// Incident id.
    id: String,
    /// New title.
    #[arg(long)]
    title: Option<String>,
    /// New type.
    #[arg(long = "type")]
    kind: Option<String>,
    /// New severity.
    #[arg(long)]
    severity: Option<String>,
    /// New team.
    #[arg(long)]
    team: Option<String>,
    /// New description.
    #[arg(long)]
    description: Option<String>,
    /// New actions.
    #[arg(long)]
    actions: Option<String>,
    /// Occurrence time ("" clears).
    #[arg(long)]
    occurred_at: Option<String>,
    /// Detection time ("" clears).
    #[arg(long)]
    detected_at: Option<String>,
    /// Containment time ("" clears).
    #[arg(long)]
    contained_at: Option<String>,
    /// Resolution time ("" reopens).
    #[arg(long)]
    resolved_at: Option<String>,
    /// Personal data involved (true or false).
    #[arg(long)]
    personal_data: Option<String>,
    /// Notification time ("" clears).
    #[arg(long)]
    notified_at: Option<String>,
}

/// `vigie-collector import …`: each file is checked whole, then written in one transaction.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Incidents CSV: id,title,type,severity,occurred_at,detected_at,contained_at,resolved_at,
    /// personal_data,notified_at,team,description,actions (upsert by id).
    Incidents {
        /// The CSV file.
        file: PathBuf,
    },
    /// Roster CSV: person_id,name,email,department,active (upsert by person_id).
    Roster {
        /// The CSV file.
        file: PathBuf,
    },
    /// Training CSV: person_id,course,completed_at (people must be in the roster).
    Training {
        /// The CSV file.
        file: PathBuf,
    },
}

/// `vigie-collector kpi`
#[derive(Debug, Args)]
pub struct KpiArgs {
    /// The day (UTC, YYYY-MM-DD); default today. For a past day the fleet KPIs come from that
    /// day's snapshot.
    #[arg(long, value_name = "YYYY-MM-DD")]
    at: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Also store today's values as today's snapshot.
    #[arg(long)]
    snapshot: bool,
}

/// Run `f` with the store open on a small runtime; map the outcome to an exit code.
fn with_store<F, Fut>(cfg: &CollectorConfig, f: F) -> ExitCode
where
    F: FnOnce(Arc<Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let result = (|| -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start runtime")?;
        let db = cfg.database_path();
        let store = Arc::new(
            Store::open(&db, cfg.storage.max_batch)
                .with_context(|| format!("cannot open the store {}", db.display()))?,
        );
        let r = rt.block_on(f(store.clone()));
        if let Ok(store) = Arc::try_unwrap(store) {
            store.shutdown();
        }
        r
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigie-collector: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn time_arg(field: &str, v: &Option<String>) -> anyhow::Result<Option<chrono::DateTime<Utc>>> {
    match v {
        None => Ok(None),
        Some(s) => parse_time(field, s).map_err(|e| anyhow!("--{}", e.replacen('_', "-", 1))),
    }
}

fn patch_time(
    field: &str,
    v: &Option<String>,
) -> anyhow::Result<Option<Option<chrono::DateTime<Utc>>>> {
    match v {
        None => Ok(None),
        Some(s) => Ok(Some(
            parse_time(field, s).map_err(|e| anyhow!("--{}", e.replacen('_', "-", 1)))?,
        )),
    }
}

impl IncidentAdd {
    fn record(&self) -> anyhow::Result<Incident> {
        let i = Incident {
            id: self.id.clone(),
            title: self.title.clone(),
            kind: self.kind.parse().map_err(|e| anyhow!("--type: {e}"))?,
            severity: self
                .severity
                .parse()
                .map_err(|e| anyhow!("--severity: {e}"))?,
            team: self.team.clone(),
            description: self.description.clone(),
            actions: self.actions.clone(),
            occurred_at: time_arg("occurred_at", &self.occurred_at)?,
            detected_at: time_arg("detected_at", &self.detected_at)?,
            contained_at: time_arg("contained_at", &self.contained_at)?,
            resolved_at: time_arg("resolved_at", &self.resolved_at)?,
            personal_data: parse_bool("--personal-data", &self.personal_data)
                .map_err(anyhow::Error::msg)?,
            notified_at: time_arg("notified_at", &self.notified_at)?,
        };
        i.validate()
            .map_err(|e| anyhow!("incident {}: {e}", i.id))?;
        Ok(i)
    }
}

impl IncidentUpdate {
    fn patch(&self) -> anyhow::Result<IncidentPatch> {
        Ok(IncidentPatch {
            title: self.title.clone(),
            kind: self
                .kind
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow!("--type: {e}"))?,
            severity: self
                .severity
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| anyhow!("--severity: {e}"))?,
            team: self.team.clone(),
            description: self.description.clone(),
            actions: self.actions.clone(),
            occurred_at: patch_time("occurred_at", &self.occurred_at)?,
            detected_at: patch_time("detected_at", &self.detected_at)?,
            contained_at: patch_time("contained_at", &self.contained_at)?,
            resolved_at: patch_time("resolved_at", &self.resolved_at)?,
            personal_data: self
                .personal_data
                .as_deref()
                .map(|s| parse_bool("--personal-data", s))
                .transpose()
                .map_err(anyhow::Error::msg)?,
            notified_at: patch_time("notified_at", &self.notified_at)?,
        })
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `vigie-collector incident …`
pub fn incident(cfg: &CollectorConfig, cmd: IncidentCommand) -> ExitCode {
    with_store(cfg, |store| async move {
        let now = crate::store::now_unix();
        match cmd {
            IncidentCommand::Add(a) => {
                let i = a.record()?;
                let id = i.id.clone();
                if !store
                    .write(move |c| reg::create_incident(c, &i, now))
                    .await?
                {
                    bail!("incident {id} already exists; change it with `vigie-collector incident update {id} …`");
                }
                println!("incident {id} added");
            }
            IncidentCommand::Update(u) => {
                let patch = u.patch()?;
                if patch.is_empty() {
                    bail!("nothing to update: give at least one field flag (see --help)");
                }
                let id = u.id.clone();
                let outcome = store
                    .write(move |c| reg::patch_incident(c, &u.id, &patch, now))
                    .await?;
                match outcome {
                    PatchOutcome::Updated(_) => println!("incident {id} updated"),
                    PatchOutcome::Unchanged(_) => println!("incident {id} unchanged"),
                    PatchOutcome::NotFound => bail!("no incident {id}"),
                    PatchOutcome::Invalid(e) => bail!("incident {id}: {e}; nothing changed"),
                }
            }
            IncidentCommand::List { format } => {
                let list = store.read(reg::list_incidents)?;
                match format {
                    Format::Json => print_json(&serde_json::json!({ "incidents": list }))?,
                    Format::Table => print!("{}", render::incident_table(&list)),
                }
            }
            IncidentCommand::Show { id, format } => {
                let Some(i) = store.read(|c| reg::get_incident(c, &id))? else {
                    bail!("no incident {id}");
                };
                match format {
                    Format::Json => print_json(&i)?,
                    Format::Table => print!("{}", render::incident_detail(&i)),
                }
            }
        }
        Ok(())
    })
}

fn rows<T>(
    r: Result<Vec<csv_import::Lined<T>>, ImportError>,
) -> anyhow::Result<Vec<csv_import::Lined<T>>> {
    r.map_err(anyhow::Error::from)
}

/// `vigie-collector import …`
pub fn import(cfg: &CollectorConfig, cmd: ImportCommand) -> ExitCode {
    with_store(cfg, |store| async move {
        let now = crate::store::now_unix();
        match cmd {
            ImportCommand::Incidents { file } => {
                let incidents: Vec<Incident> = rows(csv_import::read_incidents(&file))?
                    .into_iter()
                    .map(|l| l.row)
                    .collect();
                let sum = store
                    .write(move |c| reg::upsert_incidents(c, &incidents, now))
                    .await?;
                println!("{}: incidents: {sum}", file.display());
            }
            ImportCommand::Roster { file } => {
                let people: Vec<_> = rows(csv_import::read_roster(&file))?
                    .into_iter()
                    .map(|l| l.row)
                    .collect();
                let sum = store
                    .write(move |c| reg::upsert_people(c, &people, now))
                    .await?;
                print!("{}: people: {}", file.display(), sum.rows);
                if sum.not_in_file > 0 {
                    print!(
                        "; {} people in the register are not in this file (left as they are; \
                         set active=false to take someone off)",
                        sum.not_in_file
                    );
                }
                println!();
            }
            ImportCommand::Training { file } => {
                let lined = rows(csv_import::read_training(&file))?;
                let completions: Vec<_> = lined.iter().map(|l| l.row.clone()).collect();
                let outcome = store
                    .write(move |c| reg::insert_completions(c, &completions, now))
                    .await?;
                match outcome {
                    CompletionsOutcome::Imported(sum) => {
                        println!("{}: completions: {sum}", file.display())
                    }
                    CompletionsOutcome::UnknownPerson { index } => {
                        let l = &lined[index];
                        return Err(ImportError::Line {
                            file: file.display().to_string(),
                            line: l.line,
                            at: String::new(),
                            message: format!(
                                "unknown person_id {:?}: import the roster first",
                                l.row.person_id
                            ),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    })
}

/// `vigie-collector kpi`
pub fn kpi(cfg: &CollectorConfig, args: KpiArgs) -> ExitCode {
    let cfg = cfg.clone();
    with_store(&cfg.clone(), |store| async move {
        let now = Utc::now();
        let day = match &args.at {
            None => now.date_naive(),
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| anyhow!("--at {s:?}: expected a day as YYYY-MM-DD"))?,
        };
        let eval = if args.snapshot {
            if day != now.date_naive() {
                bail!("--snapshot stores today's values; it cannot be combined with a past --at");
            }
            evaluation::take_snapshot(store, cfg, now).await?
        } else {
            let s = store.clone();
            tokio::task::spawn_blocking(move || evaluation::evaluate_on(&s, &cfg, day, now))
                .await
                .map_err(|e| anyhow!("KPI evaluation failed: {e}"))??
        };
        match args.format {
            Format::Json => print_json(&eval)?,
            Format::Table => print!("{}", render::kpi_table(&eval)),
        }
        if args.snapshot {
            eprintln!("snapshot of {} stored", eval.when.day);
        }
        Ok(())
    })
}
