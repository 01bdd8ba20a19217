//! Exceptions ("dérogations", security assurance plan §10–11): a check excused on a host, a host
//! group or the whole fleet, for a bounded time. Never permanent: the expiry is mandatory and at
//! most one year after the start. While active, a matching `fail` or `warn` counts as `excepted`
//! everywhere (fleet aggregates, KPIs, CIS, metrics, reports); expired exceptions stop applying by
//! themselves, and one expiring within 30 days is flagged.
//!
//! A group scope is resolved to the group's hostname globs when the exception is granted and the
//! globs are stored with it, so matching needs no configuration and a later config edit does not
//! silently widen or narrow a granted exception.

use serde::Serialize;

use super::{ser_opt_ts, ser_ts, string_enum, RiskError};
use crate::risk::config::HostsSection;

/// Seconds before expiry from which an exception is `expiring`.
pub const EXPIRING_WITHIN_S: i64 = 30 * 86_400;

string_enum!(
    /// What an exception covers.
    ScopeKind {
        /// One host, by hostname.
        Host = "host",
        /// A `[[hosts.groups]]` group (tag).
        Group = "group",
        /// Every host.
        Fleet = "fleet"
    }
);

string_enum!(
    /// Where an exception is in its life.
    ExceptionState {
        /// Starts in the future.
        Scheduled = "scheduled",
        /// In force, expiring in more than 30 days.
        Active = "active",
        /// In force, expiring within 30 days.
        Expiring = "expiring",
        /// Past its expiry.
        Expired = "expired",
        /// Withdrawn before its expiry.
        Revoked = "revoked"
    }
);

/// A granted exception.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exception {
    /// Row id.
    pub id: i64,
    /// The excused check.
    pub check: String,
    /// Scope kind.
    pub scope: ScopeKind,
    /// Hostname (host), group name (group) or empty (fleet).
    pub scope_value: String,
    /// Hostname globs the scope resolved to when granted.
    pub host_patterns: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requester: String,
    /// Who approved (holder of the approving role).
    pub approver: String,
    /// Start (inclusive).
    #[serde(serialize_with = "ser_ts")]
    pub starts_at: i64,
    /// Expiry (exclusive).
    #[serde(serialize_with = "ser_ts")]
    pub expires_at: i64,
    /// When revoked, if it was.
    #[serde(serialize_with = "ser_opt_ts")]
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
    /// Creation time.
    #[serde(serialize_with = "ser_ts")]
    pub created_at: i64,
    /// Last change.
    #[serde(serialize_with = "ser_ts")]
    pub updated_at: i64,
}

/// A host as exceptions see it.
#[derive(Debug, Clone, Copy)]
pub struct HostRef<'a> {
    /// Its hostname.
    pub hostname: &'a str,
}

/// A status after exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectiveStatus {
    /// Unchanged (the wire status name).
    Reported(&'static str),
    /// A `fail` or `warn` covered by the active exception with this id.
    Excepted(i64),
}

impl EffectiveStatus {
    /// The exception that excuses the result, if one does.
    pub fn exception_id(self) -> Option<i64> {
        match self {
            EffectiveStatus::Reported(_) => None,
            EffectiveStatus::Excepted(id) => Some(id),
        }
    }

    /// The status name counted in aggregates: the reported one, or `excepted`.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectiveStatus::Reported(s) => s,
            EffectiveStatus::Excepted(_) => "excepted",
        }
    }
}

impl Exception {
    /// Its state at `now`.
    pub fn state(&self, now: i64) -> ExceptionState {
        if self.revoked_at.is_some_and(|r| r <= now) {
            ExceptionState::Revoked
        } else if now < self.starts_at {
            ExceptionState::Scheduled
        } else if now >= self.expires_at {
            ExceptionState::Expired
        } else if self.expires_at - now <= EXPIRING_WITHIN_S {
            ExceptionState::Expiring
        } else {
            ExceptionState::Active
        }
    }

    /// True when in force at `now` (active or expiring).
    pub fn in_force(&self, now: i64) -> bool {
        matches!(
            self.state(now),
            ExceptionState::Active | ExceptionState::Expiring
        )
    }

    /// True when it covers `check` on `host` (ignoring time).
    pub fn covers(&self, host: HostRef<'_>, check: &str) -> bool {
        self.check == check
            && self
                .host_patterns
                .iter()
                .any(|p| super::glob_matches(p, host.hostname))
    }
}

/// The status a result counts as: a `fail` or `warn` covered by an exception in force at `now`
/// counts as `excepted`; anything else (including `error`, which is "could not determine") keeps
/// its reported status.
pub fn apply_exceptions(
    status: &str,
    host: HostRef<'_>,
    check: &str,
    now: i64,
    exceptions: &[Exception],
) -> EffectiveStatus {
    let reported = vigie_checks::Status::parse(status)
        .map(|s| s.as_str())
        .unwrap_or("error");
    if !matches!(reported, "fail" | "warn") {
        return EffectiveStatus::Reported(reported);
    }
    exceptions
        .iter()
        .find(|e| e.in_force(now) && e.covers(host, check))
        .map(|e| EffectiveStatus::Excepted(e.id))
        .unwrap_or(EffectiveStatus::Reported(reported))
}

