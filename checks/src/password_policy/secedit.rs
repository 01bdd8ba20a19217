//! The `[System Access]` section of `secedit /export`: what `net accounts` does not show, above all
//! `PasswordComplexity`.
//!
//! `secedit` writes its export to a file (UTF-16LE with a BOM, *Unverified*), so one PowerShell
//! invocation ([`SECEDIT_EXPORT`]) exports to a temporary file, prints it, deletes it and exits with
//! secedit's code. The key names are those of the reference (§B4: `MinimumPasswordAge`,
//! `MaximumPasswordAge` with -1 = never, `MinimumPasswordLength`, `PasswordComplexity`,
//! `PasswordHistorySize`, `LockoutBadCount`). secedit needs administrator rights; the agent runs as
//! SYSTEM. Only the `[System Access]` section goes into the evidence.

/// Export the security policy to a temporary file and print it (secedit by absolute path).
pub const SECEDIT_EXPORT: [&str; 5] = [
    crate::platform::POWERSHELL,
    "-NoProfile",
    "-NonInteractive",
    "-Command",
    "$f = Join-Path $env:TEMP ('vigie-secedit-' + [guid]::NewGuid().ToString() + '.inf'); \
$null = & 'C:\\Windows\\System32\\secedit.exe' /export /cfg $f /areas SECURITYPOLICY /quiet; \
$c = $LASTEXITCODE; if ($c -eq 0) { Get-Content -LiteralPath $f -Encoding Unicode -Raw }; \
Remove-Item -LiteralPath $f -Force -ErrorAction SilentlyContinue; exit $c",
];

/// The password keys of `[System Access]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemAccess {
    /// `PasswordComplexity = 1`: three of four character categories and not the account name.
    pub complexity: bool,
    pub min_length: i64,
    pub history: i64,
    /// `None`: `MaximumPasswordAge = -1` (never expires).
    pub max_age_days: Option<i64>,
    pub min_age_days: i64,
}

/// The `[System Access]` section's lines (header included), for the evidence.
pub fn system_access_section(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.eq_ignore_ascii_case("[System Access]");
        }
        if inside {
            out.push_str(t);
            out.push('\n');
        }
    }
    out
}

/// Parse the export: the `[System Access]` section must be there with every password key, each an
/// integer; anything else is an error.
pub fn parse_secedit(text: &str) -> Result<SystemAccess, String> {
    let text = text.trim_start_matches('\u{feff}');
    let mut keys: Vec<(String, i64)> = Vec::new();
    let mut found = false;
    for (i, line) in system_access_section(text).lines().enumerate().skip(1) {
        found = true;
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            format!(
                "[System Access] line {}: {line:?} is not `Key = Value`",
                i + 1
            )
        })?;
        let k = k.trim();
        let v = v.trim();
        // String-valued keys (NewAdministratorName = "Admin") are not password settings.
        if v.starts_with('"') {
            continue;
        }
        let n = v
            .parse::<i64>()
            .map_err(|_| format!("[System Access] {k} = {v:?} is not an integer"))?;
        keys.push((k.to_ascii_lowercase(), n));
    }
    if !found
        && !text
            .lines()
            .any(|l| l.trim().eq_ignore_ascii_case("[System Access]"))
    {
        return Err("no [System Access] section".into());
    }
    let get = |k: &str| -> Result<i64, String> {
        keys.iter()
            .find(|(n, _)| n == &k.to_ascii_lowercase())
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("[System Access] has no {k}"))
    };
    let complexity = match get("PasswordComplexity")? {
        0 => false,
        1 => true,
        n => return Err(format!("PasswordComplexity = {n}, not 0 or 1")),
    };
    let max_age = get("MaximumPasswordAge")?;
    let max_age_days = match max_age {
        -1 => None,
        n if n >= 0 => Some(n),
        n => return Err(format!("MaximumPasswordAge = {n} is not understood")),
    };
    Ok(SystemAccess {
        complexity,
        min_length: get("MinimumPasswordLength")?,
        history: get("PasswordHistorySize")?,
        max_age_days,
        min_age_days: get("MinimumPasswordAge")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys and values of the reference's domain-policy listing (§B4) in the export's INI form.
    const EXPORT: &str = "\u{feff}[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = 1\r\n\
MaximumPasswordAge = -1\r\nMinimumPasswordLength = 8\r\nPasswordComplexity = 1\r\nPasswordHistorySize = 24\r\n\
LockoutBadCount = 5\r\nResetLockoutCount = 30\r\nLockoutDuration = 30\r\nNewAdministratorName = \"Administrator\"\r\n\
[Event Audit]\r\nAuditSystemEvents = 0\r\n[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n";

    #[test]
    fn reads_the_password_keys() {
        let s = parse_secedit(EXPORT).unwrap();
        assert_eq!(
            s,
            SystemAccess {
                complexity: true,
                min_length: 8,
                history: 24,
                max_age_days: None,
                min_age_days: 1
            }
        );
        let section = system_access_section(EXPORT);
        assert!(section.starts_with("[System Access]\n"), "{section}");
        assert!(!section.contains("Event Audit"), "{section}");
    }

    #[test]
    fn a_missing_section_key_or_odd_value_is_an_error() {
        assert!(parse_secedit("[Unicode]\nUnicode=yes\n").is_err());
        assert!(parse_secedit(&EXPORT.replace("PasswordComplexity = 1\r\n", "")).is_err());
        assert!(
            parse_secedit(&EXPORT.replace("PasswordComplexity = 1", "PasswordComplexity = 2"))
                .is_err()
        );
        assert!(parse_secedit(&EXPORT.replace("= 24", "= Unlimited")).is_err());
        assert!(parse_secedit(
            &EXPORT.replace("MaximumPasswordAge = -1", "MaximumPasswordAge = -5")
        )
        .is_err());
        assert!(parse_secedit("Task is completed. Access is denied.").is_err());
    }
}
