//! Runs of the whole check on fixture hosts with an in-memory state store: how first-seen and
//! index dates carry across runs.

use super::*;
use crate::fixture::FixtureProbe;
use crate::state::MemoryState;
use crate::{Check, ChecksConfig, StateStore};

fn host(name: &str) -> FixtureProbe {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/hosts")
        .join(name);
    FixtureProbe::load(&dir).unwrap()
}

#[test]
fn first_seen_state_is_pruned_and_extended_across_runs() {
    let probe = host("ubuntu-first-seen-45d");
    let state = MemoryState::default();
    state
        .save(
            first_seen::STATE_KEY,
            r#"{"version":1,"created":"2026-09-15T08:05:00Z","first_seen":{
                "curl 8.5.0-2ubuntu10.4":"2026-09-20T08:05:00Z",
                "openssl 3.0.13-0ubuntu3.6":"2026-10-10T09:00:00Z"}}"#,
        )
        .unwrap();
    let config = ChecksConfig::default();
    let ctx = Context {
        probe: &probe,
        config: &config,
        state: &state,
    };
    let r = PatchAge.run(&ctx);
    assert_eq!(r.status, Status::Fail, "{}", r.summary);
    let doc =
        first_seen::FirstSeen::parse(&state.load(first_seen::STATE_KEY).unwrap().unwrap()).unwrap();
    let keys: Vec<&str> = doc.first_seen.keys().map(String::as_str).collect();
    // curl is no longer pending: gone. libssl3t64 and python3-jinja2 are new: dated by the
    // earliest index listing them (noble-security 2026-11-23T03:38:20Z, noble-updates is
    // 03:41:52Z; noble-apps-security 01:17:09Z). openssl keeps its stored date.
    assert_eq!(
        keys,
        vec![
            "libssl3t64 3.0.13-0ubuntu3.6",
            "openssl 3.0.13-0ubuntu3.6",
            "python3-jinja2 3.1.2-1ubuntu1.3+esm1"
        ]
    );
    assert_eq!(
        doc.first_seen["libssl3t64 3.0.13-0ubuntu3.6"].to_rfc3339(),
        "2026-11-23T03:38:20+00:00"
    );
    assert_eq!(
        doc.first_seen["python3-jinja2 3.1.2-1ubuntu1.3+esm1"].to_rfc3339(),
        "2026-11-23T01:17:09+00:00"
    );
    assert_eq!(
        doc.first_seen["openssl 3.0.13-0ubuntu3.6"].to_rfc3339(),
        "2026-10-10T09:00:00+00:00"
    );
    let marked: Vec<(&str, &str)> = doc
        .from_index
        .iter()
        .map(|(k, f)| (k.as_str(), f.as_str()))
        .collect();
    assert_eq!(
        marked,
        vec![
            (
                "libssl3t64 3.0.13-0ubuntu3.6",
                "security.ubuntu.com_ubuntu_dists_noble-security_InRelease"
            ),
            (
                "python3-jinja2 3.1.2-1ubuntu1.3+esm1",
                "esm.ubuntu.com_apps_ubuntu_dists_noble-apps-security_InRelease"
            ),
        ]
    );
    assert_eq!(doc.created.to_rfc3339(), "2026-09-15T08:05:00+00:00");
    assert_eq!(r.facts["over_sla"], 1);

    // A second run keeps the dates the first one saved.
    let r2 = PatchAge.run(&ctx);
    assert_eq!(r2.facts["security_updates"], r.facts["security_updates"]);
}

fn run_with(probe: &FixtureProbe, state: &MemoryState) -> CheckResult {
    let config = ChecksConfig::default();
    PatchAge.run(&Context {
        probe,
        config: &config,
        state,
    })
}

