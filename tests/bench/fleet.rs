//! The simulated fleet: host identities and realistic reports (all six checks, with facts and
//! evidence shaped like the real agent's), whose statuses stay put except for rare flips.
//!
//! The wire format allows one result per check id, and there are six checks today
//! (`vigie_checks::ALL`), so a report carries six results. Evidence is what the checks really read
//! (os-release, `apt-get -s` output, mountinfo, PAM and sshd files, restic listing, login.defs),
//! which puts a report body at about 8 KB, like the agent's.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use vigie_checks::wire::{HostIdentity, Report, SCHEMA_VERSION};
use vigie_checks::{CheckResult, Evidence, EvidenceKind, Status};

/// One simulated host: who it is, its node key, its current statuses, its last report time.
pub struct SimHost {
    /// Index in the fleet (0-based).
    pub index: usize,
    /// Identity sent at enrolment and in every report.
    pub identity: HostIdentity,
    /// Node key obtained at enrolment.
    pub node_key: String,
    /// Current status per check, in `vigie_checks::ALL` order.
    pub statuses: Vec<Status>,
    /// `collected_at` of the last report built, to keep them strictly increasing.
    pub last_collected: Option<DateTime<Utc>>,
}

impl SimHost {
    /// Host number `index`, not enrolled yet.
    pub fn new(index: usize) -> SimHost {
        let statuses = vigie_checks::ALL
            .iter()
            .enumerate()
            .map(|(c, _)| base_status(index, c))
            .collect();
        SimHost {
            index,
            identity: HostIdentity {
                hostname: format!("bench-{index:05}.example.org"),
                machine_id: format!("{:032x}", 0xbe9c_0000_0000_0000_u128 + index as u128),
                os: "debian".into(),
                os_version: "12".into(),
                kernel: "6.1.0-27-amd64".into(),
                arch: "x86_64".into(),
            },
            node_key: String::new(),
            statuses,
            last_collected: None,
        }
    }

    /// The enrolment request body.
    pub fn enroll_body(&self, secret: &str) -> serde_json::Value {
        json!({"enroll_secret": secret, "host": self.identity, "interval_seconds": 900})
    }

    /// Toggle check `c` between its usual status and its alternative (a real status change).
    pub fn flip(&mut self, c: usize) {
        let base = base_status(self.index, c);
        self.statuses[c] = if self.statuses[c] == base {
            alternative(base)
        } else {
            base
        };
    }

    /// The next report: a fresh UUID and a `collected_at` at least a whole second after the
    /// host's previous one (the collector judges order to the second and refuses a report not
    /// newer than the host's newest), starting from ten minutes ago. A host reporting faster than
    /// once a second (a benchmark, not an agent) so spends that margin before it reaches the
    /// collector's tolerated clock skew.
    pub fn next_report(&mut self) -> Report {
        let floor = Utc::now() - Duration::minutes(10);
        let at = match self.last_collected {
            Some(last) => (last + Duration::seconds(1)).max(floor),
            None => floor,
        };
        let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
        self.last_collected = Some(at);
        let results = vigie_checks::ALL
            .iter()
            .zip(&self.statuses)
            .map(|(check, status)| result_for(check.id(), *status, &self.identity))
            .collect();
        Report {
            schema: SCHEMA_VERSION,
            report_id: uuid::Uuid::new_v4().to_string(),
            agent_version: "0.1.0-bench".into(),
            collected_at: at,
            host: self.identity.clone(),
            results,
            interval_seconds: Some(900),
            lost_reports: 0,
        }
    }
}

/// The usual status of check `c` on host `index`: mostly pass, a realistic minority not.
fn base_status(index: usize, c: usize) -> Status {
    match (c, index % 10) {
        (1, 0..=2) => Status::Warn, // patch_age: 30 % near the SLA
        (3, 0) => Status::Fail,     // mfa: 10 % without MFA on sshd
        (4, 5) => Status::Warn,     // backup_freshness: 10 % near the RPO
        _ => Status::Pass,
    }
}

fn alternative(s: Status) -> Status {
    match s {
        Status::Pass => Status::Warn,
        _ => Status::Pass,
    }
}

const OS_RELEASE: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"#;

const APT_SIM: &str = "NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages have been kept back:
  linux-image-amd64
The following packages will be upgraded:
  bash liblzma5 libssl3 openssl tzdata
