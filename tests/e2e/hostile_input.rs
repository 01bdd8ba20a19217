//! Hostile input on the wire, over real HTTP: identity fields that would forge log lines or drive a
//! terminal, every spelling of one report id, fields the wire format does not have, bytes that are
//! not UTF-8, dates out of range. Each is refused with the documented status and code, nothing is
//! stored, and the collector's own log (its real stderr) carries no raw control character and no
//! forged line. The registers' side is `hostile_registers.rs`.

use std::time::Duration;

use serde_json::{json, Value};
use vigie_e2e::*;

const RED: &str = "\u{1b}[31m";

fn host(machine_id: &str, hostname: &str) -> Value {
    json!({"hostname": hostname, "machine_id": machine_id, "os": "debian", "os_version": "12",
           "kernel": "6.1.0", "arch": "x86_64"})
}

fn enroll_raw(c: &Collector, secret: &str, host: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(&json!({"enroll_secret": secret, "host": host}))
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn enroll(c: &Collector, machine_id: &str) -> String {
    let (status, v) = enroll_raw(c, ENROLL_SECRET, host(machine_id, "web-01"));
    assert_eq!(status, 201, "{v}");
    v["node_key"].as_str().unwrap().to_string()
}

fn report(machine_id: &str, id: &str, collected_at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"schema": 1, "report_id": id, "agent_version": "0.1.0",
           "collected_at": collected_at.to_rfc3339(), "host": host(machine_id, "web-01"),
           "results": [{"check": "mfa", "status": "fail", "summary": "ssh: password only",
                        "facts": {}, "evidence": [{"kind": "file", "source": "/etc/ssh/sshd_config",
                        "excerpt": "PasswordAuthentication yes", "sha256": "a".repeat(64)}]}]})
}

