//! The report's governance sections, from the registers of `crate::risk`: top risks and what
//! changed in the month, the improvement plan per priority, exceptions active and expiring. Each is
//! judged at the end of the report's period, so a report re-run later shows the same month:
//! a risk is rewound through its history entries after the period (each holds every changed field's
//! old value), an action closed after the period counts as still open, an exception granted after
//! it is left out.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use crate::kpi::response_times::Period;
use crate::risk::actions::{Action, ActionStatus, Priority};
use crate::risk::exceptions::{Exception, ExceptionState, ScopeKind};
use crate::risk::register::{Risk, RiskChange};
use crate::risk::{Level, RiskStatus, Source};

/// Most risks listed as "top risks".
pub const TOP_RISKS: usize = 10;

fn utc(ts: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).single().unwrap_or_default()
}

/// One risk as it stood at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskRow {
    /// Register id (shown `R-<id>`).
    pub id: i64,
    /// Title.
    pub title: String,
    /// The check of a fleet risk whose title is still the shipped one (the renderers say it in
    /// the report's language); `None` for a title a person wrote.
    pub title_check: Option<String>,
    /// Level at the end of the period.
    pub level: Level,
    /// Level at the start of the period (`None`: created during it).
    pub level_before: Option<Level>,
    /// 1..4.
    pub likelihood: u8,
    /// 1..4.
    pub impact: u8,
    /// Owner.
    pub owner: String,
    /// Review date passed at the end of the period.
    pub review_overdue: bool,
}

/// One change of the month to a risk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskChangeRow {
    /// Risk id.
    pub risk: i64,
    /// Risk title (as now).
    pub title: String,
    /// As [`RiskRow::title_check`].
    pub title_check: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// Field → (from, to), JSON values as stored.
    pub fields: BTreeMap<String, (serde_json::Value, serde_json::Value)>,
    /// Why.
    pub note: String,
}

/// Top risks and what changed.
#[derive(Debug, Clone, Serialize)]
pub struct RisksSection {
    /// Open risks per level at the end of the period (every level present).
    pub open_by_level: BTreeMap<Level, usize>,
    /// Open risks, highest level then likelihood × impact first, at most [`TOP_RISKS`].
    pub top: Vec<RiskRow>,
    /// History entries dated in the period, oldest first.
    pub changes: Vec<RiskChangeRow>,
}

/// The check of `r` when it is a fleet risk still titled with the shipped (English) title of its
/// scenario, or the fallback title of a configured scenario without one.
pub fn shipped_title_check(r: &Risk) -> Option<String> {
    let check = r.check.as_deref().filter(|_| r.source == Source::Fleet)?;
    let shipped = crate::risk::fleet::scenarios(&crate::risk::config::RiskSection::default())
        .into_iter()
        .any(|s| s.check == check && s.title == r.title);
    let identity = check == crate::risk::identity_fleet::CHECK
        && r.title == crate::risk::identity_fleet::TITLE;
    (shipped || identity || r.title == format!("Fleet failures of {check}"))
        .then(|| check.to_string())
}

/// `r` as it was at `at`: history entries at or after `at` undone, newest first. `None` when the
/// risk did not exist yet.
pub fn risk_at(r: &Risk, history: &[&RiskChange], at: i64) -> Option<Risk> {
    if r.created_at >= at {
        return None;
    }
    let mut r = r.clone();
    let mut later: Vec<&&RiskChange> = history.iter().filter(|h| h.at >= at).collect();
    later.sort_by_key(|h| std::cmp::Reverse(h.at));
    for h in later {
        for (field, c) in &h.changes {
            let from = &c.from;
            let text = from.as_str().map(str::to_string);
            match field.as_str() {
                "title" => r.title = text.unwrap_or(r.title),
                "owner" => r.owner = text.unwrap_or(r.owner),
                "likelihood" => r.likelihood = from.as_u64().map_or(r.likelihood, |v| v as u8),
                "impact" => r.impact = from.as_u64().map_or(r.impact, |v| v as u8),
                "level" => {
                    r.level = text
                        .and_then(|t| Level::parse_field(&t, "level").ok())
                        .unwrap_or(r.level)
                }
                "status" => {
                    r.status = text
                        .and_then(|t| RiskStatus::parse_field(&t, "status").ok())
                        .unwrap_or(r.status)
                }
                "next_review" => {
                    r.next_review = text
                        .and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok())
                        .unwrap_or(r.next_review)
                }
                _ => {}
            }
        }
    }
    Some(r)
}

