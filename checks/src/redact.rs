//! Redaction: the one door out for anything read on a host.
//!
//! Every evidence excerpt, evidence source, fact and summary passes through this module before it
//! leaves the checks crate ([`crate::result::Evidence`] cannot be built without it, and
//! [`crate::run_check`] redacts facts and summaries). Secrets are cut at the source, before any
//! excerpt, hash or fact is built, so the agent's spool, the collector and everything downstream
//! only ever see the redacted text.
//!
//! What is redacted (the value is replaced by [`REDACTED`], what a judgement needs is kept):
//! - account files (`/etc/shadow`, `/etc/gshadow`, `/etc/passwd`, `/etc/group`, their `-` backups,
//!   `/etc/security/opasswd`): the password field keeps its lock prefix (`!`, `*`), its hash scheme
//!   (`$y$`, `$6$` …) and the well-known non-secrets (empty, `x`, `*`, `!`, `!!`): `!$6$<redacted>`;
//! - TOTP files: the seed and the scratch codes of `~/.google_authenticator`, the PIN and key of
//!   each `users.oath` line;
//! - in any other text (configuration files, command output, argv, facts, summaries): the value of
//!   every `key = value`, `key: value`, `KEY=value`, `"key": "value"` and `--flag=value` whose key
//!   names a secret (`password`, `passphrase`, `pass`, `secret`, `token`, `apikey`, Duo's `skey`,
//!   `RESTIC_PASSWORD*`, `BORG_PASSPHRASE`, `BORG_PASSCOMMAND` …), the value after `--password`,
//!   `--passphrase`, `--secret` and `--token`, the password of a URL's userinfo
//!   (`rest:https://user:<redacted>@host/`), crypt hashes (`$6$<redacted>`) and the body of PEM
//!   private keys.
//!
//! Redaction is idempotent: redacting redacted text changes nothing, so the collector can apply it
//! again (schema migration v7) and an agent's excerpt keeps its SHA-256.

use crate::result::EvidenceKind;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Content read from `source` (a host path for files; argv or a directory for the other kinds),
/// redacted. The rules depend on what the file is.
pub fn content(kind: EvidenceKind, source: &str, text: &str) -> String {
    if kind == EvidenceKind::File {
        let (dir, base) = source.rsplit_once('/').unwrap_or(("", source));
        match base {
            // Only the account databases in /etc: `/etc/pam.d/passwd` is a PAM stack.
            "shadow" | "shadow-" | "gshadow" | "gshadow-" | "passwd" | "passwd-" | "group"
            | "group-"
                if dir == "/etc" =>
            {
                return map_lines(text, account_line)
            }
            "opasswd" => return map_lines(text, opasswd_line),
            _ => {}
        }
        if base == ".google_authenticator" || looks_like_google_authenticator(text) {
            return google_authenticator(text);
        }
        if base.ends_with(".oath") {
            return map_lines(text, oath_line);
        }
    }
    self::text(text)
}

/// Free text (configuration, command output, argv, summary, fact), redacted by the generic rules.
pub fn text(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut in_private_key = false;
    for line in text.split('\n') {
        // PEM private keys: keep the armour lines, replace the body by one marker line.
        if in_private_key {
            if line.trim_start().starts_with("-----END") {
                in_private_key = false;
                out.push(REDACTED.to_string());
                out.push(line.to_string());
            }
            continue;
        }
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            in_private_key = true;
            out.push(line.to_string());
            continue;
        }
        out.push(redact_line(line));
    }
    if in_private_key {
        // Cut before the END line (an excerpt, or a broken file): the body is still withheld.
        out.push(REDACTED.to_string());
    }
    out.join("\n")
}

/// Redact every string inside a JSON value (facts).
pub fn json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let r = text(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(json),
        serde_json::Value::Object(map) => map.values_mut().for_each(json),
        _ => {}
    }
}

fn map_lines(text: &str, f: fn(&str) -> String) -> String {
    text.split('\n').map(f).collect::<Vec<_>>().join("\n")
}

/// The password field of an account file line (`name:password:…`).
fn account_line(line: &str) -> String {
    let mut fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 2 {
        return line.to_string();
    }
    let pw = password_field(fields[1]);
    fields[1] = &pw;
    fields.join(":")
}

