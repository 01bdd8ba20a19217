//! The delta wire format (schema 2) and compressed bodies with the real binaries (issue 16 item
//! 1): v1 bodies still accepted, deltas, `resync_required`, missing evidence, spooled reports sent
//! as deltas once the collector is back, and compression bombs.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use vigie_e2e::*;

/// The real agent's full (schema 1) report for `host`, as `check --format json` prints it.
fn check_json(h: &Host) -> serde_json::Value {
    let out = Command::new(bin("vigie-agent"))
        .args([
            "--config",
            h.config.to_str().unwrap(),
            "check",
            "--format",
            "json",
        ])
        .args(["--root", h.root.to_str().unwrap()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

fn node_key(h: &Host) -> String {
    std::fs::read_to_string(h.state.join("node_key"))
        .unwrap()
        .trim()
        .to_string()
}

fn post(
    c: &Collector,
    key: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut req = http()
        .post(format!("{}/api/v1/reports", c.url))
        .bearer_auth(key)
        .header("Content-Type", "application/json");
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    let r = req.body(body).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(serde_json::Value::Null))
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A fresh run of the agent a second later than the last one (the collector refuses a report not
/// newer than the host's newest).
fn run(h: &Host, c: &Collector) -> String {
    std::thread::sleep(Duration::from_millis(1100));
    h.set_clock(chrono::Utc::now());
    let (code, log) = h.run_once(&c.url);
    assert!(code == 0 || code == 1, "run --once exit {code}:\n{log}");
    log
}

/// The `full=` field of the agent's "report delivered" lines, in order.
fn delivered_full(log: &str) -> Vec<bool> {
    log.lines()
        .filter(|l| l.contains("report delivered"))
        .map(|l| l.contains("full=true"))
        .collect()
}

/// The collector's current state per check for the host: (check, status, summary, facts, evidence).
fn state(c: &Collector) -> Vec<(String, String, String, String, String)> {
    let db = c.db();
    let mut q = db
        .prepare("SELECT check_name, status, summary, facts, evidence FROM check_state ORDER BY check_name")
        .unwrap();
    q.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// What a full report of `report` (check JSON) leaves as current state.
fn expected_state(report: &serde_json::Value) -> Vec<(String, String, String, String, String)> {
    let mut v: Vec<_> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let shas: Vec<&str> = r["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["sha256"].as_str().unwrap())
                .collect();
            (
                r["check"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["summary"].as_str().unwrap().to_string(),
                serde_json::to_string(&r["facts"]).unwrap(),
                serde_json::to_string(&shas).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn writable_db(c: &Collector) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(c.db_path()).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db
}

#[test]
fn a_v1_body_plain_or_gzip_is_accepted_and_other_encodings_are_415() {
    let scratch = tempfile::tempdir().unwrap();
    let c = Collector::start(&scratch.path().join("c"), 0, "");
    let h = Host::from_fixture(
        "debian12-baseline",
        scratch.path(),
        "v1-host",
        "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
    );
    h.enroll(&c.url);
    let key = node_key(&h);
    let mut v1 = check_json(&h);
    assert_eq!(
        v1["schema"], 1,
        "check --format json prints a schema 1 report"
    );
    let (status, answer) = post(&c, &key, None, serde_json::to_vec(&v1).unwrap());
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "accepted");
    assert!(
        answer.get("missing_evidence").is_none(),
        "a v1 agent gets the v1 answer: {answer}"
    );
    // The same agent's next report, gzip-compressed.
    v1["report_id"] = uuid::Uuid::new_v4().to_string().into();
    let later = chrono::DateTime::parse_from_rfc3339(v1["collected_at"].as_str().unwrap()).unwrap()
        + chrono::Duration::seconds(1);
    v1["collected_at"] = later.to_rfc3339().into();
    let body = serde_json::to_vec(&v1).unwrap();
    for enc in ["br", "deflate", "zstd, gzip", "compress"] {
        let (status, answer) = post(&c, &key, Some(enc), gzip(&body));
        assert_eq!(status, 415, "{enc}: {answer}");
        assert_eq!(answer["error"]["code"], "unsupported_encoding", "{enc}");
    }
    let (status, answer) = post(&c, &key, Some("gzip"), gzip(&body));
    assert_eq!(status, 202, "{answer}");
    let last: String = c
        .db()
        .query_row("SELECT last_report_id FROM hosts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last, v1["report_id"].as_str().unwrap());
    // Garbage under a declared encoding is a 400, not a crash.
    let (status, answer) = post(&c, &key, Some("zstd"), b"not zstd at all".to_vec());
    assert_eq!(status, 400, "{answer}");
    assert_eq!(expected_state(&v1), state(&c));
}

#[test]
fn deltas_resync_and_missing_evidence_with_the_real_binaries() {
    let scratch = tempfile::tempdir().unwrap();
    let c = Collector::start(&scratch.path().join("c"), 0, "");
    let h = Host::from_fixture(
        "debian12-stock-cloud-image",
        scratch.path(),
        "delta-host",
        "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1",
    );
    h.enroll(&c.url);

    let log = run(&h, &c);
    assert_eq!(
        delivered_full(&log),
        vec![true],
        "the first report goes in full:\n{log}"
    );
    let log = run(&h, &c);
    assert_eq!(delivered_full(&log), vec![false], "then deltas:\n{log}");
    assert_eq!(state(&c), expected_state(&check_json(&h)));
    let acked = h.state.join("spool/acked");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&acked).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The collector's state no longer matches what the agent was told: `resync_required`, and
    // the agent sends the same report in full.
    let before = state(&c);
    writable_db(&c)
        .execute(
            "UPDATE check_state SET summary = 'tampered' WHERE check_name = 'firewall'",
            [],
        )
        .unwrap();
    let log = run(&h, &c);
    assert!(log.contains("collector cannot resolve the delta"), "{log}");
    assert_eq!(delivered_full(&log), vec![true], "{log}");
    assert_eq!(state(&c), before, "the full report restored the state");
    // The refusal is counted (the scrape may be up to `metrics.refresh_seconds` old).
    let want = "vigie_ingest_reports_total{outcome=\"resync\"} 1";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = http()
            .get(format!("{}/metrics", c.url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        if metrics.contains(want) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{want} not in\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Evidence sent by hash that the collector lost: it asks for it, the agent uploads it.
    let report = check_json(&h);
    let mfa = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "mfa")
        .unwrap();
    let sshd = mfa["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "/etc/ssh/sshd_config")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = writable_db(&c)
        .execute("DELETE FROM evidence WHERE sha256 = ?1", [&sshd])
        .unwrap();
    assert_eq!(deleted, 1);
    // Another file the mfa check reads changes: mfa goes in full, sshd_config by hash.
    std::fs::write(
        h.root.join("root/etc/sudoers.d/README"),
        "# changed by the test\n",
    )
    .unwrap();
    let log = run(&h, &c);
    assert_eq!(delivered_full(&log), vec![false], "{log}");
    assert!(log.contains("missing_evidence=1"), "{log}");
    assert!(log.contains("missing evidence uploaded"), "{log}");
    let back: i64 = c
        .db()
        .query_row(
            "SELECT count(*) FROM evidence WHERE sha256 = ?1 AND source = '/etc/ssh/sshd_config'",
            [&sshd],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(back, 1, "the uploaded evidence is stored again");
    assert_eq!(state(&c), expected_state(&check_json(&h)));
}

#[test]
fn reports_spooled_while_the_collector_was_down_go_as_deltas_when_it_is_back() {
    let scratch = tempfile::tempdir().unwrap();
    let cdir = scratch.path().join("c");
    let c = Collector::start(&cdir, 0, "");
    let port = c.port();
    let h = Host::from_fixture(
        "debian12-stock-cloud-image",
        scratch.path(),
        "spool-host",
        "e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1",
    );
    h.enroll(&c.url);
    let url = c.url.clone();
    let log = run(&h, &c);
    assert_eq!(delivered_full(&log), vec![true], "{log}");
    c.stop();

    // Three runs while the collector is down; mfa's evidence changes and changes back, so a
    // delta built when a report was spooled would be wrong by the time it is sent.
    let readme = h.root.join("root/etc/sudoers.d/README");
    let original = std::fs::read(&readme).unwrap();
    for content in [&b"# first change\n"[..], b"# second change\n", &original] {
        std::fs::write(&readme, content).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        h.set_clock(chrono::Utc::now());
        let (code, log) = h.run_once(&url);
        assert_ne!(code, 0, "nothing delivered while down:\n{log}");
    }
    assert_eq!(h.spooled(), 3);

    let c = Collector::start(&cdir, port, "");
    assert_eq!(c.url, url);
    let log = run(&h, &c);
    assert!(!log.contains("cannot resolve"), "{log}");
    assert_eq!(
        delivered_full(&log),
        vec![false; 4],
        "three spooled and one new report, all deltas against what was acknowledged:\n{log}"
    );
    assert_eq!(h.spooled(), 0);
    assert_eq!(state(&c), expected_state(&check_json(&h)));
    // Every spooled report was stored, in order: mfa changed three times.
    let mfa_reports: i64 = c
        .db()
        .query_row("SELECT sum(reports) FROM daily", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mfa_reports, 5);
}

/// VmHWM (peak resident set) of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_compression_bomb_is_413_without_the_memory_to_hold_it() {
    let scratch = tempfile::tempdir().unwrap();
    let c = Collector::start(&scratch.path().join("c"), 0, "");
    let h = Host::from_fixture(
        "debian12-baseline",
        scratch.path(),
        "bomb-host",
        "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0",
    );
    h.enroll(&c.url);
    let key = node_key(&h);

    // 1 GiB of zeros, compressed in chunks (the test never holds it either).
    let chunk = vec![0u8; 1 << 20];
    let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    for _ in 0..1024 {
        z.write_all(&chunk).unwrap();
    }
    let zbomb = z.finish().unwrap();
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..200 {
        g.write_all(&chunk).unwrap();
    }
    let gbomb = g.finish().unwrap();
    // Both fit the body limit as sent (262144 bytes in the test config): only decompression can
    // catch them.
    assert!(
        zbomb.len() < 262_144 && gbomb.len() < 262_144,
        "{} {}",
        zbomb.len(),
        gbomb.len()
    );
    eprintln!(
        "bombs: 1 GiB of zeros in {} bytes of zstd, 200 MiB in {} bytes of gzip",
        zbomb.len(),
        gbomb.len()
    );
    let base = vm_hwm_kib(c.child.id());
    for (enc, bomb) in [("zstd", &zbomb), ("gzip", &gbomb), ("zstd", &zbomb)] {
        let (status, answer) = post(&c, &key, Some(enc), bomb.clone());
        assert_eq!(status, 413, "{enc}: {answer}");
        assert_eq!(answer["error"]["code"], "body_too_large");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("once decompressed"),
            "{answer}"
        );
    }
    let peak = vm_hwm_kib(c.child.id());
    eprintln!("collector VmHWM: {base} KiB before the bombs, {peak} KiB after");
    assert!(
        peak < base + 64 * 1024,
        "peak RSS grew from {base} KiB to {peak} KiB: the bomb was inflated"
    );
    // The collector is still serving.
    let ok = http().get(format!("{}/healthz", c.url)).send().unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

/// A one-thread HTTP server on loopback answering each request with `handler(path,
/// content-encoding, body)`.
fn serve(
    handler: impl Fn(&str, Option<&str>, &[u8]) -> (&'static str, String) + Send + 'static,
) -> String {
    use std::io::{BufRead as _, BufReader, Read as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (mut len, mut enc) = (0usize, None);
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap();
                    }
                    if k.eq_ignore_ascii_case("content-encoding") {
                        enc = Some(v.trim().to_string());
                    }
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let (status, answer) = handler(&path, enc.as_deref(), &body);
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

/// (content-encoding, schema; -1 when the body is not JSON) of each request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<String>, i64)>>>;

/// A collector from before schema 2: it parses the body as JSON whatever its encoding, and knows
/// schema 1 only.
fn old_collector() -> (String, Seen) {
    let seen: Seen = Default::default();
    let log = seen.clone();
    let url = serve(move |_, enc, body| {
        let enc = enc.map(str::to_string);
        match serde_json::from_slice::<serde_json::Value>(body) {
            Err(e) => {
                log.lock().unwrap().push((enc, -1));
                (
                    "400 Bad Request",
                    format!(r#"{{"error":{{"code":"malformed_json","message":"{e}"}}}}"#),
                )
            }
            Ok(v) => {
                let schema = v["schema"].as_i64().unwrap_or(-1);
                log.lock().unwrap().push((enc, schema));
                if schema == 1 {
                    (
                        "202 Accepted",
                        format!(
                            r#"{{"report_id":"{}","status":"accepted","transitions":0}}"#,
                            v["report_id"].as_str().unwrap()
                        ),
                    )
                } else {
                    (
                        "422 Unprocessable Entity",
                        format!(
                            r#"{{"error":{{"code":"unsupported_schema","message":"unsupported schema version {schema}; this collector accepts 1"}}}}"#
                        ),
                    )
                }
            }
        }
    });
    (url, seen)
}

/// A collector that accepts every report, asks for its first evidence item as missing, and
/// answers evidence uploads with `evidence_answer`. Records the paths requested.
fn forgetful_collector(
    evidence_answer: (&'static str, &'static str),
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = seen.clone();
    let url = serve(move |path, enc, body| {
        log.lock().unwrap().push(path.to_string());
        if path == "/api/v1/reports/evidence" {
            return (evidence_answer.0, evidence_answer.1.to_string());
        }
        let body = match enc {
            Some("gzip") => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out)
                    .unwrap();
                out
            }
            _ => body.to_vec(),
        };
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let first = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["evidence"].as_array().cloned().unwrap_or_default())
            .next()
            .map(|e| e["sha256"].as_str().unwrap().to_string());
        (
            "202 Accepted",
            serde_json::json!({"report_id": v["report_id"], "status": "accepted",
                "transitions": 0, "missing_evidence": first.into_iter().collect::<Vec<_>>()})
            .to_string(),
        )
    });
    (url, seen)
}

#[test]
fn missing_evidence_waits_for_a_collector_that_fails_and_is_dropped_when_it_refuses() {
    let scratch = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-baseline",
        scratch.path(),
        "ev-host",
        "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0",
    );
    std::fs::create_dir_all(&h.state).unwrap();
    std::fs::write(h.state.join("node_key"), "vnk1_evidence_test").unwrap();
    let pending = || -> usize {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(h.state.join("spool/acked")).unwrap()).unwrap();
        v["pending_evidence"].as_array().unwrap().len()
    };

    // The upload fails (503): the report is stored, the evidence waits in the state file.
    let (url, seen) = forgetful_collector(("503 Service Unavailable", "{}"));
    let (code, log) = h.run_once(&url);
    assert_eq!(code, 0, "{log}");
    assert_eq!(h.spooled(), 0, "{log}");
    assert_eq!(pending(), 1, "{log}");
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["/api/v1/reports", "/api/v1/reports/evidence"]
    );

    // Next time it goes first; refused with the collector's own error, it is dropped, not
    // retried forever ahead of every report.
    std::thread::sleep(Duration::from_millis(1100));
    h.set_clock(chrono::Utc::now());
    let (url, seen) = forgetful_collector((
        "422 Unprocessable Entity",
        r#"{"error":{"code":"invalid_evidence","message":"no"}}"#,
    ));
    let (code, log) = h.run_once(&url);
    assert_eq!(code, 0, "{log}");
    assert!(
        log.contains("collector refused the missing evidence"),
        "{log}"
    );
    assert_eq!(h.spooled(), 0, "{log}");
    assert_eq!(
        seen.lock().unwrap()[0],
        "/api/v1/reports/evidence",
        "pending evidence goes before anything else"
    );
    assert!(seen
        .lock()
        .unwrap()
        .contains(&"/api/v1/reports".to_string()));
}

#[test]
fn a_collector_that_predates_schema_2_gets_schema_1_and_loses_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let h = Host::from_fixture(
        "debian12-baseline",
        scratch.path(),
        "old-host",
        "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0",
    );
    std::fs::create_dir_all(&h.state).unwrap();
    std::fs::write(h.state.join("node_key"), "vnk1_old_collector").unwrap();
    let (url, seen) = old_collector();
    let (code, log) = h.run_once(&url);
    assert_eq!(code, 0, "{log}");
    assert_eq!(h.spooled(), 0, "{log}");
    assert!(
        !h.state.join("spool/rejected").exists(),
        "nothing was refused for good: {log}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(Some("gzip".to_string()), -1), (None, 1)],
        "first the compressed delta, then the spooled schema 1 body as it is:\n{log}"
    );
}

#[test]
fn a_full_report_re_anchors_every_full_report_hours() {
    let scratch = tempfile::tempdir().unwrap();
    let c = Collector::start(&scratch.path().join("c"), 0, "");
    let h = Host::from_fixture(
        "debian12-baseline",
        scratch.path(),
        "anchor-host",
        "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2",
    );
    let cfg = std::fs::read_to_string(&h.config).unwrap();
    std::fs::write(&h.config, format!("[agent]\nfull_report_hours = 1\n{cfg}")).unwrap();
    h.enroll(&c.url);
    // Reports collected in the past (the collector takes them up to fleet.max_report_age_days
    // old), so the fixture clock can move hours without being in the future.
    let start = chrono::Utc::now() - chrono::Duration::hours(5);
    let mut fulls = Vec::new();
    for minutes in [0, 30, 59, 60, 61, 150] {
        h.set_clock(start + chrono::Duration::minutes(minutes));
        let (code, log) = h.run_once(&c.url);
        assert!(code == 0 || code == 1, "{log}");
        fulls.extend(delivered_full(&log));
    }
    // Full at 0; deltas at 30 and 59 min; full at 60 (an hour after the last full one); delta at
    // 61; full at 150.
    assert_eq!(fulls, vec![true, false, false, true, false, true]);
    let bad = std::fs::read_to_string(&h.config)
        .unwrap()
        .replace("full_report_hours = 1", "full_report_hours = 0");
    std::fs::write(&h.config, bad).unwrap();
    let (code, log) = h.run_once(&c.url);
    assert_eq!(code, 2, "{log}");
    assert!(log.contains("agent.full_report_hours"), "{log}");
}
