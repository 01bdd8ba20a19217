//! apt Release files: the header paragraph of `/var/lib/apt/lists/*_InRelease` (clearsigned) and
//! `*_Release`, and which of them a candidate's `Label:Version/Suite` origins come from.
//!
//! A candidate version listed in an index published on some `Date:` has been available since
//! that date at the latest: the date bounds the update's age from below even when the agent has
//! only just started watching the host.

use chrono::{DateTime, Utc};

use super::apt::AptRelease;

/// Why a Release file could not be read as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseParseError {
    #[error("empty file")]
    Empty,
    #[error("clearsigned message with no signed text")]
    NoSignedText,
    #[error("line {line}: not a `Field: value` line: {text:?}")]
    BadLine { line: usize, text: String },
    #[error("Date {0:?} is not an RFC 2822 date")]
    BadDate(String),
}

/// The fields of a Release file's header paragraph that identify the archive and date it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReleaseHeaders {
    pub origin: Option<String>,
    pub label: Option<String>,
    /// What apt calls the archive: `oldstable-security`, `noble-updates` …
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    /// When the archive published this index (`Date:`).
    pub date: Option<DateTime<Utc>>,
}

const SIGNED_HEAD: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIGNATURE_HEAD: &str = "-----BEGIN PGP SIGNATURE-----";

/// Parse the header paragraph of an `InRelease` (clearsigned) or `Release` file.
///
/// Only the signed text's first paragraph is read, up to the first blank line or the signature;
/// multi-line fields (`SHA256:` and its file list) are skipped. A missing `Date:` is `None`; a
/// `Date:` that does not parse, or a line that is not `Field: value`, is an error.
pub fn parse_release_headers(text: &str) -> Result<ReleaseHeaders, ReleaseParseError> {
    let mut lines = text.lines().enumerate().peekable();
    while lines.peek().is_some_and(|(_, l)| l.trim().is_empty()) {
        lines.next();
    }
    let Some((_, first)) = lines.peek() else {
        return Err(ReleaseParseError::Empty);
    };
    if first.trim_end() == SIGNED_HEAD {
        // Armor headers (`Hash: SHA512`) end at the first blank line; the signed text follows.
        lines.next();
        lines.find(|(_, l)| l.trim().is_empty());
        if lines.peek().is_none() {
            return Err(ReleaseParseError::NoSignedText);
        }
    }
    let mut h = ReleaseHeaders::default();
    let mut fields = 0;
    for (i, raw) in lines {
        // Clearsigned text dash-escapes lines starting with `-` (RFC 4880 §7.1).
        let line = raw.strip_prefix("- ").unwrap_or(raw);
        if line.trim().is_empty() || line.starts_with(SIGNATURE_HEAD) {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let bad = || ReleaseParseError::BadLine {
            line: i + 1,
            text: raw.chars().take(80).collect(),
        };
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad());
        }
        fields += 1;
        let value = value.trim();
        let slot = match name {
            "Origin" => &mut h.origin,
            "Label" => &mut h.label,
            "Suite" => &mut h.suite,
            "Codename" => &mut h.codename,
            "Version" => &mut h.version,
            "Date" => {
                h.date = Some(
                    parse_release_date(value)
                        .ok_or_else(|| ReleaseParseError::BadDate(value.to_string()))?,
                );
                continue;
            }
            _ => continue,
        };
        *slot = Some(value.to_string()).filter(|v| !v.is_empty());
    }
    if fields == 0 {
        return Err(ReleaseParseError::NoSignedText);
    }
    Ok(h)
}

