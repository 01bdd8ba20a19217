//! The report's identity MFA section (issue 14): coverage of each identity source and overall
//! against `identity.coverage_target`, admins apart, the 12-month trend, and the accounts without
//! a second factor by name.
//!
//! Where the numbers come from: the accounts of each source as they stood at its **last good sync
//! before the end of the period** (`store::identities::state_at`, replayed from the stored
//! transitions), so a closed month shows that month's state, not today's. A month in which a source
//! had no good sync has no trend point ("no data", never 0 %). A source whose last attempt before
//! the end failed, or whose last good sync is older than `identity.stale_after_hours` then, is
//! **stale**: its last numbers are shown with their date but never judged against the target, and
//! the overall status is stale too.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use rusqlite::Connection;
use serde::Serialize;

use super::model::TrendPoint;
pub use crate::identity::period::StaleReason;
use crate::identity::period::{self, utc as at, SourceAt};
use crate::kpi::KpiStatus;
use crate::store::identities::{self as sql, IdentityRow};
use crate::store::StoreError;

/// What the section is judged against and which sources it covers (from `[identity]`).
#[derive(Debug, Clone, Default)]
pub struct IdentityInputs {
    /// `identity.coverage_target` (0 to 1).
    pub target: f64,
    /// `identity.stale_after_hours`.
    pub stale_after_hours: u64,
    /// One per configured or stored source, by name.
    pub sources: Vec<SourceInput>,
}

/// What the store holds about one source for the report.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    /// The source at the end of the period.
    pub at_end: SourceAt,
    /// Per trend month (`YYYY-MM`, oldest first): the accounts at the month's last good sync.
    pub months: Vec<(String, Option<Vec<IdentityRow>>)>,
    /// Failed attempts in the report's month.
    pub failures_in_month: usize,
}

/// The month starting `m`: `[start, end)` in Unix seconds, `end` capped just after `now` (a sync
/// in the current second counts).
fn bounds(m: NaiveDate, now: DateTime<Utc>) -> (i64, i64) {
    let start = m
        .and_hms_opt(0, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp());
    let end = m
        .checked_add_months(Months::new(1))
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .map_or(i64::MAX, |t| t.and_utc().timestamp())
        .min(now.timestamp() + 1);
    (start, end)
}

/// Read the section's inputs for the trend `months` (first days, oldest first, the report's month
/// last), seen at `now`.
pub fn load(
    conn: &Connection,
    cfg: &crate::identity::config::IdentitySection,
    months: &[NaiveDate],
    now: DateTime<Utc>,
) -> Result<IdentityInputs, StoreError> {
    let Some(&first) = months.last() else {
        return Ok(IdentityInputs::default());
    };
    let (_, end) = bounds(first, now);
    let mut sources = Vec::new();
    for at_end in period::sources_at(conn, cfg, end)? {
        let good_at = at_end.last_good.as_ref().map(|g| g.0);
        let mut per_month = Vec::new();
        let mut failures_in_month = 0;
        for m in months {
            let (s, e) = bounds(*m, now);
            let syncs = sql::syncs_between(conn, &at_end.source, s, e)?;
            if *m == first {
                failures_in_month = syncs.iter().filter(|r| !r.ok).count();
            }
            let state = match syncs.iter().rev().find(|r| r.ok) {
                Some(r) if Some(r.at) == good_at => at_end.last_good.as_ref().map(|g| g.1.clone()),
                Some(r) => Some(sql::state_at(conn, &at_end.source, r.at)?),
                None => None,
            };
            per_month.push((m.format("%Y-%m").to_string(), state));
        }
        sources.push(SourceInput {
            at_end,
            months: per_month,
            failures_in_month,
        });
    }
    Ok(IdentityInputs {
        target: cfg.coverage_target,
        stale_after_hours: cfg.stale_after_hours,
        sources,
    })
}

/// How a source (or all of them) stands against the target at the end of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Coverage reaches the target, from a current sync.
    Met,
    /// Coverage is under the target, from a current sync.
    NotMet,
    /// The numbers are those of a sync too old or followed by a failure: not judged.
    Stale,
    /// No good sync before the end of the period, or no active member.
    NoData,
}

