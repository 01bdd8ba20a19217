//! The self-assessment file: a person's answers for the safeguards agents cannot observe, in the
//! spirit of CIS CSAT (policy, implementation, automation, reporting — five levels each — or "not
//! applicable" with a reason). This module parses and validates it; `score` uses the result.
//! Format: docs/cis.md; example: collector/cis/self-assessment.example.toml.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::catalogue::Catalogue;

/// Answer to "is there a policy?" (CSAT's Policy Defined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLevel {
    None,
    Informal,
    PartialWritten,
    Written,
    ApprovedWritten,
}

/// Answer to "on how much of the estate?" for implementation, automation and reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverageLevel {
    None,
    Parts,
    Some,
    Most,
    All,
}

impl PolicyLevel {
    /// 0, 0.25, 0.5, 0.75 or 1.
    pub fn value(self) -> f64 {
        match self {
            PolicyLevel::None => 0.0,
            PolicyLevel::Informal => 0.25,
            PolicyLevel::PartialWritten => 0.5,
            PolicyLevel::Written => 0.75,
            PolicyLevel::ApprovedWritten => 1.0,
        }
    }
}

impl CoverageLevel {
    /// 0, 0.25, 0.5, 0.75 or 1.
    pub fn value(self) -> f64 {
        match self {
            CoverageLevel::None => 0.0,
            CoverageLevel::Parts => 0.25,
            CoverageLevel::Some => 0.5,
            CoverageLevel::Most => 0.75,
            CoverageLevel::All => 1.0,
        }
    }
}

/// A validated answer for one safeguard.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Answer {
    /// The safeguard does not apply here.
    NotApplicable { reason: String },
    /// Levels given (at least one).
    Levels {
        policy: Option<PolicyLevel>,
        implementation: Option<CoverageLevel>,
        automation: Option<CoverageLevel>,
        reporting: Option<CoverageLevel>,
    },
}

/// One safeguard's entry, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// The answer.
    pub answer: Answer,
    /// Who answered (the entry's own, else the file's).
    pub assessor: String,
    /// When (the entry's own, else the file's).
    pub assessed_on: NaiveDate,
    /// Free text.
    pub note: Option<String>,
}

/// A validated self-assessment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SelfAssessment {
    /// Safeguard id → entry.
    pub entries: BTreeMap<String, Entry>,
}

/// Why a self-assessment file was refused.
#[derive(Debug, thiserror::Error)]
pub enum AssessmentError {
    #[error("self-assessment {file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("self-assessment {file}: {message}")]
    Syntax { file: String, message: String },
    #[error("self-assessment {file}, line {line}{}: {key}: {message}", .id.as_deref().map(|i| format!(", safeguard {i}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: usize,
        id: Option<String>,
        key: String,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    assessor: Spanned<String>,
    assessed_on: Spanned<toml::value::Datetime>,
    #[serde(default)]
    safeguard: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    applicable: Option<Spanned<bool>>,
    reason: Option<Spanned<String>>,
    policy: Option<PolicyLevel>,
    implementation: Option<CoverageLevel>,
    automation: Option<CoverageLevel>,
    reporting: Option<CoverageLevel>,
    assessor: Option<Spanned<String>>,
    assessed_on: Option<Spanned<toml::value::Datetime>>,
    note: Option<String>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at)
        .map_or(1, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
}

/// toml's error on one line: `line N, key K: message` (the key is read from the line, if any).
fn syntax_message(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let line = line_of(text, span.start);
    let key = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match key {
        Some(k) => format!("line {line}, key {k}: {}", e.message().trim_end()),
        None => format!("line {line}: {}", e.message().trim_end()),
    }
}

/// Read and validate the file at `path` against `catalogue`, with `today` as the latest allowed date.
pub fn load(
    path: &Path,
    catalogue: &Catalogue,
    today: NaiveDate,
) -> Result<SelfAssessment, AssessmentError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AssessmentError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, catalogue, today)
}

