//! The register's feeds: filters, JSON bodies, CSV (RFC 4180, one header row, documented columns),
//! the Atom feed of new and changed risks, and ETag / If-None-Match. All pure: the HTTP handlers
//! only load, call these and answer.
//!
//! The ETag is the SHA-256 of the representation (truncated to 128 bits), so it changes exactly
//! when the bytes do — including derived flags such as `review_overdue` or an exception becoming
//! `expiring` — and a poller whose copy is current gets `304 Not Modified` with no body.
//!
//! CSV cells of free text that start with `=`, `+`, `-`, `@`, tab or carriage return get a leading
//! `'` so a spreadsheet shows them as text instead of running them as formulas.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::actions::{Action, ActionStatus, Priority};
use super::exceptions::{Exception, ExceptionState};
use super::register::Risk;
use super::{Level, RiskError, RiskStatus, Source};
use crate::store::hosts::rfc3339;

/// Raw query parameters of a feed (every one optional).
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Risks: comma-separated levels.
    pub level: Option<String>,
    /// Risks: open/closed; actions: status or `overdue`.
    pub status: Option<String>,
    /// Risks, actions: exact owner.
    pub owner: Option<String>,
    /// Records changed at or after this instant (RFC 3339 or YYYY-MM-DD).
    pub updated_since: Option<String>,
    /// Risks: manual/fleet.
    pub source: Option<String>,
    /// Actions: comma-separated priorities (p1, p2, p3).
    pub priority: Option<String>,
    /// Exceptions: comma-separated states.
    pub state: Option<String>,
    /// Exceptions: the check.
    pub check: Option<String>,
    /// JSON lists: page size (`http::paging`); refused by the CSV and Atom exports.
    pub limit: Option<usize>,
    /// JSON lists: the `next` of the previous page.
    pub cursor: Option<String>,
    /// The Atom feed only: a read-only feed token (`POST /api/v1/feed-tokens`), for feed readers
    /// that cannot send an Authorization header.
    pub token: Option<String>,
}

fn list<T: Copy>(
    v: &Option<String>,
    field: &str,
    parse: impl Fn(&str, &str) -> Result<T, RiskError>,
) -> Result<Option<Vec<T>>, RiskError> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(|p| parse(p, field)).collect())
        .transpose()
}

/// True when no restriction is given or `pred` holds for it (MSRV-friendly `is_none_or`).
fn allows<T>(restriction: Option<T>, pred: impl FnOnce(T) -> bool) -> bool {
    match restriction {
        None => true,
        Some(r) => pred(r),
    }
}

