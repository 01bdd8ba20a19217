//! The agent's delivery must never lose a report to a wrong answer (issue 9 items 2, 5, 10, and
//! the spool's modes): the real `vigie-agent` against small HTTP servers on loopback that answer
//! the way a proxy, a captive portal or a cut connection would, and against the real collector.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use vigie_e2e::*;

/// One request a fake server received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> serde_json::Value {
        // Reports travel gzip-compressed (docs/wire-format.md).
        let gzip = self
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v.trim() == "gzip");
        let body = if gzip {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&self.body[..]), &mut out)
                .expect("gzip body");
            out
        } else {
            self.body.clone()
        };
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// How a fake server answers one request.
enum Reply {
    /// Raw HTTP/1.1 response bytes.
    Raw(String),
    /// Read the request, then close the connection without a word (a lost answer).
    Hangup,
}

fn response(status: &str, content_type: &str, extra: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn json(status: &str, body: &str) -> Reply {
    response(status, "application/json", "", body)
}

/// A one-thread HTTP server on a loopback port that records every request and answers with
/// `reply(n, request)` (n counts from 0).
struct FakeServer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    fn start(reply: impl Fn(usize, &Seen) -> Reply + Send + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let Some(req) = read_request(&mut conn) else {
                    continue;
                };
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(req.clone());
                    log.len() - 1
                };
                match reply(n, &req) {
                    Reply::Raw(r) => {
                        let _ = conn.write_all(r.as_bytes());
                    }
                    Reply::Hangup => {}
                }
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
        });
        FakeServer { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 message: its first line, headers and `Content-Length` body.
type Message = (String, Vec<(String, String)>, Vec<u8>);

fn read_message(conn: &mut std::net::TcpStream) -> Option<Message> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut r = BufReader::new(conn);
    let mut first = String::new();
    r.read_line(&mut first).ok()?;
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((first.trim_end().to_string(), headers, body))
}

fn read_request(conn: &mut std::net::TcpStream) -> Option<Seen> {
    let (first, headers, body) = read_message(conn)?;
    let mut parts = first.split_whitespace();
    Some(Seen {
        method: parts.next()?.to_string(),
        path: parts.next()?.to_string(),
        headers,
        body,
    })
}

/// `first` line, headers (but `Connection`) and body as one `Connection: close` message.
fn write_message(first: &str, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{first}\r\n");
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("connection") {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Pass `req` on to the server at `addr` and return its answer.
fn forward(addr: &str, req: &Seen) -> String {
    let mut up = std::net::TcpStream::connect(addr).unwrap();
    up.write_all(&write_message(
        &format!("{} {} HTTP/1.1", req.method, req.path),
        &req.headers,
        &req.body,
    ))
    .unwrap();
    let (first, headers, body) = read_message(&mut up).expect("answer from the collector");
    String::from_utf8(write_message(&first, &headers, &body)).unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Call `f` on every file and directory under `dir` (not `dir` itself).
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, bool)) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let is_dir = p.is_dir();
        f(&p, is_dir);
        if is_dir {
            walk(&p, f);
        }
    }
}

fn set_mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Lines of the agent's stderr saying delivery was postponed.
fn postponements(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("delivery postponed"))
        .count()
}