fn post(c: &Collector, key: &str, body: Vec<u8>) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/reports", c.url))
        .header("content-type", "application/json")
        .bearer_auth(key)
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn count(c: &Collector, sql: &str) -> i64 {
    c.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The log has no raw control character, no bidi override, and every line is one of the
/// collector's own (starts with a timestamp): a hostile value may appear escaped, never as a line.
fn assert_log_clean(c: &Collector) {
    // Let the last refusals reach the file.
    std::thread::sleep(Duration::from_millis(200));
    let log = c.log_text();
    assert!(!log.is_empty());
    for (n, line) in log.lines().enumerate() {
        assert!(
            !line.chars().any(
                |ch| (ch.is_control() && ch != '\t') || ('\u{202a}'..='\u{202e}').contains(&ch)
            ),
            "log line {n} carries a raw control or bidi character: {line:?}"
        );
        assert!(
            line.starts_with(|ch: char| ch.is_ascii_digit()),
            "log line {n} was not written by the collector's logger (forged?): {line:?}\n{log}"
        );
    }
}

#[test]
fn hostile_identities_are_refused_before_they_are_logged() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let forged_line = "x\n2026-12-03T10:00:00.000000Z  INFO vigie_collector: FORGED host enrolled";
    let long = "h".repeat(300);
    // (what, host, field named in the refusal)
    let cases = [
        (
            "newline in hostname",
            host("m-1", forged_line),
            "host.hostname",
        ),
        (
            "ESC in hostname",
            host("m-2", &format!("{RED}web")),
            "host.hostname",
        ),
        (
            "RLO in hostname",
            host("m-3", "web\u{202e}10-bew"),
            "host.hostname",
        ),
        ("300-byte hostname", host("m-4", &long), "host.hostname"),
        ("empty hostname", host("m-5", ""), "host.hostname"),
        (
            "newline in machine_id",
            host("m-6\nFORGED", "web"),
            "host.machine_id",
        ),
        (
            "ESC in machine_id",
            host(&format!("m{RED}7"), "web"),
            "host.machine_id",
        ),
        ("empty machine_id", host("", "web"), "host.machine_id"),
        (
            "ESC in os",
            json!({"hostname": "web", "machine_id": "m-8", "os": format!("deb{RED}"),
            "os_version": "12", "kernel": "6.1", "arch": "x86_64"}),
            "host.os",
        ),
        (
            "newline in os_version",
            json!({"hostname": "web", "machine_id": "m-9", "os": "debian",
            "os_version": "12\nFORGED", "kernel": "6.1", "arch": "x86_64"}),
            "host.os_version",
        ),
    ];
    for (what, h, field) in &cases {
        // With the wrong secret too: the identity is judged before the secret's refusal is logged.
        for secret in [ENROLL_SECRET, "not-the-secret-at-all"] {
            let (status, v) = enroll_raw(&c, secret, h.clone());
            assert_eq!(status, 422, "{what} ({secret}): {v}");
            assert_eq!(v["error"]["code"], "invalid_host", "{what}: {v}");
            let msg = v["error"]["message"].as_str().unwrap();
            assert!(msg.starts_with(field), "{what}: {msg}");
            assert!(
                !msg.contains("FORGED") && !msg.contains('\u{1b}'),
                "{what}: {msg}"
            );
        }
    }
    assert_eq!(count(&c, "SELECT count(*) FROM hosts"), 0);

    // The same rules at ingest: an enrolled host cannot smuggle them in through a report.
    let key = enroll(&c, "m-ok");
    let now = chrono::Utc::now();
    let mut n = 0;
    for (what, h, field) in &cases {
        let mut r = report("m-ok", &uuid::Uuid::new_v4().to_string(), now);
        r["host"] = h.clone();
        if *field != "host.machine_id" {
            r["host"]["machine_id"] = json!("m-ok");
        }
        let (status, v) = post(&c, &key, serde_json::to_vec(&r).unwrap());
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some("invalid_report")),
            "{what}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{what}: {v}"
        );
        n += 1;
    }
    assert_eq!(n, cases.len());
    // A field name is echoed by the parser's refusal; the log line escapes it.
    let mut r = report("m-ok", &uuid::Uuid::new_v4().to_string(), now);
    r["results"][0][format!("{RED}x\nFORGED")] = json!(1);
    let (status, v) = post(&c, &key, serde_json::to_vec(&r).unwrap());
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("invalid_report")),
        "{v}"
    );
    assert_eq!(count(&c, "SELECT count(*) FROM recent_reports"), 0);
    assert_eq!(count(&c, "SELECT count(*) FROM hosts"), 1);
    assert_log_clean(&c);
    assert!(
        c.log_text().contains(r"unknown field `\x1b[31mx\nFORGED`"),
        "the refusal is logged, escaped:\n{}",
        c.log_text()
    );
}

#[test]
fn every_spelling_of_one_report_id_is_one_report_and_a_late_resend_is_out_of_order() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let key = enroll(&c, "m-ids");
    let id = "9d3c2b7e-3f5e-4f8e-9a52-4c1b1f0e7a10";
    let at = chrono::Utc::now() - chrono::Duration::seconds(30);
    let (status, v) = post(
        &c,
        &key,
        serde_json::to_vec(&report("m-ids", id, at)).unwrap(),
    );
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["report_id"], id);
    for spelling in [
        id.to_uppercase(),
        format!("{{{id}}}"),
        format!("urn:uuid:{id}"),
        id.replace('-', ""),
        format!("{{{}}}", id.to_uppercase()),
    ] {
        // A later collected_at, so only the id can make it a duplicate.
        let later = at + chrono::Duration::seconds(5);
        let (status, v) = post(
            &c,
            &key,
            serde_json::to_vec(&report("m-ids", &spelling, later)).unwrap(),
        );
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (409, Some("duplicate_report")),
            "{spelling}: {v}"
        );
    }
    let stored: String = c
        .db()
        .query_row("SELECT report_id FROM recent_reports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, id, "stored in its canonical spelling");

    // Past the de-duplication window the id is forgotten (as the pruner does); the resend, with
    // the same collected_at, is still refused, as is another report of that same second.
    {
        let rw = rusqlite::Connection::open(c.db_path()).unwrap();
        rw.busy_timeout(Duration::from_secs(5)).unwrap();
        rw.execute("DELETE FROM recent_reports", []).unwrap();
    }
    for (what, rid) in [
        ("the resend", id.to_string()),
        ("a new id", uuid::Uuid::new_v4().to_string()),
    ] {
        let (status, v) = post(
            &c,
            &key,
            serde_json::to_vec(&report("m-ids", &rid, at)).unwrap(),
        );
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (409, Some("out_of_order")),
            "{what}: {v}"
        );
    }
    assert_eq!(
        count(&c, "SELECT sum(reports) FROM daily"),
        1,
        "applied exactly once"
    );
    assert_eq!(count(&c, "SELECT count(*) FROM transitions"), 1);
    // A newer report is accepted.
    let newer = report(
        "m-ids",
        &uuid::Uuid::new_v4().to_string(),
        at + chrono::Duration::seconds(1),
    );
    assert_eq!(post(&c, &key, serde_json::to_vec(&newer).unwrap()).0, 202);
}