fn refuse(q: &FeedQuery, allowed: &[&str]) -> Result<(), RiskError> {
    let given = [
        ("level", q.level.is_some()),
        ("status", q.status.is_some()),
        ("owner", q.owner.is_some()),
        ("updated_since", q.updated_since.is_some()),
        ("source", q.source.is_some()),
        ("priority", q.priority.is_some()),
        ("state", q.state.is_some()),
        ("check", q.check.is_some()),
    ];
    for (name, set) in given {
        if set && !allowed.contains(&name) {
            return Err(RiskError::invalid(
                name,
                format!(
                    "not a filter of this feed (filters: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn since(q: &FeedQuery) -> Result<Option<i64>, RiskError> {
    q.updated_since
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| super::parse_instant(s, "updated_since"))
        .transpose()
}

/// Keep the risks matching `q` (level, status, owner, source, updated_since).
pub fn filter_risks(risks: Vec<Risk>, q: &FeedQuery) -> Result<Vec<Risk>, RiskError> {
    refuse(q, &["level", "status", "owner", "updated_since", "source"])?;
    let levels = list(&q.level, "level", Level::parse_field)?;
    let statuses = list(&q.status, "status", RiskStatus::parse_field)?;
    let sources = list(&q.source, "source", Source::parse_field)?;
    let since = since(q)?;
    Ok(risks
        .into_iter()
        .filter(|r| allows(levels.as_ref(), |l| l.contains(&r.level)))
        .filter(|r| allows(statuses.as_ref(), |s| s.contains(&r.status)))
        .filter(|r| allows(sources.as_ref(), |s| s.contains(&r.source)))
        .filter(|r| allows(q.owner.as_deref(), |o| r.owner == o))
        .filter(|r| allows(since, |t| r.updated_at >= t))
        .collect())
}

/// Keep the actions matching `q` (priority, status — or `overdue` —, owner, updated_since).
pub fn filter_actions(actions: Vec<Action>, q: &FeedQuery) -> Result<Vec<Action>, RiskError> {
    refuse(q, &["priority", "status", "owner", "updated_since"])?;
    let priorities = list(&q.priority, "priority", Priority::parse_field)?;
    let statuses: Option<Vec<String>> = match &q.status {
        Some(s) if !s.trim().is_empty() => Some(
            s.split(',')
                .map(|p| {
                    let p = p.trim().to_ascii_lowercase();
                    if p == "overdue" {
                        Ok(p)
                    } else {
                        ActionStatus::parse_field(&p, "status").map(|v| v.as_str().to_string())
                    }
                })
                .collect::<Result<_, RiskError>>()?,
        ),
        _ => None,
    };
    let since = since(q)?;
    Ok(actions
        .into_iter()
        .filter(|a| allows(priorities.as_ref(), |p| p.contains(&a.priority)))
        .filter(|a| {
            allows(statuses.as_ref(), |s| {
                s.iter()
                    .any(|s| s == a.status.as_str() || s == a.state.as_str())
            })
        })
        .filter(|a| allows(q.owner.as_deref(), |o| a.owner == o))
        .filter(|a| allows(since, |t| a.updated_at >= t))
        .collect())
}

/// Keep the exceptions matching `q` (state at `now`, check, updated_since).
pub fn filter_exceptions(
    exceptions: Vec<Exception>,
    q: &FeedQuery,
    now: i64,
) -> Result<Vec<Exception>, RiskError> {
    refuse(q, &["state", "check", "updated_since"])?;
    let states = list(&q.state, "state", ExceptionState::parse_field)?;
    let since = since(q)?;
    Ok(exceptions
        .into_iter()
        .filter(|e| allows(states.as_ref(), |s| s.contains(&e.state(now))))
        .filter(|e| allows(q.check.as_deref(), |c| e.check == c))
        .filter(|e| allows(since, |t| e.updated_at >= t))
        .collect())
}

/// An exception with its state at read time, as served.
#[derive(Debug, serde::Serialize)]
pub struct ExceptionView<'a> {
    /// The exception.
    #[serde(flatten)]
    pub exception: &'a Exception,
    /// Its state now.
    pub state: ExceptionState,
}

/// Exceptions with their state at `now`.
pub fn exception_views(list: &[Exception], now: i64) -> Vec<ExceptionView<'_>> {
    list.iter()
        .map(|e| ExceptionView {
            exception: e,
            state: e.state(now),
        })
        .collect()
}

/// Neutralise spreadsheet formulas in a free-text cell.
pub fn text_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn write_csv(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a failure would only lose the row.
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(&r);
    }
    w.into_inner().unwrap_or_default()
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(";")
}

/// Columns of `risks.csv`.
pub const RISK_COLUMNS: &[&str] = &[
    "id",
    "source",
    "check",
    "title",
    "scenario",
    "assets",
    "likelihood",
    "impact",
    "level",
    "treatment",
    "owner",
    "status",
    "next_review",
    "review_overdue",
    "actions",
    "created_at",
    "updated_at",
];

/// `risks.csv`.
pub fn risks_csv(risks: &[Risk]) -> Vec<u8> {
    let rows = risks
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.source.to_string(),
                r.check.clone().unwrap_or_default(),
                text_cell(&r.title),
                text_cell(&r.scenario),
                text_cell(&r.assets.join(";")),
                r.likelihood.to_string(),
                r.impact.to_string(),
                r.level.to_string(),
                r.treatment.to_string(),
                text_cell(&r.owner),
                r.status.to_string(),
                r.next_review.to_string(),
                r.review_overdue.to_string(),
                join(&r.actions),
                rfc3339(r.created_at),
                rfc3339(r.updated_at),
            ]
        })
        .collect();
    write_csv(RISK_COLUMNS, rows)
}

