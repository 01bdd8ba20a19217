//! End-to-end test support: start the real `vigie-collector` and `vigie-agent` binaries on loopback
//! with real SQLite files and fixture hosts.
//!
//! The binaries are taken from the same target directory as the test executable (`cargo build
//! --workspace --bins` first; the README's test command does it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The enrolment secret every test collector uses.
pub const ENROLL_SECRET: &str = "e2e-enrol-secret-0123456789";
/// Admin token of test collectors.
pub const ADMIN_TOKEN: &str = "e2e-admin-token-0123456789abcdefghijkl";
/// Auditor token of test collectors.
pub const AUDITOR_TOKEN: &str = "e2e-auditor-token-0123456789abcdefghij";

/// Path of a workspace binary next to the test executable.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build --workspace --bins` before the tests",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A running collector process.
pub struct Collector {
    pub child: Child,
    pub dir: PathBuf,
    pub url: String,
    pub log: PathBuf,
    port: u16,
}

impl Collector {
    /// Write a config into `dir` and start `vigie-collector serve` on `port` (0 = pick one).
    pub fn start(dir: &Path, port: u16, extra: &str) -> Collector {
        Collector::start_server(
            dir,
            port,
            "insecure_http = true\n",
            ("", extra),
            "http",
            None,
        )
    }

    /// [`Collector::start`] with the process's umask set to `umask` (e.g. `"000"`), to check the
    /// modes of what it creates.
    pub fn start_with_umask(dir: &Path, umask: &str) -> Collector {
        Collector::start_server(
            dir,
            0,
            "insecure_http = true\n",
            ("", ""),
            "http",
            Some(umask),
        )
    }

    /// Start with these `[server]` keys (`insecure_http = true` or the TLS files, timeouts …) and
    /// extra `[auth]` keys (enrolment limits), on an ephemeral port.
    pub fn start_with(dir: &Path, server: &str, auth: &str) -> Collector {
        let scheme = if server.contains("tls_cert") {
            "https"
        } else {
            "http"
        };
        let server = format!("{server}\n");
        Collector::start_server(dir, 0, &server, (&format!("{auth}\n"), ""), scheme, None)
    }

    /// Start with TLS from PEM files.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Collector {
        let server = format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        );
        Collector::start_server(dir, 0, &server, ("", ""), "https", None)
    }

    fn start_server(
        dir: &Path,
        port: u16,
        server: &str,
        (auth, extra): (&str, &str),
        scheme: &str,
        umask: Option<&str>,
    ) -> Collector {
        std::fs::create_dir_all(dir).unwrap();
        let cfg = dir.join("collector.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\n{server}max_body_bytes = 262144\n\
                 [storage]\ndata_dir = \"{}\"\n\
                 [auth]\nenroll_secret = \"{ENROLL_SECRET}\"\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\nauditor_tokens = [\"{AUDITOR_TOKEN}\"]\n{auth}\
                 [metrics]\nrefresh_seconds = 1\n{extra}",
                dir.join("data").display()
            ),
        )
        .unwrap();
        let log = dir.join(format!(
            "collector-{}.log",
            Instant::now().elapsed().as_nanos()
        ));
        let log = unique(log);
        let mut cmd = match umask {
            Some(u) => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", &format!("umask {u} && exec \"$0\" \"$@\"")])
                    .arg(bin("vigie-collector"));
                c
            }
            None => Command::new(bin("vigie-collector")),
        };
        let child = cmd
            .args(["--config", cfg.to_str().unwrap(), "--log", "info", "serve"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start collector");
        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(p) = text
                .lines()
                .find(|l| l.contains("listening"))
                .and_then(|l| l.split("addr=127.0.0.1:").nth(1))
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse::<u16>().ok())
            {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "collector did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Collector {
            child,
            dir: dir.to_path_buf(),
            url: format!("{scheme}://127.0.0.1:{port}"),
            log,
            port,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The SQLite file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("data").join("vigie.db")
    }

    /// Open the real database file read-only.
    pub fn db(&self) -> rusqlite::Connection {
        db_at(&self.db_path())
    }

    /// SIGTERM and wait.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    /// SIGKILL and wait.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unique(p: PathBuf) -> PathBuf {
    let mut i = 0;
    loop {
        let cand = p.with_extension(format!("{i}.log"));
        if !cand.exists() {
            return cand;
        }
        i += 1;
    }
}

