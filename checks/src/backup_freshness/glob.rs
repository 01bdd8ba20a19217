//! Glob expansion over the probe (`kind = "path"`): `*` (any run of characters) and `?` (one
//! character) in any path component; no `**`, no `[…]` classes (brackets are literal). Like the
//! shell, a wildcard does not match a leading `.` unless the pattern component starts with `.`.

use crate::probe::{FileInfo, Probe, ProbeError};

/// True when `name` matches the one-component `pattern`.
pub fn component_matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard match with single-star backtracking (linear in practice).
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn has_wildcard(component: &str) -> bool {
    component.contains('*') || component.contains('?')
}

fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A file or directory the glob matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub path: String,
    pub info: FileInfo,
}

/// One directory read while expanding: its path and entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub dir: String,
    pub names: Vec<String>,
}

/// The outcome of an expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expansion {
    pub matches: Vec<Match>,
    /// Directories read (evidence of what was looked at, and of an empty directory).
    pub listings: Vec<Listing>,
    /// Directories on the way that do not exist.
    pub missing_dirs: Vec<String>,
}

/// Expand an absolute glob through the probe. "Does not exist" is part of the answer
/// (`missing_dirs`, no match); any other probe failure (permission denied, I/O) is an error,
/// because then the answer is unknown.
pub fn expand(probe: &dyn Probe, pattern: &str) -> Result<Expansion, ProbeError> {
    // A Windows pattern (`D:\\Backups\\db-*.bak`) is walked with `/`, which Windows accepts too.
    let (root, rest) = match pattern.as_bytes() {
        [d, b':', b'\\' | b'/', ..] if d.is_ascii_alphabetic() => {
            (format!("{}:/", *d as char), pattern[3..].replace('\\', "/"))
        }
        _ => ("/".to_string(), pattern.to_string()),
    };
    let components: Vec<&str> = rest.split('/').filter(|c| !c.is_empty()).collect();
    let mut out = Expansion::default();
    let mut candidates = vec![root];
    let last = components.len().saturating_sub(1);
    for (i, comp) in components.iter().enumerate() {
        if !has_wildcard(comp) {
            for c in &mut candidates {
                *c = join(c, comp);
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &candidates {
            let names = match probe.read_dir(dir) {
                Ok(n) => n,
                Err(ProbeError::NotFound { .. }) => {
                    out.missing_dirs.push(dir.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            for name in names.iter().filter(|n| component_matches(comp, n)) {
                let path = join(dir, name);
                // Intermediate components only descend into directories (a dangling symlink
                // on the way is skipped, like the shell does).
                let descend = i == last
                    || match probe.metadata(&path) {
                        Ok(info) => info.is_dir,
                        Err(ProbeError::NotFound { .. }) => false,
                        Err(e) => return Err(e),
                    };
                if descend {
                    next.push(path);
                }
            }
            out.listings.push(Listing {
                dir: dir.clone(),
                names,
            });
        }
        candidates = next;
    }
    for path in candidates {
        match probe.metadata(&path) {
            Ok(info) => out.matches.push(Match { path, info }),
            // A literal last component that is absent is simply not a match; note its directory
            // when that is what is missing.
            Err(ProbeError::NotFound { .. }) => {
                if let Some((parent, _)) = path.rsplit_once('/') {
                    let parent = if parent.is_empty() { "/" } else { parent };
                    if !probe.exists(parent) {
                        out.missing_dirs.push(parent.to_string());
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        assert!(component_matches("*.sql.gz", "db-2026-11-24.sql.gz"));
        assert!(!component_matches("*.sql.gz", "db-2026-11-24.sql"));
        assert!(component_matches(
            "db-????-??-??.dump",
            "db-2026-11-24.dump"
        ));
        assert!(!component_matches(
            "db-????-??-??.dump",
            "db-2026-11-4.dump"
        ));
        assert!(component_matches("*", "anything"));
        assert!(component_matches("a*b*c", "aXXbYYbc"));
        assert!(!component_matches("a*b*c", "aXXbYYbd"));
        assert!(
            component_matches("daily.[0]", "daily.[0]"),
            "brackets are literal"
        );
    }

    #[test]
    fn hidden_files_need_an_explicit_dot() {
        assert!(!component_matches("*", ".partial.sql.gz"));
        assert!(!component_matches("*.gz", ".tmp.gz"));
        assert!(component_matches(".*", ".tmp.gz"));
    }

    fn host(
        files: &[(&str, &str)],
        mtimes: &str,
    ) -> (tempfile::TempDir, crate::fixture::FixtureProbe) {
        let d = tempfile::tempdir().unwrap();
        for (rel, content) in files {
            let p = d.path().join("root").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            #[allow(clippy::disallowed_methods)]
            std::fs::write(p, content).unwrap();
        }
        #[allow(clippy::disallowed_methods)]
        std::fs::write(
            d.path().join("fixture.toml"),
            format!("now = \"2026-11-24T10:00:00Z\"\n[mtimes]\n{mtimes}"),
        )
        .unwrap();
        let p = crate::fixture::FixtureProbe::load(d.path()).unwrap();
        (d, p)
    }

    #[test]
    fn expands_wildcards_in_several_components() {
        let (_d, p) = host(
            &[
                ("srv/backups/web/db-1.sql.gz", "x"),
                ("srv/backups/web/notes.txt", "x"),
                ("srv/backups/mail/db-2.sql.gz", "xy"),
                ("srv/backups/README", "x"),
            ],
            "\"/srv/backups/mail/db-2.sql.gz\" = \"2026-11-24T02:00:00Z\"\n",
        );
        let e = expand(&p, "/srv/backups/*/db-*.sql.gz").unwrap();
        let paths: Vec<_> = e.matches.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/srv/backups/mail/db-2.sql.gz",
                "/srv/backups/web/db-1.sql.gz"
            ]
        );
        assert_eq!(e.matches[0].info.size, 2);
        assert!(e.matches[0].info.modified.is_some());
        assert_eq!(e.listings.len(), 3, "/srv/backups, then mail and web");
        assert!(e.missing_dirs.is_empty());
    }

    #[test]
    fn missing_directory_is_reported_not_an_error() {
        let (_d, p) = host(&[("srv/other", "x")], "");
        let e = expand(&p, "/srv/backups/pg/*.sql.gz").unwrap();
        assert!(e.matches.is_empty());
        assert_eq!(e.missing_dirs, ["/srv/backups/pg"]);
        let e = expand(&p, "/srv/backups/latest.dump").unwrap();
        assert_eq!(e.missing_dirs, ["/srv/backups"]);
        let e = expand(&p, "/srv/latest.dump").unwrap();
        assert!(e.missing_dirs.is_empty() && e.matches.is_empty());
    }
}
