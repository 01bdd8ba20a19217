//! The risk register's records (governance manual §02): a risk, the input that creates or changes
//! one, the field-by-field history of changes, and the CSV import of manual risks.
//!
//! CSV import columns (header row required, order free, unknown columns refused):
//! `title` (required), `scenario`, `assets` (`;`-separated), `likelihood` (1..4, required),
//! `impact` (1..4, required), `treatment` (required), `owner` (required), `status` (default
//! `open`), `next_review` (YYYY-MM-DD, default today + `risk.review_days`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::matrix::{check_scale, Matrix};
use super::{ser_ts, Level, RiskError, RiskStatus, Source, Treatment};

/// A risk of the register.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Risk {
    /// Row id (shown as `R-<id>`).
    pub id: i64,
    /// `manual` or `fleet`.
    pub source: Source,
    /// For fleet risks, the check they follow.
    pub check: Option<String>,
    /// Short title.
    pub title: String,
    /// What could happen.
    pub scenario: String,
    /// Affected assets or host groups.
    pub assets: Vec<String>,
    /// 1..4.
    pub likelihood: u8,
    /// 1..4.
    pub impact: u8,
    /// From the matrix.
    pub level: Level,
    /// reduce / accept / transfer / avoid.
    pub treatment: Treatment,
    /// Who owns it.
    pub owner: String,
    /// open / closed.
    pub status: RiskStatus,
    /// Next review date.
    pub next_review: NaiveDate,
    /// Derived at read time: open and next review date passed.
    pub review_overdue: bool,
    /// Linked action ids.
    pub actions: Vec<i64>,
    /// Creation time.
    #[serde(serialize_with = "ser_ts")]
    pub created_at: i64,
    /// Last change.
    #[serde(serialize_with = "ser_ts")]
    pub updated_at: i64,
}

/// One field's change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldChange {
    /// Before (null at creation).
    pub from: serde_json::Value,
    /// After.
    pub to: serde_json::Value,
}

/// One entry of a risk's history.
#[derive(Debug, Clone, Serialize)]
pub struct RiskChange {
    /// When.
    #[serde(serialize_with = "ser_ts")]
    pub at: i64,
    /// Who (a person, or `vigie (fleet)`).
    pub actor: String,
    /// What changed.
    pub changes: BTreeMap<String, FieldChange>,
    /// Why, if said.
    pub note: String,
}

/// The fields a person may set on a risk; every one optional in an update.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskInput {
    /// Title.
    pub title: Option<String>,
    /// Scenario.
    pub scenario: Option<String>,
    /// Assets or host groups.
    pub assets: Option<Vec<String>>,
    /// 1..4.
    pub likelihood: Option<u8>,
    /// 1..4.
    pub impact: Option<u8>,
    /// Treatment name.
    pub treatment: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// YYYY-MM-DD.
    pub next_review: Option<String>,
    /// Mark as reviewed today: next review = today + `risk.review_days`.
    #[serde(default)]
    pub reviewed: bool,
    /// Why (recorded in the history).
    #[serde(default)]
    pub note: Option<String>,
}

/// Build a new manual risk from `input` (id 0 until stored).
pub fn create(
    input: &RiskInput,
    m: &Matrix,
    review_days: u32,
    now: i64,
) -> Result<Risk, RiskError> {
    let req = |v: &Option<String>, f: &str| -> Result<String, RiskError> {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| RiskError::invalid(f, "is required"))
    };
    let title = req(&input.title, "title")?;
    let owner = req(&input.owner, "owner")?;
    check_name("title", &title)?;
    check_name("owner", &owner)?;
    let treatment = Treatment::parse_field(&req(&input.treatment, "treatment")?, "treatment")?;
    let likelihood = input
        .likelihood
        .ok_or_else(|| RiskError::invalid("likelihood", "is required (1..4)"))?;
    let impact = input
        .impact
        .ok_or_else(|| RiskError::invalid("impact", "is required (1..4)"))?;
    let mut r = Risk {
        id: 0,
        source: Source::Manual,
        check: None,
        title,
        scenario: String::new(),
        assets: Vec::new(),
        likelihood,
        impact,
        level: m.level(likelihood, impact)?,
        treatment,
        owner,
        status: RiskStatus::Open,
        next_review: super::today(now) + chrono::Days::new(review_days.into()),
        review_overdue: false,
        actions: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    let rest = RiskInput {
        title: None,
        owner: None,
        treatment: None,
        likelihood: None,
        impact: None,
        ..input.clone()
    };
    r = apply(&r, &rest, m, review_days, now)?;
    Ok(r)
}

