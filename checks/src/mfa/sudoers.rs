//! sudoers: just enough of sudoers(5) to find the rules that let someone run sudo without
//! authenticating (`NOPASSWD:` tags, `Defaults !authenticate`), and the include directives
//! (`#include`, `@include`, `#includedir`, `@includedir` — directives, not comments).

/// Why a sudoers file could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
}

/// What matters in a sudoers file for MFA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SudoersItem {
    /// `#include FILE` / `@include FILE`.
    Include { path: String, line: usize },
    /// `#includedir DIR` / `@includedir DIR`.
    IncludeDir { path: String, line: usize },
    /// A user specification with a `NOPASSWD:` tag; `who` is its user list.
    NoPasswd { who: String, line: usize },
    /// `Defaults[…] !authenticate`; `scope` is what follows `Defaults` (`:deploy`, or empty).
    NoAuthenticate { scope: String, line: usize },
}

/// Parse one sudoers file.
pub fn parse_sudoers(text: &str) -> Result<Vec<SudoersItem>, ParseError> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if buf.is_empty() {
            start = i + 1;
        }
        if let Some(head) = raw.strip_suffix('\\') {
            buf.push_str(head);
            buf.push(' ');
            continue;
        }
        buf.push_str(raw);
        if let Some(item) = parse_line(&buf, start)? {
            out.push(item);
        }
        buf.clear();
    }
    if !buf.is_empty() {
        if let Some(item) = parse_line(&buf, start)? {
            out.push(item);
        }
    }
    Ok(out)
}

fn parse_line(raw: &str, line: usize) -> Result<Option<SudoersItem>, ParseError> {
    let text = raw.trim();
    for (prefix, dir) in [
        ("#includedir", true),
        ("@includedir", true),
        ("#include", false),
        ("@include", false),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
                continue;
            }
            let path = rest.trim().trim_matches('"').to_string();
            if path.is_empty() {
                return Err(ParseError::Syntax {
                    line,
                    message: format!("{prefix} without a path"),
                });
            }
            return Ok(Some(if dir {
                SudoersItem::IncludeDir { path, line }
            } else {
                SudoersItem::Include { path, line }
            }));
        }
    }
    let text = strip_comment(text);
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let first = text.split_whitespace().next().unwrap_or_default();
    if let Some(scope) = first.strip_prefix("Defaults") {
        let params = text[first.len()..].trim();
        let no_auth = params.split(',').any(|p| p.trim() == "!authenticate");
        return Ok(no_auth.then(|| SudoersItem::NoAuthenticate {
            scope: scope.to_string(),
            line,
        }));
    }
    if matches!(
        first,
        "User_Alias" | "Runas_Alias" | "Host_Alias" | "Cmnd_Alias" | "Cmd_Alias"
    ) {
        return Ok(None);
    }
    let has_nopasswd = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ')' || c == '=')
        .any(|tok| tok == "NOPASSWD:" || tok.starts_with("NOPASSWD:"))
        || text.contains(":NOPASSWD:");
    Ok(has_nopasswd.then(|| SudoersItem::NoPasswd {
        who: first.to_string(),
        line,
    }))
}

/// A `#` starts a comment unless it is a numeric uid/gid (`#1000`, `%#1000`).
fn strip_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'#' {
            continue;
        }
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let starts_token = i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b',' | b'%' | b'(');
        if !(next_is_digit && starts_token) {
            return &text[..i];
        }
    }
    text
}

/// Whether sudo reads `name` from an `includedir`: it skips names ending in `~` or containing `.`.
pub fn includedir_reads(name: &str) -> bool {
    !name.ends_with('~') && !name.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Debian 12's shipped /etc/sudoers (alias examples left out).
    const DEBIAN_SUDOERS: &str = "\
#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults\tenv_reset
Defaults\tmail_badpass
Defaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"

# This fixes CVE-2005-4890 and possibly breaks some versions of kdesu
# (#1011624, https://bugs.kde.org/show_bug.cgi?id=452532)
Defaults\tuse_pty

# User privilege specification
root\tALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo\tALL=(ALL:ALL) ALL

# See sudoers(5) for more information on \"@include\" directives:

@includedir /etc/sudoers.d
";

    #[test]
    fn debian_default_has_no_passwordless_rule() {
        let items = parse_sudoers(DEBIAN_SUDOERS).unwrap();
        assert_eq!(
            items,
            vec![SudoersItem::IncludeDir {
                path: "/etc/sudoers.d".into(),
                line: 20
            }]
        );
    }

    #[test]
    fn finds_nopasswd_and_not_authenticate() {
        let text = "\
# Created by cloud-init v. 23.1.1 on Tue, 24 Nov 2026 09:00:00 +0000
# User rules for admin
admin ALL=(ALL) NOPASSWD:ALL
deploy ALL=(root) /usr/bin/systemctl restart app, \\
   NOPASSWD: /usr/bin/journalctl
#1001 ALL=(ALL) ALL
Cmnd_Alias REBOOT = /sbin/reboot # NOPASSWD: in a comment
Defaults:backup !authenticate
Defaults !lecture, !authenticate
#includedir /etc/sudoers.d
";
        let items = parse_sudoers(text).unwrap();
        assert_eq!(
            items,
            vec![
                SudoersItem::NoPasswd {
                    who: "admin".into(),
                    line: 3
                },
                SudoersItem::NoPasswd {
                    who: "deploy".into(),
                    line: 4
                },
                SudoersItem::NoAuthenticate {
                    scope: ":backup".into(),
                    line: 8
                },
                SudoersItem::NoAuthenticate {
                    scope: "".into(),
                    line: 9
                },
                SudoersItem::IncludeDir {
                    path: "/etc/sudoers.d".into(),
                    line: 10
                },
            ]
        );
    }

    #[test]
    fn includedir_skips_dotted_and_backup_names() {
        assert!(includedir_reads("90-cloud-init-users"));
        assert!(!includedir_reads("README.md"));
        assert!(!includedir_reads("deploy~"));
        assert!(parse_sudoers("@include \n").is_err());
    }
}
