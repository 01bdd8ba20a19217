//! Bad input over real HTTP: each is answered with a precise 4xx, nothing is stored, and the
//! collector stays up.

use serde_json::{json, Value};
use vigie_e2e::*;

struct Fixture {
    c: Collector,
    key_a: String,
    key_b: String,
    _t: tempfile::TempDir,
}

fn enroll(c: &Collector, machine_id: &str, hostname: &str) -> String {
    let r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(&json!({"enroll_secret": ENROLL_SECRET, "host": host(machine_id, hostname)}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().unwrap()["node_key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn host(machine_id: &str, hostname: &str) -> Value {
    json!({"hostname": hostname, "machine_id": machine_id, "os": "debian", "os_version": "12",
           "kernel": "6.1.0", "arch": "x86_64"})
}

fn report(machine_id: &str, id: &str, collected_at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"schema": 1, "report_id": id, "agent_version": "0.1.0",
           "collected_at": collected_at.to_rfc3339(), "host": host(machine_id, "a"),
           "results": [{"check": "mfa", "status": "fail", "summary": "ssh: password only",
                        "facts": {}, "evidence": []}]})
}

fn setup() -> Fixture {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    let key_a = enroll(&c, "aaaa", "a");
    let key_b = enroll(&c, "bbbb", "b");
    Fixture {
        c,
        key_a,
        key_b,
        _t: t,
    }
}

fn post(f: &Fixture, key: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut r = http()
        .post(format!("{}/api/v1/reports", f.c.url))
        .header("content-type", "application/json")
        .body(body);
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn stored(f: &Fixture) -> (i64, i64) {
    let db = f.c.db();
    let reports = db
        .query_row("SELECT count(*) FROM recent_reports", [], |r| r.get(0))
        .unwrap();
    let states = db
        .query_row("SELECT count(*) FROM check_state", [], |r| r.get(0))
        .unwrap();
    (reports, states)
}

#[test]
fn every_bad_report_gets_a_precise_4xx_and_stores_nothing() {
    let f = setup();
    let now = chrono::Utc::now();
    let good_id = "0b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a";
    let ok = serde_json::to_vec(&report("aaaa", good_id, now)).unwrap();
    let mut wrong_schema = report("aaaa", "1b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a", now);
    wrong_schema["schema"] = json!(7);
    let mut unknown_check = report("aaaa", "2b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a", now);
    unknown_check["results"][0]["check"] = json!("telepathy");
    let far_future = report(
        "aaaa",
        "3b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a",
        now + chrono::Duration::hours(2),
    );
    let mut huge = report("aaaa", "4b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a", now);
    huge["results"][0]["summary"] = json!("x".repeat(300_000));

    // (what, node key, body, expected status, expected error code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            Some(&f.key_a),
            b"{\"schema\": 1, ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "wrong schema version",
            Some(&f.key_a),
            serde_json::to_vec(&wrong_schema).unwrap(),
            422,
            "unsupported_schema",
        ),
        (
            "body over the limit",
            Some(&f.key_a),
            serde_json::to_vec(&huge).unwrap(),
            413,
            "body_too_large",
        ),
        (
            "unknown check",
            Some(&f.key_a),
            serde_json::to_vec(&unknown_check).unwrap(),
            422,
            "unknown_check",
        ),
        ("missing key", None, ok.clone(), 401, "unauthorized"),
        (
            "wrong key",
            Some("vnk1_0000000000000000000000000000000000000000000000000000000000000000"),
            ok.clone(),
            401,
            "unauthorized",
        ),
        (
            "other host's key",
            Some(&f.key_b),
            ok.clone(),
            403,
            "wrong_host",
        ),
        (
            "far-future timestamp",
            Some(&f.key_a),
            serde_json::to_vec(&far_future).unwrap(),
            422,
            "far_future",
        ),
    ];
    for (what, key, body, want_status, want_code) in cases {
        let (status, v) = post(&f, key, body);
        assert_eq!(status, want_status, "{what}: {v}");
        assert_eq!(v["error"]["code"], want_code, "{what}: {v}");
        assert!(
            !v["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{what}: no message"
        );
        assert_eq!(stored(&f), (0, 0), "{what}: something was stored");
    }

    // The good report is accepted once; its replay is refused and changes nothing.
    let (status, v) = post(&f, Some(&f.key_a), ok.clone());
    assert_eq!(status, 202, "{v}");
    assert_eq!(stored(&f), (1, 1));
    let (status, v) = post(&f, Some(&f.key_a), ok);
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("duplicate_report"))
    );
    assert_eq!(stored(&f), (1, 1));

    // Wrong enrolment secret.
    let r = http()
        .post(format!("{}/api/v1/enroll", f.c.url))
        .json(&json!({"enroll_secret": "not-the-secret-at-all", "host": host("cccc", "c")}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["code"],
        "wrong_enroll_secret"
    );
    let hosts: i64 =
        f.c.db()
            .query_row("SELECT count(*) FROM hosts", [], |r| r.get(0))
            .unwrap();
    assert_eq!(hosts, 2);

    // Still up.
    let r = http().get(format!("{}/healthz", f.c.url)).send().unwrap();
    assert_eq!(r.status(), 200);
    let r = http().get(format!("{}/readyz", f.c.url)).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn re_enrolment_needs_the_current_key_or_an_admin_and_rotates_the_key() {
    let f = setup();
    // The shared enrol secret alone cannot take over an enrolled machine.
    let r = enroll_again(&f.c, "aaaa", None);
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().unwrap()["error"]["code"],
        "already_enrolled"
    );
    // Another host's key does not help either.
    assert_eq!(enroll_again(&f.c, "aaaa", Some(&f.key_b)).status(), 409);
    // The agent holding the current key re-enrols itself: its key rotates.
    let r = enroll_again(&f.c, "aaaa", Some(&f.key_a));
    assert_eq!(r.status(), 200, "re-enrolment answers 200 (rotated)");
    let v: Value = r.json().unwrap();
    assert_eq!(v["rotated"], true);
    let new_key = v["node_key"].as_str().unwrap().to_string();
    let body = serde_json::to_vec(&report(
        "aaaa",
        "5b7f6a52-8c1d-4c7e-9d0a-3f2e1d4c5b6a",
        chrono::Utc::now(),
    ))
    .unwrap();
    let (status, _) = post(&f, Some(&f.key_a), body.clone());
    assert_eq!(status, 401, "the old key stops working");
    let (status, _) = post(&f, Some(&new_key), body);
    assert_eq!(status, 202);
    // An agent that lost its key: an admin allows one re-enrolment (auditors may not).
    let host_id = v["host_id"].as_i64().unwrap();
    let allow = |token: &str| {
        http()
            .post(format!("{}/api/v1/hosts/{host_id}/allow-reenroll", f.c.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(allow(AUDITOR_TOKEN), 403);
    assert_eq!(allow(ADMIN_TOKEN), 200);
    assert_eq!(enroll_again(&f.c, "aaaa", None).status(), 200);
    assert_eq!(
        enroll_again(&f.c, "aaaa", None).status(),
        409,
        "the permission is used up"
    );

    for (token, want) in [
        (None, 401),
        (Some("not-a-token"), 401),
        (Some(AUDITOR_TOKEN), 200),
        (Some(ADMIN_TOKEN), 200),
    ] {
        let mut r = http().get(format!("{}/api/v1/hosts", f.c.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        assert_eq!(r.send().unwrap().status(), want, "token {token:?}");
    }
    // A node key is not an API token.
    let r = http()
        .get(format!("{}/api/v1/hosts", f.c.url))
        .bearer_auth(&new_key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

fn enroll_again(c: &Collector, machine_id: &str, key: Option<&str>) -> reqwest::blocking::Response {
    let mut r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(&json!({"enroll_secret": ENROLL_SECRET, "host": host(machine_id, "a")}));
    if let Some(k) = key {
        r = r.bearer_auth(k);
    }
    r.send().unwrap()
}
