//! Credentials: read from files named in the config, never from the config itself, never logged.

use std::path::Path;

use super::SyncError;

/// A secret; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret's text, for the one header or form field that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Read the secret in `path` (`key` names the config key for errors). Refuses a world-readable
/// file, an empty one, and one that is not a regular file. Surrounding whitespace is dropped.
pub fn read_secret(key: &str, path: &Path) -> Result<Secret, SyncError> {
    let err = |m: String| SyncError::Credentials(format!("{key} = {}: {m}", path.display()));
    let meta = std::fs::metadata(path).map_err(|e| err(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(err("not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o007 != 0 {
            return Err(err(format!(
                "is accessible to every user (mode {mode:o}): run `chmod o-rwx` on it"
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(err("is empty".into()));
    }
    Ok(Secret(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn reads_a_private_file_and_refuses_a_world_readable_one() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("token");
        std::fs::write(&p, "s3cr3t-value\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = read_secret("identity.source[0].token_file", &p).unwrap();
        assert_eq!(s.expose(), "s3cr3t-value");
        assert!(!format!("{s:?}").contains("s3cr3t"));

        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_secret("identity.source[0].token_file", &p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("identity.source[0].token_file"), "{e}");
        assert!(e.contains("every user") && e.contains("644"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");

        std::fs::write(&p, "  \n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_secret("k", &p)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(read_secret("k", &d.path().join("missing"))
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
    }
}