/// Validate the text of a self-assessment; `file` names it in errors.
pub fn parse(
    text: &str,
    file: &str,
    catalogue: &Catalogue,
    today: NaiveDate,
) -> Result<SelfAssessment, AssessmentError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| AssessmentError::Syntax {
        file: file.to_string(),
        message: syntax_message(text, &e),
    })?;
    let invalid = |span: std::ops::Range<usize>, id: Option<&str>, key: &str, message: String| {
        AssessmentError::Invalid {
            file: file.to_string(),
            line: line_of(text, span.start),
            id: id.map(str::to_string),
            key: key.to_string(),
            message,
        }
    };
    let date = |d: &Spanned<toml::value::Datetime>, id: Option<&str>, key: &str| {
        let v = d.get_ref();
        let parsed = match (v.date, v.time, v.offset) {
            (Some(dt), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))
            }
            _ => None,
        };
        let parsed = parsed.ok_or_else(|| {
            invalid(
                d.span(),
                id,
                key,
                format!("{v} is not a plain date (write e.g. {key} = 2025-03-31)"),
            )
        })?;
        if parsed > today {
            return Err(invalid(
                d.span(),
                id,
                key,
                format!("{parsed} is in the future (today is {today})"),
            ));
        }
        Ok(parsed)
    };
    let nonempty = |s: &Spanned<String>, id: Option<&str>, key: &str| {
        if s.get_ref().trim().is_empty() {
            Err(invalid(s.span(), id, key, "must not be empty".into()))
        } else {
            Ok(s.get_ref().trim().to_string())
        }
    };
    let assessor = nonempty(&raw.assessor, None, "assessor")?;
    let assessed_on = date(&raw.assessed_on, None, "assessed_on")?;

    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut first_line: BTreeMap<String, usize> = BTreeMap::new();
    for e in raw.safeguard {
        let id = e.id.get_ref().trim().to_string();
        let sid = Some(id.as_str());
        if catalogue.safeguard(&id).is_none() {
            return Err(invalid(
                e.id.span(),
                None,
                "id",
                format!("unknown safeguard id {id:?} (CIS Controls v8.1 numbers them 1.1 to 18.5; see `vigie-collector cis catalogue`)"),
            ));
        }
        let line = line_of(text, e.id.span().start);
        if let Some(prev) = first_line.get(&id) {
            return Err(invalid(
                e.id.span(),
                sid,
                "id",
                format!("duplicate: safeguard {id} is already assessed at line {prev}"),
            ));
        }
        first_line.insert(id.clone(), line);
        let has_levels = e.policy.is_some()
            || e.implementation.is_some()
            || e.automation.is_some()
            || e.reporting.is_some();
        let answer = match &e.applicable {
            Some(a) if !*a.get_ref() => {
                if has_levels {
                    return Err(invalid(
                        a.span(),
                        sid,
                        "applicable",
                        "applicable = false excludes policy/implementation/automation/reporting: remove the levels or the flag".into(),
                    ));
                }
                let reason = match &e.reason {
                    Some(r) => nonempty(r, sid, "reason")?,
                    None => {
                        return Err(invalid(
                            a.span(),
                            sid,
                            "reason",
                            "applicable = false needs a reason".into(),
                        ))
                    }
                };
                Answer::NotApplicable { reason }
            }
            _ => {
                if let Some(r) = &e.reason {
                    return Err(invalid(
                        r.span(),
                        sid,
                        "reason",
                        "a reason is only for applicable = false".into(),
                    ));
                }
                if !has_levels {
                    return Err(invalid(
                        e.id.span(),
                        sid,
                        "policy",
                        "no answer: set at least one of policy, implementation, automation, reporting, or applicable = false with a reason".into(),
                    ));
                }
                Answer::Levels {
                    policy: e.policy,
                    implementation: e.implementation,
                    automation: e.automation,
                    reporting: e.reporting,
                }
            }
        };
        let entry = Entry {
            answer,
            assessor: match &e.assessor {
                Some(a) => nonempty(a, sid, "assessor")?,
                None => assessor.clone(),
            },
            assessed_on: match &e.assessed_on {
                Some(d) => date(d, sid, "assessed_on")?,
                None => assessed_on,
            },
            note: e.note.clone(),
        };
        entries.insert(id, entry);
    }
    Ok(SelfAssessment { entries })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cis::catalogue::catalogue;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    fn check(text: &str) -> Result<SelfAssessment, String> {
        parse(text, "sa.toml", catalogue(), today()).map_err(|e| e.to_string())
    }

    const HEAD: &str = "assessor = \"RSSI\"\nassessed_on = 2025-05-12\n";

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../cis/self-assessment.example.toml");
        let sa = check(text).unwrap();
        assert!(sa.entries.len() >= 5);
        assert!(matches!(
            sa.entries["14.1"].answer,
            Answer::Levels {
                policy: Some(PolicyLevel::ApprovedWritten),
                ..
            }
        ));
    }

    #[test]
    fn levels_map_to_quarters() {
        let p: Vec<f64> = [
            PolicyLevel::None,
            PolicyLevel::Informal,
            PolicyLevel::PartialWritten,
            PolicyLevel::Written,
            PolicyLevel::ApprovedWritten,
        ]
        .iter()
        .map(|l| l.value())
        .collect();
        assert_eq!(p, [0.0, 0.25, 0.5, 0.75, 1.0]);
        let c: Vec<f64> = [
            CoverageLevel::None,
            CoverageLevel::Parts,
            CoverageLevel::Some,
            CoverageLevel::Most,
            CoverageLevel::All,
        ]
        .iter()
        .map(|l| l.value())
        .collect();
        assert_eq!(c, [0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn entry_inherits_and_overrides_assessor_and_date() {
        let sa = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"14.2\"\npolicy = \"written\"\n\
             [[safeguard]]\nid = \"14.3\"\nimplementation = \"all\"\nassessor = \"DRH\"\nassessed_on = 2025-04-01\n"
        ))
        .unwrap();
        assert_eq!(sa.entries["14.2"].assessor, "RSSI");
        assert_eq!(sa.entries["14.2"].assessed_on.to_string(), "2025-05-12");
        assert_eq!(sa.entries["14.3"].assessor, "DRH");
        assert_eq!(sa.entries["14.3"].assessed_on.to_string(), "2025-04-01");
    }

    #[test]
    fn errors_name_file_line_safeguard_and_key() {
        // Unknown id, on line 5 (2 header lines, a blank line, the table header).
        let e = check(&format!(
            "{HEAD}\n[[safeguard]]\nid = \"19.1\"\npolicy = \"written\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("sa.toml, line 5: id: unknown safeguard id \"19.1\""),
            "{e}"
        );
        // Duplicate: first at line 4, again at line 7.
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"14.1\"\npolicy = \"written\"\n[[safeguard]]\nid = \"14.1\"\npolicy = \"none\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("line 7, safeguard 14.1: id: duplicate: safeguard 14.1 is already assessed at line 4"),
            "{e}"
        );
        // Future date on the entry (today is 2025-06-01).
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"14.1\"\npolicy = \"written\"\nassessed_on = 2025-06-02\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("line 6, safeguard 14.1: assessed_on: 2025-06-02 is in the future"),
            "{e}"
        );
        // Future date on the file.
        let e = check("assessor = \"x\"\nassessed_on = 2030-01-01\n").unwrap_err();
        assert!(
            e.contains("line 2: assessed_on: 2030-01-01 is in the future"),
            "{e}"
        );
        // A date-time is not a date.
        let e = check("assessor = \"x\"\nassessed_on = 2025-01-01T10:00:00\n").unwrap_err();
        assert!(
            e.contains("assessed_on") && e.contains("not a plain date"),
            "{e}"
        );
        // Unknown level: toml's message names the line and the accepted values.
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"14.1\"\npolicy = \"sort_of\"\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("sa.toml: line 5, key policy: unknown variant `sort_of`")
                && e.contains("approved_written"),
            "{e}"
        );
        // Unknown key.
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"14.1\"\npolicies = \"written\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("policies") && e.contains("line 5"), "{e}");
        // Missing assessor.
        let e = check("assessed_on = 2025-01-01\n").unwrap_err();
        assert!(e.contains("assessor"), "{e}");
    }

    #[test]
    fn not_applicable_rules() {
        let ok = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"13.9\"\napplicable = false\nreason = \"no wired ports\"\n"
        ))
        .unwrap();
        assert_eq!(
            ok.entries["13.9"].answer,
            Answer::NotApplicable {
                reason: "no wired ports".into()
            }
        );
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"13.9\"\napplicable = false\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("line 5, safeguard 13.9: reason: applicable = false needs a reason"),
            "{e}"
        );
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"13.9\"\napplicable = false\nreason = \"x\"\npolicy = \"none\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("safeguard 13.9: applicable:"), "{e}");
        let e = check(&format!("{HEAD}[[safeguard]]\nid = \"13.9\"\n")).unwrap_err();
        assert!(e.contains("safeguard 13.9: policy: no answer"), "{e}");
        let e = check(&format!(
            "{HEAD}[[safeguard]]\nid = \"13.9\"\npolicy = \"none\"\nreason = \"x\"\n"
        ))
        .unwrap_err();
        assert!(e.contains("line 6, safeguard 13.9: reason:"), "{e}");
    }

    #[test]
    fn load_names_an_unreadable_file() {
        let e = load(Path::new("/nonexistent/sa.toml"), catalogue(), today()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("self-assessment /nonexistent/sa.toml: cannot read"),
            "{e}"
        );
    }
}
