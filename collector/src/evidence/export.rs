//! One export, start to end: check the request against the store, decide the [`Plan`], then write
//! every entry in path order inside one read transaction (every section sees the same snapshot).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, Write};

use chrono::NaiveDate;
use ed25519_dalek::SigningKey;
use rusqlite::Connection;

use super::bundle::{BundleWriter, PUBLIC_KEY};
use super::html::safeguard_file;
use super::plan::{self, Plan, SafeguardPlan, UsageError};
use super::{data_json, oscal, pages, sections, signing, ExportError};
use crate::cis::catalogue::catalogue;
use crate::cis::score::builtin_evidence;
use crate::store::evidence_export as q;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// First day (UTC, inclusive).
    pub from: NaiveDate,
    /// Last day (UTC, inclusive).
    pub to: NaiveDate,
    /// A CIS control (`"7"`) or safeguard (`"7.3"`); `None` for all.
    pub control: Option<String>,
    /// Host names; `None` for every host.
    pub hostnames: Option<Vec<String>>,
    /// Courses that count as security awareness (`kpi.awareness_courses`).
    pub awareness_courses: Vec<String>,
    /// `[identity]`: which sources, and when one is stale (`identities.html`).
    pub identity: crate::identity::config::IdentitySection,
}

/// Decide what the bundle covers (reads only tallies from the store).
pub fn plan(conn: &Connection, req: &ExportRequest) -> Result<Plan, ExportError> {
    if let Some(names) = &req.hostnames {
        if names.is_empty() {
            return Err(UsageError("the host selection is empty".into()).into());
        }
        let unknown = q::unknown_hostnames(conn, names)?;
        if !unknown.is_empty() {
            return Err(UsageError(format!("no host named {}", unknown.join(", "))).into());
        }
    }
    let mut scope = plan::scope(req.from, req.to, req.hostnames.clone())?;
    let selected = plan::select(catalogue(), req.control.as_deref())?;
    let mapping = builtin_evidence();
    let mapped: BTreeSet<String> = selected
        .iter()
        .flat_map(|s| mapping.get(&s.id).into_iter().flatten().cloned())
        .collect();
    if req.control.is_some() {
        scope.checks = Some(mapped.iter().cloned().collect());
    }
    let mut result_counts = q::result_counts(conn, &scope)?;
    // Results an exception in force at the period's end covers count as `excepted` (the rule of
    // every view; out of a safeguard's scope, as in the CIS score).
    let rule = crate::store::exceptions::InForce::from_list(
        &crate::store::exceptions::list(conn)?,
        scope.end_ts - 1,
    );
    if !rule.is_empty() {
        q::for_each_result(conn, &scope, |r| {
            let eff = rule.effective(&r.hostname, &r.check, &r.status);
            if eff.exception_id().is_some() {
                let counts = result_counts.entry(r.check.clone()).or_default();
                if let Some(n) = counts.get_mut(&r.status) {
                    *n = n.saturating_sub(1);
                }
                *counts.entry(eff.as_str().to_string()).or_default() += 1;
                counts.retain(|_, n| *n > 0);
            }
            Ok::<_, ExportError>(())
        })?;
    }
    let transition_counts = q::transition_counts(conn, &scope)?;
    let mut checks: BTreeSet<String> = q::checks_in_scope(conn, &scope)?.into_iter().collect();
    checks.extend(mapped);
    let mut check_safeguards: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let safeguards = selected
        .iter()
        .map(|s| {
            let mut cs = mapping.get(&s.id).cloned().unwrap_or_default();
            cs.sort();
            for c in &cs {
                check_safeguards
                    .entry(c.clone())
                    .or_default()
                    .push(s.id.clone());
            }
            let tally = plan::tally(&result_counts, &cs);
            SafeguardPlan {
                safeguard: (*s).clone(),
                conclusion: plan::conclude(&cs, tally),
                checks: cs,
                tally,
            }
        })
        .collect();
    Ok(Plan {
        from: req.from,
        to: req.to,
        control: req.control.clone(),
        scope,
        safeguards,
        checks: checks.into_iter().collect(),
        check_safeguards,
        result_counts,
        transition_counts,
    })
}

/// Write the bundle for `req` into `out`, signed with `key`; returns `out` when finished.
pub fn export<W: Write + Seek>(
    conn: &Connection,
    req: &ExportRequest,
    key: &SigningKey,
    out: W,
) -> Result<W, ExportError> {
    // A page cache for the roll-up's index probes (one per host and section), and sorts kept in
    // memory (bounded: the large sections are streamed in index order, not sorted).
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // One snapshot for every section: a report arriving mid-export is in none of them.
    let tx = conn.unchecked_transaction()?;
    let plan = plan(&tx, req)?;
    let people = crate::store::registers::list_people(&tx)?;
    let window = crate::store::registers::completions_between(
        &tx,
        crate::kpi::training::window_from(req.to),
        req.to,
    )?;
    let coverage =
        crate::kpi::training::training_coverage(&people, &window, &req.awareness_courses, req.to);
    drop((people, window));

    let mut b = BundleWriter::new(out, req.to)?;
    // Entries in path order (the writer refuses anything else).
    b.start("README.txt")?;
    pages::readme(&mut b, &plan)?;
    sections::closed_actions(&mut b, &tx, &plan)?;
    for c in &plan.checks {
        b.start(&format!("checks/{}.html", super::html::slug(c)))?;
        pages::check(&mut b, &plan, c)?;
    }
    sections::continuity(&mut b, &tx, &plan)?;
    data_json::write(&mut b, &tx, &plan, &coverage)?;
    sections::evidence(&mut b, &tx, &plan)?;
    sections::exceptions(&mut b, &tx, &plan)?;
    super::identities::write(&mut b, &tx, &plan, &req.identity)?;
    sections::incidents(&mut b, &tx, &plan)?;
    b.start("index.html")?;
    pages::index(&mut b, &plan)?;
    sections::kpi_history(&mut b, &tx, &plan)?;
    oscal::write(&mut b, &tx, &plan)?;
    sections::results(&mut b, &tx, &plan)?;
    for (i, s) in plan.safeguards.iter().enumerate() {
        b.start(&safeguard_file(&s.safeguard.id))?;
        pages::safeguard(&mut b, &plan, i)?;
    }
    b.entry(
        PUBLIC_KEY,
        signing::public_pem(&key.verifying_key()).as_bytes(),
    )?;
    sections::training(&mut b, &tx, &plan, &coverage)?;
    sections::transitions(&mut b, &tx, &plan)?;
    let out = b.finish(key)?;
    tx.finish()?;
    Ok(out)
}
