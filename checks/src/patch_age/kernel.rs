//! Is a reboot needed to run the newest installed kernel? Kernel release strings compared the
//! way package managers compare versions, and `needs-restarting -r` read on its text.

use std::cmp::Ordering;

/// Compare two version strings: runs of digits numerically, runs of letters in byte order, `~`
/// before anything (dpkg), other separators ignored. Good enough for kernel release strings
/// (`6.1.0-28-amd64`, `5.14.0-427.13.1.el9_4.x86_64`, `6.4.0-150600.23.25-default`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        let skip = |s: &[u8]| {
            let n = s
                .iter()
                .take_while(|c| !c.is_ascii_alphanumeric() && **c != b'~')
                .count();
            n
        };
        a = &a[skip(a)..];
        b = &b[skip(b)..];
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (Some(b'~'), Some(b'~')) => {
                a = &a[1..];
                b = &b[1..];
                continue;
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let digits = x.is_ascii_digit();
                if digits != y.is_ascii_digit() {
                    // A number sorts after letters (rpm: "1.0" > "1.a").
                    return if digits {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    };
                }
                let run = |s: &[u8]| {
                    s.iter()
                        .take_while(|c| c.is_ascii_digit() == digits && c.is_ascii_alphanumeric())
                        .count()
                };
                let (na, nb) = (run(a), run(b));
                let (ra, rb) = (&a[..na], &b[..nb]);
                let ord = if digits {
                    let trim = |r: &[u8]| {
                        let z = r.iter().take_while(|c| **c == b'0').count();
                        r[z..].to_vec()
                    };
                    let (ta, tb) = (trim(ra), trim(rb));
                    ta.len().cmp(&tb.len()).then(ta.cmp(&tb))
                } else {
                    ra.cmp(rb)
                };
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
        }
    }
}

/// The newest kernel release among `/boot` entry names (`vmlinuz-<release>`), rescue images left out.
pub fn newest_boot_kernel(entries: &[String]) -> Option<String> {
    entries
        .iter()
        .filter_map(|e| e.strip_prefix("vmlinuz-"))
        .filter(|r| !r.starts_with("0-rescue") && !r.is_empty())
        .max_by(|a, b| compare_versions(a, b))
        .map(str::to_string)
}

/// What `needs-restarting -r` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeedsRestarting {
    Required,
    NotRequired,
    /// Exit code and text disagree (dnf also exits 1 for an unknown sub-command): ask the kernel.
    Unclear,
}

/// Read `needs-restarting -r` on its text, with the exit code only as a tie-break.
pub fn parse_needs_restarting(exit: Option<i32>, stdout: &str) -> NeedsRestarting {
    if stdout.contains("Reboot is required") && exit == Some(1) {
        NeedsRestarting::Required
    } else if stdout.contains("Reboot should not be necessary") && exit == Some(0) {
        NeedsRestarting::NotRequired
    } else {
        NeedsRestarting::Unclear
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_order() {
        assert_eq!(
            compare_versions("6.1.0-28-amd64", "6.1.0-27-amd64"),
            Ordering::Greater
        );
        assert_eq!(
            compare_versions("6.1.0-9-amd64", "6.1.0-10-amd64"),
            Ordering::Less
        );
        assert_eq!(
            compare_versions(
                "5.14.0-427.13.1.el9_4.x86_64",
                "5.14.0-427.13.1.el9_4.x86_64"
            ),
            Ordering::Equal
        );
        assert_eq!(
            compare_versions(
                "5.14.0-503.11.1.el9_5.x86_64",
                "5.14.0-427.42.1.el9_4.x86_64"
            ),
            Ordering::Greater
        );
        assert_eq!(compare_versions("1.0~rc1", "1.0"), Ordering::Less);
    }

    #[test]
    fn newest_kernel_ignores_rescue_and_other_files() {
        let e: Vec<String> = [
            "config-6.1.0-27-amd64",
            "vmlinuz-6.1.0-27-amd64",
            "vmlinuz-6.1.0-28-amd64",
            "vmlinuz-0-rescue-4c4d1f3a0b2e4e5f",
            "initrd.img-6.1.0-28-amd64",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(newest_boot_kernel(&e).as_deref(), Some("6.1.0-28-amd64"));
        assert_eq!(newest_boot_kernel(&[]), None);
    }

    #[test]
    fn needs_restarting_text_breaks_the_tie() {
        let yes = "Core libraries or services have been updated since boot-up:\n  * kernel\n\nReboot is required to fully utilize these updates.\n";
        assert_eq!(
            parse_needs_restarting(Some(1), yes),
            NeedsRestarting::Required
        );
        assert_eq!(
            parse_needs_restarting(Some(0), "No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n"),
            NeedsRestarting::NotRequired
        );
        assert_eq!(
            parse_needs_restarting(Some(1), "No such command: needs-restarting.\n"),
            NeedsRestarting::Unclear
        );
    }
}
