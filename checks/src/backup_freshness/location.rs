//! Saying what a source is and why its tool failed, in words a reader can act on: where the
//! backups live (repository or path, credentials removed) and the line of a tool's error output
//! that names the cause.

use serde_json::Value;

/// A repository location as it may be shown: the userinfo of a URL (`https://user:pass@host/`,
/// `s3:https://KEY:SECRET@host/bucket`, `rest:https://TOKEN@host/`) is removed. A login name
/// alone is kept for ssh-style locations (`sftp:backup@host:/srv`, `ssh://borg@host/./repo`,
/// `borg@host:repo`), where it is an account name and not a credential.
///
/// A small local rule until the agent-wide redaction module covers repository URLs.
pub fn redact_repository(repo: &str) -> String {
    let Some(scheme_end) = repo.find("://") else {
        return repo.to_string(); // sftp:user@host:/path, user@host:path, /local/path, b2:bucket
    };
    let (head, rest) = repo.split_at(scheme_end + 3);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return repo.to_string();
    };
    let userinfo = &authority[..at];
    let ssh = head.ends_with("ssh://") || head.ends_with("sftp://");
    let kept = if ssh && !userinfo.contains(':') {
        format!("{userinfo}@")
    } else {
        String::new()
    };
    format!("{head}{kept}{}", &rest[at + 1..])
}

/// What restic and borg print when they cannot read a repository, in the words of the line that
/// says why; follow-up lines ("Is there a repository at the following location?", the location
/// itself, tracebacks) come after it.
const CAUSE_MARKERS: &[&str] = &[
    "Fatal:",
    "Access Denied",
    "AccessDenied",
    "unable to open",
    "does not exist",
    "is incorrect",
    "Permission denied",
    "Connection refused",
    "Connection closed by remote host",
    "No such file or directory",
];

/// The line of a failed run's stderr that names the cause: the first line (restic's JSON
/// `exit_error` lines read as their `message`) carrying one of [`CAUSE_MARKERS`]; else the last
/// non-empty line; cut at 240 characters.
pub fn cause_line(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| l.to_string())
        })
        .collect();
    let line = lines
        .iter()
        .find(|l| CAUSE_MARKERS.iter().any(|m| l.contains(m)))
        .or(lines.last())
        .map_or("no error message", String::as_str);
    line.chars().take(240).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_repository_urls() {
        assert_eq!(
            redact_repository("rest:https://web-03:s3cr3t@backup.example.org:8000/web-03/"),
            "rest:https://backup.example.org:8000/web-03/"
        );
        assert_eq!(
            redact_repository(
                "s3:https://AKIAEXAMPLE:wJalrXUtnFEMI@s3.eu-west-1.amazonaws.com/acme/web"
            ),
            "s3:https://s3.eu-west-1.amazonaws.com/acme/web"
        );
        assert_eq!(
            redact_repository("rest:https://tok3n@backup.example.org/"),
            "rest:https://backup.example.org/"
        );
        // Account names of ssh-style locations are kept; a password never is.
        assert_eq!(
            redact_repository("ssh://borg@nas.example.org:2222/./web-03"),
            "ssh://borg@nas.example.org:2222/./web-03"
        );
        assert_eq!(
            redact_repository("ssh://borg:pw@nas.example.org/./web-03"),
            "ssh://nas.example.org/./web-03"
        );
        for plain in [
            "sftp:backup@offsite.example.net:/srv/restic/web-03",
            "/mnt/nas/restic/mail-01",
            "b2:acme-backups:web-03",
            "rest:https://backup.example.org:8000/a@b",
        ] {
            assert_eq!(redact_repository(plain), plain);
        }
    }

    #[test]
    fn the_cause_is_quoted_not_the_last_line() {
        // restic 0.16 on a path that holds no repository.
        let stderr = "Fatal: unable to open config file: stat /srv/restic/db-01/config: no such file or directory\n\
                      Is there a repository at the following location?\n\
                      /srv/restic/db-01\n";
        assert_eq!(
            cause_line(stderr),
            "Fatal: unable to open config file: stat /srv/restic/db-01/config: no such file or directory"
        );
        // restic --json: the exit_error message.
        assert_eq!(
            cause_line("{\"message_type\":\"exit_error\",\"code\":12,\"message\":\"Fatal: wrong password or no key found\"}\n"),
            "Fatal: wrong password or no key found"
        );
        // borg: the cause, not the hint that follows it.
        assert_eq!(
            cause_line("Remote: Permission denied (publickey).\nConnection closed by remote host. Is borg working on the server?\n"),
            "Remote: Permission denied (publickey)."
        );
        assert_eq!(
            cause_line("passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.\n"),
            "passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect."
        );
        // Nothing recognisable: the last line, as before.
        assert_eq!(cause_line("something odd\nlast words\n"), "last words");
        assert_eq!(cause_line(""), "no error message");
    }
}
