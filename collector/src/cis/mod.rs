//! CIS Controls v8.1: the embedded catalogue of controls and safeguards, the self-assessment file,
//! and the scoring that combines fleet measurements with self-assessed answers.
//!
//! Map (arrows = "uses"): `cli` and `gauges` → `score` → `catalogue`, `assessment`; `cli` and
//! `gauges` read per-check tallies from `store::cis`. `score` is pure: plain data in, numbers out.

pub mod assessment;
pub mod catalogue;
pub mod cli;
pub mod gauges;
pub mod identity;
pub mod score;
pub mod snapshot;

use chrono::NaiveDate;

use crate::config::CisSection;
use assessment::{AssessmentError, SelfAssessment};

/// The configured self-assessment, validated against the catalogue (empty when none is configured).
pub fn load_configured(
    cfg: &CisSection,
    today: NaiveDate,
) -> Result<SelfAssessment, AssessmentError> {
    match &cfg.self_assessment {
        Some(path) => assessment::load(path, catalogue::catalogue(), today),
        None => Ok(SelfAssessment::default()),
    }
}

/// Today's date on the collector's clock (local time: assessors date their answers locally).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}