#[test]
fn the_wire_format_is_enforced_everywhere_with_the_documented_codes() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let key = enroll(&c, "m-wire");
    let now = chrono::Utc::now();
    let fresh = || report("m-wire", &uuid::Uuid::new_v4().to_string(), now);
    let mut cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = Vec::new();
    let mut r = fresh();
    r["results"][0]["score"] = json!(100);
    cases.push((
        "unknown field in results[]",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "unknown field `score`",
    ));
    let mut r = fresh();
    r["results"][0]["evidence"][0]["trusted"] = json!(true);
    cases.push((
        "unknown field in evidence[]",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "unknown field `trusted`",
    ));
    let mut r = fresh();
    r["results"][0]["summary"] = json!("fine\nsecond line");
    cases.push((
        "two-line summary",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "results[0].summary contains U+000A",
    ));
    let mut r = fresh();
    r["results"][0]["summary"] = json!("s".repeat(2049));
    cases.push((
        "summary over 2048 bytes",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "results[0].summary is 2049 bytes",
    ));
    let mut r = fresh();
    r["results"][0]["evidence"][0]["source"] = json!(format!("/{}", "d".repeat(5000)));
    cases.push((
        "evidence source over 4096 bytes",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "evidence[0].source is 5001 bytes",
    ));
    let mut r = fresh();
    r["collected_at"] = json!("1969-12-31T23:00:00Z");
    cases.push((
        "collected before 1970",
        serde_json::to_vec(&r).unwrap(),
        422,
        "invalid_report",
        "before 1970",
    ));
    let mut r = fresh();
    r["collected_at"] = json!((now + chrono::Duration::days(2)).to_rfc3339());
    cases.push((
        "collected two days ahead",
        serde_json::to_vec(&r).unwrap(),
        422,
        "far_future",
        "in the future",
    ));
    // Invalid UTF-8 inside a string value the schema probe skips.
    let mut bytes = serde_json::to_vec(&fresh()).unwrap();
    let at = String::from_utf8_lossy(&bytes)
        .find("password only")
        .unwrap();
    bytes[at] = 0xc3;
    bytes[at + 1] = 0x28;
    cases.push((
        "invalid UTF-8",
        bytes,
        400,
        "malformed_json",
        "not valid UTF-8",
    ));
    for (what, body, want_status, want_code, words) in cases {
        let (status, v) = post(&c, &key, body);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{what}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(words),
            "{what}: {v}"
        );
    }
    assert_eq!(
        count(&c, "SELECT count(*) FROM recent_reports"),
        0,
        "nothing stored"
    );
    assert_eq!(
        post(&c, &key, serde_json::to_vec(&fresh()).unwrap()).0,
        202,
        "a good report still goes in"
    );
    // Invalid UTF-8 on the other JSON and CSV endpoints is a 400 as well.
    for (path, ctype) in [
        ("/api/v1/incidents", "application/json"),
        ("/api/v1/import/roster", "text/csv"),
    ] {
        let r = http()
            .post(format!("{}{path}", c.url))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", ctype)
            .body(b"{\"id\": \"\xff\xfe\"}".to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{path}: {}", r.text().unwrap_or_default());
    }
    assert_log_clean(&c);
}
