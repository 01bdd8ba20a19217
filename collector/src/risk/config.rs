//! The risk-related configuration sections: `[risk]` (matrix, review period, fleet scenarios),
//! `[hosts]` (criticality and groups by hostname glob), `[actions]` (who may approve a close) and
//! `[webhooks]` (outgoing notifications). Typed, `deny_unknown_fields`, validated at start by
//! [`validate`], whose errors name the key.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[risk]`: the register.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSection {
    /// Days between reviews of a risk (next review date of a new or reviewed risk). Default 90.
    pub review_days: u32,
    /// `[risk.matrix]`: how likelihood × impact maps to a level.
    pub matrix: MatrixSection,
    /// Share of evaluated hosts failing at which a fleet risk's likelihood becomes 2, 3 and 4 (any
    /// failing host makes it at least 1). Default `[0.10, 0.25, 0.50]`.
    pub likelihood_shares: [f64; 3],
    /// `[risk.scenarios.<check>]`: per-check fleet risk scenarios, over the shipped defaults.
    pub scenarios: BTreeMap<String, ScenarioSection>,
}

impl Default for RiskSection {
    fn default() -> Self {
        RiskSection {
            review_days: 90,
            matrix: MatrixSection::default(),
            likelihood_shares: [0.10, 0.25, 0.50],
            scenarios: BTreeMap::new(),
        }
    }
}

/// `[risk.matrix]`: bands over the product likelihood × impact (1..16), or an explicit grid.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixSection {
    /// Smallest product that is `medium`. Default 4.
    pub medium: u8,
    /// Smallest product that is `high`. Default 8.
    pub high: u8,
    /// Smallest product that is `critical`. Default 12.
    pub critical: u8,
    /// Explicit levels: 4 rows (likelihood 1..4) of 4 level names (impact 1..4). Overrides the bands.
    pub grid: Option<Vec<Vec<String>>>,
}

impl Default for MatrixSection {
    fn default() -> Self {
        MatrixSection {
            medium: 4,
            high: 8,
            critical: 12,
            grid: None,
        }
    }
}

/// `[risk.scenarios.<check>]`: overrides of one fleet risk scenario; unset keys keep the default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioSection {
    /// Track this check as a fleet risk. Default true for the shipped scenarios.
    pub enabled: bool,
    /// Title of the risk.
    pub title: Option<String>,
    /// The scenario (what could happen).
    pub scenario: Option<String>,
    /// `reduce`, `accept`, `transfer` or `avoid`.
    pub treatment: Option<String>,
    /// Owner of the risk.
    pub owner: Option<String>,
}

impl Default for ScenarioSection {
    fn default() -> Self {
        ScenarioSection {
            enabled: true,
            title: None,
            scenario: None,
            treatment: None,
            owner: None,
        }
    }
}

/// `[hosts]`: criticality and groups (tags) of hosts, by hostname glob.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostsSection {
    /// Criticality (1..4) of a host no group gives one. Default 2.
    pub default_criticality: u8,
    /// `[[hosts.groups]]`: named groups; a host belongs to every group one of whose globs matches.
    pub groups: Vec<HostGroup>,
}

impl Default for HostsSection {
    fn default() -> Self {
        HostsSection {
            default_criticality: 2,
            groups: Vec::new(),
        }
    }
}

/// One `[[hosts.groups]]` entry: a tag carried by the hosts its globs match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostGroup {
    /// The group's name (the tag), used by exceptions' `group` scope.
    pub name: String,
    /// Hostname globs (`*` any run, `?` one character), e.g. `["db-*", "erp"]`.
    pub hostnames: Vec<String>,
    /// Criticality (1..4) of the group's hosts; a host takes the highest of its groups.
    #[serde(default)]
    pub criticality: Option<u8>,
}

/// `[actions]`: the improvement plan.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsSection {
    /// Role whose holders may approve closing an action or granting an exception. Default `rssi`.
    pub approver_role: String,
    /// `[actions.roles]`: role name → people holding it, e.g. `rssi = ["alice@example.org"]`.
    pub roles: BTreeMap<String, Vec<String>>,
}

impl Default for ActionsSection {
    fn default() -> Self {
        ActionsSection {
            approver_role: "rssi".into(),
            roles: BTreeMap::new(),
        }
    }
}

impl ActionsSection {
    /// True when `person` holds the approving role.
    pub fn is_approver(&self, person: &str) -> bool {
        self.roles
            .get(&self.approver_role)
            .is_some_and(|people| people.iter().any(|p| p == person.trim()))
    }
}

/// `[webhooks]`: outgoing notifications, delivered in the background with retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksSection {
    /// Attempts before a notification is given up (`dead`). Default 8.
    pub max_attempts: u32,
    /// Delay before the first retry in seconds; doubles at each attempt, capped at 6 hours. Default 30.
    pub backoff_seconds: u64,
    /// Timeout of one delivery in seconds. Default 10.
    pub timeout_seconds: u64,
    /// Seconds between two looks at the outbox. Default 5.
    pub poll_seconds: u64,
    /// `[[webhooks.targets]]`: where to send.
    pub targets: Vec<WebhookTarget>,
}

