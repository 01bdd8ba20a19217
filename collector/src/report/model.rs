//! The report's section types (what `data` assembles and `doc` lays out): indicators and their
//! trends, the summary's points of attention, incidents, CIS scores, fleet coverage. Plain
//! serialisable data, language-neutral; the JSON report is these types.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::kpi::notification::{NotificationDuty, NotificationState};
use crate::kpi::response_times::Measure;
use crate::kpi::KpiStatus;
use crate::registers::incident::{IncidentType, Severity};

/// The unit of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorUnit {
    /// 0 to 1, higher is better.
    Ratio,
    /// Seconds, lower is better.
    Seconds,
    /// CIS score, 0 to 100.
    Score,
}

/// Where an indicator's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Basis {
    /// The last snapshot of the month, taken on `day`.
    Snapshot {
        /// `YYYY-MM-DD`.
        day: String,
    },
    /// Recomputed from the registers at the end of `day`.
    Registers {
        /// `YYYY-MM-DD`.
        day: String,
    },
    /// Computed at report time on `day` (the month in progress): what a snapshot taken now would
    /// store.
    Live {
        /// `YYYY-MM-DD`.
        day: String,
    },
    /// No snapshot in the month.
    NoSnapshot,
}

/// One month of a trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// The value at the month's end; `None` without data.
    pub value: Option<f64>,
    /// Against the target then.
    pub status: KpiStatus,
}

/// One indicator of the manual's section 03.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// KPI name (`patch_sla`, `training_coverage`, `mttd`, `mttr`, `cis.overall`,
    /// `personal_data_72h`).
    pub name: String,
    /// Unit of value and target.
    pub unit: IndicatorUnit,
    /// The month's value.
    pub value: Option<f64>,
    /// The target in force.
    pub target: Option<f64>,
    /// Against the target.
    pub status: KpiStatus,
    /// Last month's value.
    pub previous: Option<f64>,
    /// Where the value comes from.
    pub basis: Basis,
    /// The month is still in progress: the value will still move (computed live or from the
    /// registers as they stand), unlike a closed month's.
    pub provisional: bool,
    /// The last [`TREND_MONTHS`] months, oldest first, ending with this month.
    pub trend: Vec<TrendPoint>,
}

/// A point of attention of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Highlight {
    /// An indicator misses its target.
    NotMet {
        /// Indicator name.
        indicator: String,
    },
    /// An indicator has no value this month.
    NoData {
        /// Indicator name.
        indicator: String,
    },
    /// Open risks at level high or critical at the end of the month.
    HighRisks {
        /// How many.
        count: usize,
    },
    /// P1 actions overdue at the end of the month.
    P1Overdue {
        /// How many.
        count: usize,
    },
    /// Exceptions with 30 days or less left.
    ExceptionsExpiring {
        /// How many.
        count: usize,
    },
    /// Personal-data notifications overdue at the end of the month.
    NotificationsOverdue {
        /// How many.
        count: usize,
    },
    /// Incidents open at the end of the month.
    IncidentsOpen {
        /// How many.
        count: usize,
        /// The highest severity among them.
        worst: Severity,
    },
    /// The overall CIS score went down since last month.
    CisDown {
        /// Points lost (positive).
        points: f64,
    },
    /// Active admin accounts without any second factor at an identity source.
    AdminsWithoutMfa {
        /// How many.
        count: i64,
    },
    /// Identity MFA coverage under its target (every source current).
    IdentityNotMet {
        /// The pooled coverage (0 to 1).
        coverage: f64,
    },
    /// Identity sources whose numbers are not current (sync failed, too old, never synced).
    IdentityStale {
        /// Their names.
        sources: Vec<String>,
    },
}

/// How urgently a point of attention needs the reader: the summary lists the most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// A legal duty missed, a crisis or major incident still open, high or critical risks.
    Critical,
    /// A commitment missed: P1 actions overdue, an indicator under its target, a falling score.
    High,
    /// To watch: minor incidents open, exceptions about to expire.
    Medium,
    /// Missing information: an indicator without data.
    Low,
}

