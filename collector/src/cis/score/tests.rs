//! Scoring tests on the real catalogue and check mapping, with a hand-made fleet and
//! self-assessment. Every expected number is worked out in the comments.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::*;
use crate::cis::assessment;
use crate::cis::catalogue::catalogue;

fn close(got: Option<f64>, want: f64) {
    let g = got.unwrap_or(f64::NAN);
    assert!((g - want).abs() < 1e-9, "got {got:?}, want {want}");
}

fn tally(passing: u64, in_scope: u64) -> CheckTally {
    CheckTally {
        passing,
        in_scope,
        stale: 0,
        excepted: 0,
    }
}

/// The fleet: per check, passing / in-scope hosts.
fn fleet() -> HashMap<String, CheckTally> {
    HashMap::from([
        // 3 of 4 hosts pass → 0.75 (evidences 11.1, 11.2, 11.3).
        ("backup_freshness".to_string(), tally(3, 4)),
        // 1 of 2 (the other host is stale) → 0.5 (7.3, 7.4, 7.7).
        (
            "patch_age".to_string(),
            CheckTally {
                passing: 1,
                in_scope: 2,
                stale: 1,
                excepted: 0,
            },
        ),
        // Every host not_applicable → no data (3.6, 3.11).
        ("disk_encryption".to_string(), tally(0, 0)),
        // 4 of 4 → 1.0 (6.3, 6.4, 6.5).
        ("mfa".to_string(), tally(4, 4)),
        // 2 of 4 → 0.5 (5.2, 4.1).
        ("password_policy".to_string(), tally(2, 4)),
        // `inventory` absent: no host reported it (1.1, 2.1 have no data).
    ])
}

const ASSESSMENT: &str = r#"
assessor = "RSSI"
assessed_on = 2025-05-12

[[safeguard]]
id = "11.1"
policy = "approved_written"    # 1.0

[[safeguard]]
id = "11.4"                    # manual: 0.75, 0.75, 0.5, 0 → 2.0 / 4 = 0.5
policy = "written"
implementation = "most"
automation = "some"
reporting = "none"

[[safeguard]]
id = "11.5"
applicable = false
reason = "restores are tested by the hosting provider"

[[safeguard]]
id = "3.6"                     # mapped, but disk_encryption has no in-scope host: self-assessed
policy = "written"             # 0.75, 1, 1, 1 → 3.75 / 4 = 0.9375
implementation = "all"
automation = "all"
reporting = "all"

[[safeguard]]
id = "7.3"                     # measured: implementation "none" is ignored, policy 0.25 is used
policy = "informal"
implementation = "none"

[[safeguard]]
id = "14.1"                    # 1, 0.75, 0.5, 1 → 3.25 / 4 = 0.8125
policy = "approved_written"
implementation = "most"
automation = "some"
reporting = "all"

[[safeguard]]
id = "16.1"                    # IG2, policy only: 0.5
policy = "partial_written"

[[safeguard]]
id = "13.9"                    # IG3
applicable = false
reason = "no wired ports"
"#;

fn card() -> Scorecard {
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let sa = assessment::parse(ASSESSMENT, "fixture", catalogue(), today).unwrap();
    score(catalogue(), &builtin_evidence(), &fleet(), &sa)
}

