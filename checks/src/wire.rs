//! The report an agent sends to the collector (wire format v1, see docs/wire-format.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::result::CheckResult;

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// Who is reporting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostIdentity {
    pub hostname: String,
    pub machine_id: String,
    pub os: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
}

/// One run of the agent's checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: u32,
    pub report_id: String,
    pub agent_version: String,
    pub collected_at: DateTime<Utc>,
    pub host: HostIdentity,
    pub results: Vec<CheckResult>,
    /// The agent's reporting interval, so the collector can tell when the host went quiet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    /// Reports the agent's spool had to drop since the last delivered one (overflow).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_reports: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