/// The risks section over `period`: `history` holds the entries since the period's start.
pub fn risks(all: &[Risk], history: &[(i64, RiskChange)], period: Period) -> RisksSection {
    let (start, end) = (period.start.timestamp(), period.end.timestamp());
    let of = |id: i64| -> Vec<&RiskChange> {
        history
            .iter()
            .filter(|(r, _)| *r == id)
            .map(|(_, h)| h)
            .collect()
    };
    let end_day = period.end.date_naive();
    let mut open: Vec<RiskRow> = all
        .iter()
        .filter_map(|r| {
            let h = of(r.id);
            let now = risk_at(r, &h, end)?;
            (now.status == RiskStatus::Open).then(|| RiskRow {
                id: now.id,
                title: now.title.clone(),
                title_check: shipped_title_check(&now),
                level: now.level,
                level_before: risk_at(r, &h, start)
                    .filter(|b| b.status == RiskStatus::Open)
                    .map(|b| b.level),
                likelihood: now.likelihood,
                impact: now.impact,
                owner: now.owner.clone(),
                review_overdue: now.next_review < end_day,
            })
        })
        .collect();
    let mut open_by_level: BTreeMap<Level, usize> = Level::ALL.iter().map(|l| (*l, 0)).collect();
    for r in &open {
        *open_by_level.entry(r.level).or_default() += 1;
    }
    open.sort_by(|a, b| {
        (b.level, u16::from(b.likelihood) * u16::from(b.impact), a.id).cmp(&(
            a.level,
            u16::from(a.likelihood) * u16::from(a.impact),
            b.id,
        ))
    });
    open.truncate(TOP_RISKS);
    let title = |id: i64| {
        all.iter().find(|r| r.id == id).map_or_else(
            || (String::new(), None),
            |r| (r.title.clone(), shipped_title_check(r)),
        )
    };
    let changes = history
        .iter()
        .filter(|(_, h)| h.at >= start && h.at < end)
        .map(|(id, h)| RiskChangeRow {
            risk: *id,
            title: title(*id).0,
            title_check: title(*id).1,
            at: utc(h.at),
            actor: h.actor.clone(),
            fields: h
                .changes
                .iter()
                .map(|(k, c)| (k.clone(), (c.from.clone(), c.to.clone())))
                .collect(),
            note: h.note.clone(),
        })
        .collect();
    RisksSection {
        open_by_level,
        top: open,
        changes,
    }
}

/// The plan for one priority at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRow {
    /// P1, P2 or P3.
    pub priority: Priority,
    /// Actions created by the end of the period, cancelled ones left out.
    pub planned: usize,
    /// Of those, closed by the end of the period.
    pub done: usize,
    /// Closed during the period.
    pub done_in_month: usize,
    /// Not closed, due date not passed.
    pub open: usize,
    /// Not closed, due date passed.
    pub overdue: usize,
    /// done ÷ planned.
    pub progress: Option<f64>,
}

/// One action listed in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRow {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Priority.
    pub priority: Priority,
    /// Owner.
    pub owner: String,
    /// Due date.
    pub due: NaiveDate,
}

/// The improvement plan.
#[derive(Debug, Clone, Serialize)]
pub struct ActionsSection {
    /// P1, P2, P3.
    pub by_priority: Vec<PlanRow>,
    /// Overdue at the end of the period, most urgent first.
    pub overdue: Vec<ActionRow>,
    /// Closed during the period.
    pub done_in_month: Vec<ActionRow>,
}