/// score = 100 × implementation × (1 + organisation) / 2, organisation = (policy + automation +
/// reporting) / 3 with unanswered levels counting 0.
#[test]
fn safeguard_scores() {
    let c = card();
    let sg = |id: &str| c.safeguard(id).unwrap();
    // 11.1: implementation 0.75 (3/4), policy 1, automation and reporting unanswered (0):
    // organisation 1/3, weight (1 + 1/3) / 2 = 2/3 → 0.75 × 2/3 = 0.5 → 50.
    assert_eq!(sg("11.1").basis, Basis::Measured);
    close(sg("11.1").implementation, 0.75);
    close(sg("11.1").organisation, 1.0 / 3.0);
    close(sg("11.1").score, 50.0);
    // 11.2, 11.3: 0.75, nothing answered: weight ½ → 37.5 (Vigie measuring is not automation).
    close(sg("11.2").score, 37.5);
    close(sg("11.3").score, 37.5);
    assert_eq!((sg("11.2").policy, sg("11.2").automation), (None, None));
    // 11.4: self-assessed implementation 0.75, organisation (0.75 + 0.5 + 0) / 3 = 1.25/3,
    // weight (1 + 1.25/3) / 2 = 4.25/6 → 0.75 × 4.25/6 = 0.53125 → 53.125.
    assert_eq!(sg("11.4").basis, Basis::SelfAssessed);
    close(sg("11.4").score, 53.125);
    // 11.5: not applicable, no score.
    assert_eq!(sg("11.5").basis, Basis::NotApplicable);
    assert_eq!(sg("11.5").score, None);
    // 7.3: 0.5 (1/2, the stale host fails), the answered implementation "none" is replaced by the
    // measurement, policy 0.25: weight (1 + 0.25/3) / 2 = 3.25/6 → 0.5 × 3.25/6 → 162.5/6.
    close(sg("7.3").implementation, 0.5);
    close(sg("7.3").score, 162.5 / 6.0);
    // 7.4, 7.7: 0.5 × ½ = 25.
    close(sg("7.4").score, 25.0);
    close(sg("7.7").score, 25.0);
    // 6.3–6.5: every host passes, nothing declared: 1 × ½ = 50.
    for id in ["6.3", "6.4", "6.5"] {
        close(sg(id).score, 50.0);
    }
    // 3.6: no in-scope host for disk_encryption → the answer: implementation 1, organisation
    // (0.75 + 1 + 1) / 3 = 2.75/3, weight 5.75/6 → 575/6 = 95.83….
    assert_eq!(sg("3.6").basis, Basis::SelfAssessed);
    close(sg("3.6").score, 575.0 / 6.0);
    // 3.11: mapped, no in-scope host, no answer → not assessed (neither 0 nor 100).
    assert_eq!(sg("3.11").basis, Basis::NotAssessed);
    assert_eq!(sg("3.11").score, None);
    // 1.1: mapped to inventory, which nobody reported → not assessed.
    assert_eq!(sg("1.1").basis, Basis::NotAssessed);
    // 14.1: implementation 0.75, organisation (1 + 0.5 + 1) / 3 = 2.5/3, weight 5.5/6
    // → 0.75 × 5.5/6 = 0.6875 → 68.75.
    close(sg("14.1").score, 68.75);
    // 16.1: policy only; implementation unanswered counts 0 → 0 (assessed, not flattering).
    assert_eq!(sg("16.1").basis, Basis::SelfAssessed);
    close(sg("16.1").score, 0.0);
}

