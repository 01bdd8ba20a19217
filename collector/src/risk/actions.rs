//! The improvement plan (governance manual §04): actions with priority P1 (due within a month),
//! P2 (a quarter) or P3 (a year), an owner, a budget and linked risks. Closing an action needs
//! evidence — a file whose SHA-256 is kept, or a URL — and an approver holding the approving role
//! (the RSSI by default); without both the close is refused with a message saying what is missing.

use chrono::{Months, NaiveDate};
use serde::Serialize;

use super::{ser_opt_ts, ser_ts, string_enum, RiskError};

string_enum!(
    /// How urgent an action is.
    Priority {
        /// Within a month.
        P1 = "p1",
        /// Within a quarter.
        P2 = "p2",
        /// Within a year.
        P3 = "p3"
    }
);

string_enum!(
    /// Where an action is.
    ActionStatus {
        /// Not started.
        Open = "open",
        /// Being worked on.
        InProgress = "in_progress",
        /// Closed with evidence and approval.
        Done = "done",
        /// Dropped (does not count in progress).
        Cancelled = "cancelled"
    }
);

string_enum!(
    /// The state an action is counted under in metrics and filters.
    ActionState { Open = "open", Overdue = "overdue", Done = "done", Cancelled = "cancelled" }
);

impl Priority {
    /// The default due date of an action of this priority created on `created`.
    pub fn default_due(self, created: NaiveDate) -> NaiveDate {
        let months = match self {
            Priority::P1 => 1,
            Priority::P2 => 3,
            Priority::P3 => 12,
        };
        created
            .checked_add_months(Months::new(months))
            .unwrap_or(created)
    }

    /// Upper-case label (`P1`).
    pub fn label(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
        }
    }
}

/// Evidence of completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// SHA-256 (hex) of the evidence file, when a file was given.
    pub sha256: Option<String>,
    /// The file's name, when a file was given.
    pub file_name: Option<String>,
    /// URL of the evidence (audit report, ticket…), when given.
    pub url: Option<String>,
}

/// An action of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Action {
    /// Row id.
    pub id: i64,
    /// What is to be done.
    pub title: String,
    /// P1, P2 or P3.
    pub priority: Priority,
    /// Due date.
    pub due: NaiveDate,
    /// Who does it.
    pub owner: String,
    /// Budget (free amount in the organisation's currency), if known.
    pub budget: Option<f64>,
    /// Status.
    pub status: ActionStatus,
    /// Derived state at read time (`overdue` when past due and not done or cancelled).
    pub state: ActionState,
    /// Linked risk ids.
    pub risks: Vec<i64>,
    /// Evidence, once closed.
    pub evidence: Option<Evidence>,
    /// Who approved the close.
    pub approver: Option<String>,
    /// When closed.
    #[serde(serialize_with = "ser_opt_ts")]
    pub closed_at: Option<i64>,
    /// Creation time.
    #[serde(serialize_with = "ser_ts")]
    pub created_at: i64,
    /// Last change.
    #[serde(serialize_with = "ser_ts")]
    pub updated_at: i64,
}

/// The state of an action with `status` and `due` on `today`.
pub fn state(status: ActionStatus, due: NaiveDate, today: NaiveDate) -> ActionState {
    match status {
        ActionStatus::Done => ActionState::Done,
        ActionStatus::Cancelled => ActionState::Cancelled,
        _ if due < today => ActionState::Overdue,
        _ => ActionState::Open,
    }
}

/// Progress of the plan per priority: done ÷ (all − cancelled); `None` when nothing is planned.
pub fn progress(actions: &[Action], p: Priority) -> Option<f64> {
    let planned = actions
        .iter()
        .filter(|a| a.priority == p && a.status != ActionStatus::Cancelled)
        .count();
    let done = actions
        .iter()
        .filter(|a| a.priority == p && a.status == ActionStatus::Done)
        .count();
    (planned > 0).then(|| done as f64 / planned as f64)
}

/// What a close request carries.
#[derive(Debug, Clone, Default)]
pub struct CloseRequest {
    /// SHA-256 (hex) of the evidence file.
    pub evidence_sha256: Option<String>,
    /// Name of the evidence file.
    pub evidence_file_name: Option<String>,
    /// URL of the evidence.
    pub evidence_url: Option<String>,
    /// Who approves.
    pub approver: Option<String>,
}

