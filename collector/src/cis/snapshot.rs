//! CIS scores kept in the daily KPI snapshots, so the monthly report can show a past month's score
//! and the change since the month before: the fleet's past state is not kept host by host, so a
//! score cannot be recomputed later.
//!
//! Rows (in `kpi_snapshots`, no table of their own): `cis.overall`, `cis.ig.1` to `cis.ig.3`, and
//! `cis.control.1` to `cis.control.18` scored at the configured implementation group. The value is
//! the score (0 to 100, `None` when nothing is assessed), there is no target (status `no_target`
//! or `no_data`), and the detail is the [`Summary`] with the implementation group.

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

fn row(day: &str, kpi: String, s: &Summary, ig: u8, taken_at: i64) -> SnapshotRow {
    SnapshotRow {
        day: day.to_string(),
        kpi,
        value: s.score,
        target: None,
        status: if s.score.is_some() {
            "no_target"
        } else {
            "no_data"
        }
        .to_string(),
        detail: json!({"ig": ig, "summary": s}).to_string(),
        taken_at,
    }
}

/// The snapshot rows of `card` for `day`, controls scored at implementation group `ig`.
pub fn snapshot_rows(
    cat: &Catalogue,
    card: &Scorecard,
    ig: u8,
    day: &str,
    taken_at: i64,
) -> Vec<SnapshotRow> {
    let mut out = vec![row(day, OVERALL.to_string(), &card.overall(), 3, taken_at)];
    for g in 1..=3 {
        out.push(row(day, ig_name(g), &card.ig(g), g, taken_at));
    }
    for c in &cat.controls {
        out.push(row(
            day,
            control_name(c.id),
            &card.control(c.id, ig),
            ig,
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

    /// patch_age 3 of 4 pass → safeguards 7.3 and 7.4 score (0.75 + 1 + 1) / 3 = 91.67;
    /// control 7 at IG1 = mean(91.67, 91.67) = 91.67; overall likewise (only 7.3, 7.4 and 7.7
    /// are measured by patch_age, all at 91.67). 1 overall + 3 IGs + 18 controls = 22 rows.
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
        let rows = snapshot_rows(catalogue(), &card, 1, "2026-03-31", 7);
        assert_eq!(rows.len(), 22);
        let get = |n: &str| rows.iter().find(|r| r.kpi == n).unwrap();
        let c7 = get("cis.control.7");
        assert!((c7.value.unwrap() - 91.666_666).abs() < 1e-3, "{c7:?}");
        assert_eq!(c7.status, "no_target");
        assert!(c7.detail.contains("\"ig\":1"));
        assert_eq!(get("cis.control.13").value, None);
        assert_eq!(get("cis.control.13").status, "no_data");
        assert!((get(OVERALL).value.unwrap() - 91.666_666).abs() < 1e-3);
    }
}
