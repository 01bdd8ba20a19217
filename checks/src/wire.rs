//! The report an agent sends to the collector (wire format v1 and the delta format v2, see
//! docs/wire-format.md), and the rules every identity-like string on the wire obeys.
//!
//! Identity fields (hostname, machine-id, OS, kernel, agent version) end up in logs, terminal
//! tables, dashboards and reports. [`HostIdentity::validate`] is the one check of them, used by the
//! collector's enrolment and ingest before anything logs a byte of them: no control characters
//! (newlines and ESC forge log lines and drive terminals), no bidirectional overrides or isolates
//! (they make a name read differently from what it is), bounded length, and the identity itself
//! (hostname, machine-id) not empty.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::result::{CheckResult, Evidence};

/// The schema of a full report ([`Report`]: what `vigie-agent check --format json` prints and
/// what the agent spools). The collector accepts it on the wire too.
pub const SCHEMA_VERSION: u32 = 1;
/// The schema of the delta report ([`WireReport`]) the agent sends.
pub const SCHEMA_DELTA: u32 = 2;

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

/// SHA-256 (lower-case hex) of a result's canonical JSON, from its parts as the collector stores
/// them: `facts_json` is the facts object and `evidence_json` the array of evidence SHA-256s, both
/// as `serde_json` writes them (compact, object keys sorted). The canonical JSON is the object
/// `{"check","evidence","facts","status","summary"}` in that (sorted) key order, compact, strings
/// escaped as `serde_json` escapes them (see docs/wire-format.md).
pub fn canonical_result_sha256(
    check: &str,
    status: &str,
    summary: &str,
    facts_json: &str,
    evidence_json: &str,
) -> String {
    let text = canonical_result_json(check, status, summary, facts_json, evidence_json);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The canonical JSON text of a result (see [`canonical_result_sha256`]).
pub fn canonical_result_json(
    check: &str,
    status: &str,
    summary: &str,
    facts_json: &str,
    evidence_json: &str,
) -> String {
    format!(
        "{{\"check\":{},\"evidence\":{evidence_json},\"facts\":{facts_json},\"status\":{},\"summary\":{}}}",
        json_string(check),
        json_string(status),
        json_string(summary)
    )
}

/// The JSON array of a result's evidence SHA-256s, in the result's order (what the collector
/// stores in `check_state.evidence`).
pub fn evidence_json<'a>(shas: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<&str> = shas.into_iter().collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

/// The facts object as `serde_json` writes it (keys sorted).
pub fn facts_json(facts: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(facts).unwrap_or_else(|_| "{}".into())
}

impl CheckResult {
    /// SHA-256 of this result's canonical JSON ([`canonical_result_sha256`]).
    pub fn canonical_sha256(&self) -> String {
        canonical_result_sha256(
            &self.check,
            self.status.as_str(),
            &self.summary,
            &facts_json(&self.facts),
            &evidence_json(self.evidence.iter().map(|e| e.sha256.as_str())),
        )
    }
}

/// A delta report (schema 2): like [`Report`], but each check is either a full result or an
/// `unchanged` entry, and evidence the collector holds travels by SHA-256 only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireReport {
    pub schema: u32,
    pub report_id: String,
    pub agent_version: String,
    pub collected_at: DateTime<Utc>,
    pub host: HostIdentity,
    pub results: Vec<WireEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_reports: u64,
}

/// One check in a delta report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum WireEntry {
    /// The check's result is the one the collector acknowledged in report `since`, whose
    /// canonical hash is `result_sha256`.
    Unchanged(Unchanged),
    /// The whole result (its evidence possibly by hash only).
    Full(WireResult),
}

/// `{"check", "since", "result_sha256"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unchanged {
    pub check: String,
    pub since: String,
    pub result_sha256: String,
}

/// A full result whose evidence items may be references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireResult {
    pub check: String,
    pub status: crate::result::Status,
    pub summary: String,
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub evidence: Vec<WireEvidence>,
}

/// An evidence item in full, or `{"sha256"}` alone for evidence the collector holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum WireEvidence {
    Known(EvidenceRef),
    Full(Evidence),
}

/// Evidence sent by hash only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceRef {
    pub sha256: String,
}

impl WireEvidence {
    pub fn sha256(&self) -> &str {
        match self {
            WireEvidence::Known(r) => &r.sha256,
            WireEvidence::Full(e) => &e.sha256,
        }
    }
}

impl WireEntry {
    pub fn check(&self) -> &str {
        match self {
            WireEntry::Unchanged(u) => &u.check,
            WireEntry::Full(r) => &r.check,
        }
    }
}

