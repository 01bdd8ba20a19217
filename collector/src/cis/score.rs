//! CIS scoring: pure functions from the catalogue, the check → safeguard mapping, per-check host
//! tallies and the self-assessment to a score per safeguard, control, implementation group and
//! overall. The formula is documented in docs/cis.md; in short:
//!
//! - implementation: for a measured safeguard (a check evidences it and at least one mapped check
//!   has in-scope hosts) the minimum over mapped checks of passing / in-scope hosts; otherwise the
//!   self-assessed `implementation` level (unanswered = 0: not implemented until someone says so);
//! - organisation = (policy + automation + reporting) / 3 from the self-assessment, an unanswered
//!   level counting 0 (Vigie measuring a safeguard is not the organisation automating it);
//! - safeguard score = 100 × implementation × (1 + organisation) / 2: never above the
//!   implementation share, half of it when nothing is declared about how the safeguard is run;
//! - `applicable = false` = "not applicable"; no data and no answer = "not assessed". Both are left
//!   out of every mean and counted apart.
//! - control / IG / overall score = unweighted mean of the assessed safeguards' scores in scope.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::assessment::{Answer, SelfAssessment};
use super::catalogue::Catalogue;
use crate::store::cis::CheckTally;

/// How a safeguard got its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Implementation measured on the fleet by Vigie's checks.
    Measured,
    /// Self-assessed only.
    SelfAssessed,
    /// Declared not applicable in the self-assessment.
    NotApplicable,
    /// Neither data nor answer.
    NotAssessed,
}

/// One mapped check's contribution to a measured safeguard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckShare {
    /// Check id.
    pub check: String,
    /// Non-stale hosts whose current status is `pass`.
    pub passing: u64,
    /// Hosts whose current status is not `not_applicable` (stale ones included).
    pub in_scope: u64,
    /// Of `in_scope`, the stale hosts (counted as not passing).
    pub stale: u64,
}

/// A safeguard's dimensions (each 0..=1, absent when unknown) and score (0..=100).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafeguardScore {
    /// e.g. `"7.3"`.
    pub id: String,
    /// Control number.
    pub control: u8,
    /// Lowest implementation group.
    pub ig: u8,
    /// Where the score comes from.
    pub basis: Basis,
    /// Policy dimension.
    pub policy: Option<f64>,
    /// Implementation dimension.
    pub implementation: Option<f64>,
    /// Automation dimension (self-assessed; `None` when unanswered).
    pub automation: Option<f64>,
    /// Reporting dimension (self-assessed; `None` when unanswered).
    pub reporting: Option<f64>,
    /// (policy + automation + reporting) / 3, unanswered levels counting 0; `None` when not
    /// assessed or not applicable.
    pub organisation: Option<f64>,
    /// 100 × implementation × (1 + organisation) / 2; `None` when not assessed or not applicable.
    pub score: Option<f64>,
    /// The mapped checks and their tallies (empty for manual safeguards).
    pub checks: Vec<CheckShare>,
}

/// Aggregate over a set of safeguards (a control, an IG, everything).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Mean of the assessed safeguards' scores, 0..=100; `None` when none is assessed.
    pub score: Option<f64>,
    /// Safeguards in the set.
    pub total: usize,
    /// With a score.
    pub assessed: usize,
    /// Declared not applicable.
    pub not_applicable: usize,
    /// Neither data nor answer.
    pub not_assessed: usize,
    /// assessed / (total − not_applicable), 0..=1; `None` when everything is not applicable.
    pub coverage: Option<f64>,
}

/// Scores of every safeguard of the catalogue, in catalogue order.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// One per catalogue safeguard.
    pub safeguards: Vec<SafeguardScore>,
}

/// Safeguard id → the checks that evidence it, from the checks' own declarations.
pub fn evidence_map<'a>(
    checks: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (check, safeguards) in checks {
        for s in safeguards {
            map.entry((*s).to_string())
                .or_default()
                .push(check.to_string());
        }
    }
    map
}

/// The mapping of the checks compiled into this build (`vigie_checks::ALL`).
pub fn builtin_evidence() -> BTreeMap<String, Vec<String>> {
    evidence_map(vigie_checks::ALL.iter().map(|c| (c.id(), c.safeguards())))
}

fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// A safeguard's score in 0..=1 from its implementation share and organisation level (both
/// 0..=1): the implementation scaled by a weight between ½ (nothing declared about policy,
/// automation and reporting) and 1 (all three fully in place). Never above `implementation`.
pub fn safeguard_score(implementation: f64, organisation: f64) -> f64 {
    implementation * (1.0 + organisation) / 2.0
}