/// Open a database file read-only.
pub fn db_at(path: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

/// A fixture host copied into a scratch directory, with its clock set to the real time (so the
/// collector's timestamp checks accept its reports) and an identity added if it had none.
pub struct Host {
    pub root: PathBuf,
    pub state: PathBuf,
    pub config: PathBuf,
    pub machine_id: String,
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

impl Host {
    /// Prepare fixture host `name` under `scratch/<alias>`.
    pub fn from_fixture(name: &str, scratch: &Path, alias: &str, machine_id: &str) -> Host {
        let root = scratch.join(alias).join("host");
        copy_dir(&repo().join("tests/fixtures/hosts").join(name), &root);
        std::fs::create_dir_all(root.join("root/etc")).unwrap();
        std::fs::write(root.join("root/etc/machine-id"), format!("{machine_id}\n")).unwrap();
        std::fs::write(root.join("root/etc/hostname"), format!("{alias}\n")).unwrap();
        let host = Host {
            state: scratch.join(alias).join("state"),
            config: scratch.join(alias).join("agent.toml"),
            machine_id: machine_id.to_string(),
            root,
        };
        let fixture_cfg = host.root.join("agent.toml");
        let cfg = std::fs::read_to_string(&fixture_cfg).unwrap_or_default();
        std::fs::write(&host.config, cfg).unwrap();
        host.set_clock(chrono::Utc::now());
        host
    }

    /// Set the fixture's clock.
    pub fn set_clock(&self, now: chrono::DateTime<chrono::Utc>) {
        let p = self.root.join("fixture.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("now =") || line.starts_with("now=") {
                out.push_str(&format!(
                    "now = \"{}\"\n",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                ));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        // Atomically: a running agent daemon may read the file at any moment.
        let tmp = p.with_extension("toml.tmp");
        std::fs::write(&tmp, out).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
    }

    /// Run `vigie-agent <args>` for this host.
    pub fn agent(&self, collector_url: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin("vigie-agent"));
        cmd.args(["--config", self.config.to_str().unwrap(), "--log", "info"]);
        cmd.args(args);
        cmd.args(["--root", self.root.to_str().unwrap()]);
        cmd.args(["--state-dir", self.state.to_str().unwrap()]);
        cmd.args(["--collector", collector_url]);
        cmd.output().expect("run agent")
    }

    /// Enrol with the collector.
    pub fn enroll(&self, collector_url: &str) {
        let secret = self.state.parent().unwrap().join("secret");
        std::fs::write(&secret, ENROLL_SECRET).unwrap();
        let out = self.agent(
            collector_url,
            &["enroll", "--secret-file", secret.to_str().unwrap()],
        );
        assert!(out.status.success(), "enroll failed: {}", describe(&out));
    }

    /// `run --once`; returns the exit code and stderr.
    pub fn run_once(&self, collector_url: &str) -> (i32, String) {
        let out = self.agent(collector_url, &["run", "--once"]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Number of reports waiting in the spool.
    pub fn spooled(&self) -> usize {
        std::fs::read_dir(self.state.join("spool"))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .map(|e| e.file_name().to_string_lossy().ends_with(".json"))
                        .unwrap_or(false)
                })
                .count()
            })
            .unwrap_or(0)
    }
}

/// Argv-free description of a process outcome for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Report ids an agent logged as delivered (accepted or already received).
pub fn delivered_ids(agent_stderr: &str) -> Vec<String> {
    agent_stderr
        .lines()
        .filter(|l| l.contains("report delivered") || l.contains("already delivered"))
        .filter_map(|l| l.split("report_id=").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// A blocking HTTP client.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// GET `path` with the admin token, as JSON.
pub fn admin_get(c: &Collector, path: &str) -> serde_json::Value {
    let r = http()
        .get(format!("{}{path}", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().unwrap()
}
