//! `vigie-collector host list|show` on a real collector's store: the same hosts and filters as
//! `GET /api/v1/hosts`, JSON identical to the API's, tables with every cell escaped.

use std::process::Command;

use serde_json::{json, Value};
use vigie_e2e::*;

fn collector_cmd(c: &Collector, args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(c: &Collector, args: &[&str]) -> String {
    let out = collector_cmd(c, args);
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn enrol(c: &Collector, hostname: &str, os: &str) -> i64 {
    let r = http()
        .post(format!("{}/api/v1/enroll", c.url))
        .json(
            &json!({"enroll_secret": ENROLL_SECRET, "host": {"hostname": hostname,
            "machine_id": format!("mid-{hostname}"), "os": os, "os_version": "12",
            "kernel": "6.1", "arch": "x86_64"}}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().unwrap()["host_id"].as_i64().unwrap()
}

fn hostnames(v: &Value) -> Vec<String> {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn host_list_and_show_read_the_store_with_the_api_filters() {
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(
        d.path(),
        0,
        "[[hosts.groups]]\nname = \"web\"\nhostnames = [\"web-*\"]\n",
    );
    let web2 = enrol(&c, "web-02", "debian");
    enrol(&c, "db-01", "rhel");
    enrol(&c, "web-01", "windows");
    enrol(&c, "web-03", "debian");
    // A summary stored with a terminal escape (as an older agent could have sent it).
    let db = rusqlite::Connection::open(c.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "INSERT INTO check_state(host_id, check_name, status, summary, facts, evidence, since,
            updated_at) VALUES (?1, 'firewall', 'fail', 'off \x1b[2J\x1b[31mOK', '{}', '[]', 0, 0)",
        [web2],
    )
    .unwrap();
    drop(db);

    // JSON: the API's host objects, all pages joined, in hostname order.
    let cli: Value = serde_json::from_str(&ok(&c, &["host", "list", "--format", "json"])).unwrap();
    assert_eq!(hostnames(&cli), ["db-01", "web-01", "web-02", "web-03"]);
    let api = admin_get(&c, "/api/v1/hosts");
    assert_eq!(cli["hosts"], api["hosts"]);

    // The same filters as the API.
    let args = [
        "host", "list", "--format", "json", "--group", "web", "--os", "debian",
    ];
    let v: Value = serde_json::from_str(&ok(&c, &args)).unwrap();
    assert_eq!(hostnames(&v), ["web-02", "web-03"]);
    let api = admin_get(&c, "/api/v1/hosts?group=web&os=debian");
    assert_eq!(v["hosts"], api["hosts"]);
    let args = ["host", "list", "--format", "json", "--status", "fail"];
    let v: Value = serde_json::from_str(&ok(&c, &args)).unwrap();
    assert_eq!(hostnames(&v), ["web-02"]);

    // Table: a header and one line per host; the stored escape never reaches the terminal.
    let table = ok(&c, &["host", "list", "--state", "never_reported"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID  HOSTNAME"), "{table}");
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines[3].contains("web-02") && lines[3].contains("never_reported"),
        "{table}"
    );
    let show = ok(&c, &["host", "show", &web2.to_string()]);
    assert!(!show.contains('\x1b'), "{show:?}");
    assert!(show.contains("off \\x1b[2J\\x1b[31mOK"), "{show}");
    assert!(show.contains("firewall") && show.contains("fail"), "{show}");
    let v: Value = serde_json::from_str(&ok(
        &c,
        &["host", "show", &web2.to_string(), "--format", "json"],
    ))
    .unwrap();
    assert_eq!(v, admin_get(&c, &format!("/api/v1/hosts/{web2}")));

    // A bad filter names the flag and exits 2; an unknown host exits 1.
    let out = collector_cmd(&c, &["host", "list", "--state", "never"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--state: \"never\""));
    let out = collector_cmd(&c, &["host", "list", "--group", "db"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = collector_cmd(&c, &["host", "show", "999"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no host with id 999"));
}
