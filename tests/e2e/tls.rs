//! TLS end to end: a collector serving a certificate from a private CA, an agent that pins that CA.
//! Certificates are made with the `openssl` command line (present on Debian).

use std::path::Path;
use std::process::Command;

use vigie_e2e::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", describe(&out));
}

fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=vigie-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "collector.key",
            "-out",
            "collector.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "collector.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "collector.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn agent_enrols_and_reports_over_tls_with_a_pinned_ca() {
    let t = tempfile::tempdir().unwrap();
    let pki = t.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    make_pki(&pki);
    let c = Collector::start_tls(
        &t.path().join("c"),
        &pki.join("collector.pem"),
        &pki.join("collector.key"),
    );
    assert!(c.url.starts_with("https://"));
    let h = Host::from_fixture(
        "laptop-lvm-on-luks",
        t.path(),
        "tls-laptop",
        "77777777777777777777777777777777",
    );

    // Without the CA the agent refuses the collector's certificate.
    let secret = t.path().join("secret");
    std::fs::write(&secret, ENROLL_SECRET).unwrap();
    let out = h.agent(
        &c.url,
        &["enroll", "--secret-file", secret.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach the collector"));

    let ca = pki.join("ca.pem");
    let out = h.agent(
        &c.url,
        &[
            "enroll",
            "--secret-file",
            secret.to_str().unwrap(),
            "--ca",
            ca.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        h.state.join("collector-ca.pem").exists(),
        "the CA is pinned in the state directory"
    );
    let (code, err) = h.run_once(&c.url);
    assert_eq!(code, 0, "{err}");
    assert_eq!(delivered_ids(&err).len(), 1);
    let n: i64 = c
        .db()
        .query_row("SELECT count(*) FROM recent_reports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    assert!(!c.log_text().contains("PLAIN HTTP"));
}

#[test]
fn collector_refuses_to_start_without_tls_or_an_explicit_plain_http_choice() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndata_dir = \"{}\"\n",
            t.path().join("d").display()
        ),
    )
    .unwrap();
    let out = Command::new(bin("vigie-collector"))
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    // A configuration error: exit 2, so systemd's RestartPreventExitStatus=2 stops the loop.
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.insecure_http = true"));
    // A misspelt key is a configuration error (exit 2) naming it.
    std::fs::write(&cfg, "[server]\ninsecure_htpp = true\n").unwrap();
    let out = Command::new(bin("vigie-collector"))
        .args(["--config", cfg.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("insecure_htpp"));
}
