//! The report as a document: sections of headings, paragraphs, tables and charts, in one language.
//! The wording lives here once; `markdown` and `html` only lay the blocks out (Markdown shows a
//! chart as the table of its values, which the document also carries).

use super::data::{
    Basis, Highlight, IncidentsSection, Indicator, IndicatorUnit, MonthlyReport, ScoreChange,
};
use super::i18n::{self, Lang, Msg};
use crate::cis::catalogue::catalogue;
use crate::kpi::response_times::DurationStats;
use crate::kpi::KpiStatus;
use crate::registers::incident::Severity;

/// How a table cell is judged (HTML colours it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Neutral.
    Plain,
    /// Target met, on time.
    Good,
    /// Target missed, overdue.
    Bad,
    /// No data.
    Muted,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The text.
    pub text: String,
    /// Its tone.
    pub tone: Tone,
    /// Right-aligned (numbers).
    pub numeric: bool,
}

impl Cell {
    /// A text cell.
    pub fn text(t: impl Into<String>) -> Cell {
        Cell {
            text: t.into(),
            tone: Tone::Plain,
            numeric: false,
        }
    }
    /// A number cell (right-aligned).
    pub fn num(t: impl Into<String>) -> Cell {
        Cell {
            numeric: true,
            ..Cell::text(t)
        }
    }
    /// The same cell with `tone`.
    pub fn tone(mut self, tone: Tone) -> Cell {
        self.tone = tone;
        self
    }
}

/// One block of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A sub-heading.
    Sub(String),
    /// A paragraph.
    Para(String),
    /// A notice (draft, not available…).
    Note(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table: header cells, then rows.
    Table(Vec<String>, Vec<Vec<Cell>>),
    /// A line chart of a trend: (axis label, value), the target, and the value formatter's unit.
    Line {
        /// Chart title (accessibility).
        title: String,
        /// (month label, value).
        points: Vec<(String, Option<f64>)>,
        /// Target line.
        target: Option<f64>,
        /// Unit of the values.
        unit: IndicatorUnit,
    },
    /// A horizontal bar chart of scores 0..=100: (label, this month, last month).
    Bars(Vec<(String, Option<f64>, Option<f64>)>),
}

/// One section of the report (a printed page or more).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Anchor id.
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// Content.
    pub blocks: Vec<Block>,
}

/// The whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `fr` or `en`.
    pub lang: Lang,
    /// Report title with the month.
    pub title: String,
    /// Lines under the title (period, draft notice).
    pub subtitle: Vec<String>,
    /// The sections, summary first.
    pub sections: Vec<Section>,
    /// Closing line.
    pub footer: String,
}

/// Shown for a missing value.
pub const DASH: &str = "—";

/// A value in its unit, or a dash.
pub fn value(lang: Lang, unit: IndicatorUnit, v: Option<f64>) -> String {
    match (v, unit) {
        (None, _) => DASH.to_string(),
        (Some(v), IndicatorUnit::Ratio) => i18n::percent(lang, v),
        (Some(v), IndicatorUnit::Seconds) => i18n::duration(lang, v),
        // CIS scores are 0 to 100: shown as a percentage, like the other ratios.
        (Some(v), IndicatorUnit::Score) => i18n::percent(lang, v / 100.0),
    }
}

fn tone(s: KpiStatus) -> Tone {
    match s {
        KpiStatus::Met => Tone::Good,
        KpiStatus::NotMet => Tone::Bad,
        KpiStatus::NoData => Tone::Muted,
        KpiStatus::NoTarget => Tone::Plain,
    }
}

fn month_label(lang: Lang, ym: &str, long: bool) -> String {
    match chrono::NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d") {
        Ok(d) if long => i18n::month_long(lang, d),
        Ok(d) => i18n::month_short(lang, d),
        Err(_) => ym.to_string(),
    }
}

fn basis(lang: Lang, b: &Basis) -> String {
    let day = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_or_else(|_| d.to_string(), |d| i18n::day(lang, d))
    };
    match b {
        Basis::Snapshot { day: d } => format!("{} {}", Msg::SourceSnapshot.text(lang), day(d)),
        Basis::Registers { day: d } => format!("{} {}", Msg::SourceRegisters.text(lang), day(d)),
        Basis::Live { day: d } => format!("{} {}", Msg::SourceLive.text(lang), day(d)),
        Basis::NoSnapshot => Msg::SourceNoSnapshot.text(lang).to_string(),
    }
}