/// The issue's three cases: a safeguard at 0 %, 50 % and 100 % of compliant hosts.
#[test]
fn the_measured_share_bounds_the_score() {
    // mfa → 6.3 passes on 0 of 4 hosts, password_policy → 5.2 on 2 of 4, backup_freshness → 11.2
    // on 4 of 4.
    let evidence = evidence_map([
        ("mfa", &["6.3"][..]),
        ("password_policy", &["5.2"][..]),
        ("backup_freshness", &["11.2"][..]),
    ]);
    let fleet = HashMap::from([
        ("mfa".to_string(), tally(0, 4)),
        ("password_policy".to_string(), tally(2, 4)),
        ("backup_freshness".to_string(), tally(4, 4)),
    ]);
    let none = SelfAssessment::default();
    let c = score(catalogue(), &evidence, &fleet, &none);
    // Nothing declared: weight ½.
    // 0 %: 0 × ½ = 0 (main scored mean(0, 1, 1) = 66.7).
    close(c.safeguard("6.3").unwrap().score, 0.0);
    // 50 %: 0.5 × ½ = 25 (main: mean(0.5, 1, 1) = 83.3).
    close(c.safeguard("5.2").unwrap().score, 25.0);
    // 100 %: 1 × ½ = 50.
    close(c.safeguard("11.2").unwrap().score, 50.0);

    // Everything declared fully in place (policy approved_written = 1, automation all = 1,
    // reporting all = 1): organisation 1, weight 1 → the score equals the measured share.
    let full = |id: &str| {
        format!(
            "[[safeguard]]\nid = \"{id}\"\npolicy = \"approved_written\"\nautomation = \"all\"\nreporting = \"all\"\n"
        )
    };
    let text = format!(
        "assessor = \"x\"\nassessed_on = 2025-01-01\n{}{}{}",
        full("6.3"),
        full("5.2"),
        full("11.2")
    );
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let sa = assessment::parse(&text, "t", catalogue(), today).unwrap();
    let c = score(catalogue(), &evidence, &fleet, &sa);
    // 0 %: 0 × 1 = 0 — no answer lifts a safeguard nobody complies with.
    close(c.safeguard("6.3").unwrap().score, 0.0);
    // 50 %: 0.5 × 1 = 50 — never above the share.
    close(c.safeguard("5.2").unwrap().score, 50.0);
    // 100 %: 1 × 1 = 100.
    close(c.safeguard("11.2").unwrap().score, 100.0);
    // Overall (three assessed safeguards): (0 + 50 + 100) / 3 = 50.
    close(c.overall().score, 50.0);

    // Partly declared on the 100 % one: policy written 0.75, automation some 0.5, reporting
    // unanswered 0 → organisation 1.25/3, weight (1 + 1.25/3) / 2 = 4.25/6 → 70.833….
    let text = "assessor = \"x\"\nassessed_on = 2025-01-01\n[[safeguard]]\nid = \"11.2\"\npolicy = \"written\"\nautomation = \"some\"\n";
    let sa = assessment::parse(text, "t", catalogue(), today).unwrap();
    let c = score(catalogue(), &evidence, &fleet, &sa);
    close(c.safeguard("11.2").unwrap().score, 425.0 / 6.0);
    for s in &c.safeguards {
        if let (Some(i), Some(v)) = (s.implementation, s.score) {
            assert!(
                v <= 100.0 * i + 1e-9,
                "{} scores {v} over its share {i}",
                s.id
            );
        }
    }
}

#[test]
fn control_scores() {
    let c = card();
    // Control 11 at IG1 (11.1–11.4): (50 + 37.5 + 37.5 + 53.125) / 4 = 178.125 / 4 = 44.53125.
    let c11 = c.control(11, 1);
    close(c11.score, 44.53125);
    assert_eq!((c11.total, c11.assessed, c11.not_applicable), (4, 4, 0));
    // At IG2 11.5 joins but is not applicable: same mean, coverage 4 / (5 − 1) = 1.
    let c11 = c.control(11, 2);
    close(c11.score, 44.53125);
    assert_eq!((c11.total, c11.assessed, c11.not_applicable), (5, 4, 1));
    close(c11.coverage, 1.0);
    // Control 7 at IG1 (7.1–7.4): 7.1, 7.2 not assessed; (162.5/6 + 25) / 2 = 26.041….
    let c7 = c.control(7, 1);
    close(c7.score, (162.5 / 6.0 + 25.0) / 2.0);
    assert_eq!((c7.total, c7.assessed, c7.not_assessed), (4, 2, 2));
    close(c7.coverage, 0.5);
    // Control 7 at IG2 adds 7.5, 7.6 (not assessed) and 7.7 (25): (162.5/6 + 50) / 3; coverage 3/7.
    let c7 = c.control(7, 2);
    close(c7.score, (162.5 / 6.0 + 50.0) / 3.0);
    close(c7.coverage, 3.0 / 7.0);
    // Control 13 has no IG1 safeguard: nothing to score, no coverage.
    let c13 = c.control(13, 1);
    assert_eq!((c13.total, c13.score, c13.coverage), (0, None, None));
    // Control 13 at IG3: 11 safeguards, 13.9 not applicable, none assessed → score None,
    // coverage 0 / 10 = 0.
    let c13 = c.control(13, 3);
    assert_eq!((c13.total, c13.not_applicable, c13.score), (11, 1, None));
    close(c13.coverage, 0.0);
}