#[test]
fn first_run_dates_new_updates_by_their_index_and_corrupt_state_is_an_error() {
    // No state: the dates come from the InRelease files. libssl3 and openssl are in
    // oldstable 12.15 (Date 2026-11-14T10:41:05Z) and oldstable-security (2026-11-24): the
    // earlier, 9 days 23 h before now. liblzma5 only in oldstable-security, 05:58:31Z today.
    let probe = host("debian12-apt-mixed");
    let state = MemoryState::default();
    let r = run_with(&probe, &state);
    assert!(
        r.summary.contains(
            "3 security updates pending, oldest 9 days (SLA 30 days): libssl3 3.0.17-1~deb12u3 (9 days, available since at least 2026-11-14, index date), openssl 3.0.17-1~deb12u3 (9 days, available since at least 2026-11-14, index date), liblzma5 5.4.1-1+deb12u1 (0 days, available since at least 2026-11-24, index date)"
        ),
        "{}",
        r.summary
    );
    assert_eq!(
        r.facts["security_updates"][0],
        json!({
            "package": "libssl3",
            "version": "3.0.17-1~deb12u3",
            "advisory": null,
            "age_days": 9,
            "since": "2026-11-14T10:41:05+00:00",
            "since_source": "index_date",
            "since_index": "deb.debian.org_debian_dists_bookworm_InRelease",
            "lower_bound": true,
        })
    );

    state
        .save(first_seen::STATE_KEY, "{\"version\":1,")
        .unwrap();
    let r = run_with(&probe, &state);
    assert_eq!(r.status, Status::Error);
    assert!(
        r.summary.contains("patch_age_first_seen.json is unusable"),
        "{}",
        r.summary
    );
}

#[test]
fn first_run_without_a_dated_index_is_a_first_sighting_lower_bound() {
    // This host's InRelease files carry no Suite or Date: libexpat1 is first seen now, the
    // day tracking starts, so its age is a lower bound.
    let probe = host("debian12-state-unwritable");
    let r = run_with(&probe, &MemoryState::default());
    assert!(
        r.summary
            .contains("libexpat1 2.5.0-1+deb12u2 (0 days, first seen 2026-11-24, at least)"),
        "{}",
        r.summary
    );
    let u = &r.facts["security_updates"][0];
    assert_eq!(
        (&u["since_source"], &u["since_index"], &u["lower_bound"]),
        (&json!("first_seen"), &Value::Null, &json!(true))
    );
}

#[test]
fn an_older_agents_later_first_seen_date_moves_back_to_the_index_date() {
    // An agent without index dates started on 2026-11-20 and saw libgnutls30 then; the lists
    // are from May. The index date (2026-05-20T16:28:12Z) is earlier: it wins, and is kept on
    // the next run. libpng16-16 and libnghttp2-14 are new.
    let probe = host("debian12-stale-lists-old-updates");
    let state = MemoryState::default();
    state
        .save(
            first_seen::STATE_KEY,
            r#"{"version":1,"created":"2026-11-20T08:00:00Z","first_seen":{
                "libgnutls30 3.7.9-2+deb12u7":"2026-11-20T08:00:00Z"}}"#,
        )
        .unwrap();
    let r = run_with(&probe, &state);
    assert_eq!(r.status, Status::Fail, "{}", r.summary);
    let ages: Vec<(String, i64, String)> = r.facts["security_updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["package"].as_str().unwrap().to_string(),
                u["age_days"].as_i64().unwrap(),
                u["since"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ages,
        vec![
            (
                "libpng16-16".into(),
                192,
                "2026-05-16T10:54:28+00:00".into()
            ),
            (
                "libgnutls30".into(),
                188,
                "2026-05-20T16:28:12+00:00".into()
            ),
            (
                "libnghttp2-14".into(),
                188,
                "2026-05-20T16:28:12+00:00".into()
            ),
        ]
    );
    let saved = state.load(first_seen::STATE_KEY).unwrap().unwrap();
    let doc = first_seen::FirstSeen::parse(&saved).unwrap();
    assert!(saved.contains("\"version\": 2"), "{saved}");
    assert_eq!(doc.created.to_rfc3339(), "2026-11-20T08:00:00+00:00");
    assert_eq!(doc.from_index.len(), 3);
    let again = run_with(&probe, &state);
    assert_eq!(again.facts["security_updates"], r.facts["security_updates"]);
}