/// Columns of `actions.csv`.
pub const ACTION_COLUMNS: &[&str] = &[
    "id",
    "title",
    "priority",
    "due",
    "owner",
    "budget",
    "status",
    "state",
    "risks",
    "evidence_sha256",
    "evidence_file_name",
    "evidence_url",
    "approver",
    "closed_at",
    "created_at",
    "updated_at",
];

/// `actions.csv`.
pub fn actions_csv(actions: &[Action]) -> Vec<u8> {
    let rows = actions
        .iter()
        .map(|a| {
            let ev = a.evidence.clone().unwrap_or(super::actions::Evidence {
                sha256: None,
                file_name: None,
                url: None,
            });
            vec![
                a.id.to_string(),
                text_cell(&a.title),
                a.priority.to_string(),
                a.due.to_string(),
                text_cell(&a.owner),
                a.budget.map(|b| b.to_string()).unwrap_or_default(),
                a.status.to_string(),
                a.state.to_string(),
                join(&a.risks),
                ev.sha256.unwrap_or_default(),
                text_cell(&ev.file_name.unwrap_or_default()),
                text_cell(&ev.url.unwrap_or_default()),
                text_cell(a.approver.as_deref().unwrap_or("")),
                a.closed_at.map(rfc3339).unwrap_or_default(),
                rfc3339(a.created_at),
                rfc3339(a.updated_at),
            ]
        })
        .collect();
    write_csv(ACTION_COLUMNS, rows)
}

/// Columns of `exceptions.csv`.
pub const EXCEPTION_COLUMNS: &[&str] = &[
    "id",
    "check",
    "scope",
    "scope_value",
    "host_patterns",
    "reason",
    "requester",
    "approver",
    "starts_at",
    "expires_at",
    "state",
    "revoked_at",
    "revoked_by",
    "created_at",
    "updated_at",
];

/// `exceptions.csv`, states at `now`.
pub fn exceptions_csv(list: &[Exception], now: i64) -> Vec<u8> {
    let rows = list
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.check.clone(),
                e.scope.to_string(),
                text_cell(&e.scope_value),
                text_cell(&e.host_patterns.join(";")),
                text_cell(&e.reason),
                text_cell(&e.requester),
                text_cell(&e.approver),
                rfc3339(e.starts_at),
                rfc3339(e.expires_at),
                e.state(now).to_string(),
                e.revoked_at.map(rfc3339).unwrap_or_default(),
                text_cell(e.revoked_by.as_deref().unwrap_or("")),
                rfc3339(e.created_at),
                rfc3339(e.updated_at),
            ]
        })
        .collect();
    write_csv(EXCEPTION_COLUMNS, rows)
}

/// Escape text for XML 1.0 element content and attributes; characters XML 1.0 forbids (most
/// C0 controls) become U+FFFD so the feed always parses.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Most entries in the Atom feed (the most recently changed risks).
pub const ATOM_ENTRIES: usize = 100;

/// Atom entry id of risk `id` on collector `instance`: stable across fetches and changes.
pub fn atom_entry_id(instance: &str, id: i64) -> String {
    format!("urn:vigie:{instance}:risk:{id}")
}