#[test]
fn ig_and_overall_scores() {
    let c = card();
    // IG1 assessed (13): 11.1 50, 11.2 & 11.3 37.5 each, 11.4 53.125, 7.3 162.5/6, 7.4 25,
    // 6.3–6.5 50 each, 5.2 25, 4.1 25, 3.6 575/6, 14.1 68.75.
    // Plain: 50 + 75 + 53.125 + 25 + 150 + 50 + 68.75 = 471.875; sixths: 737.5/6 = 122.916….
    // Sum = 594.791…; mean = 594.791… / 13 = 45.753….
    let ig1_sum = 471.875 + 737.5 / 6.0;
    let ig1 = c.ig(1);
    close(ig1.score, ig1_sum / 13.0);
    assert_eq!(
        (
            ig1.total,
            ig1.assessed,
            ig1.not_applicable,
            ig1.not_assessed
        ),
        (56, 13, 0, 43)
    );
    close(ig1.coverage, 13.0 / 56.0);
    // IG2 adds 7.7 (25) and 16.1 (0); 11.5 is not applicable: (ig1_sum + 25 + 0) / 15.
    let ig2 = c.ig(2);
    close(ig2.score, (ig1_sum + 25.0) / 15.0);
    assert_eq!(
        (
            ig2.total,
            ig2.assessed,
            ig2.not_applicable,
            ig2.not_assessed
        ),
        (130, 15, 1, 114)
    );
    close(ig2.coverage, 15.0 / 129.0);
    // IG3 adds only 13.9, not applicable: same mean; coverage 15 / (153 − 2).
    let ig3 = c.ig(3);
    close(ig3.score, (ig1_sum + 25.0) / 15.0);
    assert_eq!(
        (
            ig3.total,
            ig3.assessed,
            ig3.not_applicable,
            ig3.not_assessed
        ),
        (153, 15, 2, 136)
    );
    close(ig3.coverage, 15.0 / 151.0);
    // Overall = every safeguard = IG3.
    assert_eq!(c.overall(), ig3);
}

#[test]
fn nothing_known_is_not_assessed_never_zero_or_hundred() {
    let c = score(
        catalogue(),
        &builtin_evidence(),
        &HashMap::new(),
        &SelfAssessment::default(),
    );
    assert!(c.safeguards.iter().all(|s| s.basis == Basis::NotAssessed));
    assert!(c.safeguards.iter().all(|s| s.score.is_none()));
    let o = c.overall();
    assert_eq!((o.score, o.assessed, o.not_assessed), (None, 0, 153));
    close(o.coverage, 0.0);
    assert_eq!(c.control(1, 3).score, None);
}

#[test]
fn several_checks_take_the_minimum_share() {
    // 4.1 evidenced by two checks: 2/4 = 0.5 and 4/4 = 1 → 0.5; nothing declared: 0.5 × ½ = 25.
    // A third check with no in-scope host does not pull it to 0.
    let evidence = evidence_map([
        ("password_policy", &["4.1"][..]),
        ("mfa", &["4.1"][..]),
        ("disk_encryption", &["4.1"][..]),
    ]);
    let c = score(catalogue(), &evidence, &fleet(), &SelfAssessment::default());
    let s = c.safeguard("4.1").unwrap();
    close(s.implementation, 0.5);
    close(s.score, 25.0);
    assert_eq!(s.checks.len(), 3);
    // All hosts passing: implementation 1, nothing declared → 50.
    let all_pass = HashMap::from([("mfa".to_string(), tally(5, 5))]);
    let evidence = evidence_map([("mfa", &["4.1"][..])]);
    let c = score(
        catalogue(),
        &evidence,
        &all_pass,
        &SelfAssessment::default(),
    );
    close(c.safeguard("4.1").unwrap().score, 50.0);
}

#[test]
fn not_applicable_wins_over_measurements() {
    // 6.3 is measured at 100 by mfa, but the organisation declares it not applicable.
    let today = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
    let sa = assessment::parse(
        "assessor = \"x\"\nassessed_on = 2025-01-01\n[[safeguard]]\nid = \"6.3\"\napplicable = false\nreason = \"no exposed apps\"\n",
        "t",
        catalogue(),
        today,
    )
    .unwrap();
    let c = score(catalogue(), &builtin_evidence(), &fleet(), &sa);
    assert_eq!(c.safeguard("6.3").unwrap().basis, Basis::NotApplicable);
    // Control 6 at IG1: 6.4 and 6.5 at 50, 6.1/6.2 not assessed, 6.3 N/A → 50, coverage 2/4.
    let c6 = c.control(6, 1);
    close(c6.score, 50.0);
    close(c6.coverage, 0.5);
}