5 upgraded, 0 newly installed, 0 to remove and 1 not upgraded.
Inst bash [5.2.15-2+b7] (5.2.15-2+b8 Debian:12.15/oldstable [amd64])
Inst liblzma5 [5.4.1-0.2] (5.4.1-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Inst libssl3 [3.0.17-1~deb12u2] (3.0.17-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst openssl [3.0.17-1~deb12u2] (3.0.17-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Inst tzdata [2025b-0+deb12u1] (2025b-0+deb12u2 Debian:12.15/oldstable-updates [all])
Conf bash (5.2.15-2+b8 Debian:12.15/oldstable [amd64])
Conf liblzma5 (5.4.1-1+deb12u1 Debian-Security:12/oldstable-security [amd64])
Conf libssl3 (3.0.17-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Conf openssl (3.0.17-1~deb12u3 Debian:12.15/oldstable, Debian-Security:12/oldstable-security [amd64])
Conf tzdata (2025b-0+deb12u2 Debian:12.15/oldstable-updates [all])
";

const MOUNTINFO: &str = "22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 28 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 28 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4010112k,nr_inodes=1002528,mode=755
25 24 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5,mode=620,ptmxmode=000
26 28 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=805380k,mode=755
28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-root rw,errors=remount-ro
40 28 8:1 / /boot rw,relatime shared:29 - ext4 /dev/sda1 rw
41 28 254:2 / /var rw,relatime shared:30 - ext4 /dev/mapper/vg0-var rw
42 28 254:3 / /home rw,relatime shared:31 - ext4 /dev/mapper/vg0-home rw
";

const LSBLK: &str = r#"{"blockdevices": [
 {"name":"sda","type":"disk","fstype":null,"mountpoints":[null],"children": [
   {"name":"sda1","type":"part","fstype":"ext4","mountpoints":["/boot"]},
   {"name":"sda2","type":"part","fstype":"crypto_LUKS","mountpoints":[null],"children": [
     {"name":"sda2_crypt","type":"crypt","fstype":"LVM2_member","mountpoints":[null],"children": [
       {"name":"vg0-root","type":"lvm","fstype":"ext4","mountpoints":["/"]},
       {"name":"vg0-var","type":"lvm","fstype":"ext4","mountpoints":["/var"]},
       {"name":"vg0-swap","type":"lvm","fstype":"swap","mountpoints":["[SWAP]"]},
       {"name":"vg0-home","type":"lvm","fstype":"ext4","mountpoints":["/home"]}]}]}]}]}
"#;

const PAM_SSHD: &str = "# PAM configuration for the Secure Shell service
@include common-auth
auth required pam_google_authenticator.so nullok=false
account required pam_nologin.so
@include common-account
session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close
session required pam_loginuid.so
session optional pam_keyinit.so force revoke
@include common-session
session required pam_limits.so
session required pam_env.so
session required pam_env.so user_readenv=1 envfile=/etc/default/locale
@include common-password
";

const SSHD_CONFIG: &str = "Include /etc/ssh/sshd_config.d/*.conf
Port 22
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
AuthenticationMethods publickey,keyboard-interactive
UsePAM yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
";

const LOGIN_DEFS: &str = "MAIL_DIR        /var/mail
FAILLOG_ENAB    yes
LOG_UNKFAIL_ENAB no
LOG_OK_LOGINS   no
SYSLOG_SU_ENAB  yes
ENV_SUPATH      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV_PATH        PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games
UMASK           027
PASS_MAX_DAYS   365
PASS_MIN_DAYS   1
PASS_WARN_AGE   14
UID_MIN         1000
UID_MAX         60000
ENCRYPT_METHOD  YESCRYPT
";

const PWQUALITY: &str = "minlen = 14
dcredit = -1
ucredit = -1
lcredit = -1
ocredit = -1
maxrepeat = 3
dictcheck = 1
enforcing = 1
";

/// The result of `check` on `host` with `status`: facts and evidence as the agent would send them.
fn result_for(check: &str, status: Status, host: &HostIdentity) -> CheckResult {
    let summary = format!("{check}: {status} (simulated host {})", host.hostname);
    let r = CheckResult::new(check, status, summary);
    match check {
        "inventory" => r
            .fact("hostname", host.hostname.as_str())
            .fact("machine_id", host.machine_id.as_str())
            .fact("os", "debian")
            .fact("os_version", "12")
            .fact("os_pretty_name", "Debian GNU/Linux 12 (bookworm)")
            .fact("kernel", host.kernel.as_str())
            .fact("arch", "x86_64")
            .fact("cpu_count", 4)
            .fact("cpu_model", "AMD EPYC 7763 64-Core Processor")
            .fact("memory_bytes", 8_216_911_872_u64)
            .with_evidence(vec![
                Evidence::file("/etc/os-release", OS_RELEASE.as_bytes()),
                Evidence::file("/proc/sys/kernel/osrelease", b"6.1.0-27-amd64\n"),
            ]),
        "patch_age" => r
            .fact("package_manager", "apt")
            .fact("os", "debian")
            .fact("sla_days", 30)
            .fact("warn_margin_days", 7)
            .fact(
                "pending_security",
                json!([
                    {"package": "liblzma5", "version": "5.4.1-1+deb12u1", "first_seen": "2026-10-29", "age_days": 26},
                    {"package": "libssl3", "version": "3.0.17-1~deb12u3", "first_seen": "2026-11-20", "age_days": 4},
                    {"package": "openssl", "version": "3.0.17-1~deb12u3", "first_seen": "2026-11-20", "age_days": 4}
                ]),
            )
            .fact("pending_other", json!(["bash", "tzdata"]))
            .fact("held_back", json!(["linux-image-amd64"]))
            .fact("over_sla", json!([]))
            .fact("near_sla", json!(["liblzma5"]))
            .fact("metadata_stale", false)
            .fact("reboot_required", false)
            .fact("reboot_state", "not_required")
            .with_evidence(vec![
                Evidence::command(
                    &[
                        "/usr/bin/apt-get",
                        "-s",
                        "-o",
                        "Debug::NoLocking=1",
                        "dist-upgrade",
                    ],
                    Some(0),
                    APT_SIM.as_bytes(),
                ),
                Evidence::new(
                    EvidenceKind::Directory,
                    "/var/lib/apt/lists",
                    b"deb.debian.org_debian_dists_bookworm_InRelease 2026-11-24T06:12:04Z\n\
                      deb.debian.org_debian_dists_bookworm-updates_InRelease 2026-11-24T06:12:04Z\n\
                      deb.debian.org_debian-security_dists_bookworm-security_InRelease 2026-11-24T06:12:04Z\n",
                ),
            ]),
        "disk_encryption" => r
            .fact("root_source", "/dev/mapper/vg0-root")
            .fact("root_fstype", "ext4")
            .fact(
                "volumes",
                json!([
                    {"mount": "/", "device": "vg0-root", "encrypted_by": "sda2_crypt"},
                    {"mount": "/var", "device": "vg0-var", "encrypted_by": "sda2_crypt"},
                    {"mount": "/home", "device": "vg0-home", "encrypted_by": "sda2_crypt"}
                ]),
            )
            .fact("swaps", json!([{"device": "vg0-swap", "encrypted_by": "sda2_crypt"}]))
            .fact("unencrypted", json!([]))
            .fact("undetermined", json!([]))
            .fact("skipped", json!(["/boot"]))
            .fact("swap_encryption_required", true)
            .with_evidence(vec![
                Evidence::file("/proc/self/mountinfo", MOUNTINFO.as_bytes()),
                Evidence::command(
                    &["/usr/bin/lsblk", "-J", "-o", "NAME,TYPE,FSTYPE,MOUNTPOINTS"],
                    Some(0),
                    LSBLK.as_bytes(),
                ),
                Evidence::file("/proc/swaps", b"Filename Type Size Used Priority\n/dev/dm-3 partition 2097148 0 -2\n"),
            ]),
        "mfa" => r
            .fact("sshd_password_auth", false)
            .fact("sshd_authentication_methods", "publickey,keyboard-interactive")
            .fact("pam_modules", json!(["pam_google_authenticator"]))
            .with_evidence(vec![
                Evidence::file("/etc/pam.d/sshd", PAM_SSHD.as_bytes()),
                Evidence::file("/etc/ssh/sshd_config", SSHD_CONFIG.as_bytes()),
            ]),
        "backup_freshness" => {
            let listing = format!(
                "[{{\"time\":\"2026-11-24T02:00:13.51+01:00\",\"hostname\":\"{h}\",\"paths\":[\"/etc\",\"/home\",\"/var/lib\"],\"tags\":[\"nightly\"],\"id\":\"4f1d2c9a\"}},\
                 {{\"time\":\"2026-11-23T02:00:11.02+01:00\",\"hostname\":\"{h}\",\"paths\":[\"/etc\",\"/home\",\"/var/lib\"],\"tags\":[\"nightly\"],\"id\":\"9ab3e017\"}}]\n",
                h = host.hostname
            );
            r.fact("sources_total", 1)
                .fact(
                    "sources",
                    json!([{"kind": "restic", "repository": "sftp:backup@vault:/srv/restic", "host": host.hostname,
                            "newest_snapshot": "2026-11-24T01:00:13Z", "snapshots_this_host": 2,
                            "snapshots_total": 840, "stale": false, "near_rpo": false}]),
                )
                .with_evidence(vec![Evidence::command(
                    &["/usr/bin/restic", "snapshots", "--json", "--host", &host.hostname],
                    Some(0),
                    listing.as_bytes(),
                )])
        }
        _ => r
            .fact("pass_max_days", 365)
            .fact("minlen", 14)
            .fact("encrypt_method", "YESCRYPT")
            .with_evidence(vec![
                Evidence::file("/etc/login.defs", LOGIN_DEFS.as_bytes()),
                Evidence::file("/etc/security/pwquality.conf", PWQUALITY.as_bytes()),
            ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_realistic_and_increasing() {
        let mut h = SimHost::new(3);
        let a = h.next_report();
        let b = h.next_report();
        assert!(b.collected_at.timestamp() > a.collected_at.timestamp());
        assert_ne!(a.report_id, b.report_id);
        assert_eq!(a.results.len(), vigie_checks::ALL.len());
        let size = serde_json::to_vec(&a).unwrap().len();
        // About 1–1.7 KB per check (summary, facts, one evidence excerpt), whatever the registry holds.
        let n = vigie_checks::ALL.len();
        assert!(
            (1_000 * n..=1_700 * n).contains(&size),
            "body is {size} bytes for {n} checks"
        );
        h.flip(1);
        assert_ne!(h.statuses[1], base_status(3, 1));
        h.flip(1);
        assert_eq!(h.statuses[1], base_status(3, 1));
    }
}
