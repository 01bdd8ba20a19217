//! The Windows ACL of the agent's state: the node key, the spool and the first-seen dates are
//! readable and writable by SYSTEM and the Administrators group only — the Windows counterpart of
//! the 0700/0600 modes on Unix (`files`).
//!
//! The ACL is set explicitly, as a **protected** DACL (inheritance from `%ProgramData%`, which lets
//! Users read, is cut), through the Security API (`ConvertStringSecurityDescriptorToSecurityDescriptorW`
//! and `SetFileSecurityW`) rather than by running `icacls` at install: the agent applies it itself
//! every time it creates or opens its state directory, so a directory created by `vigie-agent enroll
//! --state-dir …`, by an older version or by hand is corrected on the next start, and no install
//! step can be skipped. Directories carry object- and container-inherit ACEs, so files created
//! inside (the node key, spooled reports) inherit the same two entries.

// The constants are only applied on Windows; elsewhere they are checked by the unit tests.
#![cfg_attr(not(windows), allow(dead_code))]

/// The state directory: protected DACL (`P`), auto-inherited (`AI`), full access (`FA`) for Local
/// System (`SY`) and Builtin Administrators (`BA`), inherited by files (`OI`) and subdirectories (`CI`).
pub const DIR_SDDL: &str = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

/// A file of the state directory: the same two entries, nothing to inherit.
pub const FILE_SDDL: &str = "D:PAI(A;;FA;;;SY)(A;;FA;;;BA)";

/// Replace the DACL of `path` with [`DIR_SDDL`] or [`FILE_SDDL`].
#[cfg(windows)]
pub fn restrict(path: &std::path::Path, is_dir: bool) -> anyhow::Result<()> {
    use std::os::windows::ffi::OsStrExt as _;

    use anyhow::Context as _;
    use windows_sys::Win32::Foundation::{GetLastError, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        SetFileSecurityW, DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR,
    };

    let wide = |s: &std::ffi::OsStr| -> Vec<u16> { s.encode_wide().chain(Some(0)).collect() };
    let sddl = wide(std::ffi::OsStr::new(if is_dir {
        DIR_SDDL
    } else {
        FILE_SDDL
    }));
    let target = wide(path.as_os_str());
    let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: `sddl` is a NUL-terminated UTF-16 string that outlives the call; `sd` receives a
    // LocalAlloc'd descriptor that is freed below.
    let ok = unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut sd,
            std::ptr::null_mut(),
        )
    };
    if ok == 0 {
        // SAFETY: reads the calling thread's last-error value.
        let code = unsafe { GetLastError() };
        anyhow::bail!(
            "cannot build the security descriptor for {}: Windows error {code}",
            path.display()
        );
    }
    // SAFETY: `target` is NUL-terminated and outlives the call; `sd` is the valid descriptor built above.
    let set = unsafe {
        SetFileSecurityW(
            target.as_ptr(),
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            sd,
        )
    };
    // SAFETY: reads the last error before LocalFree can change it.
    let code = unsafe { GetLastError() };
    // SAFETY: `sd` was allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
    unsafe { LocalFree(sd) };
    if set == 0 {
        return Err(anyhow::anyhow!("Windows error {code}")).with_context(|| {
            format!(
                "cannot set the SYSTEM/Administrators-only ACL on {}",
                path.display()
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(type;flags;rights;;;sid)` entries of an SDDL DACL, and its flags (`PAI`).
    fn dacl(sddl: &str) -> (&str, Vec<Vec<&str>>) {
        let body = sddl.strip_prefix("D:").expect("a DACL");
        let (flags, aces) = body.split_at(body.find('(').expect("ACEs"));
        let aces = aces
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(")(")
            .map(|a| a.split(';').collect())
            .collect();
        (flags, aces)
    }

    #[test]
    fn only_system_and_administrators_with_inheritance_cut() {
        for (sddl, inherit) in [(DIR_SDDL, "OICI"), (FILE_SDDL, "")] {
            let (flags, aces) = dacl(sddl);
            // P: protected, so %ProgramData%'s "Users may read" is not inherited.
            assert!(flags.contains('P'), "{sddl}");
            let sids: Vec<&str> = aces.iter().map(|a| a[5]).collect();
            assert_eq!(sids, ["SY", "BA"], "{sddl}");
            for a in &aces {
                assert_eq!(a.len(), 6, "{sddl}");
                assert_eq!((a[0], a[1], a[2]), ("A", inherit, "FA"), "{sddl}");
            }
        }
    }
}
