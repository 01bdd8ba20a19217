//! `vigie-agent enroll`: exchange the fleet's enrolment secret for this host's node key.
//!
//! An enrolment whose answer is lost (timeout, reset, a crash before the key reached the disk) must
//! not lock the host out: the collector would see the machine as enrolled and refuse a second
//! request with `already_enrolled`. So each enrolment attempt carries a client-chosen nonce, a
//! random UUID persisted (0600, fsync'd with its directory) *before* the request leaves, reused by
//! every retry until a node key is stored, and removed then. The collector answers a repeat of the
//! same machine and nonce within a short window instead of refusing it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::checks_run;
use crate::client::EnrollError;
use crate::config::AgentConfig;
use crate::daemon::{self, StatePaths};
use crate::files;

/// What `enroll` was asked to do.
pub struct EnrollRequest<'a> {
    pub state_dir: PathBuf,
    pub secret_file: &'a Path,
    pub ca: Option<&'a Path>,
    pub root: Option<&'a Path>,
}

/// A stored node key and who it is for.
pub struct Enrolled {
    pub hostname: String,
    pub machine_id: String,
    pub node_key_path: PathBuf,
}

/// The enrolment nonce of the attempt under way: the persisted one, or a new one persisted now.
pub fn attempt_nonce(path: &Path) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        match uuid::Uuid::parse_str(text.trim()) {
            Ok(u) => return Ok(u.hyphenated().to_string()),
            Err(_) => {
                tracing::warn!(path = %path.display(), "enrolment nonce file unreadable; starting a new attempt")
            }
        }
    }
    let nonce = uuid::Uuid::new_v4().hyphenated().to_string();
    files::write_private_atomic(path, nonce.as_bytes())
        .with_context(|| format!("cannot persist the enrolment nonce in {}", path.display()))?;
    Ok(nonce)
}

/// Enrol and store the node key.
pub fn enroll(cfg: &AgentConfig, req: EnrollRequest<'_>) -> anyhow::Result<Enrolled> {
    let paths = StatePaths::new(&req.state_dir);
    files::private_dir(&req.state_dir, "state directory")?;
    let secret = std::fs::read_to_string(req.secret_file).with_context(|| {
        format!(
            "enrolment secret file {}: cannot read",
            req.secret_file.display()
        )
    })?;
    let secret = secret.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        anyhow::bail!(
            "enrolment secret file {} is empty",
            req.secret_file.display()
        );
    }
    if let Some(ca) = req.ca {
        let pem =
            std::fs::read(ca).with_context(|| format!("CA file {}: cannot read", ca.display()))?;
        files::write_private_atomic(&paths.ca, &pem).with_context(|| {
            format!("cannot copy CA {} to {}", ca.display(), paths.ca.display())
        })?;
    }
    let target = checks_run::Target {
        root: req.root,
        state_dir: Some(&req.state_dir),
    };
    let probe = checks_run::probe_for(&target)?;
    let host = vigie_checks::inventory::host_identity(probe.as_ref());
    if host.machine_id.is_empty() {
        anyhow::bail!(
            "cannot identify this host: no machine id (/etc/machine-id on Linux, the hardware UUID \
             from `system_profiler SPHardwareDataType` on macOS)"
        );
    }
    let client = daemon::client_for(cfg, &paths)?;
    let current = std::fs::read_to_string(&paths.node_key)
        .ok()
        .map(|k| k.trim().to_string());
    let nonce = attempt_nonce(&paths.enroll_nonce)?;
    let rt = crate::runtime()?;
    let send = |nonce: Option<&str>| {
        rt.block_on(client.enroll(
            &secret,
            &host,
            cfg.agent.interval_seconds,
            current.as_deref(),
            nonce,
        ))
    };
    let mut answer = send(Some(&nonce));
    if let Err(EnrollError::Refused {
        status: 400,
        code,
        message,
    }) = &answer
    {
        // A collector older than enrolment nonces refuses the unknown field before doing
        // anything: enrolling without it is safe (and not idempotent, as before).
        if code == "malformed_json" && message.contains("enrollment_nonce") {
            tracing::warn!(
                "the collector does not know enrolment nonces; enrolling without one (a lost answer will need an admin's allow-reenroll)"
            );
            answer = send(None);
        }
    }
    let key = match answer {
        Ok(k) => k,
        Err(e @ EnrollError::Refused { .. }) => {
            // Nothing was enrolled: the next attempt is a new one.
            files::remove_durably(&paths.enroll_nonce)?;
            return Err(anyhow::anyhow!("{e}"));
        }
        // Nothing was sent: the nonce stays for the next attempt, which is harmless.
        Err(e @ EnrollError::Unreachable(_)) => return Err(anyhow::anyhow!("{e}")),
        Err(e @ EnrollError::NoAnswer(_)) => {
            anyhow::bail!(
                "{e}; the collector may have enrolled this host: run `vigie-agent enroll` again, it \
                 repeats the same request (enrolment nonce in {})",
                paths.enroll_nonce.display()
            );
        }
    };
    // The key file and the directory entry are fsync'd before the nonce goes: a crash in between
    // leaves a usable key and a nonce a later enrolment reuses harmlessly.
    files::write_private_atomic(&paths.node_key, key.as_bytes())
        .with_context(|| format!("cannot store the node key in {}", paths.node_key.display()))?;
    files::remove_durably(&paths.enroll_nonce)?;
    Ok(Enrolled {
        hostname: host.hostname,
        machine_id: host.machine_id,
        node_key_path: paths.node_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_nonce_is_persisted_privately_and_reused_until_removed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("enroll_nonce");
        let a = attempt_nonce(&p).unwrap();
        let u = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(a, u.hyphenated().to_string(), "lowercase hyphenated");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(attempt_nonce(&p).unwrap(), a, "a retry reuses it");
        files::remove_durably(&p).unwrap();
        assert_ne!(
            attempt_nonce(&p).unwrap(),
            a,
            "a new attempt gets a new one"
        );
        std::fs::write(&p, "not a uuid").unwrap();
        let fresh = attempt_nonce(&p).unwrap();
        assert!(uuid::Uuid::parse_str(&fresh).is_ok());
    }
}