/// `/etc/security/opasswd`: `name:uid:count:hash,hash,…`.
fn opasswd_line(line: &str) -> String {
    let mut fields: Vec<String> = line.split(':').map(str::to_string).collect();
    if fields.len() < 4 {
        return account_line(line);
    }
    let hashes = fields[3..].join(":");
    fields.truncate(3);
    fields.push(
        hashes
            .split(',')
            .map(password_field)
            .collect::<Vec<_>>()
            .join(","),
    );
    fields.join(":")
}

/// Keep what the judgement needs of a password field: the lock prefix (`!`, `*`), the hash scheme
/// (`$y$`), the non-secrets (empty, `x`, `*`, `!`, `!!`); the rest becomes [`REDACTED`].
pub fn password_field(field: &str) -> String {
    if field == "x" {
        return field.to_string();
    }
    let lock_len = field.len() - field.trim_start_matches(['!', '*']).len();
    let (lock, rest) = field.split_at(lock_len);
    if rest.is_empty() || rest == REDACTED {
        return field.to_string();
    }
    match crypt_prefix(rest) {
        Some(prefix) => format!("{lock}{prefix}{REDACTED}"),
        None => format!("{lock}{REDACTED}"),
    }
}

/// `$id$` of a crypt(3) hash (`$y$`, `$6$`, `$2b$`, `$argon2id$` …), if `s` starts with one.
fn crypt_prefix(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('$')?;
    let end = rest.find('$')?;
    let id = &rest[..end];
    let known = matches!(
        id,
        "1" | "2" | "2a" | "2b" | "2x" | "2y" | "3" | "5" | "6" | "7" | "y" | "gy" | "sha1" | "md5"
    ) || id.starts_with("argon2")
        || id.starts_with("pbkdf2")
        || id == "scrypt";
    known.then(|| &s[..end + 2])
}

/// A google-authenticator secret file: its option lines start with `" `.
fn looks_like_google_authenticator(text: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with("\" TOTP_AUTH")
            || l.starts_with("\" HOTP_COUNTER")
            || l.starts_with("\" RATE_LIMIT")
            || l.starts_with("\" WINDOW_SIZE")
            || l.starts_with("\" DISALLOW_REUSE")
    })
}

