//! The outcome of one check: status, summary, facts and evidence.
//!
//! These are also the wire types for results (see `wire.rs` for the report around them).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How far an evidence excerpt may grow before it is cut; the SHA-256 always covers the whole
/// (redacted) content.
pub const EXCERPT_LIMIT: usize = 2048;

/// What a check concluded.
///
/// `Error` means "could not determine": it is never shown or counted as a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Error,
    NotApplicable,
}

impl Status {
    /// All statuses, in display order.
    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::Warn,
        Status::Fail,
        Status::Error,
        Status::NotApplicable,
    ];

    /// The wire name (`pass`, `fail`, `warn`, `error`, `not_applicable`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::NotApplicable => "not_applicable",
        }
    }

    /// Parse a wire name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// True for statuses that need someone's attention (the agent's exit code 1).
    pub fn needs_attention(self) -> bool {
        matches!(self, Status::Warn | Status::Fail | Status::Error)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A file that was read (its host path is the source).
    File,
    /// A command that was run (program path and argv are the source).
    Command,
    /// A directory listing.
    Directory,
    /// Facts gathered from the system APIs (sysinfo).
    System,
}

impl EvidenceKind {
    /// The wire name (`file`, `command`, `directory`, `system`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::File => "file",
            EvidenceKind::Command => "command",
            EvidenceKind::Directory => "directory",
            EvidenceKind::System => "system",
        }
    }
}

/// What a check read or ran, an excerpt of it, and the SHA-256 of the whole content, all
/// redacted ([`crate::redact`]).
///
/// Outside this module evidence can only be built by [`Evidence::new`] and its shorthands, which
/// redact before anything else (the private field forbids struct literals), or deserialised from
/// the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub source: String,
    pub excerpt: String,
    pub sha256: String,
    #[serde(skip)]
    _built: Built,
}

/// Proof that an [`Evidence`] went through [`Evidence::new`] (or came off the wire).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Built;

impl Evidence {
    /// Evidence for `content` read from `source`: source and content are redacted first
    /// ([`crate::redact::content`]), then hashed (SHA-256 of the whole redacted content as UTF-8)
    /// and cut at [`EXCERPT_LIMIT`] bytes.
    pub fn new(kind: EvidenceKind, source: impl Into<String>, content: &[u8]) -> Evidence {
        let raw_source = source.into();
        let text = crate::redact::content(kind, &raw_source, &String::from_utf8_lossy(content));
        let source = crate::redact::text(&raw_source);
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let excerpt = if text.len() > EXCERPT_LIMIT {
            let mut cut = EXCERPT_LIMIT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            // Whole lines when there are any: a line cut in the middle of a `<redacted>` marker
            // would be redacted differently the next time (the collector's migration redacts
            // stored excerpts again and must find nothing to change).
            if let Some(nl) = text[..cut]
                .rfind('\n')
                .filter(|&nl| nl >= EXCERPT_LIMIT / 2)
            {
                cut = nl;
            }
            format!("{}\n[… {} more bytes]", &text[..cut], text.len() - cut)
        } else {
            text
        };
        Evidence {
            kind,
            source,
            excerpt,
            sha256,
            _built: Built,
        }
    }

    /// Evidence of a file.
    pub fn file(path: &str, content: &[u8]) -> Evidence {
        Evidence::new(EvidenceKind::File, path, content)
    }

    /// Evidence of a command run: the source is the argv joined by spaces, the content is the
    /// exit status line followed by stdout.
    pub fn command(argv: &[&str], exit_code: Option<i32>, stdout: &[u8]) -> Evidence {
        let mut content = format!(
            "exit: {}\n",
            exit_code.map_or("signal".to_string(), |c| c.to_string())
        )
        .into_bytes();
        content.extend_from_slice(stdout);
        Evidence::new(EvidenceKind::Command, argv.join(" "), &content)
    }
}

/// The result of one check on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub check: String,
    pub status: Status,
    pub summary: String,
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

impl CheckResult {
    /// A result with no facts or evidence yet.
    pub fn new(check: &str, status: Status, summary: impl Into<String>) -> CheckResult {
        CheckResult {
            check: check.to_string(),
            status,
            summary: summary.into(),
            facts: serde_json::Map::new(),
            evidence: Vec::new(),
        }
    }

    /// Add a fact (builder style).
    pub fn fact(mut self, key: &str, value: impl Into<serde_json::Value>) -> CheckResult {
        self.facts.insert(key.to_string(), value.into());
        self
    }

    /// Add evidence (builder style).
    pub fn with_evidence(mut self, evidence: Vec<Evidence>) -> CheckResult {
        self.evidence.extend(evidence);
        self
    }

