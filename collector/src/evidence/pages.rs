//! The bundle's navigation pages, written from the [`Plan`] alone: `README.txt`, `index.html`,
//! one page per check (`checks/<id>.html`) and one per selected CIS safeguard
//! (`safeguards/<cc>.<nn>.html`).

use std::io::{self, Write};

use super::html::{self, esc, safeguard_file, slug};
use super::plan::{Conclusion, Plan};

/// The plain-text README at the root of the bundle.
pub fn readme(w: &mut impl Write, plan: &Plan) -> io::Result<()> {
    write!(
        w,
        "Vigie audit evidence bundle\r\n\
         ===========================\r\n\r\n\
         Period: {from} to {to} (UTC days, inclusive){control}{hosts}\r\n\r\n\
         Open index.html in a web browser: it links every page of this bundle.\r\n\
         data.json holds the same data for tools; oscal/assessment-results.json is the OSCAL\r\n\
         assessment results. MANIFEST.sha256 lists every file with its SHA-256 and\r\n\
         MANIFEST.sha256.sig is its Ed25519 signature; signing-key.pub.pem is the public key.\r\n\r\n\
         Checking the bundle without Vigie (after extracting it):\r\n\
         \x20 sha256sum -c MANIFEST.sha256\r\n\
         \x20 openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin \\\r\n\
         \x20     -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig\r\n\
         where KEY.pem is the collector's public key obtained from its operator\r\n\
         (`vigie-collector evidence public-key`), not the copy inside this bundle: the copy\r\n\
         inside only proves the files were not changed after signing, not who signed them.\r\n\
         With Vigie: vigie-collector evidence verify --public-key KEY.pem THIS.zip\r\n",
        from = plan.from,
        to = plan.to,
        control = plan
            .control
            .as_ref()
            .map(|c| format!("\r\nCIS selection: {c}"))
            .unwrap_or_default(),
        hosts = plan
            .scope
            .hostnames
            .as_ref()
            .map(|h| format!("\r\nHosts: {} selected by name", h.len()))
            .unwrap_or_default(),
    )
}