/// The Atom feed of new and changed risks (newest change first, at most `ATOM_ENTRIES`).
/// `self_href` is the feed's own path (e.g. `/feeds/risks.atom?level=high`).
///
/// `base` is `server.public_url` without its trailing slash (empty: relative links); `self_href`
/// is the feed's own absolute path and query, without any token.
pub fn risks_atom(risks: &[Risk], instance: &str, base: &str, self_href: &str) -> Vec<u8> {
    let mut sorted: Vec<&Risk> = risks.iter().collect();
    sorted.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    sorted.truncate(ATOM_ENTRIES);
    let updated = sorted.first().map(|r| r.updated_at).unwrap_or(0);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    x.push_str(&format!(
        "  <id>urn:vigie:{}:risks</id>\n",
        xml_escape(instance)
    ));
    x.push_str("  <title>Vigie risk register: new and changed risks</title>\n");
    x.push_str(&format!("  <updated>{}</updated>\n", rfc3339(updated)));
    x.push_str(&format!(
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}{}\"/>\n",
        xml_escape(base),
        xml_escape(self_href)
    ));
    x.push_str("  <author><name>Vigie collector</name></author>\n");
    x.push_str("  <generator>vigie-collector</generator>\n");
    for r in sorted {
        let mut body: BTreeMap<&str, String> = BTreeMap::new();
        body.insert(
            "level",
            format!(
                "{} (likelihood {} × impact {})",
                r.level, r.likelihood, r.impact
            ),
        );
        body.insert("treatment", r.treatment.to_string());
        body.insert("status", r.status.to_string());
        body.insert(
            "next_review",
            format!(
                "{}{}",
                r.next_review,
                if r.review_overdue { " (overdue)" } else { "" }
            ),
        );
        body.insert("assets", r.assets.join(", "));
        let content = format!(
            "{}\n\nLevel: {}\nTreatment: {}\nStatus: {}\nNext review: {}\nAssets: {}",
            r.scenario,
            body["level"],
            body["treatment"],
            body["status"],
            body["next_review"],
            body["assets"]
        );
        x.push_str("  <entry>\n");
        x.push_str(&format!(
            "    <id>{}</id>\n",
            xml_escape(&atom_entry_id(instance, r.id))
        ));
        x.push_str(&format!(
            "    <title>R-{} [{}] {}</title>\n",
            r.id,
            r.level,
            xml_escape(&r.title)
        ));
        x.push_str(&format!(
            "    <published>{}</published>\n",
            rfc3339(r.created_at)
        ));
        x.push_str(&format!(
            "    <updated>{}</updated>\n",
            rfc3339(r.updated_at)
        ));
        x.push_str(&format!(
            "    <author><name>{}</name></author>\n",
            xml_escape(&r.owner)
        ));
        x.push_str(&format!(
            "    <link rel=\"alternate\" type=\"application/json\" href=\"{}/api/v1/risks/{}\"/>\n",
            xml_escape(base),
            r.id
        ));
        x.push_str(&format!(
            "    <category scheme=\"urn:vigie:level\" term=\"{}\"/>\n",
            r.level
        ));
        x.push_str(&format!(
            "    <category scheme=\"urn:vigie:source\" term=\"{}\"/>\n",
            r.source
        ));
        x.push_str(&format!(
            "    <content type=\"text\">{}</content>\n",
            xml_escape(&content)
        ));
        x.push_str("  </entry>\n");
    }
    x.push_str("</feed>\n");
    x.into_bytes()
}

/// The strong ETag of a representation.
pub fn etag(body: &[u8]) -> String {
    let d = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&d[..16]))
}

