//! zypper: `zypper --xmlout list-patches`, read with a small tag scanner (the format is flat:
//! `<update>` elements with attributes and an optional `<issue-date time_t=…/>` child).

use chrono::{DateTime, Utc};

/// Why zypper's XML could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZypperParseError {
    #[error("no <update-status> element: not zypper --xmlout list-patches output")]
    NotUpdateStatus,
    #[error("unterminated tag at byte {0}")]
    Unterminated(usize),
    #[error("patch {patch}: {what}")]
    BadPatch { patch: String, what: String },
}

/// One patch of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZypperPatch {
    pub name: String,
    pub edition: String,
    /// `needed`, `applied`, `not-needed` …
    pub status: String,
    /// `security`, `recommended`, `optional` …
    pub category: String,
    /// The advisory's `issue-date` (`time_t` attribute), when zypper gives one.
    pub issued: Option<DateTime<Utc>>,
}

/// Parse `zypper --non-interactive --no-refresh --xmlout list-patches`.
pub fn parse_list_patches(text: &str) -> Result<Vec<ZypperPatch>, ZypperParseError> {
    let mut out: Vec<ZypperPatch> = Vec::new();
    let mut saw_status = false;
    let mut rest = text;
    let mut pos = 0;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after
            .find('>')
            .ok_or(ZypperParseError::Unterminated(pos + open))?;
        let tag = after[..close].trim_end_matches('/').trim();
        pos += open + 1 + close + 1;
        rest = &after[close + 1..];
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        match name {
            "update-status" => saw_status = true,
            "update" => {
                let get = |k: &str| attr(attrs, k).unwrap_or_default();
                let kind = get("kind");
                if !kind.is_empty() && kind != "patch" {
                    continue;
                }
                let patch = ZypperPatch {
                    name: get("name"),
                    edition: get("edition"),
                    status: get("status"),
                    category: get("category"),
                    issued: None,
                };
                if patch.name.is_empty() {
                    return Err(ZypperParseError::BadPatch {
                        patch: tag.to_string(),
                        what: "no name attribute".into(),
                    });
                }
                out.push(patch);
            }
            "issue-date" => {
                if let Some(p) = out.last_mut() {
                    let t = attr(attrs, "time_t").unwrap_or_default();
                    let secs: i64 = t.parse().map_err(|_| ZypperParseError::BadPatch {
                        patch: p.name.clone(),
                        what: format!("issue-date time_t {t:?} is not a number"),
                    })?;
                    p.issued = DateTime::from_timestamp(secs, 0);
                }
            }
            _ => {}
        }
    }
    if !saw_status {
        return Err(ZypperParseError::NotUpdateStatus);
    }
    Ok(out)
}

/// The value of attribute `key` (single or double quotes), entities decoded.
fn attr(attrs: &str, key: &str) -> Option<String> {
    let mut s = attrs;
    loop {
        s = s.trim_start();
        let eq = s.find('=')?;
        let k = s[..eq].trim();
        let v = s[eq + 1..].trim_start();
        let quote = v.chars().next()?;
        if quote != '"' && quote != '\'' {
            return None;
        }
        let end = v[1..].find(quote)?;
        let value = &v[1..1 + end];
        if k == key {
            return Some(
                value
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            );
        }
        s = &v[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_patches_with_issue_dates() {
        let text = r#"<?xml version='1.0'?>
<stream>
<message type="info">Loading repository data...</message>
<update-status version="0.6">
<update-list>
<update name="openSUSE-SLE-15.6-2026-1"
        kind="patch"
        edition="1"
        arch="noarch"
        status="needed"
        category="security"
        severity="important">
  <summary>An important update</summary>
  <source alias="Main Repository" url="https://example.invalid/repo" />
  <issue-date text="2026-06-21T00:44:54Z" time_t="1782002694"/>
</update>
<update kind="patch" name="openSUSE-Leap-16.0-1126" edition="1" arch="noarch" status="needed" category="recommended" severity="moderate" pkgmanager="false" restart="false" interactive="false">
</update>
</update-list>
</update-status>
</stream>
"#;
        let p = parse_list_patches(text).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].category, "security");
        assert_eq!(
            p[0].issued.unwrap().to_rfc3339(),
            "2026-06-21T00:44:54+00:00"
        );
        assert_eq!(p[1].category, "recommended");
        assert_eq!(p[1].issued, None);
    }

    #[test]
    fn not_xml_is_an_error() {
        assert_eq!(
            parse_list_patches("Repository 'Main' is out-of-date.\n"),
            Err(ZypperParseError::NotUpdateStatus)
        );
        assert!(matches!(
            parse_list_patches("<update-status version=\"0.6\"><update name=\"x\""),
            Err(ZypperParseError::Unterminated(_))
        ));
    }
}

/// Time of the last `zypper patch`/`update`/`dist-upgrade` command in `/var/log/zypp/history`
/// (`2026-11-02 09:00:00|command|root@host|'zypper' 'patch'|`, local time `offset`). The log records
/// when the command started, not whether it succeeded.
pub fn parse_zypp_history_last_patch(
    text: &str,
    offset: chrono::FixedOffset,
) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            if f.len() < 4 || f[1] != "command" {
                return None;
            }
            let words: Vec<String> = f[3]
                .split_whitespace()
                .map(|w| w.trim_matches('\'').to_string())
                .collect();
            let patching = words.iter().skip(1).any(|w| {
                matches!(
                    w.as_str(),
                    "patch" | "update" | "up" | "dist-upgrade" | "dup"
                )
            });
            if !patching {
                return None;
            }
            let naive = chrono::NaiveDateTime::parse_from_str(f[0], "%Y-%m-%d %H:%M:%S").ok()?;
            offset
                .from_local_datetime(&naive)
                .single()
                .map(|t| t.with_timezone(&Utc))
        })
        .max()
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn last_patch_command() {
        let text = "\
# 2026-11-02 09:00:00 openssl-3-3.1.4-150600.5.15.1.x86_64.rpm installed ok
2026-10-02 09:00:00|command|root@sles|'zypper' 'patch'|
2026-10-02 09:00:05|install|openssl-3|3.1.4-150600.5.15.1|x86_64||repo-sle-update|abc|
2026-11-02 09:00:00|command|root@sles|'zypper' 'install' 'tmux'|
";
        let t = parse_zypp_history_last_patch(text, chrono::FixedOffset::east_opt(0).unwrap());
        assert_eq!(t.unwrap().to_rfc3339(), "2026-10-02T09:00:00+00:00");
    }
}
