//! The incident register's record: what an incident is, its vocabularies (type, severity) and the
//! rules a record must follow whatever door it came through (CLI, API, CSV import).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Severity levels of the incident management plan (section 3.2: faible, mineur, majeur, crise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Faible: no incident yet, an event that may lead to one.
    Low,
    /// Mineur: no significant impact on business continuity.
    Minor,
    /// Majeur: may significantly affect the organisation, not yet a crisis.
    Major,
    /// Crise: may significantly affect the organisation and business continuity.
    Crisis,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Minor,
        Severity::Major,
        Severity::Crisis,
    ];

    /// The register's name of the severity.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Crisis => "crisis",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!("unknown severity {s:?}; expected one of low, minor, major, crisis")
            })
    }
}

/// Kinds of incident, from the incident plan's scenario sheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentType {
    /// Ransomware.
    Ransomware,
    /// Phishing.
    Phishing,
    /// CEO fraud (fraude au président).
    CeoFraud,
    /// IT outage.
    Outage,
    /// Flood.
    Flood,
    /// Fire.
    Fire,
    /// Loss of energy.
    Energy,
    /// Loss of telecommunications.
    Telecom,
    /// Anything else.
    Other,
}

impl IncidentType {
    /// Every type.
    pub const ALL: [IncidentType; 9] = [
        IncidentType::Ransomware,
        IncidentType::Phishing,
        IncidentType::CeoFraud,
        IncidentType::Outage,
        IncidentType::Flood,
        IncidentType::Fire,
        IncidentType::Energy,
        IncidentType::Telecom,
        IncidentType::Other,
    ];

    /// The register's name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentType::Ransomware => "ransomware",
            IncidentType::Phishing => "phishing",
            IncidentType::CeoFraud => "ceo_fraud",
            IncidentType::Outage => "outage",
            IncidentType::Flood => "flood",
            IncidentType::Fire => "fire",
            IncidentType::Energy => "energy",
            IncidentType::Telecom => "telecom",
            IncidentType::Other => "other",
        }
    }
}

impl fmt::Display for IncidentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentType {
    type Err = String;
    fn from_str(s: &str) -> Result<IncidentType, String> {
        IncidentType::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = IncidentType::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown type {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// One incident of the register. Times are UTC, whole seconds; `None` means unknown (or, for
/// `resolved_at`, not resolved yet; for `notified_at`, not notified yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// User-given identifier, e.g. `INC-2026-001`.
    pub id: String,
    /// Short title.
    pub title: String,
    /// Kind of incident.
    #[serde(rename = "type")]
    pub kind: IncidentType,
    /// Severity.
    pub severity: Severity,
    /// Team in charge.
    #[serde(default)]
    pub team: String,
    /// Detailed description (impact, duration, activities affected, resources).
    #[serde(default)]
    pub description: String,
    /// Actions taken.
    #[serde(default)]
    pub actions: String,
    /// When the incident started.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When it was detected.
    #[serde(default)]
    pub detected_at: Option<DateTime<Utc>>,
    /// When it was contained.
    #[serde(default)]
    pub contained_at: Option<DateTime<Utc>>,
    /// When it was resolved; `None` while open.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Whether personal data is involved (GDPR art. 33: notify the authority within 72 hours).
    #[serde(default)]
    pub personal_data: bool,
    /// When the supervisory authority was notified.
    #[serde(default)]
    pub notified_at: Option<DateTime<Utc>>,
}

/// Longest accepted id.
pub const MAX_ID_LEN: usize = 64;

/// Check an incident id: 1 to 64 characters among letters, digits, `-`, `_`, `.`.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!("id {id:?} must be 1 to {MAX_ID_LEN} characters"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "id {id:?} may only contain letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// Drop sub-second precision: the register keeps whole seconds, so a re-import compares equal.
pub fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Parse an RFC 3339 time; empty means unknown. `field` names the field in the error.
pub fn parse_time(field: &str, s: &str) -> Result<Option<DateTime<Utc>>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| Some(whole_seconds(t.with_timezone(&Utc))))
        .map_err(|e| {
            format!("{field}: {s:?} is not an RFC 3339 time (e.g. 2026-03-02T14:05:00Z): {e}")
        })
}