/// The plan at the end of `period`. Cancelling leaves no date: a cancelled action is left out
/// whenever it was cancelled.
pub fn actions(all: &[Action], period: Period) -> ActionsSection {
    let (start, end) = (period.start.timestamp(), period.end.timestamp());
    // The day after the period's last day: an action due on the last day is overdue once it ends.
    let today = period.end.date_naive();
    let row = |a: &Action| ActionRow {
        id: a.id,
        title: a.title.clone(),
        priority: a.priority,
        owner: a.owner.clone(),
        due: a.due,
    };
    let live: Vec<&Action> = all
        .iter()
        .filter(|a| a.created_at < end && a.status != ActionStatus::Cancelled)
        .collect();
    let done_by =
        |a: &Action| a.status == ActionStatus::Done && a.closed_at.is_some_and(|c| c < end);
    let done_in = |a: &Action| done_by(a) && a.closed_at.is_some_and(|c| c >= start);
    let by_priority = Priority::ALL
        .iter()
        .map(|p| {
            let of: Vec<&&Action> = live.iter().filter(|a| a.priority == *p).collect();
            let done = of.iter().filter(|a| done_by(a)).count();
            let overdue = of.iter().filter(|a| !done_by(a) && a.due < today).count();
            PlanRow {
                priority: *p,
                planned: of.len(),
                done,
                done_in_month: of.iter().filter(|a| done_in(a)).count(),
                open: of.len() - done - overdue,
                overdue,
                progress: (!of.is_empty()).then(|| done as f64 / of.len() as f64),
            }
        })
        .collect();
    let mut overdue: Vec<ActionRow> = live
        .iter()
        .filter(|a| !done_by(a) && a.due < today)
        .map(|a| row(a))
        .collect();
    overdue.sort_by_key(|a| (a.priority, a.due, a.id));
    ActionsSection {
        by_priority,
        overdue,
        done_in_month: live.iter().filter(|a| done_in(a)).map(|a| row(a)).collect(),
    }
}

/// One exception in force at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExceptionRow {
    /// Id.
    pub id: i64,
    /// The excused check.
    pub check: String,
    /// host, group or fleet.
    pub scope: ScopeKind,
    /// Hostname or group name (empty for the fleet).
    pub scope_value: String,
    /// Why.
    pub reason: String,
    /// Who approved.
    pub approver: String,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// `active` or `expiring` (30 days or less left).
    pub state: ExceptionState,
}

/// Exceptions active and expiring.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionsSection {
    /// In force at the end of the period with more than 30 days left.
    pub active: usize,
    /// In force with 30 days or less left.
    pub expiring: usize,
    /// Granted (created) during the period.
    pub granted_in_month: usize,
    /// Expired during the period.
    pub expired_in_month: usize,
    /// Revoked during the period.
    pub revoked_in_month: usize,
    /// The ones in force, soonest expiry first.
    pub in_force: Vec<ExceptionRow>,
}

/// Exceptions at the end of `period` (those granted after it are left out).
pub fn exceptions(all: &[Exception], period: Period) -> ExceptionsSection {
    let (start, end) = (period.start.timestamp(), period.end.timestamp());
    let known: Vec<&Exception> = all.iter().filter(|e| e.created_at < end).collect();
    let in_month = |t: i64| start <= t && t < end;
    let mut in_force: Vec<ExceptionRow> = known
        .iter()
        .filter(|e| e.in_force(end))
        .map(|e| ExceptionRow {
            id: e.id,
            check: e.check.clone(),
            scope: e.scope,
            scope_value: e.scope_value.clone(),
            reason: e.reason.clone(),
            approver: e.approver.clone(),
            expires_at: utc(e.expires_at),
            state: e.state(end),
        })
        .collect();
    in_force.sort_by_key(|a| (a.expires_at, a.id));
    ExceptionsSection {
        active: in_force
            .iter()
            .filter(|e| e.state == ExceptionState::Active)
            .count(),
        expiring: in_force
            .iter()
            .filter(|e| e.state == ExceptionState::Expiring)
            .count(),
        granted_in_month: known.iter().filter(|e| in_month(e.created_at)).count(),
        expired_in_month: known
            .iter()
            .filter(|e| in_month(e.expires_at) && e.revoked_at.is_none_or(|r| r >= e.expires_at))
            .count(),
        revoked_in_month: known
            .iter()
            .filter(|e| e.revoked_at.is_some_and(in_month))
            .count(),
        in_force,
    }
}