/// A request for an exception, before validation.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionRequest {
    /// The check to excuse.
    pub check: String,
    /// `host`, `group` or `fleet`.
    pub scope: String,
    /// Hostname or group name (empty for `fleet`).
    #[serde(default)]
    pub scope_value: String,
    /// Why.
    pub reason: String,
    /// Who asks.
    pub requester: String,
    /// Who approves.
    pub approver: String,
    /// Start: RFC 3339 or YYYY-MM-DD; default now.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// Expiry: RFC 3339 or YYYY-MM-DD (midnight UTC); mandatory (absent is refused by
    /// `validate_request` as 422 naming the field, not by the JSON parser).
    #[serde(default)]
    pub expires_at: String,
}

/// A validated exception, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewException {
    /// The check.
    pub check: String,
    /// Scope kind.
    pub scope: ScopeKind,
    /// Scope value.
    pub scope_value: String,
    /// Resolved hostname globs.
    pub host_patterns: Vec<String>,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requester: String,
    /// Who approved.
    pub approver: String,
    /// Start.
    pub starts_at: i64,
    /// Expiry.
    pub expires_at: i64,
}

/// The latest allowed expiry for an exception starting at `start`: the same instant one calendar
/// year later.
pub fn max_expiry(start: i64) -> i64 {
    chrono::DateTime::from_timestamp(start, 0)
        .and_then(|d| d.checked_add_months(chrono::Months::new(12)))
        .map(|d| d.timestamp())
        .unwrap_or(start + 365 * 86_400)
}

