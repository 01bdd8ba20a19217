//! Hostile input to the registers (risks, actions, exceptions, incidents, CSV imports), over real
//! HTTP and the real CLI: titles that would drive a terminal, over-long titles, dates out of range,
//! NUL bytes. Each is refused with the documented status and code and nothing is stored; text
//! already stored with control characters is printed escaped by the CLI tables. The wire side is
//! `hostile_input.rs`.

use std::time::Duration;

use serde_json::{json, Value};
use vigie_e2e::*;

const RED: &str = "\u{1b}[31m";

fn admin(c: &Collector, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .request(method, format!("{}{path}", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn admin_csv(c: &Collector, path: &str, body: &[u8]) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/csv")
        .body(body.to_vec())
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

#[test]
fn registers_refuse_hostile_titles_dates_and_bytes_with_the_documented_codes() {
    use reqwest::Method;
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(
        &t.path().join("c"),
        0,
        "[actions.roles]\nrssi = [\"alice\"]\n",
    );
    let today = chrono::Utc::now().date_naive();
    let risk = |title: &str| json!({"title": title, "likelihood": 2, "impact": 3, "treatment": "reduce", "owner": "rssi"});
    let action = |title: &str, due: &str| json!({"title": title, "priority": "p2", "owner": "it", "due": due});
    let exception = json!({"check": "mfa", "scope": "fleet", "reason": "pilot", "requester": "bob",
                           "approver": "alice"});
    let incident = |detected: &str| {
        json!({"id": "INC-1", "title": "Phishing", "type": "phishing",
        "severity": "minor", "occurred_at": "2026-01-01T08:00:00Z", "detected_at": detected})
    };
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    let yesterday = (today - chrono::Days::new(1)).to_string();
    let cases: Vec<(&str, Method, &str, Value, u16, &str, &str)> = vec![
        (
            "ESC in a risk title",
            Method::POST,
            "/api/v1/risks",
            risk(&format!("{RED}Ransomware")),
            422,
            "invalid",
            "title: contains U+001B",
        ),
        (
            "RLO in a risk owner",
            Method::POST,
            "/api/v1/risks",
            json!({"title": "t", "likelihood": 1, "impact": 1, "treatment": "reduce", "owner": "ali\u{202e}ce"}),
            422,
            "invalid",
            "owner: contains U+202E",
        ),
        (
            "300-byte risk title",
            Method::POST,
            "/api/v1/risks",
            risk(&"r".repeat(300)),
            422,
            "invalid",
            "title: is 300 bytes",
        ),
        (
            "risk review before 1970",
            Method::POST,
            "/api/v1/risks",
            json!({"title": "t", "likelihood": 1, "impact": 1, "treatment": "reduce", "owner": "o", "next_review": "1969-12-31"}),
            422,
            "invalid",
            "next_review:",
        ),
        (
            "newline in an action title",
            Method::POST,
            "/api/v1/actions",
            action("a\nb", &tomorrow),
            422,
            "invalid",
            "title: contains U+000A",
        ),
        (
            "action due before its creation",
            Method::POST,
            "/api/v1/actions",
            action("Patch", &yesterday),
            422,
            "invalid",
            "due:",
        ),
        (
            "action due in year 10000",
            Method::POST,
            "/api/v1/actions",
            action("Patch", "+10000-01-01"),
            422,
            "invalid",
            "due:",
        ),
        (
            "exception without expires_at",
            Method::POST,
            "/api/v1/exceptions",
            exception.clone(),
            422,
            "invalid",
            "expires_at: is mandatory",
        ),
        (
            "exception starting before 1970",
            Method::POST,
            "/api/v1/exceptions",
            {
                let mut e = exception.clone();
                e["starts_at"] = json!("1969-06-01");
                e["expires_at"] = json!("1969-07-01");
                e
            },
            422,
            "invalid",
            "starts_at:",
        ),
        (
            "revoking an unknown exception",
            Method::POST,
            "/api/v1/exceptions/999/revoke",
            json!({"by": "alice"}),
            404,
            "not_found",
            "no exception with id 999",
        ),
        (
            "incident detected two days ahead",
            Method::POST,
            "/api/v1/incidents",
            incident(&(chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339()),
            422,
            "invalid_incident",
            "more than a day in the future",
        ),
        (
            "incident occurred before 1970",
            Method::POST,
            "/api/v1/incidents",
            json!({"id": "INC-2", "title": "Old",
            "type": "phishing", "severity": "minor", "occurred_at": "1969-01-01T00:00:00Z"}),
            422,
            "invalid_incident",
            "before 1970",
        ),
        (
            "ESC in an incident title",
            Method::POST,
            "/api/v1/incidents",
            {
                let mut i = incident("2026-01-01T09:00:00Z");
                i["title"] = json!(format!("{RED}x"));
                i
            },
            422,
            "invalid_incident",
            "title contains U+001B",
        ),
    ];
    for (what, method, path, body, want_status, want_code, words) in cases {
        let (status, v) = admin(&c, method, path, body);
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
    // NUL in CSV imports: refused whole, naming the line.
    let (status, v) = admin_csv(
        &c,
        "/api/v1/import/roster",
        b"person_id,name,email,department,active\nP1,Ann\0,a@x,IT,true\n",
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("invalid_csv")),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("line 2"),
        "{v}"
    );
    let (status, v) = admin_csv(
        &c,
        "/api/v1/risks/import",
        b"title,likelihood,impact,treatment,owner\nOk,1,1,reduce,o\nBad\0,1,1,reduce,o\n",
    );
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("invalid")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3: "),
        "{v}"
    );
    let db = c.db();
    for table in ["risks", "actions", "exceptions", "incidents", "people"] {
        let n: i64 = db
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}: something was stored");
    }
}

#[test]
fn cli_tables_print_stored_control_characters_escaped() {
    use reqwest::Method;
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(
        &t.path().join("c"),
        0,
        "[actions.roles]\nrssi = [\"alice\"]\n",
    );
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    for (path, body) in [
        (
            "/api/v1/risks",
            json!({"title": "Ransomware", "likelihood": 2, "impact": 3, "treatment": "reduce", "owner": "rssi"}),
        ),
        (
            "/api/v1/actions",
            json!({"title": "Offline copy", "priority": "p1", "owner": "it", "due": tomorrow}),
        ),
        (
            "/api/v1/exceptions",
            json!({"check": "mfa", "scope": "fleet", "reason": "pilot", "requester": "bob",
            "approver": "alice", "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339()}),
        ),
        (
            "/api/v1/incidents",
            json!({"id": "INC-1", "title": "Phishing", "type": "phishing", "severity": "minor"}),
        ),
    ] {
        let (status, v) = admin(&c, Method::POST, path, body);
        assert_eq!(status, 201, "{path}: {v}");
    }
    // Text stored before the input rules existed (or written by another tool) still holds ESC.
    let hostile = format!("{RED}pwned\u{1b}]0;title\u{7}\r\nFORGED\u{202e}");
    {
        let rw = rusqlite::Connection::open(c.db_path()).unwrap();
        rw.busy_timeout(Duration::from_secs(5)).unwrap();
        rw.execute("UPDATE risks SET title = ?1", [&hostile])
            .unwrap();
        rw.execute("UPDATE actions SET title = ?1", [&hostile])
            .unwrap();
        rw.execute("UPDATE exceptions SET reason = ?1", [&hostile])
            .unwrap();
        rw.execute("UPDATE incidents SET title = ?1", [&hostile])
            .unwrap();
    }
    let cfg = c.dir.join("collector.toml");
    for args in [
        ["risk", "list"],
        ["action", "list"],
        ["exception", "list"],
        ["incident", "list"],
    ] {
        let out = std::process::Command::new(bin("vigie-collector"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        assert!(
            !text
                .chars()
                .any(|ch| (ch.is_control() && ch != '\n') || ch == '\u{202e}'),
            "{args:?} printed a raw control character: {text:?}"
        );
        assert!(text.contains("\\x1b[31mpwned"), "{args:?}: {text}");
        assert!(
            text.lines().all(|l| !l.starts_with("FORGED")),
            "{args:?}: a stored newline broke the table: {text}"
        );
    }
}