/// Check a close request: evidence (file hash or URL) and an approver holding `role`. The error
/// says everything that is missing at once.
pub fn validate_close(
    current: ActionStatus,
    req: &CloseRequest,
    is_approver: impl Fn(&str) -> bool,
    role: &str,
) -> Result<(Evidence, String), RiskError> {
    if matches!(current, ActionStatus::Done | ActionStatus::Cancelled) {
        return Err(RiskError::CloseRefused(format!(
            "close refused: the action is already {current}"
        )));
    }
    let nonempty = |o: &Option<String>| {
        o.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let sha = nonempty(&req.evidence_sha256);
    let url = nonempty(&req.evidence_url);
    let approver = nonempty(&req.approver);
    let mut missing = Vec::new();
    if let Some(s) = &sha {
        if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            missing.push("evidence_sha256 must be 64 hexadecimal characters".to_string());
        }
    }
    if let Some(u) = &url {
        if !(u.starts_with("https://") || u.starts_with("http://")) {
            missing.push(format!("evidence_url {u:?} must be an http(s) URL"));
        }
    }
    if sha.is_none() && url.is_none() {
        missing.push("evidence (a file, whose SHA-256 is kept, or a URL)".to_string());
    }
    match &approver {
        None => missing.push(format!("an approver holding the role {role:?}")),
        Some(a) if !is_approver(a) => missing.push(format!(
            "an approver holding the role {role:?} ({a:?} does not; see actions.roles.{role})"
        )),
        Some(_) => {}
    }
    if !missing.is_empty() {
        return Err(RiskError::CloseRefused(format!(
            "close refused: missing {}",
            missing.join("; ")
        )));
    }
    Ok((
        Evidence {
            sha256: sha.map(|s| s.to_ascii_lowercase()),
            file_name: nonempty(&req.evidence_file_name),
            url,
        },
        approver.unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn due_dates_from_priority() {
        // 2025-01-31 + 1 month → 2025-02-28 (clamped to the month's end); + 3 months → 2025-04-30.
        assert_eq!(Priority::P1.default_due(d("2025-01-31")), d("2025-02-28"));
        assert_eq!(Priority::P2.default_due(d("2025-01-31")), d("2025-04-30"));
        assert_eq!(Priority::P3.default_due(d("2025-01-31")), d("2026-01-31"));
    }

    #[test]
    fn overdue_is_past_due_and_not_done() {
        let today = d("2025-05-10");
        assert_eq!(
            state(ActionStatus::Open, d("2025-05-09"), today),
            ActionState::Overdue
        );
        assert_eq!(
            state(ActionStatus::InProgress, d("2025-05-10"), today),
            ActionState::Open
        );
        assert_eq!(
            state(ActionStatus::Done, d("2025-01-01"), today),
            ActionState::Done
        );
    }

    #[test]
    fn close_needs_evidence_and_an_approver() {
        let alice = |p: &str| p == "alice";
        let e = validate_close(ActionStatus::Open, &CloseRequest::default(), alice, "rssi")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("evidence") && e.contains("approver holding the role \"rssi\""),
            "{e}"
        );
        let url_only = CloseRequest {
            evidence_url: Some("https://audit.example/r/12".into()),
            ..Default::default()
        };
        let e = validate_close(ActionStatus::Open, &url_only, alice, "rssi")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("evidence (") && e.contains("approver"), "{e}");
        let bob = CloseRequest {
            approver: Some("bob".into()),
            ..url_only.clone()
        };
        let e = validate_close(ActionStatus::Open, &bob, alice, "rssi")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"bob\" does not"), "{e}");
        let ok = CloseRequest {
            approver: Some("alice".into()),
            evidence_sha256: Some("AB".repeat(32)),
            evidence_file_name: Some("pentest.pdf".into()),
            ..Default::default()
        };
        let (ev, who) = validate_close(ActionStatus::InProgress, &ok, alice, "rssi").unwrap();
        assert_eq!(who, "alice");
        assert_eq!(ev.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        let e = validate_close(ActionStatus::Done, &ok, alice, "rssi")
            .unwrap_err()
            .to_string();
        assert!(e.contains("already done"), "{e}");
    }
}