/// Lay out `r` in `lang`.
pub fn document(r: &MonthlyReport, lang: Lang) -> Document {
    let month = month_label(lang, &r.month, true);
    let mut subtitle = vec![i18n::kv(
        lang,
        Msg::Period.text(lang),
        &format!(
            "{} – {}",
            i18n::day(lang, r.period.start.date_naive()),
            i18n::day(lang, r.as_of)
        ),
    )];
    if !r.complete {
        subtitle.push(format!(
            "{} {}.",
            Msg::Draft.text(lang),
            i18n::time(lang, r.period.end)
        ));
    }
    let mut sections = vec![
        summary(r, lang),
        indicators(&r.indicators, lang),
        incidents(&r.incidents, lang),
        cis(r, lang),
        super::doc_governance::risks(&r.risks, lang),
        super::doc_governance::actions(&r.actions, lang),
        super::doc_governance::exceptions(&r.exceptions, lang),
        coverage(r, lang),
    ];
    if let Some(s) = &r.identities {
        sections.push(super::doc_identities::section(s, lang));
    }
    Document {
        lang,
        title: format!("{} — {month}", Msg::Title.text(lang)),
        subtitle,
        sections,
        footer: Msg::Generated.text(lang).to_string(),
    }
}

fn summary(r: &MonthlyReport, lang: Lang) -> Section {
    let fleet = i18n::kv(
        lang,
        Msg::Fleet.text(lang),
        &format!(
            "{} {}, {} {}.",
            r.fleet.enrolled,
            Msg::HostsEnrolled.text(lang),
            r.fleet.reported,
            Msg::HostsReported.text(lang)
        ),
    );
    let rows = r
        .indicators
        .iter()
        .map(|i| {
            let change = match (i.value, i.previous) {
                (Some(v), Some(p)) => {
                    let d = v - p;
                    match i.unit {
                        IndicatorUnit::Ratio => i18n::signed(lang, d * 100.0, 1) + " pt",
                        IndicatorUnit::Score => i18n::signed(lang, d, 1) + " pt",
                        IndicatorUnit::Seconds => {
                            let s = i18n::duration(lang, d.abs());
                            if d < 0.0 {
                                format!("-{s}")
                            } else {
                                format!("+{s}")
                            }
                        }
                    }
                }
                _ => DASH.to_string(),
            };
            let mut shown = value(lang, i.unit, i.value);
            if i.provisional && i.value.is_some() {
                shown = format!("{shown} ({})", Msg::Provisional.text(lang));
            }
            vec![
                Cell::text(i18n::indicator(lang, &i.name)),
                Cell::num(shown),
                Cell::num(value(lang, i.unit, i.target)),
                Cell::text(i18n::status(lang, i.status)).tone(tone(i.status)),
                Cell::num(value(lang, i.unit, i.previous)),
                Cell::num(change),
            ]
        })
        .collect();
    let head = [
        Msg::Indicator,
        Msg::Value,
        Msg::Target,
        Msg::Status,
        Msg::PreviousMonth,
        Msg::Change,
    ]
    .map(|m| m.text(lang).to_string())
    .to_vec();
    let points: Vec<String> = r
        .summary
        .iter()
        .map(|h| match h {
            Highlight::NotMet { indicator } => i18n::kv(
                lang,
                &i18n::indicator(lang, indicator),
                Msg::HlNotMet.text(lang),
            ),
            Highlight::NoData { indicator } => i18n::kv(
                lang,
                &i18n::indicator(lang, indicator),
                Msg::HlNoData.text(lang),
            ),
            Highlight::HighRisks { count } => format!("{count} {}", Msg::HlHighRisks.text(lang)),
            Highlight::P1Overdue { count } => format!("{count} {}", Msg::HlP1Overdue.text(lang)),
            Highlight::ExceptionsExpiring { count } => {
                format!("{count} {}", Msg::HlExpiring.text(lang))
            }
            Highlight::NotificationsOverdue { count } => {
                format!("{count} {}", Msg::HlOverdue.text(lang))
            }
            Highlight::IncidentsOpen { count, worst } => format!(
                "{count} {} ({} {})",
                Msg::HlOpen.text(lang),
                Msg::HlWorst.text(lang),
                i18n::severity(lang, *worst)
            ),
            Highlight::CisDown { points } => format!(
                "{} {} pt",
                Msg::HlCisDown.text(lang),
                i18n::number(lang, *points, 1)
            ),
            Highlight::AdminsWithoutMfa { count } => {
                format!("{count} {}", Msg::HlAdminsNoMfa.text(lang))
            }
            Highlight::IdentityNotMet { coverage } => format!(
                "{} {}",
                Msg::HlIdNotMet.text(lang),
                i18n::percent(lang, *coverage)
            ),
            Highlight::IdentityStale { sources } => {
                format!("{} {}", Msg::HlIdStale.text(lang), sources.join(", "))
            }
        })
        .collect();
    let mut blocks = vec![
        Block::Para(fleet),
        Block::Table(head, rows),
        Block::Sub(Msg::KeyPoints.text(lang).to_string()),
    ];
    if points.is_empty() {
        blocks.push(Block::Para(Msg::NothingToFlag.text(lang).to_string()));
    } else {
        blocks.push(Block::List(points));
    }
    Section {
        id: "summary",
        title: Msg::SummaryHeading.text(lang).to_string(),
        blocks,
    }
}

