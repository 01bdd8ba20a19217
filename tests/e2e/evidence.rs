//! The audit evidence export end to end: an agent reports to a real collector, an auditor token
//! downloads the bundle over HTTP, and `vigie-collector evidence verify` accepts it with the
//! collector's public key and refuses it once a byte is changed.

use std::process::Command;

use vigie_e2e::*;

fn collector_cmd(c: &Collector, args: &[&str]) -> std::process::Output {
    Command::new(bin("vigie-collector"))
        .arg("--config")
        .arg(c.dir.join("collector.toml"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn auditor_downloads_a_bundle_that_verifies_and_tampering_is_caught() {
    let t = tempfile::tempdir().unwrap();
    let c = Collector::start(&t.path().join("collector"), 0, "");
    let laptop = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "laptop-01",
        "11111111111111111111111111111111",
    );
    laptop.enroll(&c.url);
    let (code, err) = laptop.run_once(&c.url);
    assert_eq!(code, 0, "run --once: {err}");
    let today = chrono::Utc::now().date_naive();
    let url = format!("{}/api/v1/evidence?from={today}&to={today}", c.url);

    let r = http().get(&url).send().unwrap();
    assert_eq!(r.status(), 401, "no token");
    let r = http()
        .get(format!(
            "{}/api/v1/evidence?from=yesterday&to={today}",
            c.url
        ))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400, "bad date");
    let r = http()
        .get(format!("{url}&host=nope"))
        .bearer_auth(AUDITOR_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 400, "unknown host");

    let r = http().get(&url).bearer_auth(AUDITOR_TOKEN).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().unwrap().to_vec();
    assert_eq!(&bytes[..2], b"PK");
    let zip = t.path().join("bundle.zip");
    std::fs::write(&zip, &bytes).unwrap();

    // Same data, same bytes: the CLI export of the same period equals the HTTP download.
    let cli_zip = t.path().join("cli.zip");
    let out = collector_cmd(
        &c,
        &[
            "evidence",
            "export",
            "--from",
            &today.to_string(),
            "--to",
            &today.to_string(),
            "--out",
            cli_zip.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(std::fs::read(&cli_zip).unwrap(), bytes);

    let out = collector_cmd(&c, &["evidence", "public-key"]);
    assert!(out.status.success(), "{}", describe(&out));
    let key = t.path().join("collector.pem");
    std::fs::write(&key, &out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN PUBLIC KEY-----"));

    let verify = |file: &std::path::Path| {
        Command::new(bin("vigie-collector"))
            .args(["evidence", "verify", "--public-key"])
            .arg(&key)
            .arg(file)
            .output()
            .unwrap()
    };
    let out = verify(&zip);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));

    // One byte changed in the middle of the archive: invalid (exit 1).
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    let tampered = t.path().join("tampered.zip");
    std::fs::write(&tampered, &bad).unwrap();
    let out = verify(&tampered);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));

    // Usage: a missing file is exit 2.
    let out = verify(&t.path().join("missing.zip"));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(c.stop().success());
}