#[test]
fn config_defaults_and_validation_name_the_key() {
    let c = PatchAgeConfig::default();
    assert_eq!(
        (c.sla_days, c.warn_margin_days, c.max_metadata_age_days),
        (30, 7, 7)
    );
    assert!(c.validate().is_ok());
    let bad = PatchAgeConfig {
        warn_margin_days: 30,
        ..PatchAgeConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .starts_with("checks.patch_age.warn_margin_days"));
    let bad = PatchAgeConfig {
        sla_days: 0,
        ..PatchAgeConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .starts_with("checks.patch_age.sla_days"));
    let parsed: PatchAgeConfig = toml::from_str("sla_days = 14\nwarn_margin_days = 3\n").unwrap();
    assert_eq!(
        (
            parsed.sla_days,
            parsed.warn_margin_days,
            parsed.max_metadata_age_days
        ),
        (14, 3, 7)
    );
    assert!(toml::from_str::<PatchAgeConfig>("sla = 14\n").is_err());
    let parsed: PatchAgeConfig =
        toml::from_str("security_suites = [\"Raspbian\", \"Docker CE\"]\n").unwrap();
    assert!(parsed.validate().is_ok());
    let bad = PatchAgeConfig {
        security_suites: vec![" ".into()],
        ..PatchAgeConfig::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .starts_with("checks.patch_age.security_suites"));
}

/// An apt host with nothing pending and the given refresh signals, as `decide` sees it.
fn apt_gathered(refresh: Vec<gather::RefreshSignal>) -> Gathered {
    Gathered {
        manager: "apt",
        security: Vec::new(),
        other: 0,
        held_back: 0,
        metadata_where: "/var/lib/apt/lists".into(),
        metadata: vec![gather::MetadataSource {
            path: "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease".into(),
            modified: None,
            published: None,
            dated_by: None,
        }],
        refresh,
        index_problems: Vec::new(),
        last_run: gather::LastRun {
            at: None,
            source: "no successful upgrade run".into(),
        },
        reboot: Reboot::NotRequired("running kernel is the newest installed".into()),
    }
}

fn signal(path: &str, modified: Option<&str>, proves_success: bool) -> gather::RefreshSignal {
    gather::RefreshSignal {
        path: path.into(),
        modified: modified.map(|t| t.parse().unwrap()),
        proves_success,
        problem: modified.is_none().then(|| "absent".to_string()),
    }
}

#[test]
fn apt_metadata_that_cannot_be_dated_is_a_warning() {
    let now = "2026-11-24T10:00:00Z".parse().unwrap();
    // Fixture files without declared mtimes: no signal that proves success has a date; the
    // weak ones (partial/, pkgcache.bin) are not enough.
    let g = apt_gathered(vec![
        signal("/var/lib/apt/periodic/update-success-stamp", None, true),
        signal("/var/lib/apt/lists/*_InRelease", None, true),
        signal(
            "/var/lib/apt/lists/partial",
            Some("2026-11-24T06:00:00Z"),
            false,
        ),
        signal(
            "/var/cache/apt/pkgcache.bin",
            Some("2026-11-24T09:00:00Z"),
            false,
        ),
    ]);
    let r = decide(&PatchAgeConfig::default(), &g, &[], now, None);
    assert_eq!(r.status, Status::Warn, "{}", r.summary);
    assert!(
        r.summary.contains("package metadata age unknown (no update-success stamp and no dated Release file in /var/lib/apt/lists): pending updates may be missing"),
        "{}",
        r.summary
    );
    assert_eq!(r.facts["metadata_age_days"], Value::Null);
    assert_eq!(r.facts["metadata_age_source"], Value::Null);
    assert_eq!(r.facts["metadata_stale"], true);
    assert_eq!(r.facts["metadata_refresh_signals"][2]["age_days"], 0);
    assert_eq!(
        r.facts["metadata_refresh_signals"][0]["problem"],
        json!("absent")
    );
}

