//! The deployment files agree with each other and with the binaries:
//!
//! - the collector's unit, its sysusers file, the example configuration and the monthly report's
//!   cron line (docs/report.md) name the same user, binary, configuration file and data directory,
//!   and every secret file the configuration reads is a credential the unit loads;
//! - the agent's unit and its example configuration name the same state directory, and its memory
//!   limits leave room for the package manager `patch_age` runs (re-measured here when apt-get is
//!   installed);
//! - `systemd-analyze verify` accepts both units without a warning (skipped, with the reason, when
//!   systemd-analyze is not installed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vigie_e2e::*;

/// A unit file: (section, key) → values in order (a key may repeat, e.g. `LoadCredential=`).
struct Unit {
    name: String,
    entries: BTreeMap<(String, String), Vec<String>>,
}

impl Unit {
    fn load(name: &str) -> Unit {
        let path = repo().join("deploy/systemd").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut entries: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut section = String::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                continue;
            }
            if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = s.to_string();
                continue;
            }
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}:{}: not `Key=value`: {line}", n + 1));
            entries
                .entry((section.clone(), k.trim().to_string()))
                .or_default()
                .push(v.trim().to_string());
        }
        Unit {
            name: name.to_string(),
            entries,
        }
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.entries
            .get(&("Service".to_string(), key.to_string()))
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    fn one(&self, key: &str) -> &str {
        match self.all(key)[..] {
            [v] => v,
            ref other => panic!("{}: want one {key}=, found {other:?}", self.name),
        }
    }

    /// The binary and the `--config` file of an Exec line.
    fn exec(&self, key: &str) -> (String, String) {
        let line = self.one(key);
        let words: Vec<&str> = line.split_whitespace().collect();
        let config = words
            .windows(2)
            .find(|w| w[0] == "--config")
            .map(|w| w[1].to_string())
            .unwrap_or_else(|| panic!("{}: {key} has no --config: {line}", self.name));
        (words[0].to_string(), config)
    }

    /// Bytes of a memory setting (`384M`, `1G`, plain bytes).
    fn bytes(&self, key: &str) -> u64 {
        let v = self.one(key);
        let (n, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
        let n: u64 = n
            .parse()
            .unwrap_or_else(|_| panic!("{}: {key}={v}", self.name));
        n * match unit {
            "" => 1,
            "K" => 1 << 10,
            "M" => 1 << 20,
            "G" => 1 << 30,
            other => panic!("{}: {key}={v}: unit {other}", self.name),
        }
    }
}

fn example_config(name: &str) -> toml::Value {
    let path = repo().join("deploy/config").join(name);
    toml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn string_at<'a>(v: &'a toml::Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("example config has no string {}", path.join(".")))
}

/// The monthly report's cron line in docs/report.md: (user, command).
fn report_cron_line() -> (String, String) {
    let doc = std::fs::read_to_string(repo().join("docs/report.md")).unwrap();
    let block = doc
        .split("```cron\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a ```cron block in docs/report.md");
    let line = block
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .expect("a cron line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields.len() > 6,
        "not `m h dom mon dow user command`: {line}"
    );
    // Fields are separated by runs of blanks: the command is what follows the sixth field.
    let mut rest = line;
    for f in &fields[..6] {
        rest = rest.trim_start().strip_prefix(f).unwrap();
    }
    (fields[5].to_string(), rest.trim().to_string())
}

