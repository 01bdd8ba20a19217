//! `vigie-collector host list|show`: the fleet for sysadmins without Grafana, read from the store
//! directly with the filters of `GET /api/v1/hosts` (`store::hosts::HostFilter`). Tables escape
//! every cell (hostnames, summaries and OS names come from agents); JSON is what the API answers.

use std::process::ExitCode;

use clap::Args;

use crate::admin::Format;
use crate::config::CollectorConfig;
use crate::kpi::render::table;
use crate::store::hosts::{self, HostCursor, HostFilter, HostFilterArgs, HostSummary, Staleness};
use crate::store::Store;

/// `host list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Reporter states, comma-separated: reporting, stale, never_reported.
    #[arg(long)]
    pub state: Option<String>,
    /// OS names, comma-separated (exact: debian, rhel, windows, macos …).
    #[arg(long)]
    pub os: Option<String>,
    /// Only hosts that report this check (with --status: that check in one of those statuses).
    #[arg(long)]
    pub check: Option<String>,
    /// Measured statuses, comma-separated: pass, warn, fail, error, not_applicable.
    #[arg(long)]
    pub status: Option<String>,
    /// A `[[hosts.groups]]` name.
    #[arg(long)]
    pub group: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

/// Hosts read per store query: the listing pages through the fleet like the API does.
const PAGE: usize = 1000;

fn open(cfg: &CollectorConfig) -> Result<Store, ExitCode> {
    let db = cfg.database_path();
    Store::open(&db, cfg.storage.max_batch).map_err(|e| {
        eprintln!(
            "vigie-collector: cannot open the store {}: {e}",
            db.display()
        );
        ExitCode::from(1)
    })
}

/// `host list`: every host passing the filters, in hostname order. Exit 2 on a bad filter.
pub fn list(cfg: &CollectorConfig, a: &ListArgs) -> ExitCode {
    let filter = match HostFilter::parse(
        &HostFilterArgs {
            state: a.state.as_deref(),
            os: a.os.as_deref(),
            check: a.check.as_deref(),
            status: a.status.as_deref(),
            group: a.group.as_deref(),
        },
        &cfg.hosts.groups,
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("vigie-collector: host list: --{e}");
            return ExitCode::from(2);
        }
    };
    let store = match open(cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let st = Staleness::from_config(&cfg.fleet, crate::store::now_unix());
    let mut hosts: Vec<HostSummary> = Vec::new();
    let mut after: Option<HostCursor> = None;
    let result = loop {
        let page = store.read(|c| hosts::list_hosts_page(c, &st, &filter, after.as_ref(), PAGE));
        match page {
            Ok(p) => {
                hosts.extend(p.hosts);
                match p.next {
                    Some(n) => after = Some(n),
                    None => break Ok(()),
                }
            }
            Err(e) => break Err(e),
        }
    };
    store.shutdown();
    if let Err(e) = result {
        eprintln!("vigie-collector: host list: cannot read the store: {e}");
        return ExitCode::from(1);
    }
    match a.format {
        Format::Json => print_json(&serde_json::json!({ "hosts": hosts })),
        Format::Table => {
            print!("{}", host_table(&hosts));
            ExitCode::SUCCESS
        }
    }
}

/// `host show ID`: the host and its current state per check.
pub fn show(cfg: &CollectorConfig, id: i64, format: Format) -> ExitCode {
    let store = match open(cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let st = Staleness::from_config(&cfg.fleet, crate::store::now_unix());
    let detail = store.read(|c| hosts::host_detail(c, id, &st));
    store.shutdown();
    let d = match detail {
        Ok(Some(d)) => d,
        Ok(None) => {
            eprintln!("vigie-collector: host show: no host with id {id} (see `vigie-collector host list`)");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("vigie-collector: host show: cannot read the store: {e}");
            return ExitCode::from(1);
        }
    };
    if format == Format::Json {
        return print_json(&d);
    }
    let h = &d.host;
    let fields = [
        ("id", h.id.to_string()),
        ("hostname", h.hostname.clone()),
        ("machine_id", h.machine_id.clone()),
        ("os", format!("{} {}", h.os, h.os_version)),
        ("kernel", d.kernel.clone()),
        ("arch", d.arch.clone()),
        ("state", h.state.as_str().to_string()),
        ("enrolled_at", h.enrolled_at.clone()),
        (
            "last_report_at",
            h.last_report_at.clone().unwrap_or("-".into()),
        ),
        ("lost_reports", h.lost_reports.to_string()),
    ];
    let rows: Vec<Vec<String>> = fields
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    print!("{}", table(&["FIELD", "VALUE"], &rows));
    println!();
    let rows: Vec<Vec<String>> = d
        .current
        .iter()
        .map(|c| {
            vec![
                c.check.clone(),
                c.status.clone(),
                c.effective_status.clone(),
                c.since.clone(),
                c.summary.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["CHECK", "STATUS", "EFFECTIVE", "SINCE", "SUMMARY"], &rows)
    );
    ExitCode::SUCCESS
}

/// The host list as a table: one line per host, the status counts after exceptions.
pub fn host_table(hosts: &[HostSummary]) -> String {
    let n = |h: &HostSummary, s: &str| h.effective_checks.get(s).copied().unwrap_or(0).to_string();
    let rows: Vec<Vec<String>> = hosts
        .iter()
        .map(|h| {
            vec![
                h.id.to_string(),
                h.hostname.clone(),
                format!("{} {}", h.os, h.os_version),
                h.state.as_str().to_string(),
                h.last_report_at.clone().unwrap_or("-".into()),
                n(h, "pass"),
                n(h, "fail"),
                n(h, "warn"),
                n(h, "excepted"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "HOSTNAME",
            "OS",
            "STATE",
            "LAST_REPORT",
            "PASS",
            "FAIL",
            "WARN",
            "EXCEPTED",
        ],
        &rows,
    )
}

fn print_json(v: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string_pretty(v) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vigie-collector: {e}");
            ExitCode::from(1)
        }
    }
}