/// Counts over the active accounts of one source (or all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MfaCounts {
    /// Active members judged (pass + weak only + without + unknown).
    pub members: i64,
    /// With a strong second factor.
    pub strong: i64,
    /// Weak factors only (SMS, voice, e-mail, question).
    pub weak_only: i64,
    /// No second factor.
    pub without_mfa: i64,
    /// The provider said nothing.
    pub unknown: i64,
    /// Active admins among the members.
    pub admins: i64,
    /// Admins with a strong second factor.
    pub admins_strong: i64,
    /// Admins without any second factor.
    pub admins_without_mfa: i64,
    /// Active guests and outside collaborators (out of the ratio).
    pub guests: i64,
    /// Those of them without a second factor.
    pub guests_without_mfa: i64,
    /// strong / members; `None` without members.
    pub coverage: Option<f64>,
    /// admins_strong / admins; `None` without admins.
    pub admin_coverage: Option<f64>,
}

impl MfaCounts {
    fn of(rows: &[IdentityRow]) -> MfaCounts {
        let mut c = MfaCounts::default();
        for r in rows.iter().filter(|r| r.status != "not_applicable") {
            if r.kind != "member" {
                c.guests += 1;
                c.guests_without_mfa += i64::from(r.status == "fail");
                continue;
            }
            c.members += 1;
            match r.status.as_str() {
                "pass" => c.strong += 1,
                "warn" => c.weak_only += 1,
                "fail" => c.without_mfa += 1,
                _ => c.unknown += 1,
            }
            if r.admin {
                c.admins += 1;
                c.admins_strong += i64::from(r.status == "pass");
                c.admins_without_mfa += i64::from(r.status == "fail");
            }
        }
        c.ratios()
    }

    fn add(&mut self, o: &MfaCounts) {
        self.members += o.members;
        self.strong += o.strong;
        self.weak_only += o.weak_only;
        self.without_mfa += o.without_mfa;
        self.unknown += o.unknown;
        self.admins += o.admins;
        self.admins_strong += o.admins_strong;
        self.admins_without_mfa += o.admins_without_mfa;
        self.guests += o.guests;
        self.guests_without_mfa += o.guests_without_mfa;
    }

    fn ratios(mut self) -> MfaCounts {
        self.coverage = (self.members > 0).then(|| self.strong as f64 / self.members as f64);
        self.admin_coverage =
            (self.admins > 0).then(|| self.admins_strong as f64 / self.admins as f64);
        self
    }
}

/// One source at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    /// Source name.
    pub source: String,
    /// Provider kind.
    pub kind: String,
    /// The last good sync before the end of the period (whose accounts are counted).
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the numbers are not current, if they are not.
    pub stale: Option<StaleReason>,
    /// Failed syncs in the month.
    pub failures_in_month: usize,
    /// Counts of the last good sync.
    pub counts: MfaCounts,
    /// Against the target.
    pub status: TargetStatus,
    /// Coverage at each month's last good sync, oldest first.
    pub trend: Vec<TrendPoint>,
}

/// An active account without a strong second factor at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    /// Source name.
    pub source: String,
    /// Login (UPN, e-mail, GitHub login).
    pub login: String,
    /// Display name.
    pub display_name: String,
    /// Holds an admin role.
    pub admin: bool,
    /// `member`, `guest`, `outside_collaborator`.
    pub kind: String,
    /// `fail` (no second factor) or `warn` (weak factors only).
    pub status: String,
    /// Since when in that status.
    pub since: DateTime<Utc>,
}

/// The identity MFA section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentitySection {
    /// `identity.coverage_target`.
    pub target: f64,
    /// All sources pooled (their last good syncs).
    pub overall: MfaCounts,
    /// Met or not only when every source is current; stale if one is not; no data without any.
    pub status: TargetStatus,
    /// Pooled coverage per month over the sources with a good sync that month.
    pub trend: Vec<TrendPoint>,
    /// Each source.
    pub sources: Vec<SourceReport>,
    /// Active accounts without a strong second factor (admins first, then by source and login).
    pub accounts: Vec<AccountRow>,
}

fn judge(coverage: Option<f64>, target: f64) -> KpiStatus {
    match coverage {
        None => KpiStatus::NoData,
        Some(c) if c + 1e-9 >= target => KpiStatus::Met,
        Some(_) => KpiStatus::NotMet,
    }
}

