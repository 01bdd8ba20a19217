//! The human table printed by `vigie-agent check`.

use vigie_checks::wire::Report;

/// Render `report` as an aligned table: check, status, one-line summary, then a status tally.
pub fn render(report: &Report) -> String {
    let id_w = report
        .results
        .iter()
        .map(|r| r.check.len())
        .chain(std::iter::once("CHECK".len()))
        .max()
        .unwrap_or(5);
    let st_w = "NOT_APPLICABLE".len();
    let mut out = format!(
        "host {} ({} {}), collected {}\n\n",
        if report.host.hostname.is_empty() {
            "?"
        } else {
            &report.host.hostname
        },
        report.host.os,
        report.host.os_version,
        report.collected_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    out.push_str(&format!(
        "{:<id_w$}  {:<st_w$}  SUMMARY\n",
        "CHECK", "STATUS"
    ));
    for r in &report.results {
        let summary = r.summary.replace('\n', " ");
        out.push_str(&format!(
            "{:<id_w$}  {:<st_w$}  {}\n",
            r.check,
            r.status.as_str().to_uppercase(),
            summary
        ));
    }
    let mut tally = Vec::new();
    for st in vigie_checks::Status::ALL {
        let n = report.results.iter().filter(|r| r.status == st).count();
        if n > 0 {
            tally.push(format!("{n} {st}"));
        }
    }
    out.push_str(&format!("\n{}\n", tally.join(", ")));
    out
}