fn indicators(list: &[Indicator], lang: Lang) -> Section {
    let mut blocks = Vec::new();
    for i in list {
        blocks.push(Block::Sub(i18n::indicator(lang, &i.name)));
        let mut line = format!(
            "{} {} · {} {} · {} {} · {}",
            Msg::Value.text(lang),
            value(lang, i.unit, i.value),
            Msg::Target.text(lang).to_lowercase(),
            value(lang, i.unit, i.target),
            Msg::Status.text(lang).to_lowercase(),
            i18n::status(lang, i.status),
            i18n::kv(lang, Msg::Source.text(lang), &basis(lang, &i.basis))
        );
        if i.provisional {
            line = format!("{line} · {}", Msg::Provisional.text(lang));
        }
        blocks.push(Block::Para(line));
        let points: Vec<(String, Option<f64>)> = i
            .trend
            .iter()
            .map(|p| (month_label(lang, &p.month, false), p.value))
            .collect();
        blocks.push(Block::Line {
            title: format!(
                "{} — {}",
                i18n::indicator(lang, &i.name),
                Msg::Trend12.text(lang)
            ),
            points: points.clone(),
            target: i.target,
            unit: i.unit,
        });
        let mut head = vec![Msg::Month.text(lang).to_string()];
        head.extend(points.iter().map(|(m, _)| m.clone()));
        let mut row = vec![Cell::text(Msg::Value.text(lang))];
        row.extend(
            i.trend
                .iter()
                .map(|p| Cell::num(value(lang, i.unit, p.value)).tone(tone(p.status))),
        );
        blocks.push(Block::Table(head, vec![row]));
    }
    Section {
        id: "indicators",
        title: Msg::IndicatorsHeading.text(lang).to_string(),
        blocks,
    }
}

fn stats_row(lang: Lang, label: String, s: &DurationStats) -> Vec<Cell> {
    let d = |v: Option<f64>| value(lang, IndicatorUnit::Seconds, v);
    vec![
        Cell::text(label),
        Cell::num(s.count.to_string()),
        Cell::num(d(s.mean_seconds)),
        Cell::num(d(s.p50_seconds.map(|v| v as f64))),
        Cell::num(d(s.p90_seconds.map(|v| v as f64))),
    ]
}

