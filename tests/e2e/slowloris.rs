//! Slow and idle clients against the real collector (issue 9, item 3): hundreds of connections
//! that send nothing, a head one byte at a time, or a body one byte at a time must neither keep
//! their sockets nor delay anybody else. Timeouts are configured short (seconds) so the test runs
//! quickly; latency bounds are generous for a loaded 2-core machine.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_e2e::*;

const IDLE: usize = 200;
const SLOW_HEADER: usize = 100;
const SLOW_BODY: usize = 100;
/// The configured header and body timeouts, in seconds.
const TIMEOUT_S: u64 = 2;
/// The configured idle timeout: longer, so that heads and bodies cut at their own deadline show
/// that the timers are independent.
const IDLE_S: u64 = 7;
/// Normal latency, generous for a loaded machine; a hung collector takes the client's 20 s.
const LATENCY: Duration = Duration::from_secs(2);

/// A fresh report of a fixture host, as the agent sends it.
fn fresh_report(h: &Host) -> serde_json::Value {
    let out = Command::new(bin("vigie-agent"))
        .args(["--config", h.config.to_str().unwrap()])
        .args(["check", "--format", "json"])
        .args(["--root", h.root.to_str().unwrap()])
        .args(["--state-dir", h.state.to_str().unwrap()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

/// Enrol the fixture host's identity over HTTP; returns its node key.
fn enrol(c: &Collector, report: &serde_json::Value) -> String {
    let r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(&serde_json::json!({"enroll_secret": ENROLL_SECRET, "host": report["host"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().unwrap();
    v["node_key"].as_str().unwrap().to_string()
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Read until the collector closes the connection or `deadline`; what it sent, or `None` when it
/// is still open at the deadline.
fn until_closed(s: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return None
            }
            // Reset by the collector: closed too.
            Err(_) => return Some(got),
        }
    }
}

/// Whether the collector has closed `s` yet (without waiting).
fn still_open(s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let open = matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).unwrap();
    open
}

fn connect(c: &Collector) -> TcpStream {
    TcpStream::connect(("127.0.0.1", c.port())).unwrap()
}

fn server_keys() -> String {
    format!(
        "insecure_http = true\nheader_read_timeout_seconds = {TIMEOUT_S}\n\
         idle_timeout_seconds = {IDLE_S}\nbody_read_timeout_seconds = {TIMEOUT_S}\n"
    )
}

#[test]
fn slow_and_idle_clients_are_cut_off_and_do_not_delay_others() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start_with(&t.path().join("c"), &server_keys(), "");
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "slowloris-victim",
        "51515151515151515151515151515151",
    );
    let key = enrol(&c, &fresh_report(&h));
    // One second apart: the collector judges report order to the second.
    let reports: Vec<_> = (0..3i64)
        .map(|i| {
            let mut r = fresh_report(&h);
            let at = chrono::DateTime::parse_from_rfc3339(r["collected_at"].as_str().unwrap())
                .unwrap()
                + chrono::Duration::seconds(i);
            r["collected_at"] = serde_json::Value::String(at.to_rfc3339());
            r
        })
        .collect();

    // The attack: idle sockets, heads and bodies trickled one byte at a time.
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| connect(&c)).collect();
    let mut slow_header = Vec::new();
    for _ in 0..SLOW_HEADER {
        let mut s = connect(&c);
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .unwrap();
        slow_header.push(s);
    }
    let mut slow_body = Vec::new();
    for _ in 0..SLOW_BODY {
        let mut s = connect(&c);
        write!(
            s,
            "POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"report_id\":"
        )
        .unwrap();
        slow_body.push(s);
    }
    let opened = started.elapsed();
    let stop = Arc::new(AtomicBool::new(false));
    let trickler = {
        let mut writers: Vec<TcpStream> = slow_header
            .iter()
            .chain(&slow_body)
            .map(|s| s.try_clone().unwrap())
            .collect();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for w in &mut writers {
                    // Fails once the collector has closed the socket: expected.
                    let _ = w.write_all(b"a");
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };

    // Not cut before the configured time (a sample; skipped if opening them took that long).
    if started.elapsed() < Duration::from_millis(TIMEOUT_S * 1000 / 2) {
        assert!(
            slow_header
                .iter()
                .chain(&slow_body)
                .step_by(10)
                .all(still_open),
            "slow connections closed before half their timeout"
        );
    }

    // Everybody else is served at normal latency meanwhile.
    for (i, report) in reports.iter().enumerate() {
        let (r, took) = timed(|| http().get(format!("{}/healthz", c.url)).send());
        let r = r.unwrap();
        assert!(
            r.status().is_success() && took < LATENCY,
            "healthz {i}: {took:?}"
        );
        let (r, took) = timed(|| {
            http()
                .post(format!("{}/api/v1/reports", c.url))
                .bearer_auth(&key)
                .json(report)
                .send()
        });
        let r = r.unwrap();
        assert!(r.status().is_success(), "ingest {i}: {}", r.status());
        assert!(took < LATENCY, "ingest {i} took {took:?}");
        std::thread::sleep(Duration::from_millis(300));
    }

    // Every one is closed soon after its configured time: slow heads without an answer, slow
    // bodies with a 408, idle connections without an answer — and not before.
    let deadline = started + opened + Duration::from_secs(TIMEOUT_S + 3);
    for (i, mut s) in slow_header.into_iter().enumerate() {
        assert!(
            until_closed(&mut s, deadline).is_some(),
            "slow-header connection {i} still open"
        );
    }
    for (i, mut s) in slow_body.into_iter().enumerate() {
        let got = until_closed(&mut s, deadline)
            .unwrap_or_else(|| panic!("slow-body connection {i} still open"));
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("HTTP/1.1 408") && text.contains("body_timeout"),
            "slow-body connection {i}: {text}"
        );
    }
    if started.elapsed() < Duration::from_secs(IDLE_S - 1) {
        assert!(
            idle.iter().step_by(10).all(still_open),
            "idle connections closed with the slow ones, before the idle timeout"
        );
    }
    let deadline = started + opened + Duration::from_secs(IDLE_S + 4);
    for (i, mut s) in idle.into_iter().enumerate() {
        let got = until_closed(&mut s, deadline);
        assert_eq!(got.as_deref(), Some(&b""[..]), "idle connection {i}");
    }
    stop.store(true, Ordering::Relaxed);
    trickler.join().unwrap();

    // Still healthy afterwards, and none of the slow bodies was stored.
    let (r, took) = timed(|| http().get(format!("{}/healthz", c.url)).send());
    assert!(r.unwrap().status().is_success() && took < LATENCY);
    let n: i64 = c
        .db()
        .query_row("SELECT count(*) FROM recent_reports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3, "the three real reports, nothing else");
}

/// At `server.max_connections` the collector stops accepting; a waiting client is served as soon
/// as the idle timeout frees a slot, and the cap is logged.
#[test]
fn the_connection_cap_holds_and_frees_slots_on_timeout() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start_with(
        &t.path().join("c"),
        &format!("insecure_http = true\nidle_timeout_seconds = {TIMEOUT_S}\nmax_connections = 20"),
        "",
    );
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..20).map(|_| connect(&c)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let (r, took) = timed(|| http().get(format!("{}/healthz", c.url)).send());
    assert!(r.unwrap().status().is_success());
    // It waited for the idle connections to be closed (TIMEOUT_S after they opened), not longer
    // than the timeout plus slack.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(TIMEOUT_S * 1000 - 500),
        "served after {waited:?} although all 20 slots were taken"
    );
    assert!(took < Duration::from_secs(TIMEOUT_S + 5), "took {took:?}");
    assert!(c.log_text().contains("connection cap reached"));
    drop(idle);
}

