//! The report an agent sends to the collector (wire format v1, see docs/wire-format.md), and the
//! rules every identity-like string on the wire obeys.
//!
//! Identity fields (hostname, machine-id, OS, kernel, agent version) end up in logs, terminal
//! tables, dashboards and reports. [`HostIdentity::validate`] is the one check of them, used by the
//! collector's enrolment and ingest before anything logs a byte of them: no control characters
//! (newlines and ESC forge log lines and drive terminals), no bidirectional overrides or isolates
//! (they make a name read differently from what it is), bounded length, and the identity itself
//! (hostname, machine-id) not empty.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::result::CheckResult;

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// Longest host identity field (hostname, os, os_version, kernel, arch, agent_version), in bytes.
pub const MAX_IDENTITY_FIELD: usize = 255;
/// Longest machine-id, in bytes.
pub const MAX_MACHINE_ID: usize = 128;

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

/// Why an identity-like field was refused. The message names the field and never repeats the
/// refused value, so it is safe to log and to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct FieldError {
    /// The field, as it is spelt in the JSON (`host.hostname`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// True for characters that must never appear in a field shown on one line: control characters
/// (C0, DEL, C1), line and paragraph separators, and the bidirectional marks, embeddings,
/// overrides and isolates (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069).
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// Check one single-line text field: at most `max` bytes, no [forbidden character](is_forbidden_char),
/// and not empty (nor only whitespace) unless `may_be_empty`.
pub fn check_line(
    field: &str,
    value: &str,
    max: usize,
    may_be_empty: bool,
) -> Result<(), FieldError> {
    let err = |problem: String| FieldError {
        field: field.to_string(),
        problem,
    };
    if !may_be_empty && value.trim().is_empty() {
        return Err(err("must not be empty".into()));
    }
    if value.len() > max {
        return Err(err(format!(
            "is {} bytes; at most {max} allowed",
            value.len()
        )));
    }
    if let Some((at, c)) = value.char_indices().find(|(_, c)| is_forbidden_char(*c)) {
        return Err(err(format!(
            "contains U+{:04X} at byte {at}: control, line-separator and bidirectional-override \
             characters are not allowed",
            c as u32
        )));
    }
    Ok(())
}

impl HostIdentity {
    /// Validate every field (see the module doc). `prefix` is how the identity is named in the
    /// request (`host`), so errors read `host.hostname must not be empty`.
    pub fn validate(&self, prefix: &str) -> Result<(), FieldError> {
        let name = |f: &str| format!("{prefix}.{f}");
        check_line(&name("hostname"), &self.hostname, MAX_IDENTITY_FIELD, false)?;
        check_line(&name("machine_id"), &self.machine_id, MAX_MACHINE_ID, false)?;
        // A machine-id is an opaque token (hex on Linux, a UUID elsewhere): printable ASCII only.
        if let Some(at) = self.machine_id.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(FieldError {
                field: name("machine_id"),
                problem: format!(
                    "has a space or a non-ASCII byte at byte {at}; printable ASCII only"
                ),
            });
        }
        // What the agent could not read is sent empty (e.g. no VERSION_ID in os-release).
        for (field, value) in [
            ("os", &self.os),
            ("os_version", &self.os_version),
            ("kernel", &self.kernel),
            ("arch", &self.arch),
        ] {
            check_line(&name(field), value, MAX_IDENTITY_FIELD, true)?;
        }
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostIdentity {
        HostIdentity {
            hostname: "web-01".into(),
            machine_id: "4c4d1f3a9b8e4d2f8a7c6b5e4d3c2b1a".into(),
            os: "debian".into(),
            os_version: "12".into(),
            kernel: "6.1.0-27-amd64".into(),
            arch: "x86_64".into(),
        }
    }

    #[test]
    fn a_real_identity_passes_and_unknown_os_fields_may_be_empty() {
        host().validate("host").unwrap();
        let h = HostIdentity {
            os: String::new(),
            os_version: String::new(),
            kernel: String::new(),
            arch: String::new(),
            ..host()
        };
        h.validate("host").unwrap();
        // Non-ASCII letters are names, not attacks.
        let h = HostIdentity {
            hostname: "poste-comptabilité".into(),
            ..host()
        };
        h.validate("host").unwrap();
    }

    #[test]
    fn hostile_identities_are_refused_naming_the_field_not_the_value() {
        let cases: Vec<(HostIdentity, &str, &str)> = vec![
            (
                HostIdentity {
                    hostname: "host\nname".into(),
                    ..host()
                },
                "host.hostname",
                "U+000A",
            ),
            (
                HostIdentity {
                    hostname: "\u{1b}[31mred".into(),
                    ..host()
                },
                "host.hostname",
                "U+001B",
            ),
            (
                HostIdentity {
                    hostname: "abc\u{202E}gpj.exe".into(),
                    ..host()
                },
                "host.hostname",
                "U+202E",
            ),
            (
                HostIdentity {
                    hostname: "a\u{2067}b".into(),
                    ..host()
                },
                "host.hostname",
                "U+2067",
            ),
            (
                HostIdentity {
                    hostname: "a\u{0085}b".into(),
                    ..host()
                },
                "host.hostname",
                "U+0085",
            ),
            (
                HostIdentity {
                    hostname: "h".repeat(300),
                    ..host()
                },
                "host.hostname",
                "300 bytes",
            ),
            (
                HostIdentity {
                    hostname: "  ".into(),
                    ..host()
                },
                "host.hostname",
                "empty",
            ),
            (
                HostIdentity {
                    machine_id: "".into(),
                    ..host()
                },
                "host.machine_id",
                "empty",
            ),
            (
                HostIdentity {
                    machine_id: "ab\rcd".into(),
                    ..host()
                },
                "host.machine_id",
                "U+000D",
            ),
            (
                HostIdentity {
                    machine_id: "ab cd".into(),
                    ..host()
                },
                "host.machine_id",
                "printable ASCII",
            ),
            (
                HostIdentity {
                    machine_id: "é".repeat(10),
                    ..host()
                },
                "host.machine_id",
                "printable ASCII",
            ),
            (
                HostIdentity {
                    machine_id: "m".repeat(129),
                    ..host()
                },
                "host.machine_id",
                "129 bytes",
            ),
            (
                HostIdentity {
                    os: "debian\u{1b}]0;owned\u{7}".into(),
                    ..host()
                },
                "host.os",
                "U+001B",
            ),
            (
                HostIdentity {
                    os_version: "12\n".into(),
                    ..host()
                },
                "host.os_version",
                "U+000A",
            ),
            (
                HostIdentity {
                    kernel: "6.1\u{2028}".into(),
                    ..host()
                },
                "host.kernel",
                "U+2028",
            ),
            (
                HostIdentity {
                    arch: "x".repeat(256),
                    ..host()
                },
                "host.arch",
                "256 bytes",
            ),
        ];
        for (h, field, problem) in cases {
            let e = h.validate("host").unwrap_err();
            assert_eq!(e.field, field, "{h:?}");
            let msg = e.to_string();
            assert!(msg.starts_with(field) && msg.contains(problem), "{msg}");
            assert!(
                !msg.chars().any(is_forbidden_char),
                "{msg:?} repeats the value"
            );
        }
    }
}