fn incidents(s: &IncidentsSection, lang: Lang) -> Section {
    let mut blocks = vec![Block::Para(format!(
        "{} {} · {} {} · {} {}",
        s.detected,
        Msg::IncidentsDetected.text(lang),
        s.resolved,
        Msg::IncidentsResolved.text(lang),
        s.open_at_end,
        Msg::IncidentsOpen.text(lang)
    ))];
    if s.incidents.is_empty() {
        blocks.push(Block::Para(Msg::NoIncident.text(lang).to_string()));
    } else {
        let head = [
            Msg::Id,
            Msg::IncidentTitle,
            Msg::Severity,
            Msg::Detected,
            Msg::Resolved,
            Msg::Ttd,
            Msg::Ttr,
            Msg::Notification72h,
        ]
        .map(|m| m.text(lang).to_string())
        .to_vec();
        let d = |v: Option<i64>| value(lang, IndicatorUnit::Seconds, v.map(|v| v as f64));
        let rows = s
            .incidents
            .iter()
            .map(|i| {
                let note = i.notification.map_or(Cell::text(DASH), |n| {
                    use crate::kpi::notification::NotificationState as N;
                    let t = match n {
                        N::OnTime => Tone::Good,
                        N::Late | N::Overdue | N::MissingTimestamps => Tone::Bad,
                        N::NotYetDue => Tone::Plain,
                    };
                    Cell::text(i18n::notification(lang, n)).tone(t)
                });
                vec![
                    Cell::text(&i.id),
                    Cell::text(&i.title),
                    Cell::text(i18n::severity(lang, i.severity)),
                    Cell::text(i.detected_at.map_or(DASH.into(), |t| i18n::time(lang, t))),
                    Cell::text(
                        i.resolved_at
                            .map_or(Msg::StillOpen.text(lang).into(), |t| i18n::time(lang, t)),
                    ),
                    Cell::num(d(i.detection_seconds)),
                    Cell::num(d(i.resolution_seconds)),
                    note,
                ]
            })
            .collect();
        blocks.push(Block::Table(head, rows));
    }
    blocks.push(Block::Sub(Msg::ResponseTimes.text(lang).to_string()));
    let head = vec![
        String::new(),
        Msg::Count.text(lang).to_string(),
        Msg::Mean.text(lang).to_string(),
        "p50".to_string(),
        "p90".to_string(),
    ];
    for (label, m) in [(Msg::KpiMttd, &s.mttd), (Msg::KpiMttr, &s.mttr)] {
        let mut rows = vec![stats_row(lang, Msg::Overall.text(lang).into(), &m.overall)];
        for sev in Severity::ALL.iter().rev() {
            if let Some(st) = m.by_severity.get(sev) {
                rows.push(stats_row(lang, i18n::severity(lang, *sev).into(), st));
            }
        }
        let mut head = head.clone();
        head[0] = label.text(lang).to_string();
        blocks.push(Block::Table(head, rows));
    }
    blocks.push(Block::Sub(Msg::DutyHeading.text(lang).to_string()));
    if s.duty.incidents.is_empty() {
        blocks.push(Block::Para(Msg::NoDuty.text(lang).to_string()));
    } else {
        let ratio = value(lang, IndicatorUnit::Ratio, s.duty.ratio);
        blocks.push(Block::Para(i18n::kv(lang, Msg::KpiDuty.text(lang), &ratio)));
        let rows = s
            .duty
            .incidents
            .iter()
            .map(|d| {
                vec![
                    Cell::text(&d.id),
                    Cell::text(i18n::notification(lang, d.state)),
                    Cell::text(d.deadline.map_or(DASH.into(), |t| i18n::time(lang, t))),
                ]
            })
            .collect();
        blocks.push(Block::Table(
            vec![
                Msg::Id.text(lang).into(),
                Msg::Status.text(lang).into(),
                Msg::Deadline.text(lang).into(),
            ],
            rows,
        ));
    }
    Section {
        id: "incidents",
        title: Msg::IncidentsHeading.text(lang).to_string(),
        blocks,
    }
}

fn score_cells(lang: Lang, s: &ScoreChange) -> Vec<Cell> {
    let v = |x: Option<f64>| value(lang, IndicatorUnit::Score, x);
    let tone = match s.change {
        Some(c) if c > 0.05 => Tone::Good,
        Some(c) if c < -0.05 => Tone::Bad,
        _ => Tone::Plain,
    };
    vec![
        Cell::num(v(s.score)),
        Cell::num(v(s.previous)),
        Cell::num(
            s.change
                .map_or(DASH.into(), |c| i18n::signed(lang, c, 1) + " pt"),
        )
        .tone(tone),
    ]
}

