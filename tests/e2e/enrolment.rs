//! Enrolment edge cases against the real collector (issue 9, item 10, collector side): a repeated
//! enrolment with the same nonce, the per-address limit on failed enrolments with its one summary
//! log line, and the case-insensitive `Authorization` scheme.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vigie_e2e::*;

/// A fresh report of a fixture host, as the agent sends it.
fn fresh_report(h: &Host) -> Value {
    let out = Command::new(bin("vigie-agent"))
        .args(["--config", h.config.to_str().unwrap()])
        .args(["check", "--format", "json"])
        .args(["--root", h.root.to_str().unwrap()])
        .args(["--state-dir", h.state.to_str().unwrap()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)))
}

fn enroll(c: &Collector, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn post_report(c: &Collector, key: &str, report: &Value) -> u16 {
    http()
        .post(format!("{}/api/v1/reports", c.url))
        .bearer_auth(key)
        .json(report)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn a_repeated_enrolment_with_the_same_nonce_gets_a_new_key_within_the_window() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start_with(
        &t.path().join("c"),
        "insecure_http = true",
        "enroll_retry_window_seconds = 3",
    );
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "nonce-laptop",
        "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0",
    );
    let report = fresh_report(&h);
    let nonce = "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
    let req = |nonce: Option<&str>| {
        let mut v = json!({"enroll_secret": ENROLL_SECRET, "host": report["host"]});
        if let Some(n) = nonce {
            v["enrollment_nonce"] = json!(n);
        }
        v
    };
    let (s, first) = enroll(&c, &req(Some(nonce)));
    assert_eq!(s, 201, "{first}");
    let key1 = first["node_key"].as_str().unwrap().to_string();

    // The agent lost that answer and retries with the same nonce: a new key, the lost one dead.
    let (s, again) = enroll(&c, &req(Some(nonce)));
    assert_eq!(s, 201, "{again}");
    assert_eq!(again["repeated"], true);
    assert_eq!(again["rotated"], false);
    assert_eq!(again["host_id"], first["host_id"]);
    let key2 = again["node_key"].as_str().unwrap().to_string();
    assert_ne!(key1, key2);
    assert_eq!(
        post_report(&c, &key1, &report),
        401,
        "the lost key is invalidated"
    );

    // Another nonce, or none, is somebody else with the fleet secret: refused as before.
    let (s, v) = enroll(&c, &req(Some("another-nonce")));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_enrolled"))
    );
    let (s, _) = enroll(&c, &req(None));
    assert_eq!(s, 409);

    // Once the host has reported with its key, the agent evidently received it: no repeat.
    assert_eq!(post_report(&c, &key2, &report), 202);
    let (s, _) = enroll(&c, &req(Some(nonce)));
    assert_eq!(s, 409, "repeat after a report");

    // Outside the window (3 s here) a repeat is refused too.
    let h2 = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "late-laptop",
        "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
    );
    let report2 = fresh_report(&h2);
    let late =
        json!({"enroll_secret": ENROLL_SECRET, "host": report2["host"], "enrollment_nonce": nonce});
    let (s, _) = enroll(&c, &late);
    assert_eq!(s, 201);
    std::thread::sleep(Duration::from_millis(4_200));
    let (s, v) = enroll(&c, &late);
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("already_enrolled"))
    );

    // Only the nonce's hash is stored.
    let stored: Vec<u8> = c
        .db()
        .query_row(
            "SELECT enroll_nonce_hash FROM hosts WHERE machine_id = ?1",
            ["a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains("4f1c2d3e"));
}

#[test]
fn failed_enrolments_are_rate_limited_per_address_and_logged_once_per_window() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start_with(
        &t.path().join("c"),
        "insecure_http = true",
        "enroll_failure_burst = 5\nenroll_failure_refill_seconds = 6\n\
         enroll_failure_summary_seconds = 4",
    );
    let host = json!({"hostname": "guesser", "machine_id": "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2",
        "os": "debian", "os_version": "12", "kernel": "6.1.0", "arch": "x86_64"});
    let started = Instant::now();
    let mut statuses = Vec::new();
    let mut retry_after = Vec::new();
    let client = http();
    for i in 0..50 {
        let r = client
            .post(format!("{}/api/v1/enroll", c.url))
            .json(&json!({"enroll_secret": format!("wrong-guess-{i:08}-xxxxx"), "host": host}))
            .send()
            .unwrap();
        statuses.push(r.status().as_u16());
        if let Some(v) = r.headers().get("retry-after") {
            retry_after.push(v.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    // The burst of 5 is judged (403), the rest refused before the secret is even compared (429)
    // with a Retry-After of at most one refill (6 s).
    assert_eq!(statuses[..5], [403; 5]);
    assert!(statuses[5..].iter().all(|&s| s == 429), "{statuses:?}");
    assert_eq!(retry_after.len(), 45);
    assert!(
        retry_after.iter().all(|&s| (1..=6).contains(&s)),
        "{retry_after:?}"
    );

    // The right secret from the same address waits too, then goes through.
    let good = json!({"enroll_secret": ENROLL_SECRET, "host": host});
    let r = client
        .post(format!("{}/api/v1/enroll", c.url))
        .json(&good)
        .send()
        .unwrap();
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    std::thread::sleep(Duration::from_secs(wait));
    let (s, v) = enroll(&c, &good);
    assert_eq!(s, 201, "{v}");

    // One summary line per window, not one per guess.
    let deadline = started + Duration::from_secs(20);
    let summaries = loop {
        let log = c.log_text();
        let lines: Vec<String> = log
            .lines()
            .filter(|l| l.contains("failed enrolments"))
            .map(str::to_string)
            .collect();
        if !lines.is_empty() && (started.elapsed() > Duration::from_secs(9)) {
            assert!(
                !log.contains("wrong enrol secret"),
                "a line per guess:\n{log}"
            );
            break lines;
        }
        assert!(Instant::now() < deadline, "no summary line:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // The 50 guesses and the early right answer took well under a window, but may straddle
    // the boundary of one.
    assert!(summaries.len() <= 2, "{summaries:#?}");
    let field = |l: &str, name: &str| -> u64 {
        l.split(&format!(" {name}="))
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {l}"))
    };
    let failures: u64 = summaries.iter().map(|l| field(l, "failures")).sum();
    let limited: u64 = summaries.iter().map(|l| field(l, "rate_limited")).sum();
    assert_eq!((failures, limited), (5, 46), "{summaries:#?}");
    assert!(
        summaries.iter().all(|l| l.contains("127.0.0.1=")),
        "{summaries:#?}"
    );
}

#[test]
fn the_authorization_scheme_is_case_insensitive() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("c"), 0, "");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = http()
            .get(format!("{}/api/v1/hosts", c.url))
            .header("Authorization", format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{scheme}");
    }
    for bad in [
        format!("Basic {ADMIN_TOKEN}"),
        format!("Bearer{ADMIN_TOKEN}"),
        "Bearer ".to_string(),
        ADMIN_TOKEN.to_string(),
    ] {
        let r = http()
            .get(format!("{}/api/v1/hosts", c.url))
            .header("Authorization", &bad)
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{bad}");
    }
    // A node key with a lower-case scheme is accepted for reports too.
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "case-laptop",
        "d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3",
    );
    let report = fresh_report(&h);
    let (s, v) = enroll(
        &c,
        &json!({"enroll_secret": ENROLL_SECRET, "host": report["host"]}),
    );
    assert_eq!(s, 201);
    let r = http()
        .post(format!("{}/api/v1/reports", c.url))
        .header(
            "Authorization",
            format!("bearer {}", v["node_key"].as_str().unwrap()),
        )
        .json(&report)
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}