/// Score every safeguard.
pub fn score(
    catalogue: &Catalogue,
    evidence: &BTreeMap<String, Vec<String>>,
    tallies: &HashMap<String, CheckTally>,
    assessment: &SelfAssessment,
) -> Scorecard {
    let safeguards = catalogue
        .safeguards
        .iter()
        .map(|s| {
            let entry = assessment.entries.get(&s.id).map(|e| &e.answer);
            let checks: Vec<CheckShare> = evidence
                .get(&s.id)
                .into_iter()
                .flatten()
                .map(|c| {
                    let t = tallies.get(c).copied().unwrap_or_default();
                    CheckShare {
                        check: c.clone(),
                        passing: t.passing,
                        in_scope: t.in_scope,
                        stale: t.stale,
                    }
                })
                .collect();
            let measured = checks
                .iter()
                .filter(|c| c.in_scope > 0)
                .map(|c| c.passing.min(c.in_scope) as f64 / c.in_scope as f64)
                .reduce(f64::min);
            let levels = match entry {
                Some(Answer::Levels {
                    policy,
                    implementation,
                    automation,
                    reporting,
                }) => Some((
                    policy.map(|l| l.value()),
                    implementation.map(|l| l.value()),
                    automation.map(|l| l.value()),
                    reporting.map(|l| l.value()),
                )),
                _ => None,
            };
            let (basis, implementation) = match (entry, measured, levels) {
                (Some(Answer::NotApplicable { .. }), _, _) => (Basis::NotApplicable, None),
                // The measured share replaces any self-assessed implementation level.
                (_, Some(share), _) => (Basis::Measured, Some(share)),
                (_, None, Some((_, implementation, _, _))) => {
                    (Basis::SelfAssessed, Some(implementation.unwrap_or(0.0)))
                }
                (_, None, None) => (Basis::NotAssessed, None),
            };
            let (policy, automation, reporting) = match (basis, levels) {
                (Basis::Measured | Basis::SelfAssessed, Some((p, _, a, r))) => (p, a, r),
                _ => (None, None, None),
            };
            let organisation = implementation.map(|_| {
                [policy, automation, reporting]
                    .into_iter()
                    .map(|l| l.unwrap_or(0.0))
                    .sum::<f64>()
                    / 3.0
            });
            let score = implementation
                .zip(organisation)
                .map(|(i, o)| 100.0 * safeguard_score(i, o));
            SafeguardScore {
                id: s.id.clone(),
                control: s.control(),
                ig: s.ig,
                basis,
                policy,
                implementation,
                automation,
                reporting,
                organisation,
                score,
                checks,
            }
        })
        .collect();
    Scorecard { safeguards }
}

impl Scorecard {
    fn summarise<'a>(set: impl Iterator<Item = &'a SafeguardScore>) -> Summary {
        let mut s = Summary {
            score: None,
            total: 0,
            assessed: 0,
            not_applicable: 0,
            not_assessed: 0,
            coverage: None,
        };
        let mut scores = Vec::new();
        for g in set {
            s.total += 1;
            match (g.basis, g.score) {
                (Basis::NotApplicable, _) => s.not_applicable += 1,
                (_, Some(v)) => {
                    s.assessed += 1;
                    scores.push(v);
                }
                (_, None) => s.not_assessed += 1,
            }
        }
        s.score = mean(scores);
        let applicable = s.total - s.not_applicable;
        s.coverage = (applicable > 0).then(|| s.assessed as f64 / applicable as f64);
        s
    }

    /// Control `control`, counting the safeguards of implementation group `ig` (cumulative).
    pub fn control(&self, control: u8, ig: u8) -> Summary {
        Self::summarise(
            self.safeguards
                .iter()
                .filter(|s| s.control == control && s.ig <= ig),
        )
    }

    /// Implementation group `ig`, cumulative (IG2 = its own 74 safeguards and IG1's 56).
    pub fn ig(&self, ig: u8) -> Summary {
        Self::summarise(self.safeguards.iter().filter(|s| s.ig <= ig))
    }

    /// All 153 safeguards (IG1 to IG3); the same set, hence the same numbers, as `ig(3)`.
    pub fn overall(&self) -> Summary {
        Self::summarise(self.safeguards.iter())
    }

    /// The score of one safeguard.
    #[cfg(test)]
    pub fn safeguard(&self, id: &str) -> Option<&SafeguardScore> {
        self.safeguards.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests;
