//! The bundle's data pages, each streamed from the store one row at a time: results and
//! transitions per check, evidence excerpts, reporting continuity, incidents, training coverage
//! and KPI history (HTML for people, CSV where a spreadsheet helps).

use std::io::{Seek, Write};

use rusqlite::Connection;

use super::bundle::BundleWriter;
use super::continuity::{Grouper, HostContinuity};
use super::html::{self, esc, evidence_links, slug};
use super::plan::Plan;
use super::ExportError;
use crate::store::evidence_export as q;
use crate::store::hosts::rfc3339;

pub(super) fn csv_field(s: &str) -> String {
    // Host names and summaries come from agents: never let a spreadsheet run them as formulas.
    let guarded;
    let s = if s.parse::<f64>().is_err() {
        guarded = crate::risk::feeds::text_cell(s);
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Write one page per check under `dir` ("results" or "transitions"), streaming rows ordered by
/// check: a check without rows still gets its (empty) page.
struct PerCheck<'p> {
    dir: &'static str,
    title: &'static str,
    columns: &'static [&'static str],
    checks: &'p [String],
    next: usize,
    open: bool,
}

impl<'p> PerCheck<'p> {
    fn close<W: Write + Seek>(&mut self, b: &mut BundleWriter<W>) -> Result<(), ExportError> {
        if self.open {
            b.write_all(b"</table>\n")?;
            html::close(b)?;
            self.open = false;
        }
        Ok(())
    }

    fn begin<W: Write + Seek>(
        &mut self,
        b: &mut BundleWriter<W>,
        check: &str,
        empty: bool,
    ) -> Result<(), ExportError> {
        b.start(&format!("{}/{}.html", self.dir, slug(check)))?;
        html::open(b, &format!("{} of {check}", self.title), 1)?;
        writeln!(
            b,
            "<p><a href=\"../checks/{}.html\">About this check</a></p>",
            slug(check)
        )?;
        if empty {
            b.write_all(b"<p class=\"muted\">None in this selection.</p>\n")?;
            html::close(b)?;
        } else {
            html::thead(b, self.columns)?;
            self.open = true;
        }
        Ok(())
    }

    /// Move to `check` (which must come in order), writing the empty pages of skipped checks.
    fn to<W: Write + Seek>(
        &mut self,
        b: &mut BundleWriter<W>,
        check: Option<&str>,
    ) -> Result<(), ExportError> {
        if check.is_some()
            && self.open
            && self.checks.get(self.next - 1).map(String::as_str) == check
        {
            return Ok(());
        }
        self.close(b)?;
        while let Some(c) = self.checks.get(self.next) {
            if Some(c.as_str()) == check {
                self.next += 1;
                return self.begin(b, c, false);
            }
            self.next += 1;
            self.begin(b, c, true)?;
        }
        if let Some(c) = check {
            // A row for a check outside the plan: cannot happen with the same scope and snapshot.
            return Err(ExportError::Inconsistent(format!(
                "{} row for check {c:?} not in the plan",
                self.dir
            )));
        }
        Ok(())
    }
}

/// The exceptions in force at the period's last second: what a result at the end of the period
/// counts as (the same rule as the API, metrics and report).
pub fn end_of_period_exceptions(
    conn: &Connection,
    plan: &Plan,
) -> Result<crate::store::exceptions::InForce, ExportError> {
    let all = crate::store::exceptions::list(conn)?;
    Ok(crate::store::exceptions::InForce::from_list(
        &all,
        plan.scope.end_ts - 1,
    ))
}

