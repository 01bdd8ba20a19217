//! `data.json`: everything in the bundle for tools, written as a stream (one array element at a
//! time), in a fixed key order so that a re-export of the same data is byte-identical. The shape
//! is documented in docs/evidence.md (`"format": "vigie-evidence/1"`).

use std::io::{Seek, Write};

use rusqlite::Connection;
use serde::Serialize;
use serde_json::json;

use super::bundle::BundleWriter;
use super::plan::Plan;
use super::sections::each_host;
use super::ExportError;
use crate::kpi::training::TrainingCoverage;
use crate::store::evidence_export as q;
use crate::store::hosts::rfc3339;

/// Writes the elements of one JSON array, separated by commas, one per line.
struct Array {
    first: bool,
}

impl Array {
    fn open(w: &mut impl Write, key: &str) -> Result<Array, ExportError> {
        write!(w, ",\n{}:[", serde_json::to_string(key)?)?;
        Ok(Array { first: true })
    }
    fn item(&mut self, w: &mut impl Write, v: &impl Serialize) -> Result<(), ExportError> {
        if !self.first {
            w.write_all(b",")?;
        }
        self.first = false;
        w.write_all(b"\n")?;
        serde_json::to_writer(&mut *w, v)?;
        Ok(())
    }
    fn close(self, w: &mut impl Write) -> Result<(), ExportError> {
        w.write_all(b"]")?;
        Ok(())
    }
}

fn field(w: &mut impl Write, key: &str, v: &impl Serialize) -> Result<(), ExportError> {
    write!(w, ",\n{}:", serde_json::to_string(key)?)?;
    serde_json::to_writer(&mut *w, v)?;
    Ok(())
}

/// Write `data.json`.
pub fn write<W: Write + Seek>(
    b: &mut BundleWriter<W>,
    conn: &Connection,
    plan: &Plan,
    coverage: &TrainingCoverage,
) -> Result<(), ExportError> {
    b.start("data.json")?;
    b.write_all(b"{\"format\":\"vigie-evidence/1\"")?;
    field(
        b,
        "period",
        &json!({
            "from": plan.from, "to": plan.to,
            "start": rfc3339(plan.scope.from_ts), "end": rfc3339(plan.scope.end_ts),
        }),
    )?;
    field(
        b,
        "selection",
        &json!({
            "control": plan.control,
            "hostnames": plan.scope.hostnames,
            "checks": plan.scope.checks,
        }),
    )?;
    let mut a = Array::open(b, "safeguards")?;
    for s in &plan.safeguards {
        a.item(
            b,
            &json!({
                "id": s.safeguard.id, "control": s.safeguard.control(), "ig": s.safeguard.ig,
                "title": s.safeguard.title, "asset": s.safeguard.asset,
                "function": s.safeguard.function, "checks": s.checks,
                "pass": s.tally.pass, "in_scope": s.tally.in_scope, "conclusion": s.conclusion,
            }),
        )?;
    }
    a.close(b)?;
    let mut a = Array::open(b, "checks")?;
    for c in &plan.checks {
        a.item(
            b,
            &json!({
                "id": c,
                "safeguards": plan.check_safeguards.get(c).cloned().unwrap_or_default(),
                "results_by_status": plan.result_counts.get(c).cloned().unwrap_or_default(),
                "transitions": plan.transition_counts.get(c).copied().unwrap_or(0),
            }),
        )?;
    }
    a.close(b)?;
    let mut a = Array::open(b, "results")?;
    let rule = super::sections::end_of_period_exceptions(conn, plan)?;
    q::for_each_result(conn, &plan.scope, |r| {
        let effective = rule.effective(&r.hostname, &r.check, &r.status);
        a.item(
            b,
            &json!({
                "check": r.check, "host_id": r.host_id, "hostname": r.hostname,
                "status": r.status, "effective_status": effective.as_str(),
                "exception_id": effective.exception_id(),
                "since": rfc3339(r.since), "summary": r.summary,
                "evidence": r.evidence, "report_id": r.report_id,
            }),
        )
    })?;
    a.close(b)?;
    let mut a = Array::open(b, "transitions")?;
    q::for_each_transition(conn, &plan.scope, |t| {
        a.item(
            b,
            &json!({
                "check": t.check, "host_id": t.host_id, "hostname": t.hostname,
                "from": t.from, "to": t.to, "at": rfc3339(t.at), "summary": t.summary,
                "evidence": t.evidence, "report_id": t.report_id,
            }),
        )
    })?;
    a.close(b)?;
    let mut a = Array::open(b, "evidence")?;
    q::for_each_evidence(conn, &plan.scope, |e| a.item(b, &e))?;
    a.close(b)?;
    let mut a = Array::open(b, "continuity")?;
    each_host(conn, plan, |h| {
        let gaps: Vec<[String; 2]> = h
            .gaps(plan.to)
            .iter()
            .map(|(x, y)| [x.to_string(), y.to_string()])
            .collect();
        a.item(
            b,
            &json!({
                "host_id": h.host_id, "hostname": h.hostname, "expected_from": h.expected_from,
                "expected_days": h.expected_days(plan.to), "days_with_reports": h.days.len(),
                "reports": h.reports(),
                "days": h.days.iter().map(|(d, n)| json!([d, n])).collect::<Vec<_>>(),
                "gaps": gaps,
            }),
        )
    })?;
    a.close(b)?;
    let mut a = Array::open(b, "incidents")?;
    q::for_each_incident(conn, &plan.scope, |i| a.item(b, &i))?;
    a.close(b)?;
    field(b, "training_coverage", coverage)?;
    let mut a = Array::open(b, "training_completions")?;
    q::for_each_completion(conn, &plan.scope, |c| a.item(b, &c))?;
    a.close(b)?;
    let mut a = Array::open(b, "kpi_history")?;
    q::for_each_kpi_snapshot(conn, &plan.scope, |s| {
        let detail: serde_json::Value =
            serde_json::from_str(&s.detail).unwrap_or(serde_json::Value::String(s.detail.clone()));
        a.item(
            b,
            &json!({
                "day": s.day, "kpi": s.kpi, "value": s.value, "target": s.target,
                "status": s.status, "detail": detail,
            }),
        )
    })?;
    a.close(b)?;
    let mut a = Array::open(b, "exceptions")?;
    q::for_each_exception(conn, &plan.scope, |x| a.item(b, &x))?;
    a.close(b)?;
    let mut a = Array::open(b, "closed_actions")?;
    q::for_each_closed_action(conn, &plan.scope, |x| a.item(b, &x))?;
    a.close(b)?;
    b.write_all(b"\n}\n")?;
    Ok(())
}