/// Validate a request: known check, resolvable scope, approver holding the approving role,
/// expiry after the start and at most one year after it.
pub fn validate_request(
    r: &ExceptionRequest,
    hosts: &HostsSection,
    is_approver: impl Fn(&str) -> bool,
    approver_role: &str,
    now: i64,
) -> Result<NewException, RiskError> {
    let check = r.check.trim();
    if check == "inventory" || vigie_checks::find(check).is_none() {
        return Err(RiskError::invalid(
            "check",
            format!("unknown check {check:?}"),
        ));
    }
    let scope = ScopeKind::parse_field(&r.scope, "scope")?;
    let value = r.scope_value.trim().to_string();
    let host_patterns = match scope {
        ScopeKind::Fleet => {
            if !value.is_empty() {
                return Err(RiskError::invalid(
                    "scope_value",
                    "must be empty for scope fleet",
                ));
            }
            vec!["*".to_string()]
        }
        ScopeKind::Host => {
            if value.is_empty() || value.contains(['*', '?']) {
                return Err(RiskError::invalid(
                    "scope_value",
                    "scope host needs one exact hostname (use a [[hosts.groups]] group for globs)",
                ));
            }
            vec![value.clone()]
        }
        ScopeKind::Group => hosts
            .groups
            .iter()
            .find(|g| g.name == value)
            .map(|g| g.hostnames.clone())
            .ok_or_else(|| {
                RiskError::invalid(
                    "scope_value",
                    format!("no [[hosts.groups]] entry named {value:?}"),
                )
            })?,
    };
    for (field, v) in [
        ("reason", &r.reason),
        ("requester", &r.requester),
        ("approver", &r.approver),
    ] {
        if v.trim().is_empty() {
            return Err(RiskError::invalid(field, "is required"));
        }
    }
    for (field, v) in [
        ("scope_value", &r.scope_value),
        ("requester", &r.requester),
        ("approver", &r.approver),
    ] {
        if !v.trim().is_empty() {
            crate::host_identity::check_title(field, v.trim())
                .map_err(|e| RiskError::invalid(field, e.problem))?;
        }
    }
    crate::host_identity::check_text("reason", &r.reason)
        .map_err(|m| RiskError::invalid("reason", m))?;
    if !is_approver(&r.approver) {
        return Err(RiskError::invalid(
            "approver",
            format!(
                "{:?} does not hold the approving role {approver_role:?} (actions.roles.{approver_role})",
                r.approver
            ),
        ));
    }
    let starts_at = match &r.starts_at {
        Some(s) if !s.trim().is_empty() => super::parse_instant(s, "starts_at")?,
        _ => now,
    };
    if r.expires_at.trim().is_empty() {
        return Err(RiskError::invalid(
            "expires_at",
            "is mandatory: an exception is never permanent",
        ));
    }
    let expires_at = super::parse_instant(&r.expires_at, "expires_at")?;
    if expires_at <= starts_at {
        return Err(RiskError::invalid("expires_at", "must be after starts_at"));
    }
    if expires_at > max_expiry(starts_at) {
        return Err(RiskError::invalid(
            "expires_at",
            format!(
                "{} is more than one year after the start ({}); the latest allowed is {}",
                crate::store::hosts::rfc3339(expires_at),
                crate::store::hosts::rfc3339(starts_at),
                crate::store::hosts::rfc3339(max_expiry(starts_at)),
            ),
        ));
    }
    Ok(NewException {
        check: check.to_string(),
        scope,
        scope_value: value,
        host_patterns,
        reason: r.reason.trim().to_string(),
        requester: r.requester.trim().to_string(),
        approver: r.approver.trim().to_string(),
        starts_at,
        expires_at,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::risk::config::HostGroup;

    const DAY: i64 = 86_400;

    /// An exception for tests.
    pub fn ex(id: i64, check: &str, patterns: &[&str], start: i64, expiry: i64) -> Exception {
        Exception {
            id,
            check: check.into(),
            scope: ScopeKind::Group,
            scope_value: "g".into(),
            host_patterns: patterns.iter().map(|s| s.to_string()).collect(),
            reason: "r".into(),
            requester: "bob".into(),
            approver: "alice".into(),
            starts_at: start,
            expires_at: expiry,
            revoked_at: None,
            revoked_by: None,
            created_at: start,
            updated_at: start,
        }
    }

    #[test]
    fn states_follow_time() {
        let e = ex(1, "mfa", &["*"], 100 * DAY, 200 * DAY);
        assert_eq!(e.state(99 * DAY), ExceptionState::Scheduled);
        assert_eq!(e.state(100 * DAY), ExceptionState::Active);
        // 200 - 170 = 30 days left: expiring (within 30 days, inclusive).
        assert_eq!(e.state(169 * DAY), ExceptionState::Active);
        assert_eq!(e.state(170 * DAY), ExceptionState::Expiring);
        // Auto-expiry: at the expiry instant it no longer applies, with nobody doing anything.
        assert_eq!(e.state(200 * DAY), ExceptionState::Expired);
        let mut r = e.clone();
        r.revoked_at = Some(150 * DAY);
        assert_eq!(r.state(150 * DAY), ExceptionState::Revoked);
        assert_eq!(r.state(149 * DAY), ExceptionState::Active);
    }

    #[test]
    fn apply_turns_matching_failures_into_excepted_while_in_force() {
        let list = vec![
            ex(7, "mfa", &["db-*"], 10, 1000),
            ex(8, "patch_age", &["*"], 10, 20),
        ];
        let db = HostRef { hostname: "db-01" };
        let web = HostRef { hostname: "web-01" };
        assert_eq!(
            apply_exceptions("fail", db, "mfa", 500, &list),
            EffectiveStatus::Excepted(7)
        );
        assert_eq!(
            apply_exceptions("warn", db, "mfa", 500, &list).as_str(),
            "excepted"
        );
        // Other host, other check, pass/error statuses, or outside the window: unchanged.
        assert_eq!(
            apply_exceptions("fail", web, "mfa", 500, &list).as_str(),
            "fail"
        );
        assert_eq!(
            apply_exceptions("fail", db, "disk_encryption", 500, &list).as_str(),
            "fail"
        );
        assert_eq!(
            apply_exceptions("pass", db, "mfa", 500, &list).as_str(),
            "pass"
        );
        assert_eq!(
            apply_exceptions("error", db, "mfa", 500, &list).as_str(),
            "error"
        );
        assert_eq!(
            apply_exceptions("fail", db, "mfa", 1000, &list).as_str(),
            "fail"
        );
        assert_eq!(
            apply_exceptions("fail", web, "patch_age", 15, &list).as_str(),
            "excepted"
        );
        assert_eq!(
            apply_exceptions("fail", web, "patch_age", 20, &list).as_str(),
            "fail"
        );
    }

    fn req(expiry: &str) -> ExceptionRequest {
        ExceptionRequest {
            check: "disk_encryption".into(),
            scope: "group".into(),
            scope_value: "legacy".into(),
            reason: "hardware without TPM until replacement".into(),
            requester: "bob".into(),
            approver: "alice".into(),
            starts_at: Some("2025-03-01".into()),
            expires_at: expiry.into(),
        }
    }

    #[test]
    fn at_most_one_year_and_approver_required() {
        let hosts = HostsSection {
            default_criticality: 2,
            groups: vec![HostGroup {
                name: "legacy".into(),
                hostnames: vec!["old-*".into()],
                criticality: None,
            }],
        };
        let ok = |p: &str| p == "alice";
        // 2025-03-01 + 1 year = 2026-03-01: allowed exactly; one day more is refused.
        let n = validate_request(&req("2026-03-01"), &hosts, ok, "rssi", 0).unwrap();
        assert_eq!(n.host_patterns, vec!["old-*".to_string()]);
        assert_eq!(n.expires_at - n.starts_at, 365 * DAY);
        let e = validate_request(&req("2026-03-02"), &hosts, ok, "rssi", 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("expires_at") && e.contains("more than one year"),
            "{e}"
        );
        let e = validate_request(&req(""), &hosts, ok, "rssi", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("never permanent"), "{e}");
        let e = validate_request(&req("2025-06-01"), &hosts, |_| false, "rssi", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("approving role \"rssi\""), "{e}");
        let mut r = req("2025-06-01");
        r.scope_value = "nope".into();
        let e = validate_request(&r, &hosts, ok, "rssi", 0)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("scope_value"), "{e}");
    }
}