/// `results/<check>.html` for every planned check.
pub fn results<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    let mut pc = PerCheck {
        dir: "results",
        title: "Results at the end of the period",
        columns: &[
            "Host",
            "Status",
            "Effective status",
            "Since",
            "Summary",
            "Evidence",
            "Report",
        ],
        checks: &plan.checks,
        next: 0,
        open: false,
    };
    let rule = end_of_period_exceptions(conn, plan)?;
    q::for_each_result(conn, &plan.scope, |r| {
        pc.to(b, Some(&r.check))?;
        let effective = rule.effective(&r.hostname, &r.check, &r.status);
        let effective = match effective.exception_id() {
            Some(id) => format!(
                "{} <a href=\"../exceptions.html\">E-{id}</a>",
                html::status(effective.as_str())
            ),
            None => html::status(effective.as_str()),
        };
        writeln!(
            b,
            "<tr><td>{} <span class=\"muted\">#{}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&r.hostname),
            r.host_id,
            html::status(&r.status),
            effective,
            rfc3339(r.since),
            esc(&r.summary),
            evidence_links(&r.evidence, 1),
            esc(&r.report_id)
        )?;
        Ok::<_, ExportError>(())
    })?;
    pc.to(b, None)
}

/// `transitions/<check>.html` for every planned check.
pub fn transitions<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    let mut pc = PerCheck {
        dir: "transitions",
        title: "Transitions during the period",
        columns: &["Host", "At", "From", "To", "Summary", "Evidence", "Report"],
        checks: &plan.checks,
        next: 0,
        open: false,
    };
    q::for_each_transition(conn, &plan.scope, |t| {
        pc.to(b, Some(&t.check))?;
        writeln!(
            b,
            "<tr><td>{} <span class=\"muted\">#{}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&t.hostname),
            t.host_id,
            rfc3339(t.at),
            t.from.as_deref().map_or_else(
                || "<span class=\"muted\">first report</span>".to_string(),
                html::status
            ),
            html::status(&t.to),
            esc(&t.summary),
            evidence_links(&t.evidence, 1),
            esc(&t.report_id)
        )?;
        Ok::<_, ExportError>(())
    })?;
    pc.to(b, None)
}

/// `evidence.html`: every referenced excerpt, anchored by its SHA-256.
pub fn evidence<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    b.start("evidence.html")?;
    html::open(b, "Evidence excerpts", 0)?;
    b.write_all(
        b"<p>What the agents read or ran, as they sent it: an excerpt (at most a few KiB) of the \
          content, and the SHA-256 of the whole content as computed on the host.</p>\n",
    )?;
    q::for_each_evidence(conn, &plan.scope, |e| {
        writeln!(
            b,
            "<h3 id=\"{sha}\">{kind} <code>{source}</code></h3>\n<p>SHA-256 <code>{sha}</code></p>\n\
             <pre>{excerpt}</pre>",
            sha = esc(&e.sha256),
            kind = esc(&e.kind),
            source = esc(&e.source),
            excerpt = esc(&e.excerpt)
        )?;
        Ok::<_, ExportError>(())
    })?;
    html::close(b)?;
    Ok(())
}

/// Stream every selected host's continuity to `f`.
pub fn each_host<E: From<crate::store::StoreError>>(
    conn: &Connection,
    plan: &Plan,
    mut f: impl FnMut(HostContinuity) -> Result<(), E>,
) -> Result<(), E> {
    let mut g = Grouper::new(plan.from);
    q::for_each_host_day(conn, &plan.scope, |row| match g.push(row) {
        Some(h) => f(h),
        None => Ok(()),
    })?;
    match g.finish() {
        Some(h) => f(h),
        None => Ok(()),
    }
}

