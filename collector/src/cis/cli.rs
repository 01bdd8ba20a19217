//! `vigie-collector cis …`: the CIS score of the fleet and the safeguard catalogue, as a table for
//! people or JSON for tools. Reads the database read-only, so it can run next to `serve`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::catalogue::{catalogue, Catalogue};
use super::score::{self, Basis, Scorecard, Summary};
use crate::config::CollectorConfig;
use crate::store::hosts::Staleness;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// `cis` subcommands.
#[derive(Debug, Subcommand)]
pub enum CisCommand {
    /// Score the fleet against CIS Controls v8.1 (measured checks + self-assessment).
    Score {
        /// Implementation group to score (cumulative). Default: cis.implementation_group (3).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
        ig: Option<u8>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the CIS Controls v8.1 safeguards (our own short titles) and the checks evidencing them.
    Catalogue {
        /// Only the safeguards of this implementation group (cumulative).
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
        ig: Option<u8>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Run a `cis` subcommand, printing to stdout.
pub fn run(cfg: &CollectorConfig, cmd: CisCommand) -> anyhow::Result<()> {
    let out = match cmd {
        CisCommand::Catalogue { ig, format } => {
            let evidence = score::builtin_evidence();
            match format {
                Format::Table => catalogue_table(catalogue(), &evidence, ig.unwrap_or(3)),
                Format::Json => {
                    catalogue_json(catalogue(), &evidence, ig.unwrap_or(3)).to_string() + "\n"
                }
            }
        }
        CisCommand::Score { ig, format } => {
            let ig = ig.unwrap_or(cfg.cis.implementation_group);
            let assessment = super::load_configured(&cfg.cis, super::today())?;
            let db = cfg.database_path();
            let conn = crate::store::cis::open_read_only(&db)?;
            let st = Staleness::from_config(&cfg.fleet, crate::store::now_unix());
            let (evidence, tallies) = crate::store::cis::check_tallies(&conn, &st)
                .and_then(|hosts| super::identity::combine(&conn, &cfg.identity, st.now, hosts))
                .with_context(|| format!("cannot read {}", db.display()))?;
            let card = score::score(catalogue(), &evidence, &tallies, &assessment);
            let source = cfg
                .cis
                .self_assessment
                .as_ref()
                .map(|p| format!("{} ({} answers)", p.display(), assessment.entries.len()));
            match format {
                Format::Table => score_table(catalogue(), &card, ig, source.as_deref()),
                Format::Json => score_json(catalogue(), &card, ig).to_string() + "\n",
            }
        }
    };
    print!("{out}");
    Ok(())
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

fn cov(s: &Summary) -> String {
    s.coverage
        .map_or_else(|| "-".to_string(), |c| format!("{:.0}%", c * 100.0))
}

/// The human report: controls, implementation groups, overall, then the measured safeguards.
pub fn score_table(cat: &Catalogue, card: &Scorecard, ig: u8, source: Option<&str>) -> String {
    let mut o = String::new();
    let n = cat.in_ig(ig).count();
    let _ = writeln!(
        o,
        "CIS Controls v8.1, implementation group {ig} ({n} safeguards)"
    );
    let _ = writeln!(
        o,
        "Self-assessment: {}",
        source.unwrap_or("none configured ([cis] self_assessment)")
    );
    let _ = writeln!(
        o,
        "\n{:>3}  {:<46} {:>6} {:>9} {:>4} {:>13} {:>9}",
        "#", "Control", "Score", "Assessed", "N/A", "Not assessed", "Coverage"
    );
    for c in &cat.controls {
        let s = card.control(c.id, ig);
        if s.total == 0 {
            let _ = writeln!(
                o,
                "{:>3}  {:<46} {:>6}  (no IG{ig} safeguard)",
                c.id, c.title, ""
            );
            continue;
        }
        let _ = writeln!(
            o,
            "{:>3}  {:<46} {:>6} {:>9} {:>4} {:>13} {:>9}",
            c.id,
            c.title,
            pct(s.score),
            format!("{}/{}", s.assessed, s.total),
            s.not_applicable,
            s.not_assessed,
            cov(&s)
        );
    }
    let _ = writeln!(o);
    for g in 1..=3u8 {
        let s = card.ig(g);
        let _ = writeln!(
            o,
            "IG{g} ({:>3} safeguards): score {:>5}, {} assessed, {} not applicable, {} not assessed, coverage {}",
            s.total,
            pct(s.score),
            s.assessed,
            s.not_applicable,
            s.not_assessed,
            cov(&s)
        );
    }
    let s = card.overall();
    let _ = writeln!(
        o,
        "Overall (all assessed safeguards, IG1 to IG3): {}, coverage {}",
        pct(s.score),
        cov(&s)
    );
    let measured: Vec<_> = card
        .safeguards
        .iter()
        .filter(|s| s.ig <= ig && s.basis == Basis::Measured)
        .collect();
    if !measured.is_empty() {
        let _ = writeln!(
            o,
            "\nMeasured safeguards (implementation = share of in-scope hosts passing):"
        );
        for s in measured {
            let checks: Vec<String> = s
                .checks
                .iter()
                .map(|c| {
                    let stale = if c.stale > 0 {
                        format!(", {} stale", c.stale)
                    } else {
                        String::new()
                    };
                    format!("{} {}/{} pass{stale}", c.check, c.passing, c.in_scope)
                })
                .collect();
            let policy = s
                .policy
                .map_or_else(|| "not answered".into(), |p| format!("{:.0}%", p * 100.0));
            let _ = writeln!(
                o,
                "  {:<6} IG{}  {:>5}  implementation {:>4}  policy {:<12}  {}",
                s.id,
                s.ig,
                pct(s.score),
                format!("{:.0}%", s.implementation.unwrap_or(0.0) * 100.0),
                policy,
                checks.join("; ")
            );
        }
    }
    o
}

/// The machine report.
pub fn score_json(cat: &Catalogue, card: &Scorecard, ig: u8) -> serde_json::Value {
    let controls: Vec<_> = cat
        .controls
        .iter()
        .map(|c| json!({"control": c.id, "title": c.title, "summary": card.control(c.id, ig)}))
        .collect();
    let safeguards: Vec<_> = card
        .safeguards
        .iter()
        .filter(|s| s.ig <= ig)
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            if let (Some(obj), Some(sg)) = (v.as_object_mut(), cat.safeguard(&s.id)) {
                obj.insert("title".into(), json!(sg.title));
            }
            v
        })
        .collect();
    json!({
        "framework": "CIS Controls v8.1",
        "implementation_group": ig,
        "overall": card.overall(),
        "implementation_groups": {"1": card.ig(1), "2": card.ig(2), "3": card.ig(3)},
        "controls": controls,
        "safeguards": safeguards,
    })
}

/// The catalogue as a table, grouped by control.
pub fn catalogue_table(
    cat: &Catalogue,
    evidence: &BTreeMap<String, Vec<String>>,
    ig: u8,
) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "CIS Controls v8.1, implementation group {ig}: {} safeguards (titles are Vigie's own summaries)",
        cat.in_ig(ig).count()
    );
    for c in &cat.controls {
        let sgs: Vec<_> = cat.in_ig(ig).filter(|s| s.control() == c.id).collect();
        if sgs.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{:>2}  {}", c.id, c.title);
        for s in sgs {
            let by = evidence
                .get(&s.id)
                .map(|c| format!("  [checks: {}]", c.join(", ")))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  {:<6} IG{}  {:<13} {:<9} {}{by}",
                s.id,
                s.ig,
                s.asset.as_str(),
                s.function.as_str(),
                s.title
            );
        }
    }
    o
}