fn hosts_entry(c: &Collector, machine_id: &str) -> serde_json::Value {
    let hosts = admin_get(c, "/api/v1/hosts");
    hosts["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["machine_id"] == machine_id)
        .unwrap_or_else(|| panic!("host {machine_id} not listed: {hosts}"))
        .clone()
}

fn reports_stored(c: &Collector) -> i64 {
    c.db()
        .query_row("SELECT count(*) FROM recent_reports", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn answers_that_are_not_the_collectors_acknowledgement_keep_the_spool() {
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(&d.path().join("collector"), 0, "");
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "web-01",
        "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    );
    h.enroll(&c.url);
    let start = chrono::Utc::now() - chrono::Duration::seconds(60);
    let mut clock = 0;
    let other_id = "0b7a5c1e-2d3f-4a6b-8c9d-0e1f2a3b4c5d";
    type Answer = fn(&Seen) -> Reply;
    let cases: Vec<(&str, Answer)> = vec![
        ("200 <html>", |_| {
            response(
                "200 OK",
                "text/html",
                "",
                "<html><body>Welcome</body></html>",
            )
        }),
        ("202 {}", |_| json("202 Accepted", "{}")),
        ("202 naming another report", |_| {
            json(
                "202 Accepted",
                r#"{"report_id": "0b7a5c1e-2d3f-4a6b-8c9d-0e1f2a3b4c5d", "status": "accepted"}"#,
            )
        }),
        ("202 not JSON", |_| {
            response("202 Accepted", "text/plain", "", "accepted")
        }),
        ("204", |_| response("204 No Content", "text/plain", "", "")),
        ("302 to a login page", |_| {
            response(
                "302 Found",
                "text/html",
                "Location: /login\r\n",
                "<a href=/login>login</a>",
            )
        }),
        ("200 with a perfect acknowledgement (but not 202)", |req| {
            let id = req.json()["report_id"].as_str().unwrap().to_string();
            json(
                "200 OK",
                &format!(r#"{{"report_id": "{id}", "status": "accepted"}}"#),
            )
        }),
    ];
    let mut spooled = 0;
    for (name, answer) in cases {
        let fake = FakeServer::start(move |_, req| answer(req));
        for pass in 1..=2 {
            clock += 1;
            h.set_clock(start + chrono::Duration::seconds(clock));
            let (code, err) = h.run_once(&fake.url);
            spooled += 1;
            assert_eq!(code, 75, "{name}, pass {pass}: reports stay spooled\n{err}");
            assert_eq!(
                h.spooled(),
                spooled,
                "{name}, pass {pass}: spool kept\n{err}"
            );
            // One attempt per pass, logged once, however many reports wait.
            assert_eq!(
                fake.seen().len(),
                pass,
                "{name}, pass {pass}: one POST per pass, no redirect followed: {:?}",
                fake.seen()
            );
            assert_eq!(postponements(&err), 1, "{name}, pass {pass}: {err}");
        }
        assert!(fake
            .seen()
            .iter()
            .all(|s| s.method == "POST" && s.path == "/api/v1/reports"));
        let sent: Vec<_> = fake
            .seen()
            .iter()
            .map(|s| s.json()["report_id"].clone())
            .collect();
        assert!(sent.iter().all(|id| id != other_id));
    }
    assert_eq!(spooled, 14);

    // The real collector's acknowledgements empty it, in order, each report once.
    clock += 1;
    h.set_clock(start + chrono::Duration::seconds(clock));
    let (code, err) = h.run_once(&c.url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(h.spooled(), 0, "{err}");
    let ids = delivered_ids(&err);
    assert_eq!(ids.len(), 15, "{err}");
    assert_eq!(reports_stored(&c), 15);
    let db = c.db();
    for id in &ids {
        let n: i64 = db
            .query_row(
                "SELECT count(*) FROM recent_reports WHERE report_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "logged as delivered, stored once: {id}");
    }
    assert_eq!(postponements(&err), 0, "{err}");
}

/// The daemon, not `--once`: with three reports waiting behind a server that answers `200
/// <html>`, each backoff step makes one attempt and logs one line, and nothing leaves the spool.
#[test]
fn the_daemon_logs_once_per_backoff_step() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "daemon-01",
        "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6",
    );
    std::fs::create_dir_all(&h.state).unwrap();
    std::fs::write(h.state.join("node_key"), "vnk1_daemon").unwrap();
    let down = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    for _ in 0..3 {
        let (code, err) = h.run_once(&down);
        assert_eq!(code, 75, "{err}");
    }
    assert_eq!(h.spooled(), 3);
    let fake = FakeServer::start(|_, _| response("200 OK", "text/html", "", "<html>portal</html>"));
    let log = d.path().join("daemon.log");
    /// Kills the daemon if an assertion fails first, so no test leaves it running.
    struct Daemon(std::process::Child);
    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(bin("vigie-agent"))
        .args([
            "--config",
            h.config.to_str().unwrap(),
            "--log",
            "info",
            "run",
        ])
        .args(["--interval", "3600"])
        .args(["--root", h.root.to_str().unwrap()])
        .args(["--state-dir", h.state.to_str().unwrap()])
        .args(["--collector", &fake.url])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .map(Daemon)
        .unwrap();
    // Backoff starts at 2 s: the second attempt comes within about 3 s of the first.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while postponements(&std::fs::read_to_string(&log).unwrap()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // A `run --once` beside the daemon would deliver and count the same reports twice: refused.
    let (code, err) = h.run_once(&fake.url);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("in use by another vigie-agent"), "{err}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status();
    assert!(child.0.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    let posts = fake.seen().len();
    assert!(posts >= 2, "{text}");
    assert_eq!(postponements(&text), posts, "one line per attempt:\n{text}");
    // The daemon ran the checks once at start: 3 + 1 reports, all still spooled.
    assert_eq!(h.spooled(), 4, "{text}");
}

#[test]
fn lost_reports_reach_the_collector_in_full() {
    let d = tempfile::tempdir().unwrap();
    let cdir = d.path().join("collector");
    let c = Collector::start(&cdir, 0, "");
    let port = c.port();
    let url = c.url.clone();
    let machine_id = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
    let h = Host::from_fixture("debian12-patched", d.path(), "db-01", machine_id);
    let mut cfg = std::fs::read_to_string(&h.config).unwrap();
    cfg.push_str("\n[spool]\nmax_reports = 3\n");
    std::fs::write(&h.config, cfg).unwrap();
    h.enroll(&url);
    assert!(c.stop().success());

    // 13 reports while the collector is down, with room for 3: 10 are dropped.
    let start = chrono::Utc::now() - chrono::Duration::seconds(60);
    for i in 1..=13 {
        h.set_clock(start + chrono::Duration::seconds(i));
        let (code, err) = h.run_once(&url);
        assert_eq!(code, 75, "run {i}: {err}");
    }
    assert_eq!(h.spooled(), 3);

    let c = Collector::start(&cdir, port, "");
    h.set_clock(start + chrono::Duration::seconds(14));
    let (code, err) = h.run_once(&url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        hosts_entry(&c, machine_id)["lost_reports"],
        10,
        "13 produced − 3 kept = 10 lost"
    );
    assert_eq!(h.spooled(), 0);
    assert_eq!(
        delivered_ids(&err).len(),
        4,
        "3 spooled + this run's: {err}"
    );
    // Nothing is announced twice: another report adds no loss.
    h.set_clock(start + chrono::Duration::seconds(15));
    let (code, err) = h.run_once(&url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(hosts_entry(&c, machine_id)["lost_reports"], 10);
}

fn agent_in(h: &Host, url: &str, umask: Option<&str>, args: &[&str]) -> Output {
    let mut argv: Vec<String> = vec![
        "--config".into(),
        h.config.display().to_string(),
        "--log".into(),
        "info".into(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    argv.extend([
        "--root".into(),
        h.root.display().to_string(),
        "--state-dir".into(),
        h.state.display().to_string(),
        "--collector".into(),
        url.to_string(),
    ]);
    let mut cmd = match umask {
        Some(m) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("umask {m}; exec \"$0\" \"$@\""))
                .arg(bin("vigie-agent"));
            c
        }
        None => Command::new(bin("vigie-agent")),
    };
    cmd.args(&argv).output().expect("run agent")
}

fn enroll_answer(key: &str) -> Reply {
    json(
        "201 Created",
        &format!(r#"{{"host_id": 7, "node_key": "{key}", "rotated": false}}"#),
    )
}

#[test]
fn a_retried_enrolment_repeats_the_nonce_of_the_lost_answer() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "app-01",
        "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
    );
    let secret = d.path().join("secret");
    std::fs::write(&secret, ENROLL_SECRET).unwrap();
    let fake = FakeServer::start(|n, _| match n {
        0 => Reply::Hangup,
        1 => enroll_answer("vnk1_first"),
        2 => enroll_answer("vnk1_second"),
        _ => json(
            "403 Forbidden",
            r#"{"error": {"code": "wrong_enroll_secret", "message": "wrong enrolment secret"}}"#,
        ),
    });
    let enroll = || {
        agent_in(
            &h,
            &fake.url,
            None,
            &["enroll", "--secret-file", secret.to_str().unwrap()],
        )
    };
    let nonce_file = h.state.join("enroll_nonce");

    let lost = enroll();
    assert_eq!(lost.status.code(), Some(3), "{}", describe(&lost));
    assert!(
        String::from_utf8_lossy(&lost.stderr).contains("run `vigie-agent enroll` again"),
        "{}",
        describe(&lost)
    );
    assert!(!h.state.join("node_key").exists());
    assert_eq!(mode(&nonce_file), 0o600);

    let retry = enroll();
    assert_eq!(retry.status.code(), Some(0), "{}", describe(&retry));
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    let nonce = seen[0].json()["enrollment_nonce"]
        .as_str()
        .expect("enrollment_nonce sent")
        .to_string();
    assert_eq!(
        seen[1].json()["enrollment_nonce"],
        nonce,
        "the retry repeats the first attempt's nonce"
    );
    let u = uuid::Uuid::parse_str(&nonce).unwrap();
    assert_eq!(u.get_version_num(), 4);
    assert_eq!(nonce, u.hyphenated().to_string(), "lowercase hyphenated");
    assert_eq!(
        std::fs::read_to_string(h.state.join("node_key")).unwrap(),
        "vnk1_first"
    );
    assert_eq!(mode(&h.state.join("node_key")), 0o600);
    assert!(!nonce_file.exists(), "nonce removed once the key is stored");

    // A new enrolment (key rotation) is a new attempt with a new nonce, and sends the current key.
    let again = enroll();
    assert_eq!(again.status.code(), Some(0), "{}", describe(&again));
    let third = fake.seen()[2].json();
    assert_ne!(third["enrollment_nonce"], nonce);
    assert_eq!(
        std::fs::read_to_string(h.state.join("node_key")).unwrap(),
        "vnk1_second"
    );

    // The collector's refusal ends the attempt: its nonce is not kept.
    let refused = enroll();
    assert_eq!(refused.status.code(), Some(3), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("wrong_enroll_secret"));
    assert!(!nonce_file.exists());
    assert_eq!(
        std::fs::read_to_string(h.state.join("node_key")).unwrap(),
        "vnk1_second",
        "a refused enrolment leaves the stored key alone"
    );
}

/// Both sides: a proxy in front of the real collector passes the first enrolment on but loses the
/// answer; the agent's second `enroll` repeats the nonce and the collector hands out a key instead
/// of `already_enrolled`. The key works.
#[test]
fn a_lost_enrolment_answer_no_longer_locks_the_host_out() {
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(&d.path().join("collector"), 0, "");
    let machine_id = "a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8a8";
    let h = Host::from_fixture("debian12-patched", d.path(), "lost-01", machine_id);
    let secret = d.path().join("secret");
    std::fs::write(&secret, ENROLL_SECRET).unwrap();
    let upstream = c.url.trim_start_matches("http://").to_string();
    let proxy = FakeServer::start(move |n, req| {
        let answer = forward(&upstream, req);
        if n == 0 {
            Reply::Hangup
        } else {
            Reply::Raw(answer)
        }
    });
    let enroll = || {
        agent_in(
            &h,
            &proxy.url,
            None,
            &["enroll", "--secret-file", secret.to_str().unwrap()],
        )
    };
    let lost = enroll();
    assert_eq!(lost.status.code(), Some(3), "{}", describe(&lost));
    hosts_entry(&c, machine_id); // the collector did enrol it
    let retry = enroll();
    assert_eq!(retry.status.code(), Some(0), "{}", describe(&retry));
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].json()["enrollment_nonce"],
        seen[1].json()["enrollment_nonce"]
    );
    let (code, err) = h.run_once(&c.url);
    assert_eq!(
        code, 0,
        "the repeated enrolment's key is the live one: {err}"
    );
    assert_eq!(delivered_ids(&err).len(), 1, "{err}");
}

#[test]
fn a_collector_without_enrolment_nonces_still_enrols() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "old-01",
        "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4",
    );
    let secret = d.path().join("secret");
    std::fs::write(&secret, ENROLL_SECRET).unwrap();
    let fake = FakeServer::start(|_, req| {
        if req.json().get("enrollment_nonce").is_some() {
            json(
                "400 Bad Request",
                r#"{"error": {"code": "malformed_json", "message": "malformed enrolment request: unknown field `enrollment_nonce`, expected one of `enroll_secret`, `host`, `interval_seconds`"}}"#,
            )
        } else {
            enroll_answer("vnk1_old")
        }
    });
    let out = agent_in(
        &h,
        &fake.url,
        None,
        &["enroll", "--secret-file", secret.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(fake.seen().len(), 2);
    assert_eq!(
        std::fs::read_to_string(h.state.join("node_key")).unwrap(),
        "vnk1_old"
    );
    assert!(!h.state.join("enroll_nonce").exists());
}

/// A fake collector: enrolment answered, reports `1..=refused` refused as invalid, then 503.
fn refusing_collector(refused: usize) -> FakeServer {
    FakeServer::start(move |n, req| {
        if req.path == "/api/v1/enroll" {
            enroll_answer("vnk1_fake")
        } else if n <= refused {
            json(
                "422 Unprocessable Entity",
                r#"{"error": {"code": "invalid_report", "message": "refused for the test"}}"#,
            )
        } else {
            json(
                "503 Service Unavailable",
                r#"{"error": {"code": "shutting_down", "message": "later"}}"#,
            )
        }
    })
}

fn files_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn spool_and_state_are_private_whatever_the_umask() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "umask-01",
        "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5",
    );
    let secret = d.path().join("secret");
    std::fs::write(&secret, ENROLL_SECRET).unwrap();
    let fake = refusing_collector(1);
    let out = agent_in(
        &h,
        &fake.url,
        Some("000"),
        &["enroll", "--secret-file", secret.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(mode(&h.state), 0o700);
    assert_eq!(mode(&h.state.join("node_key")), 0o600);

    // The first report is refused (rejected/), the second waits behind a 503.
    let start = chrono::Utc::now() - chrono::Duration::seconds(60);
    h.set_clock(start);
    let out = agent_in(&h, &fake.url, Some("000"), &["run", "--once"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    h.set_clock(start + chrono::Duration::seconds(1));
    let out = agent_in(&h, &fake.url, Some("000"), &["run", "--once"]);
    assert_eq!(out.status.code(), Some(75), "{}", describe(&out));
    assert_eq!(h.spooled(), 1);
    let spool = h.state.join("spool");
    let rejected = spool.join("rejected");
    assert_eq!(files_in(&rejected).len(), 1);
    assert_eq!(mode(&spool), 0o700);
    assert_eq!(mode(&rejected), 0o700);
    for f in files_in(&spool).iter().chain(&files_in(&rejected)) {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // Nothing in the state directory is readable by others, the checks' own state included.
    let mut seen = 0;
    walk(&h.state, &mut |p, is_dir| {
        seen += 1;
        assert_eq!(
            mode(p),
            if is_dir { 0o700 } else { 0o600 },
            "{}",
            p.display()
        );
    });
    assert!(seen >= 6, "walked {seen} entries");

    // Wider modes left by an older agent or an operator are tightened at the next start.
    set_mode(&h.state, 0o755);
    walk(&h.state, &mut |p, is_dir| {
        set_mode(p, if is_dir { 0o755 } else { 0o644 })
    });
    h.set_clock(start + chrono::Duration::seconds(2));
    let out = agent_in(&h, &fake.url, None, &["run", "--once"]);
    assert_eq!(out.status.code(), Some(75), "{}", describe(&out));
    assert_eq!(mode(&h.state), 0o700);
    walk(&h.state, &mut |p, is_dir| {
        assert_eq!(
            mode(p),
            if is_dir { 0o700 } else { 0o600 },
            "{}",
            p.display()
        );
    });
}

#[test]
fn refused_reports_kept_in_rejected_are_bounded() {
    let d = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-patched",
        d.path(),
        "refused-01",
        "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
    );
    let mut cfg = std::fs::read_to_string(&h.config).unwrap();
    cfg.push_str("\n[spool]\nrejected_max_reports = 2\n");
    std::fs::write(&h.config, cfg).unwrap();
    std::fs::create_dir_all(&h.state).unwrap();
    std::fs::write(h.state.join("node_key"), "vnk1_fake").unwrap();
    let fake = refusing_collector(usize::MAX);
    let start = chrono::Utc::now() - chrono::Duration::seconds(60);
    let mut ids = Vec::new();
    for i in 0..4 {
        h.set_clock(start + chrono::Duration::seconds(i));
        let (code, err) = h.run_once(&fake.url);
        assert_eq!(code, 0, "run {i}: refused reports leave the spool\n{err}");
        ids.push(fake.seen().last().unwrap().json()["report_id"].clone());
    }
    let kept: Vec<_> = files_in(&h.state.join("spool/rejected"))
        .iter()
        .map(|p| {
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(p).unwrap()).unwrap()
                ["report_id"]
                .clone()
        })
        .collect();
    assert_eq!(kept, ids[2..], "the newest two refused reports are kept");
}
