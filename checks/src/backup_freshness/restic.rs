//! Parser for `restic snapshots --json`: a single JSON array of Snapshot objects
//! (restic `doc/075_scripting.rst`). `time` is when the backup *started*, RFC 3339 with nanoseconds
//! and the zone of the machine that made it.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// Why `restic snapshots --json` output could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not a JSON array of restic snapshots: {0}")]
    Json(String),
    #[error("snapshot {id}: time {time:?} is not RFC 3339")]
    Time { id: String, time: String },
}

/// One restic snapshot (the fields the check uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Backup start time, in the zone restic recorded.
    pub time: DateTime<FixedOffset>,
    pub hostname: String,
    pub paths: Vec<String>,
    pub tags: Vec<String>,
    pub id: String,
}

#[derive(Deserialize)]
struct RawSnapshot {
    time: String,
    #[serde(default)]
    hostname: String,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    id: String,
}

/// Parse the stdout of `restic snapshots --json`. An empty repository prints `[]`.
pub fn parse_snapshots(text: &str) -> Result<Vec<Snapshot>, ParseError> {
    let raw: Option<Vec<RawSnapshot>> =
        serde_json::from_str(text.trim()).map_err(|e| ParseError::Json(e.to_string()))?;
    raw.unwrap_or_default()
        .into_iter()
        .map(|r| {
            let time = DateTime::parse_from_rfc3339(&r.time).map_err(|_| ParseError::Time {
                id: r.id.clone(),
                time: r.time.clone(),
            })?;
            Ok(Snapshot {
                time,
                hostname: r.hostname,
                paths: r.paths,
                tags: r.tags.unwrap_or_default(),
                id: r.id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // restic 0.17 output shape (fields as in doc/075_scripting.rst; one line, here wrapped).
    const SAMPLE: &str = r#"[{"time":"2026-11-22T02:00:04.512345678+01:00","parent":"3b1f7d0c55e4f0c2a0d4b1e6f8a9c7d2e5b3a1f0c9d8e7b6a5f4e3d2c1b0a9f8","tree":"9f2c4a7e1b3d5f6a8c0e2d4b6f8a1c3e5d7b9f0a2c4e6d8b1a3c5e7f9d0b2a4c","paths":["/etc","/srv","/var/lib/postgresql"],"hostname":"web-01","username":"root","uid":0,"gid":0,"excludes":["/var/cache"],"tags":["nightly"],"program_version":"restic 0.17.3","summary":{"backup_start":"2026-11-22T02:00:04.512345678+01:00","backup_end":"2026-11-22T02:03:41.101010101+01:00","files_new":112,"files_changed":37,"files_unmodified":48211,"dirs_new":3,"dirs_changed":41,"dirs_unmodified":5120,"data_blobs":180,"tree_blobs":44,"data_added":73400320,"data_added_packed":30113554,"total_files_processed":48360,"total_bytes_processed":9663676416},"id":"8d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e","short_id":"8d3e2f1a"},{"time":"2026-11-23T23:15:00.000000001Z","tree":"aa","paths":["/var/lib/mysql"],"hostname":"db-01","username":"root","id":"11aa","short_id":"11aa"}]"#;

    #[test]
    fn parses_snapshots_with_nanoseconds_and_zones() {
        let snaps = parse_snapshots(SAMPLE).unwrap();
        assert_eq!(snaps.len(), 2);
        assert_eq!(snaps[0].hostname, "web-01");
        assert_eq!(snaps[0].tags, vec!["nightly"]);
        assert_eq!(snaps[0].paths.len(), 3);
        // 02:00:04.5 at +01:00 is 01:00:04.5 UTC.
        assert_eq!(
            snaps[0].time.naive_utc().to_string(),
            "2026-11-22 01:00:04.512345678"
        );
        assert_eq!(snaps[1].hostname, "db-01");
        assert!(snaps[1].tags.is_empty(), "tags absent when empty");
    }

    #[test]
    fn empty_repository_and_garbage() {
        assert_eq!(parse_snapshots("[]\n").unwrap(), vec![]);
        assert_eq!(parse_snapshots("null").unwrap(), vec![]);
        assert!(matches!(
            parse_snapshots("Fatal: unable to open config file"),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            parse_snapshots(r#"[{"time":"yesterday","id":"ab"}]"#),
            Err(ParseError::Time { .. })
        ));
        assert!(parse_snapshots(r#"{"message_type":"exit_error"}"#).is_err());
    }
}