impl Highlight {
    /// Its urgency.
    pub fn urgency(&self) -> Urgency {
        match self {
            Highlight::NotificationsOverdue { .. } | Highlight::HighRisks { .. } => {
                Urgency::Critical
            }
            Highlight::IncidentsOpen { worst, .. } if *worst >= Severity::Major => {
                Urgency::Critical
            }
            Highlight::AdminsWithoutMfa { .. } => Urgency::Critical,
            Highlight::P1Overdue { .. }
            | Highlight::NotMet { .. }
            | Highlight::CisDown { .. }
            | Highlight::IdentityNotMet { .. } => Urgency::High,
            Highlight::IdentityStale { .. } => Urgency::Medium,
            Highlight::IncidentsOpen { .. } | Highlight::ExceptionsExpiring { .. } => {
                Urgency::Medium
            }
            Highlight::NoData { .. } => Urgency::Low,
        }
    }
}

/// One incident of the month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentRow {
    /// Register id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: IncidentType,
    /// Severity.
    pub severity: Severity,
    /// Detection time.
    pub detected_at: Option<DateTime<Utc>>,
    /// Resolution time, if resolved by the end of the period.
    pub resolved_at: Option<DateTime<Utc>>,
    /// occurred → detected, seconds.
    pub detection_seconds: Option<i64>,
    /// detected → resolved, seconds (resolved ones only).
    pub resolution_seconds: Option<i64>,
    /// The 72-hour duty's state at the end of the period (personal-data incidents only).
    pub notification: Option<NotificationState>,
}

/// Incidents of the month.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentsSection {
    /// Detected in the month.
    pub detected: usize,
    /// Resolved in the month.
    pub resolved: usize,
    /// Open at the end of the period.
    pub open_at_end: usize,
    /// Detected, resolved or open in the month; by detection time, then id.
    pub incidents: Vec<IncidentRow>,
    /// MTTD over the incidents resolved in the month, overall and per severity.
    pub mttd: Measure,
    /// MTTR likewise.
    pub mttr: Measure,
    /// The 72-hour duty at the end of the period.
    pub duty: NotificationDuty,
}

/// A score this month and last month.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreChange {
    /// This month's score (0 to 100).
    pub score: Option<f64>,
    /// Last month's.
    pub previous: Option<f64>,
    /// score − previous, when both exist.
    pub change: Option<f64>,
}

/// One CIS control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlScore {
    /// 1 to 18.
    pub control: u8,
    /// The catalogue's (English) title; the renderers translate.
    pub title: String,
    /// Score and change.
    #[serde(flatten)]
    pub score: ScoreChange,
    /// Safeguards assessed / in the implementation group.
    pub assessed: u64,
    /// Safeguards in the implementation group.
    pub total: u64,
}

/// The CIS section.
#[derive(Debug, Clone, Serialize)]
pub struct CisSection {
    /// Day of this month's snapshot (`None`: no CIS snapshot in the month).
    pub day: Option<String>,
    /// Day of last month's.
    pub previous_day: Option<String>,
    /// Implementation group the controls are scored at.
    pub ig: Option<u8>,
    /// Overall score.
    pub overall: ScoreChange,
    /// The overall score to reach (0 to 100): the snapshot's, else `[kpi] cis_target`.
    pub target: Option<f64>,
    /// The overall score against the target.
    pub status: KpiStatus,
    /// IG1 to IG3.
    pub groups: Vec<ScoreChange>,
    /// The 18 controls.
    pub controls: Vec<ControlScore>,
}

/// Fleet coverage of one check at the month's last snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageRow {
    /// Check id.
    pub check: String,
    /// Reporting hosts passing.
    pub pass: i64,
    /// Reporting hosts failing.
    pub fail: i64,
    /// Reporting hosts warning.
    pub warn: i64,
    /// Reporting hosts in error.
    pub error: i64,
    /// Reporting hosts where it does not apply.
    pub not_applicable: i64,
    /// Stale hosts.
    pub stale: i64,
    /// Reporting hosts whose failure an exception in force covers (out of the ratio).
    pub excepted: i64,
    /// pass / (pass + fail + warn + error).
    pub ratio: Option<f64>,
    /// Last month's ratio.
    pub previous: Option<f64>,
}
