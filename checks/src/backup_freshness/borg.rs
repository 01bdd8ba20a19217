//! Parser for borg 1.x `borg list --json`: `{"archives": [{"name", "id", "start", "time"}],
//! "encryption": {"mode"}, "repository": {…}}` (borg `docs/internals/frontends.rst`).
//!
//! Borg prints dates as ISO 8601 **local time without a zone** (`%Y-%m-%dT%H:%M:%S.%f`, older
//! versions without the fraction); the caller places them in the host's UTC offset.

use chrono::NaiveDateTime;
use serde::Deserialize;

/// Why `borg list --json` output could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not borg list JSON: {0}")]
    Json(String),
    #[error("archive {name}: start {start:?} is not a borg local timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff])")]
    Time { name: String, start: String },
    #[error("archive {name}: no start time")]
    NoStart { name: String },
}

/// One archive of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub name: String,
    pub id: String,
    /// Start of the archive, local time of the host that ran borg, no zone.
    pub start: NaiveDateTime,
}

/// The repository listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub archives: Vec<Archive>,
    /// `encryption.mode` (`repokey`, `keyfile-blake2`, `none` …) when borg reports it.
    pub encryption_mode: Option<String>,
}

#[derive(Deserialize)]
struct RawListing {
    archives: Vec<RawArchive>,
    #[serde(default)]
    encryption: Option<RawEncryption>,
}

#[derive(Deserialize)]
struct RawArchive {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    start: Option<String>,
    /// Same value as `start` in borg ≥ 1.1 list output; older name.
    #[serde(default)]
    time: Option<String>,
}

#[derive(Deserialize)]
struct RawEncryption {
    mode: String,
}

/// Whether an archive is a borg checkpoint: the partial archive an interrupted `borg create`
/// leaves behind, named `<name>.checkpoint` (or `<name>.checkpoint.N` when several runs of the same
/// name were interrupted). borg ≥ 1.2 hides them from `borg list` unless asked; borg 1.1 lists them
/// like complete archives. A checkpoint is never a good backup.
pub fn is_checkpoint(name: &str) -> bool {
    name.ends_with(".checkpoint") || name.contains(".checkpoint.")
}

/// Parse a borg local timestamp, with or without the microsecond fraction.
pub fn parse_local_time(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()
}

/// Parse the stdout of `borg list --json …`.
pub fn parse_borg_list(text: &str) -> Result<Listing, ParseError> {
    let raw: RawListing =
        serde_json::from_str(text.trim()).map_err(|e| ParseError::Json(e.to_string()))?;
    let archives = raw
        .archives
        .into_iter()
        .map(|a| {
            let start_text = a.start.or(a.time).ok_or_else(|| ParseError::NoStart {
                name: a.name.clone(),
            })?;
            let start = parse_local_time(&start_text).ok_or_else(|| ParseError::Time {
                name: a.name.clone(),
                start: start_text.clone(),
            })?;
            Ok(Archive {
                name: a.name,
                id: a.id,
                start,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listing {
        archives,
        encryption_mode: raw.encryption.map(|e| e.mode),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The frontends.rst example (`borg list --last 1 --json`), borg 1.1+ with the fraction.
    const SAMPLE: &str = r#"{
    "archives": [
        {
            "id": "80cd07219ad725b3c5f665c1dcf119435c4dee1647a560ecac30f8d40221a46a",
            "name": "host-system-backup-2017-02-27",
            "start": "2017-08-07T12:27:20.789123"
        }
    ],
    "encryption": {
        "mode": "repokey"
    },
    "repository": {
        "id": "0cbe6166b46627fd26b97f8831e2ca97584280a46714ef84d2b668daf8271a23",
        "last_modified": "2017-08-07T12:27:20.789123",
        "location": "/home/user/repository"
    }
}"#;

    #[test]
    fn parses_frontends_example() {
        let l = parse_borg_list(SAMPLE).unwrap();
        assert_eq!(l.encryption_mode.as_deref(), Some("repokey"));
        assert_eq!(l.archives.len(), 1);
        assert_eq!(l.archives[0].name, "host-system-backup-2017-02-27");
        assert_eq!(
            l.archives[0].start.to_string(),
            "2017-08-07 12:27:20.789123"
        );
    }

    #[test]
    fn accepts_times_without_fraction_and_the_time_key() {
        // The older reference sample prints no fraction; borg 1.1 list also has `time`.
        let l = parse_borg_list(
            r#"{"archives":[{"archive":"a","barchive":"a","id":"01","name":"a","time":"2017-08-07T12:27:20"}],"repository":{"id":"x","last_modified":"2017-08-07T12:27:20","location":"/r"}}"#,
        )
        .unwrap();
        assert_eq!(l.archives[0].start.to_string(), "2017-08-07 12:27:20");
        assert_eq!(l.encryption_mode, None);
    }

    #[test]
    fn checkpoints_are_recognised_by_name() {
        assert!(is_checkpoint("web-01-2026-11-24T02:00:01.checkpoint"));
        assert!(is_checkpoint("web-01-2026-11-24T02:00:01.checkpoint.1"));
        assert!(is_checkpoint("web-01-2026-11-24T02:00:01.checkpoint.12"));
        assert!(!is_checkpoint("web-01-2026-11-24T02:00:01"));
        // Only the suffix borg appends counts, not the word inside a name.
        assert!(!is_checkpoint("checkpoint-db-2026-11-24"));
        assert!(!is_checkpoint("web-01.checkpointed-2026-11-24"));
        assert!(!is_checkpoint("web-01-checkpoint"));
    }

    #[test]
    fn checkpoint_filter_keeps_the_previous_complete_archive() {
        // borg 1.1 `list --json`: the interrupted run of this night is the newest entry.
        let l = parse_borg_list(
            r#"{"archives": [
  {"archive": "web-01-2026-11-22T02:00:02", "id": "aa", "name": "web-01-2026-11-22T02:00:02", "start": "2026-11-22T02:00:02.000000", "time": "2026-11-22T02:00:02.000000"},
  {"archive": "web-01-2026-11-23T02:00:01", "id": "bb", "name": "web-01-2026-11-23T02:00:01", "start": "2026-11-23T02:00:01.000000", "time": "2026-11-23T02:00:01.000000"},
  {"archive": "web-01-2026-11-24T02:00:03.checkpoint", "id": "cc", "name": "web-01-2026-11-24T02:00:03.checkpoint", "start": "2026-11-24T02:00:03.000000", "time": "2026-11-24T02:00:03.000000"}
], "encryption": {"mode": "repokey"}, "repository": {}}"#,
        )
        .unwrap();
        let newest = l
            .archives
            .iter()
            .filter(|a| !is_checkpoint(&a.name))
            .max_by_key(|a| a.start)
            .unwrap();
        assert_eq!(newest.name, "web-01-2026-11-23T02:00:01");
    }

    #[test]
    fn empty_repository_and_garbage() {
        let l = parse_borg_list(
            r#"{"archives": [], "encryption": {"mode": "none"}, "repository": {}}"#,
        )
        .unwrap();
        assert!(l.archives.is_empty());
        assert!(matches!(
            parse_borg_list("Enter passphrase for key /srv/borg:"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_borg_list(r#"{"archives":[{"name":"a","start":"2017-08-07 12:27"}]}"#),
            Err(ParseError::Time { .. })
        ));
        assert!(matches!(
            parse_borg_list(r#"{"archives":[{"name":"a"}]}"#),
            Err(ParseError::NoStart { .. })
        ));
    }
}