    /// Redact the summary and every string in the facts ([`crate::redact::text`]); evidence is
    /// redacted when it is built. [`crate::run_check`] calls this on every result.
    pub fn redact(&mut self) {
        let summary = crate::redact::text(&self.summary);
        if summary != self.summary {
            self.summary = summary;
        }
        for v in self.facts.values_mut() {
            crate::redact::json(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_hash_covers_whole_content_and_excerpt_is_cut() {
        let content = "é".repeat(3000); // 6000 bytes, multi-byte chars straddle the cut
        let ev = Evidence::file("/etc/x", content.as_bytes());
        assert!(ev.excerpt.len() < 2100);
        assert!(ev.excerpt.contains("more bytes"));
        assert_eq!(
            ev.sha256,
            hex::encode(Sha256::digest(content.as_bytes())),
            "hash is of the full content"
        );
        // sha256("abc") from FIPS 180-2.
        assert_eq!(
            Evidence::file("/x", b"abc").sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn evidence_is_redacted_before_it_is_hashed_or_cut() {
        let shadow = "root:$6$PLANTEDsalt$PLANTEDhashPLANTEDhash:19000:0:90:7:::\n";
        let ev = Evidence::file("/etc/shadow", shadow.as_bytes());
        assert_eq!(ev.excerpt, "root:$6$<redacted>:19000:0:90:7:::\n");
        assert_eq!(
            ev.sha256,
            hex::encode(Sha256::digest(ev.excerpt.as_bytes())),
            "the hash is of the redacted content"
        );
        let cmd = Evidence::command(
            &[
                "/usr/bin/restic",
                "-r",
                "rest:https://u:PLANTED@h/",
                "snapshots",
            ],
            Some(1),
            b"Fatal: unable to open rest:https://u:PLANTED@h/\n",
        );
        assert!(!cmd.source.contains("PLANTED"), "{}", cmd.source);
        assert!(!cmd.excerpt.contains("PLANTED"), "{}", cmd.excerpt);
        // A round trip through the wire keeps it equal.
        let back: Evidence = serde_json::from_str(&serde_json::to_string(&cmd).unwrap()).unwrap();
        assert_eq!(back, cmd);
    }

    #[test]
    fn a_cut_excerpt_redacts_to_itself() {
        let line = "alice:$6$PLANTEDsalt$PLANTEDhashPLANTEDhash:19000:0:90:7:::\n";
        let shadow = line.repeat(200);
        let ev = Evidence::file("/etc/shadow", shadow.as_bytes());
        assert!(
            ev.excerpt.contains(":::\n[… "),
            "cut at a line end: {}",
            ev.excerpt
        );
        assert!(!ev.excerpt.contains("PLANTED"));
        assert_eq!(
            crate::redact::content(EvidenceKind::File, "/etc/shadow", &ev.excerpt),
            ev.excerpt,
            "stored excerpts are stable under redaction"
        );
        let env = "BORG_PASSPHRASE=PLANTED-passphrase-long-enough\n".repeat(100);
        let ev = Evidence::file("/etc/vigie/borg.env", env.as_bytes());
        assert_eq!(crate::redact::text(&ev.excerpt), ev.excerpt);
    }

    #[test]
    fn result_redaction_covers_summary_and_facts() {
        let mut r = CheckResult::new(
            "backup_freshness",
            Status::Error,
            "restic: rest:https://u:PLANTED@h/ unreachable",
        )
        .fact("repository", "rest:https://u:PLANTED@h/")
        .fact("list", vec!["token=PLANTED"]);
        r.redact();
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("PLANTED"), "{all}");
    }

    #[test]
    fn unknown_fields_in_results_and_evidence_are_refused() {
        let ok = r#"{"check":"mfa","status":"pass","summary":"ok","facts":{},
            "evidence":[{"kind":"file","source":"/etc/x","excerpt":"","sha256":"00"}]}"#;
        serde_json::from_str::<CheckResult>(ok).unwrap();
        let extra_result = ok.replace(r#""summary":"ok""#, r#""summary":"ok","score":100"#);
        let e = serde_json::from_str::<CheckResult>(&extra_result).unwrap_err();
        assert!(e.to_string().contains("unknown field `score`"), "{e}");
        let extra_evidence = ok.replace(r#""excerpt":"""#, r#""excerpt":"","trusted":true"#);
        let e = serde_json::from_str::<CheckResult>(&extra_evidence).unwrap_err();
        assert!(e.to_string().contains("unknown field `trusted`"), "{e}");
    }

    #[test]
    fn status_round_trips_wire_names() {
        for st in Status::ALL {
            assert_eq!(Status::parse(st.as_str()), Some(st));
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{st}\""));
        }
        assert_eq!(Status::parse("excepted"), None);
        for kind in [
            EvidenceKind::File,
            EvidenceKind::Command,
            EvidenceKind::Directory,
            EvidenceKind::System,
        ] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!(!Status::NotApplicable.needs_attention());
        assert!(Status::Error.needs_attention());
    }
}
