//! MFA of the identities at identity providers and code hosts (issue 14).
//!
//! Map: `config` (the `[identity]` section) → one connector per provider (`entra`, `okta`,
//! `github`, `google`) behind [`Connector`], each using `client` (HTTP with paging, `Retry-After`, error
//! bodies) and `creds` (secrets read from files) → plain [`IdentityRecord`]s → `sync` judges them
//! and writes them through `store::identities` (all SQL there). `cli` is the `identity` command;
//! `schedule` runs the syncs inside `serve`.
//!
//! A sync either yields every page of a source or fails: a failed sync writes nothing but the
//! failure, so the last good sync stays and its age is reported (`stale`).

pub mod cli;
pub mod client;
pub mod config;
pub mod creds;
pub mod entra;
pub mod gauges;
pub mod github;
pub mod google;
pub mod okta;
pub mod period;
pub mod schedule;
pub mod sync;

#[cfg(test)]
mod tests;

use serde::Serialize;

/// What kind of account an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A member of the organisation (counted in the KPI).
    Member,
    /// A guest (Entra `userType: Guest`): reported apart.
    Guest,
    /// A GitHub outside collaborator: reported apart.
    OutsideCollaborator,
}

impl AccountKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Member => "member",
            AccountKind::Guest => "guest",
            AccountKind::OutsideCollaborator => "outside_collaborator",
        }
    }
}

/// What the provider says about the account's second factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mfa {
    /// At least one usable factor other than SMS, voice, e-mail or security question.
    Strong,
    /// Only weak factors (SMS, voice, e-mail, security question).
    WeakOnly,
    /// No usable second factor.
    None,
    /// The provider did not say (no registration row, a missing field).
    Unknown,
}

impl Mfa {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mfa::Strong => "strong",
            Mfa::WeakOnly => "weak_only",
            Mfa::None => "none",
            Mfa::Unknown => "unknown",
        }
    }
}

/// One account as a connector reports it: plain facts, no judgement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityRecord {
    /// The provider's stable id.
    pub account_id: String,
    /// Login (UPN, e-mail, GitHub login).
    pub login: String,
    /// Display name (may be empty).
    pub display_name: String,
    /// Active at the provider (Entra `accountEnabled`, Okta `ACTIVE`).
    pub enabled: bool,
    /// Member, guest or outside collaborator.
    pub kind: AccountKind,
    /// Holds an admin role, as far as the provider says.
    pub admin: bool,
    /// Second factors.
    pub mfa: Mfa,
    /// MFA enforced for this account by policy, when the provider says.
    pub enforced: Option<bool>,
    /// The API fields that decided, verbatim names (JSON object); no other personal data.
    pub evidence: serde_json::Value,
}

/// What one successful pull of a source yields.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    /// Every account.
    pub records: Vec<IdentityRecord>,
    /// Source-wide enforcement (GitHub `two_factor_requirement_enabled`), when known.
    pub enforced: Option<bool>,
}

/// Why a sync failed. Never turns into "compliant": the last good sync is kept.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: malformed answer: {message}")]
    Malformed { url: String, message: String },
    #[error("{url}: insufficient permission: {message}")]
    Permission { url: String, message: String },
    #[error("{url}: throttled: {message}")]
    Throttled { url: String, message: String },
}

/// A provider connector: pulls every account of one source.
pub trait Connector {
    /// Pull every page; any failure fails the whole pull.
    fn pull(&mut self) -> impl std::future::Future<Output = Result<Pulled, SyncError>> + Send;
}

/// The judgement of one identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A strong second factor is usable.
    Pass,
    /// Only weak factors (SMS, voice, e-mail).
    Warn,
    /// No second factor.
    Fail,
    /// The provider did not say.
    Unknown,
    /// Disabled, suspended, or a configured service account.
    NotApplicable,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// Judge one record. `service_accounts` lists logins or ids judged `not_applicable`.
pub fn judge(r: &IdentityRecord, service_accounts: &[String]) -> Status {
    if !r.enabled
        || service_accounts
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&r.login) || *s == r.account_id)
    {
        return Status::NotApplicable;
    }
    match r.mfa {
        Mfa::Strong => Status::Pass,
        Mfa::WeakOnly => Status::Warn,
        Mfa::None => Status::Fail,
        Mfa::Unknown => Status::Unknown,
    }
}