/// The fields of a new action or of an update (every one optional in an update).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionInput {
    /// What.
    pub title: Option<String>,
    /// `p1`, `p2` or `p3`.
    pub priority: Option<String>,
    /// YYYY-MM-DD; default from the priority.
    pub due: Option<String>,
    /// Who.
    pub owner: Option<String>,
    /// Budget.
    pub budget: Option<f64>,
    /// `open`, `in_progress` or `cancelled` (`done` only through a close).
    pub status: Option<String>,
    /// Risk ids to link.
    #[serde(default)]
    pub risks: Vec<i64>,
}

fn budget_ok(b: Option<f64>) -> Result<Option<f64>, RiskError> {
    match b {
        Some(v) if !v.is_finite() || v < 0.0 => Err(RiskError::invalid(
            "budget",
            format!("{v} must be a non-negative amount"),
        )),
        other => Ok(other),
    }
}

fn title_like(field: &str, value: &str) -> Result<(), RiskError> {
    crate::host_identity::check_title(field, value)
        .map_err(|e| RiskError::invalid(field, e.problem))
}

/// A due date is on or after the day the action was created.
fn due_from(due: NaiveDate, created: NaiveDate) -> Result<NaiveDate, RiskError> {
    if due < created {
        return Err(RiskError::invalid(
            "due",
            format!("{due} is before the action was created ({created})"),
        ));
    }
    Ok(due)
}

/// Validate a new action created on `today`.
pub fn new_action(
    input: &ActionInput,
    today: NaiveDate,
) -> Result<crate::store::actions::NewAction, RiskError> {
    let title = input
        .title
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| RiskError::invalid("title", "is required"))?;
    let owner = input
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| RiskError::invalid("owner", "is required"))?;
    let priority = Priority::parse_field(
        input
            .priority
            .as_deref()
            .ok_or_else(|| RiskError::invalid("priority", "is required (p1, p2 or p3)"))?,
        "priority",
    )?;
    title_like("title", title)?;
    title_like("owner", owner)?;
    let due = match &input.due {
        Some(d) => due_from(super::parse_date(d, "due")?, today)?,
        None => priority.default_due(today),
    };
    if input.status.is_some() {
        return Err(RiskError::invalid(
            "status",
            "a new action is open; set the status with an update",
        ));
    }
    Ok(crate::store::actions::NewAction {
        title: title.to_string(),
        priority,
        due,
        owner: owner.to_string(),
        budget: budget_ok(input.budget)?,
        risks: input.risks.clone(),
    })
}

/// `current` with an update applied. Changing the priority without a due date moves the due
/// date to the new priority's default from the action's creation date.
pub fn apply_update(current: &Action, input: &ActionInput) -> Result<Action, RiskError> {
    let mut a = current.clone();
    if matches!(a.status, ActionStatus::Done) {
        return Err(RiskError::invalid(
            "status",
            "the action is done; closed actions are not edited",
        ));
    }
    if let Some(t) = &input.title {
        if t.trim().is_empty() {
            return Err(RiskError::invalid("title", "must not be empty"));
        }
        a.title = t.trim().to_string();
    }
    if let Some(o) = &input.owner {
        if o.trim().is_empty() {
            return Err(RiskError::invalid("owner", "must not be empty"));
        }
        a.owner = o.trim().to_string();
    }
    if let Some(p) = &input.priority {
        a.priority = Priority::parse_field(p, "priority")?;
        if input.due.is_none() {
            a.due = a.priority.default_due(super::today(a.created_at));
        }
    }
    if let Some(d) = &input.due {
        a.due = due_from(super::parse_date(d, "due")?, super::today(a.created_at))?;
    }
    title_like("title", &a.title)?;
    title_like("owner", &a.owner)?;
    if input.budget.is_some() {
        a.budget = budget_ok(input.budget)?;
    }
    if let Some(s) = &input.status {
        let s = ActionStatus::parse_field(s, "status")?;
        if s == ActionStatus::Done {
            return Err(RiskError::invalid(
                "status",
                "use close (with evidence and an approver) to mark an action done",
            ));
        }
        a.status = s;
    }
    Ok(a)
}