/// `current` with `input` applied (level recomputed); `updated_at` is left for the caller.
pub fn apply(
    current: &Risk,
    input: &RiskInput,
    m: &Matrix,
    review_days: u32,
    now: i64,
) -> Result<Risk, RiskError> {
    let mut r = current.clone();
    let text = |v: &Option<String>, f: &str, cur: &mut String| -> Result<(), RiskError> {
        if let Some(s) = v {
            if s.trim().is_empty() && f != "scenario" {
                return Err(RiskError::invalid(f, "must not be empty"));
            }
            *cur = s.trim().to_string();
        }
        Ok(())
    };
    text(&input.title, "title", &mut r.title)?;
    text(&input.scenario, "scenario", &mut r.scenario)?;
    text(&input.owner, "owner", &mut r.owner)?;
    check_name("title", &r.title)?;
    check_name("owner", &r.owner)?;
    crate::host_identity::check_text("scenario", &r.scenario)
        .map_err(|m| RiskError::invalid("scenario", m))?;
    if let Some(note) = &input.note {
        crate::host_identity::check_text("note", note)
            .map_err(|m| RiskError::invalid("note", m))?;
    }
    if let Some(a) = &input.assets {
        r.assets = a
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for asset in &r.assets {
            check_name("assets", asset)?;
        }
    }
    if let Some(l) = input.likelihood {
        check_scale(l, "likelihood")?;
        r.likelihood = l;
    }
    if let Some(i) = input.impact {
        check_scale(i, "impact")?;
        r.impact = i;
    }
    if let Some(t) = &input.treatment {
        r.treatment = Treatment::parse_field(t, "treatment")?;
    }
    if let Some(s) = &input.status {
        r.status = RiskStatus::parse_field(s, "status")?;
    }
    if let Some(d) = &input.next_review {
        r.next_review = super::parse_date(d, "next_review")?;
    }
    if input.reviewed {
        r.next_review = super::today(now) + chrono::Days::new(review_days.into());
    }
    r.level = m.level(r.likelihood, r.impact)?;
    Ok(r)
}

/// A title-like field (title, owner, asset): one bounded line ([`crate::host_identity::check_title`]).
fn check_name(field: &str, value: &str) -> Result<(), RiskError> {
    crate::host_identity::check_title(field, value)
        .map_err(|e| RiskError::invalid(field, e.problem))
}

/// The fields that differ between `old` and `new` (the history's unit).
pub fn diff(old: Option<&Risk>, new: &Risk) -> BTreeMap<String, FieldChange> {
    let fields = |r: &Risk| -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("title", r.title.clone().into()),
            ("scenario", r.scenario.clone().into()),
            ("assets", serde_json::json!(r.assets)),
            ("likelihood", r.likelihood.into()),
            ("impact", r.impact.into()),
            ("level", r.level.as_str().into()),
            ("treatment", r.treatment.as_str().into()),
            ("owner", r.owner.clone().into()),
            ("status", r.status.as_str().into()),
            ("next_review", r.next_review.to_string().into()),
        ]
    };
    let before: BTreeMap<_, _> = old.map(fields).unwrap_or_default().into_iter().collect();
    let mut out = BTreeMap::new();
    for (k, v) in fields(new) {
        let from = before.get(k).cloned().unwrap_or(serde_json::Value::Null);
        if from != v {
            out.insert(k.to_string(), FieldChange { from, to: v });
        }
    }
    out
}

/// True when the risk is open and its review date has passed on `today`.
pub fn review_overdue(r: &Risk, today: NaiveDate) -> bool {
    r.status == RiskStatus::Open && r.next_review < today
}

const IMPORT_COLUMNS: &[&str] = &[
    "title",
    "scenario",
    "assets",
    "likelihood",
    "impact",
    "treatment",
    "owner",
    "status",
    "next_review",
];