/// Assemble the section from `inputs` for a period ending at `end` (pure).
pub fn assemble(inputs: &IdentityInputs, end: DateTime<Utc>) -> Option<IdentitySection> {
    if inputs.sources.is_empty() {
        return None;
    }
    let target = inputs.target;
    let mut overall = MfaCounts::default();
    let mut any_stale = false;
    let mut accounts = Vec::new();
    let mut sources = Vec::new();
    let mut per_month: BTreeMap<String, (MfaCounts, bool)> = BTreeMap::new();
    for s in &inputs.sources {
        let counts = s
            .at_end
            .last_good
            .as_ref()
            .map(|(_, rows)| MfaCounts::of(rows))
            .unwrap_or_default();
        let stale = s.at_end.stale(end.timestamp(), inputs.stale_after_hours);
        let status = match (&stale, counts.coverage) {
            (Some(StaleReason::NeverSynced), _) | (None, None) => TargetStatus::NoData,
            (Some(_), _) => TargetStatus::Stale,
            (None, Some(c)) if c + 1e-9 >= target => TargetStatus::Met,
            (None, Some(_)) => TargetStatus::NotMet,
        };
        any_stale |= stale.is_some();
        overall.add(&counts);
        if let Some((_, rows)) = &s.at_end.last_good {
            accounts.extend(
                rows.iter()
                    .filter(|r| r.status == "fail" || r.status == "warn")
                    .map(|r| AccountRow {
                        source: s.at_end.source.clone(),
                        login: r.login.clone(),
                        display_name: r.display_name.clone(),
                        admin: r.admin,
                        kind: r.kind.clone(),
                        status: r.status.clone(),
                        since: at(r.status_since),
                    }),
            );
        }
        let trend = s
            .months
            .iter()
            .map(|(month, rows)| {
                let c = rows.as_deref().map(MfaCounts::of);
                if let Some(c) = &c {
                    let e = per_month.entry(month.clone()).or_default();
                    e.0.add(c);
                    e.1 = true;
                }
                let value = c.and_then(|c| c.coverage);
                TrendPoint {
                    month: month.clone(),
                    value,
                    status: judge(value, target),
                }
            })
            .collect();
        sources.push(SourceReport {
            source: s.at_end.source.clone(),
            kind: s.at_end.kind.clone(),
            last_success_at: s.at_end.last_good.as_ref().map(|g| at(g.0)),
            stale,
            failures_in_month: s.failures_in_month,
            counts,
            status,
            trend,
        });
    }
    let overall = overall.ratios();
    // A source never synced or stale keeps the whole from being judged: its accounts may be the
    // ones without a second factor.
    let status = match overall.coverage {
        None => TargetStatus::NoData,
        Some(_) if any_stale => TargetStatus::Stale,
        Some(c) if c + 1e-9 >= target => TargetStatus::Met,
        Some(_) => TargetStatus::NotMet,
    };
    let months: Vec<String> = inputs
        .sources
        .first()
        .map(|s| s.months.iter().map(|m| m.0.clone()).collect())
        .unwrap_or_default();
    let trend = months
        .into_iter()
        .map(|m| {
            let value = per_month
                .get(&m)
                .filter(|(_, seen)| *seen)
                .and_then(|(c, _)| c.clone().ratios().coverage);
            TrendPoint {
                month: m,
                value,
                status: judge(value, target),
            }
        })
        .collect();
    accounts.sort_by(|a, b| {
        (!a.admin, a.status != "fail", &a.source, &a.login).cmp(&(
            !b.admin,
            b.status != "fail",
            &b.source,
            &b.login,
        ))
    });
    Some(IdentitySection {
        target,
        overall,
        status,
        trend,
        sources,
        accounts,
    })
}

/// The summary's points of attention from the section: admins without a second factor, coverage
/// under target, sources not current.
pub fn highlights(s: &IdentitySection) -> Vec<super::model::Highlight> {
    use super::model::Highlight;
    let mut out = Vec::new();
    if s.overall.admins_without_mfa > 0 {
        out.push(Highlight::AdminsWithoutMfa {
            count: s.overall.admins_without_mfa,
        });
    }
    if let (TargetStatus::NotMet, Some(c)) = (s.status, s.overall.coverage) {
        out.push(Highlight::IdentityNotMet { coverage: c });
    }
    let stale: Vec<String> = s
        .sources
        .iter()
        .filter(|x| x.stale.is_some())
        .map(|x| x.source.clone())
        .collect();
    if !stale.is_empty() {
        out.push(Highlight::IdentityStale { sources: stale });
    }
    out
}