/// The seed (first line) and the scratch codes (lines of digits) go; the options stay.
fn google_authenticator(text: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| {
            let t = l.trim();
            if t.is_empty() || t.starts_with('"') || t == REDACTED {
                l.to_string()
            } else if i == 0 || t.chars().all(|c| c.is_ascii_digit()) {
                REDACTED.to_string()
            } else {
                self::text(l)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `users.oath`: `TYPE USER PIN KEY [COUNTER [TIME]]`; the PIN (unless `-` or `+`) and the key go.
fn oath_line(line: &str) -> String {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return line.to_string();
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let out: Vec<&str> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| match i {
            2 if *f == "-" || *f == "+" => f,
            2 | 3 => REDACTED,
            _ => f,
        })
        .collect();
    out.join(" ")
}

/// Whether a key names a secret. Keys are split into words (`RESTIC_PASSWORD_FILE`,
/// `secretKey`, `api-key`); sshd's `…Authentication` switches and `PermitEmptyPasswords` are
/// judgements, not secrets.
pub fn is_secret_key(key: &str) -> bool {
    let words = key_words(key);
    if words.is_empty() {
        return false;
    }
    let compact: String = words.concat();
    // sudoers' `NOPASSWD:` tag and sshd's switches are judgements, not secrets.
    if compact.ends_with("authentication")
        || compact == "permitemptypasswords"
        || compact == "nopasswd"
    {
        return false;
    }
    const ANYWHERE: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "passcommand",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "credential",
    ];
    if ANYWHERE.iter().any(|w| compact.contains(w)) {
        return true;
    }
    const WORDS: &[&str] = &["skey", "psk", "pwd", "pin"];
    if words.iter().any(|w| WORDS.contains(&w.as_str())) {
        return true;
    }
    let last = words.last().map(String::as_str).unwrap_or_default();
    last == "pass" || (last == "key" && words.len() >= 2 && words[words.len() - 2] == "auth")
}

/// Lower-case words of a key: split on non-alphanumerics and on lower→upper case changes.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// One line through the generic rules: URL userinfo, `key=value` pairs, secret flags, crypt hashes.
fn redact_line(line: &str) -> String {
    let line = url_userinfo(line);
    let line = key_values(&line);
    let line = secret_flags(&line);
    crypt_hashes(&line)
}

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`.
fn url_userinfo(line: &str) -> String {
    if !line.contains("://") {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.find(':') {
                    Some(colon) if colon + 1 < userinfo.len() => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str(REDACTED);
                    }
                    _ => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The value of every `key=value` / `key: value` whose key names a secret.
fn key_values(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut copied = 0; // bytes of `line` already in `out`
    let mut i = 0;
    while i < b.len() {
        let sep = b[i];
        if sep != b'=' && sep != b':' {
            i += 1;
            continue;
        }
        // `scheme://` and `::` are not separators.
        if sep == b':' && (line[i + 1..].starts_with("//") || line[i + 1..].starts_with(':')) {
            i += 1;
            continue;
        }
        // The key: skip blanks and a closing quote, then a run of key characters.
        let mut k_end = i;
        while k_end > 0 && (b[k_end - 1] == b' ' || b[k_end - 1] == b'\t') {
            k_end -= 1;
        }
        let mut key_quote = None;
        if k_end > 0 && (b[k_end - 1] == b'"' || b[k_end - 1] == b'\'') {
            key_quote = Some(b[k_end - 1]);
            k_end -= 1;
        }
        let mut k_start = k_end;
        while k_start > 0 && is_key_char(b[k_start - 1]) {
            k_start -= 1;
        }
        if k_start == k_end {
            i += 1;
            continue;
        }
        // What precedes the key: an opening quote of the key itself, or of a quoted assignment
        // (`Environment="RESTIC_PASSWORD=…"`), or the start of the line (after `export`).
        let mut before = k_start;
        if let Some(q) = key_quote {
            if before > 0 && b[before - 1] == q {
                before -= 1;
            } else {
                i += 1;
                continue;
            }
        }
        let enclosing_quote = (key_quote.is_none() && before > 0)
            .then(|| b[before - 1])
            .filter(|c| *c == b'"' || *c == b'\'');
        let prefix = line[..before].trim();
        let at_line_start = prefix.is_empty()
            || prefix == "export"
            || prefix == "declare -x"
            || prefix == "set"
            || prefix == "-"
            || prefix == "#"
            || prefix == ";"
            || prefix == "//";
        let key = &line[k_start..k_end];
        // `key:value` without a blank is a package epoch, a time or a `user:password` pair of
        // another format, not configuration; `passwd:` is nsswitch.conf's database name. An
        // unquoted `key: value` is configuration (YAML, mail headers) only at the start of a line
        // (after indentation, `- ` or a comment marker): in prose — a summary such as
        // `no account can log in with a password: the 4 accounts…` or `… in password-auth:
        // sufficient pam_unix …` — the colon ends a sentence, and what follows is not a value.
        let colon_not_config = sep == b':'
            && key_quote.is_none()
            && (!matches!(b.get(i + 1), Some(b' ' | b'\t') | None)
                || key == "passwd"
                || !at_line_start);
        if colon_not_config || !is_secret_key(key) {
            i += 1;
            continue;
        }
        // The value.
        let mut v_start = i + 1;
        while v_start < b.len() && (b[v_start] == b' ' || b[v_start] == b'\t') {
            v_start += 1;
        }
        let (v_start, v_end) = if v_start < b.len() && (b[v_start] == b'"' || b[v_start] == b'\'') {
            let q = b[v_start];
            let close = line[v_start + 1..]
                .find(q as char)
                .map_or(b.len(), |p| v_start + 1 + p);
            (v_start + 1, close)
        } else if let Some(q) = enclosing_quote {
            let close = line[v_start..]
                .find(q as char)
                .map_or(b.len(), |p| v_start + p);
            (v_start, close)
        } else if at_line_start {
            (v_start, line.trim_end().len().max(v_start))
        } else {
            let end = line[v_start..]
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | '"' | '\'' | ',' | ';' | '}' | ')')
                })
                .map_or(b.len(), |p| v_start + p);
            (v_start, end)
        };
        let value = &line[v_start..v_end];
        if !value.is_empty() && value != REDACTED {
            out.push_str(&line[copied..v_start]);
            out.push_str(REDACTED);
            copied = v_end;
        }
        i = v_end.max(i + 1);
    }
    out.push_str(&line[copied..]);
    out
}