/// Parse a boolean: true/false, yes/no, 1/0 (any case). Empty is refused: `field` has no default.
pub fn parse_bool(field: &str, s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("{field}: {s:?} is not a boolean (true or false)")),
    }
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Incident {
    /// Check the record against the current time; see [`Incident::validate_at`].
    pub fn validate(&self) -> Result<(), String> {
        self.validate_at(Utc::now())
    }

    /// Check the record: id format, a one-line bounded title, bounded texts without control
    /// characters, every time between 1970 and a day after `now` (an observation cannot be from
    /// the future; a day absorbs time zones typed wrong), and the order of its times (detected ≥
    /// occurred, contained ≥ detected, resolved ≥ detected, when both ends are known).
    pub fn validate_at(&self, now: DateTime<Utc>) -> Result<(), String> {
        validate_id(&self.id)?;
        if self.title.trim().is_empty() {
            return Err("title must not be empty".into());
        }
        crate::host_identity::check_title("title", &self.title).map_err(|e| e.to_string())?;
        if !self.team.is_empty() {
            crate::host_identity::check_title("team", &self.team).map_err(|e| e.to_string())?;
        }
        crate::host_identity::check_text("description", &self.description)?;
        crate::host_identity::check_text("actions", &self.actions)?;
        let latest = now + chrono::Duration::days(1);
        for (field, t) in [
            ("occurred_at", self.occurred_at),
            ("detected_at", self.detected_at),
            ("contained_at", self.contained_at),
            ("resolved_at", self.resolved_at),
            ("notified_at", self.notified_at),
        ] {
            if let Some(t) = t {
                if t.timestamp() < 0 {
                    return Err(format!("{field} ({}) is before 1970", fmt_time(t)));
                }
                if t > latest {
                    return Err(format!(
                        "{field} ({}) is more than a day in the future",
                        fmt_time(t)
                    ));
                }
            }
        }
        let order = [
            (
                "detected_at",
                self.detected_at,
                "occurred_at",
                self.occurred_at,
            ),
            (
                "contained_at",
                self.contained_at,
                "detected_at",
                self.detected_at,
            ),
            (
                "resolved_at",
                self.resolved_at,
                "detected_at",
                self.detected_at,
            ),
        ];
        for (later, l, earlier, e) in order {
            if let (Some(l), Some(e)) = (l, e) {
                if l < e {
                    return Err(format!(
                        "{later} ({}) is before {earlier} ({})",
                        fmt_time(l),
                        fmt_time(e)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The same record with every time truncated to whole seconds.
    pub fn normalized(mut self) -> Incident {
        for t in [
            &mut self.occurred_at,
            &mut self.detected_at,
            &mut self.contained_at,
            &mut self.resolved_at,
            &mut self.notified_at,
        ] {
            *t = t.map(whole_seconds);
        }
        self
    }
}

/// A partial update: absent fields are kept; for the nullable times, `Some(None)` (JSON `null`,
/// CLI empty string) clears the field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// New title.
    pub title: Option<String>,
    /// New type.
    #[serde(rename = "type")]
    pub kind: Option<IncidentType>,
    /// New severity.
    pub severity: Option<Severity>,
    /// New team.
    pub team: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New actions.
    pub actions: Option<String>,
    /// New occurrence time (`Some(None)` clears).
    #[serde(default, deserialize_with = "present")]
    pub occurred_at: Option<Option<DateTime<Utc>>>,
    /// New detection time (`Some(None)` clears).
    #[serde(default, deserialize_with = "present")]
    pub detected_at: Option<Option<DateTime<Utc>>>,
    /// New containment time (`Some(None)` clears).
    #[serde(default, deserialize_with = "present")]
    pub contained_at: Option<Option<DateTime<Utc>>>,
    /// New resolution time (`Some(None)` reopens).
    #[serde(default, deserialize_with = "present")]
    pub resolved_at: Option<Option<DateTime<Utc>>>,
    /// New personal-data flag.
    pub personal_data: Option<bool>,
    /// New notification time (`Some(None)` clears).
    #[serde(default, deserialize_with = "present")]
    pub notified_at: Option<Option<DateTime<Utc>>>,
}

/// A field that is present in the JSON (even as `null`) becomes `Some(..)`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl IncidentPatch {
    /// Whether the patch changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.kind.is_none()
            && self.severity.is_none()
            && self.team.is_none()
            && self.description.is_none()
            && self.actions.is_none()
            && self.occurred_at.is_none()
            && self.detected_at.is_none()
            && self.contained_at.is_none()
            && self.resolved_at.is_none()
            && self.personal_data.is_none()
            && self.notified_at.is_none()
    }

    /// `base` with the patch applied (not validated: call [`Incident::validate`]).
    pub fn apply(&self, base: &Incident) -> Incident {
        let mut i = base.clone();
        if let Some(v) = &self.title {
            i.title = v.clone();
        }
        if let Some(v) = self.kind {
            i.kind = v;
        }
        if let Some(v) = self.severity {
            i.severity = v;
        }
        if let Some(v) = &self.team {
            i.team = v.clone();
        }
        if let Some(v) = &self.description {
            i.description = v.clone();
        }
        if let Some(v) = &self.actions {
            i.actions = v.clone();
        }
        if let Some(v) = self.occurred_at {
            i.occurred_at = v;
        }
        if let Some(v) = self.detected_at {
            i.detected_at = v;
        }
        if let Some(v) = self.contained_at {
            i.contained_at = v;
        }
        if let Some(v) = self.resolved_at {
            i.resolved_at = v;
        }
        if let Some(v) = self.personal_data {
            i.personal_data = v;
        }
        if let Some(v) = self.notified_at {
            i.notified_at = v;
        }
        i.normalized()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<DateTime<Utc>> {
        parse_time("t", s).unwrap()
    }

    fn base() -> Incident {
        Incident {
            id: "INC-2026-001".into(),
            title: "Phishing campaign".into(),
            kind: IncidentType::Phishing,
            severity: Severity::Minor,
            team: String::new(),
            description: String::new(),
            actions: String::new(),
            occurred_at: t("2026-03-01T08:00:00Z"),
            detected_at: t("2026-03-01T10:00:00Z"),
            contained_at: None,
            resolved_at: None,
            personal_data: false,
            notified_at: None,
        }
    }

    #[test]
    fn time_order_is_checked_when_both_ends_are_known() {
        assert!(base().validate().is_ok());
        let mut i = base();
        i.detected_at = t("2026-03-01T07:59:59Z");
        let e = i.validate().unwrap_err();
        assert!(
            e.contains("detected_at") && e.contains("occurred_at"),
            "{e}"
        );
        let mut i = base();
        i.resolved_at = t("2026-03-01T09:00:00Z");
        assert!(i.validate().unwrap_err().starts_with("resolved_at"));
        let mut i = base();
        i.contained_at = t("2026-03-01T09:00:00Z");
        assert!(i.validate().unwrap_err().starts_with("contained_at"));
        // Unknown detection: nothing to compare.
        let mut i = base();
        i.detected_at = None;
        i.resolved_at = t("2026-02-01T00:00:00Z");
        assert!(i.validate().is_ok());
    }

    #[test]
    fn times_are_between_1970_and_tomorrow_and_texts_are_clean() {
        let now = t("2026-12-01T12:00:00Z").unwrap();
        base().validate_at(now).unwrap();
        let cases: Vec<(Incident, &str)> = vec![
            (
                Incident {
                    occurred_at: t("1969-12-31T00:00:00Z"),
                    ..base()
                },
                "occurred_at (1969-12-31T00:00:00Z) is before 1970",
            ),
            (
                Incident {
                    resolved_at: t("2026-12-02T12:00:01Z"),
                    ..base()
                },
                "resolved_at (2026-12-02T12:00:01Z) is more than a day in the future",
            ),
            (
                Incident {
                    notified_at: t("2027-01-01T00:00:00Z"),
                    ..base()
                },
                "notified_at",
            ),
            (
                Incident {
                    title: "Phishing\u{1b}[2J".into(),
                    ..base()
                },
                "title contains U+001B",
            ),
            (
                Incident {
                    title: "x".repeat(300),
                    ..base()
                },
                "title is 300 bytes",
            ),
            (
                Incident {
                    team: "soc\nFAKE".into(),
                    ..base()
                },
                "team contains U+000A",
            ),
            (
                Incident {
                    description: "nul\0".into(),
                    ..base()
                },
                "description contains U+0000",
            ),
        ];
        for (i, want) in cases {
            let e = i.validate_at(now).unwrap_err();
            assert!(e.contains(want), "want {want:?}, got {e:?}");
        }
        // Within a day ahead is a time zone typed wrong, not a refusal.
        Incident {
            resolved_at: t("2026-12-02T11:00:00Z"),
            ..base()
        }
        .validate_at(now)
        .unwrap();
    }

    #[test]
    fn ids_and_vocabularies() {
        assert!(validate_id("INC-2026-001").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id("a/b").is_err());
        assert_eq!(
            "ceo_fraud".parse::<IncidentType>(),
            Ok(IncidentType::CeoFraud)
        );
        assert!("Major"
            .parse::<Severity>()
            .unwrap_err()
            .contains("low, minor"));
        assert!(parse_bool("personal_data", "").is_err());
        assert_eq!(parse_bool("p", "Yes"), Ok(true));
    }

    #[test]
    fn times_keep_whole_seconds_in_utc() {
        let a = t("2026-03-01T10:00:00.900+01:00").unwrap();
        assert_eq!(fmt_time(a), "2026-03-01T09:00:00Z");
        assert!(parse_time("detected_at", "01/03/2026")
            .unwrap_err()
            .starts_with("detected_at:"));
    }

    #[test]
    fn patch_keeps_absent_fields_and_clears_nulls() {
        let p: IncidentPatch =
            serde_json::from_str(r#"{"resolved_at":"2026-03-02T10:00:00Z","occurred_at":null}"#)
                .unwrap();
        let i = p.apply(&base());
        assert_eq!(i.resolved_at, t("2026-03-02T10:00:00Z"));
        assert_eq!(i.occurred_at, None);
        assert_eq!(i.detected_at, base().detected_at);
        assert!(serde_json::from_str::<IncidentPatch>(r#"{"colour":1}"#).is_err());
        assert!(IncidentPatch::default().is_empty());
    }
}