/// True when an `If-None-Match` header value matches `etag` (weak comparison, lists, `*`).
pub fn not_modified(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(h) = if_none_match else { return false };
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    h.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::matrix::Matrix;
    use crate::risk::register::{create, RiskInput};

    fn risk(id: i64, title: &str, scenario: &str, l: u8, i: u8, owner: &str, updated: i64) -> Risk {
        let mut r = create(
            &RiskInput {
                title: Some(title.into()),
                scenario: Some(String::new()),
                likelihood: Some(l),
                impact: Some(i),
                treatment: Some("reduce".into()),
                owner: Some(owner.into()),
                ..Default::default()
            },
            &Matrix::default(),
            90,
            0,
        )
        .unwrap();
        r.id = id;
        r.updated_at = updated;
        // Set after validation: a control character stored before the input rules existed must
        // still come out escaped.
        r.scenario = scenario.into();
        r
    }

    fn sample() -> Vec<Risk> {
        vec![
            risk(
                1,
                "Backups, \"offsite\"",
                "line one\nline two, with comma",
                3,
                4,
                "alice",
                100,
            ),
            risk(2, "=HYPERLINK(\"x\")", "", 1, 1, "bob", 200),
            risk(3, "Café <ERP> & co", "ctrl\u{1}char", 2, 4, "alice", 300),
        ]
    }

    #[test]
    fn csv_parses_back_with_quotes_commas_and_newlines() {
        let bytes = risks_csv(&sample());
        let mut rdr = csv::Reader::from_reader(bytes.as_slice());
        assert_eq!(
            rdr.headers().unwrap().iter().collect::<Vec<_>>(),
            RISK_COLUMNS
        );
        let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[0][3], "Backups, \"offsite\"");
        assert_eq!(&rows[0][4], "line one\nline two, with comma");
        // 3 × 4 = 12 → critical.
        assert_eq!(&rows[0][8], "critical");
        // A formula is kept as text.
        assert_eq!(&rows[1][3], "'=HYPERLINK(\"x\")");
        assert!(rows.iter().all(|r| r.len() == RISK_COLUMNS.len()));
    }

    #[test]
    fn atom_is_well_formed_with_stable_ids() {
        use quick_xml::events::Event;
        let body = risks_atom(&sample(), "abc", "", "/feeds/risks.atom?owner=a&level=high");
        let mut reader = quick_xml::Reader::from_reader(body.as_slice());
        let mut buf = Vec::new();
        let (mut ids, mut path, mut text) = (Vec::new(), Vec::<String>::new(), String::new());
        loop {
            match reader.read_event_into(&mut buf).expect("well-formed XML") {
                Event::Start(e) => {
                    path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    text.clear();
                }
                Event::Text(t) => text.push_str(&t.unescape().unwrap()),
                Event::End(_) => {
                    if path.join("/") == "feed/entry/id" {
                        ids.push(text.clone());
                    }
                    path.pop();
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        assert!(path.is_empty(), "every element closed");
        // Newest change first.
        assert_eq!(
            ids,
            vec![
                "urn:vigie:abc:risk:3",
                "urn:vigie:abc:risk:2",
                "urn:vigie:abc:risk:1"
            ]
        );
        // The same risk changed later keeps its id; the feed's bytes (and ETag) change.
        let mut changed = sample();
        changed[0].updated_at = 400;
        changed[0].likelihood = 1;
        let again = risks_atom(&changed, "abc", "", "/feeds/risks.atom?owner=a&level=high");
        let s = String::from_utf8(again.clone()).unwrap();
        assert!(s.find("urn:vigie:abc:risk:1").unwrap() < s.find("urn:vigie:abc:risk:3").unwrap());
        assert_ne!(etag(&body), etag(&again));
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("Café &lt;ERP&gt; &amp; co"));
    }

    #[test]
    fn etag_and_if_none_match() {
        let t = etag(b"abc");
        assert_eq!(t, etag(b"abc"));
        assert_eq!(t.len(), 34);
        assert!(not_modified(Some(&t), &t));
        assert!(not_modified(Some(&format!("\"zz\", W/{t}")), &t));
        assert!(not_modified(Some("*"), &t));
        assert!(!not_modified(Some("\"zz\""), &t));
        assert!(!not_modified(None, &t));
    }

    #[test]
    fn filters() {
        let q = FeedQuery {
            level: Some("critical,high".into()),
            ..Default::default()
        };
        // Risk 1: 3×4 = 12 critical; risk 2: 1×1 low; risk 3: 2×4 = 8 high.
        let ids = |v: Vec<Risk>| v.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(filter_risks(sample(), &q).unwrap()), vec![1, 3]);
        let q = FeedQuery {
            owner: Some("alice".into()),
            updated_since: Some("1970-01-01T00:04:00Z".into()),
            ..Default::default()
        };
        // alice's risks changed at or after 240 s: only risk 3 (300).
        assert_eq!(ids(filter_risks(sample(), &q).unwrap()), vec![3]);
        let e = filter_risks(
            sample(),
            &FeedQuery {
                level: Some("severe".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("level:"), "{e}");
        let e = filter_risks(
            sample(),
            &FeedQuery {
                priority: Some("p1".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("priority: not a filter"), "{e}");
    }
}
