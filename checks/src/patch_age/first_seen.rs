//! The first-seen document: since when each pending security update has been known to be
//! available, kept in the agent's state directory (`patch_age_first_seen.json`) so an update's
//! age survives restarts on package managers that give no advisory date (apt).
//!
//! A date is either the first run that saw the update pending, or, when earlier, the publication
//! date of the package index that listed it (apt's InRelease `Date:`); the latter are marked.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::release::IndexDate;

/// The state key of the document.
pub const STATE_KEY: &str = "patch_age_first_seen";

/// The version this agent writes. Version 1 (no `from_index`) is read and upgraded.
pub const VERSION: u32 = 2;

/// Why a stored document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirstSeenError {
    #[error("not a first-seen document ({0})")]
    Json(String),
    #[error("version {0} is not supported (this agent reads versions 1 and 2)")]
    Version(u32),
}

/// `{"version":2,"created":"…","first_seen":{"<package> <version>":"<RFC 3339>"},"from_index":{…}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeen {
    pub version: u32,
    /// When the agent started tracking: first-seen dates equal to it are lower bounds.
    pub created: DateTime<Utc>,
    /// Since when each update is known to be available.
    pub first_seen: BTreeMap<String, DateTime<Utc>>,
    /// Updates whose date is the publication date of a package index listing them rather than a
    /// sighting: key → that index's file under `/var/lib/apt/lists`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub from_index: BTreeMap<String, String>,
}

/// The key of one update: package and candidate version (neither contains a space).
pub fn key(package: &str, version: &str) -> String {
    format!("{package} {version}")
}

/// The stored document, or an empty one created at `now` when there is none; the error is the
/// one-line reason the check reports (`error`: ages cannot be trusted without it).
pub fn load(state: &dyn crate::StateStore, now: DateTime<Utc>) -> Result<FirstSeen, String> {
    match state.load(STATE_KEY) {
        Ok(Some(text)) => FirstSeen::parse(&text).map_err(|e| {
            format!(
                "agent state {STATE_KEY}.json is unusable: {e}; fix it or delete it (update ages then restart from today)"
            )
        }),
        Ok(None) => Ok(FirstSeen::new(now)),
        Err(e) => Err(format!("could not read the first-seen dates of updates: {e}")),
    }
}

/// Record this run's sightings in `doc`, save it, and add the saved document to `evidence` (what
/// the ages were computed from). Returns the save error, if any, for [`unless_unsaved`].
pub fn observe_and_save(
    doc: &mut FirstSeen,
    sightings: &[(String, Option<IndexDate>)],
    now: DateTime<Utc>,
    state: &dyn crate::StateStore,
    evidence: &mut Vec<crate::result::Evidence>,
) -> Option<String> {
    doc.observe(sightings, now);
    let doc_json = doc.to_json();
    let save_error = state.save(STATE_KEY, &doc_json).err();
    evidence.push(crate::result::Evidence::new(
        crate::result::EvidenceKind::File,
        format!("agent state {STATE_KEY}.json"),
        doc_json.as_bytes(),
    ));
    save_error
}

/// The verdict when the document could not be saved: every age would restart from zero on the next
/// run, so nothing about ages is known — `error`, saying what the verdict would have been.
pub fn unless_unsaved(
    status: crate::result::Status,
    summary: String,
    save_error: Option<&String>,
) -> (crate::result::Status, String) {
    match save_error {
        Some(e) => (
            crate::result::Status::Error,
            format!(
                "could not save first-seen dates of updates ({e}): update ages would restart from zero on every run; would be {status}: {summary}"
            ),
        ),
        None => (status, summary),
    }
}

impl FirstSeen {
    /// An empty document created at `now`.
    pub fn new(now: DateTime<Utc>) -> FirstSeen {
        FirstSeen {
            version: VERSION,
            created: now,
            first_seen: BTreeMap::new(),
            from_index: BTreeMap::new(),
        }
    }

    /// Parse a stored document (version 1 or 2); it is written back as version 2.
    pub fn parse(text: &str) -> Result<FirstSeen, FirstSeenError> {
        let mut doc: FirstSeen =
            serde_json::from_str(text).map_err(|e| FirstSeenError::Json(e.to_string()))?;
        if !(1..=VERSION).contains(&doc.version) {
            return Err(FirstSeenError::Version(doc.version));
        }
        doc.version = VERSION;
        Ok(doc)
    }

    /// Record the updates pending now, each with the date of the index that lists it if known.
    ///
    /// A known update keeps its date unless the index date is earlier (a date never moves
    /// later); a new one gets the earlier of `now` and its index date. Entries no longer pending
    /// (installed, or superseded by a newer candidate) are dropped.
    pub fn observe(&mut self, pending: &[(String, Option<IndexDate>)], now: DateTime<Utc>) {
        let mut seen = BTreeMap::new();
        let mut from_index = BTreeMap::new();
        for (k, index) in pending {
            let mut date = self.first_seen.get(k).copied().unwrap_or(now);
            let mut file = self.from_index.get(k).cloned();
            if let Some(ix) = index.as_ref().filter(|ix| ix.date < date) {
                date = ix.date;
                file = Some(ix.file.clone());
            }
            seen.insert(k.clone(), date);
            if let Some(f) = file {
                from_index.insert(k.clone(), f);
            }
        }
        self.first_seen = seen;
        self.from_index = from_index;
    }

