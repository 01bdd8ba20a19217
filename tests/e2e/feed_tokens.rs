//! Read-only feed tokens and absolute feed links on the real binary: a token in the query string
//! opens `/feeds/risks.atom` and nothing else, stops working when revoked, never appears in the
//! collector's log nor in the feed; links are absolute from `server.public_url`, and a bad
//! `public_url` is a config error (exit 2).

use std::process::Command;

use serde_json::{json, Value};
use vigie_e2e::*;

#[test]
fn feed_tokens_open_the_feeds_only_and_are_never_logged() {
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start_with(
        d.path(),
        "insecure_http = true\npublic_url = \"https://vigie.example.org/sec/\"",
        "",
    );
    let h = http();
    let r = h
        .post(format!("{}/api/v1/risks", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"title": "Lost laptop", "likelihood": 3, "impact": 4,
            "treatment": "reduce", "owner": "alice"}),
        )
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // Auditors cannot mint tokens; admins can, and see the token once.
    let r = h
        .post(format!("{}/api/v1/feed-tokens", c.url))
        .bearer_auth(AUDITOR_TOKEN)
        .json(&json!({"name": "team reader"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = h
        .post(format!("{}/api/v1/feed-tokens", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "team reader"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("vft1_") && token.len() == 5 + 64,
        "{token}"
    );
    let id = created["id"].as_i64().unwrap();

    // The feed, with the token in the query string and no header.
    let feed = |query: &str| {
        h.get(format!("{}/feeds/risks.atom?{query}", c.url))
            .send()
            .unwrap()
    };
    let r = feed(&format!("level=critical&token={token}"));
    assert_eq!(r.status(), 200);
    let atom = r.text().unwrap();
    assert!(
        atom.contains("href=\"https://vigie.example.org/sec/api/v1/risks/1\""),
        "{atom}"
    );
    assert!(
        atom.contains("href=\"https://vigie.example.org/sec/feeds/risks.atom?level=critical\""),
        "{atom}"
    );
    assert!(!atom.contains(&token), "the token leaked into the feed");
    // A wrong token, and the token anywhere but a feed.
    assert_eq!(feed("token=vft1_00").status(), 401);
    for path in [
        "/api/v1/risks",
        "/api/v1/risks.csv",
        "/api/v1/hosts",
        "/api/v1/kpi",
    ] {
        let r = h
            .get(format!("{}{path}?token={token}", c.url))
            .send()
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 400 | 401),
            "{path}: {}",
            r.status()
        );
    }
    let r = h
        .get(format!("{}/api/v1/risks", c.url))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "a feed token is no API token");

    // Listed without the secret; revoked at once.
    let list = admin_get(&c, "/api/v1/feed-tokens");
    assert_eq!(list["feed_tokens"][0]["name"], "team reader");
    assert!(list["feed_tokens"][0].get("token").is_none());
    assert!(!list.to_string().contains(&token));
    let r = h
        .post(format!("{}/api/v1/feed-tokens/{id}/revoke", c.url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(feed(&format!("token={token}")).status(), 401);
    let db = c.db();
    let stored: Vec<u8> = db
        .query_row(
            "SELECT token_hash FROM feed_tokens WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored.len(), 32, "only the SHA-256 is stored");

    let log = c.log_text();
    let secret_part = &token[5..];
    assert!(
        !log.contains(secret_part),
        "the feed token is in the log:\n{log}"
    );
    assert!(log.contains("feed token created"), "{log}");
}

#[test]
fn a_bad_public_url_is_a_config_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("collector.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ninsecure_http = true\npublic_url = \"vigie.example.org\"\n\
             [storage]\ndata_dir = \"{}\"\n",
            d.path().join("data").display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.public_url"), "{err}");
}

#[test]
fn feed_tokens_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let c = Collector::start(d.path(), 0, "");
    let cli = |args: &[&str]| {
        Command::new(bin("vigie-collector"))
            .arg("--config")
            .arg(c.dir.join("collector.toml"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&["feed-token", "create", "wall screen"]);
    assert!(out.status.success(), "{}", describe(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("vft1_"), "{token}");
    let feed = || {
        http()
            .get(format!("{}/feeds/risks.atom?token={token}", c.url))
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(feed(), 200);
    let out = cli(&["feed-token", "list", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["feed_tokens"][0]["name"], "wall screen");
    assert!(!v.to_string().contains(&token));
    let out = cli(&["feed-token", "revoke", "1"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(feed(), 401);
    assert_eq!(cli(&["feed-token", "revoke", "7"]).status.code(), Some(1));
    assert_eq!(
        cli(&["feed-token", "create", "a\nb"]).status.code(),
        Some(2)
    );
}