/// An object with a `since` key is an `unchanged` entry, any other is a full result: the parse
/// errors then name the right fields (`unknown field ...`), which an untagged enum would not.
impl<'de> Deserialize<'de> for WireEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let v = serde_json::Value::Object(m);
        if v.get("since").is_some() || v.get("result_sha256").is_some() {
            serde_json::from_value(v)
                .map(WireEntry::Unchanged)
                .map_err(serde::de::Error::custom)
        } else {
            serde_json::from_value(v)
                .map(WireEntry::Full)
                .map_err(serde::de::Error::custom)
        }
    }
}

/// An object whose only key is `sha256` is a reference; any other is a full evidence item.
impl<'de> Deserialize<'de> for WireEvidence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let only_hash = m.len() == 1 && m.contains_key("sha256");
        let v = serde_json::Value::Object(m);
        if only_hash {
            serde_json::from_value(v)
                .map(WireEvidence::Known)
                .map_err(serde::de::Error::custom)
        } else {
            serde_json::from_value(v)
                .map(WireEvidence::Full)
                .map_err(serde::de::Error::custom)
        }
    }
}

impl WireReport {
    /// A full report as a delta report that holds everything (no `unchanged` entry, every
    /// evidence item in full): how the collector reads schema 1.
    pub fn from_full(r: &Report) -> WireReport {
        WireReport {
            schema: r.schema,
            report_id: r.report_id.clone(),
            agent_version: r.agent_version.clone(),
            collected_at: r.collected_at,
            host: r.host.clone(),
            results: r
                .results
                .iter()
                .map(|c| {
                    WireEntry::Full(WireResult {
                        check: c.check.clone(),
                        status: c.status,
                        summary: c.summary.clone(),
                        facts: c.facts.clone(),
                        evidence: c.evidence.iter().cloned().map(WireEvidence::Full).collect(),
                    })
                })
                .collect(),
            interval_seconds: r.interval_seconds,
            lost_reports: r.lost_reports,
        }
    }

    /// Whether every check is sent in full (no `unchanged` entry, no evidence reference).
    pub fn is_full(&self) -> bool {
        self.results.iter().all(|e| match e {
            WireEntry::Unchanged(_) => false,
            WireEntry::Full(r) => r
                .evidence
                .iter()
                .all(|e| matches!(e, WireEvidence::Full(_))),
        })
    }
}

/// What the collector acknowledged of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckedCheck {
    /// The report that last carried this check's result in full.
    pub since: String,
    /// The canonical hash of that result.
    pub result_sha256: String,
    /// Its evidence SHA-256s.
    pub evidence: Vec<String>,
}

/// The agent's view of what the collector holds: the results it acknowledged per check, so a
/// delta never refers to anything the collector did not acknowledge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acked {
    pub checks: BTreeMap<String, AckedCheck>,
    /// `collected_at` of the last acknowledged report that was sent in full.
    pub last_full_at: Option<DateTime<Utc>>,
}

impl Acked {
    /// Evidence SHA-256s the collector holds for this host's acknowledged results.
    pub fn evidence(&self) -> BTreeSet<&str> {
        self.checks
            .values()
            .flat_map(|c| c.evidence.iter().map(String::as_str))
            .collect()
    }

    /// Whether the next report must be sent in full: nothing acknowledged yet, or the last full
    /// one is `full_every` or more older than `at`.
    pub fn needs_full(&self, at: DateTime<Utc>, full_every: chrono::Duration) -> bool {
        self.last_full_at.is_none_or(|t| at - t >= full_every)
    }

    /// `report` as a delta against what was acknowledged (`full`: every check in full).
    pub fn encode(&self, report: &Report, full: bool) -> WireReport {
        let mut wire = WireReport::from_full(report);
        wire.schema = SCHEMA_DELTA;
        if full {
            return wire;
        }
        let known = self.evidence();
        for (entry, result) in wire.results.iter_mut().zip(&report.results) {
            if let Some(a) = self.checks.get(&result.check) {
                if a.result_sha256 == result.canonical_sha256() {
                    *entry = WireEntry::Unchanged(Unchanged {
                        check: result.check.clone(),
                        since: a.since.clone(),
                        result_sha256: a.result_sha256.clone(),
                    });
                    continue;
                }
            }
            if let WireEntry::Full(r) = entry {
                for e in &mut r.evidence {
                    if known.contains(e.sha256()) {
                        *e = WireEvidence::Known(EvidenceRef {
                            sha256: e.sha256().to_string(),
                        });
                    }
                }
            }
        }
        wire
    }

    /// The collector stored `report`, sent as `sent`: remember its results.
    pub fn acknowledge(&mut self, report: &Report, sent: &WireReport) {
        for (entry, result) in sent.results.iter().zip(&report.results) {
            if matches!(entry, WireEntry::Unchanged(_)) && self.checks.contains_key(&result.check) {
                continue;
            }
            self.checks.insert(
                result.check.clone(),
                AckedCheck {
                    since: report.report_id.clone(),
                    result_sha256: result.canonical_sha256(),
                    evidence: result.evidence.iter().map(|e| e.sha256.clone()).collect(),
                },
            );
        }
        if sent.is_full() {
            self.last_full_at = Some(report.collected_at);
        }
    }
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