    /// Serialise for the state store.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn observe_keeps_known_adds_new_prunes_gone() {
        let mut doc = FirstSeen::parse(
            r#"{"version":1,"created":"2026-09-01T00:00:00Z","first_seen":{
                "openssl 3.0.15-1~deb12u1":"2026-10-10T10:00:00Z",
                "curl 7.88.1-10+deb12u7":"2026-09-02T10:00:00Z"}}"#,
        )
        .unwrap();
        let now = t("2026-11-24T10:00:00Z");
        doc.observe(
            &[
                (key("openssl", "3.0.15-1~deb12u1"), None),
                (key("curl", "7.88.1-10+deb12u8"), None),
            ],
            now,
        );
        assert_eq!(doc.first_seen.len(), 2);
        assert_eq!(
            doc.first_seen["openssl 3.0.15-1~deb12u1"],
            t("2026-10-10T10:00:00Z")
        );
        assert_eq!(doc.first_seen["curl 7.88.1-10+deb12u8"], now);
        assert!(doc.from_index.is_empty());
        assert_eq!(doc.version, 2, "a version 1 document is written back as 2");
        let again = FirstSeen::parse(&doc.to_json()).unwrap();
        assert_eq!(again, doc);
    }

    fn index(date: &str, file: &str) -> Option<IndexDate> {
        Some(IndexDate {
            date: t(date),
            file: file.into(),
        })
    }

    #[test]
    fn index_dates_only_ever_move_a_date_earlier() {
        // Written by an older agent that started on 2026-11-20 with lists from May.
        let mut doc = FirstSeen::parse(
            r#"{"version":1,"created":"2026-11-20T08:00:00Z","first_seen":{
                "libgnutls30 3.7.9-2+deb12u7":"2026-11-20T08:00:00Z",
                "libexpat1 2.5.0-1+deb12u2":"2026-11-21T10:00:00Z"}}"#,
        )
        .unwrap();
        let now = t("2026-11-24T19:15:00Z");
        let sec = "deb.debian.org_debian-security_dists_bookworm-security_InRelease";
        doc.observe(
            &[
                // Older than the stored date: taken, with its file.
                (
                    key("libgnutls30", "3.7.9-2+deb12u7"),
                    index("2026-05-20T16:28:12Z", sec),
                ),
                // Later than the stored date (lists refreshed since): the stored date stays.
                (
                    key("libexpat1", "2.5.0-1+deb12u2"),
                    index("2026-11-24T05:10:00Z", sec),
                ),
                // New: the earlier of now and the index date.
                (
                    key("libnghttp2-14", "1.52.0-1+deb12u3"),
                    index("2026-05-20T16:28:12Z", sec),
                ),
                // New, index date in the future (clock skew): now.
                (
                    key("curl", "7.88.1-10+deb12u14"),
                    index("2026-11-25T00:00:00Z", sec),
                ),
                (key("bash", "5.2.15-2+b8"), None),
            ],
            now,
        );
        assert_eq!(
            doc.first_seen["libgnutls30 3.7.9-2+deb12u7"],
            t("2026-05-20T16:28:12Z")
        );
        assert_eq!(
            doc.first_seen["libexpat1 2.5.0-1+deb12u2"],
            t("2026-11-21T10:00:00Z")
        );
        assert_eq!(
            doc.first_seen["libnghttp2-14 1.52.0-1+deb12u3"],
            t("2026-05-20T16:28:12Z")
        );
        assert_eq!(doc.first_seen["curl 7.88.1-10+deb12u14"], now);
        assert_eq!(doc.first_seen["bash 5.2.15-2+b8"], now);
        let marked: Vec<&str> = doc.from_index.keys().map(String::as_str).collect();
        assert_eq!(
            marked,
            vec![
                "libgnutls30 3.7.9-2+deb12u7",
                "libnghttp2-14 1.52.0-1+deb12u3"
            ]
        );

        // Next run, lists refreshed: index dates are later now, nothing moves, marks stay.
        let before = doc.clone();
        doc.observe(
            &[
                (
                    key("libgnutls30", "3.7.9-2+deb12u7"),
                    index("2026-11-25T05:00:00Z", sec),
                ),
                (
                    key("libexpat1", "2.5.0-1+deb12u2"),
                    index("2026-11-25T05:00:00Z", sec),
                ),
                (
                    key("libnghttp2-14", "1.52.0-1+deb12u3"),
                    index("2026-11-25T05:00:00Z", sec),
                ),
                (key("curl", "7.88.1-10+deb12u14"), None),
                (key("bash", "5.2.15-2+b8"), None),
            ],
            t("2026-11-25T06:00:00Z"),
        );
        assert_eq!(doc, before);
        assert_eq!(FirstSeen::parse(&doc.to_json()).unwrap(), doc);
    }

    #[test]
    fn corrupt_or_future_documents_are_refused() {
        assert!(matches!(
            FirstSeen::parse("{not json"),
            Err(FirstSeenError::Json(_))
        ));
        assert_eq!(
            FirstSeen::parse(r#"{"version":3,"created":"2026-09-01T00:00:00Z","first_seen":{}}"#),
            Err(FirstSeenError::Version(3))
        );
    }
}
