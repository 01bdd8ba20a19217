//! `vigie-collector risk|action|exception …`: the register, the plan and the exceptions from the
//! command line. Opens the database read-write (it can run next to `serve`: SQLite serialises the
//! writes) and prints JSON for tools or a short table for people.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use super::actions::{ActionInput, CloseRequest};
use super::exceptions::ExceptionRequest;
use super::feeds::{self, FeedQuery};
use super::ops;
use super::register::RiskInput;
use crate::config::CollectorConfig;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// `risk` subcommands.
#[derive(Debug, Subcommand)]
pub enum RiskCommand {
    /// Add a manual risk.
    Add {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        scenario: String,
        /// Affected asset or host group (repeatable).
        #[arg(long = "asset")]
        assets: Vec<String>,
        /// 1..4.
        #[arg(long)]
        likelihood: u8,
        /// 1..4.
        #[arg(long)]
        impact: u8,
        /// reduce, accept, transfer or avoid.
        #[arg(long)]
        treatment: String,
        #[arg(long)]
        owner: String,
        /// YYYY-MM-DD (default: today + risk.review_days).
        #[arg(long)]
        next_review: Option<String>,
        /// Who is making the change (recorded in the history).
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
    /// Change a risk (only the given fields); the change is recorded in its history.
    Update {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        scenario: Option<String>,
        /// Replace the assets (repeatable).
        #[arg(long = "asset")]
        assets: Vec<String>,
        #[arg(long)]
        likelihood: Option<u8>,
        #[arg(long)]
        impact: Option<u8>,
        #[arg(long)]
        treatment: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        /// open or closed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        next_review: Option<String>,
        /// Reviewed today: next review = today + risk.review_days.
        #[arg(long)]
        reviewed: bool,
        /// Why (recorded in the history).
        #[arg(long)]
        note: Option<String>,
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
    /// List risks (filters as in the API).
    List {
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        updated_since: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one risk with its history (JSON).
    Show { id: i64 },
    /// Import manual risks from a CSV file (columns: docs/risk.md); all rows or none.
    Import {
        file: PathBuf,
        #[arg(long, env = "USER", default_value = "cli")]
        actor: String,
    },
}

/// `action` subcommands.
#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Add an action to the improvement plan.
    Add {
        #[arg(long)]
        title: String,
        /// p1 (a month), p2 (a quarter), p3 (a year).
        #[arg(long)]
        priority: String,
        #[arg(long)]
        owner: String,
        /// YYYY-MM-DD (default from the priority).
        #[arg(long)]
        due: Option<String>,
        #[arg(long)]
        budget: Option<f64>,
        /// Linked risk id (repeatable).
        #[arg(long = "risk")]
        risks: Vec<i64>,
    },
    /// Change an action (open, in_progress, cancelled; use `close` for done).
    Update {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        priority: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        due: Option<String>,
        #[arg(long)]
        budget: Option<f64>,
        #[arg(long)]
        status: Option<String>,
        /// Link a risk (repeatable).
        #[arg(long = "risk")]
        risks: Vec<i64>,
    },
    /// Close an action: evidence (file or URL) and an approver holding the approving role.
    Close {
        id: i64,
        /// Evidence file; its SHA-256 is stored.
        #[arg(long)]
        evidence_file: Option<PathBuf>,
        /// Evidence URL.
        #[arg(long)]
        evidence_url: Option<String>,
        /// Approver (must hold actions.approver_role).
        #[arg(long)]
        approver: Option<String>,
    },
    /// List actions.
    List {
        #[arg(long)]
        priority: Option<String>,
        /// open, in_progress, done, cancelled or overdue.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `exception` subcommands.
#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// Grant an exception (expiry mandatory, at most one year after the start).
    Add {
        #[arg(long)]
        check: String,
        /// host, group or fleet.
        #[arg(long)]
        scope: String,
        /// Hostname (host) or group name (group).
        #[arg(long, default_value = "")]
        scope_value: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        requester: String,
        #[arg(long)]
        approver: String,
        /// RFC 3339 or YYYY-MM-DD (default now).
        #[arg(long)]
        starts: Option<String>,
        /// RFC 3339 or YYYY-MM-DD.
        #[arg(long)]
        expires: String,
    },
    /// List exceptions with their state.
    List {
        /// active, expiring, expired, scheduled, revoked.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        check: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke an exception now.
    Revoke {
        id: i64,
        #[arg(long, env = "USER", default_value = "cli")]
        by: String,
    },
}

fn open(cfg: &CollectorConfig) -> anyhow::Result<Connection> {
    Ok(crate::store::risks::open_for_admin(&cfg.database_path())?)
}

fn print_bytes(b: &[u8]) {
    print!("{}", String::from_utf8_lossy(b));
}

fn print_json(v: serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// `s` for a table cell: control and bidirectional characters escaped (register text comes from
/// API clients and CSV files, and must not drive the terminal), cut to `n` characters.
fn cut(s: &str, n: usize) -> String {
    let one = crate::escape::one_line(s);
    if one.chars().count() > n {
        one.chars().take(n - 1).collect::<String>() + "…"
    } else {
        one.into_owned()
    }
}

/// Run a `risk` subcommand.
pub fn run_risk(cfg: &CollectorConfig, cmd: RiskCommand) -> anyhow::Result<()> {
    let c = open(cfg)?;
    let now = crate::store::now_unix();
    match cmd {
        RiskCommand::Add {
            title,
            scenario,
            assets,
            likelihood,
            impact,
            treatment,
            owner,
            next_review,
            actor,
        } => {
            let input = RiskInput {
                title: Some(title),
                scenario: Some(scenario),
                assets: Some(assets),
                likelihood: Some(likelihood),
                impact: Some(impact),
                treatment: Some(treatment),
                owner: Some(owner),
                next_review,
                ..Default::default()
            };
            let id = ops::create_risk(&c, &input, cfg, &actor, now)?;
            let (r, _) = ops::get_risk(&c, id, now)?;
            println!(
                "R-{id} created: {} (level {})",
                crate::escape::one_line(&r.title),
                r.level
            );
        }
        RiskCommand::Update {
            id,
            title,
            scenario,
            assets,
            likelihood,
            impact,
            treatment,
            owner,
            status,
            next_review,
            reviewed,
            note,
            actor,
        } => {
            let input = RiskInput {
                title,
                scenario,
                assets: (!assets.is_empty()).then_some(assets),
                likelihood,
                impact,
                treatment,
                owner,
                status,
                next_review,
                reviewed,
                note,
            };
            let r = ops::update_risk(&c, id, &input, cfg, &actor, now)?;
            println!(
                "R-{id}: level {}, status {}, next review {}",
                r.level, r.status, r.next_review
            );
        }
        RiskCommand::List {
            level,
            status,
            owner,
            updated_since,
            format,
        } => {
            let q = FeedQuery {
                level,
                status,
                owner,
                updated_since,
                ..Default::default()
            };
            let risks = feeds::filter_risks(ops::list_risks(&c, now)?, &q)?;
            match format {
                Format::Json => print_json(serde_json::json!({"risks": risks})),
                Format::Csv => print_bytes(&feeds::risks_csv(&risks)),
                Format::Table => {
                    println!(
                        "{:<6} {:<8} {:<3} {:<9} {:<8} {:<7} {:<11} {:<12} TITLE",
                        "ID", "LEVEL", "L×I", "TREATMENT", "SOURCE", "STATUS", "REVIEW", "OWNER"
                    );
                    for r in &risks {
                        println!(
                            "{:<6} {:<8} {}×{} {:<9} {:<8} {:<7} {:<11} {:<12} {}",
                            format!("R-{}", r.id),
                            r.level.as_str(),
                            r.likelihood,
                            r.impact,
                            r.treatment.as_str(),
                            r.source.as_str(),
                            r.status.as_str(),
                            format!(
                                "{}{}",
                                r.next_review,
                                if r.review_overdue { "!" } else { "" }
                            ),
                            cut(&r.owner, 12),
                            cut(&r.title, 60)
                        );
                    }
                }
            }
        }
        RiskCommand::Show { id } => {
            let (r, h) = ops::get_risk(&c, id, now)?;
            print_json(serde_json::json!({"risk": r, "history": h}));
        }
        RiskCommand::Import { file, actor } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let ids = ops::import_risks(&c, &text, cfg, &actor, now)
                .with_context(|| format!("{}: import refused, nothing imported", file.display()))?;
            println!(
                "{} risks imported (R-{} … R-{})",
                ids.len(),
                ids.first().unwrap_or(&0),
                ids.last().unwrap_or(&0)
            );
        }
    }
    Ok(())
}

/// Run an `action` subcommand.
pub fn run_action(cfg: &CollectorConfig, cmd: ActionCommand) -> anyhow::Result<()> {
    let c = open(cfg)?;
    let now = crate::store::now_unix();
    match cmd {
        ActionCommand::Add {
            title,
            priority,
            owner,
            due,
            budget,
            risks,
        } => {
            let input = ActionInput {
                title: Some(title),
                priority: Some(priority),
                owner: Some(owner),
                due,
                budget,
                status: None,
                risks,
            };
            let id = ops::create_action(&c, &input, now)?;
            println!("A-{id} created");
        }
        ActionCommand::Update {
            id,
            title,
            priority,
            owner,
            due,
            budget,
            status,
            risks,
        } => {
            let input = ActionInput {
                title,
                priority,
                due,
                owner,
                budget,
                status,
                risks,
            };
            let a = ops::update_action(&c, id, &input, now)?;
            println!("A-{id}: {} {}, due {}", a.priority.label(), a.status, a.due);
        }
        ActionCommand::Close {
            id,
            evidence_file,
            evidence_url,
            approver,
        } => {
            let (sha, name) = match &evidence_file {
                Some(p) => {
                    let bytes = std::fs::read(p)
                        .with_context(|| format!("evidence file {}: cannot read", p.display()))?;
                    (
                        Some(hex::encode(Sha256::digest(&bytes))),
                        p.file_name().map(|n| n.to_string_lossy().into_owned()),
                    )
                }
                None => (None, None),
            };
            let req = CloseRequest {
                evidence_sha256: sha,
                evidence_file_name: name,
                evidence_url,
                approver,
            };
            let a = ops::close_action(&c, id, &req, cfg, now)?;
            println!(
                "A-{id} closed, approved by {}{}",
                crate::escape::one_line(&a.approver.unwrap_or_default()),
                a.evidence
                    .and_then(|e| e.sha256)
                    .map(|s| format!(", evidence sha256 {s}"))
                    .unwrap_or_default()
            );
        }
        ActionCommand::List {
            priority,
            status,
            owner,
            format,
        } => {
            let q = FeedQuery {
                priority,
                status,
                owner,
                ..Default::default()
            };
            let actions = feeds::filter_actions(ops::list_actions(&c, now)?, &q)?;
            match format {
                Format::Json => print_json(serde_json::json!({"actions": actions})),
                Format::Csv => print_bytes(&feeds::actions_csv(&actions)),
                Format::Table => {
                    println!(
                        "{:<6} {:<3} {:<11} {:<9} {:<12} {:<10} TITLE",
                        "ID", "P", "DUE", "STATE", "OWNER", "RISKS"
                    );
                    for a in &actions {
                        println!(
                            "{:<6} {:<3} {:<11} {:<9} {:<12} {:<10} {}",
                            format!("A-{}", a.id),
                            a.priority.label(),
                            a.due.to_string(),
                            a.state.as_str(),
                            cut(&a.owner, 12),
                            cut(
                                &a.risks
                                    .iter()
                                    .map(|r| format!("R-{r}"))
                                    .collect::<Vec<_>>()
                                    .join(","),
                                10
                            ),
                            cut(&a.title, 60)
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Run an `exception` subcommand.
pub fn run_exception(cfg: &CollectorConfig, cmd: ExceptionCommand) -> anyhow::Result<()> {
    let c = open(cfg)?;
    let now = crate::store::now_unix();
    match cmd {
        ExceptionCommand::Add {
            check,
            scope,
            scope_value,
            reason,
            requester,
            approver,
            starts,
            expires,
        } => {
            let req = ExceptionRequest {
                check,
                scope,
                scope_value,
                reason,
                requester,
                approver,
                starts_at: starts,
                expires_at: expires,
            };
            let id = ops::grant_exception(&c, &req, cfg, now)?;
            println!("E-{id} granted");
        }
        ExceptionCommand::List {
            state,
            check,
            format,
        } => {
            let q = FeedQuery {
                state,
                check,
                ..Default::default()
            };
            let list = feeds::filter_exceptions(ops::list_exceptions(&c)?, &q, now)?;
            match format {
                Format::Json => print_json(
                    serde_json::json!({"exceptions": feeds::exception_views(&list, now)}),
                ),
                Format::Csv => print_bytes(&feeds::exceptions_csv(&list, now)),
                Format::Table => {
                    println!(
                        "{:<6} {:<17} {:<20} {:<9} {:<11} {:<12} REASON",
                        "ID", "CHECK", "SCOPE", "STATE", "EXPIRES", "APPROVER"
                    );
                    for e in &list {
                        println!(
                            "{:<6} {:<17} {:<20} {:<9} {:<11} {:<12} {}",
                            format!("E-{}", e.id),
                            cut(&e.check, 17),
                            cut(&format!("{} {}", e.scope, e.scope_value), 20),
                            e.state(now).as_str(),
                            &crate::store::hosts::rfc3339(e.expires_at)[..10],
                            cut(&e.approver, 12),
                            cut(&e.reason, 50)
                        );
                    }
                }
            }
        }
        ExceptionCommand::Revoke { id, by } => {
            ops::revoke_exception(&c, id, &by, now)?;
            println!("E-{id} revoked");
        }
    }
    Ok(())
}

/// Exit code for an error: 2 for refused input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<super::RiskError>() {
        Some(super::RiskError::Store(_)) | None => 1,
        Some(_) => 2,
    }
}