fn cis(r: &MonthlyReport, lang: Lang) -> Section {
    let c = &r.cis;
    let mut blocks = Vec::new();
    if c.day.is_none() {
        blocks.push(Block::Note(Msg::CisNoSnapshot.text(lang).to_string()));
    }
    blocks.push(Block::Para(format!(
        "{} {} · {} {} · {} {}",
        Msg::CisOverallScore.text(lang),
        value(lang, IndicatorUnit::Score, c.overall.score),
        Msg::Target.text(lang).to_lowercase(),
        value(lang, IndicatorUnit::Score, c.target),
        Msg::Status.text(lang).to_lowercase(),
        i18n::status(lang, c.status),
    )));
    let head = |first: Msg| {
        vec![
            first.text(lang).to_string(),
            Msg::Score.text(lang).to_string(),
            Msg::PreviousMonth.text(lang).to_string(),
            Msg::Change.text(lang).to_string(),
        ]
    };
    let mut rows = vec![{
        let mut v = vec![Cell::text(Msg::Overall.text(lang))];
        v.extend(score_cells(lang, &c.overall));
        v
    }];
    for (g, s) in c.groups.iter().enumerate() {
        let mut v = vec![Cell::text(format!("IG{}", g + 1))];
        v.extend(score_cells(lang, s));
        rows.push(v);
    }
    blocks.push(Block::Table(head(Msg::ImplementationGroup), rows));
    let cat = catalogue();
    let title = |id: u8, t: &str| format!("{id}. {}", i18n::control_title(lang, id, t));
    blocks.push(Block::Bars(
        c.controls
            .iter()
            .map(|k| (title(k.control, &k.title), k.score.score, k.score.previous))
            .collect(),
    ));
    let mut head = head(Msg::Control);
    head.push(Msg::Assessed.text(lang).to_string());
    if let Some(ig) = c.ig {
        head[4] = format!("{} (IG{ig})", head[4]);
    }
    let rows = c
        .controls
        .iter()
        .map(|k| {
            let t = cat
                .control(k.control)
                .map_or(k.title.as_str(), |c| c.title.as_str());
            let mut v = vec![Cell::text(title(k.control, t))];
            v.extend(score_cells(lang, &k.score));
            v.push(Cell::num(format!("{}/{}", k.assessed, k.total)));
            v
        })
        .collect();
    blocks.push(Block::Table(head, rows));
    Section {
        id: "cis",
        title: Msg::CisHeading.text(lang).to_string(),
        blocks,
    }
}

fn coverage(r: &MonthlyReport, lang: Lang) -> Section {
    let head = [
        Msg::Check,
        Msg::Pass,
        Msg::Fail,
        Msg::Warn,
        Msg::Error,
        Msg::NotApplicable,
        Msg::Stale,
        Msg::ExceptedHosts,
        Msg::Coverage,
        Msg::PreviousMonth,
    ]
    .map(|m| m.text(lang).to_string())
    .to_vec();
    let pct = |v| value(lang, IndicatorUnit::Ratio, v);
    let rows = r
        .coverage
        .iter()
        .map(|c| {
            let n = |v: i64| {
                // No snapshot (or no host) for the check: dashes, not zeros.
                if c.ratio.is_none() && v == 0 {
                    Cell::num(DASH)
                } else {
                    Cell::num(v.to_string())
                }
            };
            vec![
                Cell::text(i18n::check(lang, &c.check)),
                n(c.pass),
                n(c.fail),
                n(c.warn),
                n(c.error),
                n(c.not_applicable),
                n(c.stale),
                n(c.excepted),
                Cell::num(pct(c.ratio)),
                Cell::num(pct(c.previous)),
            ]
        })
        .collect();
    let source = r
        .indicators
        .first()
        .map(|i| basis(lang, &i.basis))
        .unwrap_or_default();
    Section {
        id: "coverage",
        title: Msg::CoverageHeading.text(lang).to_string(),
        blocks: vec![
            Block::Table(head, rows),
            Block::Para(i18n::kv(lang, Msg::Source.text(lang), &source)),
        ],
    }
}