/// `--password VALUE` (the value as the next word): long flags that name the secret itself.
fn secret_flags(line: &str) -> String {
    if !line.contains("--") {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut redact_next = false;
    let mut rest = line;
    while !rest.is_empty() {
        let ws = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..ws]);
        rest = &rest[ws..];
        if rest.is_empty() {
            break;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        if redact_next && word != REDACTED {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        redact_next = word
            .strip_prefix("--")
            .filter(|f| !f.contains('='))
            .is_some_and(|f| {
                let words = key_words(f);
                words.last().is_some_and(|w| {
                    matches!(
                        w.as_str(),
                        "password" | "passphrase" | "passwd" | "secret" | "token" | "pass"
                    )
                })
            });
        rest = &rest[end..];
    }
    out
}

/// crypt(3) hashes anywhere in a line: `$6$salt$hash` → `$6$<redacted>`.
fn crypt_hashes(line: &str) -> String {
    if !line.contains('$') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let cand = &rest[i..];
        if let Some(prefix) = crypt_prefix(cand) {
            let body_len = cand[prefix.len()..]
                .find(|c: char| {
                    !(c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '/' | '$' | '=' | ',' | '+' | '-'))
                })
                .unwrap_or(cand.len() - prefix.len());
            // A shell's `$1$2` is not a hash: a hash body is long.
            if body_len >= 8 {
                out.push_str(prefix);
                out.push_str(REDACTED);
                rest = &cand[prefix.len() + body_len..];
                continue;
            }
        }
        out.push('$');
        rest = &cand[1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> String {
        let once = content(EvidenceKind::File, path, text);
        assert_eq!(
            content(EvidenceKind::File, path, &once),
            once,
            "redaction of {path} is idempotent"
        );
        once
    }

    fn gen(s: &str) -> String {
        let once = text(s);
        assert_eq!(text(&once), once, "redaction of {s:?} is idempotent");
        once
    }

    #[test]
    fn shadow_keeps_scheme_lock_and_non_secrets() {
        let shadow = "root:$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.9i5rd.RhAtQ7:19000:0:99999:7:::\n\
                      alice:!$6$PLANTEDsalt$Zm9vYmFyYmF6cXV4:19000:0:60:7:::\n\
                      daemon:*:19000:0:99999:7:::\n\
                      bin:!!:19000::::::\n\
                      carol::19000:0:99999:7:::\n\
                      legacy:ab01FAX.bQRSU:19000:0:99999:7:::\n\
                      locked:!*:19000:0:99999:7:::\n";
        let r = file("/etc/shadow", shadow);
        assert_eq!(
            r,
            "root:$y$<redacted>:19000:0:99999:7:::\n\
             alice:!$6$<redacted>:19000:0:60:7:::\n\
             daemon:*:19000:0:99999:7:::\n\
             bin:!!:19000::::::\n\
             carol::19000:0:99999:7:::\n\
             legacy:<redacted>:19000:0:99999:7:::\n\
             locked:!*:19000:0:99999:7:::\n"
        );
    }

    #[test]
    fn passwd_gshadow_and_opasswd_lose_their_hashes() {
        assert_eq!(
            file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbob:$y$j9T$abcdefgh$ijklmnop:1001:1001::/home/bob:\n"),
            "root:x:0:0:root:/root:/bin/bash\nbob:$y$<redacted>:1001:1001::/home/bob:\n"
        );
        assert_eq!(
            file(
                "/etc/gshadow",
                "sudo:*::alice\nadmins:$6$saltsalt$PLANTEDPLANTED:alice:bob\n"
            ),
            "sudo:*::alice\nadmins:$6$<redacted>:alice:bob\n"
        );
        assert_eq!(
            file(
                "/etc/security/opasswd",
                "alice:1000:2:$6$aaaaaaaa$bbbbbbbbbbbbbbbb,$y$j9T$cccccccc$dddddddd\n"
            ),
            "alice:1000:2:$6$<redacted>,$y$<redacted>\n"
        );
    }

    #[test]
    fn totp_seed_scratch_codes_and_oath_keys_go() {
        let ga = "JBSWY3DPEHPK3PXPPLANTED\n\" RATE_LIMIT 3 30 1700000000\n\" WINDOW_SIZE 17\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n12345678\n87654321\n";
        let r = file("/home/alice/.google_authenticator", ga);
        assert_eq!(
            r,
            "<redacted>\n\" RATE_LIMIT 3 30 1700000000\n\" WINDOW_SIZE 17\n\" DISALLOW_REUSE 56666666\n\" TOTP_AUTH\n<redacted>\n<redacted>\n"
        );
        // Found by content when pam_google_authenticator's secret= points elsewhere.
        assert!(!file("/var/lib/ga/alice", ga).contains("PLANTED"));
        assert_eq!(
            file(
                "/etc/users.oath",
                "# comment\nHOTP/T30/6 alice - 3132333435363738393031323334353637383930\nHOTP bob 4711 00112233445566778899 12 2026-11-24T10:00:00L\n"
            ),
            "# comment\nHOTP/T30/6 alice - <redacted>\nHOTP bob <redacted> <redacted> 12 2026-11-24T10:00:00L\n"
        );
    }

    #[test]
    fn key_value_forms_of_secret_keys() {
        let cases = [
            ("skey = PLANTEDduoSKEY", "skey = <redacted>"),
            ("secret_key=PLANTED", "secret_key=<redacted>"),
            ("ikey = DIWJ8X6AEYOR5OMC6TQ1", "ikey = DIWJ8X6AEYOR5OMC6TQ1"),
            (
                "host = api-abc.duosecurity.com",
                "host = api-abc.duosecurity.com",
            ),
            (
                "export RESTIC_PASSWORD='correct horse'",
                "export RESTIC_PASSWORD='<redacted>'",
            ),
            (
                "RESTIC_PASSWORD_COMMAND=pass show restic",
                "RESTIC_PASSWORD_COMMAND=<redacted>",
            ),
            (
                "BORG_PASSPHRASE=\"a b c\"",
                "BORG_PASSPHRASE=\"<redacted>\"",
            ),
            (
                "Environment=\"BORG_PASSPHRASE=a b\" \"BORG_REPO=/srv/borg\"",
                "Environment=\"BORG_PASSPHRASE=<redacted>\" \"BORG_REPO=/srv/borg\"",
            ),
            (
                "Environment=RESTIC_PASSWORD=hunter2",
                "Environment=RESTIC_PASSWORD=<redacted>",
            ),
            ("password: s3cret # note", "password: <redacted>"),
            ("  db_password = hunter2", "  db_password = <redacted>"),
            (
                "\"token\": \"abc.def\", \"user\": \"x\"",
                "\"token\": \"<redacted>\", \"user\": \"x\"",
            ),
            ("apiKey: 123", "apiKey: <redacted>"),
            ("api_key=123", "api_key=<redacted>"),
            (
                "https://h/x?token=abc&user=me",
                "https://h/x?token=<redacted>&user=me",
            ),
            (
                "auth required pam_exec.so secret=PLANTED nullok",
                "auth required pam_exec.so secret=<redacted> nullok",
            ),
            ("pass=hunter2", "pass=<redacted>"),
            ("password=", "password="),
            ("PasswordAuthentication=no", "PasswordAuthentication=no"),
            ("PermitEmptyPasswords=no", "PermitEmptyPasswords=no"),
            ("PASS_MAX_DAYS 90", "PASS_MAX_DAYS 90"),
            (
                "password requisite pam_pwquality.so retry=3",
                "password requisite pam_pwquality.so retry=3",
            ),
            ("minlen = 16", "minlen = 16"),
            ("time: 12:30:00", "time: 12:30:00"),
            (
                "deploy ALL=(ALL) NOPASSWD: ALL",
                "deploy ALL=(ALL) NOPASSWD: ALL",
            ),
            (
                "passwd:         files systemd",
                "passwd:         files systemd",
            ),
            (
                "Inst libsecret-0:0.21.4-1.fc40",
                "Inst libsecret-0:0.21.4-1.fc40",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(gen(input), want, "{input}");
        }
    }

    #[test]
    fn urls_flags_hashes_and_private_keys() {
        assert_eq!(
            gen("/usr/bin/restic -r rest:https://backup:PLANTED@nas.example:8000/db-01/ snapshots"),
            "/usr/bin/restic -r rest:https://backup:<redacted>@nas.example:8000/db-01/ snapshots"
        );
        assert_eq!(gen("ssh://borg@host/./repo"), "ssh://borg@host/./repo");
        assert_eq!(
            gen("deb https://u:p@repo.example/debian bookworm main"),
            "deb https://u:<redacted>@repo.example/debian bookworm main"
        );
        assert_eq!(
            gen("mysql --password hunter2 --user root"),
            "mysql --password <redacted> --user root"
        );
        assert_eq!(
            gen("restic --password-file /etc/restic.pass"),
            "restic --password-file /etc/restic.pass"
        );
        assert_eq!(gen("--passphrase=xyz"), "--passphrase=<redacted>");
        assert_eq!(
            gen("hash was $6$rounds=5000$saltsalt$abcdefghijkl and more"),
            "hash was $6$<redacted> and more"
        );
        assert_eq!(gen("echo $1$2 $HOME"), "echo $1$2 $HOME");
        let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\nPLANTED\n-----END OPENSSH PRIVATE KEY-----\nafter";
        assert_eq!(
            gen(pem),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n<redacted>\n-----END OPENSSH PRIVATE KEY-----\nafter"
        );
        assert_eq!(
            gen("-----BEGIN PRIVATE KEY-----\nPLANTED"),
            "-----BEGIN PRIVATE KEY-----\n<redacted>"
        );
    }

    #[test]
    fn ordinary_configuration_is_untouched() {
        let sshd = "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\nAuthenticationMethods publickey,keyboard-interactive:pam\nMatch User deploy\n";
        assert_eq!(file("/etc/ssh/sshd_config", sshd), sshd);
        let pam = "auth required pam_google_authenticator.so nullok\npassword [success=1 default=ignore] pam_unix.so obscure yescrypt remember=5\n";
        assert_eq!(file("/etc/pam.d/common-auth", pam), pam);
        let pam_passwd = "auth [success=1 default=ignore] pam_succeed_if.so user ingroup a:b\n@include common-password\n";
        assert_eq!(file("/etc/pam.d/passwd", pam_passwd), pam_passwd);
        let json = "[{\"time\":\"2026-11-24T03:00:02.12+01:00\",\"hostname\":\"db-01\",\"paths\":[\"/var/lib/x\"]}]";
        assert_eq!(gen(json), json);
    }

    #[test]
    fn prose_after_a_secret_word_is_not_a_value() {
        // Summaries the checks write: the colon ends a phrase, what follows is no secret.
        for prose in [
            "no account can log in with a password: the 4 account(s) with a login shell have a locked or no password",
            "2 gap(s): pam_pwhistory remember=5 does not take effect in password-auth: sufficient pam_unix succeeds",
        ] {
            assert_eq!(gen(prose), prose);
        }
        // The same words at the start of a line (or after a comment marker) are configuration.
        assert_eq!(gen("password: hunter2"), "password: <redacted>");
        assert_eq!(gen("  token: abc"), "  token: <redacted>");
        assert_eq!(gen("# api_key: abc"), "# api_key: <redacted>");
        assert_eq!(
            gen("{\"password\": \"abc\"}"),
            "{\"password\": \"<redacted>\"}"
        );
    }

    #[test]
    fn facts_are_redacted_recursively() {
        let mut v = serde_json::json!({
            "repository": "rest:https://u:PLANTED@h/",
            "nested": [{"x": "password=PLANTED"}, 3, true],
        });
        json(&mut v);
        assert!(!v.to_string().contains("PLANTED"), "{v}");
        assert_eq!(v["repository"], "rest:https://u:<redacted>@h/");
    }

    #[test]
    fn secret_key_names() {
        for k in [
            "password",
            "PASSWORD",
            "db_password",
            "RESTIC_PASSWORD",
            "RESTIC_PASSWORD_FILE",
            "BORG_PASSPHRASE",
            "BORG_PASSCOMMAND",
            "secret",
            "client_secret",
            "token",
            "access_token",
            "apikey",
            "api-key",
            "skey",
            "secret_key",
            "pass",
            "smtp_pass",
            "awsSecretAccessKey",
            "--password",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "PASS_MAX_DAYS",
            "ikey",
            "host",
            "user",
            "PasswordAuthentication",
            "passage",
            "key",
            "minlen",
            "remember",
            "https",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
