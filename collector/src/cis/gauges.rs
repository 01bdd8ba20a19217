//! CIS gauges on /metrics: per control, per implementation group, overall, and how many safeguards
//! are assessed. Computed in the scheduled metrics refresh, never per scrape. The self-assessment
//! file is re-read when its modification time changes, so edits need no restart; an invalid edit
//! is logged and the last valid version kept.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use prometheus::{Gauge, GaugeVec, IntGaugeVec, Opts, Registry};

use super::assessment::{AssessmentError, SelfAssessment};
use super::catalogue::catalogue;
use super::score::{self, Scorecard};
use crate::config::CisSection;
use crate::store::hosts::Staleness;
use crate::store::{Store, StoreError};

/// Where the self-assessment comes from, and its last valid content.
#[derive(Default)]
struct Source {
    path: Option<PathBuf>,
    ig: u8,
    modified: Option<SystemTime>,
    assessment: SelfAssessment,
}

/// The CIS gauges and the self-assessment they use.
pub struct CisGauges {
    control: GaugeVec,
    ig: GaugeVec,
    overall: Gauge,
    assessed: IntGaugeVec,
    source: Mutex<Source>,
    /// `[identity]`: 6.3–6.5 are measured from the identity sources too (`cis::identity`).
    identity: Mutex<crate::identity::config::IdentitySection>,
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl CisGauges {
    /// Create the gauges and register them in `registry`.
    pub fn register(registry: &Registry) -> Result<CisGauges, prometheus::Error> {
        let control = GaugeVec::new(
            Opts::new(
                "vigie_cis_control_score_ratio",
                "CIS Controls v8.1 score per control (0..1), over the assessed safeguards of the \
                 configured implementation group; absent when none is assessed.",
            ),
            &["control"],
        )?;
        let ig = GaugeVec::new(
            Opts::new(
                "vigie_cis_ig_score_ratio",
                "CIS Controls v8.1 score per implementation group (0..1, cumulative: IG2 includes \
                 IG1); absent when none is assessed.",
            ),
            &["ig"],
        )?;
        let overall = Gauge::new(
            "vigie_cis_overall_score_ratio",
            "CIS Controls v8.1 score over all assessed safeguards of IG1 to IG3 (0..1; each \
             safeguard scores its implementation share x (1 + organisation answers) / 2, see \
             docs/cis.md); NaN when none is assessed.",
        )?;
        let assessed = IntGaugeVec::new(
            Opts::new(
                "vigie_cis_safeguards_assessed",
                "CIS safeguards with a score, per implementation group (cumulative).",
            ),
            &["ig"],
        )?;
        registry.register(Box::new(control.clone()))?;
        registry.register(Box::new(ig.clone()))?;
        registry.register(Box::new(overall.clone()))?;
        registry.register(Box::new(assessed.clone()))?;
        Ok(CisGauges {
            control,
            ig,
            overall,
            assessed,
            source: Mutex::new(Source {
                ig: 3,
                ..Source::default()
            }),
            identity: Mutex::default(),
        })
    }

    /// Use `cfg`: load the self-assessment now (an invalid file is an error at start).
    pub fn configure(&self, cfg: &CisSection) -> Result<(), AssessmentError> {
        let assessment = super::load_configured(cfg, super::today())?;
        let mut src = self.source.lock().unwrap_or_else(|p| p.into_inner());
        *src = Source {
            path: cfg.self_assessment.clone(),
            ig: cfg.implementation_group,
            modified: cfg.self_assessment.as_deref().and_then(modified),
            assessment,
        };
        Ok(())
    }

    /// Reload the self-assessment if its file changed; keep the previous one if it is now invalid.
    fn current(&self) -> (SelfAssessment, u8) {
        let mut src = self.source.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = src.path.clone() {
            let now = modified(&path);
            if now != src.modified {
                src.modified = now;
                match super::assessment::load(&path, catalogue(), super::today()) {
                    Ok(a) => {
                        tracing::info!(path = %path.display(), answers = a.entries.len(), "CIS self-assessment reloaded");
                        src.assessment = a;
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "CIS self-assessment not reloaded; keeping the previous version"
                    ),
                }
            }
        }
        (src.assessment.clone(), src.ig)
    }

    /// Use `[identity]` for safeguards 6.3–6.5.
    pub fn configure_identity(&self, cfg: &crate::identity::config::IdentitySection) {
        *self.identity.lock().unwrap_or_else(|p| p.into_inner()) = cfg.clone();
    }

    /// Recompute the scores from the store (blocking).
    pub fn refresh(&self, store: &Store, st: &Staleness) -> Result<(), StoreError> {
        let identity = self
            .identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let hosts = store.with_fleet(st, |v| v.check_tallies())?;
        let (evidence, tallies) =
            store.read(|c| super::identity::combine(c, &identity, st.now, hosts))?;
        let (assessment, ig) = self.current();
        let card = score::score(catalogue(), &evidence, &tallies, &assessment);
        self.set(&card, ig);
        Ok(())
    }

    /// Set every gauge from `card`, controls over implementation group `ig`.
    fn set(&self, card: &Scorecard, ig: u8) {
        self.control.reset();
        for c in &catalogue().controls {
            if let Some(s) = card.control(c.id, ig).score {
                self.control
                    .with_label_values(&[&c.id.to_string()])
                    .set(s / 100.0);
            }
        }
        self.ig.reset();
        for g in 1..=3u8 {
            let sum = card.ig(g);
            let label = g.to_string();
            if let Some(s) = sum.score {
                self.ig.with_label_values(&[&label]).set(s / 100.0);
            }
            self.assessed
                .with_label_values(&[&label])
                .set(sum.assessed as i64);
        }
        self.overall
            .set(card.overall().score.map_or(f64::NAN, |s| s / 100.0));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::store::cis::CheckTally;

    #[test]
    fn gauges_hold_ratios_and_skip_unscored_controls() {
        let registry = Registry::new();
        let g = CisGauges::register(&registry).unwrap();
        // mfa: 3 of 4 hosts pass, nothing declared → 6.3–6.5 each 0.75 × ½ = 0.375; nothing else
        // known.
        let tallies = HashMap::from([(
            "mfa".to_string(),
            CheckTally {
                passing: 3,
                in_scope: 4,
                stale: 0,
                excepted: 0,
            },
        )]);
        let card = score::score(
            catalogue(),
            &score::builtin_evidence(),
            &tallies,
            &SelfAssessment::default(),
        );
        g.set(&card, 1);
        let want = 0.375;
        assert!((g.control.with_label_values(&["6"]).get() - want).abs() < 1e-9);
        assert!((g.overall.get() - want).abs() < 1e-9);
        assert_eq!(g.assessed.with_label_values(&["1"]).get(), 3);
        assert_eq!(g.assessed.with_label_values(&["3"]).get(), 3);
        // Only control 6 has a series: the others are absent, not 0.
        let text = {
            let mut buf = Vec::new();
            prometheus::Encoder::encode(
                &prometheus::TextEncoder::new(),
                &registry.gather(),
                &mut buf,
            )
            .unwrap();
            String::from_utf8(buf).unwrap()
        };
        let series = text
            .lines()
            .filter(|l| l.starts_with("vigie_cis_control_score_ratio{"))
            .count();
        assert_eq!(series, 1, "{text}");
        assert!(text.contains("vigie_cis_ig_score_ratio{ig=\"2\"}"));
    }
}