fn counts_cell(plan: &Plan, check: &str) -> String {
    plan.result_counts
        .get(check)
        .map(|m| {
            m.iter()
                .map(|(s, n)| format!("{} {n}", html::status(s)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "<span class=\"muted\">no result</span>".into())
}

fn conclusion_cell(c: Conclusion) -> String {
    let class = match c {
        Conclusion::Satisfied => "satisfied",
        Conclusion::NotSatisfied => "not-satisfied",
        _ => "muted",
    };
    format!("<span class=\"{class}\">{}</span>", c.label())
}

/// `index.html`: the period, the sections, then every selected safeguard and every check.
pub fn index(w: &mut impl Write, plan: &Plan) -> io::Result<()> {
    html::open(
        w,
        &format!("Audit evidence, {} to {}", plan.from, plan.to),
        0,
    )?;
    write!(
        w,
        "<p>Period: {} to {} (UTC days, inclusive). CIS selection: {}. Hosts: {}.</p>\n\
         <p>A <em>result</em> is a check's status on a host at the end of the period (the last \
         status change recorded before it); a <em>transition</em> is a status change during the \
         period. Incidents, training, KPIs and closed actions concern the whole organisation and are \
         not filtered by host or control; exceptions follow the control selection.</p>\n<h2>Sections</h2>\n<ul>\n\
         <li><a href=\"#safeguards\">CIS safeguards</a> and <a href=\"#checks\">checks</a> \
         (results, transitions, evidence excerpts)</li>\n\
         <li><a href=\"evidence.html\">Evidence excerpts</a> (raw excerpts by SHA-256)</li>\n\
         <li><a href=\"continuity.html\">Reporting continuity</a> (reports received per host per \
         day; <a href=\"continuity.csv\">CSV</a>)</li>\n\
         <li><a href=\"incidents.html\">Incidents</a></li>\n\
         <li><a href=\"training.html\">Training coverage</a> (<a \
         href=\"training-completions.csv\">completions CSV</a>)</li>\n\
         <li><a href=\"kpi-history.html\">KPI history</a> (<a href=\"kpi-history.csv\">CSV</a>)</li>\n\
         <li><a href=\"exceptions.html\">Exceptions</a> in force during the period, with their \
         requesters and approvers</li>\n\
         <li><a href=\"actions.html\">Improvement actions closed</a> during the period, with the \
         SHA-256 of their closing evidence and their approvers</li>\n\
         <li><a href=\"data.json\">data.json</a>: all of the above for tools; \
         <a href=\"oscal/assessment-results.json\">OSCAL assessment results</a></li>\n\
         <li><a href=\"README.txt\">README.txt</a>: how to check this bundle's integrity and \
         origin</li>\n</ul>\n",
        plan.from,
        plan.to,
        esc(plan.control.as_deref().unwrap_or("all controls")),
        plan.scope
            .hostnames
            .as_ref()
            .map_or_else(|| "all".to_string(), |h| esc(&h.join(", "))),
    )?;
    w.write_all(b"<h2 id=\"safeguards\">CIS safeguards</h2>\n")?;
    html::thead(
        w,
        &[
            "Safeguard",
            "IG",
            "Title",
            "Checks",
            "Hosts passing",
            "Conclusion",
        ],
    )?;
    for s in &plan.safeguards {
        // Every mapped check has a page (plan.checks includes them, with or without data).
        let checks = s
            .checks
            .iter()
            .map(|c| format!("<a href=\"checks/{}.html\">{}</a>", slug(c), esc(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let hosts = if s.checks.is_empty() {
            String::new()
        } else {
            format!("{} / {}", s.tally.pass, s.tally.in_scope)
        };
        writeln!(
            w,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{checks}</td>\
             <td>{hosts}</td><td>{}</td></tr>",
            safeguard_file(&s.safeguard.id),
            esc(&s.safeguard.id),
            s.safeguard.ig,
            esc(&s.safeguard.title),
            conclusion_cell(s.conclusion)
        )?;
    }
    w.write_all(b"</table>\n<h2 id=\"checks\">Checks</h2>\n")?;
    if plan.checks.is_empty() {
        w.write_all(b"<p class=\"muted\">No check result in this selection.</p>\n")?;
    } else {
        html::thead(
            w,
            &[
                "Check",
                "Safeguards",
                "Hosts by status at the end",
                "Transitions",
            ],
        )?;
        for c in &plan.checks {
            writeln!(
                w,
                "<tr><td><a href=\"checks/{s}.html\">{c}</a></td><td>{}</td><td>{}</td>\
                 <td><a href=\"transitions/{s}.html\">{}</a></td></tr>",
                safeguard_links(plan, c, 0),
                counts_cell(plan, c),
                plan.transition_counts.get(c).copied().unwrap_or(0),
                s = slug(c),
                c = esc(c),
            )?;
        }
        w.write_all(b"</table>\n")?;
    }
    html::close(w)
}

fn safeguard_links(plan: &Plan, check: &str, depth: usize) -> String {
    let up = "../".repeat(depth);
    plan.check_safeguards
        .get(check)
        .into_iter()
        .flatten()
        .map(|s| format!("<a href=\"{up}{}\">{}</a>", safeguard_file(s), esc(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `checks/<id>.html`: the check's safeguards, tallies and links to its results and transitions.
pub fn check(w: &mut impl Write, plan: &Plan, check: &str) -> io::Result<()> {
    html::open(w, &format!("Check {check}"), 1)?;
    write!(
        w,
        "<p>Evidences CIS safeguards: {}</p>\n<p>Hosts by status at the end of the period: {}</p>\n\
         <ul><li><a href=\"../results/{s}.html\">Results at the end of the period</a> \
         (per host, with evidence excerpts)</li>\n\
         <li><a href=\"../transitions/{s}.html\">Transitions during the period</a> ({} \
         status changes)</li></ul>\n",
        match safeguard_links(plan, check, 1) {
            l if l.is_empty() => "none selected".to_string(),
            l => l,
        },
        counts_cell(plan, check),
        plan.transition_counts.get(check).copied().unwrap_or(0),
        s = slug(check),
    )?;
    html::close(w)
}

/// `safeguards/<cc>.<nn>.html` for the `i`-th selected safeguard.
pub fn safeguard(w: &mut impl Write, plan: &Plan, i: usize) -> io::Result<()> {
    let Some(s) = plan.safeguards.get(i) else {
        return Ok(());
    };
    let g = &s.safeguard;
    html::open(w, &format!("CIS Safeguard {}: {}", g.id, g.title), 1)?;
    write!(
        w,
        "<p>Implementation group {} and above; asset type {}; security function {}.</p>\n\
         <p>Conclusion at the end of the period: {}.</p>\n",
        g.ig,
        g.asset.as_str(),
        g.function.as_str(),
        conclusion_cell(s.conclusion)
    )?;
    if s.checks.is_empty() {
        w.write_all(
            b"<p>No Vigie check measures this safeguard: its evidence comes from the \
              self-assessment and governance documents, outside this bundle.</p>\n",
        )?;
        return html::close(w);
    }
    writeln!(
        w,
        "<p>{} of {} in-scope host results pass (not applicable results left out).</p>",
        s.tally.pass, s.tally.in_scope
    )?;
    html::thead(w, &["Check", "Hosts by status at the end", "Transitions"])?;
    for c in &s.checks {
        if plan.checks.binary_search(c).is_ok() {
            writeln!(
                w,
                "<tr><td><a href=\"../checks/{s}.html\">{c}</a></td><td>{}</td>\
                 <td><a href=\"../transitions/{s}.html\">{}</a></td></tr>",
                counts_cell(plan, c),
                plan.transition_counts.get(c).copied().unwrap_or(0),
                s = slug(c),
                c = esc(c),
            )?;
        } else {
            writeln!(
                w,
                "<tr><td>{}</td><td class=\"muted\">no result in this selection</td><td>0</td></tr>",
                esc(c)
            )?;
        }
    }
    w.write_all(b"</table>\n")?;
    html::close(w)
}