/// `Wed, 20 May 2026 16:28:12 UTC`: RFC 2822 as archives write it. chrono knows `UT` and `GMT`
/// but not `UTC`, which dak and reprepro print, so the zone name is turned into `+0000` first.
pub fn parse_release_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let s = match s.rsplit_once(' ') {
        Some((head, zone)) if ["UTC", "GMT", "UT", "Z"].contains(&zone) => format!("{head} +0000"),
        _ => s.to_string(),
    };
    DateTime::parse_from_rfc2822(&s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The publication date of the index a candidate was read from, and that index's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDate {
    pub date: DateTime<Utc>,
    /// File name under `/var/lib/apt/lists`.
    pub file: String,
}

impl ReleaseHeaders {
    /// Whether this index is a security archive, by the same rule as apt's candidate origins
    /// ([`apt::is_security_archive`](super::apt::is_security_archive)).
    pub fn is_security(&self, extra: &[String]) -> bool {
        let f = |v: &Option<String>| v.clone().unwrap_or_default();
        super::apt::is_security_archive(&f(&self.label), &f(&self.suite), &f(&self.codename), extra)
    }

    /// How a summary names this index: `Debian oldstable (bookworm)`: label (else origin), suite,
    /// codename when it differs; `file` when the file names neither suite nor codename.
    pub fn describe(&self, file: &str) -> String {
        let who = self.label.as_ref().or(self.origin.as_ref());
        let what = match (&self.suite, &self.codename) {
            (Some(s), Some(c)) if s != c => format!("{s} ({c})"),
            (Some(s), _) | (None, Some(s)) => s.clone(),
            (None, None) => return format!("{file} (no Suite or Codename)"),
        };
        match who {
            Some(w) => format!("{w} {what}"),
            None => what,
        }
    }

    /// Whether apt's origin `Label:Version/Archive` can name this file, by its `Suite:`
    /// (`by_codename`: by its `Codename:`). apt prints the Label when the file has one, so labels
    /// must agree (both absent counts as agreeing); versions must agree when both are given.
    fn names(&self, origin: &AptRelease, by_codename: bool) -> bool {
        let archive = if by_codename {
            &self.codename
        } else {
            &self.suite
        };
        archive.as_deref() == Some(origin.archive.as_str())
            && self.label.as_deref().unwrap_or("") == origin.label
            && (origin.version.is_empty()
                || self.version.as_ref().is_none_or(|v| *v == origin.version))
    }
}

/// The Release files an origin names: by `Suite:`, else by `Codename:` (see [`candidate_index_date`]).
fn named_by<'a>(
    origin: &AptRelease,
    indexes: &'a [(String, ReleaseHeaders)],
) -> Vec<&'a (String, ReleaseHeaders)> {
    let matched: Vec<_> = indexes
        .iter()
        .filter(|(_, h)| h.names(origin, false))
        .collect();
    if matched.is_empty() {
        indexes
            .iter()
            .filter(|(_, h)| h.names(origin, true))
            .collect()
    } else {
        matched
    }
}

/// Whether a candidate origin is a security archive: by its own `Label`/archive, or because a
/// Release file it names is one (a `security_suites` entry may be a codename, which apt's origin
/// does not print).
pub fn origin_is_security(
    origin: &AptRelease,
    indexes: &[(String, ReleaseHeaders)],
    extra: &[String],
) -> bool {
    origin.is_security(extra)
        || named_by(origin, indexes)
            .iter()
            .any(|(_, h)| h.is_security(extra))
}

