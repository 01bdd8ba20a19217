//! CIS scores kept in the daily KPI snapshots, so the monthly report can show a past month's score
//! and the change since the month before: the fleet's past state is not kept host by host, so a
//! score cannot be recomputed later.
//!
//! Rows (in `kpi_snapshots`, no table of their own): `cis.overall`, `cis.ig.1` to `cis.ig.3`, and
//! `cis.control.1` to `cis.control.18` scored at the configured implementation group. The value is
//! the score (0 to 100, `None` when nothing is assessed) and the detail is the [`Summary`] with the
//! implementation group. `cis.overall` carries the target then in force (`[kpi] cis_target`, stored
//! on the same 0 to 100 scale) and is judged against it; the other rows have no target (status
//! `no_target` or `no_data`).

use serde_json::json;

use super::catalogue::Catalogue;
use super::score::{Scorecard, Summary};
use crate::store::kpi_snapshots::SnapshotRow;

/// The overall score's row name.
pub const OVERALL: &str = "cis.overall";

/// Row name of an implementation group.
pub fn ig_name(ig: u8) -> String {
    format!("cis.ig.{ig}")
}

/// Row name of a control.
pub fn control_name(control: u8) -> String {
    format!("cis.control.{control}")
}

fn row(
    day: &str,
    kpi: String,
    s: &Summary,
    ig: u8,
    target: Option<f64>,
    taken_at: i64,
) -> SnapshotRow {
    SnapshotRow {
        day: day.to_string(),
        kpi,
        value: s.score,
        target,
        status: crate::kpi::judge(s.score, target, crate::kpi::Unit::Ratio)
            .as_str()
            .to_string(),
        detail: json!({"ig": ig, "summary": s}).to_string(),
        taken_at,
    }
}

/// The snapshot rows of `card` for `day`, controls scored at implementation group `ig`;
/// `overall_target` is the overall score to reach (0 to 100).
pub fn snapshot_rows(
    cat: &Catalogue,
    card: &Scorecard,
    ig: u8,
    overall_target: Option<f64>,
    day: &str,
    taken_at: i64,
) -> Vec<SnapshotRow> {
    let mut out = vec![row(
        day,
        OVERALL.to_string(),
        &card.overall(),
        3,
        overall_target,
        taken_at,
    )];
    for g in 1..=3 {
        out.push(row(day, ig_name(g), &card.ig(g), g, None, taken_at));
    }
    for c in &cat.controls {
        out.push(row(
            day,
            control_name(c.id),
            &card.control(c.id, ig),
            ig,
            None,
            taken_at,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::cis::assessment::SelfAssessment;
    use crate::cis::catalogue::catalogue;
    use crate::cis::score;
    use crate::store::cis::CheckTally;

    /// patch_age 3 of 4 pass, nothing declared → safeguards 7.3 and 7.4 score 0.75 × ½ = 37.5;
    /// control 7 at IG1 = mean(37.5, 37.5) = 37.5; overall likewise (only 7.3, 7.4 and 7.7
    /// are measured by patch_age, all at 37.5), under a target of 60 → not met.
    /// 1 overall + 3 IGs + 18 controls = 22 rows.
    #[test]
    fn rows_for_overall_groups_and_controls() {
        let t = HashMap::from([(
            "patch_age".to_string(),
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
            &t,
            &SelfAssessment::default(),
        );
        let rows = snapshot_rows(catalogue(), &card, 1, Some(60.0), "2026-03-31", 7);
        assert_eq!(rows.len(), 22);
        let get = |n: &str| rows.iter().find(|r| r.kpi == n).unwrap();
        let c7 = get("cis.control.7");
        assert!((c7.value.unwrap() - 37.5).abs() < 1e-9, "{c7:?}");
        assert_eq!((c7.status.as_str(), c7.target), ("no_target", None));
        assert!(c7.detail.contains("\"ig\":1"));
        assert_eq!(get("cis.control.13").value, None);
        assert_eq!(get("cis.control.13").status, "no_data");
        assert!((get(OVERALL).value.unwrap() - 37.5).abs() < 1e-9);
        assert_eq!(
            (get(OVERALL).status.as_str(), get(OVERALL).target),
            ("not_met", Some(60.0))
        );
    }
}