#[test]
fn collector_unit_config_and_report_cron_agree() {
    let unit = Unit::load("vigie-collector.service");
    let cfg = example_config("collector.toml");

    // A fixed user, declared for systemd-sysusers; no DynamicUser.
    assert!(
        unit.all("DynamicUser").iter().all(|v| *v == "no"),
        "DynamicUser cannot be used: the cron job needs a stable user for the database"
    );
    let user = unit.one("User");
    assert_eq!(unit.one("Group"), user);
    let sysusers =
        std::fs::read_to_string(repo().join("deploy/systemd/vigie-collector.sysusers")).unwrap();
    assert!(
        sysusers
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["u", user])),
        "vigie-collector.sysusers does not declare user {user}"
    );

    // The same binary and configuration for the check and the service.
    let (binary, config) = unit.exec("ExecStart");
    assert_eq!(unit.exec("ExecStartPre"), (binary.clone(), config.clone()));
    let conf_dir = format!("/etc/{}/", unit.one("ConfigurationDirectory"));
    assert!(
        config.starts_with(&conf_dir),
        "{config} not under {conf_dir}"
    );
    assert_eq!(unit.one("RestartPreventExitStatus"), "2");

    // The data directory is the unit's state directory, owned by the user.
    let data_dir = string_at(&cfg, &["storage", "data_dir"]);
    assert_eq!(
        data_dir,
        format!("/var/lib/{}", unit.one("StateDirectory")),
        "storage.data_dir and StateDirectory="
    );

    // Every secret the configuration reads is a credential the unit loads from a root-only file.
    let credentials: BTreeMap<&str, &str> = unit
        .all("LoadCredential")
        .into_iter()
        .map(|c| c.split_once(':').expect("LoadCredential=ID:PATH"))
        .collect();
    let cred_dir = format!("/run/credentials/{}/", unit.name);
    for key in [&["auth", "enroll_secret_file"][..], &["server", "tls_key"]] {
        let path = string_at(&cfg, key);
        let id = path.strip_prefix(&cred_dir).unwrap_or_else(|| {
            panic!(
                "{} = {path}: not a credential of the unit ({cred_dir}…): a sandboxed user \
                 cannot read a root-only secret file",
                key.join(".")
            )
        });
        let source = credentials
            .get(id)
            .unwrap_or_else(|| panic!("{}: no LoadCredential={id}:… in the unit", key.join(".")));
        assert!(source.starts_with(&conf_dir), "{id} loaded from {source}");
    }
    // The certificate is public and read in place, where ProtectSystem=strict leaves it readable.
    let cert = string_at(&cfg, &["server", "tls_cert"]);
    assert!(cert.starts_with(&conf_dir), "server.tls_cert = {cert}");
    assert_eq!(unit.one("ProtectSystem"), "strict");

    // The report's cron job: same user, binary and configuration; output where that user writes.
    let (cron_user, command) = report_cron_line();
    assert_eq!(cron_user, user, "cron user vs the unit's User=");
    assert!(
        command.contains(&format!("{binary} --config {config} report monthly")),
        "the cron command does not run `{binary} --config {config} report monthly`: {command}"
    );
    let out = command
        .split_whitespace()
        .skip_while(|w| *w != "--out")
        .nth(1)
        .expect("--out in the cron command");
    assert!(
        Path::new(out).starts_with(data_dir),
        "the report goes to {out}, outside {data_dir}, the only directory {user} owns"
    );
}

/// Peak resident memory of `argv` in KiB (`/usr/bin/time -v`), or why it could not be measured.
fn peak_rss_kib(argv: &[&str]) -> Result<u64, String> {
    for tool in ["/usr/bin/time", argv[0]] {
        if !Path::new(tool).exists() {
            return Err(format!("{tool} is not installed"));
        }
    }
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .args(argv)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{argv:?} failed: {}", describe(&out)));
    }
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no maximum resident set size in /usr/bin/time's output".into())
}

#[test]
fn agent_unit_matches_its_config_and_leaves_room_for_the_package_manager() {
    let unit = Unit::load("vigie-agent.service");
    let cfg = example_config("agent.toml");
    let state_dir = format!("/var/lib/{}", unit.one("StateDirectory"));
    assert_eq!(string_at(&cfg, &["agent", "state_dir"]), state_dir);
    assert!(unit.all("ReadWritePaths").contains(&state_dir.as_str()));
    let (_, config) = unit.exec("ExecStart");
    assert_eq!(
        config,
        format!("/etc/{}/agent.toml", unit.one("ConfigurationDirectory"))
    );
    assert_eq!(unit.one("RestartPreventExitStatus"), "2");

    // patch_age's command, as docs/checks/patch_age.md lists it.
    let apt = [
        "/usr/bin/apt-get",
        "-s",
        "-o",
        "Debug::NoLocking=1",
        "dist-upgrade",
    ];
    let peak_kib = match peak_rss_kib(&apt) {
        Ok(kib) => {
            eprintln!("apt-get -s dist-upgrade peaks at {} KiB here", kib);
            kib
        }
        Err(why) => {
            // The figure measured for the unit's comment (83.7 MiB on Debian 12).
            eprintln!("apt-get not measured ({why}): using the unit's documented 83.7 MiB");
            83_700 * 1024 / 1000
        }
    };
    let peak = peak_kib * 1024;
    let (high, max) = (unit.bytes("MemoryHigh"), unit.bytes("MemoryMax"));
    assert!(
        high >= 2 * peak && max >= 4 * peak && max > high,
        "MemoryHigh={high} and MemoryMax={max} must be at least 2x and 4x apt-get's peak ({peak} bytes)"
    );
}

#[test]
fn systemd_analyze_accepts_the_units() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    else {
        eprintln!(
            "systemd-analyze not installed: skipping `systemd-analyze verify` of deploy/systemd"
        );
        return;
    };
    // verify checks that ExecStart's binary exists: point it at the binaries just built.
    let t = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for (name, binary) in [
        ("vigie-agent.service", "vigie-agent"),
        ("vigie-collector.service", "vigie-collector"),
    ] {
        let text = std::fs::read_to_string(repo().join("deploy/systemd").join(name)).unwrap();
        let text = text.replace(
            &format!("/usr/local/bin/{binary}"),
            bin(binary).to_str().unwrap(),
        );
        let p = t.path().join(name);
        std::fs::write(&p, text).unwrap();
        units.push(p);
    }
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        describe(&out)
    );
}
