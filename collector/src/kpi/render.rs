//! The text tables the CLI prints for KPIs and incidents (JSON output is the serde form).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::evaluation::Evaluation;
use super::{Kpi, Source, Unit};
use crate::registers::incident::Incident;

/// A duration for people: `45s`, `12m`, `3h10m`, `2d04h`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    match s {
        s if s >= 86_400 => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn value(v: Option<f64>, unit: Unit) -> String {
    match (v, unit) {
        (None, _) => "-".into(),
        (Some(v), Unit::Ratio) => format!("{:.1} %", v * 100.0),
        (Some(v), Unit::Seconds) => human_duration(v),
    }
}

fn num(d: &Value, key: &str) -> i64 {
    d.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// One line saying what is behind a KPI, read from its detail.
pub fn note(k: &Kpi) -> String {
    let d = &k.detail;
    if k.source == Source::NoSnapshot {
        return "no snapshot".into();
    }
    let note = match k.name.as_str() {
        "patch_sla" => format!(
            "{}/{} hosts within {} days; {} over SLA, {} error, {} stale, {} n/a, {} without result, {} excepted",
            num(d, "compliant"),
            num(d, "compliant") + num(d, "non_compliant") + num(d, "error"),
            num(d, "sla_days"),
            num(d, "non_compliant"),
            num(d, "error"),
            num(d, "stale"),
            num(d, "not_applicable"),
            num(d, "no_result"),
            num(d, "excepted"),
        ),
        "training_coverage" => format!(
            "{}/{} active people trained since {}",
            num(d, "covered"),
            num(d, "active"),
            d.get("window_from").and_then(Value::as_str).unwrap_or("?")
        ),
        "mttd" | "mttr" => {
            let o = &d["overall"];
            let p = |key: &str| {
                o.get(key)
                    .and_then(Value::as_f64)
                    .map_or("-".into(), human_duration)
            };
            format!(
                "{} incidents resolved, {} used ({} missing timestamps); p50 {}, p90 {}",
                num(d, "resolved"),
                num(o, "count"),
                num(o, "missing_timestamps"),
                p("p50_seconds"),
                p("p90_seconds")
            )
        }
        "personal_data_72h" => {
            let c = &d["counts"];
            format!(
                "on time {}, late {}, overdue {}, not yet due {}, missing timestamps {}",
                num(c, "on_time"),
                num(c, "late"),
                num(c, "overdue"),
                num(c, "not_yet_due"),
                num(c, "missing_timestamps")
            )
        }
        _ => format!(
            "pass {}, fail {}, warn {}, error {}, n/a {}, stale {}, excepted {}",
            num(d, "pass"),
            num(d, "fail"),
            num(d, "warn"),
            num(d, "error"),
            num(d, "not_applicable"),
            num(d, "stale"),
            num(d, "excepted")
        ),
    };
    if k.source == Source::Snapshot {
        format!("{note} (snapshot)")
    } else {
        note
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or("-".into(), |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    })
}

/// An aligned text table; every cell is escaped with `escape::one_line`.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    // Cells hold register text (titles, names): escaped, so they cannot drive the terminal or
    // break the table's lines.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| crate::escape::one_line(c).into_owned())
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let pad = widths[i] - c.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
    out
}

/// The KPI table with a heading naming the day and the incidents' period.
pub fn kpi_table(eval: &Evaluation) -> String {
    let rows: Vec<Vec<String>> = eval
        .kpis
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                value(k.value, k.unit),
                value(k.target, k.unit),
                k.status.as_str().to_string(),
                note(k),
            ]
        })
        .collect();
    format!(
        "KPIs for {} (incidents resolved from {} to {})\n{}",
        eval.when.day,
        time(Some(eval.when.period.start)),
        time(Some(eval.when.period.end)),
        table(&["KPI", "VALUE", "TARGET", "STATUS", "NOTE"], &rows)
    )
}

/// The incident list.
pub fn incident_table(incidents: &[Incident]) -> String {
    let rows: Vec<Vec<String>> = incidents
        .iter()
        .map(|i| {
            vec![
                i.id.clone(),
                i.severity.to_string(),
                i.kind.to_string(),
                time(i.detected_at),
                time(i.resolved_at),
                if i.personal_data { "yes" } else { "no" }.into(),
                i.title.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "SEVERITY",
            "TYPE",
            "DETECTED",
            "RESOLVED",
            "PERSONAL_DATA",
            "TITLE",
        ],
        &rows,
    )
}

/// One incident, field by field.
pub fn incident_detail(i: &Incident) -> String {
    let fields = [
        ("id", i.id.clone()),
        ("title", i.title.clone()),
        ("type", i.kind.to_string()),
        ("severity", i.severity.to_string()),
        ("team", i.team.clone()),
        ("occurred_at", time(i.occurred_at)),
        ("detected_at", time(i.detected_at)),
        ("contained_at", time(i.contained_at)),
        ("resolved_at", time(i.resolved_at)),
        ("personal_data", i.personal_data.to_string()),
        ("notified_at", time(i.notified_at)),
        ("description", i.description.clone()),
        ("actions", i.actions.clone()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k:<14}{}\n", crate::escape::one_line(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people() {
        assert_eq!(human_duration(11_400.0), "3h10m");
        assert_eq!(human_duration(172_800.0), "2d00h");
        assert_eq!(human_duration(45.0), "45s");
        assert_eq!(human_duration(720.0), "12m");
    }
}
