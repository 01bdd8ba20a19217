//! The first-seen document: when the agent first saw each pending security update, kept in the
//! agent's state directory (`patch_age_first_seen.json`) so an update's age survives restarts on
//! package managers that give no advisory date (apt).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The state key of the document.
pub const STATE_KEY: &str = "patch_age_first_seen";

/// Why a stored document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirstSeenError {
    #[error("not a first-seen document ({0})")]
    Json(String),
    #[error("version {0} is not supported (this agent writes version 1)")]
    Version(u32),
}

/// `{"version":1,"created":"…","first_seen":{"<package> <candidate version>":"<RFC 3339>"}}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstSeen {
    pub version: u32,
    /// When the agent started tracking: first-seen dates equal to it are lower bounds.
    pub created: DateTime<Utc>,
    pub first_seen: BTreeMap<String, DateTime<Utc>>,
}

/// The key of one update: package and candidate version (neither contains a space).
pub fn key(package: &str, version: &str) -> String {
    format!("{package} {version}")
}

impl FirstSeen {
    /// An empty document created at `now`.
    pub fn new(now: DateTime<Utc>) -> FirstSeen {
        FirstSeen {
            version: 1,
            created: now,
            first_seen: BTreeMap::new(),
        }
    }

    /// Parse a stored document.
    pub fn parse(text: &str) -> Result<FirstSeen, FirstSeenError> {
        let doc: FirstSeen =
            serde_json::from_str(text).map_err(|e| FirstSeenError::Json(e.to_string()))?;
        if doc.version != 1 {
            return Err(FirstSeenError::Version(doc.version));
        }
        Ok(doc)
    }

    /// Record the updates pending now: known ones keep their date, new ones get `now`, and
    /// entries no longer pending (installed, or superseded by a newer candidate) are dropped.
    pub fn observe(&mut self, pending: &[String], now: DateTime<Utc>) {
        let mut next = BTreeMap::new();
        for k in pending {
            let t = self.first_seen.get(k).copied().unwrap_or(now);
            next.insert(k.clone(), t);
        }
        self.first_seen = next;
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
                key("openssl", "3.0.15-1~deb12u1"),
                key("curl", "7.88.1-10+deb12u8"),
            ],
            now,
        );
        assert_eq!(doc.first_seen.len(), 2);
        assert_eq!(
            doc.first_seen["openssl 3.0.15-1~deb12u1"],
            t("2026-10-10T10:00:00Z")
        );
        assert_eq!(doc.first_seen["curl 7.88.1-10+deb12u8"], now);
        let again = FirstSeen::parse(&doc.to_json()).unwrap();
        assert_eq!(again, doc);
    }

    #[test]
    fn corrupt_or_future_documents_are_refused() {
        assert!(matches!(
            FirstSeen::parse("{not json"),
            Err(FirstSeenError::Json(_))
        ));
        assert_eq!(
            FirstSeen::parse(r#"{"version":2,"created":"2026-09-01T00:00:00Z","first_seen":{}}"#),
            Err(FirstSeenError::Version(2))
        );
    }
}