impl Default for WebhooksSection {
    fn default() -> Self {
        WebhooksSection {
            max_attempts: 8,
            backoff_seconds: 30,
            timeout_seconds: 10,
            poll_seconds: 5,
            targets: Vec::new(),
        }
    }
}

/// Payload shape of a webhook target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// `{"event", "title", "text", "data", "at"}`.
    Generic,
    /// Slack incoming webhook (`{"text"}` with mrkdwn).
    Slack,
    /// Microsoft Teams incoming webhook (MessageCard).
    Teams,
}

impl WebhookKind {
    /// The name used in the outbox and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Generic => "generic",
            WebhookKind::Slack => "slack",
            WebhookKind::Teams => "teams",
        }
    }
}

/// One `[[webhooks.targets]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookTarget {
    /// `generic`, `slack` or `teams`.
    pub kind: WebhookKind,
    /// `http://` or `https://` URL.
    pub url: String,
    /// Events sent to this target (see `EVENTS`); empty means all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// The notification events.
pub const EVENTS: &[&str] = &[
    "risk_high",
    "action_p1_overdue",
    "exception_expiring",
    "incident_deadline",
    "identity_admin_without_mfa",
];

const TREATMENTS: &[&str] = &["reduce", "accept", "transfer", "avoid"];
const LEVELS: &[&str] = &["low", "medium", "high", "critical"];

/// Validate the four sections; errors name the key.
pub fn validate(
    risk: &RiskSection,
    hosts: &HostsSection,
    actions: &ActionsSection,
    webhooks: &WebhooksSection,
) -> Result<(), String> {
    if !(1..=3660).contains(&risk.review_days) {
        return Err("risk.review_days must be between 1 and 3660".into());
    }
    let m = &risk.matrix;
    if !(1 <= m.medium && m.medium < m.high && m.high < m.critical && m.critical <= 16) {
        return Err(format!(
            "risk.matrix: need 1 <= medium < high < critical <= 16 (got medium = {}, high = {}, critical = {})",
            m.medium, m.high, m.critical
        ));
    }
    if let Some(grid) = &m.grid {
        if grid.len() != 4 || grid.iter().any(|r| r.len() != 4) {
            return Err(
                "risk.matrix.grid must be 4 rows (likelihood 1..4) of 4 levels (impact 1..4)"
                    .into(),
            );
        }
        for (i, row) in grid.iter().enumerate() {
            for (j, l) in row.iter().enumerate() {
                if !LEVELS.contains(&l.as_str()) {
                    return Err(format!(
                        "risk.matrix.grid[{i}][{j}] = {l:?} must be one of low, medium, high, critical"
                    ));
                }
            }
        }
    }
    let s = &risk.likelihood_shares;
    if !(0.0 < s[0] && s[0] < s[1] && s[1] < s[2] && s[2] <= 1.0) {
        return Err(format!(
            "risk.likelihood_shares must be increasing shares in (0, 1] (got {s:?})"
        ));
    }
    for (check, sc) in &risk.scenarios {
        if check == "inventory" || vigie_checks::find(check).is_none() {
            return Err(format!(
                "risk.scenarios.{check}: unknown check (known: disk_encryption, mfa, backup_freshness, patch_age, password_policy)"
            ));
        }
        if let Some(t) = &sc.treatment {
            if !TREATMENTS.contains(&t.as_str()) {
                return Err(format!(
                    "risk.scenarios.{check}.treatment = {t:?} must be reduce, accept, transfer or avoid"
                ));
            }
        }
    }
    if !(1..=4).contains(&hosts.default_criticality) {
        return Err("hosts.default_criticality must be between 1 and 4".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, g) in hosts.groups.iter().enumerate() {
        if g.name.trim().is_empty() || !names.insert(g.name.as_str()) {
            return Err(format!(
                "hosts.groups[{i}].name = {:?} must be non-empty and unique",
                g.name
            ));
        }
        if g.hostnames.is_empty() || g.hostnames.iter().any(|h| h.trim().is_empty()) {
            return Err(format!(
                "hosts.groups[{i}].hostnames must list at least one non-empty glob"
            ));
        }
        if let Some(c) = g.criticality {
            if !(1..=4).contains(&c) {
                return Err(format!(
                    "hosts.groups[{i}].criticality = {c} must be between 1 and 4"
                ));
            }
        }
    }
    if actions.approver_role.trim().is_empty() {
        return Err("actions.approver_role must not be empty".into());
    }
    if webhooks.max_attempts == 0 || webhooks.max_attempts > 100 {
        return Err("webhooks.max_attempts must be between 1 and 100".into());
    }
    if webhooks.timeout_seconds == 0 || webhooks.poll_seconds == 0 {
        return Err("webhooks.timeout_seconds and webhooks.poll_seconds must be at least 1".into());
    }
    for (i, t) in webhooks.targets.iter().enumerate() {
        if !(t.url.starts_with("https://") || t.url.starts_with("http://")) {
            return Err(format!(
                "webhooks.targets[{i}].url = {:?} must start with https:// or http://",
                t.url
            ));
        }
        for e in &t.events {
            if !EVENTS.contains(&e.as_str()) {
                return Err(format!(
                    "webhooks.targets[{i}].events: unknown event {e:?} (known: {})",
                    EVENTS.join(", ")
                ));
            }
        }
    }
    Ok(())
}