/// The earliest date at which the candidate is known to have been published, from its origins.
///
/// Each origin is matched to Release files by `Suite:` (by `Codename:` when no file has that
/// suite: Ubuntu gives every pocket the same codename, so codenames only break ties of last
/// resort). apt lists only origins that carry the candidate, so each origin's date is a bound;
/// the earliest wins. When several files match one origin (two mirrors of one suite) the
/// candidate may be in only one of them, so that origin counts with its latest date, and not at
/// all if one of them has no date.
pub fn candidate_index_date(
    origins: &[AptRelease],
    indexes: &[(String, ReleaseHeaders)],
) -> Option<IndexDate> {
    origins
        .iter()
        .filter_map(|o| {
            let matched = named_by(o, indexes);
            let mut latest: Option<IndexDate> = None;
            for (file, h) in matched {
                let date = h.date?;
                if latest.as_ref().is_none_or(|l| date > l.date) {
                    latest = Some(IndexDate {
                        date,
                        file: file.clone(),
                    });
                }
            }
            latest
        })
        .min_by_key(|d| d.date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Head and tail of /var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease.
    const SECURITY_INRELEASE: &str = "\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA256

Origin: Debian
Label: Debian-Security
Suite: oldstable-security
Version: 12
Codename: bookworm-security
Date: Wed, 20 May 2026 16:28:12 UTC
Valid-Until: Wed, 27 May 2026 16:28:12 UTC
Acquire-By-Hash: yes
Architectures: amd64 arm64 armel armhf i386 mips64el mipsel ppc64el s390x
Components: updates/main updates/contrib updates/non-free-firmware updates/non-free
Description: Debian 12 - Security Updates
SHA256:
 0ab2bd6ab5a4dde0bd3e4ae6ad3bb8b8e0c3e0a5c1e1e14f7b5f2e3a0d1c2b3a   1194093 main/binary-amd64/Packages
 9c1f3e7b1b4e2a6f8d0c5b7a9e3f1d2c4b6a8e0f2d4c6b8a0e2f4d6c8b0a2e4f    245622 main/binary-amd64/Packages.xz
-----BEGIN PGP SIGNATURE-----

iQIzBAEBCAAdFiEEc/SqMF4+2dDBJEGvC4yf0r0yUhUFAmoN3jwACgkQC4yf0r0y
=Jx8q
-----END PGP SIGNATURE-----
";

    #[test]
    fn clearsigned_inrelease_headers() {
        let h = parse_release_headers(SECURITY_INRELEASE).unwrap();
        assert_eq!(
            h,
            ReleaseHeaders {
                origin: Some("Debian".into()),
                label: Some("Debian-Security".into()),
                suite: Some("oldstable-security".into()),
                codename: Some("bookworm-security".into()),
                version: Some("12".into()),
                date: Some(t("2026-05-20T16:28:12Z")),
            }
        );
    }

    #[test]
    fn plain_release_with_sha512_armor_and_numeric_zone() {
        // A Release file (detached Release.gpg) from reprepro, numeric zone, no Label.
        let plain = "\
Origin: . nodistro
Suite: nodistro
Codename: nodistro
Date: Thu, 30 Apr 2026 14:44:54 +0200
Architectures: amd64 arm64
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages
";
        let h = parse_release_headers(plain).unwrap();
        assert_eq!(h.label, None);
        assert_eq!(h.suite.as_deref(), Some("nodistro"));
        assert_eq!(h.date, Some(t("2026-04-30T12:44:54Z")));

        let signed = format!(
            "{SIGNED_HEAD}\nHash: SHA512\n\nOrigin: Ubuntu\nLabel: Ubuntu\nSuite: noble-security\nVersion: 24.04\nCodename: noble\nDate: Mon, 23 Nov 2026 03:50:12 UTC\n{SIGNATURE_HEAD}\n"
        );
        let h = parse_release_headers(&signed).unwrap();
        assert_eq!(h.codename.as_deref(), Some("noble"));
        assert_eq!(h.date, Some(t("2026-11-23T03:50:12Z")));
    }

    #[test]
    fn missing_date_is_none_and_dates_in_every_zone_spelling_parse() {
        let h = parse_release_headers("Origin: Debian\nLabel: Debian-Security\n").unwrap();
        assert_eq!(h.date, None);
        assert_eq!(h.suite, None);
        for s in [
            "Sat, 16 May 2026 10:54:28 UTC",
            "Sat, 16 May 2026 10:54:28 GMT",
            "Sat, 16 May 2026 10:54:28 +0000",
            "Sat, 16 May 2026 12:54:28 +0200",
        ] {
            assert_eq!(
                parse_release_date(s),
                Some(t("2026-05-16T10:54:28Z")),
                "{s}"
            );
        }
        assert_eq!(
            parse_release_date("Sat, 6 Jun 2026 09:05:00 UTC"),
            Some(t("2026-06-06T09:05:00Z"))
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(parse_release_headers(""), Err(ReleaseParseError::Empty));
        assert_eq!(
            parse_release_headers(&format!("{SIGNED_HEAD}\nHash: SHA256\n")),
            Err(ReleaseParseError::NoSignedText)
        );
        assert!(matches!(
            parse_release_headers("<html>\n<head><title>404 Not Found</title></head>\n"),
            Err(ReleaseParseError::BadLine { line: 1, .. })
        ));
        assert_eq!(
            parse_release_headers("Origin: Debian\nDate: yesterday\n"),
            Err(ReleaseParseError::BadDate("yesterday".into()))
        );
        assert!(matches!(
            parse_release_headers("\u{0}\u{1}binary junk"),
            Err(ReleaseParseError::BadLine { .. })
        ));
    }

    #[test]
    fn release_files_are_classified_like_candidates_and_described() {
        let sec = parse_release_headers(SECURITY_INRELEASE).unwrap();
        assert!(sec.is_security(&[]));
        assert_eq!(
            sec.describe("f"),
            "Debian-Security oldstable-security (bookworm-security)"
        );
        let upd = parse_release_headers(
            "Origin: Debian\nLabel: Debian\nSuite: oldstable-updates\nCodename: bookworm-updates\n",
        )
        .unwrap();
        assert!(!upd.is_security(&[]));
        assert!(upd.is_security(&["bookworm-updates".to_string()]));
        assert_eq!(
            upd.describe("f"),
            "Debian oldstable-updates (bookworm-updates)"
        );
        let ubuntu = parse_release_headers(
            "Origin: Ubuntu\nLabel: Ubuntu\nSuite: noble-security\nCodename: noble\n",
        )
        .unwrap();
        assert!(ubuntu.is_security(&[]));
        let esm = parse_release_headers(
            "Origin: UbuntuESM\nLabel: UbuntuESM\nSuite: noble-infra-security\nCodename: noble\n",
        )
        .unwrap();
        assert!(esm.is_security(&[]));
        // Raspbian: one archive for everything, no security suite.
        let raspbian = parse_release_headers(
            "Origin: Raspbian\nLabel: Raspbian\nSuite: stable\nCodename: bookworm\n",
        )
        .unwrap();
        assert!(!raspbian.is_security(&[]));
        assert!(raspbian.is_security(&["Raspbian".to_string()]));
        // A codename in security_suites reaches candidates through the index they name.
        let indexes = vec![("upd".to_string(), upd.clone())];
        let tz = origin("Debian", "12-updates", "oldstable-updates");
        assert!(!origin_is_security(&tz, &indexes, &[]));
        assert!(origin_is_security(
            &tz,
            &indexes,
            &["bookworm-updates".to_string()]
        ));
        assert!(!origin_is_security(
            &origin("Debian", "12.15", "oldstable"),
            &indexes,
            &["bookworm-updates".to_string()]
        ));
        let bare = parse_release_headers("Origin: . nodistro\n").unwrap();
        assert!(!bare.is_security(&[]));
        assert_eq!(
            bare.describe("x_InRelease"),
            "x_InRelease (no Suite or Codename)"
        );
    }

    fn origin(label: &str, version: &str, archive: &str) -> AptRelease {
        AptRelease {
            label: label.into(),
            version: version.into(),
            archive: archive.into(),
        }
    }

    fn index(
        file: &str,
        label: &str,
        suite: &str,
        version: &str,
        codename: &str,
        date: &str,
    ) -> (String, ReleaseHeaders) {
        (
            file.into(),
            ReleaseHeaders {
                origin: None,
                label: Some(label.into()).filter(|s: &String| !s.is_empty()),
                suite: Some(suite.into()),
                codename: Some(codename.into()),
                version: Some(version.into()),
                date: (!date.is_empty()).then(|| t(date)),
            },
        )
    }

    #[test]
    fn candidate_takes_the_earliest_origin_and_the_latest_mirror() {
        let indexes = vec![
            index(
                "sec",
                "Debian-Security",
                "oldstable-security",
                "12",
                "bookworm-security",
                "2026-05-20T16:28:12Z",
            ),
            index(
                "main",
                "Debian",
                "oldstable",
                "12.14",
                "bookworm",
                "2026-05-16T10:54:28Z",
            ),
            index(
                "upd",
                "Debian",
                "oldstable-updates",
                "12-updates",
                "bookworm-updates",
                "2026-05-20T14:06:31Z",
            ),
        ];
        let sec = origin("Debian-Security", "12", "oldstable-security");
        let main = origin("Debian", "12.14", "oldstable");
        let d = candidate_index_date(&[main.clone(), sec.clone()], &indexes).unwrap();
        assert_eq!(
            (d.file.as_str(), d.date),
            ("main", t("2026-05-16T10:54:28Z"))
        );
        let d = candidate_index_date(std::slice::from_ref(&sec), &indexes).unwrap();
        assert_eq!(d.file, "sec");
        // Label and version must agree; the codename is a fallback.
        assert_eq!(
            candidate_index_date(&[origin("Debian", "12", "oldstable-security")], &indexes),
            None
        );
        assert_eq!(
            candidate_index_date(&[origin("Debian", "12.13", "oldstable")], &indexes),
            None
        );
        assert_eq!(
            candidate_index_date(&[origin("Debian", "", "bookworm")], &indexes).map(|d| d.file),
            Some("main".into())
        );
        // Two mirrors of one suite: the later date; one without a date: no bound from it.
        let mut mirrored = indexes.clone();
        mirrored.push(index(
            "sec2",
            "Debian-Security",
            "oldstable-security",
            "12",
            "bookworm-security",
            "2026-05-22T08:00:00Z",
        ));
        assert_eq!(
            candidate_index_date(std::slice::from_ref(&sec), &mirrored)
                .unwrap()
                .file,
            "sec2"
        );
        mirrored.push(index(
            "sec3",
            "Debian-Security",
            "oldstable-security",
            "12",
            "bookworm-security",
            "",
        ));
        assert_eq!(
            candidate_index_date(std::slice::from_ref(&sec), &mirrored),
            None
        );
        assert_eq!(
            candidate_index_date(&[main, sec], &mirrored).unwrap().file,
            "main"
        );
    }

    #[test]
    fn ubuntu_pockets_share_a_codename_but_match_by_suite() {
        let indexes = vec![
            index(
                "release",
                "Ubuntu",
                "noble",
                "24.04",
                "noble",
                "2024-04-25T15:10:33Z",
            ),
            index(
                "security",
                "Ubuntu",
                "noble-security",
                "24.04",
                "noble",
                "2026-11-23T03:50:12Z",
            ),
            index(
                "esm",
                "UbuntuESMApps",
                "noble-apps-security",
                "24.04",
                "noble",
                "2026-11-23T02:14:09Z",
            ),
        ];
        let d =
            candidate_index_date(&[origin("Ubuntu", "24.04", "noble-security")], &indexes).unwrap();
        assert_eq!(d.file, "security");
        let d = candidate_index_date(
            &[origin("UbuntuESMApps", "24.04", "noble-apps-security")],
            &indexes,
        )
        .unwrap();
        assert_eq!(d.file, "esm");
        // A local archive without a Release file (`localhost`) matches nothing.
        assert_eq!(
            candidate_index_date(&[origin("", "", "localhost")], &indexes),
            None
        );
    }
}