/// The catalogue as JSON.
pub fn catalogue_json(
    cat: &Catalogue,
    evidence: &BTreeMap<String, Vec<String>>,
    ig: u8,
) -> serde_json::Value {
    let safeguards: Vec<_> = cat
        .in_ig(ig)
        .map(|s| {
            json!({
                "id": s.id, "control": s.control(), "ig": s.ig, "asset": s.asset,
                "function": s.function, "title": s.title,
                "checks": evidence.get(&s.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    json!({"framework": "CIS Controls v8.1", "implementation_group": ig,
           "controls": cat.controls, "safeguards": safeguards})
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cis::assessment::SelfAssessment;
    use crate::store::cis::CheckTally;

    fn card() -> Scorecard {
        // patch_age: 3 of 4 in scope pass, 1 stale, nothing declared → 7.3 = 0.75 × ½ = 37.5.
        let t = HashMap::from([(
            "patch_age".to_string(),
            CheckTally {
                passing: 3,
                in_scope: 4,
                stale: 1,
                excepted: 0,
            },
        )]);
        score::score(
            catalogue(),
            &score::builtin_evidence(),
            &t,
            &SelfAssessment::default(),
        )
    }

    #[test]
    fn table_shows_controls_igs_and_measurements() {
        let t = score_table(catalogue(), &card(), 1, None);
        assert!(t.contains("implementation group 1 (56 safeguards)"), "{t}");
        // Control 7 at IG1: 7.3 and 7.4 at 37.5, 7.1 and 7.2 not assessed → 2/4, coverage 50%.
        let line = t
            .lines()
            .find(|l| l.trim_start().starts_with("7 "))
            .unwrap();
        assert!(
            line.contains("37.5") && line.contains("2/4") && line.contains("50%"),
            "{line}"
        );
        // Control 13 has no IG1 safeguard.
        assert!(t.contains("(no IG1 safeguard)"));
        assert!(t.contains("patch_age 3/4 pass, 1 stale"), "{t}");
        // 7.7 is IG2: not listed at IG1.
        assert!(!t.contains("  7.7 "), "{t}");
    }

    #[test]
    fn json_has_every_level() {
        let v = score_json(catalogue(), &card(), 2);
        assert_eq!(v["implementation_group"], 2);
        assert_eq!(v["controls"].as_array().unwrap().len(), 18);
        assert_eq!(v["safeguards"].as_array().unwrap().len(), 130);
        // IG2 assessed: 7.3, 7.4, 7.7 → 3.
        assert_eq!(v["implementation_groups"]["2"]["assessed"], 3);
        assert_eq!(v["overall"]["total"], 153);
    }

    #[test]
    fn catalogue_listing() {
        let evidence = score::builtin_evidence();
        let t = catalogue_table(catalogue(), &evidence, 1);
        assert!(t.contains("56 safeguards"));
        assert!(t.contains("[checks: backup_freshness]"));
        assert!(!t.contains("13.1"));
        let v = catalogue_json(catalogue(), &evidence, 3);
        assert_eq!(v["safeguards"].as_array().unwrap().len(), 153);
    }
}