/// `continuity.csv` (one row per host per expected day, zeros included) and `continuity.html`.
pub fn continuity<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    b.start("continuity.csv")?;
    b.write_all(b"host_id,hostname,day,reports\r\n")?;
    each_host(conn, plan, |h| {
        for (d, n) in h.each_day(plan.to) {
            write!(b, "{},{},{d},{n}\r\n", h.host_id, csv_field(&h.hostname))?;
        }
        Ok::<_, ExportError>(())
    })?;
    b.start("continuity.html")?;
    html::open(b, "Reporting continuity", 0)?;
    writeln!(
        b,
        "<p>Per host, the days from its enrolment (or the period's start, if later) to {} on \
         which the collector received at least one report, and the runs of days without any. \
         Per-day counts are in <a href=\"continuity.csv\">continuity.csv</a>.</p>",
        plan.to
    )?;
    html::thead(
        b,
        &[
            "Host",
            "Expected days",
            "Days with reports",
            "Reports",
            "Days without reports",
        ],
    )?;
    each_host(conn, plan, |h| {
        let gaps = h
            .gaps(plan.to)
            .iter()
            .map(|(a, z)| {
                if a == z {
                    a.to_string()
                } else {
                    format!("{a} to {z}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            b,
            "<tr><td>{} <span class=\"muted\">#{}</span></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{}\">{}</td></tr>",
            esc(&h.hostname),
            h.host_id,
            h.expected_days(plan.to),
            h.days.len(),
            h.reports(),
            if gaps.is_empty() { "pass" } else { "fail" },
            if gaps.is_empty() {
                "none".to_string()
            } else {
                gaps
            }
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.write_all(b"</table>\n")?;
    html::close(b)?;
    Ok(())
}

fn time_cell(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `incidents.html`: incidents open at some point of the period.
pub fn incidents<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    b.start("incidents.html")?;
    html::open(b, "Incidents", 0)?;
    b.write_all(
        b"<p>Incidents open at some point of the period: detected (or occurred) before its end \
          and not resolved before its start.</p>\n",
    )?;
    html::thead(
        b,
        &[
            "Id",
            "Title",
            "Type",
            "Severity",
            "Occurred",
            "Detected",
            "Contained",
            "Resolved",
            "Personal data",
            "Notified",
            "Actions",
        ],
    )?;
    q::for_each_incident(conn, &plan.scope, |i| {
        writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.id),
            esc(&i.title),
            esc(i.kind.as_str()),
            esc(i.severity.as_str()),
            time_cell(i.occurred_at),
            time_cell(i.detected_at),
            time_cell(i.contained_at),
            time_cell(i.resolved_at),
            if i.personal_data { "yes" } else { "no" },
            time_cell(i.notified_at),
            esc(&i.actions)
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.write_all(b"</table>\n")?;
    html::close(b)?;
    Ok(())
}

/// `training-completions.csv` and `training.html` (coverage on the last day of the period).
pub fn training<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
    coverage: &crate::kpi::training::TrainingCoverage,
) -> Result<(), ExportError> {
    b.start("training-completions.csv")?;
    b.write_all(b"completed_on,person_id,course\r\n")?;
    q::for_each_completion(conn, &plan.scope, |c| {
        write!(
            b,
            "{},{},{}\r\n",
            c.completed_on,
            csv_field(&c.person_id),
            csv_field(&c.course)
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.start("training.html")?;
    html::open(b, "Training coverage", 0)?;
    write!(
        b,
        "<p>On {to}: {covered} of {active} active people completed a counted security-awareness \
         course between {wf} and {to} ({ratio}). Counted courses: {courses}.</p>\n\
         <p>Completions dated inside the period are listed in \
         <a href=\"training-completions.csv\">training-completions.csv</a>.</p>\n",
        to = coverage.window_to,
        covered = coverage.covered,
        active = coverage.active,
        wf = coverage.window_from,
        ratio = coverage.ratio.map_or_else(
            || "no active people".to_string(),
            |r| format!("{:.1} %", r * 100.0)
        ),
        courses = if coverage.courses.is_empty() {
            "every course".to_string()
        } else {
            esc(&coverage.courses.join(", "))
        },
    )?;
    if !coverage.uncovered.is_empty() {
        write!(
            b,
            "<h2>Active people without a counted completion</h2>\n<p>{}</p>\n",
            esc(&coverage.uncovered.join(", "))
        )?;
    }
    html::close(b)?;
    Ok(())
}

/// `kpi-history.csv` and `kpi-history.html`: the daily KPI snapshots of the period.
pub fn kpi_history<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    b.start("kpi-history.csv")?;
    b.write_all(b"day,kpi,value,target,status\r\n")?;
    q::for_each_kpi_snapshot(conn, &plan.scope, |s| {
        write!(
            b,
            "{},{},{},{},{}\r\n",
            s.day,
            csv_field(&s.kpi),
            num(s.value),
            num(s.target),
            csv_field(&s.status)
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.start("kpi-history.html")?;
    html::open(b, "KPI history", 0)?;
    b.write_all(
        b"<p>The governance KPIs as snapshotted each day (ratios 0 to 1, durations in seconds).</p>\n",
    )?;
    html::thead(b, &["Day", "KPI", "Value", "Target", "Status"])?;
    q::for_each_kpi_snapshot(conn, &plan.scope, |s| {
        writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.day),
            esc(&s.kpi),
            num(s.value),
            num(s.target),
            esc(&s.status)
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.write_all(b"</table>\n")?;
    html::close(b)?;
    Ok(())
}

/// `actions.html`: improvement-plan actions closed during the period, with the SHA-256 of their
/// closing evidence and their approver.
pub fn closed_actions<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    b.start("actions.html")?;
    html::open(b, "Improvement actions closed during the period", 0)?;
    b.write_all(
        b"<p>Each action was closed with evidence (the SHA-256 of the evidence file as given \
          when closing, and/or a URL) and an approver.</p>\n",
    )?;
    html::thead(
        b,
        &[
            "Id",
            "Title",
            "Priority",
            "Due",
            "Owner",
            "Risks",
            "Closed",
            "Approver",
            "Evidence SHA-256",
            "Evidence file",
            "Evidence URL",
        ],
    )?;
    q::for_each_closed_action(conn, &plan.scope, |a| {
        let ev = a
            .evidence
            .clone()
            .unwrap_or(crate::risk::actions::Evidence {
                sha256: None,
                file_name: None,
                url: None,
            });
        writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            a.id,
            esc(&a.title),
            esc(a.priority.as_str()),
            a.due,
            esc(&a.owner),
            a.risks
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            a.closed_at.map(rfc3339).unwrap_or_default(),
            esc(a.approver.as_deref().unwrap_or("")),
            esc(ev.sha256.as_deref().unwrap_or("")),
            esc(ev.file_name.as_deref().unwrap_or("")),
            esc(ev.url.as_deref().unwrap_or(""))
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.write_all(b"</table>\n")?;
    html::close(b)?;
    Ok(())
}

/// `exceptions.html`: exceptions in force at some point of the period, with who asked and who
/// approved.
pub fn exceptions<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
) -> Result<(), ExportError> {
    b.start("exceptions.html")?;
    html::open(b, "Exceptions in force during the period", 0)?;
    b.write_all(
        b"<p>Exceptions (d\xc3\xa9rogations) that were in force at some point of the period: \
          started before its end, expiring after its start, not revoked before its start. Each \
          names its requester and its approver.</p>\n",
    )?;
    html::thead(
        b,
        &[
            "Id",
            "Check",
            "Scope",
            "Reason",
            "Requester",
            "Approver",
            "Starts",
            "Expires",
            "Revoked",
            "Revoked by",
        ],
    )?;
    q::for_each_exception(conn, &plan.scope, |x| {
        writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            x.id,
            esc(&x.check),
            esc(x.scope.as_str()),
            esc(&x.scope_value),
            esc(&x.reason),
            esc(&x.requester),
            esc(&x.approver),
            rfc3339(x.starts_at),
            rfc3339(x.expires_at),
            x.revoked_at.map(rfc3339).unwrap_or_default(),
            esc(x.revoked_by.as_deref().unwrap_or(""))
        )?;
        Ok::<_, ExportError>(())
    })?;
    b.write_all(b"</table>\n")?;
    html::close(b)?;
    Ok(())
}

#[cfg(test)]
mod csv_tests {
    #[test]
    fn agent_text_cannot_become_a_formula() {
        assert_eq!(
            super::csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(super::csv_field("-1"), "-1");
        assert_eq!(super::csv_field("web-01"), "web-01");
        assert_eq!(super::csv_field("a,b"), "\"a,b\"");
    }
}