#[test]
fn apt_stale_lists_name_a_newer_update_attempt() {
    let now = "2026-11-24T10:00:00Z".parse().unwrap();
    // Newest InRelease 20 days old, no stamp, but partial/ changed this morning: a run that
    // failed (or found nothing new). Still stale; the attempt is named. pkgcache.bin, rebuilt
    // yesterday, does not count.
    let g =
        apt_gathered(vec![
        signal("/var/lib/apt/periodic/update-success-stamp", None, true),
        signal(
            "/var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_InRelease",
            Some("2026-11-04T08:00:00Z"),
            true,
        ),
        signal("/var/lib/apt/lists/partial", Some("2026-11-24T06:00:00Z"), false),
        signal("/var/cache/apt/pkgcache.bin", Some("2026-11-23T09:00:00Z"), false),
    ]);
    let r = decide(&PatchAgeConfig::default(), &g, &[], now, None);
    assert_eq!(r.status, Status::Warn, "{}", r.summary);
    assert!(
        r.summary.contains("stale package metadata (limit 7 days, updates may be missing): last successful apt-get update 20 days ago (2026-11-04, per deb.debian.org_debian-security_dists_bookworm-security_InRelease); /var/lib/apt/lists/partial changed 0 days ago: an apt-get update ran since, and failed or found every suite unchanged"),
        "{}",
        r.summary
    );
    assert_eq!(r.facts["metadata_age_days"], 20);

    // Same lists with an update-success stamp from yesterday: fresh, dated by the stamp.
    let mut g = g;
    g.refresh[0] = signal(
        "/var/lib/apt/periodic/update-success-stamp",
        Some("2026-11-23T06:00:00Z"),
        true,
    );
    let r = decide(&PatchAgeConfig::default(), &g, &[], now, None);
    assert_eq!(r.status, Status::Pass, "{}", r.summary);
    assert!(
        r.summary.contains(
            "package metadata 1 day old (per /var/lib/apt/periodic/update-success-stamp)"
        ),
        "{}",
        r.summary
    );
    assert_eq!(r.facts["metadata_stale"], false);
}

#[test]
fn security_suites_classifies_a_host_without_a_security_archive() {
    let probe = host("debian12-no-security-suite");
    let state = MemoryState::default();
    let r = run_with(&probe, &state);
    assert_eq!(r.status, Status::Error, "{}", r.summary);
    // Naming the updates suite by codename: tzdata (from oldstable-updates) becomes a security
    // update, first seen now; bash and libssl3 (oldstable) stay ordinary.
    let mut config = ChecksConfig::default();
    config.patch_age.security_suites = vec!["bookworm-updates".into()];
    let r = PatchAge.run(&Context {
        probe: &probe,
        config: &config,
        state: &state,
    });
    assert_eq!(r.status, Status::Pass, "{}", r.summary);
    assert_eq!(r.facts["pending_security"], 1);
    assert_eq!(r.facts["pending_other"], 2);
    assert_eq!(r.facts["security_updates"][0]["package"], "tzdata");
}

#[test]
fn rpm_md_publication_time_proves_freshness_only_when_recent() {
    let now: DateTime<Utc> = "2026-11-24T10:00:00Z".parse().unwrap();
    let repo = |name: &str, published: &str| gather::MetadataSource {
        path: format!("/var/cache/zypp/raw/{name}/repodata/repomd.xml"),
        modified: None,
        published: Some(published.parse().unwrap()),
        dated_by: None,
    };
    let mut g = apt_gathered(Vec::new());
    g.manager = "zypper";
    g.metadata_where = "/var/cache/zypp/raw".into();
    // repo-oss published 3 days ago: its copy is at most 3 days old. repo-non-oss published 40
    // days ago: it may have been fetched yesterday or 40 days ago, so its age is unknown.
    g.metadata = vec![
        repo("repo-oss", "2026-11-21T09:00:00Z"),
        repo("repo-non-oss", "2026-10-15T09:00:00Z"),
    ];
    let r = decide(&PatchAgeConfig::default(), &g, &[], now, None);
    assert_eq!(r.status, Status::Warn, "{}", r.summary);
    assert!(
        r.summary.contains(
            "stale package metadata (limit 7 days, updates may be missing): \
             /var/cache/zypp/raw/repo-non-oss/repodata/repomd.xml of unknown age \
             (no refresh time; the server published it 40 days ago)"
        ),
        "{}",
        r.summary
    );
    assert_eq!(r.facts["metadata_sources"][0]["age_days"], 3);
    assert_eq!(r.facts["metadata_sources"][1]["age_days"], Value::Null);
    // Only the recent one: fresh, dated by the publication.
    g.metadata.pop();
    let r = decide(&PatchAgeConfig::default(), &g, &[], now, None);
    assert_eq!(r.status, Status::Pass, "{}", r.summary);
    assert_eq!(
        r.facts["metadata_age_source"],
        json!("/var/cache/zypp/raw/repo-oss/repodata/repomd.xml <timestamp>")
    );
}