    #[test]
    fn the_canonical_result_json_is_the_documented_text() {
        let r = crate::result::CheckResult::new("mfa", crate::Status::Fail, "ssh: \"password\" é")
            .fact("z", 1)
            .fact("a", serde_json::json!({"y": [true, null], "b": "x"}))
            .with_evidence(vec![Evidence::file("/etc/ssh/sshd_config", b"x")]);
        let sha = &r.evidence[0].sha256;
        let text = canonical_result_json(
            &r.check,
            r.status.as_str(),
            &r.summary,
            &facts_json(&r.facts),
            &evidence_json(r.evidence.iter().map(|e| e.sha256.as_str())),
        );
        assert_eq!(
            text,
            format!(
                r#"{{"check":"mfa","evidence":["{sha}"],"facts":{{"a":{{"b":"x","y":[true,null]}},"z":1}},"status":"fail","summary":"ssh: \"password\" é"}}"#
            )
        );
        assert_eq!(
            r.canonical_sha256(),
            hex::encode(Sha256::digest(text.as_bytes()))
        );
    }

    fn full_report(id: &str, results: Vec<CheckResult>) -> Report {
        Report {
            schema: SCHEMA_VERSION,
            report_id: id.into(),
            agent_version: "0.1.0".into(),
            collected_at: "2026-11-24T10:00:00Z".parse().unwrap(),
            host: host(),
            results,
            interval_seconds: Some(3600),
            lost_reports: 0,
        }
    }

    #[test]
    fn a_delta_refers_only_to_what_was_acknowledged_and_parses_back() {
        use crate::Status;
        let ev = |c: &[u8]| Evidence::file("/etc/f", c);
        let a = CheckResult::new("mfa", Status::Pass, "ok").with_evidence(vec![ev(b"1")]);
        let b = CheckResult::new("firewall", Status::Fail, "open").with_evidence(vec![ev(b"2")]);
        let r1 = full_report("r1", vec![a.clone(), b.clone()]);
        let mut acked = Acked::default();
        assert!(acked.needs_full(r1.collected_at, chrono::Duration::hours(24)));
        // Nothing acknowledged: everything in full, even when not asked to be.
        let w1 = acked.encode(&r1, false);
        assert!(w1.is_full() && w1.schema == SCHEMA_DELTA);
        acked.acknowledge(&r1, &w1);
        assert_eq!(acked.last_full_at, Some(r1.collected_at));
        // firewall changes status but keeps its evidence (sent by hash); mfa is unchanged.
        let b2 = CheckResult::new("firewall", Status::Pass, "closed").with_evidence(vec![ev(b"2")]);
        let mut r2 = full_report("r2", vec![a.clone(), b2]);
        r2.collected_at += chrono::Duration::hours(1);
        assert!(!acked.needs_full(r2.collected_at, chrono::Duration::hours(24)));
        let w2 = acked.encode(&r2, false);
        assert_eq!(
            w2.results[0],
            WireEntry::Unchanged(Unchanged {
                check: "mfa".into(),
                since: "r1".into(),
                result_sha256: a.canonical_sha256(),
            })
        );
        let WireEntry::Full(f) = &w2.results[1] else {
            panic!("changed result in full")
        };
        assert_eq!(
            f.evidence,
            vec![WireEvidence::Known(EvidenceRef {
                sha256: b.evidence[0].sha256.clone()
            })]
        );
        // The JSON parses back to the same entries (an object with `since` is an unchanged
        // entry, one with only `sha256` an evidence reference).
        let text = serde_json::to_string(&w2).unwrap();
        assert!(text.contains(r#"{"sha256":""#), "{text}");
        let back: WireReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, w2);
        // Unknown fields are named, in either kind of entry.
        let bad = text.replacen(r#""since":"#, r#""extra":1,"since":"#, 1);
        let e = serde_json::from_str::<WireReport>(&bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `extra`"), "{e}");
        acked.acknowledge(&r2, &w2);
        assert_eq!(acked.checks["mfa"].since, "r1", "unchanged keeps its since");
        assert_eq!(acked.checks["firewall"].since, "r2");
        assert_eq!(acked.last_full_at, Some(r1.collected_at), "r2 was a delta");
        // Past the re-anchor period the next report goes in full.
        assert!(acked.needs_full(
            r1.collected_at + chrono::Duration::hours(24),
            chrono::Duration::hours(24)
        ));
        assert!(acked.encode(&r2, true).is_full());
    }
}