/// Parse a CSV of manual risks into inputs; every error names the line and column. Nothing is
/// returned unless every row is valid (the import is all or nothing).
pub fn parse_import(
    text: &str,
    m: &Matrix,
    review_days: u32,
    now: i64,
) -> Result<Vec<Risk>, RiskError> {
    // A NUL is never text: refuse the file rather than store or print it.
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        return Err(RiskError::invalid(
            format!("line {line}"),
            "contains a NUL byte; export the file again as UTF-8 text",
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| RiskError::invalid("line 1", format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    for h in &headers {
        if !IMPORT_COLUMNS.contains(&h.as_str()) {
            return Err(RiskError::invalid(
                "line 1",
                format!(
                    "unknown column {h:?} (known: {})",
                    IMPORT_COLUMNS.join(", ")
                ),
            ));
        }
    }
    for required in ["title", "likelihood", "impact", "treatment", "owner"] {
        if !headers.iter().any(|h| h == required) {
            return Err(RiskError::invalid(
                "line 1",
                format!("missing required column {required:?}"),
            ));
        }
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            RiskError::invalid(format!("line {line}"), e.to_string())
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let get = |c: &str| -> Option<String> {
            headers
                .iter()
                .position(|h| h == c)
                .and_then(|i| rec.get(i))
                .map(String::from)
                .filter(|s| !s.is_empty())
        };
        let at = |col: &str, e: RiskError| match e {
            RiskError::Invalid { message, .. } => {
                RiskError::invalid(format!("line {line}, column {col}"), message)
            }
            other => other,
        };
        let scale = |col: &str| -> Result<Option<u8>, RiskError> {
            get(col)
                .map(|v| {
                    v.parse::<u8>().map_err(|_| {
                        RiskError::invalid(
                            format!("line {line}, column {col}"),
                            format!("{v:?} is not a number between 1 and 4"),
                        )
                    })
                })
                .transpose()
        };
        let input = RiskInput {
            title: get("title"),
            scenario: get("scenario"),
            assets: get("assets").map(|a| a.split(';').map(String::from).collect()),
            likelihood: scale("likelihood")?,
            impact: scale("impact")?,
            treatment: get("treatment"),
            owner: get("owner"),
            status: get("status"),
            next_review: get("next_review"),
            reviewed: false,
            note: None,
        };
        let r = create(&input, m, review_days, now).map_err(|e| {
            let col = match &e {
                RiskError::Invalid { field, .. } => field.clone(),
                _ => String::new(),
            };
            at(&col, e)
        })?;
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_computes_level_and_review_date() {
        let input = RiskInput {
            title: Some("ERP ransomware".into()),
            likelihood: Some(3),
            impact: Some(4),
            treatment: Some("reduce".into()),
            owner: Some("rssi".into()),
            assets: Some(vec!["erp".into(), " ".into()]),
            ..Default::default()
        };
        // now = 1970-01-01; review_days 90 → 1970-04-01. 3 × 4 = 12 → critical.
        let r = create(&input, &Matrix::default(), 90, 0).unwrap();
        assert_eq!(r.level, Level::Critical);
        assert_eq!(r.next_review.to_string(), "1970-04-01");
        assert_eq!(r.assets, vec!["erp".to_string()]);
        let e = create(
            &RiskInput {
                title: None,
                ..input.clone()
            },
            &Matrix::default(),
            90,
            0,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "title: is required");
        let lowered = apply(
            &r,
            &RiskInput {
                likelihood: Some(1),
                ..Default::default()
            },
            &Matrix::default(),
            90,
            0,
        )
        .unwrap();
        // 1 × 4 = 4 → medium.
        assert_eq!(lowered.level, Level::Medium);
        let d = diff(Some(&r), &lowered);
        assert_eq!(d.keys().collect::<Vec<_>>(), vec!["level", "likelihood"]);
        assert_eq!(d["likelihood"].from, serde_json::json!(3));
    }

    #[test]
    fn import_names_line_and_column() {
        let ok = "title,likelihood,impact,treatment,owner,assets,scenario\n\
                  \"Backups, offsite\",2,3,transfer,dpo,nas;tapes,\"Line one\nline two\"\n";
        let rs = parse_import(ok, &Matrix::default(), 90, 0).unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].title, "Backups, offsite");
        assert_eq!(rs[0].scenario, "Line one\nline two");
        assert_eq!(rs[0].assets, vec!["nas".to_string(), "tapes".to_string()]);
        let bad = "title,likelihood,impact,treatment,owner\nA,1,1,reduce,x\nB,9,1,reduce,x\n";
        let e = parse_import(bad, &Matrix::default(), 90, 0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 3, column likelihood"), "{e}");
        let e = parse_import("title,colour\n", &Matrix::default(), 90, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown column \"colour\""), "{e}");
    }
}