/// A TLS client that connects and never starts its handshake is closed after
/// `server.tls_handshake_timeout_seconds`, while TLS clients are served.
#[test]
fn a_stalled_tls_handshake_is_closed() {
    let t = tempfile::tempdir().unwrap();
    let pki = t.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    self_signed(&pki);
    let c = Collector::start_with(
        &t.path().join("c"),
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\ntls_handshake_timeout_seconds = 2\n\
             idle_timeout_seconds = 60\nheader_read_timeout_seconds = 60",
            pki.join("cert.pem").display(),
            pki.join("key.pem").display()
        ),
        "",
    );
    let started = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..50).map(|_| connect(&c)).collect();
    // A half-sent ClientHello record header: the handshake has begun and stops.
    for s in &mut stalled[25..] {
        s.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
    }
    assert!(
        stalled.iter().all(still_open),
        "closed before the handshake timeout"
    );
    // The certificate is not what this test is about.
    let client = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (r, took) = timed(|| client.get(format!("{}/healthz", c.url)).send());
    assert!(
        r.unwrap().status().is_success() && took < LATENCY,
        "{took:?}"
    );
    let deadline = started + Duration::from_secs(2 + 5);
    for (i, mut s) in stalled.into_iter().enumerate() {
        assert!(
            until_closed(&mut s, deadline).is_some(),
            "stalled TLS connection {i} still open"
        );
    }
}

fn self_signed(dir: &Path) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", describe(&out));
}
